//! Reliability when the cloud misbehaves, when clients are many or slow,
//! and when the server is stopped: the simulator's fault injection
//! (`/_sim/faults`) and counters (`/_sim/counters`) against the gateway
//! over real sockets, and the real binary for SIGTERM and restart.

mod common;

use std::time::{Duration, Instant};

use common::Gateway;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INFRA: &str = "http://schemas.ogf.org/occi/infrastructure#";
const DEBIAN_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";
/// What a listing of /compute/ calls (the details: a server being deleted
/// is left out).
const LIST_SERVERS: &str = "GET /compute/v2.0/servers/detail";
const CREATE_SERVER: &str = "POST /compute/v2.0/servers";

/// No request may take longer than this (hang detection only).
const HANG: Duration = Duration::from_secs(10);

fn compute_body(title: &str, extra: &str) -> String {
    format!(
        "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n\
         Category: 1; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
         Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n\
         X-OCCI-Attribute: occi.core.title=\"{title}\"\n{extra}"
    )
}

async fn set_faults(gw: &Gateway, faults: Value) {
    let res = reqwest::Client::new()
        .put(format!("{}/_sim/faults", gw.sim.url()))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    gw.sim.reset_counters();
}

async fn clear_faults(gw: &Gateway) {
    let res = reqwest::Client::new()
        .delete(format!("{}/_sim/faults", gw.sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    gw.sim.reset_counters();
}

/// How often the simulator saw `operation` since the last reset; a
/// listing counts the reads of its changes since (`?changes-since`, what
/// listings after the first read) too.
fn count(gw: &Gateway, operation: &str) -> u64 {
    let calls = gw.calls();
    let delta = calls.get(&format!("{operation}?changes-since"));
    calls.get(operation).copied().unwrap_or(0) + delta.copied().unwrap_or(0)
}

/// What a user sees of one request: status, headers, body, and whether it
/// answered within [`HANG`].
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
    took: Duration,
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let res = tokio::time::timeout(HANG, request.send())
        .await
        .expect("the gateway answers (no hang)")
        .expect("the gateway answers over HTTP");
    let status = res.status();
    let headers = res.headers().clone();
    let body = tokio::time::timeout(HANG, res.text())
        .await
        .expect("the body arrives (no hang)")
        .unwrap();
    Answer {
        status,
        headers,
        body,
        took: started.elapsed(),
    }
}

/// An OCCI error: text/plain with a one-line explanation, never an empty
/// or HTML body.
fn assert_occi_error(a: &Answer, status: u16, mentions: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert_eq!(a.headers["content-type"], "text/plain", "{:?}", a.headers);
    assert!(
        a.headers["server"]
            .to_str()
            .unwrap()
            .starts_with("snf-occi/"),
        "{:?}",
        a.headers
    );
    assert!(
        a.body.contains(mentions),
        "the body says {mentions:?}: {}",
        a.body
    );
}

async fn get_as(gw: &Gateway, n: usize, path: &str) -> Answer {
    send(gw.client(n).get(gw.at(path))).await
}

async fn post_text(gw: &Gateway, n: usize, path: &str, body: String) -> Answer {
    send(
        gw.client(n)
            .post(gw.at(path))
            .header("content-type", "text/plain")
            .body(body),
    )
    .await
}

/// The id of a `201 Created` answer's Location.
fn created(a: &Answer, gw: &Gateway, collection: &str) -> String {
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let location = a.headers["location"].to_str().unwrap();
    location
        .strip_prefix(&gw.at(collection))
        .unwrap_or_else(|| panic!("{location} is under {collection}"))
        .to_owned()
}

#[tokio::test]
async fn synnefo_faults_become_occi_errors_and_only_reads_are_retried_once() {
    let gw = common::start_gateway_synnefo(
        |_| {},
        "timeout = \"700ms\"\nretry_jitter = \"20ms\"\n",
        "create_watch = \"0s\"\n",
    )
    .await;
    // Token validated and catalog discovered while all is well.
    assert_eq!(get_as(&gw, 0, "/compute/").await.status, StatusCode::OK);
    let id = created(
        &post_text(&gw, 0, "/compute/", compute_body("victim", "")).await,
        &gw,
        "/compute/",
    );

    // Synnefo 503: 502 carrying Synnefo's message; the read was sent twice.
    set_faults(&gw, json!({"error_rate": 1.0, "error_status": 503})).await;
    let a = get_as(&gw, 0, "/compute/").await;
    assert_occi_error(&a, 502, "Injected failure");
    assert!(a.body.contains("serviceUnavailable"), "{}", a.body);
    assert_eq!(count(&gw, LIST_SERVERS), 2, "one retry: {:?}", gw.calls());
    // The same in text/occi: the message is in X-OCCI-Error.
    let a = send(
        gw.client(0)
            .get(gw.at(&format!("/compute/{id}")))
            .header("accept", "text/occi"),
    )
    .await;
    assert_eq!(a.status, 502);
    let error = a.headers["x-occi-error"].to_str().unwrap();
    assert!(error.contains("Injected failure"), "{error}");

    // A write is never sent twice.
    gw.sim.reset_counters();
    let a = post_text(&gw, 0, "/compute/", compute_body("never-twice", "")).await;
    assert_occi_error(&a, 502, "Injected failure");
    assert_eq!(count(&gw, CREATE_SERVER), 1, "{:?}", gw.calls());
    let a = send(gw.client(0).delete(gw.at(&format!("/compute/{id}")))).await;
    assert_eq!(a.status, 502, "{}", a.body);
    assert_eq!(
        count(&gw, "DELETE /compute/v2.0/servers/{id}"),
        1,
        "{:?}",
        gw.calls()
    );

    // A 500 is not a transient failure: 502, not retried.
    set_faults(&gw, json!({"error_rate": 1.0, "error_status": 500})).await;
    let a = get_as(&gw, 0, "/compute/").await;
    assert_occi_error(&a, 502, "computeFault");
    assert_eq!(count(&gw, LIST_SERVERS), 1, "{:?}", gw.calls());

    // Every other answer failing (the 2nd, 4th, ...): the retry gets
    // through, the user sees only 200s; Synnefo saw 3 calls for 2 listings.
    set_faults(&gw, json!({"error_rate": 0.5, "routes": [LIST_SERVERS]})).await;
    for _ in 0..2 {
        let a = get_as(&gw, 0, "/compute/").await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    assert_eq!(count(&gw, LIST_SERVERS), 3, "{:?}", gw.calls());

    // Dropped connections: 502, the read retried once, the write not.
    set_faults(&gw, json!({"drop_rate": 1.0})).await;
    let a = get_as(&gw, 0, "/compute/").await;
    assert_occi_error(&a, 502, "did not answer");
    assert_eq!(count(&gw, LIST_SERVERS), 2, "{:?}", gw.calls());
    gw.sim.reset_counters();
    let a = post_text(&gw, 0, "/compute/", compute_body("dropped", "")).await;
    assert_occi_error(&a, 502, "did not answer");
    assert_eq!(count(&gw, CREATE_SERVER), 1, "{:?}", gw.calls());

    // Slower than the 700 ms timeout: 504, and a timeout is not retried.
    set_faults(&gw, json!({"latency": "3s"})).await;
    let a = get_as(&gw, 0, "/compute/").await;
    assert_occi_error(&a, 504, "did not answer within the timeout");
    assert_eq!(count(&gw, LIST_SERVERS), 1, "{:?}", gw.calls());
    assert!(
        a.took < Duration::from_millis(2500),
        "answered at the timeout, not after Synnefo: {:?}",
        a.took
    );

    // The service down (its connections dropped): 502.
    set_faults(&gw, json!({"down": ["compute"]})).await;
    let a = get_as(&gw, 0, "/compute/").await;
    assert_occi_error(&a, 502, "did not answer");

    // Recovered: the very next request succeeds (no poisoned pool).
    clear_faults(&gw).await;
    let a = get_as(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn an_unreachable_synnefo_is_502_within_a_second() {
    // Reserve a port, then free it: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = common::start_gateway_synnefo(
        |_| {},
        &format!("compute_url = \"http://{dead}/compute/v2.0\"\n"),
        "",
    )
    .await;
    for path in ["/compute/", "/compute/42"] {
        let a = get_as(&gw, 0, path).await;
        assert_occi_error(&a, 502, "compute is unreachable");
        assert!(a.took < Duration::from_secs(1), "{path}: {:?}", a.took);
    }
    // Other services still answer.
    assert_eq!(get_as(&gw, 0, "/network/").await.status, 200);
}

#[tokio::test]
async fn after_faults_clear_the_next_request_succeeds_nothing_cached() {
    let gw = common::start_gateway_synnefo(|_| {}, "retry_jitter = \"10ms\"\n", "").await;
    // Alice's token is validated (text listings need no templates).
    assert_eq!(get_as(&gw, 0, "/compute/").await.status, StatusCode::OK);

    set_faults(&gw, json!({"error_rate": 1.0})).await;
    // Alice's templates cannot be listed: the query interface fails.
    let a = get_as(&gw, 0, "/-/").await;
    assert_occi_error(&a, 502, "Injected failure");
    // Bob's token cannot be validated: 503, not 401.
    let a = get_as(&gw, 1, "/compute/").await;
    assert_eq!(a.status, 503, "{}", a.body);

    set_faults(&gw, json!({"drop_rate": 1.0})).await;
    // The bodies name the failure if a status is not the one expected.
    // (Alice's 503 once here was the in-memory store losing its tables
    // when a cancelled read closed its connection; see `Store::open`.)
    let a = get_as(&gw, 0, "/-/").await;
    assert_eq!(a.status, 502, "{}", a.body);
    let a = get_as(&gw, 1, "/compute/").await;
    assert_eq!(a.status, 503, "{}", a.body);

    // Back up: neither failure was cached.
    clear_faults(&gw).await;
    let a = get_as(&gw, 0, "/-/").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body.contains("C2R2048D20"),
        "templates listed: {}",
        a.body
    );
    let a = get_as(&gw, 1, "/compute/").await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn an_interrupted_create_leaves_nothing_half_made() {
    let gw = common::start_gateway_synnefo(
        |_| {},
        "retry_jitter = \"10ms\"\n",
        "create_watch = \"0s\"\n",
    )
    .await;

    // A network with a subnet: the subnet fails, the network is deleted.
    let before = gw.sim_state().await;
    set_faults(
        &gw,
        json!({"error_rate": 1.0, "routes": ["POST /network/v2.0/subnets"]}),
    )
    .await;
    let a = post_text(
        &gw,
        0,
        "/network/",
        format!(
            "Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n\
             Category: ipnetwork; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n\
             X-OCCI-Attribute: occi.network.address=\"10.1.2.0/24\"\n"
        ),
    )
    .await;
    assert_occi_error(&a, 502, "network deleted again");
    let after = gw.sim_state().await;
    assert_eq!(after["networks"], before["networks"], "{after}");
    assert_eq!(after["subnets"], before["subnets"], "{after}");

    // A compute with an inline network link: the create fails, no server
    // and no port exist.
    clear_faults(&gw).await;
    let net = created(
        &post_text(
            &gw,
            0,
            "/network/",
            format!("Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n"),
        )
        .await,
        &gw,
        "/network/",
    );
    let before = gw.sim_state().await;
    for faults in [
        json!({"error_rate": 1.0, "routes": [CREATE_SERVER]}),
        json!({"drop_rate": 1.0, "routes": [CREATE_SERVER]}),
    ] {
        set_faults(&gw, faults).await;
        let link = format!(
            "Link: </network/{net}>; rel=\"{INFRA}network\"; category=\"{INFRA}networkinterface\"\n"
        );
        let a = post_text(&gw, 0, "/compute/", compute_body("linked", &link)).await;
        assert_eq!(a.status, 502, "{}", a.body);
        let after = gw.sim_state().await;
        for what in ["servers", "ports", "floating_ips"] {
            assert_eq!(after[what], before[what], "{what}: {after}");
        }
    }
    clear_faults(&gw).await;
    let link = format!(
        "Link: </network/{net}>; rel=\"{INFRA}network\"; category=\"{INFRA}networkinterface\"\n"
    );
    let a = post_text(&gw, 0, "/compute/", compute_body("linked", &link)).await;
    assert_eq!(
        a.status, 201,
        "after the faults the same create works: {}",
        a.body
    );
}

#[tokio::test]
async fn a_create_that_fails_after_reserving_a_floating_ip_releases_it() {
    let gw = common::start_gateway_with(
        |c| c.default_server_networks = vec!["SNF:ANY_PUBLIC_IPV4".into()],
        "create_watch = \"0s\"\n",
    )
    .await;
    let before = gw.sim_state().await;
    // The first server create gets Synnefo's 409 "Please create a
    // floating IP", the retry after reserving one fails.
    set_faults(&gw, json!({"error_rate": 0.5, "routes": [CREATE_SERVER]})).await;
    let a = post_text(&gw, 0, "/compute/", compute_body("needs-ip", "")).await;
    assert_occi_error(&a, 502, "Injected failure");
    let calls = gw.calls();
    assert_eq!(calls.get(CREATE_SERVER), Some(&2), "{calls:?}");
    assert_eq!(
        calls.get("POST /network/v2.0/floatingips"),
        Some(&1),
        "{calls:?}"
    );
    let after = gw.sim_state().await;
    assert_eq!(after["servers"], before["servers"], "{after}");
    assert_eq!(
        after["floating_ips"], before["floating_ips"],
        "the reserved IP is released: {after}"
    );
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_get_503_with_retry_after_at_once() {
    let gw = common::start_gateway_config(
        |_| {},
        |identity| {
            format!(
                r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://gateway.test"
[store]
url = "sqlite::memory:"
[pipeline]
filters = ["guard", "occi_negotiate", "keystone"]
app = "occi"
[filter.guard]
use = "concurrency_limit"
max_in_flight = 2
retry_after = "3s"
[synnefo]
identity_url = "{identity}"
[filter.keystone]
use = "keystone_auth"
[app.occi]
"#
            )
        },
    )
    .await;
    assert_eq!(get_as(&gw, 0, "/compute/").await.status, 200);
    set_faults(&gw, json!({"latency": "2s", "routes": [LIST_SERVERS]})).await;
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let client = gw.client(0);
            let url = gw.at("/compute/");
            tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
        })
        .collect();
    // Wait until both are in Synnefo's hands (counted), then knock.
    let waited = Instant::now();
    while count(&gw, LIST_SERVERS) < 2 {
        assert!(waited.elapsed() < HANG, "the slow requests never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let a = get_as(&gw, 1, "/compute/").await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.headers["retry-after"], "3");
    assert!(!a.body.is_empty());
    assert!(
        slow.iter().all(|t| !t.is_finished()),
        "refused while the slow ones were still in flight (no queueing)"
    );
    for t in slow {
        assert_eq!(t.await.unwrap(), 200);
    }
    // Capacity is back once they finished.
    clear_faults(&gw).await;
    assert_eq!(get_as(&gw, 1, "/compute/").await.status, 200);
}

#[tokio::test]
async fn a_slow_body_is_cut_off_with_408_and_others_are_served() {
    let gw = common::start_gateway_with(|_| {}, "[server.limits]\nbody_read_timeout = \"500ms\"\n")
        .await;
    assert_eq!(get_as(&gw, 0, "/compute/").await.status, 200);
    let addr = gw.url.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /compute/ HTTP/1.1\r\nhost: {addr}\r\nx-auth-token: alice-token\r\n\
         content-type: text/plain\r\ncontent-length: 1000\r\n\r\nCategory: comp"
    );
    slow.write_all(head.as_bytes()).await.unwrap();

    // Meanwhile another client is served.
    assert_eq!(get_as(&gw, 1, "/compute/").await.status, 200);

    // The slow one gets 408 and its connection is closed.
    let mut out = Vec::new();
    tokio::time::timeout(HANG, slow.read_to_end(&mut out))
        .await
        .expect("the server cut the slow body off")
        .unwrap();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    let state = gw.sim_state().await;
    assert_eq!(state["servers"], 0, "nothing was created: {state}");
}

// ---- SIGTERM and restart: the real binary ----

const BIN: &str = env!("CARGO_BIN_EXE_snf-occi");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary_config(sim_port: u16, store: &std::path::Path) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
[server.limits]
shutdown_grace = "20s"
[pipeline]
filters = ["request_log", "occi_negotiate", "keystone"]
app = "occi"
[filter.keystone]
use = "keystone_auth"
[store]
url = "sqlite://{}?mode=rwc"
[simulator]
listen = "127.0.0.1:{sim_port}"
build_delay = "0s"
action_delay = "0s"
[log]
format = "json"
level = "debug"
"#,
        store.display()
    )
}

struct Running {
    child: tokio::process::Child,
    url: String,
    logs: std::sync::Arc<std::sync::Mutex<String>>,
}

async fn start_binary(config: &std::path::Path) -> Running {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .env_remove("SNF_OCCI_SERVER__LISTEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = logs.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            let mut logs = sink.lock().unwrap();
            logs.push_str(&line);
            logs.push('\n');
        }
    });
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server prints its address")
        .unwrap()
        .unwrap_or_else(|| panic!("no first line; logs:\n{}", logs.lock().unwrap()));
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    Running { child, url, logs }
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("still running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn sigterm_under_load_drains_exits_0_and_mixins_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("mixins.db");
    let config = dir.path().join("pipeline.toml");
    let sim_port = free_port();
    std::fs::write(&config, binary_config(sim_port, &store)).unwrap();
    let mut server = start_binary(&config).await;
    let alice = common::client_for("alice-token");
    let url = server.url.clone();

    // A user mixin, written before the signal.
    let define = "Category: keepme; scheme=\"http://example.org/tags#\"; class=\"mixin\"; location=\"/keepme/\"\n";
    let res = alice
        .post(format!("{url}/-/"))
        .header("content-type", "text/plain")
        .body(define)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(
        alice
            .get(format!("{url}/compute/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Load: every listing now takes 2 s in Synnefo.
    let res = reqwest::Client::new()
        .put(format!("http://127.0.0.1:{sim_port}/_sim/faults"))
        .json(&json!({"latency": "2s", "routes": [LIST_SERVERS]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let in_flight: Vec<_> = (0..16)
        .map(|i| {
            let client = common::client_for(if i % 2 == 0 {
                "alice-token"
            } else {
                "bob-token"
            });
            let url = format!("{url}/compute/");
            tokio::spawn(async move {
                let res = client.get(url).send().await?;
                let status = res.status();
                res.text().await.map(|_| status)
            })
        })
        .collect();
    // SIGTERM once every one of them is in Synnefo's hands (the one
    // listing before the load counted too).
    let waited = Instant::now();
    loop {
        let counters: Value = reqwest::get(format!("http://127.0.0.1:{sim_port}/_sim/counters"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listings = counters["counters"][LIST_SERVERS].as_u64().unwrap_or(0)
            + counters["counters"][format!("{LIST_SERVERS}?changes-since")]
                .as_u64()
                .unwrap_or(0);
        if listings >= 17 {
            break;
        }
        assert!(
            waited.elapsed() < HANG,
            "the load never arrived: {counters}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&server.child);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // New connections are refused while the old ones drain.
    let refused = reqwest::Client::new()
        .get(format!("{url}/healthz"))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new connection was accepted: {refused:?}"
    );

    // Every in-flight request completes.
    for t in in_flight {
        let status = t.await.unwrap().expect("the in-flight request completes");
        assert_eq!(status, 200);
    }
    let exit = tokio::time::timeout(Duration::from_secs(20), server.child.wait())
        .await
        .expect("exits after draining")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    let logs = server.logs.lock().unwrap().clone();
    assert!(logs.contains("shutting down"), "{logs}");
    for secret in ["alice-token", "bob-token"] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }

    // Restart on the same store: the mixin is there.
    std::fs::write(&config, binary_config(free_port(), &store)).unwrap();
    let mut server = start_binary(&config).await;
    let query = alice
        .get(format!("{}/-/", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        query.contains("Category: keepme;"),
        "the mixin survived the restart: {query}"
    );
    sigterm(&server.child);
    let exit = tokio::time::timeout(Duration::from_secs(20), server.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(exit.success());
}

/// A create that Synnefo carries out but answers after the gateway's
/// per-call timeout: the server it made (found by the create's one-time
/// metadata tag) is the create's answer, 201, and it is the only one.
#[tokio::test]
async fn a_create_answered_too_late_answers_with_the_server_it_made() {
    let gw = common::start_gateway_synnefo(|_| {}, "timeout = \"700ms\"\n", "").await;
    assert_eq!(get_as(&gw, 0, "/compute/").await.status, StatusCode::OK);
    set_faults(
        &gw,
        json!({"answer_latency": "1500ms", "routes": [CREATE_SERVER]}),
    )
    .await;
    let a = post_text(&gw, 0, "/compute/", compute_body("late", "")).await;
    let id = created(&a, &gw, "/compute/");
    assert_eq!(
        count(&gw, CREATE_SERVER),
        1,
        "never sent twice: {:?}",
        gw.calls()
    );
    clear_faults(&gw).await;
    let state = gw.sim_state().await;
    assert_eq!(state["servers"], 1, "{state}");
    assert_eq!(get_as(&gw, 0, &format!("/compute/{id}")).await.status, 200);
}

/// The connection drops after Synnefo made the server (the answer is
/// lost): the same, 201 with that server.
#[tokio::test]
async fn a_create_whose_answer_is_lost_answers_with_the_server_it_made() {
    let gw = common::start_gateway().await;
    set_faults(
        &gw,
        json!({"drop_after_rate": 1.0, "routes": [CREATE_SERVER]}),
    )
    .await;
    let a = post_text(&gw, 0, "/compute/", compute_body("lost", "")).await;
    let id = created(&a, &gw, "/compute/");
    assert_eq!(
        count(&gw, CREATE_SERVER),
        1,
        "never sent twice: {:?}",
        gw.calls()
    );
    clear_faults(&gw).await;
    let state = gw.sim_state().await;
    assert_eq!(state["servers"], 1, "{state}");
    assert_eq!(get_as(&gw, 0, &format!("/compute/{id}")).await.status, 200);
}

/// The connection drops before Synnefo acted: the answer says no server
/// of this create exists (it was checked) and that a late one would be
/// deleted; none exists.
#[tokio::test]
async fn a_create_dropped_unanswered_says_what_was_checked() {
    let gw = common::start_gateway_with(|_| {}, "create_watch = \"0s\"\n").await;
    set_faults(&gw, json!({"drop_rate": 1.0, "routes": [CREATE_SERVER]})).await;
    let a = post_text(&gw, 0, "/compute/", compute_body("dropped", "")).await;
    assert_occi_error(&a, 502, "no server of this create exists now");
    clear_faults(&gw).await;
    assert_eq!(gw.sim_state().await["servers"], 0);
}

/// The `timeout` filter answers the client while the create is still in
/// flight: the create goes on in its own task, and the server it makes,
/// which the client was told failed, is deleted again.
#[tokio::test]
async fn a_create_cut_off_by_the_timeout_filter_leaves_no_server() {
    let gw = common::start_gateway_config(
        |_| {},
        |identity| {
            format!(
                r#"
[server]
listen = "127.0.0.1:0"
public_url = "http://gateway.test"
[store]
url = "sqlite::memory:"
[pipeline]
filters = ["timeout", "occi_negotiate", "keystone"]
app = "occi"
[filter.timeout]
timeout = "500ms"
[synnefo]
identity_url = "{identity}"
[filter.keystone]
use = "keystone_auth"
[app.occi]
"#
            )
        },
    )
    .await;
    assert_eq!(get_as(&gw, 0, "/compute/").await.status, StatusCode::OK);
    set_faults(&gw, json!({"latency": "1500ms", "routes": [CREATE_SERVER]})).await;
    let a = post_text(&gw, 0, "/compute/", compute_body("cut-off", "")).await;
    assert_eq!(a.status, 504, "{}", a.body);
    // The create arrives at Synnefo after the answer, makes a server, and
    // the gateway deletes it.
    let mut state = gw.sim_state().await;
    for _ in 0..100 {
        if state["servers_deleted"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = gw.sim_state().await;
    }
    assert_eq!(count(&gw, CREATE_SERVER), 1, "{:?}", gw.calls());
    assert_eq!(
        (state["servers"].as_u64(), state["servers_deleted"].as_u64()),
        (Some(0), Some(1)),
        "{state}"
    );
}
