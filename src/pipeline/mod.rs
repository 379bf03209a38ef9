//! The paste-deploy analogue: named filter factories, assembled in the
//! order `snf-occi.pipeline.toml` lists them, in front of an app.
//!
//! - [`registry`]: [`Registry`] maps factory names to [`FilterFactory`]s
//!   and [`AppFactory`]s; embedders add their own.
//! - [`context`]: [`BuildContext`], what every factory gets (paste's
//!   `global_conf`): the whole config, the public URL, the one transport
//!   and the one Synnefo client, the embedded simulator's URLs.
//! - [`assembly`]: [`Pipeline`] (the configured filters, a
//!   `tower::Layer`) and the always-on edge.
//! - [`urlmap`]: paste's `composite:urlmap`, apps mounted at path prefixes.
//! - [`occi_app`]: the `occi` app factory (the OCCI app from `[app.occi]`).
//! - [`builtins`]: one line per built-in factory.
//!
//! Building from a TOML string:
//!
//! ```
//! use std::sync::Arc;
//! use snf_occi::config::Config;
//! use snf_occi::pipeline::{BuildContext, Registry};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let config = Config::from_toml_str(r#"
//!     [pipeline]
//!     filters = ["request_log", "short"]
//!     app = "echo"
//!     [filter.short]
//!     use = "timeout"
//!     timeout = "5s"
//! "#).unwrap();
//! let ctx = BuildContext::new(Arc::new(config)).unwrap();
//! let service = Registry::with_builtins().build_service(&ctx).await.unwrap();
//! let res = service.oneshot(http::Request::new(snf_occi::middleware::Body::empty())).await.unwrap();
//! assert_eq!(res.status(), 200);
//! assert!(res.headers()["server"].to_str().unwrap().starts_with("snf-occi/"));
//! # });
//! ```

pub mod apps;
pub mod assembly;
pub mod auth_backends;
pub mod auth_filters;
pub mod builtins;
pub mod context;
pub mod error;
pub mod filters;
pub mod keystone_facade;
pub mod occi_app;
pub mod ops;
pub mod registry;
pub mod urlmap;

pub use assembly::{EdgeLayer, Pipeline, SERVER_HEADER, boxed};
pub use context::{BuildContext, SimulatorUrls};
pub use error::{BuildError, BuildErrors};
pub use registry::{AppFactory, FactoryTable, FilterFactory, Registry};
pub use urlmap::UrlMap;

/// The configuration guide's Rust examples (a custom factory, embedding
/// without a file), compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../../docs/configuration.md")]
pub struct ConfigurationDoctests;
