//! One error type for the crate, with a stable [`ErrorKind`] and typed details.
//!
//! Messages say what was wrong and what to do about it; they never contain a
//! secret (tokens, codes, assertions, client secrets).

use std::fmt;

use crate::types::TraceId;

/// Everything that can go wrong in ssokit.
///
/// Use [`Error::kind`] to branch, [`Error::status`] for the HTTP status a host
/// should answer with, and [`Error::trace_id`] to show the user a reference
/// that also appears in the emitted events.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    trace_id: Option<TraceId>,
}

/// What went wrong. New variants may be added in minor releases.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request from the browser was malformed or not acceptable.
    BadRequest(BadRequest),
    /// The callback does not belong to a login this browser started.
    Flow(FlowError),
    /// A link-confirmation token was not accepted.
    Link(LinkError),
    /// An activation link was not accepted.
    Activation(ActivationError),
    /// The identity provider's token failed validation.
    #[cfg(feature = "oidc")]
    Token(crate::oidc::jwt::TokenError),
    /// A SAML response, metadata or SAML configuration was refused.
    #[cfg(feature = "saml")]
    Saml(crate::saml::SamlError),
    /// The identity provider answered with an error or could not be reached.
    Idp(IdpError),
    /// The configuration is invalid (reported when it is built, or when a
    /// connection from the host's store is used).
    Config(String),
    /// A host hook failed.
    Hook(HookError),
    /// The flow store failed.
    Store(StoreError),
}

/// Malformed or unacceptable browser input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadRequest {
    /// A required parameter is missing.
    MissingParameter(&'static str),
    /// A parameter is malformed.
    Malformed(&'static str),
    /// A parameter or body is larger than allowed.
    TooLarge(&'static str),
    /// `return_to` is not a same-origin relative path.
    OpenRedirect,
    /// The e-mail address is not a valid address.
    InvalidEmail,
    /// No connection matches the hint (unknown domain, subdomain or id).
    NoConnection,
    /// The e-mail belongs to a consumer mail provider, which never routes to a tenant.
    ConsumerDomain,
    /// The connection exists but is disabled.
    ConnectionDisabled,
}

/// The callback is not part of a login this browser started.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowError {
    /// `state` is unknown: never issued, already used (a replay) or expired.
    UnknownState,
    /// The login expired before the callback arrived.
    Expired,
    /// The flow cookie is missing or belongs to another browser (login CSRF).
    BrowserMismatch,
    /// The link offer is unknown, used or expired.
    UnknownOffer,
    /// The choice is not allowed by the connection's policy.
    ChoiceNotAllowed,
}

/// A link-confirmation token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// The token is unknown or was already used.
    Invalid,
    /// The token expired (links are valid for 5 minutes).
    Expired,
    /// The link was opened in another browser than the one that asked for it.
    BrowserMismatch,
    /// The local account changed since the link was sent (e-mail, tenant or status).
    AccountChanged,
    /// The external identity was linked to another user in the meantime.
    IdentityLinkedElsewhere,
}

/// An activation ("reset login method") link was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActivationError {
    /// Unknown or already used.
    Invalid,
    /// Expired; ask for a new one.
    Expired,
    /// A newer link was sent; only the newest works.
    Superseded,
    /// The link's user or connection does not fit (another tenant, a
    /// disabled connection).
    NotApplicable,
}

impl fmt::Display for ActivationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "this activation link is invalid or was already used",
            Self::Expired => "this activation link expired; ask your administrator for a new one",
            Self::Superseded => "a newer activation link was sent; use the newest one",
            Self::NotApplicable => {
                "this activation link cannot be used with that account or connection"
            }
        })
    }
}

impl From<ActivationError> for Error {
    fn from(e: ActivationError) -> Self {
        Self::new(ErrorKind::Activation(e))
    }
}

/// The identity provider answered with an error or could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdpError {
    /// The IdP redirected back with an OAuth error (`error=access_denied`, …).
    Authorization {
        /// The OAuth `error` code.
        error: String,
        /// The IdP's `error_description`, truncated.
        description: Option<String>,
    },
    /// The callback's `iss` parameter (RFC 9207) is not the connection's issuer.
    IssuerMismatch,
    /// Discovery or key retrieval failed.
    Discovery(String),
    /// The token endpoint refused the code or failed.
    TokenEndpoint(String),
    /// The userinfo endpoint failed or answered for another subject.
    Userinfo(String),
    /// An HTTP request to the IdP failed.
    Http(String),
    /// Entra: the token's tenant is not on the connection's allow-list.
    TenantNotAllowed,
    /// Entra: the token's `tid` and its issuer name different tenants.
    TenantMismatch,
    /// Entra: a v1.0 token, which this connection does not accept.
    V1Token,
}

/// A host hook failed. Wraps the host's own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookError {
    message: String,
}

impl HookError {
    /// A hook failure with a message for logs (must not contain secrets).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for HookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HookError {}

/// The flow store failed (unreachable, timed out, corrupt entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// A store failure with a message for logs.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow store: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

impl Error {
    /// An error of this kind, without a trace id yet.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            trace_id: None,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The trace id of the login attempt, when the error happened inside one.
    pub fn trace_id(&self) -> Option<&TraceId> {
        self.trace_id.as_ref()
    }

    pub(crate) fn with_trace(mut self, trace_id: &TraceId) -> Self {
        if self.trace_id.is_none() {
            self.trace_id = Some(trace_id.clone());
        }
        self
    }

    /// The HTTP status a host should answer with: 4xx for anything the browser
    /// or the IdP got wrong, 502 when the IdP failed, 500 for configuration,
    /// hook and store failures.
    pub fn status(&self) -> u16 {
        match &self.kind {
            ErrorKind::BadRequest(BadRequest::TooLarge(_)) => 413,
            ErrorKind::BadRequest(BadRequest::NoConnection) => 404,
            ErrorKind::BadRequest(BadRequest::ConnectionDisabled) => 403,
            ErrorKind::BadRequest(_) => 400,
            ErrorKind::Flow(_) | ErrorKind::Link(_) | ErrorKind::Activation(_) => 400,
            #[cfg(feature = "oidc")]
            ErrorKind::Token(_) => 401,
            #[cfg(feature = "saml")]
            ErrorKind::Saml(e) => e.status(),
            ErrorKind::Idp(
                IdpError::Authorization { .. }
                | IdpError::IssuerMismatch
                | IdpError::TenantNotAllowed
                | IdpError::TenantMismatch
                | IdpError::V1Token,
            ) => 401,
            ErrorKind::Idp(_) => 502,
            ErrorKind::Config(_) | ErrorKind::Hook(_) | ErrorKind::Store(_) => 500,
        }
    }

    /// A short machine-readable name of the kind, stable across releases
    /// (for events and metrics).
    pub fn code(&self) -> &'static str {
        match &self.kind {
            ErrorKind::BadRequest(_) => "bad_request",
            ErrorKind::Flow(_) => "flow",
            ErrorKind::Link(_) => "link",
            ErrorKind::Activation(_) => "activation",
            #[cfg(feature = "oidc")]
            ErrorKind::Token(_) => "token",
            #[cfg(feature = "saml")]
            ErrorKind::Saml(_) => "saml",
            ErrorKind::Idp(_) => "idp",
            ErrorKind::Config(_) => "config",
            ErrorKind::Hook(_) => "hook",
            ErrorKind::Store(_) => "store",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::BadRequest(e) => write!(f, "bad request: {e}")?,
            ErrorKind::Flow(e) => write!(f, "login flow: {e}")?,
            ErrorKind::Link(e) => write!(f, "account link: {e}")?,
            ErrorKind::Activation(e) => write!(f, "activation: {e}")?,
            #[cfg(feature = "oidc")]
            ErrorKind::Token(e) => write!(f, "ID token rejected: {e}")?,
            #[cfg(feature = "saml")]
            ErrorKind::Saml(e) => write!(f, "SAML: {e}")?,
            ErrorKind::Idp(e) => write!(f, "identity provider: {e}")?,
            ErrorKind::Config(m) => write!(f, "configuration: {m}")?,
            ErrorKind::Hook(e) => write!(f, "host hook failed: {e}")?,
            ErrorKind::Store(e) => write!(f, "{e}")?,
        }
        if let Some(t) = &self.trace_id {
            write!(f, " (trace id {t})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            #[cfg(feature = "oidc")]
            ErrorKind::Token(e) => Some(e),
            #[cfg(feature = "saml")]
            ErrorKind::Saml(e) => Some(e),
            ErrorKind::Hook(e) => Some(e),
            ErrorKind::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingParameter(p) => write!(f, "the parameter `{p}` is missing"),
            Self::Malformed(p) => write!(f, "the parameter `{p}` is malformed"),
            Self::TooLarge(p) => write!(f, "`{p}` is larger than allowed"),
            Self::OpenRedirect => {
                f.write_str("`return_to` must be a relative path on this site, such as `/dashboard`")
            }
            Self::InvalidEmail => f.write_str("that is not a valid e-mail address"),
            Self::NoConnection => f.write_str(
                "no single sign-on connection is set up for that address; ask your administrator",
            ),
            Self::ConsumerDomain => f.write_str(
                "personal e-mail providers cannot sign in with single sign-on; use your work address",
            ),
            Self::ConnectionDisabled => f.write_str("this single sign-on connection is disabled"),
        }
    }
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownState => {
                "this sign-in response is unknown, was already used or expired; start signing in again"
            }
            Self::Expired => "the sign-in took too long and expired; start signing in again",
            Self::BrowserMismatch => {
                "this sign-in was started in another browser; start signing in again here"
            }
            Self::UnknownOffer => "this account-link offer is unknown, used or expired",
            Self::ChoiceNotAllowed => "that choice is not allowed for this connection",
        })
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Invalid => "this confirmation link is invalid or was already used",
            Self::Expired => "this confirmation link expired; sign in again to get a new one",
            Self::BrowserMismatch => {
                "open the confirmation link in the browser where you started signing in"
            }
            Self::AccountChanged => "the account changed since the link was sent; sign in again",
            Self::IdentityLinkedElsewhere => {
                "this identity is already linked to another account; contact your administrator"
            }
        })
    }
}

impl fmt::Display for IdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Authorization { error, description } => {
                write!(f, "the identity provider refused the sign-in ({error})")?;
                if let Some(d) = description {
                    write!(f, ": {d}")?;
                }
                Ok(())
            }
            Self::IssuerMismatch => {
                f.write_str("the response names another issuer than this connection's (mix-up)")
            }
            Self::Discovery(m) => write!(f, "discovery failed: {m}"),
            Self::TokenEndpoint(m) => write!(f, "the token endpoint failed: {m}"),
            Self::Userinfo(m) => write!(f, "the userinfo endpoint failed: {m}"),
            Self::Http(m) => write!(f, "request failed: {m}"),
            Self::TenantNotAllowed => f.write_str(
                "your organisation's Microsoft Entra tenant is not allowed to sign in here",
            ),
            Self::TenantMismatch => f.write_str("the token's tenant and issuer disagree"),
            Self::V1Token => f.write_str("v1.0 tokens are not accepted by this connection"),
        }
    }
}

impl From<BadRequest> for Error {
    fn from(e: BadRequest) -> Self {
        Self::new(ErrorKind::BadRequest(e))
    }
}
impl From<FlowError> for Error {
    fn from(e: FlowError) -> Self {
        Self::new(ErrorKind::Flow(e))
    }
}
impl From<LinkError> for Error {
    fn from(e: LinkError) -> Self {
        Self::new(ErrorKind::Link(e))
    }
}
impl From<IdpError> for Error {
    fn from(e: IdpError) -> Self {
        Self::new(ErrorKind::Idp(e))
    }
}
impl From<HookError> for Error {
    fn from(e: HookError) -> Self {
        Self::new(ErrorKind::Hook(e))
    }
}
impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::new(ErrorKind::Store(e))
    }
}
#[cfg(feature = "oidc")]
impl From<crate::oidc::jwt::TokenError> for Error {
    fn from(e: crate::oidc::jwt::TokenError) -> Self {
        Self::new(ErrorKind::Token(e))
    }
}

/// Shorthand for results with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
