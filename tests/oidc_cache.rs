//! Provider caches shared by a fleet: an invalidation on one instance makes
//! every instance refetch, and the old keys are never used again.

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use common::{Harness, redirect_uri};
use ssokit::clock::{Clock, SystemClock};
use ssokit::connection::{Connection, OidcSettings, Protocol};
use ssokit::error::ErrorKind;
use ssokit::http::ReqwestClient;
use ssokit::oidc::OidcAdapter;
use ssokit::oidc::jwt::TokenError;
use ssokit::store::{FlowStore, MemoryFlowStore};
use ssokit::testkit::{DevProvider, DevUser};

fn settings(c: &Connection) -> &OidcSettings {
    match &c.protocol {
        Protocol::Oidc(s) => s,
        #[allow(unreachable_patterns)]
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn invalidation_on_one_instance_drops_withdrawn_keys_everywhere() {
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::new(base.join("idp").unwrap())
            .with_client("app", "app-secret", &[redirect_uri().as_str()])
            .with_user(DevUser::new("dave@acme.test"))
    })
    .await
    .unwrap();
    let conn: Connection = serde_json::from_value(serde_json::json!({
        "id": "c", "tenant": "acme", "kind": "oidc", "issuer": idp.issuer().as_str(), "client_id": "app"
    }))
    .unwrap();
    let s = settings(&conn);
    let shared: Arc<dyn FlowStore> = Arc::new(MemoryFlowStore::new());
    let instance = || {
        OidcAdapter::new(Arc::new(ReqwestClient::new()), Arc::new(SystemClock))
            .with_shared_store(shared.clone())
    };
    let (a, b) = (instance(), instance());
    let now = SystemClock.now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": idp.issuer().as_str(), "sub": "dev|dave", "aud": "app", "iat": secs, "exp": secs + 300
    });
    let old = idp.provider().sign_id_token(&claims);
    for adapter in [&a, &b] {
        let endpoints = adapter.endpoints(s).await.unwrap();
        adapter
            .validate_id_token(s, &endpoints, &old, None, now)
            .await
            .unwrap();
    }
    // The IdP withdraws the key (e.g. compromised) and publishes a new one.
    idp.provider().rotate_keys();
    let endpoints = b.endpoints(s).await.unwrap();
    assert!(
        b.validate_id_token(s, &endpoints, &old, None, now)
            .await
            .is_ok(),
        "without an invalidation the cached key is still trusted"
    );
    // One instance invalidates; the other drops the cached keys too.
    a.invalidate(s).await.unwrap();
    let later = SystemClock.now();
    for adapter in [&a, &b] {
        let endpoints = adapter.endpoints(s).await.unwrap();
        let err = adapter
            .validate_id_token(s, &endpoints, &old, None, later)
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Token(TokenError::UnknownKey { .. })),
            "{err}"
        );
        let fresh = idp.provider().sign_id_token(&claims);
        adapter
            .validate_id_token(s, &endpoints, &fresh, None, later)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn sso_invalidate_provider_caches_refetches_discovery_and_keys() {
    let h = Harness::new().await;
    assert!(matches!(
        h.login("dave@acme.test").await.unwrap(),
        ssokit::Outcome::SignedIn(_)
    ));
    assert!(matches!(
        h.login("dave@acme.test").await.unwrap(),
        ssokit::Outcome::SignedIn(_)
    ));
    let before = h.provider().request_counts();
    assert_eq!((before.discovery, before.jwks), (1, 1), "cached");
    h.clock.advance(std::time::Duration::from_secs(1));
    h.sso
        .invalidate_provider_caches(&common::CONNECTION.into())
        .await
        .unwrap();
    h.clock.advance(std::time::Duration::from_secs(1));
    assert!(matches!(
        h.login("dave@acme.test").await.unwrap(),
        ssokit::Outcome::SignedIn(_)
    ));
    let after = h.provider().request_counts();
    assert_eq!((after.discovery, after.jwks), (2, 2), "refetched once");
}
