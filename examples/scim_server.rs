//! A tiny SCIM 2.0 server: ssokit's [`ScimService`] mounted at `/scim/v2` in
//! axum, over an in-memory directory. It is what
//! `tests/interop/scim2-tester/run.sh` tests, and a template for mounting
//! the handler in a host application.
//!
//! ```text
//! SCIM_TOKEN=$(openssl rand -hex 32) PORT=3300 cargo run --features scim --example scim_server
//! curl -H "Authorization: Bearer $SCIM_TOKEN" http://127.0.0.1:3300/scim/v2/Users
//! ```
//!
//! The token (at least 32 characters) is registered for the tenant `demo`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use ssokit::TenantId;
use ssokit::scim::{MemoryRevoker, MemoryScimDirectory, RateLimit, ScimConfig, ScimService};
use ssokit::secret::SecretString;

/// Where the handler is mounted.
const MOUNT: &str = "/scim/v2";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("scim_server: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let token = std::env::var("SCIM_TOKEN")
        .map_err(|_| "set SCIM_TOKEN (at least 32 characters)".to_owned())?;
    let port: u16 = std::env::var("PORT")
        .unwrap_or_else(|_| "3300".to_owned())
        .parse()
        .map_err(|_| "PORT must be a port number".to_owned())?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    let mut config = ScimConfig::new(format!("http://{addr}{MOUNT}"));
    // scim2-tester sends a few hundred requests in a couple of seconds.
    config.rate_limit = Some(RateLimit {
        per_second: 1000.0,
        burst: 2000.0,
    });
    let scim = ScimService::builder(config)
        .directory(Arc::new(MemoryScimDirectory::new()))
        .revoker(Arc::new(MemoryRevoker::new()))
        .build()
        .map_err(|e| e.to_string())?;
    scim.tokens()
        .register(
            &TenantId::new("demo"),
            None,
            "SCIM_TOKEN",
            &SecretString::new(token),
            SystemTime::now(),
        )
        .await
        .map_err(|e| e.to_string())?;

    let app = router(scim);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("SCIM server on http://{addr}{MOUNT}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

/// `/scim/v2` and everything below it go to the SCIM handler.
pub(crate) fn router(scim: ScimService) -> Router {
    Router::new()
        .route(MOUNT, any(scim_handler))
        .route(&format!("{MOUNT}/{{*rest}}"), any(scim_handler))
        .with_state(scim)
}

/// Rebuilds the request with the path relative to the mount point, reads the
/// body (with one byte more than the limit, so the service answers 413 with a
/// SCIM error), and hands it to [`ScimService::handle`].
pub(crate) async fn scim_handler(State(scim): State<ScimService>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let limit = 1024 * 1024 + 1;
    let Ok(bytes) = to_bytes(body, limit).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let rest = parts.uri.path().strip_prefix(MOUNT).unwrap_or("/");
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    let mut builder = http::Request::builder()
        .method(parts.method)
        .uri(path_and_query);
    if let Some(h) = builder.headers_mut() {
        *h = parts.headers;
    }
    let Ok(inner) = builder.body(bytes.to_vec()) else {
        return (StatusCode::BAD_REQUEST, "bad request").into_response();
    };
    scim.handle(inner, SystemTime::now()).await.map(Body::from)
}
