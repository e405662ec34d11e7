//! OpenID Connect: the adapter for any standards-compliant provider.
//!
//! - Discovery (`/.well-known/openid-configuration`) parsed with
//!   [`openidconnect`]'s metadata types; the document's `issuer` must equal
//!   the configured issuer exactly.
//! - Authorization code flow with PKCE (S256), `state` and `nonce`, always.
//! - ID tokens validated by [`jwt`]: ring-backed signatures, the algorithm
//!   taken from the key, exact issuer, audience, `azp`, time claims with
//!   bounded leeway, nonce.
//! - Keys cached per JWKS URL ([`keys`]): refreshed on an unknown `kid` at
//!   most once per [`KeyCachePolicy::min_refresh_interval`], refetched after
//!   [`KeyCachePolicy::max_age`], and the last good keys kept while the
//!   provider is down.

pub mod assertion;
pub mod jwt;
pub mod keys;

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthUrl, ClientId, CsrfToken, IssuerUrl, JsonWebKeySet, LoginHint, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope,
};
use serde::Deserialize;
use url::Url;

pub use keys::KeyCachePolicy;

use crate::clock::{Clock, unix_seconds};
use crate::connection::{Connection, EntraTenants, Flavor, OidcSettings, Protocol, is_guid};
use crate::error::{Error, ErrorKind, IdpError};
use crate::http::{HttpClient, HttpRequest, HttpResponse};
use crate::protocol::{CallbackParams, IdpAdapter, ProtocolState, StartRequest, Started};
use crate::secret::random_token;
use crate::store::FlowStore;
use crate::types::{IdentityKey, Profile, VerifiedIdentity};
use jwt::{IdTokenCheck, IdTokenClaims, TokenError};
use keys::{Cached, KeyCache};

/// Endpoints of a provider, from its discovery document.
#[derive(Debug, Clone)]
pub struct ProviderEndpoints {
    /// The issuer the document names (for Entra `organizations`, the
    /// `{tenantid}` template).
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization: Url,
    /// `token_endpoint`.
    pub token: Url,
    /// `userinfo_endpoint`, if any.
    pub userinfo: Option<Url>,
    /// `jwks_uri`.
    pub jwks_uri: Url,
}

/// The OpenID Connect [`IdpAdapter`]. One instance serves every OIDC
/// connection; its discovery and key caches are shared.
pub struct OidcAdapter {
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    metadata: Cached<ProviderEndpoints>,
    keys: KeyCache,
    shared: Option<Arc<dyn FlowStore>>,
}

impl std::fmt::Debug for OidcAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcAdapter").finish_non_exhaustive()
    }
}

fn settings(conn: &Connection) -> Result<&OidcSettings, Error> {
    match &conn.protocol {
        Protocol::Oidc(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(Error::new(ErrorKind::Config(format!(
            "connection {} is not an OIDC connection",
            conn.id
        )))),
    }
}

fn endpoint(what: &str, raw: Option<&str>) -> Result<Url, Error> {
    let raw =
        raw.ok_or_else(|| IdpError::Discovery(format!("the discovery document has no {what}")))?;
    let url = Url::parse(raw).map_err(|_| IdpError::Discovery(format!("{what} is not a URL")))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
        return Err(IdpError::Discovery(format!("{what} must use https")).into());
    }
    Ok(url)
}

async fn fetch(http: &dyn HttpClient, request: HttpRequest) -> Result<HttpResponse, IdpError> {
    http.send(request)
        .await
        .map_err(|e| IdpError::Http(e.to_string()))
}

fn get(url: &Url) -> HttpRequest {
    let mut req = http::Request::new(Vec::new());
    *req.uri_mut() = url.as_str().parse().unwrap_or_default();
    req.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    req
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    access_token: Option<String>,
    token_type: Option<String>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

fn safe_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

impl OidcAdapter {
    /// An adapter with the default key-cache policy.
    pub fn new(http: Arc<dyn HttpClient>, clock: Arc<dyn Clock>) -> Self {
        Self::with_policy(http, clock, KeyCachePolicy::default())
    }

    /// An adapter with a custom key-cache policy.
    pub fn with_policy(
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        policy: KeyCachePolicy,
    ) -> Self {
        Self {
            http,
            clock,
            metadata: Cached::new(policy),
            keys: KeyCache::new(policy),
            shared: None,
        }
    }

    /// The provider's endpoints (cached discovery).
    pub async fn endpoints(&self, s: &OidcSettings) -> Result<Arc<ProviderEndpoints>, Error> {
        let now = self.clock.now();
        let http = self.http.clone();
        // Keyed by what the check depends on: the document and the expected issuer.
        let key = format!("{} {}", s.discovery_url, s.issuer);
        let not_before = self.invalidated_at(s).await;
        self.metadata
            .get(&key, now, false, not_before, move || async move {
                discover(http.as_ref(), s).await
            })
            .await
    }

    /// Shares cache invalidations through a store every instance sees (the
    /// flow store): see [`OidcAdapter::invalidate`].
    pub fn with_shared_store(mut self, store: Arc<dyn FlowStore>) -> Self {
        self.shared = Some(store);
        self
    }

    fn epoch_key(s: &OidcSettings) -> String {
        format!(
            "ssokit:_:oidc-epoch:{}",
            crate::secret::sha256_hex(s.issuer.as_bytes())
        )
    }

    /// Drops the provider's cached discovery document and keys on every
    /// instance sharing the store: values fetched before now are refetched
    /// on next use, and never used again (e.g. after an IdP key compromise).
    pub async fn invalidate(&self, s: &OidcSettings) -> Result<(), Error> {
        let Some(store) = &self.shared else {
            return Ok(());
        };
        let nanos = self
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        // Kept longer than any cached value lives.
        store
            .put(
                &Self::epoch_key(s),
                nanos.to_string().into_bytes(),
                std::time::Duration::from_secs(26 * 3600),
            )
            .await?;
        Ok(())
    }

    async fn invalidated_at(&self, s: &OidcSettings) -> Option<SystemTime> {
        let store = self.shared.as_ref()?;
        match store.get(&Self::epoch_key(s)).await {
            Ok(Some(bytes)) => std::str::from_utf8(&bytes)
                .ok()
                .and_then(|t| t.parse::<u64>().ok())
                .map(|n| std::time::UNIX_EPOCH + std::time::Duration::from_nanos(n)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(target: "ssokit::oidc", error = %e, "cannot read cache invalidations");
                None
            }
        }
    }

    /// Validates an ID token against the provider's keys, refreshing them
    /// (rate-limited) when the token names a key id the cache does not know.
    ///
    /// The expected issuer is exact: the configured one, or for Entra the
    /// tenant's v2.0 issuer (for a multi-tenant connection, the `{tenantid}`
    /// template filled with the token's `tid`, which must be on the
    /// allow-list; the `tid` claim must then name the same tenant).
    pub async fn validate_id_token(
        &self,
        s: &OidcSettings,
        endpoints: &ProviderEndpoints,
        id_token: &str,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, Error> {
        let header = jwt::peek_header(id_token)?;
        let (issuer, jwks_uri) = expected_issuer(s, endpoints, id_token)?;
        let check = IdTokenCheck {
            issuer: &issuer,
            client_id: &s.client_id,
            nonce,
            now: unix_seconds(now),
            leeway: s.leeway_secs,
            max_age: None,
        };
        let not_before = self.invalidated_at(s).await;
        let unknown_kid =
            |keys: &jwt::JwkSet| header.kid.as_deref().is_some_and(|k| !keys.contains_kid(k));
        let keys = self
            .keys
            .get(self.http.as_ref(), &jwks_uri, now, false, not_before)
            .await?;
        let keys = if unknown_kid(&keys) {
            self.keys
                .get(self.http.as_ref(), &jwks_uri, now, true, not_before)
                .await?
        } else {
            keys
        };
        let claims = match jwt::verify_id_token(id_token, &keys, &check) {
            Err(e @ TokenError::UnknownKey { .. }) if header.kid.is_none() => {
                // No kid and no usable key: one refresh may bring it.
                let keys = self
                    .keys
                    .get(self.http.as_ref(), &jwks_uri, now, true, not_before)
                    .await?;
                jwt::verify_id_token(id_token, &keys, &check).map_err(|_| Error::from(e))?
            }
            other => other?,
        };
        if let Flavor::Entra(_) = &s.flavor {
            // The verified `tid` must name the tenant of the verified issuer.
            let tid = claims
                .claim("tid")
                .and_then(|v| v.as_str().map(str::to_ascii_lowercase));
            if tid.as_deref() != Some(entra_tenant_of(&issuer).as_str()) {
                return Err(IdpError::TenantMismatch.into());
            }
        }
        Ok(claims)
    }

    async fn exchange_code(
        &self,
        s: &OidcSettings,
        endpoints: &ProviderEndpoints,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, Error> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut req = http::Request::new(Vec::new());
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = endpoints
            .token
            .as_str()
            .parse()
            .map_err(|_| IdpError::Discovery("token_endpoint is not a valid URI".into()))?;
        let headers = req.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        let assertion;
        match (&s.client_assertion_key, &s.client_secret) {
            (Some(key), _) => {
                // private_key_jwt (RFC 7523): a certificate credential.
                assertion = key.assertion(
                    &s.client_id,
                    endpoints.token.as_str(),
                    unix_seconds(self.clock.now()),
                )?;
                form.push(("client_id", &s.client_id));
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push(("client_assertion", &assertion));
            }
            (None, Some(secret)) => {
                // RFC 6749 §2.3.1: form-encode both parts before base64.
                let enc = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(&s.client_id),
                    enc(secret.expose())
                ));
                let value =
                    http::HeaderValue::from_str(&format!("Basic {basic}")).map_err(|_| {
                        Error::new(ErrorKind::Config(
                            "client credentials are not valid header text".into(),
                        ))
                    })?;
                headers.insert(http::header::AUTHORIZATION, value);
            }
            (None, None) => {
                form.push(("client_id", &s.client_id));
            }
        }
        *req.body_mut() = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish()
            .into_bytes();
        let resp = fetch(self.http.as_ref(), req).await?;
        if !resp.status().is_success() {
            let code = serde_json::from_slice::<OAuthError>(resp.body())
                .map(|e| safe_code(&e.error))
                .unwrap_or_else(|_| format!("HTTP {}", resp.status().as_u16()));
            return Err(IdpError::TokenEndpoint(code).into());
        }
        let tokens: TokenResponse = serde_json::from_slice(resp.body())
            .map_err(|_| IdpError::TokenEndpoint("the token response is not valid JSON".into()))?;
        if tokens
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(IdpError::TokenEndpoint("unsupported token_type".into()).into());
        }
        Ok(tokens)
    }

    async fn userinfo(
        &self,
        endpoints: &ProviderEndpoints,
        access_token: &str,
        subject: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let url = endpoints
            .userinfo
            .as_ref()
            .ok_or_else(|| IdpError::Userinfo("the provider has no userinfo endpoint".into()))?;
        let mut req = get(url);
        let bearer = http::HeaderValue::from_str(&format!("Bearer {access_token}"))
            .map_err(|_| IdpError::Userinfo("the access token is not valid header text".into()))?;
        req.headers_mut()
            .insert(http::header::AUTHORIZATION, bearer);
        let resp = fetch(self.http.as_ref(), req).await?;
        if !resp.status().is_success() {
            return Err(IdpError::Userinfo(format!("HTTP {}", resp.status().as_u16())).into());
        }
        let claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(resp.body())
                .map_err(|_| IdpError::Userinfo("the response is not a JSON object".into()))?;
        // OIDC Core §5.3.2: the sub must match the ID token's, or the response
        // must not be used.
        if claims.get("sub").and_then(|v| v.as_str()) != Some(subject) {
            return Err(IdpError::Userinfo("the response is for another subject".into()).into());
        }
        Ok(claims)
    }
}

/// Fetches and checks a discovery document: its `issuer` must be the
/// configured issuer exactly (Entra: the tenant's concrete v2.0 issuer, or the
/// `{tenantid}` template for `organizations`).
async fn discover(http: &dyn HttpClient, s: &OidcSettings) -> Result<ProviderEndpoints, Error> {
    let url = Url::parse(&s.discovery_url)
        .map_err(|_| Error::new(ErrorKind::Config("the discovery URL is not a URL".into())))?;
    let resp = fetch(http, get(&url)).await?;
    if !resp.status().is_success() {
        return Err(IdpError::Discovery(format!("HTTP {}", resp.status().as_u16())).into());
    }
    let meta: CoreProviderMetadata = serde_json::from_slice(resp.body()).map_err(|_| {
        IdpError::Discovery("the discovery document is not valid provider metadata".into())
    })?;
    // IssuerUrl keeps the string as served.
    let served = meta.issuer().as_str().to_owned();
    let issuer_ok = match &s.flavor {
        Flavor::Entra(e) => match &e.tenants {
            EntraTenants::Single(t) if is_guid(t) => served == s.issuer,
            // Addressed by a verified domain: the document must name a concrete tenant.
            EntraTenants::Single(_) => served
                .strip_prefix(&format!("{}/", e.instance))
                .and_then(|rest| rest.strip_suffix("/v2.0"))
                .is_some_and(is_guid),
            EntraTenants::Multi(_) => served == s.issuer,
        },
        _ => served == s.issuer,
    };
    if !issuer_ok {
        return Err(IdpError::Discovery(
            "the discovery document names another issuer than the configured one".into(),
        )
        .into());
    }
    Ok(ProviderEndpoints {
        issuer: served,
        authorization: endpoint(
            "authorization_endpoint",
            Some(meta.authorization_endpoint().as_str()),
        )?,
        token: endpoint("token_endpoint", meta.token_endpoint().map(|u| u.as_str()))?,
        userinfo: meta
            .userinfo_endpoint()
            .map(|u| endpoint("userinfo_endpoint", Some(u.as_str())))
            .transpose()?,
        jwks_uri: endpoint("jwks_uri", Some(meta.jwks_uri().as_str()))?,
    })
}

/// The few claims read before verification, to choose the expected issuer.
#[derive(Deserialize)]
struct Unverified {
    iss: Option<String>,
    tid: Option<String>,
    ver: Option<String>,
}

fn peek_unverified(token: &str) -> Result<Unverified, Error> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or(TokenError::Malformed("not a compact JWS"))?;
    if payload.len() > 16 * 1024 {
        return Err(TokenError::TooLarge.into());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed("payload is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| TokenError::Malformed("payload is not a JSON object").into())
}

fn entra_tenant_of(issuer: &str) -> String {
    let trimmed = issuer.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v2.0").unwrap_or(trimmed);
    trimmed
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The exact issuer a token must carry, and the JWKS to verify it with.
fn expected_issuer(
    s: &OidcSettings,
    endpoints: &ProviderEndpoints,
    token: &str,
) -> Result<(String, Url), Error> {
    let Flavor::Entra(e) = &s.flavor else {
        return Ok((s.issuer.clone(), endpoints.jwks_uri.clone()));
    };
    let claims = peek_unverified(token)?;
    let tid = claims
        .tid
        .map(|t| t.to_ascii_lowercase())
        .filter(|t| is_guid(t))
        .ok_or(TokenError::MissingClaim("tid"))?;
    let v1 = claims.ver.as_deref() == Some("1.0")
        || claims
            .iss
            .as_deref()
            .is_some_and(|i| i.starts_with("https://sts.windows.net/"));
    if v1 && !e.accept_v1_tokens {
        return Err(IdpError::V1Token.into());
    }
    let v2_issuer = match &e.tenants {
        EntraTenants::Single(_) => {
            if entra_tenant_of(&endpoints.issuer) != tid {
                return Err(IdpError::TenantMismatch.into());
            }
            endpoints.issuer.clone()
        }
        EntraTenants::Multi(allowed) => {
            if !allowed.contains(&tid) {
                return Err(IdpError::TenantNotAllowed.into());
            }
            endpoints.issuer.replace("{tenantid}", &tid)
        }
    };
    let issuer = if v1 {
        format!("https://sts.windows.net/{tid}/")
    } else {
        v2_issuer
    };
    let jwks_uri = match &e.tenants {
        // Keys are discovered and cached per tenant.
        EntraTenants::Multi(_) => Url::parse(&format!("{}/{tid}/discovery/v2.0/keys", e.instance))
            .map_err(|_| IdpError::Discovery("the tenant's key URL is not valid".into()))?,
        EntraTenants::Single(_) => endpoints.jwks_uri.clone(),
    };
    Ok((issuer, jwks_uri))
}

#[async_trait]
impl IdpAdapter for OidcAdapter {
    async fn start(&self, conn: &Connection, req: StartRequest<'_>) -> Result<Started, Error> {
        let s = settings(conn)?;
        let endpoints = self.endpoints(s).await?;
        let bad = |what: &str| {
            Error::new(ErrorKind::Config(format!(
                "connection {}: invalid {what}",
                conn.id
            )))
        };
        let client = CoreClient::new(
            ClientId::new(s.client_id.clone()),
            IssuerUrl::new(s.issuer.clone()).map_err(|_| bad("issuer"))?,
            JsonWebKeySet::default(),
        )
        .set_auth_uri(AuthUrl::from_url(endpoints.authorization.clone()))
        .set_redirect_uri(RedirectUrl::from_url(req.redirect_uri.clone()));
        let nonce = random_token(32);
        let pkce_verifier = random_token(32);
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.clone(),
        ));
        let state = req.state.to_owned();
        let nonce_for_request = nonce.clone();
        let mut auth = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce_for_request),
            )
            .set_pkce_challenge(challenge);
        for scope in s.scopes.iter().filter(|sc| sc.as_str() != "openid") {
            auth = auth.add_scope(Scope::new(scope.clone()));
        }
        if let Some(hint) = req.login_hint {
            auth = auth.set_login_hint(LoginHint::new(hint.to_owned()));
            if let (Flavor::Entra(_), Some(domain)) = (&s.flavor, crate::types::email_domain(hint))
            {
                auth = auth.add_extra_param("domain_hint", domain);
            }
        }
        for (k, v) in &s.extra_auth_params {
            auth = auth.add_extra_param(k.clone(), v.clone());
        }
        let (url, _, _) = auth.url();
        Ok(Started {
            url,
            post_fields: None,
            state: ProtocolState::Oidc {
                nonce,
                pkce_verifier,
                redirect_uri: req.redirect_uri.to_string(),
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
        let (nonce, verifier, redirect_uri) = match state {
            ProtocolState::Oidc {
                nonce,
                pkce_verifier,
                redirect_uri,
            } => (nonce, pkce_verifier, redirect_uri),
            _ => {
                return Err(Error::new(ErrorKind::Config(
                    "pending login is not an OIDC login".into(),
                )));
            }
        };
        // RFC 9207: when the provider names itself, it must be this issuer
        // (defeats IdP mix-up).
        if callback.get("iss").is_some_and(|iss| iss != s.issuer) {
            return Err(IdpError::IssuerMismatch.into());
        }
        let code = callback.require("code")?;
        if code.len() > 4096 {
            return Err(crate::error::BadRequest::TooLarge("code").into());
        }
        let endpoints = self.endpoints(s).await?;
        let tokens = self
            .exchange_code(s, &endpoints, code, verifier, redirect_uri)
            .await?;
        let id_token = tokens
            .id_token
            .ok_or_else(|| IdpError::TokenEndpoint("the response has no id_token".into()))?;
        let claims = self
            .validate_id_token(s, &endpoints, &id_token, Some(nonce), now)
            .await?;
        let mut profile = profile_from(&claims, s);
        // Okta's org server sends a thin ID token next to an access token.
        let thin = claims.email.is_none() && claims.name.is_none();
        if s.userinfo || (s.flavor == Flavor::Okta && thin) {
            let access = tokens.access_token.ok_or_else(|| {
                IdpError::TokenEndpoint("the response has no access_token".into())
            })?;
            let info = self.userinfo(&endpoints, &access, &claims.sub).await?;
            merge_userinfo(&mut profile, &info, s);
        }
        let subject = match &s.flavor {
            // Entra: (tid, oid); `sub` is pairwise per application.
            Flavor::Entra(_) => {
                let tid = entra_tenant_of(&claims.iss);
                let oid = claims
                    .claim("oid")
                    .and_then(|v| v.as_str().map(str::to_ascii_lowercase))
                    .filter(|o| is_guid(o))
                    .ok_or(TokenError::MissingClaim("oid"))?;
                format!("{tid}/{oid}")
            }
            _ => claims.sub.clone(),
        };
        Ok(VerifiedIdentity {
            key: IdentityKey {
                connection: conn.id.clone(),
                subject,
            },
            issuer: claims.iss.clone(),
            profile,
        })
    }
}

fn string_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn profile_from(claims: &IdTokenClaims, s: &OidcSettings) -> Profile {
    let groups = if s.groups_claim == "groups" {
        claims.groups.clone()
    } else {
        claims
            .claim(&s.groups_claim)
            .map(|v| string_list(&v))
            .unwrap_or_default()
    };
    let (email_verified, groups_incomplete) = match &s.flavor {
        // Entra never sends email_verified; only `xms_edov` says the domain
        // owner verified the address (the nOAuth class).
        Flavor::Entra(_) => {
            let edov = matches!(
                claims.claim("xms_edov"),
                Some(serde_json::Value::Bool(true))
            ) || matches!(claims.claim("xms_edov"), Some(serde_json::Value::String(v)) if v == "true" || v == "1");
            let overage = claims
                .claim("_claim_names")
                .is_some_and(|names| names.get(&s.groups_claim).is_some())
                || matches!(
                    claims.claim("hasgroups"),
                    Some(serde_json::Value::Bool(true))
                );
            (edov, overage)
        }
        _ => (claims.email_verified, false),
    };
    Profile {
        email: claims.email.clone(),
        email_verified: claims.email.is_some() && email_verified,
        name: claims.name.clone(),
        given_name: claims.given_name.clone(),
        family_name: claims.family_name.clone(),
        groups,
        groups_incomplete,
    }
}

fn merge_userinfo(
    p: &mut Profile,
    info: &serde_json::Map<String, serde_json::Value>,
    s: &OidcSettings,
) {
    let text = |k: &str| info.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    if p.email.is_none() {
        p.email = text("email");
        p.email_verified = p.email.is_some()
            && matches!(
                info.get("email_verified"),
                Some(serde_json::Value::Bool(true))
            ) | matches!(info.get("email_verified"), Some(serde_json::Value::String(v)) if v == "true");
    }
    p.name = p.name.take().or_else(|| text("name"));
    p.given_name = p.given_name.take().or_else(|| text("given_name"));
    p.family_name = p.family_name.take().or_else(|| text("family_name"));
    if p.groups.is_empty() {
        p.groups = info
            .get(&s.groups_claim)
            .map(string_list)
            .unwrap_or_default();
    }
}
