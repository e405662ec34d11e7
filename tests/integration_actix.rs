//! `examples/actix.rs` (the actix-web app over `ssokit::integrations::actix`)
//! over real HTTP on loopback, signing in through the development provider.
#![cfg(feature = "actix")]

#[allow(dead_code)]
#[path = "../examples/actix.rs"]
mod actix_example;
mod integration_support;

use integration_support::{AppUnderTest, Browser};
use reqwest::StatusCode;

struct Running {
    app: AppUnderTest,
    _idp: ssokit::testkit::RunningProvider,
}

async fn start() -> Running {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let actix_example::Running {
        server,
        base,
        mailer,
        idp,
        ..
    } = actix_example::start(listener).await.unwrap();
    tokio::spawn(server);
    Running {
        app: AppUnderTest {
            base,
            mailer,
            session_cookie: "demo_session",
        },
        _idp: idp,
    }
}

#[tokio::test]
async fn jit_sign_in_sets_a_new_secure_session() {
    let running = start().await;
    integration_support::jit_sign_in(&running.app).await;
    // The example's own pages: the signed-in home page shows the user.
    let browser = Browser::new(&running.app);
    browser.sign_in("dave@acme.test", None).await;
    let home = browser.get("/").await.text().await.unwrap();
    assert!(home.contains("Dave") && home.contains("member"), "{home}");
}

#[tokio::test]
async fn link_flow_through_the_outbox() {
    let running = start().await;
    integration_support::link_flow(&running.app).await;
    // The example lists the mails at /dev/outbox, as the demo does.
    let outbox: serde_json::Value = Browser::new(&running.app)
        .get("/dev/outbox")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outbox[0]["to"], "ann@acme.test");
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
async fn duplicate_email_and_disabled_user_are_denied() {
    let running = start().await;
    integration_support::duplicate_email_denied(&running.app).await;
    let r = Browser::new(&running.app)
        .sign_in("carol@acme.test", None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_input_gets_4xx_and_logout_ends_the_session() {
    let running = start().await;
    integration_support::bad_input(&running.app).await;
    let browser = Browser::new(&running.app);
    let big = "a".repeat(300 * 1024);
    let r = browser.post_form("/login", &[("email", &big)]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    browser.sign_in("dave@acme.test", None).await;
    assert_eq!(browser.me().await.0, StatusCode::OK);
    let r = browser.post_form("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(browser.me().await.0, StatusCode::UNAUTHORIZED);
    let users: serde_json::Value = browser.get("/dev/users").await.json().await.unwrap();
    assert_eq!(users.as_array().unwrap().len(), 5, "the four seeded + Dave");
}

/// A host for the routes alone (no sessions needed).
#[cfg(any(feature = "scim", feature = "saml"))]
struct NoSessions;

#[cfg(any(feature = "scim", feature = "saml"))]
impl ssokit::integrations::SsoHost for NoSessions {
    async fn start_session(
        &self,
        _: ssokit::integrations::NewSession<'_>,
    ) -> Result<(), ssokit::Error> {
        Ok(())
    }
}

/// The SSO routes alone on actix-web, configured by `configure`.
#[cfg(any(feature = "scim", feature = "saml"))]
async fn routes_only(
    configure: impl FnOnce(
        ssokit::integrations::SsoRoutes<NoSessions>,
    ) -> ssokit::integrations::SsoRoutes<NoSessions>,
) -> url::Url {
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let sso = ssokit::Sso::builder(ssokit::SsoConfig::new(base.clone()))
        .connections(Arc::new(
            ssokit::StaticConnections::new(vec![], vec![]).unwrap(),
        ))
        .users(Arc::new(ssokit::hooks::MemoryDirectory::new()))
        .build()
        .unwrap();
    let routes = configure(ssokit::integrations::SsoRoutes::new(sso, NoSessions));
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new().configure(ssokit::integrations::actix::configure(routes.clone()))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

#[cfg(feature = "scim")]
#[tokio::test]
async fn scim_requests_are_forwarded_whole() {
    let base = routes_only(|r| {
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
    let client = reqwest::Client::new();
    let r = client
        .patch(base.join("/scim/v2/Users/42?x=1").unwrap())
        .bearer_auth("tok")
        .body("{\"Operations\":[]}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["content-type"], "application/scim+json");
    assert_eq!(
        r.text().await.unwrap(),
        "PATCH /scim/v2/Users/42?x=1 auth=Bearer tok body={\"Operations\":[]}"
    );
    let r = client
        .get(base.join("/scim/v2").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[cfg(feature = "saml")]
#[tokio::test]
async fn saml_acs_reposts_itself_and_metadata_is_served() {
    let base = routes_only(|r| {
        r.saml_metadata(|_sso, id| async move { Ok(format!("<EntityDescriptor id=\"{id}\"/>")) })
    })
    .await;
    let client = reqwest::Client::new();
    let acs = base.join("/sso/saml/acs").unwrap();
    let r = client
        .post(acs.clone())
        .form(&[("SAMLResponse", "PHg+"), ("RelayState", "rs")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let fields = integration_support::hidden_inputs(&r.text().await.unwrap());
    assert!(fields.contains(&("SAMLResponse".into(), "PHg+".into())));
    let r = client.post(acs).form(&fields).send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let r = client
        .get(base.join("/sso/saml/metadata?connection=acme").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/samlmetadata+xml");
    assert_eq!(r.text().await.unwrap(), "<EntityDescriptor id=\"acme\"/>");
}
