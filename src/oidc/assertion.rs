//! Client authentication with a certificate (`private_key_jwt`, RFC 7523):
//! the token request carries a short JWT signed with the application's key
//! instead of a client secret — what Entra ID calls a certificate
//! credential. The host supplies the key; it never leaves the process.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use crate::error::{Error, ErrorKind};

/// The key and certificate thumbprint of a certificate credential.
#[derive(Clone)]
pub struct ClientAssertionKey {
    key: Arc<RsaKeyPair>,
    x5t_s256: String,
}

impl ClientAssertionKey {
    /// An RSA private key (PKCS#8 DER, or PEM `PRIVATE KEY`) and the
    /// base64url SHA-256 thumbprint of its certificate (sent as `x5t#S256`,
    /// which is how the IdP finds the registered certificate).
    pub fn new(private_key: &[u8], x5t_s256: &str) -> Result<Self, Error> {
        let bad = |m: &str| Error::new(ErrorKind::Config(format!("client certificate key: {m}")));
        let der = if private_key.starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(private_key).map_err(|_| bad("the PEM is not text"))?;
            let body: String = text
                .lines()
                .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY"))
                .skip(1)
                .take_while(|l| !l.starts_with("-----END"))
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| bad("expected a PEM `PRIVATE KEY` (PKCS#8)"))?
        } else {
            private_key.to_vec()
        };
        let key = RsaKeyPair::from_pkcs8(&der)
            .or_else(|_| RsaKeyPair::from_der(&der))
            .map_err(|_| bad("expected an RSA key (PKCS#8 or PKCS#1 DER)"))?;
        let thumb = URL_SAFE_NO_PAD
            .decode(x5t_s256.trim())
            .map_err(|_| bad("the thumbprint is not base64url"))?;
        if thumb.len() != 32 {
            return Err(bad(
                "the thumbprint must be a SHA-256 (32 bytes, base64url)",
            ));
        }
        Ok(Self {
            key: Arc::new(key),
            x5t_s256: x5t_s256.trim().to_owned(),
        })
    }

    /// A signed client assertion for `client_id` at `token_endpoint`,
    /// valid for 5 minutes from `now` (unix seconds).
    pub fn assertion(
        &self,
        client_id: &str,
        token_endpoint: &str,
        now: u64,
    ) -> Result<String, Error> {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": self.x5t_s256});
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": token_endpoint,
            "jti": crate::secret::random_token(16),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| {
                Error::new(ErrorKind::Config(
                    "signing the client assertion failed".into(),
                ))
            })?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// The public key (PKCS#1 `RSAPublicKey` DER), e.g. to register it.
    pub fn public_key_der(&self) -> &[u8] {
        self.key.public().as_ref()
    }
}

impl fmt::Debug for ClientAssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertionKey")
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ClientAssertionKey {
    fn eq(&self, other: &Self) -> bool {
        self.x5t_s256 == other.x5t_s256 && self.public_key_der() == other.public_key_der()
    }
}

impl Eq for ClientAssertionKey {}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

    const KEY: &[u8] = include_bytes!("../testkit/keys/rsa3.pk8.der");

    #[test]
    fn assertion_is_signed_and_bound_to_the_token_endpoint() {
        let thumb = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let k = ClientAssertionKey::new(KEY, &thumb).unwrap();
        let jwt = k
            .assertion(
                "app",
                "https://login.example/tid/oauth2/v2.0/token",
                1_700_000_000,
            )
            .unwrap();
        let parts: Vec<_> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], thumb);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "app");
        assert_eq!(claims["sub"], "app");
        assert_eq!(claims["aud"], "https://login.example/tid/oauth2/v2.0/token");
        assert_eq!(claims["exp"], 1_700_000_300u64);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, k.public_key_der())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("valid signature");
        assert!(!format!("{k:?}").contains("BEGIN"));
    }

    #[test]
    fn bad_keys_and_thumbprints_are_refused() {
        assert!(ClientAssertionKey::new(b"not a key", &URL_SAFE_NO_PAD.encode([0u8; 32])).is_err());
        assert!(ClientAssertionKey::new(KEY, "short").is_err());
        assert!(ClientAssertionKey::new(KEY, "!!!").is_err());
    }
}
