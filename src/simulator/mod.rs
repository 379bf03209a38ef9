//! The embedded Synnefo simulator: an in-memory Astakos + Cyclades +
//! astavoms served over real HTTP. (Filled in by the Synnefo issue.)

use std::net::SocketAddr;

use serde::Deserialize;

/// The `[simulator]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A simulator serving in the background.
#[derive(Debug)]
pub struct RunningSimulator {
    local_addr: SocketAddr,
}

impl RunningSimulator {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    /// Its base URL, e.g. `http://127.0.0.1:8890`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }
    /// Its Astakos identity v2.0 URL (`{url}/identity/v2.0`).
    pub fn identity_url(&self) -> String {
        format!("{}/identity/v2.0", self.url())
    }
    /// Its astavoms facade URL (`{url}/astavoms`).
    pub fn astavoms_url(&self) -> String {
        format!("{}/astavoms", self.url())
    }
}

/// Starts the simulator on a background task of the current runtime.
pub async fn start(config: &SimulatorConfig) -> Result<RunningSimulator, SimulatorError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimulatorError::Bind { addr: config.listen, source })?;
    let local_addr = listener.local_addr().map_err(|source| SimulatorError::Bind { addr: config.listen, source })?;
    drop(listener);
    Ok(RunningSimulator { local_addr })
}
