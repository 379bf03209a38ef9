//! The OCCI app: OCCI 1.2 over HTTP, mapped onto Synnefo.
//!
//! - [`OcciAppConfig`] is the `[app.occi]` table (the pipeline's
//!   `occi` factory, `crate::pipeline::occi_app`, builds the app from it).
//! - [`AppState`] is shared by every request: the Synnefo [`Client`], the
//!   [`Renderer`], the configuration and the per-user template caches.
//! - [`router`] binds every path: the query interface (`/-/` and
//!   `/.well-known/org/ogf/occi/-/`), one [`Collection`] per kind
//!   (`/compute/`, `/storage/`, ...), the mixin collections and, as the
//!   fallback, the namespace (any other path).
//! - The generic handlers ([`handlers`]) do the HTTP side (methods,
//!   parsing, status codes, rendering) for every collection.
//!
//! Requests must carry an [`AuthContext`](snf_occi_types::AuthContext)
//! (an auth filter in front); without one every path answers 401.

pub mod attach;
pub mod busy;
pub mod collection;
pub mod compute;
pub mod error;
pub mod handlers;
pub mod ids;
pub mod ipreservation;
pub mod mixins;
pub mod namespace;
pub mod network;
pub mod networkinterface;
pub mod query;
pub mod response;
pub mod server_create;
pub mod sizes;
pub mod storage;
pub mod storagelink;
pub mod templates;
pub mod terms;
pub mod update;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::any;
use serde::{Deserialize, Serialize};

use crate::occi::Renderer;
use crate::store::{CachedStore, Store};
use crate::synnefo::Client;

pub use collection::{ActionOutcome, Collection, Ctx, Entity};
pub use error::AppError;
pub use templates::Templates;

/// The `[app.occi]` table.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OcciAppConfig {
    /// The volume type of new storage (default: the cloud's first).
    #[serde(default)]
    pub volume_type: Option<String>,
    /// The flavor (id or name) of a compute created without a
    /// `resource_tpl` (default: none, such a create is a 400).
    #[serde(default)]
    pub default_flavor: Option<String>,
    /// The image (id or name) of a compute created without an `os_tpl`
    /// (default: none, such a create is a 400).
    #[serde(default)]
    pub default_image: Option<String>,
    /// How often a server create that Synnefo refuses with 409 "Please
    /// create a floating IP" is retried after reserving one.
    #[serde(default = "default_create_retries")]
    pub create_server_max_retries: u32,
    /// How long a write to a compute that Synnefo says is busy (being
    /// built, or running another task: a delete, an action, a link or an
    /// unlink) waits for it (see `app::busy`); a compute delete also waits
    /// out a job the server runs (`app::compute::delete`). The write is sent again
    /// with growing pauses until it is taken or this time is up; then the
    /// answer is 409 with `Retry-After`. Keep it below the `timeout`
    /// filter's. `0s` answers the 409 at once.
    #[serde(default = "default_busy_wait", with = "humantime_serde")]
    pub busy_wait: Duration,
    /// How long a server create that failed where Synnefo may still have
    /// acted (a timeout, a lost answer, a 5xx) is watched for a late
    /// server, which is deleted (see `app::server_create`). Default:
    /// twice `synnefo.timeout`, at least a minute; `0s` looks once.
    #[serde(default, with = "humantime_serde")]
    pub create_watch: Option<Duration>,
    /// How long storage linked inline with a compute's create waits for
    /// the compute's build before it is attached (Synnefo attaches
    /// volumes to built servers only; see `app::attach`). A compute
    /// still building after it keeps its links pending until its owner's
    /// next `GET` of it.
    #[serde(default = "default_inline_attach_timeout", with = "humantime_serde")]
    pub inline_attach_timeout: Duration,
    /// The most entities one collection operation (listing, delete or
    /// action on a collection) touches.
    #[serde(default = "default_collection_limit")]
    pub collection_limit: usize,
    /// How long a user's flavors and images are cached.
    #[serde(default = "default_template_ttl", with = "humantime_serde")]
    pub template_cache_ttl: Duration,
    /// How many users' flavor (and, separately, image) lists are cached at
    /// most; the least recently used go first.
    #[serde(default = "default_template_capacity")]
    pub template_cache_capacity: u64,
    /// How long a user's mixins and associations are served from memory
    /// (writes through this process refresh them at once). Default: one
    /// minute on SQLite; on PostgreSQL no caching, so replicas see each
    /// other's writes at once. A longer value there trades that for one
    /// database query less per show. `0s` disables the cache.
    #[serde(default, with = "humantime_serde")]
    pub user_mixin_cache_ttl: Option<Duration>,
    /// What the compute action `suspend` does (see [`Suspend`]).
    #[serde(default)]
    pub suspend: Suspend,
    /// How long a user's server listing is kept and brought up to date
    /// with Cyclades' `changes-since` before it is read in full again
    /// (see [`compute::listing`]); `0s` reads every listing in full.
    #[serde(default = "default_listing_refresh", with = "humantime_serde")]
    pub listing_refresh: Duration,
}

/// What the compute action `suspend` does. Cyclades cannot suspend a
/// server (its actions are start, shutdown and reboot), so by default it
/// is refused (501), as the original snf-occi did. A site serving
/// clients that only know `suspend` as their "stop" (the Infrastructure
/// Manager's OCCI connector always sends it) may make it shut the
/// server down instead: the compute then is `inactive`, and its memory
/// is lost, which a real suspend keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suspend {
    /// `501 Not Implemented` (the default).
    #[default]
    Refuse,
    /// Shut the server down, as `stop` does.
    Shutdown,
}

fn default_create_retries() -> u32 {
    3
}
fn default_inline_attach_timeout() -> Duration {
    Duration::from_secs(3600)
}
fn default_busy_wait() -> Duration {
    Duration::from_secs(20)
}
fn default_collection_limit() -> usize {
    1000
}
fn default_listing_refresh() -> Duration {
    Duration::from_secs(60)
}
fn default_template_ttl() -> Duration {
    Duration::from_secs(60)
}
fn default_template_capacity() -> u64 {
    10_000
}

impl Default for OcciAppConfig {
    fn default() -> Self {
        OcciAppConfig {
            volume_type: None,
            default_flavor: None,
            default_image: None,
            create_server_max_retries: default_create_retries(),
            busy_wait: default_busy_wait(),
            create_watch: None,
            inline_attach_timeout: default_inline_attach_timeout(),
            collection_limit: default_collection_limit(),
            template_cache_ttl: default_template_ttl(),
            template_cache_capacity: default_template_capacity(),
            user_mixin_cache_ttl: None,
            suspend: Suspend::default(),
            listing_refresh: default_listing_refresh(),
        }
    }
}

/// What every request of the app shares.
#[derive(Debug)]
pub struct AppState {
    /// The Synnefo client (one connection pool).
    pub client: Client,
    /// Renders against `server.public_url`.
    pub renderer: Renderer,
    /// `[app.occi]`.
    pub config: OcciAppConfig,
    /// Per-user flavor and image caches.
    pub templates: Templates,
    /// User mixins and their associations.
    pub store: CachedStore,
    /// The computes whose inline storage links this process is attaching.
    pub attaching: attach::Attaching,
    /// Each server's disk indexes at its last show, under its stamp.
    pub disk_indexes: compute::disks::DiskIndexes,
    /// The renderings of the computes shown lately, with what they were
    /// made from.
    pub shown_computes: compute::shown::ShownComputes,
    /// Each user's server listing, kept up to date by deltas.
    pub server_listings: compute::listing::ServerListings,
    /// Paths under the app that `[urlmap]` mounts other services at (no
    /// trailing `/`): no user mixin may take them ([`query::mounted_paths`]).
    pub reserved_paths: Vec<String>,
}

impl AppState {
    /// The state of an app with `config`, calling Synnefo through
    /// `client` (the build's shared one) and rendering URLs under
    /// `public_url`.
    pub fn new(config: OcciAppConfig, client: Client, public_url: &str, store: Store) -> Self {
        AppState {
            client,
            renderer: Renderer::new(public_url),
            templates: Templates::new(config.template_cache_ttl, config.template_cache_capacity),
            attaching: attach::Attaching::default(),
            disk_indexes: compute::disks::DiskIndexes::default(),
            shown_computes: compute::shown::ShownComputes::default(),
            server_listings: compute::listing::ServerListings::new(config.listing_refresh),
            reserved_paths: Vec::new(),
            store: CachedStore::new(
                store,
                config.user_mixin_cache_ttl,
                config.template_cache_capacity,
            ),
            config,
        }
    }
}

/// The axum router of the app over `state`: every OCCI path.
pub fn router(state: Arc<AppState>) -> Router {
    let router = Router::new()
        .route("/-/", any(query::handler))
        .route("/.well-known/org/ogf/occi/-/", any(query::handler));
    let router = handlers::collection_routes::<compute::Compute>(router);
    let router = handlers::collection_routes::<storage::Storage>(router);
    let router = handlers::collection_routes::<network::Network>(router);
    let router = handlers::collection_routes::<storagelink::StorageLink>(router);
    let router = handlers::collection_routes::<networkinterface::NetworkInterface>(router);
    // rOCCI-cli says `networklink`; same collection under a second path.
    let router =
        handlers::alias_routes::<networkinterface::NetworkInterface>(router, "networklink");
    let router = handlers::collection_routes::<ipreservation::IpReservation>(router);
    let router = mixins::routes(router);
    router.fallback(namespace::handler).with_state(state)
}
