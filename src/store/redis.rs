//! [`FlowStore`] on Redis: one store shared by every instance of the host
//! application, so a login begun on one instance completes on another and a
//! replayed callback, link or assertion is refused everywhere.
//!
//! - take-once is `GETDEL` (atomic in Redis; needs Redis ≥ 6.2);
//! - insert-if-absent is `SET … NX PX`;
//! - expiry is Redis's own TTL (`PX`);
//! - every key is prefixed per deployment (`{prefix}:`) and, below that,
//!   namespaced per tenant by ssokit (`ssokit:{tenant}:{kind}:{hash}`);
//! - connections are re-established automatically; every command has a
//!   bounded timeout, so a slow or absent Redis gives a clear
//!   [`StoreError`], never a hang.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::FlowStore;
use crate::error::StoreError;

/// Settings of a [`RedisFlowStore`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisSettings {
    /// `redis://host:port/db` (or `rediss://` for TLS where the redis crate supports it).
    pub url: String,
    /// Prepended to every key (`{prefix}:…`), one per deployment.
    pub prefix: String,
    /// Bound on establishing a connection. Default 2 s.
    pub connect_timeout: Duration,
    /// Bound on each command. Default 3 s.
    pub response_timeout: Duration,
}

impl RedisSettings {
    /// Defaults for `url` with the prefix `ssokit`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "ssokit".to_owned(),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(3),
        }
    }

    /// Sets the deployment prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the per-command timeout.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
}

/// A [`FlowStore`] on Redis.
#[derive(Clone)]
pub struct RedisFlowStore {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisFlowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFlowStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connection_refusal() || e.is_connection_dropped() || e.is_io_error() {
        "is unreachable"
    } else {
        "failed"
    };
    StoreError::new(format!(
        "Redis {what}; logins in progress cannot continue until it is back"
    ))
}

impl RedisFlowStore {
    /// Connects (within `connect_timeout`). Fails with a clear error when
    /// Redis is unreachable, so a misconfigured deployment does not start.
    pub async fn connect(settings: RedisSettings) -> Result<Self, StoreError> {
        if settings.prefix.is_empty() || settings.prefix.contains(char::is_whitespace) {
            return Err(StoreError::new(
                "the Redis key prefix must be a non-empty word",
            ));
        }
        let client = redis::Client::open(settings.url.as_str()).map_err(|_| {
            StoreError::new("the Redis URL is not valid (expected redis://host:port)")
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.response_timeout))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            settings.connect_timeout + Duration::from_millis(500),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| StoreError::new("connecting to Redis timed out"))?
        .map_err(|e| StoreError::new(format!("cannot connect to Redis: {}", unavailable(e))))?;
        Ok(Self {
            conn,
            prefix: settings.prefix,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    /// Checks that Redis answers (for health endpoints).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl FlowStore for RedisFlowStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn.clone();
        c.get_del::<_, Option<Vec<u8>>>(self.key(key))
            .await
            .map_err(unavailable)
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        let key = self.key(key);
        // INCR then PEXPIRE NX, in one transaction: the TTL is set once, at creation.
        let (count, _): (u64, i64) = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg(&key)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl_ms(ttl))
            .arg("NX")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(count)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn.clone();
        c.get::<_, Option<Vec<u8>>>(self.key(key))
            .await
            .map_err(unavailable)
    }

    async fn insert_if_absent(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl))
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(set.is_some())
    }
}
