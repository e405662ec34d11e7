//! Refusals that no fixture reached: each test feeds the public validator a
//! Response that only the named check refuses, and asserts that check's exact
//! error, so that removing (or reordering) the check fails the test.
//!
//! Changes to unsigned parts (Response attributes and Status of an
//! assertion-signed fixture) and to `SignedInfo` (checked before any
//! cryptography) need no new signature. Checks that run on the signed
//! Assertion only after its signature verified are reached by signing the
//! changed message again with the fixture IdP's key ([`resign`]).
#![cfg(feature = "saml")]

mod saml_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use saml_support::*;
use ssokit::saml::dsig::{self, DSIG_NS, SignatureError};
use ssokit::saml::response::{self, ASSERTION_NS, ValidatedAssertion};
use ssokit::saml::xml::{Document, Element, Limits};
use ssokit::saml::{SamlError, c14n};

const STATUS: &str = r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#;
const RESPONSE_ID: &str = r#"ID="_resp8e1f2a3b4c5d6e7f80910a1b2c3d4e5f6""#;
const ASSERTION_ID: &str = r#"ID="_asrt1f2e3d4c5b6a79880716253443526170""#;

fn fixture(m: &Manifest, name: &str) -> (Fixture, String) {
    let f = m.fixtures.iter().find(|f| f.name == name).unwrap().clone();
    let xml = String::from_utf8(f.bytes()).unwrap();
    (f, xml)
}

/// `xml` with the first `from` replaced; `from` must be there.
fn edit(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "the fixture no longer contains {from}");
    xml.replacen(from, to, 1)
}

/// Validates `xml` as the fixture's Response, through `validate_response`.
fn validate(m: &Manifest, f: &Fixture, xml: &str) -> Result<ValidatedAssertion, SamlError> {
    let s = settings_for(m, f);
    let expect = s.expectations(&m.acs, Some(&m.request_id));
    response::validate_response(&STANDARD.encode(xml), &expect, f.now(m))
}

/// The element whose enveloped signature [`resign`] computes again.
#[derive(Clone, Copy)]
enum Signed {
    Response,
    Assertion,
}

fn signed_element(doc: &Document, which: Signed) -> (Element<'_>, Element<'_>) {
    let root = doc.root();
    let e = match which {
        Signed::Response => root,
        Signed::Assertion => root
            .children_named(ASSERTION_NS, "Assertion")
            .next()
            .unwrap(),
    };
    (e, dsig::signature_child(e).unwrap().unwrap())
}

/// `xml` with the text of its one `<tag>` element replaced.
fn set_text(xml: &str, tag: &str, text: &str) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    assert_eq!(xml.matches(&open).count(), 1, "one {tag}");
    let start = xml.find(&open).unwrap() + open.len();
    let end = xml.find(&close).unwrap();
    format!("{}{text}{}", &xml[..start], &xml[end..])
}

/// Signs a changed single-signature fixture again, as its IdP would have
/// (SHA-256 digest, RSA-SHA256 with `keys/idp-rsa`, exclusive c14n without
/// inclusive prefixes): the digest of the signed element, then the
/// signature over the canonical `SignedInfo`.
fn resign(xml: &str, which: Signed) -> String {
    let doc = Document::parse(xml, &Limits::PROTOCOL).unwrap();
    let (element, sig) = signed_element(&doc, which);
    let canonical = c14n::exclusive(element, Some(sig.id()), &[]);
    let digest = ring::digest::digest(&ring::digest::SHA256, &canonical);
    let xml = set_text(xml, "ds:DigestValue", &STANDARD.encode(digest));

    let doc = Document::parse(&xml, &Limits::PROTOCOL).unwrap();
    let (_, sig) = signed_element(&doc, which);
    let signed_info = sig.children_named(DSIG_NS, "SignedInfo").next().unwrap();
    let canonical = c14n::exclusive(signed_info, None, &[]);
    let pem = std::fs::read_to_string(dir().join("keys/idp-rsa.key.pem")).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = RsaKeyPair::from_pkcs8(&STANDARD.decode(b64).unwrap()).unwrap();
    let (rng, mut value) = (SystemRandom::new(), vec![0; key.public().modulus_len()]);
    let signed = key.sign(&RSA_PKCS1_SHA256, &rng, &canonical, &mut value);
    signed.unwrap();
    set_text(&xml, "ds:SignatureValue", &STANDARD.encode(value))
}

/// The premise of the tests below that use [`resign`]: a change inside the
/// signed Assertion (or Response) is refused as a digest mismatch as it
/// stands, and accepted, with the changed value, once signed again.
#[test]
fn resigned_changes_verify() {
    let m = manifest();
    for (name, which) in [
        ("valid-assertion-signed", Signed::Assertion),
        ("valid-response-signed", Signed::Response),
    ] {
        let (f, xml) = fixture(&m, name);
        let changed = edit(
            &xml,
            "<saml:AttributeValue>Ann<",
            "<saml:AttributeValue>Anne<",
        );
        assert_eq!(
            validate(&m, &f, &changed).unwrap_err(),
            SamlError::Signature(SignatureError::DigestMismatch),
            "{name}"
        );
        let ok = validate(&m, &f, &resign(&changed, which)).unwrap();
        assert_eq!(ok.attribute("firstName"), Some("Anne"), "{name}");
    }
}

/// The Response must have exactly one `Status` (checked first, on the
/// unsigned Response): none or two are malformed, not a success.
#[test]
fn response_without_one_status() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    for changed in [
        edit(&xml, STATUS, ""),
        edit(&xml, STATUS, &format!("{STATUS}{STATUS}")),
    ] {
        assert_eq!(
            validate(&m, &f, &changed).unwrap_err(),
            SamlError::Malformed("the Response must have one Status")
        );
    }
}

/// The `Status` must have exactly one top-level `StatusCode`: none (only a
/// `StatusMessage`) or two are malformed.
#[test]
fn status_without_one_status_code() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    let code = r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>"#;
    for inner in [
        "<samlp:StatusMessage>signed in</samlp:StatusMessage>".to_owned(),
        format!("{code}{code}"),
    ] {
        let changed = edit(
            &xml,
            STATUS,
            &format!("<samlp:Status>{inner}</samlp:Status>"),
        );
        assert_eq!(
            validate(&m, &f, &changed).unwrap_err(),
            SamlError::Malformed("the Status must have one StatusCode"),
            "{inner}"
        );
    }
}

/// The Response's `ID` (unsigned when only the Assertion is signed) must be
/// present and an NCName: missing, empty, starting with a digit or holding
/// a colon are refused after the Assertion's signature verified.
#[test]
fn response_id_missing_or_not_an_ncname() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    assert_eq!(
        validate(&m, &f, &edit(&xml, RESPONSE_ID, "")).unwrap_err(),
        SamlError::Malformed("the ID is missing")
    );
    for bad in ["", "1resp", "_resp:1", "_resp 1"] {
        let changed = edit(&xml, RESPONSE_ID, &format!(r#"ID="{bad}""#));
        assert_eq!(
            validate(&m, &f, &changed).unwrap_err(),
            SamlError::Malformed("the ID is not an XML name"),
            "{bad:?}"
        );
    }
}

/// The Assertion's `ID` must be present and an NCName. When the Assertion
/// carries the signature, its ID is the signature's reference and a bad one
/// is a `Reference` error in dsig; the Assertion-level check is only reached
/// for an unsigned Assertion inside a signed Response (allowed by the
/// fixture's connection), here signed again after the change.
#[test]
fn assertion_id_missing_or_not_an_ncname() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-response-signed");
    let missing = resign(&edit(&xml, ASSERTION_ID, ""), Signed::Response);
    assert_eq!(
        validate(&m, &f, &missing).unwrap_err(),
        SamlError::Malformed("the ID is missing")
    );
    for bad in ["", "1asrt", "_asrt:1"] {
        let changed = edit(&xml, ASSERTION_ID, &format!(r#"ID="{bad}""#));
        assert_eq!(
            validate(&m, &f, &resign(&changed, Signed::Response)).unwrap_err(),
            SamlError::Malformed("the ID is not an XML name"),
            "{bad:?}"
        );
    }
    // With the Assertion signed, dsig refuses first.
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    let changed = edit(&xml, ASSERTION_ID, r#"ID="1asrt""#);
    assert_eq!(
        validate(&m, &f, &changed).unwrap_err(),
        SamlError::Signature(SignatureError::Reference)
    );
}

/// A signed Subject with an `EncryptedID` instead of a `NameID` is refused as
/// encrypted content (not as a Subject without NameID).
#[test]
fn encrypted_id_in_signed_subject() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    let name_id = r#"<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">00u1a2b3c4d5e6f7g8h9</saml:NameID>"#;
    let encrypted = r#"<saml:EncryptedID><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedID>"#;
    let changed = resign(&edit(&xml, name_id, encrypted), Signed::Assertion);
    let err = validate(&m, &f, &changed).unwrap_err();
    assert_eq!(err, SamlError::EncryptedAssertion);
    assert_eq!(err.code(), "encrypted_assertion");
}

/// A signed Assertion with a generic `saml:Statement` (an `xsi:type`
/// extension ssokit does not know) besides its AuthnStatement is refused.
#[test]
fn unknown_statement_in_signed_assertion() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    let statement = r#"<saml:Statement xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:x="urn:example:x" xsi:type="x:PolicyStatement"/><saml:AttributeStatement>"#;
    let changed = edit(&xml, "<saml:AttributeStatement>", statement);
    assert_eq!(
        validate(&m, &f, &resign(&changed, Signed::Assertion)).unwrap_err(),
        SamlError::Malformed("the Assertion has a statement ssokit does not understand")
    );
}

/// One `OneTimeUse` condition is accepted (replay protection is the
/// caller's anyway); two are malformed.
#[test]
fn repeated_one_time_use() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    let with = |conditions: &str| {
        let changed = edit(
            &xml,
            "</saml:AudienceRestriction>",
            &format!("</saml:AudienceRestriction>{conditions}"),
        );
        validate(&m, &f, &resign(&changed, Signed::Assertion))
    };
    assert!(with("<saml:OneTimeUse/>").is_ok());
    assert_eq!(
        with("<saml:OneTimeUse/><saml:OneTimeUse/>").unwrap_err(),
        SamlError::Malformed("OneTimeUse appears twice")
    );
}

/// An `InclusiveNamespaces` PrefixList (in `SignedInfo`'s
/// CanonicalizationMethod or in the Reference's exc-c14n Transform) has at
/// most 32 entries, each `#default` or an NCName: 32 pass the profile check
/// (and fail only at the signature, as `SignedInfo` changed); 33, or a bad
/// prefix, are a `Structure` error before any cryptography.
#[test]
fn inclusive_namespaces_prefix_list() {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    let exc = r#"Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#""#;
    let with = |tag: &str, list: &str| {
        let method = format!("<ds:{tag} {exc}/>");
        let inc = format!(
            r#"<ds:{tag} {exc}><ec:InclusiveNamespaces xmlns:ec="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="{list}"/></ds:{tag}>"#
        );
        validate(&m, &f, &edit(&xml, &method, &inc)).unwrap_err()
    };
    let prefixes = |n: usize| -> Vec<String> { (0..n).map(|i| format!("p{i}")).collect() };
    let mut thirty_two = prefixes(31);
    thirty_two.push("#default".into());
    for method in ["CanonicalizationMethod", "Transform"] {
        assert_eq!(
            with(method, &thirty_two.join(" ")),
            SamlError::Signature(SignatureError::Invalid)
        );
        for list in [
            prefixes(33).join(" "),
            "saml 1bad".into(),
            "saml a:b".into(),
        ] {
            assert_eq!(
                with(method, &list),
                SamlError::Signature(SignatureError::Structure),
                "{method} {list}"
            );
        }
    }
}

/// The `SignatureError` of the assertion-signed fixture with the algorithm
/// URI `from` (in `SignedInfo`, unsigned until the signature is checked)
/// replaced by `to`.
fn algorithm_refusal(from: &str, to: &str) -> SignatureError {
    let m = manifest();
    let (f, xml) = fixture(&m, "valid-assertion-signed");
    let from = format!(r#"Algorithm="{from}""#);
    match validate(&m, &f, &edit(&xml, &from, to)).unwrap_err() {
        SamlError::Signature(e) => e,
        other => panic!("{to}: {other:?}"),
    }
}

const ENC: &str = "http://www.w3.org/2001/04/xmlenc#";
const MORE: &str = "http://www.w3.org/2001/04/xmldsig-more#";

/// `DigestMethod`: an unknown URI (or none) is unsupported, MD5 is weak;
/// both refused before any cryptography.
#[test]
fn digest_method_unknown_or_md5() {
    use SignatureError::{UnsupportedAlgorithm as Unsupported, WeakAlgorithm as Weak};
    let sha256 = format!("{ENC}sha256");
    for (to, want) in [
        (format!(r#"Algorithm="{ENC}ripemd160""#), Unsupported),
        (r#"Algorithm="urn:example:digest""#.into(), Unsupported),
        (String::new(), Unsupported),
        (format!(r#"Algorithm="{MORE}md5""#), Weak),
    ] {
        assert_eq!(algorithm_refusal(&sha256, &to), want, "{to}");
    }
}

/// `SignatureMethod`: DSA (even with SHA-256) and RSA-MD5 are weak, not
/// merely unsupported; ECDSA-SHA512, which also contains `dsa-`, is not
/// mistaken for DSA.
#[test]
fn signature_method_dsa_or_md5() {
    use SignatureError::{UnsupportedAlgorithm as Unsupported, WeakAlgorithm as Weak};
    let rsa_sha256 = format!("{MORE}rsa-sha256");
    for (uri, want) in [
        (
            "http://www.w3.org/2009/xmldsig11#dsa-sha256".to_owned(),
            Weak,
        ),
        (format!("{MORE}rsa-md5"), Weak),
        (format!("{MORE}ecdsa-sha512"), Unsupported),
    ] {
        let got = algorithm_refusal(&rsa_sha256, &format!(r#"Algorithm="{uri}""#));
        assert_eq!(got, want, "{uri}");
    }
}
