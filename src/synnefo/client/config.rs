//! [`ClientConfig`]: where Synnefo is and how each call is made (built
//! from the `[synnefo]` table, [`SynnefoConfig`](crate::synnefo::SynnefoConfig)).

use std::time::Duration;

use super::Service;

/// The default [`ClientConfig::read_retries`]: one retry.
pub const DEFAULT_READ_RETRIES: u32 = 1;
/// The default [`ClientConfig::retry_jitter`]: up to 100 ms.
pub const DEFAULT_RETRY_JITTER: Duration = Duration::from_millis(100);

/// How to reach Synnefo.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The Astakos identity v2.0 URL (`.../identity/v2.0`).
    pub identity_url: String,
    /// Compute endpoint override (else from the catalog).
    pub compute_url: Option<String>,
    /// Network endpoint override.
    pub network_url: Option<String>,
    /// Volume endpoint override.
    pub volume_url: Option<String>,
    /// Image endpoint override.
    pub image_url: Option<String>,
    /// The timeout of each call (the whole exchange, body included).
    pub timeout: Duration,
    /// The timeout of each identity (Astakos) call instead: token
    /// validations and catalog discovery.
    pub identity_timeout: Duration,
    /// How often an idempotent read (GET) is sent again after a failed
    /// connection, a dropped connection or a 502/503/504 answer. Writes
    /// (POST, PUT, DELETE) are never sent twice; a timeout is not retried
    /// (it already took the whole `timeout`).
    pub read_retries: u32,
    /// The most a retry waits first: a random delay between zero and this
    /// (jitter, so that many callers do not retry in step).
    pub retry_jitter: Duration,
}

impl ClientConfig {
    /// A configuration with endpoints from the catalog, a 30 s timeout
    /// (10 s for Astakos) and one retry of failed reads.
    pub fn new(identity_url: impl Into<String>) -> Self {
        ClientConfig {
            identity_url: identity_url.into(),
            compute_url: None,
            network_url: None,
            volume_url: None,
            image_url: None,
            timeout: Duration::from_secs(30),
            identity_timeout: Duration::from_secs(10),
            read_retries: DEFAULT_READ_RETRIES,
            retry_jitter: DEFAULT_RETRY_JITTER,
        }
    }

    /// The timeout of one call to `service`.
    pub(super) fn timeout(&self, service: Service) -> Duration {
        match service {
            Service::Identity => self.identity_timeout,
            _ => self.timeout,
        }
    }

    pub(super) fn explicit(&self, service: Service) -> Option<&str> {
        match service {
            Service::Identity => Some(&self.identity_url),
            Service::Compute => self.compute_url.as_deref(),
            Service::Network => self.network_url.as_deref(),
            Service::Volume => self.volume_url.as_deref(),
            Service::Image => self.image_url.as_deref(),
        }
    }
}
