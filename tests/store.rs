//! The mixin store on SQLite (a temporary file), and on PostgreSQL when
//! `SNF_OCCI_TEST_POSTGRES_URL` is set (CI installs PostgreSQL from Debian
//! and sets it; without it the PostgreSQL test prints that it did not run
//! and returns, the SQLite tests always run).

use snf_occi::store::{Store, StoreConfig, StoreError, UserMixin};

fn tag(term: &str) -> UserMixin {
    UserMixin {
        scheme: "http://example.com/tags#".into(),
        term: term.into(),
        title: Some(format!("the {term} tag")),
        location: format!("/{term}/"),
    }
}

fn locs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Store {
    let path = dir.path().join("nested-ok.db");
    Store::open(&StoreConfig::new(format!("sqlite://{}", path.display())))
        .await
        .expect("open sqlite store")
}

/// The SQLite store of `dir` with the caps given.
async fn sqlite_store_capped(dir: &tempfile::TempDir, mixins: usize, associations: usize) -> Store {
    let path = dir.path().join("nested-ok.db");
    Store::open(&StoreConfig {
        max_mixins_per_user: mixins,
        max_associations_per_user: associations,
        ..StoreConfig::new(format!("sqlite://{}", path.display()))
    })
    .await
    .expect("open sqlite store")
}

/// Every operation, the scoping by user and the error cases; `user_a` and
/// `user_b` must be fresh in the database.
async fn exercise(store: &Store, user_a: &str, user_b: &str) {
    let prod = tag("prod");
    let web = tag("web");
    store.create_mixin(user_a, &prod).await.unwrap();
    store.create_mixin(user_a, &web).await.unwrap();
    // The same mixin for another user is a different mixin.
    store.create_mixin(user_b, &prod).await.unwrap();

    // Defining the very same mixin again changes nothing; another one
    // under its type id or location is refused.
    store.create_mixin(user_a, &prod).await.unwrap();
    let retitled = UserMixin {
        title: Some("another title".into()),
        ..prod.clone()
    };
    assert!(matches!(
        store.create_mixin(user_a, &retitled).await,
        Err(StoreError::MixinExists(_))
    ));
    let same_location = UserMixin {
        term: "other".into(),
        ..prod.clone()
    };
    assert!(matches!(
        store.create_mixin(user_a, &same_location).await,
        Err(StoreError::MixinExists(_))
    ));
    assert_eq!(
        store.mixins(user_a).await.unwrap(),
        vec![prod.clone(), web.clone()]
    );

    store
        .associate(
            user_a,
            &prod.type_id(),
            &locs(&["/compute/2", "/compute/1"]),
        )
        .await
        .unwrap();
    // Associating again is idempotent.
    store
        .associate(user_a, &prod.type_id(), &locs(&["/compute/1"]))
        .await
        .unwrap();
    store
        .associate(user_a, &web.type_id(), &locs(&["/compute/1"]))
        .await
        .unwrap();
    assert_eq!(
        store.associations(user_a, &prod.type_id()).await.unwrap(),
        locs(&["/compute/1", "/compute/2"])
    );
    assert!(
        store
            .associations(user_b, &prod.type_id())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.mixins_of_entity(user_a, "/compute/1").await.unwrap(),
        vec![prod.clone(), web.clone()]
    );
    assert!(
        store
            .mixins_of_entity(user_b, "/compute/1")
            .await
            .unwrap()
            .is_empty()
    );

    store
        .replace_associations(user_a, &prod.type_id(), &locs(&["/storage/9"]))
        .await
        .unwrap();
    assert_eq!(
        store.associations(user_a, &prod.type_id()).await.unwrap(),
        locs(&["/storage/9"])
    );
    store
        .dissociate(user_a, &prod.type_id(), &locs(&["/storage/9", "/nope/1"]))
        .await
        .unwrap();
    assert!(
        store
            .associations(user_a, &prod.type_id())
            .await
            .unwrap()
            .is_empty()
    );

    // One entity's mixins: added to (partial update), then replaced (full
    // update); an unknown mixin among them changes nothing.
    store
        .tag_entity(user_a, "/storage/7", &[prod.type_id()], false)
        .await
        .unwrap();
    store
        .tag_entity(user_a, "/storage/7", &[web.type_id()], false)
        .await
        .unwrap();
    assert_eq!(
        store.mixins_of_entity(user_a, "/storage/7").await.unwrap(),
        vec![prod.clone(), web.clone()]
    );
    assert!(matches!(
        store
            .tag_entity(
                user_a,
                "/storage/7",
                &[prod.type_id(), "http://example.com/tags#unknown".into()],
                true
            )
            .await,
        Err(StoreError::NoSuchMixin(_))
    ));
    assert_eq!(
        store.mixins_of_entity(user_a, "/storage/7").await.unwrap(),
        vec![prod.clone(), web.clone()],
        "a refused replace changes nothing"
    );
    store
        .tag_entity(user_a, "/storage/7", &[web.type_id()], true)
        .await
        .unwrap();
    assert_eq!(
        store.mixins_of_entity(user_a, "/storage/7").await.unwrap(),
        vec![web.clone()]
    );
    // user_b tagging the same location with their own `prod` leaves
    // user_a's tags alone.
    store
        .tag_entity(user_b, "/storage/7", &[prod.type_id()], true)
        .await
        .unwrap();
    assert_eq!(
        store.mixins_of_entity(user_a, "/storage/7").await.unwrap(),
        vec![web.clone()]
    );
    store
        .tag_entity(user_a, "/storage/7", &[], true)
        .await
        .unwrap();
    assert!(
        store
            .mixins_of_entity(user_a, "/storage/7")
            .await
            .unwrap()
            .is_empty()
    );
    store.forget_entity(user_b, "/storage/7").await.unwrap();

    store.forget_entity(user_a, "/compute/1").await.unwrap();
    assert!(
        store
            .mixins_of_entity(user_a, "/compute/1")
            .await
            .unwrap()
            .is_empty()
    );

    // Unknown mixins are errors, for the owner's neighbour too.
    let unknown = "http://example.com/tags#unknown";
    assert!(matches!(
        store
            .associate(user_a, unknown, &locs(&["/compute/1"]))
            .await,
        Err(StoreError::NoSuchMixin(_))
    ));
    assert!(matches!(
        store.associations(user_b, &web.type_id()).await,
        Err(StoreError::NoSuchMixin(_))
    ));
    assert!(matches!(
        store.delete_mixin(user_b, &web.type_id()).await,
        Err(StoreError::NoSuchMixin(_))
    ));

    store
        .associate(user_a, &web.type_id(), &locs(&["/compute/5"]))
        .await
        .unwrap();
    store.delete_mixin(user_a, &web.type_id()).await.unwrap();
    assert_eq!(store.mixins(user_a).await.unwrap(), vec![prod.clone()]);
    assert!(
        store
            .mixins_of_entity(user_a, "/compute/5")
            .await
            .unwrap()
            .is_empty()
    );
    // user_b's copy is untouched.
    assert_eq!(store.mixins(user_b).await.unwrap(), vec![prod]);
}

/// 8 writers each tag 25 entities at once: all 200 rows arrive.
async fn concurrent_writers(store: &Store, user: &str) {
    let mixin = tag("busy");
    store.create_mixin(user, &mixin).await.unwrap();
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = store.clone();
        let (user, type_id) = (user.to_string(), mixin.type_id());
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                let entity = format!("/compute/{writer}{n:03}");
                store.associate(&user, &type_id, &[entity]).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        store
            .associations(user, &mixin.type_id())
            .await
            .unwrap()
            .len(),
        200
    );
}

/// The per-user caps, on a store opened with at most 3 mixins and 4
/// associations per user (`open` opens the same database with other
/// caps): every write that would pass one changes nothing and names the
/// cap; a user already past a lowered cap may still shrink.
async fn caps<F, Fut>(open: F, user: &str, other: &str)
where
    F: Fn(usize, usize) -> Fut,
    Fut: Future<Output = Store>,
{
    let store = open(3, 4).await;
    let four: Vec<UserMixin> = ["c1", "c2", "c3", "c4"].map(tag).to_vec();
    // One request defining more than the cap stores none of them.
    let err = store.create_mixins(user, &four).await.unwrap_err();
    assert!(
        matches!(err, StoreError::TooManyMixins { count: 4, limit: 3 }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("store.max_mixins_per_user = 3"),
        "{err}"
    );
    assert!(store.mixins(user).await.unwrap().is_empty());
    store.create_mixins(user, &four[..3]).await.unwrap();
    assert!(matches!(
        store.create_mixin(user, &four[3]).await,
        Err(StoreError::TooManyMixins { count: 4, limit: 3 })
    ));
    // At the cap: defining one it has again is no growth; another user
    // has a cap of their own.
    store.create_mixin(user, &four[0]).await.unwrap();
    store.create_mixins(other, &four[..3]).await.unwrap();
    assert_eq!(store.mixins(user).await.unwrap(), four[..3].to_vec());

    // A batch delete naming one missing mixin deletes nothing.
    assert!(matches!(
        store
            .delete_mixins(user, &[four[0].type_id(), four[3].type_id()])
            .await,
        Err(StoreError::NoSuchMixin(_))
    ));
    assert_eq!(store.mixins(user).await.unwrap().len(), 3);

    // Associations: 4 over all the user's mixins, whichever write adds them.
    let (c1, c2) = (four[0].type_id(), four[1].type_id());
    store
        .associate(
            user,
            &c1,
            &locs(&["/compute/1", "/compute/2", "/compute/3"]),
        )
        .await
        .unwrap();
    store
        .tag_entity(user, "/storage/1", std::slice::from_ref(&c2), false)
        .await
        .unwrap();
    let over = |r: Result<(), StoreError>| {
        assert!(
            matches!(
                r,
                Err(StoreError::TooManyAssociations { count: 5, limit: 4 })
            ),
            "{r:?}"
        )
    };
    over(store.associate(user, &c2, &locs(&["/compute/9"])).await);
    over(
        store
            .tag_entity(user, "/compute/9", std::slice::from_ref(&c2), true)
            .await,
    );
    over(
        store
            .replace_associations(user, &c2, &locs(&["/storage/1", "/compute/8"]))
            .await,
    );
    let err = store
        .associate(user, &c2, &locs(&["/compute/9"]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("store.max_associations_per_user = 4"),
        "{err}"
    );
    // Nothing of the refused writes was kept; a write that does not grow
    // the count passes at the cap.
    assert_eq!(
        store.associations(user, &c1).await.unwrap(),
        locs(&["/compute/1", "/compute/2", "/compute/3"])
    );
    assert_eq!(
        store.associations(user, &c2).await.unwrap(),
        locs(&["/storage/1"])
    );
    store
        .replace_associations(user, &c2, &locs(&["/storage/2"]))
        .await
        .unwrap();
    store
        .associate(user, &c1, &locs(&["/compute/1"]))
        .await
        .unwrap();

    // The cap lowered under a user who already holds more: what does not
    // grow passes, growth is refused.
    let lowered = open(1, 2).await;
    lowered.create_mixin(user, &four[1]).await.unwrap();
    assert!(matches!(
        lowered.create_mixin(user, &four[3]).await,
        Err(StoreError::TooManyMixins { count: 4, limit: 1 })
    ));
    lowered
        .dissociate(user, &c1, &locs(&["/compute/3"]))
        .await
        .unwrap();
    lowered
        .replace_associations(user, &c1, &locs(&["/compute/1"]))
        .await
        .unwrap();
    over_lowered(lowered.associate(user, &c1, &locs(&["/compute/7"])).await);
    lowered
        .delete_mixin(user, &four[2].type_id())
        .await
        .unwrap();
    assert_eq!(lowered.mixins(user).await.unwrap().len(), 2);
}

fn over_lowered(r: Result<(), StoreError>) {
    assert!(
        matches!(
            r,
            Err(StoreError::TooManyAssociations { count: 3, limit: 2 })
        ),
        "{r:?}"
    );
}

/// 24 writers define one mixin each for one user at once, against a cap
/// of 5: exactly 5 are stored, every other writer is told why (five
/// rounds, a user each). On PostgreSQL the writers run on 8 connections,
/// so this holds only if counting and inserting is one step per user.
async fn concurrent_writers_respect_the_cap(store: &Store, user: &str) {
    for round in 0..5 {
        let user = format!("{user}-{round}");
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(24));
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..24 {
            let (store, user, start) = (store.clone(), user.clone(), start.clone());
            tasks.spawn(async move {
                start.wait().await;
                store.create_mixin(&user, &tag(&format!("race{n}"))).await
            });
        }
        let (mut stored, mut refused) = (0, 0);
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(()) => stored += 1,
                Err(StoreError::TooManyMixins { limit: 5, .. }) => refused += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((stored, refused), (5, 19), "round {round}");
        assert_eq!(store.mixins(&user).await.unwrap().len(), 5);
    }
}

#[tokio::test]
async fn sqlite_caps_mixins_and_associations_per_user() {
    let dir = tempfile::tempdir().unwrap();
    caps(|m, a| sqlite_store_capped(&dir, m, a), "user-a", "user-b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writers_respect_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store_capped(&dir, 5, 100).await;
    concurrent_writers_respect_the_cap(&store, "user-a").await;
}

/// [`caps`] and [`concurrent_writers_respect_the_cap`] on PostgreSQL;
/// runs only with `SNF_OCCI_TEST_POSTGRES_URL` set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_caps_mixins_and_associations_per_user() {
    let Ok(url) = std::env::var("SNF_OCCI_TEST_POSTGRES_URL") else {
        eprintln!("SNF_OCCI_TEST_POSTGRES_URL not set: PostgreSQL caps test NOT run");
        return;
    };
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let open = |mixins, associations| {
        let url = url.clone();
        async move {
            Store::open(&StoreConfig {
                max_mixins_per_user: mixins,
                max_associations_per_user: associations,
                ..StoreConfig::new(url)
            })
            .await
            .unwrap()
        }
    };
    caps(open, &format!("caps-a-{run}"), &format!("caps-b-{run}")).await;
    let store = open(5, 100).await;
    concurrent_writers_respect_the_cap(&store, &format!("caps-race-{run}")).await;
}

#[tokio::test]
async fn sqlite_every_operation_scoped_by_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    exercise(&store, "user-a", "user-b").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    concurrent_writers(&store, "user-a").await;
}

#[tokio::test]
async fn sqlite_survives_a_restart_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    store.create_mixin("u", &tag("keep")).await.unwrap();
    store
        .associate("u", &tag("keep").type_id(), &locs(&["/network/7"]))
        .await
        .unwrap();
    store.close().await;
    drop(store);

    // Reopening runs the migrations again: they must skip, not fail.
    let store = sqlite_store(&dir).await;
    assert_eq!(store.mixins("u").await.unwrap(), vec![tag("keep")]);
    assert_eq!(
        store.mixins_of_entity("u", "/network/7").await.unwrap(),
        vec![tag("keep")]
    );
}

#[tokio::test]
async fn sqlite_file_is_created_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-ok.db");
    assert!(!path.exists());
    let store = sqlite_store(&dir).await;
    assert!(path.exists());
    assert!(store.mixins("anyone").await.unwrap().is_empty());
}

#[tokio::test]
async fn unsupported_url_is_named() {
    let err = Store::open(&StoreConfig::new("mysql://db/x"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "store url must start with sqlite: or postgres:, got scheme \"mysql\""
    );
}

#[tokio::test]
async fn open_error_does_not_leak_the_password() {
    // Nothing listens on port 1 of 127.0.0.1.
    let err = Store::open(&StoreConfig::new(
        "postgres://occi:s3cr3t-pw@127.0.0.1:1/occi",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Open(_)), "{err}");
    assert!(!err.to_string().contains("s3cr3t-pw"), "{err}");
}

/// Runs only with `SNF_OCCI_TEST_POSTGRES_URL` set (CI installs PostgreSQL
/// from Debian and sets it). Users are unique per run so reruns against
/// the same database do not collide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_operation_and_concurrency() {
    let Ok(url) = std::env::var("SNF_OCCI_TEST_POSTGRES_URL") else {
        eprintln!("SNF_OCCI_TEST_POSTGRES_URL not set: PostgreSQL store test NOT run");
        return;
    };
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = Store::open(&StoreConfig::new(url.clone())).await.unwrap();
    exercise(&store, &format!("a-{run}"), &format!("b-{run}")).await;
    concurrent_writers(&store, &format!("c-{run}")).await;
    // A second replica opening the same database migrates nothing twice.
    let replica = Store::open(&StoreConfig::new(url)).await.unwrap();
    assert_eq!(
        replica.mixins(&format!("b-{run}")).await.unwrap(),
        vec![tag("prod")]
    );
}

/// Replicas started together on an empty database all come up, and the
/// schema is applied once. Runs only with `SNF_OCCI_TEST_POSTGRES_URL`
/// set; it creates (and drops) a database of its own, so the role needs
/// CREATEDB (`scripts/postgres.sh` grants it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_starting_at_once_on_an_empty_database() {
    use sqlx::Connection;
    let Ok(url) = std::env::var("SNF_OCCI_TEST_POSTGRES_URL") else {
        eprintln!("SNF_OCCI_TEST_POSTGRES_URL not set: PostgreSQL first-start test NOT run");
        return;
    };
    let name = format!(
        "snf_occi_first_start_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut fresh = reqwest::Url::parse(&url).unwrap();
    fresh.set_path(&format!("/{name}"));
    let config = StoreConfig::new(fresh.to_string());

    let mut opens = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let config = config.clone();
        opens.spawn(async move { Store::open(&config).await });
    }
    let mut stores = Vec::new();
    while let Some(opened) = opens.join_next().await {
        stores.push(opened.unwrap().expect("every replica opens the store"));
    }
    stores[0].create_mixin("u", &tag("first")).await.unwrap();
    assert_eq!(stores[5].mixins("u").await.unwrap(), vec![tag("first")]);
    let mut db = sqlx::PgConnection::connect(fresh.as_str()).await.unwrap();
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM snf_occi_schema ORDER BY version")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(versions, vec![1]);
    db.close().await.unwrap();
    for store in stores {
        store.close().await;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}

/// The cached view: reads come from the user's snapshot (a write made
/// behind its back, straight to the database, is not seen), writes
/// through it are seen at once, and users never share a snapshot.
#[tokio::test]
async fn cached_store_serves_snapshots_and_refreshes_on_its_own_writes() {
    use snf_occi::store::CachedStore;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let behind = sqlite_store(&dir).await;
    let cached = CachedStore::new(behind.clone(), None, 100);
    let prod = tag("prod");
    cached.create_mixin("alice", &prod).await.unwrap();
    cached
        .associate("alice", &prod.type_id(), &locs(&["/compute/1"]))
        .await
        .unwrap();
    let tags = cached.tags("alice").await.unwrap();
    assert_eq!(tags.mixins(), std::slice::from_ref(&prod));
    assert_eq!(tags.associations(&prod.type_id()).unwrap(), ["/compute/1"]);
    assert_eq!(tags.mixins_of("/compute/1").collect::<Vec<_>>(), [&prod]);
    assert_eq!(tags.mixins_of("/compute/2").count(), 0);
    assert!(matches!(
        tags.associations("http://example.com/tags#nope"),
        Err(StoreError::NoSuchMixin(_))
    ));
    // Bob has his own (empty) snapshot.
    assert!(cached.tags("bob").await.unwrap().mixins().is_empty());

    // Behind the cache's back: the snapshot still answers (no query).
    behind
        .associate("alice", &prod.type_id(), &locs(&["/compute/2"]))
        .await
        .unwrap();
    let tags = cached.tags("alice").await.unwrap();
    assert_eq!(tags.associations(&prod.type_id()).unwrap(), ["/compute/1"]);

    // Through the cache: seen at once, with what was written behind it.
    cached
        .dissociate("alice", &prod.type_id(), &locs(&["/compute/1"]))
        .await
        .unwrap();
    let tags = cached.tags("alice").await.unwrap();
    assert_eq!(tags.associations(&prod.type_id()).unwrap(), ["/compute/2"]);
    assert_eq!(tags.mixins_of("/compute/1").count(), 0);
    cached.forget_entity("alice", "/compute/2").await.unwrap();
    assert!(
        cached
            .tags("alice")
            .await
            .unwrap()
            .associations(&prod.type_id())
            .unwrap()
            .is_empty()
    );
    cached.delete_mixin("alice", &prod.type_id()).await.unwrap();
    assert!(cached.tags("alice").await.unwrap().mixins().is_empty());

    // A zero TTL reads the database every time.
    let uncached = CachedStore::new(behind.clone(), Some(Duration::ZERO), 100);
    assert!(uncached.tags("carol").await.unwrap().mixins().is_empty());
    behind.create_mixin("carol", &prod).await.unwrap();
    assert_eq!(uncached.tags("carol").await.unwrap().mixins(), [prod]);
}

/// On a shared (PostgreSQL) store the default is no caching: a write by
/// another replica is seen by the next read. Runs only with
/// `SNF_OCCI_TEST_POSTGRES_URL` set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_store_on_postgres_sees_other_replicas_writes() {
    use snf_occi::store::CachedStore;
    let Ok(url) = std::env::var("SNF_OCCI_TEST_POSTGRES_URL") else {
        eprintln!("SNF_OCCI_TEST_POSTGRES_URL not set: PostgreSQL cache test NOT run");
        return;
    };
    let user = format!(
        "cache-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let mine = Store::open(&StoreConfig::new(url.clone())).await.unwrap();
    assert!(mine.is_shared());
    let cached = CachedStore::new(mine, None, 100);
    let other_replica = Store::open(&StoreConfig::new(url)).await.unwrap();
    assert!(cached.tags(&user).await.unwrap().mixins().is_empty());
    other_replica
        .create_mixin(&user, &tag("prod"))
        .await
        .unwrap();
    assert_eq!(cached.tags(&user).await.unwrap().mixins(), [tag("prod")]);
}
