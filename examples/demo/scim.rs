//! The demo's SCIM service: ssokit's `ScimService` over a `ScimDirectory`
//! on the demo's SQLite database, the file every instance opens.
//!
//! A SCIM user *is* a row of `users` (the table the login flow reads): its
//! `scim_*` columns hold the SCIM attributes (JSON), the folded `userName`
//! (unique per tenant: a partial unique index), `externalId`, times and
//! version; `email`, `name` and `active` follow them, so a user the IdP
//! provisions is the account its SSO login reaches, and a user it disables
//! cannot sign in. Groups and memberships have their own tables. Filters and
//! `sortBy` are translated to SQL in `scim_sql.rs`; every write is one
//! `BEGIN IMMEDIATE` transaction, so two instances never lose an update.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde_json::{Map, Value};
use ssokit::error::HookError;
use ssokit::hooks::{ProvisionedAccount, ProvisionedAccounts};
use ssokit::scim::{
    DirectoryError, ListQuery, Member, MemberDelta, Meta, NewScimGroup, NewScimUser, Page,
    ResourceType, RevokeReason, ScimDirectory, ScimGroup, ScimSchemas, ScimService, ScimUser,
    SessionRevoker, new_resource_id,
};
use ssokit::types::normalize_email;
use ssokit::{ConnectionId, TenantId, UserId, VerifiedIdentity};

use crate::db::Db;
use crate::scim_sql::{Binds, sort_key_sql, where_sql};

/// SCIM users and groups in the demo's SQLite database.
pub(crate) struct DemoScimDirectory {
    db: Db,
    /// The schemas the service resolves filters with (for the case rules).
    schemas: Arc<ScimSchemas>,
}

impl DemoScimDirectory {
    /// A directory in `db`, with the standard schemas (the service's default).
    pub(crate) fn new(db: Db) -> Self {
        Self {
            db,
            schemas: Arc::new(ScimSchemas::standard()),
        }
    }

    /// Runs `f` on the connection, on the blocking pool: SQLite calls block.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection, &ScimSchemas) -> Result<T, DirectoryError> + Send + 'static,
    ) -> Result<T, DirectoryError> {
        let (db, schemas) = (self.db.clone(), self.schemas.clone());
        tokio::task::spawn_blocking(move || f(&mut db.lock(), &schemas))
            .await
            .map_err(|_| DirectoryError::Failed(HookError::new("SCIM directory task failed")))?
    }
}

/// rusqlite errors as directory errors (500, logged).
trait Sql<T> {
    fn dir(self) -> Result<T, DirectoryError>;
}

impl<T> Sql<T> for rusqlite::Result<T> {
    fn dir(self) -> Result<T, DirectoryError> {
        self.map_err(|e| match &e {
            // The unique index on (tenant, userName): another instance won the race.
            rusqlite::Error::SqliteFailure(f, Some(m))
                if f.code == ErrorCode::ConstraintViolation && m.contains("scim_user_name_key") =>
            {
                taken()
            }
            _ => DirectoryError::Failed(HookError::new(format!("SCIM directory: {e}"))),
        })
    }
}

fn taken() -> DirectoryError {
    DirectoryError::Conflict("userName is already taken".into())
}

fn write_tx(c: &mut Connection) -> Result<Transaction<'_>, DirectoryError> {
    c.transaction_with_behavior(TransactionBehavior::Immediate)
        .dir()
}

/// Unix nanoseconds (saturating; before the epoch is the epoch).
fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn time(ns: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

fn version(n: i64) -> String {
    format!("W/\"{n}\"")
}

fn json_text(m: &Map<String, Value>) -> String {
    Value::Object(m.clone()).to_string()
}

fn parse_attributes(text: &str) -> rusqlite::Result<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// The login-side fields of a SCIM user: e-mail (primary, else userName),
/// display name, active.
fn login_fields(u: &ScimUser) -> (String, Option<String>, bool) {
    let email = u.primary_email().or(u.user_name()).unwrap_or_default();
    (
        email.to_owned(),
        u.display_name().map(str::to_owned),
        !u.is_disabled(),
    )
}

// ------------------------------------------------------------------ users

/// The users of a tenant SCIM sees, as rows `r` for `scim_sql`.
const USERS: &str = "SELECT u.id AS seq, u.scim_id AS id, u.scim_json AS doc, \
     u.scim_created_ns AS created_ns, u.scim_modified_ns AS modified_ns, u.scim_version AS version, \
     u.scim_provisioned_by AS provisioned_by, u.scim_user_name_key AS user_name_key, \
     u.scim_external_id AS external_id \
     FROM users u WHERE u.tenant = ?1 AND u.scim_id IS NOT NULL AND u.scim_deleted = 0";

const USER_FIELDS: &str = "r.id, r.doc, r.created_ns, r.modified_ns, r.version, r.provisioned_by";

const USER_TABLE: Table = Table {
    base: USERS,
    fields: USER_FIELDS,
    indexed: true,
};

/// `meta` from columns 2–4 (created, modified, version) of a user or group row.
fn row_meta(r: &rusqlite::Row<'_>) -> rusqlite::Result<Meta> {
    Ok(Meta {
        created: time(r.get(2)?),
        last_modified: time(r.get(3)?),
        version: Some(version(r.get(4)?)),
    })
}

fn row_to_scim_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScimUser> {
    Ok(ScimUser {
        id: r.get(0)?,
        attributes: parse_attributes(&r.get::<_, String>(1)?)?,
        meta: row_meta(r)?,
        provisioned_by: r.get::<_, Option<String>>(5)?.map(ConnectionId::new),
    })
}

fn user_by_id(
    c: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<ScimUser>, DirectoryError> {
    c.query_row(
        &format!("SELECT {USER_FIELDS} FROM ({USERS}) AS r WHERE r.id = ?2"),
        params![tenant.as_str(), id],
        row_to_scim_user,
    )
    .optional()
    .dir()
}

/// Whether another live SCIM user of the tenant has this userName (folded).
fn user_name_taken(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    key: Option<&str>,
    except: Option<&str>,
) -> Result<bool, DirectoryError> {
    tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE tenant = ?1 AND scim_id IS NOT NULL \
         AND scim_deleted = 0 AND scim_user_name_key IS ?2 AND scim_id IS NOT ?3)",
        params![tenant.as_str(), key, except],
        |r| r.get(0),
    )
    .dir()
}

/// A user or group of the tenant that may be a member (not the group itself).
fn check_member(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    id: &str,
    group: Option<&str>,
) -> Result<(), DirectoryError> {
    if group == Some(id) {
        return Err(DirectoryError::InvalidValue(
            "a group cannot be a member of itself".into(),
        ));
    }
    let known: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE tenant = ?1 AND scim_id = ?2 AND scim_deleted = 0) \
             OR EXISTS (SELECT 1 FROM scim_groups WHERE tenant = ?1 AND id = ?2)",
            params![tenant.as_str(), id],
            |r| r.get(0),
        )
        .dir()?;
    if known {
        Ok(())
    } else {
        Err(DirectoryError::InvalidValue(format!(
            "member `{id}` is not a user or group of this tenant"
        )))
    }
}

/// What a list reads: the rows `r` of a tenant (`?1`), the fields a row
/// mapper reads, and whether `r` has the indexed user columns.
struct Table {
    base: &'static str,
    fields: &'static str,
    indexed: bool,
}

/// One page of `table` matching the query, with the total.
fn list<T>(
    c: &mut Connection,
    tenant: &TenantId,
    rt: &ResourceType,
    table: &Table,
    q: &ListQuery,
    row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Page<T>, DirectoryError> {
    let mut binds = Binds::default();
    binds.push(tenant.as_str().to_owned()); // ?1, used by `base`
    let cond = match &q.filter {
        Some(f) => where_sql(f, rt, table.indexed, &mut binds)?,
        None => "1".to_owned(),
    };
    let count_binds = binds.0.clone(); // the count has no ORDER BY or LIMIT
    let order = match &q.sort {
        // Unassigned values last ascending, first descending; ties in creation order.
        Some(s) => {
            let key = sort_key_sql(s, rt, &mut binds)?;
            let dir = if s.descending { "DESC" } else { "ASC" };
            format!("({key}) IS NULL {dir}, ({key}) {dir}, r.seq")
        }
        None => "r.seq".to_owned(),
    };
    let Table { base, fields, .. } = table;
    let tx = c.transaction().dir()?; // one snapshot for the count and the page
    let total: i64 = tx
        .query_row(
            &format!("SELECT COUNT(*) FROM ({base}) AS r WHERE {cond}"),
            rusqlite::params_from_iter(&count_binds),
            |r| r.get(0),
        )
        .dir()?;
    let limit = binds.push(i64::try_from(q.count).unwrap_or(i64::MAX));
    let offset = binds.push(i64::try_from(q.start_index.max(1) - 1).unwrap_or(i64::MAX));
    let resources = {
        let mut stmt = tx
            .prepare(&format!(
                "SELECT {fields} FROM ({base}) AS r WHERE {cond} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            ))
            .dir()?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(&binds.0), row)
            .dir()?;
        rows.collect::<rusqlite::Result<Vec<T>>>().dir()?
    };
    tx.commit().dir()?;
    Ok(Page {
        total_results: usize::try_from(total).unwrap_or(0),
        resources,
    })
}

// ------------------------------------------------------------------ groups

/// The groups of a tenant, as rows `r` for `scim_sql`: `doc` holds the
/// members too, so `members[value eq "…"]` filters work.
const GROUPS: &str = "SELECT g.seq, g.id, g.attributes, g.created_ns, g.modified_ns, g.version, \
     json_set(g.attributes, '$.members', json((SELECT json_group_array(json_object(\
         'value', m.value, '$ref', m.reference, 'type', m.kind, 'display', m.display)) \
         FROM scim_members m WHERE m.group_id = g.id))) AS doc \
     FROM scim_groups g WHERE g.tenant = ?1";

const GROUP_FIELDS: &str = "r.id, r.attributes, r.created_ns, r.modified_ns, r.version";

const GROUP_TABLE: Table = Table {
    base: GROUPS,
    fields: GROUP_FIELDS,
    indexed: false,
};

fn row_to_group(r: &rusqlite::Row<'_>) -> rusqlite::Result<ScimGroup> {
    Ok(ScimGroup {
        id: r.get(0)?,
        attributes: parse_attributes(&r.get::<_, String>(1)?)?,
        meta: row_meta(r)?,
        members: None,
    })
}

fn members_of(c: &Connection, group: &str) -> Result<Vec<Member>, DirectoryError> {
    let mut stmt = c
        .prepare(
            "SELECT value, kind, reference, display FROM scim_members WHERE group_id = ?1 ORDER BY pos",
        )
        .dir()?;
    let rows = stmt
        .query_map([group], |r| {
            Ok(Member {
                value: r.get(0)?,
                kind: r.get(1)?,
                reference: r.get(2)?,
                display: r.get(3)?,
            })
        })
        .dir()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().dir()
}

fn group_by_id(
    c: &Connection,
    tenant: &TenantId,
    id: &str,
    with_members: bool,
) -> Result<Option<ScimGroup>, DirectoryError> {
    let g = c
        .query_row(
            &format!("SELECT {GROUP_FIELDS} FROM ({GROUPS}) AS r WHERE r.id = ?2"),
            params![tenant.as_str(), id],
            row_to_group,
        )
        .optional()
        .dir()?;
    match g {
        Some(mut g) if with_members => {
            g.members = Some(members_of(c, &g.id)?);
            Ok(Some(g))
        }
        other => Ok(other),
    }
}

fn add_member(
    tx: &Transaction<'_>,
    tenant: &TenantId,
    group: &str,
    m: &Member,
) -> Result<(), DirectoryError> {
    // Adding a present member changes nothing (not even its display).
    tx.execute(
        "INSERT OR IGNORE INTO scim_members (tenant, group_id, value, kind, reference, display) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            tenant.as_str(),
            group,
            m.value,
            m.kind,
            m.reference,
            m.display
        ],
    )
    .dir()
    .map(drop)
}

#[async_trait]
impl ScimDirectory for DemoScimDirectory {
    async fn create_user(
        &self,
        tenant: &TenantId,
        new: NewScimUser,
    ) -> Result<ScimUser, DirectoryError> {
        let tenant = tenant.clone();
        self.run(move |c, _| {
            let user = ScimUser {
                id: new_resource_id()?,
                meta: Meta {
                    version: Some(version(1)),
                    ..Meta::new(new.created)
                },
                attributes: new.attributes,
                provisioned_by: new.provisioned_by,
            };
            let key = user.user_name().map(str::to_lowercase);
            let (email, name, active) = login_fields(&user);
            let t = &new.template;
            let tx = write_tx(c)?;
            if user_name_taken(&tx, &tenant, key.as_deref(), None)? {
                return Err(taken());
            }
            tx.execute(
                "INSERT INTO users (tenant, email, email_key, name, active, deprovisioned, role, \
                 groups_json, attributes_json, scim_id, scim_json, scim_user_name_key, scim_external_id, \
                 scim_created_ns, scim_modified_ns, scim_version, scim_provisioned_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, 1, ?15)",
                params![
                    tenant.as_str(),
                    email,
                    normalize_email(&email),
                    name,
                    active,
                    !active,
                    t.role,
                    serde_json::to_string(&t.groups).unwrap_or_else(|_| "[]".into()),
                    serde_json::to_string(&t.attributes).unwrap_or_else(|_| "{}".into()),
                    user.id,
                    json_text(&user.attributes),
                    key,
                    user.external_id(),
                    nanos(new.created),
                    user.provisioned_by.as_ref().map(ConnectionId::as_str),
                ],
            )
            .dir()?;
            tx.commit().dir()?;
            Ok(user)
        })
        .await
    }

    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.run(move |c, _| user_by_id(c, &tenant, &id)).await
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ScimUser>, DirectoryError> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.run(move |c, s| list(c, &tenant, &s.user, &USER_TABLE, &query, row_to_scim_user))
            .await
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        user: &ScimUser,
        if_version: Option<&str>,
    ) -> Result<ScimUser, DirectoryError> {
        let (tenant, user, if_version) =
            (tenant.clone(), user.clone(), if_version.map(str::to_owned));
        self.run(move |c, _| {
            let key = user.user_name().map(str::to_lowercase);
            let (email, name, active) = login_fields(&user);
            let tx = write_tx(c)?;
            // The same order of checks as the memory directory: userName, existence, version.
            if user_name_taken(&tx, &tenant, key.as_deref(), Some(&user.id))? {
                return Err(taken());
            }
            let current = user_by_id(&tx, &tenant, &user.id)?.ok_or(DirectoryError::NotFound)?;
            if let Some(v) = if_version
                && current.meta.version.as_deref() != Some(v.as_str())
            {
                return Err(DirectoryError::VersionMismatch);
            }
            // SSO never reactivates: `active` follows SCIM only.
            tx.execute(
                "UPDATE users SET email = ?1, email_key = ?2, name = ?3, active = ?4, deprovisioned = ?5, \
                 scim_json = ?6, scim_user_name_key = ?7, scim_external_id = ?8, scim_modified_ns = ?9, \
                 scim_version = scim_version + 1 \
                 WHERE tenant = ?10 AND scim_id = ?11 AND scim_deleted = 0",
                params![
                    email,
                    normalize_email(&email),
                    name,
                    active,
                    !active,
                    json_text(&user.attributes),
                    key,
                    user.external_id(),
                    nanos(user.meta.last_modified),
                    tenant.as_str(),
                    user.id,
                ],
            )
            .dir()?;
            let updated = user_by_id(&tx, &tenant, &user.id)?.ok_or(DirectoryError::NotFound)?;
            tx.commit().dir()?;
            Ok(updated)
        })
        .await
    }

    async fn delete_user(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.run(move |c, _| {
            let tx = write_tx(c)?;
            // Kept, disabled: SSO and JIT never bring it back; SCIM no longer sees it.
            let n = tx
                .execute(
                    "UPDATE users SET active = 0, deprovisioned = 1, scim_deleted = 1, \
                     scim_json = json_set(scim_json, '$.active', json('false')) \
                     WHERE tenant = ?1 AND scim_id = ?2 AND scim_deleted = 0",
                    params![tenant.as_str(), id],
                )
                .dir()?;
            if n == 0 {
                return Err(DirectoryError::NotFound);
            }
            tx.execute(
                "DELETE FROM scim_members WHERE tenant = ?1 AND value = ?2",
                params![tenant.as_str(), id],
            )
            .dir()?;
            tx.commit().dir()
        })
        .await
    }

    async fn create_group(
        &self,
        tenant: &TenantId,
        new: NewScimGroup,
    ) -> Result<ScimGroup, DirectoryError> {
        let tenant = tenant.clone();
        self.run(move |c, _| {
            let id = new_resource_id()?;
            let tx = write_tx(c)?;
            for m in &new.members {
                check_member(&tx, &tenant, &m.value, None)?;
            }
            tx.execute(
                "INSERT INTO scim_groups (tenant, id, attributes, created_ns, modified_ns, version) \
                 VALUES (?1, ?2, ?3, ?4, ?4, 1)",
                params![tenant.as_str(), id, json_text(&new.attributes), nanos(new.created)],
            )
            .dir()?;
            for m in &new.members {
                add_member(&tx, &tenant, &id, m)?;
            }
            let group = group_by_id(&tx, &tenant, &id, true)?.ok_or(DirectoryError::NotFound)?;
            tx.commit().dir()?;
            Ok(group)
        })
        .await
    }

    async fn get_group(
        &self,
        tenant: &TenantId,
        id: &str,
        with_members: bool,
    ) -> Result<Option<ScimGroup>, DirectoryError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.run(move |c, _| group_by_id(c, &tenant, &id, with_members))
            .await
    }

    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        with_members: bool,
    ) -> Result<Page<ScimGroup>, DirectoryError> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.run(move |c, s| {
            let mut page = list(c, &tenant, &s.group, &GROUP_TABLE, &query, row_to_group)?;
            if with_members {
                for g in &mut page.resources {
                    g.members = Some(members_of(c, &g.id)?);
                }
            }
            Ok(page)
        })
        .await
    }

    async fn update_group(
        &self,
        tenant: &TenantId,
        group: &ScimGroup,
        if_version: Option<&str>,
    ) -> Result<ScimGroup, DirectoryError> {
        let (tenant, group, if_version) =
            (tenant.clone(), group.clone(), if_version.map(str::to_owned));
        self.run(move |c, _| {
            let tx = write_tx(c)?;
            let current =
                group_by_id(&tx, &tenant, &group.id, false)?.ok_or(DirectoryError::NotFound)?;
            if let Some(v) = if_version
                && current.meta.version.as_deref() != Some(v.as_str())
            {
                return Err(DirectoryError::VersionMismatch);
            }
            // `members` is ignored: membership changes arrive as deltas.
            tx.execute(
                "UPDATE scim_groups SET attributes = ?1, modified_ns = ?2, version = version + 1 \
                 WHERE tenant = ?3 AND id = ?4",
                params![
                    json_text(&group.attributes),
                    nanos(group.meta.last_modified),
                    tenant.as_str(),
                    group.id
                ],
            )
            .dir()?;
            let updated =
                group_by_id(&tx, &tenant, &group.id, true)?.ok_or(DirectoryError::NotFound)?;
            tx.commit().dir()?;
            Ok(updated)
        })
        .await
    }

    async fn modify_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        delta: &MemberDelta,
        now: SystemTime,
    ) -> Result<(), DirectoryError> {
        let (tenant, group_id, delta) = (tenant.clone(), group_id.to_owned(), delta.clone());
        self.run(move |c, _| {
            // One transaction: concurrent deltas each see the other's result.
            let tx = write_tx(c)?;
            let n = tx
                .execute(
                    "UPDATE scim_groups SET modified_ns = ?1, version = version + 1 WHERE tenant = ?2 AND id = ?3",
                    params![nanos(now), tenant.as_str(), group_id],
                )
                .dir()?;
            if n == 0 {
                return Err(DirectoryError::NotFound);
            }
            for m in &delta.add {
                check_member(&tx, &tenant, &m.value, Some(&group_id))?;
            }
            for id in &delta.remove {
                tx.execute(
                    "DELETE FROM scim_members WHERE group_id = ?1 AND value = ?2",
                    params![group_id, id],
                )
                .dir()?;
            }
            for m in &delta.add {
                add_member(&tx, &tenant, &group_id, m)?;
            }
            tx.commit().dir()
        })
        .await
    }

    async fn delete_group(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.run(move |c, _| {
            let tx = write_tx(c)?;
            let n = tx
                .execute(
                    "DELETE FROM scim_groups WHERE tenant = ?1 AND id = ?2",
                    params![tenant.as_str(), id],
                )
                .dir()?;
            if n == 0 {
                return Err(DirectoryError::NotFound);
            }
            // Its members, and its membership in other groups.
            tx.execute(
                "DELETE FROM scim_members WHERE group_id = ?1 OR (tenant = ?2 AND value = ?1)",
                params![id, tenant.as_str()],
            )
            .dir()?;
            tx.commit().dir()
        })
        .await
    }
}

/// De-provisioning ends the user's sessions at once.
pub(crate) struct DemoRevoker {
    pub(crate) db: Db,
}

#[async_trait]
impl SessionRevoker for DemoRevoker {
    async fn revoke_sessions(
        &self,
        tenant: &TenantId,
        user: &UserId,
        _reason: RevokeReason,
    ) -> Result<(), HookError> {
        if let Some(id) = self.db.user_by_scim_id(tenant.as_str(), user.as_str()) {
            self.db.delete_sessions_of(&id);
        }
        Ok(())
    }
}

/// The login flow's view of SCIM: the provisioned user, mapped to the
/// user table's id.
pub(crate) struct DemoProvisioned {
    pub(crate) scim: Arc<ScimService>,
    pub(crate) db: Db,
}

#[async_trait]
impl ProvisionedAccounts for DemoProvisioned {
    async fn find(
        &self,
        tenant: &TenantId,
        identity: &VerifiedIdentity,
    ) -> Result<Option<ProvisionedAccount>, HookError> {
        let Some(p) = self
            .scim
            .provisioned_user(tenant, identity)
            .await
            .map_err(|e| HookError::new(format!("SCIM directory: {e}")))?
        else {
            return Ok(None);
        };
        Ok(self
            .db
            .user_by_scim_id(tenant.as_str(), p.user_id.as_str())
            .map(|user| ProvisionedAccount {
                user,
                disabled: p.disabled,
            }))
    }
}
