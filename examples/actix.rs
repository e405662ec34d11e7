//! ssokit in an actix-web application: the demo's routes and behaviour, with
//! the SSO endpoints from `ssokit::integrations::actix`.
//!
//! ```text
//! cargo run --features actix --example actix     # http://127.0.0.1:3000
//! SSOKIT_DEMO_ADDR=127.0.0.1:8080 cargo run --features actix --example actix
//! ```
//!
//! The development OpenID provider runs on its own ephemeral port (actix-web
//! cannot mount the test kit's axum router); one tenant `acme` (domain
//! `acme.test`) and the demo's users: sign in as `dave@acme.test` (created
//! just in time), `ann@acme.test` (an existing account: link it; the mail is
//! printed and listed at `/dev/outbox`), `bob@acme.test` (two accounts share
//! the address: refused) or `carol@acme.test` (disabled: refused).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::web::{self, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;
use ssokit::connection::ConnectionSpec;
use ssokit::error::HookError;
use ssokit::hooks::{Mail, Mailer, MemoryDirectory, MemoryEvents, MemoryMailer};
use ssokit::integrations::actix::{configure, cookie};
use ssokit::integrations::{NewSession, Page, SsoHost, SsoRoutes};
use ssokit::secret::sha256_hex;
use ssokit::testkit::{DevProvider, DevUser, RunningProvider};
use ssokit::{Connection, LocalUser, Sso, SsoConfig, StaticConnections, Tenant, UserId};
use url::Url;

const SESSION_COOKIE: &str = "demo_session";

/// The application's sessions and users: what ssokit calls back into.
pub(crate) struct Host {
    users: MemoryDirectory,
    /// sha256(session id) → (user, connection signed in with).
    sessions: Mutex<HashMap<String, (UserId, String)>>,
}

impl SsoHost for Host {
    async fn start_session(&self, s: NewSession<'_>) -> Result<(), ssokit::Error> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = s.previous {
            sessions.remove(&sha256_hex(old.as_bytes()));
        }
        let user = s.signed_in.user.id.clone();
        let connection = s.signed_in.identity.connection.to_string();
        sessions.insert(sha256_hex(s.id.as_bytes()), (user, connection));
        Ok(())
    }

    fn session_cookie(&self) -> &str {
        SESSION_COOKIE
    }
}

impl Host {
    /// The signed-in (and still active) user of a request.
    fn user(&self, req: &HttpRequest) -> Option<(LocalUser, String)> {
        let id = cookie(req, SESSION_COOKIE)?;
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let (user, connection) = sessions.get(&sha256_hex(id.as_bytes()))?.clone();
        let user = self.users.user(&user).filter(|u| u.active)?;
        Some((user, connection))
    }
}

/// Everything a test (or `main`) needs to reach the running application.
pub(crate) struct Running {
    pub(crate) server: Server,
    pub(crate) base: Url,
    pub(crate) mailer: MemoryMailer,
    pub(crate) users: MemoryDirectory,
    pub(crate) idp: RunningProvider,
}

#[derive(Clone)]
struct AppState {
    routes: SsoRoutes<Host>,
    mailer: MemoryMailer,
    events: MemoryEvents,
}

/// Builds the application on `listener`: the development IdP on its own
/// port, the tenant, the users and the routes. Await `server` to serve.
pub(crate) async fn start(listener: std::net::TcpListener) -> std::io::Result<Running> {
    let base = Url::parse(&format!("http://{}/", listener.local_addr()?)).map_err(io)?;
    let callback = base.join("/sso/oidc/callback").map_err(io)?;
    let idp = DevProvider::spawn_local(|idp_base| {
        DevProvider::new(idp_base.join("idp").expect("a path"))
            .with_client("demo", "demo-secret", &[callback.as_str()])
            .with_user(DevUser {
                name: "Ann Admin".into(),
                ..DevUser::new("ann@acme.test")
            })
            .with_user(DevUser::new("bob@acme.test"))
            .with_user(DevUser::new("carol@acme.test"))
            .with_user(DevUser {
                name: "Dave Newcomer".into(),
                ..DevUser::new("dave@acme.test").with_groups(["staff"])
            })
    })
    .await?;

    let spec: ConnectionSpec = serde_json::from_value(json!({
        "id": "acme-dev", "tenant": "acme", "kind": "oidc",
        "display_name": "Acme (development IdP)",
        "issuer": idp.issuer().as_str(), "client_id": "demo", "client_secret": "demo-secret",
        "jit": true, "template": { "role": "member" }
    }))
    .map_err(io)?;
    let tenant = Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: None,
    };
    let connections =
        StaticConnections::new(vec![tenant], vec![Connection::from_spec(spec).map_err(io)?])
            .map_err(io)?;

    let users = MemoryDirectory::new();
    let ann = users.add_user("acme", "ann@acme.test", Some("Ann Admin"), true);
    users.set_role(&ann.id, "admin");
    users.add_user("acme", "bob@acme.test", Some("Bob Smith"), true);
    users.add_user("acme", "Bob@Acme.test", Some("Bob Jones"), true);
    users.add_user("acme", "carol@acme.test", Some("Carol (disabled)"), false);

    let mailer = MemoryMailer::new();
    let events = MemoryEvents::new();
    let sso = Sso::builder(SsoConfig::new(base.clone()).app_name("the ssokit actix example"))
        .connections(Arc::new(connections))
        .users(Arc::new(users.clone()))
        .mailer(Arc::new(PrintingMailer(mailer.clone())))
        .events(Arc::new(events.clone()))
        .build()
        .map_err(io)?;
    let host = Host {
        users: users.clone(),
        sessions: Mutex::new(HashMap::new()),
    };
    let state = AppState {
        routes: SsoRoutes::new(sso, host),
        mailer: mailer.clone(),
        events,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(Data::new(state.clone()))
            .route("/", web::get().to(home))
            .route("/me", web::get().to(me))
            .route("/logout", web::post().to(logout))
            .route("/dev/outbox", web::get().to(outbox))
            .route("/dev/users", web::get().to(dev_users))
            .route("/dev/events", web::get().to(dev_events))
            .configure(configure(state.routes.clone()))
    })
    .workers(1)
    .listen(listener)?
    .run();
    Ok(Running {
        server,
        base,
        mailer,
        users,
        idp,
    })
}

/// Keeps mails in the outbox (`/dev/outbox`) and prints them, as a real
/// mailer would send them.
struct PrintingMailer(MemoryMailer);

#[async_trait::async_trait]
impl Mailer for PrintingMailer {
    async fn send(&self, mail: Mail) -> Result<(), HookError> {
        println!(
            "--- mail to {} ---\n{}\n{}\n---",
            mail.to,
            mail.subject,
            mail.body.expose()
        );
        self.0.send(mail).await
    }
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn json_response(value: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(value.to_string())
}

async fn home(st: Data<AppState>, req: HttpRequest) -> HttpResponse {
    let host = st.routes.host();
    let Some((user, connection)) = host.user(&req) else {
        let page = Page::Login {
            error: None,
            email: None,
            return_to: None,
        };
        return html(host.render(&page));
    };
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let identities: String = host
        .users
        .identities_of(&user.id)
        .iter()
        .map(|i| {
            format!(
                "<li><code>{}</code> via {}</li>",
                esc(&i.subject),
                esc(i.connection.as_str())
            )
        })
        .collect();
    html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Welcome</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto\">\
         <h1>Welcome, {name}</h1><p>{email} · organisation <b>{tenant}</b> · role <b id=\"role\">{role}</b></p>\
         <p>Signed in with {connection}. Linked identities:</p><ul>{identities}</ul>\
         <form method=\"post\" action=\"/logout\"><button>Sign out</button></form></body></html>",
        name = esc(user.name.as_deref().unwrap_or(&user.email)),
        email = esc(&user.email),
        tenant = esc(user.tenant.as_str()),
        role = esc(user.role.as_deref().unwrap_or("—")),
        connection = esc(&connection),
    ))
}

async fn me(st: Data<AppState>, req: HttpRequest) -> HttpResponse {
    let host = st.routes.host();
    let Some((user, connection)) = host.user(&req) else {
        return HttpResponse::Unauthorized()
            .content_type("application/json")
            .body(json!({"error": "not signed in"}).to_string());
    };
    let identities: Vec<_> = host
        .users
        .identities_of(&user.id)
        .into_iter()
        .map(|i| json!({"connection": i.connection, "subject": i.subject}))
        .collect();
    json_response(json!({
        "id": user.id, "email": user.email, "name": user.name, "tenant": user.tenant,
        "role": user.role, "signed_in_with": connection, "identities": identities,
    }))
}

async fn logout(st: Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Some(id) = cookie(&req, SESSION_COOKIE) {
        let host = st.routes.host();
        let mut sessions = host.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.remove(&sha256_hex(id.as_bytes()));
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .insert_header((header::SET_COOKIE, st.routes.clear_session_cookie()))
        .finish()
}

async fn outbox(st: Data<AppState>) -> HttpResponse {
    let mails: Vec<_> = st
        .mailer
        .sent()
        .into_iter()
        .map(|m| json!({"to": m.to, "subject": m.subject, "body": m.body.expose(), "link": m.link.expose()}))
        .collect();
    json_response(json!(mails))
}

async fn dev_users(st: Data<AppState>) -> HttpResponse {
    json_response(json!(st.routes.host().users.users()))
}

async fn dev_events(st: Data<AppState>) -> HttpResponse {
    json_response(json!(st.events.all()))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("SSOKIT_DEMO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let running = start(std::net::TcpListener::bind(&addr)?).await?;
    println!(
        "ssokit actix example on {} (development IdP at {})",
        running.base,
        running.idp.issuer()
    );
    let _keep = (&running.mailer, &running.users, &running.idp);
    running.server.await
}
