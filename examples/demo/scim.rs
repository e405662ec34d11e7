//! The demo's SCIM service: ssokit's `ScimService` over an in-memory SCIM
//! directory whose users are mirrored into the demo's SQLite user table, so
//! that a user the IdP provisions is the account its SSO login reaches.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use ssokit::error::HookError;
use ssokit::hooks::{ProvisionedAccount, ProvisionedAccounts};
use ssokit::scim::{
    DirectoryError, ListQuery, MemberDelta, MemoryScimDirectory, NewScimGroup, NewScimUser, Page,
    RevokeReason, ScimDirectory, ScimGroup, ScimService, ScimUser, SessionRevoker,
};
use ssokit::{TenantId, UserId, VerifiedIdentity};

use crate::db::Db;

/// SCIM users live in `inner`; every write is mirrored into the user table.
pub(crate) struct DemoScimDirectory {
    pub(crate) inner: MemoryScimDirectory,
    pub(crate) db: Db,
}

impl DemoScimDirectory {
    fn mirror(&self, tenant: &TenantId, u: &ScimUser, role: Option<&str>) {
        let email = u.primary_email().or(u.user_name()).unwrap_or_default();
        self.db.upsert_scim_user(
            tenant.as_str(),
            &u.id,
            email,
            u.display_name(),
            !u.is_disabled(),
            role,
        );
    }
}

#[async_trait]
impl ScimDirectory for DemoScimDirectory {
    async fn create_user(
        &self,
        tenant: &TenantId,
        user: NewScimUser,
    ) -> Result<ScimUser, DirectoryError> {
        let role = user.template.role.clone();
        let created = self.inner.create_user(tenant, user).await?;
        self.mirror(tenant, &created, role.as_deref());
        Ok(created)
    }

    async fn get_user(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        self.inner.get_user(tenant, id).await
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
    ) -> Result<Page<ScimUser>, DirectoryError> {
        self.inner.list_users(tenant, query).await
    }

    async fn update_user(
        &self,
        tenant: &TenantId,
        user: &ScimUser,
        if_version: Option<&str>,
    ) -> Result<ScimUser, DirectoryError> {
        let updated = self.inner.update_user(tenant, user, if_version).await?;
        self.mirror(tenant, &updated, None);
        Ok(updated)
    }

    async fn delete_user(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let existing = self.inner.get_user(tenant, id).await?;
        self.inner.delete_user(tenant, id).await?;
        if let Some(u) = existing {
            // Kept, disabled: SSO and JIT never bring it back.
            let email = u
                .primary_email()
                .or(u.user_name())
                .unwrap_or_default()
                .to_owned();
            self.db
                .upsert_scim_user(tenant.as_str(), id, &email, u.display_name(), false, None);
        }
        Ok(())
    }

    async fn find_by_external_id(
        &self,
        tenant: &TenantId,
        external_id: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        self.inner.find_by_external_id(tenant, external_id).await
    }

    async fn find_by_user_name(
        &self,
        tenant: &TenantId,
        user_name: &str,
    ) -> Result<Option<ScimUser>, DirectoryError> {
        self.inner.find_by_user_name(tenant, user_name).await
    }

    async fn create_group(
        &self,
        tenant: &TenantId,
        group: NewScimGroup,
    ) -> Result<ScimGroup, DirectoryError> {
        self.inner.create_group(tenant, group).await
    }

    async fn get_group(
        &self,
        tenant: &TenantId,
        id: &str,
        with_members: bool,
    ) -> Result<Option<ScimGroup>, DirectoryError> {
        self.inner.get_group(tenant, id, with_members).await
    }

    async fn list_groups(
        &self,
        tenant: &TenantId,
        query: &ListQuery,
        with_members: bool,
    ) -> Result<Page<ScimGroup>, DirectoryError> {
        self.inner.list_groups(tenant, query, with_members).await
    }

    async fn update_group(
        &self,
        tenant: &TenantId,
        group: &ScimGroup,
        if_version: Option<&str>,
    ) -> Result<ScimGroup, DirectoryError> {
        self.inner.update_group(tenant, group, if_version).await
    }

    async fn modify_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        delta: &MemberDelta,
        now: SystemTime,
    ) -> Result<(), DirectoryError> {
        self.inner
            .modify_members(tenant, group_id, delta, now)
            .await
    }

    async fn delete_group(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        self.inner.delete_group(tenant, id).await
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
        _tenant: &TenantId,
        user: &UserId,
        _reason: RevokeReason,
    ) -> Result<(), HookError> {
        if let Some(id) = self.db.user_by_scim_id(user.as_str()) {
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
            .user_by_scim_id(p.user_id.as_str())
            .map(|user| ProvisionedAccount {
                user,
                disabled: p.disabled,
            }))
    }
}
