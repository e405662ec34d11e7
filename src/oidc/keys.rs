//! Caches for provider metadata and signing keys.
//!
//! The rules (per cache key — a JWKS URL or an issuer):
//! - a cached value younger than [`KeyCachePolicy::max_age`] is used as is;
//! - a forced refresh (an ID token names an unknown `kid`) or an expired
//!   value triggers a fetch, at most once per
//!   [`KeyCachePolicy::min_refresh_interval`];
//! - when a fetch fails, the last good value is kept and used;
//! - with nothing cached, every request may try a fetch.
//!
//! Time is the injected clock's, so these rules are tested without sleeping.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use url::Url;

use super::jwt::JwkSet;
use crate::error::{Error, IdpError};
use crate::http::HttpClient;

/// How long keys and metadata are cached, and how often they may be refetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCachePolicy {
    /// Refetch values older than this. Default 24 hours.
    pub max_age: Duration,
    /// Never refetch one key more often than this. Default 5 minutes.
    pub min_refresh_interval: Duration,
}

impl Default for KeyCachePolicy {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(24 * 3600),
            min_refresh_interval: Duration::from_secs(300),
        }
    }
}

struct Entry<T> {
    value: Option<Arc<T>>,
    fetched_at: SystemTime,
    last_attempt: SystemTime,
}

/// A cache of fetched values with the refresh rules above.
pub(crate) struct Cached<T> {
    policy: KeyCachePolicy,
    entries: Mutex<HashMap<String, Entry<T>>>,
}

enum Plan<T> {
    Use(Arc<T>),
    Fetch(Option<Arc<T>>),
    /// Invalidated by an administrator: fetch, and never fall back to the old value.
    FetchStrict,
}

impl<T> Cached<T> {
    pub(crate) fn new(policy: KeyCachePolicy) -> Self {
        Self {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn plan(
        &self,
        key: &str,
        now: SystemTime,
        force: bool,
        not_before: Option<SystemTime>,
    ) -> Plan<T> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(key.to_owned()).or_insert(Entry {
            value: None,
            fetched_at: SystemTime::UNIX_EPOCH,
            last_attempt: SystemTime::UNIX_EPOCH,
        });
        let Some(value) = entry.value.clone() else {
            entry.last_attempt = now;
            return Plan::Fetch(None);
        };
        if not_before.is_some_and(|nb| entry.fetched_at < nb) {
            entry.last_attempt = now;
            return Plan::FetchStrict;
        }
        let fresh = now < entry.fetched_at + self.policy.max_age;
        if fresh && !force {
            return Plan::Use(value);
        }
        if now < entry.last_attempt + self.policy.min_refresh_interval {
            return Plan::Use(value);
        }
        entry.last_attempt = now;
        Plan::Fetch(Some(value))
    }

    /// The value under `key`, fetched with `fetch` when the rules say so.
    /// A value fetched before `not_before` (an invalidation) is never used.
    pub(crate) async fn get<F, Fut>(
        &self,
        key: &str,
        now: SystemTime,
        force: bool,
        not_before: Option<SystemTime>,
        fetch: F,
    ) -> Result<Arc<T>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let previous = match self.plan(key, now, force, not_before) {
            Plan::Use(v) => return Ok(v),
            Plan::Fetch(previous) => previous,
            Plan::FetchStrict => None,
        };
        match fetch().await {
            Ok(value) => {
                let value = Arc::new(value);
                let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(entry) = entries.get_mut(key) {
                    entry.value = Some(value.clone());
                    entry.fetched_at = now;
                }
                Ok(value)
            }
            Err(e) => match previous {
                Some(last_good) => {
                    tracing::warn!(target: "ssokit::oidc", key, error = %e, "refresh failed; keeping the last good value");
                    Ok(last_good)
                }
                None => Err(e),
            },
        }
    }
}

/// Signing keys per JWKS URL.
pub(crate) struct KeyCache {
    cache: Cached<JwkSet>,
}

impl KeyCache {
    pub(crate) fn new(policy: KeyCachePolicy) -> Self {
        Self {
            cache: Cached::new(policy),
        }
    }

    pub(crate) async fn get(
        &self,
        http: &dyn HttpClient,
        jwks_uri: &Url,
        now: SystemTime,
        force: bool,
        not_before: Option<SystemTime>,
    ) -> Result<Arc<JwkSet>, Error> {
        self.cache
            .get(jwks_uri.as_str(), now, force, not_before, || {
                fetch_jwks(http, jwks_uri)
            })
            .await
    }
}

async fn fetch_jwks(http: &dyn HttpClient, jwks_uri: &Url) -> Result<JwkSet, Error> {
    let resp = super::fetch(http, super::get(jwks_uri)).await?;
    if !resp.status().is_success() {
        return Err(IdpError::Discovery(format!(
            "the JWKS endpoint answered HTTP {}",
            resp.status().as_u16()
        ))
        .into());
    }
    let keys = JwkSet::from_json(resp.body())
        .map_err(|_| IdpError::Discovery("the JWKS document is not valid".into()))?;
    if keys.is_empty() {
        return Err(
            IdpError::Discovery("the JWKS document has no usable signing key".into()).into(),
        );
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[tokio::test]
    async fn refresh_rules() {
        let cache: Cached<u32> = Cached::new(KeyCachePolicy::default());
        let calls = AtomicUsize::new(0);
        let ok = |v: u32| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Error>(v) }
        };
        let down = || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<u32, _>(Error::from(IdpError::Http("down".into()))) }
        };
        assert_eq!(
            *cache.get("k", t(0), false, None, || ok(1)).await.unwrap(),
            1
        );
        // Fresh: no fetch, even when forced within the interval.
        assert_eq!(
            *cache.get("k", t(10), false, None, || ok(2)).await.unwrap(),
            1
        );
        assert_eq!(
            *cache.get("k", t(20), true, None, || ok(2)).await.unwrap(),
            1
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Forced after the interval: fetches.
        assert_eq!(
            *cache.get("k", t(301), true, None, || ok(2)).await.unwrap(),
            2
        );
        // Provider down: the last good value is kept.
        assert_eq!(*cache.get("k", t(700), true, None, down).await.unwrap(), 2);
        // Expired and down: still the last good value.
        assert_eq!(
            *cache.get("k", t(200_000), false, None, down).await.unwrap(),
            2
        );
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Invalidated: refetched at once, and the old value is never used again.
        assert_eq!(
            *cache
                .get("k", t(200_010), false, Some(t(200_005)), || ok(3))
                .await
                .unwrap(),
            3
        );
        assert!(
            cache
                .get("k", t(200_020), false, Some(t(200_015)), down)
                .await
                .is_err()
        );
        // Nothing cached and down: the error.
        assert!(cache.get("other", t(0), false, None, down).await.is_err());
    }
}
