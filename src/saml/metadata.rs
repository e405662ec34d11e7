//! SAML metadata: the IdP's (parsed) and the SP's (generated), and a
//! fetcher for tenant-supplied metadata URLs.
//!
//! IdP metadata gives the entity ID, the SingleSignOnService locations per
//! binding and *every* signing certificate (rollover pairs included; a
//! `KeyDescriptor` without `use` counts for signing, `use="encryption"` does
//! not). Metadata without a usable signing key is an error: a connection
//! that could not verify signatures must not exist.
//!
//! The metadata's own signature is not verified: its trust comes from the
//! channel the tenant's administrator chose (an https URL of their IdP, or a
//! file they uploaded).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use url::Url;

use super::SamlError;
use super::keys::TrustedKey;
use super::response::{PROTOCOL_NS, parse_instant};
use super::xml::{Document, Element, Limits};
use crate::http::{HttpClient, is_non_public};

/// The SAML 2.0 metadata namespace.
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The HTTP-Redirect binding.
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// The HTTP-POST binding.
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const DSIG_NS: &str = super::dsig::DSIG_NS;

/// What an IdP's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdpMetadata {
    /// The IdP's entity ID.
    pub entity_id: String,
    /// SingleSignOnService with the HTTP-Redirect binding.
    pub sso_redirect: Option<Url>,
    /// SingleSignOnService with the HTTP-POST binding.
    pub sso_post: Option<Url>,
    /// Every usable signing key, in document order.
    pub signing_keys: Vec<TrustedKey>,
    /// Certificates that were present for signing but not usable (RSA under
    /// 2048 bits, other algorithms), counted for diagnostics.
    pub unusable_certificates: usize,
    /// `WantAuthnRequestsSigned`.
    pub want_authn_requests_signed: bool,
    /// `validUntil`, if any.
    pub valid_until: Option<SystemTime>,
}

fn meta_err(m: &str) -> SamlError {
    SamlError::Metadata(m.to_owned())
}

fn sso_url(e: Element<'_>) -> Result<Url, SamlError> {
    let loc = e
        .attr("Location")
        .ok_or_else(|| meta_err("a SingleSignOnService has no Location"))?;
    let url = Url::parse(loc.trim())
        .map_err(|_| meta_err("a SingleSignOnService Location is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(meta_err(
            "the SingleSignOnService must use https (http only on loopback addresses)",
        )),
    }
}

impl IdpMetadata {
    /// Parses an `EntityDescriptor`, or an `EntitiesDescriptor` holding
    /// exactly one IdP.
    pub fn parse(xml: &str) -> Result<Self, SamlError> {
        Self::parse_for(xml, None)
    }

    /// Parses metadata, picking the IdP `entity_id` when the document holds
    /// several (`None`: it must hold exactly one IdP).
    pub fn parse_for(xml: &str, entity_id: Option<&str>) -> Result<Self, SamlError> {
        let doc = Document::parse(xml, &Limits::METADATA).map_err(SamlError::Xml)?;
        let root = doc.root();
        let mut candidates = Vec::new();
        if root.is(METADATA_NS, "EntityDescriptor") {
            candidates.push(root);
        } else if root.is(METADATA_NS, "EntitiesDescriptor") {
            let mut stack = vec![root];
            while let Some(e) = stack.pop() {
                for c in e.child_elements() {
                    if c.is(METADATA_NS, "EntitiesDescriptor") {
                        stack.push(c);
                    } else if c.is(METADATA_NS, "EntityDescriptor") {
                        candidates.push(c);
                    }
                }
            }
        } else {
            return Err(meta_err(
                "the document is not SAML metadata (EntityDescriptor)",
            ));
        }
        candidates.retain(|e| {
            e.children_named(METADATA_NS, "IDPSSODescriptor")
                .next()
                .is_some()
                && entity_id.is_none_or(|id| e.attr("entityID") == Some(id))
        });
        let entity = match candidates.as_slice() {
            [one] => *one,
            [] => {
                return Err(meta_err(
                    "the metadata describes no (matching) identity provider",
                ));
            }
            _ => {
                return Err(meta_err(
                    "the metadata describes several identity providers; name the entity ID to use",
                ));
            }
        };
        let entity_id = entity
            .attr("entityID")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| meta_err("the EntityDescriptor has no entityID"))?
            .to_owned();
        let valid_until = match entity.attr("validUntil").or(root.attr("validUntil")) {
            Some(v) => Some(
                parse_instant(v.trim())
                    .ok_or_else(|| meta_err("validUntil is not a UTC xs:dateTime"))?,
            ),
            None => None,
        };
        let mut idps = entity.children_named(METADATA_NS, "IDPSSODescriptor");
        let idp = idps.next().ok_or_else(|| meta_err("no IDPSSODescriptor"))?;
        if idps.next().is_some() {
            return Err(meta_err("more than one IDPSSODescriptor"));
        }
        if !idp
            .attr("protocolSupportEnumeration")
            .unwrap_or("")
            .split_ascii_whitespace()
            .any(|p| p == PROTOCOL_NS)
        {
            return Err(meta_err("the IdP does not support SAML 2.0"));
        }
        let want_authn_requests_signed =
            matches!(idp.attr("WantAuthnRequestsSigned"), Some("true" | "1"));
        let mut signing_keys: Vec<TrustedKey> = Vec::new();
        let mut unusable = 0;
        for kd in idp.children_named(METADATA_NS, "KeyDescriptor") {
            match kd.attr("use") {
                None | Some("signing") => {}
                Some(_) => continue,
            }
            for ki in kd.children_named(DSIG_NS, "KeyInfo") {
                for xd in ki.children_named(DSIG_NS, "X509Data") {
                    for cert in xd.children_named(DSIG_NS, "X509Certificate") {
                        let text = cert.text().unwrap_or_default();
                        match TrustedKey::from_certificate_base64(&text) {
                            Ok(k) if !signing_keys.contains(&k) => signing_keys.push(k),
                            Ok(_) => {}
                            Err(_) => unusable += 1,
                        }
                    }
                }
            }
        }
        if signing_keys.is_empty() {
            return Err(meta_err(
                "the IdP metadata has no usable signing certificate (RSA ≥ 2048 bits or EC P-256/P-384); a SAML connection cannot be set up without one",
            ));
        }
        let mut sso_redirect = None;
        let mut sso_post = None;
        for s in idp.children_named(METADATA_NS, "SingleSignOnService") {
            match s.attr("Binding") {
                Some(BINDING_REDIRECT) if sso_redirect.is_none() => {
                    sso_redirect = Some(sso_url(s)?)
                }
                Some(BINDING_POST) if sso_post.is_none() => sso_post = Some(sso_url(s)?),
                _ => {}
            }
        }
        if sso_redirect.is_none() && sso_post.is_none() {
            return Err(meta_err(
                "the IdP has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding",
            ));
        }
        Ok(Self {
            entity_id,
            sso_redirect,
            sso_post,
            signing_keys,
            unusable_certificates: unusable,
            want_authn_requests_signed,
            valid_until,
        })
    }
}

/// The SP side of a connection, to publish as SP metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpMetadata<'a> {
    /// The SP entity ID.
    pub entity_id: &'a str,
    /// The assertion consumer service URL (HTTP-POST).
    pub acs_url: &'a str,
    /// NameID formats the SP accepts.
    pub name_id_formats: &'a [&'a str],
    /// The DER certificate of the AuthnRequest signing key, if requests are signed.
    pub signing_certificate: Option<&'a [u8]>,
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

impl SpMetadata<'_> {
    /// The metadata document.
    pub fn to_xml(&self) -> String {
        use base64::Engine as _;
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str(&format!(
            "<md:EntityDescriptor xmlns:md=\"{METADATA_NS}\" entityID=\"{}\">\n",
            esc(self.entity_id)
        ));
        x.push_str(&format!(
            "  <md:SPSSODescriptor AuthnRequestsSigned=\"{}\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{PROTOCOL_NS}\">\n",
            self.signing_certificate.is_some()
        ));
        if let Some(cert) = self.signing_certificate {
            let b64 = base64::engine::general_purpose::STANDARD.encode(cert);
            x.push_str(&format!(
                "    <md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"{DSIG_NS}\"><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n"
            ));
        }
        for f in self.name_id_formats {
            x.push_str(&format!(
                "    <md:NameIDFormat>{}</md:NameIDFormat>\n",
                esc(f)
            ));
        }
        x.push_str(&format!(
            "    <md:AssertionConsumerService Binding=\"{BINDING_POST}\" Location=\"{}\" index=\"0\" isDefault=\"true\"/>\n",
            esc(self.acs_url)
        ));
        x.push_str("  </md:SPSSODescriptor>\n</md:EntityDescriptor>\n");
        x
    }
}

/// Rules for fetching tenant-supplied metadata URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchPolicy {
    /// Accept `http://` URLs. Default false (https only).
    pub allow_http: bool,
    /// Accept URLs whose host is a loopback, private, link-local or other
    /// non-public address (and `localhost`). Default false: tenants supply
    /// these URLs, and the server must not be made to fetch internal ones.
    pub allow_private_addresses: bool,
    /// Largest metadata document. Default 1 MiB.
    pub max_bytes: usize,
    /// Time limit of one fetch. Default 10 s.
    pub timeout: Duration,
    /// Refetch metadata older than this. Default 24 hours.
    pub max_age: Duration,
    /// Never refetch one URL more often than this. Default 5 minutes.
    pub min_refresh_interval: Duration,
    /// While a URL has never been fetched successfully, wait this long after
    /// a failed fetch before trying again (meanwhile the failure is
    /// returned), so an IdP that is down does not turn every login POST into
    /// an outbound request. Default 30 seconds.
    pub retry_after_failure: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private_addresses: false,
            max_bytes: 1024 * 1024,
            timeout: Duration::from_secs(10),
            max_age: Duration::from_secs(24 * 3600),
            min_refresh_interval: Duration::from_secs(300),
            retry_after_failure: Duration::from_secs(30),
        }
    }
}

impl FetchPolicy {
    /// For local development and tests: http and loopback/private hosts allowed.
    pub fn insecure_allow_local() -> Self {
        Self {
            allow_http: true,
            allow_private_addresses: true,
            ..Self::default()
        }
    }
}

/// Checks a metadata URL against the policy: scheme, no credentials, and
/// (unless allowed) a host that is not a non-public IP literal or a local
/// name. Names that *resolve* to internal addresses can only be refused by
/// the [`HttpClient`], which does the resolving: [`MetadataFetcher::for_policy`]
/// (what [`crate::Sso`] uses unless given a client) takes one that does, and
/// a host that brings its own client for tenant-supplied URLs should make it
/// refuse non-public peers too.
pub fn check_metadata_url(url: &Url, policy: &FetchPolicy) -> Result<(), SamlError> {
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(SamlError::Fetch("the metadata URL must use https".into())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SamlError::Fetch(
            "the metadata URL must not contain credentials".into(),
        ));
    }
    if policy.allow_private_addresses {
        return Ok(());
    }
    let refused = || {
        SamlError::Fetch(
            "the metadata URL points to a loopback, private or otherwise internal address".into(),
        )
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) if is_non_public(ip.into()) => Err(refused()),
        Some(url::Host::Ipv6(ip)) if is_non_public(ip.into()) => Err(refused()),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let local = d == "localhost"
                || d.ends_with(".localhost")
                || d.ends_with(".local")
                || d.ends_with(".internal")
                || d.ends_with(".localdomain")
                || !d.contains('.');
            if local { Err(refused()) } else { Ok(()) }
        }
        None => Err(refused()),
        _ => Ok(()),
    }
}

struct Entry {
    value: Option<Arc<IdpMetadata>>,
    fetched_at: SystemTime,
    last_attempt: SystemTime,
    /// Why the last fetch failed, while there is no value.
    last_error: Option<SamlError>,
}

/// Fetches IdP metadata from URLs and caches it: a cached value younger
/// than [`FetchPolicy::max_age`] is used as is; an older one (or a forced
/// refresh) triggers a fetch at most once per
/// [`FetchPolicy::min_refresh_interval`]; when a fetch fails, or returns
/// metadata that is invalid or expired, the last good metadata is kept.
pub struct MetadataFetcher {
    http: Arc<dyn HttpClient>,
    policy: FetchPolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

impl std::fmt::Debug for MetadataFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataFetcher")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl MetadataFetcher {
    /// A fetcher using `http` with `policy`. For tenant-supplied URLs,
    /// `http` must refuse non-public peers itself (names are resolved there);
    /// [`MetadataFetcher::for_policy`] picks such a client.
    pub fn new(http: Arc<dyn HttpClient>, policy: FetchPolicy) -> Self {
        Self {
            http,
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// A fetcher on ssokit's own HTTP client for `policy`:
    /// [`ReqwestClient::public_only`](crate::http::ReqwestClient::public_only),
    /// which resolves names to public addresses only, unless the policy
    /// allows private addresses. Fails only if the TLS backend cannot be set
    /// up.
    #[cfg(feature = "reqwest")]
    pub fn for_policy(policy: FetchPolicy) -> Result<Self, SamlError> {
        let http: Arc<dyn HttpClient> = if policy.allow_private_addresses {
            Arc::new(crate::http::ReqwestClient::new())
        } else {
            Arc::new(
                crate::http::ReqwestClient::public_only()
                    .map_err(|e| SamlError::Config(e.to_string()))?,
            )
        };
        Ok(Self::new(http, policy))
    }

    /// The client the fetcher sends its requests with.
    #[cfg(test)]
    pub(crate) fn http(&self) -> &Arc<dyn HttpClient> {
        &self.http
    }

    /// The metadata at `url` (cached per the rules above). `force` asks for a
    /// refresh (still rate-limited), e.g. after a signature failed with the
    /// cached keys.
    pub async fn get(
        &self,
        url: &Url,
        now: SystemTime,
        force: bool,
    ) -> Result<Arc<IdpMetadata>, SamlError> {
        check_metadata_url(url, &self.policy)?;
        let key = url.as_str().to_owned();
        let previous = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let entry = entries.entry(key.clone()).or_insert(Entry {
                value: None,
                fetched_at: SystemTime::UNIX_EPOCH,
                last_attempt: SystemTime::UNIX_EPOCH,
                last_error: None,
            });
            match entry.value.clone() {
                None => {
                    if let Some(e) = &entry.last_error
                        && now < entry.last_attempt + self.policy.retry_after_failure
                    {
                        return Err(e.clone());
                    }
                    entry.last_attempt = now;
                    None
                }
                Some(v) => {
                    let fresh = now < entry.fetched_at + self.policy.max_age;
                    if (fresh && !force)
                        || now < entry.last_attempt + self.policy.min_refresh_interval
                    {
                        return Ok(v);
                    }
                    entry.last_attempt = now;
                    Some(v)
                }
            }
        };
        match self.fetch(url, now).await {
            Ok(meta) => {
                let meta = Arc::new(meta);
                let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(entry) = entries.get_mut(&key) {
                    entry.value = Some(meta.clone());
                    entry.fetched_at = now;
                    entry.last_error = None;
                }
                Ok(meta)
            }
            Err(e) => match previous {
                Some(last_good) => {
                    tracing::warn!(target: "ssokit::saml", url = %url, error = %e, "metadata refresh failed; keeping the last good metadata");
                    Ok(last_good)
                }
                None => {
                    let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(entry) = entries.get_mut(&key)
                        && entry.value.is_none()
                    {
                        entry.last_error = Some(e.clone());
                    }
                    Err(e)
                }
            },
        }
    }

    async fn fetch(&self, url: &Url, now: SystemTime) -> Result<IdpMetadata, SamlError> {
        let mut req = http::Request::new(Vec::new());
        *req.uri_mut() = url
            .as_str()
            .parse()
            .map_err(|_| SamlError::Fetch("the metadata URL is not a valid URI".into()))?;
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static(
                "application/samlmetadata+xml, application/xml, text/xml",
            ),
        );
        let resp = tokio::time::timeout(self.policy.timeout, self.http.send(req))
            .await
            .map_err(|_| SamlError::Fetch("fetching the metadata timed out".into()))?
            .map_err(|e| SamlError::Fetch(format!("fetching the metadata failed: {e}")))?;
        if !resp.status().is_success() {
            return Err(SamlError::Fetch(format!(
                "the metadata URL answered HTTP {}",
                resp.status().as_u16()
            )));
        }
        if resp.body().len() > self.policy.max_bytes {
            return Err(SamlError::Fetch(
                "the metadata document is too large".into(),
            ));
        }
        let text = std::str::from_utf8(resp.body())
            .map_err(|_| SamlError::Fetch("the metadata document is not UTF-8".into()))?;
        let meta = IdpMetadata::parse(text)?;
        if meta.valid_until.is_some_and(|v| v <= now) {
            return Err(SamlError::Metadata(
                "the metadata expired (validUntil is past)".into(),
            ));
        }
        Ok(meta)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Sends `GET url` with `http`.
    pub(crate) async fn get(http: &dyn HttpClient, url: &str) -> bool {
        let mut req = http::Request::new(Vec::new());
        *req.uri_mut() = url.parse().unwrap();
        http.send(req).await.is_ok()
    }

    /// A loopback server, and a URL naming it by a name (`localhost`) that
    /// only the resolver can tell is internal.
    pub(crate) async fn loopback_by_name() -> (wiremock::MockServer, String) {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(wiremock::ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let url = format!("http://localhost:{}/m", server.address().port());
        (server, url)
    }

    /// `for_policy` gives the fetcher a client that resolves names to public
    /// addresses only, unless the policy allows private ones.
    #[cfg(feature = "reqwest")]
    #[tokio::test]
    async fn for_policy_resolves_to_public_addresses_only() {
        let (_server, url) = loopback_by_name().await;
        let strict = MetadataFetcher::for_policy(FetchPolicy::default()).unwrap();
        assert!(!get(strict.http().as_ref(), &url).await);
        let local = MetadataFetcher::for_policy(FetchPolicy::insecure_allow_local()).unwrap();
        assert!(get(local.http().as_ref(), &url).await);
    }

    #[test]
    fn url_policy() {
        let p = FetchPolicy::default();
        let ok = |u: &str| check_metadata_url(&Url::parse(u).unwrap(), &p).is_ok();
        assert!(ok(
            "https://login.microsoftonline.com/t/federationmetadata/2007-06/federationmetadata.xml"
        ));
        assert!(!ok("http://idp.example.com/metadata"));
        assert!(!ok("https://127.0.0.1/m"));
        assert!(!ok("https://10.1.2.3/m"));
        assert!(!ok("https://169.254.169.254/latest/meta-data"));
        assert!(!ok("https://[::1]/m"));
        assert!(!ok("https://[fd00::1]/m"));
        assert!(!ok("https://[::ffff:10.0.0.1]/m"));
        assert!(!ok("https://localhost/m"));
        assert!(!ok("https://metadata/m"));
        assert!(!ok("https://idp.internal/m"));
        assert!(!ok("https://user:pw@idp.example.com/m"));
        assert!(!ok("file:///etc/passwd"));
        let local = FetchPolicy::insecure_allow_local();
        assert!(
            check_metadata_url(&Url::parse("http://127.0.0.1:8080/m").unwrap(), &local).is_ok()
        );
    }
}
