//! snf-occi: an OCCI 1.2 (and 1.1) server for Synnefo clouds.
//!
//! The crate is organised as DESIGN.md describes: the pure OCCI model
//! ([`occi`]) knows nothing of HTTP clients, the Synnefo client
//! ([`synnefo`]) knows nothing of OCCI, and the mapping between them lives
//! in [`app`], one collection per file. [`pipeline`] assembles the
//! configured Tower layers around the app, and [`server`] serves them.
//!
//! The Synnefo simulator that `cargo run` serves on is a crate of its own
//! (`snf-occi-simulator`, in `simulator/`): no module here imports it;
//! only the binary starts it, behind the default `simulator` feature.

pub mod app;
pub mod config;
pub mod occi;
pub mod pipeline;
pub mod server;
pub mod store;
pub mod synnefo;

pub use snf_occi_middleware as middleware;
