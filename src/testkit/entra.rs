//! The Entra-like flavor of the development provider: Microsoft Entra ID's
//! v2.0 endpoints for several tenants, each with its own signing key.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use url::Url;

use super::endpoints::{
    error_page, json_response, serve_authorize_page, serve_authorize_submit, serve_discovery,
    serve_jwks, serve_token, serve_userinfo,
};
use super::jose::{self, KeySlot};
use super::page::PageUser;
use super::provider::{
    Authority, CodeGrant, DevProvider, Endpoints, Fault, Faults, Flavor, State as ProviderState,
    display_name, sign_with_faults, token_audience, token_nonce, token_times,
};

/// The tenant named by [`Fault::IssuerTenantMismatch`] when the provider
/// has a single tenant.
const MISMATCH_TID: &str = "00000000-0000-0000-0000-000000000bad";

/// A user of an Entra-like [`DevProvider`] ([`DevProvider::entra`]): a user
/// object of one tenant.
///
/// Seed users with [`DevProvider::with_entra_user`]. On the sign-in page
/// (and in [`DevProvider::sign_in`]) a user is selected by `upn`, then
/// `preferred_username`, then `email` (case-insensitively).
///
/// ```
/// use ssokit::testkit::EntraUser;
///
/// const CONTOSO: &str = "11111111-1111-1111-1111-111111111111";
/// let alice = EntraUser {
///     email: Some("alice@contoso.example".into()),
///     xms_edov: Some(true),
///     ..EntraUser::new(CONTOSO, "alice@contoso.example")
///         .with_groups(["aaaaaaaa-0000-0000-0000-000000000001"])
/// };
/// assert_eq!(alice.tid, CONTOSO);
/// assert_eq!(alice.name, "Alice");
/// // `sub` is pairwise: it differs between client ids.
/// assert_ne!(alice.subject("app-1"), alice.subject("app-2"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntraUser {
    /// The tenant id (a GUID, lower case): the `tid` claim. Must be a
    /// tenant registered with [`DevProvider::with_entra_tenant`].
    pub tid: String,
    /// The user's object id in the tenant (a GUID): the `oid` claim.
    pub oid: String,
    /// The `sub` claim. `None` (the default) derives a pairwise subject from
    /// the client id and `oid`, as Entra does ([`subject`](Self::subject));
    /// `Some` sends this value to every client.
    pub sub: Option<String>,
    /// The user principal name: what the user types to sign in; the `upn`
    /// claim of v1.0 tokens ([`Fault::V1Token`]).
    pub upn: String,
    /// The `preferred_username` claim (v2.0 tokens).
    pub preferred_username: String,
    /// The `name` claim.
    pub name: String,
    /// The `email` claim (the user's `mail` attribute, which a tenant admin
    /// can set to anything); omitted when `None`.
    pub email: Option<String>,
    /// The `xms_edov` optional claim ("e-mail domain owner verified");
    /// omitted when `None`, as when the app does not request it.
    pub xms_edov: Option<bool>,
    /// Group object ids: the `groups` claim, omitted when empty.
    pub groups: Vec<String>,
    /// Whether the user is in too many groups for a token: the `groups`
    /// claim is replaced by the overage marker (`_claim_names` and
    /// `_claim_sources` pointing at Microsoft Graph's `getMemberObjects`).
    pub overage: bool,
}

impl EntraUser {
    /// A user of tenant `tid` signing in as `upn`:
    ///
    /// - `oid` is a GUID derived from `tid` and `upn` (stable across runs);
    /// - `sub` is pairwise ([`subject`](Self::subject));
    /// - `preferred_username` is `upn`, `email` is `Some(upn)`, `xms_edov`
    ///   is `None`;
    /// - `name` is made from the local part of `upn` (`jane.doe` → `Jane Doe`);
    /// - no groups, no overage.
    ///
    /// This is also the user the provider makes up for an unknown login.
    pub fn new(tid: &str, upn: &str) -> Self {
        let tid = tid.to_ascii_lowercase();
        let local = upn.split('@').next().unwrap_or_default();
        Self {
            oid: derived_guid(&format!("{tid}|{}", upn.to_lowercase())),
            tid,
            sub: None,
            upn: upn.to_owned(),
            preferred_username: upn.to_owned(),
            name: display_name(local),
            email: Some(upn.to_owned()),
            xms_edov: None,
            groups: Vec::new(),
            overage: false,
        }
    }

    /// Replaces the user's groups (object ids).
    #[must_use]
    pub fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the `email` claim and the `xms_edov` claim.
    #[must_use]
    pub fn with_email(mut self, email: Option<&str>, xms_edov: Option<bool>) -> Self {
        self.email = email.map(str::to_owned);
        self.xms_edov = xms_edov;
        self
    }

    /// Sets whether the user's groups overflow the token (see
    /// [`overage`](Self::overage)).
    #[must_use]
    pub fn with_overage(mut self, overage: bool) -> Self {
        self.overage = overage;
        self
    }

    /// The `sub` claim the user has for `client_id`: [`sub`](Self::sub) if
    /// set, else 43 base64url characters derived from `client_id` and `oid`
    /// (pairwise, like Entra's).
    pub fn subject(&self, client_id: &str) -> String {
        self.sub.clone().unwrap_or_else(|| {
            let digest = ring::digest::digest(
                &ring::digest::SHA256,
                format!("ssokit-dev-entra-sub|{client_id}|{}", self.oid).as_bytes(),
            );
            URL_SAFE_NO_PAD.encode(digest.as_ref())
        })
    }
}

/// A GUID (lower case) derived from `seed`.
fn derived_guid(seed: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("ssokit-dev-entra-guid|{seed}").as_bytes(),
    );
    let hex = crate::secret::hex(&digest.as_ref()[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `s` is a GUID in the 8-4-4-4-12 hexadecimal form.
fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The Entra flavor's tenants and users.
#[derive(Default)]
pub(super) struct EntraState {
    pub(super) tenants: Vec<Tenant>,
    users: Vec<EntraUser>,
}

/// One tenant: its id, verified domains and signing key.
pub(super) struct Tenant {
    pub(super) tid: String,
    domains: Vec<String>,
    pub(super) keys: KeySlot,
}

impl EntraState {
    /// Rotates every tenant's key.
    pub(super) fn rotate_all(&mut self) {
        for tenant in &mut self.tenants {
            tenant.keys.rotate();
        }
    }

    fn tenant(&self, tid: &str) -> Option<&Tenant> {
        self.tenants
            .iter()
            .find(|t| t.tid.eq_ignore_ascii_case(tid))
    }

    /// The tenant addressed by `segment`: its id or a verified domain.
    fn resolve(&self, segment: &str) -> Option<&Tenant> {
        self.tenant(segment).or_else(|| self.by_domain(segment))
    }

    fn by_domain(&self, domain: &str) -> Option<&Tenant> {
        self.tenants
            .iter()
            .find(|t| t.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
    }

    /// Another tenant than `tid`: the next registered one, if any.
    fn other_tenant(&self, tid: &str) -> Option<&Tenant> {
        let index = self.tenants.iter().position(|t| t.tid == tid).unwrap_or(0);
        (1..self.tenants.len())
            .map(|step| &self.tenants[(index + step) % self.tenants.len()])
            .find(|t| t.tid != tid)
    }
}

fn issuer(base: &str, tid: &str) -> String {
    format!("{base}/{tid}/v2.0")
}

impl DevProvider {
    /// An Entra-like provider: Microsoft Entra ID's v2.0 endpoints at the
    /// instance base URL `base` (what `https://login.microsoftonline.com`
    /// is to the real service), for the tenants added with
    /// [`with_entra_tenant`](Self::with_entra_tenant).
    ///
    /// With `{base}` = `base` without a trailing slash and `{tenant}` = a
    /// tenant id, one of its verified domains, `organizations` or `common`:
    ///
    /// | Endpoint | URL |
    /// |---|---|
    /// | Discovery | `GET {base}/{tenant}/v2.0/.well-known/openid-configuration` |
    /// | Authorization | `GET`/`POST {base}/{tenant}/oauth2/v2.0/authorize` |
    /// | Token | `POST {base}/{tenant}/oauth2/v2.0/token` |
    /// | JWKS | `GET {base}/{tenant}/discovery/v2.0/keys` |
    /// | Userinfo | `GET`/`POST {base}/oidc/userinfo` |
    ///
    /// A tenant's discovery document has the issuer `{base}/{tid}/v2.0`
    /// (the tenant id even when addressed by domain) and its endpoints under
    /// `{base}/{tid}/`; its JWKS publishes only that tenant's key. The
    /// `organizations` and `common` documents have the literal template
    /// issuer `{base}/{tenantid}/v2.0`, and their JWKS publishes every
    /// tenant's key. Each key carries an `issuer` member naming its tenant's
    /// issuer and, as at Entra, no `alg`. An unknown `{tenant}` gets
    /// `400 {"error":"invalid_tenant"}` (an error page at the authorization
    /// endpoint). See [`entra_endpoints`](Self::entra_endpoints).
    ///
    /// Authorization requests follow the generic provider's rules
    /// ([module docs](super)); `login_hint` prefills the sign-in page and
    /// `domain_hint` is accepted; both are recorded
    /// ([`last_authorize_params`](Self::last_authorize_params)). The
    /// redirect back carries no `iss` parameter. A code must be redeemed at
    /// the token endpoint of the same `{tenant}` path (tenant id and domain
    /// are the same tenant), with the same client, PKCE and client
    /// authentication rules as the generic provider.
    ///
    /// # Who can sign in
    ///
    /// The login typed on the page (or given to [`sign_in`](Self::sign_in))
    /// selects a seeded [`EntraUser`] by UPN, `preferred_username` or
    /// e-mail, preferring the addressed tenant's users. An unknown login
    /// makes up [`EntraUser::new`] in the tenant that verified its domain
    /// (a login without `@` gets the tenant's first verified domain).
    ///
    /// - At a tenant's endpoint only that tenant's users sign in: a user of
    ///   another tenant (seeded, or whose domain another tenant verified) is
    ///   redirected back with `error=access_denied`. An unknown domain
    ///   signs in as a made-up user of the addressed tenant.
    /// - At `organizations`/`common` every tenant's users sign in, and the
    ///   ID token's `tid` and `iss` are the user's tenant. An unknown login
    ///   whose domain no tenant verified is refused on the page (or by
    ///   `sign_in`) unless there is a single tenant.
    ///
    /// # ID tokens (v2.0)
    ///
    /// `ver` `"2.0"`, `iss` `{base}/{tid}/v2.0`, `aud` (the client id), `tid`,
    /// `oid`, `sub` ([pairwise](EntraUser::subject)), `nonce`, `iat`, `nbf`,
    /// `exp` (`iat` + 300 s), `name`, `preferred_username`, `email` (when
    /// set), `xms_edov` (when set), and `groups` (when non-empty) or, for an
    /// [overage](EntraUser::overage), `_claim_names: {"groups": "src1"}` and
    /// `_claim_sources: {"src1": {"endpoint":
    /// "https://graph.microsoft.com/v1.0/users/{oid}/getMemberObjects"}}`.
    /// Never `email_verified`. Signed RS256 with the user's tenant key.
    /// The userinfo endpoint accepts any tenant's access token and returns
    /// few claims: `sub` (as in the ID token), `name`, `given_name`,
    /// `family_name` and `email` (when set).
    ///
    /// Entra-specific faults: [`Fault::IssuerTenantMismatch`],
    /// [`Fault::V1Token`], [`Fault::SignWithOtherTenantKey`]; see [`Fault`]
    /// for how the generic ones apply.
    ///
    /// [`issuer`](Self::issuer) is `base`; the routers serve under its path.
    /// The methods of the generic provider that name one endpoint
    /// ([`discovery_url`](Self::discovery_url), …) name `organizations`'.
    ///
    /// ```
    /// use ssokit::testkit::{DevProvider, EntraUser};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> std::io::Result<()> {
    /// const CONTOSO: &str = "11111111-1111-1111-1111-111111111111";
    /// const FABRIKAM: &str = "22222222-2222-2222-2222-222222222222";
    /// let idp = DevProvider::spawn_local(|base| {
    ///     DevProvider::entra(base)
    ///         .with_client("app", "secret", &["http://127.0.0.1:8080/callback"])
    ///         .with_entra_tenant(CONTOSO, &["contoso.example"])
    ///         .with_entra_tenant(FABRIKAM, &["fabrikam.example"])
    ///         .with_entra_user(EntraUser::new(CONTOSO, "alice@contoso.example"))
    /// })
    /// .await?;
    /// let contoso = idp.provider().entra_endpoints(CONTOSO);
    /// assert_eq!(contoso.issuer, format!("{}{CONTOSO}/v2.0", idp.url()));
    /// let multi = idp.provider().entra_endpoints("organizations");
    /// assert_eq!(multi.issuer, format!("{}{{tenantid}}/v2.0", idp.url()));
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    /// If `base` is not an `http`/`https` URL with a host, or has a query or
    /// fragment.
    pub fn entra(base: Url) -> Self {
        Self::build(
            Flavor::Entra,
            base,
            [
                "/organizations/v2.0/.well-known/openid-configuration",
                "/organizations/oauth2/v2.0/authorize",
                "/organizations/oauth2/v2.0/token",
                "/organizations/discovery/v2.0/keys",
                "/oidc/userinfo",
            ],
        )
    }

    /// Adds a tenant (Entra flavor): its id `tid` (a GUID) and the domains it
    /// has verified. Each tenant signs with its own RSA key under its own
    /// opaque `kid` ([`rotate_tenant_keys`](Self::rotate_tenant_keys)).
    /// With no domain, the tenant gets `{first 8 digits of tid}.onmicrosoft.test`.
    /// Adding a tenant again replaces its domains and keeps its key.
    ///
    /// The first five tenants have distinct key material; later ones reuse
    /// earlier tenants' keys (under their own `kid`s).
    ///
    /// # Panics
    /// For another flavor, if `tid` is not a GUID, or if another tenant has
    /// verified one of the domains.
    #[must_use]
    pub fn with_entra_tenant(self, tid: &str, verified_domains: &[&str]) -> Self {
        self.expect_flavor(Flavor::Entra, "with_entra_tenant");
        assert!(is_guid(tid), "Entra tenant id {tid:?} is not a GUID");
        let tid = tid.to_ascii_lowercase();
        let mut domains: Vec<String> = verified_domains
            .iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if domains.is_empty() {
            domains.push(format!("{}.onmicrosoft.test", &tid[..8]));
        }
        {
            let mut state = self.lock();
            let entra = &mut state.entra;
            for domain in &domains {
                if let Some(owner) = entra.by_domain(domain).filter(|t| t.tid != tid) {
                    panic!(
                        "the domain {domain} is already verified by tenant {}",
                        owner.tid
                    );
                }
            }
            if let Some(tenant) = entra.tenants.iter_mut().find(|t| t.tid == tid) {
                tenant.domains = domains;
            } else {
                let keys = KeySlot::new(entra.tenants.len(), &format!("entra|{tid}"));
                entra.tenants.push(Tenant { tid, domains, keys });
            }
        }
        self
    }

    /// Seeds a user of an Entra tenant (Entra flavor): listed on its
    /// tenant's sign-in page and selected by UPN, `preferred_username` or
    /// e-mail. A user of the same tenant with the same UPN is replaced.
    ///
    /// # Panics
    /// For another flavor, or if the user's tenant was not added with
    /// [`with_entra_tenant`](Self::with_entra_tenant).
    #[must_use]
    pub fn with_entra_user(self, mut user: EntraUser) -> Self {
        self.expect_flavor(Flavor::Entra, "with_entra_user");
        user.tid = user.tid.to_ascii_lowercase();
        {
            let mut state = self.lock();
            assert!(
                state.entra.tenant(&user.tid).is_some(),
                "the tenant {} of Entra user {} is unknown: add it with with_entra_tenant first",
                user.tid,
                user.upn
            );
            state
                .entra
                .users
                .retain(|u| !(u.tid == user.tid && u.upn.eq_ignore_ascii_case(&user.upn)));
            state.entra.users.push(user);
        }
        self
    }

    /// Starts signing tenant `tid`'s tokens with its other key under a new
    /// `kid` (Entra flavor). Its JWKS then publishes only the new key,
    /// unless [`set_publish_previous_key`](Self::set_publish_previous_key) is
    /// on. Other tenants are unaffected.
    ///
    /// # Panics
    /// For another flavor or an unknown tenant.
    pub fn rotate_tenant_keys(&self, tid: &str) {
        self.expect_flavor(Flavor::Entra, "rotate_tenant_keys");
        let mut state = self.lock();
        let tenant = state
            .entra
            .tenants
            .iter_mut()
            .find(|t| t.tid.eq_ignore_ascii_case(tid))
            .unwrap_or_else(|| panic!("unknown Entra tenant {tid}"));
        tenant.keys.rotate();
    }

    /// The `kid` tenant `tid` currently signs with (Entra flavor).
    ///
    /// # Panics
    /// For another flavor or an unknown tenant.
    pub fn entra_signing_kid(&self, tid: &str) -> String {
        self.expect_flavor(Flavor::Entra, "entra_signing_kid");
        let state = self.lock();
        state
            .entra
            .tenant(tid)
            .unwrap_or_else(|| panic!("unknown Entra tenant {tid}"))
            .keys
            .kid()
    }

    /// Signs `claims` as a JWT (RS256, header `{"alg","kid","typ"}`) with
    /// tenant `tid`'s current key (Entra flavor), for tests that craft their
    /// own tokens. No claim is added or checked and faults do not apply.
    ///
    /// # Panics
    /// For another flavor or an unknown tenant.
    pub fn sign_entra_token(&self, tid: &str, claims: &Value) -> String {
        self.expect_flavor(Flavor::Entra, "sign_entra_token");
        let state = self.lock();
        let keys = &state
            .entra
            .tenant(tid)
            .unwrap_or_else(|| panic!("unknown Entra tenant {tid}"))
            .keys;
        jose::sign(claims, &jose::Signer::Rs256(keys.key(), &keys.kid()))
    }

    /// The issuer and endpoints that the discovery document of `tenant`
    /// advertises (Entra flavor), with `discovery` as addressed. `tenant` is
    /// a tenant id, one of its verified domains, `organizations` or
    /// `common`.
    ///
    /// # Panics
    /// For another flavor or an unknown tenant.
    pub fn entra_endpoints(&self, tenant: &str) -> Endpoints {
        self.expect_flavor(Flavor::Entra, "entra_endpoints");
        let authority = self
            .entra_authority(tenant)
            .unwrap_or_else(|| panic!("unknown Entra tenant {tenant}"));
        let base = &self.inner.base;
        let (issuer, segment) = match &authority {
            Authority::EntraTenant(tid) => (issuer(base, tid), tid.clone()),
            other => (
                format!("{base}/{{tenantid}}/v2.0"),
                segment_of(other).to_owned(),
            ),
        };
        let url = |path: String| Url::parse(&path).expect("base + Entra path is a valid URL");
        Endpoints {
            issuer,
            discovery: url(format!(
                "{base}/{tenant}/v2.0/.well-known/openid-configuration"
            )),
            authorization: url(format!("{base}/{segment}/oauth2/v2.0/authorize")),
            token: url(format!("{base}/{segment}/oauth2/v2.0/token")),
            jwks: url(format!("{base}/{segment}/discovery/v2.0/keys")),
            userinfo: url(format!("{base}/oidc/userinfo")),
        }
    }

    /// The authority addressed by the `{tenant}` path segment.
    pub(super) fn entra_authority(&self, segment: &str) -> Option<Authority> {
        if segment.eq_ignore_ascii_case("organizations") {
            Some(Authority::EntraMulti("organizations"))
        } else if segment.eq_ignore_ascii_case("common") {
            Some(Authority::EntraMulti("common"))
        } else {
            self.lock()
                .entra
                .resolve(segment)
                .map(|t| Authority::EntraTenant(t.tid.clone()))
        }
    }
}

/// The path segment of an Entra authority.
fn segment_of(authority: &Authority) -> &str {
    match authority {
        Authority::EntraTenant(tid) => tid,
        Authority::EntraMulti(segment) => segment,
        _ => "organizations",
    }
}

/// The Entra flavor's routes.
pub(super) fn router(provider: &DevProvider) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize_page).post(authorize_submit),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/oidc/userinfo", get(userinfo).post(userinfo))
        .with_state(provider.clone())
}

/// Entra's answer to an unknown tenant (AADSTS90002).
fn invalid_tenant(tenant: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "error": "invalid_tenant",
            "error_description": format!(
                "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the \
                 correct tenant ID and are signing into the correct cloud."
            ),
            "error_codes": [90002],
        }),
    )
}

async fn discovery(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(tenant): Path<String>,
) -> Response {
    provider.count(uri.path(), |c| &mut c.discovery);
    match provider.entra_authority(&tenant) {
        Some(authority) => serve_discovery(&provider, || discovery_json(&provider, &authority)),
        None => invalid_tenant(&tenant),
    }
}

async fn keys(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(tenant): Path<String>,
) -> Response {
    provider.count(uri.path(), |c| &mut c.jwks);
    match provider.entra_authority(&tenant) {
        Some(authority) => serve_jwks(&provider, || jwks_json(&provider, &authority)),
        None => invalid_tenant(&tenant),
    }
}

async fn authorize_page(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    provider.count(uri.path(), |c| &mut c.authorize);
    match provider.entra_authority(&tenant) {
        Some(authority) => serve_authorize_page(&provider, &authority, uri.path(), query),
        None => {
            provider.record_authorize(uri.path(), query.as_deref().unwrap_or_default());
            error_page(&format!(
                "AADSTS90002: Tenant '{tenant}' not found. Add it with with_entra_tenant."
            ))
        }
    }
}

async fn authorize_submit(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    provider.count(uri.path(), |c| &mut c.login);
    match provider.entra_authority(&tenant) {
        Some(authority) => serve_authorize_submit(&provider, &authority, &body),
        None => error_page(&format!("AADSTS90002: Tenant '{tenant}' not found.")),
    }
}

async fn token(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider.count(uri.path(), |c| &mut c.token);
    match provider.entra_authority(&tenant) {
        Some(authority) => serve_token(&provider, &authority, &headers, &body),
        None => invalid_tenant(&tenant),
    }
}

async fn userinfo(State(provider): State<DevProvider>, uri: Uri, headers: HeaderMap) -> Response {
    provider.count(uri.path(), |c| &mut c.userinfo);
    serve_userinfo(&provider, None, &headers)
}

/// The discovery document of an Entra authority.
pub(super) fn discovery_json(provider: &DevProvider, authority: &Authority) -> Value {
    let base = &provider.inner.base;
    let segment = segment_of(authority);
    let issuer = match authority {
        Authority::EntraTenant(tid) => issuer(base, tid),
        _ => format!("{base}/{{tenantid}}/v2.0"),
    };
    json!({
        "token_endpoint": format!("{base}/{segment}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "jwks_uri": format!("{base}/{segment}/discovery/v2.0/keys"),
        "response_modes_supported": ["query"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{segment}/oauth2/v2.0/authorize"),
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "ver", "tid", "oid",
            "name", "preferred_username", "email", "xms_edov", "groups",
        ],
        "tenant_region_scope": null,
        "cloud_instance_name": "dev.microsoftonline.test",
    })
}

/// The JWKS of an Entra authority: a tenant's keys, or every tenant's.
pub(super) fn jwks_json(provider: &DevProvider, authority: &Authority) -> Value {
    let state = provider.lock();
    let base = &provider.inner.base;
    let previous = state.publish_previous_key;
    let keys: Vec<Value> = state
        .entra
        .tenants
        .iter()
        .filter(|t| match authority {
            Authority::EntraTenant(tid) => t.tid == *tid,
            _ => true,
        })
        .flat_map(|t| {
            let tenant_issuer = issuer(base, &t.tid);
            t.keys
                .published(previous)
                .into_iter()
                .map(move |(key, kid)| {
                    let mut jwk = jose::rsa_jwk(key, &kid);
                    if let Some(fields) = jwk.as_object_mut() {
                        fields.remove("alg");
                        fields.insert("issuer".into(), Value::from(tenant_issuer.as_str()));
                    }
                    jwk
                })
        })
        .collect();
    json!({ "keys": keys })
}

/// What signing in as `login` at `authority` leads to.
pub(super) enum Resolution {
    /// This user signs in.
    User(EntraUser),
    /// The user belongs to another tenant: `access_denied`, with this
    /// description.
    Denied(String),
    /// No user can be found: this message is shown on the sign-in page.
    Unknown(String),
}

/// Resolves a login (trimmed, non-empty) at an Entra authority.
pub(super) fn resolve_login(
    state: &ProviderState,
    authority: &Authority,
    login: &str,
) -> Resolution {
    let entra = &state.entra;
    let addressed = match authority {
        Authority::EntraTenant(tid) => Some(tid.as_str()),
        _ => None,
    };
    let denied = |user_tid: &str| {
        Resolution::Denied(format!(
            "AADSTS50020: The user account from tenant {user_tid} does not exist in tenant {} \
             and cannot access the application in that tenant.",
            addressed.unwrap_or_default()
        ))
    };
    let matchers: [fn(&EntraUser, &str) -> bool; 3] = [
        |u, l| u.upn.eq_ignore_ascii_case(l),
        |u, l| u.preferred_username.eq_ignore_ascii_case(l),
        |u, l| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(l))
        },
    ];
    for matcher in matchers {
        let candidates: Vec<&EntraUser> =
            entra.users.iter().filter(|u| matcher(u, login)).collect();
        if let Some(first) = candidates.first() {
            let user = candidates
                .iter()
                .find(|u| Some(u.tid.as_str()) == addressed)
                .unwrap_or(first);
            return match addressed {
                Some(tid) if user.tid != tid => denied(&user.tid),
                _ => Resolution::User((*user).clone()),
            };
        }
    }
    // An unknown login: a made-up user of the tenant that verified its
    // domain, or of the addressed tenant.
    let login = login.to_lowercase();
    let by_domain = login
        .split_once('@')
        .and_then(|(_, domain)| entra.by_domain(domain));
    let tenant = match (addressed, by_domain) {
        (Some(tid), Some(owner)) if owner.tid != tid => return denied(&owner.tid),
        (Some(tid), _) => entra.tenant(tid),
        (None, Some(owner)) => Some(owner),
        (None, None) if entra.tenants.len() == 1 => entra.tenants.first(),
        (None, None) => None,
    };
    let Some(tenant) = tenant else {
        return Resolution::Unknown(format!(
            "No tenant has verified the domain of \"{login}\". Sign in with a seeded user, a \
             verified domain, or at a tenant's own endpoint."
        ));
    };
    let upn = if login.contains('@') {
        login
    } else {
        format!("{login}@{}", tenant.domains[0])
    };
    Resolution::User(EntraUser::new(&tenant.tid, &upn))
}

/// The users offered on an Entra sign-in page and the page's label.
pub(super) fn page_users(
    state: &ProviderState,
    authority: &Authority,
) -> (Vec<PageUser>, Option<String>) {
    let (tid, label) = match authority {
        Authority::EntraTenant(tid) => {
            let domains = state
                .entra
                .tenant(tid)
                .map(|t| t.domains.join(", "))
                .unwrap_or_default();
            (Some(tid), format!("Entra tenant {tid} ({domains})"))
        }
        other => (None, format!("Entra {}", segment_of(other))),
    };
    let users = state
        .entra
        .users
        .iter()
        .filter(|u| tid.is_none_or(|t| u.tid == *t))
        .map(|u| {
            let mut detail = format!("{} \u{00b7} tenant {}", u.upn, u.tid);
            if u.overage {
                detail.push_str(" \u{00b7} group overage");
            } else if !u.groups.is_empty() {
                detail.push_str(&format!(" \u{00b7} {} groups", u.groups.len()));
            }
            PageUser {
                value: u.upn.clone(),
                name: u.name.clone(),
                detail,
            }
        })
        .collect();
    (users, Some(label))
}

/// The Entra flavor's ID token for `user`.
pub(super) fn id_token(
    provider: &DevProvider,
    state: &ProviderState,
    grant: &CodeGrant,
    user: &EntraUser,
    client_id: &str,
    now: i64,
) -> String {
    let faults = state.faults;
    let base = &provider.inner.base;
    let tid = user.tid.as_str();
    let (iat, exp) = token_times(faults, now);
    let v1 = faults.contains(Fault::V1Token);
    let mut iss = if v1 {
        format!("https://sts.windows.net/{tid}/")
    } else if faults.contains(Fault::IssuerTenantMismatch) {
        let other = state
            .entra
            .other_tenant(tid)
            .map_or(MISMATCH_TID, |t| t.tid.as_str());
        issuer(base, other)
    } else {
        issuer(base, tid)
    };
    if faults.contains(Fault::WrongIssuer) {
        iss = format!("{}/wrong-issuer", iss.trim_end_matches('/'));
    }
    let mut claims = json!({
        "aud": token_audience(faults, client_id),
        "iss": iss,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "nonce": token_nonce(faults, &grant.nonce),
        "oid": user.oid,
        "sub": user.subject(client_id),
        "tid": tid,
        "ver": if v1 { "1.0" } else { "2.0" },
    });
    if !faults.contains(Fault::ThinIdToken) {
        claims["name"] = Value::from(user.name.as_str());
        if v1 {
            claims["upn"] = Value::from(user.upn.as_str());
            claims["unique_name"] = Value::from(user.upn.as_str());
        } else {
            claims["preferred_username"] = Value::from(user.preferred_username.as_str());
        }
        merge_email(&mut claims, user, faults);
        if user.overage {
            claims["_claim_names"] = json!({ "groups": "src1" });
            claims["_claim_sources"] = json!({
                "src1": {
                    "endpoint": format!(
                        "https://graph.microsoft.com/v1.0/users/{}/getMemberObjects",
                        user.oid
                    ),
                },
            });
        } else if !user.groups.is_empty() {
            claims["groups"] = Value::from(user.groups.clone());
        }
    }

    let own = state.entra.tenant(tid).map(|t| &t.keys);
    let signing = if faults.contains(Fault::SignWithOtherTenantKey) {
        state.entra.other_tenant(tid).map(|t| &t.keys)
    } else {
        own
    };
    match signing {
        Some(keys) => sign_with_faults(&claims, faults, keys.key(), &keys.kid()),
        // No other tenant (or, impossibly, no own tenant): a key that no
        // JWKS publishes.
        None => sign_with_faults(
            &claims,
            faults,
            &jose::keys().unpublished,
            &jose::derived_kid("entra|no-such-tenant", 1),
        ),
    }
}

/// Adds `email` and `xms_edov` when the user has them
/// ([`Fault::NoEmailVerified`] forces `xms_edov: false`).
fn merge_email(claims: &mut Value, user: &EntraUser, faults: Faults) {
    if let Some(email) = &user.email {
        claims["email"] = Value::from(email.as_str());
        if faults.contains(Fault::NoEmailVerified) {
            claims["xms_edov"] = Value::from(false);
            return;
        }
    }
    if let Some(edov) = user.xms_edov {
        claims["xms_edov"] = Value::from(edov);
    }
}

/// The Entra userinfo response: few claims.
pub(super) fn userinfo_claims(user: &EntraUser, client_id: &str) -> Value {
    let (given, family) = user
        .name
        .split_once(' ')
        .unwrap_or((user.name.as_str(), ""));
    let mut claims = json!({
        "sub": user.subject(client_id),
        "name": user.name,
        "given_name": given,
        "family_name": family,
    });
    if let Some(email) = &user.email {
        claims["email"] = Value::from(email.as_str());
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids() {
        assert!(is_guid("11111111-1111-1111-1111-111111111111"));
        assert!(is_guid("ABCDEF01-2345-6789-abcd-ef0123456789"));
        assert!(!is_guid("11111111-1111-1111-1111-11111111111"));
        assert!(!is_guid("11111111111111111111111111111111111x"));
        assert!(!is_guid("contoso.example"));
        let g = derived_guid("x");
        assert!(is_guid(&g), "{g}");
        assert_eq!(g, derived_guid("x"));
        assert_ne!(g, derived_guid("y"));
    }

    #[test]
    fn users_are_derived_and_pairwise() {
        let u = EntraUser::new(
            "11111111-1111-1111-1111-11111111111A",
            "Jane.Doe@Contoso.example",
        );
        assert_eq!(u.tid, "11111111-1111-1111-1111-11111111111a");
        assert!(is_guid(&u.oid));
        assert_eq!(u.name, "Jane Doe");
        assert_eq!(u.email.as_deref(), Some("Jane.Doe@Contoso.example"));
        assert_eq!(u.preferred_username, u.upn);
        assert_eq!(u.xms_edov, None);
        let sub = u.subject("a");
        assert_eq!(sub.len(), 43);
        assert_ne!(sub, u.subject("b"));
        let fixed = EntraUser {
            sub: Some("fixed".into()),
            ..u.clone()
        };
        assert_eq!(fixed.subject("a"), "fixed");
        let other_tenant = EntraUser::new("22222222-2222-2222-2222-222222222222", &u.upn);
        assert_ne!(other_tenant.oid, u.oid, "oid is per tenant");
        let u = u.with_email(None, Some(true)).with_overage(true);
        assert_eq!((u.email, u.xms_edov, u.overage), (None, Some(true), true));
    }

    #[test]
    #[should_panic(expected = "is not a GUID")]
    fn tenant_ids_must_be_guids() {
        let _ = DevProvider::entra(Url::parse("http://127.0.0.1:1/").unwrap())
            .with_entra_tenant("contoso", &[]);
    }

    #[test]
    #[should_panic(expected = "already verified by tenant")]
    fn a_domain_has_one_owner() {
        let _ = DevProvider::entra(Url::parse("http://127.0.0.1:1/").unwrap())
            .with_entra_tenant("11111111-1111-1111-1111-111111111111", &["a.example"])
            .with_entra_tenant("22222222-2222-2222-2222-222222222222", &["A.example"]);
    }

    #[test]
    #[should_panic(expected = "only for the Entra flavor")]
    fn entra_methods_need_the_entra_flavor() {
        let _ = DevProvider::new(Url::parse("http://127.0.0.1:1/").unwrap())
            .with_entra_tenant("11111111-1111-1111-1111-111111111111", &[]);
    }
}
