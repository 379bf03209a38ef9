//! The `[synnefo]` table: everything about how the gateway reaches
//! Synnefo, in one place.
//!
//! One table builds one [`Transport`](super::Transport) (one connection
//! pool, one TLS configuration) and one [`Client`](super::Client) on it,
//! which the OCCI app, the readiness probe, the Keystone facade and the
//! `keystone_auth` filter share: they validate tokens at, discover
//! endpoints from and call the same Synnefo, through the same pool. The
//! other auth filters' calls (astavoms, an OIDC provider) go through the
//! same transport, so its pool, timeouts and `ca_file` apply to them too.
//!
//! ```
//! use snf_occi::config::Config;
//!
//! let config = Config::from_toml_str(r#"
//!     [synnefo]
//!     identity_url = "https://accounts.example.org/identity/v2.0"
//!     identity_timeout = "5s"
//! "#).unwrap();
//! assert_eq!(config.synnefo.timeout, std::time::Duration::from_secs(30));
//! let client = config.synnefo.client_config("https://accounts.example.org/identity/v2.0".into());
//! assert_eq!(client.identity_timeout, std::time::Duration::from_secs(5));
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::{ClientConfig, DEFAULT_READ_RETRIES, DEFAULT_RETRY_JITTER};
use super::transport::{
    MAX_BYTES_IN_FLIGHT, MAX_LISTING_BYTES, ProxySetting, TransportConfig, load_ca_file,
};

/// The `[synnefo]` table (see the module docs).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SynnefoConfig {
    /// The Astakos identity v2.0 URL (`.../identity/v2.0`): tokens are
    /// validated there and the service catalog read from it. Default: the
    /// embedded simulator's; without a simulator it is required.
    #[serde(default)]
    pub identity_url: Option<String>,
    /// Cyclades compute endpoint override (default: from the catalog).
    #[serde(default)]
    pub compute_url: Option<String>,
    /// Network endpoint override (default: from the catalog).
    #[serde(default)]
    pub network_url: Option<String>,
    /// Block storage endpoint override (default: from the catalog).
    #[serde(default)]
    pub volume_url: Option<String>,
    /// Image endpoint override (default: from the catalog).
    #[serde(default)]
    pub image_url: Option<String>,
    /// The timeout of each Cyclades call, answer included (a timeout
    /// answers 504).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// The timeout of each Astakos call: a token validation (a login
    /// should fail fast, while a Cyclades create may take long), the
    /// Keystone facade's calls and the catalog discovery.
    #[serde(default = "default_identity_timeout", with = "humantime_serde")]
    pub identity_timeout: Duration,
    /// How often a read (GET) that failed to connect, lost its connection
    /// or got 502/503/504 is sent again (writes never are).
    #[serde(default = "default_read_retries")]
    pub read_retries: u32,
    /// The most a retry waits first (a random delay up to this).
    #[serde(default = "default_retry_jitter", with = "humantime_serde")]
    pub retry_jitter: Duration,
    /// Most idle keep-alive connections kept per host. Size it to the
    /// concurrent requests the gateway serves: a request whose connection
    /// is not pooled pays a new TCP (and TLS) handshake.
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle_per_host: usize,
    /// How long an idle pooled connection is kept.
    #[serde(default = "default_pool_idle_timeout", with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// How long a new connection may take to establish.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
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
    /// A PEM file of CA certificates trusted besides the platform's
    /// store: a site whose Synnefo (or astavoms, or OIDC provider) hosts
    /// carry certificates of a CA the platform does not know (IGTF grid
    /// CAs, an in-house CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_identity_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_read_retries() -> u32 {
    DEFAULT_READ_RETRIES
}
fn default_retry_jitter() -> Duration {
    DEFAULT_RETRY_JITTER
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
fn default_max_listing_bytes() -> usize {
    MAX_LISTING_BYTES
}
fn default_max_answer_bytes_in_flight() -> usize {
    MAX_BYTES_IN_FLIGHT
}

impl Default for SynnefoConfig {
    fn default() -> Self {
        SynnefoConfig {
            identity_url: None,
            compute_url: None,
            network_url: None,
            volume_url: None,
            image_url: None,
            timeout: default_timeout(),
            identity_timeout: default_identity_timeout(),
            read_retries: default_read_retries(),
            retry_jitter: default_retry_jitter(),
            pool_max_idle_per_host: default_pool_max_idle(),
            pool_idle_timeout: default_pool_idle_timeout(),
            connect_timeout: default_connect_timeout(),
            max_listing_bytes: default_max_listing_bytes(),
            max_answer_bytes_in_flight: default_max_answer_bytes_in_flight(),
            ca_file: None,
        }
    }
}

impl SynnefoConfig {
    /// The URL keys that are set, each with its key name.
    fn urls(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("identity_url", &self.identity_url),
            ("compute_url", &self.compute_url),
            ("network_url", &self.network_url),
            ("volume_url", &self.volume_url),
            ("image_url", &self.image_url),
        ]
        .into_iter()
        .filter_map(|(key, url)| Some((key, url.as_deref()?)))
    }

    /// Every set URL that is not an absolute http(s) URL, as (key,
    /// reason): found when the file is loaded, not at the first call.
    pub fn url_errors(&self) -> Vec<(&'static str, String)> {
        self.urls()
            .filter_map(|(key, text)| match url::Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => None,
                Ok(_) => Some((key, "the scheme must be http or https".to_owned())),
                Err(e) => Some((key, format!("not an absolute URL: {e}"))),
            })
            .collect()
    }

    /// The client settings, calling Astakos at `identity_url` (this
    /// table's, or the embedded simulator's when it has none).
    pub fn client_config(&self, identity_url: String) -> ClientConfig {
        ClientConfig {
            identity_url,
            compute_url: self.compute_url.clone(),
            network_url: self.network_url.clone(),
            volume_url: self.volume_url.clone(),
            image_url: self.image_url.clone(),
            timeout: self.timeout,
            identity_timeout: self.identity_timeout,
            read_retries: self.read_retries,
            retry_jitter: self.retry_jitter,
        }
    }

    /// The transport settings, with the certificates of `ca_file` read;
    /// an unreadable file or one without a certificate is an error
    /// naming it.
    pub fn transport_config(&self) -> Result<TransportConfig, String> {
        let extra_roots = match &self.ca_file {
            Some(path) => load_ca_file(path)?,
            None => Vec::new(),
        };
        Ok(self.transport_config_with(extra_roots))
    }

    /// The transport settings, trusting `extra_roots` besides the
    /// platform's store (`ca_file` is not read).
    pub(crate) fn transport_config_with(
        &self,
        extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    ) -> TransportConfig {
        TransportConfig {
            pool_max_idle_per_host: self.pool_max_idle_per_host,
            pool_idle_timeout: self.pool_idle_timeout,
            connect_timeout: self.connect_timeout,
            max_listing_bytes: self.max_listing_bytes,
            max_bytes_in_flight: self.max_answer_bytes_in_flight,
            extra_roots,
            proxy: ProxySetting::Environment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_when_loaded() {
        let config = SynnefoConfig {
            identity_url: Some("https://accounts.example.org/identity/v2.0".into()),
            compute_url: Some("ftp://cyclades/compute".into()),
            volume_url: Some("not a url".into()),
            ..SynnefoConfig::default()
        };
        let keys: Vec<&str> = config.url_errors().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["compute_url", "volume_url"]);
    }

    #[test]
    fn one_table_sets_both_the_client_and_the_transport() {
        let config = SynnefoConfig {
            compute_url: Some("http://c/compute/v2.0".into()),
            timeout: Duration::from_secs(7),
            identity_timeout: Duration::from_secs(3),
            read_retries: 0,
            pool_max_idle_per_host: 5,
            ..SynnefoConfig::default()
        };
        let client = config.client_config("http://a/identity/v2.0".into());
        assert_eq!(client.identity_url, "http://a/identity/v2.0");
        assert_eq!(client.compute_url.as_deref(), Some("http://c/compute/v2.0"));
        assert_eq!(client.timeout, Duration::from_secs(7));
        assert_eq!(client.identity_timeout, Duration::from_secs(3));
        assert_eq!(client.read_retries, 0);
        let transport = config.transport_config().unwrap();
        assert_eq!(transport.pool_max_idle_per_host, 5);
        assert!(transport.extra_roots.is_empty());
        let missing = SynnefoConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..config
        };
        assert!(
            missing
                .transport_config()
                .unwrap_err()
                .contains("/nonexistent/ca.pem")
        );
    }
}
