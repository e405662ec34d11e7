//! The smallest ssokit host: plain hyper and the framework-agnostic `Sso`
//! API, no integration module. Every SSO route is a few lines of `match`.
//!
//! ```text
//! cargo run --example minimal       # http://127.0.0.1:3000
//! ```
//!
//! A development OpenID provider runs on an ephemeral port. Sign in as
//! `dave@acme.test` (created just in time) or `ann@acme.test` (an existing
//! account: the confirmation link is printed and listed at `/dev/outbox`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use ssokit::connection::ConnectionSpec;
use ssokit::flow::{ChoiceOutcome, FLOW_COOKIE, Outcome};
use ssokit::hooks::{MemoryDirectory, MemoryMailer};
use ssokit::secret::{random_token, sha256_hex};
use ssokit::testkit::{DevProvider, DevUser, RunningProvider};
use ssokit::{
    Begin, BeginLogin, Connection, LinkChoice, LoginHint, Sso, SsoConfig, StaticConnections,
    Tenant, UserId,
};
use tokio::net::TcpListener;
use url::Url;
use url::form_urlencoded::parse as form;

/// The application: SSO, users, mail and sessions (sha256(id) → user).
pub(crate) struct Minimal {
    sso: Sso,
    pub(crate) users: MemoryDirectory,
    pub(crate) mailer: MemoryMailer,
    sessions: Mutex<HashMap<String, UserId>>,
}

/// Builds the application for `base` (its public URL), with a development
/// OpenID provider on an ephemeral port.
pub(crate) async fn app(base: &Url) -> Result<(Arc<Minimal>, RunningProvider), String> {
    let callback = base.join("/sso/oidc/callback").map_err(|e| e.to_string())?;
    let idp = DevProvider::spawn_local(|b| {
        DevProvider::new(b)
            .with_client("app", "app-secret", &[callback.as_str()])
            .with_user(DevUser::new("ann@acme.test"))
            .with_user(DevUser::new("dave@acme.test"))
    })
    .await
    .map_err(|e| e.to_string())?;
    let spec: ConnectionSpec = serde_json::from_value(json!({
        "id": "acme", "tenant": "acme", "kind": "oidc", "issuer": idp.issuer().as_str(),
        "client_id": "app", "client_secret": "app-secret", "jit": true,
        "template": { "role": "member" }
    }))
    .map_err(|e| e.to_string())?;
    let tenant = Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: None,
    };
    let connection = Connection::from_spec(spec).map_err(|e| e.to_string())?;
    let store =
        StaticConnections::new(vec![tenant], vec![connection]).map_err(|e| e.to_string())?;
    let users = MemoryDirectory::new();
    let ann = users.add_user("acme", "ann@acme.test", Some("Ann"), true);
    users.set_role(&ann.id, "admin");
    let mailer = MemoryMailer::new();
    let sso = Sso::builder(SsoConfig::new(base.clone()))
        .connections(Arc::new(store))
        .users(Arc::new(users.clone()))
        .mailer(Arc::new(mailer.clone()))
        .build()
        .map_err(|e| e.to_string())?;
    let app = Minimal {
        sso,
        users,
        mailer,
        sessions: Mutex::default(),
    };
    Ok((Arc::new(app), idp))
}

fn cookie<'a>(req: &'a http::Request<Bytes>, name: &str) -> Option<&'a str> {
    let headers = req.headers().get_all(header::COOKIE).iter();
    let pairs = headers
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'));
    let mut found = pairs
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == name);
    found.next().map(|(_, v)| v).filter(|v| !v.is_empty())
}

fn field(body: &[u8], name: &str) -> String {
    form(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, body: &str) -> Response<String> {
    let html = format!("<!doctype html><meta charset=utf-8><title>Minimal</title>{body}");
    let mut resp = Response::new(html);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        "text/html; charset=utf-8".parse().expect("valid"),
    );
    h.insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    resp
}

fn redirect(to: &str, cookies: &[String]) -> Response<String> {
    let mut resp = page(StatusCode::SEE_OTHER, "");
    let h = resp.headers_mut();
    if let Ok(to) = to.parse() {
        h.insert(header::LOCATION, to);
    }
    for c in cookies {
        if let Ok(c) = c.parse() {
            h.append(header::SET_COOKIE, c);
        }
    }
    resp
}

fn failed(e: &ssokit::Error) -> Response<String> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    page(
        status,
        &format!("<h1>Cannot sign in</h1><p>{}</p>", esc(&e.to_string())),
    )
}

impl Minimal {
    /// `HttpOnly; SameSite=Lax`, and `Secure` when the public URL is https.
    fn set_cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let https = self.sso.config().public_url.scheme() == "https";
        let secure = if https { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// A completed login: a NEW session id (never one from the request),
    /// the flow cookie cleared; or the link offer; or the refusal.
    fn outcome(&self, outcome: Outcome) -> Response<String> {
        match outcome {
            Outcome::SignedIn(s) => {
                let sid = random_token(32);
                let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                sessions.insert(sha256_hex(sid.as_bytes()), s.user.id.clone());
                let cookies = [
                    self.set_cookie("sid", &sid, 28_800),
                    self.set_cookie(FLOW_COOKIE, "", 0),
                ];
                redirect(&s.return_to, &cookies)
            }
            Outcome::LinkOffered(o) => page(
                StatusCode::OK,
                &format!(
                    "<h1>Link your account {}?</h1><form method=post action=/link/choose>\
                     <input type=hidden name=offer value=\"{}\">\
                     <button name=choice value=link>Add to existing account</button></form>",
                    esc(&o.masked_email),
                    esc(o.offer.expose())
                ),
            ),
            Outcome::Denied(d) => page(
                StatusCode::FORBIDDEN,
                &format!(
                    "<h1>Refused</h1><p>{} Reference: {}</p>",
                    d.reason, d.trace_id
                ),
            ),
            _ => page(StatusCode::INTERNAL_SERVER_ERROR, "unexpected outcome"),
        }
    }

    /// Every route of the application.
    pub(crate) async fn handle(&self, req: http::Request<Bytes>) -> Response<String> {
        let flow = cookie(&req, FLOW_COOKIE);
        let query = req.uri().query().unwrap_or("");
        let body = req.body().as_ref();
        match (req.method().as_str(), req.uri().path()) {
            ("POST", "/login") => {
                let return_to = Some(field(body, "return_to")).filter(|r| !r.is_empty());
                let hint = LoginHint::Email(field(body, "email"));
                match self.sso.begin_login(BeginLogin { hint, return_to }).await {
                    Ok(Begin::Redirect(r)) => {
                        let flow = self.set_cookie(FLOW_COOKIE, r.flow_cookie.expose(), 600);
                        redirect(r.url.as_str(), &[flow])
                    }
                    Ok(_) => page(
                        StatusCode::BAD_REQUEST,
                        "several connections: not in this example",
                    ),
                    Err(e) => failed(&e),
                }
            }
            ("GET", "/sso/oidc/callback") => match self.sso.complete_login(query, flow).await {
                Ok(outcome) => self.outcome(outcome),
                Err(e) => failed(&e),
            },
            ("POST", "/link/choose") => {
                let offer = field(body, "offer");
                match self.sso.choose(&offer, flow, LinkChoice::Link).await {
                    Ok(ChoiceOutcome::LinkMailed { masked_email, .. }) => {
                        let link = self.mailer.last().map(|m| m.link.expose().to_owned());
                        println!(
                            "confirmation link for {masked_email}: {}",
                            link.unwrap_or_default()
                        );
                        page(
                            StatusCode::OK,
                            &format!("<h1>Check your e-mail</h1><p>{}</p>", esc(&masked_email)),
                        )
                    }
                    Ok(ChoiceOutcome::Outcome(o)) => self.outcome(o),
                    Ok(_) => page(StatusCode::INTERNAL_SERVER_ERROR, "unexpected outcome"),
                    Err(e) => failed(&e),
                }
            }
            ("GET", "/link/confirm") => {
                let token = field(query.as_bytes(), "token");
                match self.sso.confirm_link(&token, flow).await {
                    Ok(outcome) => self.outcome(outcome),
                    Err(e) => failed(&e),
                }
            }
            ("GET", "/me") => {
                let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                let sid = cookie(&req, "sid").map(|s| sha256_hex(s.as_bytes()));
                let user = sid
                    .and_then(|s| sessions.get(&s).cloned())
                    .and_then(|id| self.users.user(&id));
                match user.filter(|u| u.active) {
                    Some(u) => {
                        json_response(json!({"email": u.email, "role": u.role, "tenant": u.tenant}))
                    }
                    None => page(StatusCode::UNAUTHORIZED, "not signed in"),
                }
            }
            ("GET", "/dev/outbox") => {
                let mails = self.mailer.sent();
                json_response(json!(
                    mails
                        .iter()
                        .map(|m| json!({"to": m.to, "link": m.link.expose()}))
                        .collect::<Vec<_>>()
                ))
            }
            ("GET", "/") => page(
                StatusCode::OK,
                "<h1>Sign in</h1><form method=post action=/login>\
                 <input name=email type=email placeholder=you@acme.test required> <button>Next</button></form>",
            ),
            _ => page(StatusCode::NOT_FOUND, "<h1>Not found</h1>"),
        }
    }
}

fn json_response(value: serde_json::Value) -> Response<String> {
    let mut resp = Response::new(value.to_string());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/json".parse().expect("valid"),
    );
    resp
}

/// Serves `app` on `listener` with hyper (HTTP/1.1), bodies capped at 64 KiB.
pub(crate) async fn serve(listener: TcpListener, app: Arc<Minimal>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        let service = service_fn(move |req: http::Request<Incoming>| {
            let app = app.clone();
            async move {
                let (parts, body) = req.into_parts();
                let resp = match Limited::new(body, 64 * 1024).collect().await {
                    Ok(body) => {
                        app.handle(http::Request::from_parts(parts, body.to_bytes()))
                            .await
                    }
                    Err(_) => page(StatusCode::PAYLOAD_TOO_LARGE, "too large"),
                };
                Ok::<_, Infallible>(resp.map(|b| Full::new(Bytes::from(b))))
            }
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:3000")
        .await
        .map_err(|e| e.to_string())?;
    let base = Url::parse("http://127.0.0.1:3000/").map_err(|e| e.to_string())?;
    let (app, idp) = app(&base).await?;
    println!(
        "ssokit minimal example on {base} (development IdP at {})",
        idp.issuer()
    );
    serve(listener, app).await.map_err(|e| e.to_string())
}
