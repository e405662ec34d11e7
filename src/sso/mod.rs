//! The facade a host application calls: begin a login, complete the callback,
//! answer a link offer, confirm a link — and the admin APIs (`admin.rs`).

mod admin;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::connection::{Connection, ConnectionStore, ProtocolFamily};
use crate::discovery::{Discovered, LoginHint, discover};
use crate::error::{BadRequest, Error, ErrorKind, FlowError, LinkError, StoreError};
use crate::flow::{
    Begin, ChoiceOutcome, Choose, ConnectionChoice, Denied, LinkChoice, LinkOffer, LinkTicket,
    Outcome, PendingLogin, PendingOffer, Redirect, SignInKind, SignedIn, browser_binding,
    mask_email, new_handle, store_key, validate_return_to,
};
use crate::hooks::{
    Event, EventKind, EventSink, GroupLookup, LinkResult, Mail, MailKind, Mailer, TracingEvents,
    UserDirectory,
};
use crate::http::HttpClient;
use crate::policy::{self, DenyReason, Resolution};
use crate::protocol::{CallbackParams, IdpAdapter, StartRequest};
use crate::secret::{SecretString, random_token};
use crate::store::{FlowStore, MemoryFlowStore};
use crate::types::{LocalUser, TenantId, TraceId, VerifiedIdentity};

/// Settings of an [`Sso`] instance (one per application deployment).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SsoConfig {
    /// The application's public base URL, as users see it (behind a load
    /// balancer, not the bind address). Callback and link URLs are built from it.
    pub public_url: Url,
    /// Path of the OIDC callback route. Default `/sso/oidc/callback`.
    pub oidc_callback_path: String,
    /// Path of the SAML assertion consumer service (HTTP-POST). Default `/sso/saml/acs`.
    pub saml_acs_path: String,
    /// Path of the link-confirmation route. Default `/link/confirm`.
    pub link_confirm_path: String,
    /// How long a begun login may take. Default 10 minutes.
    pub login_ttl: Duration,
    /// How long a link offer waits for the user's choice. Default 10 minutes.
    pub offer_ttl: Duration,
    /// How long a mailed link is valid. Default (and maximum) 5 minutes.
    pub link_ttl: Duration,
    /// Path of the activation-link route. Default `/activate`.
    pub activation_path: String,
    /// How long an activation link is valid. Default 7 days.
    pub activation_ttl: Duration,
    /// The application's name, used in mails.
    pub app_name: String,
}

impl SsoConfig {
    /// Defaults for an application at `public_url`.
    pub fn new(public_url: Url) -> Self {
        Self {
            public_url,
            oidc_callback_path: "/sso/oidc/callback".to_owned(),
            saml_acs_path: "/sso/saml/acs".to_owned(),
            link_confirm_path: "/link/confirm".to_owned(),
            login_ttl: Duration::from_secs(600),
            offer_ttl: Duration::from_secs(600),
            link_ttl: Duration::from_secs(300),
            activation_path: "/activate".to_owned(),
            activation_ttl: Duration::from_secs(7 * 24 * 3600),
            app_name: "the application".to_owned(),
        }
    }

    /// Sets the application's name (used in mails).
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }
}

/// Builds an [`Sso`]. Connections and users are required; everything else
/// has an in-memory or system default.
pub struct SsoBuilder {
    config: SsoConfig,
    connections: Option<Arc<dyn ConnectionStore>>,
    users: Option<Arc<dyn UserDirectory>>,
    flows: Option<Arc<dyn FlowStore>>,
    mailer: Option<Arc<dyn Mailer>>,
    events: Option<Arc<dyn EventSink>>,
    http: Option<Arc<dyn HttpClient>>,
    clock: Option<Arc<dyn Clock>>,
    group_lookup: Option<Arc<dyn GroupLookup>>,
    admin: Option<Arc<dyn crate::admin::AdminDirectory>>,
    provisioned: Option<Arc<dyn crate::hooks::ProvisionedAccounts>>,
    #[cfg(feature = "saml")]
    saml_fetch_policy: Option<crate::saml::metadata::FetchPolicy>,
}

impl std::fmt::Debug for SsoBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl SsoBuilder {
    /// Where tenants and connections come from.
    pub fn connections(mut self, store: Arc<dyn ConnectionStore>) -> Self {
        self.connections = Some(store);
        self
    }
    /// The host's users.
    pub fn users(mut self, directory: Arc<dyn UserDirectory>) -> Self {
        self.users = Some(directory);
        self
    }
    /// The flow store (default: in-memory, one instance only).
    pub fn flows(mut self, store: Arc<dyn FlowStore>) -> Self {
        self.flows = Some(store);
        self
    }
    /// The mailer (required for linking to existing accounts).
    pub fn mailer(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }
    /// The event sink (default: `tracing`).
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = Some(sink);
        self
    }
    /// The HTTP client for IdP requests (default: reqwest, no redirects).
    pub fn http(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }
    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// How SAML IdP metadata URLs are fetched and refreshed (key rollover).
    /// Default: https only, no private or loopback addresses (tenants supply
    /// these URLs), 1 MiB, 10 s, refreshed daily, last good copy kept.
    #[cfg(feature = "saml")]
    pub fn saml_fetch_policy(mut self, policy: crate::saml::metadata::FetchPolicy) -> Self {
        self.saml_fetch_policy = Some(policy);
        self
    }
    /// Completes groups the IdP left out (Entra group overage). Without it,
    /// such logins are denied where groups decide admission or roles.
    pub fn group_lookup(mut self, lookup: Arc<dyn GroupLookup>) -> Self {
        self.group_lookup = Some(lookup);
        self
    }
    /// The admin side of the user store (filtered batches, audits, hygiene
    /// reports, unlinking). Needed only by the admin APIs.
    pub fn admin_directory(mut self, admin: Arc<dyn crate::admin::AdminDirectory>) -> Self {
        self.admin = Some(admin);
        self
    }
    /// Users provisioned ahead of time (SCIM): an identity the IdP provisioned
    /// signs in to that account. `ScimService` implements it.
    pub fn provisioned_accounts(
        mut self,
        accounts: Arc<dyn crate::hooks::ProvisionedAccounts>,
    ) -> Self {
        self.provisioned = Some(accounts);
        self
    }

    /// Checks the configuration and builds the instance.
    pub fn build(self) -> Result<Sso, Error> {
        let cfg = self.config;
        let missing =
            |what: &str| Error::new(ErrorKind::Config(format!("SsoBuilder: {what} is required")));
        if !matches!(cfg.public_url.scheme(), "http" | "https") || cfg.public_url.cannot_be_a_base()
        {
            return Err(Error::new(ErrorKind::Config(
                "public_url must be an http(s) base URL".into(),
            )));
        }
        if cfg.link_ttl > Duration::from_secs(300) || cfg.link_ttl.is_zero() {
            return Err(Error::new(ErrorKind::Config(
                "link_ttl must be between 1 second and 5 minutes".into(),
            )));
        }
        let callback = cfg.public_url.join(&cfg.oidc_callback_path).map_err(|_| {
            Error::new(ErrorKind::Config("oidc_callback_path is not a path".into()))
        })?;
        let link_confirm = cfg
            .public_url
            .join(&cfg.link_confirm_path)
            .map_err(|_| Error::new(ErrorKind::Config("link_confirm_path is not a path".into())))?;
        let acs = cfg
            .public_url
            .join(&cfg.saml_acs_path)
            .map_err(|_| Error::new(ErrorKind::Config("saml_acs_path is not a path".into())))?;
        let activation = cfg
            .public_url
            .join(&cfg.activation_path)
            .map_err(|_| Error::new(ErrorKind::Config("activation_path is not a path".into())))?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let host_http = self.http.is_some();
        let http: Arc<dyn HttpClient> = match self.http {
            Some(h) => h,
            #[cfg(feature = "reqwest")]
            None => Arc::new(crate::http::ReqwestClient::new()),
            #[cfg(not(feature = "reqwest"))]
            None => return Err(missing("an HTTP client (or the `reqwest` feature)")),
        };
        let flows: Arc<dyn FlowStore> = self
            .flows
            .unwrap_or_else(|| Arc::new(MemoryFlowStore::new()));
        let mut adapters: HashMap<ProtocolFamily, Arc<dyn IdpAdapter>> = HashMap::new();
        #[cfg(feature = "oidc")]
        let oidc = Arc::new(
            crate::oidc::OidcAdapter::new(http.clone(), clock.clone())
                .with_shared_store(flows.clone()),
        );
        #[cfg(feature = "oidc")]
        adapters.insert(ProtocolFamily::Oidc, oidc.clone());
        #[cfg(feature = "saml")]
        let saml = {
            use crate::saml::metadata::MetadataFetcher;
            let policy = self.saml_fetch_policy.unwrap_or_default();
            // The host's own client answers for where it connects; without
            // one, metadata URLs (tenant-supplied) get a client that
            // resolves names to public addresses only.
            #[cfg(feature = "reqwest")]
            let fetcher = if host_http {
                MetadataFetcher::new(http.clone(), policy)
            } else {
                MetadataFetcher::for_policy(policy).map_err(|e| Error::new(ErrorKind::Saml(e)))?
            };
            #[cfg(not(feature = "reqwest"))]
            let fetcher = MetadataFetcher::new(http.clone(), policy);
            Arc::new(
                crate::saml::SamlAdapter::with_flow_store(flows.clone())
                    .with_metadata_fetcher(Arc::new(fetcher)),
            )
        };
        #[cfg(feature = "saml")]
        adapters.insert(ProtocolFamily::Saml, saml.clone());
        let _ = (&http, host_http);
        Ok(Sso {
            inner: Arc::new(Inner {
                callback,
                acs,
                link_confirm,
                activation,
                admin: self.admin,
                provisioned: self.provisioned,
                connections: self
                    .connections
                    .ok_or_else(|| missing("a connection store"))?,
                users: self.users.ok_or_else(|| missing("a user directory"))?,
                flows,
                #[cfg(feature = "oidc")]
                oidc,
                #[cfg(feature = "saml")]
                saml,
                mailer: self.mailer,
                events: self.events.unwrap_or_else(|| Arc::new(TracingEvents)),
                clock,
                adapters,
                group_lookup: self.group_lookup,
                config: cfg,
            }),
        })
    }
}

struct Inner {
    config: SsoConfig,
    callback: Url,
    acs: Url,
    link_confirm: Url,
    activation: Url,
    admin: Option<Arc<dyn crate::admin::AdminDirectory>>,
    provisioned: Option<Arc<dyn crate::hooks::ProvisionedAccounts>>,
    connections: Arc<dyn ConnectionStore>,
    users: Arc<dyn UserDirectory>,
    flows: Arc<dyn FlowStore>,
    mailer: Option<Arc<dyn Mailer>>,
    events: Arc<dyn EventSink>,
    clock: Arc<dyn Clock>,
    adapters: HashMap<ProtocolFamily, Arc<dyn IdpAdapter>>,
    #[cfg(feature = "oidc")]
    oidc: Arc<crate::oidc::OidcAdapter>,
    #[cfg(feature = "saml")]
    saml: Arc<crate::saml::SamlAdapter>,
    group_lookup: Option<Arc<dyn GroupLookup>>,
}

/// Single sign-on for one application. Cheap to clone; share one per process.
///
/// See the [crate documentation](crate) for the whole flow.
#[derive(Clone)]
pub struct Sso {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// What the browser sent to begin a login.
#[derive(Debug, Clone)]
pub struct BeginLogin {
    /// How to find the connection.
    pub hint: LoginHint,
    /// Where to go after signing in: a same-origin relative path, or `None` for `/`.
    pub return_to: Option<String>,
}

/// Context for an event, filled in as the flow learns more.
#[derive(Default)]
struct Ctx<'a> {
    tenant: Option<&'a TenantId>,
    connection: Option<&'a Connection>,
    user: Option<&'a LocalUser>,
    identity: Option<&'a VerifiedIdentity>,
}

impl Sso {
    /// Starts building an instance.
    pub fn builder(config: SsoConfig) -> SsoBuilder {
        SsoBuilder {
            config,
            connections: None,
            users: None,
            flows: None,
            mailer: None,
            events: None,
            http: None,
            clock: None,
            group_lookup: None,
            admin: None,
            provisioned: None,
            #[cfg(feature = "saml")]
            saml_fetch_policy: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SsoConfig {
        &self.inner.config
    }

    /// The SAML service-provider metadata of a connection (entity id, ACS
    /// with HTTP-POST), to give to the customer's IdP.
    #[cfg(feature = "saml")]
    pub async fn saml_metadata(
        &self,
        connection: &crate::types::ConnectionId,
    ) -> Result<String, Error> {
        let conn = self
            .inner
            .connections
            .connection(connection)
            .await?
            .ok_or(BadRequest::NoConnection)?;
        match &conn.protocol {
            crate::connection::Protocol::Saml(s) => Ok(s.sp_metadata(self.inner.acs.as_str())),
            _ => Err(BadRequest::NoConnection.into()),
        }
    }

    /// The SAML assertion consumer service URL (HTTP-POST).
    pub fn saml_acs_url(&self) -> &Url {
        &self.inner.acs
    }

    /// The ACS URL for IdP-initiated logins of a connection:
    /// `{saml_acs_path}/{connection}` (configure it at the IdP).
    pub fn saml_idp_initiated_acs_url(&self, connection: &crate::types::ConnectionId) -> Url {
        let mut url = self.inner.acs.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(connection.as_str());
        }
        url
    }

    /// An IdP-initiated (unsolicited) SAML response posted to
    /// [`saml_idp_initiated_acs_url`](Self::saml_idp_initiated_acs_url).
    /// Refused unless the connection allows IdP-initiated logins; otherwise
    /// the response is fully validated (signature, audience, at most 90 s
    /// old, single use through the replay cache) and then turned into an
    /// ordinary SP-initiated login bound to this browser: the identity that
    /// signs in always comes from a browser-bound flow, so a posted
    /// unsolicited response cannot log a victim into someone else's account.
    #[cfg(feature = "saml")]
    pub async fn begin_from_idp_initiated(
        &self,
        connection: &crate::types::ConnectionId,
        form: &str,
    ) -> Result<Begin, Error> {
        let trace_id = TraceId::random();
        let callback =
            CallbackParams::parse(form).map_err(|e| self.fail(e, &trace_id, &Ctx::default()))?;
        let conn = self
            .inner
            .connections
            .connection(connection)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &Ctx::default()))?
            .filter(|c| c.enabled && c.protocol.family() == ProtocolFamily::Saml)
            .ok_or_else(|| {
                self.fail(BadRequest::NoConnection.into(), &trace_id, &Ctx::default())
            })?;
        let ctx = Ctx {
            connection: Some(&conn),
            ..Ctx::default()
        };
        let acs = self.saml_idp_initiated_acs_url(connection);
        let identity = self
            .inner
            .saml
            .finish_unsolicited(&conn, acs.as_str(), &callback, self.now())
            .await
            .map_err(|e| self.fail(e, &trace_id, &ctx))?;
        self.emit(
            EventKind::LoginStarted,
            &trace_id,
            &Ctx {
                identity: Some(&identity),
                ..ctx
            },
            Some("idp_initiated".into()),
        );
        let hint = identity.profile.verified_email().map(str::to_owned);
        self.start_on(&conn, "/".to_owned(), hint.as_deref(), None, trace_id)
            .await
    }

    /// The OIDC redirect URI to register at identity providers.
    pub fn oidc_redirect_uri(&self) -> &Url {
        &self.inner.callback
    }

    fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    fn emit(&self, kind: EventKind, trace_id: &TraceId, ctx: &Ctx<'_>, reason: Option<String>) {
        let event = Event {
            kind,
            trace_id: trace_id.clone(),
            at: self.now(),
            tenant: ctx
                .tenant
                .or(ctx.connection.map(|c| &c.tenant))
                .or(ctx.user.map(|u| &u.tenant))
                .cloned(),
            connection: ctx
                .connection
                .map(|c| c.id.clone())
                .or(ctx.identity.map(|i| i.key.connection.clone())),
            user: ctx.user.map(|u| u.id.clone()),
            subject: ctx.identity.map(|i| i.key.subject.clone()),
            reason,
        };
        self.inner.events.emit(&event);
    }

    fn fail(&self, err: Error, trace_id: &TraceId, ctx: &Ctx<'_>) -> Error {
        self.emit(
            EventKind::LoginFailed,
            trace_id,
            ctx,
            Some(err.code().to_owned()),
        );
        err.with_trace(trace_id)
    }

    async fn put<T: Serialize>(&self, key: &str, value: &T, ttl: Duration) -> Result<(), Error> {
        let bytes =
            serde_json::to_vec(value).map_err(|e| StoreError::new(format!("encode: {e}")))?;
        Ok(self.inner.flows.put(key, bytes, ttl).await?)
    }

    async fn take<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.inner.flows.take(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| StoreError::new("a stored flow entry is corrupt").into()),
        }
    }

    fn adapter(&self, conn: &Connection) -> Result<&Arc<dyn IdpAdapter>, Error> {
        self.inner
            .adapters
            .get(&conn.protocol.family())
            .ok_or_else(|| {
                Error::new(ErrorKind::Config(format!(
                    "connection {}: its protocol is not enabled in this build",
                    conn.id
                )))
            })
    }

    /// Begins a login: finds the connection (home-realm discovery), stores the
    /// pending login and returns where to send the browser, with the flow
    /// cookie to set, or a list of connections to choose from.
    pub async fn begin_login(&self, request: BeginLogin) -> Result<Begin, Error> {
        let trace_id = TraceId::random();
        let ctx = Ctx::default();
        let return_to = validate_return_to(request.return_to.as_deref())
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
        let conn = match discover(self.inner.connections.as_ref(), &request.hint).await {
            Ok(Discovered::One(c)) => c,
            Ok(Discovered::Choose(list)) => {
                let tenant = list.first().map(|c| c.tenant.clone());
                self.emit(
                    EventKind::ConnectionChoice,
                    &trace_id,
                    &Ctx {
                        tenant: tenant.as_ref(),
                        ..Ctx::default()
                    },
                    None,
                );
                return Ok(Begin::Choose(Choose {
                    connections: list
                        .iter()
                        .map(|c| ConnectionChoice {
                            id: c.id.clone(),
                            name: c.display_name.clone(),
                        })
                        .collect(),
                    trace_id,
                }));
            }
            Err(e) => return Err(self.fail(e, &trace_id, &ctx)),
        };
        let login_hint = match &request.hint {
            LoginHint::Email(e) => Some(e.trim()),
            _ => None,
        };
        self.start_on(&conn, return_to, login_hint, None, trace_id)
            .await
    }

    /// Starts the IdP request on `conn` and stores the pending login.
    async fn start_on(
        &self,
        conn: &Connection,
        return_to: String,
        login_hint: Option<&str>,
        activation: Option<String>,
        trace_id: TraceId,
    ) -> Result<Begin, Error> {
        let ctx = Ctx {
            connection: Some(conn),
            ..Ctx::default()
        };
        let state = new_handle(&conn.tenant);
        let flow_cookie = random_token(32);
        let now = self.now();
        let redirect_uri = match conn.protocol.family() {
            ProtocolFamily::Oidc => &self.inner.callback,
            #[allow(unreachable_patterns)]
            _ => &self.inner.acs,
        };
        let started = self
            .adapter(conn)
            .map_err(|e| self.fail(e, &trace_id, &ctx))?
            .start(
                conn,
                StartRequest {
                    redirect_uri,
                    state: &state,
                    login_hint,
                    now,
                },
            )
            .await
            .map_err(|e| self.fail(e, &trace_id, &ctx))?;
        let pending = PendingLogin {
            connection: conn.id.clone(),
            tenant: conn.tenant.clone(),
            browser: browser_binding(&flow_cookie),
            expires_at: now + self.inner.config.login_ttl,
            return_to,
            protocol: started.state,
            trace_id: trace_id.clone(),
            activation,
        };
        self.put(
            &store_key("login", &state),
            &pending,
            self.inner.config.login_ttl,
        )
        .await
        .map_err(|e| self.fail(e, &trace_id, &ctx))?;
        self.emit(EventKind::LoginStarted, &trace_id, &ctx, None);
        Ok(Begin::Redirect(Redirect {
            url: started.url,
            post_fields: started.post_fields,
            flow_cookie: SecretString::new(flow_cookie),
            trace_id,
        }))
    }

    /// Completes a login from the IdP's callback: `params` is the callback's
    /// query string (OIDC) without the `?`, or the form body of a SAML
    /// HTTP-POST (`SAMLResponse=…&RelayState=…`); `flow_cookie` the value of
    /// the [`FLOW_COOKIE`](crate::flow::FLOW_COOKIE) cookie.
    ///
    /// A SAML response arrives by a cross-site POST, on which browsers do not
    /// send `SameSite=Lax` cookies: when the flow cookie is missing, answer
    /// the POST with [`flow::same_site_repost`](crate::flow::same_site_repost)
    /// instead, which posts the same form again from this site.
    ///
    /// The pending login is consumed whatever the result: a callback can be
    /// used once.
    pub async fn complete_login(
        &self,
        params: &str,
        flow_cookie: Option<&str>,
    ) -> Result<Outcome, Error> {
        let unknown = TraceId::random();
        let callback =
            CallbackParams::parse(params).map_err(|e| self.fail(e, &unknown, &Ctx::default()))?;
        // OIDC carries the handle as `state`; SAML as `RelayState`. Exactly one.
        let state = match (callback.get("state"), callback.get("RelayState")) {
            (Some(s), None) | (None, Some(s)) if !s.is_empty() => s,
            (Some(_), Some(_)) => {
                return Err(self.fail(
                    BadRequest::Malformed("callback (both state and RelayState)").into(),
                    &unknown,
                    &Ctx::default(),
                ));
            }
            _ => {
                return Err(self.fail(
                    BadRequest::MissingParameter("state").into(),
                    &unknown,
                    &Ctx::default(),
                ));
            }
        };
        if state.len() > 512 {
            return Err(self.fail(
                BadRequest::TooLarge("state").into(),
                &unknown,
                &Ctx::default(),
            ));
        }
        let pending: PendingLogin = self
            .take(&store_key("login", state))
            .await
            .map_err(|e| self.fail(e, &unknown, &Ctx::default()))?
            .ok_or_else(|| self.fail(FlowError::UnknownState.into(), &unknown, &Ctx::default()))?;
        let trace_id = pending.trace_id.clone();
        let ctx = Ctx {
            tenant: Some(&pending.tenant),
            ..Ctx::default()
        };
        let now = self.now();
        pending
            .check(flow_cookie, now)
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
        let conn = self
            .inner
            .connections
            .connection(&pending.connection)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
            .filter(|c| c.tenant == pending.tenant)
            .ok_or_else(|| self.fail(BadRequest::NoConnection.into(), &trace_id, &ctx))?;
        let ctx = Ctx {
            connection: Some(&conn),
            ..Ctx::default()
        };
        if let Some(error) = callback.get("error") {
            let description = callback
                .get("error_description")
                .map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect());
            let err = crate::error::IdpError::Authorization {
                error: error
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(64)
                    .collect(),
                description,
            };
            return Err(self.fail(err.into(), &trace_id, &ctx));
        }
        let mut identity = self
            .adapter(&conn)
            .map_err(|e| self.fail(e, &trace_id, &ctx))?
            .finish(&conn, &pending.protocol, &callback, now)
            .await
            .map_err(|e| self.fail(e, &trace_id, &ctx))?;
        if identity.profile.groups_incomplete
            && let Some(lookup) = &self.inner.group_lookup
        {
            identity.profile.groups = lookup
                .groups(&conn, &identity)
                .await
                .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
            identity.profile.groups_incomplete = false;
        }
        if identity.key.connection != conn.id {
            return Err(self.fail(
                Error::new(ErrorKind::Config(
                    "adapter returned an identity of another connection".into(),
                )),
                &trace_id,
                &ctx,
            ));
        }
        self.resolve(
            &conn,
            identity,
            pending.return_to,
            &pending.browser,
            pending.activation,
            trace_id,
        )
        .await
    }

    async fn resolve(
        &self,
        conn: &Connection,
        identity: VerifiedIdentity,
        return_to: String,
        browser: &str,
        activation: Option<String>,
        trace_id: TraceId,
    ) -> Result<Outcome, Error> {
        let ctx = Ctx {
            connection: Some(conn),
            identity: Some(&identity),
            ..Ctx::default()
        };
        let tenant = self
            .inner
            .connections
            .tenant(&conn.tenant)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
            .ok_or_else(|| {
                self.fail(
                    Error::new(ErrorKind::Config(format!(
                        "tenant {} does not exist",
                        conn.tenant
                    ))),
                    &trace_id,
                    &ctx,
                )
            })?;
        if let Err(reason) = policy::admit(conn, &tenant, &identity) {
            return Ok(self.denied(reason, trace_id, &ctx));
        }
        if let Some(token) = activation {
            return self
                .complete_activation(conn, identity, &token, return_to, trace_id)
                .await;
        }
        let users = &self.inner.users;
        let mut linked = users
            .find_by_identity(&identity.key)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
        // A user the same IdP provisioned ahead of time (SCIM) is this
        // identity's account: link it, never create a second one.
        if linked.is_none()
            && let Some(provisioned) = &self.inner.provisioned
            && let Some(p) = provisioned
                .find(&conn.tenant, &identity)
                .await
                .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
        {
            if p.disabled {
                return Ok(self.denied(DenyReason::UserInactive, trace_id, &ctx));
            }
            if let Some(user) = users
                .find_by_id(&conn.tenant, &p.user)
                .await
                .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
            {
                if user.active {
                    match users
                        .link_identity(&user.id, &identity.key)
                        .await
                        .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
                    {
                        LinkResult::Linked | LinkResult::AlreadyLinked => {}
                        LinkResult::LinkedToAnother => {
                            return Err(self.fail(
                                LinkError::IdentityLinkedElsewhere.into(),
                                &trace_id,
                                &ctx,
                            ));
                        }
                    }
                }
                linked = Some(user);
            }
        }
        let same_email = match (&linked, identity.profile.verified_email()) {
            (None, Some(email)) => users
                .find_by_email(&conn.tenant, email)
                .await
                .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?,
            _ => Vec::new(),
        };
        let resolution = match policy::resolve(conn, &identity, linked, same_email) {
            Resolution::SignIn(u) if !policy::in_rollout(conn, &identity, Some(&u)) => {
                Resolution::Deny(DenyReason::NotInRollout)
            }
            Resolution::OfferLink(u) if !policy::in_rollout(conn, &identity, Some(&u)) => {
                Resolution::Deny(DenyReason::NotInRollout)
            }
            Resolution::Provision(_) if !policy::in_rollout(conn, &identity, None) => {
                Resolution::Deny(DenyReason::NotInRollout)
            }
            other => other,
        };
        match resolution {
            Resolution::SignIn(user) => Ok(self
                .signed_in(
                    user,
                    identity,
                    SignInKind::Linked,
                    return_to,
                    trace_id,
                    conn,
                )
                .await),
            Resolution::Provision(new) => {
                let user = users
                    .provision(&conn.tenant, new)
                    .await
                    .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
                if !user.active {
                    // The identity was linked meanwhile to a disabled user:
                    // never reactivate.
                    return Ok(self.denied(
                        DenyReason::UserInactive,
                        trace_id,
                        &Ctx {
                            user: Some(&user),
                            ..ctx
                        },
                    ));
                }
                self.emit(
                    EventKind::Provisioned,
                    &trace_id,
                    &Ctx {
                        user: Some(&user),
                        ..ctx
                    },
                    None,
                );
                Ok(self
                    .signed_in(
                        user,
                        identity,
                        SignInKind::Provisioned,
                        return_to,
                        trace_id,
                        conn,
                    )
                    .await)
            }
            Resolution::OfferLink(user) => {
                let offer = new_handle(&user.tenant);
                let pending = PendingOffer {
                    user: user.id.clone(),
                    tenant: user.tenant.clone(),
                    identity: identity.clone(),
                    browser: browser.to_owned(),
                    expires_at: self.now() + self.inner.config.offer_ttl,
                    return_to,
                    trace_id: trace_id.clone(),
                };
                self.put(
                    &store_key("offer", &offer),
                    &pending,
                    self.inner.config.offer_ttl,
                )
                .await
                .map_err(|e| self.fail(e, &trace_id, &ctx))?;
                self.emit(
                    EventKind::LinkOffered,
                    &trace_id,
                    &Ctx {
                        user: Some(&user),
                        ..ctx
                    },
                    None,
                );
                Ok(Outcome::LinkOffered(LinkOffer {
                    offer: SecretString::new(offer),
                    masked_email: mask_email(&user.email),
                    allow_new_account: conn.offer_new_account && conn.jit,
                    connection: conn.id.clone(),
                    trace_id,
                }))
            }
            Resolution::Deny(reason) => Ok(self.denied(reason, trace_id, &ctx)),
        }
    }

    /// Answers a [`LinkOffer`]: `offer` is the offer handle from the form,
    /// `flow_cookie` the browser's flow cookie. For [`LinkChoice::Link`] a
    /// single-use confirmation link, valid 5 minutes, is mailed to the
    /// existing account's own address. The offer is consumed either way.
    pub async fn choose(
        &self,
        offer: &str,
        flow_cookie: Option<&str>,
        choice: LinkChoice,
    ) -> Result<ChoiceOutcome, Error> {
        let unknown = TraceId::random();
        if offer.is_empty() || offer.len() > 512 {
            return Err(self.fail(FlowError::UnknownOffer.into(), &unknown, &Ctx::default()));
        }
        let pending: PendingOffer = self
            .take(&store_key("offer", offer))
            .await
            .map_err(|e| self.fail(e, &unknown, &Ctx::default()))?
            .ok_or_else(|| self.fail(FlowError::UnknownOffer.into(), &unknown, &Ctx::default()))?;
        let trace_id = pending.trace_id.clone();
        let now = self.now();
        let ctx = Ctx {
            tenant: Some(&pending.tenant),
            identity: Some(&pending.identity),
            ..Ctx::default()
        };
        pending
            .check(flow_cookie, now)
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
        let conn = self
            .inner
            .connections
            .connection(&pending.identity.key.connection)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
            .filter(|c| c.tenant == pending.tenant)
            .ok_or_else(|| self.fail(BadRequest::NoConnection.into(), &trace_id, &ctx))?;
        let ctx = Ctx {
            connection: Some(&conn),
            ..ctx
        };
        if !conn.enabled {
            return Ok(ChoiceOutcome::Outcome(self.denied(
                DenyReason::ConnectionDisabled,
                trace_id,
                &ctx,
            )));
        }
        match choice {
            LinkChoice::NewAccount => {
                if !(conn.offer_new_account && conn.jit) {
                    return Err(self.fail(FlowError::ChoiceNotAllowed.into(), &trace_id, &ctx));
                }
                let user = self
                    .inner
                    .users
                    .provision(&conn.tenant, policy::new_user(&conn, &pending.identity))
                    .await
                    .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
                if !user.active {
                    return Ok(ChoiceOutcome::Outcome(self.denied(
                        DenyReason::UserInactive,
                        trace_id,
                        &ctx,
                    )));
                }
                self.emit(
                    EventKind::Provisioned,
                    &trace_id,
                    &Ctx {
                        user: Some(&user),
                        ..ctx
                    },
                    None,
                );
                Ok(ChoiceOutcome::Outcome(
                    self.signed_in(
                        user,
                        pending.identity,
                        SignInKind::Provisioned,
                        pending.return_to,
                        trace_id,
                        &conn,
                    )
                    .await,
                ))
            }
            LinkChoice::Link => {
                let mailer = self.inner.mailer.as_ref().ok_or_else(|| {
                    self.fail(
                        Error::new(ErrorKind::Config(
                            "linking needs a Mailer (SsoBuilder::mailer)".into(),
                        )),
                        &trace_id,
                        &ctx,
                    )
                })?;
                let user = self
                    .inner
                    .users
                    .find_by_id(&pending.tenant, &pending.user)
                    .await
                    .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
                    .ok_or_else(|| self.fail(LinkError::AccountChanged.into(), &trace_id, &ctx))?;
                if !user.active {
                    return Ok(ChoiceOutcome::Outcome(self.denied(
                        DenyReason::UserInactive,
                        trace_id,
                        &Ctx {
                            user: Some(&user),
                            ..ctx
                        },
                    )));
                }
                let token = new_handle(&user.tenant);
                let ttl = self.inner.config.link_ttl;
                let ticket = LinkTicket {
                    user: user.id.clone(),
                    tenant: user.tenant.clone(),
                    email: user.email.clone(),
                    identity: pending.identity.clone(),
                    browser: pending.browser.clone(),
                    expires_at: now + ttl,
                    return_to: pending.return_to,
                    trace_id: trace_id.clone(),
                };
                self.put(
                    &store_key("link", &token),
                    &ticket,
                    ttl + Duration::from_secs(60),
                )
                .await
                .map_err(|e| self.fail(e, &trace_id, &ctx))?;
                let mut link = self.inner.link_confirm.clone();
                link.query_pairs_mut().append_pair("token", &token);
                let app = &self.inner.config.app_name;
                let idp_email = pending
                    .identity
                    .profile
                    .email
                    .as_deref()
                    .unwrap_or("(no e-mail)");
                let body = format!(
                    "Someone signing in to {app} through single sign-on ({conn_name}, as {idp_email}) asked to \
                     link that identity to your account {to}.\n\nIf this was you, open this link in the same \
                     browser within {mins} minutes:\n\n{link}\n\nIf it was not you, ignore this mail; nothing \
                     changes. Reference: {trace_id}",
                    conn_name = conn.display_name,
                    to = user.email,
                    mins = ttl.as_secs().div_ceil(60),
                );
                mailer
                    .send(Mail {
                        kind: MailKind::LinkConfirmation,
                        to: user.email.clone(),
                        subject: format!("Confirm linking your {app} account"),
                        body: SecretString::new(body),
                        link: SecretString::new(link.to_string()),
                    })
                    .await
                    .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
                self.emit(
                    EventKind::LinkRequested,
                    &trace_id,
                    &Ctx {
                        user: Some(&user),
                        ..ctx
                    },
                    None,
                );
                Ok(ChoiceOutcome::LinkMailed {
                    masked_email: mask_email(&user.email),
                    valid_for_secs: ttl.as_secs(),
                    trace_id,
                })
            }
        }
    }

    /// Confirms a mailed link: `token` from the link's query, `flow_cookie`
    /// the browser's flow cookie (the link works only in the browser that
    /// asked for it). Links the identity to the account and signs in.
    /// The token is consumed whatever the result.
    pub async fn confirm_link(
        &self,
        token: &str,
        flow_cookie: Option<&str>,
    ) -> Result<Outcome, Error> {
        let unknown = TraceId::random();
        if token.is_empty() || token.len() > 512 {
            return Err(self.link_refused(LinkError::Invalid, &unknown, &Ctx::default()));
        }
        let ticket: LinkTicket = self
            .take(&store_key("link", token))
            .await
            .map_err(|e| self.fail(e, &unknown, &Ctx::default()))?
            .ok_or_else(|| self.link_refused(LinkError::Invalid, &unknown, &Ctx::default()))?;
        let trace_id = ticket.trace_id.clone();
        let ctx = Ctx {
            tenant: Some(&ticket.tenant),
            identity: Some(&ticket.identity),
            ..Ctx::default()
        };
        ticket
            .check(flow_cookie, self.now())
            .map_err(|e| self.link_refused(e, &trace_id, &ctx))?;
        let conn = self
            .inner
            .connections
            .connection(&ticket.identity.key.connection)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
            .filter(|c| c.tenant == ticket.tenant)
            .ok_or_else(|| self.fail(BadRequest::NoConnection.into(), &trace_id, &ctx))?;
        let ctx = Ctx {
            connection: Some(&conn),
            ..ctx
        };
        if !conn.enabled {
            return Ok(self.denied(DenyReason::ConnectionDisabled, trace_id, &ctx));
        }
        let user = self
            .inner
            .users
            .find_by_id(&ticket.tenant, &ticket.user)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?;
        ticket
            .check_user(user.as_ref())
            .map_err(|e| self.link_refused(e, &trace_id, &ctx))?;
        let Some(user) = user else {
            return Err(self.link_refused(LinkError::AccountChanged, &trace_id, &ctx));
        };
        let ctx = Ctx {
            user: Some(&user),
            ..ctx
        };
        if !user.active {
            return Ok(self.denied(DenyReason::UserInactive, trace_id, &ctx));
        }
        match self
            .inner
            .users
            .link_identity(&user.id, &ticket.identity.key)
            .await
            .map_err(|e| self.fail(e.into(), &trace_id, &ctx))?
        {
            LinkResult::Linked | LinkResult::AlreadyLinked => {}
            LinkResult::LinkedToAnother => {
                return Err(self.link_refused(LinkError::IdentityLinkedElsewhere, &trace_id, &ctx));
            }
        }
        self.emit(EventKind::LinkConfirmed, &trace_id, &ctx, None);
        Ok(self
            .signed_in(
                user,
                ticket.identity,
                SignInKind::LinkConfirmed,
                ticket.return_to,
                trace_id,
                &conn,
            )
            .await)
    }

    fn link_refused(&self, err: LinkError, trace_id: &TraceId, ctx: &Ctx<'_>) -> Error {
        self.emit(
            EventKind::LinkRefused,
            trace_id,
            ctx,
            Some(format!("{err:?}")),
        );
        Error::from(err).with_trace(trace_id)
    }

    fn denied(&self, reason: DenyReason, trace_id: TraceId, ctx: &Ctx<'_>) -> Outcome {
        if reason == DenyReason::DuplicateEmail {
            self.emit(
                EventKind::DuplicateEmail,
                &trace_id,
                ctx,
                Some(reason.code().to_owned()),
            );
        }
        self.emit(
            EventKind::Denied,
            &trace_id,
            ctx,
            Some(reason.code().to_owned()),
        );
        Outcome::Denied(Denied { reason, trace_id })
    }

    async fn signed_in(
        &self,
        user: LocalUser,
        identity: VerifiedIdentity,
        kind: SignInKind,
        return_to: String,
        trace_id: TraceId,
        conn: &Connection,
    ) -> Outcome {
        // For the migration-hygiene report; a failure here must not fail the login.
        if let Err(e) = self
            .inner
            .users
            .record_sign_in(&user.id, &identity.key, self.now())
            .await
        {
            tracing::warn!(target: "ssokit::events", error = %e, "recording the sign-in failed");
        }
        self.emit(
            EventKind::SignedIn,
            &trace_id,
            &Ctx {
                connection: Some(conn),
                user: Some(&user),
                identity: Some(&identity),
                ..Ctx::default()
            },
            Some(format!("{kind:?}").to_lowercase()),
        );
        Outcome::SignedIn(SignedIn {
            user,
            identity: identity.key,
            profile: identity.profile,
            kind,
            return_to,
            trace_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::StaticConnections;
    use crate::hooks::MemoryDirectory;
    use crate::saml::metadata::tests::{get, loopback_by_name};

    fn builder() -> SsoBuilder {
        Sso::builder(SsoConfig::new(Url::parse("https://app.example").unwrap()))
            .connections(Arc::new(StaticConnections::new(vec![], vec![]).unwrap()))
            .users(Arc::new(MemoryDirectory::new()))
    }

    /// The SAML metadata fetcher `Sso` builds: without a host client it
    /// resolves names to public addresses only (unless the fetch policy
    /// allows private ones); a host's own client is used as given.
    #[cfg(all(feature = "saml", feature = "reqwest"))]
    #[tokio::test]
    async fn metadata_fetches_reach_public_addresses_only() {
        let (_server, url) = loopback_by_name().await;
        let fetcher_http = |sso: &Sso| sso.inner.saml.metadata_fetcher().unwrap().http().clone();
        let strict = builder().build().unwrap();
        assert!(!get(fetcher_http(&strict).as_ref(), &url).await);
        let local = builder()
            .saml_fetch_policy(crate::saml::metadata::FetchPolicy::insecure_allow_local())
            .build()
            .unwrap();
        assert!(get(fetcher_http(&local).as_ref(), &url).await);
        let own: Arc<dyn HttpClient> = Arc::new(crate::http::ReqwestClient::new());
        let hosted = builder().http(own.clone()).build().unwrap();
        assert!(Arc::ptr_eq(&fetcher_http(&hosted), &own));
    }
}
