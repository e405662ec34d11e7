//! The demo's configuration file (TOML) and its embedded defaults.

use std::net::SocketAddr;

use serde::Deserialize;
use ssokit::connection::ConnectionSpec;
use ssokit::{Connection, Tenant};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DemoConfig {
    /// The URL users reach the app at; default `http://` + the bind address.
    #[serde(default)]
    pub(crate) public_url: Option<String>,
    /// Where pending logins and link tickets live: `memory` (default, one
    /// instance) or `redis://host:port` (shared by a fleet).
    #[serde(default)]
    pub(crate) store: Option<String>,
    /// The SQLite file with users and sessions (shared by a fleet); default:
    /// a private in-memory database.
    #[serde(default)]
    pub(crate) database: Option<String>,
    /// The development IdP signs in as the request's `login_hint` without
    /// showing its page (load tests and browser-less drivers).
    #[serde(default)]
    pub(crate) dev_idp_auto_login: bool,
    /// Per-tenant subdomains: a request to `acme.{base_domain}` signs in
    /// through tenant `acme`'s connection without asking for an e-mail.
    #[serde(default)]
    pub(crate) base_domain: Option<String>,
    #[serde(default)]
    pub(crate) tenants: Vec<Tenant>,
    #[serde(default)]
    pub(crate) connections: Vec<ConnectionSpec>,
    #[serde(default)]
    pub(crate) users: Vec<UserConfig>,
    /// SCIM provisioning at `/scim/v2`.
    #[serde(default)]
    pub(crate) scim: Option<ScimDemoConfig>,
}

/// `[scim]`: the tenant and connection whose IdP provisions users, and the
/// demo's stand-in for an issued token (at least 32 characters).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScimDemoConfig {
    pub(crate) tenant: String,
    pub(crate) connection: String,
    pub(crate) token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    pub(crate) tenant: String,
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default = "yes")]
    pub(crate) active: bool,
    #[serde(default)]
    pub(crate) role: Option<String>,
}

fn yes() -> bool {
    true
}

impl DemoConfig {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The defaults: tenant `acme` on the built-in development provider.
    pub(crate) fn embedded(addr: SocketAddr) -> Self {
        let text = format!(
            r#"
                        [[tenants]]
            id = "acme"
            domains = ["acme.test"]
            subdomain = "acme"

            [[tenants]]
            id = "globex"
            domains = ["globex.test"]
            subdomain = "globex"

            [[connections]]
            id = "globex-saml"
            tenant = "globex"
            kind = "saml"
            display_name = "Globex (development SAML IdP)"
                        idp_metadata_url = "http://{addr}/dev/saml/metadata"
            trust_email = true
            jit = true
            template = {{ role = "member" }}

            [[connections]]
            id = "acme-dev"
            tenant = "acme"
            kind = "oidc"
            display_name = "Acme (development IdP)"
            issuer = "http://{addr}/dev/idp"
            client_id = "demo"
            client_secret = "demo-secret"
            jit = true
            template = {{ role = "member" }}
            allowed_groups = []

                        [scim]
            tenant = "acme"
            connection = "acme-dev"
            token = "demo-scim-token-0123456789abcdefghijkl"

            [[users]]
            tenant = "acme"
            email = "ann@acme.test"
            name = "Ann Admin"
            role = "admin"

            [[users]]
            tenant = "acme"
            email = "bob@acme.test"
            name = "Bob Smith"

            [[users]]
            tenant = "acme"
            email = "Bob@Acme.test"
            name = "Bob Jones"

                        [[users]]
            tenant = "globex"
            email = "gina@globex.test"
            name = "Gina (Globex)"
            role = "admin"

            [[users]]
            tenant = "acme"
            email = "carol@acme.test"
            name = "Carol (disabled)"
            active = false
            "#
        );
        Self::parse(&text).expect("the embedded configuration is valid")
    }

    pub(crate) fn validated(&self) -> Result<(Vec<Tenant>, Vec<Connection>), String> {
        let connections = self
            .connections
            .iter()
            .cloned()
            .map(|spec| Connection::from_spec(spec).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((self.tenants.clone(), connections))
    }
}
