//! Per-user caches of flavors and images (the `resource_tpl` and `os_tpl`
//! mixins): keyed by the user's uuid (never the token), short TTL,
//! single-flight (concurrent misses of one user make one Synnefo call).

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::cache::get_or_load;
use crate::occi::Mixin;
use crate::occi::infrastructure::{os_template, resource_template};
use crate::synnefo::{Flavor, Image};

use super::collection::Ctx;
use super::error::AppError;

/// The template caches of the app.
#[derive(Debug)]
pub struct Templates {
    flavors: Cache<String, Arc<Vec<Flavor>>>,
    images: Cache<String, Arc<Vec<Image>>>,
    // The query interface's template mixins, built from the two lists
    // above (hundreds of categories with attribute definitions: building
    // them on every `/-/` cost more than rendering them).
    mixins: Cache<String, Arc<BuiltMixins>>,
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
            mixins: Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
        }
    }

    /// The caller's flavors (one Synnefo call on a miss).
    pub async fn flavors(&self, ctx: &Ctx) -> Result<Arc<Vec<Flavor>>, AppError> {
        get_or_load(&self.flavors, ctx.user(), || async {
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
        get_or_load(&self.images, ctx.user(), || async {
            ctx.client()
                .list_images_detail(&ctx.caller)
                .await
                .map(Arc::new)
        })
        .await
        .map_err(|e| AppError::synnefo_shared("list images", e))
    }

    /// Forgets `user`'s cached images (and the template mixins built from
    /// them): after a compute `save` the new snapshot is an image, and
    /// the next `/-/` or create must see it as an OS template at once,
    /// not after the TTL. The next read reloads the list (one call). (A
    /// load already in flight when this runs still stores what it read;
    /// that list may predate the snapshot until the TTL ends.)
    pub async fn forget_images(&self, user: &str) {
        self.images.invalidate(user).await;
        self.mixins.invalidate(user).await;
    }

    /// The caller's template mixins: resource templates of the creatable
    /// flavors, then OS templates. Built once per pair of cached lists:
    /// an entry remembers the lists it was built from and is rebuilt as
    /// soon as either was reloaded, so it is never staler than they are.
    pub async fn mixins(&self, ctx: &Ctx) -> Result<Arc<Vec<Mixin>>, AppError> {
        let (flavors, images) = tokio::try_join!(self.flavors(ctx), self.images(ctx))?;
        if let Some(built) = self.mixins.get(ctx.user()).await
            && Arc::ptr_eq(&built.flavors, &flavors)
            && Arc::ptr_eq(&built.images, &images)
        {
            return Ok(built.mixins.clone());
        }
        let mut mixins: Vec<Mixin> = flavors
            .iter()
            .filter(|f| f.allow_create)
            .map(|f| {
                resource_template(
                    &f.id,
                    &f.name,
                    f.vcpus as i64,
                    f.ram as f64 / 1024.0,
                    f.disk as f64,
                )
            })
            .collect();
        mixins.extend(images.iter().map(|i| os_template(&i.id, &i.name)));
        let mixins = Arc::new(mixins);
        self.mixins
            .insert(
                ctx.user().to_owned(),
                Arc::new(BuiltMixins {
                    flavors,
                    images,
                    mixins: mixins.clone(),
                }),
            )
            .await;
        Ok(mixins)
    }
}

/// Template mixins and the lists they were built from.
#[derive(Debug)]
struct BuiltMixins {
    flavors: Arc<Vec<Flavor>>,
    images: Arc<Vec<Image>>,
    mixins: Arc<Vec<Mixin>>,
}
