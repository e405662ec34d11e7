//! The demo's user database: SQLite, one file every instance opens. It is
//! also the worked example of implementing ssokit's `UserDirectory` hook on
//! SQL: identities in their own table keyed by (connection, subject),
//! e-mails compared through a normalised key column, linking that never
//! moves an identity, provisioning and linking in one transaction. SCIM
//! users are rows of the same `users` table (the `scim_*` columns, see
//! `scim.rs`), so the account the IdP provisions is the one SSO reaches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use ssokit::error::HookError;
use ssokit::hooks::{LinkResult, NewUser, UserDirectory};
use ssokit::types::normalize_email;
use ssokit::{IdentityKey, LocalUser, TenantId, UserId};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant    TEXT NOT NULL,
    email     TEXT NOT NULL,
    email_key TEXT NOT NULL,          -- ssokit::types::normalize_email(email)
    name      TEXT,
    active    INTEGER NOT NULL DEFAULT 1,
    role      TEXT,
    groups_json TEXT NOT NULL DEFAULT '[]',
    attributes_json TEXT NOT NULL DEFAULT '{}',
    scim_id   TEXT UNIQUE,            -- set for users the IdP provisioned over SCIM
    deprovisioned INTEGER NOT NULL DEFAULT 0,
    deleted   INTEGER NOT NULL DEFAULT 0,
    last_sso_login INTEGER            -- unix seconds
);
CREATE INDEX IF NOT EXISTS users_email ON users (tenant, email_key);
CREATE TABLE IF NOT EXISTS identities (
    connection TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    PRIMARY KEY (connection, subject)
);
CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT PRIMARY KEY,      -- the SHA-256 of the session cookie
    user_id    INTEGER NOT NULL REFERENCES users (id),
    connection TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scim_groups (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: stable pages
    tenant     TEXT NOT NULL,
    id         TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL,         -- the SCIM attributes except members (JSON)
    created_ns INTEGER NOT NULL,      -- unix nanoseconds
    modified_ns INTEGER NOT NULL,
    version    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS scim_groups_tenant ON scim_groups (tenant, seq);
CREATE TABLE IF NOT EXISTS scim_members (
    pos       INTEGER PRIMARY KEY AUTOINCREMENT,   -- the order members were added in
    tenant    TEXT NOT NULL,
    group_id  TEXT NOT NULL,          -- scim_groups.id
    value     TEXT NOT NULL,          -- a users.scim_id or a scim_groups.id of the tenant
    kind      TEXT,
    reference TEXT,
    display   TEXT,
    UNIQUE (group_id, value)
);
CREATE INDEX IF NOT EXISTS scim_members_value ON scim_members (tenant, value);
";

/// The SCIM side of a `users` row (see `scim.rs`): added to older files too.
const SCIM_USER_COLUMNS: &[(&str, &str)] = &[
    // The SCIM attributes, canonical names (JSON object; never id or meta).
    ("scim_json", "TEXT"),
    // The userName folded as SCIM compares it (Unicode lower case): unique per tenant.
    ("scim_user_name_key", "TEXT"),
    ("scim_external_id", "TEXT"),
    ("scim_created_ns", "INTEGER"),
    ("scim_modified_ns", "INTEGER"),
    ("scim_version", "INTEGER"),
    ("scim_provisioned_by", "TEXT"),
    // DELETE hides the user from SCIM and frees its userName; the row stays, disabled.
    ("scim_deleted", "INTEGER NOT NULL DEFAULT 0"),
];

const SCIM_INDEXES: &str = "
CREATE UNIQUE INDEX IF NOT EXISTS users_scim_user_name
    ON users (tenant, scim_user_name_key) WHERE scim_id IS NOT NULL AND scim_deleted = 0;
CREATE INDEX IF NOT EXISTS users_scim_external_id
    ON users (tenant, scim_external_id) WHERE scim_id IS NOT NULL;
";

/// `scim_fold(text)`: the case folding of SCIM's `caseExact: false`
/// (`str::to_lowercase`, Unicode-aware; SQLite's own `lower()` and `NOCASE`
/// fold ASCII only). Other types pass through.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::{Value, ValueRef};
    conn.create_scalar_function(
        "scim_fold",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).to_lowercase()),
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::Integer(i),
                ValueRef::Real(r) => Value::Real(r),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            })
        },
    )
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let mut have = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('users')")?;
        for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
            have.push(name?);
        }
    }
    for (name, decl) in SCIM_USER_COLUMNS {
        if !have.iter().any(|h| h == name) {
            // Names and types are the constants above, never input.
            conn.execute_batch(&format!("ALTER TABLE users ADD COLUMN {name} {decl}"))?;
        }
    }
    conn.execute_batch(SCIM_INDEXES)
}

/// The demo's users, identities and sessions in SQLite.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

fn hook(e: rusqlite::Error) -> HookError {
    HookError::new(format!("user database: {e}"))
}

const USER_COLUMNS: &str = "id, tenant, email, name, active, role, groups_json, attributes_json";

fn row_to_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<LocalUser> {
    let groups: String = row.get(6)?;
    let attributes: String = row.get(7)?;
    Ok(LocalUser {
        id: UserId::new(format!("u{}", row.get::<_, i64>(0)?)),
        tenant: TenantId::new(row.get::<_, String>(1)?),
        email: row.get(2)?,
        name: row.get(3)?,
        active: row.get::<_, i64>(4)? != 0,
        role: row.get(5)?,
        groups: serde_json::from_str(&groups).unwrap_or_default(),
        attributes: serde_json::from_str::<BTreeMap<String, String>>(&attributes)
            .unwrap_or_default(),
    })
}

fn numeric(id: &UserId) -> Option<i64> {
    id.as_str().strip_prefix('u')?.parse().ok()
}

impl Db {
    /// Opens (and creates) the database; `None` is a private in-memory one.
    pub(crate) fn open(path: Option<&str>) -> Result<Self, String> {
        let conn = match path {
            Some(p) => Connection::open(p),
            None => Connection::open_in_memory(),
        }
        .map_err(|e| format!("cannot open the user database: {e}"))?;
        // Several processes share the file: WAL, and wait for each other's locks.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        if path.is_some() {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| e.to_string())?;
            // WAL + NORMAL: durable at checkpoints, no fsync per commit.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| e.to_string())?;
        }
        register_functions(&conn).map_err(|e| format!("cannot register functions: {e}"))?;
        // Two instances may create the schema at once: one transaction each.
        conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA}"))
            .and_then(|()| migrate(&conn))
            .and_then(|()| conn.execute_batch("COMMIT"))
            .map_err(|e| format!("cannot create the schema: {e}"))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The connection, for the SCIM directory's transactions (`scim.rs`).
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, HookError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(hook)
    }

    /// Runs a query on the blocking pool: SQLite calls block, and must not
    /// stall the async runtime's worker threads.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, HookError> + Send + 'static,
    ) -> Result<T, HookError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|_| HookError::new("user database task failed"))?
    }

    /// Adds a user unless one with this tenant and e-mail exists (seeding
    /// is idempotent, so several instances can seed the same file).
    pub(crate) fn seed_user(
        &self,
        tenant: &str,
        email: &str,
        name: Option<&str>,
        active: bool,
        role: Option<&str>,
    ) {
        let _ = self.with(|c| {
            let exists: Option<i64> = c
                .query_row(
                    "SELECT id FROM users WHERE tenant = ?1 AND email = ?2",
                    params![tenant, email],
                    |r| r.get(0),
                )
                .optional()?;
            if exists.is_none() {
                c.execute(
                    "INSERT INTO users (tenant, email, email_key, name, active, role) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![tenant, email, normalize_email(email), name, active, role],
                )?;
            }
            Ok(())
        });
    }

    pub(crate) fn user(&self, id: &UserId) -> Option<LocalUser> {
        let n = numeric(id)?;
        self.with(|c| {
            c.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
                [n],
                row_to_user,
            )
            .optional()
        })
        .ok()
        .flatten()
    }

    pub(crate) fn users(&self) -> Vec<LocalUser> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))?;
            let rows = stmt.query_map([], row_to_user)?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    pub(crate) fn identities_of(&self, id: &UserId) -> Vec<IdentityKey> {
        let Some(n) = numeric(id) else {
            return Vec::new();
        };
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT connection, subject FROM identities WHERE user_id = ?1 ORDER BY connection, subject")?;
            let rows = stmt.query_map([n], |r| {
                Ok(IdentityKey { connection: r.get::<_, String>(0)?.into(), subject: r.get(1)? })
            })?;
            rows.collect()
        })
        .unwrap_or_default()
    }

    /// The login-side user of a SCIM id.
    pub(crate) fn user_by_scim_id(&self, tenant: &str, scim_id: &str) -> Option<UserId> {
        self.with(|c| {
            c.query_row(
                "SELECT id FROM users WHERE tenant = ?1 AND scim_id = ?2",
                [tenant, scim_id],
                |r| Ok(UserId::new(format!("u{}", r.get::<_, i64>(0)?))),
            )
            .optional()
        })
        .ok()
        .flatten()
    }

    /// Ends every session of a user.
    pub(crate) fn delete_sessions_of(&self, user: &UserId) {
        if let Some(n) = numeric(user) {
            let _ = self.with(|c| c.execute("DELETE FROM sessions WHERE user_id = ?1", [n]));
        }
    }

    pub(crate) fn create_session(&self, session_hash: &str, user: &UserId, connection: &str) {
        if let Some(n) = numeric(user) {
            let _ = self.with(|c| {
                c.execute(
                    "INSERT INTO sessions (id, user_id, connection) VALUES (?1, ?2, ?3)",
                    params![session_hash, n, connection],
                )
            });
        }
    }

    pub(crate) fn session(&self, session_hash: &str) -> Option<(UserId, String)> {
        self.with(|c| {
            c.query_row(
                "SELECT user_id, connection FROM sessions WHERE id = ?1",
                [session_hash],
                |r| Ok((UserId::new(format!("u{}", r.get::<_, i64>(0)?)), r.get(1)?)),
            )
            .optional()
        })
        .ok()
        .flatten()
    }

    pub(crate) fn delete_session(&self, session_hash: &str) {
        let _ = self.with(|c| c.execute("DELETE FROM sessions WHERE id = ?1", [session_hash]));
    }
}

impl Db {
    fn find_by_identity_sync(
        &self,
        identity: &IdentityKey,
    ) -> Result<Option<LocalUser>, HookError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {} FROM users u JOIN identities i ON i.user_id = u.id \
                     WHERE i.connection = ?1 AND i.subject = ?2",
                    USER_COLUMNS
                        .split(", ")
                        .map(|col| format!("u.{col}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                params![identity.connection.as_str(), identity.subject],
                row_to_user,
            )
            .optional()
        })
    }

    fn find_by_email_sync(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Vec<LocalUser>, HookError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE tenant = ?1 AND email_key = ?2 ORDER BY id"
            ))?;
            let rows = stmt.query_map(
                params![tenant.as_str(), normalize_email(email)],
                row_to_user,
            )?;
            rows.collect()
        })
    }

    fn find_by_id_sync(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Option<LocalUser>, HookError> {
        Ok(self.user(id).filter(|u| &u.tenant == tenant))
    }

    fn link_identity_sync(
        &self,
        user: &UserId,
        identity: &IdentityKey,
    ) -> Result<LinkResult, HookError> {
        let n = numeric(user).ok_or_else(|| HookError::new("no such user"))?;
        self.with(|c| {
            let tx = c.transaction()?;
            let owner: Option<i64> = tx
                .query_row(
                    "SELECT user_id FROM identities WHERE connection = ?1 AND subject = ?2",
                    params![identity.connection.as_str(), identity.subject],
                    |r| r.get(0),
                )
                .optional()?;
            let result = match owner {
                Some(o) if o == n => LinkResult::AlreadyLinked,
                Some(_) => LinkResult::LinkedToAnother,
                None => {
                    tx.execute(
                        "INSERT INTO identities (connection, subject, user_id) VALUES (?1, ?2, ?3)",
                        params![identity.connection.as_str(), identity.subject, n],
                    )?;
                    LinkResult::Linked
                }
            };
            tx.commit()?;
            Ok(result)
        })
    }

    fn provision_sync(&self, tenant: &TenantId, new: NewUser) -> Result<LocalUser, HookError> {
        let id = self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT user_id FROM identities WHERE connection = ?1 AND subject = ?2",
                    params![new.identity.connection.as_str(), new.identity.subject],
                    |r| r.get(0),
                )
                .optional()?;
            let id = match existing {
                Some(id) => id,
                None => {
                    let email = new.email.clone().unwrap_or_default();
                    tx.execute(
                        "INSERT INTO users (tenant, email, email_key, name, active, role, groups_json, attributes_json) \
                         VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)",
                        params![
                            tenant.as_str(),
                            email,
                            normalize_email(&email),
                            new.name,
                            new.role,
                            serde_json::to_string(&new.groups).unwrap_or_else(|_| "[]".into()),
                            serde_json::to_string(&new.attributes).unwrap_or_else(|_| "{}".into()),
                        ],
                    )?;
                    let id = tx.last_insert_rowid();
                    tx.execute(
                        "INSERT INTO identities (connection, subject, user_id) VALUES (?1, ?2, ?3)",
                        params![new.identity.connection.as_str(), new.identity.subject, id],
                    )?;
                    id
                }
            };
            tx.commit()?;
            Ok(id)
        })?;
        self.user(&UserId::new(format!("u{id}")))
            .ok_or_else(|| HookError::new("the new user disappeared"))
    }
}

#[async_trait]
impl UserDirectory for Db {
    async fn find_by_identity(
        &self,
        identity: &IdentityKey,
    ) -> Result<Option<LocalUser>, HookError> {
        let identity = identity.clone();
        self.run(move |db| db.find_by_identity_sync(&identity))
            .await
    }

    async fn find_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Vec<LocalUser>, HookError> {
        let (tenant, email) = (tenant.clone(), email.to_owned());
        self.run(move |db| db.find_by_email_sync(&tenant, &email))
            .await
    }

    async fn find_by_id(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<Option<LocalUser>, HookError> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.run(move |db| db.find_by_id_sync(&tenant, &id)).await
    }

    async fn link_identity(
        &self,
        user: &UserId,
        identity: &IdentityKey,
    ) -> Result<LinkResult, HookError> {
        let (user, identity) = (user.clone(), identity.clone());
        self.run(move |db| db.link_identity_sync(&user, &identity))
            .await
    }

    async fn provision(&self, tenant: &TenantId, new: NewUser) -> Result<LocalUser, HookError> {
        let tenant = tenant.clone();
        self.run(move |db| db.provision_sync(&tenant, new)).await
    }

    async fn record_sign_in(
        &self,
        user: &UserId,
        _identity: &IdentityKey,
        at: std::time::SystemTime,
    ) -> Result<(), HookError> {
        let Some(n) = numeric(user) else {
            return Ok(());
        };
        let secs = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()) as i64;
        self.run(move |db| {
            db.with(|c| {
                c.execute(
                    "UPDATE users SET last_sso_login = ?1 WHERE id = ?2",
                    params![secs, n],
                )
            })
        })
        .await
        .map(|_| ())
    }
}

impl Db {
    fn records(
        &self,
        c: &Connection,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> rusqlite::Result<Vec<ssokit::admin::UserRecord>> {
        let mut stmt = c.prepare(sql)?;
        let rows = stmt.query_map(args, |r| {
            let user = row_to_user(r)?;
            let deleted: i64 = r.get(8)?;
            let deprovisioned: i64 = r.get(9)?;
            let last: Option<i64> = r.get(10)?;
            Ok(ssokit::admin::UserRecord {
                user,
                deleted: deleted != 0,
                last_sso_sign_in: last
                    .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s as u64)),
                identities: Vec::new(),
                deprovisioned: deprovisioned != 0,
            })
        })?;
        let mut out: Vec<ssokit::admin::UserRecord> = rows.collect::<rusqlite::Result<_>>()?;
        for r in &mut out {
            if let Some(n) = numeric(&r.user.id) {
                let mut stmt =
                    c.prepare("SELECT connection, subject FROM identities WHERE user_id = ?1")?;
                r.identities = stmt
                    .query_map([n], |row| {
                        Ok(IdentityKey {
                            connection: row.get::<_, String>(0)?.into(),
                            subject: row.get(1)?,
                        })
                    })?
                    .collect::<rusqlite::Result<_>>()?;
            }
        }
        Ok(out)
    }
}

const RECORD_COLUMNS: &str = "id, tenant, email, name, active, role, groups_json, attributes_json, deleted, deprovisioned, last_sso_login";

#[async_trait]
impl ssokit::admin::AdminDirectory for Db {
    async fn users(
        &self,
        tenant: &TenantId,
        filter: &ssokit::admin::UserFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ssokit::admin::Page<ssokit::admin::UserRecord>, HookError> {
        let mut after_n = after.and_then(|a| numeric(&UserId::new(a))).unwrap_or(0);
        let mut items = Vec::new();
        loop {
            let batch = self.with(|c| {
                self.records(
                    c,
                    &format!("SELECT {RECORD_COLUMNS} FROM users WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT 500"),
                    &[&tenant.as_str(), &after_n],
                )
            })?;
            let done = batch.len() < 500;
            for r in batch {
                after_n = numeric(&r.user.id).unwrap_or(after_n);
                if filter.matches(&r) {
                    items.push(r);
                    if items.len() > limit {
                        items.pop();
                        let next = items.last().map(|r| r.user.id.to_string());
                        return Ok(ssokit::admin::Page { items, next });
                    }
                }
            }
            if done {
                return Ok(ssokit::admin::Page { items, next: None });
            }
        }
    }

    async fn users_by_email_key(
        &self,
        tenant: &TenantId,
        after: Option<(&str, &UserId)>,
        limit: usize,
    ) -> Result<Vec<ssokit::admin::UserRecord>, HookError> {
        let (key, id) = after
            .map(|(k, i)| (k.to_owned(), numeric(i).unwrap_or(0)))
            .unwrap_or((String::new(), -1));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            self.records(
                c,
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM users WHERE tenant = ?1 AND (email_key, id) > (?2, ?3) \
                     ORDER BY email_key, id LIMIT ?4"
                ),
                &[&tenant.as_str(), &key, &id, &limit],
            )
        })
    }

    async fn set_active(
        &self,
        tenant: &TenantId,
        user: &UserId,
        active: bool,
    ) -> Result<bool, HookError> {
        let Some(n) = numeric(user) else {
            return Ok(false);
        };
        let changed = self.with(|c| {
            c.execute(
                "UPDATE users SET active = ?1 WHERE id = ?2 AND tenant = ?3",
                params![active, n, tenant.as_str()],
            )
        })?;
        if !active {
            self.delete_sessions_of(user);
        }
        Ok(changed > 0)
    }

    async fn unlink_identity(
        &self,
        tenant: &TenantId,
        user: &UserId,
        identity: &IdentityKey,
    ) -> Result<bool, HookError> {
        let Some(n) = numeric(user) else {
            return Ok(false);
        };
        let removed =
            self.with(|c| {
                c.execute(
                "DELETE FROM identities WHERE connection = ?1 AND subject = ?2 AND user_id = ?3 \
                 AND user_id IN (SELECT id FROM users WHERE tenant = ?4)",
                params![identity.connection.as_str(), identity.subject, n, tenant.as_str()],
            )
            })?;
        Ok(removed > 0)
    }
}
