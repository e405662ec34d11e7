//! The provider's HTTP endpoints as an axum router.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, PRAGMA,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;

use super::entra;
use super::okta;
use super::page;
use super::provider::{Authority, Checked, DevProvider, Fault, Flavor, Params, normalize_login};

const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

impl DevProvider {
    /// The provider's endpoints as an axum [`Router`], with paths relative
    /// to the issuer's path: `/.well-known/openid-configuration`,
    /// `/authorize` (GET and POST), `/token` (POST), `/jwks` and `/userinfo`
    /// (GET and POST).
    ///
    /// Mount it where the issuer's path says. For an issuer
    /// `http://127.0.0.1:3000/dev/idp`:
    ///
    /// - `Router::new().nest("/dev/idp", provider.router())` in a router
    ///   without state, or
    /// - `.nest_service("/dev/idp", provider.router())` in a router with
    ///   state (`Router<AppState>`).
    ///
    /// When the issuer has no path, merge it at the root
    /// (`app.merge(provider.router())`), or use
    /// [`mounted_router`](Self::mounted_router), which does the nesting.
    ///
    /// The Entra and Okta flavors serve their own paths under the URL given
    /// to their constructor (see [`entra`](Self::entra) and
    /// [`okta`](Self::okta)); they are mounted the same way.
    pub fn router(&self) -> Router {
        match self.flavor() {
            Flavor::Entra => return entra::router(self),
            Flavor::Okta => return okta::router(self),
            Flavor::Generic => {}
        }
        Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize_page).post(authorize_submit))
            .route("/token", axum::routing::post(token))
            .route("/jwks", get(jwks))
            .route("/userinfo", get(userinfo).post(userinfo))
            .with_state(self.clone())
    }

    /// [`router`](Self::router) nested under the issuer's path, ready to be
    /// served at the issuer's origin or merged into a host router without
    /// state.
    pub fn mounted_router(&self) -> Router {
        let path = self.issuer().path().trim_end_matches('/');
        if path.is_empty() {
            self.router()
        } else {
            Router::new().nest(path, self.router())
        }
    }
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

pub(super) fn unavailable(what: &str) -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "error": "temporarily_unavailable",
            "error_description": format!("{what} is down on purpose (a Fault is switched on)."),
        }),
    )
}

pub(super) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        body,
    )
        .into_response()
}

/// An HTML error page (400) for a request that cannot be served.
pub(super) fn error_page(message: &str) -> Response {
    html(StatusCode::BAD_REQUEST, page::error_page(message))
}

fn redirect(to: &Url) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, to.as_str()), (CACHE_CONTROL, "no-store")],
    )
        .into_response()
}

async fn discovery(State(provider): State<DevProvider>, uri: Uri) -> Response {
    provider.count(uri.path(), |c| &mut c.discovery);
    serve_discovery(&provider, || provider.discovery_json())
}

async fn jwks(State(provider): State<DevProvider>, uri: Uri) -> Response {
    provider.count(uri.path(), |c| &mut c.jwks);
    serve_jwks(&provider, || provider.jwks_json())
}

async fn authorize_page(
    State(provider): State<DevProvider>,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    provider.count(uri.path(), |c| &mut c.authorize);
    serve_authorize_page(&provider, &Authority::Generic, uri.path(), query)
}

async fn authorize_submit(State(provider): State<DevProvider>, uri: Uri, body: Bytes) -> Response {
    provider.count(uri.path(), |c| &mut c.login);
    serve_authorize_submit(&provider, &Authority::Generic, &body)
}

async fn token(
    State(provider): State<DevProvider>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider.count(uri.path(), |c| &mut c.token);
    serve_token(&provider, &Authority::Generic, &headers, &body)
}

async fn userinfo(State(provider): State<DevProvider>, uri: Uri, headers: HeaderMap) -> Response {
    provider.count(uri.path(), |c| &mut c.userinfo);
    serve_userinfo(&provider, Some(&Authority::Generic), &headers)
}

/// A discovery document, unless [`Fault::DiscoveryDown`].
pub(super) fn serve_discovery(provider: &DevProvider, doc: impl FnOnce() -> Value) -> Response {
    if provider.faults().contains(Fault::DiscoveryDown) {
        return unavailable("Discovery");
    }
    json_response(StatusCode::OK, &doc())
}

/// A JWKS, unless [`Fault::JwksDown`].
pub(super) fn serve_jwks(provider: &DevProvider, keys: impl FnOnce() -> Value) -> Response {
    if provider.faults().contains(Fault::JwksDown) {
        return unavailable("The JWKS endpoint");
    }
    json_response(StatusCode::OK, &keys())
}

/// `GET` on `authority`'s authorization endpoint, at `path` (as the router
/// sees it): the sign-in page, or a redirect.
pub(super) fn serve_authorize_page(
    provider: &DevProvider,
    authority: &Authority,
    path: &str,
    query: Option<String>,
) -> Response {
    let query = query.unwrap_or_default();
    provider.record_authorize(path, &query);
    let params = Params::parse(query.as_bytes());
    match provider.check_authorization(authority, &params) {
        Checked::Reject(message) => error_page(&message),
        Checked::Redirect(url) => redirect(&url),
        Checked::Valid(request) => match provider.auto_login().or_else(|| {
            provider
                .auto_login_from_hint()
                .then(|| params.get("login_hint").ok().flatten().map(str::to_owned))
                .flatten()
        }) {
            Some(login) => match provider.complete_login(&request, &login) {
                Ok(url) => redirect(&url),
                Err(message) => html(
                    StatusCode::OK,
                    provider.sign_in_page(&request, Some(&message)),
                ),
            },
            None => html(StatusCode::OK, provider.sign_in_page(&request, None)),
        },
    }
}

/// `POST` on `authority`'s authorization endpoint: the sign-in form.
pub(super) fn serve_authorize_submit(
    provider: &DevProvider,
    authority: &Authority,
    body: &[u8],
) -> Response {
    let params = Params::parse(body);
    match provider.check_authorization(authority, &params) {
        Checked::Reject(message) => error_page(&message),
        Checked::Redirect(url) => redirect(&url),
        Checked::Valid(request) => {
            // A one-click user button sends `user`; the text field sends `login`.
            let typed = match (params.get("user"), params.get("login")) {
                (Ok(Some(user)), _) => Ok(user),
                (Ok(None), Ok(login)) => Ok(login.unwrap_or_default()),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            match typed
                .and_then(|login| normalize_login(login).map_err(str::to_owned))
                .and_then(|login| provider.complete_login(&request, login))
            {
                Ok(url) => redirect(&url),
                Err(message) => html(
                    StatusCode::OK,
                    provider.sign_in_page(&request, Some(&message)),
                ),
            }
        }
    }
}

/// `POST` on `authority`'s token endpoint.
pub(super) fn serve_token(
    provider: &DevProvider,
    authority: &Authority,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match provider.exchange_code(authority, authorization, &Params::parse(body)) {
        Ok(tokens) => {
            let mut response = json_response(StatusCode::OK, &tokens);
            response
                .headers_mut()
                .insert(PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(error) => {
            let mut response = json_response(
                error.status,
                &json!({ "error": error.error, "error_description": error.description }),
            );
            if error.basic_challenge {
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"ssokit-dev-provider\""),
                );
            }
            response
        }
    }
}

/// A userinfo endpoint: of `authority`, or of any authority when `None`.
pub(super) fn serve_userinfo(
    provider: &DevProvider,
    authority: Option<&Authority>,
    headers: &HeaderMap,
) -> Response {
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match provider.userinfo(authority, authorization) {
        Ok(claims) => json_response(StatusCode::OK, &claims),
        Err(description) => {
            let mut response = json_response(
                StatusCode::UNAUTHORIZED,
                &json!({ "error": "invalid_token", "error_description": description }),
            );
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            response
        }
    }
}
