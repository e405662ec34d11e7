//! `examples/minimal.rs` (plain hyper over the framework-agnostic `Sso` API)
//! over real HTTP on loopback, signing in through the development provider.
#![cfg(feature = "testkit")]

mod integration_support;
#[allow(dead_code)]
#[path = "../examples/minimal.rs"]
mod minimal;

use integration_support::AppUnderTest;
use url::Url;

struct Running {
    app: AppUnderTest,
    _idp: ssokit::testkit::RunningProvider,
}

async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let (app, idp) = minimal::app(&base).await.unwrap();
    let mailer = app.mailer.clone();
    tokio::spawn(minimal::serve(listener, app));
    Running {
        app: AppUnderTest {
            base,
            mailer,
            session_cookie: "sid",
        },
        _idp: idp,
    }
}

#[tokio::test]
async fn jit_sign_in_sets_a_new_secure_session() {
    integration_support::jit_sign_in(&start().await.app).await;
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
async fn bad_input_gets_4xx() {
    integration_support::bad_input(&start().await.app).await;
}
