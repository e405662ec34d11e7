//! `ssokit::integrations::axum` over real HTTP on loopback: a small host app
//! (its own state, sessions and `/me`) with the SSO routes merged in, signing
//! in through the development provider.
#![cfg(feature = "axum")]

mod integration_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use integration_support::{AppUnderTest, Browser};
use ssokit::connection::ConnectionSpec;
use ssokit::hooks::{MemoryDirectory, MemoryMailer};
use ssokit::integrations::axum::{cookie, router};
use ssokit::integrations::{NewSession, SsoHost, SsoRoutes};
use ssokit::secret::sha256_hex;
use ssokit::testkit::{DevProvider, DevUser, RunningProvider};
use ssokit::{Connection, Sso, SsoConfig, StaticConnections, Tenant, UserId};
use url::Url;

/// The host: sessions by hash of their id.
#[derive(Default)]
struct Sessions {
    map: Mutex<HashMap<String, UserId>>,
    started: Mutex<u32>,
}

impl SsoHost for Sessions {
    async fn start_session(&self, s: NewSession<'_>) -> Result<(), ssokit::Error> {
        let mut map = self.map.lock().unwrap();
        if let Some(old) = s.previous {
            map.remove(&sha256_hex(old.as_bytes()));
        }
        map.insert(sha256_hex(s.id.as_bytes()), s.signed_in.user.id.clone());
        *self.started.lock().unwrap() += 1;
        Ok(())
    }

    fn session_cookie(&self) -> &str {
        "app_session"
    }
}

/// The host application's own state: the SSO routes merge into a
/// `Router<HostState>`.
#[derive(Clone)]
struct HostState {
    sessions: Arc<Sessions>,
    users: MemoryDirectory,
}

async fn me(State(st): State<HostState>, headers: HeaderMap) -> Response {
    let user = cookie(&headers, "app_session")
        .and_then(|sid| {
            let map = st.sessions.map.lock().unwrap();
            map.get(&sha256_hex(sid.as_bytes())).cloned()
        })
        .and_then(|id| st.users.user(&id))
        .filter(|u| u.active);
    match user {
        Some(u) => {
            axum::Json(serde_json::json!({"email": u.email, "role": u.role})).into_response()
        }
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

struct Running {
    app: AppUnderTest,
    sessions: Arc<Sessions>,
    _idp: RunningProvider,
}

async fn start_with(configure: impl FnOnce(SsoRoutes<Sessions>) -> SsoRoutes<Sessions>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let callback = base.join("/sso/oidc/callback").unwrap();
    let idp = DevProvider::spawn_local(|b| {
        DevProvider::new(b)
            .with_client("app", "secret", &[callback.as_str()])
            .with_user(DevUser::new("ann@acme.test"))
    })
    .await
    .unwrap();
    let spec: ConnectionSpec = serde_json::from_value(serde_json::json!({
        "id": "acme", "tenant": "acme", "kind": "oidc", "issuer": idp.issuer().as_str(),
        "client_id": "app", "client_secret": "secret", "jit": true,
        "template": { "role": "member" }
    }))
    .unwrap();
    let tenant = Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: None,
    };
    let store =
        StaticConnections::new(vec![tenant], vec![Connection::from_spec(spec).unwrap()]).unwrap();
    let users = MemoryDirectory::new();
    let ann = users.add_user("acme", "ann@acme.test", Some("Ann"), true);
    users.set_role(&ann.id, "admin");
    users.add_user("acme", "bob@acme.test", Some("Bob Smith"), true);
    users.add_user("acme", "BOB@acme.test", Some("Bob Jones"), true);
    let mailer = MemoryMailer::new();
    let sso = Sso::builder(SsoConfig::new(base.clone()))
        .connections(Arc::new(store))
        .users(Arc::new(users.clone()))
        .mailer(Arc::new(mailer.clone()))
        .build()
        .unwrap();
    let sessions = Arc::new(Sessions::default());
    let routes = configure(SsoRoutes::with_shared_host(sso, sessions.clone()));
    let state = HostState {
        sessions: sessions.clone(),
        users,
    };
    let app: Router = Router::new()
        .route("/me", get(me))
        .merge(router(routes))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running {
        app: AppUnderTest {
            base,
            mailer,
            session_cookie: "app_session",
        },
        sessions,
        _idp: idp,
    }
}

async fn start() -> Running {
    start_with(|r| r).await
}

#[tokio::test]
async fn jit_sign_in_sets_a_new_secure_session() {
    let running = start().await;
    integration_support::jit_sign_in(&running.app).await;
    assert_eq!(*running.sessions.started.lock().unwrap(), 1);
}

#[tokio::test]
async fn link_flow_through_the_outbox() {
    integration_support::link_flow(&start().await.app).await;
}

#[tokio::test]
async fn replayed_callback_is_refused() {
    integration_support::replayed_callback_refused(&start().await.app).await;
}

#[tokio::test]
async fn open_redirect_is_refused() {
    integration_support::open_redirect_refused(&start().await.app).await;
}

#[tokio::test]
async fn duplicate_email_is_denied_with_a_trace_id() {
    integration_support::duplicate_email_denied(&start().await.app).await;
}

#[tokio::test]
async fn bad_input_gets_4xx() {
    let running = start().await;
    integration_support::bad_input(&running.app).await;
    let browser = Browser::new(&running.app);
    let r = browser
        .post_form("/link/choose", &[("offer", "x"), ("choice", "maybe")])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let big = "a".repeat(300 * 1024);
    let r = browser.post_form("/login", &[("email", &big)]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = browser
        .post_form("/login", &[("email", "x@nowhere.test")])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text().await.unwrap();
    assert!(page.contains("action=\"/login\""), "the form again: {page}");
    assert!(
        page.contains("x@nowhere.test"),
        "what the user typed: {page}"
    );
}

#[tokio::test]
async fn pages_are_not_cached_framed_or_leaked() {
    let running = start().await;
    let browser = Browser::new(&running.app);
    let r = browser.sign_in("ann@acme.test", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
    // The flow cookie is kept alive for the link step.
    assert!(
        integration_support::set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("ssokit_flow=") && !c.contains("Max-Age=0"))
    );
}

#[tokio::test]
async fn https_public_url_makes_cookies_secure() {
    // Built directly: no server needed to see the cookie the routes make.
    let sso = Sso::builder(SsoConfig::new(Url::parse("https://app.example").unwrap()))
        .connections(Arc::new(StaticConnections::new(vec![], vec![]).unwrap()))
        .users(Arc::new(MemoryDirectory::new()))
        .build()
        .unwrap();
    let routes = SsoRoutes::new(sso, Sessions::default());
    let clear = routes.clear_session_cookie();
    assert!(clear.starts_with("app_session=;"), "{clear}");
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=0"] {
        assert!(clear.contains(attr), "{clear} lacks {attr}");
    }
}

#[cfg(feature = "scim")]
#[tokio::test]
async fn scim_requests_are_forwarded_whole() {
    let running = start_with(|r| {
        r.scim(|req: http::Request<Vec<u8>>| async move {
            let body = format!(
                "{} {} auth={} body={}",
                req.method(),
                req.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
                req.headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-"),
                String::from_utf8_lossy(req.body())
            );
            http::Response::builder()
                .status(201)
                .header("content-type", "application/scim+json")
                .body(body.into_bytes())
                .unwrap()
        })
    })
    .await;
    let r = reqwest::Client::new()
        .post(running.app.base.join("/scim/v2/Users?x=1").unwrap())
        .bearer_auth("tok")
        .body("{\"userName\":\"a\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["content-type"], "application/scim+json");
    assert_eq!(
        r.text().await.unwrap(),
        "POST /scim/v2/Users?x=1 auth=Bearer tok body={\"userName\":\"a\"}"
    );
}

#[cfg(feature = "saml")]
#[tokio::test]
async fn saml_acs_reposts_itself_to_carry_the_flow_cookie() {
    let running = start_with(|r| {
        r.saml_metadata(|_sso, id| async move { Ok(format!("<EntityDescriptor id=\"{id}\"/>")) })
    })
    .await;
    let client = reqwest::Client::new();
    let acs = running.app.base.join("/sso/saml/acs").unwrap();
    // The IdP's cross-site POST arrives without the SameSite=Lax flow cookie:
    // a page posts the same fields again from this site.
    let r = client
        .post(acs.clone())
        .form(&[("SAMLResponse", "PHg+"), ("RelayState", "r\"s")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let fields = integration_support::hidden_inputs(&page);
    assert!(
        fields.contains(&("SAMLResponse".into(), "PHg+".into())),
        "{page}"
    );
    assert!(
        fields.contains(&("RelayState".into(), "r\"s".into())),
        "{page}"
    );
    // The re-posted form is checked (and, being bogus, refused with a 4xx).
    let r = client.post(acs).form(&fields).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = client
        .get(
            running
                .app
                .base
                .join("/sso/saml/metadata?connection=acme")
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
    assert_eq!(r.text().await.unwrap(), "<EntityDescriptor id=\"acme\"/>");
}
