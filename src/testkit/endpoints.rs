//! The provider's HTTP endpoints as an axum router.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, PRAGMA,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;

use super::page;
use super::provider::{Checked, DevProvider, Fault, Params, normalize_login};

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
    pub fn router(&self) -> Router {
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

fn json_response(status: StatusCode, body: &Value) -> Response {
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

fn unavailable(what: &str) -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "error": "temporarily_unavailable",
            "error_description": format!("{what} is down on purpose (a Fault is switched on)."),
        }),
    )
}

fn html(status: StatusCode, body: String) -> Response {
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

fn redirect(to: &Url) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(LOCATION, to.as_str()), (CACHE_CONTROL, "no-store")],
    )
        .into_response()
}

async fn discovery(State(provider): State<DevProvider>) -> Response {
    provider.count(|c| &mut c.discovery);
    if provider.faults().contains(Fault::DiscoveryDown) {
        return unavailable("Discovery");
    }
    json_response(StatusCode::OK, &provider.discovery_json())
}

async fn jwks(State(provider): State<DevProvider>) -> Response {
    provider.count(|c| &mut c.jwks);
    if provider.faults().contains(Fault::JwksDown) {
        return unavailable("The JWKS endpoint");
    }
    json_response(StatusCode::OK, &provider.jwks_json())
}

async fn authorize_page(
    State(provider): State<DevProvider>,
    RawQuery(query): RawQuery,
) -> Response {
    provider.count(|c| &mut c.authorize);
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    match provider.check_authorization(&params) {
        Checked::Reject(message) => html(StatusCode::BAD_REQUEST, page::error_page(&message)),
        Checked::Redirect(url) => redirect(&url),
        Checked::Valid(request) => match provider.auto_login() {
            Some(login) => redirect(&provider.complete_login(&request, &login)),
            None => html(StatusCode::OK, provider.sign_in_page(&request, None)),
        },
    }
}

async fn authorize_submit(State(provider): State<DevProvider>, body: Bytes) -> Response {
    provider.count(|c| &mut c.login);
    let params = Params::parse(&body);
    match provider.check_authorization(&params) {
        Checked::Reject(message) => html(StatusCode::BAD_REQUEST, page::error_page(&message)),
        Checked::Redirect(url) => redirect(&url),
        Checked::Valid(request) => {
            // A one-click user button sends `user`; the text field sends `login`.
            let typed = match (params.get("user"), params.get("login")) {
                (Ok(Some(user)), _) => Ok(user),
                (Ok(None), Ok(login)) => Ok(login.unwrap_or_default()),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
            match typed.and_then(|login| normalize_login(login).map_err(str::to_owned)) {
                Ok(login) => redirect(&provider.complete_login(&request, login)),
                Err(message) => html(
                    StatusCode::OK,
                    provider.sign_in_page(&request, Some(&message)),
                ),
            }
        }
    }
}

async fn token(State(provider): State<DevProvider>, headers: HeaderMap, body: Bytes) -> Response {
    provider.count(|c| &mut c.token);
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match provider.exchange_code(authorization, &Params::parse(&body)) {
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

async fn userinfo(State(provider): State<DevProvider>, headers: HeaderMap) -> Response {
    provider.count(|c| &mut c.userinfo);
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match provider.userinfo(authorization) {
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
