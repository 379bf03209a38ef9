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

/// A network is renamed by a partial update (one Synnefo `PUT
/// /networks/{id}`), reset by a full one without a title; its subnet's
/// address and gateway pass unchanged and are a 409 naming them when
/// changed; the public network cannot be renamed (403).
#[tokio::test]
async fn network_rename_and_its_subnet_cannot_change() {
    let gw = start_gateway().await;
    let (status, location, body) = create_network(
        &gw,
        0,
        format!(
            "Category: {NET_KIND}\nCategory: {IPNETWORK}\n\
             X-OCCI-Attribute: occi.core.title=\"lan\"\n\
             X-OCCI-Attribute: occi.network.address=\"192.168.9.0/24\"\n\
             X-OCCI-Attribute: occi.network.gateway=\"192.168.9.1\"\n"
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let path = location.unwrap().strip_prefix(&gw.url).unwrap().to_owned();

    gw.sim.reset_counters();
    let (status, answer) = gw
        .update(
            0,
            false,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"backbone\"\n".to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("occi.core.title=\"backbone\""), "{answer}");
    assert_eq!(
        gw.calls().get("PUT /network/v2.0/networks/{id}"),
        Some(&1),
        "{:?}",
        gw.calls()
    );
    // Bob cannot rename it.
    let (status, _) = gw
        .update(
            1,
            false,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"bob's\"\n".to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The full rendering sent back with a new title passes.
    let (_, shown) = get(&gw, 0, &path, "text/plain").await;
    let rendering: String = shown
        .lines()
        .filter(|l| l.starts_with("Category:") || l.starts_with("X-OCCI-Attribute:"))
        .map(|l| {
            if l.contains("occi.core.title") {
                "X-OCCI-Attribute: occi.core.title=\"resent\"\n".to_owned()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert!(rendering.contains("192.168.9.1"), "{rendering}");
    let (status, answer) = gw.update(0, true, &path, "text/plain", rendering).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer.contains("resent") && answer.contains("192.168.9.0/24"),
        "{answer}"
    );

    for (attribute, value) in [
        ("occi.network.address", "10.0.0.0/8"),
        ("occi.network.gateway", "192.168.9.254"),
    ] {
        gw.sim.reset_counters();
        let (status, answer) = gw.update(0,
            false,
            &path,
            "text/plain",
            format!(
                "X-OCCI-Attribute: occi.core.title=\"moved\"\nX-OCCI-Attribute: {attribute}=\"{value}\"\n"
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{attribute}: {answer}");
        assert!(answer.contains(attribute), "{answer}");
        assert_eq!(gw.calls().get("PUT /network/v2.0/networks/{id}"), None);
    }

    // JSON: renames; a full update without a title resets it.
    let (status, answer) = gw.update(0,
        false,
        &path,
        "application/occi+json",
        r#"{"kind": "http://schemas.ogf.org/occi/infrastructure#network", "title": "json-net"}"#
            .to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(json["title"], "json-net", "{json}");
    let (status, answer) = gw
        .update(
            0,
            true,
            &path,
            "application/occi+json",
            r#"{"kind": "http://schemas.ogf.org/occi/infrastructure#network"}"#.to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(json["title"], "OCCI network", "{json}");
    assert_eq!(
        json["attributes"]["occi.network.address"], "192.168.9.0/24",
        "a full update keeps the subnet: {json}"
    );

    // A network without a subnet cannot get one by an update.
    let (_, location, _) = create_network(
        &gw,
        0,
        format!("Category: {NET_KIND}\nX-OCCI-Attribute: occi.core.title=\"bare\"\n"),
    )
    .await;
    let bare = location.unwrap().strip_prefix(&gw.url).unwrap().to_owned();
    let (status, answer) = gw
        .update(
            0,
            false,
            &bare,
            "text/plain",
            format!(
                "Category: {IPNETWORK}\nX-OCCI-Attribute: occi.network.address=\"10.1.0.0/24\"\n"
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert!(answer.contains("ipnetwork"), "{answer}");

    // The public network: its own title passes, another is 403.
    let (_, listed) = get(&gw, 0, "/network/", "text/plain").await;
    let mut public = None;
    for line in listed.lines() {
        let Some(url) = line.strip_prefix("X-OCCI-Location: ") else {
            continue;
        };
        let p = url.trim().strip_prefix(&gw.url).unwrap().to_owned();
        let (_, shown) = get(&gw, 0, &p, "text/plain").await;
        if shown.contains("occi.network.label=\"public\"") {
            public = Some((p, shown));
        }
    }
    let (public, shown) = public.expect("a public network");
    let title_line = shown
        .lines()
        .find(|l| l.contains("occi.core.title"))
        .expect("a title")
        .to_owned();
    let (status, answer) = gw
        .update(0, false, &public, "text/plain", format!("{title_line}\n"))
        .await;
    assert_eq!(status, StatusCode::OK, "the same title: {answer}");
    let (status, answer) = gw
        .update(
            0,
            false,
            &public,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"mine\"\n".to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert!(answer.contains("public"), "{answer}");
}
