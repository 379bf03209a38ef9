//! The real binary with JSON logs: every line logged while handling a
//! request, in any layer, carries that request's id.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_snf-occi");

#[tokio::test]
async fn request_id_on_every_line_of_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.toml");
    // The simulator on a free port of its own.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &path,
        format!(
            r#"
            [server]
            listen = "127.0.0.1:0"
            [pipeline]
            filters = ["request_log", "keystone"]
            app = "echo"
            [filter.keystone]
            use = "keystone_auth"
            [app.echo]
            [simulator]
            listen = "127.0.0.1:{port}"
            [log]
            format = "json"
            level = "info"
            "#
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await
    {
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.to_string());
            break;
        }
    }
    let url = url.expect("the server prints its address");

    let res = reqwest::Client::new()
        .get(format!("{url}/compute/"))
        .header("x-request-id", "ops-log-test-7f3a")
        .header("x-auth-token", "not-a-valid-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-request-id"], "ops-log-test-7f3a");

    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let _ = child.wait().await;

    // The auth filter's rejection and the access log line are both about
    // this request: both carry its id, though neither logs it explicitly.
    let rejected: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("\"keystone_auth\"") && l.contains("rejected"))
        .collect();
    assert_eq!(rejected.len(), 1, "{stderr}");
    assert!(rejected[0].contains("ops-log-test-7f3a"), "{stderr}");
    let access: Vec<&str> = stderr.lines().filter(|l| l.contains("/compute/")).collect();
    assert!(!access.is_empty(), "{stderr}");
    for line in access {
        assert!(line.contains("ops-log-test-7f3a"), "{line}");
    }
    // And the token is in no line.
    assert!(!stderr.contains("not-a-valid-token"), "{stderr}");
}
