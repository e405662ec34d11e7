//! Strict standard base64 (RFC 4648 §4, canonical padding, zero trailing
//! bits) for the `SAMLResponse` form value and the signature's values.
//!
//! The `base64` crate decodes the same language (the tests check that the
//! two agree); `base64-simd` is used because the form value is the largest
//! input of a login and its vector decoder takes half the time of a scalar
//! table decoder, with no copy: the decoded bytes are appended to a buffer
//! that already has room for what the XML parser appends later.

/// Decodes `input`, or `None` if it is not canonical padded standard base64.
/// The vector has room for `spare` more bytes.
pub(crate) fn decode(input: &[u8], spare: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + spare);
    base64_simd::STANDARD.decode_append(input, &mut out).ok()?;
    Some(out)
}

/// [`decode`] into `out`, returning the decoded length; `None` also when
/// `out` is shorter than `input.len() / 4 * 3`.
pub(crate) fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    // The decoded length is at most this, so the decoder's own length
    // assertion cannot fail.
    let out = out.get_mut(..input.len() / 4 * 3)?;
    base64_simd::STANDARD
        .decode(input, base64_simd::Out::from_slice(out))
        .ok()
        .map(|decoded| decoded.len())
}

/// Standard padded base64, for tests of the decoders' callers.
#[cfg(test)]
pub(crate) fn tests_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::{decode, decode_into};

    #[test]
    fn agrees_with_the_base64_crate() {
        let engine = base64::engine::general_purpose::STANDARD;
        // Every length up to 64 with varied bytes, and every 4-character
        // string over a small alphabet that includes `=` and invalid bytes.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut random = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect()
        };
        for len in 0..64 {
            let data = random(len);
            let enc = engine.encode(&data);
            assert_eq!(decode(enc.as_bytes(), 0), Some(data), "{enc}");
        }
        let alphabet = b"AQgw/+=*9 ";
        for i in 0..alphabet.len().pow(4) {
            let q: Vec<u8> = (0..4)
                .map(|k| alphabet[i / alphabet.len().pow(k) % alphabet.len()])
                .collect();
            for input in [q.clone(), [b"AAAA".as_slice(), &q].concat()] {
                assert_eq!(decode(&input, 0), engine.decode(&input).ok(), "{input:?}");
            }
        }
        for bad in [
            "A", "AA", "AAA", "AAAAA", "====", "AA=A", "A===", "QQ==", "QUI=",
        ] {
            assert_eq!(decode(bad.as_bytes(), 0), engine.decode(bad).ok(), "{bad}");
        }
        assert_eq!(decode(b"", 0), Some(Vec::new()));
        // Long inputs go through the vector decoder: one byte changed at
        // every position, for lengths around its block sizes up to 300
        // characters (an invalid byte, `=`,
        // white space, a non-ASCII byte, or a character whose low bits
        // break a canonical ending) is refused exactly when the `base64`
        // crate refuses it, and decodes to the same bytes otherwise.
        for len in [
            0usize, 1, 2, 3, 23, 24, 25, 47, 48, 49, 95, 96, 97, 190, 191, 225,
        ] {
            let data = random(len);
            let enc = engine.encode(&data).into_bytes();
            assert_eq!(decode(&enc, 7), Some(data.clone()));
            for at in 0..enc.len() {
                for b in [b'*', b'=', b' ', b'\n', 0xC3, 0, b'-', b'_', b'B', b'/'] {
                    let mut bad = enc.clone();
                    bad[at] = b;
                    let want = engine.decode(&bad).ok();
                    assert_eq!(decode(&bad, 0), want, "{len} {at} {b}");
                    let mut out = vec![0u8; bad.len() / 4 * 3];
                    let got = decode_into(&bad, &mut out).map(|n| out[..n].to_vec());
                    assert_eq!(got, want, "{len} {at} {b}");
                }
            }
        }
        // The spare room is there for the parser, and kept.
        let v = decode(b"QUJD", 100).unwrap();
        assert!(v.capacity() >= 103);
        // The output bounds the input: a buffer too short is a refusal.
        assert_eq!(decode_into(b"QUJD", &mut [0u8; 2]), None);
        assert_eq!(decode_into(b"QUJD", &mut [0u8; 3]), Some(3));
        assert_eq!(decode_into(b"QUI=", &mut [0u8; 3]), Some(2));
    }
}
