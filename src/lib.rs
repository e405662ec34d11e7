//! # ssokit
//!
//! Enterprise single sign-on for B2B web applications, as a crate: your
//! customers connect their own identity provider, their users type an e-mail
//! address, are sent to their organisation's IdP, and come back signed in —
//! to an account that was linked safely, created just in time from a
//! template, or refused with a clear reason.
//!
//! ssokit owns the protocols, the security checks and the flow. Your
//! application keeps its users, sessions, pages and e-mail, and answers a few
//! small hooks:
//!
//! | hook | what ssokit asks |
//! |---|---|
//! | [`UserDirectory`] | find users by linked identity / e-mail / id, link an identity, create a user |
//! | [`ConnectionStore`] | tenants and their IdP connections (by id, verified domain, subdomain) |
//! | [`Mailer`] | send the link-confirmation mail |
//! | [`EventSink`] | record security events (default: `tracing`) |
//! | [`store::FlowStore`] | keep short-lived single-use flow state (default: in memory) |
//! | [`http::HttpClient`], [`clock::Clock`] | talk to IdPs; tell the time (defaults: reqwest, system clock) |
//!
//! ## The flow
//!
//! ```text
//! POST /login (email)      ─► Sso::begin_login    ─► 303 to the IdP + flow cookie
//! GET  /sso/oidc/callback  ─► Sso::complete_login ─► SignedIn | LinkOffered | Denied
//! POST /link/choose        ─► Sso::choose         ─► confirmation mailed (5 min, single use)
//! GET  /link/confirm       ─► Sso::confirm_link   ─► SignedIn
//! ```
//!
//! Account resolution after the IdP vouched for the user:
//!
//! - identity already linked → signed in (a disabled user is denied, never reactivated);
//! - exactly one local user with the same *verified* e-mail → linking is
//!   offered; the user confirms through a link mailed to that account's own
//!   address, in the same browser, within 5 minutes;
//! - several users with that e-mail → denied, with an audit event;
//! - nobody → created from the connection's user template (if `jit`), else denied.
//!
//! Before that, admission: the connection is enabled, the user is in one of
//! its allowed IdP groups (if any), and any e-mail address the IdP asserts is
//! in a domain the tenant verified.
//!
//! ## Example
//!
//! A host handler pair, framework-agnostic (see `examples/demo` for a full
//! axum application):
//!
//! ```no_run
//! use std::sync::Arc;
//! use ssokit::flow::{Begin, Outcome};
//! use ssokit::hooks::{MemoryDirectory, MemoryMailer};
//! use ssokit::{BeginLogin, Connection, LoginHint, StaticConnections, Sso, SsoConfig, Tenant};
//!
//! # async fn demo() -> Result<(), ssokit::Error> {
//! let connection: Connection = toml_like(r#"{
//!     "id": "acme-okta", "tenant": "acme", "kind": "oidc",
//!     "issuer": "https://acme.okta.com", "client_id": "0oa1", "client_secret": "…",
//!     "jit": true, "template": { "role": "member" }
//! }"#);
//! let tenant = Tenant { id: "acme".into(), domains: vec!["acme.com".into()], subdomain: None };
//! let sso = Sso::builder(SsoConfig::new("https://app.example".parse().unwrap()))
//!     .connections(Arc::new(StaticConnections::new(vec![tenant], vec![connection])?))
//!     .users(Arc::new(MemoryDirectory::new()))
//!     .mailer(Arc::new(MemoryMailer::new()))
//!     .build()?;
//!
//! // POST /login
//! let begin = sso
//!     .begin_login(BeginLogin { hint: LoginHint::Email("ann@acme.com".into()), return_to: None })
//!     .await?;
//! if let Begin::Redirect(r) = begin {
//!     // Set-Cookie: ssokit_flow={r.flow_cookie.expose()}; HttpOnly; Secure; SameSite=Lax
//!     // 303 Location: r.url
//! }
//!
//! // GET /sso/oidc/callback?code=…&state=…
//! # let (query, flow_cookie) = ("", None);
//! match sso.complete_login(query, flow_cookie).await {
//!     Ok(Outcome::SignedIn(s)) => { /* new session for s.user; 303 to s.return_to */ }
//!     Ok(Outcome::LinkOffered(offer)) => { /* page with a form posting offer.offer */ }
//!     Ok(Outcome::Denied(d)) => { /* 403 page: d.reason.message(), d.trace_id */ }
//!     Ok(_) => {}
//!     Err(e) => { /* e.status() page showing e and e.trace_id() */ }
//! }
//! # Ok(()) }
//! # fn toml_like(s: &str) -> Connection { serde_json::from_str(s).unwrap() }
//! ```
//!
//! ## Security model, briefly
//!
//! - **Fail closed.** A connection that cannot be used safely does not build
//!   (plain-http issuers outside loopback, unknown configuration keys,
//!   unbounded clock skew); insecure options do not exist silently.
//! - **OIDC**: `state`, `nonce` and PKCE (S256) on every login; the callback is
//!   bound to the browser that began it by the flow cookie and is single use;
//!   exact issuer match (also of the RFC 9207 `iss` parameter); the signature
//!   algorithm comes from the key, never from the token (`none` and `HS*`
//!   are refused); keys refreshed on an unknown `kid` at most every 5 minutes,
//!   and the last good keys are kept while the IdP is down.
//! - **Linking never trusts an e-mail claim alone.** A link token is 256
//!   random bits, stored hashed, single use, bound to the local user (and the
//!   address it was mailed to), the connection and external subject, and the
//!   browser's flow, and expires after 5 minutes.
//! - **Identities are keyed by (connection, subject)**, never by e-mail.
//! - `return_to` accepts only same-origin relative paths.
//! - Secrets have redacted `Debug`; errors never echo them. Bad input gets a
//!   typed [`Error`] with a 4xx [`Error::status`] and changes nothing.
//!
//! ## Features
//!
//! - `oidc` (default): the OpenID Connect adapter.
//! - `reqwest` (default): the default HTTP client.
//! - `saml`: the SAML 2.0 service provider (pure Rust: quick-xml, exclusive
//!   c14n, ring); `xmlsec`: libxmlsec1 as a test oracle and benchmark peer.
//! - `scim`: the SCIM 2.0 provisioning service.
//! - `redis`: the Redis flow store, for fleets of instances.
//! - `axum`, `actix`: ready-made routes for those frameworks.
//! - `testkit`: development identity providers (OpenID Connect with Entra
//!   and Okta flavors, and SAML) for demos and for testing your own
//!   integration.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admin;
pub mod clock;
pub mod connection;
pub mod discovery;
pub mod domain;
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

#[cfg(feature = "saml")]
pub mod saml;

#[cfg(feature = "scim")]
pub mod scim;

#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(any(feature = "axum", feature = "actix"))]
pub mod integrations;

pub use connection::{Connection, ConnectionStore, StaticConnections, Tenant, UserTemplate};
pub use discovery::LoginHint;
pub use error::{Error, ErrorKind, Result};
pub use flow::{Begin, ChoiceOutcome, LinkChoice, Outcome, SignedIn};
pub use hooks::{EventSink, Mailer, UserDirectory};
pub use sso::{BeginLogin, Sso, SsoBuilder, SsoConfig};
pub use types::{
    ConnectionId, IdentityKey, LocalUser, Profile, TenantId, TraceId, UserId, VerifiedIdentity,
};
