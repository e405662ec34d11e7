//! Exclusive c14n, byte for byte against libxml2: the expected outputs in
//! `tests/fixtures/saml/c14n/vectors.json` were produced by lxml
//! (`etree.tostring(el, method="c14n", exclusive=True, inclusive_ns_prefixes=…)`)
//! from the W3C exc-c14n and Canonical XML examples, namespace edge cases and
//! SAML layouts (see `generate.py`).
#![cfg(feature = "saml")]

use serde::Deserialize;
use ssokit::saml::c14n;
use ssokit::saml::xml::{Document, Limits};

#[derive(Deserialize)]
struct Vector {
    name: String,
    input: String,
    path: Vec<usize>,
    prefixes: Vec<String>,
    expected: String,
}

fn vectors() -> Vec<Vector> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/saml/c14n/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn exclusive_c14n_matches_libxml2() {
    let vs = vectors();
    assert!(vs.len() >= 25);
    let mut failures = Vec::new();
    for v in &vs {
        let doc = Document::parse(&v.input, &Limits::METADATA)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let mut el = doc.root();
        for &i in &v.path {
            el = el.child_elements().nth(i).unwrap();
        }
        let prefixes: Vec<&str> = v.prefixes.iter().map(String::as_str).collect();
        let got = String::from_utf8(c14n::exclusive(el, None, &prefixes)).unwrap();
        if got != v.expected {
            failures.push(format!(
                "{}\n  expected {:?}\n  got      {:?}",
                v.name, v.expected, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn w3c_exc_c14n_example_renders_both_documents_alike() {
    // Exclusive XML Canonicalization 1.0 §2.2: the elem2 subtrees of both
    // documents have the same exclusive canonical form.
    let vs = vectors();
    let get = |n: &str| vs.iter().find(|v| v.name == n).unwrap().expected.clone();
    assert_eq!(get("w3c-exc-2.2-doc1-elem2"), get("w3c-exc-2.2-doc2-elem2"));
    assert_eq!(
        get("w3c-exc-2.2-doc1-elem2"),
        r#"<n1:elem2 xmlns:n1="http://example.net" xml:lang="en"><n3:stuff xmlns:n3="ftp://example.org"></n3:stuff></n1:elem2>"#
    );
}
