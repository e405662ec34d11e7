//! ID-token validation cost: ssokit's full `verify_id_token` against the raw
//! `ring` signature check it is built on (the floor), and against
//! `openidconnect`'s own verifier, on the same token and key.
//!
//! Run with `cargo bench --bench id_token`. The goal is ssokit ≤ 1.15× the floor.

use std::hint::black_box;
use std::str::FromStr as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::json;
use ssokit::oidc::jwt::{IdTokenCheck, JwkSet, verify_id_token};

const RSA1: &[u8] = include_bytes!("../src/testkit/keys/rsa1.pk8.der");
const EC1: &[u8] = include_bytes!("../src/testkit/keys/ec1.pk8.der");

const ISSUER: &str = "https://login.example.com/tenant-7f3c/v2.0";
const CLIENT_ID: &str = "6731de76-14a6-49ae-97bc-6eba6914391e";
const NONCE: &str = "o7Fq2w1Yl0nQmE3xZcVb8uT5aR9sKd4h";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A realistic ID token payload, valid for an hour around `now`.
fn payload(now: u64) -> String {
    json!({
        "iss": ISSUER,
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "aud": CLIENT_ID,
        "exp": now + 3600,
        "iat": now - 10,
        "nonce": NONCE,
        "email": "ada.lovelace@example.com",
        "email_verified": true,
        "name": "Ada Lovelace",
        "groups": ["engineering", "sso-admins", "all-staff"],
    })
    .to_string()
}

/// The committed RSA key is PKCS#1 despite its name; accept either form.
fn rsa_key() -> RsaKeyPair {
    RsaKeyPair::from_pkcs8(RSA1)
        .or_else(|_| RsaKeyPair::from_der(RSA1))
        .expect("test RSA key")
}

/// The committed EC key is SEC1 `ECPrivateKey`; ring wants PKCS#8, so read the
/// scalar and the point out of it (short-form DER lengths only).
fn ec_key() -> EcdsaKeyPair {
    let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let rng = SystemRandom::new();
    if let Ok(key) = EcdsaKeyPair::from_pkcs8(alg, EC1, &rng) {
        return key;
    }
    fn tlv(der: &[u8]) -> (&[u8], &[u8]) {
        let len = usize::from(der[1]);
        assert!(len < 0x80, "short-form DER lengths only");
        (&der[2..2 + len], &der[2 + len..])
    }
    let (body, _) = tlv(EC1);
    let (_version, rest) = tlv(body);
    let (private, rest) = tlv(rest);
    let (_curve, rest) = tlv(rest);
    let (public, _) = tlv(rest);
    let (bits, _) = tlv(public);
    EcdsaKeyPair::from_private_key_and_public_key(alg, private, &bits[1..], &rng)
        .expect("test EC key")
}

struct Fixture {
    token: String,
    jwks_json: String,
    /// What the floor verifies: `header.payload` and the raw signature.
    signing_input: String,
    signature: Vec<u8>,
}

fn rs256_fixture(now: u64) -> (Fixture, RsaPublicKeyComponents<Vec<u8>>) {
    let key = rsa_key();
    let public: RsaPublicKeyComponents<Vec<u8>> = key.public().into();
    let header = json!({"alg": "RS256", "kid": "rsa-2024-01", "typ": "JWT"}).to_string();
    let signing_input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(payload(now).as_bytes())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &signature::RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .expect("sign");
    let jwks_json = json!({"keys": [{
        "kty": "RSA", "use": "sig", "kid": "rsa-2024-01", "alg": "RS256",
        "n": b64(&public.n), "e": b64(&public.e),
    }]})
    .to_string();
    let token = format!("{signing_input}.{}", b64(&signature));
    (
        Fixture {
            token,
            jwks_json,
            signing_input,
            signature,
        },
        public,
    )
}

fn es256_fixture(now: u64) -> (Fixture, Vec<u8>) {
    let key = ec_key();
    let point = key.public_key().as_ref().to_vec();
    let header = json!({"alg": "ES256", "kid": "ec-2024-01", "typ": "JWT"}).to_string();
    let signing_input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(payload(now).as_bytes())
    );
    let signature = key
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .expect("sign")
        .as_ref()
        .to_vec();
    let jwks_json = json!({"keys": [{
        "kty": "EC", "use": "sig", "kid": "ec-2024-01", "alg": "ES256", "crv": "P-256",
        "x": b64(&point[1..33]), "y": b64(&point[33..]),
    }]})
    .to_string();
    let token = format!("{signing_input}.{}", b64(&signature));
    (
        Fixture {
            token,
            jwks_json,
            signing_input,
            signature,
        },
        point,
    )
}

fn check(now: u64) -> IdTokenCheck<'static> {
    IdTokenCheck {
        issuer: ISSUER,
        client_id: CLIENT_ID,
        nonce: Some(NONCE),
        now,
        leeway: 60,
        max_age: None,
    }
}

fn openidconnect_verifier(jwks_json: &str) -> CoreIdTokenVerifier<'static> {
    let jwks: CoreJsonWebKeySet = serde_json::from_str(jwks_json).expect("openidconnect JWKS");
    CoreIdTokenVerifier::new_public_client(
        ClientId::new(CLIENT_ID.to_owned()),
        IssuerUrl::new(ISSUER.to_owned()).expect("issuer URL"),
        jwks,
    )
}

fn bench_rs256(c: &mut Criterion) {
    let now = unix_now();
    let (fx, public) = rs256_fixture(now);
    let keys = JwkSet::from_json(fx.jwks_json.as_bytes()).expect("JWKS");
    let check = check(now);
    // Make sure every contender accepts the token before timing it.
    verify_id_token(&fx.token, &keys, &check).expect("ssokit accepts the token");
    let floor = RsaPublicKeyComponents {
        n: &public.n[..],
        e: &public.e[..],
    };
    floor
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            fx.signing_input.as_bytes(),
            &fx.signature,
        )
        .expect("ring accepts the signature");
    let verifier = openidconnect_verifier(&fx.jwks_json);
    let nonce = Nonce::new(NONCE.to_owned());
    CoreIdToken::from_str(&fx.token)
        .expect("openidconnect parses the token")
        .claims(&verifier, &nonce)
        .expect("openidconnect accepts the token");

    let mut group = c.benchmark_group("id_token_rs256");
    group.bench_function("ssokit", |b| {
        b.iter(|| verify_id_token(black_box(&fx.token), &keys, black_box(&check)))
    });
    group.bench_function("ring_floor", |b| {
        b.iter(|| {
            floor.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                black_box(fx.signing_input.as_bytes()),
                black_box(&fx.signature),
            )
        })
    });
    group.bench_function("openidconnect", |b| {
        b.iter(|| {
            let token = CoreIdToken::from_str(black_box(&fx.token)).expect("parse");
            token.claims(&verifier, &nonce).map(|c| c.subject().len())
        })
    });
    group.finish();
}

fn bench_es256(c: &mut Criterion) {
    let now = unix_now();
    let (fx, point) = es256_fixture(now);
    let keys = JwkSet::from_json(fx.jwks_json.as_bytes()).expect("JWKS");
    let check = check(now);
    verify_id_token(&fx.token, &keys, &check).expect("ssokit accepts the token");
    let floor = signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point[..]);
    floor
        .verify(fx.signing_input.as_bytes(), &fx.signature)
        .expect("ring accepts the signature");
    let verifier = openidconnect_verifier(&fx.jwks_json)
        .set_allowed_algs([CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
    let nonce = Nonce::new(NONCE.to_owned());
    CoreIdToken::from_str(&fx.token)
        .expect("openidconnect parses the token")
        .claims(&verifier, &nonce)
        .expect("openidconnect accepts the token");

    let mut group = c.benchmark_group("id_token_es256");
    group.bench_function("ssokit", |b| {
        b.iter(|| verify_id_token(black_box(&fx.token), &keys, black_box(&check)))
    });
    group.bench_function("ring_floor", |b| {
        b.iter(|| {
            floor.verify(
                black_box(fx.signing_input.as_bytes()),
                black_box(&fx.signature),
            )
        })
    });
    group.bench_function("openidconnect", |b| {
        b.iter(|| {
            let token = CoreIdToken::from_str(black_box(&fx.token)).expect("parse");
            token.claims(&verifier, &nonce).map(|c| c.subject().len())
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_rs256, bench_es256
}
criterion_main!(benches);
