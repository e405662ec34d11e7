//! The Redis flow store against a real `redis-server` started by the test
//! on 127.0.0.1: two `Sso` instances sharing it behave as one.
#![cfg(feature = "redis")]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Harness, redirect_uri};
use ssokit::error::{ErrorKind, FlowError, LinkError};
use ssokit::flow::{ChoiceOutcome, LinkChoice, Outcome};
use ssokit::hooks::{MemoryDirectory, MemoryMailer};
use ssokit::store::{FlowStore, RedisFlowStore, RedisSettings};
use ssokit::testkit::{DevProvider, DevUser};
use ssokit::{Begin, BeginLogin, Connection, LoginHint, Sso, SsoConfig, StaticConnections, Tenant};
use url::Url;

struct RedisServer {
    child: Option<Child>,
    port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    fn start() -> Self {
        Self::start_on(free_port())
    }

    fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server; .ci/run does it)",
            );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child: Some(child),
            port,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn store(server: &RedisServer) -> RedisFlowStore {
    RedisFlowStore::connect(RedisSettings::new(server.url()).prefix("test"))
        .await
        .unwrap()
}

#[tokio::test]
async fn take_is_atomic_across_instances() {
    let server = RedisServer::start();
    let (a, b) = (store(&server).await, store(&server).await);
    for round in 0..30 {
        let key = format!("k{round}");
        a.put(&key, b"v".to_vec(), Duration::from_secs(30))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            let key = key.clone();
            tasks.push(tokio::spawn(async move { s.take(&key).await.unwrap() }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap().is_some());
        }
        assert_eq!(winners, 1, "round {round}");
    }
    assert!(
        a.insert_if_absent("seen", Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        !b.insert_if_absent("seen", Duration::from_secs(30))
            .await
            .unwrap()
    );
    // Counters (shared rate limits) lose no increment across instances.
    let mut tasks = Vec::new();
    for i in 0..100 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.increment("rate", Duration::from_secs(30)).await.unwrap()
        }));
    }
    let mut seen: Vec<u64> = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=100).collect::<Vec<u64>>());
}

#[tokio::test]
async fn keys_are_prefixed_and_expire_by_redis_ttl() {
    let server = RedisServer::start();
    let s = store(&server).await;
    s.put(
        "ssokit:dGVuYW50:login:abc",
        b"v".to_vec(),
        Duration::from_millis(150),
    )
    .await
    .unwrap();
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(keys, vec!["test:ssokit:dGVuYW50:login:abc".to_owned()]);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 150, "{ttl}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.take("ssokit:dGVuYW50:login:abc").await.unwrap(), None);
}

#[tokio::test]
async fn unreachable_at_startup_is_a_clear_error() {
    let started = Instant::now();
    let err = RedisFlowStore::connect(RedisSettings::new(format!(
        "redis://127.0.0.1:{}",
        free_port()
    )))
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Redis"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        RedisFlowStore::connect(RedisSettings::new("not a url"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn restart_mid_flow_fails_in_flight_flows_clearly_and_recovers() {
    let mut server = RedisServer::start();
    let port = server.port;
    let s = store(&server).await;
    s.put("inflight", b"v".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    server.stop();
    let err = s.take("inflight").await.unwrap_err();
    assert!(err.to_string().contains("Redis"), "{err}");
    let _server = RedisServer::start_on(port);
    // New flows work again once it is back; the in-flight entry is gone.
    let mut ok = false;
    for _ in 0..50 {
        if s.put("new", b"v".to_vec(), Duration::from_secs(60))
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the store reconnects");
    assert_eq!(s.take("inflight").await.unwrap(), None);
    assert_eq!(s.take("new").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn slow_redis_gives_bounded_timeouts() {
    let server = RedisServer::start();
    let s = RedisFlowStore::connect(
        RedisSettings::new(server.url()).response_timeout(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let url = server.url();
    // Block the (single-threaded) server for 2 s from another connection.
    let blocker = tokio::spawn(async move {
        let client = redis::Client::open(url).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let _: redis::RedisResult<()> = redis::cmd("DEBUG")
            .arg("SLEEP")
            .arg("2")
            .query_async(&mut c)
            .await;
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = s.take("anything").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    blocker.await.unwrap();
}

/// Two application instances: separate `Sso`s sharing one Redis and one user database.
async fn two_instances(
    server: &RedisServer,
) -> (
    Sso,
    Sso,
    ssokit::testkit::RunningProvider,
    MemoryDirectory,
    MemoryMailer,
) {
    let idp = DevProvider::spawn_local(|base| {
        DevProvider::new(base.join("idp").unwrap())
            .with_client("app", "app-secret", &[redirect_uri().as_str()])
            .with_user(DevUser::new("ann@acme.test"))
            .with_user(DevUser::new("dave@acme.test"))
    })
    .await
    .unwrap();
    let users = MemoryDirectory::new();
    users.add_user("acme", "ann@acme.test", Some("Ann"), true);
    let mailer = MemoryMailer::new();
    let conn: Connection = serde_json::from_value(serde_json::json!({
        "id": "acme-idp", "tenant": "acme", "kind": "oidc", "issuer": idp.issuer().as_str(),
        "client_id": "app", "client_secret": "app-secret", "jit": true
    }))
    .unwrap();
    let tenants = vec![Tenant {
        id: "acme".into(),
        domains: vec!["acme.test".into()],
        subdomain: None,
    }];
    let connections = Arc::new(StaticConnections::new(tenants, vec![conn]).unwrap());
    let mut instances = Vec::new();
    for _ in 0..2 {
        instances.push(
            Sso::builder(SsoConfig::new(Url::parse(common::PUBLIC_URL).unwrap()))
                .connections(connections.clone())
                .users(Arc::new(users.clone()))
                .mailer(Arc::new(mailer.clone()))
                .flows(Arc::new(store(server).await))
                .build()
                .unwrap(),
        );
    }
    let b = instances.pop().unwrap();
    let a = instances.pop().unwrap();
    (a, b, idp, users, mailer)
}

async fn begin(sso: &Sso, email: &str) -> (Url, String) {
    match sso
        .begin_login(BeginLogin {
            hint: LoginHint::Email(email.into()),
            return_to: None,
        })
        .await
        .unwrap()
    {
        Begin::Redirect(r) => (r.url, r.flow_cookie.expose().to_owned()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn login_begun_on_one_instance_completes_on_the_other_once() {
    let server = RedisServer::start();
    let (a, b, idp, _users, _) = two_instances(&server).await;
    let (auth, cookie) = begin(&a, "dave@acme.test").await;
    let cb = idp.provider().sign_in(&auth, "dave@acme.test").unwrap();
    let q = cb.query().unwrap().to_owned();
    assert!(matches!(
        b.complete_login(&q, Some(&cookie)).await,
        Ok(Outcome::SignedIn(_))
    ));
    // Replayed on either instance: refused.
    for sso in [&a, &b] {
        let err = sso.complete_login(&q, Some(&cookie)).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Flow(FlowError::UnknownState)),
            "{err}"
        );
    }
}

#[tokio::test]
async fn link_mailed_by_one_instance_is_confirmed_on_the_other() {
    let server = RedisServer::start();
    let (a, b, idp, users, mailer) = two_instances(&server).await;
    let (auth, cookie) = begin(&a, "ann@acme.test").await;
    let q = idp
        .provider()
        .sign_in(&auth, "ann@acme.test")
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let Ok(Outcome::LinkOffered(offer)) = b.complete_login(&q, Some(&cookie)).await else {
        panic!()
    };
    let c = a
        .choose(offer.offer.expose(), Some(&cookie), LinkChoice::Link)
        .await
        .unwrap();
    assert!(matches!(c, ChoiceOutcome::LinkMailed { .. }));
    let link = Url::parse(mailer.last().unwrap().link.expose()).unwrap();
    let token = link
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let Ok(Outcome::SignedIn(s)) = b.confirm_link(&token, Some(&cookie)).await else {
        panic!()
    };
    assert_eq!(users.identities_of(&s.user.id).len(), 1);
    let err = a.confirm_link(&token, Some(&cookie)).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Link(LinkError::Invalid)),
        "{err}"
    );
}

#[tokio::test]
async fn redis_down_during_a_login_is_a_clear_error_not_a_panic() {
    let mut server = RedisServer::start();
    let (a, b, idp, _, _) = two_instances(&server).await;
    let (auth, cookie) = begin(&a, "dave@acme.test").await;
    let q = idp
        .provider()
        .sign_in(&auth, "dave@acme.test")
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    server.stop();
    let err = b.complete_login(&q, Some(&cookie)).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Store(_)), "{err}");
    assert_eq!(err.status(), 500);
    assert!(err.trace_id().is_some());
    let _ = Harness::new; // the shared harness is used by other test files
}
