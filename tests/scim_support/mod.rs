//! Shared harness for the SCIM tests: a service over an in-memory directory,
//! a token for tenant `acme`, and a request helper on a virtual clock.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use ssokit::TenantId;
use ssokit::scim::{
    MemoryRevoker, MemoryScimDirectory, ScimConfig, ScimDirectory, ScimService, ScimServiceBuilder,
};

pub(crate) const BASE: &str = "https://app.example/scim/v2";
pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub(crate) const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub(crate) const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A response, decoded.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) headers: http::HeaderMap,
}

impl Resp {
    /// `detail`/`scimType` of an error body, asserting its shape (RFC 7644 §3.12).
    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.body["schemas"][0], ERROR, "{:#}", self.body);
        assert_eq!(
            self.body["status"],
            status.to_string(),
            "status must be a JSON string"
        );
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "detail: {:#}",
            self.body
        );
        assert_eq!(
            self.body.get("scimType").and_then(Value::as_str),
            scim_type,
            "{:#}",
            self.body
        );
        assert_eq!(self.headers["content-type"], "application/scim+json");
    }

    pub(crate) fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_owned()
    }
}

pub(crate) struct Harness {
    pub(crate) svc: ScimService,
    pub(crate) dir: MemoryScimDirectory,
    pub(crate) revoker: MemoryRevoker,
    pub(crate) token: String,
    pub(crate) now: Arc<Mutex<SystemTime>>,
}

pub(crate) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(crate) fn acme() -> TenantId {
    TenantId::new("acme")
}

impl Harness {
    pub(crate) async fn new() -> Self {
        Self::with(|b| b).await
    }

    pub(crate) async fn with_config(config: ScimConfig) -> Self {
        Self::build(config, |b| b).await
    }

    pub(crate) async fn with(f: impl FnOnce(ScimServiceBuilder) -> ScimServiceBuilder) -> Self {
        let mut config = ScimConfig::new(BASE);
        config.rate_limit = None;
        Self::build(config, f).await
    }

    pub(crate) async fn build(
        config: ScimConfig,
        f: impl FnOnce(ScimServiceBuilder) -> ScimServiceBuilder,
    ) -> Self {
        let dir = MemoryScimDirectory::new();
        let revoker = MemoryRevoker::new();
        let svc = f(ScimService::builder(config)
            .directory(Arc::new(dir.clone()))
            .revoker(Arc::new(revoker.clone())))
        .build()
        .expect("service builds");
        let issued = svc
            .tokens()
            .issue(&acme(), None, "test", t0())
            .await
            .expect("token");
        Self {
            svc,
            dir,
            revoker,
            token: issued.secret.expose().to_owned(),
            now: Arc::new(Mutex::new(t0())),
        }
    }

    pub(crate) fn now(&self) -> SystemTime {
        *self.now.lock().unwrap()
    }

    pub(crate) fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    pub(crate) fn directory(&self) -> Arc<dyn ScimDirectory> {
        self.svc.directory().clone()
    }

    /// Sends a request with the harness token.
    pub(crate) async fn send(&self, method: &str, uri: &str, body: Option<&Value>) -> Resp {
        let token = self.token.clone();
        self.send_as(
            Some(&token),
            method,
            uri,
            body.map(|b| serde_json::to_vec(b).unwrap()),
        )
        .await
    }

    /// Sends raw bytes with an optional token.
    pub(crate) async fn send_as(
        &self,
        token: Option<&str>,
        method: &str,
        uri: &str,
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut b = http::Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            b = b.header("content-type", "application/scim+json");
        }
        let req = b.body(body.unwrap_or_default()).unwrap();
        self.raw(req).await
    }

    pub(crate) async fn raw(&self, req: http::Request<Vec<u8>>) -> Resp {
        let resp = self.svc.handle(req, self.now()).await;
        let (parts, body) = resp.into_parts();
        let body = if body.is_empty() {
            Value::Null
        } else {
            assert_eq!(parts.headers["content-type"], "application/scim+json");
            serde_json::from_slice(&body).expect("JSON response")
        };
        Resp {
            status: parts.status.as_u16(),
            body,
            headers: parts.headers,
        }
    }

    pub(crate) async fn get(&self, uri: &str) -> Resp {
        self.send("GET", uri, None).await
    }
    pub(crate) async fn post(&self, uri: &str, body: Value) -> Resp {
        self.send("POST", uri, Some(&body)).await
    }
    pub(crate) async fn put(&self, uri: &str, body: Value) -> Resp {
        self.send("PUT", uri, Some(&body)).await
    }
    pub(crate) async fn patch(&self, uri: &str, body: Value) -> Resp {
        self.send("PATCH", uri, Some(&body)).await
    }
    pub(crate) async fn delete(&self, uri: &str) -> Resp {
        self.send("DELETE", uri, None).await
    }

    /// PATCH with a PatchOp message around `ops`.
    pub(crate) async fn patch_ops(&self, uri: &str, ops: Value) -> Resp {
        self.patch(
            uri,
            serde_json::json!({"schemas": [PATCH_OP], "Operations": ops}),
        )
        .await
    }

    /// Creates a user with a userName (and optional extra attributes), returns its id.
    pub(crate) async fn user(&self, user_name: &str) -> String {
        let r = self
            .post(
                "/Users",
                serde_json::json!({"schemas": [USER], "userName": user_name, "active": true}),
            )
            .await;
        assert_eq!(r.status, 201, "{:#}", r.body);
        r.id()
    }

    pub(crate) async fn group(&self, name: &str) -> String {
        let r = self
            .post(
                "/Groups",
                serde_json::json!({"schemas": [GROUP], "displayName": name}),
            )
            .await;
        assert_eq!(r.status, 201, "{:#}", r.body);
        r.id()
    }

    /// The member ids of a group, sorted.
    pub(crate) fn members(&self, group: &str) -> Vec<String> {
        let mut v = self.dir.member_ids(&acme(), group);
        v.sort();
        v
    }
}

/// URL-encodes a query value.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}
