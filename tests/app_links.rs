//! End-to-end tests of `/storagelink/` (volume attachments) over real
//! sockets: every operation in text/plain, text/occi and JSON, two users,
//! errors.

mod common;

use common::{Gateway, start_gateway};
use reqwest::StatusCode;

const INFRA: &str = "http://schemas.ogf.org/occi/infrastructure#";
const DEBIAN_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";

async fn post(
    gw: &Gateway,
    n: usize,
    path: &str,
    body: String,
) -> (StatusCode, Option<String>, String) {
    gw.post_text(n, path, body).await
}

async fn created_id(gw: &Gateway, n: usize, path: &str, body: String) -> String {
    let (status, location, text) = post(gw, n, path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {text}");
    let location = location.expect("Location");
    location
        .strip_prefix(&gw.at(path))
        .expect("under the collection")
        .to_owned()
}

/// A compute of flavor 4 (`C2R2048D20`, `ext_archipelago`): Cyclades
/// attaches a volume only to a server whose disks have its template, and
/// makes standalone volumes only of detachable (`ext_*`) types.
async fn server(gw: &Gateway, n: usize) -> String {
    created_id(gw, n, "/compute/", compute_body("")).await
}

/// The body creating a compute of flavor 4 (see [`server`]), with
/// `links` (`Link` lines) after its categories.
fn compute_body(links: &str) -> String {
    format!(
        "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n\
         Category: 4; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
         Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n{links}"
    )
}

/// A `Link` line linking `target` (a storage's location) inline as a
/// storagelink.
fn storage_link_line(target: &str) -> String {
    format!("Link: <{target}>; rel=\"{INFRA}storage\"; category=\"{INFRA}storagelink\"\n")
}

async fn volume(gw: &Gateway, n: usize) -> String {
    created_id(
        gw,
        n,
        "/storage/",
        format!(
            "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\nX-OCCI-Attribute: occi.storage.size=2\n"
        ),
    )
    .await
}

fn link_body(source: &str, target: &str) -> String {
    format!(
        "Category: storagelink; scheme=\"{INFRA}\"; class=\"kind\"\n\
         X-OCCI-Attribute: occi.core.source=\"{source}\"\n\
         X-OCCI-Attribute: occi.core.target=\"{target}\"\n"
    )
}

/// User 0 links storage `vol` to compute `srv` (a 201).
async fn link_storage(gw: &Gateway, srv: &str, vol: &str) {
    created_id(
        gw,
        0,
        "/storagelink/",
        link_body(&format!("/compute/{srv}"), &format!("/storage/{vol}")),
    )
    .await;
}

/// A compute and a storage of user 0, the storage linked to the compute:
/// their ids.
async fn linked_pair(gw: &Gateway) -> (String, String) {
    let srv = server(gw, 0).await;
    let vol = volume(gw, 0).await;
    link_storage(gw, &srv, &vol).await;
    (srv, vol)
}

/// User 0's `DELETE` of `path` on the gateway.
async fn delete(gw: &Gateway, path: &str) -> reqwest::Response {
    gw.client(0).delete(gw.at(path)).send().await.unwrap()
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
async fn storagelink_attach_show_list_detach() {
    let gw = start_gateway().await;
    let srv = server(&gw, 0).await;
    let vol = volume(&gw, 0).await;
    let id = created_id(
        &gw,
        0,
        "/storagelink/",
        link_body(
            &gw.at(&format!("/compute/{srv}")),
            &format!("/storage/{vol}"),
        ),
    )
    .await;
    assert_eq!(id, format!("{srv}_{vol}"));

    for rendering in ["text/plain", "text/occi", "application/occi+json"] {
        let (status, shown) = get(&gw, 0, &format!("/storagelink/{id}"), rendering).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(
            shown.contains(&format!("/compute/{srv}")),
            "{rendering}: {shown}"
        );
        assert!(
            shown.contains(&format!("/storage/{vol}")),
            "{rendering}: {shown}"
        );
        let (status, listed) = get(&gw, 0, "/storagelink/", rendering).await;
        assert_eq!(status, StatusCode::OK);
        assert!(listed.contains(&id), "{rendering}: {listed}");
    }
    // The volume is in use and the compute shows the link.
    let (_, shown) = get(&gw, 0, &format!("/storage/{vol}"), "text/plain").await;
    assert!(shown.contains("online"), "{shown}");
    let (_, compute) = get(&gw, 0, &format!("/compute/{srv}"), "text/plain").await;
    assert!(compute.contains(&format!("/storagelink/{id}")), "{compute}");

    // Bob sees nothing and cannot detach.
    let (status, _) = get(&gw, 1, &format!("/storagelink/{id}"), "text/plain").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = get(&gw, 1, "/storagelink/", "text/plain").await;
    assert!(!listed.contains(&id), "{listed}");
    let res = gw
        .client(1)
        .delete(gw.at(&format!("/storagelink/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = gw
        .client(0)
        .delete(gw.at(&format!("/storagelink/{id}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let (status, _) = get(&gw, 0, &format!("/storagelink/{id}"), "text/plain").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "detached");
}

/// A compute's storage links follow its disks as they are attached and
/// detached, with the index each is attached at as the device id, though
/// a show of an unchanged compute reads no disk (one Synnefo call).
#[tokio::test]
async fn compute_device_ids_follow_attach_and_detach() {
    let gw = start_gateway().await;
    let srv = server(&gw, 0).await;
    let vol = volume(&gw, 0).await;
    let show = format!("/compute/{srv}");
    let (_, before) = get(&gw, 0, &show, "text/plain").await;
    assert!(before.contains("deviceid=\"/dev/vda\""), "{before}");
    assert!(!before.contains("/dev/vdb"), "{before}");
    gw.sim.reset_counters();
    let _ = get(&gw, 0, &show, "text/plain").await;
    assert_eq!(gw.backend_calls(), 1, "{:?}", gw.calls());

    let link = created_id(
        &gw,
        0,
        "/storagelink/",
        link_body(&show, &format!("/storage/{vol}")),
    )
    .await;
    let (_, attached) = get(&gw, 0, &show, "text/plain").await;
    let line = attached
        .lines()
        .find(|l| l.contains(&format!("/storagelink/{link}")))
        .unwrap_or_else(|| panic!("no link to the new disk: {attached}"));
    assert!(line.contains("deviceid=\"/dev/vdb\""), "{line}");
    gw.sim.reset_counters();
    let (_, again) = get(&gw, 0, &show, "text/plain").await;
    assert_eq!(gw.backend_calls(), 1, "{:?}", gw.calls());
    assert!(again.contains("/dev/vdb"), "{again}");

    let res = gw
        .client(0)
        .delete(gw.at(&format!("/storagelink/{link}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let (_, detached) = get(&gw, 0, &show, "text/plain").await;
    assert!(
        !detached.contains(&format!("/storagelink/{link}")),
        "{detached}"
    );
    assert!(!detached.contains("/dev/vdb"), "{detached}");
    assert!(detached.contains("deviceid=\"/dev/vda\""), "{detached}");
}

#[tokio::test]
async fn storagelink_errors() {
    let gw = start_gateway().await;
    let srv = server(&gw, 0).await;
    let vol = volume(&gw, 0).await;
    // Wrong collections in source/target: 400 naming the attribute.
    let (status, _, body) = post(
        &gw,
        0,
        "/storagelink/",
        link_body(&format!("/storage/{vol}"), &format!("/storage/{vol}")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("occi.core.source"), "{body}");
    let (status, _, body) = post(
        &gw,
        0,
        "/storagelink/",
        format!("Category: storagelink; scheme=\"{INFRA}\"; class=\"kind\"\nX-OCCI-Attribute: occi.core.source=\"/compute/{srv}\"\n"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("occi.core.target"), "{body}");
    // A volume already linked to a compute: 409 naming the storage, and
    // the first link stays.
    let first = created_id(
        &gw,
        0,
        "/storagelink/",
        link_body(&format!("/compute/{srv}"), &format!("/storage/{vol}")),
    )
    .await;
    let other = server(&gw, 0).await;
    let (status, _, body) = post(
        &gw,
        0,
        "/storagelink/",
        link_body(&format!("/compute/{other}"), &format!("/storage/{vol}")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains(&format!("/storage/{vol}")), "{body}");
    let (status, _) = get(&gw, 0, &format!("/storagelink/{first}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK);
    // Bob cannot attach alice's volume to his server.
    let bobs = server(&gw, 1).await;
    let (status, _, body) = post(
        &gw,
        1,
        "/storagelink/",
        link_body(&format!("/compute/{bobs}"), &format!("/storage/{vol}")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Ids that are not `<server>_<volume>`.
    for path in [
        "/storagelink/x_1",
        "/storagelink/12",
        "/storagelink/1_a%20b",
        "/storagelink/999_999",
    ] {
        let (status, body) = get(&gw, 0, path, "text/plain").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

/// The public network's id (from the JSON listing: label `public`).
async fn public_network(gw: &Gateway) -> String {
    let res = gw
        .client(0)
        .get(gw.at("/network/"))
        .header("accept", "application/occi+json")
        .send()
        .await
        .unwrap();
    let listing: serde_json::Value = res.json().await.unwrap();
    listing["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["attributes"]["occi.network.label"] == "public")
        .expect("a public network")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ni_body(source: &str, target: &str) -> String {
    format!(
        "Category: networkinterface; scheme=\"{INFRA}\"; class=\"kind\"\n\
         X-OCCI-Attribute: occi.core.source=\"{source}\"\n\
         X-OCCI-Attribute: occi.core.target=\"{target}\"\n"
    )
}

#[tokio::test]
async fn networkinterface_private_public_and_reserved_ip() {
    let gw = start_gateway().await;
    let srv = server(&gw, 0).await;

    // Private network.
    let net = created_id(
        &gw,
        0,
        "/network/",
        format!(
            "Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n\
             Category: ipnetwork; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n\
             X-OCCI-Attribute: occi.network.address=\"10.9.0.0/24\"\n"
        ),
    )
    .await;
    let private = created_id(
        &gw,
        0,
        "/networkinterface/",
        ni_body(&format!("/compute/{srv}"), &format!("/network/{net}")),
    )
    .await;
    assert!(private.starts_with(&format!("{srv}_")), "{private}");
    for rendering in ["text/plain", "text/occi", "application/occi+json"] {
        let (status, shown) = get(&gw, 0, &format!("/networkinterface/{private}"), rendering).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(
            shown.contains(&format!("/network/{net}")),
            "{rendering}: {shown}"
        );
        assert!(
            shown.contains("10.9.0."),
            "{rendering}: the port's address: {shown}"
        );
        // The alias path serves the same link.
        let (status, _) = get(&gw, 0, &format!("/networklink/{private}"), rendering).await;
        assert_eq!(status, StatusCode::OK);
        let (_, listed) = get(&gw, 0, "/networkinterface/", rendering).await;
        assert!(listed.contains(&private), "{rendering}: {listed}");
    }
    // Bob sees nothing.
    let (status, _) = get(
        &gw,
        1,
        &format!("/networkinterface/{private}"),
        "text/plain",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = get(&gw, 1, "/networkinterface/", "text/plain").await;
    assert!(!listed.contains(&private), "{listed}");

    // A reserved IP: exactly that address is used.
    let ipr = created_id(
        &gw,
        0,
        "/ipreservation/",
        format!("Category: ipreservation; scheme=\"{INFRA}\"; class=\"kind\"\n"),
    )
    .await;
    let res = gw
        .client(0)
        .get(gw.at(&format!("/ipreservation/{ipr}")))
        .header("accept", "application/occi+json")
        .send()
        .await
        .unwrap();
    let ip: serde_json::Value = res.json().await.unwrap();
    let address = ip["attributes"]["occi.ipreservation.address"]
        .as_str()
        .unwrap()
        .to_owned();
    // A second, free IP that must NOT be taken.
    let _other = created_id(
        &gw,
        0,
        "/ipreservation/",
        format!("Category: ipreservation; scheme=\"{INFRA}\"; class=\"kind\"\n"),
    )
    .await;
    let reserved = created_id(
        &gw,
        0,
        "/networkinterface/",
        ni_body(
            &format!("/compute/{srv}"),
            &gw.at(&format!("/ipreservation/{ipr}")),
        ),
    )
    .await;
    let (_, shown) = get(
        &gw,
        0,
        &format!("/networkinterface/{reserved}"),
        "text/plain",
    )
    .await;
    assert!(shown.contains(&address), "uses {address}: {shown}");
    let (_, ipshown) = get(&gw, 0, &format!("/ipreservation/{ipr}"), "text/plain").await;
    assert!(
        ipshown.contains("occi.ipreservation.used=true"),
        "{ipshown}"
    );
    // In use: linking it again is a conflict.
    let (status, _, body) = post(
        &gw,
        0,
        "/networkinterface/",
        ni_body(&format!("/compute/{srv}"), &format!("/ipreservation/{ipr}")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Public network: the remaining free IP is reused, none allocated.
    let public = public_network(&gw).await;
    gw.sim.reset_counters();
    let _public_link = created_id(
        &gw,
        0,
        "/networkinterface/",
        ni_body(&format!("/compute/{srv}"), &format!("/network/{public}")),
    )
    .await;
    let calls = gw.calls();
    assert!(
        !calls
            .iter()
            .any(|(k, _)| k.starts_with("POST") && k.contains("floatingip")),
        "a free IP is reused, not allocated: {calls:?}"
    );

    // Deleting the interface keeps the reservation; deleting it releases.
    let res = gw
        .client(0)
        .delete(gw.at(&format!("/networkinterface/{reserved}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let (status, _) = get(
        &gw,
        0,
        &format!("/networkinterface/{reserved}"),
        "text/plain",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, ipshown) = get(&gw, 0, &format!("/ipreservation/{ipr}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK, "still reserved");
    assert!(
        ipshown.contains("occi.ipreservation.used=false"),
        "{ipshown}"
    );
    let res = gw
        .client(0)
        .delete(gw.at(&format!("/ipreservation/{ipr}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

#[tokio::test]
async fn networkinterface_errors() {
    let gw = start_gateway().await;
    let srv = server(&gw, 0).await;
    let (status, _, body) = post(
        &gw,
        0,
        "/networkinterface/",
        ni_body(&format!("/compute/{srv}"), "/storage/1"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("occi.core.target"), "{body}");
    // Another user's server cannot be connected.
    let public = public_network(&gw).await;
    let (status, _, body) = post(
        &gw,
        1,
        "/networkinterface/",
        ni_body(&format!("/compute/{srv}"), &format!("/network/{public}")),
    )
    .await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
        "{status}: {body}"
    );
    for path in [
        "/networkinterface/x_1",
        "/networkinterface/1",
        "/networklink/999_999",
    ] {
        let (status, body) = get(&gw, 0, path, "text/plain").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

/// A compute created with inline storage links while builds take time
/// (as on a real cloud, where attaching to a server in BUILD is refused):
/// the volumes go in the create itself, the new compute shows them at
/// once, and a volume already linked elsewhere is a 409 that creates
/// nothing.
#[tokio::test]
async fn inline_storage_links_during_a_slow_build() {
    let gw = common::start_gateway_with(|c| c.build_delay = std::time::Duration::from_secs(30), "")
        .await;
    let first = volume(&gw, 0).await;
    let second = volume(&gw, 0).await;
    let with_links = |volumes: &[&str]| {
        let links: String = volumes
            .iter()
            .map(|v| storage_link_line(&gw.at(&format!("/storage/{v}"))))
            .collect();
        compute_body(&links)
    };
    let srv = created_id(&gw, 0, "/compute/", with_links(&[&first, &second])).await;
    let (status, shown) = get(&gw, 0, &format!("/compute/{srv}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        shown.contains("occi.compute.state=\"inactive\""),
        "still building: {shown}"
    );
    for v in [&first, &second] {
        assert!(
            shown.contains(&format!("/storagelink/{srv}_{v}")),
            "{v} linked: {shown}"
        );
    }

    let servers_before = gw.sim_state().await["servers"].clone();
    let (status, _, body) = post(&gw, 0, "/compute/", with_links(&[&second])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains(&format!("/storage/{second}")), "{body}");
    assert!(body.contains(&format!("/compute/{srv}")), "{body}");
    assert_eq!(
        gw.sim_state().await["servers"],
        servers_before,
        "nothing created"
    );
}

/// Reserves a floating IP as user `n`: its id and address.
async fn ip_reservation(gw: &Gateway, n: usize) -> (String, String) {
    let id = created_id(
        gw,
        n,
        "/ipreservation/",
        format!("Category: ipreservation; scheme=\"{INFRA}\"; class=\"kind\"\n"),
    )
    .await;
    let res = gw
        .client(n)
        .get(gw.at(&format!("/ipreservation/{id}")))
        .header("accept", "application/occi+json")
        .send()
        .await
        .unwrap();
    let ip: serde_json::Value = res.json().await.unwrap();
    let address = ip["attributes"]["occi.ipreservation.address"]
        .as_str()
        .expect("an address")
        .to_owned();
    (id, address)
}

/// A text/plain compute create with one inline networkinterface link to
/// `target`.
fn compute_linked_to(target: &str) -> String {
    format!(
        "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n\
         Category: 1; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
         Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n\
         Link: <{target}>; rel=\"{INFRA}ipreservation\"; category=\"{INFRA}networkinterface\"\n"
    )
}

/// The networkinterface links of compute `srv` in its JSON rendering.
async fn interfaces(gw: &Gateway, srv: &str) -> Vec<serde_json::Value> {
    let res = gw
        .client(0)
        .get(gw.at(&format!("/compute/{srv}")))
        .header("accept", "application/occi+json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let compute: serde_json::Value = res.json().await.unwrap();
    compute["links"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l["kind"] == format!("{INFRA}networkinterface"))
        .collect()
}

/// A compute created with an inline networkinterface link to an IP
/// reservation takes exactly that floating IP, in the one server create
/// (1 read of the floating IP + 1 create), and shows it the way a compute
/// linked afterwards does; the reservation shows it is used, and outlives
/// the compute. An unknown or another user's reservation is a 404, one in
/// use a 409 naming its compute, and none of them creates anything.
#[tokio::test]
async fn inline_ipreservation_link_attaches_that_floating_ip() {
    let gw = start_gateway().await;
    let (ipr, address) = ip_reservation(&gw, 0).await;
    let (other, _) = ip_reservation(&gw, 0).await;
    // Warm the template caches so that the calls below are the create's.
    let _ = server(&gw, 0).await;

    gw.sim.reset_counters();
    let srv = created_id(
        &gw,
        0,
        "/compute/",
        compute_linked_to(&gw.at(&format!("/ipreservation/{ipr}"))),
    )
    .await;
    let calls = gw.calls();
    assert_eq!(
        calls.get("GET /network/v2.0/floatingips/{id}"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(
        calls.get("POST /compute/v2.0/servers"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(gw.backend_calls(), 2, "1 read + 1 create: {calls:?}");

    // The compute: one interface, on the floating IP's network, with its
    // address; the same link a networkinterface created afterwards gives.
    let nics = interfaces(&gw, &srv).await;
    assert_eq!(
        nics.len(),
        1,
        "only the linked IP, no default NIC: {nics:?}"
    );
    let nic = &nics[0];
    assert_eq!(
        nic["attributes"]["occi.networkinterface.address"], address,
        "{nic}"
    );
    let link_id = nic["id"].as_str().unwrap().to_owned();
    assert!(link_id.starts_with(&format!("{srv}_")), "{link_id}");
    let later = server(&gw, 0).await;
    let after = created_id(
        &gw,
        0,
        "/networkinterface/",
        format!(
            "Category: networkinterface; scheme=\"{INFRA}\"; class=\"kind\"\n\
             X-OCCI-Attribute: occi.core.source=\"/compute/{later}\"\n\
             X-OCCI-Attribute: occi.core.target=\"/ipreservation/{other}\"\n"
        ),
    )
    .await;
    let later_nic = interfaces(&gw, &later)
        .await
        .into_iter()
        .find(|l| l["id"] == after.as_str())
        .expect("the networkinterface made afterwards");
    assert_eq!(nic["target"], later_nic["target"], "same network target");
    assert_eq!(nic["mixins"], later_nic["mixins"]);
    let keys = |l: &serde_json::Value| {
        l["attributes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(nic), keys(&later_nic), "{nic} vs {later_nic}");
    for rendering in ["text/plain", "text/occi"] {
        let (status, shown) = get(&gw, 0, &format!("/compute/{srv}"), rendering).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            shown.contains(&format!("/networkinterface/{link_id}")) && shown.contains(&address),
            "{rendering}: {shown}"
        );
    }
    let (status, shown) = get(
        &gw,
        0,
        &format!("/networkinterface/{link_id}"),
        "text/plain",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.contains(&address), "{shown}");
    let (_, ipshown) = get(&gw, 0, &format!("/ipreservation/{ipr}"), "text/plain").await;
    assert!(
        ipshown.contains("occi.ipreservation.used=true"),
        "{ipshown}"
    );

    // Refusals: nothing is created, only the reservation is read.
    let before = gw.sim_state().await;
    let (bobs, _) = ip_reservation(&gw, 1).await;
    gw.sim.reset_counters();
    for (n, target, status, says) in [
        (
            1,
            format!("/ipreservation/{ipr}"),
            StatusCode::NOT_FOUND,
            format!("/ipreservation/{ipr}"),
        ),
        (
            0,
            format!("/ipreservation/{bobs}"),
            StatusCode::NOT_FOUND,
            format!("/ipreservation/{bobs}"),
        ),
        (
            0,
            "/ipreservation/424242".to_owned(),
            StatusCode::NOT_FOUND,
            "/ipreservation/424242".to_owned(),
        ),
        (
            0,
            gw.at(&format!("/ipreservation/{ipr}")),
            StatusCode::CONFLICT,
            format!("/compute/{srv}"),
        ),
    ] {
        let (got, _, body) = post(&gw, n, "/compute/", compute_linked_to(&target)).await;
        assert_eq!(got, status, "{target}: {body}");
        assert!(body.contains(&says), "{target}: {body}");
    }
    let calls = gw.calls();
    assert_eq!(calls.get("POST /compute/v2.0/servers"), None, "{calls:?}");
    let mut state = gw.sim_state().await;
    state["floating_ips"] = before["floating_ips"].clone();
    assert_eq!(state, before, "refused creates leave nothing behind");

    // Deleting the compute keeps the reservation, free for another.
    let res = delete(&gw, &format!("/compute/{srv}")).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let (status, ipshown) = get(&gw, 0, &format!("/ipreservation/{ipr}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK, "still reserved: {ipshown}");
    assert!(
        ipshown.contains("occi.ipreservation.used=false"),
        "{ipshown}"
    );
    let again = created_id(
        &gw,
        0,
        "/compute/",
        compute_linked_to(&format!("/ipreservation/{ipr}")),
    )
    .await;
    assert_eq!(interfaces(&gw, &again).await.len(), 1);
}

/// The same inline link in a text/occi request (a `Link` header) and in
/// a JSON one (`links`, with a kinded target).
#[tokio::test]
async fn inline_ipreservation_link_in_text_occi_and_json() {
    let gw = start_gateway().await;
    let (first, first_address) = ip_reservation(&gw, 0).await;
    let res = gw
        .client(0)
        .post(gw.at("/compute/"))
        .header("content-type", "text/occi")
        .header("category", format!("compute; scheme=\"{INFRA}\"; class=\"kind\""))
        .header(
            "category",
            "1; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"",
        )
        .header(
            "category",
            format!("{DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\""),
        )
        .header(
            "link",
            format!(
                "</ipreservation/{first}>; rel=\"{INFRA}ipreservation\"; category=\"{INFRA}networkinterface\""
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let srv = res.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let nics = interfaces(&gw, &srv).await;
    assert_eq!(
        nics[0]["attributes"]["occi.networkinterface.address"], first_address,
        "{nics:?}"
    );

    let (second, second_address) = ip_reservation(&gw, 0).await;
    let json_create = |target: String| {
        serde_json::json!({
            "kind": format!("{INFRA}compute"),
            "mixins": [
                "http://schemas.openstack.org/template/resource#1",
                format!("http://schemas.openstack.org/template/os#{DEBIAN_ID}"),
            ],
            "attributes": {"occi.core.title": "json-linked"},
            "links": [{
                "kind": format!("{INFRA}networkinterface"),
                "target": {"location": target, "kind": format!("{INFRA}ipreservation")},
            }],
        })
        .to_string()
    };
    let send_json = |body: String| {
        gw.client(0)
            .post(gw.at("/compute/"))
            .header("content-type", "application/occi+json")
            .header("accept", "application/occi+json")
            .body(body)
            .send()
    };
    let res = send_json(json_create(gw.at(&format!("/ipreservation/{second}"))))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let srv = res.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let nics = interfaces(&gw, &srv).await;
    assert_eq!(
        nics[0]["attributes"]["occi.networkinterface.address"], second_address,
        "{nics:?}"
    );
    // In use now: a JSON 409 naming the compute, nothing created.
    let before = gw.sim_state().await;
    let res = send_json(json_create(format!("/ipreservation/{second}")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = res.text().await.unwrap();
    assert!(body.contains(&format!("/compute/{srv}")), "{body}");
    assert_eq!(gw.sim_state().await, before);
    // A URL on another host is never read.
    let res = send_json(json_create(format!(
        "http://evil.example/ipreservation/{second}"
    )))
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Polls compute `srv` until its storage link to `vol` is active.
async fn wait_attached(gw: &Gateway, srv: &str, vol: &str) -> String {
    for _ in 0..200 {
        let (_, shown) = get(gw, 0, &format!("/compute/{srv}"), "text/plain").await;
        let link = shown
            .lines()
            .find(|l| l.starts_with("Link:") && l.contains(&format!("/storagelink/{srv}_{vol}")))
            .unwrap_or("")
            .to_owned();
        if link.contains("occi.storagelink.state=\"active\"") {
            return shown;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("/storage/{vol} was never attached to /compute/{srv}");
}

/// Inline storage is attached once the compute is built: first shown as
/// an inactive link saying so, then active, and the volume shows it.
#[tokio::test]
async fn inline_storage_is_attached_once_the_compute_is_built() {
    let gw = common::start_gateway_with(
        |c| c.build_delay = std::time::Duration::from_millis(500),
        "",
    )
    .await;
    let vol = volume(&gw, 0).await;
    let srv = created_id(
        &gw,
        0,
        "/compute/",
        compute_body(&storage_link_line(&format!("/storage/{vol}"))),
    )
    .await;
    let (_, building) = get(&gw, 0, &format!("/compute/{srv}"), "text/plain").await;
    assert!(
        building.contains("attaching once the compute is built"),
        "{building}"
    );
    wait_attached(&gw, &srv, &vol).await;
    let (_, storage) = get(&gw, 0, &format!("/storage/{vol}"), "application/occi+json").await;
    assert!(
        storage.contains("\"occi.storage.state\":\"online\""),
        "{storage}"
    );
    let (status, link) = get(&gw, 0, &format!("/storagelink/{srv}_{vol}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK, "{link}");
}

/// The pending list lives in the server's metadata: a compute whose
/// attach never ran in this process (another replica made it, or the
/// gateway restarted) gets it at its owner's next GET.
#[tokio::test]
async fn a_pending_inline_attach_is_finished_by_the_next_show() {
    let gw = start_gateway().await;
    let vol = volume(&gw, 0).await;
    // A server made straight through Synnefo, as an earlier gateway left it.
    let res = gw
        .client(0)
        .post(format!("{}/compute/v2.0/servers", gw.sim.url()))
        .json(&serde_json::json!({"server": {
            "name": "left-behind", "flavorRef": 4, "imageRef": DEBIAN_ID,
            "metadata": {"snf-occi-attach": vol},
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let server: serde_json::Value = res.json().await.unwrap();
    let srv = server["server"]["id"].to_string();
    wait_attached(&gw, &srv, &vol).await;
}

/// Deleting a compute keeps the storage linked to it: Synnefo deletes
/// every volume attached to a server with the server, so the gateway
/// detaches the data disks first; the storage is then free to link again.
#[tokio::test]
async fn deleting_a_compute_keeps_its_linked_storage() {
    let gw = start_gateway().await;
    let (srv, vol) = linked_pair(&gw).await;
    let res = delete(&gw, &format!("/compute/{srv}")).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    assert_storage_kept(&gw, &vol).await;
    let other = server(&gw, 0).await;
    link_storage(&gw, &other, &vol).await;
}

/// Volume `vol`'s status as Synnefo (the simulator) shows it to user 0.
async fn synnefo_volume_status(gw: &Gateway, vol: &str) -> String {
    let volume = gw
        .synnefo_json(0, &format!("/volume/v2.0/volumes/{vol}"))
        .await;
    volume["volume"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until Synnefo shows volume `vol` with `status` (within 5 s).
async fn wait_volume_status(gw: &Gateway, vol: &str, status: &str) {
    for _ in 0..100 {
        if synnefo_volume_status(gw, vol).await == status {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("volume {vol} never became {status}");
}

/// User 0 detaches `vol` from `srv` straight through Synnefo (kamaki,
/// the web UI), which accepts it.
async fn detach_through_synnefo(gw: &Gateway, srv: &str, vol: &str) {
    let res = gw
        .client(0)
        .delete(format!(
            "{}/compute/v2.0/servers/{srv}/os-volume_attachments/{vol}",
            gw.sim.url()
        ))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}

/// Asserts that storage `vol` is still there for user 0 (its compute
/// deleted): its rendering.
async fn assert_storage_kept(gw: &Gateway, vol: &str) -> String {
    let (status, shown) = get(gw, 0, &format!("/storage/{vol}"), "text/plain").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the storage outlives the compute: {shown}"
    );
    shown
}

/// A compute deleted while the attach of a storage just linked to it
/// still runs (Synnefo's attach is a Ganeti job: the volume is
/// `ATTACHING` meanwhile, and cannot be detached) is deleted once the
/// attach has ended and the storage is detached again: the storage
/// outlives it, and the delete is not refused.
#[tokio::test]
async fn a_compute_deleted_while_its_storage_attaches_keeps_it() {
    let gw = common::start_gateway_with(|c| c.action_delay = std::time::Duration::from_secs(1), "")
        .await;
    let (srv, vol) = linked_pair(&gw).await;
    assert_eq!(
        synnefo_volume_status(&gw, &vol).await,
        "attaching",
        "the attach still runs when the delete comes"
    );
    let res = delete(&gw, &format!("/compute/{srv}")).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let (status, shown) = get(&gw, 0, &format!("/compute/{srv}"), "text/plain").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{shown}");
    let shown = assert_storage_kept(&gw, &vol).await;
    assert!(!shown.contains(&format!("/compute/{srv}")), "{shown}");
}

/// A compute deleted while a detach of its storage runs (the volume is
/// `DETACHING`) waits for the detach instead of sending its own, which
/// Synnefo would refuse, or deleting the server while the job runs.
#[tokio::test]
async fn a_compute_deleted_while_its_storage_detaches_keeps_it() {
    let gw = common::start_gateway_with(|c| c.action_delay = std::time::Duration::from_secs(1), "")
        .await;
    let (srv, vol) = linked_pair(&gw).await;
    wait_volume_status(&gw, &vol, "in_use").await;
    // Detached through Synnefo itself (kamaki, the web UI): the
    // gateway's own unlink answers once the detach has ended.
    detach_through_synnefo(&gw, &srv, &vol).await;
    assert_eq!(synnefo_volume_status(&gw, &vol).await, "detaching");
    let res = delete(&gw, &format!("/compute/{srv}")).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    assert_storage_kept(&gw, &vol).await;
}

/// A compute deleted while storage linked inline with its create waits
/// for the build: the pending links go with the compute and the storage
/// stays unattached, free to link elsewhere.
#[tokio::test]
async fn a_compute_deleted_before_its_inline_storage_attached_keeps_it() {
    let gw = common::start_gateway_with(
        |c| c.build_delay = std::time::Duration::from_millis(600),
        "",
    )
    .await;
    let vol = volume(&gw, 0).await;
    let srv = created_id(
        &gw,
        0,
        "/compute/",
        compute_body(&storage_link_line(&format!("/storage/{vol}"))),
    )
    .await;
    let res = delete(&gw, &format!("/compute/{srv}")).await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    // Past the build, when the background attach would have run.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_storage_kept(&gw, &vol).await;
    let other = server(&gw, 0).await;
    link_storage(&gw, &other, &vol).await;
}

/// A storage link is `inactive` while Synnefo's attach job runs (the
/// volume `attaching`), on its own and inline in its compute, then
/// `active`; and `inactive` again while a detach runs.
#[tokio::test]
async fn a_storage_link_is_inactive_while_synnefo_attaches_or_detaches_it() {
    let gw = common::start_gateway_with(|c| c.action_delay = std::time::Duration::from_secs(1), "")
        .await;
    let (srv, vol) = linked_pair(&gw).await;
    let link = format!("/storagelink/{srv}_{vol}");
    let (status, shown) = get(&gw, 0, &link, "text/plain").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(
        shown.contains("occi.storagelink.state=\"inactive\""),
        "{shown}"
    );
    assert!(
        shown.contains("occi.storagelink.state.message=\"attaching\""),
        "{shown}"
    );
    let (_, compute) = get(&gw, 0, &format!("/compute/{srv}"), "text/plain").await;
    let inline = compute
        .lines()
        .find(|l| l.starts_with("Link:") && l.contains(&link))
        .unwrap_or_default()
        .to_owned();
    assert!(
        inline.contains("occi.storagelink.state=\"inactive\""),
        "{compute}"
    );
    // Once the job has ended: active, in both.
    let shown = wait_attached(&gw, &srv, &vol).await;
    assert!(!shown.contains("attaching"), "{shown}");
    let (_, shown) = get(&gw, 0, &link, "application/occi+json").await;
    assert!(
        shown.contains("\"occi.storagelink.state\":\"active\""),
        "{shown}"
    );

    // Detached through Synnefo: inactive, detaching, until the job ends.
    detach_through_synnefo(&gw, &srv, &vol).await;
    let (_, shown) = get(&gw, 0, &link, "text/plain").await;
    assert!(
        shown.contains("occi.storagelink.state.message=\"detaching\""),
        "{shown}"
    );
}

/// Past `busy_wait`, a compute delete that would overtake a job Synnefo
/// runs on its server is a 409 with `Retry-After` naming the job; the
/// compute and its storage are untouched, and a later delete goes
/// through.
#[tokio::test]
async fn a_compute_delete_past_busy_wait_is_a_409_naming_the_job() {
    let gw = common::start_gateway_with(
        |c| c.action_delay = std::time::Duration::from_secs(2),
        "busy_wait = \"0s\"",
    )
    .await;
    let (srv, vol) = linked_pair(&gw).await;
    gw.sim.reset_counters();
    let res = delete(&gw, &format!("/compute/{srv}")).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.headers().contains_key("retry-after"));
    let body = res.text().await.unwrap();
    assert!(body.contains("ATTACHING_VOLUME"), "{body}");
    // One read of the server saw the job; nothing was asked of Synnefo
    // after it (not the same read again, not a delete).
    assert_eq!(gw.backend_calls(), 1, "{:?}", gw.calls());
    let (status, _) = get(&gw, 0, &format!("/compute/{srv}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK, "the compute is still there");
    assert_eq!(synnefo_volume_status(&gw, &vol).await, "attaching");

    wait_volume_status(&gw, &vol, "in_use").await;
    // Attached now; the delete detaches it (a job too: past `busy_wait`
    // again, a 409), then a last delete takes the compute alone.
    let mut deleted = false;
    for _ in 0..100 {
        let res = delete(&gw, &format!("/compute/{srv}")).await;
        if res.status().is_success() {
            deleted = true;
            break;
        }
        assert_eq!(
            res.status(),
            StatusCode::CONFLICT,
            "{}",
            res.text().await.unwrap()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(deleted, "the compute was deleted once the jobs ended");
    assert_storage_kept(&gw, &vol).await;
}
