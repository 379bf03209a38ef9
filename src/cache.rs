//! The one way the app reads its per-user moka caches.
//!
//! `try_get_with` takes the loading future by value, so a caller that
//! awaits it inline carries that future (a whole Synnefo or database
//! call) in its own state on every request, hits included, and async
//! state is moved into a box per request: a compute show was 11 KB of
//! future, most of it cold loads. A hit here costs one lookup and no load
//! future; a miss builds and boxes the load (single-flight as before).

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use moka::future::Cache;

/// The value cached under `key`, else the one `load` makes (concurrent
/// misses of one key share one load; a failed load is not cached).
pub(crate) async fn get_or_load<K, Q, V, E, F, Fut>(
    cache: &Cache<K, V>,
    key: &Q,
    load: F,
) -> Result<V, Arc<E>>
where
    K: Hash + Eq + Send + Sync + std::borrow::Borrow<Q> + 'static,
    Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    V: Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<V, E>>,
{
    if let Some(hit) = cache.get(key).await {
        return Ok(hit);
    }
    Box::pin(async move { cache.try_get_with_by_ref(key, load()).await }).await
}
