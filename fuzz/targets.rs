// The bodies of the fuzz targets, shared by `fuzz_targets/*.rs` (cargo-fuzz,
// nightly) and by `tests/saml_fuzz.rs` (a deterministic, bounded mutation run
// on stable that proves the same bodies do not panic on mutated fixtures).
//
// Each body must never panic for any input: every assertion here is a
// property ssokit guarantees, not a check of the input.

#![allow(dead_code)] // each fuzz binary uses one of these

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use ssokit::saml::xml::{Document, Limits};
use ssokit::saml::{IdpMetadata, ResponseLimits, TrustedKey, c14n, response};

const IDP_CERT: &str = include_str!("../tests/fixtures/saml/keys/idp-rsa.crt.pem");

/// The XML parser, with both policies.
pub(crate) fn xml_parse(data: &[u8]) {
    let _ = Document::parse_bytes(data, &Limits::PROTOCOL);
    let _ = Document::parse_bytes(data, &Limits::METADATA);
}

/// Exclusive c14n of every element (up to 32): the output is well-formed,
/// accepted by the parser, and a fixed point of canonicalization.
pub(crate) fn c14n(data: &[u8]) {
    let Ok(doc) = Document::parse_bytes(data, &Limits::METADATA) else {
        return;
    };
    for (i, e) in doc.elements().take(32).enumerate() {
        let prefixes: &[&str] = if i % 2 == 0 { &[] } else { &["xs", "#default"] };
        let out = c14n::exclusive(e, None, prefixes);
        let limits = Limits {
            max_bytes: usize::MAX / 4,
            ..Limits::METADATA
        };
        let again = Document::parse_bytes(&out, &limits).expect("canonical XML parses");
        assert_eq!(
            c14n::exclusive(again.root(), None, prefixes),
            out,
            "canonicalization is idempotent"
        );
    }
}

/// Certificate (DER) → trusted key: the minimal DER walk.
pub(crate) fn certificate(data: &[u8]) {
    if let Ok(k) = TrustedKey::from_certificate_der(data) {
        let _ = (k.kind(), k.certificate_sha256());
    }
}

/// IdP metadata parsing.
pub(crate) fn metadata(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = IdpMetadata::parse(text);
    }
}

fn key() -> &'static [TrustedKey] {
    static KEY: OnceLock<Vec<TrustedKey>> = OnceLock::new();
    KEY.get_or_init(|| vec![TrustedKey::from_certificate_pem(IDP_CERT).expect("test certificate")])
}

/// The whole Response path, from the form value: `data` as the base64 value
/// itself, and base64-encoded as the XML.
pub(crate) fn saml_response(data: &[u8]) {
    let expect = response::Expectations {
        idp_entity_id: "https://idp.example.com/saml",
        sp_entity_id: "https://sp.example.com/saml/metadata",
        acs_url: "https://sp.example.com/sso/saml/acs",
        in_response_to: Some("_a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4"),
        keys: key(),
        allow_unsigned_assertion_in_signed_response: data.first().is_some_and(|b| b & 1 == 1),
        clock_skew: Duration::from_secs(60),
        max_issue_age: Duration::from_secs(300),
        limits: ResponseLimits::default(),
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_768_478_410); // 2026-01-15T12:00:10Z
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = response::validate_response(text, &expect, now);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    if let Err(e) = response::validate_response(&encoded, &expect, now) {
        // Errors render without panicking and never echo the input.
        let _ = (e.to_string(), e.code(), e.status());
    }
}
