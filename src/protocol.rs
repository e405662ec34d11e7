//! The one trait every identity-provider adapter implements. The login flow
//! talks only to this trait; it never matches on the vendor.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::connection::Connection;
use crate::error::{BadRequest, Error};
use crate::types::VerifiedIdentity;

/// What the flow asks of an adapter to start a login.
#[derive(Debug)]
pub struct StartRequest<'a> {
    /// Where the IdP must send the browser back: the OIDC redirect URI, or
    /// the SAML assertion consumer service URL.
    pub redirect_uri: &'a Url,
    /// The flow's random `state` (OIDC) / RelayState handle (SAML).
    pub state: &'a str,
    /// The address the user typed, passed on as a login hint.
    pub login_hint: Option<&'a str>,
    /// The current time.
    pub now: SystemTime,
}

/// Protocol data kept server-side with a pending login, until the callback.
#[derive(Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ProtocolState {
    /// OpenID Connect: the nonce and PKCE verifier of the request.
    Oidc {
        /// The `nonce` sent in the authorization request.
        nonce: String,
        /// The PKCE code verifier.
        pkce_verifier: String,
        /// The redirect URI used (the token request must repeat it).
        redirect_uri: String,
    },
    /// SAML: the AuthnRequest's ID (the Response's `InResponseTo` must equal it).
    Saml {
        /// The `ID` of the AuthnRequest.
        request_id: String,
        /// The ACS URL the request named.
        acs_url: String,
    },
}

impl std::fmt::Debug for ProtocolState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oidc { redirect_uri, .. } => f
                .debug_struct("Oidc")
                .field("redirect_uri", redirect_uri)
                .finish_non_exhaustive(),
            Self::Saml {
                request_id,
                acs_url,
            } => f
                .debug_struct("Saml")
                .field("request_id", request_id)
                .field("acs_url", acs_url)
                .finish(),
        }
    }
}

/// An adapter's answer to [`IdpAdapter::start`].
#[derive(Debug)]
pub struct Started {
    /// Where to send the browser.
    pub url: Url,
    /// For bindings that POST (SAML HTTP-POST): the form fields to submit to
    /// `url` from an auto-submitting page. `None`: redirect with a 303.
    pub post_fields: Option<Vec<(String, String)>>,
    /// What to keep until the callback.
    pub state: ProtocolState,
}

/// Largest accepted callback query string (OIDC), in bytes.
pub const MAX_CALLBACK_BYTES: usize = 16 * 1024;

/// Largest accepted SAML HTTP-POST form (`SAMLResponse=…`), in bytes; the
/// SAML layer then applies its own limits to the encoded and decoded
/// Response.
pub const MAX_SAML_FORM_BYTES: usize = 1024 * 1024;

/// The parameters of an IdP's callback (query string or form body), checked
/// for size and duplicates. `Debug` shows only the names.
#[derive(Clone, Default)]
pub struct CallbackParams {
    params: BTreeMap<String, String>,
}

impl std::fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.params.keys()).finish()
    }
}

impl CallbackParams {
    /// Parses `application/x-www-form-urlencoded` data (a query string
    /// without `?`, or a POST body). A repeated parameter is an error: which
    /// copy a server reads is exactly the kind of ambiguity attackers use.
    pub fn parse(encoded: &str) -> Result<Self, Error> {
        let limit = if encoded.starts_with("SAMLResponse=") || encoded.contains("&SAMLResponse=") {
            MAX_SAML_FORM_BYTES
        } else {
            MAX_CALLBACK_BYTES
        };
        if encoded.len() > limit {
            return Err(BadRequest::TooLarge("callback").into());
        }
        let mut params = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(encoded.as_bytes()) {
            if params.insert(k.into_owned(), v.into_owned()).is_some() {
                return Err(BadRequest::Malformed("callback (a parameter is repeated)").into());
            }
        }
        Ok(Self { params })
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A required, non-empty parameter.
    pub fn require(&self, name: &'static str) -> Result<&str, Error> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(BadRequest::MissingParameter(name).into()),
        }
    }
}

/// An identity-provider protocol adapter (OIDC; SAML later). Adapters are
/// configured per connection and hold caches (discovery, keys) shared by all
/// connections of their protocol.
#[async_trait]
pub trait IdpAdapter: Send + Sync {
    /// Builds the request that sends the browser to the IdP.
    async fn start(
        &self,
        connection: &Connection,
        request: StartRequest<'_>,
    ) -> Result<Started, Error>;

    /// Verifies the IdP's callback for a pending login and returns the
    /// identity. Everything in the result comes from verified data.
    async fn finish(
        &self,
        connection: &Connection,
        state: &ProtocolState,
        callback: &CallbackParams,
        now: SystemTime,
    ) -> Result<VerifiedIdentity, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(CallbackParams::parse("state=a&code=b").is_ok());
        assert!(CallbackParams::parse("state=a&state=b").is_err());
    }

    #[test]
    fn saml_forms_may_be_larger_but_are_bounded() {
        let signed = format!("SAMLResponse={}&RelayState=r", "A".repeat(200 * 1024));
        assert!(CallbackParams::parse(&signed).is_ok());
        let huge = format!("SAMLResponse={}", "A".repeat(MAX_SAML_FORM_BYTES));
        assert!(CallbackParams::parse(&huge).is_err());
        let sneaky = format!("state={}&xSAMLResponse=1", "a".repeat(20 * 1024));
        assert!(CallbackParams::parse(&sneaky).is_err());
    }

    #[test]
    fn oversized_callbacks_are_refused() {
        let big = format!("state={}", "a".repeat(MAX_CALLBACK_BYTES));
        assert!(CallbackParams::parse(&big).is_err());
    }

    #[test]
    fn debug_shows_names_only() {
        let p = CallbackParams::parse("code=SECRETCODE&state=s").unwrap();
        let d = format!("{p:?}");
        assert!(d.contains("code") && !d.contains("SECRETCODE"));
    }
}
