//! Mount the snf-occi pipeline under `/occi` of an existing axum app, next
//! to the host app's own routes; and reuse a [`Pipeline`] of typed layers
//! on the host's own routes through `Router::layer`.
//!
//! ```text
//! cargo run --example axum_mount            # listens on 127.0.0.1:3000
//! curl -i localhost:3000/                   # the host's route
//! curl -i localhost:3000/occi/compute/      # through the snf-occi pipeline
//! ```
//!
//! The pipeline here is built from an inline configuration with the `echo`
//! app; with the OCCI app registered, use `app = "occi"` (or read the file
//! with `Config::load`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use snf_occi::config::Config;
use snf_occi::middleware::error_response::OcciErrorBodyLayer;
use snf_occi::middleware::request_log::RequestLogLayer;
use snf_occi::pipeline::{BuildContext, Pipeline, Registry};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().init();

    // The snf-occi service, as `snf-occi serve` would build it.
    let config = Config::from_toml_str(
        r#"
        [pipeline]
        filters = ["request_log", "timeout"]
        app = "echo"
        [filter.timeout]
        timeout = "30s"
        "#,
    )?;
    let ctx = BuildContext::new(Arc::new(config))?;
    let occi = Registry::with_builtins().build_service(&ctx).await?;

    // Typed layers, no configuration file, on the host's own routes.
    let host_layers = Pipeline::new()
        .push("request_log", RequestLogLayer::new())
        .push(
            "timeout",
            OcciErrorBodyLayer::timeout(Duration::from_secs(5)),
        );

    let app = Router::new()
        .route("/", get(|| async { "the host application\n" }))
        .route("/status", get(|| async { "fine\n" }))
        .layer(host_layers)
        .nest_service("/occi", occi);

    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(snf_occi::server::shutdown_signal())
        .await?;
    Ok(())
}
