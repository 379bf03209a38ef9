//! Keys that moved: a configuration written for an older snf-occi names
//! them where they were, and gets an error naming where they are now
//! (`app.occi.identity_url` moved to `synnefo.identity_url`), never a
//! silent default or a bare "unknown key".
//!
//! How the gateway reaches Synnefo used to be written in several tables
//! (the identity URL in `[app.occi]`, `[app.readyz]`,
//! `[app.keystone_facade]` and each `keystone_auth` filter; timeouts and
//! retries in `[app.occi]`; the pool in `[backend]`); it is one
//! `[synnefo]` table now.

use figment::value::Dict;

use super::{ConfigError, Sources};

/// `(factory, old key, new key)` of the `[filter.NAME]` and `[app.NAME]`
/// tables, by the factory that reads them (a table's `use`, else its
/// name).
const MOVED_FROM_INSTANCES: &[(Kind, &str, &str, &str)] = &[
    (Kind::App, "occi", "identity_url", "synnefo.identity_url"),
    (Kind::App, "occi", "compute_url", "synnefo.compute_url"),
    (Kind::App, "occi", "network_url", "synnefo.network_url"),
    (Kind::App, "occi", "volume_url", "synnefo.volume_url"),
    (Kind::App, "occi", "image_url", "synnefo.image_url"),
    (Kind::App, "occi", "timeout", "synnefo.timeout"),
    (Kind::App, "occi", "read_retries", "synnefo.read_retries"),
    (Kind::App, "occi", "retry_jitter", "synnefo.retry_jitter"),
    (Kind::App, "readyz", "identity_url", "synnefo.identity_url"),
    (Kind::App, "readyz", "compute_url", "synnefo.compute_url"),
    (
        Kind::App,
        "keystone_facade",
        "identity_url",
        "synnefo.identity_url",
    ),
    (
        Kind::App,
        "keystone_facade",
        "timeout",
        "synnefo.identity_timeout",
    ),
    (
        Kind::Filter,
        "keystone_auth",
        "identity_url",
        "synnefo.identity_url",
    ),
    (
        Kind::Filter,
        "keystone_auth",
        "timeout",
        "synnefo.identity_timeout",
    ),
];

/// The keys of the old `[backend]` table: each is the `[synnefo]` key of
/// the same name now.
const BACKEND_KEYS: &[&str] = &[
    "pool_max_idle_per_host",
    "pool_idle_timeout",
    "connect_timeout",
    "max_listing_bytes",
    "max_answer_bytes_in_flight",
    "ca_file",
];

/// Which kind of instance table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `[filter.NAME]`.
    Filter,
    /// `[app.NAME]`.
    App,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::App => "app",
        }
    }
}

fn moved(origin: String, key: String, to: &str) -> ConfigError {
    ConfigError {
        origin,
        key,
        reason: format!("moved to `{to}`"),
    }
}

/// Reports every moved key of the `[filter.NAME]` or `[app.NAME]`
/// tables and takes it out of its table, so that the factory that reads
/// the table does not report it again as unknown.
pub(super) fn take_moved_instance_keys(
    kind: Kind,
    tables: &mut std::collections::BTreeMap<String, Dict>,
    sources: &Sources,
) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    for (name, table) in tables.iter_mut() {
        let factory = table
            .get("use")
            .and_then(|v| v.as_str())
            .unwrap_or(name)
            .to_owned();
        for (_, _, old, new) in MOVED_FROM_INSTANCES
            .iter()
            .filter(|(k, f, _, _)| *k == kind && *f == factory)
        {
            if table.remove(*old).is_some() {
                let key = format!("{}.{name}.{old}", kind.table());
                errors.push(moved(sources.origin_of(&key), key, new));
            }
        }
    }
    errors
}

/// Reports every key of an old `[backend]` table.
pub(super) fn backend_table(backend: &Dict, sources: &Sources) -> Vec<ConfigError> {
    if backend.is_empty() {
        return vec![moved(
            sources.origin_of("backend"),
            "backend".into(),
            "synnefo",
        )];
    }
    backend
        .keys()
        .map(|old| {
            let key = format!("backend.{old}");
            let origin = sources.origin_of(&key);
            if BACKEND_KEYS.contains(&old.as_str()) {
                moved(origin, key, &format!("synnefo.{old}"))
            } else {
                ConfigError {
                    origin,
                    key,
                    reason: "the `[backend]` table moved to `[synnefo]` (and has no such key)"
                        .to_owned(),
                }
            }
        })
        .collect()
}
