//! Per-tenant SCIM bearer tokens and the per-tenant rate limit.
//!
//! A token is 256 random bits with a recognisable prefix (`ssokit_scim_…`, so
//! secret scanners can spot a leak), shown once when issued and stored only
//! as its SHA-256. Lookup is by a public token id (the first 16 hex digits
//! of the hash), and the full hash is then compared in constant time. A
//! tenant has at most [`MAX_LIVE_TOKENS`] live tokens, so a token can be
//! rotated without downtime: issue a new one, paste it into the IdP, revoke
//! the old one. The tenant (and connection) a request acts for comes from
//! the token alone.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::HookError;
use crate::secret::{SecretString, ct_eq, random_token, sha256_hex};
use crate::types::{ConnectionId, TenantId};

/// Most live tokens per tenant (the current one and its replacement).
pub const MAX_LIVE_TOKENS: usize = 2;

/// The prefix of every issued token.
pub const TOKEN_PREFIX: &str = "ssokit_scim_";

/// The public id of a token: safe to show and log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(String);

impl TokenId {
    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn of_hash(hash: &str) -> Self {
        Self(hash[..16].to_owned())
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored token: everything but the secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenRecord {
    /// The public id.
    pub id: TokenId,
    /// The tenant the token acts for.
    pub tenant: TenantId,
    /// The connection (IdP) the token belongs to, if bound to one: SCIM users
    /// it creates get that connection's template and are matched to that
    /// connection's SSO logins.
    pub connection: Option<ConnectionId>,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// When it was issued.
    pub created_at: SystemTime,
    /// A label for administrators ("Entra production").
    pub label: String,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("connection", &self.connection)
            .field("created_at", &self.created_at)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Where token records are kept (the host's database).
#[async_trait]
pub trait ScimTokenStore: Send + Sync {
    /// Inserts a record if the tenant has fewer than `max_live` tokens, atomically.
    /// Returns whether it was inserted.
    async fn insert(&self, record: TokenRecord, max_live: usize) -> Result<bool, HookError>;
    /// A record by id.
    async fn get(&self, id: &TokenId) -> Result<Option<TokenRecord>, HookError>;
    /// Every record of a tenant.
    async fn list(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, HookError>;
    /// Deletes a record of `tenant`; returns whether it existed.
    async fn remove(&self, tenant: &TenantId, id: &TokenId) -> Result<bool, HookError>;
}

/// An in-memory [`ScimTokenStore`]. Clones share the records.
#[derive(Clone, Default)]
pub struct MemoryTokenStore {
    records: Arc<Mutex<HashMap<TokenId, TokenRecord>>>,
}

impl fmt::Debug for MemoryTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryTokenStore")
            .field("tokens", &self.lock().len())
            .finish()
    }
}

impl MemoryTokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<TokenId, TokenRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl ScimTokenStore for MemoryTokenStore {
    async fn insert(&self, record: TokenRecord, max_live: usize) -> Result<bool, HookError> {
        let mut m = self.lock();
        let live = m.values().filter(|r| r.tenant == record.tenant).count();
        if live >= max_live || m.contains_key(&record.id) {
            return Ok(false);
        }
        m.insert(record.id.clone(), record);
        Ok(true)
    }

    async fn get(&self, id: &TokenId) -> Result<Option<TokenRecord>, HookError> {
        Ok(self.lock().get(id).cloned())
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, HookError> {
        let mut v: Vec<_> = self
            .lock()
            .values()
            .filter(|r| &r.tenant == tenant)
            .cloned()
            .collect();
        v.sort_by_key(|r| r.created_at);
        Ok(v)
    }

    async fn remove(&self, tenant: &TenantId, id: &TokenId) -> Result<bool, HookError> {
        let mut m = self.lock();
        if m.get(id).is_some_and(|r| &r.tenant == tenant) {
            m.remove(id);
            return Ok(true);
        }
        Ok(false)
    }
}

/// A newly issued token. The secret is shown once: hand it to the
/// administrator, never store it.
#[derive(Debug)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The public id (for listing and revoking).
    pub id: TokenId,
    /// The bearer token (`Debug` redacts it).
    pub secret: SecretString,
}

/// Why a token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The tenant already has [`MAX_LIVE_TOKENS`] tokens: revoke one first.
    TooManyTokens,
    /// The token is too short to be safe (registering an existing secret).
    TooWeak,
    /// The store failed.
    Store(HookError),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooManyTokens => write!(
                f,
                "the tenant already has {MAX_LIVE_TOKENS} SCIM tokens; revoke the old one first"
            ),
            Self::TooWeak => f.write_str("a SCIM token must be at least 32 characters long"),
            Self::Store(e) => write!(f, "token store: {e}"),
        }
    }
}

impl std::error::Error for TokenError {}

/// Who a valid token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimPrincipal {
    /// The tenant.
    pub tenant: TenantId,
    /// The connection the token is bound to, if any.
    pub connection: Option<ConnectionId>,
    /// The token's id (for audit logs).
    pub token: TokenId,
}

/// Issues, lists, revokes and verifies SCIM tokens. Clones share the store.
#[derive(Clone)]
pub struct ScimTokens {
    store: Arc<dyn ScimTokenStore>,
}

impl fmt::Debug for ScimTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimTokens").finish_non_exhaustive()
    }
}

impl Default for ScimTokens {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl ScimTokens {
    /// Tokens kept in the host's store.
    pub fn new(store: Arc<dyn ScimTokenStore>) -> Self {
        Self { store }
    }

    /// Tokens kept in memory (one process; tests and demos).
    pub fn in_memory() -> Self {
        Self::new(Arc::new(MemoryTokenStore::new()))
    }

    /// Issues a token for `tenant`, optionally bound to a connection.
    ///
    /// # Errors
    /// [`TokenError::TooManyTokens`] when the tenant has [`MAX_LIVE_TOKENS`] already.
    pub async fn issue(
        &self,
        tenant: &TenantId,
        connection: Option<ConnectionId>,
        label: &str,
        now: SystemTime,
    ) -> Result<IssuedToken, TokenError> {
        let secret = SecretString::new(format!("{TOKEN_PREFIX}{}", random_token(32)));
        let id = self
            .store_secret(tenant, connection, label, &secret, now)
            .await?;
        Ok(IssuedToken { id, secret })
    }

    /// Registers a secret the host already has (e.g. a demo's configured
    /// token, or one migrated from another system), stored hashed like an
    /// issued one. At least 32 characters.
    ///
    /// # Errors
    /// [`TokenError::TooWeak`], [`TokenError::TooManyTokens`].
    pub async fn register(
        &self,
        tenant: &TenantId,
        connection: Option<ConnectionId>,
        label: &str,
        secret: &SecretString,
        now: SystemTime,
    ) -> Result<TokenId, TokenError> {
        if secret.expose().len() < 32 {
            return Err(TokenError::TooWeak);
        }
        self.store_secret(tenant, connection, label, secret, now)
            .await
    }

    async fn store_secret(
        &self,
        tenant: &TenantId,
        connection: Option<ConnectionId>,
        label: &str,
        secret: &SecretString,
        now: SystemTime,
    ) -> Result<TokenId, TokenError> {
        let hash = sha256_hex(secret.expose().as_bytes());
        let id = TokenId::of_hash(&hash);
        let record = TokenRecord {
            id: id.clone(),
            tenant: tenant.clone(),
            connection,
            hash,
            created_at: now,
            label: label.to_owned(),
        };
        if self
            .store
            .insert(record, MAX_LIVE_TOKENS)
            .await
            .map_err(TokenError::Store)?
        {
            Ok(id)
        } else {
            Err(TokenError::TooManyTokens)
        }
    }

    /// The tenant's tokens (without secrets), oldest first.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, HookError> {
        self.store.list(tenant).await
    }

    /// Revokes a token of `tenant`; returns whether it existed. Takes effect
    /// on the next request.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn revoke(&self, tenant: &TenantId, id: &TokenId) -> Result<bool, HookError> {
        self.store.remove(tenant, id).await
    }

    /// Who `presented` acts for, if it is a live token.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn verify(&self, presented: &str) -> Result<Option<ScimPrincipal>, HookError> {
        if presented.is_empty() || presented.len() > 512 {
            return Ok(None);
        }
        let hash = sha256_hex(presented.as_bytes());
        let id = TokenId::of_hash(&hash);
        let Some(rec) = self.store.get(&id).await? else {
            return Ok(None);
        };
        if !ct_eq(rec.hash.as_bytes(), hash.as_bytes()) {
            return Ok(None);
        }
        Ok(Some(ScimPrincipal {
            tenant: rec.tenant,
            connection: rec.connection,
            token: rec.id,
        }))
    }
}

/// A per-tenant token bucket on the injected clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second (Entra's gallery bar is 25).
    pub per_second: f64,
    /// Burst size.
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 50.0,
            burst: 200.0,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: SystemTime,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    buckets: Mutex<HashMap<TenantId, Bucket>>,
}

impl RateLimiter {
    /// Takes one request from the tenant's bucket; `Err(seconds to wait)` when empty.
    pub(crate) fn take(
        &self,
        limit: &RateLimit,
        tenant: &TenantId,
        now: SystemTime,
    ) -> Result<(), u64> {
        let mut m = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() > 100_000 {
            m.retain(|_, b| {
                now.duration_since(b.at).unwrap_or_default() < Duration::from_secs(3600)
            });
        }
        let b = m.entry(tenant.clone()).or_insert(Bucket {
            tokens: limit.burst,
            at: now,
        });
        let elapsed = now.duration_since(b.at).unwrap_or_default().as_secs_f64();
        b.tokens = (b.tokens + elapsed * limit.per_second).min(limit.burst);
        b.at = b.at.max(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / limit.per_second.max(f64::MIN_POSITIVE)).ceil();
            Err((wait as u64).max(1))
        }
    }
}
