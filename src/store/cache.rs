//! The store seen through a per-user snapshot cache.
//!
//! Showing an entity renders the user mixins it carries, so without a
//! cache every show waits for a database query (on SQLite a hop to the
//! connection's worker thread and back; on PostgreSQL a network round
//! trip), which cost more than the rest of the request. A user's mixins
//! and associations are few and change rarely, so [`CachedStore`] reads
//! them all at once into a [`UserTags`] snapshot and serves reads from it.
//!
//! Writes go to the database first and then retire every snapshot taken
//! before them (a global epoch: a snapshot records the epoch it was read
//! in and is only served while that is still current, so a read racing a
//! write can never pin pre-write data in the cache). Within one process
//! that makes the cache exact. Other processes' writes are only seen when
//! a snapshot expires, which is why a shared (PostgreSQL) store is not
//! cached unless the operator sets a TTL (`app.occi.user_mixin_cache_ttl`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use snf_occi_types::cache::TimedCache as Cache;

use super::{Store, StoreError, StoreLimits, UserMixin};

/// One user's mixins and associations, as read at one moment.
#[derive(Debug, Default)]
pub struct UserTags {
    epoch: u64,
    /// Ordered by type id.
    mixins: Vec<UserMixin>,
    /// Parallel to `mixins`: the tagged entity locations, sorted.
    entities: Vec<Vec<String>>,
    /// Entity location -> indices into `mixins`, ascending.
    by_entity: HashMap<String, Vec<usize>>,
}

impl UserTags {
    fn new(epoch: u64, mixins: Vec<UserMixin>, associations: Vec<(String, String)>) -> Self {
        let index: HashMap<String, usize> = mixins
            .iter()
            .enumerate()
            .map(|(i, m)| (m.type_id(), i))
            .collect();
        let mut entities = vec![Vec::new(); mixins.len()];
        let mut by_entity: HashMap<String, Vec<usize>> = HashMap::new();
        // Associations arrive ordered by entity, so each list is sorted.
        for (type_id, entity) in associations {
            let Some(&i) = index.get(&type_id) else {
                continue;
            };
            entities[i].push(entity.clone());
            by_entity.entry(entity).or_default().push(i);
        }
        for list in by_entity.values_mut() {
            list.sort_unstable();
        }
        UserTags {
            epoch,
            mixins,
            entities,
            by_entity,
        }
    }

    /// The user's mixins, ordered by type id.
    pub fn mixins(&self) -> &[UserMixin] {
        &self.mixins
    }

    /// The entity locations tagged with the mixin `type_id`, sorted;
    /// [`StoreError::NoSuchMixin`] if the user has no such mixin.
    pub fn associations(&self, type_id: &str) -> Result<&[String], StoreError> {
        self.mixins
            .iter()
            .position(|m| m.scheme.len() + m.term.len() == type_id.len() && m.type_id() == type_id)
            .map(|i| self.entities[i].as_slice())
            .ok_or_else(|| StoreError::NoSuchMixin(type_id.to_owned()))
    }

    /// How many associations the user has (over all their mixins).
    pub fn association_count(&self) -> usize {
        self.entities.iter().map(Vec::len).sum()
    }

    /// The user mixins `entity` carries, ordered by type id.
    pub fn mixins_of(&self, entity: &str) -> impl Iterator<Item = &UserMixin> {
        self.by_entity
            .get(entity)
            .into_iter()
            .flatten()
            .map(|&i| &self.mixins[i])
    }
}

/// A [`Store`] whose reads are served from per-user [`UserTags`]
/// snapshots (see the module docs for when they are exact).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use snf_occi::store::{CachedStore, Store, StoreConfig, UserMixin};
/// let store = Store::open(&StoreConfig::new("sqlite::memory:")).await.unwrap();
/// let cached = CachedStore::new(store, Some(Duration::from_secs(60)), 1000);
/// let tag = UserMixin {
///     scheme: "http://example.com/tags#".into(),
///     term: "prod".into(),
///     title: None,
///     location: "/prod/".into(),
/// };
/// cached.create_mixin("user-1", &tag).await.unwrap();
/// cached.associate("user-1", &tag.type_id(), &["/compute/42".into()]).await.unwrap();
/// let tags = cached.tags("user-1").await.unwrap();
/// assert_eq!(tags.mixins_of("/compute/42").next(), Some(&tag));
/// # });
/// ```
#[derive(Debug)]
pub struct CachedStore {
    store: Store,
    /// `None`: every read goes to the database.
    snapshots: Option<Cache<String, Arc<UserTags>>>,
    epoch: AtomicU64,
}

impl CachedStore {
    /// Caches snapshots of at most `capacity` users for `ttl`; `None`
    /// picks the default: one minute for a store this process owns
    /// (SQLite), no caching for a shared one (PostgreSQL), so replicas
    /// see each other's writes at once. A zero `ttl` disables the cache.
    pub fn new(store: Store, ttl: Option<Duration>, capacity: u64) -> Self {
        let ttl = ttl.unwrap_or(if store.is_shared() {
            Duration::ZERO
        } else {
            Duration::from_secs(60)
        });
        let snapshots =
            (!ttl.is_zero()).then(|| Cache::builder(capacity).time_to_live(ttl).build());
        CachedStore {
            store,
            snapshots,
            epoch: AtomicU64::new(0),
        }
    }

    /// Whether snapshots are kept: a [`UserTags`] from [`CachedStore::tags`]
    /// is then the same `Arc` until the user's data changes, so what is
    /// built from it can be kept as long as the `Arc` is.
    pub fn caches(&self) -> bool {
        self.snapshots.is_some()
    }

    /// The store underneath (for readiness checks).
    pub fn inner(&self) -> &Store {
        &self.store
    }

    /// The per-user caps the store enforces.
    pub fn limits(&self) -> StoreLimits {
        self.store.limits()
    }

    /// [`StoreError::TooManyAssociations`] if adding `more` associations
    /// to what `tags` holds would pass the cap: a check from a snapshot,
    /// for a caller that can refuse before doing anything it would have
    /// to undo (a create that would make a server, then fail to tag it).
    /// The store's own check stays the one that counts.
    pub fn check_association_room(&self, tags: &UserTags, more: usize) -> Result<(), StoreError> {
        let limit = self.limits().associations;
        let count = tags.association_count().saturating_add(more);
        if more > 0 && count > limit {
            return Err(StoreError::TooManyAssociations { count, limit });
        }
        Ok(())
    }

    /// `user`'s mixins and associations: from the cache when a current
    /// snapshot is there, else one read (single-flight per user).
    pub async fn tags(&self, user: &str) -> Result<Arc<UserTags>, StoreError> {
        let Some(cache) = &self.snapshots else {
            return Box::pin(self.load(user)).await.map(Arc::new);
        };
        loop {
            let epoch = self.epoch.load(Ordering::Acquire);
            let tags = cache
                .get_or_load(user, || async { self.load(user).await.map(Arc::new) })
                .await
                .map_err(StoreError::Shared)?;
            if tags.epoch >= epoch {
                return Ok(tags);
            }
            // Read before a write that has committed since: read again.
            cache.invalidate(user);
        }
    }

    async fn load(&self, user: &str) -> Result<UserTags, StoreError> {
        // The epoch before the read: a write committing during the read
        // bumps it, so this snapshot is not served after that write.
        let epoch = self.epoch.load(Ordering::Acquire);
        let (mixins, associations) = self.store.user_tags(user).await?;
        Ok(UserTags::new(epoch, mixins, associations))
    }

    /// After a committed write of `user`'s data: no snapshot taken before
    /// it is served again.
    fn changed(&self, user: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(cache) = &self.snapshots {
            cache.invalidate(user);
        }
    }

    /// See [`Store::create_mixin`].
    pub async fn create_mixin(&self, user: &str, mixin: &UserMixin) -> Result<(), StoreError> {
        let result = self.store.create_mixin(user, mixin).await;
        self.changed(user);
        result
    }

    /// See [`Store::create_mixins`].
    pub async fn create_mixins(&self, user: &str, mixins: &[UserMixin]) -> Result<(), StoreError> {
        let result = self.store.create_mixins(user, mixins).await;
        self.changed(user);
        result
    }

    /// See [`Store::delete_mixin`].
    pub async fn delete_mixin(&self, user: &str, type_id: &str) -> Result<(), StoreError> {
        let result = self.store.delete_mixin(user, type_id).await;
        self.changed(user);
        result
    }

    /// See [`Store::delete_mixins`].
    pub async fn delete_mixins(&self, user: &str, type_ids: &[String]) -> Result<(), StoreError> {
        let result = self.store.delete_mixins(user, type_ids).await;
        self.changed(user);
        result
    }

    /// See [`Store::associate`].
    pub async fn associate(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let result = self.store.associate(user, type_id, entities).await;
        self.changed(user);
        result
    }

    /// See [`Store::replace_associations`].
    pub async fn replace_associations(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let result = self
            .store
            .replace_associations(user, type_id, entities)
            .await;
        self.changed(user);
        result
    }

    /// See [`Store::tag_entity`].
    pub async fn tag_entity(
        &self,
        user: &str,
        entity: &str,
        type_ids: &[String],
        replace: bool,
    ) -> Result<(), StoreError> {
        let result = self.store.tag_entity(user, entity, type_ids, replace).await;
        self.changed(user);
        result
    }

    /// See [`Store::dissociate`].
    pub async fn dissociate(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let result = self.store.dissociate(user, type_id, entities).await;
        self.changed(user);
        result
    }

    /// See [`Store::forget_entity`]; a no-op when the cached snapshot
    /// shows the entity carries no user mixin (the common delete).
    pub async fn forget_entity(&self, user: &str, entity: &str) -> Result<(), StoreError> {
        if self.caches() && self.tags(user).await?.mixins_of(entity).next().is_none() {
            return Ok(());
        }
        let result = self.store.forget_entity(user, entity).await;
        self.changed(user);
        result
    }
}
