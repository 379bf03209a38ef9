//! The store of user-defined mixins and their associations (SQLite by
//! default, PostgreSQL for replicas).
//!
//! OCCI lets a client define its own mixins (`POST /-/` with a mixin
//! Category) and tag entities with them (`POST /my_tag/` with entity
//! locations). Synnefo has no place for such tags, so they live here,
//! scoped by the caller's user uuid: two users may define the same mixin
//! without seeing each other's.
//!
//! One schema serves both backends through sqlx's `Any` driver; it is
//! applied by [`Store::open`] as numbered, embedded migrations recorded in
//! `snf_occi_schema`, so a restart finds its data and an upgrade adds only
//! the missing steps. Multi-row writes run in one transaction and inserts
//! are idempotent (`ON CONFLICT DO NOTHING`), so concurrent writers never
//! lose each other's rows.
//!
//! Each user may hold at most [`StoreConfig::max_mixins_per_user`] mixins
//! and [`StoreConfig::max_associations_per_user`] associations. A write
//! that would pass a cap changes nothing and fails with
//! [`StoreError::TooManyMixins`] or [`StoreError::TooManyAssociations`].
//! The count is taken inside the write's transaction, under a per-user
//! lock on PostgreSQL (replicas writing for one user at once cannot both
//! slip under the cap); a SQLite store has one connection, so its
//! transactions never overlap.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use snf_occi::store::{Store, StoreConfig, UserMixin};
//! let store = Store::open(&StoreConfig::new("sqlite::memory:")).await.unwrap();
//! let tag = UserMixin {
//!     scheme: "http://example.com/tags#".into(),
//!     term: "prod".into(),
//!     title: Some("production".into()),
//!     location: "/prod/".into(),
//! };
//! store.create_mixin("user-1", &tag).await.unwrap();
//! store.associate("user-1", &tag.type_id(), &["/compute/42".into()]).await.unwrap();
//! assert_eq!(store.associations("user-1", &tag.type_id()).await.unwrap(), ["/compute/42"]);
//! // Another user sees nothing.
//! assert!(store.mixins("user-2").await.unwrap().is_empty());
//! # });
//! ```

mod cache;

pub use cache::{CachedStore, UserTags};

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Connection, Row};
use std::sync::Arc;

/// The `[store]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (default `sqlite://snf-occi.db`) or `postgres://...`.
    #[serde(default = "default_url")]
    pub url: String,
    /// The most mixins one user may define (`POST /-/`); `0` turns user
    /// mixins off. Caps what one user can make the store hold, and what
    /// every one of their requests reads (a user's mixins and
    /// associations are read whole, see [`CachedStore`]).
    #[serde(default = "default_max_mixins")]
    pub max_mixins_per_user: usize,
    /// The most (mixin, entity) associations one user may hold, over all
    /// their mixins.
    #[serde(default = "default_max_associations")]
    pub max_associations_per_user: usize,
}

impl StoreConfig {
    /// The store at `url`, with the default caps.
    pub fn new(url: impl Into<String>) -> Self {
        StoreConfig {
            url: url.into(),
            ..StoreConfig::default()
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: default_url(),
            max_mixins_per_user: default_max_mixins(),
            max_associations_per_user: default_max_associations(),
        }
    }
}

fn default_url() -> String {
    "sqlite://snf-occi.db?mode=rwc".to_string()
}

/// Far above what a person tags by hand or a tool defines per user.
fn default_max_mixins() -> usize {
    1_000
}

/// A hundred tags on each of a thousand entities (`collection_limit`'s
/// default): far above real use, and a bounded read per request.
fn default_max_associations() -> usize {
    100_000
}

/// The per-user caps a [`Store`] enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// [`StoreConfig::max_mixins_per_user`].
    pub mixins: usize,
    /// [`StoreConfig::max_associations_per_user`].
    pub associations: usize,
}

/// Why a store operation failed.
///
/// Database errors carry sqlx's message, never the connection URL (which
/// may hold a PostgreSQL password).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported backend.
    #[error("store url must start with sqlite: or postgres:, got scheme {0:?}")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open the store: {0}")]
    Open(#[source] sqlx::Error),
    /// Applying the schema failed.
    #[error("store migration {version} failed: {source}")]
    Migrate {
        /// The migration's number.
        version: i64,
        /// What the database said.
        #[source]
        source: sqlx::Error,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// The user already has a mixin with that type id or location.
    #[error("mixin {0} or its location already exists")]
    MixinExists(String),
    /// The user has no mixin with that type id.
    #[error("no user mixin {0}")]
    NoSuchMixin(String),
    /// A read shared by concurrent requests of one user failed.
    #[error(transparent)]
    Shared(Arc<StoreError>),
    /// The write would leave the user more mixins than
    /// `store.max_mixins_per_user`; nothing was written. The app answers
    /// 409 Conflict: the refusal is about the user's current state, not
    /// the request (a one-mixin request is refused as well), and the user
    /// can resolve it and resubmit (RFC 9110 §15.5.10). Not 413, which
    /// says the request content is too large (a smaller request would not
    /// help), nor 403, which says the request will never be allowed.
    #[error(
        "you would have {count} mixins, more than this server allows per user \
         (store.max_mixins_per_user = {limit}): remove unused ones with DELETE /-/ first"
    )]
    TooManyMixins {
        /// How many the user would have.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// The write would leave the user more associations than
    /// `store.max_associations_per_user`; nothing was written. 409 as
    /// [`StoreError::TooManyMixins`].
    #[error(
        "you would have {count} mixin associations, more than this server allows per user \
         (store.max_associations_per_user = {limit}): untag entities first \
         (DELETE on a mixin's location)"
    )]
    TooManyAssociations {
        /// How many the user would have.
        count: usize,
        /// The cap.
        limit: usize,
    },
}

/// A user-defined mixin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserMixin {
    /// The scheme, ending in `#`.
    pub scheme: String,
    /// The term.
    pub term: String,
    /// The human-readable title, if the client gave one.
    pub title: Option<String>,
    /// The mixin's collection path, e.g. `/my_tag/` (relative to the
    /// public URL; unique per user).
    pub location: String,
}

impl UserMixin {
    /// `scheme + term`, the key a mixin is addressed by.
    pub fn type_id(&self) -> String {
        format!("{}{}", self.scheme, self.term)
    }
}

/// The embedded schema, applied in order; never edit a released step, add
/// one. Types and syntax are common to SQLite and PostgreSQL.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE user_mixins (
        user_id TEXT NOT NULL,
        type_id TEXT NOT NULL,
        scheme TEXT NOT NULL,
        term TEXT NOT NULL,
        title TEXT,
        location TEXT NOT NULL,
        PRIMARY KEY (user_id, type_id),
        UNIQUE (user_id, location)
    );
    CREATE TABLE mixin_associations (
        user_id TEXT NOT NULL,
        type_id TEXT NOT NULL,
        entity TEXT NOT NULL,
        PRIMARY KEY (user_id, type_id, entity)
    );
    CREATE INDEX mixin_associations_entity ON mixin_associations (user_id, entity)",
)];

/// A connection held open for as long as any clone of its store exists,
/// only so the in-memory database it opened lives that long.
#[derive(Clone)]
struct KeepAlive(
    #[expect(dead_code, reason = "held open, never used")] Arc<std::sync::Mutex<AnyConnection>>,
);

impl std::fmt::Debug for KeepAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeepAlive")
    }
}

/// The mixin store: a connection pool on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    /// An in-memory SQLite store's own connection, outside the pool.
    _keepalive: Option<KeepAlive>,
    shared: bool,
    limits: StoreLimits,
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies the
    /// missing migrations.
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = config.url.trim();
        let scheme = url.split(':').next().unwrap_or_default();
        let postgres = matches!(scheme, "postgres" | "postgresql");
        let memory =
            scheme == "sqlite" && (url.contains(":memory:") || url.contains("mode=memory"));
        let (url, max) = match scheme {
            "sqlite" => {
                // One connection: SQLite allows one writer anyway; with
                // several connections a read-then-write transaction fails
                // with SQLITE_BUSY instead of waiting. The pool queues.
                let url = if url.contains(":memory:") {
                    // Named, so the keep-alive connection below and the
                    // pool's connections open the same database.
                    format!(
                        "sqlite:file:snf-occi-{}?mode=memory&cache=shared",
                        uuid::Uuid::new_v4()
                    )
                } else if url.contains("mode=") {
                    url.to_string()
                } else if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                };
                (url, 1)
            }
            "postgres" | "postgresql" => (url.to_string(), 8),
            other => return Err(StoreError::UnsupportedUrl(other.to_string())),
        };
        // An in-memory database lives as long as one connection to it is
        // open, and the pool's one connection is not forever: sqlx closes
        // it when idle for 10 minutes, and when a query on it is
        // cancelled (a request whose other half failed first). The
        // database, its tables and every mixin would go with it.
        let keepalive = if memory {
            let conn = AnyConnection::connect(&url)
                .await
                .map_err(StoreError::Open)?;
            Some(KeepAlive(Arc::new(std::sync::Mutex::new(conn))))
        } else {
            None
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            // Fail a start against an unreachable database in seconds,
            // not sqlx's default 30.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await
            .map_err(StoreError::Open)?;
        let store = Store {
            pool,
            _keepalive: keepalive,
            shared: postgres,
            limits: StoreLimits {
                mixins: config.max_mixins_per_user,
                associations: config.max_associations_per_user,
            },
        };
        store.migrate(postgres).await?;
        Ok(store)
    }

    async fn migrate(&self, postgres: bool) -> Result<(), StoreError> {
        let bootstrap = |source| StoreError::Migrate { version: 0, source };
        let mut tx = self.pool.begin().await.map_err(bootstrap)?;
        lock_migrations(&mut tx, postgres)
            .await
            .map_err(bootstrap)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS snf_occi_schema (version BIGINT PRIMARY KEY)")
            .execute(&mut *tx)
            .await
            .map_err(bootstrap)?;
        tx.commit().await.map_err(bootstrap)?;
        for &(version, sql) in MIGRATIONS {
            let fail = |source| StoreError::Migrate { version, source };
            let mut tx = self.pool.begin().await.map_err(fail)?;
            lock_migrations(&mut tx, postgres).await.map_err(fail)?;
            // Claiming the version first makes two replicas starting at
            // once agree: the loser waits for the winner's commit, its
            // insert then conflicts and it skips.
            let claimed = sqlx::query(
                "INSERT INTO snf_occi_schema (version) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(fail)?
            .rows_affected();
            if claimed == 0 {
                continue;
            }
            for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
                sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            tx.commit().await.map_err(fail)?;
        }
        Ok(())
    }

    /// Whether other processes may write this database too (PostgreSQL,
    /// shared by replicas). A SQLite store belongs to one process.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// The per-user caps.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// Starts a write transaction that may add rows for `user`: on
    /// PostgreSQL it first takes `user`'s advisory lock (held until the
    /// transaction ends), so that counting the user's rows and adding to
    /// them is one step for every replica. The lock is taken before any
    /// row lock, in every such transaction, so they cannot deadlock.
    async fn begin_for(
        &self,
        user: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.shared {
            // The two-key form has its own key space, apart from the
            // one-key migration lock; hashtext is the database's own, so
            // every replica computes the same key.
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(USER_LOCK_CLASS)
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// Fails with [`StoreError::TooManyMixins`] if `tx` leaves `user`
    /// more mixins than the cap and more than `before` (a user already
    /// past a lowered cap may still remove, or redefine what they have).
    async fn check_mixin_cap(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: &str,
        before: usize,
    ) -> Result<(), StoreError> {
        let count = count_rows(tx, COUNT_MIXINS, user).await?;
        if count > self.limits.mixins && count > before {
            return Err(StoreError::TooManyMixins {
                count,
                limit: self.limits.mixins,
            });
        }
        Ok(())
    }

    /// [`Store::check_mixin_cap`] for associations.
    async fn check_association_cap(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: &str,
        before: usize,
    ) -> Result<(), StoreError> {
        let count = count_rows(tx, COUNT_ASSOCIATIONS, user).await?;
        if count > self.limits.associations && count > before {
            return Err(StoreError::TooManyAssociations {
                count,
                limit: self.limits.associations,
            });
        }
        Ok(())
    }

    /// Everything `user` has: their mixins ordered by type id, and their
    /// associations as `(type id, entity)` pairs ordered by entity. One
    /// query for a user without mixins, two in one transaction otherwise.
    pub async fn user_tags(
        &self,
        user: &str,
    ) -> Result<(Vec<UserMixin>, Vec<(String, String)>), StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT scheme, term, title, location FROM user_mixins
             WHERE user_id = $1 ORDER BY type_id",
        )
        .bind(user)
        .fetch_all(&mut *tx)
        .await?;
        let mixins = rows
            .iter()
            .map(mixin_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let mut associations = Vec::new();
        if !mixins.is_empty() {
            let rows = sqlx::query(
                "SELECT type_id, entity FROM mixin_associations
                 WHERE user_id = $1 ORDER BY entity",
            )
            .bind(user)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                associations.push((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
            }
        }
        tx.commit().await?;
        Ok((mixins, associations))
    }

    /// A trivial query: `Ok` when the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(StoreError::Query)
    }

    /// Defines a mixin for `user`: [`Store::create_mixins`] with one.
    pub async fn create_mixin(&self, user: &str, mixin: &UserMixin) -> Result<(), StoreError> {
        self.create_mixins(user, std::slice::from_ref(mixin)).await
    }

    /// Defines mixins for `user`, all or none, in one transaction. A
    /// mixin the user already has, the very same (scheme, term, title,
    /// location), is left as it is (a client retrying, or re-running its
    /// setup); another one under a taken type id or location is
    /// [`StoreError::MixinExists`]; more than the cap is
    /// [`StoreError::TooManyMixins`].
    pub async fn create_mixins(&self, user: &str, mixins: &[UserMixin]) -> Result<(), StoreError> {
        let mut tx = self.begin_for(user).await?;
        let before = count_rows(&mut tx, COUNT_MIXINS, user).await?;
        for mixin in mixins {
            let inserted = sqlx::query(
                "INSERT INTO user_mixins (user_id, type_id, scheme, term, title, location)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(user)
            .bind(mixin.type_id())
            .bind(&mixin.scheme)
            .bind(&mixin.term)
            .bind(mixin.title.clone())
            .bind(&mixin.location)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                let taken = sqlx::query(
                    "SELECT scheme, term, title, location FROM user_mixins
                     WHERE user_id = $1 AND (type_id = $2 OR location = $3)",
                )
                .bind(user)
                .bind(mixin.type_id())
                .bind(&mixin.location)
                .fetch_all(&mut *tx)
                .await?;
                let same = match taken.as_slice() {
                    [one] => mixin_from_row(one)? == *mixin,
                    _ => false,
                };
                if !same {
                    return Err(StoreError::MixinExists(mixin.type_id()));
                }
            }
        }
        self.check_mixin_cap(&mut tx, user, before).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a mixin and its associations: [`Store::delete_mixins`]
    /// with one.
    pub async fn delete_mixin(&self, user: &str, type_id: &str) -> Result<(), StoreError> {
        self.delete_mixins(user, &[type_id.to_owned()]).await
    }

    /// Deletes mixins and their associations, all or none:
    /// [`StoreError::NoSuchMixin`] (and nothing deleted) if `user` has
    /// none by one of the type ids.
    pub async fn delete_mixins(&self, user: &str, type_ids: &[String]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for type_id in type_ids {
            sqlx::query("DELETE FROM mixin_associations WHERE user_id = $1 AND type_id = $2")
                .bind(user)
                .bind(type_id)
                .execute(&mut *tx)
                .await?;
            let deleted =
                sqlx::query("DELETE FROM user_mixins WHERE user_id = $1 AND type_id = $2")
                    .bind(user)
                    .bind(type_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if deleted == 0 {
                return Err(StoreError::NoSuchMixin(type_id.to_string()));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The mixins `user` defined, ordered by type id.
    pub async fn mixins(&self, user: &str) -> Result<Vec<UserMixin>, StoreError> {
        let rows = sqlx::query(
            "SELECT scheme, term, title, location FROM user_mixins
             WHERE user_id = $1 ORDER BY type_id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(mixin_from_row).collect()
    }

    /// Tags entities with a mixin (already tagged ones stay, once);
    /// [`StoreError::TooManyAssociations`] past the cap.
    pub async fn associate(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_for(user).await?;
        require_mixin(&mut tx, user, type_id).await?;
        let before = count_rows(&mut tx, COUNT_ASSOCIATIONS, user).await?;
        insert_associations(&mut tx, user, type_id, entities).await?;
        self.check_association_cap(&mut tx, user, before).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes `entities` exactly the mixin's associations (OCCI full
    /// update of a mixin collection), atomically;
    /// [`StoreError::TooManyAssociations`] past the cap.
    pub async fn replace_associations(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_for(user).await?;
        require_mixin(&mut tx, user, type_id).await?;
        let before = count_rows(&mut tx, COUNT_ASSOCIATIONS, user).await?;
        sqlx::query("DELETE FROM mixin_associations WHERE user_id = $1 AND type_id = $2")
            .bind(user)
            .bind(type_id)
            .execute(&mut *tx)
            .await?;
        insert_associations(&mut tx, user, type_id, entities).await?;
        self.check_association_cap(&mut tx, user, before).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tags one entity with `type_ids` (OCCI partial update of an entity:
    /// `replace = false`, its other mixins stay) or makes them exactly its
    /// mixins (full update: `replace = true`, every other association of
    /// the entity is dropped), in one transaction: if any of `type_ids` is
    /// not one of `user`'s mixins ([`StoreError::NoSuchMixin`]), or the
    /// user would pass the cap ([`StoreError::TooManyAssociations`]),
    /// nothing changes.
    pub async fn tag_entity(
        &self,
        user: &str,
        entity: &str,
        type_ids: &[String],
        replace: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_for(user).await?;
        for type_id in type_ids {
            require_mixin(&mut tx, user, type_id).await?;
        }
        let before = count_rows(&mut tx, COUNT_ASSOCIATIONS, user).await?;
        if replace {
            let rows = sqlx::query(
                "SELECT type_id FROM mixin_associations WHERE user_id = $1 AND entity = $2",
            )
            .bind(user)
            .bind(entity)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                let type_id: String = row.try_get(0)?;
                if type_ids.contains(&type_id) {
                    continue;
                }
                sqlx::query(
                    "DELETE FROM mixin_associations
                     WHERE user_id = $1 AND type_id = $2 AND entity = $3",
                )
                .bind(user)
                .bind(&type_id)
                .bind(entity)
                .execute(&mut *tx)
                .await?;
            }
        }
        let entity = [entity.to_owned()];
        for type_id in type_ids {
            insert_associations(&mut tx, user, type_id, &entity).await?;
        }
        self.check_association_cap(&mut tx, user, before).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes the mixin from `entities` (untagged ones are ignored).
    pub async fn dissociate(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        require_mixin(&mut tx, user, type_id).await?;
        for entity in entities {
            sqlx::query(
                "DELETE FROM mixin_associations
                 WHERE user_id = $1 AND type_id = $2 AND entity = $3",
            )
            .bind(user)
            .bind(type_id)
            .bind(entity)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The entity locations tagged with the mixin, sorted.
    pub async fn associations(&self, user: &str, type_id: &str) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        require_mixin(&mut tx, user, type_id).await?;
        let rows = sqlx::query(
            "SELECT entity FROM mixin_associations
             WHERE user_id = $1 AND type_id = $2 ORDER BY entity",
        )
        .bind(user)
        .bind(type_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }

    /// The user mixins an entity carries (rendered as its Mixins).
    pub async fn mixins_of_entity(
        &self,
        user: &str,
        entity: &str,
    ) -> Result<Vec<UserMixin>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.scheme, m.term, m.title, m.location
             FROM mixin_associations a JOIN user_mixins m
               ON m.user_id = a.user_id AND m.type_id = a.type_id
             WHERE a.user_id = $1 AND a.entity = $2 ORDER BY m.type_id",
        )
        .bind(user)
        .bind(entity)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(mixin_from_row).collect()
    }

    /// Drops every tag on a deleted entity.
    pub async fn forget_entity(&self, user: &str, entity: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM mixin_associations WHERE user_id = $1 AND entity = $2")
            .bind(user)
            .bind(entity)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes the pool (waits for connections in use).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A PostgreSQL advisory lock key ("snfocci" in ASCII) serializing
/// schema changes between replicas.
const MIGRATION_LOCK: i64 = 0x0073_6e66_6f63_6369;

/// The first key of the per-user advisory locks ("snfu" in ASCII); the
/// second is the user's hash.
const USER_LOCK_CLASS: i32 = 0x736e_6675;

/// Counts one user's mixins.
const COUNT_MIXINS: &str = "SELECT COUNT(*) FROM user_mixins WHERE user_id = $1";
/// Counts one user's associations.
const COUNT_ASSOCIATIONS: &str = "SELECT COUNT(*) FROM mixin_associations WHERE user_id = $1";

/// How many rows `count` (one of the `COUNT_*` queries) finds for `user`,
/// as `tx` sees them.
async fn count_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    count: &'static str,
    user: &str,
) -> Result<usize, StoreError> {
    let row = sqlx::query(count).bind(user).fetch_one(&mut **tx).await?;
    let n: i64 = row.try_get(0)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// On PostgreSQL, holds the migration lock until `tx` ends: replicas that
/// start together on an empty database would otherwise race in
/// `CREATE TABLE IF NOT EXISTS`, which checks the catalog and inserts
/// into it non-atomically (the loser fails with a duplicate `pg_type`
/// key). SQLite needs nothing: the store holds one connection and the
/// database file is locked by its writer.
async fn lock_migrations(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    postgres: bool,
) -> Result<(), sqlx::Error> {
    if postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

fn mixin_from_row(row: &AnyRow) -> Result<UserMixin, StoreError> {
    Ok(UserMixin {
        scheme: row.try_get(0)?,
        term: row.try_get(1)?,
        title: row.try_get(2)?,
        location: row.try_get(3)?,
    })
}

async fn require_mixin(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: &str,
    type_id: &str,
) -> Result<(), StoreError> {
    let found = sqlx::query("SELECT 1 FROM user_mixins WHERE user_id = $1 AND type_id = $2")
        .bind(user)
        .bind(type_id)
        .fetch_optional(&mut **tx)
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NoSuchMixin(type_id.to_string())),
    }
}

async fn insert_associations(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user: &str,
    type_id: &str,
    entities: &[String],
) -> Result<(), StoreError> {
    for entity in entities {
        sqlx::query(
            "INSERT INTO mixin_associations (user_id, type_id, entity)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(type_id)
        .bind(entity)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag() -> UserMixin {
        UserMixin {
            scheme: "http://example.com/tags#".into(),
            term: "prod".into(),
            title: None,
            location: "/prod/".into(),
        }
    }

    #[tokio::test]
    async fn an_in_memory_store_outlives_its_pool_connection() {
        let store = Store::open(&StoreConfig::new("sqlite::memory:"))
            .await
            .unwrap();
        store.create_mixin("u", &tag()).await.unwrap();
        // What sqlx does to a connection idle too long or whose query was
        // cancelled: it closes it, and the next query opens another.
        store.pool.acquire().await.unwrap().close().await.unwrap();
        assert_eq!(store.mixins("u").await.unwrap(), [tag()]);
    }

    #[tokio::test]
    async fn two_in_memory_stores_are_two_databases() {
        let a = Store::open(&StoreConfig::new("sqlite::memory:"))
            .await
            .unwrap();
        let b = Store::open(&StoreConfig::new("sqlite::memory:"))
            .await
            .unwrap();
        a.create_mixin("u", &tag()).await.unwrap();
        assert!(b.mixins("u").await.unwrap().is_empty());
    }
}
