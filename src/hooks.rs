//! Host hooks: the small traits through which ssokit reaches the host
//! application's users, mail and event log. Each has an in-memory
//! implementation here, for tests, demos and small apps.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use serde::Serialize;

use crate::error::HookError;
use crate::secret::SecretString;
use crate::types::{
    ConnectionId, IdentityKey, LocalUser, TenantId, TraceId, UserId, normalize_email,
};

/// What happened when an identity was linked to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkResult {
    /// The identity is now linked to the user.
    Linked,
    /// The identity was already linked to this same user (idempotent).
    AlreadyLinked,
    /// The identity is linked to another user; nothing changed.
    LinkedToAnother,
}

/// A user to create just in time, built from the connection's user template
/// and the verified identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// The e-mail address: only a verified one in a domain the tenant owns.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Role from the template or the connection's role map.
    pub role: Option<String>,
    /// Groups from the template.
    pub groups: Vec<String>,
    /// Attributes from the template.
    pub attributes: BTreeMap<String, String>,
    /// The identity to link to the new user, in the same transaction.
    pub identity: IdentityKey,
}

/// The host's user store, as ssokit needs it.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// The user an external identity is linked to.
    async fn find_by_identity(
        &self,
        identity: &IdentityKey,
    ) -> Result<Option<LocalUser>, HookError>;

    /// Every user of `tenant` whose e-mail equals `email` (case-insensitively,
    /// ignoring surrounding white space), active or not.
    async fn find_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Vec<LocalUser>, HookError>;

    /// A user by id within a tenant.
    async fn find_by_id(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Option<LocalUser>, HookError>;

    /// Links an external identity to a user. Must not move an identity that is
    /// linked to another user.
    async fn link_identity(
        &self,
        user: &UserId,
        identity: &IdentityKey,
    ) -> Result<LinkResult, HookError>;

    /// Creates a user in `tenant` and links `user.identity` to it. If the
    /// identity is linked already, returns that user instead of creating one.
    async fn provision(&self, tenant: &TenantId, user: NewUser) -> Result<LocalUser, HookError>;

    /// Records a successful SSO sign-in (for the migration-hygiene report of
    /// users who never signed in through SSO). Default: nothing.
    async fn record_sign_in(
        &self,
        _user: &UserId,
        _identity: &IdentityKey,
        _at: SystemTime,
    ) -> Result<(), HookError> {
        Ok(())
    }
}

#[derive(Default)]
struct DirectoryState {
    users: Vec<LocalUser>,
    links: HashMap<IdentityKey, UserId>,
    next_id: u64,
    deleted: std::collections::HashSet<UserId>,
    last_sign_in: HashMap<UserId, SystemTime>,
    deprovisioned: std::collections::HashSet<UserId>,
}

/// An in-memory [`UserDirectory`]. Clones share the same users.
#[derive(Clone, Default)]
pub struct MemoryDirectory {
    state: Arc<Mutex<DirectoryState>>,
}

impl fmt::Debug for MemoryDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDirectory")
            .field("users", &self.lock().users.len())
            .finish()
    }
}

impl MemoryDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, DirectoryState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a local user (as the host's own sign-up would) and returns it.
    pub fn add_user(
        &self,
        tenant: &str,
        email: &str,
        name: Option<&str>,
        active: bool,
    ) -> LocalUser {
        let mut st = self.lock();
        st.next_id += 1;
        let user = LocalUser {
            id: UserId::new(format!("u{}", st.next_id)),
            tenant: TenantId::new(tenant),
            email: email.to_owned(),
            name: name.map(str::to_owned),
            active,
            role: None,
            groups: Vec::new(),
            attributes: BTreeMap::new(),
        };
        st.users.push(user.clone());
        user
    }

    /// Every user.
    pub fn users(&self) -> Vec<LocalUser> {
        self.lock().users.clone()
    }

    /// A user by id, in any tenant.
    pub fn user(&self, id: &UserId) -> Option<LocalUser> {
        self.lock().users.iter().find(|u| &u.id == id).cloned()
    }

    /// The identities linked to a user.
    pub fn identities_of(&self, id: &UserId) -> Vec<IdentityKey> {
        let mut v: Vec<_> = self
            .lock()
            .links
            .iter()
            .filter(|(_, u)| *u == id)
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// Enables or disables a user.
    pub fn set_active(&self, id: &UserId, active: bool) {
        if let Some(u) = self.lock().users.iter_mut().find(|u| &u.id == id) {
            u.active = active;
        }
    }

    /// Sets a user's role.
    pub fn set_role(&self, id: &UserId, role: &str) {
        if let Some(u) = self.lock().users.iter_mut().find(|u| &u.id == id) {
            u.role = Some(role.to_owned());
        }
    }

    /// Changes a user's e-mail address.
    pub fn set_email(&self, id: &UserId, email: &str) {
        if let Some(u) = self.lock().users.iter_mut().find(|u| &u.id == id) {
            u.email = email.to_owned();
        }
    }

    /// Links an identity directly (as an admin tool would).
    pub fn link(&self, id: &UserId, identity: IdentityKey) {
        self.lock().links.insert(identity, id.clone());
    }

    /// Soft-deletes a user: kept for audits, invisible to sign-in, inactive.
    pub fn delete_user(&self, id: &UserId) {
        let mut st = self.lock();
        st.deleted.insert(id.clone());
        if let Some(u) = st.users.iter_mut().find(|u| &u.id == id) {
            u.active = false;
        }
    }

    /// Marks that the user's IdP de-provisioned them (as SCIM would).
    pub fn mark_deprovisioned(&self, id: &UserId) {
        self.lock().deprovisioned.insert(id.clone());
    }

    fn record(&self, st: &DirectoryState, u: &LocalUser) -> crate::admin::UserRecord {
        let mut identities: Vec<_> = st
            .links
            .iter()
            .filter(|(_, owner)| *owner == &u.id)
            .map(|(k, _)| k.clone())
            .collect();
        identities.sort();
        crate::admin::UserRecord {
            user: u.clone(),
            deleted: st.deleted.contains(&u.id),
            last_sso_sign_in: st.last_sign_in.get(&u.id).copied(),
            identities,
            deprovisioned: st.deprovisioned.contains(&u.id),
        }
    }
}

#[async_trait]
impl UserDirectory for MemoryDirectory {
    async fn find_by_identity(
        &self,
        identity: &IdentityKey,
    ) -> Result<Option<LocalUser>, HookError> {
        let st = self.lock();
        Ok(st
            .links
            .get(identity)
            .filter(|id| !st.deleted.contains(*id))
            .and_then(|id| st.users.iter().find(|u| &u.id == id))
            .cloned())
    }

    async fn find_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Vec<LocalUser>, HookError> {
        let wanted = normalize_email(email);
        let st = self.lock();
        Ok(st
            .users
            .iter()
            .filter(|u| {
                &u.tenant == tenant
                    && !st.deleted.contains(&u.id)
                    && normalize_email(&u.email) == wanted
            })
            .cloned()
            .collect())
    }

    async fn find_by_id(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Option<LocalUser>, HookError> {
        let st = self.lock();
        Ok(st
            .users
            .iter()
            .find(|u| &u.id == id && &u.tenant == tenant && !st.deleted.contains(&u.id))
            .cloned())
    }

    async fn link_identity(
        &self,
        user: &UserId,
        identity: &IdentityKey,
    ) -> Result<LinkResult, HookError> {
        let mut st = self.lock();
        if !st.users.iter().any(|u| &u.id == user) {
            return Err(HookError::new("no such user"));
        }
        match st.links.get(identity) {
            Some(existing) if existing == user => Ok(LinkResult::AlreadyLinked),
            Some(_) => Ok(LinkResult::LinkedToAnother),
            None => {
                st.links.insert(identity.clone(), user.clone());
                Ok(LinkResult::Linked)
            }
        }
    }

    async fn provision(&self, tenant: &TenantId, new: NewUser) -> Result<LocalUser, HookError> {
        let mut st = self.lock();
        if let Some(id) = st.links.get(&new.identity).cloned() {
            return st
                .users
                .iter()
                .find(|u| u.id == id)
                .cloned()
                .ok_or_else(|| HookError::new("dangling identity link"));
        }
        st.next_id += 1;
        let user = LocalUser {
            id: UserId::new(format!("u{}", st.next_id)),
            tenant: tenant.clone(),
            email: new.email.unwrap_or_default(),
            name: new.name,
            active: true,
            role: new.role,
            groups: new.groups,
            attributes: new.attributes,
        };
        st.users.push(user.clone());
        st.links.insert(new.identity, user.id.clone());
        Ok(user)
    }

    async fn record_sign_in(
        &self,
        user: &UserId,
        _identity: &IdentityKey,
        at: SystemTime,
    ) -> Result<(), HookError> {
        self.lock().last_sign_in.insert(user.clone(), at);
        Ok(())
    }
}

#[async_trait]
impl crate::admin::AdminDirectory for MemoryDirectory {
    async fn users(
        &self,
        tenant: &TenantId,
        filter: &crate::admin::UserFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<crate::admin::Page<crate::admin::UserRecord>, HookError> {
        let st = self.lock();
        // Ordered by the numeric part of the id: a stable cursor.
        let order = |id: &UserId| {
            id.as_str()
                .trim_start_matches('u')
                .parse::<u64>()
                .unwrap_or(u64::MAX)
        };
        let after = after.map(|a| order(&UserId::new(a)));
        let mut matching: Vec<_> = st
            .users
            .iter()
            .filter(|u| &u.tenant == tenant)
            .filter(|u| after.is_none_or(|a| order(&u.id) > a))
            .map(|u| self.record(&st, u))
            .filter(|r| filter.matches(r))
            .collect();
        matching.sort_by_key(|r| order(&r.user.id));
        let more = matching.len() > limit;
        matching.truncate(limit);
        let next = if more {
            matching.last().map(|r| r.user.id.to_string())
        } else {
            None
        };
        Ok(crate::admin::Page {
            items: matching,
            next,
        })
    }

    async fn users_by_email_key(
        &self,
        tenant: &TenantId,
        after: Option<(&str, &UserId)>,
        limit: usize,
    ) -> Result<Vec<crate::admin::UserRecord>, HookError> {
        let st = self.lock();
        let mut all: Vec<_> = st
            .users
            .iter()
            .filter(|u| &u.tenant == tenant)
            .map(|u| (normalize_email(&u.email), u))
            .collect();
        all.sort_by(|(ka, a), (kb, b)| ka.cmp(kb).then_with(|| a.id.cmp(&b.id)));
        Ok(all
            .into_iter()
            .filter(|(k, u)| after.is_none_or(|(ak, aid)| (k.as_str(), &u.id) > (ak, aid)))
            .take(limit)
            .map(|(_, u)| self.record(&st, u))
            .collect())
    }

    async fn set_active(
        &self,
        tenant: &TenantId,
        user: &UserId,
        active: bool,
    ) -> Result<bool, HookError> {
        let mut st = self.lock();
        match st
            .users
            .iter_mut()
            .find(|u| &u.id == user && &u.tenant == tenant)
        {
            Some(u) => {
                u.active = active;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn unlink_identity(
        &self,
        tenant: &TenantId,
        user: &UserId,
        identity: &IdentityKey,
    ) -> Result<bool, HookError> {
        let mut st = self.lock();
        if !st
            .users
            .iter()
            .any(|u| &u.id == user && &u.tenant == tenant)
        {
            return Ok(false);
        }
        if st.links.get(identity) == Some(user) {
            st.links.remove(identity);
            return Ok(true);
        }
        Ok(false)
    }
}

/// Completes an identity's groups when the IdP left them out (Entra's group
/// overage: more than 200 groups). A host implements it with Microsoft Graph
/// (`/users/{oid}/getMemberObjects`), for example.
#[async_trait]
pub trait GroupLookup: Send + Sync {
    /// All groups of the identity, as the connection's `allowed_groups` and
    /// `role_map` name them.
    async fn groups(
        &self,
        connection: &crate::connection::Connection,
        identity: &crate::types::VerifiedIdentity,
    ) -> Result<Vec<String>, HookError>;
}

/// A user provisioned ahead of time (by SCIM) that an SSO identity maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedAccount {
    /// The host's user id to link the identity to.
    pub user: UserId,
    /// The IdP disabled the user: the login is denied, and SSO never
    /// reactivates the user.
    pub disabled: bool,
}

/// Finds the user that an IdP provisioned ahead of time for an identity
/// (SCIM's `externalId`/`userName` mapped to the SSO subject), so that the
/// SSO login reaches that same account instead of creating a second one.
/// [`ScimService`](crate::scim::ScimService) implements it (feature `scim`).
#[async_trait]
pub trait ProvisionedAccounts: Send + Sync {
    /// The provisioned account of `identity` in `tenant`, if any.
    async fn find(
        &self,
        tenant: &TenantId,
        identity: &crate::types::VerifiedIdentity,
    ) -> Result<Option<ProvisionedAccount>, HookError>;
}

/// Why a mail is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MailKind {
    /// Confirm linking an SSO identity to an existing account.
    LinkConfirmation,
    /// An activation link ("reset login method" / invite).
    Activation,
}

/// A mail for the host to send. `Debug` redacts the link and the body, which
/// carry a single-use token.
#[derive(Clone, Serialize)]
pub struct Mail {
    /// Why the mail is sent.
    pub kind: MailKind,
    /// The recipient: the local account's address, never the IdP's.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body, including the link.
    pub body: SecretString,
    /// The link the recipient must follow.
    pub link: SecretString,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("kind", &self.kind)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Sends mail on behalf of ssokit.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one mail.
    async fn send(&self, mail: Mail) -> Result<(), HookError>;
}

/// A [`Mailer`] that keeps mails in memory (oldest first). Clones share the outbox.
#[derive(Clone, Default)]
pub struct MemoryMailer {
    outbox: Arc<Mutex<Vec<Mail>>>,
}

impl fmt::Debug for MemoryMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryMailer")
            .field("sent", &self.sent().len())
            .finish()
    }
}

impl MemoryMailer {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every mail sent so far, oldest first.
    pub fn sent(&self) -> Vec<Mail> {
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The newest mail, if any.
    pub fn last(&self) -> Option<Mail> {
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .cloned()
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, mail: Mail) -> Result<(), HookError> {
        self.outbox
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(mail);
        Ok(())
    }
}

/// What an [`Event`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A login was started and the browser sent to the IdP.
    LoginStarted,
    /// Several connections matched; the user was asked to choose.
    ConnectionChoice,
    /// A user signed in.
    SignedIn,
    /// A user was created just in time.
    Provisioned,
    /// Linking to an existing account was offered.
    LinkOffered,
    /// A link confirmation was mailed.
    LinkRequested,
    /// A link was confirmed and the identity linked.
    LinkConfirmed,
    /// A link confirmation was refused.
    LinkRefused,
    /// Admission or account resolution refused the login.
    Denied,
    /// Several local users share the e-mail of a signing-in identity (audit).
    DuplicateEmail,
    /// The login failed (invalid callback, token, IdP error).
    LoginFailed,
    /// An admin sent an activation link.
    ActivationSent,
    /// An activation link was followed and the identity linked.
    ActivationCompleted,
    /// An activation link was refused.
    ActivationRefused,
    /// An admin disabled a user.
    UserDisabled,
    /// An admin cleared the link between a user and an identity.
    LinkCleared,
    /// The IdP changed a user or group over SCIM.
    ScimChange,
}

/// A security-relevant event, for audit logs and support.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The login attempt's trace id.
    pub trace_id: TraceId,
    /// When (the injected clock's time).
    pub at: SystemTime,
    /// The tenant, when known.
    pub tenant: Option<TenantId>,
    /// The connection, when known.
    pub connection: Option<ConnectionId>,
    /// The local user, when known.
    pub user: Option<UserId>,
    /// The external subject, when known.
    pub subject: Option<String>,
    /// A machine-readable reason (deny reason, error code).
    pub reason: Option<String>,
}

/// Receives events. Must not block; must not fail the login.
pub trait EventSink: Send + Sync {
    /// Records one event.
    fn emit(&self, event: &Event);
}

/// The default [`EventSink`]: one `tracing` event per [`Event`] (target `ssokit::events`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingEvents;

impl EventSink for TracingEvents {
    fn emit(&self, e: &Event) {
        tracing::info!(
            target: "ssokit::events",
            kind = ?e.kind,
            trace_id = %e.trace_id,
            tenant = e.tenant.as_ref().map(TenantId::as_str),
            connection = e.connection.as_ref().map(ConnectionId::as_str),
            user = e.user.as_ref().map(UserId::as_str),
            reason = e.reason.as_deref(),
            "ssokit event"
        );
    }
}

/// An [`EventSink`] that keeps events in memory (oldest first), and can also
/// forward them to another sink. Clones share the events.
#[derive(Clone, Default)]
pub struct MemoryEvents {
    events: Arc<Mutex<Vec<Event>>>,
}

impl fmt::Debug for MemoryEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryEvents")
            .field("events", &self.all().len())
            .finish()
    }
}

impl MemoryEvents {
    /// No events yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every event so far.
    pub fn all(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The kinds of every event so far.
    pub fn kinds(&self) -> Vec<EventKind> {
        self.all().into_iter().map(|e| e.kind).collect()
    }
}

impl EventSink for MemoryEvents {
    fn emit(&self, event: &Event) {
        TracingEvents.emit(event);
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}
