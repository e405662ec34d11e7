use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;

use super::FlowStore;
use crate::error::StoreError;

#[derive(Clone)]
struct Entry {
    value: Arc<[u8]>,
    ttl: Duration,
    expires: Instant,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// An in-process [`FlowStore`] on a moka cache: for one instance. A fleet of
/// instances needs a shared store.
///
/// Entries leave the cache after their TTL (wall clock); ssokit also checks
/// each entry's own expiry against the injected clock.
#[derive(Clone)]
pub struct MemoryFlowStore {
    cache: Cache<String, Entry>,
    counters: Arc<std::sync::Mutex<std::collections::HashMap<String, (u64, Instant)>>>,
}

impl MemoryFlowStore {
    /// A store holding at most `capacity` entries (the oldest are evicted first).
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build(),
            counters: Arc::default(),
        }
    }

    /// A store holding up to one million entries.
    pub fn new() -> Self {
        Self::with_capacity(1_000_000)
    }
}

impl Default for MemoryFlowStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryFlowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryFlowStore")
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

#[async_trait]
impl FlowStore for MemoryFlowStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.cache
            .insert(
                key.to_owned(),
                Entry {
                    value: value.into(),
                    ttl,
                    expires: Instant::now() + ttl,
                },
            )
            .await;
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        // moka may hand out an entry whose TTL passed but which it has not
        // evicted yet: an expired entry is gone.
        Ok(self
            .cache
            .remove(key)
            .await
            .filter(|e| Instant::now() < e.expires)
            .map(|e| e.value.to_vec()))
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        let now = Instant::now();
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        if counters.len() > 100_000 {
            counters.retain(|_, (_, expires)| *expires > now);
        }
        let entry = counters.entry(key.to_owned()).or_insert((0, now + ttl));
        if entry.1 <= now {
            *entry = (0, now + ttl);
        }
        entry.0 += 1;
        Ok(entry.0)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .cache
            .get(key)
            .await
            .filter(|e| Instant::now() < e.expires)
            .map(|e| e.value.to_vec()))
    }

    async fn insert_if_absent(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let entry = self
            .cache
            .entry(key.to_owned())
            .or_insert(Entry {
                value: Arc::from(&[][..]),
                ttl,
                expires: Instant::now() + ttl,
            })
            .await;
        if entry.is_fresh() {
            return Ok(true);
        }
        if Instant::now() >= entry.value().expires {
            // Expired but not yet evicted: replace it, atomically per key.
            self.cache.invalidate(key).await;
            return Ok(self
                .cache
                .entry(key.to_owned())
                .or_insert(Entry {
                    value: Arc::from(&[][..]),
                    ttl,
                    expires: Instant::now() + ttl,
                })
                .await
                .is_fresh());
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn take_is_single_use() {
        let s = MemoryFlowStore::new();
        s.put("k", b"v".to_vec(), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(s.take("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        assert_eq!(s.take("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn concurrent_takes_yield_one_winner() {
        let s = MemoryFlowStore::new();
        for round in 0..50 {
            let key = format!("k{round}");
            s.put(&key, b"v".to_vec(), Duration::from_secs(60))
                .await
                .unwrap();
            let mut handles = Vec::new();
            for _ in 0..8 {
                let s = s.clone();
                let key = key.clone();
                handles.push(tokio::spawn(async move { s.take(&key).await.unwrap() }));
            }
            let mut winners = 0;
            for h in handles {
                if h.await.unwrap().is_some() {
                    winners += 1;
                }
            }
            assert_eq!(winners, 1, "round {round}");
        }
    }

    #[tokio::test]
    async fn insert_if_absent_detects_replays() {
        let s = MemoryFlowStore::new();
        assert!(
            s.insert_if_absent("a", Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert!(
            !s.insert_if_absent("a", Duration::from_secs(60))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn entries_expire() {
        let s = MemoryFlowStore::new();
        s.put("k", b"v".to_vec(), Duration::from_millis(20))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(s.take("k").await.unwrap(), None);
    }
}
