//! Trusted IdP signing keys, taken from X.509 certificates in metadata (or
//! configured directly). Only the certificate's SubjectPublicKeyInfo is
//! used: found by a minimal DER walk, no X.509 library. Certificates are a
//! key container here, not a chain: their validity dates, issuer and
//! extensions are not checked, because the trust anchor is the metadata
//! the tenant configured (this is how Shibboleth, ADFS and Entra treat
//! metadata certificates; IdPs routinely ship long-expired self-signed ones).
//! Keys are compared by their full SPKI bytes, never by subject name.

use std::fmt;

use base64::Engine as _;

use super::SamlError;

/// The kind of a trusted key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// RSA, with its modulus size in bits (at least 2048).
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
}

/// A public key trusted to sign a connection's SAML messages.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TrustedKey {
    kind: KeyKind,
    /// What ring expects: PKCS#1 `RSAPublicKey` DER, or the uncompressed EC point.
    public_key: Vec<u8>,
    /// The DER certificate it came from.
    certificate: Vec<u8>,
}

impl fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKey")
            .field("kind", &self.kind)
            .field("certificate_sha256", &self.certificate_sha256())
            .finish()
    }
}

const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];

/// Reads one DER TLV: (tag, contents, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | b as usize;
        }
        if len < 0x80 {
            return None; // not minimal DER
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, c, rest) = tlv(input)?;
    (t == tag).then_some((c, rest))
}

fn spki_of_certificate(der: &[u8]) -> Option<&[u8]> {
    let (cert, rest) = expect(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (tbs, _) = expect(cert, 0x30)?;
    let mut cur = tbs;
    if cur.first() == Some(&0xA0) {
        cur = tlv(cur)?.2;
    }
    let (_serial, cur) = expect(cur, 0x02)?;
    let (_sigalg, cur) = expect(cur, 0x30)?;
    let (_issuer, cur) = expect(cur, 0x30)?;
    let (_validity, cur) = expect(cur, 0x30)?;
    let (_subject, cur) = expect(cur, 0x30)?;
    let (tag, spki, _) = tlv(cur)?;
    (tag == 0x30).then_some(spki)
}

fn key_of_spki(spki: &[u8]) -> Option<(KeyKind, Vec<u8>)> {
    let (alg, rest) = expect(spki, 0x30)?;
    let (bits, rest) = expect(rest, 0x03)?;
    if !rest.is_empty() {
        return None;
    }
    let (unused, key) = bits.split_first()?;
    if *unused != 0 {
        return None;
    }
    let (oid, params) = expect(alg, 0x06)?;
    if oid == RSA_ENCRYPTION {
        let (seq, rest) = expect(key, 0x30)?;
        if !rest.is_empty() {
            return None;
        }
        let (n, _) = expect(seq, 0x02)?;
        let n = match n {
            [0, tail @ ..] => tail,
            n => n,
        };
        let first = *n.first()?;
        if first == 0 {
            return None; // not minimal DER
        }
        let bits = n.len() * 8 - first.leading_zeros() as usize;
        Some((KeyKind::Rsa { bits }, key.to_vec()))
    } else if oid == EC_PUBLIC_KEY {
        let (curve, _) = expect(params, 0x06)?;
        let kind = if curve == P256 {
            KeyKind::EcP256
        } else if curve == P384 {
            KeyKind::EcP384
        } else {
            return None;
        };
        let want = if kind == KeyKind::EcP256 { 65 } else { 97 };
        (key.len() == want && key[0] == 4).then(|| (kind, key.to_vec()))
    } else {
        None
    }
}

impl TrustedKey {
    /// A key from a DER X.509 certificate. RSA keys must have at least 2048
    /// bits; EC keys must be on P-256 or P-384.
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, SamlError> {
        let bad = || {
            SamlError::Key(
                "the certificate is not a DER X.509 certificate with an RSA, P-256 or P-384 key",
            )
        };
        let spki = spki_of_certificate(der).ok_or_else(bad)?;
        let (kind, public_key) = key_of_spki(spki).ok_or_else(bad)?;
        if let KeyKind::Rsa { bits } = kind
            && !(2048..=8192).contains(&bits)
        {
            return Err(SamlError::Key(
                "the certificate's RSA key must have 2048 to 8192 bits",
            ));
        }
        Ok(Self {
            kind,
            public_key,
            certificate: der.to_vec(),
        })
    }

    /// A key from the base64 text of a certificate (as in metadata's
    /// `X509Certificate`; whitespace is ignored).
    pub fn from_certificate_base64(text: &str) -> Result<Self, SamlError> {
        let clean: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .map_err(|_| SamlError::Key("the certificate is not valid base64"))?;
        Self::from_certificate_der(&der)
    }

    /// A key from a PEM certificate (`-----BEGIN CERTIFICATE-----`).
    pub fn from_certificate_pem(pem: &str) -> Result<Self, SamlError> {
        let body = pem
            .split("-----BEGIN CERTIFICATE-----")
            .nth(1)
            .and_then(|s| s.split("-----END CERTIFICATE-----").next())
            .ok_or(SamlError::Key("no PEM certificate found"))?;
        Self::from_certificate_base64(body)
    }

    /// The kind of key.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The DER certificate.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate
    }

    /// SHA-256 of the DER certificate, lower-case hex (for logs and admin pages).
    pub fn certificate_sha256(&self) -> String {
        crate::secret::sha256_hex(&self.certificate)
    }

    pub(crate) fn public_key(&self) -> &[u8] {
        &self.public_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_rsa_keys_are_refused() {
        // SPKI: rsaEncryption, BIT STRING { SEQUENCE { INTEGER 0, INTEGER 3 } }.
        let spki = [
            0x30, 0x1a, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
            0x01, 0x05, 0x00, 0x03, 0x09, 0x00, 0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x03,
        ];
        assert!(key_of_spki(&spki).is_none());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(TrustedKey::from_certificate_der(&[]).is_err());
        assert!(TrustedKey::from_certificate_der(&[0x30, 0x81, 0x05, 1, 2, 3, 4, 5]).is_err());
        assert!(TrustedKey::from_certificate_base64("not base64!").is_err());
        assert!(TrustedKey::from_certificate_pem("nothing").is_err());
    }
}
