//! Configuration errors, each naming where the value came from (file or
//! environment variable), its key path and the reason.

use std::fmt;

use figment::{Figment, Metadata, Source};

/// The figment a [`Config`](super::Config) was read from: kept so that errors found later
/// (in a filter's table) can still name the file or variable.
#[derive(Clone, Default)]
pub struct Sources(pub Figment);

impl fmt::Debug for Sources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sources(..)")
    }
}

impl Sources {
    /// Where the value at `key` (`filter.keystone.cache_ttl`) came from.
    pub fn origin_of(&self, key: &str) -> String {
        // Walk up the path: an unknown key has no metadata of its own but
        // its table has.
        let mut key = key;
        loop {
            if let Some(meta) = self.0.find_metadata(key) {
                return describe(meta);
            }
            match key.rfind('.') {
                Some(i) => key = &key[..i],
                None => return "configuration".to_string(),
            }
        }
    }
}

pub(super) fn describe(meta: &Metadata) -> String {
    match &meta.source {
        Some(Source::File(path)) => path.display().to_string(),
        _ => meta.name.to_string(),
    }
}

/// One configuration mistake: where, which key, what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{reason}", if key.is_empty() { String::new() } else { format!("`{key}`: ") })]
pub struct ConfigError {
    /// The file or environment variable(s) the value came from.
    pub origin: String,
    /// The dotted key path, e.g. `server.limits.max_headers`; empty when
    /// the whole file is unusable (missing, not TOML).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

/// Every mistake found while loading a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigError {
    /// Converts every error a figment extraction reported. `prefix` is the
    /// key path of the table that was extracted (`""` for the root).
    pub fn from_figment(
        error: figment::Error,
        prefix: &str,
        sources: &Sources,
    ) -> Vec<ConfigError> {
        error
            .into_iter()
            .map(|e| {
                let mut path: Vec<String> = Vec::new();
                if !prefix.is_empty() {
                    path.push(prefix.to_string());
                }
                // figment reports the path relative to what was extracted.
                path.extend(e.path.iter().cloned());
                let reason = match &e.kind {
                    figment::error::Kind::UnknownField(field, expected) => {
                        if path.last() != Some(field) {
                            path.push(field.clone());
                        }
                        if expected.is_empty() {
                            "unknown key".to_string()
                        } else {
                            format!("unknown key, expected one of: {}", expected.join(", "))
                        }
                    }
                    figment::error::Kind::MissingField(field) => {
                        if path.last().map(String::as_str) != Some(field.as_ref()) {
                            path.push(field.to_string());
                        }
                        "missing required key".to_string()
                    }
                    other => other.to_string(),
                };
                let key = path.join(".");
                let origin = match &e.metadata {
                    Some(meta) => describe(meta),
                    None => sources.origin_of(&key),
                };
                ConfigError {
                    origin,
                    key,
                    reason,
                }
            })
            .collect()
    }
}
