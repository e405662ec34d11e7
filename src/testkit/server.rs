//! Serving a [`DevProvider`] on its own TCP listener.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::provider::DevProvider;

impl DevProvider {
    /// Serves the provider on the address of its issuer (for example
    /// `127.0.0.1:3000` for `http://127.0.0.1:3000/dev/idp`), with the
    /// endpoints under the issuer's path.
    ///
    /// For a test on an ephemeral port, use
    /// [`spawn_local`](Self::spawn_local) instead: the issuer must contain
    /// the real port, which is only known after binding.
    ///
    /// # Errors
    /// If the issuer has no explicit or default port, names port 0, or the
    /// address cannot be bound.
    ///
    /// # Panics
    /// If called outside a Tokio runtime.
    pub async fn spawn(self) -> io::Result<RunningProvider> {
        if self.issuer().port() == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the issuer names port 0; use DevProvider::spawn_local for an ephemeral port",
            ));
        }
        let addrs = self.issuer().socket_addrs(|| None)?;
        let listener = TcpListener::bind(addrs.as_slice()).await?;
        self.serve(listener)
    }

    /// Binds `127.0.0.1` on an ephemeral port, calls `configure` with the
    /// base URL `http://127.0.0.1:{port}/`, and serves the provider it
    /// returns. The provider's issuer may be that URL or any URL under it
    /// (for example `base.join("tenant-a")`); the endpoints are served under
    /// the issuer's path.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// use ssokit::testkit::DevProvider;
    ///
    /// let idp = DevProvider::spawn_local(|base| {
    ///     DevProvider::new(base).with_client("app", "secret", &["http://127.0.0.1:8080/cb"])
    /// })
    /// .await?;
    /// println!("issuer: {}", idp.issuer());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// If binding fails, or the returned provider's issuer is not on the
    /// bound origin (`InvalidInput`).
    ///
    /// # Panics
    /// If called outside a Tokio runtime.
    pub async fn spawn_local<F>(configure: F) -> io::Result<RunningProvider>
    where
        F: FnOnce(Url) -> DevProvider,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/"))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let provider = configure(base.clone());
        if provider.issuer().origin() != base.origin() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the provider's issuer {} is not on the bound origin {}",
                    provider.issuer(),
                    base.origin().ascii_serialization()
                ),
            ));
        }
        provider.serve(listener)
    }

    /// Serves the provider on a listener the caller has bound, with the
    /// endpoints under the issuer's path. The issuer should name the
    /// listener's address: it is what the provider tells clients to call.
    ///
    /// # Errors
    /// If the listener's local address cannot be read.
    ///
    /// # Panics
    /// If called outside a Tokio runtime.
    pub fn serve(self, listener: TcpListener) -> io::Result<RunningProvider> {
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
        tracing::debug!(issuer = %self.issuer(), %local_addr, "dev provider listening");
        Ok(RunningProvider {
            provider: self,
            local_addr,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

/// A [`DevProvider`] being served on a TCP listener, as returned by
/// [`DevProvider::spawn`], [`DevProvider::spawn_local`] and
/// [`DevProvider::serve`].
///
/// Dropping it stops the server (it stops accepting at once and finishes
/// in-flight requests in the background); [`shutdown`](Self::shutdown) also
/// waits for that to complete.
#[derive(Debug)]
pub struct RunningProvider {
    provider: DevProvider,
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningProvider {
    /// The provider being served: a handle sharing its state, for switching
    /// faults, rotating keys or reading counters.
    pub fn provider(&self) -> &DevProvider {
        &self.provider
    }

    /// The provider's issuer identifier.
    pub fn issuer(&self) -> &Url {
        self.provider.issuer()
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

impl Drop for RunningProvider {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
