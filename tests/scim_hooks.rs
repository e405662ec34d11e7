//! The host side: a directory that refuses filters it cannot index, the
//! connection's user template, session revocation, one account per person,
//! concurrent membership changes, and robustness against garbage input.
#![cfg(feature = "scim")]

mod scim_support;

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use scim_support::*;
use serde_json::json;
use ssokit::connection::UserTemplate;
use ssokit::hooks::MemoryDirectory;
use ssokit::scim::{
    AccountRule, DirectoryError, Filter, ListQuery, MemberDelta, MemoryRevoker,
    MemoryScimDirectory, NewScimGroup, NewScimUser, Page, ScimConfig, ScimDirectory, ScimGroup,
    ScimService, ScimUser,
};
use ssokit::{
    Connection, IdentityKey, Profile, StaticConnections, Tenant, TenantId, UserDirectory,
    VerifiedIdentity,
};

/// A host that only indexes `userName` and `externalId` equality.
struct IndexedOnly(MemoryScimDirectory);

fn indexable(f: &Filter) -> bool {
    f.find_eq("userName").is_some() || f.find_eq("externalId").is_some()
}

#[async_trait]
impl ScimDirectory for IndexedOnly {
    async fn create_user(&self, t: &TenantId, u: NewScimUser) -> Result<ScimUser, DirectoryError> {
        self.0.create_user(t, u).await
    }
    async fn get_user(&self, t: &TenantId, id: &str) -> Result<Option<ScimUser>, DirectoryError> {
        self.0.get_user(t, id).await
    }
    async fn list_users(
        &self,
        t: &TenantId,
        q: &ListQuery,
    ) -> Result<Page<ScimUser>, DirectoryError> {
        match &q.filter {
            Some(f) if !indexable(f) => Err(DirectoryError::UnsupportedFilter(
                "only `userName eq` and `externalId eq` are indexed".into(),
            )),
            _ => self.0.list_users(t, q).await,
        }
    }
    async fn update_user(
        &self,
        t: &TenantId,
        u: &ScimUser,
        v: Option<&str>,
    ) -> Result<ScimUser, DirectoryError> {
        self.0.update_user(t, u, v).await
    }
    async fn delete_user(&self, t: &TenantId, id: &str) -> Result<(), DirectoryError> {
        self.0.delete_user(t, id).await
    }
    async fn create_group(
        &self,
        t: &TenantId,
        g: NewScimGroup,
    ) -> Result<ScimGroup, DirectoryError> {
        self.0.create_group(t, g).await
    }
    async fn get_group(
        &self,
        t: &TenantId,
        id: &str,
        m: bool,
    ) -> Result<Option<ScimGroup>, DirectoryError> {
        self.0.get_group(t, id, m).await
    }
    async fn list_groups(
        &self,
        t: &TenantId,
        q: &ListQuery,
        m: bool,
    ) -> Result<Page<ScimGroup>, DirectoryError> {
        if q.filter.is_some() {
            return Err(DirectoryError::UnsupportedFilter(
                "groups cannot be filtered".into(),
            ));
        }
        self.0.list_groups(t, q, m).await
    }
    async fn update_group(
        &self,
        t: &TenantId,
        g: &ScimGroup,
        v: Option<&str>,
    ) -> Result<ScimGroup, DirectoryError> {
        self.0.update_group(t, g, v).await
    }
    async fn modify_members(
        &self,
        t: &TenantId,
        id: &str,
        d: &MemberDelta,
        now: SystemTime,
    ) -> Result<(), DirectoryError> {
        self.0.modify_members(t, id, d, now).await
    }
    async fn delete_group(&self, t: &TenantId, id: &str) -> Result<(), DirectoryError> {
        self.0.delete_group(t, id).await
    }
}

#[tokio::test]
async fn valid_but_unsupported_filter_is_a_clear_400() {
    let inner = MemoryScimDirectory::new();
    let h = Harness::with(|b| b.directory(Arc::new(IndexedOnly(inner)))).await;
    h.user("ann@acme.test").await;
    let ok = h
        .get(&format!(
            "/Users?filter={}",
            enc(r#"userName eq "ANN@acme.test""#)
        ))
        .await;
    assert_eq!(ok.body["totalResults"], 1);
    let r = h
        .get(&format!("/Users?filter={}", enc(r#"title co "x""#)))
        .await;
    r.assert_error(400, Some("invalidFilter"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("only `userName eq` and `externalId eq` are indexed")
    );
    h.get(&format!("/Groups?filter={}", enc(r#"displayName eq "x""#)))
        .await
        .assert_error(400, Some("invalidFilter"));
}

#[tokio::test]
async fn deprovisioning_revokes_sessions_every_time() {
    let h = Harness::new().await;
    let u = h.user("leaver@acme.test").await;
    let p = format!("/Users/{u}");
    // A profile change of an active user revokes nothing.
    h.patch_ops(
        &p,
        json!([{"op": "replace", "path": "title", "value": "x"}]),
    )
    .await;
    assert!(h.revoker.calls().is_empty());
    h.patch_ops(
        &p,
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await;
    // A retried deprovisioning revokes again (the first revocation may have failed).
    h.patch_ops(
        &p,
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await;
    assert_eq!(h.revoker.calls().len(), 2);
    h.delete(&p).await;
    assert_eq!(h.revoker.calls().len(), 3);
    // The disabled state stays visible to the host after DELETE.
    let (user, deleted) = h.dir.user_including_deleted(&acme(), &u).unwrap();
    assert!(deleted && user.is_disabled());
}

fn connections() -> Arc<StaticConnections> {
    let conn: Connection = serde_json::from_value(json!({
        "id": "acme-okta", "tenant": "acme", "kind": "oidc",
        "issuer": "https://acme.okta.test", "client_id": "0oa1",
        "jit": true, "template": {"role": "member", "groups": ["staff"], "attributes": {"plan": "pro"}}
    }))
    .unwrap();
    let tenant = Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: None,
    };
    Arc::new(StaticConnections::new(vec![tenant], vec![conn]).unwrap())
}

fn identity(connection: &str, subject: &str, email: Option<&str>) -> VerifiedIdentity {
    VerifiedIdentity {
        key: IdentityKey {
            connection: connection.into(),
            subject: subject.into(),
        },
        issuer: "https://acme.okta.test".into(),
        profile: Profile {
            email: email.map(str::to_owned),
            email_verified: email.is_some(),
            ..Profile::default()
        },
    }
}

#[tokio::test]
async fn one_account_per_person_with_template_and_mirror() {
    let users = MemoryDirectory::new();
    let dir = MemoryScimDirectory::new().mirroring(users.clone());
    let svc = ScimService::builder(ScimConfig::new(BASE).account_rules(
        "acme-okta".into(),
        vec![
            AccountRule::SUBJECT_IS_EXTERNAL_ID,
            AccountRule::VERIFIED_EMAIL_IS_USER_NAME,
        ],
    ))
    .directory(Arc::new(dir.clone()))
    .revoker(Arc::new(MemoryRevoker::new()))
    .connections(connections())
    .build()
    .unwrap();
    let token = svc
        .tokens()
        .issue(&acme(), Some("acme-okta".into()), "Okta", t0())
        .await
        .unwrap();
    let send = |method: &'static str, uri: String, body: serde_json::Value| {
        let svc = svc.clone();
        let t = token.secret.expose().to_owned();
        async move {
            let req = http::Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {t}"))
                .body(serde_json::to_vec(&body).unwrap())
                .unwrap();
            let r = svc.handle(req, t0()).await;
            let status = r.status().as_u16();
            let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap_or_default();
            (status, body)
        }
    };
    // Okta provisions Ann: externalId is the Okta user id (= the OIDC `sub`);
    // her IdP e-mail differs from anything the app knew.
    let (status, body) = send(
        "POST",
        "/Users".into(),
        json!({
            "userName": "ann.smith@acme.test", "externalId": "00u1ann",
            "emails": [{"value": "ann.smith@acme.test", "type": "work", "primary": true}],
            "displayName": "Ann Smith", "active": true
        }),
    )
    .await;
    assert_eq!(status, 201, "{body:#}");
    let id = body["id"].as_str().unwrap().to_owned();

    // The template applied, and the login flow's store has the same account.
    let tpl = dir.template_of(&acme(), &id).unwrap();
    assert_eq!(
        tpl,
        UserTemplate {
            role: Some("member".into()),
            groups: vec!["staff".into()],
            attributes: [("plan".to_owned(), "pro".to_owned())].into()
        }
    );
    let local = users
        .find_by_id(&acme(), &ssokit::UserId::new(id.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(local.email, "ann.smith@acme.test");
    assert_eq!(local.role.as_deref(), Some("member"));
    assert!(local.active);
    let scim_user = svc
        .directory()
        .get_user(&acme(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        scim_user.provisioned_by.as_ref().map(|c| c.as_str()),
        Some("acme-okta")
    );

    // SSO login by subject finds her, whatever the e-mail claim says.
    let found = svc
        .provisioned_user(
            &acme(),
            &identity("acme-okta", "00u1ann", Some("ann@personal.test")),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_id.as_str(), id);
    assert!(!found.disabled);
    // Second rule: verified e-mail = userName (case-insensitive).
    let found = svc
        .provisioned_user(
            &acme(),
            &identity("acme-okta", "other-sub", Some("ANN.SMITH@acme.test")),
        )
        .await
        .unwrap();
    assert_eq!(found.unwrap().user_id.as_str(), id);
    // An unverified e-mail never matches; another connection never matches.
    let mut unverified = identity("acme-okta", "other-sub", Some("ann.smith@acme.test"));
    unverified.profile.email_verified = false;
    assert!(
        svc.provisioned_user(&acme(), &unverified)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        svc.provisioned_user(&acme(), &identity("acme-entra", "00u1ann", None))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        svc.provisioned_user(
            &TenantId::new("globex"),
            &identity("acme-okta", "00u1ann", None)
        )
        .await
        .unwrap()
        .is_none()
    );

    // Deactivated by the IdP: visible as disabled, to SCIM and to the login flow.
    let (status, _) = send("PATCH", format!("/Users/{id}"), json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": false}}]})).await;
    assert_eq!(status, 200);
    let found = svc
        .provisioned_user(&acme(), &identity("acme-okta", "00u1ann", None))
        .await
        .unwrap()
        .unwrap();
    assert!(found.disabled);
    assert!(
        !users
            .find_by_id(&acme(), &ssokit::UserId::new(id.clone()))
            .await
            .unwrap()
            .unwrap()
            .active
    );
    // Deleted: gone from SCIM, still disabled in the login flow's store.
    let (status, _) = send("DELETE", format!("/Users/{id}"), json!(null)).await;
    assert_eq!(status, 204);
    assert!(
        svc.provisioned_user(&acme(), &identity("acme-okta", "00u1ann", None))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !users
            .find_by_id(&acme(), &ssokit::UserId::new(id))
            .await
            .unwrap()
            .unwrap()
            .active
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_group_patches_lose_no_membership_change() {
    let h = Arc::new(Harness::new().await);
    let g = h.group("Everyone").await;
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(h.user(&format!("user{i}@acme.test")).await);
    }
    // The first 20 start as members; 20 tasks remove them while 40 add the others, plus 20 renames.
    let first: Vec<serde_json::Value> = ids[..20].iter().map(|id| json!({"value": id})).collect();
    h.patch_ops(
        &format!("/Groups/{g}"),
        json!([{"op": "add", "path": "members", "value": first}]),
    )
    .await;
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let h = h.clone();
        let (g, id) = (g.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let op = if i < 20 {
                json!([{"op": "Remove", "path": "members", "value": [{"value": id}]}])
            } else {
                json!([{"op": "add", "path": "members", "value": [{"value": id}]}])
            };
            let r = h.patch_ops(&format!("/Groups/{g}"), op).await;
            assert_eq!(r.status, 204, "{:#}", r.body);
        }));
    }
    for i in 0..20 {
        let h = h.clone();
        let g = g.clone();
        tasks.push(tokio::spawn(async move {
            let r = h
                .patch_ops(
                    &format!("/Groups/{g}"),
                    json!([{"op": "replace", "value": {"displayName": format!("Everyone {i}")}}]),
                )
                .await;
            assert_eq!(r.status, 204, "{:#}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(h.members(&g), sorted(ids[20..].to_vec()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_user_patches_lose_no_attribute() {
    let h = Arc::new(Harness::new().await);
    let u = h.user("busy@acme.test").await;
    let attrs = [
        "displayName",
        "nickName",
        "title",
        "userType",
        "locale",
        "timezone",
        "preferredLanguage",
    ];
    let mut tasks = Vec::new();
    for a in attrs {
        let h = h.clone();
        let u = u.clone();
        tasks.push(tokio::spawn(async move {
            let r = h
                .patch_ops(
                    &format!("/Users/{u}"),
                    json!([{"op": "add", "path": a, "value": format!("{a}-value")}]),
                )
                .await;
            assert_eq!(r.status, 200);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = h.get(&format!("/Users/{u}")).await;
    for a in attrs {
        assert_eq!(r.body[a], format!("{a}-value"), "{a} was lost");
    }
}

const NOISE: &[u8] = b"[]{}\":,.\\ ntf0";
const FILTER_NOISE: &[u8] = b" ()[]\"andorpreqco.:$userNameemails";

#[tokio::test]
async fn garbage_never_panics_and_changes_nothing() {
    let h = Harness::new().await;
    let u = h.user("stable@acme.test").await;
    let g = h.group("Stable").await;
    let before_user = h.get(&format!("/Users/{u}")).await.body;
    let seeds: Vec<Vec<u8>> = vec![
        br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x@y"}]}"#.to_vec(),
        br#"{"userName":"z","emails":[{"value":"a","primary":"True"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m"}}"#.to_vec(),
        br#"{"Operations":[{"op":"remove","path":"members[value eq \"1\" or (value co \"2\" and not (type eq \"User\"))]"}]}"#.to_vec(),
    ];
    let paths = [
        format!("/Users/{u}"),
        format!("/Groups/{g}"),
        "/Users".to_owned(),
        "/Groups".to_owned(),
        "/.search".to_owned(),
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut statuses = std::collections::BTreeSet::new();
    for i in 0..1500 {
        let mut body = seeds[i % seeds.len()].clone();
        for _ in 0..(1 + next() % 4) {
            let pos = (next() as usize) % body.len();
            match next() % 3 {
                0 => body[pos] = (next() % 256) as u8,
                1 => {
                    body.remove(pos);
                }
                _ => body.insert(pos, NOISE[(next() as usize) % NOISE.len()]),
            }
        }
        let path = &paths[(next() as usize) % paths.len()];
        let method = ["PATCH", "PUT", "POST"][(next() % 3) as usize];
        let r = h.send_as(Some(&h.token), method, path, Some(body)).await;
        assert!(r.status < 500, "{method} {path}: {} {:#}", r.status, r.body);
        statuses.insert(r.status);
        // Filters too.
        let q: String = (0..(next() % 40))
            .map(|_| char::from(FILTER_NOISE[(next() as usize) % FILTER_NOISE.len()]))
            .collect();
        let r = h.get(&format!("/Users?filter={}", enc(&q))).await;
        assert!(r.status == 200 || r.status == 400, "{q:?}: {}", r.status);
    }
    assert!(statuses.contains(&400));
    // The user survives unless a mutation happened to stay valid: check it is still well-formed.
    let after = h.get(&format!("/Users/{u}")).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body["id"], before_user["id"]);
}
