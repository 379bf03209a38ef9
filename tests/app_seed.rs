//! The seed document's four curl examples, run as written (only `$AUTH`,
//! `$ID` and `localhost:8888` substituted) against the gateway on the
//! simulator: query, create from template names with `Auth-Token`,
//! show, delete.

mod common;

use std::process::Command;

use common::start_gateway;

/// The examples, verbatim from the seed document.
const QUERY: &str = "curl -v -X GET localhost:8888/-/ -H 'Auth-Token: $AUTH'";
const CREATE: &str = "curl -v -X POST localhost:8888/compute/ -H 'Category: compute; scheme=http://schemas.ogf.org/occi/infrastructure#; class=\"kind\";' -H 'X-OCCI-Attribute: occi.core.title = newVM' -H 'Category: C2R2048D20; scheme=http://schemas.ogf.org/occi/infrastructure#; ' -H 'Category: Debian; scheme=http://schemas.ogf.org/occi/infrastructure#;' -H 'Auth-Token: $AUTH' -H 'Content-type: text/occi'";
const SHOW: &str = "curl -v -X GET localhost:8888/compute/$ID -H 'Auth-Token: $AUTH'";
const DELETE: &str = "curl -v -X DELETE localhost:8888/compute/$ID -H 'Auth-Token: $AUTH'";

/// Runs one example through `sh`; returns (status code, headers+body).
async fn run(example: &str, hostport: &str, token: &str, id: &str) -> (u16, String) {
    let command = example
        .replace("localhost:8888", hostport)
        .replace("$AUTH", token)
        .replace("$ID", id);
    let out = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            // -i puts the status line and headers before the body; -s
            // silences the progress meter (-v still goes to stderr).
            .arg(format!("{command} -s -i"))
            .output()
            .expect("curl runs")
    })
    .await
    .expect("join");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

#[tokio::test]
async fn the_seed_curl_examples_work_as_written() {
    let gw = start_gateway().await;
    let hostport = gw.url.trim_start_matches("http://").to_owned();
    let token = gw.token(0);

    let (status, text) = run(QUERY, &hostport, &token, "").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("Category: compute;"), "{text}");
    assert_eq!(server_headers(&text), 1, "{text}");

    let (status, text) = run(CREATE, &hostport, &token, "").await;
    assert_eq!(status, 201, "{text}");
    let location = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Location: ")
                .or_else(|| l.strip_prefix("location: "))
        })
        .unwrap_or_else(|| panic!("no Location in {text}"))
        .trim()
        .to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{location}");

    let (status, text) = run(SHOW, &hostport, &token, &id).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("occi.core.title=\"newVM\""), "{text}");
    // C2R2048D20 and Debian, resolved by name.
    assert!(text.contains("occi.compute.cores=2"), "{text}");
    assert!(text.contains("occi.compute.memory=2"), "{text}");
    assert!(text.contains("template/os#\""), "{text}");

    let (status, text) = run(DELETE, &hostport, &token, &id).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = run(SHOW, &hostport, &token, &id).await;
    assert_eq!(status, 404);
    // Success or error, the answer names its server exactly once.
    assert_eq!(server_headers(&text), 1, "{text}");
}

/// How many `Server: snf-occi/...` header lines `curl -i` output has.
fn server_headers(text: &str) -> usize {
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.to_ascii_lowercase().starts_with("server: snf-occi/"))
        .count()
}
