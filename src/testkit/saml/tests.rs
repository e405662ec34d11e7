//! End-to-end tests of the development SAML IdP over real HTTP on
//! 127.0.0.1, with every Response checked by ssokit's own SP validation
//! (and by `xmlsec1`, when installed).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use url::Url;

use super::*;
use crate::ErrorKind;
use crate::connection::{Connection, Protocol};
use crate::protocol::{CallbackParams, IdpAdapter, StartRequest};
use crate::saml::xml::{Document, Limits};
use crate::saml::{
    AttributeMapping, Binding, IdpMetadata, Preset, SamlAdapter, SamlError, SamlOptions,
    SamlSettings, ValidatedAssertion, authn, validate_response,
};
use crate::store::MemoryFlowStore;

const SP: &str = "http://127.0.0.1:9/sso/saml/metadata";
const ACS: &str = "http://127.0.0.1:9/sso/saml/acs";
const RELAY: &str = "opaque-relay-handle";

fn alice() -> SamlUser {
    SamlUser {
        name: "Alice Liddell".into(),
        ..SamlUser::new("alice").with_groups(["admins", "staff"])
    }
}

/// An IdP whose base URL has a path, so that nesting is exercised.
async fn start() -> RunningSamlIdp {
    DevSamlIdp::spawn_local(|base| {
        DevSamlIdp::new(base.join("dev/saml").unwrap())
            .with_sp(SP, ACS)
            .with_user(alice())
    })
    .await
    .expect("spawn dev SAML IdP")
}

fn options() -> SamlOptions {
    SamlOptions::new(SP, AttributeMapping::preset(Preset::Generic))
}

fn settings(idp: &DevSamlIdp) -> SamlSettings {
    SamlSettings::from_metadata(&idp.metadata_xml(), options()).expect("metadata builds settings")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A new AuthnRequest of the SP: (ID, XML).
fn authn_request(settings: &SamlSettings, name_id_format: Option<&str>) -> (String, String) {
    let id = authn::new_request_id();
    let xml = authn::AuthnRequest {
        id: &id,
        issue_instant: SystemTime::now(),
        destination: settings.sso_url().as_str(),
        acs_url: ACS,
        sp_entity_id: SP,
        name_id_format,
        force_authn: false,
    }
    .to_xml();
    (id, xml)
}

fn redirect(settings: &SamlSettings, xml: &str) -> Url {
    authn::redirect_url(settings.sso_url(), xml, RELAY, None).unwrap()
}

fn validate(
    settings: &SamlSettings,
    post: &AcsPost,
    request_id: Option<&str>,
) -> Result<ValidatedAssertion, SamlError> {
    validate_response(
        &post.saml_response,
        &settings.expectations(ACS, request_id),
        SystemTime::now(),
    )
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first form of a page: its action and its hidden fields.
fn form(html: &str) -> (String, Vec<(String, String)>) {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    let form_at = html.find("<form ").expect("a form");
    let form_tag = &html[form_at..form_at + html[form_at..].find('>').unwrap()];
    let action = attr(form_tag, "action").expect("a form action");
    let mut fields = Vec::new();
    for part in html[form_at..].split("<input ").skip(1) {
        let tag = format!(" {}", &part[..part.find('>').unwrap()]);
        if attr(&tag, "type").as_deref() == Some("hidden") {
            fields.push((attr(&tag, "name").unwrap(), attr(&tag, "value").unwrap()));
        }
    }
    (action, fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The `AcsPost` an auto-submitting page would post.
fn post_of(html: &str) -> AcsPost {
    let (action, fields) = form(html);
    AcsPost {
        url: Url::parse(&action).unwrap(),
        saml_response: field(&fields, "SAMLResponse").unwrap().to_owned(),
        relay_state: field(&fields, "RelayState").map(str::to_owned),
    }
}

#[tokio::test]
async fn metadata_is_served_and_parses_with_ssokit() {
    let running = start().await;
    let idp = running.idp();
    assert_eq!(
        running.entity_id(),
        format!("{}dev/saml/metadata", running.url())
    );
    let response = http().get(idp.metadata_url().clone()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/samlmetadata+xml"
    );
    let xml = response.text().await.unwrap();
    assert_eq!(xml, idp.metadata_xml());

    let md = IdpMetadata::parse(&xml).unwrap();
    assert_eq!(md.entity_id, idp.entity_id());
    assert_eq!(md.sso_redirect.as_ref(), Some(idp.sso_url()));
    assert_eq!(md.sso_post.as_ref(), Some(idp.sso_url()));
    assert_eq!(md.signing_keys.len(), 1);
    assert_eq!(md.signing_keys[0].certificate_der(), idp.certificate_der());
    assert!(!md.want_authn_requests_signed);
    assert_eq!(md.unusable_certificates, 0);
    let pem_key = crate::saml::TrustedKey::from_certificate_pem(&idp.certificate_pem()).unwrap();
    assert_eq!(pem_key, md.signing_keys[0]);

    let s = SamlSettings::from_metadata(&xml, options()).unwrap();
    assert_eq!(s.idp_entity_id(), idp.entity_id());
    assert_eq!(s.binding(), Binding::Redirect);
    assert_eq!(idp.request_counts().metadata, 1);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn redirect_binding_round_trip_over_http() {
    let running = start().await;
    let idp = running.idp();
    let settings = settings(idp);
    let (id, xml) = authn_request(&settings, None);
    let client = http();

    let page = client.get(redirect(&settings, &xml)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Alice Liddell"), "seeded users are offered");
    assert!(html.contains(SP), "the page names the SP");
    let (action, mut fields) = form(&html);
    assert_eq!(action, idp.sso_url().as_str());
    assert_eq!(field(&fields, "RelayState"), Some(RELAY));
    assert_eq!(
        idp.last_authn_request().unwrap().binding,
        SamlBinding::Redirect
    );

    fields.push(("login".into(), "  Alice  ".into()));
    let answer = client.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let csp = answer.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("script-src {}", page::submit_script_source())),
        "{csp}"
    );
    let post = post_of(&answer.text().await.unwrap());
    assert_eq!(post.url.as_str(), ACS);
    assert_eq!(post.relay_state.as_deref(), Some(RELAY));

    let assertion = validate(&settings, &post, Some(&id)).expect("the SP accepts the response");
    assert_eq!(assertion.issuer, idp.entity_id());
    assert_eq!(assertion.signed, crate::saml::SignedParts::Assertion);
    let (subject, profile) = settings.options().mapping.identity(&assertion).unwrap();
    assert_eq!(subject, "dev|alice");
    assert_eq!(profile.email.as_deref(), Some("alice@example.test"));
    assert!(!profile.email_verified, "a SAML e-mail is a claim");
    assert_eq!(profile.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(profile.groups, ["admins", "staff"]);

    let request = idp.last_authn_request().unwrap();
    assert_eq!(request.id, id);
    assert_eq!(request.issuer, SP);
    assert_eq!(request.acs_url.as_deref(), Some(ACS));
    assert_eq!(request.destination.as_deref(), Some(idp.sso_url().as_str()));
    assert_eq!(request.relay_state.as_deref(), Some(RELAY));
    assert!(!request.signed);
    assert_eq!(request.xml, xml);
    let counts = idp.request_counts();
    assert_eq!(
        (counts.sso_redirect, counts.login, counts.sso_post),
        (1, 1, 0)
    );
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn post_binding_round_trip_over_http() {
    let running = start().await;
    let idp = running.idp();
    let mut options = options();
    options.binding = Some(Binding::Post);
    let settings = SamlSettings::from_metadata(&idp.metadata_xml(), options).unwrap();
    assert_eq!(settings.binding(), Binding::Post);
    let (id, xml) = authn_request(&settings, None);
    let client = http();
    let page = client
        .post(settings.sso_url().clone())
        .form(&authn::post_fields(&xml, RELAY))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let (action, mut fields) = form(&page.text().await.unwrap());
    // The one-click button of a seeded user.
    fields.push(("user".into(), "alice".into()));
    fields.push(("login".into(), String::new()));
    let answer = client.post(&action).form(&fields).send().await.unwrap();
    let post = post_of(&answer.text().await.unwrap());
    let assertion = validate(&settings, &post, Some(&id)).unwrap();
    assert_eq!(assertion.name_id.value, "dev|alice");
    assert_eq!(idp.last_authn_request().unwrap().binding, SamlBinding::Post);
    let counts = idp.request_counts();
    assert_eq!(
        (counts.sso_redirect, counts.sso_post, counts.login),
        (0, 1, 1)
    );
}

fn connection(settings: SamlSettings) -> Connection {
    let mut c: Connection = serde_json::from_value(serde_json::json!({
        "id": "dev-saml", "tenant": "acme", "kind": "oidc",
        "issuer": "https://placeholder.example", "client_id": "x"
    }))
    .unwrap();
    c.protocol = Protocol::Saml(settings);
    c
}

fn saml_error(e: &crate::Error) -> &SamlError {
    match e.kind() {
        ErrorKind::Saml(e) => e,
        other => panic!("not a SAML error: {other:?}"),
    }
}

#[tokio::test]
async fn round_trip_through_the_saml_adapter() {
    let running = start().await;
    let idp = running.idp();
    // The connection trusts the metadata fetched over HTTP, as configured
    // from the IdP's metadata URL.
    let xml = http()
        .get(idp.metadata_url().clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let conn = connection(SamlSettings::from_metadata(&xml, options()).unwrap());
    let adapter = SamlAdapter::with_flow_store(Arc::new(MemoryFlowStore::new()));
    let acs = Url::parse(ACS).unwrap();
    for binding in [Binding::Redirect, Binding::Post] {
        let mut options = options();
        options.binding = Some(binding);
        let conn = connection(SamlSettings::from_metadata(&xml, options).unwrap());
        let started = adapter
            .start(
                &conn,
                StartRequest {
                    redirect_uri: &acs,
                    state: RELAY,
                    login_hint: None,
                    now: SystemTime::now(),
                },
            )
            .await
            .unwrap();
        let request = SsoRequest::from_started(&started.url, started.post_fields.as_deref());
        let post = idp.sign_in(request, "bob@corp.example").unwrap();
        assert_eq!(post.relay_state.as_deref(), Some(RELAY));
        let callback = CallbackParams::parse(&post.form_body()).unwrap();
        let identity = adapter
            .finish(&conn, &started.state, &callback, SystemTime::now())
            .await
            .unwrap();
        assert_eq!(identity.key.subject, "dev|bob@corp.example");
        assert_eq!(identity.issuer, idp.entity_id());
        assert_eq!(identity.profile.name.as_deref(), Some("Bob"));
        // The same Response again is a replay.
        let again = adapter
            .finish(&conn, &started.state, &callback, SystemTime::now())
            .await
            .unwrap_err();
        assert_eq!(saml_error(&again), &SamlError::Replay);
    }
    drop(conn);
}

#[tokio::test]
async fn every_fault_is_refused_by_the_sp() {
    let idp = DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml").unwrap())
        .with_sp(SP, ACS)
        .with_user(alice());
    let settings = settings(&idp);
    let expected = [
        (SamlFault::Unsigned, "signature.missing"),
        (SamlFault::ExpiredAssertion, "expired"),
        (SamlFault::WrongAudience, "audience"),
        (SamlFault::WrongRecipient, "recipient"),
        (SamlFault::WrongInResponseTo, "in_response_to"),
        (SamlFault::WrongIssuer, "issuer"),
        (SamlFault::TamperedAfterSigning, "signature.digest_mismatch"),
        (SamlFault::SignWithUnknownKey, "signature.invalid"),
        // A failed sign-in carries no assertion, as IdPs send it: the
        // IdP's status is what the SP reports.
        (SamlFault::StatusResponder, "status"),
        (SamlFault::Unsolicited, "unsolicited"),
        (SamlFault::Sha1, "signature.weak_algorithm"),
    ];
    assert_eq!(
        expected.len(),
        SamlFault::ALL.len(),
        "every fault is tested"
    );
    for (fault, code) in expected {
        idp.clear_faults();
        idp.set_fault(fault, true);
        assert_eq!(idp.faults(), SamlFaults::NONE.with(fault));
        let (id, xml) = authn_request(&settings, None);
        let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
        let err = validate(&settings, &post, Some(&id)).unwrap_err();
        assert_eq!(err.code(), code, "{fault:?}: {err}");
        let response = post.response_xml();
        match fault {
            SamlFault::TamperedAfterSigning => assert!(response.contains(">dev|admin<")),
            SamlFault::StatusResponder => {
                assert!(response.contains("status:Responder") && !response.contains("Assertion"));
            }
            SamlFault::Unsigned => assert!(!response.contains("Signature")),
            SamlFault::Sha1 => assert!(response.contains("#rsa-sha1")),
            _ => {}
        }
    }
    idp.clear_faults();
    let (id, xml) = authn_request(&settings, None);
    let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
    validate(&settings, &post, Some(&id)).expect("accepted again without faults");

    // Faults combine and are listed in order.
    let both: SamlFaults = [SamlFault::Sha1, SamlFault::Unsigned].into_iter().collect();
    assert_eq!(
        both.iter().collect::<Vec<_>>(),
        [SamlFault::Unsigned, SamlFault::Sha1]
    );
    assert_eq!(format!("{both:?}"), "{Unsigned, Sha1}");
    let idp = idp
        .with_fault(SamlFault::Unsigned)
        .with_fault(SamlFault::Sha1);
    let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
    assert_eq!(
        validate(&settings, &post, Some(&id)).unwrap_err().code(),
        "signature.missing",
        "Unsigned wins over the signing faults"
    );
}

#[tokio::test]
async fn faults_also_apply_over_http() {
    let running = start().await;
    let idp = running.idp();
    let settings = settings(idp);
    idp.set_auto_login(Some("alice"));
    idp.set_fault(SamlFault::WrongAudience, true);
    let (id, xml) = authn_request(&settings, None);
    let page = http().get(redirect(&settings, &xml)).send().await.unwrap();
    let post = post_of(&page.text().await.unwrap());
    assert_eq!(
        validate(&settings, &post, Some(&id)).unwrap_err(),
        SamlError::Audience
    );
}

#[tokio::test]
async fn auto_login_skips_the_sign_in_page() {
    let running = start().await;
    let idp = running.idp();
    let settings = settings(idp);
    idp.set_auto_login(Some(" alice "));
    let (id, xml) = authn_request(&settings, None);
    let page = http().get(redirect(&settings, &xml)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("document.forms[0].submit()"));
    let post = post_of(&html);
    assert_eq!(post.url.as_str(), ACS);
    let assertion = validate(&settings, &post, Some(&id)).unwrap();
    assert_eq!(assertion.name_id.value, "dev|alice");
    assert_eq!(idp.request_counts().login, 0);
    idp.set_auto_login(None);
    let page = http().get(redirect(&settings, &xml)).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("name=\"login\""));
}

#[tokio::test]
async fn responses_verify_with_xmlsec1() {
    if std::process::Command::new("xmlsec1")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("NOTICE: xmlsec1 is not installed; skipping the xmlsec1 interop check");
        return;
    }
    let idp = DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml").unwrap())
        .with_sp(SP, ACS)
        .with_user(alice().with_attribute("note", ["a & b < c \"quoted\" é\r\nline"]));
    let settings = settings(&idp);
    let dir = std::env::temp_dir().join(format!(
        "ssokit-dev-saml-{}",
        crate::secret::random_token(8)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    std::fs::write(&cert, idp.certificate_pem()).unwrap();
    let verify = |name: &str, fault: Option<SamlFault>| -> bool {
        idp.clear_faults();
        if let Some(f) = fault {
            idp.set_fault(f, true);
        }
        let (_, xml) = authn_request(&settings, None);
        let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
        let file = dir.join(format!("{name}.xml"));
        std::fs::write(&file, post.response_xml()).unwrap();
        let out = std::process::Command::new("xmlsec1")
            .args([
                "--verify",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                "--pubkey-cert-pem",
            ])
            .arg(&cert)
            .arg(&file)
            .output()
            .unwrap();
        out.status.success()
    };
    assert!(verify("valid", None), "xmlsec1 verifies the assertion");
    assert!(
        verify("sha1", Some(SamlFault::Sha1)),
        "the SHA-1 signature is genuine"
    );
    assert!(
        verify("expired", Some(SamlFault::ExpiredAssertion)),
        "faults outside the signature keep it valid"
    );
    assert!(!verify("tampered", Some(SamlFault::TamperedAfterSigning)));
    assert!(!verify("unknown-key", Some(SamlFault::SignWithUnknownKey)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn responses_have_the_documented_shape() {
    let idp = DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml").unwrap())
        .with_sp(SP, ACS)
        .with_user(alice().with_attribute("urn:oid:2.5.4.42", ["Alice"]));
    let settings = settings(&idp);
    let (id, xml) = authn_request(&settings, None);
    let post = idp
        .sign_in(redirect(&settings, &xml), "ALICE@example.test")
        .unwrap();
    let response = post.response_xml();
    let doc = Document::parse(&response, &Limits::PROTOCOL).unwrap();
    let root = doc.root();
    assert_eq!(root.attr("Destination"), Some(ACS));
    assert_eq!(root.attr("InResponseTo"), Some(id.as_str()));
    let assertion = root.child_elements().nth(2).unwrap();
    assert_eq!(assertion.local_name(), "Assertion");
    let children: Vec<&str> = assertion.child_elements().map(|e| e.local_name()).collect();
    assert_eq!(
        children,
        [
            "Issuer",
            "Signature",
            "Subject",
            "Conditions",
            "AuthnStatement",
            "AttributeStatement"
        ]
    );
    let conditions = assertion.child_elements().nth(3).unwrap();
    let not_on_or_after =
        crate::saml::response::parse_instant(conditions.attr("NotOnOrAfter").unwrap()).unwrap();
    let ttl = not_on_or_after
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    assert!((290..=300).contains(&ttl), "{ttl}");
    let assertion = validate(&settings, &post, Some(&id)).unwrap();
    assert_eq!(assertion.attribute("urn:oid:2.5.4.42"), Some("Alice"));
    assert_eq!(
        settings
            .options()
            .mapping
            .identity(&assertion)
            .unwrap()
            .1
            .given_name
            .as_deref(),
        Some("Alice")
    );
    // Every Response has fresh IDs.
    let other = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
    assert_ne!(
        validate(&settings, &other, Some(&id)).unwrap().assertion_id,
        assertion.assertion_id
    );
    // Made-up users for unknown logins.
    let post = idp
        .sign_in(redirect(&settings, &xml), " Jane.Doe ")
        .unwrap();
    let jane = validate(&settings, &post, Some(&id)).unwrap();
    assert_eq!(jane.name_id.value, "dev|jane.doe");
    assert_eq!(jane.attribute("displayName"), Some("Jane Doe"));
    assert!(!jane.attributes.contains_key("groups"));
}

#[tokio::test]
async fn email_name_ids_on_request() {
    let idp = DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml").unwrap())
        .with_sp(SP, ACS)
        .with_user(alice());
    let settings = settings(&idp);
    let (id, xml) = authn_request(&settings, Some(response::EMAIL));
    let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
    let assertion = validate(&settings, &post, Some(&id)).unwrap();
    assert_eq!(assertion.name_id.value, "alice@example.test");
    assert_eq!(assertion.name_id.format.as_deref(), Some(response::EMAIL));
    let (_, xml) = authn_request(
        &settings,
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient"),
    );
    let err = idp.sign_in(redirect(&settings, &xml), "alice").unwrap_err();
    assert!(err.message().contains("NameIDPolicy"), "{err}");
}

#[tokio::test]
async fn idp_initiated_responses_need_the_connection_to_allow_them() {
    let idp = DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml").unwrap())
        .with_sp(SP, ACS)
        .with_user(alice());
    let adapter = SamlAdapter::with_flow_store(Arc::new(MemoryFlowStore::new()));
    let post = idp.idp_initiated(SP, "alice").unwrap();
    assert_eq!(post.url.as_str(), ACS);
    assert_eq!(post.relay_state, None);
    let conn_id = crate::types::ConnectionId::new("dev-saml");
    let refused = adapter
        .verify(
            &conn_id,
            &settings(&idp),
            &post.saml_response,
            ACS,
            None,
            SystemTime::now(),
        )
        .await
        .unwrap_err();
    assert_eq!(saml_error(&refused), &SamlError::Unsolicited);
    let mut options = options();
    options.allow_idp_initiated = true;
    let allowing = SamlSettings::from_metadata(&idp.metadata_xml(), options).unwrap();
    let identity = adapter
        .verify(
            &conn_id,
            &allowing,
            &post.saml_response,
            ACS,
            None,
            SystemTime::now(),
        )
        .await
        .unwrap();
    assert_eq!(identity.key.subject, "dev|alice");
    assert!(
        idp.idp_initiated("https://unknown.example", "alice")
            .is_err()
    );
    assert!(idp.idp_initiated(SP, "  ").is_err());
}

#[tokio::test]
async fn the_clock_offset_moves_every_instant() {
    let idp =
        DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml").unwrap()).with_sp(SP, ACS);
    let settings = settings(&idp);
    let (id, xml) = authn_request(&settings, None);
    idp.set_time_offset(-3600);
    let past = idp.now();
    assert!(SystemTime::now().duration_since(past).unwrap() >= Duration::from_secs(3599));
    let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
    assert_eq!(
        validate(&settings, &post, Some(&id)).unwrap_err().code(),
        "expired"
    );
    idp.set_time_offset(3600);
    let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
    assert_eq!(
        validate(&settings, &post, Some(&id)).unwrap_err().code(),
        "not_yet_valid"
    );
    idp.set_time_offset(0);
    let post = idp.sign_in(redirect(&settings, &xml), "alice").unwrap();
    validate(&settings, &post, Some(&id)).unwrap();
}

#[tokio::test]
async fn attribute_names_follow_other_presets() {
    let idp = DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml").unwrap())
        .with_sp(SP, ACS)
        .with_user(alice())
        .with_attribute_names(SamlAttributeNames::for_preset(Preset::Adfs));
    let adfs = SamlSettings::from_metadata(
        &idp.metadata_xml(),
        SamlOptions::new(SP, AttributeMapping::preset(Preset::Adfs)),
    )
    .unwrap();
    let (id, xml) = authn_request(&adfs, None);
    let post = idp.sign_in(redirect(&adfs, &xml), "alice").unwrap();
    let assertion = validate(&adfs, &post, Some(&id)).unwrap();
    assert!(
        assertion
            .attributes
            .contains_key("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")
    );
    let (_, profile) = adfs.options().mapping.identity(&assertion).unwrap();
    assert_eq!(profile.email.as_deref(), Some("alice@example.test"));
    assert_eq!(profile.name.as_deref(), Some("Alice Liddell"));
    assert_eq!(profile.groups, ["admins", "staff"]);
    assert_eq!(
        SamlAttributeNames::default(),
        SamlAttributeNames {
            email: "email".into(),
            name: "displayName".into(),
            groups: "groups".into(),
        }
    );
}

#[tokio::test]
async fn bad_requests_get_an_error_page() {
    let running = DevSamlIdp::spawn_local(|base| {
        DevSamlIdp::new(base.join("dev/saml").unwrap())
            .with_sp(SP, ACS)
            .with_sp(SP, "http://127.0.0.1:9/other/acs")
            .with_sp("https://second.example/sp", "https://second.example/acs")
    })
    .await
    .unwrap();
    let idp = running.idp();
    let settings = settings(idp);
    let client = http();
    let sso = idp.sso_url().clone();
    let request = |issuer: &str, acs: Option<&str>, destination: &str| {
        let mut x = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r\" Version=\"2.0\" \
             IssueInstant=\"2026-01-01T00:00:00Z\" Destination=\"{destination}\""
        );
        if let Some(acs) = acs {
            x.push_str(&format!(" AssertionConsumerServiceURL=\"{acs}\""));
        }
        x.push_str(&format!(
            "><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"
        ));
        x
    };
    let long = "r".repeat(81);
    let cases = [
        (
            request("https://unknown.example", Some(ACS), sso.as_str()),
            RELAY,
            "Unknown service provider",
        ),
        (
            request(SP, Some("http://127.0.0.1:9/evil"), sso.as_str()),
            RELAY,
            "is not registered",
        ),
        (
            request(SP, Some(ACS), "https://elsewhere.example/sso"),
            RELAY,
            "Destination",
        ),
        (
            request(SP, Some(ACS), sso.as_str()),
            long.as_str(),
            "80 bytes",
        ),
        ("<html/>".to_owned(), RELAY, "not a SAML 2.0 AuthnRequest"),
    ];
    for (xml, relay, message) in &cases {
        let url = authn::redirect_url(&sso, xml, relay, None).unwrap();
        let page = client.get(url.clone()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        let html = page.text().await.unwrap();
        assert!(html.contains(message), "{message}: {html}");
        let err = idp.sign_in(&url, "alice").unwrap_err();
        assert!(err.message().contains(message), "{err}");
    }
    for query in [
        "",
        "SAMLRequest=%%%",
        "SAMLRequest=AAAA",
        "SAMLRequest=a&SAMLRequest=b",
    ] {
        let page = client.get(format!("{sso}?{query}")).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    let page = client
        .post(sso.clone())
        .form(&[("RelayState", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert_eq!(idp.request_counts().sso_redirect, cases.len() as u64 + 4);
    assert_eq!(idp.request_counts().sso_post, 1);

    // No ACS URL in the request: the SP's first one. Another registered one: that one.
    let xml = request(SP, None, sso.as_str());
    let post = idp
        .sign_in(authn::redirect_url(&sso, &xml, "", None).unwrap(), "alice")
        .unwrap();
    assert_eq!(post.url.as_str(), ACS);
    assert_eq!(post.relay_state, None);
    let xml = request(SP, Some("http://127.0.0.1:9/other/acs"), sso.as_str());
    let post = idp
        .sign_in(authn::redirect_url(&sso, &xml, "", None).unwrap(), "alice")
        .unwrap();
    assert_eq!(post.url.as_str(), "http://127.0.0.1:9/other/acs");

    // sign_in checks the endpoint and the login.
    let (_, xml) = authn_request(&settings, None);
    let good = redirect(&settings, &xml);
    let mut elsewhere = good.clone();
    elsewhere.set_path("/dev/saml/other");
    assert!(
        idp.sign_in(&elsewhere, "alice")
            .unwrap_err()
            .message()
            .contains("single sign-on")
    );
    assert!(idp.sign_in(&good, "   ").is_err());
    let post = SsoRequest::Post {
        url: sso.clone(),
        fields: authn::post_fields(&xml, RELAY),
    };
    assert!(idp.sign_in(post, "alice").is_ok());

    // An empty login on the sign-in page shows the page again with a message.
    let page = client.get(good).send().await.unwrap();
    let (action, mut fields) = form(&page.text().await.unwrap());
    fields.push(("login".into(), "  ".into()));
    let again = client.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let html = again.text().await.unwrap();
    assert!(
        html.contains("role=\"alert\"") && html.contains("name=\"login\""),
        "{html}"
    );
}

#[tokio::test]
async fn nests_in_a_host_router_with_state() {
    #[derive(Clone)]
    struct AppState;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Url::parse(&format!(
        "http://{}/dev/saml",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    let idp = DevSamlIdp::new(base).with_sp(SP, ACS).with_sample_users();
    let app: Router = Router::<AppState>::new()
        .route("/", axum::routing::get(|| async { "host" }))
        .nest_service("/dev/saml", idp.router())
        .with_state(AppState);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let settings = SamlSettings::from_metadata(
        &http()
            .get(idp.metadata_url().clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        options(),
    )
    .unwrap();
    let (_, xml) = authn_request(&settings, None);
    let page = http().get(redirect(&settings, &xml)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Alice Example") && html.contains("Bob Example"));
    server.abort();
}

#[test]
#[should_panic(expected = "must not have a query")]
fn the_base_url_has_no_query() {
    let _ = DevSamlIdp::new(Url::parse("http://127.0.0.1/x?y").unwrap());
}

#[tokio::test]
async fn spawn_local_refuses_a_base_on_another_origin() {
    let err =
        DevSamlIdp::spawn_local(|_| DevSamlIdp::new(Url::parse("http://127.0.0.2:1/").unwrap()))
            .await
            .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
