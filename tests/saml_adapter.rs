//! The SAML adapter behind `IdpAdapter`, settings from metadata (and the
//! configurations that must not build), AuthnRequests, SP metadata and the
//! metadata fetcher.
#![cfg(feature = "saml")]

mod saml_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use saml_support::*;
use ssokit::connection::Protocol;
use ssokit::http::{HttpClient, HttpClientError, HttpRequest, HttpResponse};
use ssokit::protocol::{CallbackParams, IdpAdapter, ProtocolState, StartRequest};
use ssokit::saml::xml::{Document, Limits};
use ssokit::saml::{
    AttributeMapping, Binding, FetchPolicy, IdpMetadata, MetadataFetcher, Preset, SamlOptions,
    SamlSettings, SpSigningKey, authn,
};
use ssokit::{Connection, ErrorKind};
use url::Url;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn meta(name: &str) -> String {
    std::fs::read_to_string(dir().join("metadata").join(format!("{name}.xml"))).unwrap()
}

fn options(m: &Manifest) -> SamlOptions {
    SamlOptions::new(m.sp.clone(), AttributeMapping::preset(Preset::Generic))
}

fn connection(settings: SamlSettings) -> Connection {
    let mut c: Connection = serde_json::from_value(serde_json::json!({
        "id": "acme-saml", "tenant": "acme", "kind": "oidc",
        "issuer": "https://placeholder.example", "client_id": "x"
    }))
    .unwrap();
    c.protocol = Protocol::Saml(settings);
    c
}

fn sp_key() -> SpSigningKey {
    let k = dir().join("keys");
    SpSigningKey::from_pkcs8(
        &std::fs::read(k.join("sp-rsa.pk8.der")).unwrap(),
        Some(std::fs::read(k.join("sp-rsa.crt.der")).unwrap()),
    )
    .unwrap()
}

#[test]
fn metadata_that_must_not_build_a_connection() {
    let m = manifest();
    let code = |name: &str| {
        SamlSettings::from_metadata(&meta(name), options(&m))
            .map(|_| ())
            .map_err(|e| e.code())
    };
    assert_eq!(code("idp-rsa"), Ok(()));
    assert_eq!(
        code("idp-rsa-no-use"),
        Ok(()),
        "a KeyDescriptor without `use` counts for signing"
    );
    assert_eq!(code("idp-ec"), Ok(()));
    assert_eq!(code("idp-rollover"), Ok(()));
    for bad in [
        "idp-encryption-only",
        "idp-no-keys",
        "idp-empty-cert",
        "idp-weak-key-only",
        "idp-no-sso",
        "idp-http-sso",
        "idp-want-signed-requests",
    ] {
        assert!(code(bad).is_err(), "{bad} built a connection");
    }
    assert_eq!(code("idp-doctype"), Err("xml.doctype".into()));
    let mut o = options(&m);
    o.sign_requests = Some(sp_key());
    assert!(SamlSettings::from_metadata(&meta("idp-want-signed-requests"), o).is_ok());
    let mut o = options(&m);
    o.sp_entity_id = " ".into();
    assert!(SamlSettings::from_metadata(&meta("idp-rsa"), o).is_err());
}

#[test]
fn metadata_keeps_every_signing_certificate() {
    let md = IdpMetadata::parse(&meta("idp-rollover")).unwrap();
    assert_eq!(md.entity_id, "https://idp.example.com/saml");
    assert_eq!(md.signing_keys.len(), 2);
    assert!(md.sso_redirect.is_some() && md.sso_post.is_some());
    let md = IdpMetadata::parse(&meta("idp-weak-key-only"));
    assert!(md.is_err());
    let s = SamlSettings::from_metadata(&meta("idp-post-only"), options(&manifest())).unwrap();
    assert_eq!(s.binding(), Binding::Post);
}

#[tokio::test]
async fn start_builds_a_redirect_authn_request() {
    let m = manifest();
    let s = SamlSettings::from_metadata(&meta("idp-rsa"), options(&m)).unwrap();
    let conn = connection(s);
    let acs = Url::parse(&m.acs).unwrap();
    let now = SystemTime::now();
    let started = adapter()
        .start(
            &conn,
            StartRequest {
                redirect_uri: &acs,
                state: "opaque-handle",
                login_hint: None,
                now,
            },
        )
        .await
        .unwrap();
    assert!(started.post_fields.is_none());
    let ProtocolState::Saml {
        request_id,
        acs_url,
    } = &started.state
    else {
        panic!()
    };
    assert_eq!(acs_url, &m.acs);
    assert!(request_id.starts_with('_') && request_id.len() == 41);
    let q: Vec<(String, String)> = started.url.query_pairs().into_owned().collect();
    assert_eq!(q.len(), 2);
    assert_eq!(q[1], ("RelayState".into(), "opaque-handle".into()));
    let xml = miniz_oxide::inflate::decompress_to_vec(&B64.decode(&q[0].1).unwrap()).unwrap();
    let doc = Document::parse_bytes(&xml, &Limits::PROTOCOL).unwrap();
    let r = doc.root();
    assert!(r.is("urn:oasis:names:tc:SAML:2.0:protocol", "AuthnRequest"));
    assert_eq!(r.attr("ID"), Some(request_id.as_str()));
    assert_eq!(
        r.attr("Destination"),
        Some("https://idp.example.com/saml/sso")
    );
    assert_eq!(r.attr("AssertionConsumerServiceURL"), Some(m.acs.as_str()));
    assert_eq!(
        r.attr("ProtocolBinding"),
        Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    );
    let issuer = r.child_elements().next().unwrap();
    assert_eq!(issuer.text().as_deref(), Some(m.sp.as_str()));

    // IDs are fresh per request.
    let again = adapter()
        .start(
            &conn,
            StartRequest {
                redirect_uri: &acs,
                state: "h2",
                login_hint: None,
                now,
            },
        )
        .await
        .unwrap();
    let ProtocolState::Saml {
        request_id: id2, ..
    } = &again.state
    else {
        panic!()
    };
    assert_ne!(request_id, id2);
}

#[tokio::test]
async fn signed_redirect_requests_verify_over_the_exact_query() {
    let m = manifest();
    let mut o = options(&m);
    o.sign_requests = Some(sp_key());
    let s = SamlSettings::from_metadata(&meta("idp-rsa"), o).unwrap();
    let acs = Url::parse(&m.acs).unwrap();
    let started = adapter()
        .start(
            &connection(s.clone()),
            StartRequest {
                redirect_uri: &acs,
                state: "h",
                login_hint: None,
                now: SystemTime::now(),
            },
        )
        .await
        .unwrap();
    let query = started.url.query().unwrap();
    let (signed, sig) = query.split_once("&Signature=").unwrap();
    assert!(signed.starts_with("SAMLRequest=") && signed.contains("&RelayState=h&SigAlg="));
    let sig: String = url::form_urlencoded::parse(format!("s={sig}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    let pk8 = std::fs::read(dir().join("keys/sp-rsa.pk8.der")).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&pk8).unwrap();
    use ring::signature::KeyPair as _;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public_key().as_ref(),
    )
    .verify(signed.as_bytes(), &B64.decode(sig).unwrap())
    .expect("the signature covers SAMLRequest=…&RelayState=…&SigAlg=… as sent");
    // SP metadata publishes the signing certificate and the ACS.
    let sp = s.sp_metadata(&m.acs);
    let doc = Document::parse(&sp, &Limits::METADATA).unwrap();
    assert_eq!(doc.root().attr("entityID"), Some(m.sp.as_str()));
    assert!(sp.contains("AuthnRequestsSigned=\"true\""));
    assert!(sp.contains(&B64.encode(std::fs::read(dir().join("keys/sp-rsa.crt.der")).unwrap())));
    assert!(sp.contains(&format!("Location=\"{}\"", m.acs)));
}

#[tokio::test]
async fn post_binding_returns_form_fields() {
    let m = manifest();
    let s = SamlSettings::from_metadata(&meta("idp-post-only"), options(&m)).unwrap();
    let acs = Url::parse(&m.acs).unwrap();
    let started = adapter()
        .start(
            &connection(s),
            StartRequest {
                redirect_uri: &acs,
                state: "h",
                login_hint: None,
                now: SystemTime::now(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        started.url.as_str(),
        "https://idp.example.com/saml/sso/post"
    );
    let fields = started.post_fields.unwrap();
    assert_eq!(fields[0].0, "SAMLRequest");
    let xml = String::from_utf8(B64.decode(&fields[0].1).unwrap()).unwrap();
    assert!(xml.starts_with("<samlp:AuthnRequest "));
    assert_eq!(fields[1], ("RelayState".into(), "h".into()));
}

#[tokio::test]
async fn finish_verifies_the_posted_response() {
    let m = manifest();
    let f = m
        .fixtures
        .iter()
        .find(|f| f.name == "valid-assertion-signed")
        .unwrap();
    let conn = connection(settings_for(&m, f));
    let state = ProtocolState::Saml {
        request_id: m.request_id.clone(),
        acs_url: m.acs.clone(),
    };
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLResponse", &f.encoded())
        .append_pair("RelayState", "h")
        .finish();
    let cb = CallbackParams::parse(&body).unwrap();
    let a = adapter();
    let id = a.finish(&conn, &state, &cb, f.now(&m)).await.unwrap();
    assert_eq!(id.key.connection, conn.id);
    assert_eq!(id.key.subject, "00u1a2b3c4d5e6f7g8h9");
    // Single use.
    let e = a.finish(&conn, &state, &cb, f.now(&m)).await.unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Saml(ssokit::saml::SamlError::Replay)
    ));
    // Another pending request of this browser: refused.
    let other = ProtocolState::Saml {
        request_id: "_other".into(),
        acs_url: m.acs.clone(),
    };
    let e = adapter()
        .finish(&conn, &other, &cb, f.now(&m))
        .await
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Saml(ssokit::saml::SamlError::InResponseTo)
    ));
    // Missing parameter.
    let e = a
        .finish(
            &conn,
            &state,
            &CallbackParams::parse("RelayState=h").unwrap(),
            f.now(&m),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400);
}

#[tokio::test]
async fn unsolicited_responses_need_the_connection_to_allow_them() {
    let m = manifest();
    let f = m
        .fixtures
        .iter()
        .find(|f| f.name == "valid-unsolicited")
        .unwrap();
    let body = format!(
        "SAMLResponse={}",
        url::form_urlencoded::byte_serialize(f.encoded().as_bytes()).collect::<String>()
    );
    let cb = CallbackParams::parse(&body).unwrap();
    let allowed = connection(settings_for(&m, f));
    let mut g = f.clone();
    g.options.remove("allow_idp_initiated");
    let refused = connection(settings_for(&m, &g));
    let e = adapter()
        .finish_unsolicited(&refused, &m.acs, &cb, f.now(&m))
        .await
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Saml(ssokit::saml::SamlError::Unsolicited)
    ));
    let a = adapter();
    a.finish_unsolicited(&allowed, &m.acs, &cb, f.now(&m))
        .await
        .unwrap();
    assert!(
        a.finish_unsolicited(&allowed, &m.acs, &cb, f.now(&m))
            .await
            .is_err(),
        "replay"
    );
    // The short window: 90 s.
    let late = f.now(&m) + Duration::from_secs(200); // 90 s + 60 s skew
    assert!(
        adapter()
            .finish_unsolicited(&allowed, &m.acs, &cb, late)
            .await
            .is_err()
    );
}

#[test]
fn authn_request_ids_are_unique_ncnames() {
    let ids: std::collections::HashSet<String> =
        (0..1000).map(|_| authn::new_request_id()).collect();
    assert_eq!(ids.len(), 1000);
    assert!(
        ids.iter()
            .all(|i| ssokit::saml::xml::is_ncname(i) && i.len() == 41)
    );
}

// ------------------------------------------------------------------ fetcher

struct MockHttp {
    body: Mutex<Result<(u16, String), ()>>,
    calls: AtomicUsize,
    delay: Duration,
}

#[async_trait]
impl HttpClient for MockHttp {
    async fn send(&self, _req: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        match &*self.body.lock().unwrap() {
            Ok((status, body)) => Ok(http::Response::builder()
                .status(*status)
                .body(body.clone().into_bytes())
                .unwrap()),
            Err(()) => Err(HttpClientError::new("down")),
        }
    }
}

fn mock(body: Result<(u16, String), ()>, delay: Duration) -> Arc<MockHttp> {
    Arc::new(MockHttp {
        body: Mutex::new(body),
        calls: AtomicUsize::new(0),
        delay,
    })
}

#[tokio::test]
async fn fetcher_refuses_unsafe_urls_without_io() {
    let http = mock(Ok((200, meta("idp-rsa"))), Duration::ZERO);
    let f = MetadataFetcher::new(http.clone(), FetchPolicy::default());
    let now = SystemTime::now();
    for u in [
        "http://idp.example.com/m",
        "https://127.0.0.1/m",
        "https://169.254.169.254/latest",
        "https://[::1]/m",
        "https://10.0.0.8/m",
        "https://192.168.1.1/m",
        "https://localhost/m",
        "https://intranet/m",
    ] {
        let e = f
            .get(&Url::parse(u).unwrap(), now, false)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "fetch", "{u}");
    }
    assert_eq!(http.calls.load(Ordering::SeqCst), 0);
    let ok = f
        .get(
            &Url::parse("https://idp.example.com/m").unwrap(),
            now,
            false,
        )
        .await
        .unwrap();
    assert_eq!(ok.signing_keys.len(), 1);
}

#[tokio::test]
async fn fetcher_caches_refreshes_and_keeps_the_last_good_metadata() {
    let http = mock(Ok((200, meta("idp-rsa"))), Duration::ZERO);
    let f = MetadataFetcher::new(http.clone(), FetchPolicy::default());
    let url = Url::parse("https://idp.example.com/m").unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    f.get(&url, t, false).await.unwrap();
    f.get(&url, t + Duration::from_secs(60), false)
        .await
        .unwrap();
    f.get(&url, t + Duration::from_secs(61), true)
        .await
        .unwrap(); // forced, but rate-limited
    assert_eq!(http.calls.load(Ordering::SeqCst), 1);
    // Rollover published; forced refresh after the interval picks it up.
    *http.body.lock().unwrap() = Ok((200, meta("idp-rollover")));
    let md = f
        .get(&url, t + Duration::from_secs(400), true)
        .await
        .unwrap();
    assert_eq!(md.signing_keys.len(), 2);
    // IdP down, or serving garbage / keyless metadata: the last good is kept.
    *http.body.lock().unwrap() = Err(());
    let md = f
        .get(&url, t + Duration::from_secs(100_000), false)
        .await
        .unwrap();
    assert_eq!(md.signing_keys.len(), 2);
    *http.body.lock().unwrap() = Ok((200, meta("idp-no-keys")));
    let md = f
        .get(&url, t + Duration::from_secs(200_000), false)
        .await
        .unwrap();
    assert_eq!(md.signing_keys.len(), 2);
    // Nothing cached and failing: an error.
    let e = f
        .get(
            &Url::parse("https://other.example.com/m").unwrap(),
            t,
            false,
        )
        .await
        .unwrap_err();
    assert!(e.code() == "metadata" || e.code() == "fetch");
}

/// Until a URL has been fetched once, a failure is remembered for
/// `retry_after_failure`: an IdP that is down does not turn every ACS POST
/// into another outbound fetch.
#[tokio::test]
async fn fetcher_backs_off_after_a_failed_first_fetch() {
    let http = mock(Err(()), Duration::ZERO);
    let f = MetadataFetcher::new(http.clone(), FetchPolicy::default());
    let url = Url::parse("https://idp.example.com/m").unwrap();
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let first = f.get(&url, t, false).await.unwrap_err();
    for dt in [1, 10, 29] {
        let again = f
            .get(&url, t + Duration::from_secs(dt), true)
            .await
            .unwrap_err();
        assert_eq!(again, first);
    }
    assert_eq!(http.calls.load(Ordering::SeqCst), 1);
    // After the back-off the IdP is asked again, and once it answers, the
    // metadata is used.
    *http.body.lock().unwrap() = Ok((200, meta("idp-rsa")));
    let md = f
        .get(&url, t + Duration::from_secs(30), false)
        .await
        .unwrap();
    assert_eq!(md.signing_keys.len(), 1);
    assert_eq!(http.calls.load(Ordering::SeqCst), 2);
}

/// The client `Sso` uses for tenant-supplied metadata URLs connects only to
/// public addresses: a name that resolves to loopback is refused although a
/// server answers there (the ordinary client reaches it), and so are
/// non-public IP literals, before any connection.
#[cfg(feature = "reqwest")]
#[tokio::test]
async fn public_only_client_refuses_names_that_resolve_to_internal_addresses() {
    use ssokit::http::ReqwestClient;
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(meta("idp-rsa")))
        .mount(&server)
        .await;
    let port = server.address().port();
    let get = |url: String| {
        let mut req = http::Request::new(Vec::new());
        *req.uri_mut() = url.parse().unwrap();
        req
    };
    let by_name = format!("http://localhost:{port}/m");
    let open = ReqwestClient::new()
        .send(get(by_name.clone()))
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    let public = ReqwestClient::public_only().unwrap();
    for url in [
        by_name,
        format!("http://127.0.0.1:{port}/m"),
        // Other spellings of 127.0.0.1 that URL parsing normalizes.
        format!("http://127.1:{port}/m"),
        format!("http://0x7f.0.0.1:{port}/m"),
        format!("http://2130706433:{port}/m"),
        format!("http://[::ffff:127.0.0.1]:{port}/m"),
        format!("http://[::1]:{port}/m"),
        "http://10.1.2.3:9/m".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
    ] {
        assert!(public.send(get(url.clone())).await.is_err(), "{url}");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn fetcher_limits_size_status_and_time() {
    let url = Url::parse("https://idp.example.com/m").unwrap();
    let now = SystemTime::now();
    let big = mock(Ok((200, "x".repeat(2 * 1024 * 1024))), Duration::ZERO);
    assert!(
        MetadataFetcher::new(big, FetchPolicy::default())
            .get(&url, now, false)
            .await
            .is_err()
    );
    let status = mock(Ok((302, meta("idp-rsa"))), Duration::ZERO);
    assert!(
        MetadataFetcher::new(status, FetchPolicy::default())
            .get(&url, now, false)
            .await
            .is_err()
    );
    let slow = mock(Ok((200, meta("idp-rsa"))), Duration::from_secs(3600));
    let started = std::time::Instant::now();
    let mut policy = FetchPolicy::default();
    policy.timeout = Duration::from_millis(200);
    let e = MetadataFetcher::new(slow, policy)
        .get(&url, now, false)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("timed out"));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn metadata_url_connections_follow_key_rollover() {
    let m = manifest();
    let f = m
        .fixtures
        .iter()
        .find(|f| f.name == "valid-rollover-second-key")
        .unwrap();
    let http = mock(Ok((200, meta("idp-rsa"))), Duration::ZERO);
    let fetcher = Arc::new(MetadataFetcher::new(http.clone(), FetchPolicy::default()));
    let url = Url::parse("https://idp.example.com/metadata").unwrap();
    let setup = f.now(&m) - Duration::from_secs(3600);
    let s = SamlSettings::from_metadata_url(&fetcher, &url, options(&m), setup)
        .await
        .unwrap();
    assert_eq!(s.trusted_keys().len(), 1);
    let a = adapter().with_metadata_fetcher(fetcher);
    let id = ssokit::ConnectionId::new("acme-saml");
    let encoded = f.encoded();
    let verify = |now| a.verify(&id, &s, &encoded, &m.acs, Some(&m.request_id), now);
    // Signed with the next key before the IdP published it: refused (after one refresh).
    let e = verify(f.now(&m)).await.unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::Saml(ssokit::saml::SamlError::Signature(_))
    ));
    assert_eq!(http.calls.load(Ordering::SeqCst), 2);
    // Published: the next forced refresh (rate-limited to one per 5 minutes) finds it.
    *http.body.lock().unwrap() = Ok((200, meta("idp-rollover")));
    let e = verify(f.now(&m) + Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Saml(_)), "still rate-limited");
    verify(f.now(&m) + Duration::from_secs(301)).await.unwrap();
    assert_eq!(http.calls.load(Ordering::SeqCst), 3);
}

/// A signed POST-binding AuthnRequest, as the adapter sends it.
async fn signed_post_request() -> String {
    let m = manifest();
    let mut o = options(&m);
    o.sign_requests = Some(sp_key());
    let s = SamlSettings::from_metadata(&meta("idp-post-only"), o).unwrap();
    let acs = Url::parse(&m.acs).unwrap();
    let started = adapter()
        .start(
            &connection(s),
            StartRequest {
                redirect_uri: &acs,
                state: "h",
                login_hint: None,
                now: SystemTime::now(),
            },
        )
        .await
        .unwrap();
    let fields = started.post_fields.unwrap();
    String::from_utf8(B64.decode(&fields[0].1).unwrap()).unwrap()
}

#[tokio::test]
async fn post_binding_requests_carry_an_enveloped_signature() {
    let xml = signed_post_request().await;
    let doc = Document::parse(&xml, &Limits::PROTOCOL).unwrap();
    let pem = std::fs::read_to_string(dir().join("keys/sp-rsa.crt.pem")).unwrap();
    let key = ssokit::saml::TrustedKey::from_certificate_pem(&pem).unwrap();
    let v = ssokit::saml::dsig::verify_enveloped(doc.root(), &[key]).unwrap();
    assert_eq!(
        v.algorithm(),
        ssokit::saml::dsig::SignatureAlgorithm::RsaSha256
    );
    // Signature right after the Issuer (schema order).
    let names: Vec<&str> = doc
        .root()
        .child_elements()
        .map(|e| e.local_name())
        .collect();
    assert_eq!(names, ["Issuer", "Signature", "NameIDPolicy"]);
}

#[tokio::test]
async fn spec_builds_settings_from_each_metadata_source() {
    use ssokit::saml::SamlSpec;
    let m = manifest();
    let now = SystemTime::now();
    let spec = |v: serde_json::Value| serde_json::from_value::<SamlSpec>(v).unwrap();
    let file = dir().join("metadata/idp-rollover.xml");
    let s = spec(serde_json::json!({"idp_metadata_file": file, "preset": "okta"}))
        .build(&m.sp, None, now)
        .await
        .unwrap();
    assert_eq!(s.trusted_keys().len(), 2);
    assert_eq!(s.sp_entity_id(), m.sp);
    let s =
        spec(serde_json::json!({"idp_metadata_xml": meta("idp-rsa"), "sp_entity_id": "urn:sp"}))
            .build(&m.sp, None, now)
            .await
            .unwrap();
    assert_eq!(s.sp_entity_id(), "urn:sp");
    let by_url = spec(serde_json::json!({"idp_metadata_url": "https://idp.example.com/m"}));
    assert!(
        by_url.build(&m.sp, None, now).await.is_err(),
        "a URL needs a fetcher"
    );
    let fetcher = MetadataFetcher::new(
        mock(Ok((200, meta("idp-rsa"))), Duration::ZERO),
        FetchPolicy::default(),
    );
    let s = by_url.build(&m.sp, Some(&fetcher), now).await.unwrap();
    assert_eq!(
        s.metadata_url().map(Url::as_str),
        Some("https://idp.example.com/m")
    );
    let ssrf =
        spec(serde_json::json!({"idp_metadata_url": "https://169.254.169.254/latest/meta-data"}));
    assert_eq!(
        ssrf.build(&m.sp, Some(&fetcher), now)
            .await
            .unwrap_err()
            .code(),
        "fetch"
    );
    assert!(
        spec(serde_json::json!({}))
            .build(&m.sp, None, now)
            .await
            .is_err()
    );
    assert!(
        spec(serde_json::json!({"idp_metadata_xml": meta("idp-rsa"), "idp_metadata_file": file}))
            .build(&m.sp, None, now)
            .await
            .is_err()
    );
    assert!(
        spec(serde_json::json!({"idp_metadata_xml": meta("idp-no-keys")}))
            .build(&m.sp, None, now)
            .await
            .is_err(),
        "no signing key: no connection"
    );
    let keys = dir().join("keys");
    let s = spec(serde_json::json!({
        "idp_metadata_xml": meta("idp-want-signed-requests"),
        "sign_requests_key_file": keys.join("sp-rsa.key.pem"),
        "sign_requests_cert_file": keys.join("sp-rsa.crt.pem"),
    }))
    .build(&m.sp, None, now)
    .await
    .unwrap();
    assert!(
        s.sp_metadata(&m.acs)
            .contains("AuthnRequestsSigned=\"true\"")
    );
}
