//! The SSO routes for [axum](https://docs.rs/axum) 0.8 (feature `axum`).
//!
//! ```no_run
//! use axum::{Router, response::Html, routing::get};
//! use ssokit::integrations::{NewSession, Page, SsoHost, SsoRoutes};
//!
//! struct App;
//! impl SsoHost for App {
//!     async fn start_session(&self, s: NewSession<'_>) -> Result<(), ssokit::Error> {
//!         // your session store: hash(s.id) → s.signed_in.user.id
//!         Ok(())
//!     }
//! }
//!
//! # async fn run(sso: ssokit::Sso) -> std::io::Result<()> {
//! let routes = SsoRoutes::new(sso, App);
//! let login = Page::Login { error: None, email: None, return_to: None }.default_html();
//! let app = Router::new()
//!     .route("/", get(move || async move { Html(login) }))
//!     .merge(ssokit::integrations::axum::router(routes));
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await
//! # }
//! ```
//!
//! [`router`] returns a `Router<S>` for any state `S`, so it merges into a
//! router with state as well. Read your session cookie in your own handlers
//! with [`cookie`].

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::{get, post};

use super::endpoints::{BODY_LIMIT, Incoming, Reply};
use super::{SsoHost, SsoRoutes, cookie_value};

/// The SSO routes (see the [module docs](super)) as an axum router, to
/// [`merge`](Router::merge) into the application's.
pub fn router<S, H>(routes: SsoRoutes<H>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    H: SsoHost,
{
    let config = routes.sso().config();
    let callback = config.oidc_callback_path.clone();
    let confirm = config.link_confirm_path.clone();
    let router = Router::new()
        .route("/login", post(login::<H>))
        .route(&callback, get(oidc_callback::<H>))
        .route("/link/choose", post(link_choose::<H>))
        .route(&confirm, get(link_confirm::<H>));
    #[cfg(feature = "saml")]
    let router = router
        .route("/sso/saml/acs", post(saml_acs::<H>))
        .route("/sso/saml/metadata", get(saml_metadata::<H>));
    let router = router.layer(DefaultBodyLimit::max(BODY_LIMIT));
    #[cfg(feature = "scim")]
    let router = if routes.has_scim() {
        router
            .route("/scim/v2", axum::routing::any(scim::<H>))
            .route("/scim/v2/{*rest}", axum::routing::any(scim::<H>))
    } else {
        router
    };
    router.with_state(routes)
}

/// The value of the cookie `name` in a request's headers (the first, if
/// several were sent; `None` when empty).
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    cookie_value(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        name,
    )
    .filter(|v| !v.is_empty())
}

fn incoming<'a>(headers: &'a HeaderMap, query: &'a Option<String>, body: &'a [u8]) -> Incoming<'a> {
    Incoming {
        cookies: headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect(),
        query: query.as_deref().unwrap_or(""),
        body,
    }
}

fn respond(reply: Reply) -> Response {
    reply.map(Body::from)
}

async fn login<H: SsoHost>(
    State(r): State<SsoRoutes<H>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(r.login(incoming(&headers, &None, &body)).await)
}

async fn oidc_callback<H: SsoHost>(
    State(r): State<SsoRoutes<H>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond(r.oidc_callback(incoming(&headers, &query, &[])).await)
}

async fn link_choose<H: SsoHost>(
    State(r): State<SsoRoutes<H>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(r.link_choose(incoming(&headers, &None, &body)).await)
}

async fn link_confirm<H: SsoHost>(
    State(r): State<SsoRoutes<H>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond(r.link_confirm(incoming(&headers, &query, &[])).await)
}

#[cfg(feature = "saml")]
async fn saml_acs<H: SsoHost>(
    State(r): State<SsoRoutes<H>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    respond(r.saml_acs(incoming(&headers, &None, &body)).await)
}

#[cfg(feature = "saml")]
async fn saml_metadata<H: SsoHost>(
    State(r): State<SsoRoutes<H>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    respond(r.saml_metadata_xml(incoming(&headers, &query, &[])).await)
}

#[cfg(feature = "scim")]
async fn scim<H: SsoHost>(
    State(r): State<SsoRoutes<H>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, super::endpoints::SCIM_LIMIT).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = axum::http::StatusCode::PAYLOAD_TOO_LARGE;
            return resp;
        }
    };
    let resp = r.scim_forward(http::Request::from_parts(parts, body)).await;
    resp.map(Body::from)
}
