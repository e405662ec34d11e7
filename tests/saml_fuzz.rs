//! The cargo-fuzz target bodies (`fuzz/targets.rs`) over a few thousand
//! deterministic mutations of the committed fixtures: no panic is reachable
//! from input. (cargo-fuzz itself needs nightly; this runs on stable in CI.)
#![cfg(feature = "saml")]

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::PathBuf;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</",
    "&",
    "&amp;",
    "&#x0;",
    "&#xD;",
    "&lt;",
    "&x;",
    "\"",
    "'",
    "=",
    " ",
    "\r\n",
    "<!--x-->",
    "<?pi d?>",
    "<![CDATA[a]]>",
    "]]>",
    "<!DOCTYPE r>",
    "xmlns=\"\"",
    " xmlns:a=\"urn:a\"",
    " xmlns:a=\"rel\"",
    " a:b=\"1\"",
    " ID=\"_dup\"",
    " ID=\"_asrt1f2e3d4c5b6a79880716253443526170\"",
    "ds:",
    "saml:",
    "samlp:",
    ":",
    "<ds:Signature>",
    "</ds:Signature>",
    "<saml:Assertion ID=\"_z\">",
    "</saml:Assertion>",
    "\u{80}",
    "\u{FFFF}",
    "\0",
    "é",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                v.splice(at..at, t.iter().copied());
            }
            2 if at < v.len() => {
                let end = (at + 1 + rng.below(64)).min(v.len());
                v.drain(at..end);
            }
            3 if at < v.len() => {
                let end = (at + 1 + rng.below(256)).min(v.len());
                let chunk = v[at..end].to_vec();
                let to = rng.below(v.len() + 1);
                v.splice(to..to, chunk);
            }
            4 if !v.is_empty() => {
                v.truncate(at);
            }
            _ => {
                let i = at.min(v.len().saturating_sub(1));
                if let Some(b) = v.get_mut(i) {
                    *b = b"<>&\"'=:/ \n"[rng.below(10)];
                }
            }
        }
    }
    v
}

fn seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml");
    let mut out = Vec::new();
    for sub in ["responses", "metadata"] {
        let mut names: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.len() < 20_000 {
                out.push(bytes);
            }
        }
    }
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("c14n/vectors.json")).unwrap())
            .unwrap();
    for v in vectors.as_array().unwrap() {
        out.push(v["input"].as_str().unwrap().as_bytes().to_vec());
    }
    out
}

fn run(name: &str, target: fn(&[u8]), iterations: usize, seed: u64) {
    let seeds = seeds();
    let mut rng = Rng(seed);
    for i in 0..iterations {
        let base = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base);
        let r = std::panic::catch_unwind(|| target(&input));
        if r.is_err() {
            let path = std::env::temp_dir().join(format!("ssokit-fuzz-{name}-{i}.bin"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "{name}: iteration {i} panicked; input saved to {}",
                path.display()
            );
        }
    }
}

#[test]
fn xml_parse_never_panics() {
    run("xml_parse", targets::xml_parse, 4000, 0x5EED_0001);
}

#[test]
fn c14n_never_panics_and_is_idempotent() {
    run("c14n", targets::c14n, 3000, 0x5EED_0002);
}

#[test]
fn metadata_never_panics() {
    run("metadata", targets::metadata, 2000, 0x5EED_0003);
}

#[test]
fn saml_response_never_panics() {
    run("saml_response", targets::saml_response, 2500, 0x5EED_0004);
}

#[test]
fn certificate_der_walk_never_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/saml/keys");
    let mut seeds = Vec::new();
    for name in ["idp-rsa", "idp-ec", "idp-ec384", "weak-rsa1024"] {
        let pem = std::fs::read_to_string(dir.join(format!("{name}.crt.pem"))).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        seeds
            .push(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap());
    }
    let mut rng = Rng(0x5EED_0005);
    for _ in 0..20_000 {
        let base = &seeds[rng.below(seeds.len())];
        let mut v = base.clone();
        for _ in 0..=rng.below(4) {
            let i = rng.below(v.len());
            match rng.below(3) {
                0 => v[i] = rng.next() as u8,
                1 => v.truncate(i),
                _ => v[i] ^= 0x80,
            }
            if v.is_empty() {
                break;
            }
        }
        targets::certificate(&v);
    }
}

#[test]
fn seeds_themselves_never_panic() {
    for s in seeds() {
        targets::xml_parse(&s);
        targets::c14n(&s);
        targets::metadata(&s);
        targets::saml_response(&s);
    }
}
