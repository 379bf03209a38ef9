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
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use snf_occi::store::{Store, StoreConfig, UserMixin};
//! let store = Store::open(&StoreConfig { url: "sqlite::memory:".into() }).await.unwrap();
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

use serde::Deserialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// The `[store]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (default `sqlite://snf-occi.db`) or `postgres://...`.
    #[serde(default = "default_url")]
    pub url: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { url: default_url() }
    }
}

fn default_url() -> String {
    "sqlite://snf-occi.db?mode=rwc".to_string()
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
    Shared(std::sync::Arc<StoreError>),
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

/// The mixin store: a connection pool on SQLite or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    shared: bool,
}

impl Store {
    /// Connects (creating a SQLite file if missing) and applies the
    /// missing migrations.
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let url = config.url.trim();
        let scheme = url.split(':').next().unwrap_or_default();
        let postgres = matches!(scheme, "postgres" | "postgresql");
        let (url, max) = match scheme {
            "sqlite" => {
                // One connection: an in-memory database exists per
                // connection, and SQLite allows one writer anyway; with
                // several connections a read-then-write transaction fails
                // with SQLITE_BUSY instead of waiting. The pool queues.
                let memory = url.contains(":memory:") || url.contains("mode=memory");
                let url = if memory || url.contains("mode=") {
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
            shared: postgres,
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

    /// Defines a mixin for `user`; [`StoreError::MixinExists`] if the type
    /// id or the location is taken.
    pub async fn create_mixin(&self, user: &str, mixin: &UserMixin) -> Result<(), StoreError> {
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
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::MixinExists(mixin.type_id()));
        }
        Ok(())
    }

    /// Deletes a mixin and its associations; [`StoreError::NoSuchMixin`]
    /// if `user` has none by that type id.
    pub async fn delete_mixin(&self, user: &str, type_id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM mixin_associations WHERE user_id = $1 AND type_id = $2")
            .bind(user)
            .bind(type_id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM user_mixins WHERE user_id = $1 AND type_id = $2")
            .bind(user)
            .bind(type_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NoSuchMixin(type_id.to_string()));
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

    /// Tags entities with a mixin (already tagged ones stay, once).
    pub async fn associate(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        require_mixin(&mut tx, user, type_id).await?;
        insert_associations(&mut tx, user, type_id, entities).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes `entities` exactly the mixin's associations (OCCI full
    /// update of a mixin collection), atomically.
    pub async fn replace_associations(
        &self,
        user: &str,
        type_id: &str,
        entities: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        require_mixin(&mut tx, user, type_id).await?;
        sqlx::query("DELETE FROM mixin_associations WHERE user_id = $1 AND type_id = $2")
            .bind(user)
            .bind(type_id)
            .execute(&mut *tx)
            .await?;
        insert_associations(&mut tx, user, type_id, entities).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Tags one entity with `type_ids` (OCCI partial update of an entity:
    /// `replace = false`, its other mixins stay) or makes them exactly its
    /// mixins (full update: `replace = true`, every other association of
    /// the entity is dropped), in one transaction: if any of `type_ids` is
    /// not one of `user`'s mixins ([`StoreError::NoSuchMixin`]) nothing
    /// changes.
    pub async fn tag_entity(
        &self,
        user: &str,
        entity: &str,
        type_ids: &[String],
        replace: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for type_id in type_ids {
            require_mixin(&mut tx, user, type_id).await?;
        }
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
