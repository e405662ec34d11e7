//! The admin APIs of [`Sso`]: activation links, audits, hygiene, unlinking.

use std::time::Duration;

use super::{Ctx, Sso};
use crate::admin::{
    ActivationReport, AdminDirectory, AuditCursor, AuditPage, DuplicateGroup, Page, UserFilter,
    UserRecord,
};
use crate::error::{ActivationError, BadRequest, Error, ErrorKind, LinkError};
use crate::flow::{
    ActivationTicket, Begin, Outcome, SignInKind, new_handle, store_key, validate_return_to,
};
use crate::hooks::{EventKind, LinkResult, Mail, MailKind};
use crate::policy::{self, DenyReason};
use crate::secret::{SecretString, sha256_hex};
use crate::types::{
    ConnectionId, IdentityKey, LocalUser, TenantId, TraceId, UserId, VerifiedIdentity,
    normalize_email,
};

/// The store key of a user's newest activation link (its token's hash).
fn current_activation_key(tenant: &TenantId, user: &UserId) -> String {
    // Built like a handle so it shares the tenant's namespace.
    store_key(
        "activation-current",
        &format!("{}.{}", tenant_segment(tenant), user.as_str()),
    )
}

fn tenant_segment(tenant: &TenantId) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tenant.as_str())
}

impl Sso {
    fn admin_dir(&self) -> Result<&dyn AdminDirectory, Error> {
        self.inner.admin.as_deref().ok_or_else(|| {
            Error::new(ErrorKind::Config(
                "admin APIs need an AdminDirectory (SsoBuilder::admin_directory)".into(),
            ))
        })
    }

    /// Mails an activation link ("reset login method" / invite) to each of
    /// `users`, bound to that user and `connection`. Inactive users get none;
    /// unknown ids are reported. Sending again supersedes a user's previous
    /// link.
    pub async fn send_activation(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        users: &[UserId],
    ) -> Result<ActivationReport, Error> {
        let trace_id = TraceId::random();
        let conn = self
            .inner
            .connections
            .connection(connection)
            .await?
            .filter(|c| &c.tenant == tenant && c.enabled)
            .ok_or(ActivationError::NotApplicable)
            .map_err(|e| Error::from(e).with_trace(&trace_id))?;
        let mailer = self.inner.mailer.as_ref().ok_or_else(|| {
            Error::new(ErrorKind::Config(
                "activation links need a Mailer (SsoBuilder::mailer)".into(),
            ))
        })?;
        let mut report = ActivationReport::default();
        for id in users {
            let Some(user) = self.inner.users.find_by_id(tenant, id).await? else {
                report.not_found.push(id.clone());
                continue;
            };
            if !user.active {
                report.inactive.push(id.clone());
                continue;
            }
            let ttl = self.inner.config.activation_ttl;
            let token = new_handle(tenant);
            let ticket = ActivationTicket {
                user: user.id.clone(),
                tenant: tenant.clone(),
                connection: conn.id.clone(),
                expires_at: self.now() + ttl,
            };
            self.put(&store_key("activation", &token), &ticket, ttl)
                .await?;
            // The newest link is the only valid one.
            self.inner
                .flows
                .put(
                    &current_activation_key(tenant, &user.id),
                    sha256_hex(token.as_bytes()).into_bytes(),
                    ttl,
                )
                .await?;
            let mut link = self.inner.activation.clone();
            link.query_pairs_mut().append_pair("token", &token);
            let app = &self.inner.config.app_name;
            let days = ttl.as_secs().div_ceil(86_400);
            mailer
                .send(Mail {
                    kind: MailKind::Activation,
                    to: user.email.clone(),
                    subject: format!("Sign in to {app} with {}", conn.display_name),
                    body: SecretString::new(format!(
                        "Your administrator switched your {app} account {to} to single sign-on with {name}.\n\n\
                         Open this link to sign in with it (valid {days} days, once):\n\n{link}\n\nReference: {trace_id}",
                        to = user.email,
                        name = conn.display_name,
                    )),
                    link: SecretString::new(link.to_string()),
                })
                .await?;
            self.emit(
                EventKind::ActivationSent,
                &trace_id,
                &Ctx {
                    connection: Some(&conn),
                    user: Some(&user),
                    ..Ctx::default()
                },
                None,
            );
            report.sent.push(user.id.clone());
        }
        Ok(report)
    }

    /// [`send_activation`](Self::send_activation) for every user of the
    /// tenant matching `filter`, paged from the [`AdminDirectory`].
    pub async fn send_activation_filtered(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        filter: &UserFilter,
    ) -> Result<ActivationReport, Error> {
        let admin = self.admin_dir()?;
        let mut report = ActivationReport::default();
        let mut after: Option<String> = None;
        loop {
            let page = admin.users(tenant, filter, after.as_deref(), 500).await?;
            let ids: Vec<UserId> = page.items.iter().map(|r| r.user.id.clone()).collect();
            let part = self.send_activation(tenant, connection, &ids).await?;
            report.sent.extend(part.sent);
            report.inactive.extend(part.inactive);
            report.not_found.extend(part.not_found);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(report),
            }
        }
    }

    /// Follows an activation link: checks the token (known, unexpired, the
    /// newest for its user) and starts an SSO login on the link's
    /// connection. The token is consumed when that login completes.
    pub async fn begin_activation(
        &self,
        token: &str,
        return_to: Option<&str>,
    ) -> Result<Begin, Error> {
        let trace_id = TraceId::random();
        let refuse = |e: ActivationError| {
            self.emit(
                EventKind::ActivationRefused,
                &trace_id,
                &Ctx::default(),
                Some(format!("{e:?}")),
            );
            Error::from(e).with_trace(&trace_id)
        };
        if token.is_empty() || token.len() > 512 {
            return Err(refuse(ActivationError::Invalid));
        }
        let return_to =
            validate_return_to(return_to).map_err(|e| Error::from(e).with_trace(&trace_id))?;
        let ticket: ActivationTicket = match self
            .inner
            .flows
            .get(&store_key("activation", token))
            .await?
        {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|_| refuse(ActivationError::Invalid))?
            }
            None => return Err(refuse(ActivationError::Invalid)),
        };
        self.check_activation(&ticket, token)
            .await
            .map_err(refuse)?;
        let conn = self
            .inner
            .connections
            .connection(&ticket.connection)
            .await?
            .filter(|c| c.tenant == ticket.tenant && c.enabled)
            .ok_or_else(|| refuse(ActivationError::NotApplicable))?;
        let hint = self
            .inner
            .users
            .find_by_id(&ticket.tenant, &ticket.user)
            .await?
            .map(|u| u.email);
        self.start_on(
            &conn,
            return_to,
            hint.as_deref(),
            Some(token.to_owned()),
            trace_id,
        )
        .await
    }

    async fn check_activation(
        &self,
        ticket: &ActivationTicket,
        token: &str,
    ) -> Result<(), ActivationError> {
        if self.now() >= ticket.expires_at {
            return Err(ActivationError::Expired);
        }
        let current = self
            .inner
            .flows
            .get(&current_activation_key(&ticket.tenant, &ticket.user))
            .await
            .map_err(|_| ActivationError::Invalid)?;
        if current.as_deref() != Some(sha256_hex(token.as_bytes()).as_bytes()) {
            return Err(ActivationError::Superseded);
        }
        Ok(())
    }

    /// The end of an activation login: the identity (already admitted by the
    /// connection's rules) is linked to the link's user.
    pub(super) async fn complete_activation(
        &self,
        conn: &crate::connection::Connection,
        identity: VerifiedIdentity,
        token: &str,
        return_to: String,
        trace_id: TraceId,
    ) -> Result<Outcome, Error> {
        let ctx = Ctx {
            connection: Some(conn),
            identity: Some(&identity),
            ..Ctx::default()
        };
        let refuse = |e: ActivationError| {
            self.emit(
                EventKind::ActivationRefused,
                &trace_id,
                &ctx,
                Some(format!("{e:?}")),
            );
            Error::from(e).with_trace(&trace_id)
        };
        let ticket: ActivationTicket = self
            .take(&store_key("activation", token))
            .await
            .map_err(|e| self.fail(e, &trace_id, &ctx))?
            .ok_or_else(|| refuse(ActivationError::Invalid))?;
        self.check_activation(&ticket, token)
            .await
            .map_err(refuse)?;
        let _ = self
            .inner
            .flows
            .take(&current_activation_key(&ticket.tenant, &ticket.user))
            .await;
        // The identity must come from the link's connection (and so its tenant).
        if ticket.connection != conn.id
            || ticket.tenant != conn.tenant
            || identity.key.connection != conn.id
        {
            return Err(refuse(ActivationError::NotApplicable));
        }
        let user = self
            .inner
            .users
            .find_by_id(&ticket.tenant, &ticket.user)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
            .ok_or_else(|| refuse(ActivationError::Invalid))?;
        let ctx = Ctx {
            user: Some(&user),
            ..ctx
        };
        if !user.active {
            return Ok(self.denied(DenyReason::UserInactive, trace_id, &ctx));
        }
        if !policy::in_rollout(conn, &identity, Some(&user)) {
            return Ok(self.denied(DenyReason::NotInRollout, trace_id, &ctx));
        }
        match self
            .inner
            .users
            .link_identity(&user.id, &identity.key)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
        {
            LinkResult::Linked | LinkResult::AlreadyLinked => {}
            LinkResult::LinkedToAnother => {
                return Err(self.fail(LinkError::IdentityLinkedElsewhere.into(), &trace_id, &ctx));
            }
        }
        self.emit(EventKind::ActivationCompleted, &trace_id, &ctx, None);
        Ok(self
            .signed_in(
                user,
                identity,
                SignInKind::Activated,
                return_to,
                trace_id,
                conn,
            )
            .await)
    }

    /// One page of the duplicate-e-mail audit: groups of two or more users
    /// of `tenant` whose normalised e-mails are equal (case, surrounding
    /// white space, Unicode NFC), deleted and inactive users included.
    /// Memory is bounded by the page and the largest group.
    pub async fn duplicate_emails(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        max_groups: usize,
    ) -> Result<AuditPage, Error> {
        const BATCH: usize = 1000;
        let admin = self.admin_dir()?;
        let parsed: Option<AuditCursor> = match cursor {
            Some(c) => Some(serde_json::from_str(c).map_err(|_| BadRequest::Malformed("cursor"))?),
            None => None,
        };
        // `fetch_after`: the last record read; `resume`: the last record of
        // the last complete group — where the next page starts.
        let mut fetch_after = parsed;
        let mut groups = Vec::new();
        let mut current: Vec<UserRecord> = Vec::new();
        let mut current_key: Option<String> = None;
        let max_groups = max_groups.max(1);
        loop {
            let batch = admin
                .users_by_email_key(
                    tenant,
                    fetch_after.as_ref().map(|c| (c.key.as_str(), &c.id)),
                    BATCH,
                )
                .await?;
            let exhausted = batch.len() < BATCH;
            for record in batch {
                let key = normalize_email(&record.user.email);
                fetch_after = Some(AuditCursor {
                    key: key.clone(),
                    id: record.user.id.clone(),
                });
                if current_key.as_deref() != Some(key.as_str()) {
                    if let Some(done_key) = current_key.take() {
                        let done = std::mem::take(&mut current);
                        let resume = done.last().map(|r| AuditCursor {
                            key: done_key.clone(),
                            id: r.user.id.clone(),
                        });
                        if done.len() > 1 {
                            groups.push(DuplicateGroup {
                                email_key: done_key,
                                users: done,
                            });
                            if groups.len() == max_groups {
                                let next = resume.and_then(|r| serde_json::to_string(&r).ok());
                                return Ok(AuditPage { groups, next });
                            }
                        }
                    }
                    current_key = Some(key);
                }
                current.push(record);
            }
            if exhausted {
                if let Some(k) = current_key
                    && current.len() > 1
                {
                    groups.push(DuplicateGroup {
                        email_key: k,
                        users: current,
                    });
                }
                return Ok(AuditPage { groups, next: None });
            }
        }
    }

    /// Users of `tenant` without an SSO sign-in since `since` (not deleted).
    pub async fn users_without_sso_since(
        &self,
        tenant: &TenantId,
        since: std::time::SystemTime,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, Error> {
        let filter = UserFilter {
            no_sso_since: Some(since),
            ..UserFilter::default()
        };
        Ok(self
            .admin_dir()?
            .users(tenant, &filter, cursor, limit)
            .await?)
    }

    /// Users of `tenant` whose IdP de-provisioned them.
    pub async fn deprovisioned_users(
        &self,
        tenant: &TenantId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<UserRecord>, Error> {
        let filter = UserFilter {
            deprovisioned: Some(true),
            ..UserFilter::default()
        };
        Ok(self
            .admin_dir()?
            .users(tenant, &filter, cursor, limit)
            .await?)
    }

    /// Disables users (e.g. legacy local users after go-live), with an event
    /// per user. Returns the users actually disabled.
    pub async fn bulk_disable(
        &self,
        tenant: &TenantId,
        users: &[UserId],
        reason: &str,
    ) -> Result<Vec<UserId>, Error> {
        let admin = self.admin_dir()?;
        let trace_id = TraceId::random();
        let mut done = Vec::new();
        for id in users {
            if admin.set_active(tenant, id, false).await? {
                let user = LocalUser {
                    id: id.clone(),
                    tenant: tenant.clone(),
                    email: String::new(),
                    name: None,
                    active: false,
                    role: None,
                    groups: Vec::new(),
                    attributes: Default::default(),
                };
                self.emit(
                    EventKind::UserDisabled,
                    &trace_id,
                    &Ctx {
                        tenant: Some(tenant),
                        user: Some(&user),
                        ..Ctx::default()
                    },
                    Some(reason.chars().take(200).collect()),
                );
                done.push(id.clone());
            }
        }
        Ok(done)
    }

    /// Clears the link between a user and an external identity (support's
    /// fix when e-mails were mismatched). Linking again needs the normal
    /// proof. Returns whether a link was removed.
    pub async fn clear_link(
        &self,
        tenant: &TenantId,
        user: &UserId,
        identity: &IdentityKey,
        reason: &str,
    ) -> Result<bool, Error> {
        let trace_id = TraceId::random();
        let removed = self
            .admin_dir()?
            .unlink_identity(tenant, user, identity)
            .await?;
        if removed {
            let record = LocalUser {
                id: user.clone(),
                tenant: tenant.clone(),
                email: String::new(),
                name: None,
                active: true,
                role: None,
                groups: Vec::new(),
                attributes: Default::default(),
            };
            let verified = VerifiedIdentity {
                key: identity.clone(),
                issuer: String::new(),
                profile: Default::default(),
            };
            self.emit(
                EventKind::LinkCleared,
                &trace_id,
                &Ctx {
                    tenant: Some(tenant),
                    user: Some(&record),
                    identity: Some(&verified),
                    ..Ctx::default()
                },
                Some(reason.chars().take(200).collect()),
            );
        }
        Ok(removed)
    }

    /// Whether password login is still allowed for `email`: `false` when its
    /// domain is verified by a tenant with an enforced, enabled connection.
    pub async fn password_login_allowed(&self, email: &str) -> Result<bool, Error> {
        let Some(domain) = crate::types::email_domain(email) else {
            return Ok(true);
        };
        let Some(tenant) = self.inner.connections.tenant_by_domain(&domain).await? else {
            return Ok(true);
        };
        let enforced = self
            .inner
            .connections
            .connections_of(&tenant.id)
            .await?
            .iter()
            .any(|c| c.enabled && c.enforced);
        Ok(!enforced)
    }

    /// Drops a connection's cached provider metadata and signing keys on
    /// every instance that shares the flow store: they are refetched on next
    /// use and the old ones are never used again (after an IdP key
    /// compromise, or a changed configuration).
    pub async fn invalidate_provider_caches(&self, connection: &ConnectionId) -> Result<(), Error> {
        let conn = self
            .inner
            .connections
            .connection(connection)
            .await?
            .ok_or(BadRequest::NoConnection)?;
        match &conn.protocol {
            #[cfg(feature = "oidc")]
            crate::connection::Protocol::Oidc(s) => self.inner.oidc.invalidate(s).await,
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    }

    /// How long activation links are valid.
    pub fn activation_validity(&self) -> Duration {
        self.inner.config.activation_ttl
    }
}
