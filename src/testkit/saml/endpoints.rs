//! The IdP's HTTP endpoints as an axum router.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::idp::{DevSamlIdp, Fields, Pending};
use super::page;
use super::request::SamlBinding;
use crate::testkit::provider::normalize_login;

const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

impl DevSamlIdp {
    /// The IdP's endpoints as an axum [`Router`], with paths relative to
    /// the base URL's path: `/metadata` (GET) and `/sso` (GET for the
    /// HTTP-Redirect binding, POST for the HTTP-POST binding and the
    /// sign-in form).
    ///
    /// Mount it where the base URL says. For `http://127.0.0.1:3000/dev/saml`:
    ///
    /// - `Router::new().nest("/dev/saml", idp.router())` in a router without
    ///   state, or
    /// - `.nest_service("/dev/saml", idp.router())` in a router with state
    ///   (`Router<AppState>`).
    ///
    /// When the base URL has no path, merge it at the root
    /// (`app.merge(idp.router())`), or use
    /// [`mounted_router`](Self::mounted_router), which does the nesting.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/metadata", get(metadata))
            .route("/sso", get(sso_redirect).post(sso_post))
            .with_state(self.clone())
    }

    /// [`router`](Self::router) nested under the base URL's path, ready to
    /// be served at the base URL's origin or merged into a host router
    /// without state.
    pub fn mounted_router(&self) -> Router {
        let path = self.base_url().path().trim_end_matches('/');
        if path.is_empty() {
            self.router()
        } else {
            Router::new().nest(path, self.router())
        }
    }
}

fn html(status: StatusCode, csp: &str, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
            (CONTENT_SECURITY_POLICY, csp),
        ],
        body,
    )
        .into_response()
}

fn error_page(message: &str) -> Response {
    html(StatusCode::BAD_REQUEST, PAGE_CSP, page::error_page(message))
}

async fn metadata(State(idp): State<DevSamlIdp>) -> Response {
    idp.count(|c| &mut c.metadata);
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, "application/samlmetadata+xml"),
            (CACHE_CONTROL, "no-store"),
        ],
        idp.metadata_xml(),
    )
        .into_response()
}

async fn sso_redirect(State(idp): State<DevSamlIdp>, RawQuery(query): RawQuery) -> Response {
    idp.count(|c| &mut c.sso_redirect);
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    serve_request(&idp, SamlBinding::Redirect, &fields)
}

async fn sso_post(State(idp): State<DevSamlIdp>, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    if fields.has("login") || fields.has("user") {
        idp.count(|c| &mut c.login);
        serve_sign_in(&idp, &fields)
    } else {
        idp.count(|c| &mut c.sso_post);
        serve_request(&idp, SamlBinding::Post, &fields)
    }
}

/// An AuthnRequest: the sign-in page (or, with auto-login, the Response).
fn serve_request(idp: &DevSamlIdp, binding: SamlBinding, fields: &Fields) -> Response {
    match idp.check_request(binding, fields, true) {
        Err(message) => error_page(&message),
        Ok(pending) => match idp.auto_login() {
            Some(login) => respond(idp, &pending, &login),
            None => sign_in_page(idp, &pending, None),
        },
    }
}

/// The sign-in form's submission: the request travels in hidden fields
/// with the POST binding's encoding, and is checked again.
fn serve_sign_in(idp: &DevSamlIdp, fields: &Fields) -> Response {
    let pending = match idp.check_request(SamlBinding::Post, fields, false) {
        Ok(pending) => pending,
        Err(message) => return error_page(&message),
    };
    // A one-click user button sends `user`; the text field sends `login`.
    let typed = match (fields.get("user"), fields.get("login")) {
        (Ok(Some(user)), _) => Ok(user),
        (Ok(None), Ok(login)) => Ok(login.unwrap_or_default()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match typed.and_then(|l| normalize_login(l).map(str::to_owned).map_err(str::to_owned)) {
        Ok(login) => respond(idp, &pending, &login),
        Err(message) => sign_in_page(idp, &pending, Some(&message)),
    }
}

fn sign_in_page(idp: &DevSamlIdp, pending: &Pending, error: Option<&str>) -> Response {
    let users = idp.users();
    let body = page::SignIn {
        action: idp.sso_url().as_str(),
        request_xml: &pending.xml,
        relay_state: pending.relay_state.as_deref(),
        sp: &pending.request.issuer,
        users: &users,
        error,
    }
    .render();
    html(StatusCode::OK, PAGE_CSP, body)
}

/// The auto-submitting form posting the Response for `login` to the ACS.
fn respond(idp: &DevSamlIdp, pending: &Pending, login: &str) -> Response {
    match idp.complete(pending, login) {
        Ok(post) => {
            let csp = format!(
                "default-src 'none'; style-src 'unsafe-inline'; script-src {}; \
                 frame-ancestors 'none'",
                page::submit_script_source()
            );
            html(StatusCode::OK, &csp, page::post_form(&post, login))
        }
        Err(message) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            PAGE_CSP,
            page::error_page(&message),
        ),
    }
}
