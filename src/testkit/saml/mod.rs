//! A development SAML 2.0 identity provider for demos and host tests
//! (features `testkit` and `saml`).
//!
//! [`DevSamlIdp`] is a small, real SAML IdP that runs inside your process:
//! it publishes metadata, takes AuthnRequests over the HTTP-Redirect and
//! HTTP-POST bindings, shows a sign-in page where any account works, and
//! posts a signed Response to the service provider's assertion consumer
//! service (ACS). The demo app mounts it so that SAML sign-in works with no
//! configuration, and host applications use it to drive their SAML code end
//! to end, including the ways an IdP can go wrong ([`SamlFault`]).
//!
//! **It is for development and tests only.** Anyone can sign in as anyone,
//! and Responses are signed with a key that is published in this crate.
//!
//! # Endpoints
//!
//! All URLs lie under the base URL given to [`DevSamlIdp::new`] (say
//! `http://127.0.0.1:3000/dev/saml`):
//!
//! | Endpoint | Path under the base | |
//! |---|---|---|
//! | Metadata | `GET /metadata` | [`DevSamlIdp::metadata_xml`]; the URL is also the entity ID |
//! | SSO, HTTP-Redirect | `GET /sso?SAMLRequest=…&RelayState=…` | checks the AuthnRequest, shows the sign-in page |
//! | SSO, HTTP-POST | `POST /sso` with `SAMLRequest`, `RelayState` | the same |
//! | Sign-in form | `POST /sso` with `login` or `user` | answers with a form that posts `SAMLResponse` and `RelayState` to the ACS |
//!
//! An AuthnRequest must be a SAML 2.0 `samlp:AuthnRequest` with an `ID`,
//! an `IssueInstant` and an `Issuer` that is a registered SP
//! ([`DevSamlIdp::with_sp`]); its `AssertionConsumerServiceURL`, when sent,
//! must be registered for that SP exactly (otherwise the SP's first ACS URL
//! is used); `Destination`, when sent, must be the SSO URL; the response
//! binding must be HTTP-POST; the NameID format persistent (the default),
//! unspecified or emailAddress; `RelayState` at most 80 bytes. Request
//! signatures are not checked. A request that fails these checks gets an
//! error page (400), as nothing can be posted to an unverified ACS.
//!
//! # Responses
//!
//! A `samlp:Response` (`Destination` = ACS, `InResponseTo` = the request's
//! ID, Status Success) with one `saml:Assertion`, signed as ssokit's SP
//! requires: an enveloped `ds:Signature` right after the Issuer, one
//! `Reference` to `#` + the Assertion's ID, the transforms
//! enveloped-signature and exclusive c14n, RSA-SHA256, a SHA-256 digest
//! (the certificate is also in `KeyInfo`, as IdPs send it). The Assertion
//! has a persistent NameID ([`SamlUser::name_id`]) with `SPNameQualifier`;
//! a bearer `SubjectConfirmation` (`Recipient` = ACS, `InResponseTo`,
//! `NotOnOrAfter` = now + 5 min); `Conditions` from now − 1 min to now +
//! 5 min with an `AudienceRestriction` naming the SP entity ID; an
//! `AuthnStatement`; and the user's e-mail, display name and groups under
//! [`SamlAttributeNames`] (by default those ssokit's
//! [`Preset::Generic`](crate::saml::Preset::Generic) reads: `email`,
//! `displayName`, `groups`), then [`SamlUser::attributes`].
//!
//! # Mounting it in an application
//!
//! Give the IdP the URL it will be reachable at, register your SP, and
//! nest its [router](DevSamlIdp::router) at that URL's path:
//!
//! ```no_run
//! use axum::Router;
//! use ssokit::saml::{AttributeMapping, Preset, SamlOptions, SamlSettings};
//! use ssokit::testkit::saml::DevSamlIdp;
//! use url::Url;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sp_entity_id = "http://127.0.0.1:3000/sso/saml/metadata";
//! let acs_url = "http://127.0.0.1:3000/sso/saml/acs";
//! let idp = DevSamlIdp::new(Url::parse("http://127.0.0.1:3000/dev/saml")?)
//!     .with_sp(sp_entity_id, acs_url)
//!     .with_sample_users();
//!
//! // The SAML connection trusts the IdP's metadata, taken directly (it could
//! // also be fetched from `idp.metadata_url()`).
//! let settings = SamlSettings::from_metadata(
//!     &idp.metadata_xml(),
//!     SamlOptions::new(sp_entity_id, AttributeMapping::preset(Preset::Generic)),
//! )?;
//! # let _ = settings;
//!
//! let app = Router::new()
//!     // .route("/sso/saml/acs", post(your_acs)) and the rest of your app…
//!     .nest("/dev/saml", idp.router());
//! // A router with state (`Router<AppState>`) uses
//! // `.nest_service("/dev/saml", idp.router())` instead.
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! # Using it in tests
//!
//! [`DevSamlIdp::spawn_local`] serves an IdP on an ephemeral port and hands
//! you the base URL first, so that the entity ID and SSO URL are real
//! addresses. [`DevSamlIdp::sign_in`] plays the browser: given the
//! AuthnRequest your SP sent the browser with, it returns what the IdP's
//! form posts to your ACS ([`AcsPost`]).
//!
//! ```
//! use std::time::SystemTime;
//! use ssokit::saml::{authn, validate_response, AttributeMapping, Preset, SamlOptions, SamlSettings};
//! use ssokit::testkit::saml::{DevSamlIdp, SamlFault, SamlUser};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (sp, acs) = ("https://app.test/saml", "https://app.test/saml/acs");
//! let running = DevSamlIdp::spawn_local(|base| {
//!     DevSamlIdp::new(base.join("dev/saml").expect("a valid path"))
//!         .with_sp(sp, acs)
//!         .with_user(SamlUser::new("alice").with_groups(["admins"]))
//! })
//! .await?;
//! let idp = running.idp();
//! let settings = SamlSettings::from_metadata(
//!     &reqwest::get(idp.metadata_url().clone()).await?.text().await?,
//!     SamlOptions::new(sp, AttributeMapping::preset(Preset::Generic)),
//! )?;
//!
//! // Your SP builds the AuthnRequest (here with ssokit's own builder)…
//! let id = authn::new_request_id();
//! let request = authn::AuthnRequest {
//!     id: &id,
//!     issue_instant: SystemTime::now(),
//!     destination: settings.sso_url().as_str(),
//!     acs_url: acs,
//!     sp_entity_id: sp,
//!     name_id_format: None,
//!     force_authn: false,
//! };
//! let redirect = authn::redirect_url(settings.sso_url(), &request.to_xml(), "handle", None)?;
//!
//! // …the user signs in as alice, and the browser posts the Response back.
//! let post = idp.sign_in(&redirect, "alice")?;
//! assert_eq!(post.url.as_str(), acs);
//! assert_eq!(post.relay_state.as_deref(), Some("handle"));
//! let assertion = validate_response(
//!     &post.saml_response,
//!     &settings.expectations(acs, Some(id.as_str())),
//!     SystemTime::now(),
//! )?;
//! assert_eq!(assertion.name_id.value, "dev|alice");
//! assert_eq!(assertion.attributes["groups"], ["admins"]);
//!
//! // From now on the IdP signs with a key its metadata does not publish:
//! // your SP must refuse the Response.
//! idp.set_fault(SamlFault::SignWithUnknownKey, true);
//! let post = idp.sign_in(&redirect, "alice")?;
//! let refused = validate_response(
//!     &post.saml_response,
//!     &settings.expectations(acs, Some(id.as_str())),
//!     SystemTime::now(),
//! );
//! assert_eq!(refused.unwrap_err().code(), "signature.invalid");
//! # Ok(()) }
//! ```
//!
//! # Knobs for tests
//!
//! - [`SamlFault`] switches ([`DevSamlIdp::set_fault`]): unsigned, expired,
//!   mis-addressed, tampered, SHA-1 or foreign-key signed assertions,
//!   failure status and unsolicited responses.
//! - [`DevSamlIdp::idp_initiated`]: an unsolicited (IdP-initiated) Response.
//! - Time: [`DevSamlIdp::set_time_offset`] moves the IdP's clock.
//! - Counters: [`DevSamlIdp::request_counts`].
//! - [`DevSamlIdp::last_authn_request`]: what the SP sent.
//! - [`DevSamlIdp::set_auto_login`] skips the sign-in page.
//! - [`DevSamlIdp::with_attribute_names`]: attribute names of another
//!   preset ([`SamlAttributeNames::for_preset`]).

mod endpoints;
mod idp;
mod page;
mod request;
mod response;
mod server;
mod sign;

#[cfg(test)]
mod tests;

pub use idp::{
    AcsPost, AuthnRequestInfo, DevSamlIdp, SamlAttributeNames, SamlFault, SamlFaults,
    SamlRequestCounts, SamlRequestRejected, SamlUser, SsoRequest,
};
pub use request::SamlBinding;
pub use server::RunningSamlIdp;
