//! End-to-end tests of `/ipreservation/` (floating IPs) over real
//! sockets: every operation in text/plain, text/occi and JSON, two users.
//! Also `/network/`: list (public included), create with and without the
//! ipnetwork mixin, rollback when the subnet fails, up/down 501.

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

const NET_KIND: &str =
    "network; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"";
const IPNETWORK: &str =
    "ipnetwork; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"";

async fn create_network(
    gw: &Gateway,
    n: usize,
    body: String,
) -> (StatusCode, Option<String>, String) {
    let res = gw
        .client(n)
        .post(gw.at("/network/"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, res.text().await.unwrap())
}

fn network_count(listing: &str) -> usize {
    listing.matches("/network/").count()
}

#[tokio::test]
async fn network_create_with_subnet_show_list_delete() {
    let gw = start_gateway().await;
    let (status, before) = get(&gw, 0, "/network/", "text/plain").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        network_count(&before) >= 1,
        "the public network is listed: {before}"
    );

    let (status, location, body) = create_network(
        &gw,
        0,
        format!(
            "Category: {NET_KIND}\nCategory: {IPNETWORK}\n\
             X-OCCI-Attribute: occi.core.title=\"lan\"\n\
             X-OCCI-Attribute: occi.network.address=\"192.168.7.0/24\"\n\
             X-OCCI-Attribute: occi.network.gateway=\"192.168.7.1\"\n"
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = location.unwrap();
    let path = location.strip_prefix(&gw.url).unwrap().to_owned();
    for rendering in ["text/plain", "text/occi", "application/occi+json"] {
        let (status, shown) = get(&gw, 0, &path, rendering).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(shown.contains("192.168.7.0/24"), "{rendering}: {shown}");
        assert!(shown.contains("192.168.7.1"), "{rendering}: {shown}");
        assert!(shown.contains("ipnetwork"), "{rendering}: {shown}");
        assert!(shown.contains("lan"), "{rendering}: {shown}");
    }
    // Bob does not see alice's network.
    let (status, _) = get(&gw, 1, &path, "text/plain").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, listed) = get(&gw, 0, "/network/", "text/plain").await;
    assert_eq!(
        network_count(&listed),
        network_count(&before) + 1,
        "{listed}"
    );

    // up/down: 501 with a reason.
    let res = gw
        .client(0)
        .post(gw.at(&format!("{path}?action=up")))
        .header("content-type", "text/plain")
        .body("Category: up; scheme=\"http://schemas.ogf.org/occi/infrastructure/network/action#\"; class=\"action\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_IMPLEMENTED);
    assert!(res.text().await.unwrap().contains("up"));

    let res = gw.client(0).delete(gw.at(&path)).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let (_, after) = get(&gw, 0, "/network/", "text/plain").await;
    assert_eq!(network_count(&after), network_count(&before), "{after}");
}

#[tokio::test]
async fn network_without_ipnetwork_has_no_subnet() {
    let gw = start_gateway().await;
    let (status, location, body) = create_network(
        &gw,
        0,
        format!("Category: {NET_KIND}\nX-OCCI-Attribute: occi.core.title=\"bare\"\n"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = location.unwrap().strip_prefix(&gw.url).unwrap().to_owned();
    let (status, shown) = get(&gw, 0, &path, "text/plain").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!shown.contains("occi.network.address"), "{shown}");
}

#[tokio::test]
async fn ipnetwork_without_address_is_400_and_a_failing_subnet_is_rolled_back() {
    let gw = start_gateway().await;
    let (status, _, body) = create_network(
        &gw,
        0,
        format!("Category: {NET_KIND}\nCategory: {IPNETWORK}\n"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("occi.network.address"), "{body}");

    let (_, before) = get(&gw, 0, "/network/", "text/plain").await;
    gw.sim.reset_counters();
    let (status, _, body) = create_network(
        &gw,
        0,
        format!(
            "Category: {NET_KIND}\nCategory: {IPNETWORK}\n\
             X-OCCI-Attribute: occi.network.address=\"not-a-cidr\"\n"
        ),
    )
    .await;
    assert!(status.is_client_error(), "{status}: {body}");
    assert!(body.contains("subnet"), "the failing step is named: {body}");
    let calls = gw.calls();
    assert!(
        calls
            .iter()
            .any(|(k, v)| k.starts_with("DELETE") && k.contains("network") && *v == 1),
        "the network was deleted again: {calls:?}"
    );
    let (_, after) = get(&gw, 0, "/network/", "text/plain").await;
    assert_eq!(network_count(&after), network_count(&before), "{after}");
}
