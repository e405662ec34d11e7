//! Bearer tokens (issue, hash at rest, rotation, revocation, tenant
//! isolation) and the abuse limits (413, 429 on the virtual clock).
#![cfg(feature = "scim")]

mod scim_support;

use std::sync::Arc;
use std::time::Duration;

use scim_support::*;
use serde_json::json;
use ssokit::TenantId;
use ssokit::scim::{
    MAX_LIVE_TOKENS, MemoryTokenStore, RateLimit, ScimConfig, ScimTokenStore, ScimTokens,
    TOKEN_PREFIX, TokenError,
};
use ssokit::secret::SecretString;

#[tokio::test]
async fn missing_wrong_and_malformed_tokens_are_401() {
    let h = Harness::new().await;
    h.send_as(None, "GET", "/Users", None)
        .await
        .assert_error(401, None);
    h.send_as(Some("wrong"), "GET", "/Users", None)
        .await
        .assert_error(401, None);
    let almost = format!("{}x", &h.token[..h.token.len() - 1]);
    h.send_as(Some(&almost), "GET", "/Users", None)
        .await
        .assert_error(401, None);
    for header in [
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "bearer",
        &h.token.clone(),
    ] {
        let req = http::Request::get("/Users")
            .header("authorization", header)
            .body(Vec::new())
            .unwrap();
        h.raw(req).await.assert_error(401, None);
    }
    // The scheme is case-insensitive.
    let req = http::Request::get("/Users")
        .header("authorization", format!("bEaReR {}", h.token))
        .body(Vec::new())
        .unwrap();
    assert_eq!(h.raw(req).await.status, 200);
    // Discovery needs a token too; the error never echoes the token.
    let r = h
        .send_as(
            Some("secret-looking-value"),
            "GET",
            "/ServiceProviderConfig",
            None,
        )
        .await;
    r.assert_error(401, None);
    assert!(!r.body.to_string().contains("secret-looking-value"));
}

#[tokio::test]
async fn tokens_are_stored_hashed_and_shown_once() {
    let store = MemoryTokenStore::new();
    let tokens = ScimTokens::new(Arc::new(store.clone()));
    let issued = tokens
        .issue(&acme(), Some("acme-entra".into()), "Entra ID", t0())
        .await
        .unwrap();
    assert!(issued.secret.expose().starts_with(TOKEN_PREFIX));
    assert!(issued.secret.expose().len() >= TOKEN_PREFIX.len() + 43);
    assert_eq!(format!("{:?}", issued.secret), "Secret([redacted])");
    assert!(!format!("{issued:?}").contains(issued.secret.expose()));
    let rec = store.get(&issued.id).await.unwrap().unwrap();
    assert_eq!(
        rec.hash,
        ssokit::secret::sha256_hex(issued.secret.expose().as_bytes())
    );
    assert!(
        !format!("{rec:?}").contains(&rec.hash),
        "Debug of a record hides the hash"
    );
    assert_eq!(
        rec.connection.as_ref().map(|c| c.as_str()),
        Some("acme-entra")
    );
    let p = tokens
        .verify(issued.secret.expose())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.tenant, acme());
    assert_eq!(p.token, issued.id);
    assert!(tokens.verify("").await.unwrap().is_none());
    assert!(tokens.verify(&"x".repeat(10_000)).await.unwrap().is_none());
    // Registering a host-held secret: too short is refused.
    assert_eq!(
        tokens
            .register(
                &TenantId::new("b"),
                None,
                "demo",
                &SecretString::new("short"),
                t0()
            )
            .await
            .unwrap_err(),
        TokenError::TooWeak
    );
}

#[tokio::test]
async fn rotation_and_revocation() {
    let h = Harness::new().await; // token 1 of acme
    let tokens = h.svc.tokens();
    let second = tokens.issue(&acme(), None, "rotation", t0()).await.unwrap();
    assert_eq!(MAX_LIVE_TOKENS, 2);
    // A third live token is refused until one is revoked.
    assert_eq!(
        tokens
            .issue(&acme(), None, "third", t0())
            .await
            .unwrap_err(),
        TokenError::TooManyTokens
    );
    // Both live tokens work during the rotation.
    assert_eq!(h.get("/Users").await.status, 200);
    assert_eq!(
        h.send_as(Some(second.secret.expose()), "GET", "/Users", None)
            .await
            .status,
        200
    );
    // Revoke the old one: it stops working at once, the new one keeps working.
    let list = tokens.list(&acme()).await.unwrap();
    assert_eq!(list.len(), 2);
    let old = list.iter().find(|r| r.id != second.id).unwrap().id.clone();
    assert!(
        !tokens.revoke(&TenantId::new("other"), &old).await.unwrap(),
        "another tenant cannot revoke it"
    );
    assert!(tokens.revoke(&acme(), &old).await.unwrap());
    h.get("/Users").await.assert_error(401, None);
    assert_eq!(
        h.send_as(Some(second.secret.expose()), "GET", "/Users", None)
            .await
            .status,
        200
    );
    // Room for the next rotation.
    assert!(tokens.issue(&acme(), None, "next", t0()).await.is_ok());
    assert!(
        !tokens.revoke(&acme(), &old).await.unwrap(),
        "revoking twice reports false"
    );
}

#[tokio::test]
async fn the_tenant_comes_from_the_token() {
    let h = Harness::new().await;
    let other = h
        .svc
        .tokens()
        .issue(&TenantId::new("globex"), None, "globex", t0())
        .await
        .unwrap();
    let globex = other.secret.expose().to_owned();
    let ann = h.user("ann@acme.test").await;
    let g = h.group("Acme Admins").await;

    // The other tenant's token sees nothing of acme, even with acme's ids.
    let r = h.send_as(Some(&globex), "GET", "/Users", None).await;
    assert_eq!(r.body["totalResults"], 0);
    h.send_as(Some(&globex), "GET", &format!("/Users/{ann}"), None)
        .await
        .assert_error(404, None);
    h.send_as(Some(&globex), "DELETE", &format!("/Users/{ann}"), None)
        .await
        .assert_error(404, None);
    let patch = serde_json::to_vec(&json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]})).unwrap();
    h.send_as(
        Some(&globex),
        "PATCH",
        &format!("/Users/{ann}"),
        Some(patch),
    )
    .await
    .assert_error(404, None);
    h.send_as(Some(&globex), "GET", &format!("/Groups/{g}"), None)
        .await
        .assert_error(404, None);
    // A URL naming a tenant changes nothing: there is no tenant in the URL.
    let r = h
        .send_as(
            Some(&globex),
            "GET",
            &format!("/Users?filter={}", enc(r#"userName eq "ann@acme.test""#)),
            None,
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    // globex cannot add acme's user to its own group, nor take the userName away from acme.
    let gg =
        serde_json::to_vec(&json!({"displayName": "Globex", "members": [{"value": ann}]})).unwrap();
    h.send_as(Some(&globex), "POST", "/Groups", Some(gg))
        .await
        .assert_error(400, Some("invalidValue"));
    let same = serde_json::to_vec(&json!({"userName": "ann@acme.test"})).unwrap();
    assert_eq!(
        h.send_as(Some(&globex), "POST", "/Users", Some(same))
            .await
            .status,
        201,
        "userName is unique per tenant"
    );
    assert_eq!(h.get(&format!("/Users/{ann}")).await.body["active"], true);
}

#[tokio::test]
async fn request_size_limit_is_413() {
    let mut config = ScimConfig::new(BASE);
    config.max_body_bytes = 1024;
    config.rate_limit = None;
    let h = Harness::with_config(config).await;
    let big = json!({"userName": "big", "displayName": "x".repeat(2000)});
    let r = h.post("/Users", big).await;
    r.assert_error(413, None);
    // A declared Content-Length over the limit is refused before reading further.
    let req = http::Request::post("/Users")
        .header("authorization", format!("Bearer {}", h.token))
        .header("content-length", "999999")
        .body(b"{}".to_vec())
        .unwrap();
    h.raw(req).await.assert_error(413, None);
    assert_eq!(
        h.post("/Users", json!({"userName": "small"})).await.status,
        201
    );
}

#[tokio::test]
async fn rate_limit_is_429_per_tenant_on_the_injected_clock() {
    let mut config = ScimConfig::new(BASE);
    config.rate_limit = Some(RateLimit {
        per_second: 2.0,
        burst: 3.0,
    });
    let h = Harness::with_config(config).await;
    let globex = h
        .svc
        .tokens()
        .issue(&TenantId::new("globex"), None, "g", t0())
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(h.get("/Users").await.status, 200);
    }
    let r = h.get("/Users").await;
    r.assert_error(429, None);
    assert_eq!(r.headers["retry-after"], "1");
    // Another tenant has its own bucket.
    assert_eq!(
        h.send_as(Some(globex.secret.expose()), "GET", "/Users", None)
            .await
            .status,
        200
    );
    // Time refills the bucket: 2 per second.
    h.advance(Duration::from_millis(500));
    assert_eq!(h.get("/Users").await.status, 200);
    h.get("/Users").await.assert_error(429, None);
    h.advance(Duration::from_secs(10));
    for _ in 0..3 {
        assert_eq!(h.get("/Users").await.status, 200);
    }
    h.get("/Users").await.assert_error(429, None);
}
