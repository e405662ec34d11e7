//! Validation of OpenID Connect ID tokens (compact JWS), backed by `ring`.
//!
//! This module is sans-IO: it never reads the clock or the network. The caller
//! fetches the provider's JWKS (and refreshes it when [`TokenError::UnknownKey`]
//! says a key is missing), and passes the current time in [`IdTokenCheck::now`].
//!
//! The rules, in the order they are applied by [`verify_id_token`]:
//!
//! 1. The token is at most [`MAX_TOKEN_LEN`] bytes and has exactly three
//!    base64url (unpadded) parts.
//! 2. The header is a JSON object with an `alg`; `crit` is refused; `typ`, if
//!    present, is `JWT` or `application/jwt`.
//! 3. The key is chosen by `kid` (a token without `kid` is accepted only when
//!    the set holds exactly one key; several keys sharing the token's `kid` are
//!    ambiguous and refused). **The algorithm comes from the key**: a
//!    JWK's `alg`, when present, must equal the header's; otherwise the header's
//!    algorithm must fit the key type (RSA: RS256/384/512, PS256/384/512; EC
//!    P-256: ES256; EC P-384: ES384). `none` and HMAC algorithms are never
//!    accepted.
//! 4. The signature is verified. Nothing in the payload is read before that.
//! 5. The claims: `iss`, `aud`/`azp`, `exp`, `iat`, `nbf`, `nonce`,
//!    `auth_time` (when a `max_age` is set) and `sub`, in that order, as in
//!    [OpenID Connect Core §3.1.3.7][oidc-validation].
//!
//! [oidc-validation]: https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
//!
//! ```
//! use ssokit::oidc::jwt::{verify_id_token, IdTokenCheck, JwkSet, TokenError};
//!
//! fn sign_in(jwks_json: &[u8], id_token: &str, nonce: &str, now: u64) -> Result<String, TokenError> {
//!     let keys = JwkSet::from_json(jwks_json)?; // parse once, keep, refresh on UnknownKey
//!     let check = IdTokenCheck {
//!         issuer: "https://login.example.com",
//!         client_id: "my-client-id",
//!         nonce: Some(nonce),
//!         now,
//!         leeway: 60,
//!         max_age: None,
//!     };
//!     let claims = verify_id_token(id_token, &keys, &check)?;
//!     Ok(claims.sub)
//! }
//! # assert!(sign_in(b"{\"keys\":[]}", "a.b.c", "n", 0).is_err());
//! ```

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaParameters, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::secret::ct_eq;

/// The largest ID token accepted, in bytes (16 KiB). Larger input is refused
/// with [`TokenError::TooLarge`] before anything is decoded.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The largest clock-skew allowance, in seconds; a larger
/// [`IdTokenCheck::leeway`] is clamped to this.
pub const MAX_LEEWAY: u64 = 300;

/// The smallest RSA modulus accepted in a JWKS, in bits; smaller keys are skipped.
pub const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus `ring` verifies with, in bits; larger keys are skipped.
const MAX_RSA_BITS: usize = 8192;

/// The longest signature of any supported key (RSA-8192), in bytes.
const MAX_SIG_LEN: usize = MAX_RSA_BITS / 8;

/// Decoded headers up to this size stay on the stack.
const HEADER_STACK_LEN: usize = 384;

/// Longest attacker-controlled string (`kid`, `alg`) kept in an error.
const MAX_ECHO_LEN: usize = 128;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Why an ID token (or a JWKS document) was rejected.
///
/// Messages say what was wrong and what to do. They never contain the token or
/// claim values; only the algorithm name and the key id, both public header
/// fields, are echoed (bounded and escaped).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The input is not a well-formed compact JWS / JWKS document; the detail
    /// says which part.
    Malformed(&'static str),
    /// The token is longer than [`MAX_TOKEN_LEN`].
    TooLarge,
    /// The header's `alg` is not an accepted signature algorithm (`none`,
    /// `HS256`, …). Holds the (bounded) algorithm name.
    UnsupportedAlgorithm(String),
    /// The header's `alg` does not fit the selected key (its type, or the
    /// `alg` the JWK pins).
    AlgorithmMismatch,
    /// No key in the set has the token's `kid` (or, without a `kid`, the set is
    /// empty). Refresh the JWKS and retry once.
    UnknownKey {
        /// The token's key id (bounded), if it had one.
        kid: Option<String>,
    },
    /// The token names no `kid` and the set holds several keys, or several
    /// keys share the token's `kid`.
    AmbiguousKey,
    /// The signature does not verify with the selected key.
    BadSignature,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// The client id is not among the token's audiences.
    WrongAudience,
    /// `azp` is present and is not the client id.
    AzpMismatch,
    /// The token has expired (`exp`, allowing for the leeway).
    Expired,
    /// The token is not valid yet (`nbf`, allowing for the leeway).
    NotYetValid,
    /// The token was issued in the future (`iat`, allowing for the leeway).
    IssuedInFuture,
    /// The `nonce` claim is not this login's nonce.
    NonceMismatch,
    /// A required claim is absent (or empty, for `sub`); holds its name.
    MissingClaim(&'static str),
    /// The end-user authenticated longer ago than `max_age` allows.
    AuthTooOld,
    /// The header's `typ` says this is not an ID token (e.g. `at+jwt`).
    WrongType,
}

impl TokenError {
    /// Whether refreshing the provider's JWKS (once, rate-limited) may make the
    /// token verify: true only for [`TokenError::UnknownKey`].
    pub fn requires_key_refresh(&self) -> bool {
        matches!(self, TokenError::UnknownKey { .. })
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed(detail) => write!(f, "malformed token or key set: {detail}"),
            TokenError::TooLarge => write!(
                f,
                "the ID token is larger than {MAX_TOKEN_LEN} bytes and was refused unread; \
                 check that the ID token (not another value) is being passed"
            ),
            TokenError::UnsupportedAlgorithm(alg) => write!(
                f,
                "the ID token is signed with algorithm \"{}\", which is not accepted; \
                 configure the provider to sign ID tokens with RS256, RS384, RS512, PS256, \
                 PS384, PS512, ES256 or ES384",
                alg.escape_debug()
            ),
            TokenError::AlgorithmMismatch => f.write_str(
                "the ID token's algorithm does not fit the key it names (key type or the \
                 key's pinned \"alg\"); reject it, and if it persists check the provider's \
                 signing configuration",
            ),
            TokenError::UnknownKey { kid: Some(kid) } => write!(
                f,
                "no usable key with kid \"{}\" in the provider's JWKS; refresh the JWKS \
                 (the provider may have rotated its keys) and retry once",
                kid.escape_debug()
            ),
            TokenError::UnknownKey { kid: None } => f.write_str(
                "the ID token names no key (kid) and the provider's JWKS holds no usable \
                 signing key; refresh the JWKS and check the provider's jwks_uri",
            ),
            TokenError::AmbiguousKey => f.write_str(
                "the ID token's key cannot be chosen safely: it names no key (kid) while the \
                 JWKS holds several, or several keys share its kid; reject it",
            ),
            TokenError::BadSignature => f.write_str(
                "the ID token's signature is invalid; reject the login (the token was \
                 altered, or was not issued by this provider)",
            ),
            TokenError::WrongIssuer => f.write_str(
                "the ID token was issued by a different issuer than the connection's; check \
                 the configured issuer URL (it must match `iss` exactly, trailing slash included)",
            ),
            TokenError::WrongAudience => f.write_str(
                "the ID token is not intended for this client (client id not in `aud`); check \
                 the connection's client id",
            ),
            TokenError::AzpMismatch => {
                f.write_str("the ID token's authorized party (`azp`) is not this client; reject it")
            }
            TokenError::Expired => f.write_str(
                "the ID token has expired; start a new login (if fresh tokens fail too, check \
                 the server clock)",
            ),
            TokenError::NotYetValid => {
                f.write_str("the ID token is not valid yet (`nbf`); check the server clock")
            }
            TokenError::IssuedInFuture => f.write_str(
                "the ID token's issue time (`iat`) is in the future; check the server clock",
            ),
            TokenError::NonceMismatch => f.write_str(
                "the ID token's nonce does not belong to this login attempt (possible replay); \
                 start a new login",
            ),
            TokenError::MissingClaim(claim) => write!(
                f,
                "the ID token lacks the required claim `{claim}`; check the provider's \
                 configuration (scopes, claim mapping)"
            ),
            TokenError::AuthTooOld => f.write_str(
                "the user authenticated at the provider longer ago than `max_age` allows; \
                 start a new login that forces re-authentication (prompt=login)",
            ),
            TokenError::WrongType => f.write_str(
                "the token's `typ` header says it is not an ID token (e.g. an access or \
                 logout token); pass the ID token",
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// Keeps at most [`MAX_ECHO_LEN`] bytes of an untrusted string for an error.
fn bounded(s: &str) -> String {
    let mut end = s.len().min(MAX_ECHO_LEN);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

// ---------------------------------------------------------------------------
// Algorithms and keys
// ---------------------------------------------------------------------------

/// A JWS signature algorithm this module verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
}

impl Alg {
    fn from_name(name: &str) -> Option<Alg> {
        Some(match name {
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            _ => return None,
        })
    }

    fn rsa_params(self) -> Option<&'static RsaParameters> {
        Some(match self {
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
            Alg::Es256 | Alg::Es384 => return None,
        })
    }
}

/// The public key material of one usable JWK, decoded once at parse time.
#[derive(Clone)]
enum KeyMaterial {
    /// Big-endian modulus and exponent, without leading zeros (as `ring` wants).
    Rsa { n: Box<[u8]>, e: Box<[u8]> },
    /// Uncompressed P-256 point: `0x04 || x || y`.
    P256(Box<[u8; 65]>),
    /// Uncompressed P-384 point: `0x04 || x || y`.
    P384(Box<[u8; 97]>),
}

/// One usable signature-verification key.
#[derive(Clone)]
struct Jwk {
    kid: Option<Box<str>>,
    alg: Option<Alg>,
    material: KeyMaterial,
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.material {
            KeyMaterial::Rsa { n, .. } => format!("RSA-{}", bit_len(n)),
            KeyMaterial::P256(_) => "EC P-256".to_owned(),
            KeyMaterial::P384(_) => "EC P-384".to_owned(),
        };
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("key", &kind)
            .finish()
    }
}

impl Jwk {
    /// Interprets one JWKS entry; `None` when it is unusable for verifying
    /// signatures (wrong use, unknown type, malformed, weak).
    fn from_value(value: &serde_json::Value) -> Option<Jwk> {
        let raw = RawJwk::deserialize(value).ok()?;
        if raw.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        if raw
            .key_ops
            .as_ref()
            .is_some_and(|ops| !ops.iter().any(|op| &**op == "verify"))
        {
            return None;
        }
        // A pinned algorithm must be one we verify; a key pinned to anything
        // else (RSA-OAEP, HS256, EdDSA, …) is of no use here.
        let alg = match raw.alg.as_deref() {
            None => None,
            Some(name) => Some(Alg::from_name(name)?),
        };
        let material = match raw.kty.as_ref() {
            "RSA" => {
                let n = decode_b64(raw.n.as_deref()?)?;
                let e = decode_b64(raw.e.as_deref()?)?;
                let n = strip_leading_zeros(&n);
                let e = strip_leading_zeros(&e);
                let bits = bit_len(n);
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) || (n.last()? & 1) == 0 {
                    return None;
                }
                // ring accepts odd exponents from 3 up to 33 bits.
                if e.len() > 4 || (e.last()? & 1) == 0 || matches!(e, [1]) {
                    return None;
                }
                if alg.is_some_and(|a| a.rsa_params().is_none()) {
                    return None;
                }
                KeyMaterial::Rsa {
                    n: n.into(),
                    e: e.into(),
                }
            }
            "EC" => {
                let x = decode_b64(raw.x.as_deref()?)?;
                let y = decode_b64(raw.y.as_deref()?)?;
                match raw.crv.as_deref()? {
                    "P-256" => {
                        if alg.is_some_and(|a| a != Alg::Es256) {
                            return None;
                        }
                        KeyMaterial::P256(Box::new(ec_point::<65>(&x, &y)?))
                    }
                    "P-384" => {
                        if alg.is_some_and(|a| a != Alg::Es384) {
                            return None;
                        }
                        KeyMaterial::P384(Box::new(ec_point::<97>(&x, &y)?))
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(Jwk {
            kid: raw.kid.map(|k| k.0.into_owned().into_boxed_str()),
            alg,
            material,
        })
    }

    /// Verifies `sig` over `msg` with `alg`, which must fit this key.
    fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Result<(), TokenError> {
        let verified = match &self.material {
            KeyMaterial::Rsa { n, e } => {
                let params = alg.rsa_params().ok_or(TokenError::AlgorithmMismatch)?;
                RsaPublicKeyComponents {
                    n: &n[..],
                    e: &e[..],
                }
                .verify(params, msg, sig)
            }
            KeyMaterial::P256(point) if alg == Alg::Es256 => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point[..])
                    .verify(msg, sig)
            }
            KeyMaterial::P384(point) if alg == Alg::Es384 => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, &point[..])
                    .verify(msg, sig)
            }
            KeyMaterial::P256(_) | KeyMaterial::P384(_) => {
                return Err(TokenError::AlgorithmMismatch);
            }
        };
        verified.map_err(|_| TokenError::BadSignature)
    }

    /// Whether the header's `alg` may be used with this key.
    fn accepts(&self, alg: Alg) -> bool {
        if let Some(pinned) = self.alg {
            return pinned == alg;
        }
        match &self.material {
            KeyMaterial::Rsa { .. } => alg.rsa_params().is_some(),
            KeyMaterial::P256(_) => alg == Alg::Es256,
            KeyMaterial::P384(_) => alg == Alg::Es384,
        }
    }
}

/// One JWKS entry as written by the provider.
#[derive(Deserialize)]
struct RawJwk<'a> {
    #[serde(borrow)]
    kty: Cow<'a, str>,
    #[serde(rename = "use", default, borrow)]
    use_: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    key_ops: Option<Vec<CowStr<'a>>>,
    #[serde(default, borrow)]
    alg: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    kid: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    crv: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    n: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    e: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    x: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    y: Option<CowStr<'a>>,
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian integer without leading zeros.
fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&top) => (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

/// `0x04 || x || y`, when `x` and `y` both have exactly `(N - 1) / 2` bytes.
fn ec_point<const N: usize>(x: &[u8], y: &[u8]) -> Option<[u8; N]> {
    let coord = (N - 1) / 2;
    if x.len() != coord || y.len() != coord {
        return None;
    }
    let mut point = [0u8; N];
    let (tag, rest) = point.split_first_mut()?;
    *tag = 0x04;
    let (px, py) = rest.split_at_mut(coord);
    px.copy_from_slice(x);
    py.copy_from_slice(y);
    Some(point)
}

/// The provider's public signing keys, parsed once from its JWKS document.
///
/// Only keys usable for verifying ID-token signatures are kept; see
/// [`JwkSet::from_json`].
#[derive(Clone, Debug, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

impl JwkSet {
    /// Parses a JWKS document (`{"keys": [...]}`).
    ///
    /// Keys that cannot verify signatures are skipped, not errors: symmetric
    /// (`oct`) keys, `use` other than `sig`, `key_ops` without `verify`,
    /// unknown `kty`/`crv`, an `alg` that is not a supported signature
    /// algorithm, malformed entries, RSA moduli under [`MIN_RSA_BITS`] or over
    /// 8192 bits. The result may therefore be empty.
    ///
    /// # Errors
    /// [`TokenError::Malformed`] when the document is not JSON or has no
    /// `"keys"` array.
    pub fn from_json(bytes: &[u8]) -> Result<JwkSet, TokenError> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let doc: Document = serde_json::from_slice(bytes).map_err(|_| {
            TokenError::Malformed(
                "the JWKS document is not a JSON object with a \"keys\" array; check the \
                 provider's jwks_uri",
            )
        })?;
        Ok(JwkSet {
            keys: doc.keys.iter().filter_map(Jwk::from_value).collect(),
        })
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no usable key was found.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a usable key has this key id.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key a token with this `kid` (or none) must be verified with.
    fn select(&self, kid: Option<&str>) -> Result<&Jwk, TokenError> {
        match kid {
            Some(kid) => {
                let mut found = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                match (found.next(), found.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(TokenError::UnknownKey {
                        kid: Some(bounded(kid)),
                    }),
                    (Some(_), Some(_)) => Err(TokenError::AmbiguousKey),
                }
            }
            None => match self.keys.as_slice() {
                [key] => Ok(key),
                [] => Err(TokenError::UnknownKey { kid: None }),
                _ => Err(TokenError::AmbiguousKey),
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Compact JWS
// ---------------------------------------------------------------------------

/// The three parts of a compact JWS, still encoded.
struct Parts<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    /// `header '.' payload`, the bytes the signature covers.
    signing_input: &'t str,
}

fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLarge);
    }
    const NOT_JWS: &str =
        "the ID token is not a compact JWS (three base64url parts separated by dots)";
    let (header, rest) = token
        .split_once('.')
        .ok_or(TokenError::Malformed(NOT_JWS))?;
    let (payload, signature) = rest.split_once('.').ok_or(TokenError::Malformed(NOT_JWS))?;
    if signature.contains('.') {
        return Err(TokenError::Malformed(
            "the ID token has more than three parts; encrypted (JWE) ID tokens are not supported",
        ));
    }
    if header.is_empty() || payload.is_empty() {
        return Err(TokenError::Malformed(NOT_JWS));
    }
    let signing_input = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(TokenError::Malformed(NOT_JWS))?;
    Ok(Parts {
        header,
        payload,
        signature,
        signing_input,
    })
}

/// The unverified JOSE header of a token.
///
/// Use it for key selection and refresh decisions only: nothing in it is
/// authenticated until [`verify_id_token`] succeeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwsHeader {
    /// The signature algorithm the token claims (`RS256`, …).
    pub alg: String,
    /// The key id, if any.
    pub kid: Option<String>,
    /// The media type, if any (`JWT`).
    pub typ: Option<String>,
}

/// The header fields this module reads.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: CowStr<'a>,
    #[serde(default, borrow)]
    kid: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    typ: Option<CowStr<'a>>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `true` whenever the field is present, whatever its value (even `null`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

/// Whether `json` starts (after whitespace) with `{`: derived structs would
/// otherwise also accept a positional JSON array.
fn is_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Decodes base64url into `stack` when it fits, else into `heap`.
fn decode_part<'b>(part: &str, stack: &'b mut [u8], heap: &'b mut Vec<u8>) -> Option<&'b [u8]> {
    if base64::decoded_len_estimate(part.len()) <= stack.len() {
        let len = URL_SAFE_NO_PAD.decode_slice(part, stack).ok()?;
        stack.get(..len)
    } else {
        URL_SAFE_NO_PAD.decode_vec(part, heap).ok()?;
        Some(heap.as_slice())
    }
}

fn parse_header(json: &[u8]) -> Result<RawHeader<'_>, TokenError> {
    const BAD_HEADER: &str = "the ID token's header is not a JSON object with a string \"alg\"";
    if !is_object(json) {
        return Err(TokenError::Malformed(BAD_HEADER));
    }
    let header: RawHeader<'_> =
        serde_json::from_slice(json).map_err(|_| TokenError::Malformed(BAD_HEADER))?;
    if header.crit {
        return Err(TokenError::Malformed(
            "the ID token's header has \"crit\" extensions, which are not supported",
        ));
    }
    let is_jwt =
        |typ: &str| typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("application/jwt");
    if header.typ.as_deref().is_some_and(|typ| !is_jwt(typ)) {
        return Err(TokenError::WrongType);
    }
    Ok(header)
}

/// Reads a token's header without verifying anything.
///
/// Applies the same size, shape and header rules as [`verify_id_token`]
/// (including `crit` and `typ`), so a header returned here is one
/// `verify_id_token` would go on to check the key and signature of.
///
/// # Errors
/// [`TokenError::TooLarge`], [`TokenError::Malformed`], [`TokenError::WrongType`].
pub fn peek_header(token: &str) -> Result<JwsHeader, TokenError> {
    let parts = split(token)?;
    let header = URL_SAFE_NO_PAD
        .decode(parts.header)
        .map_err(|_| TokenError::Malformed("the ID token's header is not base64url"))?;
    let raw = parse_header(&header)?;
    Ok(JwsHeader {
        alg: raw.alg.0.into_owned(),
        kid: raw.kid.map(|k| k.0.into_owned()),
        typ: raw.typ.map(|t| t.0.into_owned()),
    })
}

// ---------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------

/// What an ID token must satisfy besides its signature.
#[derive(Clone, Copy)]
pub struct IdTokenCheck<'a> {
    /// The connection's issuer; `iss` must equal it exactly.
    pub issuer: &'a str,
    /// This client's id; it must be in `aud`. When `aud` has several values,
    /// `azp` must be present and equal it; when `azp` is present it must equal it.
    pub client_id: &'a str,
    /// The nonce sent with this login's authorization request. When `Some`, the
    /// `nonce` claim is required and must equal it (compared in constant time).
    pub nonce: Option<&'a str>,
    /// The current time, in seconds since the Unix epoch.
    pub now: u64,
    /// Allowed clock skew in seconds, applied to `exp`, `iat`, `nbf` and
    /// `auth_time`; clamped to [`MAX_LEEWAY`].
    pub leeway: u64,
    /// When `Some`, `auth_time` is required and the user must have
    /// authenticated at most this many seconds ago (plus the leeway).
    pub max_age: Option<u64>,
}

impl fmt::Debug for IdTokenCheck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenCheck")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("nonce", &self.nonce.map(|_| "[redacted]"))
            .field("now", &self.now)
            .field("leeway", &self.leeway)
            .field("max_age", &self.max_age)
            .finish()
    }
}

/// The claims of a verified ID token.
///
/// The common claims are fields; any other (`tid`, `oid`, `_claim_names`, …)
/// is read with [`IdTokenClaims::claim`] from the kept payload.
#[derive(Clone)]
pub struct IdTokenClaims {
    /// Issuer (equal to [`IdTokenCheck::issuer`]).
    pub iss: String,
    /// Subject: the user's stable identifier at the issuer (non-empty).
    pub sub: String,
    /// Audiences (one of them is the client id).
    pub aud: Vec<String>,
    /// Authorized party, if present (then equal to the client id).
    pub azp: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// Not-before time, if present.
    pub nbf: Option<u64>,
    /// When the user authenticated at the provider, if present.
    pub auth_time: Option<u64>,
    /// E-mail address, if present. Not proof of anything unless
    /// [`IdTokenClaims::email_verified`] is true and the domain is trusted.
    pub email: Option<String>,
    /// Whether the provider verified the e-mail address (`false` when absent;
    /// the strings `"true"`/`"false"` some providers send are accepted).
    pub email_verified: bool,
    /// Full name, if present.
    pub name: Option<String>,
    /// Given name, if present.
    pub given_name: Option<String>,
    /// Family name, if present.
    pub family_name: Option<String>,
    /// The `groups` claim (an array of strings, or a single string); empty when absent.
    pub groups: Vec<String>,
    payload: Vec<u8>,
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("azp", &self.azp)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("nbf", &self.nbf)
            .field("auth_time", &self.auth_time)
            .field("email", &self.email)
            .field("email_verified", &self.email_verified)
            .field("name", &self.name)
            .field("given_name", &self.given_name)
            .field("family_name", &self.family_name)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl IdTokenClaims {
    /// Any claim of the verified payload, parsed on demand.
    ///
    /// Returns `None` when the claim is absent, and also when it appears more
    /// than once (an ambiguous claim is treated as absent, never guessed).
    pub fn claim(&self, name: &str) -> Option<serde_json::Value> {
        let mut de = serde_json::Deserializer::from_slice(&self.payload);
        let found = de.deserialize_map(FindClaim { name }).ok()?;
        de.end().ok()?;
        found
    }

    /// The verified payload: the token's decoded JSON claims set.
    pub fn payload_json(&self) -> &[u8] {
        &self.payload
    }
}

/// Finds one claim in a JSON object, skipping the others without building them.
struct FindClaim<'n> {
    name: &'n str,
}

impl<'de> Visitor<'de> for FindClaim<'_> {
    type Value = Option<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut duplicate = false;
        while let Some(is_it) = map.next_key_seed(KeyIs(self.name))? {
            if is_it {
                duplicate |= found.is_some();
                found = Some(map.next_value::<serde_json::Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(if duplicate { None } else { found })
    }
}

/// Deserializes a map key into "is it this name?".
struct KeyIs<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

/// The claims this module reads, borrowed from the payload where possible.
/// Duplicate occurrences of these claims make the payload malformed.
#[derive(Deserialize)]
struct RawClaims<'a> {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<StrList>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    exp: Option<NumericDate>,
    #[serde(default)]
    iat: Option<NumericDate>,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default)]
    auth_time: Option<NumericDate>,
    #[serde(default, borrow)]
    nonce: Option<CowStr<'a>>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<Flag>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    groups: Option<StrList>,
}

/// A string borrowed from the input when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl std::ops::Deref for CowStr<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A JWT NumericDate: non-negative seconds; a fractional part is dropped.
struct NumericDate(u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v)
                    .map(NumericDate)
                    .map_err(|_| E::custom("negative time"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v >= 0.0 {
                    // Saturating conversion; truncates the fraction.
                    Ok(NumericDate(v as u64))
                } else {
                    Err(E::custom("invalid time"))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A boolean, also accepted as the string `"true"` or `"false"`.
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean or \"true\"/\"false\"")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                if v.eq_ignore_ascii_case("true") {
                    Ok(Flag(true))
                } else if v.eq_ignore_ascii_case("false") {
                    Ok(Flag(false))
                } else {
                    Err(E::custom("not a boolean"))
                }
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A string, or an array of strings.
struct StrList(Vec<String>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList(vec![v.to_owned()]))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<StrList, E> {
                Ok(StrList(vec![v]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(item) = seq.next_element::<String>()? {
                    out.push(item);
                }
                Ok(StrList(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/// Verifies an ID token's signature with `keys`, then its claims against `check`.
///
/// See the [module documentation](self) for the rules and their order. The
/// payload is not parsed until the signature has verified.
///
/// # Errors
/// The first rule the token breaks, as a [`TokenError`].
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    check: &IdTokenCheck<'_>,
) -> Result<IdTokenClaims, TokenError> {
    let parts = split(token)?;

    // Header: decoded on the stack, parsed borrowing from it.
    let mut header_stack = [0u8; HEADER_STACK_LEN];
    let mut header_heap = Vec::new();
    let header_json = decode_part(parts.header, &mut header_stack, &mut header_heap).ok_or(
        TokenError::Malformed("the ID token's header is not base64url"),
    )?;
    let header = parse_header(header_json)?;

    // Key and algorithm: the key decides which algorithms are acceptable.
    let alg = Alg::from_name(&header.alg)
        .ok_or_else(|| TokenError::UnsupportedAlgorithm(bounded(&header.alg)))?;
    let key = keys.select(header.kid.as_deref())?;
    if !key.accepts(alg) {
        return Err(TokenError::AlgorithmMismatch);
    }

    // Signature, before anything in the payload is looked at.
    if base64::decoded_len_estimate(parts.signature.len()) > MAX_SIG_LEN + 3 {
        return Err(TokenError::BadSignature);
    }
    let mut sig_buf = [0u8; MAX_SIG_LEN + 3];
    let sig_len = URL_SAFE_NO_PAD
        .decode_slice(parts.signature, &mut sig_buf)
        .map_err(|_| TokenError::Malformed("the ID token's signature is not base64url"))?;
    let sig = sig_buf.get(..sig_len).unwrap_or_default();
    key.verify(alg, parts.signing_input.as_bytes(), sig)?;

    // Claims, now authenticated.
    let payload = URL_SAFE_NO_PAD
        .decode(parts.payload)
        .map_err(|_| TokenError::Malformed("the ID token's payload is not base64url"))?;
    check_claims(payload, check)
}

fn check_claims(payload: Vec<u8>, check: &IdTokenCheck<'_>) -> Result<IdTokenClaims, TokenError> {
    const BAD_CLAIMS: &str =
        "the ID token's claims are not a JSON object of the expected shape (or repeat a claim)";
    if !is_object(&payload) {
        return Err(TokenError::Malformed(BAD_CLAIMS));
    }
    // One vectorised UTF-8 check of the whole payload, so that the parser does
    // not re-validate every string it meets.
    let json = std::str::from_utf8(&payload).map_err(|_| TokenError::Malformed(BAD_CLAIMS))?;
    let raw: RawClaims<'_> =
        serde_json::from_str(json).map_err(|_| TokenError::Malformed(BAD_CLAIMS))?;
    let leeway = check.leeway.min(MAX_LEEWAY);
    let now_plus_leeway = check.now.saturating_add(leeway);

    let iss = raw.iss.ok_or(TokenError::MissingClaim("iss"))?;
    if iss != check.issuer {
        return Err(TokenError::WrongIssuer);
    }

    let aud = raw.aud.ok_or(TokenError::MissingClaim("aud"))?.0;
    if !aud.iter().any(|a| a == check.client_id) {
        return Err(TokenError::WrongAudience);
    }
    match raw.azp.as_deref() {
        Some(azp) if azp != check.client_id => return Err(TokenError::AzpMismatch),
        None if aud.len() > 1 => return Err(TokenError::MissingClaim("azp")),
        _ => {}
    }

    let exp = raw.exp.ok_or(TokenError::MissingClaim("exp"))?.0;
    if check.now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    let iat = raw.iat.ok_or(TokenError::MissingClaim("iat"))?.0;
    if iat > now_plus_leeway {
        return Err(TokenError::IssuedInFuture);
    }
    let nbf = raw.nbf.map(|d| d.0);
    if nbf.is_some_and(|nbf| nbf > now_plus_leeway) {
        return Err(TokenError::NotYetValid);
    }

    if let Some(expected) = check.nonce {
        let nonce = raw.nonce.ok_or(TokenError::MissingClaim("nonce"))?;
        if !ct_eq(nonce.as_bytes(), expected.as_bytes()) {
            return Err(TokenError::NonceMismatch);
        }
    }

    let auth_time = raw.auth_time.map(|d| d.0);
    if let Some(max_age) = check.max_age {
        let auth_time = auth_time.ok_or(TokenError::MissingClaim("auth_time"))?;
        if check.now > auth_time.saturating_add(max_age).saturating_add(leeway) {
            return Err(TokenError::AuthTooOld);
        }
    }

    let sub = raw
        .sub
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::MissingClaim("sub"))?;

    Ok(IdTokenClaims {
        iss,
        sub,
        aud,
        azp: raw.azp,
        exp,
        iat,
        nbf,
        auth_time,
        email: raw.email,
        email_verified: raw.email_verified.is_some_and(|f| f.0),
        name: raw.name,
        given_name: raw.given_name,
        family_name: raw.family_name,
        groups: raw.groups.map(|g| g.0).unwrap_or_default(),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair};
    use serde_json::{Value, json};

    const RSA1: &[u8] = include_bytes!("../testkit/keys/rsa1.pk8.der");
    const RSA2: &[u8] = include_bytes!("../testkit/keys/rsa2.pk8.der");
    const EC1: &[u8] = include_bytes!("../testkit/keys/ec1.pk8.der");

    const ISS: &str = "https://idp.example.com";
    const CLIENT: &str = "client-123";
    const NONCE: &str = "n-0S6_WzA2Mj";
    const NOW: u64 = 1_700_000_000;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The committed RSA keys are PKCS#1 `RSAPrivateKey` despite their names.
    fn rsa(der: &[u8]) -> RsaKeyPair {
        RsaKeyPair::from_pkcs8(der)
            .or_else(|_| RsaKeyPair::from_der(der))
            .expect("test RSA key")
    }

    /// The committed EC key is a SEC1 `ECPrivateKey`, which ring does not
    /// parse, so its private scalar and public point are read out here.
    fn ec() -> EcdsaKeyPair {
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let rng = SystemRandom::new();
        if let Ok(key) = EcdsaKeyPair::from_pkcs8(alg, EC1, &rng) {
            return key;
        }
        // ECPrivateKey ::= SEQUENCE { 1, OCTET STRING d, [0] curve, [1] BIT STRING Q }
        fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
            let (tag, len, rest) = (der[0], der[1] as usize, &der[2..]);
            assert!(len < 0x80, "short-form lengths only");
            (tag, &rest[..len], &rest[len..])
        }
        let (tag, body, _) = tlv(EC1);
        assert_eq!(tag, 0x30);
        let (_, _version, rest) = tlv(body);
        let (tag, private, rest) = tlv(rest);
        assert_eq!(tag, 0x04);
        let (_, _curve, rest) = tlv(rest);
        let (tag, public, _) = tlv(rest);
        assert_eq!(tag, 0xa1);
        let (tag, bits, _) = tlv(public);
        assert_eq!((tag, bits[0]), (0x03, 0));
        EcdsaKeyPair::from_private_key_and_public_key(alg, private, &bits[1..], &rng)
            .expect("test EC key")
    }

    fn rsa_jwk(kp: &RsaKeyPair, kid: &str) -> Value {
        let public: RsaPublicKeyComponents<Vec<u8>> = kp.public().into();
        json!({"kty": "RSA", "kid": kid, "use": "sig", "n": b64(&public.n), "e": b64(&public.e)})
    }

    fn ec_jwk(kp: &EcdsaKeyPair, kid: &str) -> Value {
        let point = kp.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        json!({"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(x), "y": b64(y)})
    }

    fn jwks(keys: &[Value]) -> JwkSet {
        let set = JwkSet::from_json(json!({ "keys": keys }).to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), keys.len(), "all test keys are usable");
        set
    }

    /// rsa1 as "r1", rsa2 as "r2", ec1 as "e1".
    fn all_keys() -> JwkSet {
        jwks(&[
            rsa_jwk(&rsa(RSA1), "r1"),
            rsa_jwk(&rsa(RSA2), "r2"),
            ec_jwk(&ec(), "e1"),
        ])
    }

    fn claims() -> Value {
        json!({
            "iss": ISS, "sub": "user-42", "aud": CLIENT, "exp": NOW + 600, "iat": NOW - 5,
            "nonce": NONCE, "email": "ada@example.com", "email_verified": true,
            "name": "Ada Lovelace", "groups": ["eng", "admins", "all"],
            "tid": "tenant-guid", "xms_edov": true
        })
    }

    fn check() -> IdTokenCheck<'static> {
        IdTokenCheck {
            issuer: ISS,
            client_id: CLIENT,
            nonce: Some(NONCE),
            now: NOW,
            leeway: 0,
            max_age: None,
        }
    }

    fn signing_input(header: &Value, payload: &[u8]) -> String {
        format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload))
    }

    fn rsa_sign_with(
        kp: &RsaKeyPair,
        padding: &'static dyn signature::RsaEncoding,
        header: &Value,
        payload: &[u8],
    ) -> String {
        let input = signing_input(header, payload);
        let mut sig = vec![0; kp.public().modulus_len()];
        kp.sign(padding, &SystemRandom::new(), input.as_bytes(), &mut sig)
            .unwrap();
        format!("{input}.{}", b64(&sig))
    }

    fn rs256(kp: &RsaKeyPair, header: &Value, payload: &Value) -> String {
        rsa_sign_with(
            kp,
            &signature::RSA_PKCS1_SHA256,
            header,
            payload.to_string().as_bytes(),
        )
    }

    fn es256(kp: &EcdsaKeyPair, header: &Value, payload: &Value) -> String {
        let input = signing_input(header, payload.to_string().as_bytes());
        let sig = kp.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", b64(sig.as_ref()))
    }

    /// A valid RS256 token from rsa1 ("r1") with these claims.
    fn token_with(payload: &Value) -> String {
        rs256(
            &rsa(RSA1),
            &json!({"alg": "RS256", "kid": "r1", "typ": "JWT"}),
            payload,
        )
    }

    fn token() -> String {
        token_with(&claims())
    }

    fn with(mut base: Value, changes: Value) -> Value {
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    }

    fn verify(token: &str) -> Result<IdTokenClaims, TokenError> {
        verify_id_token(token, &all_keys(), &check())
    }

    #[test]
    fn valid_rs256() {
        let claims = verify(&token()).unwrap();
        assert_eq!(claims.iss, ISS);
        assert_eq!(claims.sub, "user-42");
        assert_eq!(claims.aud, vec![CLIENT.to_owned()]);
        assert_eq!(claims.exp, NOW + 600);
        assert_eq!(claims.iat, NOW - 5);
        assert_eq!(claims.email.as_deref(), Some("ada@example.com"));
        assert!(claims.email_verified);
        assert_eq!(claims.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(claims.groups, ["eng", "admins", "all"]);
        assert_eq!(claims.azp, None);
    }

    #[test]
    fn valid_es256() {
        let t = es256(&ec(), &json!({"alg": "ES256", "kid": "e1"}), &claims());
        assert_eq!(verify(&t).unwrap().sub, "user-42");
    }

    #[test]
    fn valid_ps256_and_rs512() {
        let kp = rsa(RSA2);
        let payload = claims().to_string();
        for (alg, padding) in [
            (
                "PS256",
                &signature::RSA_PSS_SHA256 as &'static dyn signature::RsaEncoding,
            ),
            ("RS512", &signature::RSA_PKCS1_SHA512),
        ] {
            let t = rsa_sign_with(
                &kp,
                padding,
                &json!({"alg": alg, "kid": "r2"}),
                payload.as_bytes(),
            );
            assert!(verify(&t).is_ok(), "{alg}");
        }
    }

    #[test]
    fn wrong_issuer() {
        for iss in [
            "https://evil.example.com",
            "https://idp.example.com/",
            "HTTPS://IDP.EXAMPLE.COM",
        ] {
            let t = token_with(&with(claims(), json!({ "iss": iss })));
            assert_eq!(verify(&t).unwrap_err(), TokenError::WrongIssuer);
        }
        let t = token_with(&with(claims(), json!({ "iss": null })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("iss"));
    }

    #[test]
    fn wrong_audience() {
        let t = token_with(&with(claims(), json!({ "aud": "other-client" })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::WrongAudience);
        let t = token_with(&with(claims(), json!({ "aud": [] })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::WrongAudience);
        let t = token_with(&with(claims(), json!({ "aud": null })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("aud"));
        let t = token_with(&with(claims(), json!({ "aud": 7 })));
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
    }

    #[test]
    fn multiple_audiences_need_azp() {
        let multi = with(claims(), json!({ "aud": ["other", CLIENT] }));
        let t = token_with(&multi);
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("azp"));
        let t = token_with(&with(multi.clone(), json!({ "azp": "other" })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::AzpMismatch);
        let t = token_with(&with(multi, json!({ "azp": CLIENT })));
        let c = verify(&t).unwrap();
        assert_eq!(c.aud, ["other", CLIENT]);
        assert_eq!(c.azp.as_deref(), Some(CLIENT));
        // A single audience with a foreign azp is refused too.
        let t = token_with(&with(claims(), json!({ "azp": "other" })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::AzpMismatch);
    }

    #[test]
    fn expiry_and_leeway() {
        let t = token_with(&with(claims(), json!({ "exp": NOW - 10 })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::Expired);
        let t_now = token_with(&with(claims(), json!({ "exp": NOW })));
        assert_eq!(
            verify(&t_now).unwrap_err(),
            TokenError::Expired,
            "exp is exclusive"
        );
        let lenient = IdTokenCheck {
            leeway: 30,
            ..check()
        };
        assert!(verify_id_token(&t, &all_keys(), &lenient).is_ok());
        // The leeway is clamped to MAX_LEEWAY.
        let t = token_with(&with(
            claims(),
            json!({ "exp": NOW - 400, "iat": NOW - 900 }),
        ));
        let huge = IdTokenCheck {
            leeway: 10_000,
            ..check()
        };
        assert_eq!(
            verify_id_token(&t, &all_keys(), &huge).unwrap_err(),
            TokenError::Expired
        );
        let t = token_with(&with(claims(), json!({ "exp": null })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("exp"));
        // No overflow near u64::MAX.
        let t = token_with(&with(claims(), json!({ "exp": u64::MAX })));
        let max = IdTokenCheck {
            leeway: 300,
            now: u64::MAX,
            ..check()
        };
        assert_eq!(
            verify_id_token(&t, &all_keys(), &max).unwrap_err(),
            TokenError::Expired
        );
        let t = token_with(&with(claims(), json!({ "exp": -1 })));
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        let t = token_with(&with(claims(), json!({ "exp": "1800000000" })));
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        let t = token_with(&with(claims(), json!({ "exp": (NOW + 60) as f64 + 0.5 })));
        assert_eq!(verify(&t).unwrap().exp, NOW + 60);
    }

    #[test]
    fn not_before() {
        let t = token_with(&with(claims(), json!({ "nbf": NOW + 60 })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::NotYetValid);
        let lenient = IdTokenCheck {
            leeway: 60,
            ..check()
        };
        assert_eq!(
            verify_id_token(&t, &all_keys(), &lenient).unwrap().nbf,
            Some(NOW + 60)
        );
        let t = token_with(&with(claims(), json!({ "nbf": NOW })));
        assert!(verify(&t).is_ok());
    }

    #[test]
    fn issued_in_future() {
        let t = token_with(&with(claims(), json!({ "iat": NOW + 120 })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::IssuedInFuture);
        let lenient = IdTokenCheck {
            leeway: 120,
            ..check()
        };
        assert!(verify_id_token(&t, &all_keys(), &lenient).is_ok());
        let t = token_with(&with(claims(), json!({ "iat": null })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("iat"));
    }

    #[test]
    fn nonce() {
        let t = token_with(&with(claims(), json!({ "nonce": "n-0S6_WzA2Mk" })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::NonceMismatch);
        let t = token_with(&with(claims(), json!({ "nonce": "n-0S6_WzA2Mj-" })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::NonceMismatch);
        let t = token_with(&with(claims(), json!({ "nonce": null })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("nonce"));
        let no_nonce = IdTokenCheck {
            nonce: None,
            ..check()
        };
        assert!(verify_id_token(&t, &all_keys(), &no_nonce).is_ok());
        // An escaped (non-borrowable) nonce still compares by value.
        let raw = claims()
            .to_string()
            .replace("\"n-0S6_WzA2Mj\"", "\"n-0S6\\u005fWzA2Mj\"");
        let t = rsa_sign_with(
            &rsa(RSA1),
            &signature::RSA_PKCS1_SHA256,
            &json!({"alg": "RS256", "kid": "r1"}),
            raw.as_bytes(),
        );
        assert!(verify(&t).is_ok());
    }

    #[test]
    fn max_age() {
        let strict = IdTokenCheck {
            max_age: Some(300),
            ..check()
        };
        let keys = all_keys();
        let t = token();
        assert_eq!(
            verify_id_token(&t, &keys, &strict).unwrap_err(),
            TokenError::MissingClaim("auth_time")
        );
        let t = token_with(&with(claims(), json!({ "auth_time": NOW - 301 })));
        assert_eq!(
            verify_id_token(&t, &keys, &strict).unwrap_err(),
            TokenError::AuthTooOld
        );
        let lenient = IdTokenCheck {
            leeway: 5,
            ..strict
        };
        assert_eq!(
            verify_id_token(&t, &keys, &lenient).unwrap().auth_time,
            Some(NOW - 301)
        );
        let t = token_with(&with(claims(), json!({ "auth_time": NOW - 300 })));
        assert!(verify_id_token(&t, &keys, &strict).is_ok());
    }

    #[test]
    fn subject_required() {
        let t = token_with(&with(claims(), json!({ "sub": "" })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("sub"));
        let t = token_with(&with(claims(), json!({ "sub": null })));
        assert_eq!(verify(&t).unwrap_err(), TokenError::MissingClaim("sub"));
    }

    #[test]
    fn alg_none_is_refused() {
        let payload = b64(claims().to_string().as_bytes());
        for header in [
            json!({"alg": "none"}),
            json!({"alg": "none", "kid": "r1"}),
            json!({"alg": "None"}),
        ] {
            let h = b64(header.to_string().as_bytes());
            for t in [format!("{h}.{payload}."), format!("{h}.{payload}.c2ln")] {
                assert!(
                    matches!(verify(&t).unwrap_err(), TokenError::UnsupportedAlgorithm(_)),
                    "{header}"
                );
            }
        }
    }

    /// The classic key-confusion attack: an HS256 token "signed" with the RSA
    /// public key (as DER, or as the JWK JSON) used as the HMAC secret.
    #[test]
    fn hs256_with_public_key_as_secret_is_refused() {
        let kp = rsa(RSA1);
        let jwk = rsa_jwk(&kp, "r1");
        let keys = jwks(std::slice::from_ref(&jwk));
        let secrets = [kp.public().as_ref().to_vec(), jwk.to_string().into_bytes()];
        for secret in secrets {
            for header in [
                json!({"alg": "HS256", "kid": "r1"}),
                json!({"alg": "HS256"}),
            ] {
                let input = signing_input(&header, claims().to_string().as_bytes());
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
                let tag = ring::hmac::sign(&key, input.as_bytes());
                let t = format!("{input}.{}", b64(tag.as_ref()));
                assert_eq!(
                    verify_id_token(&t, &keys, &check()).unwrap_err(),
                    TokenError::UnsupportedAlgorithm("HS256".into())
                );
            }
        }
    }

    #[test]
    fn rsa_alg_on_ec_key_is_a_mismatch() {
        // Properly RS256-signed by an RSA key, but pointing at the EC key.
        let t = rs256(&rsa(RSA1), &json!({"alg": "RS256", "kid": "e1"}), &claims());
        assert_eq!(verify(&t).unwrap_err(), TokenError::AlgorithmMismatch);
        // And ES256 pointing at an RSA key.
        let t = es256(&ec(), &json!({"alg": "ES256", "kid": "r1"}), &claims());
        assert_eq!(verify(&t).unwrap_err(), TokenError::AlgorithmMismatch);
        // ES384 on a P-256 key.
        let t = es256(&ec(), &json!({"alg": "ES384", "kid": "e1"}), &claims());
        assert_eq!(verify(&t).unwrap_err(), TokenError::AlgorithmMismatch);
    }

    /// The signature step re-checks the key/algorithm pairing on its own, so
    /// a future change to the selection logic cannot open a confusion hole.
    #[test]
    fn key_verify_refuses_a_foreign_algorithm() {
        let keys = all_keys();
        let t = es256(&ec(), &json!({"alg": "ES256", "kid": "e1"}), &claims());
        let (input, sig) = t.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let ec_key = keys.select(Some("e1")).unwrap();
        assert_eq!(ec_key.verify(Alg::Es256, input.as_bytes(), &sig), Ok(()));
        for alg in [Alg::Es384, Alg::Rs256, Alg::Ps256] {
            assert_eq!(
                ec_key.verify(alg, input.as_bytes(), &sig),
                Err(TokenError::AlgorithmMismatch),
                "{alg:?}"
            );
        }
        let rsa_key = keys.select(Some("r1")).unwrap();
        for alg in [Alg::Es256, Alg::Es384] {
            assert_eq!(
                rsa_key.verify(alg, input.as_bytes(), &sig),
                Err(TokenError::AlgorithmMismatch),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn jwk_alg_pins_the_algorithm() {
        let kp = rsa(RSA1);
        let mut pinned = rsa_jwk(&kp, "r1");
        pinned["alg"] = json!("RS512");
        let keys = jwks(&[pinned.clone()]);
        let t = token(); // RS256, valid signature by the same key
        assert_eq!(
            verify_id_token(&t, &keys, &check()).unwrap_err(),
            TokenError::AlgorithmMismatch
        );
        let t512 = rsa_sign_with(
            &kp,
            &signature::RSA_PKCS1_SHA512,
            &json!({"alg": "RS512", "kid": "r1"}),
            claims().to_string().as_bytes(),
        );
        assert!(verify_id_token(&t512, &keys, &check()).is_ok());
        pinned["alg"] = json!("RS256");
        assert!(verify_id_token(&t, &jwks(&[pinned]), &check()).is_ok());
    }

    #[test]
    fn unknown_kid() {
        let t = rs256(
            &rsa(RSA1),
            &json!({"alg": "RS256", "kid": "rotated"}),
            &claims(),
        );
        let err = verify(&t).unwrap_err();
        assert_eq!(
            err,
            TokenError::UnknownKey {
                kid: Some("rotated".into())
            }
        );
        assert!(err.requires_key_refresh());
        assert!(err.to_string().contains("rotated"));
        // An empty set, with and without kid.
        let empty = JwkSet::from_json(br#"{"keys":[]}"#).unwrap();
        assert!(empty.is_empty());
        assert_eq!(
            verify_id_token(&t, &empty, &check()).unwrap_err(),
            TokenError::UnknownKey {
                kid: Some("rotated".into())
            }
        );
        let t = rs256(&rsa(RSA1), &json!({"alg": "RS256"}), &claims());
        assert_eq!(
            verify_id_token(&t, &empty, &check()).unwrap_err(),
            TokenError::UnknownKey { kid: None }
        );
        // An attacker's huge kid is bounded in the error.
        let long = "k".repeat(5000);
        let t = rs256(&rsa(RSA1), &json!({"alg": "RS256", "kid": long}), &claims());
        match verify(&t).unwrap_err() {
            TokenError::UnknownKey { kid: Some(kid) } => assert_eq!(kid.len(), MAX_ECHO_LEN),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_kid() {
        let kp = rsa(RSA1);
        let t = rs256(&kp, &json!({"alg": "RS256"}), &claims());
        assert_eq!(verify(&t).unwrap_err(), TokenError::AmbiguousKey);
        // Exactly one key: used.
        let single = jwks(&[rsa_jwk(&kp, "r1")]);
        assert!(verify_id_token(&t, &single, &check()).is_ok());
        // Two keys sharing the kid: ambiguous, never guessed.
        let shared = jwks(&[rsa_jwk(&kp, "r1"), rsa_jwk(&rsa(RSA2), "r1")]);
        assert_eq!(
            verify_id_token(&token(), &shared, &check()).unwrap_err(),
            TokenError::AmbiguousKey
        );
    }

    #[test]
    fn signature_must_verify() {
        let t = token();
        let (input, sig) = t.rsplit_once('.').unwrap();
        // Tampered payload, original signature.
        let (header, _) = input.split_once('.').unwrap();
        let evil = with(claims(), json!({ "sub": "admin" }));
        let forged = format!("{header}.{}.{sig}", b64(evil.to_string().as_bytes()));
        assert_eq!(verify(&forged).unwrap_err(), TokenError::BadSignature);
        // Tampered signature.
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
        bytes[10] ^= 1;
        let forged = format!("{input}.{}", b64(&bytes));
        assert_eq!(verify(&forged).unwrap_err(), TokenError::BadSignature);
        // Signed by rsa2 but naming rsa1's kid.
        let t = rs256(&rsa(RSA2), &json!({"alg": "RS256", "kid": "r1"}), &claims());
        assert_eq!(verify(&t).unwrap_err(), TokenError::BadSignature);
        // Truncated and empty signatures.
        assert_eq!(
            verify(&format!("{input}.{}", &sig[..40])).unwrap_err(),
            TokenError::BadSignature
        );
        assert_eq!(
            verify(&format!("{input}.")).unwrap_err(),
            TokenError::BadSignature
        );
        // Over-long signature.
        assert_eq!(
            verify(&format!("{input}.{}", "A".repeat(2000))).unwrap_err(),
            TokenError::BadSignature
        );
        // Padded base64 is not base64url-without-padding.
        assert!(matches!(
            verify(&format!("{t}==")).unwrap_err(),
            TokenError::Malformed(_)
        ));
    }

    /// Claims are not read before the signature verifies: an unsigned payload
    /// that is not even JSON reports a bad signature, not a parse error.
    #[test]
    fn signature_is_checked_before_claims() {
        let t = token();
        let (input, sig) = t.rsplit_once('.').unwrap();
        let (header, _) = input.split_once('.').unwrap();
        let forged = format!("{header}.{}.{sig}", b64(b"not json"));
        assert_eq!(verify(&forged).unwrap_err(), TokenError::BadSignature);
        let expired = format!(
            "{header}.{}.{sig}",
            b64(with(claims(), json!({"exp": 1})).to_string().as_bytes())
        );
        assert_eq!(verify(&expired).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn malformed_tokens() {
        let t = token();
        let parts: Vec<&str> = t.split('.').collect();
        for bad in [
            String::new(),
            "garbage".into(),
            ".".into(),
            "..".into(),
            "...".into(),
            "a.b".into(),
            format!("{}.{}", parts[0], parts[1]),
            format!(".{}.{}", parts[1], parts[2]),
            format!("{}..{}", parts[0], parts[2]),
            format!("{}!.{}.{}", parts[0], parts[1], parts[2]),
            format!("{}.{}", b64(b"[\"RS256\"]"), "e30.AAAA"),
            format!("{}.{}", b64(b"{\"alg\":7}"), "e30.AAAA"),
            format!("{}.{}", b64(b"{}"), "e30.AAAA"),
            format!("{}.{}", b64(b"\xff\xfe"), "e30.AAAA"),
            format!(" {t}"),
            "é.é.é".into(),
        ] {
            assert!(
                matches!(verify(&bad), Err(TokenError::Malformed(_))),
                "{bad:?} -> {:?}",
                verify(&bad)
            );
        }
    }

    #[test]
    fn encrypted_tokens_are_named() {
        // A JWE compact serialisation has five parts.
        let t = format!("{}.x.y", token());
        match verify(&t).unwrap_err() {
            TokenError::Malformed(detail) => assert!(detail.contains("JWE"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_token() {
        let big = format!("{}.{}", token(), "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(verify(&big).unwrap_err(), TokenError::TooLarge);
        assert_eq!(peek_header(&big).unwrap_err(), TokenError::TooLarge);
        // A large but allowed payload (e.g. many groups) is fine.
        let groups: Vec<String> = (0..300).map(|i| format!("group-{i}")).collect();
        let t = token_with(&with(claims(), json!({ "groups": groups })));
        assert!(t.len() < MAX_TOKEN_LEN);
        assert_eq!(verify(&t).unwrap().groups.len(), 300);
    }

    #[test]
    fn header_rules() {
        let kp = rsa(RSA1);
        let t = rs256(
            &kp,
            &json!({"alg": "RS256", "kid": "r1", "crit": ["exp"]}),
            &claims(),
        );
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        let t = rs256(
            &kp,
            &json!({"alg": "RS256", "kid": "r1", "crit": null}),
            &claims(),
        );
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        for typ in ["at+jwt", "logout+jwt", "JWS", ""] {
            let t = rs256(
                &kp,
                &json!({"alg": "RS256", "kid": "r1", "typ": typ}),
                &claims(),
            );
            assert_eq!(verify(&t).unwrap_err(), TokenError::WrongType, "{typ}");
        }
        for typ in ["JWT", "jwt", "application/JWT"] {
            let t = rs256(
                &kp,
                &json!({"alg": "RS256", "kid": "r1", "typ": typ}),
                &claims(),
            );
            assert!(verify(&t).is_ok(), "{typ}");
        }
        // Duplicate header members are refused rather than resolved.
        let input = format!(
            "{}.{}",
            b64(br#"{"alg":"RS256","kid":"r1","kid":"r2"}"#),
            b64(claims().to_string().as_bytes())
        );
        let t = format!("{input}.AAAA");
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        // An embedded key in the header is ignored: the set decides.
        let t = rs256(
            &rsa(RSA2),
            &json!({"alg": "RS256", "kid": "r1", "jwk": rsa_jwk(&rsa(RSA2), "r1")}),
            &claims(),
        );
        assert_eq!(verify(&t).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn peek_header_reads_without_verifying() {
        let h = peek_header(&token()).unwrap();
        assert_eq!(
            h,
            JwsHeader {
                alg: "RS256".into(),
                kid: Some("r1".into()),
                typ: Some("JWT".into())
            }
        );
        let h = peek_header(&format!("{}.e30.", b64(br#"{"alg":"none"}"#))).unwrap();
        assert_eq!(h.alg, "none");
        assert_eq!(h.kid, None);
        assert!(peek_header("x").is_err());
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let kp = rsa(RSA1);
        let good = rsa_jwk(&kp, "good");
        let mut enc = rsa_jwk(&kp, "enc");
        enc["use"] = json!("enc");
        let mut oaep = rsa_jwk(&kp, "oaep");
        oaep["alg"] = json!("RSA-OAEP");
        oaep.as_object_mut().unwrap().remove("use");
        let mut hs = rsa_jwk(&kp, "hs");
        hs["alg"] = json!("HS256");
        let mut ops = rsa_jwk(&kp, "ops");
        ops["key_ops"] = json!(["encrypt"]);
        let mut bad_n = rsa_jwk(&kp, "bad-n");
        bad_n["n"] = json!("not*base64");
        let mut weak = rsa_jwk(&kp, "weak");
        weak["n"] = json!(b64(&[0xc3; 128])); // 1024 bits
        let mut even_e = rsa_jwk(&kp, "even-e");
        even_e["e"] = json!(b64(&[2]));
        let mut ec_short = ec_jwk(&ec(), "ec-short");
        ec_short["x"] = json!(b64(&[1; 31]));
        let mut ec_rs = ec_jwk(&ec(), "ec-rs");
        ec_rs["alg"] = json!("RS256");
        let doc = json!({"keys": [
            {"kty": "oct", "kid": "oct", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "okp", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AQ", "y": "AQ"},
            {"kty": "RSA", "kid": "no-e", "n": good["n"]},
            {"kty": "RSA", "kid": 7, "n": good["n"], "e": "AQAB"},
            "not an object",
            {},
            enc, oaep, hs, ops, bad_n, weak, even_e, ec_short, ec_rs, good,
        ]});
        let set = JwkSet::from_json(doc.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 1, "{set:?}");
        assert!(set.contains_kid("good"));
        assert!(!set.contains_kid("enc"));
        // With only the good key left, a kid-less token is unambiguous.
        let t = rs256(&kp, &json!({"alg": "RS256"}), &claims());
        assert!(verify_id_token(&t, &set, &check()).is_ok());
    }

    #[test]
    fn jwks_document_errors() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{}",
            br#"{"keys": {}}"#,
            br#"{"keys": null}"#,
            b"\xff",
        ] {
            assert!(
                matches!(JwkSet::from_json(bad), Err(TokenError::Malformed(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rsa_modulus_with_leading_zero_is_accepted() {
        let kp = rsa(RSA1);
        let public: RsaPublicKeyComponents<Vec<u8>> = kp.public().into();
        let mut n = vec![0];
        n.extend_from_slice(&public.n);
        let jwk = json!({"kty": "RSA", "kid": "r1", "n": b64(&n), "e": b64(&[0, 1, 0, 1])});
        assert!(verify_id_token(&token(), &jwks(&[jwk]), &check()).is_ok());
    }

    #[test]
    fn email_verified_and_groups_forms() {
        for (value, expected) in [
            (json!(true), true),
            (json!(false), false),
            (json!("true"), true),
            (json!("false"), false),
            (json!("TRUE"), true),
            (json!(null), false),
        ] {
            let t = token_with(&with(claims(), json!({ "email_verified": value })));
            assert_eq!(verify(&t).unwrap().email_verified, expected, "{value}");
        }
        let t = token_with(&with(claims(), json!({ "email_verified": "yes" })));
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        let t = token_with(&with(claims(), json!({ "email_verified": 1 })));
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        let t = token_with(&with(claims(), json!({ "groups": "solo" })));
        assert_eq!(verify(&t).unwrap().groups, ["solo"]);
        let t = token_with(&with(claims(), json!({ "groups": null })));
        assert!(verify(&t).unwrap().groups.is_empty());
        let t = token_with(&with(claims(), json!({ "groups": ["a", 1] })));
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
    }

    #[test]
    fn duplicate_known_claims_are_refused() {
        let raw = claims().to_string().replacen('{', r#"{"sub":"admin","#, 1);
        let t = rsa_sign_with(
            &rsa(RSA1),
            &signature::RSA_PKCS1_SHA256,
            &json!({"alg": "RS256", "kid": "r1"}),
            raw.as_bytes(),
        );
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
        let t = rsa_sign_with(
            &rsa(RSA1),
            &signature::RSA_PKCS1_SHA256,
            &json!({"alg": "RS256", "kid": "r1"}),
            b"[\"https://idp.example.com\"]",
        );
        assert!(matches!(verify(&t).unwrap_err(), TokenError::Malformed(_)));
    }

    #[test]
    fn lazy_claims() {
        let extra = with(
            claims(),
            json!({ "_claim_names": {"groups": "src1"}, "wids": ["a", "b"] }),
        );
        let c = verify(&token_with(&extra)).unwrap();
        assert_eq!(c.claim("tid"), Some(json!("tenant-guid")));
        assert_eq!(c.claim("xms_edov"), Some(json!(true)));
        assert_eq!(c.claim("_claim_names"), Some(json!({"groups": "src1"})));
        assert_eq!(c.claim("wids"), Some(json!(["a", "b"])));
        assert_eq!(c.claim("sub"), Some(json!("user-42")));
        assert_eq!(c.claim("oid"), None);
        assert_eq!(
            serde_json::from_slice::<Value>(c.payload_json()).unwrap(),
            extra
        );
        // A repeated unknown claim is ambiguous, hence absent.
        let raw = claims().to_string().replacen('{', r#"{"tid":"other","#, 1);
        let t = rsa_sign_with(
            &rsa(RSA1),
            &signature::RSA_PKCS1_SHA256,
            &json!({"alg": "RS256", "kid": "r1"}),
            raw.as_bytes(),
        );
        let c = verify(&t).unwrap();
        assert_eq!(c.claim("tid"), None);
        assert_eq!(c.claim("name"), Some(json!("Ada Lovelace")));
    }

    #[test]
    fn errors_and_debug_never_echo_secrets() {
        let secret = "SECRET-VALUE";
        let poisoned = json!({
            "iss": "https://idp.example.com/SECRET-VALUE", "aud": "SECRET-VALUE", "nonce": "SECRET-VALUE",
            "sub": "SECRET-VALUE", "exp": NOW + 60, "iat": NOW,
        });
        let mut errors = vec![verify(&token_with(&poisoned)).unwrap_err()];
        for change in [json!({"iss": ISS}), json!({"iss": ISS, "aud": CLIENT})] {
            errors.push(verify(&token_with(&with(poisoned.clone(), change))).unwrap_err());
        }
        assert_eq!(
            errors,
            [
                TokenError::WrongIssuer,
                TokenError::WrongAudience,
                TokenError::NonceMismatch
            ]
        );
        let t = token();
        errors.push(verify(&format!("{t}SECRET-VALUE")).unwrap_err());
        for e in &errors {
            assert!(!e.to_string().contains(secret), "{e}");
            assert!(!format!("{e:?}").contains(secret), "{e:?}");
            assert!(!e.to_string().contains(&t[..40]), "{e}");
        }
        let check = IdTokenCheck {
            nonce: Some(secret),
            ..check()
        };
        assert!(!format!("{check:?}").contains(secret));
        assert!(!format!("{:?}", verify(&token()).unwrap()).contains(NONCE));
    }

    #[test]
    fn display_messages_are_distinct_and_actionable() {
        let all = [
            TokenError::Malformed("x"),
            TokenError::TooLarge,
            TokenError::UnsupportedAlgorithm("HS256".into()),
            TokenError::AlgorithmMismatch,
            TokenError::UnknownKey {
                kid: Some("k1".into()),
            },
            TokenError::UnknownKey { kid: None },
            TokenError::AmbiguousKey,
            TokenError::BadSignature,
            TokenError::WrongIssuer,
            TokenError::WrongAudience,
            TokenError::AzpMismatch,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::IssuedInFuture,
            TokenError::NonceMismatch,
            TokenError::MissingClaim("sub"),
            TokenError::AuthTooOld,
            TokenError::WrongType,
        ];
        let messages: std::collections::BTreeSet<String> =
            all.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), all.len());
        assert!(
            TokenError::UnknownKey {
                kid: Some("a\u{1b}[31m".into())
            }
            .to_string()
            .contains("\\u{1b}")
        );
    }

    /// Every single-character change of a valid token is rejected, and no
    /// input panics.
    #[test]
    fn mutations_never_verify_or_panic() {
        let keys = all_keys();
        let t = es256(&ec(), &json!({"alg": "ES256", "kid": "e1"}), &claims());
        let bytes = t.as_bytes();
        for i in (0..bytes.len()).step_by(3) {
            for replacement in [b'A', b'_', b'.', b'='] {
                if bytes[i] == replacement {
                    continue;
                }
                let mut m = bytes.to_vec();
                m[i] = replacement;
                let m = String::from_utf8(m).unwrap();
                assert!(
                    verify_id_token(&m, &keys, &check()).is_err(),
                    "mutation at {i}"
                );
                let _ = peek_header(&m);
            }
            let _ = verify_id_token(&t[..i], &keys, &check());
        }
    }
}
