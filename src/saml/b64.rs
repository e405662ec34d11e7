//! Strict standard base64 (RFC 4648 §4, canonical padding, zero trailing
//! bits) for the `SAMLResponse` form value and the signature's values.
//!
//! The `base64` crate decodes the same language; this decoder exists because
//! the form value is the largest input of a login and the crate's general
//! engine spends about as long on it as parsing the XML does. Four lookup
//! tables hold each character's 6 bits already shifted into place, so a
//! quad is four loads and three ORs (two quads are stored as one word);
//! invalid characters set a high bit that
//! is checked once at the end (the decoder does the same work for valid and
//! invalid input, and never panics).

const INVALID: u32 = 0x8000_0000;

const fn tables() -> [[u32; 256]; 4] {
    let mut t = [[INVALID; 256]; 4];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        let c = alphabet[i] as usize;
        let v = i as u32;
        t[0][c] = v << 18;
        t[1][c] = v << 12;
        t[2][c] = v << 6;
        t[3][c] = v;
        i += 1;
    }
    t
}

static TABLES: [[u32; 256]; 4] = tables();

#[inline]
fn quad(q: &[u8]) -> u32 {
    TABLES[0][q[0] as usize]
        | TABLES[1][q[1] as usize]
        | TABLES[2][q[2] as usize]
        | TABLES[3][q[3] as usize]
}

/// Decodes `input`, or `None` if it is not canonical padded standard base64.
/// The vector has room for `spare` more bytes.
pub(crate) fn decode(input: &[u8], spare: usize) -> Option<Vec<u8>> {
    let len = input.len() / 4 * 3;
    let mut out = Vec::with_capacity(len + spare);
    out.resize(len, 0);
    let len = decode_into(input, &mut out)?;
    out.truncate(len);
    Some(out)
}

/// [`decode`] into `out`, returning the decoded length; `None` also when
/// `out` is shorter than `input.len() / 4 * 3`.
pub(crate) fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let Some((body, last)) = input.split_last_chunk::<4>() else {
        return Some(0);
    };
    let out = out.get_mut(..input.len() / 4 * 3)?;
    let mut bad = 0u32;
    // Two quads at a time, stored as one 8-byte word of which 6 bytes are
    // output: the 2 bytes over are overwritten next, and the last quad's 3
    // bytes of `out` are always there to take them.
    let pairs = body.chunks_exact(8);
    let single = pairs.remainder();
    let mut o = 0;
    for q in pairs {
        let (w1, w2) = (quad(&q[..4]), quad(&q[4..]));
        bad |= w1 | w2;
        let v = (u64::from(w1) << 40) | (u64::from(w2 & 0xFF_FFFF) << 16);
        out[o..o + 8].copy_from_slice(&v.to_be_bytes());
        o += 6;
    }
    if !single.is_empty() {
        let w = quad(single);
        bad |= w;
        out[o..o + 3].copy_from_slice(&w.to_be_bytes()[1..]);
        o += 3;
    }
    let last_out = &mut out[o..];
    // The last quad may end in one or two `=`, and the bits they leave
    // over must be zero (only one encoding per byte string).
    let (len, w) = match last {
        &[a, b, b'=', b'='] => {
            let w = quad(&[a, b, b'A', b'A']);
            (1, w | if w & 0x00_F000 != 0 { INVALID } else { 0 })
        }
        &[a, b, c, b'='] => {
            let w = quad(&[a, b, c, b'A']);
            (2, w | if w & 0x00_00C0 != 0 { INVALID } else { 0 })
        }
        q => (3, quad(q)),
    };
    bad |= w;
    last_out.copy_from_slice(&w.to_be_bytes()[1..]);
    if bad & INVALID != 0 {
        return None;
    }
    Some(out.len() - 3 + len)
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
        for len in 0..64 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
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
        // The output bounds the input: a buffer too short is a refusal.
        assert_eq!(decode_into(b"QUJD", &mut [0u8; 2]), None);
        assert_eq!(decode_into(b"QUJD", &mut [0u8; 3]), Some(3));
        assert_eq!(decode_into(b"QUI=", &mut [0u8; 3]), Some(2));
    }
}
