//! XML-DSig verification of enveloped signatures, restricted to the one
//! profile SAML needs, with ring.
//!
//! The profile (anything else is refused before any cryptography runs):
//!
//! - the `ds:Signature` is a direct child of the element it signs, and that
//!   element has exactly one;
//! - `Signature` contains `SignedInfo`, `SignatureValue` and optionally
//!   `KeyInfo` (ignored: keys come only from the connection's metadata),
//!   nothing else — in particular no `ds:Object`;
//! - `SignedInfo` contains `CanonicalizationMethod` = exclusive c14n (with an
//!   optional `InclusiveNamespaces`), `SignatureMethod` ∈ RSA-SHA256/384/512
//!   (PKCS#1 v1.5), ECDSA-SHA256/384 on P-256/P-384, and exactly one
//!   `Reference`;
//! - the `Reference` URI is `#` + the `ID` of the signed element (an NCName,
//!   unique in the document — the parser refuses duplicates);
//! - its transforms are exactly enveloped-signature then exclusive c14n
//!   (with an optional `InclusiveNamespaces`). Exclusive c14n alone cannot
//!   verify an enveloped signature, and enveloped-signature alone would mean
//!   inclusive c14n: both refused;
//! - `DigestMethod` ∈ SHA-256/384/512; SHA-1 and MD5 are refused, always;
//! - `DigestValue` and `SignatureValue` are base64 text only.
//!
//! The `SignatureValue` is verified over the canonical `SignedInfo` first;
//! only then is the reference digested and compared. On success the caller
//! gets a [`VerifiedElement`], the only way to the signed subtree.

use ring::signature;

use super::c14n::{self, EXC_C14N};
use super::keys::{KeyKind, TrustedKey};
use super::xml::{Element, NodeRef, is_ncname};

/// The XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Signature algorithms ssokit verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `rsa-sha256`.
    RsaSha256,
    /// `rsa-sha384`.
    RsaSha384,
    /// `rsa-sha512`.
    RsaSha512,
    /// `ecdsa-sha256` (P-256 key).
    EcdsaSha256,
    /// `ecdsa-sha384` (P-384 key).
    EcdsaSha384,
}

impl SignatureAlgorithm {
    /// The algorithm's URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Self::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            Self::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            Self::EcdsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            Self::EcdsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
        }
    }

    fn from_uri(uri: &str) -> Result<Self, SignatureError> {
        Ok(match uri {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Self::RsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Self::RsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Self::RsaSha512,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Self::EcdsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Self::EcdsaSha384,
            u if is_weak(u) => return Err(SignatureError::WeakAlgorithm),
            _ => return Err(SignatureError::UnsupportedAlgorithm),
        })
    }

    fn ring_alg(self, key: KeyKind) -> Option<&'static dyn signature::VerificationAlgorithm> {
        Some(match (self, key) {
            (Self::RsaSha256, KeyKind::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (Self::RsaSha384, KeyKind::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (Self::RsaSha512, KeyKind::Rsa { .. }) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (Self::EcdsaSha256, KeyKind::EcP256) => &signature::ECDSA_P256_SHA256_FIXED,
            (Self::EcdsaSha384, KeyKind::EcP384) => &signature::ECDSA_P384_SHA384_FIXED,
            _ => return None,
        })
    }
}

/// Digest algorithms ssokit accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlgorithm {
    /// The algorithm's URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            Self::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            Self::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    fn from_uri(uri: &str) -> Result<Self, SignatureError> {
        Ok(match uri {
            "http://www.w3.org/2001/04/xmlenc#sha256" => Self::Sha256,
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Self::Sha384,
            "http://www.w3.org/2001/04/xmlenc#sha512" => Self::Sha512,
            u if is_weak(u) => return Err(SignatureError::WeakAlgorithm),
            _ => return Err(SignatureError::UnsupportedAlgorithm),
        })
    }

    /// The ring digest algorithm.
    pub fn ring(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::Sha256 => &ring::digest::SHA256,
            Self::Sha384 => &ring::digest::SHA384,
            Self::Sha512 => &ring::digest::SHA512,
        }
    }
}

fn is_weak(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase();
    lower.contains("sha1")
        || lower.contains("md5")
        || lower.contains("dsa-") && !lower.contains("ecdsa")
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The element has no `Signature` child.
    Missing,
    /// The element has more than one `Signature` child, or a `Signature`
    /// sits somewhere a SAML signature cannot be.
    Placement,
    /// `Signature`, `SignedInfo`, `Reference` or `Transforms` contain
    /// something the profile does not allow (several `Reference`s, a
    /// `ds:Object`, text, unknown elements).
    Structure,
    /// The `Reference` URI is not `#` + the ID of the signed element.
    Reference,
    /// Transforms other than enveloped-signature followed by exclusive c14n.
    Transforms,
    /// A canonicalization method other than exclusive c14n without comments.
    Canonicalization,
    /// SHA-1, MD5 or DSA.
    WeakAlgorithm,
    /// An algorithm outside the supported set.
    UnsupportedAlgorithm,
    /// No trusted key of the type the signature algorithm needs.
    NoMatchingKey,
    /// `DigestValue` or `SignatureValue` is not base64 of the right size.
    Encoding,
    /// The signature value does not verify with any trusted key.
    Invalid,
    /// The signature verified but the signed element was changed.
    DigestMismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Missing => "the element is not signed",
            Self::Placement => "a signature is not where SAML allows it (one, as a direct child of the signed Response or Assertion)",
            Self::Structure => "the signature has content the SAML signature profile does not allow",
            Self::Reference => "the signature does not reference the element that contains it",
            Self::Transforms => "the signature uses transforms other than enveloped-signature + exclusive c14n",
            Self::Canonicalization => "the signature uses a canonicalization other than exclusive c14n without comments",
            Self::WeakAlgorithm => "the signature uses SHA-1, MD5 or DSA; configure the IdP to sign with SHA-256",
            Self::UnsupportedAlgorithm => "the signature uses an unsupported algorithm (RSA-SHA256/384/512 and ECDSA-SHA256/384 are supported)",
            Self::NoMatchingKey => "no trusted signing key of the signature's type; update the IdP metadata",
            Self::Encoding => "the signature or digest value is not valid base64 of the right size",
            Self::Invalid => "the signature does not verify with the IdP's signing keys (wrong key, or the message was altered); update the IdP metadata if the IdP rolled its certificate",
            Self::DigestMismatch => "the signed content was altered after signing",
        })
    }
}

impl SignatureError {
    /// A stable machine-readable name (for events, metrics and tests).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Placement => "placement",
            Self::Structure => "structure",
            Self::Reference => "reference",
            Self::Transforms => "transforms",
            Self::Canonicalization => "canonicalization",
            Self::WeakAlgorithm => "weak_algorithm",
            Self::UnsupportedAlgorithm => "unsupported_algorithm",
            Self::NoMatchingKey => "no_matching_key",
            Self::Encoding => "encoding",
            Self::Invalid => "invalid",
            Self::DigestMismatch => "digest_mismatch",
        }
    }
}

impl std::error::Error for SignatureError {}

/// An element whose enveloped signature verified. Only [`verify_enveloped`]
/// makes one, so holding one proves the subtree (minus its `Signature`) is
/// what the IdP signed.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedElement<'d> {
    element: Element<'d>,
    signature: Element<'d>,
    algorithm: SignatureAlgorithm,
    digest: DigestAlgorithm,
    key_index: usize,
}

impl<'d> VerifiedElement<'d> {
    /// The signed element.
    pub fn element(&self) -> Element<'d> {
        self.element
    }

    /// Its `Signature` child (not covered by the signature itself).
    pub fn signature(&self) -> Element<'d> {
        self.signature
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The digest algorithm.
    pub fn digest_algorithm(&self) -> DigestAlgorithm {
        self.digest
    }

    /// Which of the trusted keys verified it.
    pub fn key_index(&self) -> usize {
        self.key_index
    }
}

/// The element children of a `ds:` element, without allocating: the
/// profile never allows more than three, so the first four are kept (a
/// fourth is always an error for the caller) and the rest only checked.
struct DsChildren<'d> {
    items: [Option<Element<'d>>; 4],
    len: usize,
}

impl<'d> DsChildren<'d> {
    fn as_slice(&self) -> &[Option<Element<'d>>] {
        &self.items[..self.len]
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn iter(&self) -> std::iter::Peekable<impl Iterator<Item = Element<'d>> + '_> {
        self.as_slice().iter().flatten().copied().peekable()
    }
}

fn ds_children<'d>(e: Element<'d>) -> Result<DsChildren<'d>, SignatureError> {
    let mut out = DsChildren {
        items: [None; 4],
        len: 0,
    };
    for c in e.children() {
        match c {
            NodeRef::Element(el) => {
                if let Some(slot) = out.items.get_mut(out.len) {
                    *slot = Some(el);
                    out.len += 1;
                }
            }
            NodeRef::Text(t) if t.bytes().all(|b| b.is_ascii_whitespace()) => {}
            _ => return Err(SignatureError::Structure),
        }
    }
    Ok(out)
}

fn expect_ds<'d>(
    it: &mut std::iter::Peekable<impl Iterator<Item = Element<'d>>>,
    local: &str,
) -> Result<Element<'d>, SignatureError> {
    match it.next() {
        Some(e) if e.is(DSIG_NS, local) => Ok(e),
        _ => Err(SignatureError::Structure),
    }
}

/// Reads an exc-c14n method element (CanonicalizationMethod or Transform):
/// its only allowed child is `InclusiveNamespaces`; returns the prefix list.
fn exc_c14n_prefixes<'d>(method: Element<'d>) -> Result<Vec<&'d str>, SignatureError> {
    let children = ds_children(method)?;
    match children.as_slice() {
        [] => Ok(Vec::new()),
        [Some(inc)] if inc.is(EXC_C14N, "InclusiveNamespaces") => {
            if inc.child_elements().next().is_some()
                || inc.text_ref().is_none_or(|t| !t.trim().is_empty())
            {
                return Err(SignatureError::Structure);
            }
            let list: Vec<&str> = inc
                .attr("PrefixList")
                .unwrap_or("")
                .split_ascii_whitespace()
                .collect();
            if list.len() > 32 || list.iter().any(|p| *p != "#default" && !is_ncname(p)) {
                return Err(SignatureError::Structure);
            }
            Ok(list)
        }
        _ => Err(SignatureError::Structure),
    }
}

fn no_children(e: Element<'_>) -> Result<(), SignatureError> {
    if ds_children(e)?.is_empty() {
        Ok(())
    } else {
        Err(SignatureError::Structure)
    }
}

fn text_only(e: Element<'_>) -> Result<(), SignatureError> {
    if e.children().all(|c| matches!(c, NodeRef::Text(_))) {
        Ok(())
    } else {
        Err(SignatureError::Structure)
    }
}

/// Decodes the base64 text of `e` (whitespace allowed, as IdPs wrap long
/// values) into `out`, which bounds the decoded length.
fn base64_value<'o>(e: Element<'_>, out: &'o mut [u8]) -> Result<&'o [u8], SignatureError> {
    let text = e.text_ref().ok_or(SignatureError::Encoding)?.as_bytes();
    let mut packed;
    let clean = if text.iter().any(|b| b.is_ascii_whitespace()) {
        // Line-wrapped: copy the runs between white space.
        packed = [0u8; MAX_BASE64];
        let mut n = 0;
        for run in text.split(|b| b.is_ascii_whitespace()) {
            packed
                .get_mut(n..n + run.len())
                .ok_or(SignatureError::Encoding)?
                .copy_from_slice(run);
            n += run.len();
        }
        &packed[..n]
    } else {
        text
    };
    // `decode_into` refuses input that would not fit in `out`.
    if clean.is_empty() {
        return Err(SignatureError::Encoding);
    }
    let len = super::b64::decode_into(clean, out).ok_or(SignatureError::Encoding)?;
    Ok(&out[..len])
}

/// The longest base64 text of a `SignatureValue`, without whitespace.
const MAX_BASE64: usize = MAX_SIGNATURE.div_ceil(3) * 4;
/// The longest signature value: RSA-8192.
const MAX_SIGNATURE: usize = 1024;
/// The longest digest: SHA-512.
const MAX_DIGEST: usize = 64;

/// The `Signature` child of `element`: exactly one, or an error.
pub fn signature_child<'d>(element: Element<'d>) -> Result<Option<Element<'d>>, SignatureError> {
    let mut sigs = element.children_named(DSIG_NS, "Signature");
    let first = sigs.next();
    if sigs.next().is_some() {
        return Err(SignatureError::Placement);
    }
    Ok(first)
}

/// Verifies the enveloped signature of `element` with one of `keys`.
pub fn verify_enveloped<'d>(
    element: Element<'d>,
    keys: &[TrustedKey],
) -> Result<VerifiedElement<'d>, SignatureError> {
    let sig = signature_child(element)?.ok_or(SignatureError::Missing)?;
    let parts = ds_children(sig)?;
    let mut parts = parts.iter();
    let signed_info = expect_ds(&mut parts, "SignedInfo")?;
    let sig_value = expect_ds(&mut parts, "SignatureValue")?;
    if parts.peek().is_some_and(|e| e.is(DSIG_NS, "KeyInfo")) {
        parts.next();
    }
    if parts.next().is_some() {
        return Err(SignatureError::Structure);
    }
    text_only(sig_value)?;

    // SignedInfo: CanonicalizationMethod, SignatureMethod, one Reference.
    let si = ds_children(signed_info)?;
    let mut si = si.iter();
    let c14n_method = expect_ds(&mut si, "CanonicalizationMethod")?;
    let sig_method = expect_ds(&mut si, "SignatureMethod")?;
    let reference = expect_ds(&mut si, "Reference")?;
    if si.next().is_some() {
        return Err(SignatureError::Structure);
    }
    if c14n_method.attr("Algorithm") != Some(EXC_C14N) {
        return Err(SignatureError::Canonicalization);
    }
    let si_prefixes = exc_c14n_prefixes(c14n_method)?;
    let algorithm = SignatureAlgorithm::from_uri(sig_method.attr("Algorithm").unwrap_or(""))?;
    no_children(sig_method)?;

    // Reference: URI = "#" + the signed element's ID.
    let id = element.attr("ID").ok_or(SignatureError::Reference)?;
    let uri = reference.attr("URI").ok_or(SignatureError::Reference)?;
    if !is_ncname(id) || uri.strip_prefix('#') != Some(id) {
        return Err(SignatureError::Reference);
    }
    let by_id = element.document().element_by_id(id);
    if by_id.map(|e| e.id()) != Some(element.id()) {
        return Err(SignatureError::Reference);
    }
    let rp = ds_children(reference)?;
    let mut rp = rp.iter();
    let transforms = expect_ds(&mut rp, "Transforms")?;
    let digest_method = expect_ds(&mut rp, "DigestMethod")?;
    let digest_value = expect_ds(&mut rp, "DigestValue")?;
    if rp.next().is_some() {
        return Err(SignatureError::Structure);
    }
    let t = ds_children(transforms)?;
    let &[Some(enveloped), Some(exc)] = t.as_slice() else {
        return Err(SignatureError::Transforms);
    };
    if !enveloped.is(DSIG_NS, "Transform")
        || !exc.is(DSIG_NS, "Transform")
        || enveloped.attr("Algorithm") != Some(ENVELOPED)
        || exc.attr("Algorithm") != Some(EXC_C14N)
    {
        return Err(SignatureError::Transforms);
    }
    no_children(enveloped).map_err(|_| SignatureError::Transforms)?;
    let ref_prefixes = exc_c14n_prefixes(exc)?;
    let digest = DigestAlgorithm::from_uri(digest_method.attr("Algorithm").unwrap_or(""))?;
    no_children(digest_method)?;
    text_only(digest_value)?;
    let mut digest_buf = [0u8; MAX_DIGEST + 2];
    let expected_digest = base64_value(digest_value, &mut digest_buf)?;
    if expected_digest.len() != digest.ring().output_len() {
        return Err(SignatureError::Encoding);
    }
    let mut sig_buf = [0u8; MAX_SIGNATURE + 2];
    let sig_bytes = base64_value(sig_value, &mut sig_buf)?;

    // 1. The signature over the canonical SignedInfo, in place.
    let canonical_si = c14n::exclusive(signed_info, None, &si_prefixes);
    let mut matching = false;
    let mut key_index = None;
    for (i, key) in keys.iter().enumerate() {
        let Some(alg) = algorithm.ring_alg(key.kind()) else {
            continue;
        };
        matching = true;
        if signature::UnparsedPublicKey::new(alg, key.public_key())
            .verify(&canonical_si, sig_bytes)
            .is_ok()
        {
            key_index = Some(i);
            break;
        }
    }
    let key_index = match key_index {
        Some(i) => i,
        None if matching => return Err(SignatureError::Invalid),
        None => return Err(SignatureError::NoMatchingKey),
    };

    // 2. The digest of the element without its signature.
    let mut ctx = ring::digest::Context::new(digest.ring());
    c14n::exclusive_into(element, Some(sig.id()), &ref_prefixes, &mut ctx);
    let actual = ctx.finish();
    if !crate::secret::ct_eq(actual.as_ref(), expected_digest) {
        return Err(SignatureError::DigestMismatch);
    }
    Ok(VerifiedElement {
        element,
        signature: sig,
        algorithm,
        digest,
        key_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::xml::{Document, Limits};

    fn value(text: &str, out: &mut [u8]) -> Result<Vec<u8>, SignatureError> {
        let xml = format!("<v>{text}</v>");
        let doc = Document::parse(&xml, &Limits::PROTOCOL).unwrap();
        base64_value(doc.root(), out).map(<[u8]>::to_vec)
    }

    #[test]
    fn base64_values_are_bounded_and_may_be_wrapped() {
        let sig = [0x5Au8; MAX_SIGNATURE];
        let b64 = super::super::b64::tests_encode(&sig);
        let wrapped: String = b64
            .as_bytes()
            .chunks(76)
            .map(|l| format!("{}\r\n ", std::str::from_utf8(l).unwrap()))
            .collect();
        let mut out = [0u8; MAX_SIGNATURE + 2];
        assert_eq!(value(&b64, &mut out).unwrap(), sig);
        assert_eq!(value(&wrapped, &mut out).unwrap(), sig);
        // Valid base64 of a value longer than the buffer holds, plain or
        // wrapped: refused.
        let long = super::super::b64::tests_encode(&[0u8; MAX_SIGNATURE + 3]);
        assert_eq!(value(&long, &mut out), Err(SignatureError::Encoding));
        let long_wrapped = format!("{}\n{}", &long[..700], &long[700..]);
        assert_eq!(
            value(&long_wrapped, &mut out),
            Err(SignatureError::Encoding)
        );
        // Far too long, with whitespace: refused without overflowing the packing buffer.
        let huge = "QUFB\n".repeat(4 * MAX_BASE64);
        assert_eq!(value(&huge, &mut out), Err(SignatureError::Encoding));
        // Digests: SHA-512 fits, anything longer does not.
        let mut digest = [0u8; MAX_DIGEST + 2];
        let d512 = super::super::b64::tests_encode(&[7u8; 64]);
        assert_eq!(value(&d512, &mut digest).unwrap(), [7u8; 64]);
        let d67 = super::super::b64::tests_encode(&[7u8; MAX_DIGEST + 3]);
        assert_eq!(value(&d67, &mut digest), Err(SignatureError::Encoding));
        assert_eq!(value("", &mut digest), Err(SignatureError::Encoding));
        assert_eq!(value("QU JD E", &mut digest), Err(SignatureError::Encoding));
    }
}
