//! Test harness: a real development OpenID provider on loopback, an `Sso`
//! on a manual clock, and in-memory hooks.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ssokit::clock::ManualClock;
use ssokit::connection::ConnectionSpec;
use ssokit::error::StoreError;
use ssokit::flow::{Begin, ChoiceOutcome, LinkChoice, Outcome};
use ssokit::hooks::{MemoryDirectory, MemoryEvents, MemoryMailer};
use ssokit::store::{FlowStore, MemoryFlowStore};
use ssokit::testkit::{DevProvider, DevUser, RunningProvider};
use ssokit::{BeginLogin, Connection, Error, LoginHint, Sso, SsoConfig, StaticConnections, Tenant};
use url::Url;

/// A flow store that counts writes, to show that bad input changes nothing.
#[derive(Default)]
pub struct CountingStore {
    pub inner: MemoryFlowStore,
    pub puts: AtomicUsize,
}

#[async_trait]
impl FlowStore for CountingStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        self.inner.put(key, value, ttl).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.take(key).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key).await
    }
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64, StoreError> {
        self.inner.increment(key, ttl).await
    }
    async fn insert_if_absent(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.insert_if_absent(key, ttl).await
    }
}

pub struct Options {
    pub jit: bool,
    pub allowed_groups: Vec<String>,
    pub role_map: Vec<(String, String)>,
    pub offer_new_account: bool,
    pub userinfo: bool,
    /// More connection settings, merged into the spec.
    pub extra: serde_json::Value,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jit: true,
            allowed_groups: vec![],
            role_map: vec![],
            offer_new_account: false,
            userinfo: false,
            extra: serde_json::json!({}),
        }
    }
}

pub struct Harness {
    pub sso: Sso,
    pub idp: RunningProvider,
    pub users: MemoryDirectory,
    pub mailer: MemoryMailer,
    pub events: MemoryEvents,
    pub clock: ManualClock,
    pub store: Arc<CountingStore>,
    pub offset: std::sync::Mutex<i64>,
}

/// A login in progress: the IdP URL and the browser's flow cookie.
pub struct Started {
    pub auth_url: Url,
    pub cookie: String,
}

pub const CONNECTION: &str = "acme-idp";
pub const PUBLIC_URL: &str = "http://127.0.0.1:9/";

/// The OIDC redirect URI of the harness's application.
pub fn redirect_uri() -> Url {
    Url::parse(PUBLIC_URL)
        .unwrap()
        .join("/sso/oidc/callback")
        .unwrap()
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(opts: Options) -> Self {
        let redirect = redirect_uri();
        let idp = DevProvider::spawn_local(|base| {
            DevProvider::new(base.join("idp").unwrap())
                .with_client("app", "app-secret", &[redirect.as_str()])
                .with_user(DevUser::new("ann@acme.test"))
                .with_user(DevUser::new("dave@acme.test").with_groups(["staff"]))
                .with_user(DevUser::new("erin@acme.test").with_groups(["engineering", "admins"]))
                .with_user(DevUser::new("pia@acme.test").with_groups(["pilot"]))
                .with_user(DevUser::new("bob@acme.test"))
                .with_user(DevUser::new("carol@acme.test"))
                .with_user(DevUser::new("mallory@evil.test"))
        })
        .await
        .expect("dev provider starts");
        let spec = serde_json::json!({
            "id": CONNECTION,
            "tenant": "acme",
            "kind": "oidc",
            "issuer": idp.issuer().as_str(),
            "client_id": "app",
            "client_secret": "app-secret",
            "jit": opts.jit,
            "template": {"role": "member", "groups": ["everyone"]},
            "allowed_groups": opts.allowed_groups,
            "role_map": opts.role_map.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "offer_new_account": opts.offer_new_account,
                        "userinfo": opts.userinfo,
        });
        let mut spec = spec;
        if let Some(extra) = opts.extra.as_object() {
            spec.as_object_mut().unwrap().extend(extra.clone());
        }
        let tenants = vec![
            Tenant {
                id: "acme".into(),
                domains: vec!["acme.test".into()],
                subdomain: Some("acme".into()),
            },
            Tenant {
                id: "globex".into(),
                domains: vec!["globex.test".into()],
                subdomain: None,
            },
        ];
        let h = Self::from_parts(idp, vec![spec], tenants, None);
        h.users.add_user("acme", "ann@acme.test", Some("Ann"), true);
        h.users
            .add_user("acme", "bob@acme.test", Some("Bob Smith"), true);
        h.users
            .add_user("acme", " BOB@acme.test", Some("Bob Jones"), true);
        h.users
            .add_user("acme", "carol@acme.test", Some("Carol"), false);
        h.users
            .add_user("globex", "ann@acme.test", Some("Ann at Globex"), true);
        h
    }

    /// An `Sso` over any provider and connections (JSON connection specs).
    pub fn from_parts(
        idp: RunningProvider,
        specs: Vec<serde_json::Value>,
        tenants: Vec<Tenant>,
        group_lookup: Option<Arc<dyn ssokit::hooks::GroupLookup>>,
    ) -> Self {
        Self::from_parts_custom(idp, specs, tenants, group_lookup, |_, b| b)
    }

    /// [`from_parts`] with a last say on the builder (extra hooks).
    pub fn from_parts_custom(
        idp: RunningProvider,
        specs: Vec<serde_json::Value>,
        tenants: Vec<Tenant>,
        group_lookup: Option<Arc<dyn ssokit::hooks::GroupLookup>>,
        customize: impl FnOnce(&MemoryDirectory, ssokit::SsoBuilder) -> ssokit::SsoBuilder,
    ) -> Self {
        let sso_cfg = SsoConfig::new(Url::parse(PUBLIC_URL).unwrap());
        let connections = specs
            .into_iter()
            .map(|v| {
                Connection::from_spec(serde_json::from_value::<ConnectionSpec>(v).unwrap()).unwrap()
            })
            .collect();
        let store = StaticConnections::new(tenants, connections).unwrap();
        let users = MemoryDirectory::new();
        let mailer = MemoryMailer::new();
        let events = MemoryEvents::new();
        let clock = ManualClock::starting_now();
        let flows = Arc::new(CountingStore::default());
        let mut builder = Sso::builder(sso_cfg)
            .connections(Arc::new(store))
            .users(Arc::new(users.clone()))
            .mailer(Arc::new(mailer.clone()))
            .events(Arc::new(events.clone()))
            .clock(Arc::new(clock.clone()))
            .admin_directory(Arc::new(users.clone()))
            .flows(flows.clone());
        if let Some(lookup) = group_lookup {
            builder = builder.group_lookup(lookup);
        }
        let sso = customize(&users, builder).build().unwrap();
        Self {
            sso,
            idp,
            users,
            mailer,
            events,
            clock,
            store: flows,
            offset: std::sync::Mutex::new(0),
        }
    }

    pub fn provider(&self) -> &DevProvider {
        self.idp.provider()
    }

    /// Moves the application's clock and the provider's together.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
        let mut off = self.offset.lock().unwrap();
        *off += by.as_secs() as i64;
        self.provider().set_time_offset(*off);
    }

    pub async fn begin(&self, email: &str) -> Started {
        self.begin_with(email, None).await.expect("begin")
    }

    pub async fn begin_with(&self, email: &str, return_to: Option<&str>) -> Result<Started, Error> {
        match self
            .sso
            .begin_login(BeginLogin {
                hint: LoginHint::Email(email.into()),
                return_to: return_to.map(str::to_owned),
            })
            .await?
        {
            Begin::Redirect(r) => Ok(Started {
                auth_url: r.url,
                cookie: r.flow_cookie.expose().to_owned(),
            }),
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    /// Signs in at the provider and returns the callback's query string.
    pub fn idp_sign_in(&self, started: &Started, login: &str) -> String {
        let cb = self
            .provider()
            .sign_in(&started.auth_url, login)
            .expect("provider accepts the request");
        cb.query().unwrap_or_default().to_owned()
    }

    /// The whole login: begin, sign in at the IdP as `login`, complete.
    pub async fn login(&self, login: &str) -> Result<Outcome, Error> {
        let started = self.begin(login).await;
        let query = self.idp_sign_in(&started, login);
        self.sso.complete_login(&query, Some(&started.cookie)).await
    }

    /// Login up to a link offer, choose "link", return the mailed token and the cookie.
    pub async fn request_link(&self, login: &str) -> (String, String) {
        let started = self.begin(login).await;
        let query = self.idp_sign_in(&started, login);
        let outcome = self
            .sso
            .complete_login(&query, Some(&started.cookie))
            .await
            .unwrap();
        let Outcome::LinkOffered(offer) = outcome else {
            panic!("expected a link offer, got {outcome:?}")
        };
        let choice = self
            .sso
            .choose(
                offer.offer.expose(),
                Some(&started.cookie),
                LinkChoice::Link,
            )
            .await
            .unwrap();
        assert!(
            matches!(choice, ChoiceOutcome::LinkMailed { .. }),
            "{choice:?}"
        );
        let mail = self.mailer.last().expect("a mail was sent");
        let link = Url::parse(mail.link.expose()).unwrap();
        let token = link
            .query_pairs()
            .find(|(k, _)| k == "token")
            .unwrap()
            .1
            .into_owned();
        (token, started.cookie)
    }

    pub fn puts(&self) -> usize {
        self.store.puts.load(Ordering::SeqCst)
    }
}
