//! The `[server]` table: the listening socket, TLS and the limits that
//! protect the server from slow or oversized clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

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
    /// Worker threads of the async runtime; default one per core the
    /// process may use. Fewer than the cores leaves them to what runs
    /// beside the gateway (a front end, Synnefo itself on a small site):
    /// each worker thread takes requests from the others when idle, and
    /// on a shared machine that stealing and the wake-ups between the
    /// threads cost more CPU than they save (benches/README.md).
    #[serde(default)]
    pub workers: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            public_url: None,
            tls: None,
            limits: LimitsConfig::default(),
            h2c: false,
            workers: None,
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
