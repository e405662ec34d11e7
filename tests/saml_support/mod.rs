//! Shared helpers of the `saml_*` integration tests: the fixture manifest
//! written by `tests/fixtures/saml/generate.py`, and settings built from it
//! through the public API.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde::Deserialize;
use ssokit::saml::{
    AttributeMapping, Preset, SamlAdapter, SamlError, SamlOptions, SamlSettings, response,
};
use ssokit::store::MemoryFlowStore;
use ssokit::{ConnectionId, ErrorKind, VerifiedIdentity};

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml")
}

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub t0: String,
    pub idp: String,
    pub sp: String,
    pub acs: String,
    pub request_id: String,
    pub fixtures: Vec<Fixture>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fixture {
    pub name: String,
    pub expect: String,
    pub keys: Vec<String>,
    pub options: serde_json::Map<String, serde_json::Value>,
    pub now: i64,
    pub in_response_to: Option<String>,
    pub oracle: Option<String>,
    pub covers: String,
}

impl Fixture {
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(dir().join("responses").join(format!("{}.xml", self.name))).unwrap()
    }

    pub fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.bytes())
    }

    fn opt_bool(&self, k: &str) -> bool {
        self.options
            .get(k)
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }

    pub fn now(&self, m: &Manifest) -> SystemTime {
        let t0 = response::parse_instant(&m.t0).unwrap();
        if self.now >= 0 {
            t0 + Duration::from_secs(self.now as u64)
        } else {
            t0 - Duration::from_secs((-self.now) as u64)
        }
    }
}

pub fn manifest() -> Manifest {
    let text = std::fs::read_to_string(dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn cert_b64(name: &str) -> String {
    let pem = std::fs::read_to_string(dir().join("keys").join(format!("{name}.crt.pem"))).unwrap();
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// IdP metadata naming `keys` as signing certificates.
pub fn metadata_for(m: &Manifest, keys: &[String]) -> String {
    let kds: String = keys
        .iter()
        .map(|k| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                cert_b64(k)
            )
        })
        .collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{kds}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/saml/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        m.idp
    )
}

pub fn preset(name: Option<&str>) -> Preset {
    match name {
        Some("okta") => Preset::Okta,
        Some("entra") => Preset::Entra,
        Some("adfs") => Preset::Adfs,
        Some("google") => Preset::Google,
        _ => Preset::Generic,
    }
}

pub fn settings_for(m: &Manifest, f: &Fixture) -> SamlSettings {
    let mut o = SamlOptions::new(
        m.sp.clone(),
        AttributeMapping::preset(preset(f.options.get("preset").and_then(|v| v.as_str()))),
    );
    o.allow_unsigned_assertion_in_signed_response =
        f.opt_bool("allow_unsigned_assertion_in_signed_response");
    o.allow_idp_initiated = f.opt_bool("allow_idp_initiated");
    if let Some(v) = f.options.get("max_decoded").and_then(|v| v.as_u64()) {
        o.limits.max_decoded = v as usize;
    }
    if let Some(v) = f.options.get("max_encoded").and_then(|v| v.as_u64()) {
        o.limits.max_encoded = v as usize;
    }
    SamlSettings::from_metadata(&metadata_for(m, &f.keys), o).unwrap()
}

pub fn adapter() -> SamlAdapter {
    SamlAdapter::with_flow_store(Arc::new(MemoryFlowStore::new()))
}

/// Runs a fixture end to end through the adapter: base64 → validation →
/// identity mapping → replay cache.
pub async fn run_with(
    adapter: &SamlAdapter,
    m: &Manifest,
    f: &Fixture,
    settings: &SamlSettings,
    encoded: &str,
    now: SystemTime,
) -> Result<VerifiedIdentity, SamlError> {
    adapter
        .verify(
            &ConnectionId::new("acme-saml"),
            settings,
            encoded,
            &m.acs,
            f.in_response_to.as_deref(),
            now,
        )
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Saml(s) => s.clone(),
            other => panic!("{}: not a SAML error: {other:?}", f.name),
        })
}

pub async fn run(m: &Manifest, f: &Fixture) -> Result<VerifiedIdentity, SamlError> {
    let s = settings_for(m, f);
    run_with(&adapter(), m, f, &s, &f.encoded(), f.now(m)).await
}
