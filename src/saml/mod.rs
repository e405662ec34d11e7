//! SAML 2.0 Web Browser SSO, service-provider side: a strict, pure-Rust
//! verifier (own XML tree, exclusive c14n, ring), IdP metadata, AuthnRequests
//! and the [`SamlAdapter`] behind the same [`IdpAdapter`] trait as OIDC.
//!
//! # Layers
//!
//! - [`xml`]: the one parser (quick-xml tokens → our arena tree). No DTDs,
//!   no entities, no comments or PIs in protocol messages, unique IDs,
//!   bounded depth/attributes/namespaces/size.
//! - [`c14n`]: exclusive canonicalization of a subtree.
//! - [`dsig`]: enveloped XML-DSig verification restricted to the SAML profile;
//!   returns a [`dsig::VerifiedElement`], the only handle to signed content.
//! - [`response`]: every check of a Response, reading claims only from the
//!   verified subtree.
//! - [`metadata`], [`authn`]: IdP metadata in, SP metadata and AuthnRequests out.
//! - [`spec`]: the SAML keys of a flat connection specification.
//! - [`SamlSettings`] (validated per connection: a connection without a
//!   trusted signing key cannot exist), [`AttributeMapping`] (stable subject
//!   and profile from attributes, with presets), [`SamlAdapter`].
//!
//! # Security model
//!
//! - Claims come only from the element whose signature verified; the bytes
//!   verified are the bytes read (one parser, one tree).
//! - Keys come only from the connection's metadata; `KeyInfo` is ignored.
//! - SHA-1, MD5 and DSA are refused; there is no switch to allow them.
//! - Audience, Recipient, InResponseTo and NotOnOrAfter are required;
//!   assertion IDs go to a [`ReplayCache`]; unsolicited responses are refused
//!   unless the connection enables IdP-initiated login.
//! - A SAML e-mail address is a claim of the tenant's own IdP: it routes a
//!   link offer only, as with OIDC, and `email_verified` is set only where the
//!   preset says the IdP verifies addresses ([`Preset::Google`]).
//! - Identities are keyed by (connection, stable subject): a persistent NameID
//!   or configured attributes, never an e-mail address.
//!
//! # Decisions (stricter than the SAML specifications allow, and met by
//! Okta, Entra ID, AD FS, Google, Keycloak, Shibboleth)
//!
//! - `Destination` and the Response `Issuer` are required on every Response,
//!   not only on signed ones; both must match exactly.
//! - Comments and processing instructions are refused anywhere in a
//!   protocol message (not merely dropped), and so is any `DOCTYPE`.
//! - Exactly one `Assertion` in the whole document, as a direct child of the
//!   Response; `ds:Signature` only as a direct child of the Response or that
//!   Assertion; no `ds:Object`.
//! - Transforms are exactly enveloped-signature then exclusive c14n:
//!   exclusive c14n alone cannot verify an enveloped signature and is
//!   refused, as is enveloped-signature alone (it implies inclusive c14n).
//! - Every bearer `SubjectConfirmation` must carry `Recipient` = ACS,
//!   `NotOnOrAfter` and (solicited) `InResponseTo`; non-bearer methods are
//!   refused; unknown `Conditions` are refused; at least one
//!   `AudienceRestriction`, each naming this SP.
//! - IssueInstant at most 5 minutes old (90 s for IdP-initiated), skew at
//!   most 180 s, times in UTC (`Z`) only.
//! - Certificates in metadata are key containers: their validity dates are
//!   not enforced (the tenant's metadata is the trust anchor), keys are
//!   compared by their full public key, RSA keys must have ≥ 2048 bits.
//! - Encrypted assertions are refused with a clear error (not implemented:
//!   ring cannot decrypt RSA).

pub mod authn;
mod b64;
pub mod c14n;
pub mod dsig;
pub mod keys;
pub mod metadata;
pub mod response;
pub mod spec;
pub mod xml;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use url::Url;

pub use authn::SpSigningKey;
pub use keys::{KeyKind, TrustedKey};
pub use metadata::{FetchPolicy, IdpMetadata, MetadataFetcher, SpMetadata};
pub use response::{
    Expectations, NameId, ResponseLimits, SignedParts, ValidatedAssertion, validate_response,
};
pub use spec::SamlSpec;

use crate::connection::{Connection, Protocol};
use crate::error::{Error, ErrorKind, StoreError};
use crate::protocol::{CallbackParams, IdpAdapter, ProtocolState, StartRequest, Started};
use crate::store::FlowStore;
use crate::types::{IdentityKey, Profile, VerifiedIdentity};

// ------------------------------------------------------------------ errors

/// Why a SAML message or configuration was refused. Messages say what failed
/// and what to do; they never contain the assertion or its claims.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SamlError {
    /// The `SAMLResponse` is larger than allowed.
    TooLarge,
    /// The `SAMLResponse` is not base64.
    Base64,
    /// The XML was refused by the parser.
    Xml(xml::XmlError),
    /// The message is not a well-formed SAML Response.
    Malformed(&'static str),
    /// A signature was refused.
    Signature(dsig::SignatureError),
    /// The Assertion is not signed.
    UnsignedAssertion,
    /// Not exactly one Assertion, as a direct child of the Response.
    AssertionCount,
    /// An EncryptedAssertion or EncryptedID (not supported).
    EncryptedAssertion,
    /// The IdP reported a failure (short status code).
    Status(String),
    /// The Issuer is missing or not the connection's IdP.
    Issuer,
    /// The Destination is missing or not this ACS URL.
    Destination,
    /// No AudienceRestriction, or one that does not name this SP.
    Audience,
    /// The SubjectConfirmationData Recipient is not this ACS URL.
    Recipient,
    /// InResponseTo does not match the pending request.
    InResponseTo,
    /// An unsolicited response (no InResponseTo) where a request is pending,
    /// or IdP-initiated login is not enabled.
    Unsolicited,
    /// The subject confirmation is not an acceptable bearer confirmation.
    SubjectConfirmation(&'static str),
    /// Something expired (names what).
    Expired(&'static str),
    /// Something is not valid yet (names what).
    NotYetValid(&'static str),
    /// The assertion was already used.
    Replay,
    /// No stable subject could be read (names why).
    Subject(&'static str),
    /// A certificate or key is unusable.
    Key(&'static str),
    /// The connection's SAML configuration is invalid.
    Config(String),
    /// The IdP metadata is invalid.
    Metadata(String),
    /// Fetching IdP metadata failed.
    Fetch(String),
}

impl SamlError {
    /// The HTTP status a host should answer with: 400 for malformed input,
    /// 401 for a response that failed validation, 500 for configuration,
    /// 502 for metadata fetch failures.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge => 413,
            Self::Base64 | Self::Xml(_) | Self::Malformed(_) => 400,
            Self::Key(_) | Self::Config(_) | Self::Metadata(_) => 500,
            Self::Fetch(_) => 502,
            _ => 401,
        }
    }

    /// A stable machine-readable name: `xml.<kind>` and `signature.<kind>`
    /// for parser and signature refusals, one word otherwise (`audience`,
    /// `recipient`, `replay`, …). For events, metrics and tests.
    pub fn code(&self) -> String {
        match self {
            Self::Xml(e) => format!("xml.{}", e.code()),
            Self::Signature(e) => format!("signature.{}", e.code()),
            other => other.simple_code().to_owned(),
        }
    }

    fn simple_code(&self) -> &'static str {
        match self {
            Self::TooLarge => "too_large",
            Self::Base64 => "base64",
            Self::Xml(_) => "xml",
            Self::Malformed(_) => "malformed",
            Self::Signature(_) => "signature",
            Self::UnsignedAssertion => "unsigned_assertion",
            Self::AssertionCount => "assertion_count",
            Self::EncryptedAssertion => "encrypted_assertion",
            Self::Status(_) => "status",
            Self::Issuer => "issuer",
            Self::Destination => "destination",
            Self::Audience => "audience",
            Self::Recipient => "recipient",
            Self::InResponseTo => "in_response_to",
            Self::Unsolicited => "unsolicited",
            Self::SubjectConfirmation(_) => "subject_confirmation",
            Self::Expired(_) => "expired",
            Self::NotYetValid(_) => "not_yet_valid",
            Self::Replay => "replay",
            Self::Subject(_) => "subject",
            Self::Key(_) => "key",
            Self::Config(_) => "config",
            Self::Metadata(_) => "metadata",
            Self::Fetch(_) => "fetch",
        }
    }

    /// Whether the message was malformed (as opposed to well-formed but
    /// failing a security check).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            Self::TooLarge | Self::Base64 | Self::Xml(_) | Self::Malformed(_)
        )
    }
}

impl fmt::Display for SamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("the SAML response is larger than allowed"),
            Self::Base64 => f.write_str("the SAMLResponse parameter is not base64"),
            Self::Xml(e) => write!(f, "the SAML response is not acceptable XML: {e}"),
            Self::Malformed(what) => write!(f, "the SAML response is malformed: {what}"),
            Self::Signature(e) => write!(f, "signature rejected: {e}"),
            Self::UnsignedAssertion => f.write_str(
                "the assertion is not signed; configure the IdP to sign assertions (or allow a signed response around an unsigned assertion for this connection)",
            ),
            Self::AssertionCount => f.write_str(
                "the response must contain exactly one assertion, directly inside the Response",
            ),
            Self::EncryptedAssertion => f.write_str(
                "encrypted assertions and NameIDs are not supported; turn off assertion encryption at the IdP",
            ),
            Self::Status(code) => write!(
                f,
                "the identity provider reported a failure ({code}); try again or contact your administrator"
            ),
            Self::Issuer => f.write_str(
                "the response was issued by another identity provider than this connection's (check the IdP entity ID)",
            ),
            Self::Destination => f.write_str(
                "the response is addressed to another URL than this service's ACS URL (check the ACS URL configured at the IdP)",
            ),
            Self::Audience => f.write_str(
                "the assertion is not for this service provider (check the SP entity ID / audience configured at the IdP)",
            ),
            Self::Recipient => f.write_str(
                "the assertion's recipient is not this service's ACS URL (check the ACS URL configured at the IdP)",
            ),
            Self::InResponseTo => f.write_str(
                "the response answers another sign-in request; start signing in again",
            ),
            Self::Unsolicited => f.write_str(
                "the response was not requested by this browser (IdP-initiated sign-in is not enabled here); start signing in from the application",
            ),
            Self::SubjectConfirmation(what) => write!(f, "the subject confirmation is not acceptable: {what}"),
            Self::Expired(what) => write!(f, "{what} expired; start signing in again (or check the server clocks)"),
            Self::NotYetValid(what) => write!(f, "{what} is not valid yet; check the server clocks"),
            Self::Replay => f.write_str("this SAML response was already used; start signing in again"),
            Self::Subject(what) => write!(f, "no stable user identifier in the assertion: {what}"),
            Self::Key(what) => write!(f, "key: {what}"),
            Self::Config(m) => write!(f, "SAML configuration: {m}"),
            Self::Metadata(m) => write!(f, "IdP metadata: {m}"),
            Self::Fetch(m) => write!(f, "IdP metadata: {m}"),
        }
    }
}

impl std::error::Error for SamlError {}

// ------------------------------------------------------------------ replay

/// Where assertion IDs are remembered until they expire, so each is used
/// once across every instance of the application.
#[async_trait]
pub trait ReplayCache: Send + Sync {
    /// Records `key` for `ttl`; returns `false` if it was already recorded.
    async fn first_use(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;
}

/// A [`ReplayCache`] on the flow store (`insert_if_absent`).
#[derive(Clone)]
pub struct FlowStoreReplayCache(pub Arc<dyn FlowStore>);

impl fmt::Debug for FlowStoreReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowStoreReplayCache")
    }
}

#[async_trait]
impl ReplayCache for FlowStoreReplayCache {
    async fn first_use(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.0.insert_if_absent(key, ttl).await
    }
}

// ------------------------------------------------------------------ mapping

/// Where the stable subject comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectSource {
    /// The NameID, which must have the persistent format.
    PersistentNameId,
    /// One attribute with exactly one value.
    Attribute(String),
    /// Several single-valued attributes joined with `/` (Entra: tenant id,
    /// object id → `tid/oid`).
    Attributes(Vec<String>),
}

/// IdP presets for attribute names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    /// Okta: persistent NameID; `email`, `firstName`, `lastName`, `groups`.
    Okta,
    /// Microsoft Entra ID: subject `tenantid/objectidentifier`; the
    /// `ws/2005/05/identity/claims` names; `…/claims/groups`.
    Entra,
    /// AD FS: persistent NameID; the `ws/2005/05/identity/claims` names;
    /// `http://schemas.xmlsoap.org/claims/Group`.
    Adfs,
    /// Google Workspace: no persistent NameID exists, so a stable attribute
    /// must be configured as the subject (the default, the persistent NameID,
    /// fails closed). E-mail verified (the primary address of a managed account).
    Google,
    /// Generic: persistent NameID; common LDAP/eduPerson/OID names.
    Generic,
}

const WS_CLAIMS: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/";

/// How a validated assertion becomes an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttributeMapping {
    /// The stable subject.
    pub subject: SubjectSource,
    /// Attribute names tried in order for the e-mail address.
    pub email: Vec<String>,
    /// Whether the IdP verifies e-mail addresses (sets `Profile::email_verified`).
    pub email_verified: bool,
    /// Display name attributes.
    pub name: Vec<String>,
    /// Given-name attributes.
    pub given_name: Vec<String>,
    /// Family-name attributes.
    pub family_name: Vec<String>,
    /// Group attributes (all values of all of them).
    pub groups: Vec<String>,
    /// Attributes whose presence means the IdP left groups out (Entra's
    /// `groups.link` overage claim): the profile is then marked
    /// `groups_incomplete`, and group-based admission fails closed unless
    /// the host completes the groups.
    pub groups_overage: Vec<String>,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

impl AttributeMapping {
    /// The mapping of a preset.
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Okta => Self {
                subject: SubjectSource::PersistentNameId,
                email: strings(&["email", "user.email"]),
                email_verified: false,
                name: strings(&["displayName", "name"]),
                given_name: strings(&["firstName", "user.firstName"]),
                family_name: strings(&["lastName", "user.lastName"]),
                groups: strings(&["groups"]),
                groups_overage: Vec::new(),
            },
            Preset::Entra => Self {
                subject: SubjectSource::Attributes(strings(&[
                    "http://schemas.microsoft.com/identity/claims/tenantid",
                    "http://schemas.microsoft.com/identity/claims/objectidentifier",
                ])),
                email: vec![format!("{WS_CLAIMS}emailaddress")],
                email_verified: false,
                name: strings(&["http://schemas.microsoft.com/identity/claims/displayname"]),
                given_name: vec![format!("{WS_CLAIMS}givenname")],
                family_name: vec![format!("{WS_CLAIMS}surname")],
                groups: strings(&[
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
                ]),
                groups_overage: strings(&["http://schemas.microsoft.com/claims/groups.link"]),
            },
            Preset::Adfs => Self {
                subject: SubjectSource::PersistentNameId,
                email: vec![format!("{WS_CLAIMS}emailaddress")],
                email_verified: false,
                name: vec![format!("{WS_CLAIMS}name")],
                given_name: vec![format!("{WS_CLAIMS}givenname")],
                family_name: vec![format!("{WS_CLAIMS}surname")],
                groups: strings(&[
                    "http://schemas.xmlsoap.org/claims/Group",
                    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
                ]),
                groups_overage: Vec::new(),
            },
            Preset::Google => Self {
                subject: SubjectSource::PersistentNameId,
                email: strings(&["email"]),
                email_verified: true,
                name: strings(&["name", "displayName"]),
                given_name: strings(&["firstName", "given_name"]),
                family_name: strings(&["lastName", "family_name"]),
                groups: strings(&["groups"]),
                groups_overage: Vec::new(),
            },
            Preset::Generic => Self {
                subject: SubjectSource::PersistentNameId,
                email: vec![
                    "email".into(),
                    "mail".into(),
                    "urn:oid:0.9.2342.19200300.100.1.3".into(),
                    format!("{WS_CLAIMS}emailaddress"),
                ],
                email_verified: false,
                name: strings(&["displayName", "name", "urn:oid:2.16.840.1.113730.3.1.241"]),
                given_name: strings(&["givenName", "firstName", "urn:oid:2.5.4.42"]),
                family_name: strings(&["sn", "surname", "lastName", "urn:oid:2.5.4.4"]),
                groups: strings(&["groups", "memberOf", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"]),
                groups_overage: Vec::new(),
            },
        }
    }

    /// Replaces the subject source.
    pub fn with_subject(mut self, subject: SubjectSource) -> Self {
        self.subject = subject;
        self
    }

    /// The stable subject and the profile of a validated assertion.
    pub fn identity(&self, a: &ValidatedAssertion) -> Result<(String, Profile), SamlError> {
        let single = |name: &str| -> Result<String, SamlError> {
            match a.attributes.get(name).map(Vec::as_slice) {
                Some([v]) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                Some([_, _, ..]) => Err(SamlError::Subject(
                    "the subject attribute has several values",
                )),
                _ => Err(SamlError::Subject(
                    "the subject attribute is missing or empty",
                )),
            }
        };
        let subject = match &self.subject {
            SubjectSource::PersistentNameId => {
                if a.name_id.format.as_deref() != Some(response::PERSISTENT) {
                    return Err(SamlError::Subject(
                        "the NameID is not persistent; configure the IdP to send a persistent NameID, or map a stable attribute as the subject",
                    ));
                }
                a.name_id.value.clone()
            }
            SubjectSource::Attribute(name) => single(name)?,
            SubjectSource::Attributes(names) => {
                let parts = names
                    .iter()
                    .map(|n| single(n))
                    .collect::<Result<Vec<_>, _>>()?;
                if parts.iter().any(|p| p.contains('/')) {
                    return Err(SamlError::Subject("a subject attribute contains '/'"));
                }
                parts.join("/")
            }
        };
        if subject.len() > 1024 || subject.chars().any(char::is_control) {
            return Err(SamlError::Subject(
                "the subject is too long or has control characters",
            ));
        }
        let first = |names: &[String]| {
            names.iter().find_map(|n| {
                a.attributes
                    .get(n)
                    .and_then(|v| v.iter().find(|s| !s.trim().is_empty()))
                    .map(|s| s.trim().to_owned())
            })
        };
        let email = first(&self.email);
        let mut groups: Vec<String> = Vec::new();
        for g in &self.groups {
            if let Some(values) = a.attributes.get(g) {
                for v in values {
                    if !v.is_empty() && !groups.contains(v) {
                        groups.push(v.clone());
                    }
                }
            }
        }
        let profile = Profile {
            email_verified: email.is_some() && self.email_verified,
            email,
            name: first(&self.name),
            given_name: first(&self.given_name),
            family_name: first(&self.family_name),
            groups,
            groups_incomplete: self
                .groups_overage
                .iter()
                .any(|n| a.attributes.contains_key(n)),
        };
        Ok((subject, profile))
    }
}

// ------------------------------------------------------------------ settings

/// The HTTP binding used to send AuthnRequests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// HTTP-Redirect (a 303 to the IdP).
    Redirect,
    /// HTTP-POST (an auto-submitting form).
    Post,
}

/// The options of a SAML connection besides the IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamlOptions {
    /// The SP entity ID (the Audience the IdP must name).
    pub sp_entity_id: String,
    /// How assertions become identities.
    pub mapping: AttributeMapping,
    /// Which binding to send AuthnRequests with; default: Redirect when the
    /// IdP offers it, else POST.
    pub binding: Option<Binding>,
    /// Accept a signed Response around an unsigned Assertion. Default false.
    pub allow_unsigned_assertion_in_signed_response: bool,
    /// Accept unsolicited (IdP-initiated) responses. Default false.
    pub allow_idp_initiated: bool,
    /// Sign AuthnRequests with this key (Redirect: query signature; POST:
    /// enveloped XML signature). Default none.
    pub sign_requests: Option<SpSigningKey>,
    /// NameID format to request. Default none (the IdP's choice).
    pub name_id_format: Option<String>,
    /// Allowed clock skew; default 60 s, at most 180 s.
    pub clock_skew: Duration,
    /// How old an IssueInstant may be; default 300 s, at most 600 s.
    pub max_issue_age: Duration,
    /// Size limits of responses.
    pub limits: ResponseLimits,
}

impl SamlOptions {
    /// Defaults for an SP entity ID and an attribute mapping.
    pub fn new(sp_entity_id: impl Into<String>, mapping: AttributeMapping) -> Self {
        Self {
            sp_entity_id: sp_entity_id.into(),
            mapping,
            binding: None,
            allow_unsigned_assertion_in_signed_response: false,
            allow_idp_initiated: false,
            sign_requests: None,
            name_id_format: None,
            clock_skew: Duration::from_secs(60),
            max_issue_age: Duration::from_secs(300),
            limits: ResponseLimits::default(),
        }
    }
}

/// A validated SAML connection configuration. One that exists has at least
/// one trusted signing key, an SSO URL for its binding and bounded clock skew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlSettings {
    inner: Arc<SettingsInner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct SettingsInner {
    idp_entity_id: String,
    sso_url: Url,
    binding: Binding,
    trusted_keys: Vec<TrustedKey>,
    metadata_url: Option<Url>,
    options: SamlOptions,
}

impl SamlSettings {
    /// Settings from IdP metadata XML and options.
    pub fn from_metadata(xml: &str, options: SamlOptions) -> Result<Self, SamlError> {
        Self::new(&IdpMetadata::parse(xml)?, options)
    }

    /// Settings from parsed IdP metadata and options. Fails when the
    /// metadata has no usable signing key, the SP entity ID is empty, the
    /// chosen binding has no SSO URL, the skew is over 180 s, or the IdP
    /// wants signed requests and no SP key is configured.
    pub fn new(idp: &IdpMetadata, options: SamlOptions) -> Result<Self, SamlError> {
        let cfg = |m: &str| SamlError::Config(m.to_owned());
        if idp.signing_keys.is_empty() {
            return Err(cfg("the IdP has no usable signing key"));
        }
        if options.sp_entity_id.trim().is_empty() {
            return Err(cfg("the SP entity ID is empty"));
        }
        if options.clock_skew > response::MAX_CLOCK_SKEW {
            return Err(cfg("the clock skew must be at most 180 seconds"));
        }
        if options.max_issue_age > response::MAX_ISSUE_AGE || options.max_issue_age.is_zero() {
            return Err(cfg("max_issue_age must be between 1 and 600 seconds"));
        }
        if idp.want_authn_requests_signed && options.sign_requests.is_none() {
            return Err(cfg(
                "the IdP wants signed AuthnRequests: configure an SP signing key",
            ));
        }
        if let SubjectSource::Attributes(v) = &options.mapping.subject
            && v.is_empty()
        {
            return Err(cfg("the subject attribute list is empty"));
        }
        let (binding, sso_url) = match (options.binding, &idp.sso_redirect, &idp.sso_post) {
            (Some(Binding::Redirect) | None, Some(u), _) => (Binding::Redirect, u.clone()),
            (Some(Binding::Post) | None, _, Some(u)) => (Binding::Post, u.clone()),
            _ => {
                return Err(cfg(
                    "the IdP has no SingleSignOnService for the chosen binding",
                ));
            }
        };
        Ok(Self {
            inner: Arc::new(SettingsInner {
                idp_entity_id: idp.entity_id.clone(),
                sso_url,
                binding,
                trusted_keys: idp.signing_keys.clone(),
                metadata_url: None,
                options,
            }),
        })
    }

    /// Settings from the IdP metadata at `url`, fetched (and cached) by
    /// `fetcher`; the settings remember the URL, so that a [`SamlAdapter`]
    /// with the same fetcher keeps the signing keys fresh (see
    /// [`SamlAdapter::with_metadata_fetcher`]).
    pub async fn from_metadata_url(
        fetcher: &MetadataFetcher,
        url: &Url,
        options: SamlOptions,
        now: SystemTime,
    ) -> Result<Self, SamlError> {
        let md = fetcher.get(url, now, false).await?;
        Ok(Self::new(&md, options)?.with_metadata_url(url.clone()))
    }

    /// Remembers where the metadata came from: an adapter with a metadata
    /// fetcher then takes the signing keys from the (cached, refreshed)
    /// metadata at that URL, and keeps these keys as the last good ones.
    pub fn with_metadata_url(mut self, url: Url) -> Self {
        Arc::make_mut(&mut self.inner).metadata_url = Some(url);
        self
    }

    /// The metadata URL, if the settings came from one.
    pub fn metadata_url(&self) -> Option<&Url> {
        self.inner.metadata_url.as_ref()
    }

    /// The IdP entity ID.
    pub fn idp_entity_id(&self) -> &str {
        &self.inner.idp_entity_id
    }

    /// The IdP's SSO URL for [`Self::binding`].
    pub fn sso_url(&self) -> &Url {
        &self.inner.sso_url
    }

    /// The binding AuthnRequests are sent with.
    pub fn binding(&self) -> Binding {
        self.inner.binding
    }

    /// The trusted signing keys (never empty).
    pub fn trusted_keys(&self) -> &[TrustedKey] {
        &self.inner.trusted_keys
    }

    /// The options.
    pub fn options(&self) -> &SamlOptions {
        &self.inner.options
    }

    /// The SP entity ID.
    pub fn sp_entity_id(&self) -> &str {
        &self.inner.options.sp_entity_id
    }

    /// What a Response posted to `acs_url` must match. `in_response_to`:
    /// the pending request's ID, or `None` for an unsolicited response
    /// (refused unless IdP-initiated login is enabled).
    pub fn expectations<'a>(
        &'a self,
        acs_url: &'a str,
        in_response_to: Option<&'a str>,
    ) -> Expectations<'a> {
        Expectations {
            idp_entity_id: &self.inner.idp_entity_id,
            sp_entity_id: &self.inner.options.sp_entity_id,
            acs_url,
            in_response_to,
            keys: &self.inner.trusted_keys,
            allow_unsigned_assertion_in_signed_response: self
                .inner
                .options
                .allow_unsigned_assertion_in_signed_response,
            clock_skew: self.inner.options.clock_skew,
            max_issue_age: self.inner.options.max_issue_age,
            limits: self.inner.options.limits,
        }
    }

    /// This connection's SP metadata document for `acs_url`.
    pub fn sp_metadata(&self, acs_url: &str) -> String {
        let formats: Vec<&str> = match &self.inner.options.name_id_format {
            Some(f) => vec![f.as_str()],
            None => vec![response::PERSISTENT],
        };
        SpMetadata {
            entity_id: &self.inner.options.sp_entity_id,
            acs_url,
            name_id_formats: &formats,
            signing_certificate: self
                .inner
                .options
                .sign_requests
                .as_ref()
                .and_then(|k| k.certificate_der()),
        }
        .to_xml()
    }
}

// ------------------------------------------------------------------ adapter

/// The SAML [`IdpAdapter`]. Stateless apart from the replay cache; one
/// instance serves every SAML connection.
pub struct SamlAdapter {
    replay: Arc<dyn ReplayCache>,
    fetcher: Option<Arc<MetadataFetcher>>,
}

impl fmt::Debug for SamlAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamlAdapter").finish_non_exhaustive()
    }
}

fn settings(conn: &Connection) -> Result<&SamlSettings, Error> {
    #[allow(unreachable_patterns)]
    match &conn.protocol {
        Protocol::Saml(s) => Ok(s),
        _ => Err(Error::new(ErrorKind::Config(format!(
            "connection {} is not a SAML connection",
            conn.id
        )))),
    }
}

impl SamlAdapter {
    /// An adapter remembering assertion IDs in `replay`.
    pub fn new(replay: Arc<dyn ReplayCache>) -> Self {
        Self {
            replay,
            fetcher: None,
        }
    }

    /// Uses `fetcher` for connections whose settings name a metadata URL:
    /// their signing keys come from the cached metadata (refreshed per the
    /// fetcher's policy), a signature that fails with the cached keys forces
    /// one rate-limited refresh (key rollover), and while the IdP's metadata
    /// cannot be fetched the last good keys are used.
    pub fn with_metadata_fetcher(mut self, fetcher: Arc<MetadataFetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// The metadata fetcher, if any.
    #[cfg(test)]
    pub(crate) fn metadata_fetcher(&self) -> Option<&Arc<MetadataFetcher>> {
        self.fetcher.as_ref()
    }

    /// The signing keys to use for `settings` now (`force`: refresh).
    async fn keys(
        &self,
        settings: &SamlSettings,
        now: SystemTime,
        force: bool,
    ) -> Result<Vec<TrustedKey>, SamlError> {
        let (Some(url), Some(fetcher)) = (&settings.inner.metadata_url, &self.fetcher) else {
            return Ok(settings.inner.trusted_keys.clone());
        };
        match fetcher.get(url, now, force).await {
            Ok(md) if md.entity_id == settings.inner.idp_entity_id => Ok(md.signing_keys.clone()),
            Ok(_) => Err(SamlError::Metadata(
                "the metadata at the connection's URL now names another entity ID".into(),
            )),
            Err(e) => {
                tracing::warn!(target: "ssokit::saml", error = %e, "IdP metadata unavailable; using the configured keys");
                Ok(settings.inner.trusted_keys.clone())
            }
        }
    }

    /// An adapter remembering assertion IDs in the flow store.
    pub fn with_flow_store(store: Arc<dyn FlowStore>) -> Self {
        Self::new(Arc::new(FlowStoreReplayCache(store)))
    }

    /// Validates a Response for a connection, checks replay and maps the
    /// identity: what [`IdpAdapter::finish`] does, also usable without a
    /// [`Connection`].
    pub async fn verify(
        &self,
        connection: &crate::types::ConnectionId,
        settings: &SamlSettings,
        saml_response: &str,
        acs_url: &str,
        in_response_to: Option<&str>,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, Error> {
        if in_response_to.is_none() && !settings.inner.options.allow_idp_initiated {
            return Err(SamlError::Unsolicited.into());
        }
        let keys = self.keys(settings, now, false).await?;
        let mut expect = settings.expectations(acs_url, in_response_to);
        expect.keys = &keys;
        let assertion = match validate_response(saml_response, &expect, now) {
            Err(SamlError::Signature(
                dsig::SignatureError::Invalid | dsig::SignatureError::NoMatchingKey,
            )) if settings.inner.metadata_url.is_some() && self.fetcher.is_some() => {
                let fresh = self.keys(settings, now, true).await?;
                let mut expect = settings.expectations(acs_url, in_response_to);
                expect.keys = &fresh;
                validate_response(saml_response, &expect, now)?
            }
            other => other?,
        };
        let (subject, profile) = settings.inner.options.mapping.identity(&assertion)?;
        let ttl = assertion
            .replay_until
            .duration_since(now)
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_secs(1));
        if !self.replay.first_use(&assertion.replay_key(), ttl).await? {
            return Err(SamlError::Replay.into());
        }
        Ok(VerifiedIdentity {
            key: IdentityKey {
                connection: connection.clone(),
                subject,
            },
            issuer: assertion.issuer,
            profile,
        })
    }

    /// Completes an unsolicited (IdP-initiated) login posted to `acs_url`:
    /// refused unless the connection allows it; then the response must not
    /// answer any request, is at most 90 s old, and is single use.
    pub async fn finish_unsolicited(
        &self,
        conn: &Connection,
        acs_url: &str,
        callback: &CallbackParams,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, Error> {
        let s = settings(conn)?;
        let response = callback.require("SAMLResponse")?;
        self.verify(&conn.id, s, response, acs_url, None, now).await
    }
}

#[async_trait]
impl IdpAdapter for SamlAdapter {
    async fn start(&self, conn: &Connection, req: StartRequest<'_>) -> Result<Started, Error> {
        let s = settings(conn)?;
        let id = authn::new_request_id();
        let acs = req.redirect_uri.as_str();
        let request = authn::AuthnRequest {
            id: &id,
            issue_instant: req.now,
            destination: s.inner.sso_url.as_str(),
            acs_url: acs,
            sp_entity_id: &s.inner.options.sp_entity_id,
            name_id_format: s.inner.options.name_id_format.as_deref(),
            force_authn: false,
        }
        .to_xml();
        let (url, post_fields) = match s.inner.binding {
            Binding::Redirect => (
                authn::redirect_url(
                    &s.inner.sso_url,
                    &request,
                    req.state,
                    s.inner.options.sign_requests.as_ref(),
                )?,
                None,
            ),
            Binding::Post => {
                let request = match &s.inner.options.sign_requests {
                    Some(key) => authn::sign_enveloped(&request, key)?,
                    None => request,
                };
                (
                    s.inner.sso_url.clone(),
                    Some(authn::post_fields(&request, req.state)),
                )
            }
        };
        Ok(Started {
            url,
            post_fields,
            state: ProtocolState::Saml {
                request_id: id,
                acs_url: acs.to_owned(),
            },
        })
    }

    async fn finish(
        &self,
        conn: &Connection,
        state: &ProtocolState,
        callback: &CallbackParams,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, Error> {
        let s = settings(conn)?;
        #[allow(unreachable_patterns)]
        let (request_id, acs_url) = match state {
            ProtocolState::Saml {
                request_id,
                acs_url,
            } => (request_id, acs_url),
            _ => {
                return Err(Error::new(ErrorKind::Config(
                    "pending login is not a SAML login".into(),
                )));
            }
        };
        let response = callback.require("SAMLResponse")?;
        self.verify(&conn.id, s, response, acs_url, Some(request_id), now)
            .await
    }
}

impl From<SamlError> for Error {
    fn from(e: SamlError) -> Self {
        Error::new(ErrorKind::Saml(e))
    }
}
