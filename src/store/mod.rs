//! The flow store: short-lived, single-use state shared by every instance of
//! the host application (pending logins, link offers, link tickets).
//!
//! Values are opaque bytes; keys are built by ssokit from SHA-256 hashes of
//! the random handles the browser holds, so a dump of the store reveals no
//! usable token.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::time::Duration;

use async_trait::async_trait;

pub use memory::MemoryFlowStore;
#[cfg(feature = "redis")]
pub use redis::{RedisFlowStore, RedisSettings};

use crate::error::StoreError;

/// Storage for single-use flow state.
///
/// `take` must be atomic: of two concurrent `take`s of one key, at most one
/// gets the value (this is what makes callbacks and links single use across
/// a fleet).
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Stores `value` under `key` for at most `ttl`, replacing any previous value.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;

    /// Removes and returns the value under `key`, atomically.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Returns the value under `key` without removing it.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Records `key` for `ttl` if it is not present; returns `false` when it
    /// already was (a replay).
    async fn insert_if_absent(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Adds one to the counter under `key` (created at 1, expiring `ttl`
    /// after its creation) and returns the new count, atomically: fixed-window
    /// rate limits shared by every instance.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, StoreError>;
}
