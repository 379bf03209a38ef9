//! Two gateway replicas behind one (imagined) load balancer share the
//! user-mixin store in PostgreSQL: what one writes, the other serves.
//!
//! One simulator, two gateways built from the same pipeline file with
//! `[store] url = "postgres://..."` and the same `public_url` (the load
//! balancer's), each on its own port, driven over real HTTP. Each test
//! creates a fresh database, so reruns against the same cluster are
//! independent, and drops it at the end.
//!
//! Runs only with `SNF_OCCI_TEST_POSTGRES_URL` set (`.ci/run` starts a
//! cluster with `scripts/postgres.sh` and sets it); without it each test
//! prints that it did not run and returns.

mod common;

use std::sync::Arc;

use reqwest::StatusCode;
use snf_occi::config::Config;
use snf_occi::pipeline::{BuildContext, Registry};
use snf_occi_simulator::{RunningSimulator, SimulatorConfig};
use sqlx::Connection;

/// The load balancer's URL: both replicas render their locations under it.
const PUBLIC: &str = "http://occi.lb.test";
const COMPUTE_KIND: &str =
    "Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"";
const DEBIAN_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";
const TAGS: &str = "http://example.org/tags#";

/// A database created for one test on the cluster of
/// `SNF_OCCI_TEST_POSTGRES_URL`.
struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    /// `None` (with the reason printed) when no PostgreSQL is configured.
    async fn create(test: &str) -> Option<FreshDatabase> {
        let Ok(admin_url) = std::env::var("SNF_OCCI_TEST_POSTGRES_URL") else {
            eprintln!("SNF_OCCI_TEST_POSTGRES_URL not set: two-replica test {test} NOT run");
            return None;
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let name = format!("snf_occi_{test}_{}_{nanos}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to SNF_OCCI_TEST_POSTGRES_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create a fresh database (the role needs CREATEDB)");
        admin.close().await.expect("close");
        let mut url = reqwest::Url::parse(&admin_url).expect("SNF_OCCI_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(FreshDatabase {
            admin_url,
            name,
            url: url.to_string(),
        })
    }

    async fn drop_database(self) {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE \"{}\" WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .expect("drop the test database");
    }
}

/// One gateway replica serving on 127.0.0.1; dropping it stops it.
struct Replica {
    url: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Replica {
    /// Builds the pipeline every replica shares (keystone auth on the
    /// simulator, the OCCI app, the store at `store_url`) and serves it.
    async fn start(sim: &RunningSimulator, store_url: &str) -> Replica {
        let toml = common::occi_toml(&sim.identity_url(), "")
            .replace("sqlite::memory:", store_url)
            .replace("http://gateway.test", PUBLIC);
        assert!(toml.contains(store_url), "{toml}");
        let config = Config::from_toml_str(&toml).unwrap_or_else(|e| panic!("config: {e}"));
        let limits = config.server.limits.clone();
        let ctx = BuildContext::new(Arc::new(config)).expect("context");
        let service = Registry::with_builtins()
            .build_service(&ctx)
            .await
            .unwrap_or_else(|e| panic!("build failed: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = snf_occi::server::Server::from_listener(listener, service, limits);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = server
                .serve(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Replica { url, _stop: stop }
    }
}

/// A user's view of the replicas: plain HTTP calls with their token.
#[derive(Clone)]
struct User {
    http: reqwest::Client,
}

impl User {
    fn new(sim: &RunningSimulator, n: usize) -> User {
        User {
            http: common::client_for(&sim.users()[n].token),
        }
    }

    async fn get(&self, replica: &Replica, path: &str) -> (StatusCode, String) {
        let res = self
            .http
            .get(format!("{}{path}", replica.url))
            .send()
            .await
            .expect("GET");
        (res.status(), res.text().await.expect("body"))
    }

    async fn send(
        &self,
        method: reqwest::Method,
        replica: &Replica,
        path: &str,
        body: String,
    ) -> (StatusCode, String) {
        let res = self
            .http
            .request(method, format!("{}{path}", replica.url))
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .expect("request");
        (res.status(), res.text().await.expect("body"))
    }

    /// Creates a compute and returns its absolute location.
    async fn create_compute(&self, replica: &Replica, title: &str) -> String {
        let body = format!(
            "{COMPUTE_KIND}\n\
             Category: 1; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
             Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n\
             X-OCCI-Attribute: occi.core.title=\"{title}\"\n"
        );
        let res = self
            .http
            .post(format!("{}/compute/", replica.url))
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), StatusCode::CREATED);
        let location = res.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert!(
            location.starts_with(&format!("{PUBLIC}/compute/")),
            "{location}"
        );
        location
    }
}

/// The text/plain definition of the user mixin `term` at `/term/`.
fn definition(term: &str) -> String {
    format!("Category: {term}; scheme=\"{TAGS}\"; class=\"mixin\"; location=\"/{term}/\"\n")
}

fn path_of(location: &str) -> &str {
    location.strip_prefix(PUBLIC).expect("under the public URL")
}

async fn simulator() -> RunningSimulator {
    snf_occi_simulator::start(&SimulatorConfig::instant(
        "127.0.0.1:0".parse().expect("addr"),
    ))
    .await
    .expect("simulator starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixin_written_through_one_replica_is_served_by_the_other() {
    let Some(db) = FreshDatabase::create("replicas").await else {
        return;
    };
    let sim = simulator().await;
    let (a, b) = (
        Replica::start(&sim, &db.url).await,
        Replica::start(&sim, &db.url).await,
    );
    let (alice, bob) = (User::new(&sim, 0), User::new(&sim, 1));
    let compute = alice.create_compute(&a, "tagged").await;

    // Defined through A ...
    let (status, body) = alice
        .send(reqwest::Method::POST, &a, "/-/", definition("shared"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ... listed in /-/ of B (and only for its owner).
    let (status, query) = alice.get(&b, "/-/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        query.contains(&format!(
            "Category: shared; scheme=\"{TAGS}\"; class=\"mixin\""
        )),
        "{query}"
    );
    assert!(query.contains("location=\"/shared/\""), "{query}");
    assert!(!bob.get(&b, "/-/").await.1.contains("Category: shared;"));
    // Defining it again through B is the same mixin (a no-op), not a copy.
    let (status, _) = alice
        .send(reqwest::Method::POST, &b, "/-/", definition("shared"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Associated to the compute through B ...
    let (status, body) = alice
        .send(
            reqwest::Method::POST,
            &b,
            "/shared/",
            format!("X-OCCI-Location: {compute}\n"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ... listed in its collection through A, and on the compute.
    let (status, listing) = alice.get(&a, "/shared/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(listing.contains(&compute), "{listing}");
    let (_, entity) = alice.get(&a, path_of(&compute)).await;
    assert!(
        entity.contains(&format!("Category: shared; scheme=\"{TAGS}\"")),
        "{entity}"
    );

    // Deleted through B: gone from A, the definition and the tag.
    let (status, body) = alice
        .send(reqwest::Method::DELETE, &b, "/-/", definition("shared"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(alice.get(&a, "/shared/").await.0, StatusCode::NOT_FOUND);
    assert!(!alice.get(&a, "/-/").await.1.contains("Category: shared;"));
    let (_, entity) = alice.get(&a, path_of(&compute)).await;
    assert!(!entity.contains("Category: shared;"), "{entity}");

    drop((a, b));
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_on_both_replicas_lose_nothing() {
    let Some(db) = FreshDatabase::create("writers").await else {
        return;
    };
    let sim = simulator().await;
    let replicas = Arc::new([
        Replica::start(&sim, &db.url).await,
        Replica::start(&sim, &db.url).await,
    ]);
    let alice = User::new(&sim, 0);
    let computes = Arc::new([
        alice.create_compute(&replicas[0], "even").await,
        alice.create_compute(&replicas[1], "odd").await,
    ]);

    // 20 writers at once: writer i defines tag<i> through one replica and
    // tags compute i % 2 with it through the other, so both replicas write
    // definitions and associations of the same compute concurrently.
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..20usize {
        let (alice, replicas, computes) = (alice.clone(), replicas.clone(), computes.clone());
        writers.spawn(async move {
            let term = format!("tag{i:02}");
            let (status, body) = alice
                .send(
                    reqwest::Method::POST,
                    &replicas[i % 2],
                    "/-/",
                    definition(&term),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "define {term}: {body}");
            let (status, body) = alice
                .send(
                    reqwest::Method::POST,
                    &replicas[(i + 1) % 2],
                    &format!("/{term}/"),
                    format!("X-OCCI-Location: {}\n", computes[i % 2]),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "associate {term}: {body}");
        });
    }
    while let Some(writer) = writers.join_next().await {
        writer.expect("writer");
    }

    // Everything is there, through both replicas.
    for replica in replicas.iter() {
        let (_, query) = alice.get(replica, "/-/").await;
        for i in 0..20 {
            assert!(
                query.contains(&format!("Category: tag{i:02}; scheme=\"{TAGS}\"")),
                "tag{i:02} missing from /-/ of {}",
                replica.url
            );
        }
        for i in 0..20 {
            let (status, listing) = alice.get(replica, &format!("/tag{i:02}/")).await;
            assert_eq!(status, StatusCode::OK);
            assert!(listing.contains(&computes[i % 2]), "tag{i:02}: {listing}");
            assert!(
                !listing.contains(&computes[(i + 1) % 2]),
                "tag{i:02}: {listing}"
            );
        }
        for (parity, compute) in computes.iter().enumerate() {
            let (_, entity) = alice.get(replica, path_of(compute)).await;
            let tags: Vec<usize> = (0..20)
                .filter(|i| entity.contains(&format!("Category: tag{i:02};")))
                .collect();
            let expected: Vec<usize> = (0..20).filter(|i| i % 2 == parity).collect();
            assert_eq!(tags, expected, "the tags of {compute} on {}", replica.url);
        }
    }

    drop(replicas);
    db.drop_database().await;
}
