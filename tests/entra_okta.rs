//! Microsoft Entra ID and Okta connections against local Entra-like and
//! Okta-like providers on loopback (the test kit's flavors).

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{Harness, redirect_uri};
use serde_json::json;
use ssokit::error::{BadRequest, ErrorKind, HookError, IdpError};
use ssokit::flow::{Outcome, SignInKind};
use ssokit::hooks::GroupLookup;
use ssokit::oidc::jwt::TokenError;
use ssokit::policy::DenyReason;
use ssokit::testkit::{DevProvider, DevUser, EntraUser, Fault};
use ssokit::{Connection, Error, Tenant, VerifiedIdentity};

const CONTOSO: &str = "11111111-1111-1111-1111-111111111111";
const FABRIKAM: &str = "22222222-2222-2222-2222-222222222222";
const GROUP_ENG: &str = "aaaaaaaa-0000-0000-0000-000000000001";

fn signed_in(o: Result<Outcome, Error>) -> ssokit::SignedIn {
    match o {
        Ok(Outcome::SignedIn(s)) => s,
        other => panic!("expected signed in, got {other:?}"),
    }
}

fn denied(o: Result<Outcome, Error>) -> DenyReason {
    match o {
        Ok(Outcome::Denied(d)) => d.reason,
        other => panic!("expected denied, got {other:?}"),
    }
}

fn tenants() -> Vec<Tenant> {
    vec![
        Tenant {
            id: "contoso".into(),
            domains: vec!["contoso.test".into()],
            subdomain: None,
        },
        Tenant {
            id: "fabrikam".into(),
            domains: vec!["fabrikam.test".into()],
            subdomain: None,
        },
    ]
}

async fn entra_idp() -> ssokit::testkit::RunningProvider {
    DevProvider::spawn_local(|base| {
        DevProvider::entra(base)
            .with_client("app", "app-secret", &[redirect_uri().as_str()])
            .with_entra_tenant(CONTOSO, &["contoso.test"])
            .with_entra_tenant(FABRIKAM, &["fabrikam.test"])
            .with_entra_user(
                EntraUser::new(CONTOSO, "alice@contoso.test")
                    .with_email(Some("alice@contoso.test"), Some(true))
                    .with_groups([GROUP_ENG]),
            )
            .with_entra_user(
                EntraUser::new(CONTOSO, "ann@contoso.test")
                    .with_email(Some("ann@contoso.test"), Some(true)),
            )
            // nOAuth: an address the user does not own, not verified by its domain owner.
            .with_entra_user(
                EntraUser::new(CONTOSO, "mallory@contoso.test")
                    .with_email(Some("ann@contoso.test"), None),
            )
            .with_entra_user(EntraUser::new(CONTOSO, "many@contoso.test").with_overage(true))
            .with_entra_user(
                EntraUser::new(FABRIKAM, "fred@fabrikam.test")
                    .with_email(Some("fred@fabrikam.test"), Some(true)),
            )
    })
    .await
    .unwrap()
}

fn base_url(idp: &ssokit::testkit::RunningProvider) -> String {
    idp.url().as_str().trim_end_matches('/').to_owned()
}

async fn entra(extra: serde_json::Value, lookup: Option<Arc<dyn GroupLookup>>) -> Harness {
    let idp = entra_idp().await;
    let mut spec = json!({
        "id": "contoso-entra", "tenant": "contoso", "kind": "entra", "tenant_id": CONTOSO,
        "client_id": "app", "client_secret": "app-secret", "base_url": base_url(&idp),
        "jit": true, "template": {"role": "member"},
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let h = Harness::from_parts(idp, vec![spec], tenants(), lookup);
    h.users
        .add_user("contoso", "ann@contoso.test", Some("Ann"), true);
    h
}

/// Begins with `typed`, signs in at the IdP as `login`, completes.
async fn login_as(h: &Harness, typed: &str, login: &str) -> Result<Outcome, Error> {
    let started = h.begin(typed).await;
    let q = h.idp_sign_in(&started, login);
    h.sso.complete_login(&q, Some(&started.cookie)).await
}

#[tokio::test]
async fn entra_single_tenant_signs_in_with_tid_oid_identity() {
    let h = entra(json!({}), None).await;
    let s = signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
    let alice = EntraUser::new(CONTOSO, "alice@contoso.test");
    assert_eq!(s.identity.subject, format!("{CONTOSO}/{}", alice.oid));
    assert_eq!(s.kind, SignInKind::Provisioned);
    assert_eq!(
        s.user.email, "alice@contoso.test",
        "xms_edov=true: the address is verified"
    );
    // The hints from home-realm discovery reached the IdP.
    let params = h.provider().last_authorize_params().unwrap();
    assert_eq!(
        params.get("login_hint").map(String::as_str),
        Some("alice@contoso.test")
    );
    assert_eq!(
        params.get("domain_hint").map(String::as_str),
        Some("contoso.test")
    );
}

#[tokio::test]
async fn entra_tenant_addressed_by_domain_uses_the_concrete_issuer() {
    let h = entra(json!({"tenant_id": "contoso.test"}), None).await;
    signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
}

#[tokio::test]
async fn entra_unverified_email_never_links_nor_becomes_the_users_address() {
    // mallory's token says email=ann@contoso.test without xms_edov.
    let h = entra(json!({}), None).await;
    let s = signed_in(login_as(&h, "ann@contoso.test", "mallory@contoso.test").await);
    assert_eq!(
        s.kind,
        SignInKind::Provisioned,
        "no link offer to Ann's account"
    );
    assert_ne!(s.user.email, "ann@contoso.test");
    assert!(h.mailer.sent().is_empty());
    let ann = h
        .users
        .users()
        .into_iter()
        .find(|u| u.email == "ann@contoso.test")
        .unwrap();
    assert!(h.users.identities_of(&ann.id).is_empty());
    // With JIT off the unverified address does not admit to Ann's account either.
    let h = entra(json!({"jit": false}), None).await;
    assert_eq!(
        denied(login_as(&h, "ann@contoso.test", "mallory@contoso.test").await),
        DenyReason::NotProvisioned
    );
}

#[tokio::test]
async fn entra_verified_email_offers_the_mailed_link() {
    let h = entra(json!({}), None).await;
    let o = login_as(&h, "ann@contoso.test", "ann@contoso.test")
        .await
        .unwrap();
    assert!(matches!(o, Outcome::LinkOffered(_)), "{o:?}");
}

#[tokio::test]
async fn entra_tenant_not_on_the_allow_list_is_refused() {
    let h = entra(
        json!({"tenant_id": null, "allowed_tenants": [CONTOSO]}),
        None,
    )
    .await;
    // An allowed tenant signs in through `organizations`.
    signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
    let err = login_as(&h, "alice@contoso.test", "fred@fabrikam.test")
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::TenantNotAllowed)),
        "{err}"
    );
    assert_eq!(
        h.users.users().len(),
        2,
        "nobody from the other tenant was created"
    );
}

#[tokio::test]
async fn entra_multi_tenant_fetches_keys_per_tenant() {
    let h = entra(
        json!({"tenant_id": null, "allowed_tenants": [CONTOSO, FABRIKAM]}),
        None,
    )
    .await;
    signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
    let err = login_as(&h, "alice@contoso.test", "fred@fabrikam.test").await;
    // Fred is admitted by the allow-list but his address is not in contoso's domains.
    assert_eq!(denied(err), DenyReason::EmailDomainNotOwned);
    assert!(
        h.provider().request_counts().jwks >= 2,
        "one key set per tenant"
    );
}

#[tokio::test]
async fn entra_issuer_tenant_differing_from_tid_is_refused() {
    for spec in [
        json!({}),
        json!({"tenant_id": null, "allowed_tenants": [CONTOSO, FABRIKAM]}),
    ] {
        let h = entra(spec, None).await;
        h.provider().set_fault(Fault::IssuerTenantMismatch, true);
        let err = login_as(&h, "alice@contoso.test", "alice@contoso.test")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Idp(IdpError::TenantMismatch)
                    | ErrorKind::Token(TokenError::WrongIssuer)
            ),
            "{err}"
        );
    }
}

#[tokio::test]
async fn entra_v1_tokens_are_refused_unless_enabled() {
    let h = entra(json!({}), None).await;
    h.provider().set_fault(Fault::V1Token, true);
    let err = login_as(&h, "alice@contoso.test", "alice@contoso.test")
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Idp(IdpError::V1Token)),
        "{err}"
    );
}

#[tokio::test]
async fn entra_token_signed_with_another_tenants_key_is_refused() {
    let h = entra(json!({}), None).await;
    h.provider().set_fault(Fault::SignWithOtherTenantKey, true);
    let err = login_as(&h, "alice@contoso.test", "alice@contoso.test")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Token(TokenError::UnknownKey { .. } | TokenError::BadSignature)
        ),
        "{err}"
    );
}

struct Graph;

#[async_trait]
impl GroupLookup for Graph {
    async fn groups(
        &self,
        _c: &Connection,
        identity: &VerifiedIdentity,
    ) -> Result<Vec<String>, HookError> {
        assert!(identity.key.subject.starts_with(CONTOSO));
        Ok(vec![GROUP_ENG.to_owned()])
    }
}

#[tokio::test]
async fn entra_group_overage_without_a_lookup_hook_is_denied() {
    let h = entra(json!({"allowed_groups": [GROUP_ENG]}), None).await;
    assert_eq!(
        denied(login_as(&h, "many@contoso.test", "many@contoso.test").await),
        DenyReason::GroupsOverage
    );
    // With the hook the groups are completed and admission decides on them.
    let h = entra(
        json!({"allowed_groups": [GROUP_ENG], "role_map": {GROUP_ENG: "engineer"}}),
        Some(Arc::new(Graph)),
    )
    .await;
    let s = signed_in(login_as(&h, "many@contoso.test", "many@contoso.test").await);
    assert_eq!(s.user.role.as_deref(), Some("engineer"));
    // Where groups decide nothing, overage does not matter.
    let h = entra(json!({}), None).await;
    signed_in(login_as(&h, "many@contoso.test", "many@contoso.test").await);
}

#[tokio::test]
async fn entra_groups_decide_admission() {
    let h = entra(json!({"allowed_groups": [GROUP_ENG]}), None).await;
    signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
    assert_eq!(
        denied(login_as(&h, "ann@contoso.test", "ann@contoso.test").await),
        DenyReason::GroupNotAllowed
    );
}

#[tokio::test]
async fn entra_key_rotation_while_the_jwks_endpoint_is_down_for_10_minutes() {
    let h = entra(json!({}), None).await;
    signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
    h.provider().set_fault(Fault::JwksDown, true);
    // Cached keys keep working while the endpoint is down, even when stale.
    h.advance(Duration::from_secs(25 * 3600));
    signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
    // The tenant rotates its key while the endpoint is still down.
    h.provider().rotate_tenant_keys(CONTOSO);
    for _ in 0..10 {
        let err = login_as(&h, "alice@contoso.test", "alice@contoso.test")
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Token(TokenError::UnknownKey { .. })),
            "{err}"
        );
        h.advance(Duration::from_secs(60));
    }
    let fetches = h.provider().request_counts().jwks;
    assert!(
        fetches <= 4,
        "refreshes are rate-limited to one per 5 minutes: {fetches}"
    );
    // The endpoint comes back: the next refresh picks up the new key.
    h.provider().set_fault(Fault::JwksDown, false);
    h.advance(Duration::from_secs(300));
    signed_in(login_as(&h, "alice@contoso.test", "alice@contoso.test").await);
}

#[tokio::test]
async fn consumer_domain_typed_at_login_is_refused() {
    let h = entra(json!({}), None).await;
    for typed in ["alice@gmail.com", "ALICE@Outlook.com", "x@yahoo.com"] {
        let err = h.begin_with(typed, None).await.err().unwrap();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BadRequest(BadRequest::ConsumerDomain)
            ),
            "{typed}: {err}"
        );
    }
}

// ---- Okta ----

async fn okta(extra: serde_json::Value, setup: impl FnOnce(&DevProvider)) -> Harness {
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::okta(base)
            .with_client("app", "app-secret", &[redirect_uri().as_str()])
            .with_authorization_server("default")
            .with_groups_claim_filter("")
            .with_user(DevUser::okta("olga@acme.test").with_groups(["Admins", "Everyone"]))
            .with_user(DevUser::okta("pete@acme.test").with_groups(["Everyone"]))
    })
    .await
    .unwrap();
    setup(idp.provider());
    // Pasted the way customers paste it: scheme and trailing slash.
    let mut spec = json!({
        "id": "acme-okta", "tenant": "acme", "kind": "okta", "domain": idp.url().as_str(),
        "client_id": "app", "client_secret": "app-secret", "jit": true,
        "template": {"role": "member"}, "role_map": {"Admins": "admin"}, "idp": "0oaEXTERNAL",
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let tenants = vec![Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: Some("acme".into()),
    }];
    Harness::from_parts(idp, vec![spec], tenants, None)
}

#[tokio::test]
async fn okta_org_server_with_a_pasted_domain() {
    let h = okta(json!({}), |_| {}).await;
    let s = signed_in(h.login("olga@acme.test").await);
    assert!(s.identity.subject.starts_with("00u"));
    assert_eq!(
        s.user.role.as_deref(),
        Some("admin"),
        "role from the groups claim"
    );
    let params = h.provider().last_authorize_params().unwrap();
    assert_eq!(
        params.get("login_hint").map(String::as_str),
        Some("olga@acme.test")
    );
    assert_eq!(params.get("idp").map(String::as_str), Some("0oaEXTERNAL"));
    let pete = signed_in(h.login("pete@acme.test").await);
    assert_eq!(pete.user.role.as_deref(), Some("member"));
}

#[tokio::test]
async fn okta_thin_id_token_is_completed_from_userinfo() {
    let h = okta(json!({}), |p| p.set_thin_id_tokens(true)).await;
    let s = signed_in(h.login("olga@acme.test").await);
    assert_eq!(s.user.email, "olga@acme.test");
    assert_eq!(s.user.role.as_deref(), Some("admin"));
    assert!(h.provider().request_counts().userinfo >= 1);
}

#[tokio::test]
async fn okta_custom_authorization_server() {
    let h = okta(json!({"authorization_server": "default"}), |_| {}).await;
    signed_in(h.login("olga@acme.test").await);
}

#[tokio::test]
async fn okta_allowed_groups() {
    let h = okta(json!({"allowed_groups": ["Admins"]}), |_| {}).await;
    signed_in(h.login("olga@acme.test").await);
    assert_eq!(
        denied(h.login("pete@acme.test").await),
        DenyReason::GroupNotAllowed
    );
}
