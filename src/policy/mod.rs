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
/// - if the connection restricts groups, the identity is in one of them;
/// - any e-mail address the profile carries (verified or not) is in one of the
///   tenant's verified domains, because an IdP administrator can mint any
///   address.
pub fn admit(
    conn: &Connection,
    tenant: &Tenant,
    identity: &VerifiedIdentity,
) -> Result<(), DenyReason> {
    if !conn.enabled {
        return Err(DenyReason::ConnectionDisabled);
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
