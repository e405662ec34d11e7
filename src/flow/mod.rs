//! The login flow's states and outcomes, and the pure checks between them.
//!
//! ```text
//! begin ──► PendingLogin ──complete──► SignedIn | Denied | LinkOffered
//!                                                        │ choose(link)
//!                                                        ▼
//!                                                    LinkTicket ──confirm──► SignedIn
//! ```
//!
//! Each state is stored in the [`FlowStore`](crate::store::FlowStore) under
//! the hash of a random handle, taken exactly once, and bound to the browser
//! that began the flow by the hash of the flow cookie. The functions here are
//! pure: the current time comes in as an argument.

mod return_to;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use url::Url;

pub use return_to::validate_return_to;

use crate::error::{FlowError, LinkError};
use crate::policy::DenyReason;
use crate::protocol::ProtocolState;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::{SecretString, ct_eq, random_token, sha256_hex};
use crate::types::{
    ConnectionId, IdentityKey, LocalUser, Profile, TenantId, TraceId, UserId, VerifiedIdentity,
};

/// The name of the cookie that binds a flow to the browser that began it.
/// Set it `HttpOnly; SameSite=Lax; Path=/` (and `Secure` on https) with the
/// value of [`Redirect::flow_cookie`].
pub const FLOW_COOKIE: &str = "ssokit_flow";

/// A login that was started and waits for the IdP's callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingLogin {
    pub(crate) connection: ConnectionId,
    pub(crate) tenant: TenantId,
    pub(crate) browser: String,
    pub(crate) expires_at: SystemTime,
    pub(crate) return_to: String,
    pub(crate) protocol: ProtocolState,
    pub(crate) trace_id: TraceId,
    /// The activation link token this login completes, if any.
    #[serde(default)]
    pub(crate) activation: Option<String>,
}

/// An activation ("reset login method") link: bound to the local user and
/// the connection the identity must come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ActivationTicket {
    pub(crate) user: UserId,
    pub(crate) tenant: TenantId,
    pub(crate) connection: ConnectionId,
    pub(crate) expires_at: SystemTime,
}

/// A link offer waiting for the user's choice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingOffer {
    pub(crate) user: UserId,
    pub(crate) tenant: TenantId,
    pub(crate) identity: VerifiedIdentity,
    pub(crate) browser: String,
    pub(crate) expires_at: SystemTime,
    pub(crate) return_to: String,
    pub(crate) trace_id: TraceId,
}

/// A mailed link confirmation: bound to the local user (and the e-mail it was
/// sent to), the connection and external subject, and the browser's flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LinkTicket {
    pub(crate) user: UserId,
    pub(crate) tenant: TenantId,
    pub(crate) email: String,
    pub(crate) identity: VerifiedIdentity,
    pub(crate) browser: String,
    pub(crate) expires_at: SystemTime,
    pub(crate) return_to: String,
    pub(crate) trace_id: TraceId,
}

/// A new random handle (state, offer, link token) for a tenant: the tenant
/// id (base64url) and 256 random bits, so that store keys can be namespaced
/// per tenant. The tenant part is not a secret; the random part is.
pub(crate) fn new_handle(tenant: &TenantId) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(tenant.as_str()),
        random_token(32)
    )
}

/// The store key of a handle: `ssokit:{tenant}:{kind}:{sha256(handle)}`. The
/// hash covers the whole handle, so editing its tenant part finds nothing.
pub(crate) fn store_key(kind: &str, handle: &str) -> String {
    let tenant = handle
        .split_once('.')
        .map(|(t, _)| t)
        .filter(|t| {
            !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or("_");
    format!("ssokit:{tenant}:{kind}:{}", sha256_hex(handle.as_bytes()))
}

/// The browser binding kept server-side: a hash of the flow cookie.
pub(crate) fn browser_binding(flow_cookie: &str) -> String {
    sha256_hex(flow_cookie.as_bytes())
}

fn same_browser(expected: &str, flow_cookie: Option<&str>) -> bool {
    match flow_cookie {
        Some(c) if !c.is_empty() => ct_eq(expected.as_bytes(), browser_binding(c).as_bytes()),
        _ => false,
    }
}

impl PendingLogin {
    /// Checks that the callback arrived in time, in the browser that began the flow.
    pub(crate) fn check(
        &self,
        flow_cookie: Option<&str>,
        now: SystemTime,
    ) -> Result<(), FlowError> {
        if now >= self.expires_at {
            return Err(FlowError::Expired);
        }
        if !same_browser(&self.browser, flow_cookie) {
            return Err(FlowError::BrowserMismatch);
        }
        Ok(())
    }
}

impl PendingOffer {
    pub(crate) fn check(
        &self,
        flow_cookie: Option<&str>,
        now: SystemTime,
    ) -> Result<(), FlowError> {
        if now >= self.expires_at {
            return Err(FlowError::UnknownOffer);
        }
        if !same_browser(&self.browser, flow_cookie) {
            return Err(FlowError::BrowserMismatch);
        }
        Ok(())
    }
}

impl LinkTicket {
    /// Checks expiry and the browser binding, then that the local account is
    /// still the one the link was sent to.
    pub(crate) fn check(
        &self,
        flow_cookie: Option<&str>,
        now: SystemTime,
    ) -> Result<(), LinkError> {
        if now >= self.expires_at {
            return Err(LinkError::Expired);
        }
        if !same_browser(&self.browser, flow_cookie) {
            return Err(LinkError::BrowserMismatch);
        }
        Ok(())
    }

    pub(crate) fn check_user(&self, user: Option<&LocalUser>) -> Result<(), LinkError> {
        match user {
            Some(u)
                if u.tenant == self.tenant
                    && crate::types::normalize_email(&u.email)
                        == crate::types::normalize_email(&self.email) =>
            {
                Ok(())
            }
            _ => Err(LinkError::AccountChanged),
        }
    }
}

/// The answer to [`Sso::begin_login`](crate::Sso::begin_login).
#[derive(Debug)]
#[non_exhaustive]
pub enum Begin {
    /// Send the browser to the IdP.
    Redirect(Redirect),
    /// Several connections match: show them and begin again with
    /// [`LoginHint::Connection`](crate::LoginHint::Connection).
    Choose(Choose),
}

/// Send the browser to `url` and set the flow cookie.
#[derive(Debug)]
#[non_exhaustive]
pub struct Redirect {
    /// The IdP's URL: a 303 redirect, or — when `post_fields` is set (SAML
    /// HTTP-POST binding) — the action of an auto-submitting form.
    pub url: Url,
    /// Form fields to POST to `url`, for bindings that need it.
    pub post_fields: Option<Vec<(String, String)>>,
    /// The value of the [`FLOW_COOKIE`] cookie to set on this response.
    pub flow_cookie: SecretString,
    /// The login's trace id.
    pub trace_id: TraceId,
}

/// One connection in a chooser.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionChoice {
    /// The connection id to begin with.
    pub id: ConnectionId,
    /// Its display name.
    pub name: String,
}

/// Let the user choose among several connections.
#[derive(Debug)]
#[non_exhaustive]
pub struct Choose {
    /// The candidates.
    pub connections: Vec<ConnectionChoice>,
    /// The trace id.
    pub trace_id: TraceId,
}

/// How a user came to be signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignInKind {
    /// The identity was already linked to the user.
    Linked,
    /// The user was created just in time.
    Provisioned,
    /// The user confirmed linking the identity to an existing account.
    LinkConfirmed,
    /// The user followed an activation link; the identity was linked to them.
    Activated,
}

/// A user signed in. The host now creates a *new* session (a fresh session
/// id: never reuse one from before the login) and redirects to `return_to`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignedIn {
    /// The local user.
    pub user: LocalUser,
    /// The external identity used.
    pub identity: IdentityKey,
    /// The IdP's profile claims.
    pub profile: Profile,
    /// How the user was resolved.
    pub kind: SignInKind,
    /// A validated same-origin relative path to go to.
    pub return_to: String,
    /// The trace id.
    pub trace_id: TraceId,
}

/// An existing account has the identity's e-mail: ask the user whether to
/// link it. Show a form posting `offer` back to
/// [`Sso::choose`](crate::Sso::choose).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LinkOffer {
    /// The single-use offer handle (a hidden form field).
    pub offer: SecretString,
    /// The existing account's e-mail, masked (`a***@acme.test`).
    pub masked_email: String,
    /// Whether "create a new account instead" may be offered.
    pub allow_new_account: bool,
    /// The connection.
    pub connection: ConnectionId,
    /// The trace id.
    pub trace_id: TraceId,
}

/// The IdP authenticated the user but the application refuses the login.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Denied {
    /// Why.
    pub reason: DenyReason,
    /// The trace id.
    pub trace_id: TraceId,
}

/// The result of a completed callback or link confirmation.
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one value per login; boxing would only cost callers
pub enum Outcome {
    /// Signed in.
    SignedIn(SignedIn),
    /// Linking to an existing account is offered.
    LinkOffered(LinkOffer),
    /// Refused.
    Denied(Denied),
}

impl Outcome {
    /// The trace id of the login.
    pub fn trace_id(&self) -> &TraceId {
        match self {
            Self::SignedIn(s) => &s.trace_id,
            Self::LinkOffered(o) => &o.trace_id,
            Self::Denied(d) => &d.trace_id,
        }
    }
}

/// The user's answer to a [`LinkOffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkChoice {
    /// "Add to existing account": mail a confirmation link to the account.
    Link,
    /// "Create a new account" (only where the connection allows it).
    NewAccount,
}

/// The result of [`Sso::choose`](crate::Sso::choose).
#[derive(Debug, Clone)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one value per login; boxing would only cost callers
pub enum ChoiceOutcome {
    /// A confirmation link was mailed to the existing account.
    LinkMailed {
        /// The address, masked.
        masked_email: String,
        /// How long the link is valid, in seconds.
        valid_for_secs: u64,
        /// The trace id.
        trace_id: TraceId,
    },
    /// A new account was created (or the login denied).
    Outcome(Outcome),
}

/// The field [`same_site_repost`] adds, so the second POST is not bounced again.
pub const REPOST_MARKER: &str = "ssokit_repost";

/// Whether a cross-site POST (SAML HTTP-POST binding) should be bounced:
/// the flow cookie is missing and the form was not bounced already.
pub fn needs_same_site_repost(form_body: &str, flow_cookie: Option<&str>) -> bool {
    flow_cookie.is_none_or(str::is_empty)
        && !url::form_urlencoded::parse(form_body.as_bytes()).any(|(k, _)| k == REPOST_MARKER)
}

/// An HTML page that posts `form_body`'s fields again to `action` (this
/// site's ACS URL) from this site, so that the browser now sends the
/// `SameSite=Lax` flow cookie. Everything is HTML-escaped; the page works
/// without JavaScript too (a button). Serve it with
/// `Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; form-action 'self'`.
pub fn same_site_repost(action: &str, form_body: &str) -> String {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    }
    let mut fields = String::new();
    for (k, v) in url::form_urlencoded::parse(form_body.as_bytes()) {
        if k == REPOST_MARKER {
            continue;
        }
        fields.push_str(&format!(
            r#"<input type="hidden" name="{}" value="{}">"#,
            esc(&k),
            esc(&v)
        ));
    }
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Signing in…</title></head><body onload="document.forms[0].submit()"><form method="post" action="{action}">{fields}<input type="hidden" name="{REPOST_MARKER}" value="1"><noscript><button type="submit">Continue</button></noscript></form></body></html>"#,
        action = esc(action)
    )
}

/// Masks an e-mail address for display: `ann@acme.test` → `a**@acme.test`.
pub fn mask_email(email: &str) -> String {
    match email.trim().rsplit_once('@') {
        Some((local, domain)) => {
            let mut chars = local.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            format!("{first}{}@{domain}", "*".repeat(chars.count().clamp(2, 8)))
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repost_only_once_and_escaped() {
        assert!(needs_same_site_repost("SAMLResponse=x&RelayState=y", None));
        assert!(!needs_same_site_repost(
            "SAMLResponse=x&RelayState=y",
            Some("c")
        ));
        assert!(!needs_same_site_repost(
            "SAMLResponse=x&ssokit_repost=1",
            None
        ));
        let page = same_site_repost(
            "/sso/saml/acs",
            "SAMLResponse=%22%3E%3Cscript%3E&RelayState=r",
        );
        assert!(page.contains("&quot;&gt;&lt;script&gt;") && !page.contains("\"><script>"));
        assert!(page.contains(r#"name="ssokit_repost""#));
    }

    #[test]
    fn masks() {
        assert_eq!(mask_email("ann@acme.test"), "a**@acme.test");
        assert_eq!(mask_email("a@acme.test"), "a**@acme.test");
        assert_eq!(mask_email("nope"), "***");
    }

    #[test]
    fn keys_are_namespaced_by_tenant() {
        let h = new_handle(&TenantId::new("acme"));
        let key = store_key("login", &h);
        assert!(key.starts_with("ssokit:YWNtZQ:login:"), "{key}");
        // Another tenant's prefix on the same random part is another key.
        let forged = format!("Z2xvYmV4.{}", h.split_once('.').unwrap().1);
        assert_ne!(
            store_key("login", &forged).rsplit(':').next(),
            key.rsplit(':').next()
        );
        assert!(store_key("login", "no-dot").starts_with("ssokit:_:login:"));
        assert!(store_key("login", "a:b.c").starts_with("ssokit:_:login:"));
    }

    #[test]
    fn browser_binding_needs_the_cookie() {
        let b = browser_binding("cookie-value");
        assert!(same_browser(&b, Some("cookie-value")));
        assert!(!same_browser(&b, Some("other")));
        assert!(!same_browser(&b, None));
        assert!(!same_browser(&b, Some("")));
    }
}
