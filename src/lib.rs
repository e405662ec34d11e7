//! ssokit: enterprise single sign-on and provisioning for B2B web applications.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod connection;
pub mod discovery;
pub mod error;
pub mod flow;
pub mod hooks;
pub mod http;
pub mod policy;
pub mod protocol;
pub mod secret;
pub mod store;
pub mod types;

mod sso;

#[cfg(feature = "oidc")]
pub mod oidc;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use connection::{Connection, ConnectionStore, StaticConnections, Tenant, UserTemplate};
pub use discovery::LoginHint;
pub use error::{Error, ErrorKind, Result};
pub use flow::{Begin, ChoiceOutcome, LinkChoice, Outcome, SignedIn};
pub use hooks::{EventSink, Mailer, UserDirectory};
pub use sso::{BeginLogin, Sso, SsoBuilder, SsoConfig};
pub use types::{ConnectionId, IdentityKey, LocalUser, Profile, TenantId, TraceId, UserId, VerifiedIdentity};
