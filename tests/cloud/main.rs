//! OCCI scenarios written once and run against either Synnefo: the
//! embedded simulator by default, or a real one (GRNET's Synnefo code in
//! `tools/real-synnefo` in CI) when `SNF_OCCI_TEST_SYNNEFO_URL` and
//! `SNF_OCCI_TEST_SYNNEFO_TOKENS` are set (see `cloud/support.rs`).
//!
//! Each scenario goes through the gateway's HTTP interface only, as a
//! client would; what needs the simulator's insides (call counters,
//! injected faults) is tested in the other suites.

mod support;

mod compute;
mod errors;
mod links;
mod mixins;
mod network;
mod storage;
mod templates;
