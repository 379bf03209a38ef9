//! The small types that snf-occi's layers (`snf-occi-middleware`), its
//! OCCI model and its Synnefo client share.
//!
//! They live here, below all of them, so that the model and the Synnefo
//! client need not import the layer crate (nor the layer crate them):
//!
//! ```text
//! snf-occi-types  <-  snf-occi-middleware
//!        ^                   ^
//!        +---- snf-occi (model <- Synnefo client <- app <- pipeline <- server)
//! ```
//!
//! Nothing here does I/O; the only dependencies are `http` (for
//! [`http::Method`]), the `metrics` facade and `quick_cache` (under
//! [`cache::TimedCache`], every per-user cache). [`timestamp`] reads and
//! writes Synnefo's timestamps for the client and the simulator.
//!
//! ```
//! use snf_occi_types::{MediaType, SecretToken};
//! assert_eq!(MediaType::OcciJson.as_str(), "application/occi+json");
//! assert_eq!(format!("{:?}", SecretToken::new("s3cret")), "SecretToken(***)");
//! ```

mod auth;
pub mod cache;
mod media;
pub mod metrics;
mod request_id;
mod secret;
pub mod timestamp;

pub use auth::AuthContext;
pub use media::MediaType;
pub use request_id::RequestId;
pub use secret::SecretToken;
