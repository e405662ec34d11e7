//! Identifiers and the values that flow between the layers.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_id!(
    /// A customer organisation of the host application. Everything is scoped by it.
    TenantId
);
string_id!(
    /// One configured identity-provider connection of a tenant.
    ConnectionId
);
string_id!(
    /// The host application's own identifier of a local user.
    UserId
);
string_id!(
    /// Correlates one login attempt across outcomes, events and error pages.
    /// Safe to show to users and to put in logs.
    TraceId
);

impl TraceId {
    /// A fresh random trace id (96 bits, base64url).
    pub fn random() -> Self {
        Self(crate::secret::random_token(12))
    }
}

/// The stable key of an external identity: the connection it came through and
/// the IdP's stable subject for the person (OIDC `sub`, Entra `tid`/`oid`,
/// a SAML persistent NameID or configured attribute). Never an e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdentityKey {
    /// The connection the identity signed in through.
    pub connection: ConnectionId,
    /// The IdP's stable, non-reassignable subject identifier.
    pub subject: String,
}

/// What the IdP says about the person, after the protocol adapter verified it.
///
/// Only the adapter fills this in, from verified bytes. An e-mail address here
/// is a claim, not a proof: it is used for routing a link offer and for
/// domain admission only when [`Profile::email_verified`] is true.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The e-mail address the IdP asserted, if any.
    pub email: Option<String>,
    /// Whether the IdP asserted that it verified the e-mail address.
    pub email_verified: bool,
    /// Display name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Group names or ids the IdP sent (used for admission and role mapping).
    pub groups: Vec<String>,
    /// The IdP left groups out (Entra's group overage): `groups` is not the
    /// whole list. Admission that depends on groups fails closed unless a
    /// [`GroupLookup`](crate::hooks::GroupLookup) hook completes them.
    #[serde(default)]
    pub groups_incomplete: bool,
}

impl Profile {
    /// The e-mail address if, and only if, the IdP asserted it verified.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }
}

/// An identity an adapter has verified: the only input account resolution trusts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedIdentity {
    /// The stable key of the identity.
    pub key: IdentityKey,
    /// The issuer that vouched for it (OIDC `iss`, SAML IdP entity id).
    pub issuer: String,
    /// The profile claims.
    pub profile: Profile,
}

/// A user of the host application, as the [`UserDirectory`](crate::hooks::UserDirectory) reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalUser {
    /// The host's id of the user.
    pub id: UserId,
    /// The tenant the user belongs to.
    pub tenant: TenantId,
    /// The user's e-mail address in the host application (the address link
    /// confirmations are sent to).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Disabled users never sign in, and SSO never reactivates them.
    pub active: bool,
    /// The user's role in the host application.
    pub role: Option<String>,
    /// The host's groups of the user.
    pub groups: Vec<String>,
    /// Other attributes the host keeps.
    pub attributes: BTreeMap<String, String>,
}

/// Normalises an e-mail address for comparison: surrounding white space
/// removed, Unicode NFC, lower case. `Ann@Acme.test ` and `ann@acme.test`
/// (and a decomposed `é` and a precomposed one) normalise alike. Hosts
/// that store a comparison key for e-mails should store this.
pub fn normalize_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    email.trim().to_lowercase().nfc().collect()
}

/// The domain part of an e-mail address, normalised; `None` when the address
/// is not of the form `local@domain`.
pub fn email_domain(email: &str) -> Option<String> {
    let email = email.trim();
    let (local, domain) = email.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains(['@', ' ', '/', '\\']) {
        return None;
    }
    Some(domain.trim_end_matches('.').to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_normalisation_folds_case_space_and_unicode_forms() {
        assert_eq!(
            normalize_email("Ann@Acme.test "),
            normalize_email("ann@acme.test")
        );
        assert_eq!(
            normalize_email("re\u{301}my@acme.test"),
            normalize_email("R\u{e9}MY@acme.test")
        );
        assert_ne!(
            normalize_email("ann@acme.test"),
            normalize_email("anne@acme.test")
        );
    }

    #[test]
    fn email_domain_parses() {
        assert_eq!(email_domain(" Ann@Acme.Test "), Some("acme.test".into()));
        assert_eq!(email_domain("ann@"), None);
        assert_eq!(email_domain("@acme.test"), None);
        assert_eq!(email_domain("nodomain"), None);
    }

    #[test]
    fn verified_email_needs_the_flag() {
        let mut p = Profile {
            email: Some("a@b.test".into()),
            ..Profile::default()
        };
        assert_eq!(p.verified_email(), None);
        p.email_verified = true;
        assert_eq!(p.verified_email(), Some("a@b.test"));
    }
}
