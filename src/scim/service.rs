//! The SCIM endpoint: [`ScimService::handle`] takes an `http::Request` whose
//! path is relative to the mount point (`/Users?filter=…`) and returns the
//! response. It authenticates the bearer token, applies the size and rate
//! limits, routes, validates, and calls the host's [`ScimDirectory`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde_json::{Map, Value, json};

use super::account::{AccountRule, ProvisionedUser, ScimKey, SsoKey};
use super::directory::{
    DirectoryError, ListQuery, MemberDelta, Page, RevokeReason, ScimDirectory, SessionRevoker,
    SortBy,
};
use super::error::ScimError;
use super::filter::Filter;
use super::patch::{self, PatchOp};
use super::quirks::parse_patch_body;
use super::resource::{
    Compat, Member, Meta, NewScimGroup, NewScimUser, Projection, ScimGroup, ScimUser, render,
    validate_body,
};
use super::schema::{ResourceKind, ResourceType, ScimSchemas};
use super::tokens::{RateLimit, RateLimiter, ScimPrincipal, ScimTokens};
use super::{CONTENT_TYPE, LIST_URN};
use crate::connection::{ConnectionStore, UserTemplate};
use crate::error::{Error, ErrorKind};
use crate::types::{ConnectionId, TenantId, UserId, VerifiedIdentity};

/// Settings of a [`ScimService`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScimConfig {
    /// The public URL of the mount point, as clients see it, without a
    /// trailing slash (`https://app.example/scim/v2`): `meta.location` and
    /// `Location` are built from it.
    pub base_url: String,
    /// Largest request body, in bytes (413 above). Default 1 MiB.
    pub max_body_bytes: usize,
    /// Per-tenant rate limit (429 above); `None` turns it off. Default 50/s, burst 200.
    pub rate_limit: Option<RateLimit>,
    /// Page size when the client sends no `count`. Default 100.
    pub default_count: usize,
    /// Largest page (`filter.maxResults`). Default 1000.
    pub max_count: usize,
    /// Whether the directory sorts (`sortBy`); announced in `/ServiceProviderConfig`.
    /// Default true ([`MemoryScimDirectory`](super::MemoryScimDirectory) sorts).
    pub sort: bool,
    /// Lenient (default) or strict reading of requests (see [`super::quirks`]).
    pub compat: Compat,
    /// A page documenting the service, for `/ServiceProviderConfig`.
    pub documentation_uri: Option<String>,
    /// How SSO logins of each connection find their SCIM-provisioned user
    /// (see [`ScimService::provisioned_user`]); connections not listed use
    /// [`AccountRule::default`].
    pub account_rules: HashMap<ConnectionId, Vec<AccountRule>>,
}

impl ScimConfig {
    /// Defaults for a service mounted at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        let mut base_url: String = base_url.into();
        while base_url.ends_with('/') {
            base_url.pop();
        }
        Self {
            base_url,
            max_body_bytes: 1024 * 1024,
            rate_limit: Some(RateLimit::default()),
            default_count: 100,
            max_count: 1000,
            sort: true,
            compat: Compat::Lenient,
            documentation_uri: None,
            account_rules: HashMap::new(),
        }
    }

    /// Sets the rules by which `connection`'s SSO logins find SCIM users, tried in order.
    pub fn account_rules(mut self, connection: ConnectionId, rules: Vec<AccountRule>) -> Self {
        self.account_rules.insert(connection, rules);
        self
    }
}

/// Builds a [`ScimService`]. The directory and the session revoker are
/// required (a deprovisioning that cannot end sessions would fail open).
pub struct ScimServiceBuilder {
    config: ScimConfig,
    events: Option<Arc<dyn crate::hooks::EventSink>>,
    shared_limits: Option<Arc<dyn crate::store::FlowStore>>,
    directory: Option<Arc<dyn ScimDirectory>>,
    revoker: Option<Arc<dyn SessionRevoker>>,
    tokens: Option<ScimTokens>,
    schemas: Option<ScimSchemas>,
    connections: Option<Arc<dyn ConnectionStore>>,
}

impl fmt::Debug for ScimServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimServiceBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ScimServiceBuilder {
    /// Enforces the rate limit across every instance through a shared store
    /// (the Redis flow store): at most `max(per_second, burst)` requests per
    /// tenant in each one-second window of the injected clock, counted
    /// atomically in the store. Without it each instance limits on its own (a token bucket).
    pub fn shared_limits(mut self, store: Arc<dyn crate::store::FlowStore>) -> Self {
        self.shared_limits = Some(store);
        self
    }

    /// Where SCIM changes are recorded (one event per successful write, with
    /// a trace id). Default: `tracing` only.
    pub fn events(mut self, sink: Arc<dyn crate::hooks::EventSink>) -> Self {
        self.events = Some(sink);
        self
    }

    /// The host's user and group store.
    pub fn directory(mut self, d: Arc<dyn ScimDirectory>) -> Self {
        self.directory = Some(d);
        self
    }
    /// The session-revocation hook, called when a user is disabled or deleted.
    pub fn revoker(mut self, r: Arc<dyn SessionRevoker>) -> Self {
        self.revoker = Some(r);
        self
    }
    /// The token registry (default: in memory).
    pub fn tokens(mut self, t: ScimTokens) -> Self {
        self.tokens = Some(t);
        self
    }
    /// The attributes the host stores (default [`ScimSchemas::standard`]).
    pub fn schemas(mut self, s: ScimSchemas) -> Self {
        self.schemas = Some(s);
        self
    }
    /// Where connections are looked up, so users created through a token bound
    /// to a connection get that connection's [`UserTemplate`].
    pub fn connections(mut self, c: Arc<dyn ConnectionStore>) -> Self {
        self.connections = Some(c);
        self
    }

    /// Builds the service.
    ///
    /// # Errors
    /// A configuration error when the directory or the revoker is missing, or
    /// the base URL is not an absolute http(s) URL.
    pub fn build(self) -> Result<ScimService, Error> {
        let cfg = |m: &str| Error::new(ErrorKind::Config(m.to_owned()));
        let directory = self
            .directory
            .ok_or_else(|| cfg("ScimService needs a directory"))?;
        let revoker = self.revoker.ok_or_else(|| {
            cfg("ScimService needs a SessionRevoker: deprovisioning must end sessions")
        })?;
        let base = url::Url::parse(&self.config.base_url)
            .map_err(|_| cfg("ScimConfig::base_url must be an absolute URL"))?;
        if !matches!(base.scheme(), "https" | "http") || base.query().is_some() {
            return Err(cfg(
                "ScimConfig::base_url must be an http(s) URL without a query",
            ));
        }
        if self.config.max_count == 0 || self.config.default_count > self.config.max_count {
            return Err(cfg(
                "ScimConfig: default_count must be at most max_count, which must be positive",
            ));
        }
        Ok(ScimService {
            inner: Arc::new(Inner {
                events: self.events,
                shared_limits: self.shared_limits,
                config: self.config,
                directory,
                revoker,
                tokens: self.tokens.unwrap_or_default(),
                schemas: self.schemas.unwrap_or_default(),
                connections: self.connections,
                limiter: RateLimiter::default(),
            }),
        })
    }
}

struct Inner {
    shared_limits: Option<Arc<dyn crate::store::FlowStore>>,
    events: Option<Arc<dyn crate::hooks::EventSink>>,
    config: ScimConfig,
    directory: Arc<dyn ScimDirectory>,
    revoker: Arc<dyn SessionRevoker>,
    tokens: ScimTokens,
    schemas: ScimSchemas,
    connections: Option<Arc<dyn ConnectionStore>>,
    limiter: RateLimiter,
}

/// The SCIM 2.0 service provider. Cheap to clone; share one per application.
#[derive(Clone)]
pub struct ScimService {
    inner: Arc<Inner>,
}

impl fmt::Debug for ScimService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimService")
            .field("base_url", &self.inner.config.base_url)
            .finish_non_exhaustive()
    }
}

type Resp = Response<Vec<u8>>;

fn response(status: u16, body: &Value) -> Resp {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = Response::new(bytes);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    r
}

fn empty(status: u16) -> Resp {
    let mut r = Response::new(Vec::new());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT);
    r
}

fn error_response(e: &ScimError) -> Resp {
    let mut r = response(e.status(), &e.to_json());
    if e.status() == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"SCIM\""),
        );
    }
    if let Some(s) = e.retry_after()
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn with_etag(mut r: Resp, version: &str) -> Resp {
    if let Ok(v) = HeaderValue::from_str(version) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn dir_error(e: DirectoryError) -> ScimError {
    match e {
        DirectoryError::Conflict(m) => ScimError::uniqueness(m),
        DirectoryError::NotFound => ScimError::not_found("the resource does not exist"),
        DirectoryError::VersionMismatch => ScimError::new(
            412,
            "the resource changed: its version does not match If-Match",
        ),
        DirectoryError::UnsupportedFilter(m) => ScimError::invalid_filter(format!(
            "this service provider cannot evaluate that filter: {m}"
        )),
        DirectoryError::InvalidValue(m) => ScimError::invalid_value(m),
        DirectoryError::Failed(e) => {
            tracing::error!(target: "ssokit::scim", error = %e, "SCIM directory hook failed");
            ScimError::internal()
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Query parameters, with case-insensitive names.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parameters of a list or search request.
#[derive(Default)]
struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded: Option<String>,
}

fn parse_int(name: &str, v: Option<&str>) -> Result<Option<i64>, ScimError> {
    match v {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ScimError::invalid_value(format!("`{name}` must be an integer"))),
    }
}

impl ListParams {
    fn from_query(q: &Query) -> Result<Self, ScimError> {
        Ok(Self {
            filter: q.get("filter").map(str::to_owned),
            start_index: parse_int("startIndex", q.get("startIndex"))?,
            count: parse_int("count", q.get("count"))?,
            sort_by: q.get("sortBy").map(str::to_owned),
            sort_order: q.get("sortOrder").map(str::to_owned),
            attributes: q.get("attributes").map(str::to_owned),
            excluded: q.get("excludedAttributes").map(str::to_owned),
        })
    }

    fn from_search(body: &Value) -> Result<Self, ScimError> {
        if !body.is_object() {
            return Err(ScimError::invalid_syntax(
                "a SearchRequest must be a JSON object",
            ));
        }
        let text = |k: &str| -> Result<Option<String>, ScimError> {
            match super::filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(a)) => Ok(Some(
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Some(_) => Err(ScimError::invalid_syntax(format!(
                    "`{k}` has the wrong type"
                ))),
            }
        };
        let int = |k: &str| -> Result<Option<i64>, ScimError> {
            match super::filter::get_ci(body, k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| ScimError::invalid_value(format!("`{k}` must be an integer"))),
                Some(Value::String(s)) => parse_int(k, Some(s)),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "`{k}` must be an integer"
                ))),
            }
        };
        Ok(Self {
            filter: text("filter")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            attributes: text("attributes")?,
            excluded: text("excludedAttributes")?,
        })
    }
}

fn content_version(
    attributes: &Map<String, Value>,
    members: Option<&[Member]>,
    meta: &Meta,
) -> String {
    if let Some(v) = &meta.version {
        return v.clone();
    }
    let mut bytes = serde_json::to_vec(attributes).unwrap_or_default();
    if let Some(ms) = members {
        for m in ms {
            bytes.extend_from_slice(m.value.as_bytes());
            bytes.push(0);
        }
    }
    bytes.extend_from_slice(super::time::format_rfc3339(meta.last_modified).as_bytes());
    format!("W/\"{}\"", &crate::secret::sha256_hex(&bytes)[..16])
}

fn etag_matches(header_value: &str, version: &str) -> bool {
    let strip = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let v = strip(version);
    header_value
        .split(',')
        .any(|h| h.trim() == "*" || strip(h) == v)
}

fn parse_json(body: &[u8]) -> Result<Value, ScimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty"));
    }
    serde_json::from_slice(body).map_err(|e| {
        ScimError::invalid_syntax(format!(
            "the request body is not valid JSON ({})",
            e.classify_name()
        ))
    })
}

trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end",
        }
    }
}

/// How many times a read-modify-write is retried after a concurrent write.
const MAX_RETRIES: usize = 16;

impl ScimService {
    /// Starts building a service.
    pub fn builder(config: ScimConfig) -> ScimServiceBuilder {
        ScimServiceBuilder {
            config,
            events: None,
            shared_limits: None,
            directory: None,
            revoker: None,
            tokens: None,
            schemas: None,
            connections: None,
        }
    }

    /// The token registry (issue, list, revoke).
    pub fn tokens(&self) -> &ScimTokens {
        &self.inner.tokens
    }

    /// The declared schemas.
    pub fn schemas(&self) -> &ScimSchemas {
        &self.inner.schemas
    }

    /// The directory.
    pub fn directory(&self) -> &Arc<dyn ScimDirectory> {
        &self.inner.directory
    }

    /// Handles one SCIM request. The request's path is relative to the mount
    /// point (`/Users`, `/Groups/{id}`, `/ServiceProviderConfig`, …) and may
    /// carry a query; `now` is the current time (rate limit, `meta`).
    ///
    /// Never fails: every error is a SCIM error response (RFC 7644 §3.12).
    pub async fn handle(&self, req: http::Request<Vec<u8>>, now: SystemTime) -> Response<Vec<u8>> {
        let principal = match bearer(req.headers()) {
            None => {
                return error_response(&ScimError::new(
                    401,
                    "a bearer token is required (Authorization: Bearer …)",
                ));
            }
            Some(t) => match self.inner.tokens.verify(t).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return error_response(&ScimError::new(401, "the bearer token is not valid"));
                }
                Err(e) => {
                    tracing::error!(target: "ssokit::scim", error = %e, "SCIM token store failed");
                    return error_response(&ScimError::internal());
                }
            },
        };
        self.handle_authenticated(&principal, req, now).await
    }

    /// Handles a request whose caller the host authenticated itself (e.g. with
    /// its own API keys): everything [`ScimService::handle`] does after
    /// checking the token.
    pub async fn handle_authenticated(
        &self,
        principal: &ScimPrincipal,
        req: http::Request<Vec<u8>>,
        now: SystemTime,
    ) -> Response<Vec<u8>> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let resp = match self.checked(principal, req, now).await {
            Ok(r) => r,
            Err(e) => error_response(&e),
        };
        tracing::info!(
            target: "ssokit::scim",
            tenant = principal.tenant.as_str(),
            token = principal.token.as_str(),
            method = %method,
            path = %path,
                        status = resp.status().as_u16(),
            "SCIM request"
        );
        let write = matches!(
            method,
            http::Method::POST | http::Method::PUT | http::Method::PATCH | http::Method::DELETE
        );
        if let Some(sink) = &self.inner.events
            && write
            && resp.status().is_success()
        {
            sink.emit(&crate::hooks::Event {
                kind: crate::hooks::EventKind::ScimChange,
                trace_id: crate::types::TraceId::random(),
                at: now,
                tenant: Some(principal.tenant.clone()),
                connection: None,
                user: None,
                subject: None,
                reason: Some(format!("{method} {path} {}", resp.status().as_u16())),
            });
        }
        resp
    }

    async fn checked(
        &self,
        p: &ScimPrincipal,
        req: http::Request<Vec<u8>>,
        now: SystemTime,
    ) -> Result<Resp, ScimError> {
        let cfg = &self.inner.config;
        if let (Some(limit), Some(store)) = (&cfg.rate_limit, &self.inner.shared_limits) {
            let second = now
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let key = format!(
                "ssokit:_:scim-rate:{}:{second}",
                crate::secret::sha256_hex(p.tenant.as_str().as_bytes())
            );
            let count = store
                .increment(&key, std::time::Duration::from_secs(2))
                .await
                .map_err(|_| {
                    ScimError::new(503, "the rate-limit store is unavailable; retry later")
                        .with_retry_after(1)
                })?;
            if count as f64 > limit.per_second.max(limit.burst).max(1.0) {
                return Err(
                    ScimError::new(429, "too many requests for this tenant; retry later")
                        .with_retry_after(1),
                );
            }
        } else if let Some(limit) = &cfg.rate_limit
            && let Err(wait) = self.inner.limiter.take(limit, &p.tenant, now)
        {
            return Err(
                ScimError::new(429, "too many requests for this tenant; retry later")
                    .with_retry_after(wait),
            );
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if req.body().len() > cfg.max_body_bytes || declared.is_some_and(|n| n > cfg.max_body_bytes)
        {
            return Err(ScimError::new(
                413,
                format!(
                    "the request body is larger than {} bytes",
                    cfg.max_body_bytes
                ),
            ));
        }
        let (parts, body) = req.into_parts();
        let query = Query::parse(parts.uri.query());
        let raw_path = parts.uri.path();
        let segs: Vec<String> = raw_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = &parts.method;
        let ctx = Ctx {
            svc: self,
            p,
            now,
            headers: &parts.headers,
            query: &query,
        };
        let is = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
        match segs.as_slice() {
            [s] if is(s, "ServiceProviderConfig") => {
                only(m, &[Method::GET])?;
                discovery_filter(&query)?;
                Ok(response(200, &self.service_provider_config()))
            }
            [s] if is(s, "Schemas") => {
                only(m, &[Method::GET])?;
                discovery_filter(&query)?;
                let all: Vec<Value> = self
                    .inner
                    .schemas
                    .all()
                    .iter()
                    .map(|s| s.to_json(&cfg.base_url))
                    .collect();
                Ok(response(200, &list_response(all.len(), 1, all)))
            }
            [s, id] if is(s, "Schemas") => {
                only(m, &[Method::GET])?;
                let found = self
                    .inner
                    .schemas
                    .all()
                    .into_iter()
                    .find(|s| s.id.eq_ignore_ascii_case(id));
                match found {
                    Some(s) => Ok(response(200, &s.to_json(&cfg.base_url))),
                    None => Err(ScimError::not_found("no such schema")),
                }
            }
            [s] if is(s, "ResourceTypes") => {
                only(m, &[Method::GET])?;
                discovery_filter(&query)?;
                let all = vec![
                    self.inner.schemas.user.to_json(&cfg.base_url),
                    self.inner.schemas.group.to_json(&cfg.base_url),
                ];
                Ok(response(200, &list_response(2, 1, all)))
            }
            [s, id] if is(s, "ResourceTypes") => {
                only(m, &[Method::GET])?;
                let rt = [&self.inner.schemas.user, &self.inner.schemas.group]
                    .into_iter()
                    .find(|rt| rt.name().eq_ignore_ascii_case(id));
                match rt {
                    Some(rt) => Ok(response(200, &rt.to_json(&cfg.base_url))),
                    None => Err(ScimError::not_found("no such resource type")),
                }
            }
            [s] if is(s, ".search") => {
                only(m, &[Method::POST])?;
                let params = ListParams::from_search(&parse_json(&body)?)?;
                ctx.search_all(params).await
            }
            [s] if is(s, "Users") || is(s, "Groups") => {
                let kind = if is(s, "Users") {
                    ResourceKind::User
                } else {
                    ResourceKind::Group
                };
                match *m {
                    Method::GET => ctx.list(kind, ListParams::from_query(&query)?).await,
                    Method::POST => ctx.create(kind, &body).await,
                    _ => Err(not_allowed(&[Method::GET, Method::POST])),
                }
            }
            [s, x] if (is(s, "Users") || is(s, "Groups")) && is(x, ".search") => {
                only(m, &[Method::POST])?;
                let kind = if is(s, "Users") {
                    ResourceKind::User
                } else {
                    ResourceKind::Group
                };
                ctx.list(kind, ListParams::from_search(&parse_json(&body)?)?)
                    .await
            }
            [s, id] if is(s, "Users") || is(s, "Groups") => {
                let kind = if is(s, "Users") {
                    ResourceKind::User
                } else {
                    ResourceKind::Group
                };
                match *m {
                    Method::GET => ctx.get(kind, id).await,
                    Method::PUT => ctx.replace(kind, id, &body).await,
                    Method::PATCH => ctx.patch(kind, id, &body).await,
                    Method::DELETE => ctx.delete(kind, id).await,
                    _ => Err(not_allowed(&[
                        Method::GET,
                        Method::PUT,
                        Method::PATCH,
                        Method::DELETE,
                    ])),
                }
            }
            [s] if is(s, "Me") => Err(ScimError::new(501, "/Me is not supported")),
            [s] if is(s, "Bulk") => Err(ScimError::new(501, "bulk operations are not supported")),
            _ => Err(ScimError::not_found("no such SCIM endpoint")),
        }
    }

    fn service_provider_config(&self) -> Value {
        let cfg = &self.inner.config;
        let mut v = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": cfg.max_count},
            "changePassword": {"supported": false},
            "sort": {"supported": cfg.sort},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A per-tenant bearer token issued by the application (Authorization: Bearer …).",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", cfg.base_url),
            }
        });
        if let Some(d) = &cfg.documentation_uri {
            v["documentationUri"] = json!(d);
        }
        v
    }

    /// The SCIM-provisioned user an SSO login of `identity` is the same person
    /// as, by the connection's [`AccountRule`]s (default: the SSO subject
    /// equals `externalId`). Only users provisioned through the same
    /// connection's token (or through an unbound token) match, so one IdP
    /// cannot claim another IdP's users.
    ///
    /// The login flow calls this when an identity is not linked yet, before
    /// looking at e-mail addresses: on `Some(u)`, link the identity to
    /// `u.user_id` and sign in — unless `u.disabled`, which must deny the
    /// login and never reactivate the user.
    ///
    /// # Errors
    /// The directory's failure.
    pub async fn provisioned_user(
        &self,
        tenant: &TenantId,
        identity: &VerifiedIdentity,
    ) -> Result<Option<ProvisionedUser>, DirectoryError> {
        let default = [AccountRule::default()];
        let rules: &[AccountRule] = self
            .inner
            .config
            .account_rules
            .get(&identity.key.connection)
            .map_or(&default[..], Vec::as_slice);
        for rule in rules {
            let value = match rule.sso {
                SsoKey::Subject => Some(identity.key.subject.as_str()),
                SsoKey::VerifiedEmail => identity.profile.verified_email(),
            };
            let Some(value) = value.filter(|v| !v.is_empty()) else {
                continue;
            };
            let dir = &self.inner.directory;
            let found = match rule.scim {
                ScimKey::ExternalId => dir.find_by_external_id(tenant, value).await?,
                ScimKey::UserName => dir.find_by_user_name(tenant, value).await?,
            };
            if let Some(user) = found {
                if user
                    .provisioned_by
                    .as_ref()
                    .is_some_and(|c| c != &identity.key.connection)
                {
                    continue;
                }
                return Ok(Some(ProvisionedUser {
                    user_id: UserId::new(user.id.clone()),
                    disabled: user.is_disabled(),
                    user,
                }));
            }
        }
        Ok(None)
    }
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn not_allowed(allowed: &[Method]) -> ScimError {
    let names: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    ScimError::new(
        405,
        format!("method not allowed here; allowed: {}", names.join(", ")),
    )
}

fn only(m: &Method, allowed: &[Method]) -> Result<(), ScimError> {
    if allowed.contains(m) {
        Ok(())
    } else {
        Err(not_allowed(allowed))
    }
}

fn discovery_filter(q: &Query) -> Result<(), ScimError> {
    if q.get("filter").is_some() {
        return Err(ScimError::new(
            403,
            "discovery endpoints do not support filtering",
        ));
    }
    Ok(())
}

fn list_response(total: usize, start: usize, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_URN],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

struct Ctx<'a> {
    svc: &'a ScimService,
    p: &'a ScimPrincipal,
    now: SystemTime,
    headers: &'a HeaderMap,
    query: &'a Query,
}

impl Ctx<'_> {
    fn rt(&self, kind: ResourceKind) -> &ResourceType {
        self.svc.inner.schemas.of(kind)
    }
    fn dir(&self) -> &dyn ScimDirectory {
        self.svc.inner.directory.as_ref()
    }
    fn tenant(&self) -> &TenantId {
        &self.p.tenant
    }
    fn compat(&self) -> Compat {
        self.svc.inner.config.compat
    }
    fn base(&self) -> &str {
        &self.svc.inner.config.base_url
    }
    fn projection(&self, kind: ResourceKind) -> Projection {
        Projection::parse(
            self.rt(kind),
            self.query.get("attributes"),
            self.query.get("excludedAttributes"),
        )
    }
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn render_user(&self, u: ScimUser, proj: &Projection) -> (Value, String) {
        let rt = self.rt(ResourceKind::User);
        let version = content_version(&u.attributes, None, &u.meta);
        let v = render(
            rt,
            &u.id,
            u.attributes,
            None,
            &u.meta,
            &version,
            self.base(),
        );
        (proj.apply(rt, v), version)
    }

    fn render_group(&self, g: ScimGroup, proj: &Projection) -> (Value, String) {
        let rt = self.rt(ResourceKind::Group);
        let version = content_version(&g.attributes, g.members.as_deref(), &g.meta);
        let v = render(
            rt,
            &g.id,
            g.attributes,
            g.members.as_deref(),
            &g.meta,
            &version,
            self.base(),
        );
        (proj.apply(rt, v), version)
    }

    fn not_found(&self, kind: ResourceKind) -> ScimError {
        ScimError::not_found(format!("{} not found", kind.name()))
    }

    fn list_query(&self, kind: ResourceKind, params: &ListParams) -> Result<ListQuery, ScimError> {
        let cfg = &self.svc.inner.config;
        let rt = self.rt(kind);
        let filter = match params.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => Some(
                Filter::parse_for(f, rt)
                    .map_err(|e| ScimError::invalid_filter(e.message().to_owned()))?,
            ),
        };
        let start_index = params.start_index.unwrap_or(1).max(1) as usize;
        let count = params.count.map_or(cfg.default_count, |c| {
            (c.max(0) as usize).min(cfg.max_count)
        });
        let sort = match (&params.sort_by, cfg.sort) {
            (Some(s), true) if !s.trim().is_empty() => {
                let f = Filter::parse_for(&format!("{} pr", s.trim()), rt)
                    .map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.message())))?;
                let Filter::Present(path) = f else {
                    return Err(ScimError::invalid_value("sortBy must be an attribute path"));
                };
                let descending = match params.sort_order.as_deref() {
                    None => false,
                    Some(o) if o.eq_ignore_ascii_case("ascending") => false,
                    Some(o) if o.eq_ignore_ascii_case("descending") => true,
                    Some(_) => {
                        return Err(ScimError::invalid_value(
                            "sortOrder must be `ascending` or `descending`",
                        ));
                    }
                };
                Some(SortBy { path, descending })
            }
            _ => None,
        };
        Ok(ListQuery {
            filter,
            start_index,
            count,
            sort,
        })
    }

    async fn list(&self, kind: ResourceKind, params: ListParams) -> Result<Resp, ScimError> {
        let q = self.list_query(kind, &params)?;
        let rt = self.rt(kind);
        let proj = Projection::parse(rt, params.attributes.as_deref(), params.excluded.as_deref());
        let (total, resources) = self.fetch(kind, &q, &proj).await?;
        Ok(response(
            200,
            &list_response(total, q.start_index, resources),
        ))
    }

    async fn fetch(
        &self,
        kind: ResourceKind,
        q: &ListQuery,
        proj: &Projection,
    ) -> Result<(usize, Vec<Value>), ScimError> {
        match kind {
            ResourceKind::User => {
                let page: Page<ScimUser> = self
                    .dir()
                    .list_users(self.tenant(), q)
                    .await
                    .map_err(dir_error)?;
                let items = page
                    .resources
                    .into_iter()
                    .take(q.count)
                    .map(|u| self.render_user(u, proj).0)
                    .collect();
                Ok((page.total_results, items))
            }
            ResourceKind::Group => {
                let page = self
                    .dir()
                    .list_groups(self.tenant(), q, proj.wants("members"))
                    .await
                    .map_err(dir_error)?;
                let items = page
                    .resources
                    .into_iter()
                    .take(q.count)
                    .map(|g| self.render_group(g, proj).0)
                    .collect();
                Ok((page.total_results, items))
            }
        }
    }

    /// `POST /.search`: users, then groups.
    async fn search_all(&self, params: ListParams) -> Result<Resp, ScimError> {
        let mut queries = Vec::new();
        let mut first_err = None;
        for kind in [ResourceKind::User, ResourceKind::Group] {
            match self.list_query(kind, &params) {
                Ok(q) => queries.push((kind, q)),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if queries.is_empty() {
            return Err(first_err.unwrap_or_else(ScimError::internal));
        }
        let start = queries[0].1.start_index;
        let mut remaining = queries[0].1.count;
        let mut skip = start - 1;
        let mut total = 0;
        let mut out = Vec::new();
        for (kind, mut q) in queries {
            let proj = Projection::parse(
                self.rt(kind),
                params.attributes.as_deref(),
                params.excluded.as_deref(),
            );
            q.start_index = skip + 1;
            q.count = remaining;
            let (t, items) = self.fetch(kind, &q, &proj).await?;
            total += t;
            skip = skip.saturating_sub(t);
            remaining -= items.len().min(remaining);
            out.extend(items);
        }
        Ok(response(200, &list_response(total, start, out)))
    }

    async fn get(&self, kind: ResourceKind, id: &str) -> Result<Resp, ScimError> {
        let proj = self.projection(kind);
        let (body, version) = match kind {
            ResourceKind::User => {
                let u = self
                    .dir()
                    .get_user(self.tenant(), id)
                    .await
                    .map_err(dir_error)?;
                self.render_user(u.ok_or_else(|| self.not_found(kind))?, &proj)
            }
            ResourceKind::Group => {
                let g = self
                    .dir()
                    .get_group(self.tenant(), id, proj.wants("members"))
                    .await
                    .map_err(dir_error)?;
                self.render_group(g.ok_or_else(|| self.not_found(kind))?, &proj)
            }
        };
        if let Some(inm) = self.header(header::IF_NONE_MATCH)
            && etag_matches(inm, &version)
        {
            return Ok(with_etag(empty(304), &version));
        }
        Ok(with_etag(response(200, &body), &version))
    }

    async fn template(&self) -> UserTemplate {
        let (Some(store), Some(conn)) = (&self.svc.inner.connections, &self.p.connection) else {
            return UserTemplate::default();
        };
        match store.connection(conn).await {
            Ok(Some(c)) if c.tenant == self.p.tenant => c.template.clone(),
            Ok(_) => UserTemplate::default(),
            Err(e) => {
                tracing::warn!(target: "ssokit::scim", error = %e, "connection store failed; SCIM user created without a template");
                UserTemplate::default()
            }
        }
    }

    async fn check_user_name(
        &self,
        attrs: &Map<String, Value>,
        own_id: Option<&str>,
    ) -> Result<(), ScimError> {
        let Some(name) = attrs.get("userName").and_then(Value::as_str) else {
            return Ok(());
        };
        let existing = self
            .dir()
            .find_by_user_name(self.tenant(), name)
            .await
            .map_err(dir_error)?;
        if existing.is_some_and(|u| Some(u.id.as_str()) != own_id) {
            return Err(ScimError::uniqueness(
                "a user with this userName already exists",
            ));
        }
        Ok(())
    }

    async fn create(&self, kind: ResourceKind, body: &[u8]) -> Result<Resp, ScimError> {
        let json = parse_json(body)?;
        let rt = self.rt(kind);
        let attrs = validate_body(rt, &json, self.compat())?;
        let proj = self.projection(kind);
        let (out, version, id) = match kind {
            ResourceKind::User => {
                self.check_user_name(&attrs, None).await?;
                let new = NewScimUser {
                    attributes: attrs,
                    created: self.now,
                    provisioned_by: self.p.connection.clone(),
                    template: self.template().await,
                };
                let u = self
                    .dir()
                    .create_user(self.tenant(), new)
                    .await
                    .map_err(dir_error)?;
                let id = u.id.clone();
                let (v, ver) = self.render_user(u, &proj);
                (v, ver, id)
            }
            ResourceKind::Group => {
                let members = match super::filter::get_ci(&json, "members") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => {
                        a.iter().map(Member::from_json).collect::<Result<_, _>>()?
                    }
                    Some(_) => return Err(ScimError::invalid_value("`members` must be an array")),
                };
                let new = NewScimGroup {
                    attributes: attrs,
                    members,
                    created: self.now,
                    provisioned_by: self.p.connection.clone(),
                };
                let g = self
                    .dir()
                    .create_group(self.tenant(), new)
                    .await
                    .map_err(dir_error)?;
                let id = g.id.clone();
                let (v, ver) = self.render_group(g, &proj);
                (v, ver, id)
            }
        };
        let mut r = with_etag(response(201, &out), &version);
        let loc = format!("{}{}/{}", self.base(), kind.endpoint(), id);
        if let Ok(v) = HeaderValue::from_str(&loc) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Ok(r)
    }

    /// `If-Match` against the current version: 412 on mismatch.
    fn precondition(&self, version: &str) -> Result<bool, ScimError> {
        match self.header(header::IF_MATCH) {
            None => Ok(false),
            Some(h) if etag_matches(h, version) => Ok(true),
            Some(_) => Err(ScimError::new(
                412,
                "the resource changed: its version does not match If-Match",
            )),
        }
    }

    async fn revoke_if_disabled(
        &self,
        u: &ScimUser,
        reason: RevokeReason,
    ) -> Result<(), ScimError> {
        if reason == RevokeReason::Deleted || u.is_disabled() {
            self.svc
                .inner
                .revoker
                .revoke_sessions(self.tenant(), &UserId::new(u.id.clone()), reason)
                .await
                .map_err(|e| {
                    tracing::error!(target: "ssokit::scim", error = %e, user = %u.id, "session revocation failed");
                    ScimError::internal()
                })?;
        }
        Ok(())
    }

    /// Writes a user with optimistic concurrency: `edit` turns the current
    /// attributes into the new ones (`None`: nothing changes). A concurrent
    /// write retries, unless the client pinned the version with `If-Match`.
    /// A write that leaves the user disabled ends its sessions.
    async fn update_user(
        &self,
        id: &str,
        proj: &Projection,
        mut edit: impl FnMut(&ScimUser) -> Result<Option<Map<String, Value>>, ScimError>,
    ) -> Result<Resp, ScimError> {
        for _ in 0..MAX_RETRIES {
            let cur = self
                .dir()
                .get_user(self.tenant(), id)
                .await
                .map_err(dir_error)?
                .ok_or_else(|| self.not_found(ResourceKind::User))?;
            let client_pinned =
                self.precondition(&content_version(&cur.attributes, None, &cur.meta))?;
            let Some(attrs) = edit(&cur)? else {
                self.revoke_if_disabled(&cur, RevokeReason::Deactivated)
                    .await?;
                let (v, ver) = self.render_user(cur, proj);
                return Ok(with_etag(response(200, &v), &ver));
            };
            if cur.user_name() != attrs.get("userName").and_then(Value::as_str) {
                self.check_user_name(&attrs, Some(id)).await?;
            }
            let next = with_attributes(&cur, attrs, self.now);
            match self
                .dir()
                .update_user(self.tenant(), &next, cur.meta.version.as_deref())
                .await
            {
                Ok(u) => {
                    self.revoke_if_disabled(&u, RevokeReason::Deactivated)
                        .await?;
                    let (v, ver) = self.render_user(u, proj);
                    return Ok(with_etag(response(200, &v), &ver));
                }
                Err(DirectoryError::VersionMismatch) if !client_pinned => continue,
                Err(e) => return Err(dir_error(e)),
            }
        }
        Err(ScimError::new(
            409,
            "the user is being modified concurrently; retry",
        ))
    }

    async fn replace(&self, kind: ResourceKind, id: &str, body: &[u8]) -> Result<Resp, ScimError> {
        let json = parse_json(body)?;
        let rt = self.rt(kind);
        let mut attrs = validate_body(rt, &json, self.compat())?;
        let proj = self.projection(kind);
        match kind {
            ResourceKind::User => {
                self.update_user(id, &proj, |cur| {
                    let mut attrs = attrs.clone();
                    // Never deactivate implicitly: a PUT without `active` keeps it.
                    if !attrs.contains_key("active")
                        && let Some(a) = cur.attributes.get("active")
                    {
                        attrs.insert("active".into(), a.clone());
                    }
                    keep_immutable(rt, &cur.attributes, &mut attrs)?;
                    Ok(Some(attrs))
                })
                .await
            }
            ResourceKind::Group => {
                let members = match super::filter::get_ci(&json, "members") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(Member::from_json)
                        .collect::<Result<Vec<_>, _>>()?,
                    Some(_) => return Err(ScimError::invalid_value("`members` must be an array")),
                };
                let cur = self
                    .dir()
                    .get_group(self.tenant(), id, true)
                    .await
                    .map_err(dir_error)?
                    .ok_or_else(|| self.not_found(kind))?;
                self.precondition(&content_version(
                    &cur.attributes,
                    cur.members.as_deref(),
                    &cur.meta,
                ))?;
                keep_immutable(rt, &cur.attributes, &mut attrs)?;
                if attrs != cur.attributes {
                    let next = with_attributes(&cur, attrs, self.now);
                    self.dir()
                        .update_group(self.tenant(), &next, None)
                        .await
                        .map_err(dir_error)?;
                }
                let current = cur.members.clone().unwrap_or_default();
                let plan = patch::MembersPlan {
                    steps: vec![
                        patch::MemberStep::RemoveAll,
                        patch::MemberStep::Add(members),
                    ],
                };
                let delta = plan.delta(Some(&current), rt);
                self.apply_delta(id, &delta).await?;
                self.respond_group(id, &proj, 200).await
            }
        }
    }

    async fn apply_delta(&self, id: &str, delta: &MemberDelta) -> Result<(), ScimError> {
        if delta.is_empty() {
            return Ok(());
        }
        self.dir()
            .modify_members(self.tenant(), id, delta, self.now)
            .await
            .map_err(dir_error)
    }

    async fn respond_group(
        &self,
        id: &str,
        proj: &Projection,
        status: u16,
    ) -> Result<Resp, ScimError> {
        let g = self
            .dir()
            .get_group(self.tenant(), id, proj.wants("members"))
            .await
            .map_err(dir_error)?
            .ok_or_else(|| self.not_found(ResourceKind::Group))?;
        let (v, ver) = self.render_group(g, proj);
        Ok(with_etag(response(status, &v), &ver))
    }

    async fn patch(&self, kind: ResourceKind, id: &str, body: &[u8]) -> Result<Resp, ScimError> {
        let json = parse_json(body)?;
        let ops: Vec<PatchOp> = parse_patch_body(&json, self.compat())?;
        let rt = self.rt(kind);
        let proj = self.projection(kind);
        match kind {
            ResourceKind::User => {
                self.update_user(id, &proj, |cur| {
                    let mut attrs = cur.attributes.clone();
                    patch::apply(rt, &mut attrs, &ops, self.compat())?;
                    Ok((attrs != cur.attributes).then_some(attrs))
                })
                .await
            }
            ResourceKind::Group => {
                for _ in 0..MAX_RETRIES {
                    let cur = self
                        .dir()
                        .get_group(self.tenant(), id, false)
                        .await
                        .map_err(dir_error)?
                        .ok_or_else(|| self.not_found(kind))?;
                    let client_pinned = match self.header(header::IF_MATCH) {
                        Some(_) => {
                            let full = self
                                .dir()
                                .get_group(self.tenant(), id, true)
                                .await
                                .map_err(dir_error)?
                                .ok_or_else(|| self.not_found(kind))?;
                            self.precondition(&content_version(
                                &full.attributes,
                                full.members.as_deref(),
                                &full.meta,
                            ))?
                        }
                        None => false,
                    };
                    let mut attrs = cur.attributes.clone();
                    let plan = patch::apply(rt, &mut attrs, &ops, self.compat())?;
                    let current_members = if plan.needs_current() {
                        self.dir()
                            .get_group(self.tenant(), id, true)
                            .await
                            .map_err(dir_error)?
                            .and_then(|g| g.members)
                    } else {
                        None
                    };
                    let delta = plan.delta(current_members.as_deref(), rt);
                    if attrs != cur.attributes {
                        let next = with_attributes(&cur, attrs, self.now);
                        match self
                            .dir()
                            .update_group(self.tenant(), &next, cur.meta.version.as_deref())
                            .await
                        {
                            Ok(_) => {}
                            Err(DirectoryError::VersionMismatch) if !client_pinned => continue,
                            Err(e) => return Err(dir_error(e)),
                        }
                    }
                    self.apply_delta(id, &delta).await?;
                    // Entra prefers 204 for group PATCH; a body is sent only when asked for.
                    if self.query.get("attributes").is_some()
                        || self.query.get("excludedAttributes").is_some()
                    {
                        return self.respond_group(id, &proj, 200).await;
                    }
                    return Ok(empty(204));
                }
                Err(ScimError::new(
                    409,
                    "the group is being modified concurrently; retry",
                ))
            }
        }
    }

    async fn delete(&self, kind: ResourceKind, id: &str) -> Result<Resp, ScimError> {
        match kind {
            ResourceKind::User => {
                let cur = self
                    .dir()
                    .get_user(self.tenant(), id)
                    .await
                    .map_err(dir_error)?
                    .ok_or_else(|| self.not_found(kind))?;
                self.precondition(&content_version(&cur.attributes, None, &cur.meta))?;
                self.dir()
                    .delete_user(self.tenant(), id)
                    .await
                    .map_err(|e| match e {
                        DirectoryError::NotFound => self.not_found(kind),
                        e => dir_error(e),
                    })?;
                self.revoke_if_disabled(&cur, RevokeReason::Deleted).await?;
            }
            ResourceKind::Group => {
                if self.header(header::IF_MATCH).is_some() {
                    let cur = self
                        .dir()
                        .get_group(self.tenant(), id, true)
                        .await
                        .map_err(dir_error)?
                        .ok_or_else(|| self.not_found(kind))?;
                    self.precondition(&content_version(
                        &cur.attributes,
                        cur.members.as_deref(),
                        &cur.meta,
                    ))?;
                }
                self.dir()
                    .delete_group(self.tenant(), id)
                    .await
                    .map_err(|e| match e {
                        DirectoryError::NotFound => self.not_found(kind),
                        e => dir_error(e),
                    })?;
            }
        }
        Ok(empty(204))
    }
}

/// A copy of a resource's identity and meta with new attributes, modified at `now`.
trait WithAttributes {
    fn with(&self, attributes: Map<String, Value>, now: SystemTime) -> Self;
}

impl WithAttributes for ScimUser {
    fn with(&self, attributes: Map<String, Value>, now: SystemTime) -> Self {
        ScimUser {
            id: self.id.clone(),
            meta: Meta {
                created: self.meta.created,
                last_modified: now,
                version: self.meta.version.clone(),
            },
            attributes,
            provisioned_by: self.provisioned_by.clone(),
        }
    }
}

impl WithAttributes for ScimGroup {
    fn with(&self, attributes: Map<String, Value>, now: SystemTime) -> Self {
        ScimGroup {
            id: self.id.clone(),
            meta: Meta {
                created: self.meta.created,
                last_modified: now,
                version: self.meta.version.clone(),
            },
            attributes,
            members: None,
        }
    }
}

fn with_attributes<T: WithAttributes>(
    cur: &T,
    attributes: Map<String, Value>,
    now: SystemTime,
) -> T {
    cur.with(attributes, now)
}

/// PUT must not change an assigned immutable attribute (400 `mutability`).
fn keep_immutable(
    rt: &ResourceType,
    old: &Map<String, Value>,
    new: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    for def in rt
        .schema
        .attributes
        .iter()
        .filter(|a| a.mutability == super::schema::Mutability::Immutable)
    {
        if let Some(o) = old.get(&def.name) {
            match new.get(&def.name) {
                Some(n) if n != o => {
                    return Err(ScimError::mutability(format!(
                        "`{}` is immutable",
                        def.name
                    )));
                }
                None => {
                    new.insert(def.name.clone(), o.clone());
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl crate::hooks::ProvisionedAccounts for ScimService {
    async fn find(
        &self,
        tenant: &TenantId,
        identity: &VerifiedIdentity,
    ) -> Result<Option<crate::hooks::ProvisionedAccount>, crate::error::HookError> {
        self.provisioned_user(tenant, identity)
            .await
            .map(|found| {
                found.map(|p| crate::hooks::ProvisionedAccount {
                    user: p.user_id,
                    disabled: p.disabled,
                })
            })
            .map_err(|e| crate::error::HookError::new(format!("SCIM directory: {e}")))
    }
}
