//! The store of user-defined mixins and their associations (SQLite by
//! default, PostgreSQL for replicas). (Filled in by the OCCI-service issue.)

use serde::Deserialize;

/// The `[store]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (default `sqlite://snf-occi.db`) or `postgres://...`.
    #[serde(default = "default_url")]
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { url: default_url() }
    }
}

fn default_url() -> String {
    "sqlite://snf-occi.db?mode=rwc".to_string()
}
