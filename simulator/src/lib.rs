//! A stand-in for Synnefo: an in-memory Astakos (identity) and Cyclades
//! (compute, network, volume), plus an astavoms-like Keystone facade,
//! served over real HTTP on one port.
//!
//! It is for development and tests, never production: the default
//! `cargo run` of snf-occi serves on it so that a working OCCI endpoint
//! needs no cloud account, and the gateway's tests and benchmarks
//! exercise their real HTTP client against it. It is not the judge of what
//! Synnefo does: GRNET's own Synnefo 0.20, run by `scripts/real-synnefo.sh`,
//! is, and `tests/synnefo_differential.rs` holds this crate to the real
//! answers (statuses, JSON shapes, faults); where they disagree, this
//! crate is wrong.
//!
//! It depends on nothing of the gateway (the `snf-occi` crate), so a
//! gateway built without its `simulator` feature carries none of it.
//!
//! Paths follow Synnefo's layout:
//!
//! | Prefix | Service |
//! |---|---|
//! | `/identity/v2.0` | Astakos: `POST /tokens`, `GET /tenants` |
//! | `/account/v1.0` | Astakos: `POST /user_catalogs` |
//! | `/compute/v2.0` | Cyclades compute: servers, flavors, images |
//! | `/network/v2.0` | Cyclades network: networks, subnets, ports, floating IPs |
//! | `/volume/v2.0` | Cyclades block storage: volumes, snapshots, types |
//! | `/image/v1.0` | Plankton image listing |
//! | `/astavoms` | astavoms' Keystone v2.0 facade for VOMS proxies |
//! | `/_sim` | admin: counters, fault injection, bulk seeding (see [`admin`]) |
//!
//! Every Cyclades and tenants call needs a valid `X-Auth-Token` (401
//! `unauthorized` otherwise) and sees only its user's servers, volumes,
//! snapshots, private networks, ports and floating IPs. A snapshot is
//! also an image (as in Synnefo, where it is registered in Plankton):
//! listed among its owner's images only, and bootable by them.
//!
//! The cloud itself (the records and Synnefo's rules for them) is
//! [`state::World`]; [`start`] serves it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use snf_occi_simulator::{self as simulator, SimulatorConfig};
//! let sim = simulator::start(&SimulatorConfig::default()).await.unwrap();
//! assert!(sim.identity_url().ends_with("/identity/v2.0"));
//! sim.shutdown().await;
//! # }
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub mod admin;
mod api;
pub mod fault;
mod identity;
pub mod seed;
mod serve;
pub mod state;

pub use seed::{FaultSettings, FlavorSeed, ImageSeed, NetworkSeed, Quotas, UserSeed, VomsUserSeed};

/// The `[simulator]` table.
///
/// Lists left out (`users`, `flavors`, `images`, `networks`,
/// `voms_users`) get the defaults of [`seed`]; a list given replaces the
/// default list of its kind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The base URL written into the catalog and links (default
    /// `http://<listen address>`, with 127.0.0.1 for an unspecified IP).
    #[serde(default)]
    pub public_url: Option<String>,
    /// How long a new server stays in BUILD before it is ACTIVE.
    #[serde(default = "default_build_delay", with = "humantime_serde")]
    pub build_delay: Duration,
    /// How long start, shutdown, reboot, resize and a volume's attach or
    /// detach take (Ganeti jobs in Synnefo: the server's `SNF:task_state`
    /// says which, the volume is `attaching` or `detaching` meanwhile).
    #[serde(default = "default_action_delay", with = "humantime_serde")]
    pub action_delay: Duration,
    /// How long tokens are valid (their `expires`).
    #[serde(default = "default_token_lifetime", with = "humantime_serde")]
    pub token_lifetime: Duration,
    /// The networks of a server created without `networks`, as the
    /// site's `CYCLADES_DEFAULT_SERVER_NETWORKS`: empty (Cyclades' default:
    /// no NIC at all), `SNF:ANY_PUBLIC_IPV4` or `SNF:ANY_PUBLIC` (a free
    /// floating IP of the user's, else 409), or network ids. A public
    /// network always needs a free floating IP of the user's, as in
    /// Cyclades 0.20.
    #[serde(default)]
    pub default_server_networks: Vec<String>,
    /// `[[simulator.users]]`.
    #[serde(default)]
    pub users: Option<Vec<UserSeed>>,
    /// `[[simulator.flavors]]`.
    #[serde(default)]
    pub flavors: Option<Vec<FlavorSeed>>,
    /// `[[simulator.images]]`.
    #[serde(default)]
    pub images: Option<Vec<ImageSeed>>,
    /// `[[simulator.networks]]` (public networks).
    #[serde(default)]
    pub networks: Option<Vec<NetworkSeed>>,
    /// `[[simulator.voms_users]]`: DN -> user mapping for astavoms.
    #[serde(default)]
    pub voms_users: Option<Vec<VomsUserSeed>>,
    /// `[simulator.quotas]`.
    #[serde(default)]
    pub quotas: Quotas,
    /// `[simulator.faults]`: faults injected from the start.
    #[serde(default)]
    pub faults: FaultSettings,
}

fn default_build_delay() -> Duration {
    Duration::from_secs(3)
}
fn default_action_delay() -> Duration {
    Duration::from_secs(1)
}
fn default_token_lifetime() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

impl SimulatorConfig {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        SimulatorConfig {
            listen,
            public_url: None,
            build_delay: default_build_delay(),
            action_delay: default_action_delay(),
            token_lifetime: default_token_lifetime(),
            default_server_networks: Vec::new(),
            users: None,
            flavors: None,
            images: None,
            networks: None,
            voms_users: None,
            quotas: Quotas::default(),
            faults: FaultSettings::default(),
        }
    }

    /// The defaults with no delays: servers are ACTIVE at once (tests).
    pub fn instant(listen: SocketAddr) -> Self {
        SimulatorConfig {
            build_delay: Duration::ZERO,
            action_delay: Duration::ZERO,
            ..SimulatorConfig::new(listen)
        }
    }

    /// The users the simulator will have.
    pub fn effective_users(&self) -> Vec<UserSeed> {
        self.users.clone().unwrap_or_else(seed::default_users)
    }
}

impl Default for SimulatorConfig {
    /// The defaults on `127.0.0.1:0`.
    fn default() -> Self {
        SimulatorConfig::new(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))
    }
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
    /// The seed data is inconsistent (duplicate ids or tokens, bad CIDR,
    /// a VOMS mapping to an unknown user, ...).
    #[error("invalid simulator seed: {reason}")]
    Seed {
        /// What is wrong.
        reason: String,
    },
}

/// A simulator serving in the background.
///
/// Dropping it stops the simulator (no new connections; open ones are
/// closed); keep it alive as long as it is needed, or call
/// [`RunningSimulator::shutdown`] to stop it and wait.
pub struct RunningSimulator {
    local_addr: SocketAddr,
    users: Vec<UserSeed>,
    base_url: String,
    sim: Arc<serve::Sim>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RunningSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningSimulator")
            .field("local_addr", &self.local_addr)
            .field("url", &self.base_url)
            .finish()
    }
}

impl RunningSimulator {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    /// Its base URL, e.g. `http://127.0.0.1:8890`.
    pub fn url(&self) -> String {
        self.base_url.clone()
    }
    /// Its Astakos identity v2.0 URL (`{url}/identity/v2.0`).
    pub fn identity_url(&self) -> String {
        format!("{}/identity/v2.0", self.base_url)
    }
    /// Its astavoms facade URL (`{url}/astavoms`).
    pub fn astavoms_url(&self) -> String {
        format!("{}/astavoms", self.base_url)
    }
    /// The users it was seeded with (their tokens are test fixtures, meant
    /// to be shown: `snf-occi simulator` prints them).
    pub fn users(&self) -> &[UserSeed] {
        &self.users
    }

    /// Its admin URL (`{url}/_sim`).
    pub fn admin_url(&self) -> String {
        format!("{}/_sim", self.base_url)
    }

    /// Calls per operation (`"GET /compute/v2.0/servers/{id}"` -> n) since
    /// start or the last reset; the same as `GET /_sim/counters`.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.sim.counters()
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        self.sim.reset_counters();
    }

    /// Replaces the injected faults (as `PUT /_sim/faults` does).
    pub fn set_faults(&self, faults: FaultSettings) {
        self.sim.set_faults(faults);
    }

    /// Stops accepting, lets open requests finish (at most 2 s) and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the simulator on a background task of the current runtime.
pub async fn start(config: &SimulatorConfig) -> Result<RunningSimulator, SimulatorError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimulatorError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| SimulatorError::Bind {
            addr: config.listen,
            source,
        })?;
    let base_url = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let ip = if local_addr.ip().is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                local_addr.ip()
            };
            format!("http://{}", SocketAddr::new(ip, local_addr.port()))
        }
    };
    let users = config.effective_users();
    let world = state::World::new(state::WorldSeed {
        base: base_url.clone(),
        build_delay: config.build_delay,
        action_delay: config.action_delay,
        token_lifetime: config.token_lifetime,
        quotas: config.quotas,
        default_server_networks: config.default_server_networks.clone(),
        users: users.clone(),
        flavors: config.flavors.clone().unwrap_or_else(seed::default_flavors),
        images: config.images.clone().unwrap_or_else(seed::default_images),
        networks: config
            .networks
            .clone()
            .unwrap_or_else(seed::default_networks),
        voms_users: config
            .voms_users
            .clone()
            .unwrap_or_else(seed::default_voms_users),
    })?;
    let sim = Arc::new(serve::Sim::new(world, config.faults.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(serve::run(listener, sim.clone(), stopped));
    Ok(RunningSimulator {
        local_addr,
        users,
        base_url,
        sim,
        stop: Some(stop),
        task: Some(task),
    })
}
