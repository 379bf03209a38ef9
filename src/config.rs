//! The configuration: one TOML file (`snf-occi.pipeline.toml`) plus
//! `SNF_OCCI_<TABLE>__<KEY>` environment overrides, read with figment.
//!
//! Every table denies unknown keys. Loading does not stop at the first
//! mistake: each top-level table is extracted on its own so that
//! `snf-occi check-config` can list every error at once, each naming where
//! the value came from (file or environment variable), its key path and the
//! reason.
//!
//! The `[filter.NAME]` and `[app.NAME]` tables are kept raw here: their
//! shape belongs to the factory that builds them (see
//! [`crate::pipeline`]).
//!
//! ```
//! use snf_occi::config::Config;
//!
//! let config = Config::from_toml_str(r#"
//!     [server]
//!     listen = "127.0.0.1:0"
//!     [pipeline]
//!     filters = ["request_log"]
//!     app = "echo"
//! "#).unwrap();
//! assert_eq!(config.pipeline.filters, ["request_log"]);
//! assert_eq!(config.server.limits.max_headers, 100);
//! ```

mod error;
mod moved;
mod server;

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use figment::value::Dict;
use serde::{Deserialize, Serialize};

pub use error::{ConfigError, ConfigErrors, Sources};
pub use server::{ClientAuth, LimitsConfig, ServerConfig, TlsConfig};

use crate::store::StoreConfig;
use crate::synnefo::SynnefoConfig;

/// The default configuration file, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "snf-occi.pipeline.toml";
/// The prefix of environment overrides (`SNF_OCCI_SERVER__LISTEN=...`).
pub const ENV_PREFIX: &str = "SNF_OCCI_";

/// The most worker threads `server.workers` may ask for.
pub const MAX_WORKERS: usize = 1024;
/// Environment variables under this prefix belong to the test suite
/// (`SNF_OCCI_TEST_POSTGRES_URL`), not to the configuration: they are
/// ignored, so a shell or CI job that exports one can still run the
/// server and its configuration tests.
pub const TEST_ENV_PREFIX: &str = "SNF_OCCI_TEST_";

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: listening socket, TLS, limits.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[pipeline]`: the filter instances in request order and the app.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// `[filter.NAME]`: one raw table per filter instance.
    #[serde(default)]
    pub filter: BTreeMap<String, Dict>,
    /// `[app.NAME]`: one raw table per app instance.
    #[serde(default)]
    pub app: BTreeMap<String, Dict>,
    /// `[urlmap]`: path prefix -> `"pipeline"` or an app instance name.
    #[serde(default = "default_urlmap")]
    pub urlmap: BTreeMap<String, String>,
    /// `[simulator]`: when present, `serve` runs the embedded Synnefo.
    /// Kept raw, as the filter and app tables are: its shape belongs to
    /// the simulator crate, which only the binary knows (and only when
    /// built with the `simulator` feature).
    #[serde(default)]
    pub simulator: Option<Dict>,
    /// `[store]`: the mixin store.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[log]`: log format and level.
    #[serde(default)]
    pub log: LogConfig,
    /// `[synnefo]`: how to reach Synnefo (identity URL, endpoint
    /// overrides, timeouts, retries, the connection pool): one client,
    /// shared by every factory.
    #[serde(default)]
    pub synnefo: SynnefoConfig,
    /// Where each value came from, to name the file or variable in errors.
    #[serde(skip)]
    pub sources: Sources,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            pipeline: PipelineConfig::default(),
            filter: BTreeMap::new(),
            app: BTreeMap::new(),
            urlmap: default_urlmap(),
            simulator: None,
            store: StoreConfig::default(),
            log: LogConfig::default(),
            synnefo: SynnefoConfig::default(),
            sources: Sources::default(),
        }
    }
}

/// The `[pipeline]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Filter instance names in request order (first = outermost).
    #[serde(default)]
    pub filters: Vec<String>,
    /// The app instance at the end of the pipeline.
    #[serde(default = "default_app")]
    pub app: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            filters: Vec::new(),
            app: default_app(),
        }
    }
}

/// The `[log]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive, e.g. `info,snf_occi=debug`.
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::default(),
            level: default_level(),
        }
    }
}

/// The log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn default_app() -> String {
    "occi".to_string()
}
fn default_level() -> String {
    "info".to_string()
}
/// The default `[urlmap]`: the pipeline at `/`, liveness at `/healthz`.
pub fn default_urlmap() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("/".to_string(), "pipeline".to_string()),
        ("/healthz".to_string(), "healthz".to_string()),
    ])
}

/// The top-level tables; anything else is an unknown key.
const TABLES: &[&str] = &[
    "server",
    "pipeline",
    "filter",
    "app",
    "urlmap",
    "simulator",
    "store",
    "log",
    "synnefo",
];

impl Config {
    /// The figment of a file plus the `SNF_OCCI_*` environment.
    pub fn figment(path: &Path) -> Figment {
        Figment::new().merge(Toml::file_exact(path)).merge(
            Env::prefixed(ENV_PREFIX)
                .filter(|key| {
                    !key.as_str()
                        .to_ascii_uppercase()
                        .starts_with(&TEST_ENV_PREFIX[ENV_PREFIX.len()..])
                })
                .split("__"),
        )
    }

    /// Reads `path` and the environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let (config, errors) = Config::load_partial(path);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Reads `path` and the environment, returning what could be read
    /// (defaults where a table is wrong) along with every error, so that a
    /// caller can go on to find the errors of the filters too.
    pub fn load_partial(path: &Path) -> (Config, Vec<ConfigError>) {
        if !path.is_file() {
            let error = ConfigError {
                origin: path.display().to_string(),
                key: String::new(),
                reason: "cannot read the configuration file (missing or not a file)".to_string(),
            };
            return (Config::default(), vec![error]);
        }
        Config::from_figment_partial(Config::figment(path))
    }

    /// Parses a TOML string (no environment): for tests and embedders.
    pub fn from_toml_str(toml: &str) -> Result<Config, ConfigErrors> {
        Config::from_figment(Figment::from(Toml::string(toml)))
    }

    /// Extracts every table of `figment`, collecting all the errors.
    pub fn from_figment(figment: Figment) -> Result<Config, ConfigErrors> {
        let (config, errors) = Config::from_figment_partial(figment);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// As [`Config::from_figment`], but returns the partial configuration
    /// (defaults for every table in error) with the errors.
    pub fn from_figment_partial(figment: Figment) -> (Config, Vec<ConfigError>) {
        let sources = Sources(figment.clone());
        let mut errors = Vec::new();
        let root: Dict = match figment.extract() {
            Ok(root) => root,
            Err(e) => {
                let errors = ConfigError::from_figment(e, "", &sources);
                return (
                    Config {
                        sources,
                        ..Config::default()
                    },
                    errors,
                );
            }
        };
        for key in root.keys() {
            // A table that moved is reported with its new place below.
            if !TABLES.contains(&key.as_str()) && key != "backend" {
                errors.push(ConfigError {
                    origin: sources.origin_of(key),
                    key: key.clone(),
                    reason: format!("unknown table, expected one of: {}", TABLES.join(", ")),
                });
            }
        }

        fn section<T: serde::de::DeserializeOwned + Default>(
            figment: &Figment,
            root: &Dict,
            key: &str,
            sources: &Sources,
            errors: &mut Vec<ConfigError>,
        ) -> T {
            if !root.contains_key(key) {
                return T::default();
            }
            match figment.focus(key).extract::<T>() {
                Ok(v) => v,
                Err(e) => {
                    errors.extend(ConfigError::from_figment(e, key, sources));
                    T::default()
                }
            }
        }

        let server: ServerConfig = section(&figment, &root, "server", &sources, &mut errors);
        let pipeline: PipelineConfig = section(&figment, &root, "pipeline", &sources, &mut errors);
        let mut filter: BTreeMap<String, Dict> =
            section(&figment, &root, "filter", &sources, &mut errors);
        let mut app: BTreeMap<String, Dict> =
            section(&figment, &root, "app", &sources, &mut errors);
        errors.extend(moved::take_moved_instance_keys(
            moved::Kind::Filter,
            &mut filter,
            &sources,
        ));
        errors.extend(moved::take_moved_instance_keys(
            moved::Kind::App,
            &mut app,
            &sources,
        ));
        if let Some(backend) = root.get("backend") {
            let table = backend.as_dict().cloned().unwrap_or_default();
            errors.extend(moved::backend_table(&table, &sources));
        }
        let urlmap: BTreeMap<String, String> = if root.contains_key("urlmap") {
            section(&figment, &root, "urlmap", &sources, &mut errors)
        } else {
            default_urlmap()
        };
        let simulator: Option<Dict> = section(&figment, &root, "simulator", &sources, &mut errors);
        let store: StoreConfig = section(&figment, &root, "store", &sources, &mut errors);
        let log: LogConfig = section(&figment, &root, "log", &sources, &mut errors);
        let synnefo: SynnefoConfig = section(&figment, &root, "synnefo", &sources, &mut errors);

        if let Some(url) = &server.public_url
            && let Err(e) = url::Url::parse(url)
        {
            errors.push(ConfigError {
                origin: sources.origin_of("server.public_url"),
                key: "server.public_url".to_string(),
                reason: format!("not an absolute URL: {e}"),
            });
        }
        if let Some(n) = server.workers
            && !(1..=MAX_WORKERS).contains(&n)
        {
            errors.push(ConfigError {
                origin: sources.origin_of("server.workers"),
                key: "server.workers".to_string(),
                reason: format!(
                    "{n} worker threads: give 1 to {MAX_WORKERS}, or leave it out for one per core"
                ),
            });
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log.level) {
            errors.push(ConfigError {
                origin: sources.origin_of("log.level"),
                key: "log.level".to_string(),
                reason: format!("not a log filter directive: {e}"),
            });
        }
        for (key, reason) in synnefo.url_errors() {
            let key = format!("synnefo.{key}");
            errors.push(ConfigError {
                origin: sources.origin_of(&key),
                key,
                reason,
            });
        }
        for prefix in urlmap.keys() {
            if !prefix.starts_with('/') {
                errors.push(ConfigError {
                    origin: sources.origin_of("urlmap"),
                    key: format!("urlmap.{prefix}"),
                    reason: "a mount point must start with `/`".to_string(),
                });
            }
        }

        (
            Config {
                server,
                pipeline,
                filter,
                app,
                urlmap,
                simulator,
                store,
                log,
                synnefo,
                sources,
            },
            errors,
        )
    }

    /// The raw table of one filter or app instance, if present.
    pub fn table(&self, kind: &str, name: &str) -> Option<&Dict> {
        match kind {
            "filter" => self.filter.get(name),
            "app" => self.app.get(name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
