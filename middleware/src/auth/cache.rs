//! The validation cache shared by the auth filters.
//!
//! Keys are SHA-256 digests of the credential (a token, a leaf certificate,
//! a bearer string), never the credential itself, so a heap dump or a debug
//! print of the cache shows nothing a caller could replay. Each entry lives
//! for the configured TTL or until the credential itself expires, whichever
//! comes first; concurrent first requests with one credential share one
//! validation (the cache's single-flight load).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use snf_occi_types::cache::TimedCache;

/// A cache key: the SHA-256 digest of a credential.
pub(crate) type CacheKey = [u8; 32];

/// Hashes a credential into its cache key.
pub(crate) fn cache_key(credential: &[u8]) -> CacheKey {
    Sha256::digest(credential).into()
}

/// A cached login that knows when it stops being valid: the cache drops
/// it then, even before its TTL.
pub trait Expiring {
    /// When the credential behind this value expires, if known.
    fn expires(&self) -> Option<SystemTime>;
}

/// A bounded, expiring, single-flight cache of validations.
#[derive(Clone)]
pub(crate) struct AuthCache<V: Send + Sync + 'static> {
    /// Logins are shared, not copied, with the requests they serve: an
    /// identity holds a handful of strings and a project list.
    cache: TimedCache<CacheKey, Arc<V>>,
    /// The `cache` label of its hit/miss counters.
    name: &'static str,
}

impl<V> AuthCache<V>
where
    V: Expiring + Send + Sync + 'static,
{
    /// A cache of at most `capacity` entries, each kept at most `ttl`,
    /// and never past its credential's own expiry.
    pub(crate) fn new(capacity: u64, ttl: Duration) -> Self {
        let cache = TimedCache::builder(capacity)
            .time_to_live(ttl)
            .lifetime(move |login: &Arc<V>| lifetime(ttl, login.expires(), SystemTime::now()))
            .build();
        AuthCache {
            cache,
            name: "auth",
        }
    }

    /// The same cache, counted under `name` (the filter's name).
    pub(crate) fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// The cached value for `key`, or the result of `init` (concurrent
    /// callers wait for one validation; a failed one is not cached, and
    /// the next waiter validates in turn). The flag is true
    /// when this call ran `init` (the value is fresh from the identity
    /// service).
    pub(crate) async fn get_or_try_insert<F, Fut, E>(
        &self,
        key: CacheKey,
        init: F,
    ) -> Result<(Arc<V>, bool), Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let load = || async { init().await.map(Arc::new) };
        match self.cache.get_or_load_fresh(&key, load).await {
            Ok((login, fresh)) => {
                // A fresh entry means this call validated upstream: a miss.
                snf_occi_types::metrics::record_cache_lookup(self.name, !fresh);
                Ok((login, fresh))
            }
            Err(err) => {
                // Validation ran and failed: a miss (errors are not cached).
                snf_occi_types::metrics::record_cache_lookup(self.name, false);
                Err(err)
            }
        }
    }

    /// Forgets `key` at once (the backend rejected the credential).
    pub(crate) fn invalidate(&self, key: &CacheKey) {
        self.cache.invalidate(key);
    }
}

/// `min(ttl, expires - now)`, zero for what has already expired.
pub(crate) fn lifetime(ttl: Duration, expires: Option<SystemTime>, now: SystemTime) -> Duration {
    match expires {
        Some(at) => ttl.min(at.duration_since(now).unwrap_or(Duration::ZERO)),
        None => ttl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_is_the_shorter_of_ttl_and_expiry() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let ttl = Duration::from_secs(300);
        assert_eq!(lifetime(ttl, None, now), ttl);
        assert_eq!(
            lifetime(ttl, Some(now + Duration::from_secs(60)), now),
            Duration::from_secs(60)
        );
        assert_eq!(
            lifetime(ttl, Some(now + Duration::from_secs(3_600)), now),
            ttl
        );
        assert_eq!(
            lifetime(ttl, Some(now - Duration::from_secs(1)), now),
            Duration::ZERO
        );
    }

    #[test]
    fn keys_are_digests_not_the_credential() {
        let key = cache_key(b"secret-token");
        assert_eq!(key.len(), 32);
        assert!(!key.windows(6).any(|w| w == b"secret"));
        assert_ne!(key, cache_key(b"secret-token2"));
    }

    #[derive(Clone)]
    struct V(Option<SystemTime>);
    impl Expiring for V {
        fn expires(&self) -> Option<SystemTime> {
            self.0
        }
    }

    #[tokio::test]
    async fn errors_are_not_cached_and_values_are() {
        let cache = AuthCache::<V>::new(10, Duration::from_secs(60));
        let key = cache_key(b"t");
        let err = cache
            .get_or_try_insert(key, || async { Err::<V, &str>("down") })
            .await;
        assert!(err.is_err());
        let (_, fresh) = cache
            .get_or_try_insert(key, || async { Ok::<_, &str>(V(None)) })
            .await
            .unwrap();
        assert!(fresh);
        let (_, fresh) = cache
            .get_or_try_insert(key, || async { Ok::<_, &str>(V(None)) })
            .await
            .unwrap();
        assert!(!fresh);
        cache.invalidate(&key);
        let (_, fresh) = cache
            .get_or_try_insert(key, || async { Ok::<_, &str>(V(None)) })
            .await
            .unwrap();
        assert!(fresh);
    }
}
