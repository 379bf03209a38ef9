//! [`BuildContext`]: what every factory gets besides its own table.

use std::sync::Arc;

use crate::config::Config;
use crate::pipeline::BuildError;
use crate::store::{Store, StoreError};
use crate::synnefo::transport::{USER_AGENT, load_ca_file};
use crate::synnefo::{Transport, TransportConfig};

/// The URLs of the embedded simulator, when `serve` started one; factories
/// default their Synnefo endpoints to these. The binary fills them in
/// (src/main.rs): the library never starts or imports the simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatorUrls {
    /// Base URL, e.g. `http://127.0.0.1:8890`.
    pub url: String,
    /// Astakos identity v2.0 URL.
    pub identity_url: String,
    /// astavoms facade URL.
    pub astavoms_url: String,
}

/// Shared by every factory of one build (paste's `global_conf`).
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// The whole configuration.
    pub config: Arc<Config>,
    /// `server.public_url` without a trailing slash: the base of rendered URLs.
    pub public_url: String,
    /// The HTTP client (one connection pool, rustls) of the auth filters'
    /// calls to identity providers: few, and cached.
    pub http: reqwest::Client,
    /// The transport (one connection pool, rustls) of every Synnefo call:
    /// the hot path, with no per-call layers.
    pub backend: Transport,
    /// The embedded simulator, when it runs.
    pub simulator: Option<SimulatorUrls>,
    /// The user-mixin store, opened by the first factory that needs it
    /// and shared by all (the occi app, the readiness probe): one pool,
    /// one in-memory database when `store.url` is `sqlite::memory:`.
    store: Arc<tokio::sync::OnceCell<Store>>,
}

impl BuildContext {
    /// A context for `config`, with a fresh shared HTTP client.
    pub fn new(config: Arc<Config>) -> Result<Self, BuildError> {
        let backend = &config.backend;
        let failed = |key: &str, reason: String| BuildError::Failed {
            key: key.to_string(),
            reason,
        };
        let extra_roots = match &backend.ca_file {
            Some(path) => load_ca_file(path).map_err(|e| failed("backend.ca_file", e))?,
            None => Vec::new(),
        };
        let mut http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .pool_max_idle_per_host(backend.pool_max_idle_per_host)
            .pool_idle_timeout(backend.pool_idle_timeout)
            .connect_timeout(backend.connect_timeout);
        for der in &extra_roots {
            let cert = reqwest::Certificate::from_der(der)
                .map_err(|e| failed("backend.ca_file", e.to_string()))?;
            http = http.add_root_certificate(cert);
        }
        let http = http
            .build()
            .map_err(|e| failed("http client", e.to_string()))?;
        let backend = Transport::new(TransportConfig {
            extra_roots,
            ..TransportConfig::from(backend)
        })
        .map_err(|e| failed("backend transport", e.to_string()))?;
        Ok(BuildContext {
            public_url: config.server.public_url(),
            config,
            http,
            backend,
            simulator: None,
            store: Arc::default(),
        })
    }

    /// The `[store]` of this build, opened (and migrated) on first use.
    pub async fn store(&self) -> Result<Store, StoreError> {
        self.store
            .get_or_try_init(|| Store::open(&self.config.store))
            .await
            .cloned()
    }

    /// The same context, knowing the embedded simulator's URLs.
    pub fn with_simulator(mut self, simulator: SimulatorUrls) -> Self {
        self.simulator = Some(simulator);
        self
    }
}
