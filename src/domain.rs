//! Domain ownership: a tenant proves it owns an e-mail domain by publishing a
//! DNS TXT record. Only verified domains route logins to the tenant
//! (home-realm discovery) and admit profile e-mails.
//!
//! ```text
//! let challenge = verifier.issue(&tenant, "acme.com")?;      // show the record to the admin
//! // admin publishes: _ssokit-challenge.acme.com TXT "ssokit-domain-verification=…"
//! verifier.check(&challenge, &resolver).await?;              // then mark the domain verified
//! ```
//!
//! The host stores the challenge (nothing in it is secret: it is published
//! in DNS) and, once [`DomainVerifier::check`] succeeds, adds the domain to
//! the tenant's `domains`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::discovery::is_consumer_domain;
use crate::error::HookError;
use crate::secret::random_token;
use crate::types::TenantId;

/// Looks up DNS TXT records.
#[async_trait]
pub trait TxtResolver: Send + Sync {
    /// The TXT records at `name` (each record's strings joined), or none.
    async fn txt(&self, name: &str) -> Result<Vec<String>, HookError>;
}

/// An in-memory [`TxtResolver`] for tests and demos. Clones share records.
#[derive(Clone, Default, Debug)]
pub struct MemoryResolver {
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl MemoryResolver {
    /// No records.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes a TXT record.
    pub fn publish(&self, name: &str, value: &str) {
        self.records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.to_owned());
    }
}

#[async_trait]
impl TxtResolver for MemoryResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, HookError> {
        Ok(self
            .records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default())
    }
}

/// A pending domain-ownership challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainChallenge {
    /// The tenant claiming the domain.
    pub tenant: TenantId,
    /// The domain (lower case).
    pub domain: String,
    /// The DNS name to publish the TXT record at.
    pub record_name: String,
    /// The TXT record's exact value.
    pub record_value: String,
    /// After this the challenge must be issued again.
    pub expires_at: SystemTime,
}

/// Why a domain could not be verified.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainError {
    /// Not a syntactically valid domain name.
    InvalidDomain,
    /// A consumer mail domain, which no tenant may own.
    ConsumerDomain,
    /// The challenge expired; issue a new one.
    Expired,
    /// The TXT record is not (yet) published.
    RecordNotFound,
    /// The resolver failed.
    Resolver(HookError),
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidDomain => f.write_str("that is not a valid domain name"),
            Self::ConsumerDomain => f.write_str("consumer mail domains cannot be verified"),
            Self::Expired => f.write_str("the challenge expired; start the verification again"),
            Self::RecordNotFound => f.write_str(
                "the TXT record was not found; publish it and try again (DNS changes can take a while)",
            ),
            Self::Resolver(e) => write!(f, "DNS lookup failed: {e}"),
        }
    }
}

impl std::error::Error for DomainError {}

/// Issues and checks domain-ownership challenges.
pub struct DomainVerifier {
    clock: Arc<dyn Clock>,
    validity: Duration,
}

impl fmt::Debug for DomainVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainVerifier")
            .field("validity", &self.validity)
            .finish()
    }
}

/// Whether `d` is a plausible DNS domain name (LDH labels, at least two).
fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

impl DomainVerifier {
    /// Challenges valid for 7 days.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            validity: Duration::from_secs(7 * 24 * 3600),
        }
    }

    /// Sets how long a challenge stays valid.
    pub fn validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self
    }

    /// A new challenge for `tenant` to prove it owns `domain`.
    pub fn issue(&self, tenant: &TenantId, domain: &str) -> Result<DomainChallenge, DomainError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(DomainError::InvalidDomain);
        }
        if is_consumer_domain(&domain) {
            return Err(DomainError::ConsumerDomain);
        }
        Ok(DomainChallenge {
            tenant: tenant.clone(),
            record_name: format!("_ssokit-challenge.{domain}"),
            record_value: format!("ssokit-domain-verification={}", random_token(24)),
            domain,
            expires_at: self.clock.now() + self.validity,
        })
    }

    /// Checks that the challenge's TXT record is published (exactly).
    pub async fn check(
        &self,
        challenge: &DomainChallenge,
        resolver: &dyn TxtResolver,
    ) -> Result<(), DomainError> {
        if self.clock.now() >= challenge.expires_at {
            return Err(DomainError::Expired);
        }
        let records = resolver
            .txt(&challenge.record_name)
            .await
            .map_err(DomainError::Resolver)?;
        if records.iter().any(|r| r.trim() == challenge.record_value) {
            Ok(())
        } else {
            Err(DomainError::RecordNotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[tokio::test]
    async fn challenge_round_trip() {
        let clock = ManualClock::starting_now();
        let v = DomainVerifier::new(Arc::new(clock.clone()));
        let dns = MemoryResolver::new();
        let c = v.issue(&"acme".into(), "Acme.COM.").unwrap();
        assert_eq!(c.domain, "acme.com");
        assert_eq!(v.check(&c, &dns).await, Err(DomainError::RecordNotFound));
        // Another tenant's record for the same domain does not count.
        let other = v.issue(&"evil".into(), "acme.com").unwrap();
        dns.publish(&other.record_name, &other.record_value);
        assert_eq!(v.check(&c, &dns).await, Err(DomainError::RecordNotFound));
        dns.publish(&c.record_name, &c.record_value);
        assert_eq!(v.check(&c, &dns).await, Ok(()));
        clock.advance(Duration::from_secs(8 * 24 * 3600));
        assert_eq!(v.check(&c, &dns).await, Err(DomainError::Expired));
    }

    #[test]
    fn bad_domains_are_refused() {
        let v = DomainVerifier::new(Arc::new(ManualClock::starting_now()));
        for d in [
            "",
            "localhost",
            "a..b",
            "-a.com",
            "a b.com",
            "x.com/evil",
            &"a".repeat(300),
        ] {
            assert_eq!(
                v.issue(&"t".into(), d),
                Err(DomainError::InvalidDomain),
                "{d}"
            );
        }
        assert_eq!(
            v.issue(&"t".into(), "gmail.com"),
            Err(DomainError::ConsumerDomain)
        );
    }
}
