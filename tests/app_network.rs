//! End-to-end tests of `/ipreservation/` (floating IPs) over real
//! sockets: every operation in text/plain, text/occi and JSON, two users.
//! (The network collection itself is not implemented yet.)

mod common;

use common::{Gateway, start_gateway};
use reqwest::StatusCode;

const IPR_KIND: &str =
    "ipreservation; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"";

/// Allocates a floating IP as user `n` in `rendering`; returns its id.
async fn reserve(gw: &Gateway, n: usize, rendering: &str) -> String {
    let req = gw.client(n).post(gw.at("/ipreservation/"));
    let req = match rendering {
        "text/plain" => req
            .header("content-type", "text/plain")
            .body(format!("Category: {IPR_KIND}\n")),
        "text/occi" => req
            .header("content-type", "text/occi")
            .header("accept", "text/occi")
            .header("category", IPR_KIND),
        _ => req
            .header("content-type", "application/occi+json")
            .header("accept", "application/occi+json")
            .body(r#"{"kind": "http://schemas.ogf.org/occi/infrastructure#ipreservation"}"#),
    };
    let res = req.send().await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = res.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{rendering}: {body}");
    let location = location.expect("Location header");
    location
        .strip_prefix(&gw.at("/ipreservation/"))
        .unwrap_or_else(|| panic!("{location} is under /ipreservation/"))
        .to_owned()
}

async fn get(gw: &Gateway, n: usize, path: &str, accept: &str) -> (StatusCode, String) {
    let res = gw
        .client(n)
        .get(gw.at(path))
        .header("accept", accept)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = format!("{:?}", res.headers());
    (status, format!("{headers}\n{}", res.text().await.unwrap()))
}

#[tokio::test]
async fn ipreservation_every_operation_in_every_rendering() {
    let gw = start_gateway().await;
    for rendering in ["text/plain", "text/occi", "application/occi+json"] {
        let id = reserve(&gw, 0, rendering).await;
        let (status, shown) = get(&gw, 0, &format!("/ipreservation/{id}"), rendering).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(
            shown.contains("occi.ipreservation.address"),
            "{rendering}: {shown}"
        );
        assert!(
            shown.contains("occi.ipreservation.used"),
            "{rendering}: {shown}"
        );
        assert!(shown.contains("false"), "a new IP is unused: {shown}");

        gw.sim.reset_counters();
        let (status, listed) = get(&gw, 0, "/ipreservation/", rendering).await;
        assert_eq!(status, StatusCode::OK);
        let listed_it = if rendering.contains("json") {
            listed.contains(&format!("\"id\":\"{id}\""))
        } else {
            listed.contains(&format!("/ipreservation/{id}"))
        };
        assert!(listed_it, "{rendering}: {listed}");
        assert_eq!(gw.backend_calls(), 1, "{:?}", gw.calls());

        // Another user cannot see or release it.
        let (status, _) = get(&gw, 1, &format!("/ipreservation/{id}"), rendering).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let res = gw
            .client(1)
            .delete(gw.at(&format!("/ipreservation/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);

        let res = gw
            .client(0)
            .delete(gw.at(&format!("/ipreservation/{id}")))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        let (status, _) = get(&gw, 0, &format!("/ipreservation/{id}"), rendering).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "released");
    }
}

#[tokio::test]
async fn ipreservation_invalid_ids_are_404() {
    let gw = start_gateway().await;
    for path in [
        "/ipreservation/a%20b",
        "/ipreservation/..%2F..%2Fservers",
        "/ipreservation/424242",
    ] {
        let (status, body) = get(&gw, 0, path, "text/plain").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}
