//! A typed client for the Synnefo API: Astakos identity v2.0, Cyclades
//! compute v2.0, network v2.0 and volume (block storage) v2.0, snapshots
//! included.
//!
//! It knows nothing of OCCI. Every call carries the caller's own token and
//! request id ([`Caller`]); one [`Client`] (cheap to clone) shares one
//! [`Transport`] (hyper's connection pool, rustls). Endpoints come from the Astakos service
//! catalog, discovered once and rediscovered when a call cannot connect;
//! an endpoint given in [`ClientConfig`] wins over discovery.
//!
//! ```no_run
//! # async fn demo() -> Result<(), snf_occi::synnefo::SynnefoError> {
//! use snf_occi_types::SecretToken;
//! use snf_occi::synnefo::{Caller, Client, ClientConfig, Transport, TransportConfig};
//!
//! let config = ClientConfig::new("http://127.0.0.1:8890/identity/v2.0");
//! let transport = Transport::new(TransportConfig::default()).expect("TLS roots load");
//! let client = Client::new(transport, config);
//! let caller = Caller::new(SecretToken::new("user-token"));
//! for server in client.list_servers_detail(&caller).await? {
//!     println!("{} {} {}", server.id, server.name, server.status);
//! }
//! # Ok(()) }
//! ```

mod client;
pub mod compute;
pub mod config;
pub mod error;
pub mod identity;
pub mod network;
pub mod serde_util;
pub mod transport;
pub mod volume;

pub use client::{
    Caller, Client, ClientConfig, DEFAULT_READ_RETRIES, DEFAULT_RETRY_JITTER, Service,
};
pub use compute::flavors::Flavor;
pub use compute::images::Image;
pub use compute::{
    BlockDevice, IdRef, NetworkRef, NewServer, Personality, RebootType, Server, ServerAction,
    ServerAddress, ServerAttachment, ServerState, ServerStates, ServerStatus, Summary,
    VolumeAttachment,
};
pub use config::SynnefoConfig;
pub use error::{FaultKind, SynnefoError};
pub use identity::{Access, CatalogEndpoint, CatalogService, Tenant, Token, User};
pub use network::{
    FixedIp, FixedIpRequest, FloatingIp, Network, NewFloatingIp, NewNetwork, NewPort, NewSubnet,
    Port, Subnet,
};
pub use transport::{ProxySetting, Transport, TransportConfig, TransportError};
pub use volume::{
    NewSnapshot, NewVolume, Snapshot, Volume, VolumeServerAttachment, VolumeType, VolumeUpdate,
};

/// The result type of every client call.
pub type Result<T, E = SynnefoError> = std::result::Result<T, E>;
