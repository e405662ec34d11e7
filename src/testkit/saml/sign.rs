//! The development IdP's keys and its XML-DSig signer: enveloped signatures
//! with exclusive c14n (ssokit's own), RSA-SHA256 with ring, and RSA-SHA1
//! for [`SamlFault::Sha1`](super::SamlFault::Sha1).
//!
//! ring signs only with SHA-2, so the SHA-1 signature (a genuine PKCS#1 v1.5
//! one, which a lenient verifier would accept) is computed here with a small
//! Montgomery exponentiation. It is neither fast nor constant-time, which is
//! fine for a published test key and nothing else.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use crate::saml::c14n::{self, EXC_C14N};
use crate::saml::dsig::{self, DSIG_NS, ENVELOPED};
use crate::saml::xml::{Document, Limits};

/// The IdP's signing certificate (self-signed, RSA-2048), as published in
/// its metadata.
pub(super) const IDP_CERT_DER: &[u8] = include_bytes!("keys/idp.crt.der");
const IDP_KEY_PKCS8: &[u8] = include_bytes!("keys/idp.pk8.der");
/// A certificate the metadata never publishes, for
/// [`SamlFault::SignWithUnknownKey`](super::SamlFault::SignWithUnknownKey).
const UNKNOWN_CERT_DER: &[u8] = include_bytes!("keys/unknown.crt.der");
const UNKNOWN_KEY_PKCS8: &[u8] = include_bytes!("keys/unknown.pk8.der");

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// Which key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key {
    /// The key whose certificate the metadata publishes.
    Idp,
    /// A key nobody trusts (its certificate goes into `KeyInfo`, as an
    /// attacker's would).
    Unknown,
}

/// Which signature and digest algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Algorithm {
    /// RSA-SHA256 with a SHA-256 digest: what the SP accepts.
    RsaSha256,
    /// RSA-SHA1 with a SHA-1 digest: what the SP must refuse.
    RsaSha1,
}

impl Algorithm {
    fn uris(self) -> (&'static str, &'static str) {
        match self {
            Self::RsaSha256 => (RSA_SHA256, SHA256),
            Self::RsaSha1 => (RSA_SHA1, SHA1),
        }
    }

    fn digest(self) -> &'static ring::digest::Algorithm {
        match self {
            Self::RsaSha256 => &ring::digest::SHA256,
            Self::RsaSha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        }
    }
}

struct KeyPair {
    ring: RsaKeyPair,
    /// Modulus and private exponent, big-endian, for the SHA-1 signer.
    modulus: Vec<u8>,
    private_exponent: Vec<u8>,
}

fn load(pkcs8: &[u8]) -> KeyPair {
    let ring = RsaKeyPair::from_pkcs8(pkcs8).expect("the embedded dev SAML key is valid PKCS#8");
    let (modulus, private_exponent) =
        rsa_modulus_and_exponent(pkcs8).expect("the embedded dev SAML key is an RSA key");
    KeyPair {
        ring,
        modulus,
        private_exponent,
    }
}

fn key_pair(key: Key) -> &'static KeyPair {
    static IDP: OnceLock<KeyPair> = OnceLock::new();
    static UNKNOWN: OnceLock<KeyPair> = OnceLock::new();
    match key {
        Key::Idp => IDP.get_or_init(|| load(IDP_KEY_PKCS8)),
        Key::Unknown => UNKNOWN.get_or_init(|| load(UNKNOWN_KEY_PKCS8)),
    }
}

fn certificate(key: Key) -> &'static [u8] {
    match key {
        Key::Idp => IDP_CERT_DER,
        Key::Unknown => UNKNOWN_CERT_DER,
    }
}

/// `data` signed with `key` (PKCS#1 v1.5).
fn sign_bytes(key: Key, algorithm: Algorithm, data: &[u8]) -> Result<Vec<u8>, String> {
    let pair = key_pair(key);
    match algorithm {
        Algorithm::RsaSha256 => {
            let mut sig = vec![0; pair.ring.public().modulus_len()];
            pair.ring
                .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                .map_err(|_| "RSA signing failed".to_owned())?;
            Ok(sig)
        }
        Algorithm::RsaSha1 => Ok(pkcs1_sha1_sign(&pair.modulus, &pair.private_exponent, data)),
    }
}

/// Renders the `ds:Signature` element.
fn signature_xml(signed_info: &str, value: &str, key: Key) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue>\
         <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </ds:Signature>",
        STANDARD.encode(certificate(key))
    )
}

fn signed_info_xml(id: &str, algorithm: Algorithm, digest: &str) -> String {
    let (sig_uri, digest_uri) = algorithm.uris();
    format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"/>\
         <ds:SignatureMethod Algorithm=\"{sig_uri}\"/><ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"/><ds:Transform Algorithm=\"{EXC_C14N}\"/>\
         </ds:Transforms><ds:DigestMethod Algorithm=\"{digest_uri}\"/>\
         <ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    )
}

fn parse(xml: &str) -> Result<Document, String> {
    Document::parse(xml, &Limits::PROTOCOL)
        .map_err(|e| format!("the dev SAML IdP wrote XML its SP cannot parse: {e}"))
}

/// The enveloped signature of the element with ID `id`, as a `ds:Signature`
/// element to place where `render` puts it.
///
/// `render(None)` is the document without the signature; `render(Some(s))`
/// must be the same document with `s` inserted as a child of the signed
/// element (right after its `Issuer`) and nothing else changed, so that the
/// digest of the element without its signature is the digest of
/// `render(None)`'s element. The signature is computed exactly as a
/// verifier checks it: the reference over the element's exclusive canonical
/// form, the signature value over the canonical `SignedInfo` in place.
pub(super) fn enveloped_signature(
    render: &dyn Fn(Option<&str>) -> String,
    id: &str,
    key: Key,
    algorithm: Algorithm,
) -> Result<String, String> {
    let unsigned = parse(&render(None))?;
    let element = unsigned
        .element_by_id(id)
        .ok_or_else(|| format!("no element with ID {id} to sign"))?;
    let digest = ring::digest::digest(algorithm.digest(), &c14n::exclusive(element, None, &[]));
    let signed_info = signed_info_xml(id, algorithm, &STANDARD.encode(digest));

    let draft = parse(&render(Some(&signature_xml(&signed_info, "", key))))?;
    let signed_info_element = draft
        .element_by_id(id)
        .and_then(|e| dsig::signature_child(e).ok().flatten())
        .and_then(|s| s.children_named(DSIG_NS, "SignedInfo").next())
        .ok_or_else(|| "the signature was not placed in the signed element".to_owned())?;
    let value = sign_bytes(
        key,
        algorithm,
        &c14n::exclusive(signed_info_element, None, &[]),
    )?;
    Ok(signature_xml(&signed_info, &STANDARD.encode(value), key))
}

// ------------------------------------------------------------------ DER

/// One DER TLV: (tag, contents, rest).
fn der(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

fn der_expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match der(input)? {
        (t, body, rest) if t == tag => Some((body, rest)),
        _ => None,
    }
}

/// The modulus and private exponent of an RSA PKCS#8 `PrivateKeyInfo`.
fn rsa_modulus_and_exponent(pkcs8: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    let (info, _) = der_expect(pkcs8, SEQUENCE)?;
    let (_, rest) = der_expect(info, INTEGER)?;
    let (_, rest) = der_expect(rest, SEQUENCE)?;
    let (key, _) = der_expect(rest, OCTET_STRING)?;
    let (rsa, _) = der_expect(key, SEQUENCE)?;
    let (_, rest) = der_expect(rsa, INTEGER)?;
    let (n, rest) = der_expect(rest, INTEGER)?;
    let (_, rest) = der_expect(rest, INTEGER)?;
    let (d, _) = der_expect(rest, INTEGER)?;
    let strip = |v: &[u8]| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    Some((strip(n), strip(d)))
}

// ------------------------------------------------------------------ RSA-SHA1

/// The DER `DigestInfo` prefix of a SHA-1 digest (RFC 8017 §9.2).
const SHA1_DIGEST_INFO: &[u8] = &[
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];

/// An RSASSA-PKCS1-v1_5 signature with SHA-1 (RFC 8017 §8.2.1).
fn pkcs1_sha1_sign(modulus: &[u8], private_exponent: &[u8], data: &[u8]) -> Vec<u8> {
    let hash = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    pkcs1_sign_encoded(modulus, private_exponent, SHA1_DIGEST_INFO, hash.as_ref())
}

/// `EM^d mod n` with `EM = 00 01 FF… 00 || digest_info || hash`.
fn pkcs1_sign_encoded(
    modulus: &[u8],
    private_exponent: &[u8],
    digest_info: &[u8],
    hash: &[u8],
) -> Vec<u8> {
    let k = modulus.len();
    let t_len = digest_info.len() + hash.len();
    let mut em = vec![0xff; k];
    em[0] = 0;
    em[1] = 1;
    em[k - t_len - 1] = 0;
    em[k - t_len..k - hash.len()].copy_from_slice(digest_info);
    em[k - hash.len()..].copy_from_slice(hash);
    mod_exp(&em, private_exponent, modulus)
}

/// Little-endian 64-bit limbs of a big-endian number, `len` limbs.
fn limbs(be: &[u8], len: usize) -> Vec<u64> {
    let mut out = vec![0u64; len];
    for (i, b) in be.iter().rev().enumerate() {
        out[i / 8] |= u64::from(*b) << (8 * (i % 8));
    }
    out
}

fn greater_or_equal(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

fn subtract(a: &mut [u64], b: &[u64]) {
    let mut borrow = false;
    for (x, y) in a.iter_mut().zip(b) {
        let (d1, b1) = x.overflowing_sub(*y);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        *x = d2;
        borrow = b1 || b2;
    }
}

/// Montgomery product `a·b·R⁻¹ mod n` (CIOS), for `a, b < n`, `R = 2^(64·len)`.
fn mont_mul(a: &[u64], b: &[u64], n: &[u64], n0: u64) -> Vec<u64> {
    let k = n.len();
    let mut t = vec![0u64; k + 2];
    for &bi in b {
        let mut carry: u128 = 0;
        for j in 0..k {
            let s = u128::from(t[j]) + u128::from(a[j]) * u128::from(bi) + carry;
            t[j] = s as u64;
            carry = s >> 64;
        }
        let s = u128::from(t[k]) + carry;
        t[k] = s as u64;
        t[k + 1] = (s >> 64) as u64;
        let m = t[0].wrapping_mul(n0);
        let s = u128::from(t[0]) + u128::from(m) * u128::from(n[0]);
        let mut carry = s >> 64;
        for j in 1..k {
            let s = u128::from(t[j]) + u128::from(m) * u128::from(n[j]) + carry;
            t[j - 1] = s as u64;
            carry = s >> 64;
        }
        let s = u128::from(t[k]) + carry;
        t[k - 1] = s as u64;
        t[k] = t[k + 1] + (s >> 64) as u64;
    }
    let mut r = t[..k].to_vec();
    if t[k] != 0 || greater_or_equal(&r, n) {
        subtract(&mut r, n);
    }
    r
}

/// `base^exp mod modulus` for an odd modulus and `base < modulus`, all
/// big-endian; the result has the modulus' length.
fn mod_exp(base: &[u8], exp: &[u8], modulus: &[u8]) -> Vec<u8> {
    let k = modulus.len().div_ceil(8);
    let n = limbs(modulus, k);
    // -n⁻¹ mod 2^64 by Newton's iteration (n odd: n·n ≡ 1 mod 8).
    let mut inv = n[0];
    for _ in 0..6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(n[0].wrapping_mul(inv)));
    }
    let n0 = inv.wrapping_neg();
    // R² mod n by doubling 1, 2·64·k times.
    let mut r2 = vec![0u64; k];
    r2[0] = 1;
    for _ in 0..2 * 64 * k {
        let mut carry = 0u64;
        for limb in r2.iter_mut() {
            let next = *limb >> 63;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        if carry == 1 || greater_or_equal(&r2, &n) {
            subtract(&mut r2, &n);
        }
    }
    let mut one = vec![0u64; k];
    one[0] = 1;
    let x = mont_mul(&limbs(base, k), &r2, &n, n0);
    let mut acc = mont_mul(&one, &r2, &n, n0);
    for byte in exp {
        for bit in (0..8).rev() {
            acc = mont_mul(&acc, &acc, &n, n0);
            if byte >> bit & 1 == 1 {
                acc = mont_mul(&acc, &x, &n, n0);
            }
        }
    }
    let result = mont_mul(&acc, &one, &n, n0);
    let mut out = vec![0u8; modulus.len()];
    for (i, b) in out.iter_mut().rev().enumerate() {
        *b = (result[i / 8] >> (8 * (i % 8))) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{
        KeyPair as _, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256,
        UnparsedPublicKey,
    };

    /// The DER `DigestInfo` prefix of a SHA-256 digest.
    const SHA256_DIGEST_INFO: &[u8] = &[
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];

    #[test]
    fn the_own_rsa_matches_ring_and_verifies() {
        let pair = key_pair(Key::Idp);
        let data = b"<ds:SignedInfo>...</ds:SignedInfo>";
        // PKCS#1 v1.5 is deterministic: the hand-made SHA-256 signature must
        // equal ring's byte for byte.
        let ours = pkcs1_sign_encoded(
            &pair.modulus,
            &pair.private_exponent,
            SHA256_DIGEST_INFO,
            ring::digest::digest(&ring::digest::SHA256, data).as_ref(),
        );
        assert_eq!(
            ours,
            sign_bytes(Key::Idp, Algorithm::RsaSha256, data).unwrap()
        );
        let public = pair.ring.public_key().as_ref();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public)
            .verify(data, &ours)
            .unwrap();
        let sha1 = sign_bytes(Key::Idp, Algorithm::RsaSha1, data).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, public)
            .verify(data, &sha1)
            .unwrap();
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, public)
                .verify(b"other", &sha1)
                .is_err()
        );
    }

    #[test]
    fn the_keys_differ_and_match_their_certificates() {
        assert_ne!(key_pair(Key::Idp).modulus, key_pair(Key::Unknown).modulus);
        for key in [Key::Idp, Key::Unknown] {
            let trusted = crate::saml::TrustedKey::from_certificate_der(certificate(key)).unwrap();
            assert_eq!(
                trusted.public_key(),
                key_pair(key).ring.public_key().as_ref()
            );
        }
    }
}
