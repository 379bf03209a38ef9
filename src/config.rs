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

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::value::Dict;
use figment::{Figment, Metadata, Source};
use serde::{Deserialize, Serialize};

use crate::store::StoreConfig;

/// The default configuration file, looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "snf-occi.pipeline.toml";
/// The prefix of environment overrides (`SNF_OCCI_SERVER__LISTEN=...`).
pub const ENV_PREFIX: &str = "SNF_OCCI_";
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
    /// `[backend]`: the one outgoing HTTP client (Synnefo, identity
    /// providers).
    #[serde(default)]
    pub backend: BackendConfig,
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
            backend: BackendConfig::default(),
            sources: Sources::default(),
        }
    }
}

/// The `[server]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Base of every absolute URL the server renders; default
    /// `http(s)://<listen>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// `[server.tls]`: serve HTTPS when present.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// `[server.limits]`: protections against slow or oversized clients.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Whether a plain (non-TLS) listener also speaks HTTP/2 with prior
    /// knowledge (h2c) beside HTTP/1.1. Off by default: no OCCI client
    /// or front end in use needs it, and it opens HTTP/2's larger attack
    /// surface to anyone who can reach the port.
    #[serde(default)]
    pub h2c: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            public_url: None,
            tls: None,
            limits: LimitsConfig::default(),
            h2c: false,
        }
    }
}

impl ServerConfig {
    /// `public_url` without a trailing slash, or `http(s)://<listen>`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let scheme = if self.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{}", self.listen)
            }
        }
    }
}

/// The `[server.tls]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the server certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM file with the server's private key.
    pub key: PathBuf,
    /// PEM file with the CAs that client certificates must chain to.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Whether clients must present a certificate (needs `client_ca`).
    #[serde(default)]
    pub client_auth: ClientAuth,
}

/// Whether a TLS client must present a certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// A certificate is asked for and verified if sent (token users send none).
    #[default]
    Optional,
    /// The handshake fails without a valid certificate.
    Required,
}

/// The `[server.limits]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Time a client has to send the request head (and finish the TLS
    /// handshake) before the connection is closed.
    #[serde(default = "default_header_read_timeout", with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Time a client has, from the end of the request head, to send the
    /// whole body; a slower body is answered `408` and the connection
    /// closed.
    #[serde(default = "default_body_read_timeout", with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Most header fields in one request (more: 431).
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Most bytes in one request head (more: 431); at least 8192.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    #[serde(default = "default_shutdown_grace", with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Keep HTTP/1.1 connections open between requests.
    #[serde(default = "default_true")]
    pub keep_alive: bool,
    /// How long a connection (HTTP/1.1 or HTTP/2) may stay open with no
    /// request in flight, from the end of the last response.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            header_read_timeout: default_header_read_timeout(),
            body_read_timeout: default_body_read_timeout(),
            max_headers: default_max_headers(),
            max_header_bytes: default_max_header_bytes(),
            shutdown_grace: default_shutdown_grace(),
            keep_alive: true,
            idle_timeout: default_idle_timeout(),
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

/// The `[backend]` table: the connection pool every filter and app shares
/// for its calls to Synnefo and identity providers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Most idle keep-alive connections kept per backend host. Size it to
    /// the concurrent requests the gateway serves: a request whose
    /// connection is not pooled pays a new TCP (and TLS) handshake.
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle_per_host: usize,
    /// How long an idle pooled connection is kept.
    #[serde(default = "default_pool_idle_timeout", with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// How long a new backend connection may take to establish.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// A PEM file of CA certificates trusted for backend TLS besides the
    /// platform's store: a site whose Synnefo or identity hosts carry
    /// certificates of a CA the platform does not know (IGTF grid CAs,
    /// an in-house CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The most one listing answer (`/servers/detail`, `/volumes/detail`,
    /// ...) may hold, in bytes: Cyclades sends about 2 KiB per server,
    /// so the default takes some 30,000. One entity's answer may hold at
    /// most 4 MiB, a fault 64 KiB; a larger answer is a 502 naming it,
    /// and is not read further.
    #[serde(default = "default_max_listing_bytes")]
    pub max_listing_bytes: usize,
    /// The most all answers being read at once may hold together, in
    /// bytes: past it, a call fails at once with 503 (try again) instead
    /// of the process growing with every concurrent large answer.
    #[serde(default = "default_max_answer_bytes_in_flight")]
    pub max_answer_bytes_in_flight: usize,
}

fn default_max_listing_bytes() -> usize {
    crate::synnefo::transport::MAX_LISTING_BYTES
}
fn default_max_answer_bytes_in_flight() -> usize {
    crate::synnefo::transport::MAX_BYTES_IN_FLIGHT
}
fn default_pool_max_idle() -> usize {
    64
}
fn default_pool_idle_timeout() -> Duration {
    Duration::from_secs(90)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            pool_max_idle_per_host: default_pool_max_idle(),
            pool_idle_timeout: default_pool_idle_timeout(),
            connect_timeout: default_connect_timeout(),
            ca_file: None,
            max_listing_bytes: default_max_listing_bytes(),
            max_answer_bytes_in_flight: default_max_answer_bytes_in_flight(),
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

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8888))
}
fn default_header_read_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_body_read_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_headers() -> usize {
    100
}
fn default_max_header_bytes() -> usize {
    16 * 1024
}
fn default_shutdown_grace() -> Duration {
    Duration::from_secs(30)
}
/// Above the upstream keep-alive timeout of the usual front ends (nginx's
/// `keepalive_timeout` is 60 s): a front end must never reuse a
/// connection the gateway is closing.
fn default_idle_timeout() -> Duration {
    Duration::from_secs(75)
}
fn default_true() -> bool {
    true
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

/// The figment a [`Config`] was read from: kept so that errors found later
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

fn describe(meta: &Metadata) -> String {
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
    "backend",
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
            if !TABLES.contains(&key.as_str()) {
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
        let filter: BTreeMap<String, Dict> =
            section(&figment, &root, "filter", &sources, &mut errors);
        let app: BTreeMap<String, Dict> = section(&figment, &root, "app", &sources, &mut errors);
        let urlmap: BTreeMap<String, String> = if root.contains_key("urlmap") {
            section(&figment, &root, "urlmap", &sources, &mut errors)
        } else {
            default_urlmap()
        };
        let simulator: Option<Dict> = section(&figment, &root, "simulator", &sources, &mut errors);
        let store: StoreConfig = section(&figment, &root, "store", &sources, &mut errors);
        let log: LogConfig = section(&figment, &root, "log", &sources, &mut errors);
        let backend: BackendConfig = section(&figment, &root, "backend", &sources, &mut errors);

        if let Some(url) = &server.public_url
            && let Err(e) = url::Url::parse(url)
        {
            errors.push(ConfigError {
                origin: sources.origin_of("server.public_url"),
                key: "server.public_url".to_string(),
                reason: format!("not an absolute URL: {e}"),
            });
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log.level) {
            errors.push(ConfigError {
                origin: sources.origin_of("log.level"),
                key: "log.level".to_string(),
                reason: format!("not a log filter directive: {e}"),
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
                backend,
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
// figment's `Jail` closures must return `figment::Error`, which is large.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    fn errors_of(toml: &str) -> Vec<ConfigError> {
        Config::from_toml_str(toml)
            .expect_err("config should be rejected")
            .0
    }

    #[test]
    fn defaults_apply_to_an_empty_file() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8888".parse().unwrap());
        assert_eq!(config.server.public_url(), "http://127.0.0.1:8888");
        assert_eq!(config.pipeline.app, "occi");
        assert_eq!(
            config.urlmap.get("/healthz").map(String::as_str),
            Some("healthz")
        );
        assert_eq!(config.server.limits.shutdown_grace, Duration::from_secs(30));
    }

    #[test]
    fn durations_are_humantime() {
        let config = Config::from_toml_str("[server.limits]\nshutdown_grace = \"5m\"\n").unwrap();
        assert_eq!(
            config.server.limits.shutdown_grace,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn every_error_is_reported_with_its_key_path() {
        let errors = errors_of(
            r#"
            [server]
            listen = "127.0.0.1:0"
            lisen = "x"
            [server.limits]
            max_headers = "many"
            [log]
            format = "xml"
            [bogus]
            a = 1
            "#,
        );
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"bogus"), "{errors:?}");
        assert!(keys.contains(&"log.format"), "{errors:?}");
        // serde stops at the first error inside one table, so `[server]`
        // reports one of its two mistakes.
        assert!(keys.iter().any(|k| k.starts_with("server.")), "{errors:?}");
        assert!(errors.len() >= 3);
    }

    #[test]
    fn unknown_key_names_the_key() {
        let errors = errors_of("[server]\nlisen = \"127.0.0.1:1\"\n");
        assert_eq!(errors[0].key, "server.lisen");
        assert!(
            errors[0].reason.contains("unknown key"),
            "{}",
            errors[0].reason
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let errors = errors_of("[server.limits]\nmax_headers = \"many\"\n");
        assert_eq!(errors[0].key, "server.limits.max_headers");
        assert!(
            errors[0].reason.contains("invalid type"),
            "{}",
            errors[0].reason
        );
    }

    #[test]
    fn bad_public_url_is_an_error() {
        let errors = errors_of("[server]\npublic_url = \"not a url\"\n");
        assert_eq!(errors[0].key, "server.public_url");
    }

    #[test]
    fn env_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[server]\nlisten = \"127.0.0.1:1\"\n")?;
            jail.set_env("SNF_OCCI_SERVER__LISTEN", "127.0.0.1:9000");
            jail.set_env("SNF_OCCI_SERVER__LIMITS__MAX_HEADERS", "7");
            let config = Config::load(Path::new("c.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.server.listen, "127.0.0.1:9000".parse().unwrap());
            assert_eq!(config.server.limits.max_headers, 7);
            Ok(())
        });
    }

    #[test]
    fn test_suite_variables_are_not_configuration() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "")?;
            jail.set_env("SNF_OCCI_TEST_POSTGRES_URL", "postgres://u:p@h/db");
            jail.set_env("SNF_OCCI_TESTS__X", "1");
            let errors = Config::load(Path::new("c.toml"))
                .expect_err("only the TEST_ prefix is reserved")
                .0;
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(errors[0].key.starts_with("tests"), "{errors:?}");
            Ok(())
        });
    }

    #[test]
    fn env_errors_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "")?;
            jail.set_env("SNF_OCCI_SERVER__LIMITS__MAX_HEADERS", "many");
            let errors = Config::load(Path::new("c.toml"))
                .expect_err("bad env value")
                .0;
            assert_eq!(errors[0].key, "server.limits.max_headers");
            assert!(
                errors[0].origin.contains("SNF_OCCI_"),
                "{}",
                errors[0].origin
            );
            Ok(())
        });
    }

    #[test]
    fn file_errors_name_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "[server]\nlisen = 1\n")?;
            let errors = Config::load(Path::new("c.toml"))
                .expect_err("unknown key")
                .0;
            assert!(errors[0].origin.ends_with("c.toml"), "{}", errors[0].origin);
            Ok(())
        });
    }
}
