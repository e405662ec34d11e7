//! Home-realm discovery: from what the user typed (an e-mail address), the
//! host name they came through (a tenant subdomain) or an explicit connection
//! id, to the connection that should authenticate them.
//!
//! An e-mail domain routes only to the tenant that verified it; consumer mail
//! domains never route.

use std::sync::Arc;

use crate::connection::{Connection, ConnectionStore};
use crate::error::{BadRequest, Error};
use crate::types::{ConnectionId, email_domain};

/// What the user gave us to find their identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginHint {
    /// The e-mail address typed on the login page.
    Email(String),
    /// The tenant's subdomain label the request arrived on (`acme` for
    /// `acme.app.example`).
    Subdomain(String),
    /// An explicit connection id (a connection chooser, an admin link).
    Connection(ConnectionId),
}

/// The result of discovery.
#[derive(Debug, Clone)]
pub enum Discovered {
    /// Exactly one enabled connection matched.
    One(Arc<Connection>),
    /// Several enabled connections matched; let the user choose.
    Choose(Vec<Arc<Connection>>),
}

/// Mail providers anyone can get an address at. They are never a tenant's
/// verified domain and never route.
const CONSUMER_DOMAINS: &[&str] = &[
    "163.com",
    "aim.com",
    "aol.com",
    "fastmail.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hey.com",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.fr",
    "icloud.com",
    "inbox.com",
    "live.com",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "outlook.com",
    "outlook.de",
    "pm.me",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "rocketmail.com",
    "t-online.de",
    "tutanota.com",
    "web.de",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.de",
    "yahoo.fr",
    "yandex.com",
    "yandex.ru",
    "ymail.com",
    "zoho.com",
];

/// Whether `domain` belongs to a consumer mail provider.
pub fn is_consumer_domain(domain: &str) -> bool {
    let d = domain.trim_end_matches('.').to_ascii_lowercase();
    CONSUMER_DOMAINS.binary_search(&d.as_str()).is_ok()
}

/// Finds the connection(s) for a hint. Only enabled connections route.
pub async fn discover(store: &dyn ConnectionStore, hint: &LoginHint) -> Result<Discovered, Error> {
    let tenant = match hint {
        LoginHint::Connection(id) => {
            let conn = store
                .connection(id)
                .await?
                .ok_or(BadRequest::NoConnection)?;
            if !conn.enabled {
                return Err(BadRequest::ConnectionDisabled.into());
            }
            return Ok(Discovered::One(conn));
        }
        LoginHint::Email(email) => {
            if email.len() > 320 {
                return Err(BadRequest::TooLarge("email").into());
            }
            let domain = email_domain(email).ok_or(BadRequest::InvalidEmail)?;
            if is_consumer_domain(&domain) {
                return Err(BadRequest::ConsumerDomain.into());
            }
            store.tenant_by_domain(&domain).await?
        }
        LoginHint::Subdomain(label) => {
            let label = label.to_ascii_lowercase();
            if label.is_empty() || label.len() > 63 {
                return Err(BadRequest::Malformed("subdomain").into());
            }
            store.tenant_by_subdomain(&label).await?
        }
    };
    let tenant = tenant.ok_or(BadRequest::NoConnection)?;
    let mut enabled: Vec<_> = store
        .connections_of(&tenant.id)
        .await?
        .into_iter()
        .filter(|c| c.enabled && c.tenant == tenant.id)
        .collect();
    match enabled.len() {
        0 => Err(BadRequest::NoConnection.into()),
        1 => Ok(Discovered::One(enabled.remove(0))),
        _ => Ok(Discovered::Choose(enabled)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_list_is_sorted_for_binary_search() {
        let mut sorted = CONSUMER_DOMAINS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, CONSUMER_DOMAINS);
        assert!(is_consumer_domain("Gmail.com"));
        assert!(is_consumer_domain("outlook.com."));
        assert!(!is_consumer_domain("acme.test"));
    }
}
