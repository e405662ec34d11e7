//! Differential oracle (feature `xmlsec`): libxmlsec1 and libxml2 against
//! ssokit's own verifier and canonicalizer.
//!
//! - Every fixture the manifest marks for the oracle (signatures inside
//!   ssokit's profile, valid or tampered) gets the same verdict, signature by
//!   signature, from libxmlsec1 (through the `xmlsec` crate, SAML `ID`
//!   attributes registered) and from `ssokit::saml::dsig`.
//! - The exclusive c14n of every vector and of every fixture's Assertion is
//!   byte for byte libxml2's (`xmlC14NExecute` through the `libxml` crate).
//! - The xmlsec1 command-line tool verifies every valid fixture.
//!
//! Needs the Debian packages `libxmlsec1-dev libclang-dev pkg-config xmlsec1`.
#![cfg(feature = "xmlsec")]

mod saml_support;

use libxml::parser::Parser;
use libxml::tree::c14n::{CanonicalizationMode, CanonicalizationOptions};
use saml_support::*;
use ssokit::saml::TrustedKey;
use ssokit::saml::xml::{Document, Limits};
use ssokit::saml::{c14n, dsig};
use xmlsec::{
    XmlSecDocumentExt, XmlSecKey, XmlSecKeyFormat, XmlSecSignatureContext, XmlXPathContext,
};

const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DS: &str = "http://www.w3.org/2000/09/xmldsig#";

fn cert_pem(name: &str) -> Vec<u8> {
    std::fs::read(dir().join("keys").join(format!("{name}.crt.pem"))).unwrap()
}

fn xpath(doc: &xmlsec::XmlDocument) -> XmlXPathContext {
    let ctx = XmlXPathContext::new(doc).unwrap();
    ctx.register_namespace("samlp", SAMLP).unwrap();
    ctx.register_namespace("saml", SAML).unwrap();
    ctx.register_namespace("ds", DS).unwrap();
    ctx
}

/// libxmlsec1's verdict on each `ds:Signature` of the document, in document order.
fn xmlsec_verdicts(bytes: &[u8], keys: &[String]) -> Vec<bool> {
    let doc = Parser::default().parse_string(bytes).unwrap();
    for (path, _) in [
        ("//samlp:Response", "Response"),
        ("//saml:Assertion", "Assertion"),
    ] {
        let _ = doc.specify_idattr(path, "ID", Some(&[("samlp", SAMLP), ("saml", SAML)]));
    }
    let sigs = xpath(&doc)
        .evaluate("//ds:Signature")
        .unwrap()
        .get_nodes_as_vec();
    sigs.iter()
        .map(|sig| {
            keys.iter().any(|k| {
                let key =
                    XmlSecKey::from_memory(&cert_pem(k), XmlSecKeyFormat::CertPem, None).unwrap();
                let mut ctx = XmlSecSignatureContext::new();
                ctx.insert_key(key);
                matches!(ctx.verify_node(sig), Ok(true))
            })
        })
        .collect()
}

/// ssokit's verdict on each `ds:Signature`, in document order.
fn ssokit_verdicts(bytes: &[u8], keys: &[String]) -> Vec<bool> {
    let trusted: Vec<TrustedKey> = keys
        .iter()
        .map(|k| {
            TrustedKey::from_certificate_pem(std::str::from_utf8(&cert_pem(k)).unwrap()).unwrap()
        })
        .collect();
    let doc = Document::parse_bytes(
        bytes,
        &Limits {
            max_bytes: 4 << 20,
            ..Limits::PROTOCOL
        },
    )
    .unwrap();
    doc.elements()
        .filter(|e| e.is(DS, "Signature"))
        .map(|sig| dsig::verify_enveloped(sig.parent().unwrap(), &trusted).is_ok())
        .collect()
}

#[test]
fn signature_verdicts_match_libxmlsec1() {
    let m = manifest();
    let mut compared = 0;
    let mut failures = Vec::new();
    for f in m.fixtures.iter().filter(|f| f.oracle.is_some()) {
        let bytes = f.bytes();
        let theirs = xmlsec_verdicts(&bytes, &f.keys);
        let ours = ssokit_verdicts(&bytes, &f.keys);
        let want_all_valid = f.oracle.as_deref() == Some("valid");
        if theirs != ours || theirs.is_empty() || theirs.iter().all(|v| *v) != want_all_valid {
            failures.push(format!(
                "{}: libxmlsec1 {theirs:?}, ssokit {ours:?}",
                f.name
            ));
        }
        compared += 1;
    }
    assert!(compared >= 15, "only {compared} fixtures compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[derive(serde::Deserialize)]
struct Vector {
    name: String,
    input: String,
    path: Vec<usize>,
    prefixes: Vec<String>,
}

fn libxml2_c14n(node: &mut libxml::tree::Node, prefixes: &[String]) -> String {
    node.canonicalize(CanonicalizationOptions {
        mode: CanonicalizationMode::ExclusiveCanonical1_0,
        with_comments: false,
        inclusive_ns_prefixes: prefixes.to_vec(),
    })
    .unwrap()
}

#[test]
fn exclusive_c14n_matches_libxml2_live() {
    let p = dir().join("c14n/vectors.json");
    let vectors: Vec<Vector> = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let mut failures = Vec::new();
    for v in &vectors {
        let theirs_doc = Parser::default().parse_string(&v.input).unwrap();
        let mut node = theirs_doc.get_root_element().unwrap();
        for &i in &v.path {
            node = node.get_child_elements()[i].clone();
        }
        let theirs = libxml2_c14n(&mut node, &v.prefixes);
        let doc = Document::parse(&v.input, &Limits::METADATA).unwrap();
        let mut el = doc.root();
        for &i in &v.path {
            el = el.child_elements().nth(i).unwrap();
        }
        let prefixes: Vec<&str> = v.prefixes.iter().map(String::as_str).collect();
        let ours = String::from_utf8(c14n::exclusive(el, None, &prefixes)).unwrap();
        if ours != theirs {
            failures.push(format!(
                "{}\n  libxml2 {theirs:?}\n  ssokit  {ours:?}",
                v.name
            ));
        }
    }
    // Every accepted fixture's Assertion (Signature included) and Response.
    let m = manifest();
    for f in m.fixtures.iter().filter(|f| f.expect == "ok") {
        let bytes = f.bytes();
        let theirs_doc = Parser::default().parse_string(&bytes).unwrap();
        let doc = Document::parse_bytes(
            &bytes,
            &Limits {
                max_bytes: 4 << 20,
                ..Limits::PROTOCOL
            },
        )
        .unwrap();
        let prefixes: Vec<String> = if f.name.contains("okta") {
            vec!["xs".into()]
        } else {
            vec![]
        };
        let p: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let mut root = theirs_doc.get_root_element().unwrap();
        let mut assertion = xpath(&theirs_doc)
            .evaluate("//saml:Assertion")
            .unwrap()
            .get_nodes_as_vec()
            .remove(0);
        let ours_a = c14n::exclusive(
            doc.root().children_named(SAML, "Assertion").next().unwrap(),
            None,
            &p,
        );
        let ours_r = c14n::exclusive(doc.root(), None, &p);
        if String::from_utf8(ours_a).unwrap() != libxml2_c14n(&mut assertion, &prefixes) {
            failures.push(format!("{}: Assertion differs", f.name));
        }
        if String::from_utf8(ours_r).unwrap() != libxml2_c14n(&mut root, &prefixes) {
            failures.push(format!("{}: Response differs", f.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn xmlsec1_cli_verifies_every_valid_fixture() {
    let m = manifest();
    let verifies = |f: &Fixture, key: &str| {
        let out = std::process::Command::new("xmlsec1")
            .arg("--verify")
            .args(["--id-attr:ID", &format!("{SAMLP}:Response")])
            .args(["--id-attr:ID", &format!("{SAML}:Assertion")])
            .args([
                "--pubkey-cert-pem",
                dir()
                    .join("keys")
                    .join(format!("{key}.crt.pem"))
                    .to_str()
                    .unwrap(),
            ])
            .arg(dir().join("responses").join(format!("{}.xml", f.name)))
            .output()
            .expect("the xmlsec1 command-line tool (Debian package xmlsec1) is needed");
        out.status.success()
    };
    for f in m.fixtures.iter().filter(|f| f.oracle.is_some()) {
        // xmlsec1 checks the first Signature (the Response's when both are signed).
        let ok = f.keys.iter().any(|k| verifies(f, k));
        assert_eq!(ok, f.oracle.as_deref() == Some("valid"), "{}", f.name);
    }
}

#[test]
fn xmlsec1_cli_verifies_a_signed_post_authn_request() {
    let pem = std::fs::read(dir().join("keys/sp-rsa.pk8.der")).unwrap();
    let cert = std::fs::read(dir().join("keys/sp-rsa.crt.der")).unwrap();
    let key = ssokit::saml::SpSigningKey::from_pkcs8(&pem, Some(cert)).unwrap();
    let req = ssokit::saml::authn::AuthnRequest {
        id: &ssokit::saml::authn::new_request_id(),
        issue_instant: std::time::SystemTime::now(),
        destination: "https://idp.example.com/saml/sso/post",
        acs_url: "https://sp.example.com/sso/saml/acs",
        sp_entity_id: "https://sp.example.com/saml/metadata",
        name_id_format: None,
        force_authn: false,
    }
    .to_xml();
    let signed = ssokit::saml::authn::sign_enveloped(&req, &key).unwrap();
    let path = std::env::temp_dir().join(format!("ssokit-authnrequest-{}.xml", std::process::id()));
    std::fs::write(&path, signed).unwrap();
    let out = std::process::Command::new("xmlsec1")
        .arg("--verify")
        .args(["--id-attr:ID", &format!("{SAMLP}:AuthnRequest")])
        .args([
            "--pubkey-cert-pem",
            dir().join("keys/sp-rsa.crt.pem").to_str().unwrap(),
        ])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Differential c14n: mutations of the vectors and fixtures that both
/// parsers accept must canonicalize to the same bytes.
#[test]
fn exclusive_c14n_differential_over_mutations() {
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n.max(1) as u64) as usize
        }
    }
    const TOKENS: &[&str] = &[
        " xmlns=\"\"",
        " xmlns=\"urn:d\"",
        " xmlns:a=\"urn:a\"",
        " xmlns:b=\"urn:a\"",
        " a:x=\"1\"",
        " b:y=\"&lt;&#9;\"",
        " z=\"\r\n\"",
        "<a:e/>",
        "<e xmlns=\"urn:e\"/>",
        "<?p d?>",
        "&#xD;",
        "<![CDATA[<&>]]>",
        // Without `>` or `]`: the parser's plain-text path, which must not
        // take CDATA holding `<` or `&` as canonical.
        "<![CDATA[a<b&c]]>",
        "<![CDATA[&amp;]]>",
        "\r\n",
        " xml:lang=\"en\"",
        "<b:f b:g=\"2\">t</b:f>",
    ];
    let p = dir().join("c14n/vectors.json");
    let vectors: Vec<Vector> = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    let seeds: Vec<String> = vectors.iter().map(|v| v.input.clone()).collect();
    let mut rng = Rng(0x0DD5_EED5);
    let (mut compared, mut failures) = (0, Vec::new());
    for _ in 0..8000 {
        let mut s = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(3) {
            // Insert a token at a random tag boundary (after a '<name' or before a '>').
            let spots: Vec<usize> = s.match_indices(['>', ' ']).map(|(i, _)| i).collect();
            if spots.is_empty() {
                break;
            }
            let at = spots[rng.below(spots.len())];
            s.insert_str(at, TOKENS[rng.below(TOKENS.len())]);
        }
        let Ok(ours_doc) = Document::parse(&s, &Limits::METADATA) else {
            continue;
        };
        let Ok(theirs_doc) = Parser::default().parse_string(&s) else {
            continue;
        };
        let prefixes: Vec<String> = if rng.below(2) == 0 {
            vec![]
        } else {
            vec!["a".into(), "#default".into()]
        };
        let p: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let mut theirs_root = theirs_doc.get_root_element().unwrap();
        let Ok(theirs) = theirs_root.canonicalize(CanonicalizationOptions {
            mode: CanonicalizationMode::ExclusiveCanonical1_0,
            with_comments: false,
            inclusive_ns_prefixes: prefixes.clone(),
        }) else {
            continue;
        };
        let ours = String::from_utf8(c14n::exclusive(ours_doc.root(), None, &p)).unwrap();
        compared += 1;
        if ours != theirs && failures.len() < 5 {
            failures.push(format!(
                "input {s:?}\n  libxml2 {theirs:?}\n  ssokit  {ours:?}"
            ));
        }
    }
    assert!(compared > 1000, "only {compared} inputs compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
