//! Administration: what a host's admin pages call while rolling SSO out.
//!
//! - **Activation links** ("reset login method" / invite): a link mailed to
//!   an active user, bound to (user, connection), valid 7 days by default.
//!   Following it runs an SSO login on that connection and links the
//!   identity to that user whatever the IdP's e-mail says. Resending
//!   supersedes the previous link; inactive users get none.
//! - **Duplicate-e-mail audit**: groups of users whose normalised e-mails
//!   collide, deleted and inactive users included, streamed page by page
//!   from [`AdminDirectory::users_by_email_key`], so a million users are
//!   never loaded at once.
//! - **Migration hygiene**: users without an SSO sign-in since a date, users
//!   the IdP de-provisioned, and a bulk disable with an event per user.
//! - **Clearing an IdP link** (support's fix for mismatched e-mails).
//! - **Enforcement**: whether password login is still allowed for an address.
//!
//! Every action emits an [`Event`](crate::hooks::Event) with a trace id.

use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::HookError;
use crate::types::{IdentityKey, LocalUser, TenantId, UserId};

/// A user as the admin pages see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRecord {
    /// The user.
    pub user: LocalUser,
    /// Soft-deleted (kept for audits; cannot sign in).
    pub deleted: bool,
    /// The last successful SSO sign-in, if any.
    pub last_sso_sign_in: Option<SystemTime>,
    /// Linked external identities.
    pub identities: Vec<IdentityKey>,
    /// The IdP de-provisioned the user (SCIM `active=false` or DELETE).
    pub deprovisioned: bool,
}

/// Which users an admin listing or batch applies to. Empty lists match all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserFilter {
    /// Only users with one of these roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Only users in one of these host groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Only active (`Some(true)`) or inactive (`Some(false)`) users.
    #[serde(default)]
    pub active: Option<bool>,
    /// Include soft-deleted users (default: no).
    #[serde(default)]
    pub include_deleted: bool,
    /// Only users without an SSO sign-in at or after this time.
    #[serde(default)]
    pub no_sso_since: Option<SystemTime>,
    /// Only users the IdP de-provisioned (`Some(true)`).
    #[serde(default)]
    pub deprovisioned: Option<bool>,
}

impl UserFilter {
    /// Every (not deleted) user.
    pub fn all() -> Self {
        Self::default()
    }

    /// Users with one of these roles.
    pub fn roles(roles: &[&str]) -> Self {
        Self {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Whether a record matches (what an in-memory directory evaluates; a
    /// SQL directory translates the same fields into a WHERE clause).
    pub fn matches(&self, r: &UserRecord) -> bool {
        (self.include_deleted || !r.deleted)
            && (self.roles.is_empty()
                || r.user
                    .role
                    .as_ref()
                    .is_some_and(|role| self.roles.contains(role)))
            && (self.groups.is_empty() || r.user.groups.iter().any(|g| self.groups.contains(g)))
            && self.active.is_none_or(|a| r.user.active == a)
            && self
                .no_sso_since
                .is_none_or(|since| r.last_sso_sign_in.is_none_or(|last| last < since))
            && self.deprovisioned.is_none_or(|d| r.deprovisioned == d)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor for the next page, if there is one.
    pub next: Option<String>,
}

/// The host's user store as admin pages need it: paged listings and a few
/// writes. Kept apart from [`UserDirectory`](crate::hooks::UserDirectory),
/// which the login path uses.
#[async_trait]
pub trait AdminDirectory: Send + Sync {
    /// Users of `tenant` matching `filter`, in a stable order, after the
    /// cursor `after` (the previous page's `next`), at most `limit`.
    async fn users(
        &self,
        tenant: &TenantId,
        filter: &UserFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, HookError>;

    /// Every user of `tenant` — deleted and inactive included — ordered by
    /// ([`normalize_email`](crate::types::normalize_email)`(email)`, id),
    /// strictly after `after`, at most `limit`. (Store the normalised e-mail
    /// in an indexed column to answer this in O(limit).)
    async fn users_by_email_key(
        &self,
        tenant: &TenantId,
        after: Option<(&str, &UserId)>,
        limit: usize,
    ) -> Result<Vec<UserRecord>, HookError>;

    /// Enables or disables a user; `false` when there is no such user.
    async fn set_active(
        &self,
        tenant: &TenantId,
        user: &UserId,
        active: bool,
    ) -> Result<bool, HookError>;

    /// Removes the link between a user and an identity; `false` when it did
    /// not exist.
    async fn unlink_identity(
        &self,
        tenant: &TenantId,
        user: &UserId,
        identity: &IdentityKey,
    ) -> Result<bool, HookError>;
}

/// What a batch of activation links did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActivationReport {
    /// Mailed (one mail each).
    pub sent: Vec<UserId>,
    /// Inactive: no link.
    pub inactive: Vec<UserId>,
    /// No such user in the tenant.
    pub not_found: Vec<UserId>,
}

/// A group of users whose e-mails collide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateGroup {
    /// The normalised e-mail they share.
    pub email_key: String,
    /// The users (deleted and inactive included).
    pub users: Vec<UserRecord>,
}

/// A page of the duplicate-e-mail audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditPage {
    /// Groups of two or more users.
    pub groups: Vec<DuplicateGroup>,
    /// The cursor for the next page, if there is one.
    pub next: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AuditCursor {
    pub(crate) key: String,
    pub(crate) id: UserId,
}
