//! The demo's routes: how a host application wires ssokit into axum.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use ssokit::flow::{ChoiceOutcome, FLOW_COOKIE, LinkOffer, Outcome, SignedIn};
use ssokit::hooks::{MemoryEvents, MemoryMailer};
use ssokit::scim::{RateLimit, ScimConfig, ScimService};
use ssokit::secret::{random_token, sha256_hex};
use ssokit::store::{FlowStore, MemoryFlowStore};
use ssokit::testkit::saml::{DevSamlIdp, SamlUser};
use ssokit::testkit::{DevProvider, DevUser};
use ssokit::{
    Begin, BeginLogin, ConnectionId, LinkChoice, LoginHint, Sso, SsoConfig, StaticConnections,
};
use url::Url;

use crate::config::DemoConfig;
use crate::db::Db;
use crate::pages;

const SESSION_COOKIE: &str = "demo_session";

#[derive(Clone)]
pub(crate) struct AppState {
    sso: Sso,
    users: Db,
    scim: Option<Arc<ScimService>>,
    mailer: MemoryMailer,
    events: MemoryEvents,
    dev_idp: DevProvider,
    dev_saml: DevSamlIdp,
    public_url: Url,
    secure_cookies: bool,
    base_domain: Option<String>,
}

impl AppState {
    pub(crate) async fn new(mut config: DemoConfig, addr: SocketAddr) -> Result<Self, String> {
        let public_url = Url::parse(
            config
                .public_url
                .as_deref()
                .unwrap_or(&format!("http://{addr}")),
        )
        .map_err(|_| "public_url is not a URL".to_owned())?;
        // The development SAML IdP, in this process at /dev/saml.
        let sp_entity_id = public_url
            .join("/sso/saml/metadata")
            .map_err(|_| "public_url is not a base URL".to_owned())?;
        let acs = public_url
            .join("/sso/saml/acs")
            .map_err(|_| "public_url is not a base URL".to_owned())?;
        let dev_saml = DevSamlIdp::new(
            public_url
                .join("/dev/saml")
                .map_err(|_| "bad public_url".to_owned())?,
        )
        .with_sp(sp_entity_id.as_str(), acs.as_str())
        .with_user(SamlUser {
            name: "Gina Globex".into(),
            ..SamlUser::new("gina@globex.test")
        })
        .with_user(SamlUser::new("greg@globex.test").with_groups(["staff"]));
        for spec in config.connections.iter_mut().filter(|c| c.kind == "saml") {
            spec.sp_entity_id
                .get_or_insert_with(|| sp_entity_id.to_string());
            if spec.idp_metadata.is_none()
                && spec.idp_metadata_file.is_none()
                && let Some(url) = spec.idp_metadata_url.clone()
            {
                spec.idp_metadata = Some(if url == dev_saml.metadata_url().as_str() {
                    dev_saml.metadata_xml()
                } else {
                    fetch_metadata(&url).await?
                });
            }
        }
        let (tenants, connections) = config.validated()?;
        let store =
            Arc::new(StaticConnections::new(tenants, connections).map_err(|e| e.to_string())?);
        let users = Db::open(config.database.as_deref())?;
        for u in &config.users {
            users.seed_user(
                &u.tenant,
                &u.email,
                u.name.as_deref(),
                u.active,
                u.role.as_deref(),
            );
        }
        let flows: Arc<dyn FlowStore> = match config.store.as_deref() {
            None | Some("memory") => Arc::new(MemoryFlowStore::new()),
            #[cfg(feature = "redis")]
            Some(url) if url.starts_with("redis://") => Arc::new(
                ssokit::store::RedisFlowStore::connect(ssokit::store::RedisSettings::new(url))
                    .await
                    .map_err(|e| format!("store: {e}"))?,
            ),
            #[cfg(not(feature = "redis"))]
            Some(url) if url.starts_with("redis://") => {
                return Err("store: Redis needs the `redis` feature (cargo run --features redis --example demo)".into());
            }
            Some(other) => {
                return Err(format!(
                    "store: expected `memory` or redis://…, got `{other}`"
                ));
            }
        };
        let mailer = MemoryMailer::new();
        let events = MemoryEvents::new();
        let scim = match &config.scim {
            Some(c) => Some(Arc::new(
                build_scim(
                    c,
                    &public_url,
                    &users,
                    store.clone(),
                    &events,
                    flows.clone(),
                )
                .await?,
            )),
            None => None,
        };
        let callback = public_url
            .join("/sso/oidc/callback")
            .map_err(|_| "public_url is not a base URL".to_owned())?;
        let dev_issuer = public_url
            .join("/dev/idp")
            .map_err(|_| "public_url is not a base URL".to_owned())?;
        let dev_idp = DevProvider::new(dev_issuer)
            .with_client("demo", "demo-secret", &[callback.as_str()])
            .with_user(DevUser {
                name: "Ann Admin".into(),
                ..DevUser::new("ann@acme.test")
            })
            .with_user(DevUser::new("bob@acme.test"))
            .with_user(DevUser::new("carol@acme.test"))
            .with_user(DevUser {
                name: "Dave Newcomer".into(),
                ..DevUser::new("dave@acme.test").with_groups(["staff"])
            });
        dev_idp.set_auto_login_from_hint(config.dev_idp_auto_login);
        let sso = Sso::builder(SsoConfig::new(public_url.clone()).app_name("the ssokit demo"))
            .connections(store.clone())
            .users(Arc::new(users.clone()))
            .mailer(Arc::new(mailer.clone()))
            .events(Arc::new(events.clone()))
            .flows(flows)
            .admin_directory(Arc::new(users.clone()))
            .saml_fetch_policy(demo_fetch_policy());
        let sso = match &scim {
            Some(scim) => sso.provisioned_accounts(Arc::new(crate::scim::DemoProvisioned {
                scim: scim.clone(),
                db: users.clone(),
            })),
            None => sso,
        };
        let sso = sso.build().map_err(|e| e.to_string())?;
        Ok(Self {
            sso,
            users,
            scim,
            mailer,
            events,
            dev_idp,
            dev_saml,
            secure_cookies: public_url.scheme() == "https",
            base_domain: config.base_domain.clone().map(|d| d.to_ascii_lowercase()),
            public_url,
        })
    }

    pub(crate) fn public_url(&self) -> &Url {
        &self.public_url
    }

    pub(crate) fn sso(&self) -> &Sso {
        &self.sso
    }

    pub(crate) fn users(&self) -> &Db {
        &self.users
    }

    pub(crate) fn events(&self) -> &MemoryEvents {
        &self.events
    }

    /// The signed-in user, if any.
    pub(crate) fn signed_in(&self, headers: &HeaderMap) -> Option<ssokit::LocalUser> {
        self.session(headers).map(|(u, _)| u)
    }

    /// The signed-in user and connection. Sessions are stored by the hash
    /// of the cookie, and the user is read afresh: a disabled user's session
    /// ends at once.
    fn session(&self, headers: &HeaderMap) -> Option<(ssokit::LocalUser, String)> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let (user, connection) = self.users.session(&sha256_hex(id.as_bytes()))?;
        self.users
            .user(&user)
            .filter(|u| u.active)
            .map(|u| (u, connection))
    }

    fn cookie_header(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .expect("cookie values are base64url")
    }
}

pub(crate) fn router(state: AppState) -> Router {
    let idp = state.dev_idp.router();
    let saml_idp = state.dev_saml.router();
    Router::new()
        .route("/", get(home))
        .route("/login", post(login))
        .route("/sso/oidc/callback", get(callback))
        .route(
            "/sso/saml/acs",
            post(saml_acs).layer(DefaultBodyLimit::max(ssokit::protocol::MAX_SAML_FORM_BYTES)),
        )
        .route(
            "/sso/saml/acs/{connection}",
            post(saml_idp_initiated)
                .layer(DefaultBodyLimit::max(ssokit::protocol::MAX_SAML_FORM_BYTES)),
        )
        .route("/sso/saml/metadata", get(saml_metadata))
        .route("/link/choose", post(choose))
        .route("/link/confirm", get(confirm))
        .route("/me", get(me))
        .route("/logout", post(logout))
        .route("/activate", get(activate))
        .route("/admin", get(crate::admin::index))
        .route("/admin/reset", post(crate::admin::reset))
        .route("/admin/disable", post(crate::admin::disable))
        .route("/admin/unlink", post(crate::admin::unlink))
        .route("/admin/audit", get(crate::admin::audit))
        .route("/admin/hygiene", get(crate::admin::hygiene))
        .route("/admin/events", get(crate::admin::events))
        .route("/scim/v2", any(scim_handler))
        .route("/scim/v2/{*rest}", any(scim_handler))
        .route("/dev/outbox", get(outbox))
        .route("/dev/users", get(dev_users))
        .route("/dev/events", get(dev_events))
        .nest_service("/dev/idp", idp)
        .nest_service("/dev/saml", saml_idp)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn error_page(err: &ssokit::Error) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let trace = err.trace_id().map(|t| t.to_string());
    (
        status,
        Html(pages::error(&err.to_string(), trace.as_deref())),
    )
        .into_response()
}

async fn home(State(st): State<AppState>, headers: HeaderMap) -> Response {
    match st.session(&headers) {
        Some((user, _)) => {
            let identities = st.users.identities_of(&user.id);
            Html(pages::signed_in(&user, &identities)).into_response()
        }
        None => Html(pages::login(subdomain(&st, &headers).as_deref())).into_response(),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    email: Option<String>,
    connection: Option<String>,
    return_to: Option<String>,
}

/// The tenant label of a request to `{label}.{base_domain}`, if any.
fn subdomain(st: &AppState, headers: &HeaderMap) -> Option<String> {
    let base = st.base_domain.as_deref()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .to_ascii_lowercase();
    let label = host.strip_suffix(base)?.strip_suffix('.')?;
    (!label.is_empty() && !label.contains('.')).then(|| label.to_owned())
}

async fn login(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let hint = match (
        form.connection.filter(|c| !c.is_empty()),
        form.email.filter(|e| !e.trim().is_empty()),
        subdomain(&st, &headers),
    ) {
        (Some(id), _, _) => LoginHint::Connection(ConnectionId::new(id)),
        (None, Some(email), _) => LoginHint::Email(email.trim().to_owned()),
        (None, None, Some(label)) => LoginHint::Subdomain(label),
        (None, None, None) => {
            return (
                StatusCode::BAD_REQUEST,
                Html(pages::error("Type your work e-mail address.", None)),
            )
                .into_response();
        }
    };
    let return_to = form.return_to.clone();
    match st
        .sso
        .begin_login(BeginLogin {
            hint,
            return_to: form.return_to,
        })
        .await
    {
        Ok(Begin::Redirect(r)) => to_idp(&st, &r),
        Ok(Begin::Choose(c)) => {
            Html(pages::choose(&c.connections, return_to.as_deref())).into_response()
        }
        Ok(_) => (StatusCode::INTERNAL_SERVER_ERROR, "unexpected").into_response(),
        Err(e) => error_page(&e),
    }
}

/// Turns an outcome into a response: a new session on sign-in (a fresh
/// session id, so a session id planted before login is worthless).
fn outcome_response(st: &AppState, outcome: Outcome) -> Response {
    match outcome {
        Outcome::SignedIn(SignedIn {
            user,
            identity,
            return_to,
            ..
        }) => {
            // A fresh session id: one planted before the login is worthless.
            let sid = random_token(32);
            st.users.create_session(
                &sha256_hex(sid.as_bytes()),
                &user.id,
                identity.connection.as_str(),
            );
            let mut resp = (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, return_to.as_str())],
            )
                .into_response();
            let h = resp.headers_mut();
            h.append(
                header::SET_COOKIE,
                st.cookie_header(SESSION_COOKIE, &sid, 8 * 3600),
            );
            h.append(header::SET_COOKIE, st.cookie_header(FLOW_COOKIE, "", 0));
            resp
        }
        Outcome::LinkOffered(LinkOffer {
            offer,
            masked_email,
            allow_new_account,
            ..
        }) => Html(pages::link_offer(
            offer.expose(),
            &masked_email,
            allow_new_account,
        ))
        .into_response(),
        Outcome::Denied(d) => (
            StatusCode::FORBIDDEN,
            Html(pages::error(d.reason.message(), Some(d.trace_id.as_str()))),
        )
            .into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "unexpected").into_response(),
    }
}

async fn callback(
    State(st): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let flow = cookie(&headers, FLOW_COOKIE);
    match st
        .sso
        .complete_login(q.as_deref().unwrap_or(""), flow.as_deref())
        .await
    {
        Ok(outcome) => outcome_response(&st, outcome),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
struct ChooseForm {
    offer: String,
    choice: String,
}

async fn choose(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<ChooseForm>,
) -> Response {
    let choice = match form.choice.as_str() {
        "link" => LinkChoice::Link,
        "new" => LinkChoice::NewAccount,
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                Html(pages::error("Unknown choice.", None)),
            )
                .into_response();
        }
    };
    let flow = cookie(&headers, FLOW_COOKIE);
    match st.sso.choose(&form.offer, flow.as_deref(), choice).await {
        Ok(ChoiceOutcome::LinkMailed {
            masked_email,
            valid_for_secs,
            ..
        }) => {
            if let Some(mail) = st.mailer.last() {
                println!(
                    "--- mail to {} ---\n{}\n{}\n---",
                    mail.to,
                    mail.subject,
                    mail.body.expose()
                );
            }
            Html(pages::link_mailed(&masked_email, valid_for_secs)).into_response()
        }
        Ok(ChoiceOutcome::Outcome(o)) => outcome_response(&st, o),
        Ok(_) => (StatusCode::INTERNAL_SERVER_ERROR, "unexpected").into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
struct ConfirmQuery {
    token: Option<String>,
}

async fn confirm(
    State(st): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<ConfirmQuery>,
) -> Response {
    let flow = cookie(&headers, FLOW_COOKIE);
    match st
        .sso
        .confirm_link(q.token.as_deref().unwrap_or(""), flow.as_deref())
        .await
    {
        Ok(outcome) => outcome_response(&st, outcome),
        Err(e) => error_page(&e),
    }
}

async fn me(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some((user, connection)) = st.session(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "not signed in"})),
        )
            .into_response();
    };
    let identities: Vec<_> = st
        .users
        .identities_of(&user.id)
        .into_iter()
        .map(|i| serde_json::json!({"connection": i.connection, "subject": i.subject}))
        .collect();
    axum::Json(serde_json::json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "tenant": user.tenant,
        "role": user.role,
        "signed_in_with": connection,
        "identities": identities,
    }))
    .into_response()
}

async fn logout(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        st.users.delete_session(&sha256_hex(id.as_bytes()));
    }
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    resp.headers_mut()
        .append(header::SET_COOKIE, st.cookie_header(SESSION_COOKIE, "", 0));
    resp
}

async fn outbox(State(st): State<AppState>) -> Response {
    let mails: Vec<_> = st
        .mailer
        .sent()
        .into_iter()
        .map(|m| {
            serde_json::json!({
                "to": m.to,
                "subject": m.subject,
                "body": m.body.expose(),
                "link": m.link.expose(),
            })
        })
        .collect();
    axum::Json(mails).into_response()
}

async fn dev_users(State(st): State<AppState>) -> Response {
    axum::Json(st.users.users()).into_response()
}

async fn dev_events(State(st): State<AppState>) -> Response {
    axum::Json(st.events.all()).into_response()
}

async fn build_scim(
    c: &crate::config::ScimDemoConfig,
    public_url: &Url,
    db: &Db,
    connections: Arc<StaticConnections>,
    events: &MemoryEvents,
    flows: Arc<dyn FlowStore>,
) -> Result<ScimService, String> {
    let base = public_url
        .join("/scim/v2")
        .map_err(|_| "public_url is not a base URL".to_owned())?;
    let mut config = ScimConfig::new(base.as_str());
    // IdPs (and scim2-tester) send bursts; keep a limit, a generous one.
    config.rate_limit = Some(RateLimit {
        per_second: 500.0,
        burst: 2000.0,
    });
    let scim = ScimService::builder(config)
        .directory(Arc::new(crate::scim::DemoScimDirectory::new(db.clone())))
        .revoker(Arc::new(crate::scim::DemoRevoker { db: db.clone() }))
        .connections(connections)
        .events(Arc::new(events.clone()))
        // Limits hold across instances when the flow store is shared (Redis).
        .shared_limits(flows)
        .build()
        .map_err(|e| format!("scim: {e}"))?;
    scim.tokens()
        .register(
            &ssokit::TenantId::new(c.tenant.as_str()),
            Some(ConnectionId::new(c.connection.as_str())),
            "demo config",
            &ssokit::secret::SecretString::new(c.token.as_str()),
            std::time::SystemTime::now(),
        )
        .await
        .map_err(|e| format!("scim token: {e}"))?;
    Ok(scim)
}

/// `/scim/v2/*` → the framework-agnostic SCIM handler (path relative to the mount).
async fn scim_handler(State(st): State<AppState>, req: axum::extract::Request) -> Response {
    let Some(scim) = st.scim.clone() else {
        return (StatusCode::NOT_FOUND, "SCIM is not configured").into_response();
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 2 * 1024 * 1024).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request too large").into_response();
    };
    let path = parts.uri.path().strip_prefix("/scim/v2").unwrap_or("/");
    let path = if path.is_empty() { "/" } else { path };
    let uri = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut inner = http::Request::builder().method(parts.method).uri(uri);
    for (k, v) in &parts.headers {
        inner = inner.header(k, v);
    }
    let Ok(inner) = inner.body(bytes.to_vec()) else {
        return (StatusCode::BAD_REQUEST, "bad request").into_response();
    };
    let resp = scim.handle(inner, std::time::SystemTime::now()).await;
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[derive(Deserialize)]
struct ActivateQuery {
    token: Option<String>,
}

/// An activation link: starts an SSO login that links the identity to the
/// link's user.
async fn activate(
    State(st): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<ActivateQuery>,
) -> Response {
    match st
        .sso
        .begin_activation(q.token.as_deref().unwrap_or(""), None)
        .await
    {
        Ok(Begin::Redirect(r)) => to_idp(&st, &r),
        Ok(_) => (StatusCode::INTERNAL_SERVER_ERROR, "unexpected").into_response(),
        Err(e) => error_page(&e),
    }
}

fn auto_post(action: &str, fields: &[(String, String)]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                esc(k),
                esc(v)
            )
        })
        .collect();
    format!(
        r#"<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="{}">{inputs}<noscript><button>Continue</button></noscript></form></body></html>"#,
        esc(action)
    )
}

/// The SAML assertion consumer service (HTTP-POST binding). The IdP's POST
/// is cross-site, so the SameSite=Lax flow cookie is missing: bounce it once
/// through a same-site form post, then complete.
async fn saml_acs(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Ok(form) = std::str::from_utf8(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Html(pages::error("The sign-in response is not valid.", None)),
        )
            .into_response();
    };
    let flow = cookie(&headers, FLOW_COOKIE);
    if ssokit::flow::needs_same_site_repost(form, flow.as_deref()) {
        let mut resp = Html(ssokit::flow::same_site_repost("/sso/saml/acs", form)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; script-src 'unsafe-inline'; form-action 'self'",
            ),
        );
        return resp;
    }
    match st.sso.complete_login(form, flow.as_deref()).await {
        Ok(outcome) => outcome_response(&st, outcome),
        Err(e) => error_page(&e),
    }
}

#[derive(Deserialize)]
struct MetadataQuery {
    connection: Option<String>,
}

/// This application's SAML metadata for a connection, to give to the IdP.
async fn saml_metadata(
    State(st): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<MetadataQuery>,
) -> Response {
    let Some(id) = q.connection else {
        return (StatusCode::BAD_REQUEST, "?connection=ID is required").into_response();
    };
    match st.sso.saml_metadata(&ConnectionId::new(id)).await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => error_page(&e),
    }
}

/// Fetches a SAML IdP's metadata at start-up (the demo's configuration is an
/// administrator's, so http and private addresses are allowed here; a
/// multi-tenant host keeps the default policy for tenant-supplied URLs).
async fn fetch_metadata(url: &str) -> Result<String, String> {
    use ssokit::http::HttpClient as _;
    let parsed = Url::parse(url).map_err(|_| format!("idp_metadata_url {url} is not a URL"))?;
    let mut req = http::Request::new(Vec::new());
    *req.uri_mut() = parsed
        .as_str()
        .parse()
        .map_err(|_| format!("idp_metadata_url {url} is not a URL"))?;
    // The default client: no redirects, timeouts, 1 MiB cap.
    let resp = ssokit::http::ReqwestClient::new()
        .send(req)
        .await
        .map_err(|e| format!("fetching {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("fetching {url}: HTTP {}", resp.status().as_u16()));
    }
    String::from_utf8(resp.into_body()).map_err(|_| format!("{url}: the metadata is not UTF-8"))
}

/// The demo's configuration is an administrator's (and its IdPs run on
/// loopback): metadata over http and from loopback is fine here. A
/// multi-tenant host keeps the default policy for tenant-supplied URLs.
fn demo_fetch_policy() -> ssokit::saml::metadata::FetchPolicy {
    let mut policy = ssokit::saml::metadata::FetchPolicy::default();
    policy.allow_http = true;
    policy.allow_private_addresses = true;
    policy
}

/// IdP-initiated SAML (only for connections with `allow_idp_initiated`):
/// the validated unsolicited response starts an SP-initiated login bound to
/// this browser.
async fn saml_idp_initiated(
    State(st): State<AppState>,
    axum::extract::Path(connection): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(form) = std::str::from_utf8(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Html(pages::error("The sign-in response is not valid.", None)),
        )
            .into_response();
    };
    match st
        .sso
        .begin_from_idp_initiated(&ConnectionId::new(connection), form)
        .await
    {
        Ok(Begin::Redirect(r)) => to_idp(&st, &r),
        Ok(_) => (StatusCode::INTERNAL_SERVER_ERROR, "unexpected").into_response(),
        Err(e) => error_page(&e),
    }
}

/// Sends the browser to the IdP: a 303, or an auto-submitting form for the
/// SAML HTTP-POST binding; sets the flow cookie that binds the login to
/// this browser.
fn to_idp(st: &AppState, r: &ssokit::flow::Redirect) -> Response {
    let mut resp = match &r.post_fields {
        Some(fields) => Html(auto_post(r.url.as_str(), fields)).into_response(),
        None => (StatusCode::SEE_OTHER, [(header::LOCATION, r.url.as_str())]).into_response(),
    };
    resp.headers_mut().append(
        header::SET_COOKIE,
        st.cookie_header(FLOW_COOKIE, r.flow_cookie.expose(), 600),
    );
    resp
}
