//! Placeholder until the SAML bench lands.
fn main() {}
