//! Key material and JSON Web Signatures for the development provider.
//!
//! The keys are fixed test keys embedded in the crate (see `keys/`). They are
//! public: anything signed with them proves nothing outside a test.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use serde_json::{Value, json};

/// The embedded key files. Despite the `.pk8` names, some of them are in the
/// "traditional" encodings (PKCS#1 `RSAPrivateKey`, SEC 1 `ECPrivateKey`);
/// both loaders accept either form.
const RSA_1: &[u8] = include_bytes!("keys/rsa1.pk8.der");
const RSA_2: &[u8] = include_bytes!("keys/rsa2.pk8.der");
const RSA_UNPUBLISHED: &[u8] = include_bytes!("keys/rsa-unpublished.pk8.der");
const EC_1: &[u8] = include_bytes!("keys/ec1.pk8.der");
/// PKCS#8 RSA-2048 keys for the per-authority key slots of the Entra-like
/// tenants and Okta-like authorization servers ([`KeySlot`]). Slot `s`
/// alternates between pool keys `2s` and `2s + 1`, so slots 0–4 never share
/// a key and slot 5 reuses slot 0's.
const POOL: [(&[u8], &str); 10] = [
    (include_bytes!("keys/rsa3.pk8.der"), "rsa3"),
    (include_bytes!("keys/rsa4.pk8.der"), "rsa4"),
    (include_bytes!("keys/rsa5.pk8.der"), "rsa5"),
    (include_bytes!("keys/rsa6.pk8.der"), "rsa6"),
    (include_bytes!("keys/rsa7.pk8.der"), "rsa7"),
    (include_bytes!("keys/rsa8.pk8.der"), "rsa8"),
    (include_bytes!("keys/rsa9.pk8.der"), "rsa9"),
    (include_bytes!("keys/rsa10.pk8.der"), "rsa10"),
    (include_bytes!("keys/rsa11.pk8.der"), "rsa11"),
    (include_bytes!("keys/rsa12.pk8.der"), "rsa12"),
];

/// `kid` of the P-256 key.
pub(super) const EC_KID: &str = "dev-ec-1";
/// `kid` used with [`Fault::UnknownKid`](super::Fault::UnknownKid).
pub(super) const UNPUBLISHED_KID: &str = "dev-unpublished";

/// The provider's keys, parsed once per process.
pub(super) struct KeySet {
    /// The RSA signing keys that rotation cycles through.
    pub(super) rsa: [RsaKeyPair; 2],
    /// An RSA key that is never published in any JWKS.
    pub(super) unpublished: RsaKeyPair,
    /// The P-256 key.
    pub(super) ec: EcdsaKeyPair,
    /// Keys for [`KeySlot`]s.
    pub(super) pool: Vec<RsaKeyPair>,
}

impl KeySet {
    /// The RSA key of rotation generation `generation` (1-based).
    pub(super) fn rsa_for(&self, generation: u32) -> &RsaKeyPair {
        &self.rsa[(generation.wrapping_sub(1) % 2) as usize]
    }
}

/// `kid` of the RSA key of rotation generation `generation`.
pub(super) fn rsa_kid(generation: u32) -> String {
    format!("dev-rsa-{generation}")
}

/// The signing key of one authority of a flavored provider (an Entra-like
/// tenant, an Okta-like authorization server): its own RSA key, rotatable,
/// under opaque `kid`s derived from `label` and the rotation generation.
#[derive(Clone, Debug)]
pub(super) struct KeySlot {
    slot: usize,
    label: String,
    generation: u32,
}

impl KeySlot {
    /// Slot number `slot` (which selects the key material), at generation 1.
    pub(super) fn new(slot: usize, label: &str) -> Self {
        Self {
            slot,
            label: label.to_owned(),
            generation: 1,
        }
    }

    /// Starts signing with the slot's other key under a new `kid`.
    pub(super) fn rotate(&mut self) {
        self.generation = self.generation.wrapping_add(1).max(1);
    }

    /// The current signing key.
    pub(super) fn key(&self) -> &'static RsaKeyPair {
        self.key_at(self.generation)
    }

    /// The current `kid`.
    pub(super) fn kid(&self) -> String {
        derived_kid(&self.label, self.generation)
    }

    fn key_at(&self, generation: u32) -> &'static RsaKeyPair {
        let pool = &keys().pool;
        let index = 2 * self.slot + (generation.wrapping_sub(1) % 2) as usize;
        &pool[index % pool.len()]
    }

    /// The keys a JWKS publishes: the current one, and the previous one
    /// (if any) when `previous` is set.
    pub(super) fn published(&self, previous: bool) -> Vec<(&'static RsaKeyPair, String)> {
        let mut out = vec![(self.key(), self.kid())];
        if previous && self.generation > 1 {
            let g = self.generation - 1;
            out.push((self.key_at(g), derived_kid(&self.label, g)));
        }
        out
    }
}

/// An opaque `kid` (27 base64url characters, like Entra's certificate
/// thumbprints), the same for the same `label` and `generation`.
pub(super) fn derived_kid(label: &str, generation: u32) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("ssokit-dev-kid|{label}|{generation}").as_bytes(),
    );
    b64(&digest.as_ref()[..20])
}

/// The process-wide key set.
///
/// # Panics
/// If an embedded key does not parse, which is a bug in this crate caught by
/// its tests.
pub(super) fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet {
        rsa: [load_rsa(RSA_1, "rsa1"), load_rsa(RSA_2, "rsa2")],
        unpublished: load_rsa(RSA_UNPUBLISHED, "rsa-unpublished"),
        ec: load_ec(EC_1),
        pool: POOL.iter().map(|(der, name)| load_rsa(der, name)).collect(),
    })
}

fn load_rsa(der: &[u8], name: &str) -> RsaKeyPair {
    RsaKeyPair::from_pkcs8(der)
        .or_else(|_| RsaKeyPair::from_der(der))
        .unwrap_or_else(|e| panic!("embedded test key {name} is not a valid RSA key: {e}"))
}

fn load_ec(der: &[u8]) -> EcdsaKeyPair {
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let rng = SystemRandom::new();
    if let Ok(key) = EcdsaKeyPair::from_pkcs8(alg, der, &rng) {
        return key;
    }
    let (private, public) =
        parse_sec1(der).expect("embedded test key ec1 is neither PKCS#8 nor SEC 1");
    EcdsaKeyPair::from_private_key_and_public_key(alg, private, public, &rng)
        .expect("embedded test key ec1 is not a valid P-256 key")
}

/// Splits a SEC 1 `ECPrivateKey` into (private scalar, uncompressed public
/// point). `ring` checks that the two belong together.
fn parse_sec1(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (tag, body, rest) = der_tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (tag, version, body) = der_tlv(body)?;
    if tag != 0x02 || version != [1] {
        return None;
    }
    let (tag, private, mut body) = der_tlv(body)?;
    if tag != 0x04 {
        return None;
    }
    while !body.is_empty() {
        let (tag, value, rest) = der_tlv(body)?;
        body = rest;
        if tag == 0xa1 {
            let (tag, bits, _) = der_tlv(value)?;
            // A BIT STRING whose first byte (unused bits) must be zero.
            return match (tag, bits.split_first()) {
                (0x03, Some((0, point))) => Some((private, point)),
                _ => None,
            };
        }
    }
    None
}

/// One DER tag-length-value: (tag, value, rest). Single-byte tags only.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, mut input) = input.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 || input.len() < n {
            return None;
        }
        let (len_bytes, rest) = input.split_at(n);
        input = rest;
        len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    (input.len() >= len).then(|| (tag, &input[..len], &input[len..]))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The public half of an RSA key as a JWK.
pub(super) fn rsa_jwk(key: &RsaKeyPair, kid: &str) -> Value {
    let components: PublicKeyComponents<Vec<u8>> = key.public().into();
    json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": b64(&components.n),
        "e": b64(&components.e),
    })
}

/// The public half of a P-256 key as a JWK.
pub(super) fn ec_jwk(key: &EcdsaKeyPair, kid: &str) -> Value {
    // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
    let point = key.public_key().as_ref();
    json!({
        "kty": "EC",
        "use": "sig",
        "alg": "ES256",
        "crv": "P-256",
        "kid": kid,
        "x": b64(&point[1..33]),
        "y": b64(&point[33..65]),
    })
}

/// The PKCS#1 `RSAPublicKey` DER of an RSA key: the bytes a confused
/// verifier might use as an HMAC secret.
pub(super) fn rsa_public_der(key: &RsaKeyPair) -> &[u8] {
    key.public().as_ref()
}

/// How to sign a token.
pub(super) enum Signer<'a> {
    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
    Rs256(&'a RsaKeyPair, &'a str),
    /// ES256 (ECDSA P-256 with SHA-256, fixed-length signature).
    Es256(&'a EcdsaKeyPair, &'a str),
    /// HS256 keyed with the given bytes, with the given `kid`.
    Hs256(&'a [u8], &'a str),
    /// `alg: none`, no signature.
    None,
}

/// A compact JWS over `claims`, with header `{alg, kid, typ: "JWT"}`.
pub(super) fn sign(claims: &Value, signer: &Signer<'_>) -> String {
    let (alg, kid) = match signer {
        Signer::Rs256(_, kid) => ("RS256", Some(*kid)),
        Signer::Es256(_, kid) => ("ES256", Some(*kid)),
        Signer::Hs256(_, kid) => ("HS256", Some(*kid)),
        Signer::None => ("none", None),
    };
    let mut header = json!({ "alg": alg, "typ": "JWT" });
    if let Some(kid) = kid {
        header["kid"] = Value::from(kid);
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match signer {
        Signer::Rs256(key, _) => {
            let mut sig = vec![0u8; key.public().modulus_len()];
            key.sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing with a valid key cannot fail");
            sig
        }
        Signer::Es256(key, _) => key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("ECDSA signing with a valid key cannot fail")
            .as_ref()
            .to_vec(),
        Signer::Hs256(secret, _) => {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
            ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
        }
        Signer::None => Vec::new(),
    };
    format!("{input}.{}", b64(&signature))
}

/// Flips one bit in the middle of a compact JWS's signature, so that it is
/// well-formed but does not verify.
pub(super) fn corrupt_signature(token: &str) -> String {
    let Some((input, signature)) = token.rsplit_once('.') else {
        return token.to_owned();
    };
    let Ok(mut bytes) = URL_SAFE_NO_PAD.decode(signature) else {
        return token.to_owned();
    };
    if bytes.is_empty() {
        return token.to_owned();
    }
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    format!("{input}.{}", b64(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_keys_load_and_differ() {
        let keys = keys();
        let n = |k: &RsaKeyPair| rsa_jwk(k, "x")["n"].clone();
        assert_ne!(n(&keys.rsa[0]), n(&keys.rsa[1]));
        assert_ne!(n(&keys.rsa[0]), n(&keys.unpublished));
        assert_ne!(n(&keys.rsa[1]), n(&keys.unpublished));
        assert_eq!(
            keys.rsa_for(1).public().as_ref(),
            keys.rsa[0].public().as_ref()
        );
        assert_eq!(
            keys.rsa_for(2).public().as_ref(),
            keys.rsa[1].public().as_ref()
        );
        assert_eq!(
            keys.rsa_for(3).public().as_ref(),
            keys.rsa[0].public().as_ref()
        );
        let ec = ec_jwk(&keys.ec, EC_KID);
        assert_eq!(ec["crv"], "P-256");
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(ec["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn key_slots_have_their_own_keys_and_kids() {
        let n = |k: &RsaKeyPair| rsa_jwk(k, "x")["n"].clone();
        let mut seen = Vec::new();
        for slot in 0..5 {
            let mut s = KeySlot::new(slot, &format!("slot{slot}"));
            let first = (n(s.key()), s.kid());
            assert_eq!(s.published(true).len(), 1, "no previous key yet");
            s.rotate();
            let second = (n(s.key()), s.kid());
            assert_eq!(s.published(false).len(), 1);
            let published = s.published(true);
            assert_eq!(published.len(), 2);
            assert_eq!(published[1].1, first.1);
            s.rotate();
            assert_eq!(
                n(s.key()),
                first.0,
                "generation 3 reuses generation 1's key"
            );
            assert_ne!(s.kid(), first.1, "…under a new kid");
            seen.push(first);
            seen.push(second);
        }
        for (i, a) in seen.iter().enumerate() {
            for b in &seen[i + 1..] {
                assert_ne!(a.0, b.0, "distinct key material");
                assert_ne!(a.1, b.1, "distinct kids");
            }
            assert_eq!(a.1.len(), 27);
            assert_ne!(a.0, n(&keys().unpublished));
        }
        assert_eq!(KeySlot::new(0, "a").kid(), KeySlot::new(3, "a").kid());
        assert_ne!(KeySlot::new(0, "a").kid(), KeySlot::new(0, "b").kid());
    }

    #[test]
    fn sec1_parser_rejects_garbage() {
        assert!(parse_sec1(&[]).is_none());
        assert!(parse_sec1(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_none());
        assert!(parse_sec1(&[0x30, 0x80]).is_none());
        assert!(der_tlv(&[0x04, 0x82, 0xff]).is_none());
    }

    #[test]
    fn corrupt_signature_changes_only_the_signature() {
        let token = sign(&json!({"a": 1}), &Signer::Hs256(b"k", "kid"));
        let bad = corrupt_signature(&token);
        assert_ne!(token, bad);
        assert_eq!(
            token.rsplit_once('.').unwrap().0,
            bad.rsplit_once('.').unwrap().0
        );
        assert_eq!(corrupt_signature("a.b."), "a.b.");
    }
}
