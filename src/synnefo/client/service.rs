//! The Synnefo services the client talks to, by their catalog type.

use std::fmt;

/// The Synnefo services the client talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Astakos identity v2.0.
    Identity,
    /// Cyclades compute v2.0 (servers, flavors, images).
    Compute,
    /// Cyclades network v2.0 (networks, subnets, ports, floating IPs).
    Network,
    /// Cyclades block storage v2.0 (volumes).
    Volume,
    /// Plankton image v1.0.
    Image,
}

impl Service {
    /// The `type` of this service in the Astakos catalog.
    pub const fn catalog_type(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Compute => "compute",
            Service::Network => "network",
            Service::Volume => "volume",
            Service::Image => "image",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.catalog_type())
    }
}
