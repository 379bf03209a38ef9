//! Links: storage links (volume attachments), network interfaces (ports
//! on a private network, on the public one through a floating IP, through
//! an IP reservation), and links made inline with a compute.

use reqwest::StatusCode;

use crate::support::{Cloud, INFRA, JSON};

fn link_body(kind: &str, source: &str, target: &str) -> String {
    format!(
        "Category: {kind}; scheme=\"{INFRA}\"; class=\"kind\"\n\
         X-OCCI-Attribute: occi.core.source=\"{source}\"\n\
         X-OCCI-Attribute: occi.core.target=\"{target}\"\n"
    )
}

/// The links of `kind` of compute `id` in its JSON rendering.
async fn links_of(cloud: &Cloud, n: usize, id: &str, kind: &str) -> Vec<serde_json::Value> {
    let shown = cloud.show_json(n, &format!("/compute/{id}")).await;
    shown["links"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| l["kind"] == format!("{INFRA}{kind}"))
        .collect()
}

#[tokio::test]
async fn a_storage_is_linked_shown_and_unlinked() {
    let cloud = Cloud::start().await;
    let (srv, vol) = tokio::join!(cloud.active_compute(0, "with-disk"), async {
        let vol = cloud.create_storage(0, 1, "").await;
        cloud
            .wait_state(
                0,
                &format!("/storage/{vol}"),
                "occi.storage.state",
                "online",
            )
            .await;
        vol
    });
    let answer = cloud
        .post(
            0,
            "/storagelink/",
            "text/plain",
            link_body(
                "storagelink",
                &cloud.at(&format!("/compute/{srv}")),
                &format!("/storage/{vol}"),
            ),
        )
        .await;
    let link = cloud.created_id(&answer, "/storagelink/");
    assert_eq!(link, format!("{srv}_{vol}"));
    let path = format!("/storagelink/{link}");
    let shown = cloud
        .wait_state(0, &path, "occi.storagelink.state", "active")
        .await;
    assert!(
        shown["source"]["location"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!("/compute/{srv}")),
        "{shown}"
    );
    assert!(
        shown["target"]["location"]
            .as_str()
            .unwrap_or("")
            .ends_with(&format!("/storage/{vol}")),
        "{shown}"
    );
    for accept in ["text/plain", "text/occi"] {
        let answer = cloud.get(0, &path, accept).await;
        answer.expect(StatusCode::OK);
        let everything = format!("{:?}{}", answer.headers, answer.body);
        assert!(
            everything.contains(&format!("/storage/{vol}")),
            "{accept}: {everything}"
        );
    }
    // The compute shows it, and one link is rendered one way.
    let inline = links_of(&cloud, 0, &srv, "storagelink").await;
    let same = inline
        .iter()
        .find(|l| l["id"] == link.as_str())
        .unwrap_or_else(|| panic!("{inline:?}"));
    assert_eq!(
        same["attributes"], shown["attributes"],
        "inline {same} vs own {shown}"
    );
    let listed = cloud.get(0, "/storagelink/", "text/uri-list").await;
    assert!(listed.body.contains(&path), "{}", listed.body);

    // Bob can neither see nor unlink it, nor link alice's storage.
    cloud
        .get(1, &path, "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);
    cloud.delete(1, &path).await.expect(StatusCode::NOT_FOUND);

    // Linked once: a second link of the same storage is a 409.
    let other = cloud.create_compute(0, "other", "").await;
    cloud
        .wait_state(
            0,
            &format!("/compute/{other}"),
            "occi.compute.state",
            "active",
        )
        .await;
    let answer = cloud
        .post(
            0,
            "/storagelink/",
            "text/plain",
            link_body(
                "storagelink",
                &format!("/compute/{other}"),
                &format!("/storage/{vol}"),
            ),
        )
        .await;
    answer.expect(StatusCode::CONFLICT);
    assert!(
        answer.body.contains(&format!("/storage/{vol}")),
        "{}",
        answer.body
    );

    let answer = cloud.delete(0, &path).await;
    assert!(
        answer.status.is_success(),
        "{} {}",
        answer.status,
        answer.body
    );
    cloud.wait_gone(0, &path).await;
    cloud
        .wait_state(
            0,
            &format!("/storage/{vol}"),
            "occi.storage.state",
            "online",
        )
        .await;

    // A storage that was attached holds data: Cyclades deletes it through
    // the site's helper server, and it is gone for its owner at once, from
    // the collection too, while that runs.
    let storage = format!("/storage/{vol}");
    let answer = cloud.delete(0, &storage).await;
    assert!(
        answer.status.is_success(),
        "DELETE {storage}: {} {}",
        answer.status,
        answer.body
    );
    cloud
        .get(0, &storage, "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);
    let listed = cloud.get(0, "/storage/", "text/uri-list").await;
    assert!(
        !listed.body.lines().any(|l| l.ends_with(&storage)),
        "{}",
        listed.body
    );
    cloud.finish().await;
}

#[tokio::test]
async fn a_compute_is_connected_to_a_private_network_and_disconnected() {
    let cloud = Cloud::start().await;
    let (srv, net) = tokio::join!(
        cloud.active_compute(0, "connected"),
        cloud.create_network(0, "lan", "10.44.0.0/24")
    );
    let answer = cloud
        .post(
            0,
            "/networkinterface/",
            "text/plain",
            link_body(
                "networkinterface",
                &format!("/compute/{srv}"),
                &format!("/network/{net}"),
            ),
        )
        .await;
    let link = cloud.created_id(&answer, "/networkinterface/");
    assert!(link.starts_with(&format!("{srv}_")), "{link}");
    let path = format!("/networkinterface/{link}");
    let shown = cloud
        .wait_state(0, &path, "occi.networkinterface.state", "active")
        .await;
    assert!(
        shown["attributes"]["occi.networkinterface.address"]
            .as_str()
            .is_some_and(|a| a.starts_with("10.44.0.")),
        "{shown}"
    );
    // The alias path, the listing and the compute show it.
    cloud
        .get(0, &format!("/networklink/{link}"), "text/plain")
        .await
        .expect(StatusCode::OK);
    let listed = cloud.get(0, "/networkinterface/", "text/uri-list").await;
    assert!(listed.body.contains(&path), "{}", listed.body);
    let inline = links_of(&cloud, 0, &srv, "networkinterface").await;
    assert!(
        inline.iter().any(|l| l["id"] == link.as_str()),
        "{inline:?}"
    );
    cloud
        .get(1, &path, "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);

    let answer = cloud.delete(0, &path).await;
    assert!(
        answer.status.is_success(),
        "{} {}",
        answer.status,
        answer.body
    );
    cloud.wait_gone(0, &path).await;
    cloud.finish().await;
}

/// Through an IP reservation, the compute takes exactly that address; the
/// reservation shows it is used, and outlives the interface.
#[tokio::test]
async fn a_compute_is_connected_through_an_ip_reservation() {
    let cloud = Cloud::start().await;
    let (srv, ipr) = tokio::join!(cloud.active_compute(0, "public"), cloud.reserve_ip(0));
    let reservation = format!("/ipreservation/{ipr}");
    let address =
        cloud.show_json(0, &reservation).await["attributes"]["occi.ipreservation.address"]
            .as_str()
            .expect("address")
            .to_owned();
    let answer = cloud
        .post(
            0,
            "/networkinterface/",
            "text/plain",
            link_body(
                "networkinterface",
                &format!("/compute/{srv}"),
                &cloud.at(&reservation),
            ),
        )
        .await;
    let link = cloud.created_id(&answer, "/networkinterface/");
    let path = format!("/networkinterface/{link}");
    let shown = cloud
        .wait_state(0, &path, "occi.networkinterface.state", "active")
        .await;
    assert_eq!(
        shown["attributes"]["occi.networkinterface.address"],
        address.as_str(),
        "{shown}"
    );
    cloud
        .wait_state(0, &reservation, "occi.ipreservation.used", true)
        .await;

    let answer = cloud.delete(0, &path).await;
    assert!(
        answer.status.is_success(),
        "{} {}",
        answer.status,
        answer.body
    );
    cloud.wait_gone(0, &path).await;
    // The address stays reserved to the user.
    cloud
        .get(0, &reservation, "text/plain")
        .await
        .expect(StatusCode::OK);
    cloud.finish().await;
}

/// Storage, a private network and an IP reservation linked inline with a
/// compute's create: all in the one create, shown once it is built.
#[tokio::test]
async fn links_made_inline_with_a_compute() {
    let cloud = Cloud::start().await;
    let (vol, net, ipr) = tokio::join!(
        cloud.create_storage(0, 1, ""),
        cloud.create_network(0, "inline-lan", "10.45.0.0/24"),
        cloud.reserve_ip(0)
    );
    cloud
        .wait_state(
            0,
            &format!("/storage/{vol}"),
            "occi.storage.state",
            "online",
        )
        .await;
    let address = cloud.show_json(0, &format!("/ipreservation/{ipr}")).await["attributes"]
        ["occi.ipreservation.address"]
        .as_str()
        .expect("address")
        .to_owned();
    let links = format!(
        "Link: <{}>; rel=\"{INFRA}storage\"; category=\"{INFRA}storagelink\"\n\
         Link: </network/{net}>; rel=\"{INFRA}network\"; category=\"{INFRA}networkinterface\"\n\
         Link: </ipreservation/{ipr}>; rel=\"{INFRA}ipreservation\"; category=\"{INFRA}networkinterface\"\n",
        cloud.at(&format!("/storage/{vol}"))
    );
    let srv = cloud.create_compute(0, "inline", &links).await;
    cloud
        .wait_state(
            0,
            &format!("/compute/{srv}"),
            "occi.compute.state",
            "active",
        )
        .await;
    let storage = links_of(&cloud, 0, &srv, "storagelink").await;
    assert!(
        storage.iter().any(|l| l["id"] == format!("{srv}_{vol}")),
        "{storage:?}"
    );
    let interfaces = links_of(&cloud, 0, &srv, "networkinterface").await;
    let addresses: Vec<&str> = interfaces
        .iter()
        .filter_map(|l| l["attributes"]["occi.networkinterface.address"].as_str())
        .collect();
    assert!(addresses.contains(&address.as_str()), "{interfaces:?}");
    assert!(
        addresses.iter().any(|a| a.starts_with("10.45.0.")),
        "{interfaces:?}"
    );

    // A storage linked elsewhere makes a create fail, and nothing is made.
    let body = cloud
        .compute_body(
            "inline-refused",
            &format!(
                "Link: </storage/{vol}>; rel=\"{INFRA}storage\"; category=\"{INFRA}storagelink\"\n"
            ),
        )
        .await;
    let answer = cloud.post(0, "/compute/", "text/plain", body).await;
    answer.expect(StatusCode::CONFLICT);
    assert!(
        answer.body.contains(&format!("/storage/{vol}")),
        "{}",
        answer.body
    );
    let titles = cloud.titles(0, "/compute/").await;
    assert!(
        titles.iter().any(|t| t == "inline"),
        "the listing names the compute made above: {titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t == "inline-refused"),
        "the refused create made a compute: {titles:?}"
    );
    cloud.finish().await;
}

#[tokio::test]
async fn links_to_wrong_or_foreign_things_are_refused() {
    let cloud = Cloud::start().await;
    let srv = cloud.active_compute(0, "alice-vm").await;
    // A storagelink whose source is not a compute: 400 naming it.
    let answer = cloud
        .post(
            0,
            "/storagelink/",
            "text/plain",
            link_body("storagelink", "/storage/1", "/storage/1"),
        )
        .await;
    answer.expect(StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("occi.core.source"), "{}", answer.body);
    // A networkinterface to a storage: 400 naming the target.
    let answer = cloud
        .post(
            0,
            "/networkinterface/",
            "text/plain",
            link_body("networkinterface", &format!("/compute/{srv}"), "/storage/1"),
        )
        .await;
    answer.expect(StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("occi.core.target"), "{}", answer.body);
    // Bob cannot link his storage to alice's compute.
    let bobs = cloud.create_storage(1, 1, "").await;
    let answer = cloud
        .post(
            1,
            "/storagelink/",
            "text/plain",
            link_body(
                "storagelink",
                &format!("/compute/{srv}"),
                &format!("/storage/{bobs}"),
            ),
        )
        .await;
    answer.expect(StatusCode::NOT_FOUND);
    for path in [
        "/storagelink/x_1",
        "/storagelink/999999_999999",
        "/networkinterface/1",
        "/networklink/999999_999999",
    ] {
        cloud
            .get(0, path, "text/plain")
            .await
            .expect(StatusCode::NOT_FOUND);
    }
    let listed = cloud.get(1, "/storagelink/", JSON).await;
    assert!(
        !listed.body.contains(&format!("/compute/{srv}")),
        "{}",
        listed.body
    );
    cloud.finish().await;
}
