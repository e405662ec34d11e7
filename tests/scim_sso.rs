//! One account per person: a user provisioned by a connection's SCIM is the
//! account its SSO login reaches, and SCIM de-provisioning is final.
#![cfg(feature = "scim")]

mod common;

use std::sync::Arc;
use std::time::SystemTime;

use common::{CONNECTION, Harness, redirect_uri};
use ssokit::flow::{Outcome, SignInKind};
use ssokit::hooks::EventKind;
use ssokit::policy::DenyReason;
use ssokit::scim::{MemoryRevoker, MemoryScimDirectory, ScimConfig, ScimService};
use ssokit::secret::SecretString;
use ssokit::testkit::{DevProvider, DevUser};
use ssokit::{Tenant, TenantId};

const TOKEN: &str = "scim-test-token-0123456789abcdefghijklmnop";

async fn setup() -> (Harness, ScimService, MemoryRevoker) {
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::new(base.join("idp").unwrap())
            .with_client("app", "app-secret", &[redirect_uri().as_str()])
            .with_user(DevUser::new("dave@acme.test"))
    })
    .await
    .unwrap();
    let spec = serde_json::json!({
        "id": CONNECTION, "tenant": "acme", "kind": "oidc", "issuer": idp.issuer().as_str(),
        "client_id": "app", "client_secret": "app-secret", "jit": true,
        "template": {"role": "member"}
    });
    let tenants = vec![Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: None,
    }];
    let revoker = MemoryRevoker::new();
    let connections = Arc::new(
        ssokit::StaticConnections::new(
            tenants.clone(),
            vec![
                ssokit::Connection::from_spec(serde_json::from_value(spec.clone()).unwrap())
                    .unwrap(),
            ],
        )
        .unwrap(),
    );
    let mut slot = None;
    let h = Harness::from_parts_custom(idp, vec![spec], tenants, None, |users, builder| {
        let scim = ScimService::builder(ScimConfig::new("http://127.0.0.1:9/scim/v2"))
            .directory(Arc::new(
                MemoryScimDirectory::new().mirroring(users.clone()),
            ))
            .revoker(Arc::new(revoker.clone()))
            .connections(connections)
            .build()
            .unwrap();
        slot = Some(scim.clone());
        builder.provisioned_accounts(Arc::new(scim))
    });
    let scim = slot.unwrap();
    scim.tokens()
        .register(
            &TenantId::new("acme"),
            Some(CONNECTION.into()),
            "test",
            &SecretString::new(TOKEN),
            SystemTime::now(),
        )
        .await
        .unwrap();
    (h, scim, revoker)
}

async fn scim_request(
    scim: &ScimService,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/scim+json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let resp = scim.handle(req, SystemTime::now()).await;
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_slice(resp.body()).unwrap_or_default(),
    )
}

#[tokio::test]
async fn scim_user_is_the_account_sso_reaches_even_with_another_email() {
    let (h, scim, _) = setup().await;
    // The IdP provisions Dave with its own subject as externalId and an
    // e-mail that differs from the one its tokens carry.
    let (status, created) = scim_request(
        &scim,
        "POST",
        "/Users",
        serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "dave.newcomer@acme.test",
            "externalId": "dev|dave@acme.test",
            "emails": [{"value": "dave.newcomer@acme.test", "type": "work", "primary": true}],
            "active": true
        }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let before = h.users.users().len();
    let Outcome::SignedIn(s) = h.login("dave@acme.test").await.unwrap() else {
        panic!()
    };
    assert_eq!(
        s.user.id.as_str(),
        created["id"].as_str().unwrap(),
        "the SCIM-provisioned account"
    );
    assert_eq!(s.kind, SignInKind::Linked);
    assert_eq!(h.users.users().len(), before, "no duplicate account");
    assert_eq!(
        s.user.role.as_deref(),
        Some("member"),
        "the connection's template applied to the SCIM user"
    );
}

#[tokio::test]
async fn scim_deprovisioning_is_final_for_sso_and_jit() {
    let (h, scim, revoker) = setup().await;
    let (_, created) = scim_request(
        &scim,
        "POST",
        "/Users",
        serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "dave@acme.test",
            "externalId": "dev|dave@acme.test",
            "active": true
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(matches!(
        h.login("dave@acme.test").await.unwrap(),
        Outcome::SignedIn(_)
    ));
    // Entra-style deactivation.
    let (status, _) = scim_request(
        &scim,
        "PATCH",
        &format!("/Users/{id}"),
        serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        revoker.calls().iter().any(|(_, u, _)| u.as_str() == id),
        "sessions revoked"
    );
    let before = h.users.users().len();
    let o = h.login("dave@acme.test").await.unwrap();
    assert!(
        matches!(o, Outcome::Denied(ref d) if d.reason == DenyReason::UserInactive),
        "{o:?}"
    );
    assert_eq!(
        h.users.users().len(),
        before,
        "JIT did not create a replacement"
    );
    assert!(
        !h.users
            .users()
            .iter()
            .find(|u| u.id.as_str() == id)
            .unwrap()
            .active,
        "never reactivated"
    );
}

#[tokio::test]
async fn scim_changes_are_events() {
    let idp_events = ssokit::hooks::MemoryEvents::new();
    let scim = ScimService::builder(ScimConfig::new("http://127.0.0.1:9/scim/v2"))
        .directory(Arc::new(MemoryScimDirectory::new()))
        .revoker(Arc::new(MemoryRevoker::new()))
        .events(Arc::new(idp_events.clone()))
        .build()
        .unwrap();
    scim.tokens()
        .register(
            &TenantId::new("acme"),
            None,
            "t",
            &SecretString::new(TOKEN),
            SystemTime::now(),
        )
        .await
        .unwrap();
    let (status, _) = scim_request(
        &scim,
        "POST",
        "/Users",
        serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x@acme.test"}),
    )
    .await;
    assert_eq!(status, 201);
    let events = idp_events.all();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::ScimChange);
    assert_eq!(events[0].tenant.as_ref().map(|t| t.as_str()), Some("acme"));
}

#[tokio::test]
async fn rate_limits_are_shared_by_instances() {
    let store: Arc<dyn ssokit::store::FlowStore> = Arc::new(ssokit::store::MemoryFlowStore::new());
    let instance = || {
        let mut config = ScimConfig::new("http://127.0.0.1:9/scim/v2");
        config.rate_limit = Some(ssokit::scim::RateLimit {
            per_second: 5.0,
            burst: 5.0,
        });
        ScimService::builder(config)
            .directory(Arc::new(MemoryScimDirectory::new()))
            .revoker(Arc::new(MemoryRevoker::new()))
            .shared_limits(store.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    for s in [&a, &b] {
        s.tokens()
            .register(
                &TenantId::new("acme"),
                None,
                "t",
                &SecretString::new(TOKEN),
                now,
            )
            .await
            .unwrap();
    }
    let get = |s: &ScimService, at: SystemTime| {
        let req = http::Request::builder()
            .uri("/Users")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Vec::new())
            .unwrap();
        let s = s.clone();
        async move { s.handle(req, at).await.status().as_u16() }
    };
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(get(if i % 2 == 0 { &a } else { &b }, now).await);
    }
    assert_eq!(
        statuses,
        vec![200, 200, 200, 200, 200, 429],
        "five per second across both instances"
    );
    // The next second is a new window.
    assert_eq!(get(&a, now + std::time::Duration::from_secs(1)).await, 200);
}

#[tokio::test]
async fn shared_limits_allow_the_configured_burst() {
    let store: Arc<dyn ssokit::store::FlowStore> = Arc::new(ssokit::store::MemoryFlowStore::new());
    let mut config = ScimConfig::new("http://127.0.0.1:9/scim/v2");
    config.rate_limit = Some(ssokit::scim::RateLimit {
        per_second: 2.0,
        burst: 4.0,
    });
    let s = ScimService::builder(config)
        .directory(Arc::new(MemoryScimDirectory::new()))
        .revoker(Arc::new(MemoryRevoker::new()))
        .shared_limits(store)
        .build()
        .unwrap();
    let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    s.tokens()
        .register(
            &TenantId::new("acme"),
            None,
            "t",
            &SecretString::new(TOKEN),
            now,
        )
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let req = http::Request::builder()
            .uri("/Users")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Vec::new())
            .unwrap();
        statuses.push(s.handle(req, now).await.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 200, 429]);
}
