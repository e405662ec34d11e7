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
    /// A certificate credential (`private_key_jwt`), used instead of the secret.
    #[cfg(feature = "oidc")]
    pub client_assertion_key: Option<crate::oidc::assertion::ClientAssertionKey>,
    /// Scopes requested besides `openid`.
    pub scopes: Vec<String>,
    /// Fetch the userinfo endpoint after the token exchange and fill in
    /// claims the ID token lacks.
    pub userinfo: bool,
    /// Allowed clock skew for `exp`/`iat`/`nbf`, at most 300 s.
    pub leeway_secs: u64,
    /// The claim that carries group names.
    pub groups_claim: String,
    /// Where the discovery document is (default: the issuer +
    /// `/.well-known/openid-configuration`).
    pub discovery_url: String,
    /// Vendor behaviour handled inside the OIDC adapter.
    pub flavor: Flavor,
    /// Extra parameters for the authorization request (Okta `idp`, …).
    pub extra_auth_params: Vec<(String, String)>,
}

/// Vendor behaviour of an OIDC connection. The login flow never looks at
/// this; the OIDC adapter does.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Flavor {
    /// A standards-compliant provider: `email_verified` decides whether an
    /// e-mail is verified; the subject is `sub`.
    Generic,
    /// Okta: like generic, and a thin ID token is completed from userinfo.
    Okta,
    /// Microsoft Entra ID.
    Entra(EntraSettings),
}

/// Entra ID specifics.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct EntraSettings {
    /// The cloud instance, e.g. `https://login.microsoftonline.com`.
    pub instance: String,
    /// Which tenants may sign in.
    pub tenants: EntraTenants,
    /// Accept v1.0 tokens (issuer `https://sts.windows.net/{tid}/`). Off by default.
    pub accept_v1_tokens: bool,
}

/// Which Entra tenants a connection admits.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum EntraTenants {
    /// One customer tenant, by GUID or verified domain (the tenant-specific
    /// authority; the issuer is the tenant's exact v2.0 issuer).
    Single(String),
    /// The `organizations` authority for onboarding, restricted to these
    /// tenant GUIDs (lower case).
    Multi(Vec<String>),
}

/// Whether `s` is a GUID in its canonical 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Which protocol a connection speaks, with its settings.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // configuration, built once per connection
pub enum Protocol {
    /// OpenID Connect.
    Oidc(OidcSettings),
    /// SAML 2.0.
    #[cfg(feature = "saml")]
    Saml(crate::saml::SamlSettings),
}

impl Protocol {
    /// The protocol family (which adapter serves it).
    pub fn family(&self) -> ProtocolFamily {
        match self {
            Self::Oidc(_) => ProtocolFamily::Oidc,
            #[cfg(feature = "saml")]
            Self::Saml(_) => ProtocolFamily::Saml,
        }
    }
}

/// A protocol family: one adapter each.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum ProtocolFamily {
    /// OpenID Connect (generic, and later Okta and Entra ID as flavours).
    Oidc,
    /// SAML 2.0.
    Saml,
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
    /// A phased rollout: only these users may sign in through the
    /// connection. `None`: everyone.
    pub rollout: Option<Rollout>,
    /// Password login is refused for the tenant's verified domains once SSO
    /// is enforced ([`Sso::password_login_allowed`](crate::Sso::password_login_allowed)).
    pub enforced: bool,
}

/// Who is in a phased rollout: anyone matching one of the criteria.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollout {
    /// IdP groups (from the identity) or host groups (of the local user).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Roles of the local user.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Attributes of the local user that must equal these values.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
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
    /// Protocol and vendor: `oidc`, `okta` or `entra`.
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
    /// A certificate credential instead of a client secret: a file with the
    /// RSA private key (PKCS#8 PEM or DER) the host registered the
    /// certificate of (Entra's certificate credentials, `private_key_jwt`).
    #[serde(default)]
    pub client_certificate_key_file: Option<String>,
    /// The base64url SHA-256 thumbprint of that certificate (`x5t#S256`).
    #[serde(default)]
    pub client_certificate_thumbprint: Option<String>,
    /// Entra: the customer's tenant id (GUID) or verified tenant domain.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Entra: a multi-tenant (`organizations`) connection admitting these tenant ids.
    #[serde(default)]
    pub allowed_tenants: Option<Vec<String>>,
    /// Entra: `global` (default), `usgov` or `china`.
    #[serde(default)]
    pub cloud: Option<String>,
    /// Entra: the instance base URL, overriding `cloud` (tests point it at a local mock).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Entra: accept v1.0 tokens.
    #[serde(default)]
    pub accept_v1_tokens: bool,
    /// Okta: the Okta domain as the customer pastes it (`acme.okta.com`,
    /// `https://acme.okta.com/`).
    #[serde(default)]
    pub domain: Option<String>,
    /// Okta: a custom authorization server id (`default`, `aus…`); default:
    /// the org authorization server.
    #[serde(default)]
    pub authorization_server: Option<String>,
    /// Okta: the `idp` parameter to pass on (route to an IdP configured in Okta).
    #[serde(default)]
    pub idp: Option<String>,
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
    /// See [`Connection::rollout`].
    #[serde(default)]
    pub rollout: Option<Rollout>,
    /// See [`Connection::enforced`].
    #[serde(default)]
    pub enforced: bool,
    /// SAML: the IdP's metadata XML, inline.
    #[serde(default)]
    pub idp_metadata: Option<String>,
    /// SAML: a file with the IdP's metadata XML.
    #[serde(default)]
    pub idp_metadata_file: Option<String>,
    /// SAML: where the IdP publishes its metadata (fetched by the host at
    /// start-up, for tenant-supplied URLs with
    /// [`MetadataFetcher::for_policy`](crate::saml::metadata::MetadataFetcher::for_policy),
    /// and passed as `idp_metadata`; kept for refreshes).
    #[serde(default)]
    pub idp_metadata_url: Option<String>,
    /// SAML: this application's entity id (the Audience).
    #[serde(default)]
    pub sp_entity_id: Option<String>,
    /// SAML: attribute-name preset: `generic` (default), `okta`, `entra`, `adfs`, `google`.
    #[serde(default)]
    pub attributes: Option<String>,
    /// SAML: the attribute holding the stable subject (default: the preset's).
    #[serde(default)]
    pub subject_attribute: Option<String>,
    /// SAML: the attribute holding the e-mail address.
    #[serde(default)]
    pub email_attribute: Option<String>,
    /// SAML: the attribute holding the display name.
    #[serde(default)]
    pub name_attribute: Option<String>,
    /// SAML: the attribute holding group names.
    #[serde(default)]
    pub groups_attribute: Option<String>,
    /// SAML: accept IdP-initiated (unsolicited) responses. Off by default.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// SAML: the IdP verifies the e-mail addresses it asserts (default: the
    /// preset's answer). A verified address is admitted only in the tenant's
    /// verified domains, and linking still needs the mailed confirmation.
    #[serde(default)]
    pub trust_email: Option<bool>,
    /// SAML: accept a signed Response around an unsigned Assertion. Off by default.
    #[serde(default)]
    pub allow_unsigned_assertion_in_signed_response: bool,
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

#[cfg(feature = "saml")]
fn saml_settings(s: &ConnectionSpec) -> Result<Protocol, Error> {
    use crate::saml::{AttributeMapping, Preset, SamlOptions, SamlSettings, SubjectSource};
    let id = &s.id;
    let xml = match (&s.idp_metadata, &s.idp_metadata_file) {
        (Some(xml), None) => xml.clone(),
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            config_error(format!(
                "connection {id}: cannot read idp_metadata_file {path}: {e}"
            ))
        })?,
        (Some(_), Some(_)) => {
            return Err(config_error(format!(
                "connection {id}: give idp_metadata or idp_metadata_file, not both"
            )));
        }
        (None, None) => {
            return Err(config_error(format!(
                "connection {id}: the IdP's metadata is required (idp_metadata_file, or idp_metadata fetched from idp_metadata_url)"
            )));
        }
    };
    let sp_entity_id = s
        .sp_entity_id
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| config_error(format!("connection {id}: `sp_entity_id` is required")))?;
    let preset = match s.attributes.as_deref().unwrap_or("generic") {
        "generic" => Preset::Generic,
        "okta" => Preset::Okta,
        "entra" => Preset::Entra,
        "adfs" => Preset::Adfs,
        "google" => Preset::Google,
        other => {
            return Err(config_error(format!(
                "connection {id}: unknown attributes preset `{other}` (generic, okta, entra, adfs, google)"
            )));
        }
    };
    let mut mapping = AttributeMapping::preset(preset);
    if let Some(a) = &s.subject_attribute {
        mapping = mapping.with_subject(SubjectSource::Attribute(a.clone()));
    }
    if let Some(a) = &s.email_attribute {
        mapping.email = vec![a.clone()];
    }
    if let Some(a) = &s.name_attribute {
        mapping.name = vec![a.clone()];
    }
    if let Some(a) = &s.groups_attribute {
        mapping.groups = vec![a.clone()];
    }
    if let Some(trust) = s.trust_email {
        mapping.email_verified = trust;
    }
    let mut options = SamlOptions::new(sp_entity_id, mapping);
    options.allow_idp_initiated = s.allow_idp_initiated;
    options.allow_unsigned_assertion_in_signed_response =
        s.allow_unsigned_assertion_in_signed_response;
    let mut settings = SamlSettings::from_metadata(&xml, options)
        .map_err(|e| config_error(format!("connection {id}: {e}")))?;
    if let Some(url) = &s.idp_metadata_url {
        let url = Url::parse(url)
            .map_err(|_| config_error(format!("connection {id}: idp_metadata_url is not a URL")))?;
        settings = settings.with_metadata_url(url);
    }
    Ok(Protocol::Saml(settings))
}

/// Normalises an Okta domain as customers paste it: with or without scheme,
/// with or without a trailing slash. Plain http only for loopback (tests).
pub fn normalize_okta_domain(raw: &str) -> Result<String, Error> {
    let raw = raw.trim().trim_end_matches('/');
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let url = parse_idp_url("okta domain", &with_scheme)?;
    if url.path() != "/" || url.host_str().is_none() {
        return Err(config_error(
            "the Okta domain must be a host name such as `acme.okta.com`",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn entra_instance(s: &ConnectionSpec) -> Result<String, Error> {
    let instance = match (&s.base_url, s.cloud.as_deref()) {
        (Some(base), _) => base.clone(),
        (None, None | Some("global")) => "https://login.microsoftonline.com".to_owned(),
        (None, Some("usgov")) => "https://login.microsoftonline.us".to_owned(),
        (None, Some("china")) => "https://login.partner.microsoftonline.cn".to_owned(),
        (None, Some(other)) => {
            return Err(config_error(format!(
                "connection {}: unknown cloud `{other}` (global, usgov or china)",
                s.id
            )));
        }
    };
    parse_idp_url(&format!("connection {}: base_url", s.id), &instance)?;
    Ok(instance.trim_end_matches('/').to_owned())
}

fn oidc_settings(s: &ConnectionSpec) -> Result<Protocol, Error> {
    let id = &s.id;
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .filter(|x| !x.trim().is_empty())
            .ok_or_else(|| config_error(format!("connection {id}: `{what}` is required")))
    };
    let refuse = |fields: &[(&str, bool)]| -> Result<(), Error> {
        match fields.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(config_error(format!(
                "connection {id}: `{name}` does not apply to kind `{}`",
                s.kind
            ))),
            None => Ok(()),
        }
    };
    let entra_keys = [
        ("tenant_id", s.tenant_id.is_some()),
        ("allowed_tenants", s.allowed_tenants.is_some()),
        ("cloud", s.cloud.is_some()),
        ("base_url", s.base_url.is_some()),
        ("accept_v1_tokens", s.accept_v1_tokens),
    ];
    let okta_keys = [
        ("domain", s.domain.is_some()),
        ("authorization_server", s.authorization_server.is_some()),
        ("idp", s.idp.is_some()),
    ];
    let client_id = need(&s.client_id, "client_id")?;
    let leeway_secs = s.leeway_secs.unwrap_or(60);
    if leeway_secs > 300 {
        return Err(config_error(format!(
            "connection {id}: leeway_secs must be at most 300"
        )));
    }
    let (issuer, discovery_base, flavor, mut extra, default_scopes) = match s.kind.as_str() {
        "oidc" => {
            refuse(&entra_keys)?;
            refuse(&okta_keys)?;
            let issuer = need(&s.issuer, "issuer")?;
            parse_idp_url(&format!("connection {id}: issuer"), &issuer)?;
            (
                issuer.clone(),
                issuer,
                Flavor::Generic,
                Vec::new(),
                vec!["email", "profile"],
            )
        }
        "okta" => {
            refuse(&entra_keys)?;
            refuse(&[("issuer", s.issuer.is_some())])?;
            let org = normalize_okta_domain(&need(&s.domain, "domain")?)?;
            let issuer = match &s.authorization_server {
                None => org,
                Some(server)
                    if !server.is_empty() && server.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                {
                    format!("{org}/oauth2/{server}")
                }
                Some(_) => {
                    return Err(config_error(format!(
                        "connection {id}: authorization_server must be an id such as `default` or `aus…`"
                    )));
                }
            };
            let extra = s
                .idp
                .iter()
                .map(|idp| ("idp".to_owned(), idp.clone()))
                .collect();
            (
                issuer.clone(),
                issuer,
                Flavor::Okta,
                extra,
                vec!["email", "profile"],
            )
        }
        "entra" => {
            refuse(&okta_keys)?;
            refuse(&[("issuer", s.issuer.is_some())])?;
            let instance = entra_instance(s)?;
            let (tenants, authority) = match (&s.tenant_id, &s.allowed_tenants) {
                (Some(_), Some(_)) => {
                    return Err(config_error(format!(
                        "connection {id}: give either tenant_id or allowed_tenants, not both"
                    )));
                }
                (Some(t), None) => {
                    let t = t.trim().to_ascii_lowercase();
                    let domain_like = t.contains('.')
                        && t.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                    if !is_guid(&t) && !domain_like {
                        return Err(config_error(format!(
                            "connection {id}: tenant_id must be a tenant GUID or a verified tenant domain"
                        )));
                    }
                    (EntraTenants::Single(t.clone()), t)
                }
                (None, Some(list)) => {
                    let list: Vec<String> =
                        list.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
                    if list.is_empty() || !list.iter().all(|t| is_guid(t)) {
                        return Err(config_error(format!(
                            "connection {id}: allowed_tenants must list tenant GUIDs (an empty list would admit every tenant)"
                        )));
                    }
                    (EntraTenants::Multi(list), "organizations".to_owned())
                }
                (None, None) => {
                    return Err(config_error(format!(
                        "connection {id}: `tenant_id` (or `allowed_tenants`) is required"
                    )));
                }
            };
            let issuer = match &tenants {
                EntraTenants::Single(t) if is_guid(t) => format!("{instance}/{t}/v2.0"),
                _ => format!("{instance}/{{tenantid}}/v2.0"),
            };
            let base = format!("{instance}/{authority}/v2.0");
            let flavor = Flavor::Entra(EntraSettings {
                instance,
                tenants,
                accept_v1_tokens: s.accept_v1_tokens,
            });
            (issuer, base, flavor, Vec::new(), vec!["email", "profile"])
        }
        other => {
            return Err(config_error(format!(
                "connection {id}: unknown kind `{other}` (expected oidc, okta or entra)"
            )));
        }
    };
    extra.sort();
    #[cfg(feature = "oidc")]
    let client_assertion_key = match (
        &s.client_certificate_key_file,
        &s.client_certificate_thumbprint,
    ) {
        (Some(path), Some(thumb)) => {
            let bytes = std::fs::read(path)
                .map_err(|e| config_error(format!("connection {id}: cannot read {path}: {e}")))?;
            Some(crate::oidc::assertion::ClientAssertionKey::new(
                &bytes, thumb,
            )?)
        }
        (None, None) => None,
        _ => {
            return Err(config_error(format!(
                "connection {id}: client_certificate_key_file and client_certificate_thumbprint go together"
            )));
        }
    };
    Ok(Protocol::Oidc(OidcSettings {
        #[cfg(feature = "oidc")]
        client_assertion_key,
        discovery_url: format!(
            "{}/.well-known/openid-configuration",
            discovery_base.trim_end_matches('/')
        ),
        issuer,
        client_id,
        client_secret: s.client_secret.clone(),
        scopes: s
            .scopes
            .clone()
            .unwrap_or_else(|| default_scopes.into_iter().map(str::to_owned).collect()),
        userinfo: s.userinfo,
        leeway_secs,
        groups_claim: s
            .groups_claim
            .clone()
            .unwrap_or_else(|| "groups".to_owned()),
        flavor,
        extra_auth_params: extra,
    }))
}

impl TryFrom<ConnectionSpec> for Connection {
    type Error = Error;

    fn try_from(s: ConnectionSpec) -> Result<Self, Error> {
        if s.id.as_str().is_empty() || s.tenant.as_str().is_empty() {
            return Err(config_error("a connection needs an id and a tenant"));
        }
        let protocol = match s.kind.as_str() {
            #[cfg(feature = "saml")]
            "saml" => saml_settings(&s)?,
            _ => {
                let saml_keys = [
                    ("idp_metadata", s.idp_metadata.is_some()),
                    ("idp_metadata_file", s.idp_metadata_file.is_some()),
                    ("idp_metadata_url", s.idp_metadata_url.is_some()),
                    ("sp_entity_id", s.sp_entity_id.is_some()),
                    ("attributes", s.attributes.is_some()),
                    ("allow_idp_initiated", s.allow_idp_initiated),
                    ("trust_email", s.trust_email.is_some()),
                ];
                if let Some((name, _)) = saml_keys.iter().find(|(_, set)| *set) {
                    return Err(config_error(format!(
                        "connection {}: `{name}` does not apply to kind `{}`",
                        s.id, s.kind
                    )));
                }
                oidc_settings(&s)?
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
            rollout: s.rollout,
            enforced: s.enforced,
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

    fn oidc(c: &Connection) -> &OidcSettings {
        match &c.protocol {
            Protocol::Oidc(s) => s,
            #[allow(unreachable_patterns)]
            _ => panic!("not oidc"),
        }
    }

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    #[test]
    fn okta_domain_is_normalised_however_pasted() {
        for pasted in [
            "https://acme.okta.com/",
            "acme.okta.com",
            " https://acme.okta.com ",
            "ACME.okta.com/",
        ] {
            let c = spec(serde_json::json!({
                "id": "c", "tenant": "t", "kind": "okta", "domain": pasted, "client_id": "x"
            }))
            .unwrap();
            let s = oidc(&c);
            assert_eq!(s.issuer, "https://acme.okta.com", "{pasted}");
            assert_eq!(
                s.discovery_url,
                "https://acme.okta.com/.well-known/openid-configuration"
            );
            assert_eq!(s.flavor, Flavor::Okta);
        }
        for bad in [
            "http://acme.okta.com",
            "https://acme.okta.com/oauth2",
            "ftp://acme.okta.com",
            "",
        ] {
            assert!(
                spec(serde_json::json!({"id": "c", "tenant": "t", "kind": "okta", "domain": bad, "client_id": "x"})).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn okta_custom_authorization_server_and_idp() {
        let c = spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "okta", "domain": "acme.okta.com", "client_id": "x",
            "authorization_server": "default", "idp": "0oa1"
        }))
        .unwrap();
        let s = oidc(&c);
        assert_eq!(s.issuer, "https://acme.okta.com/oauth2/default");
        assert_eq!(
            s.extra_auth_params,
            vec![("idp".to_owned(), "0oa1".to_owned())]
        );
        assert!(spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "okta", "domain": "acme.okta.com", "client_id": "x",
            "authorization_server": "../evil"
        }))
        .is_err());
    }

    #[test]
    fn entra_single_tenant_uses_the_exact_tenant_issuer() {
        let c = spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "entra", "tenant_id": TID, "client_id": "x"
        }))
        .unwrap();
        let s = oidc(&c);
        assert_eq!(
            s.issuer,
            format!("https://login.microsoftonline.com/{TID}/v2.0")
        );
        assert_eq!(
            s.discovery_url,
            format!(
                "https://login.microsoftonline.com/{TID}/v2.0/.well-known/openid-configuration"
            )
        );
        let c = spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "entra", "tenant_id": TID, "client_id": "x", "cloud": "usgov"
        }))
        .unwrap();
        assert!(
            oidc(&c)
                .issuer
                .starts_with("https://login.microsoftonline.us/")
        );
    }

    #[test]
    fn entra_multi_tenant_needs_an_allow_list_of_guids() {
        let c = spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "entra", "allowed_tenants": [TID.to_uppercase()], "client_id": "x"
        }))
        .unwrap();
        let s = oidc(&c);
        assert_eq!(
            s.issuer,
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert!(s.discovery_url.contains("/organizations/v2.0/"));
        match &s.flavor {
            Flavor::Entra(e) => assert_eq!(e.tenants, EntraTenants::Multi(vec![TID.to_owned()])),
            other => panic!("{other:?}"),
        }
        for bad in [
            serde_json::json!({"allowed_tenants": []}),
            serde_json::json!({"allowed_tenants": ["contoso.com"]}),
            serde_json::json!({"allowed_tenants": [TID], "tenant_id": TID}),
            serde_json::json!({}),
            serde_json::json!({"tenant_id": "not a tenant"}),
            serde_json::json!({"tenant_id": TID, "domain": "acme.okta.com"}),
            serde_json::json!({"tenant_id": TID, "issuer": "https://evil.example"}),
            serde_json::json!({"tenant_id": TID, "cloud": "mars"}),
        ] {
            let mut v =
                serde_json::json!({"id": "c", "tenant": "t", "kind": "entra", "client_id": "x"});
            v.as_object_mut()
                .unwrap()
                .extend(bad.as_object().unwrap().clone());
            assert!(spec(v.clone()).is_err(), "{v}");
        }
    }

    #[test]
    fn vendor_keys_do_not_apply_to_generic_oidc() {
        assert!(spec(serde_json::json!({
            "id": "c", "tenant": "t", "kind": "oidc", "issuer": "https://idp.example", "client_id": "x",
            "tenant_id": TID
        }))
        .is_err());
    }
}
