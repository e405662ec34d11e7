//! AuthnRequests, for the HTTP-Redirect binding (raw DEFLATE, base64,
//! URL-encoding, optional RSA-SHA256 signature over the exact query octets)
//! and the HTTP-POST binding (base64 form field).
//!
//! Request IDs are `_` + 40 hex digits (160 random bits). RelayState is the
//! opaque handle the flow gives the adapter; it never carries a URL.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use url::Url;

use super::SamlError;
use super::response::{ASSERTION_NS, PROTOCOL_NS, format_instant};

/// The `SigAlg` of signed Redirect requests.
pub const SIG_ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The SP's RSA key for signing AuthnRequests (PKCS#8), with its certificate
/// for SP metadata. `Debug` does not show the key.
#[derive(Clone)]
pub struct SpSigningKey {
    pkcs8: Arc<Vec<u8>>,
    key: Arc<RsaKeyPair>,
    certificate: Option<Vec<u8>>,
}

impl PartialEq for SpSigningKey {
    fn eq(&self, other: &Self) -> bool {
        crate::secret::ct_eq(&self.pkcs8, &other.pkcs8) && self.certificate == other.certificate
    }
}

impl Eq for SpSigningKey {}

impl fmt::Debug for SpSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpSigningKey")
            .field("key", &"[redacted]")
            .field("has_certificate", &self.certificate.is_some())
            .finish()
    }
}

impl SpSigningKey {
    /// An RSA key (2048 bits or more) from PKCS#8 DER, and optionally its
    /// DER certificate (published in SP metadata so the IdP can verify).
    pub fn from_pkcs8(pkcs8: &[u8], certificate: Option<Vec<u8>>) -> Result<Self, SamlError> {
        let key = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| {
            SamlError::Key("the SP signing key is not an RSA PKCS#8 key of 2048 bits or more")
        })?;
        Ok(Self {
            pkcs8: Arc::new(pkcs8.to_vec()),
            key: Arc::new(key),
            certificate,
        })
    }

    /// The certificate, if one was given.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }

    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SamlError> {
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
            .map_err(|_| SamlError::Key("signing the AuthnRequest failed"))?;
        Ok(sig)
    }
}

/// A fresh request ID: `_` + 160 random bits in hex (an NCName).
pub fn new_request_id() -> String {
    let mut bytes = [0u8; 20];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    format!("_{}", crate::secret::hex(&bytes))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What an AuthnRequest asks for.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// The request ID (see [`new_request_id`]).
    pub id: &'a str,
    /// When it is issued.
    pub issue_instant: SystemTime,
    /// The IdP's SingleSignOnService URL (`Destination`).
    pub destination: &'a str,
    /// The ACS URL the response must be posted to.
    pub acs_url: &'a str,
    /// The SP entity ID (`Issuer`).
    pub sp_entity_id: &'a str,
    /// The NameID format to ask for, if any.
    pub name_id_format: Option<&'a str>,
    /// Ask the IdP to authenticate the user again.
    pub force_authn: bool,
}

impl AuthnRequest<'_> {
    /// The request document.
    pub fn to_xml(&self) -> String {
        let mut x = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL_NS}\" xmlns:saml=\"{ASSERTION_NS}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"{}\"",
            esc(self.id),
            format_instant(self.issue_instant),
            esc(self.destination),
            esc(self.acs_url),
            super::metadata::BINDING_POST,
        );
        if self.force_authn {
            x.push_str(" ForceAuthn=\"true\"");
        }
        x.push_str(&format!(
            "><saml:Issuer>{}</saml:Issuer>",
            esc(self.sp_entity_id)
        ));
        match self.name_id_format {
            Some(f) => x.push_str(&format!(
                "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>",
                esc(f)
            )),
            None => x.push_str("<samlp:NameIDPolicy AllowCreate=\"true\"/>"),
        }
        x.push_str("</samlp:AuthnRequest>");
        x
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The HTTP-Redirect URL: `sso_url` + `SAMLRequest`, `RelayState` and, when
/// `key` is given, `SigAlg` and `Signature` over the exact octets
/// `SAMLRequest=…&RelayState=…&SigAlg=…` as they appear in the URL.
pub fn redirect_url(
    sso_url: &Url,
    request_xml: &str,
    relay_state: &str,
    key: Option<&SpSigningKey>,
) -> Result<Url, SamlError> {
    let deflated = miniz_oxide::deflate::compress_to_vec(request_xml.as_bytes(), 8);
    let b64 = base64::engine::general_purpose::STANDARD.encode(deflated);
    let mut query = format!("SAMLRequest={}", enc(&b64));
    if !relay_state.is_empty() {
        query.push_str("&RelayState=");
        query.push_str(&enc(relay_state));
    }
    if let Some(key) = key {
        query.push_str("&SigAlg=");
        query.push_str(&enc(SIG_ALG_RSA_SHA256));
        let sig = key.sign(query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&enc(&base64::engine::general_purpose::STANDARD.encode(sig)));
    }
    let base = sso_url.as_str();
    let sep = if sso_url.query().is_some() { '&' } else { '?' };
    Url::parse(&format!("{base}{sep}{query}"))
        .map_err(|_| SamlError::Config("the SingleSignOnService URL cannot take a query".into()))
}

/// Signs an AuthnRequest document (as made by [`AuthnRequest::to_xml`]) with
/// an enveloped XML signature for the HTTP-POST binding: RSA-SHA256,
/// SHA-256, exclusive c14n, placed right after the `Issuer`, referencing the
/// request's `ID`, and carrying the SP certificate in `KeyInfo` when known.
pub fn sign_enveloped(request_xml: &str, key: &SpSigningKey) -> Result<String, SamlError> {
    use super::c14n::{self, EXC_C14N};
    use super::dsig::{DSIG_NS, DigestAlgorithm, ENVELOPED};
    use super::xml::{Document, Limits};
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let doc = Document::parse(request_xml, &Limits::PROTOCOL).map_err(SamlError::Xml)?;
    let root = doc.root();
    let id = root
        .attr("ID")
        .ok_or(SamlError::Config("the AuthnRequest has no ID".into()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &c14n::exclusive(root, None, &[]));
    let issuer_end = request_xml
        .find("</saml:Issuer>")
        .map(|i| i + "</saml:Issuer>".len())
        .ok_or(SamlError::Config("the AuthnRequest has no Issuer".into()))?;
    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/><ds:SignatureMethod Algorithm=\"{SIG_ALG_RSA_SHA256}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED}\"/><ds:Transform Algorithm=\"{EXC_C14N}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        DigestAlgorithm::Sha256.uri(),
        b64(digest.as_ref()),
    );
    let key_info = key
        .certificate_der()
        .map(|c| format!("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>", b64(c)))
        .unwrap_or_default();
    let assemble = |value: &str| {
        format!(
            "{}<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue>{key_info}</ds:Signature>{}",
            &request_xml[..issuer_end],
            &request_xml[issuer_end..]
        )
    };
    // SignedInfo is canonicalized where it will sit (its namespace context).
    let draft = assemble("");
    let draft_doc = Document::parse(&draft, &Limits::PROTOCOL).map_err(SamlError::Xml)?;
    let si = draft_doc
        .elements()
        .find(|e| e.is(DSIG_NS, "SignedInfo"))
        .ok_or(SamlError::Config("signature assembly failed".into()))?;
    let value = key.sign(&c14n::exclusive(si, None, &[]))?;
    Ok(assemble(&b64(&value)))
}

/// The HTTP-POST form fields: `SAMLRequest` (base64, not deflated) and `RelayState`.
pub fn post_fields(request_xml: &str, relay_state: &str) -> Vec<(String, String)> {
    let mut v = vec![(
        "SAMLRequest".to_owned(),
        base64::engine::general_purpose::STANDARD.encode(request_xml.as_bytes()),
    )];
    if !relay_state.is_empty() {
        v.push(("RelayState".to_owned(), relay_state.to_owned()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_ncnames_with_160_bits() {
        let a = new_request_id();
        assert_eq!(a.len(), 41);
        assert!(super::super::xml::is_ncname(&a));
        assert_ne!(a, new_request_id());
    }

    #[test]
    fn redirect_round_trips() {
        let req = AuthnRequest {
            id: "_abc",
            issue_instant: SystemTime::UNIX_EPOCH,
            destination: "https://idp.example/sso?x=1",
            acs_url: "https://sp.example/acs",
            sp_entity_id: "https://sp.example/meta",
            name_id_format: None,
            force_authn: false,
        };
        let xml = req.to_xml();
        let url = redirect_url(
            &Url::parse("https://idp.example/sso?x=1").unwrap(),
            &xml,
            "h&1",
            None,
        )
        .unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("x".into(), "1".into()));
        assert_eq!(pairs[2], ("RelayState".into(), "h&1".into()));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&pairs[1].1)
            .unwrap();
        let inflated = miniz_oxide::inflate::decompress_to_vec(&raw).unwrap();
        assert_eq!(String::from_utf8(inflated).unwrap(), xml);
    }
}
