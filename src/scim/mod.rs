//! SCIM 2.0 provisioning (RFC 7643, RFC 7644): the service provider your
//! customers' identity providers — Microsoft Entra ID, Okta, OneLogin,
//! JumpCloud — push users and groups into, and de-provision them through.
//!
//! Framework-agnostic: [`ScimService::handle`] takes an [`http::Request`]
//! (path relative to the mount point) and returns an [`http::Response`].
//! Users and groups live in the host's database behind [`ScimDirectory`];
//! [`MemoryScimDirectory`] keeps them in memory.
//!
//! ```text
//! IdP ──HTTPS──► host router (/scim/v2/*) ──► ScimService::handle(req, now)
//!                                              │ bearer token → tenant (ScimTokens)
//!                                              │ 413 size · 429 rate (per tenant)
//!                                              │ quirks (Entra, Okta) → strict RFC engine
//!                                              ▼   filter AST · PATCH · schemas
//!                                            ScimDirectory (host) · SessionRevoker (host)
//! ```
//!
//! # Mounting it
//!
//! ```
//! use std::sync::Arc;
//! use std::time::SystemTime;
//! use ssokit::scim::{MemoryRevoker, MemoryScimDirectory, ScimConfig, ScimService};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let scim = ScimService::builder(ScimConfig::new("https://app.example/scim/v2"))
//!     .directory(Arc::new(MemoryScimDirectory::new()))
//!     .revoker(Arc::new(MemoryRevoker::new())) // yours: ends the user's sessions
//!     .build()?;
//!
//! // Per tenant, in the admin UI: show the secret once, paste it into the IdP.
//! let issued = scim.tokens().issue(&"acme".into(), None, "Entra ID", SystemTime::now()).await?;
//!
//! // In the route for /scim/v2/{*rest}: strip the mount prefix, keep the query.
//! let req = http::Request::get("/Users?filter=userName%20eq%20%22ann%40acme.test%22")
//!     .header("authorization", format!("Bearer {}", issued.secret.expose()))
//!     .body(Vec::new())?;
//! let resp = scim.handle(req, SystemTime::now()).await;
//! assert_eq!(resp.status(), 200);
//! assert_eq!(resp.headers()["content-type"], "application/scim+json");
//! # Ok(()) }
//! ```
//!
//! With axum, the route is `Router::new().route("/scim/v2/{*rest}", any(handler))`
//! where the handler rebuilds the request with the path after `/scim/v2`, and
//! caps the body with `DefaultBodyLimit::max(ScimConfig::max_body_bytes)`
//! (see `examples/scim_server.rs`).
//!
//! # What the service guarantees
//!
//! - **Tenant from the token.** Tokens ([`ScimTokens`]) are stored as SHA-256,
//!   compared in constant time, two live per tenant for rotation, revocable.
//!   Every directory call is scoped by the token's tenant.
//! - **Deltas for membership.** Group membership reaches the host as
//!   [`MemberDelta`]s (add these, remove those), never as a rewritten list;
//!   a PUT on a group is turned into the delta against the current members.
//! - **Strict engine, lenient front.** Filters are parsed into a public AST
//!   ([`Filter`]) with the full RFC grammar and resolved against the declared
//!   schemas; PATCH is atomic (all operations or none). The quirks of real
//!   clients are absorbed before that ([`quirks`]).
//! - **De-provisioning ends sessions.** A write that leaves a user with
//!   `active: false`, and every DELETE, calls the [`SessionRevoker`].
//! - **One account per person.** [`ScimService::provisioned_user`] tells the
//!   login flow which SCIM-provisioned user an SSO identity is (see [`account`]).
//! - **Bad input is a SCIM error, never a panic**: 400 with a `scimType`,
//!   401/403/404/405/409/412/413/429/501 with an `Error` body.
//!
//! `/ServiceProviderConfig` announces: PATCH yes, filter yes, sort (if the
//! directory sorts), ETags yes (`meta.version`, `If-Match` → 412,
//! `If-None-Match` → 304), bulk and password change no.

pub mod account;
mod directory;
mod error;
pub mod filter;
mod patch;
pub mod quirks;
mod resource;
pub mod schema;
mod service;
mod time;
mod tokens;

pub use account::{AccountRule, ProvisionedUser, ScimKey, SsoKey};
pub use directory::{
    DirectoryError, ListQuery, MemberDelta, MemoryRevoker, MemoryScimDirectory, Page, RevokeReason,
    ScimDirectory, SessionRevoker, SortBy, new_resource_id,
};
pub use error::{ScimError, ScimType};
pub use filter::{AttrPath, CompValue, CompareOp, Filter, FilterError};
pub use patch::MAX_PATCH_OPERATIONS;
pub use resource::{Compat, Member, Meta, NewScimGroup, NewScimUser, ScimGroup, ScimUser};
pub use schema::{
    AttrType, AttributeDef, Mutability, ResourceKind, ResourceType, Returned, SchemaDef,
    ScimSchemas, Uniqueness,
};
pub use service::{ScimConfig, ScimService, ScimServiceBuilder};
pub use tokens::{
    IssuedToken, MAX_LIVE_TOKENS, MemoryTokenStore, RateLimit, ScimPrincipal, ScimTokenStore,
    ScimTokens, TOKEN_PREFIX, TokenError, TokenId, TokenRecord,
};

/// The media type of every SCIM request and response.
pub const CONTENT_TYPE: &str = "application/scim+json";
/// The core User schema.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The EnterpriseUser extension.
pub const ENTERPRISE_USER_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The ListResponse message.
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The PatchOp message.
pub const PATCH_OP_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The SearchRequest message.
pub const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The Error message.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
