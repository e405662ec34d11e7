//! Nothing to link: this package exists to run `../saml_response.rs` with the
//! `samael` peer (`cargo bench --manifest-path benches/samael/Cargo.toml`).
//! samael pins `libxml = "=0.3.3"`, which cannot share ssokit's lockfile with
//! the `xmlsec` crate's libxml 0.3.23, so it gets a package and a lockfile of
//! its own. The bench file is the same one, so both runs measure the same
//! inputs with the same `ssokit` and `floor` functions.
