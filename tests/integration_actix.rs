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
