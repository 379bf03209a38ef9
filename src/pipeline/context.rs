//! [`BuildContext`]: what every factory gets besides its own table.

use std::sync::Arc;

use crate::config::Config;
use crate::pipeline::BuildError;
use crate::store::{Store, StoreError};
use crate::synnefo::{Client, Transport};

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
    /// The transport (one connection pool, rustls) of every outgoing
    /// call: Synnefo's (the hot path, with no per-call layers), and the
    /// auth filters' to astavoms and OIDC providers.
    pub backend: Transport,
    /// The embedded simulator, when it runs.
    pub simulator: Option<SimulatorUrls>,
    /// The one Synnefo client of this build (`[synnefo]`), once its
    /// identity URL is known: configured, or the embedded simulator's.
    synnefo: Option<Client>,
    /// The user-mixin store, opened by the first factory that needs it
    /// and shared by all (the occi app, the readiness probe): one pool,
    /// one in-memory database when `store.url` is `sqlite::memory:`.
    store: Arc<tokio::sync::OnceCell<Store>>,
}

impl BuildContext {
    /// A context for `config`: one transport and, when `[synnefo]` names
    /// the identity URL, the Synnefo client on it.
    pub fn new(config: Arc<Config>) -> Result<Self, BuildError> {
        let synnefo = &config.synnefo;
        let failed = |key: &str, reason: String| BuildError::Failed {
            key: key.to_string(),
            reason,
        };
        let transport = synnefo
            .transport_config()
            .map_err(|e| failed("synnefo.ca_file", e))?;
        let backend =
            Transport::new(transport).map_err(|e| failed("synnefo transport", e.to_string()))?;
        let client = synnefo
            .identity_url
            .clone()
            .map(|url| Client::new(backend.clone(), synnefo.client_config(url)));
        Ok(BuildContext {
            public_url: config.server.public_url(),
            config,
            backend,
            simulator: None,
            synnefo: client,
            store: Arc::default(),
        })
    }

    /// The Synnefo client every factory shares: one connection pool, one
    /// catalog discovery. An error when `synnefo.identity_url` is not set
    /// and no embedded simulator runs.
    pub fn synnefo(&self) -> Result<Client, BuildError> {
        self.synnefo.clone().ok_or_else(|| BuildError::Failed {
            key: "synnefo.identity_url".to_owned(),
            reason: "is required when no embedded simulator runs".to_owned(),
        })
    }

    /// The `[store]` of this build, opened (and migrated) on first use.
    pub async fn store(&self) -> Result<Store, StoreError> {
        self.store
            .get_or_try_init(|| Store::open(&self.config.store))
            .await
            .cloned()
    }

    /// The same context, knowing the embedded simulator's URLs: the
    /// Synnefo client defaults to its identity URL.
    pub fn with_simulator(mut self, simulator: SimulatorUrls) -> Self {
        if self.synnefo.is_none() {
            let config = self
                .config
                .synnefo
                .client_config(simulator.identity_url.clone());
            self.synnefo = Some(Client::new(self.backend.clone(), config));
        }
        self.simulator = Some(simulator);
        self
    }
}
