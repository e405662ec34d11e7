//! The ssokit demo: a small B2B application with single sign-on.
//!
//! ```text
//! cargo run --example demo            # http://127.0.0.1:3000, embedded defaults
//! SSOKIT_DEMO_ADDR=127.0.0.1:8080 cargo run --example demo
//! SSOKIT_DEMO_CONFIG=demo.toml cargo run --example demo
//! ```
//!
//! Without configuration it runs a development OpenID provider in the same
//! process (at `/dev/idp`), one tenant `acme` (domain `acme.test`) and a few
//! local users: Ann (`ann@acme.test`), two Bobs sharing `bob@acme.test`, and
//! Carol, who is disabled. Sign in as `ann@acme.test` to see account linking
//! (the confirmation mail is printed and listed at `/dev/outbox`), as
//! `dave@acme.test` for just-in-time provisioning, as `bob@acme.test` for the
//! duplicate-e-mail refusal.

mod admin;
mod app;
mod config;
mod db;
mod pages;
mod scim;
mod scim_sql;

use std::net::SocketAddr;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("ssokit demo: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let addr: SocketAddr = std::env::var("SSOKIT_DEMO_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()
        .map_err(|_| "SSOKIT_DEMO_ADDR must be an address like 127.0.0.1:3000".to_owned())?;
    let config = match std::env::var("SSOKIT_DEMO_CONFIG") {
        Ok(path) => {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
            config::DemoConfig::parse(&text).map_err(|e| format!("{path}: {e}"))?
        }
        Err(_) => config::DemoConfig::embedded(addr),
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let state = app::AppState::new(config, addr).await?;
    println!(
        "ssokit demo listening on http://{addr} (public URL {})",
        state.public_url()
    );
    axum::serve(listener, app::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}
