//! Per-user caches of flavors and images (the `resource_tpl` and `os_tpl`
//! mixins): keyed by the user's uuid (never the token), short TTL,
//! single-flight (concurrent misses of one user make one Synnefo call).

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::synnefo::{Flavor, Image};

use super::collection::Ctx;
use super::error::AppError;

/// The template caches of the app.
#[derive(Debug)]
pub struct Templates {
    flavors: Cache<String, Arc<Vec<Flavor>>>,
    images: Cache<String, Arc<Vec<Image>>>,
}

impl Templates {
    /// Empty caches whose entries live `ttl`, of at most `capacity` users
    /// each.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Templates {
            flavors: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
            images: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
        }
    }

    /// The caller's flavors (one Synnefo call on a miss).
    pub async fn flavors(&self, ctx: &Ctx) -> Result<Arc<Vec<Flavor>>, AppError> {
        self.flavors
            .try_get_with(ctx.user().to_owned(), async {
                ctx.client()
                    .list_flavors_detail(&ctx.caller)
                    .await
                    .map(Arc::new)
            })
            .await
            .map_err(|e| AppError::synnefo_shared("list flavors", e))
    }

    /// The caller's images (one Synnefo call on a miss).
    pub async fn images(&self, ctx: &Ctx) -> Result<Arc<Vec<Image>>, AppError> {
        self.images
            .try_get_with(ctx.user().to_owned(), async {
                ctx.client()
                    .list_images_detail(&ctx.caller)
                    .await
                    .map(Arc::new)
            })
            .await
            .map_err(|e| AppError::synnefo_shared("list images", e))
    }
}
