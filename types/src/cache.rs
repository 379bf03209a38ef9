//! [`TimedCache`]: the bounded, expiring, single-flight cache every
//! per-user cache of snf-occi is (auth validations, templates, user
//! mixins, disk indexes, renderings, listings).
//!
//! Why not moka: a compute show looks up six of them, and a moka lookup
//! (a SipHash of the key, a read-order record sent to its housekeeping
//! channel, clock reads for its timers) cost about 1,200 instructions,
//! some 7 % of the show. [`TimedCache`] is a `quick_cache` (a sharded
//! CLOCK-Pro table, bounded by entry count or weight) whose entries
//! carry their own deadline: a lookup is a foldhash, a shard read lock,
//! a probe and one clock read, some 200 instructions.
//!
//! Expiry: an entry lives until the deadline set when it was stored (the
//! cache's time to live, or a lifetime its value gives, e.g. a token's
//! own expiry); with a time to idle, a lookup in the second half of an
//! entry's idle time moves its deadline on. An expired entry is never
//! served, and is dropped when looked up or, for the ones nobody looks
//! up, by a sweep every [`SWEEP_EVERY`] stores; the capacity bounds the
//! rest.
//!
//! ```
//! # futures_executor_free::run(async {
//! use std::time::Duration;
//! use snf_occi_types::cache::TimedCache;
//! let cache: TimedCache<String, u32> = TimedCache::builder(100)
//!     .time_to_live(Duration::from_secs(60))
//!     .build();
//! let loaded = cache
//!     .get_or_load("alice", || async { Ok::<_, std::io::Error>(7) })
//!     .await
//!     .unwrap();
//! assert_eq!(loaded, 7);
//! assert_eq!(cache.get("alice"), Some(7));
//! cache.invalidate("alice");
//! assert_eq!(cache.get("alice"), None);
//! # });
//! # mod futures_executor_free {
//! #     pub fn run<F: std::future::Future>(f: F) -> F::Output {
//! #         let waker = std::task::Waker::noop();
//! #         let mut cx = std::task::Context::from_waker(&waker);
//! #         let mut f = std::pin::pin!(f);
//! #         loop {
//! #             if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
//! #                 return v;
//! #             }
//! #         }
//! #     }
//! # }
//! ```

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::{Cache, DefaultLifecycle, EntryAction};
use quick_cache::{DefaultHashBuilder, Equivalent, Weighter};

/// Stores between two sweeps of expired entries.
pub const SWEEP_EVERY: u64 = 1024;

/// How long anything is kept when nothing else says: practically forever
/// (an `Instant` cannot hold much more on every platform).
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A value, when it stops being served, and its weight (taken when it
/// was stored: a value that changes in place, such as a listing kept
/// behind a lock, must not change what the table counts for it).
#[derive(Clone)]
struct Timed<V> {
    value: V,
    deadline: Instant,
    weight: u32,
}

/// A weight function of a value.
type WeighFn<V> = Arc<dyn Fn(&V) -> u32 + Send + Sync>;
/// A lifetime function of a value (at most the time to live).
type LifetimeFn<V> = Arc<dyn Fn(&V) -> Duration + Send + Sync>;

/// [`Weighter`] of the inner table: the weight an entry was stored with.
#[derive(Clone, Copy)]
struct Weigh;

impl<K, V> Weighter<K, Timed<V>> for Weigh {
    fn weight(&self, _key: &K, timed: &Timed<V>) -> u64 {
        u64::from(timed.weight)
    }
}

type Table<K, V> = Cache<K, Timed<V>, Weigh, DefaultHashBuilder, DefaultLifecycle<K, Timed<V>>>;

/// A bounded, expiring cache with single-flight loads. Cloning shares it.
pub struct TimedCache<K, V> {
    inner: Arc<Inner<K, V>>,
}

struct Inner<K, V> {
    table: Table<K, V>,
    ttl: Duration,
    idle: Option<Duration>,
    lifetime: Option<LifetimeFn<V>>,
    weigher: Option<WeighFn<V>>,
    stores: AtomicU64,
}

impl<K, V> Clone for TimedCache<K, V> {
    fn clone(&self) -> Self {
        TimedCache {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for TimedCache<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedCache")
            .field("len", &self.inner.table.len())
            .field("ttl", &self.inner.ttl)
            .field("idle", &self.inner.idle)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TimedCache`] ([`TimedCache::builder`]).
pub struct Builder<K, V> {
    /// The key type the cache will have (nothing of it is built here).
    key: std::marker::PhantomData<fn() -> K>,
    capacity: u64,
    ttl: Duration,
    idle: Option<Duration>,
    lifetime: Option<LifetimeFn<V>>,
    weigher: Option<WeighFn<V>>,
}

impl<K, V> Builder<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Each entry is kept at most `ttl` after it was stored.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Each entry is dropped once no lookup found it for `idle`.
    pub fn time_to_idle(mut self, idle: Duration) -> Self {
        self.idle = Some(idle);
        self
    }

    /// Each entry is kept at most the lifetime its value gives (and at
    /// most the time to live).
    pub fn lifetime(mut self, f: impl Fn(&V) -> Duration + Send + Sync + 'static) -> Self {
        self.lifetime = Some(Arc::new(f));
        self
    }

    /// Entries weigh what `f` says (at least 1): the capacity is then a
    /// total weight, not an entry count.
    pub fn weigher(mut self, f: impl Fn(&V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(f));
        self
    }

    /// The cache.
    pub fn build(self) -> TimedCache<K, V> {
        let capacity = self.capacity.max(1);
        // The table sizes itself by its expected entry count: the
        // capacity when entries weigh 1, else a guess of 2 KB an entry.
        let items = if self.weigher.is_some() {
            (capacity / 2048).clamp(16, 1 << 20)
        } else {
            capacity.min(1 << 20)
        };
        let table = Cache::with(
            usize::try_from(items).unwrap_or(1 << 20),
            capacity,
            Weigh,
            DefaultHashBuilder::default(),
            DefaultLifecycle::default(),
        );
        TimedCache {
            inner: Arc::new(Inner {
                table,
                ttl: self.ttl,
                idle: self.idle,
                lifetime: self.lifetime,
                weigher: self.weigher,
                stores: AtomicU64::new(0),
            }),
        }
    }
}

impl<K, V> TimedCache<K, V>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of at most `capacity` entries (or total weight, with a
    /// [`Builder::weigher`]), kept until evicted unless told otherwise.
    pub fn builder(capacity: u64) -> Builder<K, V> {
        Builder {
            key: std::marker::PhantomData,
            capacity,
            ttl: FOREVER,
            idle: None,
            lifetime: None,
            weigher: None,
        }
    }

    /// The value kept under `key`, if it has not expired.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
    {
        let timed = self.inner.table.get(key)?;
        let now = Instant::now();
        self.served(key, timed, now)
    }

    /// What an entry found at `now` serves: nothing once expired (and
    /// it is dropped), else its value, its deadline moved on first when
    /// idle time applies and half of it has passed.
    fn served<Q>(&self, key: &Q, timed: Timed<V>, now: Instant) -> Option<V>
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
    {
        if now >= timed.deadline {
            let deadline = timed.deadline;
            self.inner
                .table
                .remove_if(key, |t: &Timed<V>| t.deadline == deadline);
            return None;
        }
        if let Some(idle) = self.inner.idle
            && timed.deadline.saturating_duration_since(now) < idle / 2
        {
            // Only the entry read: a store since then stands (and a
            // vacant key stays vacant: the guard is dropped at once).
            let _ = self
                .inner
                .table
                .entry(key, Some(Duration::ZERO), |_, t: &mut Timed<V>| {
                    if t.deadline == timed.deadline {
                        t.deadline = now + idle;
                    }
                    EntryAction::Retain(())
                });
        }
        Some(timed.value)
    }

    /// Keeps `value` under `key`.
    pub fn insert(&self, key: K, value: V) {
        let timed = self.timed(value);
        self.inner.table.insert(key, timed);
        self.stored();
    }

    /// Forgets `key`.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        Q: Hash + Equivalent<K> + ?Sized,
    {
        self.inner.table.remove(key);
    }

    /// The number of entries kept (expired ones not swept yet included).
    pub fn len(&self) -> usize {
        self.inner.table.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.inner.table.is_empty()
    }

    /// The value kept under `key`, else the one `load` makes, kept. While
    /// one call loads a key, the others asking for it wait and get its
    /// value; when it fails, its error is its caller's alone (not kept)
    /// and the next waiter loads in turn. `load` is only built on a miss,
    /// and the miss path is boxed, so that a caller's future does not
    /// carry the loading future's state on every hit.
    pub async fn get_or_load<Q, E, F, Fut>(&self, key: &Q, load: F) -> Result<V, Arc<E>>
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.get_or_load_fresh(key, load)
            .await
            .map(|(value, _)| value)
    }

    /// [`TimedCache::get_or_load`], saying whether this call's own `load`
    /// made the value.
    pub async fn get_or_load_fresh<Q, E, F, Fut>(
        &self,
        key: &Q,
        load: F,
    ) -> Result<(V, bool), Arc<E>>
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(hit) = self.get(key) {
            return Ok((hit, false));
        }
        Box::pin(self.load(key, load)).await
    }

    async fn load<Q, E, F, Fut>(&self, key: &Q, load: F) -> Result<(V, bool), Arc<E>>
    where
        Q: Hash + Equivalent<K> + ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        loop {
            match self.inner.table.get_value_or_guard_async(key).await {
                Ok(timed) => {
                    if let Some(value) = self.served(key, timed, Instant::now()) {
                        return Ok((value, false));
                    }
                    // Expired and dropped: wait for, or become, a loader.
                }
                Err(guard) => {
                    let value = load().await.map_err(Arc::new)?;
                    let _ = guard.insert(self.timed(value.clone()));
                    self.stored();
                    return Ok((value, true));
                }
            }
        }
    }

    /// `value` as stored now: its deadline and weight (at least 1: a
    /// weight of 0 would make it unevictable).
    fn timed(&self, value: V) -> Timed<V> {
        let deadline = self.deadline(&value, Instant::now());
        let weight = self.inner.weigher.as_ref().map_or(1, |f| f(&value).max(1));
        Timed {
            value,
            deadline,
            weight,
        }
    }

    fn deadline(&self, value: &V, now: Instant) -> Instant {
        let mut keep = self.inner.ttl;
        if let Some(f) = &self.inner.lifetime {
            keep = keep.min(f(value));
        }
        if let Some(idle) = self.inner.idle {
            keep = keep.min(idle);
        }
        now.checked_add(keep).unwrap_or(now + FOREVER / 2)
    }

    /// Counts a store; every [`SWEEP_EVERY`] stores, drops what expired.
    fn stored(&self) {
        let n = self.inner.stores.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(SWEEP_EVERY) {
            let now = Instant::now();
            self.inner.table.retain(|_, t| t.deadline > now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll, Waker};

    fn run<F: Future>(f: F) -> F::Output {
        let mut cx = Context::from_waker(Waker::noop());
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn entries_expire_after_their_time_to_live() {
        let cache: TimedCache<String, u32> = TimedCache::builder(10)
            .time_to_live(Duration::from_millis(30))
            .build();
        cache.insert("a".into(), 1);
        assert_eq!(cache.get("a"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("a"), None);
        assert!(
            cache.is_empty(),
            "an expired entry is dropped when looked up"
        );
    }

    #[test]
    fn a_value_can_shorten_its_own_life() {
        let cache: TimedCache<String, Duration> = TimedCache::builder(10)
            .time_to_live(Duration::from_secs(60))
            .lifetime(|d| *d)
            .build();
        cache.insert("short".into(), Duration::from_millis(20));
        cache.insert("long".into(), Duration::from_secs(3600));
        cache.insert("gone".into(), Duration::ZERO);
        assert_eq!(cache.get("gone"), None);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get("short"), None);
        assert!(cache.get("long").is_some());
    }

    #[test]
    fn idle_entries_expire_and_used_ones_stay() {
        let cache: TimedCache<String, u32> = TimedCache::builder(10)
            .time_to_idle(Duration::from_millis(200))
            .build();
        cache.insert("used".into(), 1);
        cache.insert("idle".into(), 2);
        for _ in 0..6 {
            std::thread::sleep(Duration::from_millis(60));
            assert_eq!(cache.get("used"), Some(1));
        }
        assert_eq!(cache.get("idle"), None);
    }

    #[test]
    fn loads_run_once_and_errors_are_not_kept() {
        let cache: TimedCache<String, u32> = TimedCache::builder(10).build();
        let calls = AtomicUsize::new(0);
        let load = |v: Result<u32, &'static str>| {
            calls.fetch_add(1, Ordering::Relaxed);
            async move { v }
        };
        let failed = run(cache.get_or_load("k", || load(Err("down"))));
        assert_eq!(failed.unwrap_err().as_ref(), &"down");
        assert_eq!(
            run(cache.get_or_load_fresh("k", || load(Ok(5)))).unwrap(),
            (5, true)
        );
        assert_eq!(
            run(cache.get_or_load_fresh("k", || load(Ok(6)))).unwrap(),
            (5, false)
        );
        assert_eq!(run(cache.get_or_load("k", || load(Ok(7)))).unwrap(), 5);
        assert_eq!(calls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn weight_bounds_what_is_kept() {
        let cache: TimedCache<u32, Vec<u8>> = TimedCache::builder(10_000)
            .weigher(|v: &Vec<u8>| v.len() as u32)
            .build();
        for k in 0..100 {
            cache.insert(k, vec![0; 1000]);
        }
        let kept: usize = (0..100).filter(|k| cache.get(k).is_some()).count();
        assert!(kept <= 10, "{kept} entries of 1,000 bytes kept in 10,000");
        assert!(kept >= 1);
    }

    #[test]
    fn expired_entries_nobody_reads_are_swept() {
        let cache: TimedCache<u64, u64> = TimedCache::builder(100_000)
            .time_to_live(Duration::from_millis(10))
            .build();
        for k in 0..10 {
            cache.insert(k, k);
        }
        std::thread::sleep(Duration::from_millis(20));
        for k in 10..10 + SWEEP_EVERY {
            cache.insert(k, k);
        }
        assert!(
            (0..10).all(|k| cache.inner.table.peek(&k).is_none()),
            "the first ten were swept"
        );
    }
}
