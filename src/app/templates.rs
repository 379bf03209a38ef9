//! Per-user caches of flavors and images (the `resource_tpl` and `os_tpl`
//! mixins): keyed by the user's uuid (never the token), short TTL,
//! single-flight (concurrent misses of one user make one Synnefo call).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;

use crate::cache::get_or_load;
use crate::middleware::MediaType;
use crate::occi::Mixin;
use crate::occi::infrastructure::{os_template, resource_template};
use crate::occi::render::Rendered;
use crate::store::UserTags;
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
    // The rendered, unfiltered query interface per user and media type
    // (rendering 300 categories was nearly all of a `GET /-/`), valid
    // while the template mixins and the user's mixins it shows are the
    // very ones cached; bounded by bytes, not entries (~100 KB each).
    rendered: Cache<(String, MediaType), Arc<RenderedQuery>>,
    // Counts `forget_images` calls: an image list read while one ran may
    // predate the snapshot it was for, and is dropped once read.
    images_forgotten: AtomicU64,
}

/// The most bytes of rendered query interfaces kept.
const RENDERED_QUERY_BYTES: u64 = 64 << 20;

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
            rendered: Cache::builder()
                .time_to_live(ttl)
                .weigher(|_, r: &Arc<RenderedQuery>| {
                    u32::try_from(r.rendered.body.len() + r.header_bytes).unwrap_or(u32::MAX)
                })
                .max_capacity(RENDERED_QUERY_BYTES)
                .build(),
            images_forgotten: AtomicU64::new(0),
        }
    }

    /// The caller's query interface in `media`, if it was rendered from
    /// exactly `templates` and `tags`.
    pub async fn rendered_query(
        &self,
        ctx: &Ctx,
        media: MediaType,
        templates: &Arc<Vec<Mixin>>,
        tags: &Arc<UserTags>,
    ) -> Option<Rendered> {
        let hit = self.rendered.get(&(ctx.user().to_owned(), media)).await?;
        (Arc::ptr_eq(&hit.templates, templates) && Arc::ptr_eq(&hit.tags, tags))
            .then(|| hit.rendered.clone())
    }

    /// Keeps the caller's query interface rendered for `media` from
    /// `templates` and `tags`.
    pub async fn keep_rendered_query(
        &self,
        ctx: &Ctx,
        media: MediaType,
        templates: Arc<Vec<Mixin>>,
        tags: Arc<UserTags>,
        rendered: &Rendered,
    ) {
        let header_bytes = rendered
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        self.rendered
            .insert(
                (ctx.user().to_owned(), media),
                Arc::new(RenderedQuery {
                    templates,
                    tags,
                    rendered: rendered.clone(),
                    header_bytes,
                }),
            )
            .await;
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
        let forgotten = self.images_forgotten.load(Ordering::Acquire);
        let images = get_or_load(&self.images, ctx.user(), || async {
            ctx.client()
                .list_images_detail(&ctx.caller)
                .await
                .map(Arc::new)
        })
        .await
        .map_err(|e| AppError::synnefo_shared("list images", e))?;
        if self.images_forgotten.load(Ordering::Acquire) != forgotten {
            // A save forgot the lists while this one was read: it may
            // predate the new snapshot. It answers this request, but the
            // cache must not keep it (the load stored it after the
            // forgetting). Any user's save counts: rare, and one reload.
            self.images.invalidate(ctx.user()).await;
        }
        Ok(images)
    }

    /// Forgets `user`'s cached images (and the template mixins built from
    /// them): after a compute `save` the new snapshot is an image, and
    /// the next `/-/` or create must see it as an OS template at once,
    /// not after the TTL. The next read reloads the list (one call); a
    /// read already in flight answers with what it read but does not
    /// leave it cached.
    pub async fn forget_images(&self, user: &str) {
        // Counted first: a load finishing after this either is removed
        // below or sees the count change and removes itself.
        self.images_forgotten.fetch_add(1, Ordering::AcqRel);
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

/// A rendered query interface and what it was rendered from.
#[derive(Debug)]
struct RenderedQuery {
    templates: Arc<Vec<Mixin>>,
    tags: Arc<UserTags>,
    rendered: Rendered,
    header_bytes: usize,
}

/// Template mixins and the lists they were built from.
#[derive(Debug)]
struct BuiltMixins {
    flavors: Arc<Vec<Flavor>>,
    images: Arc<Vec<Image>>,
    mixins: Arc<Vec<Mixin>>,
}
