//! The SSO routes for [actix-web](https://docs.rs/actix-web) 4 (feature `actix`).
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use ssokit::integrations::{NewSession, Page, SsoHost, SsoRoutes};
//!
//! struct MyApp;
//! impl SsoHost for MyApp {
//!     async fn start_session(&self, s: NewSession<'_>) -> Result<(), ssokit::Error> {
//!         // your session store: hash(s.id) → s.signed_in.user.id
//!         Ok(())
//!     }
//! }
//!
//! # async fn run(sso: ssokit::Sso) -> std::io::Result<()> {
//! let routes = SsoRoutes::new(sso, MyApp);
//! HttpServer::new(move || {
//!     App::new()
//!         .route("/", web::get().to(|| async {
//!             let page = Page::Login { error: None, email: None, return_to: None };
//!             HttpResponse::Ok().content_type("text/html").body(page.default_html())
//!         }))
//!         .configure(ssokit::integrations::actix::configure(routes.clone()))
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await
//! # }
//! ```
//!
//! Read your session cookie in your own handlers with [`cookie`].

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::web::{self, Bytes, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use super::endpoints::{BODY_LIMIT, Incoming, Reply};
use super::{SsoHost, SsoRoutes, cookie_value};

/// The SSO routes (see the [module docs](super)) as an actix-web
/// configuration: `App::new().configure(configure(routes.clone()))`.
pub fn configure<H: SsoHost>(routes: SsoRoutes<H>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        let config = routes.sso().config();
        let callback = config.oidc_callback_path.clone();
        let confirm = config.link_confirm_path.clone();
        let limit = web::PayloadConfig::new(BODY_LIMIT);
        macro_rules! endpoint {
            ($method:ident, $path:expr, $handler:ident) => {{
                let r = routes.clone();
                cfg.service(
                    web::resource($path)
                        .app_data(limit.clone())
                        .route(web::$method().to(move |req: HttpRequest, body: Bytes| {
                            let r = r.clone();
                            async move { respond(r.$handler(incoming(&req, &body)).await) }
                        })),
                );
            }};
        }
        endpoint!(post, "/login", login);
        endpoint!(get, callback.as_str(), oidc_callback);
        endpoint!(post, "/link/choose", link_choose);
        endpoint!(get, confirm.as_str(), link_confirm);
        #[cfg(feature = "saml")]
        {
            endpoint!(post, "/sso/saml/acs", saml_acs);
            endpoint!(get, "/sso/saml/metadata", saml_metadata_xml);
        }
        #[cfg(feature = "scim")]
        if routes.has_scim() {
            let r = routes.clone();
            let handler = move |req: HttpRequest, body: Bytes| {
                let r = r.clone();
                async move { scim(&r, &req, body).await }
            };
            cfg.service(
                web::resource(["/scim/v2", "/scim/v2/{rest:.*}"])
                    .app_data(web::PayloadConfig::new(super::endpoints::SCIM_LIMIT))
                    .default_service(web::to(handler)),
            );
        }
    }
}

/// The value of the cookie `name` in a request (the first, if several were
/// sent; `None` when empty).
pub fn cookie<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    cookie_value(
        req.headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok()),
        name,
    )
    .filter(|v| !v.is_empty())
}

fn incoming<'a>(req: &'a HttpRequest, body: &'a [u8]) -> Incoming<'a> {
    Incoming {
        cookies: req
            .headers()
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .collect(),
        query: req.query_string(),
        body,
    }
}

/// Converts a response of the `http` crate (1.x) into actix-web's (whose
/// types come from `http` 0.2).
fn response<B: actix_web::body::MessageBody + 'static>(
    status: u16,
    headers: &http::HeaderMap,
    body: B,
) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = HttpResponse::with_body(status, actix_web::body::BoxBody::new(body));
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            resp.headers_mut().append(n, v);
        }
    }
    resp
}

fn respond(reply: Reply) -> HttpResponse {
    let (parts, body) = reply.into_parts();
    response(parts.status.as_u16(), &parts.headers, body)
}

#[cfg(feature = "scim")]
async fn scim<H: SsoHost>(routes: &SsoRoutes<H>, req: &HttpRequest, body: Bytes) -> HttpResponse {
    let mut builder = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let Ok(request) = builder.body(body.to_vec()) else {
        return HttpResponse::BadRequest().finish();
    };
    let (parts, body) = routes.scim_forward(request).await.into_parts();
    response(parts.status.as_u16(), &parts.headers, body)
}
