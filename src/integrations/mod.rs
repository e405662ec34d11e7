//! Ready-made SSO routes for web frameworks: [`axum`] (feature
//! `axum`) and [`actix`] (feature `actix`).
//!
//! Each mounts the same endpoints over the framework-agnostic [`Sso`] API:
//!
//! | route | what it does |
//! |---|---|
//! | `POST /login` | form `email` (or `connection`), optional `return_to`: 303 to the IdP with the flow cookie, or a connection chooser |
//! | `GET /sso/oidc/callback` | the OIDC redirect URI ([`SsoConfig::oidc_callback_path`](crate::SsoConfig)): signs in, offers a link, or refuses |
//! | `POST /link/choose` | the link offer's form: `offer`, `choice=link` (or `new`) |
//! | `GET /link/confirm?token=…` | the mailed link ([`SsoConfig::link_confirm_path`](crate::SsoConfig)): links and signs in |
//! | `POST /sso/saml/acs` | feature `saml`: the SAML assertion consumer service (HTTP-POST binding) |
//! | `GET /sso/saml/metadata?connection=ID` | feature `saml`: this application's SP metadata for a connection ([`Sso::saml_metadata`]) |
//! | `/scim/v2/…` | feature `scim`: forwarded to [`SsoRoutes::scim`] |
//!
//! Your application keeps its sessions and pages. It answers one small
//! trait, [`SsoHost`]: store a new session for a signed-in user, and
//! (optionally) render the few pages SSO needs ([`Page`]) in your own look.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn setup(sso: ssokit::Sso) -> std::io::Result<()> {
//! use ssokit::integrations::{NewSession, SsoHost, SsoRoutes};
//!
//! struct App; // your session store, database, …
//!
//! impl SsoHost for App {
//!     async fn start_session(&self, s: NewSession<'_>) -> Result<(), ssokit::Error> {
//!         // Store a hash of s.id → s.signed_in.user.id; end s.previous if any.
//!         Ok(())
//!     }
//! }
//!
//! let app = axum::Router::new()
//!     // .route("/", get(home)) and the rest of your application…
//!     .merge(ssokit::integrations::axum::router(SsoRoutes::new(sso, App)));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! # What the routes guarantee
//!
//! - Cookies are `HttpOnly; SameSite=Lax; Path=/`, and `Secure` when
//!   [`SsoConfig::public_url`](crate::SsoConfig) is https.
//! - After every sign-in the session id is **new** (256 random bits, made
//!   here, never taken from the request), so a session id planted before the
//!   login is worthless; the flow cookie is cleared.
//! - SSO responses are `Cache-Control: no-store` and `Referrer-Policy:
//!   no-referrer` (codes, offers and link tokens never leak to caches or to
//!   the next site), and pages cannot be framed (`frame-ancestors 'none'`).
//! - Form bodies are capped (16 KiB; SAML 256 KiB; SCIM 1 MiB), and errors
//!   answer with [`Error::status`] and a page showing the trace id, never a
//!   secret or an internal detail (5xx pages are generic).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::flow::{ConnectionChoice, SignedIn};
use crate::policy::DenyReason;
use crate::{Error, Sso};

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;

mod endpoints;
mod pages;

/// The host application's side of the routes: sessions, and optionally the
/// look of the pages.
///
/// Implement [`start_session`](Self::start_session) with `async fn`.
pub trait SsoHost: Send + Sync + 'static {
    /// Stores a new session for a signed-in user. The routes then set the
    /// session cookie ([`session_cookie`](Self::session_cookie)) to
    /// [`NewSession::id`] and redirect to the validated `return_to`.
    ///
    /// Store a hash of the id (for example
    /// [`sha256_hex`](crate::secret::sha256_hex)), not the id itself. An
    /// error is shown as an error page with its [`Error::status`]; use
    /// [`HookError`](crate::error::HookError) for your own failures.
    fn start_session(
        &self,
        session: NewSession<'_>,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// The session cookie's name. Default `session`.
    fn session_cookie(&self) -> &str {
        "session"
    }

    /// The session cookie's lifetime. Default 8 hours.
    fn session_max_age(&self) -> Duration {
        Duration::from_secs(8 * 3600)
    }

    /// Renders one of the pages the routes show, as a complete HTML
    /// document. Default: [`Page::default_html`], a plain, accessible page.
    /// Everything you echo must be HTML-escaped.
    fn render(&self, page: &Page<'_>) -> String {
        page.default_html()
    }
}

/// A session to start, given to [`SsoHost::start_session`].
#[derive(Debug)]
#[non_exhaustive]
pub struct NewSession<'a> {
    /// The new session id: 256 random bits (base64url), made for this
    /// sign-in. It becomes the session cookie's value.
    pub id: &'a str,
    /// The session cookie the browser sent with this request, if any: a
    /// session from before the login, which you should end.
    pub previous: Option<&'a str>,
    /// Who signed in, through which identity, and where to go next.
    pub signed_in: &'a SignedIn,
}

/// A page the routes show. [`SsoHost::render`] turns it into HTML.
#[derive(Debug)]
#[non_exhaustive]
pub enum Page<'a> {
    /// The sign-in form, shown again when `POST /login` cannot begin (an
    /// unknown domain, a personal address…). Use it for your own login page
    /// too: a form posting `email` (and a hidden `return_to`) to `/login`.
    Login {
        /// Why the last attempt failed.
        error: Option<&'a str>,
        /// What the user typed, to fill in again.
        email: Option<&'a str>,
        /// Where to go after signing in (a hidden field).
        return_to: Option<&'a str>,
    },
    /// Several connections match: each is a form posting `connection` (and
    /// `return_to`) to `/login`.
    Choose {
        /// The candidates.
        connections: &'a [ConnectionChoice],
        /// Where to go after signing in.
        return_to: Option<&'a str>,
    },
    /// An account with the identity's e-mail exists: a form posting the
    /// hidden `offer` and `choice=link` (or `choice=new`) to `/link/choose`.
    LinkOffer {
        /// The offer handle (a secret: only in a hidden field).
        offer: &'a str,
        /// The existing account's address, masked.
        masked_email: &'a str,
        /// Whether "create a new account instead" may be offered.
        allow_new_account: bool,
    },
    /// The confirmation link was mailed.
    LinkMailed {
        /// The address, masked.
        masked_email: &'a str,
        /// How long the link is valid.
        valid_for_secs: u64,
    },
    /// The IdP vouched for the user, but the application refuses (HTTP 403).
    Denied {
        /// Why ([`DenyReason::message`] is a sentence for the user).
        reason: &'a DenyReason,
        /// The login's trace id, to quote to support.
        trace_id: &'a str,
    },
    /// The request failed ([`Error`]): bad input, a replayed or expired
    /// callback, an IdP failure, …
    Error {
        /// The HTTP status of the response.
        status: u16,
        /// A sentence for the user. For 5xx it is generic: internal details
        /// stay in the events and logs.
        message: &'a str,
        /// The trace id, when the failure happened inside a login.
        trace_id: Option<&'a str>,
    },
}

impl Page<'_> {
    /// ssokit's own rendering of the page: a small, self-contained HTML
    /// document with everything echoed escaped.
    pub fn default_html(&self) -> String {
        pages::render(self)
    }
}

#[cfg(any(feature = "saml", feature = "scim"))]
type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;
#[cfg(feature = "saml")]
type MetadataFn =
    Arc<dyn Fn(Sso, crate::ConnectionId) -> BoxFuture<Result<String, Error>> + Send + Sync>;
#[cfg(feature = "scim")]
type ScimFn =
    Arc<dyn Fn(http::Request<Vec<u8>>) -> BoxFuture<http::Response<Vec<u8>>> + Send + Sync>;

/// The SSO routes of one application: an [`Sso`], the host, and the
/// optional SAML-metadata and SCIM handlers. Cheap to clone.
///
/// Mount it with [`axum::router`] or [`actix::configure`].
pub struct SsoRoutes<H> {
    sso: Sso,
    host: Arc<H>,
    #[cfg(feature = "saml")]
    saml_metadata: Option<MetadataFn>,
    #[cfg(feature = "scim")]
    scim: Option<ScimFn>,
}

impl<H> Clone for SsoRoutes<H> {
    fn clone(&self) -> Self {
        Self {
            sso: self.sso.clone(),
            host: self.host.clone(),
            #[cfg(feature = "saml")]
            saml_metadata: self.saml_metadata.clone(),
            #[cfg(feature = "scim")]
            scim: self.scim.clone(),
        }
    }
}

impl<H> fmt::Debug for SsoRoutes<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoRoutes")
            .field("sso", &self.sso)
            .finish_non_exhaustive()
    }
}

impl<H: SsoHost> SsoRoutes<H> {
    /// The routes for `sso`, answering to `host`.
    pub fn new(sso: Sso, host: H) -> Self {
        Self::with_shared_host(sso, Arc::new(host))
    }

    /// Like [`new`](Self::new), with a host the application shares.
    pub fn with_shared_host(sso: Sso, host: Arc<H>) -> Self {
        Self {
            sso,
            host,
            #[cfg(feature = "saml")]
            saml_metadata: None,
            #[cfg(feature = "scim")]
            scim: None,
        }
    }

    /// The [`Sso`] instance.
    pub fn sso(&self) -> &Sso {
        &self.sso
    }

    /// The host.
    pub fn host(&self) -> &Arc<H> {
        &self.host
    }

    /// Replaces what `GET /sso/saml/metadata?connection=ID` serves
    /// (`application/samlmetadata+xml`; default: [`Sso::saml_metadata`]),
    /// for example to add organisation and contact details.
    ///
    /// ```ignore
    /// routes.saml_metadata(|sso, id| async move { add_contacts(sso.saml_metadata(&id).await?) })
    /// ```
    #[cfg(feature = "saml")]
    #[must_use]
    pub fn saml_metadata<F, Fut>(mut self, metadata: F) -> Self
    where
        F: Fn(Sso, crate::ConnectionId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, Error>> + Send + 'static,
    {
        self.saml_metadata = Some(Arc::new(move |sso, id| Box::pin(metadata(sso, id))));
        self
    }

    /// Forwards every request under `/scim/v2` (method, full URI, headers and
    /// body, up to 1 MiB) to `service`, and answers with its response. The
    /// SCIM service authenticates the request itself (bearer token per
    /// tenant). Without it, those routes are not mounted.
    #[cfg(feature = "scim")]
    #[must_use]
    pub fn scim<F, Fut>(mut self, service: F) -> Self
    where
        F: Fn(http::Request<Vec<u8>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = http::Response<Vec<u8>>> + Send + 'static,
    {
        self.scim = Some(Arc::new(move |req| Box::pin(service(req))));
        self
    }

    /// A `Set-Cookie` value that ends the host's session cookie (for a
    /// logout route).
    pub fn clear_session_cookie(&self) -> String {
        self.cookie(self.host.session_cookie(), "", 0)
    }
}

/// The value of cookie `name` in `Cookie` header values (the first one, if
/// the browser sent several).
pub fn cookie_value<'a, I>(cookie_headers: I, name: &str) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    cookie_headers
        .into_iter()
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}
