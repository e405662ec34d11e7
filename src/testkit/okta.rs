//! The Okta-like flavor of the development provider: an Okta org's
//! authorization server, plus optional custom authorization servers.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use url::Url;

use super::endpoints::{
    error_page, json_response, serve_authorize_page, serve_authorize_submit, serve_discovery,
    serve_jwks, serve_token, serve_userinfo,
};
use super::jose::{self, KeySlot};
use super::provider::{
    Authority, CodeGrant, DevProvider, DevUser, Endpoints, Fault, Flavor, State as ProviderState,
    sign_with_faults, token_audience, token_nonce, token_times,
};
use crate::secret::random_token;

/// The `idp` claim of users who signed in with Okta itself: the org's
/// identity provider id.
const ORG_IDP: &str = "00odev0rg0000000idp7";

/// The Okta flavor's authorization servers and app settings.
pub(super) struct OktaState {
    /// The org authorization server's key.
    pub(super) org_keys: KeySlot,
    servers: Vec<Server>,
    groups_filter: Option<String>,
    thin: bool,
}

impl Default for OktaState {
    fn default() -> Self {
        Self {
            org_keys: KeySlot::new(0, "okta|org"),
            servers: Vec::new(),
            groups_filter: None,
            thin: false,
        }
    }
}

/// A custom authorization server.
struct Server {
    id: String,
    keys: KeySlot,
}

impl OktaState {
    fn server(&self, id: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.id == id)
    }

    /// The key slot of an authorization server (`None`: the org's).
    fn keys(&self, server: Option<&str>) -> Option<&KeySlot> {
        match server {
            None => Some(&self.org_keys),
            Some(id) => self.server(id).map(|s| &s.keys),
        }
    }

    /// The groups the groups claim carries: `None` without a filter, or
    /// when no group passes it.
    fn groups_claim(&self, user: &DevUser) -> Option<Vec<String>> {
        let prefix = self.groups_filter.as_deref()?;
        let groups: Vec<String> = user
            .groups
            .iter()
            .filter(|g| g.starts_with(prefix))
            .cloned()
            .collect();
        (!groups.is_empty()).then_some(groups)
    }
}

impl DevUser {
    /// A user as the Okta flavor makes it up for `login`: like
    /// [`DevUser::new`], but `sub` is an Okta user id: `00u` and 17
    /// alphanumerics derived from `login` (stable across runs).
    ///
    /// ```
    /// use ssokit::testkit::DevUser;
    ///
    /// let alice = DevUser::okta("alice@acme.example");
    /// assert!(alice.sub.starts_with("00u") && alice.sub.len() == 20);
    /// assert_eq!(alice.email, "alice@acme.example");
    /// ```
    pub fn okta(login: &str) -> Self {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let digest = ring::digest::digest(
            &ring::digest::SHA256,
            format!("ssokit-dev-okta-user|{login}").as_bytes(),
        );
        let id: String = digest.as_ref()[..17]
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        Self {
            sub: format!("00u{id}"),
            ..DevUser::new(login)
        }
    }
}

impl DevProvider {
    /// An Okta-like provider for the org at `org_url` (say
    /// `http://127.0.0.1:PORT`): the org authorization server, whose issuer
    /// is the org URL **without a trailing slash**, plus the custom
    /// authorization servers added with
    /// [`with_authorization_server`](Self::with_authorization_server).
    ///
    /// With `{org}` = `org_url` without a trailing slash and `{as}` = `{org}`
    /// (org authorization server) or `{org}/oauth2/{id}` (custom):
    ///
    /// | Endpoint | Org authorization server | Custom authorization server |
    /// |---|---|---|
    /// | Issuer | `{org}` | `{org}/oauth2/{id}` |
    /// | Discovery | `{org}/.well-known/openid-configuration` | `{org}/oauth2/{id}/.well-known/openid-configuration` |
    /// | Authorization | `{org}/oauth2/v1/authorize` | `{org}/oauth2/{id}/v1/authorize` |
    /// | Token | `{org}/oauth2/v1/token` | `{org}/oauth2/{id}/v1/token` |
    /// | JWKS | `{org}/oauth2/v1/keys` | `{org}/oauth2/{id}/v1/keys` |
    /// | Userinfo | `{org}/oauth2/v1/userinfo` | `{org}/oauth2/{id}/v1/userinfo` |
    ///
    /// Each authorization server signs with its own RSA key (`alg` `RS256`
    /// in its JWKS, opaque `kid`s). An unknown `{id}` gets a `404` with an
    /// Okta error (`E0000007`). Codes and access tokens are only accepted by
    /// the authorization server that issued them. See
    /// [`okta_endpoints`](Self::okta_endpoints).
    ///
    /// Authorization requests follow the generic provider's rules
    /// ([module docs](super)); `login_hint` prefills the sign-in page and
    /// `idp` (an Okta extension naming an external identity provider) is
    /// accepted and becomes the ID token's `idp` claim; both are recorded
    /// ([`last_authorize_params`](Self::last_authorize_params)). The
    /// redirect back carries no `iss` parameter.
    ///
    /// Users are [`DevUser`]s ([`with_user`](Self::with_user)); an unknown
    /// login makes up [`DevUser::okta`], whose `sub` is an Okta user id
    /// (`00u…`). ID tokens carry `sub`, `ver` (1), `iss`, `aud`, `iat`,
    /// `exp` (`iat` + 300 s), `jti`, `amr`, `idp`, `nonce`, `auth_time` and,
    /// unless [thin](Self::set_thin_id_tokens), `name`, `email`,
    /// `email_verified`, `preferred_username` (the login) and `groups` —
    /// only when a [groups claim filter](Self::set_groups_claim_filter) is
    /// configured and some group passes it. The userinfo endpoint returns
    /// the profile (`sub`, `name`, `given_name`, `family_name`,
    /// `preferred_username`, `email`, `email_verified`, filtered `groups`).
    ///
    /// [`issuer`](Self::issuer) is `org_url` (as a [`Url`], with a trailing
    /// slash); the routers serve under its path. The methods of the generic
    /// provider that name one endpoint ([`discovery_url`](Self::discovery_url),
    /// …) name the org authorization server's.
    ///
    /// ```
    /// use ssokit::testkit::{DevProvider, DevUser};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> std::io::Result<()> {
    /// let idp = DevProvider::spawn_local(|base| {
    ///     DevProvider::okta(base)
    ///         .with_client("0oa-app", "secret", &["http://127.0.0.1:8080/callback"])
    ///         .with_authorization_server("aus123")
    ///         .with_groups_claim_filter("")
    ///         .with_user(DevUser::okta("alice@acme.example").with_groups(["Everyone"]))
    /// })
    /// .await?;
    /// let org = idp.provider().okta_endpoints(None);
    /// let origin = idp.url().as_str().trim_end_matches('/').to_owned();
    /// assert_eq!(org.issuer, origin);
    /// let custom = idp.provider().okta_endpoints(Some("aus123"));
    /// assert_eq!(custom.issuer, format!("{origin}/oauth2/aus123"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    /// If `org_url` is not an `http`/`https` URL with a host, or has a query
    /// or fragment.
    pub fn okta(org_url: Url) -> Self {
        Self::build(
            Flavor::Okta,
            org_url,
            [
                "/.well-known/openid-configuration",
                "/oauth2/v1/authorize",
                "/oauth2/v1/token",
                "/oauth2/v1/keys",
                "/oauth2/v1/userinfo",
            ],
        )
    }

    /// Adds a custom authorization server `id` (Okta flavor), such as
    /// `aus123` or `default`, with its own signing key. Adding it again has
    /// no effect.
    ///
    /// # Panics
    /// For another flavor, or if `id` is not 1 to 64 ASCII letters and
    /// digits, or is `v1`.
    #[must_use]
    pub fn with_authorization_server(self, id: &str) -> Self {
        self.expect_flavor(Flavor::Okta, "with_authorization_server");
        assert!(
            (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "Okta authorization server id {id:?} must be 1 to 64 ASCII letters and digits"
        );
        assert!(
            id != "v1",
            "\"v1\" cannot name an Okta authorization server"
        );
        {
            let mut state = self.lock();
            let okta = &mut state.okta;
            if okta.server(id).is_none() {
                let keys = KeySlot::new(okta.servers.len() + 1, &format!("okta|{id}"));
                okta.servers.push(Server {
                    id: id.to_owned(),
                    keys,
                });
            }
        }
        self
    }

    /// Builder form of [`set_groups_claim_filter`](Self::set_groups_claim_filter)
    /// with a filter.
    #[must_use]
    pub fn with_groups_claim_filter(self, prefix: &str) -> Self {
        self.set_groups_claim_filter(Some(prefix));
        self
    }

    /// The app's groups claim filter (Okta flavor): with `Some(prefix)`, ID
    /// tokens and userinfo carry a `groups` claim with the user's groups
    /// that start with `prefix` (case-sensitive; `""` passes every group,
    /// like Okta's `.*` regex), omitted when none passes. With `None` (the
    /// default) there is no groups claim at all.
    ///
    /// # Panics
    /// For another flavor.
    pub fn set_groups_claim_filter(&self, prefix: Option<&str>) {
        self.expect_flavor(Flavor::Okta, "set_groups_claim_filter");
        self.lock().okta.groups_filter = prefix.map(str::to_owned);
    }

    /// Whether ID tokens are thin (Okta flavor), as Okta's are when the
    /// authorization code flow also issues an access token: only `sub`,
    /// `ver`, `iss`, `aud`, `iat`, `exp`, `jti`, `amr`, `idp`, `nonce` and
    /// `auth_time`; the profile and groups come from userinfo. Off by
    /// default.
    ///
    /// # Panics
    /// For another flavor.
    pub fn set_thin_id_tokens(&self, thin: bool) {
        self.expect_flavor(Flavor::Okta, "set_thin_id_tokens");
        self.lock().okta.thin = thin;
    }

    /// Starts signing authorization server `id`'s tokens with its other key
    /// under a new `kid` (Okta flavor; the org authorization server:
    /// [`rotate_keys`](Self::rotate_keys)).
    ///
    /// # Panics
    /// For another flavor or an unknown authorization server.
    pub fn rotate_authorization_server_keys(&self, id: &str) {
        self.expect_flavor(Flavor::Okta, "rotate_authorization_server_keys");
        let mut state = self.lock();
        let server = state
            .okta
            .servers
            .iter_mut()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("unknown Okta authorization server {id}"));
        server.keys.rotate();
    }

    /// The `kid` an authorization server currently signs with (Okta
    /// flavor; `None`: the org authorization server).
    ///
    /// # Panics
    /// For another flavor or an unknown authorization server.
    pub fn okta_signing_kid(&self, server: Option<&str>) -> String {
        self.expect_flavor(Flavor::Okta, "okta_signing_kid");
        let state = self.lock();
        state
            .okta
            .keys(server)
            .unwrap_or_else(|| panic!("unknown Okta authorization server {server:?}"))
            .kid()
    }

    /// Signs `claims` as a JWT (RS256) with an authorization server's
    /// current key (Okta flavor; `None`: the org authorization server), for
    /// tests that craft their own tokens. No claim is added or checked and
    /// faults do not apply.
    ///
    /// # Panics
    /// For another flavor or an unknown authorization server.
    pub fn sign_okta_token(&self, server: Option<&str>, claims: &Value) -> String {
        self.expect_flavor(Flavor::Okta, "sign_okta_token");
        let state = self.lock();
        let keys = state
            .okta
            .keys(server)
            .unwrap_or_else(|| panic!("unknown Okta authorization server {server:?}"));
        jose::sign(claims, &jose::Signer::Rs256(keys.key(), &keys.kid()))
    }

    /// The issuer and endpoints of an authorization server (Okta flavor;
    /// `None`: the org authorization server, whose issuer is the org URL
    /// without a trailing slash).
    ///
    /// # Panics
    /// For another flavor or an unknown authorization server.
    pub fn okta_endpoints(&self, server: Option<&str>) -> Endpoints {
        self.expect_flavor(Flavor::Okta, "okta_endpoints");
        if let Some(id) = server {
            assert!(
                self.lock().okta.server(id).is_some(),
                "unknown Okta authorization server {id}"
            );
        }
        let issuer = okta_issuer(self, server);
        let api = match server {
            None => format!("{issuer}/oauth2/v1"),
            Some(_) => format!("{issuer}/v1"),
        };
        let url = |path: String| Url::parse(&path).expect("org URL + Okta path is a valid URL");
        Endpoints {
            discovery: url(format!("{issuer}/.well-known/openid-configuration")),
            authorization: url(format!("{api}/authorize")),
            token: url(format!("{api}/token")),
            jwks: url(format!("{api}/keys")),
            userinfo: url(format!("{api}/userinfo")),
            issuer,
        }
    }
}

/// The issuer of an authorization server.
fn okta_issuer(provider: &DevProvider, server: Option<&str>) -> String {
    let base = &provider.inner.base;
    match server {
        None => base.clone(),
        Some(id) => format!("{base}/oauth2/{id}"),
    }
}

/// The authority whose endpoint `path` (relative to the org URL) is, for an
/// endpoint whose path ends with `suffix` (such as `/v1/authorize`).
pub(super) fn authority_of_path(
    state: &ProviderState,
    path: &str,
    suffix: &str,
) -> Option<Authority> {
    let server = path.strip_prefix("/oauth2")?.strip_suffix(suffix)?;
    if server.is_empty() {
        Some(Authority::Okta(None))
    } else {
        state
            .okta
            .server(server.strip_prefix('/')?)
            .map(|s| Authority::Okta(Some(s.id.clone())))
    }
}

/// The Okta flavor's routes.
pub(super) fn router(provider: &DevProvider) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(org_discovery))
        .route(
            "/oauth2/v1/authorize",
            get(org_authorize_page).post(org_authorize_submit),
        )
        .route("/oauth2/v1/token", post(org_token))
        .route("/oauth2/v1/keys", get(org_keys))
        .route("/oauth2/v1/userinfo", get(org_userinfo).post(org_userinfo))
        .route(
            "/oauth2/{server}/.well-known/openid-configuration",
            get(discovery),
        )
        .route(
            "/oauth2/{server}/v1/authorize",
            get(authorize_page).post(authorize_submit),
        )
        .route("/oauth2/{server}/v1/token", post(token))
        .route("/oauth2/{server}/v1/keys", get(keys))
        .route("/oauth2/{server}/v1/userinfo", get(userinfo).post(userinfo))
        .with_state(provider.clone())
}

/// Okta's answer for an unknown authorization server.
fn not_found(server: &str) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({
            "errorCode": "E0000007",
            "errorSummary": format!("Not found: Resource not found: {server} (AuthorizationServer)"),
            "errorLink": "E0000007",
            "errorId": "oaedevprovider000000000",
            "errorCauses": [],
        }),
    )
}

/// The custom authorization server `server`, if registered.
fn custom(provider: &DevProvider, server: &str) -> Option<Authority> {
    provider
        .lock()
        .okta
        .server(server)
        .map(|s| Authority::Okta(Some(s.id.clone())))
}

async fn org_discovery(State(provider): State<DevProvider>, uri: Uri) -> Response {
    provider.count(uri.path(), |c| &mut c.discovery);
    serve_discovery(&provider, || discovery_json(&provider, None))
}

async fn discovery(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(server): Path<String>,
) -> Response {
    provider.count(uri.path(), |c| &mut c.discovery);
    if custom(&provider, &server).is_none() {
        return not_found(&server);
    }
    serve_discovery(&provider, || discovery_json(&provider, Some(&server)))
}

async fn org_keys(State(provider): State<DevProvider>, uri: Uri) -> Response {
    provider.count(uri.path(), |c| &mut c.jwks);
    serve_jwks(&provider, || jwks_json(&provider.lock(), None))
}

async fn keys(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(server): Path<String>,
) -> Response {
    provider.count(uri.path(), |c| &mut c.jwks);
    if custom(&provider, &server).is_none() {
        return not_found(&server);
    }
    serve_jwks(&provider, || jwks_json(&provider.lock(), Some(&server)))
}

async fn org_authorize_page(
    State(provider): State<DevProvider>,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    provider.count(uri.path(), |c| &mut c.authorize);
    serve_authorize_page(&provider, &Authority::Okta(None), uri.path(), query)
}

async fn authorize_page(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(server): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    provider.count(uri.path(), |c| &mut c.authorize);
    match custom(&provider, &server) {
        Some(authority) => serve_authorize_page(&provider, &authority, uri.path(), query),
        None => {
            provider.record_authorize(uri.path(), query.as_deref().unwrap_or_default());
            error_page(&format!(
                "Not found: the authorization server {server} does not exist. \
                 Add it with with_authorization_server."
            ))
        }
    }
}

async fn org_authorize_submit(
    State(provider): State<DevProvider>,
    uri: Uri,
    body: Bytes,
) -> Response {
    provider.count(uri.path(), |c| &mut c.login);
    serve_authorize_submit(&provider, &Authority::Okta(None), &body)
}

async fn authorize_submit(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(server): Path<String>,
    body: Bytes,
) -> Response {
    provider.count(uri.path(), |c| &mut c.login);
    match custom(&provider, &server) {
        Some(authority) => serve_authorize_submit(&provider, &authority, &body),
        None => error_page(&format!(
            "Not found: the authorization server {server} does not exist."
        )),
    }
}

async fn org_token(
    State(provider): State<DevProvider>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider.count(uri.path(), |c| &mut c.token);
    serve_token(&provider, &Authority::Okta(None), &headers, &body)
}

async fn token(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(server): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    provider.count(uri.path(), |c| &mut c.token);
    match custom(&provider, &server) {
        Some(authority) => serve_token(&provider, &authority, &headers, &body),
        None => not_found(&server),
    }
}

async fn org_userinfo(
    State(provider): State<DevProvider>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    provider.count(uri.path(), |c| &mut c.userinfo);
    serve_userinfo(&provider, Some(&Authority::Okta(None)), &headers)
}

async fn userinfo(
    State(provider): State<DevProvider>,
    uri: Uri,
    Path(server): Path<String>,
    headers: HeaderMap,
) -> Response {
    provider.count(uri.path(), |c| &mut c.userinfo);
    match custom(&provider, &server) {
        Some(authority) => serve_userinfo(&provider, Some(&authority), &headers),
        None => not_found(&server),
    }
}

/// The discovery document of an authorization server (`None`: the org's).
pub(super) fn discovery_json(provider: &DevProvider, server: Option<&str>) -> Value {
    let e = provider.okta_endpoints(server);
    json!({
        "issuer": e.issuer,
        "authorization_endpoint": e.authorization.as_str(),
        "token_endpoint": e.token.as_str(),
        "userinfo_endpoint": e.userinfo.as_str(),
        "jwks_uri": e.jwks.as_str(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "claims_supported": [
            "iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp",
            "nonce", "name", "given_name", "family_name", "preferred_username", "email",
            "email_verified", "groups",
        ],
        "code_challenge_methods_supported": ["S256"],
    })
}

/// The JWKS of an authorization server (`None`: the org's).
pub(super) fn jwks_json(state: &ProviderState, server: Option<&str>) -> Value {
    let keys: Vec<Value> = state
        .okta
        .keys(server)
        .map(|slot| {
            slot.published(state.publish_previous_key)
                .into_iter()
                .map(|(key, kid)| jose::rsa_jwk(key, &kid))
                .collect()
        })
        .unwrap_or_default();
    json!({ "keys": keys })
}

/// The Okta flavor's ID token for `user`.
pub(super) fn id_token(
    provider: &DevProvider,
    state: &ProviderState,
    grant: &CodeGrant,
    user: &DevUser,
    client_id: &str,
    now: i64,
) -> String {
    let faults = state.faults;
    let server = match &grant.authority {
        Authority::Okta(server) => server.clone(),
        _ => None,
    };
    let (iat, exp) = token_times(faults, now);
    let mut iss = okta_issuer(provider, server.as_deref());
    if faults.contains(Fault::WrongIssuer) {
        iss.push_str("/wrong-issuer");
    }
    let mut claims = json!({
        "sub": user.sub,
        "ver": 1,
        "iss": iss,
        "aud": token_audience(faults, client_id),
        "iat": iat,
        "exp": exp,
        "jti": format!("ID.{}", random_token(24)),
        "amr": ["pwd"],
        "idp": grant.idp.as_deref().unwrap_or(ORG_IDP),
        "nonce": token_nonce(faults, &grant.nonce),
        "auth_time": grant.auth_time,
    });
    if !(state.okta.thin || faults.contains(Fault::ThinIdToken)) {
        claims["name"] = Value::from(user.name.as_str());
        claims["email"] = Value::from(user.email.as_str());
        claims["email_verified"] =
            Value::from(user.email_verified && !faults.contains(Fault::NoEmailVerified));
        claims["preferred_username"] = Value::from(user.login.as_str());
        if let Some(groups) = state.okta.groups_claim(user) {
            claims["groups"] = Value::from(groups);
        }
    }
    let slot = state
        .okta
        .keys(server.as_deref())
        .unwrap_or(&state.okta.org_keys);
    sign_with_faults(&claims, faults, slot.key(), &slot.kid())
}

/// The Okta userinfo response: the profile.
pub(super) fn userinfo_claims(state: &ProviderState, user: &DevUser) -> Value {
    let (given, family) = user
        .name
        .split_once(' ')
        .unwrap_or((user.name.as_str(), ""));
    let mut claims = json!({
        "sub": user.sub,
        "name": user.name,
        "given_name": given,
        "family_name": family,
        "preferred_username": user.login,
        "email": user.email,
        "email_verified": user.email_verified && !state.faults.contains(Fault::NoEmailVerified),
    });
    if let Some(groups) = state.okta.groups_claim(user) {
        claims["groups"] = Value::from(groups);
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_user_ids() {
        let a = DevUser::okta("alice");
        assert_eq!(a.sub.len(), 20);
        assert!(a.sub.starts_with("00u"));
        assert!(a.sub.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(a.sub, DevUser::okta("alice").sub);
        assert_ne!(a.sub, DevUser::okta("bob").sub);
        assert_eq!(a.email, "alice@example.test");
    }

    #[test]
    fn paths_resolve_to_authorization_servers() {
        let p = DevProvider::okta(Url::parse("http://127.0.0.1:1").unwrap())
            .with_authorization_server("aus1");
        let state = p.lock();
        let at = |path| authority_of_path(&state, path, "/v1/authorize");
        assert_eq!(at("/oauth2/v1/authorize"), Some(Authority::Okta(None)));
        assert_eq!(
            at("/oauth2/aus1/v1/authorize"),
            Some(Authority::Okta(Some("aus1".into())))
        );
        assert_eq!(at("/oauth2/aus2/v1/authorize"), None);
        assert_eq!(at("/oauth2/v1/token"), None);
        assert_eq!(at("/authorize"), None);
    }

    #[test]
    #[should_panic(expected = "ASCII letters and digits")]
    fn server_ids_are_checked() {
        let _ = DevProvider::okta(Url::parse("http://127.0.0.1:1").unwrap())
            .with_authorization_server("a/b");
    }

    #[test]
    fn groups_filter_is_a_prefix() {
        let mut state = OktaState::default();
        let user = DevUser::okta("a").with_groups(["app-admins", "Everyone", "app-users"]);
        assert_eq!(state.groups_claim(&user), None);
        state.groups_filter = Some("app-".into());
        assert_eq!(
            state.groups_claim(&user),
            Some(vec!["app-admins".into(), "app-users".into()])
        );
        state.groups_filter = Some(String::new());
        assert_eq!(state.groups_claim(&user).map(|g| g.len()), Some(3));
        state.groups_filter = Some("none-".into());
        assert_eq!(state.groups_claim(&user), None);
    }
}
