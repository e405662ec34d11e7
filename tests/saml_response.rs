//! Response validation through the public API, beyond the per-fixture
//! verdicts: identities per IdP layout, replay, clock boundaries, "claims only
//! from signed bytes", and what errors say.
#![cfg(feature = "saml")]

mod saml_support;

use std::time::Duration;

use saml_support::*;
use ssokit::saml::dsig::SignatureError;
use ssokit::saml::{SamlError, SignedParts, response};

fn fixture(m: &Manifest, name: &str) -> Fixture {
    m.fixtures.iter().find(|f| f.name == name).unwrap().clone()
}

#[tokio::test]
async fn identities_per_layout() {
    let m = manifest();
    let id = run(&m, &fixture(&m, "valid-okta-both-signed"))
        .await
        .unwrap();
    assert_eq!(id.key.subject, "00u1a2b3c4d5e6f7g8h9");
    assert_eq!(id.key.connection.as_str(), "acme-saml");
    assert_eq!(id.issuer, m.idp);
    assert_eq!(id.profile.email.as_deref(), Some("ann@acme.test"));
    assert!(
        !id.profile.email_verified,
        "Okta e-mail is a claim, not a proof"
    );
    assert_eq!(id.profile.given_name.as_deref(), Some("Ann"));
    assert_eq!(id.profile.family_name.as_deref(), Some("Example"));
    assert_eq!(id.profile.groups, vec!["Everyone", "Engineering"]);

    let id = run(&m, &fixture(&m, "valid-entra-assertion-signed"))
        .await
        .unwrap();
    assert_eq!(
        id.key.subject, "72f988bf-86f1-41af-91ab-2d7cd011db47/4b6c0f3e-2f7a-4d1b-9c1e-0d3f5a6b7c8d",
        "Entra: tid/oid, never the e-mail NameID"
    );
    assert_eq!(id.profile.email.as_deref(), Some("ann@acme.test"));
    assert!(!id.profile.email_verified);
    assert_eq!(id.profile.name.as_deref(), Some("Ann Example"));
    assert_eq!(
        id.profile.groups,
        vec!["0e5d7f8a-1111-2222-3333-444455556666"]
    );

    assert!(!id.profile.groups_incomplete);
    let id = run(&m, &fixture(&m, "valid-entra-groups-overage"))
        .await
        .unwrap();
    assert!(
        id.profile.groups.is_empty() && id.profile.groups_incomplete,
        "Entra overage fails closed"
    );

    let id = run(&m, &fixture(&m, "valid-adfs-assertion-signed"))
        .await
        .unwrap();
    assert_eq!(id.key.subject, "00u1a2b3c4d5e6f7g8h9");
    assert_eq!(id.profile.groups, vec!["Domain Users", "Engineering"]);
}

#[tokio::test]
async fn google_preset_verifies_email_but_needs_a_stable_subject() {
    let m = manifest();
    let mut f = fixture(&m, "valid-assertion-signed");
    f.options.insert("preset".into(), "google".into());
    // The fixture's NameID is persistent, so the default works here; Google's
    // real e-mail NameID would be refused (see `email-nameid`).
    let id = run(&m, &f).await.unwrap();
    assert!(id.profile.email_verified);
    let mut f = fixture(&m, "email-nameid");
    f.options.insert("preset".into(), "google".into());
    assert_eq!(run(&m, &f).await.unwrap_err().code(), "subject");
}

#[tokio::test]
async fn replayed_assertions_are_refused() {
    let m = manifest();
    let f = fixture(&m, "valid-assertion-signed");
    let s = settings_for(&m, &f);
    let a = adapter();
    run_with(&a, &m, &f, &s, &f.encoded(), f.now(&m))
        .await
        .unwrap();
    let again = run_with(
        &a,
        &m,
        &f,
        &s,
        &f.encoded(),
        f.now(&m) + Duration::from_secs(5),
    )
    .await;
    assert_eq!(again.unwrap_err(), SamlError::Replay);
    // The same response re-encoded with line breaks is the same assertion.
    let wrapped: String = f
        .encoded()
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let again = run_with(&a, &m, &f, &s, &wrapped, f.now(&m)).await;
    assert_eq!(again.unwrap_err(), SamlError::Replay);
}

#[tokio::test]
async fn clock_boundaries() {
    let m = manifest();
    let f = fixture(&m, "valid-assertion-signed");
    let s = settings_for(&m, &f);
    let t0 = response::parse_instant(&m.t0).unwrap();
    let skew = s.options().clock_skew;
    let check = |secs_after_t0: i64| {
        let now = if secs_after_t0 >= 0 {
            t0 + Duration::from_secs(secs_after_t0 as u64)
        } else {
            t0 - Duration::from_secs((-secs_after_t0) as u64)
        };
        let expect = s.expectations(&m.acs, Some(&m.request_id));
        response::validate_response(&f.encoded(), &expect, now)
            .map(|_| ())
            .map_err(|e| e.code())
    };
    let skew = skew.as_secs() as i64;
    // NotOnOrAfter = t0 + 300 s (Conditions and SubjectConfirmationData).
    assert_eq!(check(300 + skew - 1), Ok(()));
    assert_eq!(check(300 + skew), Err("expired".into()));
    // IssueInstant = t0: not in the future beyond the skew.
    assert_eq!(check(-skew), Ok(()));
    assert_eq!(check(-skew - 1), Err("not_yet_valid".into()));
}

#[test]
fn skew_is_bounded_at_construction() {
    let m = manifest();
    let f = fixture(&m, "valid-assertion-signed");
    let mut o = ssokit::saml::SamlOptions::new(
        m.sp.clone(),
        ssokit::saml::AttributeMapping::preset(ssokit::saml::Preset::Generic),
    );
    o.clock_skew = Duration::from_secs(181);
    let e = ssokit::saml::SamlSettings::from_metadata(&metadata_for(&m, &f.keys), o).unwrap_err();
    assert_eq!(e.code(), "config");
    // The validator itself bounds both windows too (no overflow from a huge age).
    let s = settings_for(&m, &f);
    for (skew, age) in [
        (Duration::from_secs(181), Duration::from_secs(300)),
        (Duration::from_secs(60), Duration::MAX),
        (Duration::from_secs(60), Duration::from_secs(601)),
        (Duration::from_secs(60), Duration::ZERO),
    ] {
        let mut e = s.expectations(&m.acs, Some(&m.request_id));
        e.clock_skew = skew;
        e.max_issue_age = age;
        let got = response::validate_response(&f.encoded(), &e, f.now(&m)).unwrap_err();
        assert_eq!(got.code(), "config", "{skew:?} {age:?}");
    }
}

fn assertion_span(xml: &str) -> (usize, usize, usize, usize) {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.rfind("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let ki_start = xml.find("<ds:KeyInfo").unwrap_or(end);
    let ki_end = xml
        .find("</ds:KeyInfo>")
        .map_or(end, |i| i + "</ds:KeyInfo>".len());
    (start, end, ki_start, ki_end)
}

#[tokio::test]
async fn every_change_inside_the_signed_assertion_is_refused() {
    let m = manifest();
    let f = fixture(&m, "valid-assertion-signed");
    let s = settings_for(&m, &f);
    let xml = String::from_utf8(f.bytes()).unwrap();
    let (start, end, ki_start, ki_end) = assertion_span(&xml);
    let mut checked = 0;
    for i in (start..end).step_by(3) {
        if (ki_start..ki_end).contains(&i) {
            continue; // KeyInfo is ignored by design: keys come from metadata only
        }
        let b = xml.as_bytes()[i];
        if !b.is_ascii_alphanumeric() {
            continue;
        }
        let mut bytes = xml.clone().into_bytes();
        bytes[i] = if b == b'Q' { b'R' } else { b'Q' };
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
        let r = run_with(&adapter(), &m, &f, &s, &encoded, f.now(&m)).await;
        assert!(
            r.is_err(),
            "changing byte {i} ({:?}) was accepted",
            &xml[i.saturating_sub(20)..i + 20]
        );
        checked += 1;
    }
    assert!(checked > 500);
}

#[tokio::test]
async fn nothing_outside_the_signed_assertion_is_read() {
    let m = manifest();
    let f = fixture(&m, "valid-assertion-signed");
    let s = settings_for(&m, &f);
    let xml = String::from_utf8(f.bytes()).unwrap();
    let base = run_with(&adapter(), &m, &f, &s, &f.encoded(), f.now(&m))
        .await
        .unwrap();
    // Unsigned Response-level additions and changes that no check reads.
    for changed in [
        xml.replacen("<samlp:Status>", r#"<samlp:Extensions><x:Claim xmlns:x="urn:x" Name="email">evil@evil.test</x:Claim></samlp:Extensions><samlp:Status>"#, 1),
        xml.replacen("_resp8e1f2a3b4c5d6e7f80910a1b2c3d4e5f6", "_respOTHER", 1),
        xml.replacen("<samlp:StatusCode ", r#"<samlp:StatusMessage>anything</samlp:StatusMessage><samlp:StatusCode "#, 1),
    ] {
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, changed.as_bytes());
        let got = run_with(&adapter(), &m, &f, &s, &encoded, f.now(&m)).await.unwrap();
        assert_eq!(got, base);
    }
}

/// A signed text written again as a CDATA section: the same characters
/// verify (CDATA is only another way to write text), the text's escaped
/// form does not (its canonical form would equal the signed one if CDATA
/// were copied to c14n unescaped, and `a & b` would be read as `a &amp; b`).
#[tokio::test]
async fn signed_text_rewritten_as_cdata() {
    let m = manifest();
    let f = fixture(&m, "valid-char-refs");
    let s = settings_for(&m, &f);
    let xml = String::from_utf8(f.bytes()).unwrap();
    let signed = ">a &amp; b &lt; c \"q\" \ttab<";
    assert!(xml.contains(signed), "the fixture's note attribute changed");
    let base = run_with(&adapter(), &m, &f, &s, &f.encoded(), f.now(&m))
        .await
        .unwrap();
    let with = |cdata: &str| {
        let changed = xml.replacen(signed, &format!("><![CDATA[{cdata}]]><"), 1);
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, changed)
    };
    let same = run_with(
        &adapter(),
        &m,
        &f,
        &s,
        &with("a & b < c \"q\" \ttab"),
        f.now(&m),
    )
    .await
    .unwrap();
    assert_eq!(same, base);
    for escaped in ["a &amp; b &lt; c \"q\" \ttab", "a &amp; b < c \"q\" \ttab"] {
        let got = run_with(&adapter(), &m, &f, &s, &with(escaped), f.now(&m)).await;
        assert!(
            matches!(
                got,
                Err(SamlError::Signature(SignatureError::DigestMismatch))
            ),
            "{escaped}: {got:?}"
        );
    }
}

#[test]
fn signed_parts_are_reported() {
    let m = manifest();
    let check = |name: &str, allow: bool| {
        let mut f = fixture(&m, name);
        if allow {
            f.options.insert(
                "allow_unsigned_assertion_in_signed_response".into(),
                true.into(),
            );
        }
        let s = settings_for(&m, &f);
        let e = s.expectations(&m.acs, Some(&m.request_id));
        response::validate_response(&f.encoded(), &e, f.now(&m))
            .unwrap()
            .signed
    };
    assert_eq!(
        check("valid-assertion-signed", false),
        SignedParts::Assertion
    );
    assert_eq!(check("valid-response-signed", true), SignedParts::Response);
    assert_eq!(check("valid-both-signed", false), SignedParts::Both);
    assert_eq!(check("valid-okta-both-signed", false), SignedParts::Both);
}

#[tokio::test]
async fn errors_never_echo_the_assertion() {
    let m = manifest();
    for f in &m.fixtures {
        let Err(e) = run(&m, f).await else { continue };
        let shown = format!("{e} {e:?}");
        let err: ssokit::Error = e.clone().into();
        let shown = format!("{shown} {err} {err:?}");
        for secret in ["00u1a2b3c4d5e6f7g8h9", "ann@acme.test", "PHNhbWxw"] {
            assert!(
                !shown.contains(secret),
                "{}: error shows {secret}: {shown}",
                f.name
            );
        }
        assert!(shown.len() < 1200, "{}: overly long error", f.name);
    }
}

#[tokio::test]
async fn http_status_and_kind() {
    let m = manifest();
    let status = |e: SamlError| ssokit::Error::from(e).status();
    let e = run(&m, &fixture(&m, "audience-other-sp"))
        .await
        .unwrap_err();
    assert_eq!(status(e), 401);
    let e = run(&m, &fixture(&m, "doctype-prefix")).await.unwrap_err();
    assert_eq!(status(e), 400);
    let e = run(&m, &fixture(&m, "oversized")).await.unwrap_err();
    assert_eq!(status(e), 413);
    let e = run(&m, &fixture(&m, "status-responder-nested-success"))
        .await
        .unwrap_err();
    assert_eq!(e, SamlError::Status("Responder/Success".into()));
    let err = ssokit::Error::from(SamlError::Replay);
    assert_eq!(err.code(), "saml");
    assert!(matches!(
        err.kind(),
        ssokit::ErrorKind::Saml(SamlError::Replay)
    ));
}

#[test]
fn malformed_form_values() {
    let m = manifest();
    let f = fixture(&m, "valid-assertion-signed");
    let s = settings_for(&m, &f);
    let e = s.expectations(&m.acs, Some(&m.request_id));
    let code = |v: &str| {
        response::validate_response(v, &e, f.now(&m))
            .unwrap_err()
            .code()
    };
    assert_eq!(code("not base64 !!"), "base64");
    assert_eq!(code(""), "xml.structure");
    assert_eq!(code(&"A".repeat(300 * 1024)), "too_large");
    assert_eq!(code("PGEvPg=="), "malformed"); // <a/>
}
