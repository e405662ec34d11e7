//! The HTTP client port: how ssokit talks to identity providers.
//!
//! Requests and responses are plain [`http`] types with byte bodies, so a host
//! can plug in its own client (or a test double). The default implementation,
//! [`ReqwestClient`], follows no redirects, has timeouts and caps response sizes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;

/// An HTTP request to an identity provider.
pub type HttpRequest = http::Request<Vec<u8>>;
/// An HTTP response from an identity provider.
pub type HttpResponse = http::Response<Vec<u8>>;

/// Largest response body ssokit accepts from an IdP (discovery, JWKS, tokens).
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Sends HTTP requests to identity providers.
///
/// Implementations must not follow redirects (a tenant-supplied URL must not
/// become a server-side request to somewhere else) and should bound time and
/// response size.
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends one request and returns the whole response.
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError>;
}

/// An HTTP request failed before a response arrived (connection, timeout,
/// size limit). Carries no URL query or body, so no secret can leak through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpClientError {
    message: String,
}

impl HttpClientError {
    /// An error with a message (must not contain secrets).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for HttpClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpClientError {}

fn non_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (64..128).contains(&o[1])) // CGNAT 100.64/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
        || o[0] >= 240
}

fn non_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 can reach anything v4
        || s[0] == 0x2002 // 6to4 embeds v4
        || (s[0..6] == [0, 0, 0, 0, 0, 0]) // v4-compatible
}

/// Whether an IP address is not a public unicast address.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

/// The default [`HttpClient`]: reqwest with rustls, no redirects, a 5 s
/// connect and 10 s total timeout, and responses capped at
/// [`MAX_RESPONSE_BYTES`].
#[cfg(feature = "reqwest")]
#[derive(Clone, Debug)]
pub struct ReqwestClient {
    client: reqwest::Client,
    public_only: bool,
}

#[cfg(feature = "reqwest")]
impl ReqwestClient {
    /// A client with the default limits.
    pub fn new() -> Self {
        Self {
            client: Self::builder()
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
            public_only: false,
        }
    }

    /// A client for URLs that tenants supply (SAML metadata): it connects
    /// only to public unicast addresses. Host names are resolved by a
    /// resolver that drops every loopback, private, link-local or otherwise
    /// non-public address ([`is_non_public`]), so a name that resolves
    /// (or is later rebound) to an internal address is refused, and IP
    /// literals are checked before connecting. Fails only if the TLS backend
    /// cannot be set up.
    pub fn public_only() -> Result<Self, HttpClientError> {
        let client = Self::builder()
            .dns_resolver(std::sync::Arc::new(PublicOnlyResolver))
            .build()
            .map_err(|_| HttpClientError::new("the HTTP client could not be built"))?;
        Ok(Self {
            client,
            public_only: true,
        })
    }

    fn builder() -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
    }
}

/// Resolves names with the system resolver and keeps only public
/// addresses; a name with none left does not resolve.
#[cfg(feature = "reqwest")]
#[derive(Debug, Clone, Copy)]
struct PublicOnlyResolver;

#[cfg(feature = "reqwest")]
impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<std::net::SocketAddr> =
                addrs.filter(|a| !is_non_public(a.ip())).collect();
            if public.is_empty() {
                return Err(Box::new(HttpClientError::new(
                    "the host resolves only to non-public addresses",
                ))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(feature = "reqwest")]
impl Default for ReqwestClient {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "reqwest")]
#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        let host = request.uri().host().unwrap_or("?").to_owned();
        // IP literals never reach the resolver. Read the host as reqwest
        // will (a WHATWG URL), so `127.1`, `0x7f.0.0.1` or `2130706433` are
        // the loopback address they become, not names.
        if self.public_only {
            let url = url::Url::parse(&request.uri().to_string())
                .map_err(|_| HttpClientError::new("invalid request URL"))?;
            let literal = match url.host() {
                Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                _ => None,
            };
            if literal.is_some_and(is_non_public) {
                return Err(HttpClientError::new(format!(
                    "refused to connect to {host}: not a public address"
                )));
            }
        }
        let req = reqwest::Request::try_from(request.map(reqwest::Body::from))
            .map_err(|_| HttpClientError::new("invalid request"))?;
        let mut resp = self.client.execute(req).await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "failed"
            };
            HttpClientError::new(format!("request to {host} {what}"))
        })?;
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(HttpClientError::new(format!(
                "response from {host} is too large"
            )));
        }
        let mut builder = http::Response::builder().status(resp.status());
        for (k, v) in resp.headers() {
            builder = builder.header(k, v);
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|_| HttpClientError::new(format!("reading the response from {host} failed")))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(HttpClientError::new(format!(
                    "response from {host} is too large"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|_| HttpClientError::new("invalid response"))
    }
}
