//! The SCIM handler's own cost, with a directory that answers instantly:
//! Entra's matching query `GET /Users?filter=userName eq "…"` and a
//! 3-operation Entra PATCH (capitalised ops, a value-filter path, a string
//! boolean). Token verification, rate limiting, routing, parsing,
//! validation, rendering and JSON encoding are included.
//!
//! Run with `cargo bench --features scim --bench scim`. The goal is < 20 µs each.

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use ssokit::TenantId;
use ssokit::error::HookError;
use ssokit::scim::{
    DirectoryError, ListQuery, MemberDelta, Meta, NewScimGroup, NewScimUser, Page, RateLimit,
    RevokeReason, ScimConfig, ScimDirectory, ScimGroup, ScimService, ScimUser, SessionRevoker,
};

/// A store that answers instantly with one user.
struct Instant {
    user: ScimUser,
}

#[async_trait]
impl ScimDirectory for Instant {
    async fn create_user(&self, _: &TenantId, _: NewScimUser) -> Result<ScimUser, DirectoryError> {
        Ok(self.user.clone())
    }
    async fn get_user(&self, _: &TenantId, _: &str) -> Result<Option<ScimUser>, DirectoryError> {
        Ok(Some(self.user.clone()))
    }
    async fn list_users(
        &self,
        _: &TenantId,
        q: &ListQuery,
    ) -> Result<Page<ScimUser>, DirectoryError> {
        black_box(q);
        Ok(Page {
            total_results: 1,
            resources: vec![self.user.clone()],
        })
    }
    async fn update_user(
        &self,
        _: &TenantId,
        u: &ScimUser,
        _: Option<&str>,
    ) -> Result<ScimUser, DirectoryError> {
        Ok(u.clone())
    }
    async fn delete_user(&self, _: &TenantId, _: &str) -> Result<(), DirectoryError> {
        Ok(())
    }
    async fn create_group(
        &self,
        _: &TenantId,
        _: NewScimGroup,
    ) -> Result<ScimGroup, DirectoryError> {
        Err(DirectoryError::NotFound)
    }
    async fn get_group(
        &self,
        _: &TenantId,
        _: &str,
        _: bool,
    ) -> Result<Option<ScimGroup>, DirectoryError> {
        Ok(None)
    }
    async fn list_groups(
        &self,
        _: &TenantId,
        _: &ListQuery,
        _: bool,
    ) -> Result<Page<ScimGroup>, DirectoryError> {
        Ok(Page {
            total_results: 0,
            resources: vec![],
        })
    }
    async fn update_group(
        &self,
        _: &TenantId,
        g: &ScimGroup,
        _: Option<&str>,
    ) -> Result<ScimGroup, DirectoryError> {
        Ok(g.clone())
    }
    async fn modify_members(
        &self,
        _: &TenantId,
        _: &str,
        _: &MemberDelta,
        _: SystemTime,
    ) -> Result<(), DirectoryError> {
        Ok(())
    }
    async fn delete_group(&self, _: &TenantId, _: &str) -> Result<(), DirectoryError> {
        Ok(())
    }
}

struct NoSessions;

#[async_trait]
impl SessionRevoker for NoSessions {
    async fn revoke_sessions(
        &self,
        _: &TenantId,
        _: &ssokit::UserId,
        _: RevokeReason,
    ) -> Result<(), HookError> {
        Ok(())
    }
}

/// Polls a future that never waits (every hook answers at once) to completion.
fn run<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn bench(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let attributes = json!({
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "active": true,
        "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Ops"}
    });
    let user = ScimUser {
        id: "2819c223-7f76-453a-919d-413861904646".into(),
        meta: Meta {
            created: now,
            last_modified: now,
            version: Some("W/\"3\"".into()),
        },
        attributes: attributes.as_object().cloned().unwrap_or_default(),
        provisioned_by: None,
    };
    let mut config = ScimConfig::new("https://app.example/scim/v2");
    config.rate_limit = Some(RateLimit {
        per_second: 1e12,
        burst: 1e12,
    });
    let svc = ScimService::builder(config)
        .directory(Arc::new(Instant { user }))
        .revoker(Arc::new(NoSessions))
        .build()
        .expect("service");
    let token = run(svc
        .tokens()
        .issue(&TenantId::new("acme"), None, "bench", now))
    .expect("token")
    .secret
    .expose()
    .to_owned();
    let auth = format!("Bearer {token}");

    let get_uri = "/Users?filter=userName+eq+%22Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1%22";
    let patch_body = serde_json::to_vec(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "title", "value": "Tour Guide"}
        ]
    }))
    .expect("json");

    // Sanity: both answer as expected.
    let r = run(svc.handle(
        http::Request::get(get_uri)
            .header("authorization", &auth)
            .body(Vec::new())
            .expect("req"),
        now,
    ));
    assert_eq!(r.status(), 200);
    let r = run(svc.handle(
        http::Request::patch("/Users/2819c223-7f76-453a-919d-413861904646")
            .header("authorization", &auth)
            .body(patch_body.clone())
            .expect("req"),
        now,
    ));
    assert_eq!(r.status(), 200, "{}", String::from_utf8_lossy(r.body()));

    let mut g = c.benchmark_group("scim");
    g.bench_function("GET /Users?filter=userName eq", |b| {
        b.iter(|| {
            let req = http::Request::get(get_uri)
                .header("authorization", &auth)
                .body(Vec::new())
                .expect("req");
            black_box(run(svc.handle(black_box(req), now)))
        })
    });
    g.bench_function("PATCH /Users/{id} (Entra, 3 ops)", |b| {
        b.iter(|| {
            let req = http::Request::patch("/Users/2819c223-7f76-453a-919d-413861904646")
                .header("authorization", &auth)
                .header("content-type", "application/scim+json")
                .body(patch_body.clone())
                .expect("req");
            black_box(run(svc.handle(black_box(req), now)))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
