//! The HTTP client port: how ssokit talks to identity providers.
//!
//! Requests and responses are plain [`http`] types with byte bodies, so a host
//! can plug in its own client (or a test double). The default implementation,
//! [`ReqwestClient`], follows no redirects, has timeouts and caps response sizes.

use std::fmt;

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

/// The default [`HttpClient`]: reqwest with rustls, no redirects, a 5 s
/// connect and 10 s total timeout, and responses capped at
/// [`MAX_RESPONSE_BYTES`].
#[cfg(feature = "reqwest")]
#[derive(Clone, Debug)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

#[cfg(feature = "reqwest")]
impl ReqwestClient {
    /// A client with the default limits.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client }
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
