//! Tenants and their identity-provider connections, and the store the host
//! keeps them in.
//!
//! Configuration arrives from the host at run time (per tenant), so it is
//! validated into plain, storable types: a [`Connection`] that exists is a
//! connection that can be used safely.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, ErrorKind, HookError};
use crate::secret::SecretString;
use crate::types::{ConnectionId, TenantId};

/// A customer organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// E-mail domains the tenant has proven it owns. Home-realm discovery
    /// routes these to the tenant's connections, and a signed-in profile's
    /// e-mail must be in one of them.
    #[serde(default)]
    pub domains: Vec<String>,
    /// The tenant's subdomain label (`acme` for `acme.app.example`); defaults
    /// to none.
    #[serde(default)]
    pub subdomain: Option<String>,
}

impl Tenant {
    /// Whether `domain` is one of the tenant's verified domains.
    pub fn owns_domain(&self, domain: &str) -> bool {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(&domain))
    }
}

/// What every user created just in time (or by SCIM) gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserTemplate {
    /// The role in the host application.
    #[serde(default)]
    pub role: Option<String>,
    /// Host groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Other attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

/// OpenID Connect settings of a connection.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct OidcSettings {
    /// The issuer exactly as configured: compared byte for byte with the
    /// discovery document and every ID token's `iss`.
    pub issuer: String,
    /// The client id registered at the IdP.
    pub client_id: String,
    /// The client secret (`client_secret_basic`); `None` for public clients.
    pub client_secret: Option<SecretString>,
    /// Scopes requested besides `openid`.
    pub scopes: Vec<String>,
    /// Fetch the userinfo endpoint after the token exchange and fill in
    /// claims the ID token lacks.
    pub userinfo: bool,
    /// Allowed clock skew for `exp`/`iat`/`nbf`, at most 300 s.
    pub leeway_secs: u64,
    /// The claim that carries group names.
    pub groups_claim: String,
}

/// Which protocol a connection speaks, with its settings.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Protocol {
    /// OpenID Connect.
    Oidc(OidcSettings),
}

impl Protocol {
    /// The protocol family (which adapter serves it).
    pub fn family(&self) -> ProtocolFamily {
        match self {
            Self::Oidc(_) => ProtocolFamily::Oidc,
        }
    }
}

/// A protocol family: one adapter each.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ProtocolFamily {
    /// OpenID Connect (generic, and later Okta and Entra ID as flavours).
    Oidc,
}

/// One validated identity-provider connection of a tenant.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(try_from = "ConnectionSpec")]
#[non_exhaustive]
pub struct Connection {
    /// The connection's id.
    pub id: ConnectionId,
    /// The tenant it belongs to.
    pub tenant: TenantId,
    /// A name to show in a connection chooser.
    pub display_name: String,
    /// Disabled connections neither route nor complete logins.
    pub enabled: bool,
    /// Protocol settings.
    pub protocol: Protocol,
    /// Create unknown users just in time from [`Connection::template`].
    pub jit: bool,
    /// What just-in-time users get.
    pub template: UserTemplate,
    /// If not empty, only identities in one of these IdP groups are admitted.
    pub allowed_groups: Vec<String>,
    /// IdP group → host role, applied when a user is created; the first
    /// entry (in key order) whose group the identity has wins over the
    /// template's role.
    pub role_map: BTreeMap<String, String>,
    /// When an existing account has the identity's e-mail, also offer to
    /// create a separate new account (needs `jit`). Off by default.
    pub offer_new_account: bool,
}

/// The serialized form of a [`Connection`], flat as in a TOML file. Unknown
/// keys are refused, so a misspelled security setting cannot be ignored.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSpec {
    /// See [`Connection::id`].
    pub id: ConnectionId,
    /// See [`Connection::tenant`].
    pub tenant: TenantId,
    /// Protocol: `oidc`.
    pub kind: String,
    /// See [`Connection::display_name`].
    #[serde(default)]
    pub display_name: Option<String>,
    /// See [`Connection::enabled`]; default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// OIDC issuer URL.
    #[serde(default)]
    pub issuer: Option<String>,
    /// OIDC client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// OIDC client secret.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Extra scopes; default `email profile`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Use the userinfo endpoint.
    #[serde(default)]
    pub userinfo: bool,
    /// Clock skew in seconds; default 60, at most 300.
    #[serde(default)]
    pub leeway_secs: Option<u64>,
    /// Groups claim name; default `groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// See [`Connection::jit`].
    #[serde(default)]
    pub jit: bool,
    /// See [`Connection::template`].
    #[serde(default)]
    pub template: UserTemplate,
    /// See [`Connection::allowed_groups`].
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// See [`Connection::role_map`].
    #[serde(default)]
    pub role_map: BTreeMap<String, String>,
    /// See [`Connection::offer_new_account`].
    #[serde(default)]
    pub offer_new_account: bool,
}

fn config_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config(msg.into()))
}

/// Parses an IdP URL: `https`, or `http` only on a loopback host (local
/// development and tests); no credentials, query or fragment.
pub(crate) fn parse_idp_url(what: &str, raw: &str) -> Result<Url, Error> {
    let url = Url::parse(raw).map_err(|_| config_error(format!("{what} is not a valid URL")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => {
            return Err(config_error(format!(
                "{what} must use https (plain http is accepted only for loopback addresses)"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config_error(format!("{what} must not contain credentials")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config_error(format!(
            "{what} must not have a query or fragment"
        )));
    }
    Ok(url)
}

impl TryFrom<ConnectionSpec> for Connection {
    type Error = Error;

    fn try_from(s: ConnectionSpec) -> Result<Self, Error> {
        if s.id.as_str().is_empty() || s.tenant.as_str().is_empty() {
            return Err(config_error("a connection needs an id and a tenant"));
        }
        let protocol = match s.kind.as_str() {
            "oidc" => {
                let issuer_raw = s.issuer.ok_or_else(|| {
                    config_error(format!("connection {}: `issuer` is required", s.id))
                })?;
                parse_idp_url(&format!("connection {}: issuer", s.id), &issuer_raw)?;
                let issuer = issuer_raw;
                let client_id = s.client_id.filter(|c| !c.is_empty()).ok_or_else(|| {
                    config_error(format!("connection {}: `client_id` is required", s.id))
                })?;
                let leeway_secs = s.leeway_secs.unwrap_or(60);
                if leeway_secs > 300 {
                    return Err(config_error(format!(
                        "connection {}: leeway_secs must be at most 300",
                        s.id
                    )));
                }
                Protocol::Oidc(OidcSettings {
                    issuer,
                    client_id,
                    client_secret: s.client_secret,
                    scopes: s
                        .scopes
                        .unwrap_or_else(|| vec!["email".to_owned(), "profile".to_owned()]),
                    userinfo: s.userinfo,
                    leeway_secs,
                    groups_claim: s.groups_claim.unwrap_or_else(|| "groups".to_owned()),
                })
            }
            other => {
                return Err(config_error(format!(
                    "connection {}: unknown kind `{other}` (expected `oidc`)",
                    s.id
                )));
            }
        };
        if s.offer_new_account && !s.jit {
            return Err(config_error(format!(
                "connection {}: offer_new_account needs jit = true",
                s.id
            )));
        }
        Ok(Connection {
            display_name: s.display_name.unwrap_or_else(|| s.id.to_string()),
            id: s.id,
            tenant: s.tenant,
            enabled: s.enabled.unwrap_or(true),
            protocol,
            jit: s.jit,
            template: s.template,
            allowed_groups: s.allowed_groups,
            role_map: s.role_map,
            offer_new_account: s.offer_new_account,
        })
    }
}

impl Connection {
    /// Validates a connection from its flat specification.
    pub fn from_spec(spec: ConnectionSpec) -> Result<Self, Error> {
        Self::try_from(spec)
    }
}

/// Where the host keeps tenants and connections (its database, a config
/// file). Lookups are by id, by verified e-mail domain and by subdomain.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// A connection by id.
    async fn connection(&self, id: &ConnectionId) -> Result<Option<Arc<Connection>>, HookError>;
    /// A tenant by id.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Arc<Tenant>>, HookError>;
    /// The tenant that verified `domain` (lower-case, no trailing dot).
    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, HookError>;
    /// The tenant whose subdomain label is `label` (lower-case).
    async fn tenant_by_subdomain(&self, label: &str) -> Result<Option<Arc<Tenant>>, HookError>;
    /// Every connection of a tenant, enabled or not.
    async fn connections_of(&self, tenant: &TenantId) -> Result<Vec<Arc<Connection>>, HookError>;
}

/// A fixed set of tenants and connections, e.g. loaded from a configuration
/// file with serde. Validated on construction.
#[derive(Debug, Clone, Default)]
pub struct StaticConnections {
    tenants: HashMap<TenantId, Arc<Tenant>>,
    connections: HashMap<ConnectionId, Arc<Connection>>,
    by_domain: HashMap<String, TenantId>,
    by_subdomain: HashMap<String, TenantId>,
}

impl StaticConnections {
    /// Validates and indexes tenants and connections: ids are unique, every
    /// connection's tenant exists, a domain is verified by one tenant at most
    /// and is not a consumer mail domain, subdomains are unique.
    pub fn new(tenants: Vec<Tenant>, connections: Vec<Connection>) -> Result<Self, Error> {
        let mut out = Self::default();
        for mut t in tenants {
            t.domains = t
                .domains
                .iter()
                .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            for d in &t.domains {
                if d.is_empty() || !d.contains('.') {
                    return Err(config_error(format!(
                        "tenant {}: `{d}` is not a domain",
                        t.id
                    )));
                }
                if crate::discovery::is_consumer_domain(d) {
                    return Err(config_error(format!(
                        "tenant {}: `{d}` is a consumer mail domain and cannot be verified",
                        t.id
                    )));
                }
                if let Some(other) = out.by_domain.insert(d.clone(), t.id.clone()) {
                    return Err(config_error(format!(
                        "domain `{d}` is claimed by tenants {other} and {}",
                        t.id
                    )));
                }
            }
            if let Some(sub) = &t.subdomain {
                let sub = sub.to_ascii_lowercase();
                if let Some(other) = out.by_subdomain.insert(sub.clone(), t.id.clone()) {
                    return Err(config_error(format!(
                        "subdomain `{sub}` is used by tenants {other} and {}",
                        t.id
                    )));
                }
            }
            let id = t.id.clone();
            if out.tenants.insert(id.clone(), Arc::new(t)).is_some() {
                return Err(config_error(format!("tenant {id} is defined twice")));
            }
        }
        for c in connections {
            if !out.tenants.contains_key(&c.tenant) {
                return Err(config_error(format!(
                    "connection {}: tenant {} is not defined",
                    c.id, c.tenant
                )));
            }
            let id = c.id.clone();
            if out.connections.insert(id.clone(), Arc::new(c)).is_some() {
                return Err(config_error(format!("connection {id} is defined twice")));
            }
        }
        Ok(out)
    }

    /// Every connection.
    pub fn connections(&self) -> impl Iterator<Item = &Arc<Connection>> {
        self.connections.values()
    }

    /// Every tenant.
    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.tenants.values()
    }
}

#[async_trait]
impl ConnectionStore for StaticConnections {
    async fn connection(&self, id: &ConnectionId) -> Result<Option<Arc<Connection>>, HookError> {
        Ok(self.connections.get(id).cloned())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Arc<Tenant>>, HookError> {
        Ok(self.tenants.get(id).cloned())
    }

    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<Arc<Tenant>>, HookError> {
        Ok(self
            .by_domain
            .get(domain)
            .and_then(|t| self.tenants.get(t))
            .cloned())
    }

    async fn tenant_by_subdomain(&self, label: &str) -> Result<Option<Arc<Tenant>>, HookError> {
        Ok(self
            .by_subdomain
            .get(label)
            .and_then(|t| self.tenants.get(t))
            .cloned())
    }

    async fn connections_of(&self, tenant: &TenantId) -> Result<Vec<Arc<Connection>>, HookError> {
        let mut v: Vec<_> = self
            .connections
            .values()
            .filter(|c| &c.tenant == tenant)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_like: serde_json::Value) -> Result<Connection, String> {
        serde_json::from_value::<Connection>(toml_like).map_err(|e| e.to_string())
    }

    #[test]
    fn valid_oidc_connection() {
        let c = spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "oidc", "issuer": "https://idp.example",
            "client_id": "x", "jit": true, "template": {"role": "member"}
        }))
        .unwrap();
        assert!(c.enabled);
        assert_eq!(c.template.role.as_deref(), Some("member"));
    }

    #[test]
    fn misspelled_keys_are_refused() {
        let e = spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "oidc", "issuer": "https://idp.example",
            "client_id": "x", "alowed_groups": ["a"]
        }))
        .unwrap_err();
        assert!(e.contains("alowed_groups"), "{e}");
    }

    #[test]
    fn plain_http_issuer_only_on_loopback() {
        let base = |iss: &str| serde_json::json!({"id": "c", "tenant": "t", "kind": "oidc", "issuer": iss, "client_id": "x"});
        assert!(spec(base("http://idp.example")).is_err());
        assert!(spec(base("http://127.0.0.1:4000")).is_ok());
        assert!(spec(base("http://localhost:4000")).is_ok());
        assert!(spec(base("https://user:pw@idp.example")).is_err());
        assert!(spec(base("ftp://idp.example")).is_err());
    }

    #[test]
    fn leeway_is_bounded() {
        let e = spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "oidc", "issuer": "https://idp.example",
            "client_id": "x", "leeway_secs": 3600
        }));
        assert!(e.is_err());
    }

    #[test]
    fn domains_are_exclusive_and_not_consumer() {
        let t = |id: &str, d: &str| Tenant {
            id: id.into(),
            domains: vec![d.into()],
            subdomain: None,
        };
        assert!(
            StaticConnections::new(vec![t("a", "acme.test"), t("b", "ACME.test")], vec![]).is_err()
        );
        assert!(StaticConnections::new(vec![t("a", "gmail.com")], vec![]).is_err());
        assert!(
            StaticConnections::new(vec![t("a", "acme.test"), t("b", "beta.test")], vec![]).is_ok()
        );
    }
}
