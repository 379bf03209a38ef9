//! The real binary on 127.0.0.1:0: requests through two configured
//! filters, then SIGTERM while a slow request is in flight.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_snf-occi");

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
# HTTP/2 with prior knowledge beside HTTP/1.1 (off by default).
h2c = true

[server.limits]
shutdown_grace = "20s"

[pipeline]
filters = ["request_log", "limit"]
app = "echo"

[filter.limit]
use = "body_limit"
max_bytes = 16

[app.slow]
use = "echo"
delay = "1500ms"

[urlmap]
"/" = "pipeline"
"/slow" = "slow"
"/healthz" = "healthz"

[log]
format = "json"
level = "info"
"#;

/// Starts the binary and reads its bound address from the first stdout line.
async fn start(config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .env_remove("SNF_OCCI_SERVER__LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the server prints its address")
        .unwrap()
        .expect("a first line");
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    (child, url)
}

fn sigterm(child: &Child) {
    let pid = child.id().expect("still running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn serves_through_two_filters_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let (mut child, url) = start(&path).await;
    let client = reqwest::Client::new();

    // Through the pipeline: the app answers, the edge adds its headers.
    let res = client
        .get(format!("{url}/compute/?a=1"))
        .header("x-request-id", "e2e-1")
        .header("x-auth-token", "s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["server"]
            .to_str()
            .unwrap()
            .starts_with("snf-occi/")
    );
    assert_eq!(res.headers()["x-request-id"], "e2e-1");
    let body = res.text().await.unwrap();
    assert!(body.starts_with("GET /compute/?a=1\n"), "{body}");
    assert!(
        body.contains("remote-addr: 127.0.0.1:"),
        "the server sets RemoteAddr: {body}"
    );

    // The second filter, body_limit, refuses a large body.
    let res = client
        .post(format!("{url}/compute/"))
        .body("x".repeat(100))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.headers().contains_key("server"));

    // HTTP/2 (prior knowledge) on the same port, as `h2c = true` asks.
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let res = h2.get(format!("{url}/healthz")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.text().await.unwrap(), "ok\n");

    // A slow request is in flight when SIGTERM arrives: it completes.
    let slow = tokio::spawn({
        let client = client.clone();
        let url = url.clone();
        async move {
            let res = client.get(format!("{url}/slow")).send().await?;
            let status = res.status();
            let body = res.text().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    sigterm(&child);
    let (status, body) = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(status, 200);
    assert!(body.starts_with("GET /"), "{body}");

    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after draining")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");

    // New connections are refused once it has stopped.
    assert!(
        reqwest::Client::new()
            .get(format!("{url}/healthz"))
            .send()
            .await
            .is_err()
    );

    // request_log wrote one JSON event per request, without the token.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "snf_occi::request")
        .collect();
    assert_eq!(
        events.len(),
        2,
        "one per request through the pipeline: {stderr}"
    );
    assert_eq!(events[0]["fields"]["path"], "/compute/");
    assert_eq!(events[0]["fields"]["status"], 200);
    // The request id once: in the request's span, not again in the event.
    assert_eq!(events[0]["span"]["request_id"], "e2e-1", "{stderr}");
    assert!(events[0]["fields"].get("request_id").is_none(), "{stderr}");
    assert_eq!(events[1]["fields"]["status"], 413);
    assert!(!stderr.contains("s3cret-token"), "token leaked into logs");
}

/// `server.workers` sizes the runtime: the serving process says at
/// start how many worker threads it runs, and serves with them.
#[tokio::test]
async fn server_workers_sets_the_runtime_threads() {
    for n in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.toml");
        std::fs::write(
            &path,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nworkers = {n}\n[pipeline]\napp = \"echo\"\n[log]\nformat = \"json\"\nlevel = \"info\"\n"
            ),
        )
        .unwrap();
        let (mut child, url) = start(&path).await;
        let res = reqwest::get(format!("{url}/")).await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let started = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("async runtime started") {
                    return line;
                }
            }
            panic!("no start line in the log");
        })
        .await
        .expect("the start line");
        let line: serde_json::Value = serde_json::from_str(&started).unwrap();
        assert_eq!(line["fields"]["workers"], n, "{started}");
    }
}

#[tokio::test]
async fn a_bad_config_exits_non_zero_before_listening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:0\"\n[pipeline]\nfilters = [\"nope\"]\napp = \"echo\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--config", path.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "never printed a listening line");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown filter factory `nope`"));
}

#[tokio::test]
async fn the_simulator_command_prints_its_urls_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    std::fs::write(&path, "[simulator]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let mut child = Command::new(BIN)
        .args(["simulator", "--config", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        first.starts_with("simulator listening on http://127.0.0.1:"),
        "{first}"
    );
    let identity = lines.next_line().await.unwrap().unwrap();
    assert!(
        identity.starts_with("identity: http://127.0.0.1:") && identity.ends_with("/identity/v2.0"),
        "{identity}"
    );
    sigterm(&child);
    let exit = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
