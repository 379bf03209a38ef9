//! Per-user caches of flavors, images and volume types (the
//! `resource_tpl`, `os_tpl` and `storage_tpl` mixins): keyed by the
//! user's uuid (never the token), short TTL, single-flight (concurrent
//! misses of one user make one Synnefo call).
//!
//! [`TemplateCatalog`] and [`StorageTypes`] give each template its term
//! (see [`super::terms`]) and find a template from what a client typed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use snf_occi_types::cache::TimedCache as Cache;

use crate::occi::Mixin;
use crate::occi::infrastructure::{os_template, resource_template, storage_template};
use crate::occi::render::Rendered;
use crate::store::UserTags;
use crate::synnefo::{Flavor, Image, VolumeType};
use snf_occi_types::MediaType;

use super::OcciAppConfig;
use super::collection::Ctx;
use super::error::AppError;
use super::terms::assign_terms;

/// The template caches of the app.
#[derive(Debug)]
pub struct Templates {
    flavors: Cache<String, Arc<Vec<Flavor>>>,
    images: Cache<String, Arc<Vec<Image>>>,
    volume_types: Cache<String, Arc<Vec<VolumeType>>>,
    // The terms and template mixins built from the flavor and image lists
    // above (hundreds of categories with attribute definitions: building
    // them on every `/-/` cost more than rendering them).
    catalogs: Cache<String, Arc<TemplateCatalog>>,
    // The same for the volume types.
    storage_types: Cache<String, Arc<StorageTypes>>,
    // The query interface's template mixins, of one catalog and one set
    // of storage types.
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
            flavors: Cache::builder(capacity).time_to_live(ttl).build(),
            images: Cache::builder(capacity).time_to_live(ttl).build(),
            volume_types: Cache::builder(capacity).time_to_live(ttl).build(),
            catalogs: Cache::builder(capacity).time_to_live(ttl).build(),
            storage_types: Cache::builder(capacity).time_to_live(ttl).build(),
            mixins: Cache::builder(capacity).time_to_live(ttl).build(),
            rendered: Cache::builder(RENDERED_QUERY_BYTES)
                .time_to_live(ttl)
                .weigher(|r: &Arc<RenderedQuery>| {
                    u32::try_from(r.rendered.size()).unwrap_or(u32::MAX)
                })
                .build(),
            images_forgotten: AtomicU64::new(0),
        }
    }

    /// The caller's query interface in `media`, if it was rendered from
    /// exactly `templates` and `tags`.
    pub fn rendered_query(
        &self,
        ctx: &Ctx,
        media: MediaType,
        templates: &Arc<Vec<Mixin>>,
        tags: &Arc<UserTags>,
    ) -> Option<Rendered> {
        let hit = self.rendered.get(&(ctx.user().to_owned(), media))?;
        (Arc::ptr_eq(&hit.templates, templates) && Arc::ptr_eq(&hit.tags, tags))
            .then(|| hit.rendered.clone())
    }

    /// Keeps the caller's query interface rendered for `media` from
    /// `templates` and `tags`.
    pub fn keep_rendered_query(
        &self,
        ctx: &Ctx,
        media: MediaType,
        templates: Arc<Vec<Mixin>>,
        tags: Arc<UserTags>,
        rendered: &Rendered,
    ) {
        self.rendered.insert(
            (ctx.user().to_owned(), media),
            Arc::new(RenderedQuery {
                templates,
                tags,
                rendered: rendered.clone(),
            }),
        );
    }

    /// The caller's flavors (one Synnefo call on a miss).
    pub async fn flavors(&self, ctx: &Ctx) -> Result<Arc<Vec<Flavor>>, AppError> {
        self.flavors
            .get_or_load(ctx.user(), || async {
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
        let images = self
            .images
            .get_or_load(ctx.user(), || async {
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
            self.images.invalidate(ctx.user());
        }
        Ok(images)
    }

    /// Forgets `user`'s cached images (and the template mixins built from
    /// them): after a compute `save` the new snapshot is an image, and
    /// the next `/-/` or create must see it as an OS template at once,
    /// not after the TTL. The next read reloads the list (one call); a
    /// read already in flight answers with what it read but does not
    /// leave it cached.
    pub fn forget_images(&self, user: &str) {
        // Counted first: a load finishing after this either is removed
        // below or sees the count change and removes itself.
        self.images_forgotten.fetch_add(1, Ordering::AcqRel);
        self.images.invalidate(user);
        self.catalogs.invalidate(user);
    }

    /// The volume types of the caller's cloud (one Synnefo call on a
    /// miss).
    pub async fn volume_types(&self, ctx: &Ctx) -> Result<Arc<Vec<VolumeType>>, AppError> {
        self.volume_types
            .get_or_load(ctx.user(), || async {
                ctx.client()
                    .list_volume_types(&ctx.caller)
                    .await
                    .map(Arc::new)
            })
            .await
            .map_err(|e| AppError::synnefo_shared("list volume types", e))
    }

    /// The caller's flavors and images with their terms. Built once per
    /// pair of cached lists: an entry remembers the lists it was built
    /// from and is rebuilt as soon as either was reloaded, so it is never
    /// staler than they are.
    pub async fn catalog(&self, ctx: &Ctx) -> Result<Arc<TemplateCatalog>, AppError> {
        let (flavors, images) = tokio::try_join!(self.flavors(ctx), self.images(ctx))?;
        if let Some(built) = self.catalogs.get(ctx.user())
            && Arc::ptr_eq(&built.flavors, &flavors)
            && Arc::ptr_eq(&built.images, &images)
        {
            return Ok(built);
        }
        let catalog = Arc::new(TemplateCatalog::new(flavors, images));
        self.catalogs.insert(ctx.user().to_owned(), catalog.clone());
        Ok(catalog)
    }

    /// The volume types with their terms (see [`Templates::catalog`]).
    pub async fn storage_types(&self, ctx: &Ctx) -> Result<Arc<StorageTypes>, AppError> {
        let types = self.volume_types(ctx).await?;
        if let Some(built) = self.storage_types.get(ctx.user())
            && Arc::ptr_eq(&built.types, &types)
        {
            return Ok(built);
        }
        let built = Arc::new(StorageTypes::new(types));
        self.storage_types
            .insert(ctx.user().to_owned(), built.clone());
        Ok(built)
    }

    /// The caller's template mixins: resource templates of the creatable
    /// flavors, then OS templates, then storage templates.
    pub async fn mixins(&self, ctx: &Ctx) -> Result<Arc<Vec<Mixin>>, AppError> {
        let (catalog, types) = tokio::try_join!(self.catalog(ctx), self.storage_types(ctx))?;
        if let Some(built) = self.mixins.get(ctx.user())
            && Arc::ptr_eq(&built.catalog, &catalog)
            && Arc::ptr_eq(&built.types, &types)
        {
            return Ok(built.mixins.clone());
        }
        let mut mixins = catalog.mixins.clone();
        mixins.extend(types.mixins.iter().cloned());
        let mixins = Arc::new(mixins);
        self.mixins.insert(
            ctx.user().to_owned(),
            Arc::new(BuiltMixins {
                catalog,
                types,
                mixins: mixins.clone(),
            }),
        );
        Ok(mixins)
    }
}

/// A template lookup that names several templates.
#[derive(Debug)]
pub struct Ambiguous(pub String);

/// The caller's flavors and images with their terms (see
/// [`super::terms`]), and the lookups a create or update makes.
#[derive(Debug)]
pub struct TemplateCatalog {
    flavors: Arc<Vec<Flavor>>,
    images: Arc<Vec<Image>>,
    flavor_terms: Vec<String>,
    image_terms: Vec<String>,
    /// Index by id, for the terms of every compute a listing renders.
    flavor_at: HashMap<String, usize>,
    image_at: HashMap<String, usize>,
    /// The resource templates (creatable flavors) and OS templates.
    mixins: Vec<Mixin>,
}

impl TemplateCatalog {
    /// The catalog of these lists.
    pub fn new(flavors: Arc<Vec<Flavor>>, images: Arc<Vec<Image>>) -> Self {
        let pairs: Vec<(&str, &str)> = flavors
            .iter()
            .map(|f| (f.id.as_str(), f.name.as_str()))
            .collect();
        let flavor_terms = assign_terms(&pairs);
        let pairs: Vec<(&str, &str)> = images
            .iter()
            .map(|i| (i.id.as_str(), i.name.as_str()))
            .collect();
        let image_terms = assign_terms(&pairs);
        let mut mixins: Vec<Mixin> = flavors
            .iter()
            .zip(&flavor_terms)
            .filter(|(f, _)| f.allow_create)
            .map(|(f, term)| {
                resource_template(
                    term,
                    &f.name,
                    f.vcpus as i64,
                    f.ram as f64 / 1024.0,
                    f.disk as f64,
                )
            })
            .collect();
        mixins.extend(
            images
                .iter()
                .zip(&image_terms)
                .map(|(i, term)| os_template(term, &i.name)),
        );
        let flavor_at = flavors
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.clone(), i))
            .collect();
        let image_at = images
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        TemplateCatalog {
            flavors,
            images,
            flavor_terms,
            image_terms,
            flavor_at,
            image_at,
            mixins,
        }
    }

    /// Every flavor of the caller (creatable or not).
    pub fn flavors(&self) -> &[Flavor] {
        &self.flavors
    }

    /// Every image of the caller.
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// The caller's flavor `id`.
    pub fn flavor_by_id(&self, id: &str) -> Option<&Flavor> {
        self.flavor_at.get(id).map(|i| &self.flavors[*i])
    }

    /// The term of flavor `id` (its id when the caller has no such
    /// flavor).
    pub fn flavor_term<'a>(&'a self, id: &'a str) -> &'a str {
        self.flavor_at
            .get(id)
            .map_or(id, |i| &self.flavor_terms[*i])
    }

    /// The term of image `id` (its id when the caller does not see it:
    /// a deleted image, another user's snapshot).
    pub fn image_term<'a>(&'a self, id: &'a str) -> &'a str {
        self.image_at.get(id).map_or(id, |i| &self.image_terms[*i])
    }

    /// The term image `id` named `name` has once it is listed with the
    /// caller's other images (a `save` answers with it before the list is
    /// read again).
    pub fn term_with_new_image(&self, id: &str, name: &str) -> String {
        if self.images.iter().any(|i| i.id == id) {
            return self.image_term(id).to_owned();
        }
        let mut pairs: Vec<(&str, &str)> = self
            .images
            .iter()
            .map(|i| (i.id.as_str(), i.name.as_str()))
            .collect();
        pairs.push((id, name));
        assign_terms(&pairs).pop().unwrap_or_else(|| id.to_owned())
    }

    /// The flavor a client names with `key`: its term, id or name, then
    /// (for the seed document's `C2R2048D20`) its name without the disk
    /// template Cyclades appends (`C<cpus>R<ram>D<disk><template>`), then
    /// its term in any letter case. A short name several flavors share
    /// means the one whose disk template is `prefer` (the default
    /// flavor's) if there is one, else it is [`Ambiguous`].
    pub fn flavor(&self, key: &str, prefer: Option<&str>) -> Result<Option<&Flavor>, Ambiguous> {
        let exact = self
            .flavor_terms
            .iter()
            .position(|t| t == key)
            .map(|i| &self.flavors[i])
            .or_else(|| self.flavors.iter().find(|f| f.id == key))
            .or_else(|| self.flavors.iter().find(|f| f.name == key));
        if exact.is_some() {
            return Ok(exact);
        }
        let short: Vec<&Flavor> = self
            .flavors
            .iter()
            .filter(|f| {
                f.allow_create
                    && f.disk_template
                        .as_deref()
                        .is_some_and(|t| !t.is_empty() && f.name.strip_suffix(t) == Some(key))
            })
            .collect();
        match short.as_slice() {
            [one] => return Ok(Some(one)),
            [] => {}
            many => {
                let preferred: Vec<&&Flavor> = many
                    .iter()
                    .filter(|f| prefer.is_some() && f.disk_template.as_deref() == prefer)
                    .collect();
                if let [one] = preferred.as_slice() {
                    return Ok(Some(one));
                }
                return Err(Ambiguous(format!(
                    "{key} names several resource templates ({}): name one of them",
                    many.iter()
                        .map(|f| self.flavor_term(&f.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        self.any_case(&self.flavor_terms, key, "resource templates")
            .map(|i| i.map(|i| &self.flavors[i]))
    }

    /// The image a client names with `key`: its term, id or name, then
    /// its term in any letter case.
    pub fn image(&self, key: &str) -> Result<Option<&Image>, Ambiguous> {
        let exact = self
            .image_terms
            .iter()
            .position(|t| t == key)
            .map(|i| &self.images[i])
            .or_else(|| self.images.iter().find(|i| i.id == key))
            .or_else(|| self.images.iter().find(|i| i.name == key));
        if exact.is_some() {
            return Ok(exact);
        }
        self.any_case(&self.image_terms, key, "OS templates")
            .map(|i| i.map(|i| &self.images[i]))
    }

    /// The one term equal to `key` but for letter case (the original
    /// snf-occi 0.2 lower-cased its terms: `c2r2048d20drbd`).
    fn any_case(
        &self,
        terms: &[String],
        key: &str,
        what: &str,
    ) -> Result<Option<usize>, Ambiguous> {
        let found: Vec<usize> = terms
            .iter()
            .enumerate()
            .filter(|(_, t)| t.eq_ignore_ascii_case(key))
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => Err(Ambiguous(format!(
                "{key} names several {what} ({}): name one of them",
                many.iter()
                    .map(|i| terms[*i].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The configured `default_flavor`, if it names one of the caller's
    /// flavors.
    pub fn default_flavor(&self, config: &OcciAppConfig) -> Option<&Flavor> {
        let key = config.default_flavor.as_deref()?;
        self.flavor(key, None).ok().flatten()
    }

    /// The configured `default_image`, if it names one of the caller's
    /// images.
    pub fn default_image(&self, config: &OcciAppConfig) -> Option<&Image> {
        let key = config.default_image.as_deref()?;
        self.image(key).ok().flatten()
    }
}

/// The cloud's volume types with their terms, as storage templates.
#[derive(Debug)]
pub struct StorageTypes {
    types: Arc<Vec<VolumeType>>,
    terms: Vec<String>,
    mixins: Vec<Mixin>,
}

impl StorageTypes {
    /// The storage templates of these types.
    pub fn new(types: Arc<Vec<VolumeType>>) -> Self {
        let pairs: Vec<(&str, &str)> = types
            .iter()
            .map(|t| (t.id.as_str(), t.name.as_str()))
            .collect();
        let terms = assign_terms(&pairs);
        let mixins = types
            .iter()
            .zip(&terms)
            .map(|(t, term)| storage_template(term, t.template(), t.is_detachable()))
            .collect();
        StorageTypes {
            types,
            terms,
            mixins,
        }
    }

    /// Every volume type, as the cloud lists them (by id).
    pub fn types(&self) -> &[VolumeType] {
        &self.types
    }

    /// The term of volume type `id` (its id for a type the cloud no
    /// longer lists).
    pub fn term<'a>(&'a self, id: &'a str) -> &'a str {
        self.types
            .iter()
            .position(|t| t.id == id)
            .map_or(id, |i| &self.terms[i])
    }

    /// The volume type a client or the configuration names with `key`:
    /// its term, id or name.
    pub fn find(&self, key: &str) -> Option<&VolumeType> {
        self.terms
            .iter()
            .position(|t| t == key)
            .map(|i| &self.types[i])
            .or_else(|| self.types.iter().find(|t| t.id == key))
            .or_else(|| self.types.iter().find(|t| t.name == key))
    }

    /// The volume type of `flavor`'s disks: its `SNF:volume_type`, else
    /// the type of its disk template.
    pub fn of_flavor(&self, flavor: &Flavor) -> Option<&VolumeType> {
        match &flavor.volume_type {
            Some(id) => self.types.iter().find(|t| t.id == *id),
            None => {
                let template = flavor.disk_template.as_deref()?;
                self.types.iter().find(|t| t.template() == template)
            }
        }
    }

    /// The volume type of new storage that names none: the configured
    /// `volume_type`; else the default flavor's type when it is
    /// detachable (so that new storage links to computes made with the
    /// defaults); else the first detachable type. `Err` says why there
    /// is none.
    pub fn default_type(
        &self,
        config: &OcciAppConfig,
        default_flavor: Option<&Flavor>,
    ) -> Result<&VolumeType, AppError> {
        if let Some(key) = config.volume_type.as_deref() {
            return self.find(key).ok_or_else(|| {
                AppError::Conflict(format!(
                    "the configured volume type {key:?} does not exist in this cloud (it has {})",
                    self.terms.join(", ")
                ))
            });
        }
        default_flavor
            .and_then(|f| self.of_flavor(f))
            .filter(|t| t.is_detachable())
            .or_else(|| self.types.iter().find(|t| t.is_detachable()))
            .ok_or_else(|| {
                AppError::Conflict(
                    "no volume type of this cloud is detachable: Synnefo creates volumes only \
                     as the disks of a compute"
                        .to_owned(),
                )
            })
    }
}

/// A rendered query interface and what it was rendered from.
#[derive(Debug)]
struct RenderedQuery {
    templates: Arc<Vec<Mixin>>,
    tags: Arc<UserTags>,
    rendered: Rendered,
}

/// The query interface's template mixins and what they were built from.
#[derive(Debug)]
struct BuiltMixins {
    catalog: Arc<TemplateCatalog>,
    types: Arc<StorageTypes>,
    mixins: Arc<Vec<Mixin>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flavor(id: &str, name: &str, template: &str) -> Flavor {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "vcpus": 2, "ram": 2048, "disk": 20,
            "SNF:disk_template": template,
        }))
        .expect("flavor")
    }

    fn image(id: &str, name: &str) -> Image {
        serde_json::from_value(serde_json::json!({"id": id, "name": name})).expect("image")
    }

    fn catalog() -> TemplateCatalog {
        TemplateCatalog::new(
            Arc::new(vec![
                flavor("1", "C2R2048D20ext_archipelago", "ext_archipelago"),
                flavor("2", "C2R2048D20drbd", "drbd"),
                flavor("3", "C4R4096D40drbd", "drbd"),
            ]),
            Arc::new(vec![
                image("9e8a3b2c-0001", "Debian Base"),
                image("9e8a3b2c-0002", "Ubuntu Server LTS"),
            ]),
        )
    }

    #[test]
    fn flavors_are_found_by_the_names_and_ids_a_real_cloud_has() {
        let c = catalog();
        let id = |key: &str, prefer: Option<&str>| {
            c.flavor(key, prefer)
                .map(|f| f.map(|f| f.id.clone()))
                .map_err(|Ambiguous(why)| why)
        };
        assert_eq!(c.flavor_term("1"), "C2R2048D20ext_archipelago");
        assert_eq!(id("C2R2048D20drbd", None), Ok(Some("2".into())));
        assert_eq!(id("3", None), Ok(Some("3".into())));
        assert_eq!(id("c4r4096d40drbd", None), Ok(Some("3".into())));
        // The seed's name without the template: one flavor, or the one of
        // the preferred template, else a 400 naming the candidates.
        assert_eq!(id("C4R4096D40", None), Ok(Some("3".into())));
        assert_eq!(
            id("C2R2048D20", Some("ext_archipelago")),
            Ok(Some("1".into()))
        );
        assert_eq!(id("C2R2048D20", Some("drbd")), Ok(Some("2".into())));
        let why = id("C2R2048D20", None).unwrap_err();
        assert!(
            why.contains("C2R2048D20ext_archipelago, C2R2048D20drbd"),
            "{why}"
        );
        assert_eq!(id("C8R2048D20", None), Ok(None));
    }

    #[test]
    fn images_are_found_by_term_id_and_name() {
        let c = catalog();
        let id = |key: &str| c.image(key).ok().flatten().map(|i| i.id.clone());
        assert_eq!(c.image_term("9e8a3b2c-0001"), "Debian_Base");
        assert_eq!(c.image_term("gone"), "gone");
        for key in ["Debian_Base", "9e8a3b2c-0001", "Debian Base", "debian_base"] {
            assert_eq!(id(key).as_deref(), Some("9e8a3b2c-0001"), "{key}");
        }
        assert_eq!(id("Debian"), None);
        // A snapshot named like an image: both keep their ids as terms.
        assert_eq!(
            c.term_with_new_image("snap-1", "Ubuntu Server LTS"),
            "snap-1"
        );
        assert_eq!(c.term_with_new_image("snap-2", "golden"), "golden");
    }

    #[test]
    fn the_default_storage_type_attaches_to_the_default_flavor_when_it_can() {
        let types: Vec<VolumeType> = serde_json::from_value(serde_json::json!([
            {"id": 1, "name": "drbd", "SNF:disk_template": "drbd", "SNF:detachable": false},
            {"id": 2, "name": "ext_archipelago", "SNF:disk_template": "ext_archipelago", "SNF:detachable": true},
            {"id": 3, "name": "ext_vlmc"},
        ]))
        .expect("types");
        let types = StorageTypes::new(Arc::new(types));
        let config = OcciAppConfig::default();
        let c = catalog();
        let default = |f: Option<&str>| {
            types
                .default_type(&config, f.and_then(|f| c.flavor(f, None).ok().flatten()))
                .map(|t| t.id.clone())
        };
        assert_eq!(default(None).unwrap(), "2");
        assert_eq!(default(Some("C2R2048D20drbd")).unwrap(), "2");
        assert_eq!(default(Some("C2R2048D20ext_archipelago")).unwrap(), "2");
        // Without SNF:detachable, Cyclades' default (ext_*) decides.
        assert!(types.find("ext_vlmc").unwrap().is_detachable());
        let configured = OcciAppConfig {
            volume_type: Some("ext_vlmc".into()),
            ..OcciAppConfig::default()
        };
        assert_eq!(types.default_type(&configured, None).unwrap().id, "3");
        let missing = OcciAppConfig {
            volume_type: Some("ssd".into()),
            ..OcciAppConfig::default()
        };
        let err = types.default_type(&missing, None).unwrap_err();
        assert!(
            err.to_string().contains("drbd, ext_archipelago, ext_vlmc"),
            "{err}"
        );
    }
}
