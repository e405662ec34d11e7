//! One account per person: how an SSO login finds the user its connection's
//! SCIM provisioned, by a per-connection rule, never by e-mail alone.
//!
//! IdPs put their own stable id for the person in `externalId` (Okta: the
//! Okta user id, which is also the OIDC `sub`; Entra ID: map `objectId` →
//! `externalId` in the provisioning attribute mappings, which is the `oid`
//! claim) and a login name in `userName` (Entra: the UPN; Okta: the login).
//! An [`AccountRule`] says which SSO value equals which SCIM attribute;
//! [`ScimService::provisioned_user`](super::ScimService::provisioned_user)
//! applies a connection's rules in order.

use crate::types::UserId;

use super::resource::ScimUser;

/// The value of a verified SSO identity that is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SsoKey {
    /// The identity's stable subject ([`IdentityKey::subject`](crate::IdentityKey)).
    Subject,
    /// The e-mail address, only if the IdP asserted it verified.
    VerifiedEmail,
}

/// The SCIM attribute it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScimKey {
    /// `externalId`, exactly (case-sensitive).
    ExternalId,
    /// `userName`, case-insensitively.
    UserName,
}

/// "The SSO `sso` value equals the SCIM `scim` attribute."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRule {
    /// The SSO side.
    pub sso: SsoKey,
    /// The SCIM side.
    pub scim: ScimKey,
}

impl Default for AccountRule {
    /// The SSO subject equals `externalId` (Okta out of the box; Entra ID with
    /// `objectId` mapped to `externalId` and the `oid` as subject).
    fn default() -> Self {
        Self::SUBJECT_IS_EXTERNAL_ID
    }
}

impl AccountRule {
    /// The SSO subject equals `externalId`.
    pub const SUBJECT_IS_EXTERNAL_ID: Self = Self {
        sso: SsoKey::Subject,
        scim: ScimKey::ExternalId,
    };
    /// The verified e-mail equals `userName` (IdPs whose `userName` is the
    /// e-mail/UPN and whose SSO subject is not the SCIM `externalId`).
    pub const VERIFIED_EMAIL_IS_USER_NAME: Self = Self {
        sso: SsoKey::VerifiedEmail,
        scim: ScimKey::UserName,
    };
    /// The SSO subject equals `userName`.
    pub const SUBJECT_IS_USER_NAME: Self = Self {
        sso: SsoKey::Subject,
        scim: ScimKey::UserName,
    };
}

/// The SCIM-provisioned account an SSO identity belongs to.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ProvisionedUser {
    /// The host's user id (the SCIM `id`): link the identity to it.
    pub user_id: UserId,
    /// The IdP disabled the user (`active: false`): deny the login, and never
    /// set it active again from SSO or JIT.
    pub disabled: bool,
    /// The SCIM user.
    pub user: ScimUser,
}
