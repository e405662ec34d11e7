//! The host hook: where SCIM users and groups live ([`ScimDirectory`]), the
//! session-revocation hook ([`SessionRevoker`]), and in-memory
//! implementations of both.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use serde_json::Value;

use super::filter::{AttrPath, CompValue, CompareOp, Filter, get_ci};
use super::resource::{Member, Meta, NewScimGroup, NewScimUser, ScimGroup, ScimUser, render};
use super::schema::{ResourceType, ScimSchemas};
use crate::connection::UserTemplate;
use crate::error::HookError;
use crate::hooks::MemoryDirectory;
use crate::types::{TenantId, UserId};

/// How a list request is to be answered: a resolved filter, 1-based
/// `start_index`, at most `count` results, and an optional sort.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ListQuery {
    /// The filter; `None` lists everything (Okta's import pages through all users).
    pub filter: Option<Filter>,
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Most results to return (0: only count them).
    pub count: usize,
    /// Sort order; without it the order must still be stable across pages.
    pub sort: Option<SortBy>,
}

impl ListQuery {
    /// A query for the first `count` resources matching `filter`.
    pub fn new(filter: Option<Filter>, count: usize) -> Self {
        Self {
            filter,
            start_index: 1,
            count,
            sort: None,
        }
    }
}

/// `sortBy` / `sortOrder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortBy {
    /// The attribute to sort by (resolved).
    pub path: AttrPath,
    /// `sortOrder=descending`.
    pub descending: bool,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// How many resources match in total (not just on this page).
    pub total_results: usize,
    /// The resources of this page, in order.
    pub resources: Vec<T>,
}

/// A membership change: members to add and member ids to remove. The
/// service never hands the host a whole new member list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDelta {
    /// Members to add (adding a present member changes nothing).
    pub add: Vec<Member>,
    /// Ids of members to remove (removing an absent member changes nothing).
    pub remove: Vec<String>,
}

impl MemberDelta {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// Why a [`ScimDirectory`] call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectoryError {
    /// A unique value (a `userName`) is taken: 409 `uniqueness`.
    Conflict(String),
    /// No such resource in this tenant: 404.
    NotFound,
    /// The stored version is not the expected one (a concurrent write):
    /// the service retries a PATCH, or answers 412 to a client's `If-Match`.
    VersionMismatch,
    /// The host cannot evaluate this (valid) filter without a full scan:
    /// 400 `invalidFilter` with this message.
    UnsupportedFilter(String),
    /// A value is not acceptable (e.g. a member id of another tenant): 400 `invalidValue`.
    InvalidValue(String),
    /// Anything else: 500, logged.
    Failed(HookError),
}

impl fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conflict(m) => write!(f, "conflict: {m}"),
            Self::NotFound => f.write_str("not found"),
            Self::VersionMismatch => f.write_str("version mismatch"),
            Self::UnsupportedFilter(m) => write!(f, "unsupported filter: {m}"),
            Self::InvalidValue(m) => write!(f, "invalid value: {m}"),
            Self::Failed(e) => write!(f, "directory failed: {e}"),
        }
    }
}

impl std::error::Error for DirectoryError {}

impl From<HookError> for DirectoryError {
    fn from(e: HookError) -> Self {
        Self::Failed(e)
    }
}

/// The host's store of SCIM users and groups, scoped by tenant.
///
/// Every call names the tenant the bearer token belongs to; an id of another
/// tenant must behave as unknown. The service validates everything before it
/// calls: attributes are canonical and typed, filters are parsed and resolved
/// against the declared [`ScimSchemas`], group membership arrives as deltas.
///
/// Rules for implementations:
/// - `userName` is unique per tenant, **case-insensitively** (the same rule
///   as `userName eq` filters); a duplicate is [`DirectoryError::Conflict`].
/// - A filter the host cannot serve from its indexes is
///   [`DirectoryError::UnsupportedFilter`], never a full scan.
///   [`Filter::find_eq`] finds the common `userName eq "…"` / `externalId eq "…"`.
/// - Result order is stable across pages.
/// - `if_version`, when given, is compared with the stored version in the
///   same transaction as the write ([`DirectoryError::VersionMismatch`]).
/// - A deleted user is invisible to SCIM afterwards (404, `userName` free
///   again); if the host keeps the row, it stays disabled.
#[async_trait]
pub trait ScimDirectory: Send + Sync {
    /// Creates a user, applying `user.template` (role, host groups, attributes).
    async fn create_user(
        &self,
        tenant: &TenantId,
        user: NewScimUser,
    ) -> Result<ScimUser, DirectoryError>;

    /// A user by id.
    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ScimUser>, DirectoryError>;

    /// Users matching a query.
    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ScimUser>, DirectoryError>;

    /// Stores a user's new attributes (the whole validated set; `meta.last_modified` is set).
    async fn update_user(
        &self,
        tenant: &TenantId,
        user: &ScimUser,
        if_version: Option<&str>,
    ) -> Result<ScimUser, DirectoryError>;

    /// Deletes (or hides and disables) a user. [`DirectoryError::NotFound`] if absent.
    async fn delete_user(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError>;

    /// The (non-deleted) user whose `externalId` is exactly `external_id`:
    /// how the login flow finds the SCIM-provisioned account of a person.
    async fn find_by_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        self.find_one(tenant, "externalId", external_id).await
    }

    /// The user whose `userName` equals `user_name` case-insensitively.
    async fn find_by_user_name(
        &self,
        tenant: &TenantId,
        user_name: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        self.find_one(tenant, "userName", user_name).await
    }

    /// Creates a group with its initial members.
    async fn create_group(
        &self,
        tenant: &TenantId,
        group: NewScimGroup,
    ) -> Result<ScimGroup, DirectoryError>;

    /// A group by id, with its members only if `with_members`.
    async fn get_group(
        &self,
        tenant: &TenantId,
        id: &str,
        with_members: bool,
    ) -> Result<Option<ScimGroup>, DirectoryError>;

    /// Groups matching a query, with members only if `with_members`.
    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        with_members: bool,
    ) -> Result<Page<ScimGroup>, DirectoryError>;

    /// Stores a group's new attributes (`members` is ignored: see [`ScimDirectory::modify_members`]).
    async fn update_group(
        &self,
        tenant: &TenantId,
        group: &ScimGroup,
        if_version: Option<&str>,
    ) -> Result<ScimGroup, DirectoryError>;

    /// Adds and removes members, atomically, without touching other members.
    /// Concurrent calls for the same group must all take effect.
    async fn modify_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        delta: &MemberDelta,
        now: SystemTime,
    ) -> Result<(), DirectoryError>;

    /// Deletes a group. [`DirectoryError::NotFound`] if absent.
    async fn delete_group(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError>;

    #[doc(hidden)]
    async fn find_one(
        &self,
        tenant: &TenantId,
        attr: &str,
        value: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        let q = ListQuery::new(
            Some(Filter::Compare {
                path: AttrPath::new(attr),
                op: CompareOp::Eq,
                value: CompValue::Str(value.to_owned()),
            }),
            2,
        );
        let page = self.list_users(tenant, &q).await?;
        Ok(page.resources.into_iter().next())
    }
}

/// Why sessions are revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeReason {
    /// The IdP set `active` to false.
    Deactivated,
    /// The IdP deleted the user.
    Deleted,
}

/// Revokes a user's sessions, refresh tokens and API keys in the host, at once.
///
/// Called whenever a SCIM write leaves a user disabled (every time, so a
/// retried deprovisioning revokes again) and on DELETE. A failure answers
/// 500, so the IdP retries.
#[async_trait]
pub trait SessionRevoker: Send + Sync {
    /// Revokes everything that lets `user` act without signing in again.
    async fn revoke_sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        reason: RevokeReason,
    ) -> Result<(), HookError>;
}

/// A [`SessionRevoker`] that records the calls (for tests and demos). Clones share them.
#[derive(Debug, Clone, Default)]
pub struct MemoryRevoker {
    calls: Arc<Mutex<Vec<(TenantId, UserId, RevokeReason)>>>,
}

impl MemoryRevoker {
    /// No calls yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<(TenantId, UserId, RevokeReason)> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl SessionRevoker for MemoryRevoker {
    async fn revoke_sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        reason: RevokeReason,
    ) -> Result<(), HookError> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push((
            tenant.clone(),
            user.clone(),
            reason,
        ));
        Ok(())
    }
}

// ------------------------------------------------------------------ in memory

struct UserRec {
    user: ScimUser,
    template: UserTemplate,
    deleted: bool,
    seq: u64,
}

struct GroupRec {
    group: ScimGroup,
    seq: u64,
}

#[derive(Default)]
struct TenantData {
    users: Vec<UserRec>,
    groups: Vec<GroupRec>,
}

#[derive(Default)]
struct MemState {
    tenants: HashMap<TenantId, TenantData>,
    seq: u64,
}

/// An in-memory [`ScimDirectory`] that evaluates every filter itself
/// (with the case rules of its [`ScimSchemas`]). Clones share the data.
///
/// With [`MemoryScimDirectory::mirroring`], users are also created in a
/// [`MemoryDirectory`] (the login flow's user store), with the same id, e-mail,
/// name, active flag and the template's role, so SSO reaches the
/// SCIM-provisioned account.
#[derive(Clone)]
pub struct MemoryScimDirectory {
    state: Arc<Mutex<MemState>>,
    schemas: Arc<ScimSchemas>,
    mirror: Option<MemoryDirectory>,
}

impl Default for MemoryScimDirectory {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryScimDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("MemoryScimDirectory")
            .field("tenants", &st.tenants.len())
            .finish_non_exhaustive()
    }
}

/// A new SCIM resource id: 122 random bits shaped like a UUID v4 (RFC 9562),
/// for `ScimDirectory` implementations that let the service provider pick
/// ids (SCIM ids are opaque; hosts may use their own).
///
/// Fails only when the operating system has no randomness to give.
pub fn new_resource_id() -> Result<String, DirectoryError> {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| DirectoryError::Failed(HookError::new("no randomness for a resource id")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::secret::hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn version(n: u64) -> String {
    format!("W/\"{n}\"")
}

impl MemoryScimDirectory {
    /// An empty directory with [`ScimSchemas::standard`].
    pub fn new() -> Self {
        Self::with_schemas(ScimSchemas::standard())
    }

    /// An empty directory evaluating filters with `schemas`' case rules
    /// (use the same schemas as the service).
    pub fn with_schemas(schemas: ScimSchemas) -> Self {
        Self {
            state: Arc::default(),
            schemas: Arc::new(schemas),
            mirror: None,
        }
    }

    /// Also keeps every SCIM user in `users` (the login flow's store): same
    /// id, primary e-mail (else `userName`), display name, active flag and
    /// the template's role. Deleted users stay there, disabled.
    pub fn mirroring(mut self, users: MemoryDirectory) -> Self {
        self.mirror = Some(users);
        self
    }

    fn lock(&self) -> MutexGuard<'_, MemState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The template applied to a user when it was created.
    pub fn template_of(&self, tenant: &TenantId, id: &str) -> Option<UserTemplate> {
        let st = self.lock();
        st.tenants
            .get(tenant)?
            .users
            .iter()
            .find(|r| r.user.id == id)
            .map(|r| r.template.clone())
    }

    /// A user by id including deleted ones (deleted: `(user, true)`).
    pub fn user_including_deleted(&self, tenant: &TenantId, id: &str) -> Option<(ScimUser, bool)> {
        let st = self.lock();
        st.tenants
            .get(tenant)?
            .users
            .iter()
            .find(|r| r.user.id == id)
            .map(|r| (r.user.clone(), r.deleted))
    }

    /// The member ids of a group.
    pub fn member_ids(&self, tenant: &TenantId, group: &str) -> Vec<String> {
        let st = self.lock();
        st.tenants
            .get(tenant)
            .and_then(|t| t.groups.iter().find(|g| g.group.id == group))
            .and_then(|g| g.group.members.as_ref())
            .map(|m| m.iter().map(|m| m.value.clone()).collect())
            .unwrap_or_default()
    }

    fn user_json(&self, u: &ScimUser) -> Value {
        render(
            &self.schemas.user,
            &u.id,
            u.attributes.clone(),
            None,
            &u.meta,
            "",
            "",
        )
    }

    fn group_json(&self, g: &ScimGroup) -> Value {
        render(
            &self.schemas.group,
            &g.id,
            g.attributes.clone(),
            g.members.as_deref(),
            &g.meta,
            "",
            "",
        )
    }

    fn mirror_user(
        &self,
        u: &ScimUser,
        tenant: &TenantId,
        template: Option<&UserTemplate>,
    ) -> Option<String> {
        let dir = self.mirror.as_ref()?;
        let email = u
            .primary_email()
            .or(u.user_name())
            .unwrap_or_default()
            .to_owned();
        let name = u.display_name().map(str::to_owned);
        if let Some(t) = template {
            let local = dir.add_user(tenant.as_str(), &email, name.as_deref(), !u.is_disabled());
            if let Some(role) = &t.role {
                dir.set_role(&local.id, role);
            }
            return Some(local.id.as_str().to_owned());
        }
        let id = UserId::new(u.id.clone());
        dir.set_active(&id, !u.is_disabled());
        dir.set_email(&id, &email);
        None
    }
}

fn user_name_key(u: &ScimUser) -> Option<String> {
    u.user_name().map(str::to_lowercase)
}

fn sort_key<'v>(json: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    let top = match &path.schema {
        Some(urn) => get_ci(get_ci(json, urn)?, &path.name)?,
        None => get_ci(json, &path.name)?,
    };
    let pick = |v: &'v Value| -> Option<&'v Value> {
        match &path.sub_attr {
            Some(s) => get_ci(v, s),
            None => Some(v)
                .filter(|v| !v.is_object())
                .or_else(|| get_ci(v, "value")),
        }
    };
    match top {
        Value::Array(items) => {
            let primary = items
                .iter()
                .find(|i| i.get("primary").and_then(Value::as_bool) == Some(true))
                .or_else(|| items.first())?;
            pick(primary)
        }
        other => pick(other),
    }
}

fn cmp_values(a: Option<&Value>, b: Option<&Value>, case_exact: bool) -> Ordering {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => {
            if case_exact {
                x.cmp(y)
            } else {
                x.to_lowercase().cmp(&y.to_lowercase())
            }
        }
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

fn page<T: Clone>(items: Vec<(Value, T)>, q: &ListQuery, rt: &ResourceType) -> Page<T> {
    let mut matched: Vec<(Value, T)> = match &q.filter {
        Some(f) => items
            .into_iter()
            .filter(|(j, _)| f.matches(j, rt))
            .collect(),
        None => items,
    };
    if let Some(sort) = &q.sort {
        let case_exact = rt
            .find(sort.path.schema.as_deref(), &sort.path.name)
            .and_then(|r| match &sort.path.sub_attr {
                Some(s) => r.def.sub(s),
                None => Some(r.def),
            })
            .is_some_and(|d| d.case_exact);
        let desc = sort.descending;
        matched.sort_by(|(a, _), (b, _)| {
            match (sort_key(a, &sort.path), sort_key(b, &sort.path)) {
                (None, None) => Ordering::Equal,
                // Unassigned values sort last ascending, first descending (RFC 7644 §3.4.2.3).
                (None, Some(_)) => {
                    if desc {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (Some(_), None) => {
                    if desc {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                (ka, kb) => {
                    let o = cmp_values(ka, kb, case_exact);
                    if desc { o.reverse() } else { o }
                }
            }
        });
    }
    let total = matched.len();
    let start = q.start_index.max(1) - 1;
    let resources = matched
        .into_iter()
        .skip(start)
        .take(q.count)
        .map(|(_, t)| t)
        .collect();
    Page {
        total_results: total,
        resources,
    }
}

#[async_trait]
impl ScimDirectory for MemoryScimDirectory {
    async fn create_user(
        &self,
        tenant: &TenantId,
        new: NewScimUser,
    ) -> Result<ScimUser, DirectoryError> {
        let mut user = ScimUser {
            id: String::new(),
            meta: Meta::new(new.created),
            attributes: new.attributes,
            provisioned_by: new.provisioned_by,
        };
        {
            let st = self.lock();
            if let Some(t) = st.tenants.get(tenant) {
                let key = user_name_key(&user);
                if t.users
                    .iter()
                    .any(|r| !r.deleted && user_name_key(&r.user) == key)
                {
                    return Err(DirectoryError::Conflict("userName is already taken".into()));
                }
            }
        }
        user.id = match self.mirror_user(&user, tenant, Some(&new.template)) {
            Some(id) => id,
            None => new_resource_id()?,
        };
        let mut st = self.lock();
        st.seq += 1;
        let seq = st.seq;
        let t = st.tenants.entry(tenant.clone()).or_default();
        let key = user_name_key(&user);
        if t.users
            .iter()
            .any(|r| !r.deleted && user_name_key(&r.user) == key)
        {
            return Err(DirectoryError::Conflict("userName is already taken".into()));
        }
        user.meta.version = Some(version(seq));
        t.users.push(UserRec {
            user: user.clone(),
            template: new.template,
            deleted: false,
            seq,
        });
        Ok(user)
    }

    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        let st = self.lock();
        Ok(st
            .tenants
            .get(tenant)
            .and_then(|t| t.users.iter().find(|r| !r.deleted && r.user.id == id))
            .map(|r| r.user.clone()))
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ScimUser>, DirectoryError> {
        let users: Vec<ScimUser> = {
            let st = self.lock();
            st.tenants
                .get(tenant)
                .map(|t| {
                    let mut v: Vec<&UserRec> = t.users.iter().filter(|r| !r.deleted).collect();
                    v.sort_by_key(|r| r.seq);
                    v.into_iter().map(|r| r.user.clone()).collect()
                })
                .unwrap_or_default()
        };
        let items = users.into_iter().map(|u| (self.user_json(&u), u)).collect();
        Ok(page(items, query, &self.schemas.user))
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        user: &ScimUser,
        if_version: Option<&str>,
    ) -> Result<ScimUser, DirectoryError> {
        let updated = {
            let mut st = self.lock();
            st.seq += 1;
            let seq = st.seq;
            let t = st.tenants.get_mut(tenant).ok_or(DirectoryError::NotFound)?;
            let key = user_name_key(user);
            if t.users
                .iter()
                .any(|r| !r.deleted && r.user.id != user.id && user_name_key(&r.user) == key)
            {
                return Err(DirectoryError::Conflict("userName is already taken".into()));
            }
            let rec = t
                .users
                .iter_mut()
                .find(|r| !r.deleted && r.user.id == user.id)
                .ok_or(DirectoryError::NotFound)?;
            if let Some(v) = if_version
                && rec.user.meta.version.as_deref() != Some(v)
            {
                return Err(DirectoryError::VersionMismatch);
            }
            rec.user.attributes = user.attributes.clone();
            rec.user.meta.last_modified = user.meta.last_modified;
            rec.user.meta.version = Some(version(seq));
            rec.user.clone()
        };
        self.mirror_user(&updated, tenant, None);
        Ok(updated)
    }

    async fn delete_user(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        {
            let mut st = self.lock();
            let t = st.tenants.get_mut(tenant).ok_or(DirectoryError::NotFound)?;
            let rec = t
                .users
                .iter_mut()
                .find(|r| !r.deleted && r.user.id == id)
                .ok_or(DirectoryError::NotFound)?;
            rec.deleted = true;
            rec.user
                .attributes
                .insert("active".into(), Value::Bool(false));
            for g in &mut t.groups {
                if let Some(m) = g.group.members.as_mut() {
                    m.retain(|m| m.value != id);
                }
            }
        }
        if let Some(dir) = &self.mirror {
            dir.set_active(&UserId::new(id), false);
        }
        Ok(())
    }

    async fn create_group(
        &self,
        tenant: &TenantId,
        new: NewScimGroup,
    ) -> Result<ScimGroup, DirectoryError> {
        let mut st = self.lock();
        st.seq += 1;
        let seq = st.seq;
        let t = st.tenants.entry(tenant.clone()).or_default();
        for m in &new.members {
            check_member(t, &m.value, None)?;
        }
        let mut members: Vec<Member> = Vec::new();
        for m in new.members {
            if !members.iter().any(|x| x.value == m.value) {
                members.push(m);
            }
        }
        let group = ScimGroup {
            id: new_resource_id()?,
            meta: Meta {
                created: new.created,
                last_modified: new.created,
                version: Some(version(seq)),
            },
            attributes: new.attributes,
            members: Some(members),
        };
        t.groups.push(GroupRec {
            group: group.clone(),
            seq,
        });
        Ok(group)
    }

    async fn get_group(
        &self,
        tenant: &TenantId,
        id: &str,
        with_members: bool,
    ) -> Result<Option<ScimGroup>, DirectoryError> {
        let st = self.lock();
        Ok(st
            .tenants
            .get(tenant)
            .and_then(|t| t.groups.iter().find(|g| g.group.id == id))
            .map(|g| {
                let mut g = g.group.clone();
                if !with_members {
                    g.members = None;
                }
                g
            }))
    }

    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        with_members: bool,
    ) -> Result<Page<ScimGroup>, DirectoryError> {
        let groups: Vec<ScimGroup> = {
            let st = self.lock();
            st.tenants
                .get(tenant)
                .map(|t| {
                    let mut v: Vec<&GroupRec> = t.groups.iter().collect();
                    v.sort_by_key(|g| g.seq);
                    v.into_iter().map(|g| g.group.clone()).collect()
                })
                .unwrap_or_default()
        };
        let items = groups
            .into_iter()
            .map(|g| (self.group_json(&g), g))
            .collect();
        let mut p = page(items, query, &self.schemas.group);
        if !with_members {
            for g in &mut p.resources {
                g.members = None;
            }
        }
        Ok(p)
    }

    async fn update_group(
        &self,
        tenant: &TenantId,
        group: &ScimGroup,
        if_version: Option<&str>,
    ) -> Result<ScimGroup, DirectoryError> {
        let mut st = self.lock();
        st.seq += 1;
        let seq = st.seq;
        let t = st.tenants.get_mut(tenant).ok_or(DirectoryError::NotFound)?;
        let rec = t
            .groups
            .iter_mut()
            .find(|g| g.group.id == group.id)
            .ok_or(DirectoryError::NotFound)?;
        if let Some(v) = if_version
            && rec.group.meta.version.as_deref() != Some(v)
        {
            return Err(DirectoryError::VersionMismatch);
        }
        rec.group.attributes = group.attributes.clone();
        rec.group.meta.last_modified = group.meta.last_modified;
        rec.group.meta.version = Some(version(seq));
        Ok(rec.group.clone())
    }

    async fn modify_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        delta: &MemberDelta,
        now: SystemTime,
    ) -> Result<(), DirectoryError> {
        let mut st = self.lock();
        st.seq += 1;
        let seq = st.seq;
        let t = st.tenants.get_mut(tenant).ok_or(DirectoryError::NotFound)?;
        if !t.groups.iter().any(|g| g.group.id == group_id) {
            return Err(DirectoryError::NotFound);
        }
        for m in &delta.add {
            check_member(t, &m.value, Some(group_id))?;
        }
        let rec = t
            .groups
            .iter_mut()
            .find(|g| g.group.id == group_id)
            .ok_or(DirectoryError::NotFound)?;
        let members = rec.group.members.get_or_insert_with(Vec::new);
        members.retain(|m| !delta.remove.contains(&m.value));
        for m in &delta.add {
            if !members.iter().any(|x| x.value == m.value) {
                members.push(m.clone());
            }
        }
        rec.group.meta.last_modified = now;
        rec.group.meta.version = Some(version(seq));
        Ok(())
    }

    async fn delete_group(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let mut st = self.lock();
        let t = st.tenants.get_mut(tenant).ok_or(DirectoryError::NotFound)?;
        let before = t.groups.len();
        t.groups.retain(|g| g.group.id != id);
        if t.groups.len() == before {
            return Err(DirectoryError::NotFound);
        }
        for g in &mut t.groups {
            if let Some(m) = g.group.members.as_mut() {
                m.retain(|m| m.value != id);
            }
        }
        Ok(())
    }
}

fn check_member(t: &TenantData, id: &str, group: Option<&str>) -> Result<(), DirectoryError> {
    if group == Some(id) {
        return Err(DirectoryError::InvalidValue(
            "a group cannot be a member of itself".into(),
        ));
    }
    let known = t.users.iter().any(|r| !r.deleted && r.user.id == id)
        || t.groups.iter().any(|g| g.group.id == id);
    if known {
        Ok(())
    } else {
        Err(DirectoryError::InvalidValue(format!(
            "member `{id}` is not a user or group of this tenant"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::new_resource_id;

    #[test]
    fn resource_ids_are_random_uuid_v4() {
        let a = new_resource_id().unwrap();
        let b = new_resource_id().unwrap();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(a.bytes().all(|c| c == b'-' || c.is_ascii_hexdigit()));
        assert!(parts[2].starts_with('4'), "version 4: {a}");
        assert!(
            matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
            "variant: {a}"
        );
    }
}
