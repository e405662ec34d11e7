//! Policy: who is admitted, and which local account an identity resolves to.
//! Pure functions of their inputs: no IO, no clock.

use crate::connection::{Connection, Tenant};
use crate::hooks::NewUser;
use crate::types::{LocalUser, VerifiedIdentity, email_domain};

/// Why a login was refused after the IdP authenticated the user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// The connection is disabled.
    ConnectionDisabled,
    /// The identity is in none of the connection's allowed groups.
    GroupNotAllowed,
    /// The profile's e-mail is not in a domain the tenant verified.
    EmailDomainNotOwned,
    /// The local user is disabled.
    UserInactive,
    /// Several local users have the identity's e-mail; an admin must make
    /// e-mails unique before this user can sign in.
    DuplicateEmail,
    /// No local user matches and the connection does not create users.
    NotProvisioned,
    /// The linked user belongs to another tenant than the connection.
    TenantMismatch,
    /// The IdP left groups out (Entra group overage), the connection decides
    /// by groups, and no group-lookup hook completed them.
    GroupsOverage,
    /// The connection is in a phased rollout that does not include the user yet.
    NotInRollout,
}

impl DenyReason {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ConnectionDisabled => "connection_disabled",
            Self::GroupNotAllowed => "group_not_allowed",
            Self::EmailDomainNotOwned => "email_domain_not_owned",
            Self::UserInactive => "user_inactive",
            Self::DuplicateEmail => "duplicate_email",
            Self::NotProvisioned => "not_provisioned",
            Self::TenantMismatch => "tenant_mismatch",
            Self::GroupsOverage => "groups_overage",
            Self::NotInRollout => "not_in_rollout",
        }
    }

    /// A message for the user.
    pub fn message(&self) -> &'static str {
        match self {
            Self::ConnectionDisabled => "Single sign-on is disabled for your organisation.",
            Self::GroupNotAllowed => {
                "Your organisation has not given you access to this application. Ask your administrator."
            }
            Self::EmailDomainNotOwned => {
                "Your e-mail address is not in a domain your organisation has verified."
            }
            Self::UserInactive => "Your account is disabled. Ask your administrator.",
            Self::DuplicateEmail => {
                "Several accounts use your e-mail address. Ask your administrator to resolve it."
            }
            Self::NotProvisioned => {
                "You do not have an account in this application yet. Ask your administrator."
            }
            Self::TenantMismatch => "This identity belongs to another organisation.",
            Self::GroupsOverage => {
                "You are in too many groups for your organisation's sign-in to list them. Ask your administrator."
            }
            Self::NotInRollout => {
                "Single sign-on is being rolled out in phases and is not enabled for you yet. Sign in as before."
            }
        }
    }
}

impl std::fmt::Display for DenyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Admission: may this identity sign in through this connection at all?
///
/// - the connection is enabled;
/// - if the connection decides by groups (allowed groups or a role map), the
///   IdP sent the whole list of the identity's groups;
/// - if the connection restricts groups, the identity is in one of them;
/// - a verified e-mail address is in one of the tenant's verified domains,
///   because an IdP administrator can mint any address. An unverified
///   address never admits, never links and never routes: it is ignored.
pub fn admit(
    conn: &Connection,
    tenant: &Tenant,
    identity: &VerifiedIdentity,
) -> Result<(), DenyReason> {
    if !conn.enabled {
        return Err(DenyReason::ConnectionDisabled);
    }
    let uses_groups = !conn.allowed_groups.is_empty() || !conn.role_map.is_empty();
    if uses_groups && identity.profile.groups_incomplete {
        return Err(DenyReason::GroupsOverage);
    }
    if !conn.allowed_groups.is_empty()
        && !identity
            .profile
            .groups
            .iter()
            .any(|g| conn.allowed_groups.contains(g))
    {
        return Err(DenyReason::GroupNotAllowed);
    }
    if let Some(email) = identity.profile.verified_email() {
        match email_domain(email) {
            Some(domain) if tenant.owns_domain(&domain) => {}
            _ => return Err(DenyReason::EmailDomainNotOwned),
        }
    }
    Ok(())
}

/// What account resolution decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Sign in as this (linked, active) user.
    SignIn(LocalUser),
    /// Offer linking to this existing user (after e-mailed confirmation).
    OfferLink(LocalUser),
    /// Create this user just in time.
    Provision(NewUser),
    /// Refuse.
    Deny(DenyReason),
}

/// Resolves an admitted identity to a local account.
///
/// `linked` is the user the identity is already linked to; `same_email` the
/// users of the tenant with the identity's *verified* e-mail (empty when the
/// e-mail is not verified: an unverified e-mail never links).
pub fn resolve(
    conn: &Connection,
    identity: &VerifiedIdentity,
    linked: Option<LocalUser>,
    same_email: Vec<LocalUser>,
) -> Resolution {
    if let Some(user) = linked {
        if user.tenant != conn.tenant {
            return Resolution::Deny(DenyReason::TenantMismatch);
        }
        if !user.active {
            return Resolution::Deny(DenyReason::UserInactive);
        }
        return Resolution::SignIn(user);
    }
    let mut same_email: Vec<_> = same_email
        .into_iter()
        .filter(|u| u.tenant == conn.tenant)
        .collect();
    match same_email.len() {
        0 if conn.jit => Resolution::Provision(new_user(conn, identity)),
        0 => Resolution::Deny(DenyReason::NotProvisioned),
        1 => {
            let user = same_email.remove(0);
            if user.active {
                Resolution::OfferLink(user)
            } else {
                Resolution::Deny(DenyReason::UserInactive)
            }
        }
        _ => Resolution::Deny(DenyReason::DuplicateEmail),
    }
}

/// Whether a phased rollout includes this identity and local user (or the
/// user about to be created: only the identity's IdP groups count then).
pub fn in_rollout(
    conn: &Connection,
    identity: &VerifiedIdentity,
    user: Option<&LocalUser>,
) -> bool {
    let Some(r) = &conn.rollout else { return true };
    let idp_groups = identity.profile.groups.iter().any(|g| r.groups.contains(g));
    let host = user.is_some_and(|u| {
        u.groups.iter().any(|g| r.groups.contains(g))
            || u.role.as_ref().is_some_and(|role| r.roles.contains(role))
            || r.attributes
                .iter()
                .any(|(k, v)| u.attributes.get(k) == Some(v))
    });
    idp_groups || host
}

/// The user a connection's template makes of an identity.
pub fn new_user(conn: &Connection, identity: &VerifiedIdentity) -> NewUser {
    let role = conn
        .role_map
        .iter()
        .find(|(group, _)| identity.profile.groups.contains(group))
        .map(|(_, role)| role.clone())
        .or_else(|| conn.template.role.clone());
    NewUser {
        email: identity.profile.verified_email().map(str::to_owned),
        name: identity.profile.name.clone(),
        role,
        groups: conn.template.groups.clone(),
        attributes: conn.template.attributes.clone(),
        identity: identity.key.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{IdentityKey, Profile, UserId};

    fn conn(extra: serde_json::Value) -> Connection {
        let mut v = serde_json::json!({
            "id": "c", "tenant": "t", "kind": "oidc", "issuer": "https://idp.example", "client_id": "x",
            "jit": true, "template": {"role": "member"}
        });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn tenant() -> Tenant {
        Tenant {
            id: "t".into(),
            domains: vec!["acme.test".into()],
            subdomain: None,
        }
    }

    fn identity(email: Option<&str>, verified: bool, groups: &[&str]) -> VerifiedIdentity {
        VerifiedIdentity {
            key: IdentityKey {
                connection: "c".into(),
                subject: "s".into(),
            },
            issuer: "https://idp.example".into(),
            profile: Profile {
                email: email.map(str::to_owned),
                email_verified: verified,
                groups: groups.iter().map(|g| (*g).to_owned()).collect(),
                ..Profile::default()
            },
        }
    }

    fn user(id: &str, active: bool) -> LocalUser {
        LocalUser {
            id: UserId::new(id),
            tenant: "t".into(),
            email: "ann@acme.test".into(),
            name: None,
            active,
            role: None,
            groups: vec![],
            attributes: Default::default(),
        }
    }

    #[test]
    fn admission_rules() {
        let t = tenant();
        let c = conn(serde_json::json!({}));
        assert_eq!(
            admit(&c, &t, &identity(Some("a@acme.test"), true, &[])),
            Ok(())
        );
        assert_eq!(
            admit(&c, &t, &identity(Some("a@evil.test"), true, &[])),
            Err(DenyReason::EmailDomainNotOwned)
        );
        // An unverified address is ignored, not trusted and not held against.
        assert_eq!(
            admit(&c, &t, &identity(Some("a@evil.test"), false, &[])),
            Ok(())
        );
        let c = conn(serde_json::json!({"allowed_groups": ["eng"]}));
        assert_eq!(admit(&c, &t, &identity(None, false, &["eng"])), Ok(()));
        assert_eq!(
            admit(&c, &t, &identity(None, false, &["ops"])),
            Err(DenyReason::GroupNotAllowed)
        );
        let mut overage = identity(None, false, &["eng"]);
        overage.profile.groups_incomplete = true;
        assert_eq!(admit(&c, &t, &overage), Err(DenyReason::GroupsOverage));
        let c = conn(serde_json::json!({"enabled": false}));
        assert_eq!(
            admit(&c, &t, &identity(None, false, &[])),
            Err(DenyReason::ConnectionDisabled)
        );
    }

    #[test]
    fn resolution_rules() {
        let c = conn(serde_json::json!({}));
        let id = identity(Some("ann@acme.test"), true, &[]);
        assert!(matches!(
            resolve(&c, &id, Some(user("u1", true)), vec![]),
            Resolution::SignIn(_)
        ));
        assert_eq!(
            resolve(&c, &id, Some(user("u1", false)), vec![]),
            Resolution::Deny(DenyReason::UserInactive)
        );
        assert!(matches!(
            resolve(&c, &id, None, vec![user("u1", true)]),
            Resolution::OfferLink(_)
        ));
        assert_eq!(
            resolve(&c, &id, None, vec![user("u1", true), user("u2", false)]),
            Resolution::Deny(DenyReason::DuplicateEmail)
        );
        assert!(
            matches!(resolve(&c, &id, None, vec![]), Resolution::Provision(n) if n.role.as_deref() == Some("member"))
        );
        let c = conn(serde_json::json!({"jit": false}));
        assert_eq!(
            resolve(&c, &id, None, vec![]),
            Resolution::Deny(DenyReason::NotProvisioned)
        );
        let mut other_tenant = user("u9", true);
        other_tenant.tenant = "other".into();
        assert_eq!(
            resolve(&c, &id, Some(other_tenant), vec![]),
            Resolution::Deny(DenyReason::TenantMismatch)
        );
    }

    #[test]
    fn jit_users_never_get_an_unverified_address() {
        let c = conn(serde_json::json!({"role_map": {"admins": "admin"}}));
        let n = new_user(&c, &identity(Some("ann@acme.test"), false, &["admins"]));
        assert_eq!(n.email, None);
        assert_eq!(n.role.as_deref(), Some("admin"));
    }
}
