//! The development OpenID provider: configuration, state and protocol logic.
//!
//! HTTP plumbing lives in `endpoints` (the axum router) and `server`
//! (spawning); this module holds what they share and what tests call
//! directly.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use url::Url;

use ring::signature::RsaKeyPair;

use super::entra::{self, EntraState, EntraUser};
use super::jose::{self, Signer};
use super::okta::{self, OktaState};
use super::page::{PageUser, SignInPage};
use crate::secret::{SecretString, ct_eq, random_token};

/// How long an authorization code may be redeemed, in seconds.
const CODE_TTL: i64 = 60;
/// Lifetime of an ID token (`exp - iat`), in seconds.
pub(super) const ID_TOKEN_TTL: i64 = 300;
/// Lifetime of an access token, in seconds.
const ACCESS_TOKEN_TTL: i64 = 3600;
/// Longest login accepted by the sign-in form.
const MAX_LOGIN_LEN: usize = 256;

/// A user of the development provider.
///
/// Seed users with [`DevProvider::with_user`]; they are listed on the sign-in
/// page as one-click buttons and can be signed in by login or e-mail. Anyone
/// else can sign in too, and gets a user derived by [`DevUser::new`].
///
/// ```
/// use ssokit::testkit::DevUser;
///
/// let alice = DevUser {
///     name: "Alice Liddell".into(),
///     ..DevUser::new("alice").with_groups(["admins", "staff"])
/// };
/// assert_eq!(alice.sub, "dev|alice");
/// assert_eq!(alice.email, "alice@example.test");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevUser {
    /// What the user types on the sign-in page (matched case-insensitively);
    /// also sent as the `preferred_username` claim.
    pub login: String,
    /// The `sub` claim: the stable subject identifier.
    pub sub: String,
    /// The `email` claim. Typing it on the sign-in page also selects this user.
    pub email: String,
    /// The `email_verified` claim (forced to `false` by [`Fault::NoEmailVerified`]).
    pub email_verified: bool,
    /// The `name` claim.
    pub name: String,
    /// The `groups` claim; omitted from tokens and userinfo when empty.
    pub groups: Vec<String>,
}

impl DevUser {
    /// The user the provider makes up for `login`, exactly as if `login` had
    /// been typed on the sign-in page without matching a seeded user:
    ///
    /// - `sub` is `dev|{login}`;
    /// - `email` is `login` if it contains `@`, else `{login}@example.test`;
    /// - `email_verified` is `true`;
    /// - `name` is made from the e-mail's local part (`jane.doe` → `Jane Doe`);
    /// - no groups.
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
            sub: format!("dev|{login}"),
            name: display_name(local),
            email,
            email_verified: true,
            groups: Vec::new(),
        }
    }

    /// Replaces the user's groups.
    pub fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }
}

/// `jane.doe` → `Jane Doe`; falls back to the input when nothing is left.
pub(super) fn display_name(local: &str) -> String {
    let words: Vec<String> = local
        .split(['.', '_', '-', '+'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect();
    if words.is_empty() {
        local.to_owned()
    } else {
        words.join(" ")
    }
}

/// A deliberate misbehaviour of the provider, switched on with
/// [`DevProvider::set_fault`] so that tests can check that the relying party
/// rejects it.
///
/// Faults are read when a response is produced: token faults apply to ID
/// tokens issued by the token endpoint after the switch, not to tokens made
/// by [`DevProvider::sign_id_token`]. Several faults can be on at once; for
/// the signing faults the precedence is `AlgNone`, `Hs256WithPublicKey`,
/// `UnknownKid`, `EcSigning`, and `BadSignature` applies on top of any of them
/// that produces a signature.
///
/// # Faults and flavors
///
/// The generic faults apply to every [`Flavor`], on all of its authorities
/// (every Entra tenant, every Okta authorization server): `JwksDown` and
/// `DiscoveryDown` take down every JWKS and discovery document, `WrongIssuer`
/// appends `/wrong-issuer` to the token's issuer, and so on. Where a flavor
/// differs:
///
/// - Entra: `NoEmailVerified` sends `xms_edov: false` in every token that
///   carries an `email` (Entra never sends `email_verified`); `ThinIdToken`
///   drops `email`, `xms_edov`, `name`, `preferred_username` and the groups
///   (or overage) claims; `EcSigning` signs with a P-256 key that no Entra
///   JWKS publishes.
/// - Okta: `ThinIdToken` has the effect of
///   [`DevProvider::set_thin_id_tokens`]`(true)`; `EcSigning` signs with a
///   P-256 key that no Okta JWKS publishes.
/// - `IssuerTenantMismatch`, `V1Token` and `SignWithOtherTenantKey` only
///   affect the Entra flavor (they are ignored by the others).
///   `SignWithOtherTenantKey` chooses the key that `Hs256WithPublicKey` and
///   `BadSignature` then work with.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// ID tokens were issued 15 minutes ago and expired 10 minutes ago
    /// (beyond any reasonable clock-skew leeway).
    ExpiredIdToken,
    /// ID tokens have `aud` and `azp` set to `some-other-client` instead of
    /// the client id.
    WrongAudience,
    /// ID tokens have `iss` set to `{issuer}/wrong-issuer`: the right issuer as
    /// a prefix, to catch prefix matching.
    WrongIssuer,
    /// ID tokens carry a random nonce instead of the one from the
    /// authorization request.
    WrongNonce,
    /// ID tokens are unsigned: header `{"alg":"none"}` and an empty signature.
    AlgNone,
    /// ID tokens are signed HS256 with the current RSA key's `kid`, using that
    /// key's public key as the HMAC secret (its PKCS#1 `RSAPublicKey` DER):
    /// the classic algorithm-confusion attack.
    Hs256WithPublicKey,
    /// ID tokens are signed RS256 by a key that is never published in the
    /// JWKS, under the `kid` `dev-unpublished`.
    UnknownKid,
    /// ID tokens are signed normally, then one bit of the signature is
    /// flipped.
    BadSignature,
    /// `GET /jwks` answers `503 Service Unavailable`.
    JwksDown,
    /// `GET /.well-known/openid-configuration` answers `503 Service
    /// Unavailable`.
    DiscoveryDown,
    /// The token endpoint answers every request with `400` and
    /// `{"error":"invalid_grant"}`, without looking at it (the code stays
    /// redeemable).
    TokenEndpointError,
    /// Submitting the sign-in form (or [`DevProvider::sign_in`]) redirects
    /// back with `error=access_denied` instead of a code.
    DenyLogin,
    /// ID tokens are signed ES256 with the P-256 key (`kid` `dev-ec-1`)
    /// instead of RS256.
    EcSigning,
    /// `email_verified` is `false` in ID tokens and userinfo.
    NoEmailVerified,
    /// ID tokens carry only the protocol claims (`iss`, `sub`, `aud`, `azp`,
    /// `exp`, `iat`, `auth_time`, `nonce`): no e-mail, name, username or
    /// groups. The userinfo endpoint still returns them.
    ThinIdToken,
    /// Entra flavor only: ID tokens keep the user's `tid` claim but their
    /// `iss` names another tenant (`{base}/{other tid}/v2.0`, the next
    /// registered tenant, or `00000000-0000-0000-0000-000000000bad` when
    /// there is only one). Signed with the user's tenant key, so only the
    /// issuer/`tid` comparison catches it.
    IssuerTenantMismatch,
    /// Entra flavor only: ID tokens look like v1.0 tokens: `ver` is `"1.0"`,
    /// `iss` is `https://sts.windows.net/{tid}/`, and `upn`/`unique_name`
    /// replace `preferred_username`. Correctly signed.
    V1Token,
    /// Entra flavor only: ID tokens are signed with another tenant's current
    /// key, under that tenant's `kid` (the next registered tenant; with a
    /// single tenant, a key that no JWKS publishes). The token's `tid` and
    /// `iss` are the user's own tenant: a per-tenant JWKS does not know the
    /// `kid`, and in the `organizations`/`common` JWKS the key's `issuer`
    /// member names the other tenant.
    SignWithOtherTenantKey,
}

impl Fault {
    /// Every fault, in declaration order.
    pub const ALL: &'static [Fault] = &[
        Fault::ExpiredIdToken,
        Fault::WrongAudience,
        Fault::WrongIssuer,
        Fault::WrongNonce,
        Fault::AlgNone,
        Fault::Hs256WithPublicKey,
        Fault::UnknownKid,
        Fault::BadSignature,
        Fault::JwksDown,
        Fault::DiscoveryDown,
        Fault::TokenEndpointError,
        Fault::DenyLogin,
        Fault::EcSigning,
        Fault::NoEmailVerified,
        Fault::ThinIdToken,
        Fault::IssuerTenantMismatch,
        Fault::V1Token,
        Fault::SignWithOtherTenantKey,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of [`Fault`]s, as returned by [`DevProvider::faults`].
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Faults(u32);

impl Faults {
    /// The empty set: the provider behaves correctly.
    pub const NONE: Faults = Faults(0);

    /// Whether `fault` is in the set.
    pub fn contains(self, fault: Fault) -> bool {
        self.0 & fault.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with `fault` added.
    #[must_use]
    pub fn with(self, fault: Fault) -> Self {
        Self(self.0 | fault.bit())
    }

    /// The set with `fault` removed.
    #[must_use]
    pub fn without(self, fault: Fault) -> Self {
        Self(self.0 & !fault.bit())
    }

    /// The faults in the set, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Fault> {
        Fault::ALL
            .iter()
            .copied()
            .filter(move |f| self.contains(*f))
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Fault> for Faults {
    fn from_iter<T: IntoIterator<Item = Fault>>(iter: T) -> Self {
        iter.into_iter().fold(Faults::NONE, Faults::with)
    }
}

/// How many HTTP requests each endpoint has received, as returned by
/// [`DevProvider::request_counts`].
///
/// Every request that reaches an endpoint counts, including those answered
/// with an error or a fault. [`DevProvider::sign_in`] is not an HTTP request
/// and does not count.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `GET /.well-known/openid-configuration`.
    pub discovery: u64,
    /// `GET /jwks`.
    pub jwks: u64,
    /// `GET /authorize` (the sign-in page).
    pub authorize: u64,
    /// `POST /authorize` (the sign-in form's submission).
    pub login: u64,
    /// `POST /token`.
    pub token: u64,
    /// `GET`/`POST /userinfo`.
    pub userinfo: u64,
}

/// Why [`DevProvider::sign_in`] could not produce a redirect back to the
/// client: the authorization URL is not for this provider, its client or
/// redirect URI is not registered, or the login is empty.
///
/// (Errors that the provider reports to the client, such as a missing PKCE
/// challenge, are not rejections: `sign_in` returns the error redirect.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRejected {
    message: String,
}

impl AuthorizationRejected {
    /// What was wrong, as the provider's error page would say it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for AuthorizationRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "authorization request rejected: {}", self.message)
    }
}

impl std::error::Error for AuthorizationRejected {}

/// A development OpenID Connect provider: discovery, an authorization
/// endpoint with a sign-in page where any account works, a token endpoint,
/// JWKS and userinfo, plus [`Fault`] switches, key rotation, a clock offset
/// and request counters for tests.
///
/// [`DevProvider::new`] makes a generic provider; [`DevProvider::entra`] and
/// [`DevProvider::okta`] make Entra-like and Okta-like ones ([`Flavor`]).
///
/// Cloning is cheap and clones share state, so a test can keep a handle
/// while the router serves requests. See the [module documentation](super)
/// for how to mount or spawn it.
///
/// **Never use it in production**: it signs with public test keys and lets
/// anyone sign in as anyone.
#[derive(Clone)]
pub struct DevProvider {
    pub(super) inner: Arc<Inner>,
}

/// Which identity provider a [`DevProvider`] imitates, chosen by its
/// constructor.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// A plain OpenID provider with one issuer ([`DevProvider::new`]).
    Generic,
    /// Microsoft Entra ID (v2.0 endpoints) with several tenants
    /// ([`DevProvider::entra`]).
    Entra,
    /// An Okta org, with optional custom authorization servers
    /// ([`DevProvider::okta`]).
    Okta,
}

/// The issuer and endpoints of one authority of a provider (the provider
/// itself, an Entra tenant or `organizations`, an Okta authorization
/// server), as advertised by its discovery document.
///
/// Returned by [`DevProvider::entra_endpoints`] and
/// [`DevProvider::okta_endpoints`].
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The `issuer` of the discovery document, exactly (for Entra's
    /// `organizations` and `common`, the template with a literal
    /// `{tenantid}`; for an Okta org, the org URL without a trailing slash).
    pub issuer: String,
    /// The discovery document.
    pub discovery: Url,
    /// The authorization endpoint.
    pub authorization: Url,
    /// The token endpoint.
    pub token: Url,
    /// The JWKS.
    pub jwks: Url,
    /// The userinfo endpoint.
    pub userinfo: Url,
}

/// Where a request was addressed: the provider, one Entra tenant or
/// multi-tenant endpoint, or one Okta authorization server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Authority {
    /// The generic provider.
    Generic,
    /// An Entra tenant, by tenant id (lower case), however it was addressed.
    EntraTenant(String),
    /// Entra's `organizations` or `common`.
    EntraMulti(&'static str),
    /// An Okta authorization server: `None` is the org authorization server.
    Okta(Option<String>),
}

/// A signed-in user of any flavor.
#[derive(Clone, Debug)]
pub(super) enum Principal {
    /// A user of the generic or the Okta flavor.
    Dev(DevUser),
    /// A user of the Entra flavor.
    Entra(EntraUser),
}

pub(super) struct Inner {
    pub(super) flavor: Flavor,
    pub(super) issuer: Url,
    /// `issuer` without a trailing slash: the prefix of every endpoint URL.
    pub(super) base: String,
    discovery_url: Url,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    userinfo_endpoint: Url,
    state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    clients: BTreeMap<String, Client>,
    pub(super) users: Vec<DevUser>,
    pub(super) faults: Faults,
    codes: HashMap<String, CodeGrant>,
    access_tokens: HashMap<String, AccessGrant>,
    /// Rotation generation of the current RSA signing key, from 1.
    key_generation: u32,
    pub(super) publish_previous_key: bool,
    time_offset: i64,
    counts: RequestCounts,
    /// Requests per path (the full path, under the issuer's path).
    path_counts: HashMap<String, u64>,
    auto_login: Option<String>,
    /// Sign in as the request's `login_hint` without showing the page.
    auto_login_from_hint: bool,
    /// The last authorization request URL received.
    last_authorize: Option<Url>,
    pub(super) entra: EntraState,
    pub(super) okta: OktaState,
}

struct Client {
    secret: SecretString,
    redirect_uris: Vec<String>,
}

pub(super) struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    pub(super) nonce: String,
    code_challenge: String,
    scope: String,
    user: Principal,
    pub(super) authority: Authority,
    /// The `idp` parameter of the authorization request (Okta).
    pub(super) idp: Option<String>,
    pub(super) auth_time: i64,
    expires_at: i64,
}

struct AccessGrant {
    user: Principal,
    authority: Authority,
    client_id: String,
    expires_at: i64,
}

impl fmt::Debug for DevProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevProvider")
            .field("flavor", &self.inner.flavor)
            .field("issuer", &self.inner.issuer.as_str())
            .finish_non_exhaustive()
    }
}

impl DevProvider {
    /// A provider whose issuer identifier is `issuer`, with no clients, no
    /// seeded users and no faults.
    ///
    /// The `iss` claim and the discovery document's `issuer` are exactly
    /// `issuer.as_str()`. Mind that [`Url`] writes an empty path as `/`:
    /// `http://127.0.0.1:3000` becomes `http://127.0.0.1:3000/`. Endpoints
    /// are `{issuer}/authorize`, `{issuer}/token`, … (without doubling a
    /// trailing slash), and discovery is at
    /// `{issuer}/.well-known/openid-configuration`.
    ///
    /// # Panics
    /// If `issuer` is not an `http`/`https` URL with a host, or has a query
    /// or fragment (an issuer identifier may have neither).
    pub fn new(issuer: Url) -> Self {
        Self::build(
            Flavor::Generic,
            issuer,
            [
                "/.well-known/openid-configuration",
                "/authorize",
                "/token",
                "/jwks",
                "/userinfo",
            ],
        )
    }

    /// A provider of flavor `flavor` rooted at `issuer`, whose default
    /// endpoints are the given paths under it (discovery, authorization,
    /// token, JWKS, userinfo).
    pub(super) fn build(flavor: Flavor, issuer: Url, paths: [&str; 5]) -> Self {
        assert!(
            matches!(issuer.scheme(), "http" | "https") && issuer.has_host(),
            "DevProvider issuer must be an http(s) URL with a host, got {issuer}"
        );
        assert!(
            issuer.query().is_none() && issuer.fragment().is_none(),
            "DevProvider issuer must not have a query or fragment, got {issuer}"
        );
        let base = issuer.as_str().trim_end_matches('/').to_owned();
        let endpoint = |path: &str| {
            Url::parse(&format!("{base}{path}")).expect("issuer + endpoint path is a valid URL")
        };
        let [discovery, authorization, token, jwks, userinfo] = paths;
        Self {
            inner: Arc::new(Inner {
                flavor,
                discovery_url: endpoint(discovery),
                authorization_endpoint: endpoint(authorization),
                token_endpoint: endpoint(token),
                jwks_uri: endpoint(jwks),
                userinfo_endpoint: endpoint(userinfo),
                issuer,
                base,
                state: Mutex::new(State {
                    key_generation: 1,
                    ..State::default()
                }),
            }),
        }
    }

    /// Which identity provider this one imitates.
    pub fn flavor(&self) -> Flavor {
        self.inner.flavor
    }

    /// Panics unless the provider is of flavor `flavor`; `what` names the
    /// method for the message.
    pub(super) fn expect_flavor(&self, flavor: Flavor, what: &str) {
        assert!(
            self.inner.flavor == flavor,
            "DevProvider::{what} is only for the {flavor:?} flavor; this provider is {:?}",
            self.inner.flavor
        );
    }

    /// Registers a confidential client. It authenticates at the token
    /// endpoint with `client_secret_basic` or `client_secret_post`, and may
    /// only use the given redirect URIs (compared as exact strings).
    /// Registering the same `client_id` again replaces it.
    ///
    /// # Panics
    /// If a redirect URI is not an absolute URL or has a fragment.
    #[must_use]
    pub fn with_client(self, client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> Self {
        for uri in redirect_uris {
            let parsed = Url::parse(uri)
                .unwrap_or_else(|e| panic!("redirect URI {uri:?} is not an absolute URL: {e}"));
            assert!(
                parsed.fragment().is_none(),
                "redirect URI {uri:?} must not have a fragment"
            );
        }
        self.lock().clients.insert(
            client_id.to_owned(),
            Client {
                secret: SecretString::new(client_secret),
                redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(),
            },
        );
        self
    }

    /// Seeds a user: listed on the sign-in page and selected by its login or
    /// e-mail. A user with the same login is replaced.
    ///
    /// For the Okta flavor, seed users made by [`DevUser::okta`] (their `sub`
    /// is an Okta user id).
    ///
    /// # Panics
    /// For the Entra flavor, whose users are [`EntraUser`]s
    /// ([`with_entra_user`](Self::with_entra_user)).
    #[must_use]
    pub fn with_user(self, user: DevUser) -> Self {
        assert!(
            self.inner.flavor != Flavor::Entra,
            "DevProvider::with_user: the Entra flavor takes EntraUsers (with_entra_user)"
        );
        {
            let mut state = self.lock();
            state
                .users
                .retain(|u| !u.login.eq_ignore_ascii_case(&user.login));
            state.users.push(user);
        }
        self
    }

    /// Seeds two sample users, handy for demos:
    /// `alice` (Alice Example, groups `admins` and `staff`) and
    /// `bob` (Bob Example, group `staff`), both `@example.test` (made by
    /// [`DevUser::okta`] for the Okta flavor).
    ///
    /// # Panics
    /// For the Entra flavor (see [`with_user`](Self::with_user)).
    #[must_use]
    pub fn with_sample_users(self) -> Self {
        let make = if self.inner.flavor == Flavor::Okta {
            DevUser::okta
        } else {
            DevUser::new
        };
        self.with_user(DevUser {
            name: "Alice Example".into(),
            ..make("alice").with_groups(["admins", "staff"])
        })
        .with_user(DevUser {
            name: "Bob Example".into(),
            ..make("bob").with_groups(["staff"])
        })
    }

    /// Switches `fault` on from the start (builder form of
    /// [`set_fault`](Self::set_fault)).
    #[must_use]
    pub fn with_fault(self, fault: Fault) -> Self {
        self.set_fault(fault, true);
        self
    }

    /// The issuer identifier, as given to [`new`](Self::new).
    ///
    /// For the other flavors, the URL given to the constructor: the Entra
    /// instance base URL (each tenant has its own issuer: see
    /// [`entra_endpoints`](Self::entra_endpoints)), or the Okta org URL, which
    /// [`Url`] writes with a trailing slash while the org authorization
    /// server's issuer has none (see [`okta_endpoints`](Self::okta_endpoints)).
    /// The routers and [`spawn_local`](Self::spawn_local) serve under this
    /// URL's path.
    pub fn issuer(&self) -> &Url {
        &self.inner.issuer
    }

    /// `{issuer}/.well-known/openid-configuration`.
    ///
    /// Entra flavor: the `organizations` discovery document. Okta flavor:
    /// the org authorization server's.
    pub fn discovery_url(&self) -> &Url {
        &self.inner.discovery_url
    }

    /// `{issuer}/authorize` (Entra: `{base}/organizations/oauth2/v2.0/authorize`;
    /// Okta: `{org}/oauth2/v1/authorize`).
    pub fn authorization_endpoint(&self) -> &Url {
        &self.inner.authorization_endpoint
    }

    /// `{issuer}/token` (Entra: `{base}/organizations/oauth2/v2.0/token`;
    /// Okta: `{org}/oauth2/v1/token`).
    pub fn token_endpoint(&self) -> &Url {
        &self.inner.token_endpoint
    }

    /// `{issuer}/jwks` (Entra: `{base}/organizations/discovery/v2.0/keys`,
    /// every tenant's keys; Okta: `{org}/oauth2/v1/keys`).
    pub fn jwks_uri(&self) -> &Url {
        &self.inner.jwks_uri
    }

    /// `{issuer}/userinfo` (Entra: `{base}/oidc/userinfo`; Okta:
    /// `{org}/oauth2/v1/userinfo`).
    pub fn userinfo_endpoint(&self) -> &Url {
        &self.inner.userinfo_endpoint
    }

    /// Switches `fault` on or off. Takes effect for the next request.
    pub fn set_fault(&self, fault: Fault, on: bool) {
        let mut state = self.lock();
        state.faults = if on {
            state.faults.with(fault)
        } else {
            state.faults.without(fault)
        };
    }

    /// The faults currently switched on.
    pub fn faults(&self) -> Faults {
        self.lock().faults
    }

    /// Switches every fault off.
    pub fn clear_faults(&self) {
        self.lock().faults = Faults::NONE;
    }

    /// Moves the provider's clock by `secs` seconds (negative: into the
    /// past) relative to the system clock. It governs `iat`, `exp` and
    /// `auth_time` and the expiry of codes (60 s) and access tokens (1 h),
    /// so expiry is tested without sleeping. Replaces any earlier offset.
    pub fn set_time_offset(&self, secs: i64) {
        self.lock().time_offset = secs;
    }

    /// The provider's current time in seconds since the Unix epoch: the
    /// system clock plus the [time offset](Self::set_time_offset).
    pub fn now_unix(&self) -> i64 {
        let offset = self.lock().time_offset;
        system_now() + offset
    }

    /// Makes the authorization endpoint skip the sign-in page: every valid
    /// authorization request is answered at once as if `login` had been
    /// submitted (`None` restores the page). Useful for demos and for
    /// browser-less tests that follow redirects.
    pub fn set_auto_login(&self, login: Option<&str>) {
        self.lock().auto_login = login
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
    }

    /// Starts signing with the next RSA key, under a new `kid`
    /// (`dev-rsa-1`, `dev-rsa-2`, …). The JWKS then publishes only the new
    /// key, unless [`set_publish_previous_key`](Self::set_publish_previous_key)
    /// is on. Tokens issued before the rotation keep their old `kid`.
    ///
    /// The provider has two RSA keys and alternates between them, so
    /// generation 3 reuses generation 1's key material under a new `kid`.
    ///
    /// Entra flavor: rotates every tenant's key (one tenant:
    /// [`rotate_tenant_keys`](Self::rotate_tenant_keys)). Okta flavor:
    /// rotates the org authorization server's key (a custom one:
    /// [`rotate_authorization_server_keys`](Self::rotate_authorization_server_keys)).
    /// Their `kid`s are opaque strings.
    pub fn rotate_keys(&self) {
        let mut state = self.lock();
        match self.inner.flavor {
            Flavor::Entra => state.entra.rotate_all(),
            Flavor::Okta => state.okta.org_keys.rotate(),
            Flavor::Generic => {
                state.key_generation = state.key_generation.wrapping_add(1).max(1);
            }
        }
    }

    /// Whether the JWKS also publishes the key that was current before the
    /// last [`rotate_keys`](Self::rotate_keys), as an IdP does during a
    /// rollover. Off by default.
    pub fn set_publish_previous_key(&self, publish: bool) {
        self.lock().publish_previous_key = publish;
    }

    /// The `kid` of the current RSA signing key.
    ///
    /// Entra flavor: the first registered tenant's (see
    /// [`entra_signing_kid`](Self::entra_signing_kid)). Okta flavor: the org
    /// authorization server's.
    ///
    /// # Panics
    /// For the Entra flavor without tenants.
    pub fn signing_kid(&self) -> String {
        let state = self.lock();
        match self.inner.flavor {
            Flavor::Generic => jose::rsa_kid(state.key_generation),
            _ => self.default_slot(&state).kid(),
        }
    }

    /// Signs `claims` as a JWT with the current RSA key: header
    /// `{"alg":"RS256","kid":…,"typ":"JWT"}`. For tests that craft their own
    /// tokens; no claim is added or checked, and faults do not apply.
    ///
    /// Entra flavor: with the first registered tenant's key (any tenant's:
    /// [`sign_entra_token`](Self::sign_entra_token)). Okta flavor: with the
    /// org authorization server's key.
    ///
    /// # Panics
    /// For the Entra flavor without tenants.
    pub fn sign_id_token(&self, claims: &Value) -> String {
        let state = self.lock();
        match self.inner.flavor {
            Flavor::Generic => {
                let generation = state.key_generation;
                let kid = jose::rsa_kid(generation);
                jose::sign(
                    claims,
                    &Signer::Rs256(jose::keys().rsa_for(generation), &kid),
                )
            }
            _ => {
                let slot = self.default_slot(&state);
                jose::sign(claims, &Signer::Rs256(slot.key(), &slot.kid()))
            }
        }
    }

    /// The key slot of the default authority of a flavored provider.
    fn default_slot(&self, state: &State) -> jose::KeySlot {
        match self.inner.flavor {
            Flavor::Entra => state
                .entra
                .tenants
                .first()
                .map(|t| t.keys.clone())
                .expect("the Entra flavor has no tenant yet: add one with with_entra_tenant"),
            _ => state.okta.org_keys.clone(),
        }
    }

    /// Like [`sign_id_token`](Self::sign_id_token), but ES256 with the P-256
    /// key (`kid` `dev-ec-1`, always published).
    pub fn sign_id_token_es256(&self, claims: &Value) -> String {
        jose::sign(claims, &Signer::Es256(&jose::keys().ec, jose::EC_KID))
    }

    /// The JWKS document served at [`jwks_uri`](Self::jwks_uri): the current
    /// RSA key (and the previous one if
    /// [published](Self::set_publish_previous_key)), then the P-256 key.
    ///
    /// Entra flavor: every tenant's keys (the `organizations` JWKS). Okta
    /// flavor: the org authorization server's keys. Neither publishes the
    /// P-256 key.
    pub fn jwks_json(&self) -> Value {
        match self.inner.flavor {
            Flavor::Entra => {
                return entra::jwks_json(self, &Authority::EntraMulti("organizations"));
            }
            Flavor::Okta => return okta::jwks_json(&self.lock(), None),
            Flavor::Generic => {}
        }
        let (generation, publish_previous) = {
            let state = self.lock();
            (state.key_generation, state.publish_previous_key)
        };
        let keys = jose::keys();
        let mut published = vec![jose::rsa_jwk(
            keys.rsa_for(generation),
            &jose::rsa_kid(generation),
        )];
        if publish_previous && generation > 1 {
            let previous = generation - 1;
            published.push(jose::rsa_jwk(
                keys.rsa_for(previous),
                &jose::rsa_kid(previous),
            ));
        }
        published.push(jose::ec_jwk(&keys.ec, jose::EC_KID));
        json!({ "keys": published })
    }

    /// The discovery document served at
    /// [`discovery_url`](Self::discovery_url).
    pub fn discovery_json(&self) -> Value {
        match self.inner.flavor {
            Flavor::Entra => {
                return entra::discovery_json(self, &Authority::EntraMulti("organizations"));
            }
            Flavor::Okta => return okta::discovery_json(self, None),
            Flavor::Generic => {}
        }
        let inner = &self.inner;
        json!({
            "issuer": inner.issuer.as_str(),
            "authorization_endpoint": inner.authorization_endpoint.as_str(),
            "token_endpoint": inner.token_endpoint.as_str(),
            "jwks_uri": inner.jwks_uri.as_str(),
            "userinfo_endpoint": inner.userinfo_endpoint.as_str(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "scopes_supported": ["openid", "email", "profile", "groups"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce",
                "email", "email_verified", "name", "preferred_username", "groups",
            ],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    /// How many requests each endpoint has received.
    pub fn request_counts(&self) -> RequestCounts {
        self.lock().counts
    }

    /// Sets every request counter back to zero (including
    /// [`requests_to`](Self::requests_to)'s).
    pub fn reset_request_counts(&self) {
        let mut state = self.lock();
        state.counts = RequestCounts::default();
        state.path_counts.clear();
    }

    /// How many requests the endpoint at `url` has received (matched by
    /// path; the query is ignored). Finer than
    /// [`request_counts`](Self::request_counts) for the flavors with several
    /// authorities, e.g. how often one Entra tenant's JWKS was fetched:
    ///
    /// ```
    /// # use ssokit::testkit::DevProvider;
    /// # let base = url::Url::parse("http://127.0.0.1:3000/").unwrap();
    /// const TID: &str = "11111111-1111-1111-1111-111111111111";
    /// let entra = DevProvider::entra(base).with_entra_tenant(TID, &["contoso.example"]);
    /// assert_eq!(entra.requests_to(&entra.entra_endpoints(TID).jwks), 0);
    /// ```
    ///
    /// Requests that no endpoint serves (404) are not counted.
    pub fn requests_to(&self, url: &Url) -> u64 {
        self.lock()
            .path_counts
            .get(url.path())
            .copied()
            .unwrap_or(0)
    }

    /// The query parameters of the last authorization request the provider
    /// received (`GET` on an authorization endpoint, or
    /// [`sign_in`](Self::sign_in)), valid or not, so that tests can check
    /// what the relying party sent: `login_hint`, `domain_hint`, `idp`,
    /// `prompt`, … A repeated parameter keeps its last value. `None` before
    /// the first request.
    pub fn last_authorize_params(&self) -> Option<BTreeMap<String, String>> {
        self.lock()
            .last_authorize
            .as_ref()
            .map(|url| url.query_pairs().into_owned().collect())
    }

    /// The full URL of the last authorization request (see
    /// [`last_authorize_params`](Self::last_authorize_params)), for
    /// checking which authority it addressed (an Entra tenant by id or
    /// domain, `organizations`, an Okta authorization server…).
    pub fn last_authorize_url(&self) -> Option<Url> {
        self.lock().last_authorize.clone()
    }

    /// Plays the browser's part of a sign-in without HTTP: takes the
    /// authorization URL the relying party redirected to and the login the
    /// user would type, and returns the URL the provider redirects back to
    /// (`redirect_uri?code=…&state=…&iss=…`, or an OAuth error redirect such
    /// as `error=access_denied` under [`Fault::DenyLogin`]).
    ///
    /// The request is validated exactly like `GET /authorize`; the login is
    /// resolved like the sign-in form's (seeded login or e-mail, else
    /// [`DevUser::new`] of the trimmed, lower-cased login). The code must
    /// still be redeemed at the token endpoint over HTTP.
    ///
    /// For the Entra and Okta flavors, `authorization_url` may address any
    /// of their authorization endpoints (any tenant, `organizations`,
    /// `common`, any authorization server), and the redirect has no `iss`
    /// parameter, as with the real services. Entra resolves the login
    /// among its tenants' users and refuses users of another tenant than
    /// the one addressed with `error=access_denied` (see
    /// [`DevProvider::entra`]).
    ///
    /// # Errors
    /// [`AuthorizationRejected`] when the provider would show its error page
    /// instead of redirecting: the URL is not one of this provider's
    /// authorization endpoints, the client or redirect URI is unknown,
    /// `login` is empty, or (Entra) `organizations`/`common` cannot tell
    /// which tenant an unknown login belongs to.
    pub fn sign_in(
        &self,
        authorization_url: &Url,
        login: &str,
    ) -> Result<Url, AuthorizationRejected> {
        let mut endpoint = authorization_url.clone();
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        let Some(authority) = self.authority_of_authorization_endpoint(&endpoint) else {
            return Err(AuthorizationRejected {
                message: format!(
                    "{endpoint} is not this provider's authorization endpoint ({}{})",
                    self.inner.authorization_endpoint,
                    if self.inner.flavor == Flavor::Generic {
                        ""
                    } else {
                        ", or another tenant's or authorization server's"
                    }
                ),
            });
        };
        self.lock().last_authorize = Some(authorization_url.clone());
        let params = Params::parse(authorization_url.query().unwrap_or_default().as_bytes());
        match self.check_authorization(&authority, &params) {
            Checked::Reject(message) => Err(AuthorizationRejected { message }),
            Checked::Redirect(url) => Ok(url),
            Checked::Valid(request) => match normalize_login(login) {
                Ok(login) => self
                    .complete_login(&request, login)
                    .map_err(|message| AuthorizationRejected { message }),
                Err(message) => Err(AuthorizationRejected {
                    message: message.to_owned(),
                }),
            },
        }
    }

    /// The authority whose authorization endpoint is `endpoint` (a URL
    /// without query or fragment).
    fn authority_of_authorization_endpoint(&self, endpoint: &Url) -> Option<Authority> {
        match self.inner.flavor {
            Flavor::Generic => {
                (*endpoint == self.inner.authorization_endpoint).then_some(Authority::Generic)
            }
            Flavor::Entra | Flavor::Okta => {
                let path = endpoint.as_str().strip_prefix(self.inner.base.as_str())?;
                if self.inner.flavor == Flavor::Entra {
                    let tenant = path
                        .strip_prefix('/')?
                        .strip_suffix("/oauth2/v2.0/authorize")?;
                    self.entra_authority(tenant)
                } else {
                    okta::authority_of_path(&self.lock(), path, "/v1/authorize")
                }
            }
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request to `path` (as the router sees it, under the
    /// issuer's path) on `endpoint`'s counter.
    pub(super) fn count(&self, path: &str, endpoint: impl FnOnce(&mut RequestCounts) -> &mut u64) {
        let full = format!("{}{path}", self.inner.issuer.path().trim_end_matches('/'));
        let mut state = self.lock();
        *endpoint(&mut state.counts) += 1;
        *state.path_counts.entry(full).or_default() += 1;
    }

    /// Records an authorization request to `path` (as the router sees it)
    /// with `query`, for [`last_authorize_params`](Self::last_authorize_params).
    pub(super) fn record_authorize(&self, path: &str, query: &str) {
        let mut url = format!("{}{path}", self.inner.base);
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        self.lock().last_authorize = Url::parse(&url).ok();
    }

    pub(super) fn auto_login(&self) -> Option<String> {
        self.lock().auto_login.clone()
    }

    /// When on, `GET /authorize` with a `login_hint` signs in as that login
    /// at once (requests without one still get the page). For load tests
    /// and browser-less drivers that want a different user per login.
    pub fn set_auto_login_from_hint(&self, on: bool) {
        self.lock().auto_login_from_hint = on;
    }

    pub(super) fn auto_login_from_hint(&self) -> bool {
        self.lock().auto_login_from_hint
    }

    /// Validates an authorization request (query of `GET /authorize` or the
    /// hidden fields of `POST /authorize`) addressed to `authority`.
    pub(super) fn check_authorization(&self, authority: &Authority, params: &Params) -> Checked {
        let client_id = match params.get("client_id") {
            Ok(Some(id)) => id,
            Ok(None) => return Checked::Reject("The request has no client_id.".into()),
            Err(message) => return Checked::Reject(message),
        };
        let redirect_uri = match params.get("redirect_uri") {
            Ok(Some(uri)) => uri,
            Ok(None) => return Checked::Reject("The request has no redirect_uri.".into()),
            Err(message) => return Checked::Reject(message),
        };
        match self.lock().clients.get(client_id) {
            None => {
                return Checked::Reject(format!(
                    "Unknown client_id \"{client_id}\". Register it with DevProvider::with_client."
                ));
            }
            Some(client) if !client.redirect_uris.iter().any(|u| u == redirect_uri) => {
                return Checked::Reject(format!(
                    "The redirect_uri \"{redirect_uri}\" is not registered for client \
                     \"{client_id}\" (the match must be exact)."
                ));
            }
            Some(_) => {}
        }
        // From here on, errors are reported to the client by redirect.
        let state = params.get("state").ok().flatten();
        let optional = |name: &str| params.get(name).ok().flatten().map(str::to_owned);
        match check_redirectable(params) {
            Ok(valid) => Checked::Valid(AuthorizationRequest {
                authority: authority.clone(),
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                state: valid.state.to_owned(),
                nonce: valid.nonce.to_owned(),
                code_challenge: valid.code_challenge.to_owned(),
                scope: valid.scope.to_owned(),
                login_hint: optional("login_hint").unwrap_or_default(),
                idp: optional("idp"),
            }),
            Err((error, description)) => {
                Checked::Redirect(self.error_redirect(redirect_uri, state, error, &description))
            }
        }
    }

    /// The sign-in page for a valid request.
    pub(super) fn sign_in_page(
        &self,
        request: &AuthorizationRequest,
        error: Option<&str>,
    ) -> String {
        let (users, label) = {
            let state = self.lock();
            match &request.authority {
                Authority::Generic => (state.users.iter().map(PageUser::from).collect(), None),
                Authority::Okta(server) => (
                    state.users.iter().map(PageUser::from).collect(),
                    Some(match server {
                        None => "Okta org authorization server".to_owned(),
                        Some(id) => format!("Okta authorization server {id}"),
                    }),
                ),
                entra_authority => entra::page_users(&state, entra_authority),
            }
        };
        let mut hidden = vec![
            ("client_id", request.client_id.as_str()),
            ("redirect_uri", request.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", request.scope.as_str()),
            ("state", request.state.as_str()),
            ("nonce", request.nonce.as_str()),
            ("code_challenge", request.code_challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if let Some(idp) = &request.idp {
            hidden.push(("idp", idp.as_str()));
        }
        let action = self.authorization_endpoint_of(&request.authority);
        SignInPage {
            action: action.as_str(),
            hidden: &hidden,
            client_id: &request.client_id,
            login_hint: &request.login_hint,
            authority: label.as_deref(),
            users: &users,
            error,
        }
        .render()
    }

    /// The authorization endpoint of `authority`.
    pub(super) fn authorization_endpoint_of(&self, authority: &Authority) -> Url {
        match authority {
            Authority::Generic => self.inner.authorization_endpoint.clone(),
            Authority::EntraTenant(tid) => self.entra_endpoints(tid).authorization,
            Authority::EntraMulti(segment) => self.entra_endpoints(segment).authorization,
            Authority::Okta(server) => self.okta_endpoints(server.as_deref()).authorization,
        }
    }

    /// Signs `login` in for a valid request: issues a code and returns the
    /// redirect back to the client (or `access_denied` under
    /// [`Fault::DenyLogin`], or for an Entra user of another tenant).
    /// `login` is already trimmed and non-empty.
    ///
    /// An `Err` is a message for the sign-in page: the login cannot be
    /// resolved to a user (Entra only).
    pub(super) fn complete_login(
        &self,
        request: &AuthorizationRequest,
        login: &str,
    ) -> Result<Url, String> {
        let mut state = self.lock();
        if state.faults.contains(Fault::DenyLogin) {
            drop(state);
            return Ok(self.error_redirect(
                &request.redirect_uri,
                Some(&request.state),
                "access_denied",
                "The user denied the request (Fault::DenyLogin).",
            ));
        }
        let user = match self.inner.flavor {
            Flavor::Entra => match entra::resolve_login(&state, &request.authority, login) {
                entra::Resolution::User(user) => Principal::Entra(user),
                entra::Resolution::Denied(description) => {
                    drop(state);
                    return Ok(self.error_redirect(
                        &request.redirect_uri,
                        Some(&request.state),
                        "access_denied",
                        &description,
                    ));
                }
                entra::Resolution::Unknown(message) => return Err(message),
            },
            Flavor::Generic | Flavor::Okta => {
                let make = if self.inner.flavor == Flavor::Okta {
                    DevUser::okta
                } else {
                    DevUser::new
                };
                Principal::Dev(
                    state
                        .users
                        .iter()
                        .find(|u| {
                            u.login.eq_ignore_ascii_case(login)
                                || u.email.eq_ignore_ascii_case(login)
                        })
                        .cloned()
                        .unwrap_or_else(|| make(&login.to_lowercase())),
                )
            }
        };
        let now = system_now() + state.time_offset;
        state.codes.retain(|_, grant| grant.expires_at > now);
        let code = random_token(32);
        tracing::debug!(
            client_id = %request.client_id,
            user = ?user,
            "dev provider issued an authorization code"
        );
        state.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                scope: request.scope.clone(),
                user,
                authority: request.authority.clone(),
                idp: request.idp.clone(),
                auth_time: now,
                expires_at: now + CODE_TTL,
            },
        );
        drop(state);
        let mut url = parse_registered(&request.redirect_uri);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("code", &code)
                .append_pair("state", &request.state);
            if self.inner.flavor == Flavor::Generic {
                query.append_pair("iss", self.inner.issuer.as_str());
            }
        }
        Ok(url)
    }

    /// An OAuth error redirect. Only the generic flavor adds `iss`
    /// (RFC 9207); Entra and Okta do not send it.
    fn error_redirect(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        error: &str,
        description: &str,
    ) -> Url {
        let mut url = parse_registered(redirect_uri);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("error", error)
                .append_pair("error_description", description);
            if let Some(state) = state {
                query.append_pair("state", state);
            }
            if self.inner.flavor == Flavor::Generic {
                query.append_pair("iss", self.inner.issuer.as_str());
            }
        }
        url
    }

    /// `POST /token` of `authority`: authenticates the client and redeems a
    /// code issued by the same authority.
    pub(super) fn exchange_code(
        &self,
        authority: &Authority,
        authorization: Option<&str>,
        params: &Params,
    ) -> Result<Value, TokenError> {
        let mut state = self.lock();
        if state.faults.contains(Fault::TokenEndpointError) {
            return Err(TokenError::invalid_grant(
                "The token endpoint is failing on purpose (Fault::TokenEndpointError).",
            ));
        }
        let client_id = authenticate_client(&state, authorization, params)?;
        match params
            .get("grant_type")
            .map_err(TokenError::invalid_request)?
        {
            Some("authorization_code") => {}
            Some(other) => {
                return Err(TokenError::new(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    format!("grant_type \"{other}\" is not supported; use authorization_code."),
                ));
            }
            None => {
                return Err(TokenError::invalid_request(
                    "grant_type is required.".into(),
                ));
            }
        }
        let code = params
            .get("code")
            .map_err(TokenError::invalid_request)?
            .ok_or_else(|| TokenError::invalid_request("code is required.".into()))?;
        let now = system_now() + state.time_offset;
        // Single use: the code is gone whatever happens next.
        let grant = state
            .codes
            .remove(code)
            .ok_or_else(|| TokenError::invalid_grant("The code is unknown or was already used."))?;
        if grant.expires_at <= now {
            return Err(TokenError::invalid_grant(
                "The code has expired (codes live 60 s).",
            ));
        }
        if grant.client_id != client_id {
            return Err(TokenError::invalid_grant(
                "The code was issued to another client.",
            ));
        }
        if grant.authority != *authority {
            return Err(TokenError::invalid_grant(
                "The code was issued by another authority (tenant or authorization server); \
                 redeem it at the token endpoint of the authorization endpoint that issued it.",
            ));
        }
        if params
            .get("redirect_uri")
            .map_err(TokenError::invalid_request)?
            != Some(grant.redirect_uri.as_str())
        {
            return Err(TokenError::invalid_grant(
                "redirect_uri must be the one sent in the authorization request.",
            ));
        }
        let verifier = params
            .get("code_verifier")
            .map_err(TokenError::invalid_request)?
            .ok_or_else(|| {
                TokenError::invalid_request("code_verifier is required (PKCE).".into())
            })?;
        if !is_code_verifier(verifier) {
            return Err(TokenError::invalid_grant(
                "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~.",
            ));
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
        if !ct_eq(computed.as_bytes(), grant.code_challenge.as_bytes()) {
            return Err(TokenError::invalid_grant(
                "code_verifier does not match the code_challenge (PKCE S256).",
            ));
        }

        let id_token = match (&grant.user, self.inner.flavor) {
            (Principal::Entra(user), _) => {
                entra::id_token(self, &state, &grant, user, &client_id, now)
            }
            (Principal::Dev(user), Flavor::Okta) => {
                okta::id_token(self, &state, &grant, user, &client_id, now)
            }
            (Principal::Dev(user), _) => self.id_token(&state, &grant, user, &client_id, now),
        };
        let access_token = random_token(32);
        state.access_tokens.retain(|_, g| g.expires_at > now);
        state.access_tokens.insert(
            access_token.clone(),
            AccessGrant {
                user: grant.user.clone(),
                authority: grant.authority.clone(),
                client_id: client_id.clone(),
                expires_at: now + ACCESS_TOKEN_TTL,
            },
        );
        Ok(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "id_token": id_token,
            "scope": grant.scope,
        }))
    }

    /// The generic flavor's ID token.
    fn id_token(
        &self,
        state: &State,
        grant: &CodeGrant,
        user: &DevUser,
        client_id: &str,
        now: i64,
    ) -> String {
        let faults = state.faults;
        let (iat, exp) = token_times(faults, now);
        let iss = if faults.contains(Fault::WrongIssuer) {
            format!(
                "{}/wrong-issuer",
                self.inner.issuer.as_str().trim_end_matches('/')
            )
        } else {
            self.inner.issuer.as_str().to_owned()
        };
        let aud = token_audience(faults, client_id);
        let mut claims = json!({
            "iss": iss,
            "sub": user.sub,
            "aud": aud,
            "azp": aud,
            "exp": exp,
            "iat": iat,
            "auth_time": grant.auth_time,
            "nonce": token_nonce(faults, &grant.nonce),
        });
        if !faults.contains(Fault::ThinIdToken) {
            merge_profile(&mut claims, user, faults);
        }

        let generation = state.key_generation;
        let kid = jose::rsa_kid(generation);
        sign_with_faults(&claims, faults, jose::keys().rsa_for(generation), &kid)
    }

    /// The userinfo endpoint of `authority` (`None`: one that accepts the
    /// access tokens of every authority): the profile of the access
    /// token's user.
    pub(super) fn userinfo(
        &self,
        authority: Option<&Authority>,
        authorization: Option<&str>,
    ) -> Result<Value, &'static str> {
        let token = authorization
            .and_then(|h| h.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or("A Bearer access token is required.")?;
        let state = self.lock();
        let now = system_now() + state.time_offset;
        let grant = state
            .access_tokens
            .get(token)
            .filter(|g| g.expires_at > now)
            .filter(|g| authority.is_none_or(|a| *a == g.authority))
            .ok_or("The access token is unknown or expired.")?;
        Ok(match (&grant.user, self.inner.flavor) {
            (Principal::Entra(user), _) => entra::userinfo_claims(user, &grant.client_id),
            (Principal::Dev(user), Flavor::Okta) => okta::userinfo_claims(&state, user),
            (Principal::Dev(user), _) => {
                let mut claims = json!({ "sub": user.sub });
                merge_profile(&mut claims, user, state.faults);
                claims
            }
        })
    }
}

/// `(iat, exp)` of an ID token issued at `now`: expired 10 minutes ago
/// under [`Fault::ExpiredIdToken`].
pub(super) fn token_times(faults: Faults, now: i64) -> (i64, i64) {
    if faults.contains(Fault::ExpiredIdToken) {
        (now - 900, now - 600)
    } else {
        (now, now + ID_TOKEN_TTL)
    }
}

/// The `aud` of an ID token for `client_id` ([`Fault::WrongAudience`]).
pub(super) fn token_audience(faults: Faults, client_id: &str) -> &str {
    if faults.contains(Fault::WrongAudience) {
        "some-other-client"
    } else {
        client_id
    }
}

/// The `nonce` of an ID token ([`Fault::WrongNonce`]).
pub(super) fn token_nonce(faults: Faults, nonce: &str) -> String {
    if faults.contains(Fault::WrongNonce) {
        random_token(16)
    } else {
        nonce.to_owned()
    }
}

/// Signs `claims` RS256 with `key` under `kid`, unless a signing fault says
/// otherwise (see [`Fault`] for the precedence).
pub(super) fn sign_with_faults(
    claims: &Value,
    faults: Faults,
    key: &RsaKeyPair,
    kid: &str,
) -> String {
    let keys = jose::keys();
    let signer = if faults.contains(Fault::AlgNone) {
        Signer::None
    } else if faults.contains(Fault::Hs256WithPublicKey) {
        Signer::Hs256(jose::rsa_public_der(key), kid)
    } else if faults.contains(Fault::UnknownKid) {
        Signer::Rs256(&keys.unpublished, jose::UNPUBLISHED_KID)
    } else if faults.contains(Fault::EcSigning) {
        Signer::Es256(&keys.ec, jose::EC_KID)
    } else {
        Signer::Rs256(key, kid)
    };
    let token = jose::sign(claims, &signer);
    if faults.contains(Fault::BadSignature) {
        jose::corrupt_signature(&token)
    } else {
        token
    }
}

/// Adds the profile claims (email, email_verified, name,
/// preferred_username, groups when non-empty).
fn merge_profile(claims: &mut Value, user: &DevUser, faults: Faults) {
    claims["email"] = Value::from(user.email.as_str());
    claims["email_verified"] =
        Value::from(user.email_verified && !faults.contains(Fault::NoEmailVerified));
    claims["name"] = Value::from(user.name.as_str());
    claims["preferred_username"] = Value::from(user.login.as_str());
    if !user.groups.is_empty() {
        claims["groups"] = Value::from(user.groups.clone());
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Redirect URIs are checked to parse when registered.
fn parse_registered(redirect_uri: &str) -> Url {
    Url::parse(redirect_uri).expect("registered redirect URIs are valid URLs")
}

/// Trims a login and checks it is usable.
pub(super) fn normalize_login(login: &str) -> Result<&str, &'static str> {
    let login = login.trim();
    if login.is_empty() {
        Err("Enter a login or an e-mail address.")
    } else if login.len() > MAX_LOGIN_LEN {
        Err("That login is too long (256 characters at most).")
    } else {
        Ok(login)
    }
}

/// The redirectable part of the authorization request check.
struct Redirectable<'a> {
    scope: &'a str,
    state: &'a str,
    nonce: &'a str,
    code_challenge: &'a str,
}

fn check_redirectable(params: &Params) -> Result<Redirectable<'_>, (&'static str, String)> {
    fn invalid(description: impl Into<String>) -> (&'static str, String) {
        ("invalid_request", description.into())
    }
    match params.get("response_type").map_err(invalid)? {
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type \"{other}\" is not supported; use \"code\"."),
            ));
        }
        None => return Err(invalid("response_type is required.")),
    }
    if let Some(mode) = params.get("response_mode").map_err(invalid)?
        && mode != "query"
    {
        return Err(invalid("Only response_mode=query is supported."));
    }
    let scope = params.get("scope").map_err(invalid)?.unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(("invalid_scope", "scope must include openid.".into()));
    }
    let state = params
        .get("state")
        .map_err(invalid)?
        .ok_or_else(|| invalid("state is required."))?;
    let nonce = params
        .get("nonce")
        .map_err(invalid)?
        .ok_or_else(|| invalid("nonce is required."))?;
    let code_challenge = params
        .get("code_challenge")
        .map_err(invalid)?
        .ok_or_else(|| {
            invalid("PKCE is required: send code_challenge and code_challenge_method=S256.")
        })?;
    if params.get("code_challenge_method").map_err(invalid)? != Some("S256") {
        return Err(invalid("code_challenge_method must be S256."));
    }
    if code_challenge.len() != 43 || !code_challenge.bytes().all(is_base64url) {
        return Err(invalid(
            "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters).",
        ));
    }
    Ok(Redirectable {
        scope,
        state,
        nonce,
        code_challenge,
    })
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// RFC 7636 §4.1: 43–128 unreserved characters.
fn is_code_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Authenticates the client of a token request; returns its id.
fn authenticate_client(
    state: &State,
    authorization: Option<&str>,
    params: &Params,
) -> Result<String, TokenError> {
    let body_id = params
        .get("client_id")
        .map_err(TokenError::invalid_request)?;
    let body_secret = params
        .get("client_secret")
        .map_err(TokenError::invalid_request)?;
    let basic = authorization.is_some();
    let unauthorized = |description: &str| TokenError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: description.to_owned(),
        basic_challenge: basic,
    };
    // Candidate (id, secret) pairs. RFC 6749 §2.3.1 form-encodes both before
    // Basic encoding; clients that skip that step are accepted too.
    let candidates: Vec<(String, String)> = if let Some(header) = authorization {
        let (scheme, credentials) = header.trim().split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(unauthorized(
                "Only HTTP Basic client authentication (or client_secret in the body) is supported.",
            ));
        }
        if body_secret.is_some() {
            return Err(TokenError::invalid_request(
                "Use one client authentication method, not both Basic and client_secret.".into(),
            ));
        }
        let decoded = STANDARD
            .decode(credentials.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some((raw_id, raw_secret)) = decoded.as_deref().and_then(|c| c.split_once(':')) else {
            return Err(unauthorized("Malformed HTTP Basic credentials."));
        };
        let id = form_decode(raw_id);
        if let Some(body_id) = body_id
            && body_id != id
            && body_id != raw_id
        {
            return Err(TokenError::invalid_request(
                "client_id in the body does not match the Basic credentials.".into(),
            ));
        }
        vec![
            (id, form_decode(raw_secret)),
            (raw_id.to_owned(), raw_secret.to_owned()),
        ]
    } else if let (Some(id), Some(secret)) = (body_id, body_secret) {
        vec![(id.to_owned(), secret.to_owned())]
    } else {
        return Err(unauthorized(
            "Client authentication is required: client_secret_basic or client_secret_post.",
        ));
    };
    let mut authenticated = None;
    for (id, secret) in candidates {
        if let Some(client) = state.clients.get(&id)
            && client.secret.ct_eq(&secret)
        {
            authenticated = Some(id);
        }
    }
    authenticated.ok_or_else(|| unauthorized("Client authentication failed."))
}

/// `application/x-www-form-urlencoded` decoding of one component.
fn form_decode(input: &str) -> String {
    url::form_urlencoded::parse(
        format!("v={}", input.replace('&', "%26").replace('=', "%3D")).as_bytes(),
    )
    .next()
    .map(|(_, v)| v.into_owned())
    .unwrap_or_default()
}

/// A valid authorization request.
pub(super) struct AuthorizationRequest {
    pub(super) authority: Authority,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    pub(super) state: String,
    pub(super) nonce: String,
    pub(super) code_challenge: String,
    pub(super) scope: String,
    pub(super) login_hint: String,
    /// The `idp` parameter (an Okta extension).
    pub(super) idp: Option<String>,
}

/// Outcome of checking an authorization request.
pub(super) enum Checked {
    /// Valid: show the sign-in page or sign the user in.
    Valid(AuthorizationRequest),
    /// Invalid, reported to the client: redirect the browser here.
    Redirect(Url),
    /// Invalid and the client cannot be trusted with a redirect: show an
    /// error page with this message.
    Reject(String),
}

/// An OAuth error from the token endpoint (RFC 6749 §5.2).
pub(super) struct TokenError {
    pub(super) status: StatusCode,
    pub(super) error: &'static str,
    pub(super) description: String,
    /// Answer with `WWW-Authenticate: Basic` (the client tried Basic auth).
    pub(super) basic_challenge: bool,
}

impl TokenError {
    fn new(status: StatusCode, error: &'static str, description: String) -> Self {
        Self {
            status,
            error,
            description,
            basic_challenge: false,
        }
    }

    fn invalid_request(description: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            description.to_owned(),
        )
    }
}

/// Form or query parameters, keeping duplicates so they can be refused.
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes.
    pub(super) fn parse(input: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(input).into_owned().collect())
    }

    /// The value of `name`. Empty values count as absent (RFC 6749 §3.1);
    /// a repeated parameter is an error.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_logins_are_derived() {
        let u = DevUser::new("jane.doe");
        assert_eq!(u.sub, "dev|jane.doe");
        assert_eq!(u.email, "jane.doe@example.test");
        assert_eq!(u.name, "Jane Doe");
        assert!(u.email_verified);
        assert!(u.groups.is_empty());
        let u = DevUser::new("bob_smith@corp.example");
        assert_eq!(u.email, "bob_smith@corp.example");
        assert_eq!(u.sub, "dev|bob_smith@corp.example");
        assert_eq!(u.name, "Bob Smith");
        assert_eq!(DevUser::new("---").name, "---");
    }

    #[test]
    fn faults_set_operations() {
        let set: Faults = [Fault::AlgNone, Fault::JwksDown].into_iter().collect();
        assert!(set.contains(Fault::AlgNone));
        assert!(!set.contains(Fault::DenyLogin));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Fault::AlgNone, Fault::JwksDown]
        );
        assert!(
            set.without(Fault::AlgNone)
                .without(Fault::JwksDown)
                .is_empty()
        );
        assert_eq!(format!("{set:?}"), "{AlgNone, JwksDown}");
        assert_eq!(Fault::ALL.len(), 18);
        let all: Faults = Fault::ALL.iter().copied().collect();
        assert_eq!(all.iter().count(), Fault::ALL.len());
    }

    #[test]
    fn params_refuse_duplicates_and_ignore_empty_values() {
        let p = Params::parse(b"a=1&b=&c=x&c=y");
        assert_eq!(p.get("a"), Ok(Some("1")));
        assert_eq!(p.get("b"), Ok(None));
        assert_eq!(p.get("z"), Ok(None));
        assert!(p.get("c").is_err());
    }

    #[test]
    fn form_decode_handles_reserved_characters() {
        assert_eq!(form_decode("a%2Bb+c%3A"), "a+b c:");
        assert_eq!(form_decode("x&y=z"), "x&y=z");
        assert_eq!(form_decode("100%"), "100%");
    }

    #[test]
    fn code_verifier_syntax() {
        assert!(is_code_verifier(&"a".repeat(43)));
        assert!(is_code_verifier(&"a-._~".repeat(20)));
        assert!(!is_code_verifier(&"a".repeat(42)));
        assert!(!is_code_verifier(&"a".repeat(129)));
        assert!(!is_code_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn issuer_forms() {
        let p = DevProvider::new(Url::parse("http://127.0.0.1:3000/dev/idp").unwrap());
        assert_eq!(
            p.token_endpoint().as_str(),
            "http://127.0.0.1:3000/dev/idp/token"
        );
        let p = DevProvider::new(Url::parse("http://127.0.0.1:3000/dev/idp/").unwrap());
        assert_eq!(p.issuer().as_str(), "http://127.0.0.1:3000/dev/idp/");
        assert_eq!(p.jwks_uri().as_str(), "http://127.0.0.1:3000/dev/idp/jwks");
        let p = DevProvider::new(Url::parse("https://idp.example.test").unwrap());
        assert_eq!(p.discovery_json()["issuer"], "https://idp.example.test/");
        assert_eq!(
            p.discovery_url().as_str(),
            "https://idp.example.test/.well-known/openid-configuration"
        );
    }

    #[test]
    #[should_panic(expected = "must not have a query")]
    fn issuer_with_query_is_refused() {
        let _ = DevProvider::new(Url::parse("https://idp.example.test/?x=1").unwrap());
    }

    #[test]
    fn rotation_changes_kid_and_jwks() {
        let p = DevProvider::new(Url::parse("https://idp.example.test").unwrap());
        let kids = |p: &DevProvider| -> Vec<String> {
            p.jwks_json()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(kids(&p), ["dev-rsa-1", "dev-ec-1"]);
        p.set_publish_previous_key(true);
        assert_eq!(kids(&p), ["dev-rsa-1", "dev-ec-1"]);
        p.rotate_keys();
        assert_eq!(p.signing_kid(), "dev-rsa-2");
        assert_eq!(kids(&p), ["dev-rsa-2", "dev-rsa-1", "dev-ec-1"]);
        p.set_publish_previous_key(false);
        assert_eq!(kids(&p), ["dev-rsa-2", "dev-ec-1"]);
        let keys = p.jwks_json();
        let first = &keys["keys"][0];
        assert_eq!(first["kty"], "RSA");
        assert_eq!(first["alg"], "RS256");
        assert_eq!(first["use"], "sig");
        assert_eq!(first["e"], "AQAB");
        let ec = &keys["keys"][1];
        assert_eq!(
            (ec["kty"].as_str(), ec["crv"].as_str(), ec["alg"].as_str()),
            (Some("EC"), Some("P-256"), Some("ES256"))
        );
    }
}
