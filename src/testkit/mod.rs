//! Test kit: a development OpenID provider for demos and host tests.
//!
//! [`DevProvider`] is a small, real OpenID Connect provider (authorization
//! code flow with PKCE) that runs inside your process. The demo app mounts it
//! so that sign-in works with zero configuration, and host applications use
//! it in their integration tests to drive their SSO code end to end, including
//! the ways an identity provider can go wrong ([`Fault`]).
//!
//! **It is for development and tests only.** Anyone can sign in as anyone,
//! and tokens are signed with test keys that are published in this crate.
//!
//! # Endpoints
//!
//! All URLs are absolute and lie under the issuer (say
//! `http://127.0.0.1:3000/dev/idp`):
//!
//! | Endpoint | Path under the issuer | |
//! |---|---|---|
//! | Discovery | `GET /.well-known/openid-configuration` | [`DevProvider::discovery_json`] |
//! | Authorization | `GET /authorize` | validates the request and shows a sign-in page |
//! | | `POST /authorize` | the sign-in form: issues a code and redirects back |
//! | Token | `POST /token` | `authorization_code` grant, `client_secret_basic` or `client_secret_post` |
//! | JWKS | `GET /jwks` | [`DevProvider::jwks_json`] |
//! | Userinfo | `GET /userinfo` | Bearer access token → profile claims |
//!
//! The authorization request must carry `client_id`, an exactly registered
//! `redirect_uri`, `response_type=code`, a `scope` containing `openid`,
//! `state`, `nonce` and a PKCE `code_challenge` with
//! `code_challenge_method=S256`. An unknown client or redirect URI gets an
//! error page (400); any other mistake is redirected back to the client as
//! an OAuth error (`error=invalid_request`, …). Responses carry the `iss`
//! parameter (RFC 9207).
//!
//! On the sign-in page any login works: a seeded user's login or e-mail
//! selects that user ([`DevProvider::with_user`]); anything else makes one up
//! ([`DevUser::new`]). Codes are random (256 bits), bound to the client,
//! redirect URI, nonce, PKCE challenge and user, single use, and valid for
//! 60 seconds. ID tokens (RS256 by default) carry `iss`, `sub`, `aud`,
//! `azp`, `exp` (`iat` + 300 s), `iat`, `auth_time`, `nonce`, `email`,
//! `email_verified`, `name`, `preferred_username` and `groups` (when
//! non-empty). Access tokens are valid for an hour.
//!
//! # Mounting it in an application
//!
//! Give the provider the issuer URL it will be reachable at, and nest its
//! [router](DevProvider::router) at the issuer's path:
//!
//! ```no_run
//! use axum::Router;
//! use ssokit::testkit::DevProvider;
//! use url::Url;
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! let issuer = Url::parse("http://127.0.0.1:3000/dev/idp").expect("valid URL");
//! let idp = DevProvider::new(issuer)
//!     .with_client("demo", "demo-secret", &["http://127.0.0.1:3000/sso/callback"])
//!     .with_sample_users();
//!
//! let app = Router::new()
//!     // .route("/sso/callback", get(your_callback)) and the rest of your app…
//!     .nest("/dev/idp", idp.router());
//! // A router with state (`Router<AppState>`) uses
//! // `.nest_service("/dev/idp", idp.router())` instead.
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Your OIDC connection is then configured with the issuer
//! `http://127.0.0.1:3000/dev/idp`, client id `demo` and secret
//! `demo-secret`.
//!
//! # Using it in tests
//!
//! [`DevProvider::spawn_local`] serves a provider on an ephemeral port and
//! hands you the base URL first, so that the issuer is the real address.
//! [`DevProvider::sign_in`] plays the browser: given the authorization URL
//! your code redirected to, it returns the callback URL with the code.
//!
//! ```
//! use base64::Engine as _;
//! use ssokit::testkit::{DevProvider, DevUser, Fault};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let callback = "http://127.0.0.1:8080/sso/callback";
//! let idp = DevProvider::spawn_local(|base| {
//!     DevProvider::new(base)
//!         .with_client("my-app", "my-secret", &[callback])
//!         .with_user(DevUser::new("alice").with_groups(["admins"]))
//! })
//! .await?;
//! let provider = idp.provider();
//!
//! // Your relying party builds the authorization request (by hand here)…
//! let verifier = "a-code-verifier-of-at-least-43-characters-long";
//! let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
//!     .encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
//! let mut authorize = provider.authorization_endpoint().clone();
//! authorize
//!     .query_pairs_mut()
//!     .append_pair("client_id", "my-app")
//!     .append_pair("redirect_uri", callback)
//!     .append_pair("response_type", "code")
//!     .append_pair("scope", "openid email profile")
//!     .append_pair("state", "st4te")
//!     .append_pair("nonce", "n0nce")
//!     .append_pair("code_challenge", &challenge)
//!     .append_pair("code_challenge_method", "S256");
//!
//! // …the user signs in as alice…
//! let back = provider.sign_in(&authorize, "alice")?;
//! let code = back.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.into_owned());
//!
//! // …and your relying party redeems the code over HTTP.
//! let tokens: serde_json::Value = reqwest::Client::new()
//!     .post(provider.token_endpoint().clone())
//!     .basic_auth("my-app", Some("my-secret"))
//!     .form(&[
//!         ("grant_type", "authorization_code"),
//!         ("code", code.as_deref().unwrap_or_default()),
//!         ("redirect_uri", callback),
//!         ("code_verifier", verifier),
//!     ])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(tokens["token_type"], "Bearer");
//! assert_eq!(provider.request_counts().token, 1);
//!
//! // From now on, ID tokens are signed with a key the JWKS does not publish:
//! // your validation must reject them (and refetch the JWKS at most so often).
//! provider.set_fault(Fault::UnknownKid, true);
//! # Ok(())
//! # }
//! ```
//!
//! # Testing your application's SSO
//!
//! The provider is meant for *your* tests: run it on loopback, point your
//! application's connection at it, and check what your application does
//! when the identity provider behaves — and when it does not. Three levels,
//! fastest first:
//!
//! 1. **Through [`Sso`](crate::Sso)**, as below: begin, let
//!    [`sign_in`](DevProvider::sign_in) play the user at the sign-in page,
//!    complete. No browser, no HTTP server of yours; a
//!    [`ManualClock`](crate::clock::ManualClock) moves time.
//! 2. **Through your routes over HTTP**: serve your app on `127.0.0.1:0`
//!    (with `ssokit::integrations::axum` or `::actix`, or your own routes)
//!    and drive it with an HTTP client that keeps cookies and does not follow
//!    redirects: `POST /login` → the provider's page (its hidden fields plus
//!    `login`) → your callback → your session. `tests/integration_axum.rs`
//!    in this repository does exactly that. Or switch on
//!    [`set_auto_login_from_hint`](DevProvider::set_auto_login_from_hint)
//!    and simply follow redirects: the provider signs in as the typed
//!    e-mail.
//! 3. **In a browser**: `tests/browser/` signs in through the demo in
//!    headless Chromium.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use ssokit::clock::ManualClock;
//! use ssokit::flow::{Begin, Outcome};
//! use ssokit::hooks::{MemoryDirectory, MemoryMailer};
//! use ssokit::testkit::{DevProvider, DevUser, Fault};
//! use ssokit::{BeginLogin, Connection, Error, LoginHint, Sso, SsoConfig, StaticConnections, Tenant};
//!
//! const APP: &str = "http://127.0.0.1:8080";
//!
//! /// One login, as your application's routes do it.
//! async fn login(sso: &Sso, idp: &DevProvider, email: &str) -> Result<Outcome, Error> {
//!     let hint = LoginHint::Email(email.into());
//!     let Begin::Redirect(r) = sso.begin_login(BeginLogin { hint, return_to: None }).await? else {
//!         panic!("one connection matches");
//!     };
//!     // The user signs in at the provider's page; it redirects to your callback.
//!     let callback = idp.sign_in(&r.url, email).expect("a valid authorization request");
//!     sso.complete_login(callback.query().unwrap_or(""), Some(r.flow_cookie.expose())).await
//! }
//!
//! /// Your application's `Sso` (in your tests, built as in production, with
//! /// the connection pointing at the provider).
//! fn app(connection: serde_json::Value, domain: &str, clock: &ManualClock) -> Sso {
//!     let connection = Connection::from_spec(serde_json::from_value(connection).unwrap()).unwrap();
//!     let tenant = Tenant { id: connection.tenant.clone(), domains: vec![domain.into()], subdomain: None };
//!     Sso::builder(SsoConfig::new(APP.parse().unwrap()))
//!         .connections(Arc::new(StaticConnections::new(vec![tenant], vec![connection]).unwrap()))
//!         .users(Arc::new(MemoryDirectory::new()))
//!         .mailer(Arc::new(MemoryMailer::new()))
//!         .clock(Arc::new(clock.clone()))
//!         .build()
//!         .unwrap()
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let idp = DevProvider::spawn_local(|base| {
//!     DevProvider::new(base)
//!         .with_client("app", "secret", &[&format!("{APP}/sso/oidc/callback")])
//!         .with_user(DevUser::new("ann@acme.test").with_groups(["staff"]))
//! })
//! .await?;
//! let clock = ManualClock::starting_now();
//! let sso = app(serde_json::json!({
//!     "id": "acme", "tenant": "acme", "kind": "oidc", "issuer": idp.issuer().as_str(),
//!     "client_id": "app", "client_secret": "secret", "jit": true, "template": { "role": "member" }
//! }), "acme.test", &clock);
//! let provider = idp.provider();
//! assert!(matches!(login(&sso, provider, "ann@acme.test").await?, Outcome::SignedIn(_)));
//!
//! // Expired or mis-addressed ID tokens are refused: 401, with a trace id
//! // for your error page.
//! for fault in [Fault::ExpiredIdToken, Fault::WrongAudience, Fault::AlgNone] {
//!     provider.set_fault(fault, true);
//!     let err = login(&sso, provider, "ann@acme.test").await.unwrap_err();
//!     assert_eq!(err.status(), 401, "{fault:?}");
//!     assert!(err.trace_id().is_some());
//!     provider.clear_faults();
//! }
//!
//! // Key rotation: the provider signs with a new key. An unknown `kid`
//! // refetches the JWKS at most every 5 minutes, so right after the first
//! // fetch the login fails closed; 5 minutes later it refetches and succeeds.
//! provider.rotate_keys();
//! assert_eq!(login(&sso, provider, "ann@acme.test").await.unwrap_err().status(), 401);
//! clock.advance(Duration::from_secs(301));
//! assert!(matches!(login(&sso, provider, "ann@acme.test").await?, Outcome::SignedIn(_)));
//! assert_eq!(provider.request_counts().jwks, 2);
//! # Ok(()) }
//! ```
//!
//! The same works against Microsoft Entra ID's quirks ([`DevProvider::entra`]):
//! an `entra` connection with `base_url` set to the provider's URL;
//! [`EntraUser::with_overage`] for a user in too many groups (denied where
//! groups decide, unless your app supplies a
//! [`GroupLookup`](crate::hooks::GroupLookup)); [`EntraUser::with_email`]
//! with `xms_edov` `None` or `false` for an address that is not verified by
//! its domain's owner (never used to find or link an account); and the
//! faults a tenant mix-up or an old endpoint produce:
//!
//! ```
//! # use std::sync::Arc;
//! # use ssokit::clock::ManualClock;
//! # use ssokit::flow::{Begin, Outcome};
//! # use ssokit::hooks::{MemoryDirectory, MemoryMailer};
//! # use ssokit::{BeginLogin, Connection, Error, LoginHint, Sso, SsoConfig, StaticConnections, Tenant};
//! use ssokit::policy::DenyReason;
//! use ssokit::testkit::{DevProvider, EntraUser, Fault};
//! # const APP: &str = "http://127.0.0.1:8080";
//! # async fn login(sso: &Sso, idp: &DevProvider, email: &str) -> Result<Outcome, Error> {
//! #     let hint = LoginHint::Email(email.into());
//! #     let Begin::Redirect(r) = sso.begin_login(BeginLogin { hint, return_to: None }).await? else { panic!() };
//! #     let callback = idp.sign_in(&r.url, email).expect("valid");
//! #     sso.complete_login(callback.query().unwrap_or(""), Some(r.flow_cookie.expose())).await
//! # }
//! # fn app(connection: serde_json::Value, domain: &str, clock: &ManualClock) -> Sso {
//! #     let connection = Connection::from_spec(serde_json::from_value(connection).unwrap()).unwrap();
//! #     let tenant = Tenant { id: connection.tenant.clone(), domains: vec![domain.into()], subdomain: None };
//! #     Sso::builder(SsoConfig::new(APP.parse().unwrap()))
//! #         .connections(Arc::new(StaticConnections::new(vec![tenant], vec![connection]).unwrap()))
//! #         .users(Arc::new(MemoryDirectory::new())).mailer(Arc::new(MemoryMailer::new()))
//! #         .clock(Arc::new(clock.clone())).build().unwrap()
//! # }
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const CONTOSO: &str = "11111111-1111-1111-1111-111111111111";
//! const ENGINEERS: &str = "aaaaaaaa-0000-0000-0000-000000000001";
//! let entra = DevProvider::spawn_local(|base| {
//!     DevProvider::entra(base)
//!         .with_client("app", "secret", &[&format!("{APP}/sso/oidc/callback")])
//!         .with_entra_tenant(CONTOSO, &["contoso.test"])
//!         .with_entra_user(EntraUser::new(CONTOSO, "alice@contoso.test")
//!             .with_email(Some("alice@contoso.test"), Some(true)) // xms_edov: verified
//!             .with_groups([ENGINEERS]))
//!         .with_entra_user(EntraUser::new(CONTOSO, "many@contoso.test").with_overage(true))
//! })
//! .await?;
//! let sso = app(serde_json::json!({
//!     "id": "contoso", "tenant": "contoso", "kind": "entra", "tenant_id": CONTOSO,
//!     "base_url": entra.url().as_str().trim_end_matches('/'),
//!     "client_id": "app", "client_secret": "secret", "jit": true,
//!     "template": { "role": "member" }, "allowed_groups": [ENGINEERS]
//! }), "contoso.test", &ManualClock::starting_now());
//! let provider = entra.provider();
//! let Outcome::SignedIn(alice) = login(&sso, provider, "alice@contoso.test").await? else { panic!() };
//! assert_eq!(alice.user.email, "alice@contoso.test");
//! let Outcome::Denied(many) = login(&sso, provider, "many@contoso.test").await? else { panic!() };
//! assert_eq!(many.reason, DenyReason::GroupsOverage);
//! // The token's issuer names another tenant than its `tid`; a v1.0 token.
//! for fault in [Fault::IssuerTenantMismatch, Fault::V1Token] {
//!     provider.set_fault(fault, true);
//!     assert_eq!(login(&sso, provider, "alice@contoso.test").await.unwrap_err().status(), 401);
//!     provider.clear_faults();
//! }
//! # Ok(()) }
//! ```
//!
//! For Okta ([`DevProvider::okta`]): a connection of kind `okta` whose
//! `domain` is the provider's URL; users made with [`DevUser::okta`]; the
//! app's groups claim filter
//! ([`set_groups_claim_filter`](DevProvider::set_groups_claim_filter)) and
//! thin ID tokens completed from userinfo
//! ([`set_thin_id_tokens`](DevProvider::set_thin_id_tokens)), so that a
//! `role_map` from Okta groups is tested as Okta really sends them.
//!
//! # Entra-like and Okta-like flavors
//!
//! Two more constructors make the same provider behave like the identity
//! providers customers use most, so that adapters for them can be tested
//! over real loopback HTTP ([`Flavor`]):
//!
//! - [`DevProvider::entra`]: Microsoft Entra ID's v2.0 endpoints for several
//!   tenants ([`with_entra_tenant`](DevProvider::with_entra_tenant)), each
//!   with its own signing key and JWKS; discovery per tenant (by id or
//!   verified domain) and for `organizations`/`common` with the literal
//!   `{tenantid}` issuer template; [`EntraUser`]s with `tid`, `oid`,
//!   pairwise `sub`, `email`/`xms_edov`, groups and group overage; tenant
//!   rules at sign-in; and the Entra faults
//!   ([`Fault::IssuerTenantMismatch`], [`Fault::V1Token`],
//!   [`Fault::SignWithOtherTenantKey`]).
//! - [`DevProvider::okta`]: an Okta org authorization server whose issuer is
//!   the org URL without a trailing slash, optional custom authorization
//!   servers ([`with_authorization_server`](DevProvider::with_authorization_server)),
//!   Okta user ids (`00u…`), the app's groups claim filter and thin ID
//!   tokens.
//!
//! Both are served, mounted and driven like the generic provider
//! ([`spawn_local`](DevProvider::spawn_local), [`sign_in`](DevProvider::sign_in),
//! faults, counters, clock), and both record the last authorization
//! request ([`last_authorize_params`](DevProvider::last_authorize_params)),
//! so that tests can check `login_hint`, `domain_hint` or `idp`.
//! [`entra_endpoints`](DevProvider::entra_endpoints) and
//! [`okta_endpoints`](DevProvider::okta_endpoints) give each authority's
//! issuer and endpoints.
//!
//! ```
//! use ssokit::testkit::{DevProvider, DevUser, EntraUser};
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! const CONTOSO: &str = "11111111-1111-1111-1111-111111111111";
//! let entra = DevProvider::spawn_local(|base| {
//!     DevProvider::entra(base)
//!         .with_client("app", "secret", &["http://127.0.0.1:8080/callback"])
//!         .with_entra_tenant(CONTOSO, &["contoso.example"])
//!         .with_entra_user(EntraUser::new(CONTOSO, "alice@contoso.example"))
//! })
//! .await?;
//! // Configure the Entra connection with base URL `entra.url()` and tenant
//! // `CONTOSO`: its issuer is `{base}{CONTOSO}/v2.0`.
//! assert_eq!(
//!     entra.provider().entra_endpoints(CONTOSO).issuer,
//!     format!("{}{CONTOSO}/v2.0", entra.url())
//! );
//!
//! let okta = DevProvider::spawn_local(|base| {
//!     DevProvider::okta(base)
//!         .with_client("0oa-app", "secret", &["http://127.0.0.1:8080/callback"])
//!         .with_user(DevUser::okta("bob@acme.example"))
//! })
//! .await?;
//! // The Okta "domain" is `okta.url()`; the org issuer has no trailing slash.
//! assert!(!okta.provider().okta_endpoints(None).issuer.ends_with('/'));
//! # Ok(()) }
//! ```
//!
//! # Knobs for tests
//!
//! - [`Fault`] switches ([`DevProvider::set_fault`]): expired, mis-addressed
//!   or forged ID tokens, failing endpoints, denied logins, ES256 signing,
//!   unverified e-mail, thin ID tokens, and Entra's tenant and v1.0 faults.
//! - Keys: [`DevProvider::rotate_keys`] (new `kid`, JWKS publishes only the
//!   new key) and [`DevProvider::set_publish_previous_key`] for a rollover
//!   window ([`DevProvider::rotate_tenant_keys`] and
//!   [`DevProvider::rotate_authorization_server_keys`] per Entra tenant or
//!   Okta authorization server); [`DevProvider::sign_id_token`],
//!   [`DevProvider::sign_entra_token`] and [`DevProvider::sign_okta_token`]
//!   to craft tokens by hand.
//! - Time: [`DevProvider::set_time_offset`] moves the provider's clock, so
//!   code and token expiry are tested without sleeping.
//! - Counters: [`DevProvider::request_counts`], to assert how often your code
//!   fetches discovery and the JWKS, and [`DevProvider::requests_to`] per
//!   endpoint URL (one Entra tenant's JWKS, say).
//! - [`DevProvider::last_authorize_params`]: what the relying party sent.
//! - [`DevProvider::set_auto_login`] skips the sign-in page.

mod endpoints;
mod entra;
mod jose;
mod okta;
mod page;
mod provider;
#[cfg(feature = "saml")]
pub mod saml;
mod server;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_entra;
#[cfg(test)]
mod tests_okta;

pub use entra::EntraUser;
pub use provider::{
    AuthorizationRejected, DevProvider, DevUser, Endpoints, Fault, Faults, Flavor, RequestCounts,
};
pub use server::RunningProvider;
