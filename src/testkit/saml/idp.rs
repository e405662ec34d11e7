//! The development SAML IdP: configuration, state and protocol logic.
//!
//! HTTP plumbing lives in `endpoints` (the axum router) and `server`
//! (spawning); this module holds what they share and what tests call
//! directly.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use url::Url;

use super::request::{self, ParsedRequest, SamlBinding};
use super::response::{self, EMAIL, NameIdKind, Target, UNSPECIFIED};
use super::sign::IDP_CERT_DER;
use crate::saml::dsig::DSIG_NS;
use crate::saml::metadata::{BINDING_POST, BINDING_REDIRECT, METADATA_NS};
use crate::saml::response::{PERSISTENT, PROTOCOL_NS};
use crate::saml::{AttributeMapping, Preset};
use crate::testkit::provider::{display_name, normalize_login};

/// Longest `RelayState` the SAML bindings allow, in bytes.
const MAX_RELAY_STATE: usize = 80;

/// A user of the development SAML IdP.
///
/// Seed users with [`DevSamlIdp::with_user`]; they are listed on the
/// sign-in page as one-click buttons and can be signed in by login or
/// e-mail. Anyone else can sign in too, and gets a user made by
/// [`SamlUser::new`].
///
/// ```
/// use ssokit::testkit::saml::SamlUser;
///
/// let ann = SamlUser {
///     name: "Ann Example".into(),
///     ..SamlUser::new("ann")
///         .with_groups(["admins"])
///         .with_attribute("department", ["R&D"])
/// };
/// assert_eq!(ann.name_id, "dev|ann");
/// assert_eq!(ann.email, "ann@example.test");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlUser {
    /// What the user types on the sign-in page (matched case-insensitively).
    pub login: String,
    /// The persistent `NameID`: the stable subject the SP keys identities by.
    pub name_id: String,
    /// The e-mail attribute (typing it on the sign-in page also selects this
    /// user), and the NameID when the SP asks for the `emailAddress` format.
    pub email: String,
    /// The display-name attribute.
    pub name: String,
    /// The groups attribute (one value per group); left out when empty.
    pub groups: Vec<String>,
    /// More attributes, by `Name`, sent after the standard ones. One with the
    /// name of a standard attribute (see [`SamlAttributeNames`]) replaces it.
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl SamlUser {
    /// The user the IdP makes up for `login`, exactly as if `login` had been
    /// typed on the sign-in page without matching a seeded user:
    ///
    /// - `name_id` is `dev|{login}`;
    /// - `email` is `login` if it contains `@`, else `{login}@example.test`;
    /// - `name` is made from the e-mail's local part (`jane.doe` → `Jane Doe`);
    /// - no groups, no other attributes.
    ///
    /// (The sign-in page trims and lower-cases what was typed first; this
    /// constructor takes `login` as given.)
    pub fn new(login: &str) -> Self {
        let email = if login.contains('@') {
            login.to_owned()
        } else {
            format!("{login}@example.test")
        };
        let local = email.split('@').next().unwrap_or_default();
        Self {
            login: login.to_owned(),
            name_id: format!("dev|{login}"),
            name: display_name(local),
            email,
            groups: Vec::new(),
            attributes: BTreeMap::new(),
        }
    }

    /// Replaces the user's groups.
    #[must_use]
    pub fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Sets attribute `name` to `values` (replacing it if present).
    #[must_use]
    pub fn with_attribute<I, S>(mut self, name: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attributes.insert(
            name.to_owned(),
            values.into_iter().map(Into::into).collect(),
        );
        self
    }
}

/// The attribute names the IdP sends the e-mail address, display name and
/// groups under.
///
/// The default is what ssokit's [`Preset::Generic`] mapping reads first
/// (`email`, `displayName`, `groups`), which the Okta and Google presets
/// read too. [`for_preset`](Self::for_preset) takes the names another
/// preset reads (AD FS and Entra use the `…/ws/2005/05/identity/claims/…`
/// URIs). An empty name leaves that attribute out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlAttributeNames {
    /// The e-mail attribute.
    pub email: String,
    /// The display-name attribute.
    pub name: String,
    /// The groups attribute.
    pub groups: String,
}

impl SamlAttributeNames {
    /// The first e-mail, name and group attribute names of `mapping`.
    ///
    /// Mind that a mapping whose subject is an attribute (Entra's preset:
    /// tenant and object id) also needs those attributes on each user
    /// ([`SamlUser::with_attribute`]); the NameID is always sent.
    pub fn from_mapping(mapping: &AttributeMapping) -> Self {
        let first = |v: &[String]| v.first().cloned().unwrap_or_default();
        Self {
            email: first(&mapping.email),
            name: first(&mapping.name),
            groups: first(&mapping.groups),
        }
    }

    /// The names ssokit's `preset` reads first (see
    /// [`from_mapping`](Self::from_mapping)).
    pub fn for_preset(preset: Preset) -> Self {
        Self::from_mapping(&AttributeMapping::preset(preset))
    }
}

impl Default for SamlAttributeNames {
    fn default() -> Self {
        Self::for_preset(Preset::Generic)
    }
}

/// A deliberate misbehaviour of the IdP, switched on with
/// [`DevSamlIdp::set_fault`] so that tests can check that the service
/// provider refuses it.
///
/// Faults are read when a Response is issued. Several can be on at once:
/// `Unsigned` wins over the signing faults, `SignWithUnknownKey` and `Sha1`
/// combine, and `StatusResponder` sends no assertion at all. The error
/// ssokit's SP answers with is named after each fault (as
/// [`SamlError::code`](crate::saml::SamlError::code)).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SamlFault {
    /// The Assertion is not signed (`signature.missing`).
    Unsigned,
    /// Everything is issued 15 minutes ago; the assertion expired 10
    /// minutes ago, beyond any clock-skew allowance (`expired`).
    ExpiredAssertion,
    /// The Audience (and the NameID's `SPNameQualifier`) is
    /// `{sp entity id}/some-other-sp`: the right one as a prefix, to catch
    /// prefix matching (`audience`).
    WrongAudience,
    /// The bearer `SubjectConfirmationData Recipient` is
    /// `{acs}/wrong-recipient`; the Response's `Destination` stays right
    /// (`recipient`).
    WrongRecipient,
    /// The Response and the subject confirmation answer another request (a
    /// random ID) (`in_response_to`).
    WrongInResponseTo,
    /// Both Issuers are `{entity id}/wrong-issuer`, correctly signed
    /// (`issuer`).
    WrongIssuer,
    /// The NameID is changed to `dev|admin` after signing
    /// (`signature.digest_mismatch`).
    TamperedAfterSigning,
    /// Signed by a key the metadata does not publish; its certificate is in
    /// `KeyInfo`, as an attacker's would be (`signature.invalid`).
    SignWithUnknownKey,
    /// The Response has status `Responder`/`AuthnFailed` with a message and
    /// no assertion, as IdPs answer a failed sign-in.
    StatusResponder,
    /// No `InResponseTo`, in the Response or the subject confirmation: an
    /// IdP-initiated response arriving where a request is pending
    /// (`unsolicited`).
    Unsolicited,
    /// A genuine RSA-SHA1 signature with a SHA-1 digest
    /// (`signature.weak_algorithm`).
    Sha1,
}

impl SamlFault {
    /// Every fault, in declaration order.
    pub const ALL: &'static [SamlFault] = &[
        SamlFault::Unsigned,
        SamlFault::ExpiredAssertion,
        SamlFault::WrongAudience,
        SamlFault::WrongRecipient,
        SamlFault::WrongInResponseTo,
        SamlFault::WrongIssuer,
        SamlFault::TamperedAfterSigning,
        SamlFault::SignWithUnknownKey,
        SamlFault::StatusResponder,
        SamlFault::Unsolicited,
        SamlFault::Sha1,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of [`SamlFault`]s, as returned by [`DevSamlIdp::faults`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SamlFaults(u32);

impl SamlFaults {
    /// The empty set: the IdP behaves correctly.
    pub const NONE: SamlFaults = SamlFaults(0);

    /// Whether `fault` is in the set.
    pub fn contains(self, fault: SamlFault) -> bool {
        self.0 & fault.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with `fault` added.
    #[must_use]
    pub fn with(self, fault: SamlFault) -> Self {
        Self(self.0 | fault.bit())
    }

    /// The set with `fault` removed.
    #[must_use]
    pub fn without(self, fault: SamlFault) -> Self {
        Self(self.0 & !fault.bit())
    }

    /// The faults in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = SamlFault> {
        SamlFault::ALL
            .iter()
            .copied()
            .filter(move |f| self.contains(*f))
    }
}

impl fmt::Debug for SamlFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<SamlFault> for SamlFaults {
    fn from_iter<T: IntoIterator<Item = SamlFault>>(iter: T) -> Self {
        iter.into_iter().fold(SamlFaults::NONE, SamlFaults::with)
    }
}

/// How many HTTP requests each endpoint has received, as returned by
/// [`DevSamlIdp::request_counts`].
///
/// Every request that reaches an endpoint counts, including those answered
/// with an error page. [`DevSamlIdp::sign_in`] is not an HTTP request and
/// does not count.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SamlRequestCounts {
    /// `GET /metadata`.
    pub metadata: u64,
    /// `GET /sso`: AuthnRequests with the HTTP-Redirect binding.
    pub sso_redirect: u64,
    /// `POST /sso` with a `SAMLRequest` only: AuthnRequests with the
    /// HTTP-POST binding.
    pub sso_post: u64,
    /// `POST /sso` from the sign-in page (with a login).
    pub login: u64,
}

/// An AuthnRequest as the browser brings it to the IdP: what
/// [`DevSamlIdp::sign_in`] takes.
///
/// A `&Url` or `Url` converts into [`SsoRequest::Redirect`]; with ssokit's
/// own adapter, [`SsoRequest::from_started`] picks the binding from what
/// `IdpAdapter::start` returned.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SsoRequest {
    /// HTTP-Redirect binding: the URL the SP redirected the browser to
    /// (`{sso}?SAMLRequest=…&RelayState=…`).
    Redirect(Url),
    /// HTTP-POST binding: the form fields (`SAMLRequest`, `RelayState`) the
    /// browser posts to `url`.
    Post {
        /// Where the form posts: the IdP's SSO URL.
        url: Url,
        /// The form fields.
        fields: Vec<(String, String)>,
    },
}

impl SsoRequest {
    /// The request from a URL and optional form fields, as in ssokit's
    /// `Started { url, post_fields }`: POST when there are fields, else
    /// Redirect.
    pub fn from_started(url: &Url, post_fields: Option<&[(String, String)]>) -> Self {
        match post_fields {
            Some(fields) => Self::Post {
                url: url.clone(),
                fields: fields.to_vec(),
            },
            None => Self::Redirect(url.clone()),
        }
    }
}

impl From<Url> for SsoRequest {
    fn from(url: Url) -> Self {
        Self::Redirect(url)
    }
}

impl From<&Url> for SsoRequest {
    fn from(url: &Url) -> Self {
        Self::Redirect(url.clone())
    }
}

/// What the IdP's auto-submitting form posts to the SP: the ACS URL and the
/// `SAMLResponse` and `RelayState` fields. Returned by
/// [`DevSamlIdp::sign_in`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcsPost {
    /// The assertion consumer service URL the form posts to.
    pub url: Url,
    /// The `SAMLResponse` field: the Response XML, base64.
    pub saml_response: String,
    /// The `RelayState` field, echoed from the AuthnRequest (absent for
    /// IdP-initiated responses and requests without one).
    pub relay_state: Option<String>,
}

impl AcsPost {
    /// The form fields, `SAMLResponse` then `RelayState` (when present),
    /// ready for `reqwest::RequestBuilder::form` or
    /// `CallbackParams::parse`-style encoding.
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut fields = vec![("SAMLResponse".to_owned(), self.saml_response.clone())];
        if let Some(relay) = &self.relay_state {
            fields.push(("RelayState".to_owned(), relay.clone()));
        }
        fields
    }

    /// The fields `application/x-www-form-urlencoded`, as the browser
    /// posts them.
    pub fn form_body(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.fields())
            .finish()
    }

    /// The Response XML (the decoded `SAMLResponse`), for inspecting it in
    /// tests.
    pub fn response_xml(&self) -> String {
        STANDARD
            .decode(&self.saml_response)
            .ok()
            .and_then(|xml| String::from_utf8(xml).ok())
            .unwrap_or_default()
    }
}

/// Why the IdP would not answer a request: it shows an error page instead
/// of posting to an ACS (the request is not for this IdP, is malformed, or
/// comes from an SP or ACS URL that is not registered; or the login is
/// empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlRequestRejected {
    message: String,
}

impl SamlRequestRejected {
    /// What was wrong, as the IdP's error page says it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SamlRequestRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SAML request rejected: {}", self.message)
    }
}

impl std::error::Error for SamlRequestRejected {}

/// The last AuthnRequest the IdP received, as returned by
/// [`DevSamlIdp::last_authn_request`], so that tests can check what their
/// SP sent.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthnRequestInfo {
    /// The binding it came with.
    pub binding: SamlBinding,
    /// The request's `ID`.
    pub id: String,
    /// The `Issuer`: the SP entity ID.
    pub issuer: String,
    /// `AssertionConsumerServiceURL`, if sent.
    pub acs_url: Option<String>,
    /// `Destination`, if sent.
    pub destination: Option<String>,
    /// `ForceAuthn`.
    pub force_authn: bool,
    /// The `NameIDPolicy` `Format`, if sent.
    pub name_id_format: Option<String>,
    /// The `RelayState`, if sent.
    pub relay_state: Option<String>,
    /// Whether the Redirect URL carried `SigAlg` and `Signature` (the IdP
    /// does not verify them).
    pub signed: bool,
    /// The request XML (inflated).
    pub xml: String,
}

/// A registered service provider.
struct ServiceProvider {
    entity_id: String,
    acs_urls: Vec<String>,
}

#[derive(Default)]
struct State {
    sps: Vec<ServiceProvider>,
    users: Vec<SamlUser>,
    names: SamlAttributeNames,
    faults: SamlFaults,
    counts: SamlRequestCounts,
    time_offset: i64,
    auto_login: Option<String>,
    last_request: Option<AuthnRequestInfo>,
}

struct Inner {
    base: Url,
    entity_id: String,
    metadata_url: Url,
    sso_url: Url,
    state: Mutex<State>,
}

/// A development SAML 2.0 identity provider: metadata, a single sign-on
/// service (HTTP-Redirect and HTTP-POST bindings) with a sign-in page where
/// any account works, and signed Responses posted back to the SP, plus
/// [`SamlFault`] switches, a clock offset and request counters for tests.
///
/// Cloning is cheap and clones share state, so a test can keep a handle
/// while the router serves requests. See the [module documentation](super)
/// for how to mount or spawn it.
///
/// **Never use it in production**: it signs with a key published in this
/// crate and lets anyone sign in as anyone.
#[derive(Clone)]
pub struct DevSamlIdp {
    inner: Arc<Inner>,
}

impl fmt::Debug for DevSamlIdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevSamlIdp")
            .field("entity_id", &self.inner.entity_id)
            .finish_non_exhaustive()
    }
}

/// A checked AuthnRequest: where and how to answer it.
pub(super) struct Pending {
    pub(super) request: ParsedRequest,
    pub(super) xml: String,
    pub(super) acs_url: String,
    pub(super) relay_state: Option<String>,
    name_id: NameIdKind,
}

/// The form or query parameters of a request, refusing repeated ones.
pub(super) struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses `application/x-www-form-urlencoded` bytes.
    pub(super) fn parse(input: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(input).into_owned().collect())
    }

    /// The value of `name` (empty counts as absent); repeated is an error.
    pub(super) fn get(&self, name: &str) -> Result<Option<&str>, String> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(format!("The parameter {name} is repeated."));
        }
        Ok(first)
    }

    /// Whether `name` is present at all, even empty.
    pub(super) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl DevSamlIdp {
    /// An IdP served under `base` (the URL its [router](Self::router) is
    /// mounted at, say `http://127.0.0.1:3000/dev/saml`), with no service
    /// providers, no seeded users and no faults.
    ///
    /// Its entity ID is `{base}/metadata` (also where the metadata is
    /// served), and its single sign-on service is `{base}/sso` for both
    /// bindings (without doubling a trailing slash).
    ///
    /// # Panics
    /// If `base` is not an `http`/`https` URL with a host, or has a query or
    /// fragment.
    pub fn new(base: Url) -> Self {
        assert!(
            matches!(base.scheme(), "http" | "https") && base.has_host(),
            "DevSamlIdp base must be an http(s) URL with a host, got {base}"
        );
        assert!(
            base.query().is_none() && base.fragment().is_none(),
            "DevSamlIdp base must not have a query or fragment, got {base}"
        );
        let prefix = base.as_str().trim_end_matches('/').to_owned();
        let endpoint = |path: &str| {
            Url::parse(&format!("{prefix}{path}")).expect("base + endpoint path is a valid URL")
        };
        let metadata_url = endpoint("/metadata");
        Self {
            inner: Arc::new(Inner {
                entity_id: metadata_url.as_str().to_owned(),
                sso_url: endpoint("/sso"),
                metadata_url,
                base,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Registers a service provider by its entity ID (the `Issuer` of its
    /// AuthnRequests and the `Audience` of the assertions it gets) with an
    /// assertion consumer service URL. Registering the same entity ID again
    /// adds another ACS URL; the first one answers requests that name none
    /// and IdP-initiated sign-ins.
    ///
    /// ACS URLs are compared as exact strings with the AuthnRequest's
    /// `AssertionConsumerServiceURL`.
    ///
    /// # Panics
    /// If `acs_url` is not an absolute URL or has a fragment, or
    /// `sp_entity_id` is empty.
    #[must_use]
    pub fn with_sp(self, sp_entity_id: &str, acs_url: &str) -> Self {
        assert!(
            !sp_entity_id.trim().is_empty(),
            "the SP entity ID must not be empty"
        );
        let parsed = Url::parse(acs_url)
            .unwrap_or_else(|e| panic!("ACS URL {acs_url:?} is not an absolute URL: {e}"));
        assert!(
            parsed.fragment().is_none(),
            "ACS URL {acs_url:?} must not have a fragment"
        );
        {
            let mut state = self.lock();
            match state.sps.iter_mut().find(|sp| sp.entity_id == sp_entity_id) {
                Some(sp) => {
                    if !sp.acs_urls.iter().any(|u| u == acs_url) {
                        sp.acs_urls.push(acs_url.to_owned());
                    }
                }
                None => state.sps.push(ServiceProvider {
                    entity_id: sp_entity_id.to_owned(),
                    acs_urls: vec![acs_url.to_owned()],
                }),
            }
        }
        self
    }

    /// Seeds a user: listed on the sign-in page and selected by its login or
    /// e-mail. A user with the same login is replaced.
    #[must_use]
    pub fn with_user(self, user: SamlUser) -> Self {
        {
            let mut state = self.lock();
            state
                .users
                .retain(|u| !u.login.eq_ignore_ascii_case(&user.login));
            state.users.push(user);
        }
        self
    }

    /// Seeds two sample users, handy for demos (the same as
    /// [`DevProvider::with_sample_users`](crate::testkit::DevProvider::with_sample_users)):
    /// `alice` (Alice Example, groups `admins` and `staff`) and `bob` (Bob
    /// Example, group `staff`), both `@example.test`.
    #[must_use]
    pub fn with_sample_users(self) -> Self {
        self.with_user(SamlUser {
            name: "Alice Example".into(),
            ..SamlUser::new("alice").with_groups(["admins", "staff"])
        })
        .with_user(SamlUser {
            name: "Bob Example".into(),
            ..SamlUser::new("bob").with_groups(["staff"])
        })
    }

    /// Sends the e-mail, name and groups under these attribute names
    /// (default: [`SamlAttributeNames::default`]).
    #[must_use]
    pub fn with_attribute_names(self, names: SamlAttributeNames) -> Self {
        self.lock().names = names;
        self
    }

    /// Switches `fault` on from the start (builder form of
    /// [`set_fault`](Self::set_fault)).
    #[must_use]
    pub fn with_fault(self, fault: SamlFault) -> Self {
        self.set_fault(fault, true);
        self
    }

    /// The entity ID: `{base}/metadata`.
    pub fn entity_id(&self) -> &str {
        &self.inner.entity_id
    }

    /// The URL given to [`new`](Self::new); the routers and
    /// [`spawn_local`](Self::spawn_local) serve under its path.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// Where the metadata is served: `{base}/metadata` (the entity ID).
    pub fn metadata_url(&self) -> &Url {
        &self.inner.metadata_url
    }

    /// The single sign-on service, for both bindings: `{base}/sso`.
    pub fn sso_url(&self) -> &Url {
        &self.inner.sso_url
    }

    /// The signing certificate (DER), as published in the metadata.
    pub fn certificate_der(&self) -> &'static [u8] {
        IDP_CERT_DER
    }

    /// The signing certificate as PEM (for tools such as `xmlsec1`).
    pub fn certificate_pem(&self) -> String {
        let b64 = STANDARD.encode(IDP_CERT_DER);
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }

    /// The IdP's metadata, served at [`metadata_url`](Self::metadata_url):
    /// an `EntityDescriptor` with an `IDPSSODescriptor` holding the signing
    /// certificate, the persistent and emailAddress NameID formats and the
    /// SSO service for the HTTP-Redirect and HTTP-POST bindings.
    /// `WantAuthnRequestsSigned` is `false`.
    pub fn metadata_xml(&self) -> String {
        let sso = response::attr(self.inner.sso_url.as_str());
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <md:EntityDescriptor xmlns:md=\"{METADATA_NS}\" xmlns:ds=\"{DSIG_NS}\" entityID=\"{}\">\n\
             \x20 <md:IDPSSODescriptor WantAuthnRequestsSigned=\"false\" protocolSupportEnumeration=\"{PROTOCOL_NS}\">\n\
             \x20   <md:KeyDescriptor use=\"signing\">\n\
             \x20     <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n\
             \x20   </md:KeyDescriptor>\n\
             \x20   <md:NameIDFormat>{PERSISTENT}</md:NameIDFormat>\n\
             \x20   <md:NameIDFormat>{EMAIL}</md:NameIDFormat>\n\
             \x20   <md:SingleSignOnService Binding=\"{BINDING_REDIRECT}\" Location=\"{sso}\"/>\n\
             \x20   <md:SingleSignOnService Binding=\"{BINDING_POST}\" Location=\"{sso}\"/>\n\
             \x20 </md:IDPSSODescriptor>\n\
             </md:EntityDescriptor>\n",
            response::attr(&self.inner.entity_id),
            STANDARD.encode(IDP_CERT_DER),
        )
    }

    /// Switches `fault` on or off. Takes effect for the next Response.
    pub fn set_fault(&self, fault: SamlFault, on: bool) {
        let mut state = self.lock();
        state.faults = if on {
            state.faults.with(fault)
        } else {
            state.faults.without(fault)
        };
    }

    /// The faults currently switched on.
    pub fn faults(&self) -> SamlFaults {
        self.lock().faults
    }

    /// Switches every fault off.
    pub fn clear_faults(&self) {
        self.lock().faults = SamlFaults::NONE;
    }

    /// Moves the IdP's clock by `secs` seconds (negative: into the past)
    /// relative to the system clock. It governs every instant of the
    /// Responses (IssueInstant, NotBefore, NotOnOrAfter…). Replaces any
    /// earlier offset.
    pub fn set_time_offset(&self, secs: i64) {
        self.lock().time_offset = secs;
    }

    /// The IdP's current time: the system clock plus the
    /// [time offset](Self::set_time_offset).
    pub fn now(&self) -> SystemTime {
        let offset = self.lock().time_offset;
        let now = SystemTime::now();
        let shift = Duration::from_secs(offset.unsigned_abs());
        if offset >= 0 {
            now + shift
        } else {
            now - shift
        }
    }

    /// Makes the SSO service skip the sign-in page: every valid
    /// AuthnRequest is answered at once with the auto-submitting form, as
    /// if `login` had been submitted (`None` restores the page). Useful for
    /// demos and browser-less tests.
    pub fn set_auto_login(&self, login: Option<&str>) {
        self.lock().auto_login = login
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
    }

    /// How many requests each endpoint has received.
    pub fn request_counts(&self) -> SamlRequestCounts {
        self.lock().counts
    }

    /// Sets every request counter back to zero.
    pub fn reset_request_counts(&self) {
        self.lock().counts = SamlRequestCounts::default();
    }

    /// The last AuthnRequest received (over HTTP or by
    /// [`sign_in`](Self::sign_in)) that could be decoded and parsed, whether
    /// or not its SP is registered. `None` before the first.
    pub fn last_authn_request(&self) -> Option<AuthnRequestInfo> {
        self.lock().last_request.clone()
    }

    /// Plays the browser's part of an SP-initiated sign-in without HTTP:
    /// takes the AuthnRequest the SP sent the browser with (a Redirect URL,
    /// or POST form fields: see [`SsoRequest`]) and the login the user would
    /// type, and returns what the IdP's auto-submitting form posts to the
    /// ACS.
    ///
    /// The request is checked exactly as by `GET`/`POST {base}/sso`; the
    /// login is resolved like the sign-in form's (seeded login or e-mail,
    /// else [`SamlUser::new`] of the trimmed, lower-cased login); faults
    /// apply.
    ///
    /// # Errors
    /// [`SamlRequestRejected`] where the IdP would show its error page: the
    /// URL is not this IdP's SSO service, the `SAMLRequest` is missing or
    /// not a valid AuthnRequest, its SP (Issuer) or ACS URL is not
    /// registered, it asks for an unsupported binding or NameID format, the
    /// `RelayState` is over 80 bytes, or `login` is empty.
    pub fn sign_in(
        &self,
        request: impl Into<SsoRequest>,
        login: &str,
    ) -> Result<AcsPost, SamlRequestRejected> {
        let rejected = |message: String| SamlRequestRejected { message };
        let (binding, url, fields) = match request.into() {
            SsoRequest::Redirect(url) => {
                let fields = Fields::parse(url.query().unwrap_or_default().as_bytes());
                (SamlBinding::Redirect, url, fields)
            }
            SsoRequest::Post { url, fields } => (SamlBinding::Post, url, Fields(fields)),
        };
        let mut endpoint = url.clone();
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        if endpoint != self.inner.sso_url {
            return Err(rejected(format!(
                "{endpoint} is not this IdP's single sign-on service ({})",
                self.inner.sso_url
            )));
        }
        let pending = self
            .check_request(binding, &fields, true)
            .map_err(rejected)?;
        let login = normalize_login(login).map_err(|m| rejected(m.to_owned()))?;
        self.complete(&pending, login).map_err(rejected)
    }

    /// An IdP-initiated (unsolicited) sign-in of `login` at the registered
    /// SP `sp_entity_id`: a Response without `InResponseTo`, posted to the
    /// SP's first ACS URL, without RelayState. ssokit's SP refuses these
    /// unless the connection allows IdP-initiated login.
    ///
    /// # Errors
    /// [`SamlRequestRejected`] if the SP is not registered or `login` is
    /// empty.
    pub fn idp_initiated(
        &self,
        sp_entity_id: &str,
        login: &str,
    ) -> Result<AcsPost, SamlRequestRejected> {
        let rejected = |message: String| SamlRequestRejected { message };
        let acs_url = self
            .lock()
            .sps
            .iter()
            .find(|sp| sp.entity_id == sp_entity_id)
            .map(|sp| sp.acs_urls[0].clone())
            .ok_or_else(|| rejected(unknown_sp(sp_entity_id)))?;
        let login = normalize_login(login).map_err(|m| rejected(m.to_owned()))?;
        let target = Target {
            sp_entity_id,
            acs_url: &acs_url,
            in_response_to: None,
            name_id: NameIdKind::Persistent,
        };
        self.issue(&target, login, None).map_err(rejected)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request on `endpoint`'s counter.
    pub(super) fn count(&self, endpoint: impl FnOnce(&mut SamlRequestCounts) -> &mut u64) {
        *endpoint(&mut self.lock().counts) += 1;
    }

    pub(super) fn auto_login(&self) -> Option<String> {
        self.lock().auto_login.clone()
    }

    /// Decodes, parses and checks the AuthnRequest in `fields`
    /// (`SAMLRequest`, `RelayState`, and for Redirect `SigAlg`/`Signature`).
    /// `record`: remember it for [`last_authn_request`](Self::last_authn_request).
    pub(super) fn check_request(
        &self,
        binding: SamlBinding,
        fields: &Fields,
        record: bool,
    ) -> Result<Pending, String> {
        let encoded = fields
            .get("SAMLRequest")?
            .ok_or("The request has no SAMLRequest parameter.")?;
        let relay_state = fields.get("RelayState")?.map(str::to_owned);
        let signed = binding == SamlBinding::Redirect
            && fields.get("SigAlg")?.is_some()
            && fields.get("Signature")?.is_some();
        let xml = request::decode(binding, encoded)?;
        let request = request::parse(&xml)?;
        if record {
            self.lock().last_request = Some(AuthnRequestInfo {
                binding,
                id: request.id.clone(),
                issuer: request.issuer.clone(),
                acs_url: request.acs_url.clone(),
                destination: request.destination.clone(),
                force_authn: request.force_authn,
                name_id_format: request.name_id_format.clone(),
                relay_state: relay_state.clone(),
                signed,
                xml: xml.clone(),
            });
        }
        if relay_state
            .as_ref()
            .is_some_and(|r| r.len() > MAX_RELAY_STATE)
        {
            return Err(format!(
                "The RelayState is longer than the {MAX_RELAY_STATE} bytes the SAML bindings allow."
            ));
        }
        if let Some(destination) = &request.destination
            && destination != self.inner.sso_url.as_str()
        {
            return Err(format!(
                "The AuthnRequest's Destination \"{destination}\" is not this IdP's single \
                 sign-on service ({}).",
                self.inner.sso_url
            ));
        }
        let acs_url = {
            let state = self.lock();
            let sp = state
                .sps
                .iter()
                .find(|sp| sp.entity_id == request.issuer)
                .ok_or_else(|| unknown_sp(&request.issuer))?;
            match &request.acs_url {
                None => sp.acs_urls[0].clone(),
                Some(acs) if sp.acs_urls.iter().any(|u| u == acs) => acs.clone(),
                Some(acs) => {
                    return Err(format!(
                        "The AssertionConsumerServiceURL \"{acs}\" is not registered for the \
                         SP \"{}\" (the match must be exact). Register it with \
                         DevSamlIdp::with_sp.",
                        request.issuer
                    ));
                }
            }
        };
        let name_id = match request.name_id_format.as_deref() {
            None | Some(PERSISTENT | UNSPECIFIED) => NameIdKind::Persistent,
            Some(EMAIL) => NameIdKind::Email,
            Some(other) => {
                return Err(format!(
                    "The NameIDPolicy asks for the format \"{other}\"; this IdP sends \
                     persistent ({PERSISTENT}) or emailAddress ({EMAIL}) NameIDs."
                ));
            }
        };
        Ok(Pending {
            request,
            xml,
            acs_url,
            relay_state,
            name_id,
        })
    }

    /// Signs `login` in for a checked request: the Response to post.
    pub(super) fn complete(&self, pending: &Pending, login: &str) -> Result<AcsPost, String> {
        let target = Target {
            sp_entity_id: &pending.request.issuer,
            acs_url: &pending.acs_url,
            in_response_to: Some(&pending.request.id),
            name_id: pending.name_id,
        };
        self.issue(&target, login, pending.relay_state.clone())
    }

    fn issue(
        &self,
        target: &Target<'_>,
        login: &str,
        relay_state: Option<String>,
    ) -> Result<AcsPost, String> {
        let (user, names, faults) = {
            let state = self.lock();
            let user = state
                .users
                .iter()
                .find(|u| {
                    u.login.eq_ignore_ascii_case(login) || u.email.eq_ignore_ascii_case(login)
                })
                .cloned()
                .unwrap_or_else(|| SamlUser::new(&login.to_lowercase()));
            (user, state.names.clone(), state.faults)
        };
        let xml = response::issue(
            &self.inner.entity_id,
            &user,
            &names,
            target,
            faults,
            self.now(),
        )?;
        tracing::debug!(
            sp = %target.sp_entity_id,
            user = %user.login,
            ?faults,
            "dev SAML IdP issued a response"
        );
        Ok(AcsPost {
            url: Url::parse(target.acs_url).map_err(|e| format!("bad ACS URL: {e}"))?,
            saml_response: STANDARD.encode(xml),
            relay_state,
        })
    }

    /// The seeded users, for the sign-in page.
    pub(super) fn users(&self) -> Vec<SamlUser> {
        self.lock().users.clone()
    }
}

fn unknown_sp(entity_id: &str) -> String {
    format!(
        "Unknown service provider \"{entity_id}\" (the AuthnRequest's Issuer). Register it \
         with DevSamlIdp::with_sp."
    )
}
