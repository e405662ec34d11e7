//! Serving a [`DevSamlIdp`] on its own TCP listener.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::idp::DevSamlIdp;

impl DevSamlIdp {
    /// Serves the IdP on the address of its base URL (for example
    /// `127.0.0.1:3000` for `http://127.0.0.1:3000/dev/saml`), with the
    /// endpoints under the base URL's path.
    ///
    /// For a test on an ephemeral port, use
    /// [`spawn_local`](Self::spawn_local) instead: the entity ID must contain
    /// the real port, which is only known after binding.
    ///
    /// # Errors
    /// If the base URL has no explicit or default port, names port 0, or the
    /// address cannot be bound.
    ///
    /// # Panics
    /// If called outside a Tokio runtime.
    pub async fn spawn(self) -> io::Result<RunningSamlIdp> {
        if self.base_url().port() == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the base URL names port 0; use DevSamlIdp::spawn_local for an ephemeral port",
            ));
        }
        let addrs = self.base_url().socket_addrs(|| None)?;
        let listener = TcpListener::bind(addrs.as_slice()).await?;
        self.serve(listener)
    }

    /// Binds `127.0.0.1` on an ephemeral port, calls `configure` with the
    /// base URL `http://127.0.0.1:{port}/`, and serves the IdP it returns.
    /// The IdP's base URL may be that URL or any URL under it (for example
    /// `base.join("dev/saml")`); the endpoints are served under its path.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// use ssokit::testkit::saml::DevSamlIdp;
    ///
    /// let idp = DevSamlIdp::spawn_local(|base| {
    ///     DevSamlIdp::new(base).with_sp("http://127.0.0.1:8080/sp", "http://127.0.0.1:8080/acs")
    /// })
    /// .await?;
    /// println!("metadata: {}", idp.metadata_url());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// If binding fails, or the returned IdP's base URL is not on the bound
    /// origin (`InvalidInput`).
    ///
    /// # Panics
    /// If called outside a Tokio runtime.
    pub async fn spawn_local<F>(configure: F) -> io::Result<RunningSamlIdp>
    where
        F: FnOnce(Url) -> DevSamlIdp,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/"))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let idp = configure(base.clone());
        if idp.base_url().origin() != base.origin() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the IdP's base URL {} is not on the bound origin {}",
                    idp.base_url(),
                    base.origin().ascii_serialization()
                ),
            ));
        }
        idp.serve(listener)
    }

    /// Serves the IdP on a listener the caller has bound, with the endpoints
    /// under the base URL's path. The base URL should name the listener's
    /// address: it is what the metadata tells service providers to call.
    ///
    /// # Errors
    /// If the listener's local address cannot be read.
    ///
    /// # Panics
    /// If called outside a Tokio runtime.
    pub fn serve(self, listener: TcpListener) -> io::Result<RunningSamlIdp> {
        let local_addr = listener.local_addr()?;
        let app = self.mounted_router();
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    // A dropped sender also means "stop".
                    let _ = signal.await;
                })
                .await
        });
        tracing::debug!(entity_id = %self.entity_id(), %local_addr, "dev SAML IdP listening");
        Ok(RunningSamlIdp {
            idp: self,
            local_addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

/// A [`DevSamlIdp`] being served on a TCP listener, as returned by
/// [`DevSamlIdp::spawn`], [`DevSamlIdp::spawn_local`] and
/// [`DevSamlIdp::serve`].
///
/// Dropping it stops the server (it stops accepting at once and finishes
/// in-flight requests in the background); [`shutdown`](Self::shutdown) also
/// waits for that to complete.
#[derive(Debug)]
pub struct RunningSamlIdp {
    idp: DevSamlIdp,
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningSamlIdp {
    /// The IdP being served: a handle sharing its state, for switching
    /// faults or reading counters.
    pub fn idp(&self) -> &DevSamlIdp {
        &self.idp
    }

    /// The IdP's entity ID.
    pub fn entity_id(&self) -> &str {
        self.idp.entity_id()
    }

    /// Where the IdP's metadata is served.
    pub fn metadata_url(&self) -> &Url {
        self.idp.metadata_url()
    }

    /// The origin the server listens on, as a URL (`http://127.0.0.1:{port}/`).
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://{}/", self.local_addr))
            .expect("a socket address is a valid URL host")
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the server and waits until in-flight requests have finished
    /// and the listener is closed.
    ///
    /// # Errors
    /// If the server failed, or its task panicked or was cancelled.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningSamlIdp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
