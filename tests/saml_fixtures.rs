//! Every fixture of `tests/fixtures/saml` (signed by signxml / xmlsec1, and
//! the attack corpus derived from them) gets exactly the verdict the manifest
//! names, through the public `ssokit::saml` API.
#![cfg(feature = "saml")]

mod saml_support;

use saml_support::*;

#[tokio::test]
async fn every_fixture_gets_its_verdict() {
    let m = manifest();
    assert!(m.fixtures.len() > 100, "the corpus is incomplete");
    let mut failures = Vec::new();
    for f in &m.fixtures {
        let got = match run(&m, f).await {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.code(),
        };
        if got != f.expect {
            failures.push(format!(
                "{}: expected {}, got {got} ({})",
                f.name, f.expect, f.covers
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixtures got the wrong verdict:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
