//! Computes: create in every rendering, show, list, actions, update,
//! delete (while building, twice), concurrent creates on the public
//! network.

use reqwest::StatusCode;

use crate::support::{COMPUTE_ACTION, Cloud, INFRA, JSON};

async fn action(cloud: &Cloud, n: usize, id: &str, term: &str) -> crate::support::Answer {
    cloud
        .post(
            n,
            &format!("/compute/{id}?action={term}"),
            "text/plain",
            format!("Category: {term}; scheme=\"{COMPUTE_ACTION}\"; class=\"action\"\n"),
        )
        .await
}

#[tokio::test]
async fn a_compute_is_created_in_each_rendering_and_shown_in_each() {
    let cloud = Cloud::start().await;
    let (flavor, image) = cloud.small_templates().await;

    // text/plain: the body names the location too.
    let plain = cloud.create_compute(0, "plain-vm", "").await;

    // text/occi: everything in headers.
    let answer = cloud
        .post_occi(
            0,
            "/compute/",
            &[
                format!("Category: compute; scheme=\"{INFRA}\"; class=\"kind\""),
                flavor.category(),
                image.category(),
                "X-OCCI-Attribute: occi.core.title=\"occi-vm\"".to_owned(),
            ],
        )
        .await;
    let occi = cloud.created_id(&answer, "/compute/");
    cloud.made_compute(0, &occi);
    assert!(
        answer
            .header("x-occi-location")
            .is_some_and(|l| l.ends_with(&format!("/compute/{occi}"))),
        "{:?}",
        answer.headers
    );

    // JSON.
    let body = serde_json::json!({
        "kind": format!("{INFRA}compute"),
        "mixins": [format!("{}{}", flavor.scheme, flavor.term), format!("{}{}", image.scheme, image.term)],
        "attributes": {"occi.core.title": "json-vm"},
    });
    let answer = cloud.post(0, "/compute/", JSON, body.to_string()).await;
    let json = cloud.created_id(&answer, "/compute/");
    cloud.made_compute(0, &json);

    for (id, title) in [(&plain, "plain-vm"), (&occi, "occi-vm"), (&json, "json-vm")] {
        let path = format!("/compute/{id}");
        let shown = cloud
            .wait_state(0, &path, "occi.compute.state", "active")
            .await;
        assert_eq!(shown["kind"], format!("{INFRA}compute"), "{shown}");
        assert_eq!(shown["title"], title, "{shown}");
        assert_eq!(shown["id"], id.as_str(), "{shown}");
        let mixins = shown["mixins"].to_string();
        assert!(
            mixins.contains(&flavor.term) && mixins.contains(&image.term),
            "{shown}"
        );
        assert_eq!(
            shown["attributes"]["occi.compute.cores"],
            flavor.attributes["occi.compute.cores"]["default"],
            "{shown}"
        );
        let text = cloud.get(0, &path, "text/plain").await;
        text.expect(StatusCode::OK);
        assert!(
            text.body.contains(&format!("occi.core.title=\"{title}\"")),
            "{}",
            text.body
        );
        assert!(
            text.body.contains("occi.compute.state=\"active\""),
            "{}",
            text.body
        );
        let headers = cloud.get(0, &path, "text/occi").await;
        headers.expect(StatusCode::OK);
        assert!(
            headers.headers.get_all("x-occi-attribute").iter().any(|v| v
                .to_str()
                .unwrap()
                .contains(&format!("occi.core.title=\"{title}\""))),
            "{:?}",
            headers.headers
        );
    }

    // Each listing names all three.
    for accept in ["text/plain", "text/occi", "text/uri-list", JSON] {
        let listed = cloud.get(0, "/compute/", accept).await;
        listed.expect(StatusCode::OK);
        let everything = format!("{:?}{}", listed.headers, listed.body);
        for id in [&plain, &occi, &json] {
            assert!(
                everything.contains(&format!("/compute/{id}")),
                "{accept}: {everything}"
            );
        }
    }
    cloud.finish().await;
}

#[tokio::test]
async fn actions_follow_the_state_and_inapplicable_ones_are_409() {
    let cloud = Cloud::start().await;
    let id = cloud.active_compute(0, "acting").await;
    let path = format!("/compute/{id}");

    // Only applicable actions are offered, and start on an active compute
    // is a conflict naming the state.
    let shown = cloud.show_json(0, &path).await;
    let actions = shown["actions"].to_string();
    assert!(
        actions.contains("#stop") && !actions.contains("#start\""),
        "{shown}"
    );
    let answer = action(&cloud, 0, &id, "start").await;
    answer.expect(StatusCode::CONFLICT);
    assert!(answer.body.contains("active"), "{}", answer.body);

    action(&cloud, 0, &id, "stop").await.expect(StatusCode::OK);
    cloud
        .wait_state(0, &path, "occi.compute.state", "inactive")
        .await;
    action(&cloud, 0, &id, "start").await.expect(StatusCode::OK);
    cloud
        .wait_state(0, &path, "occi.compute.state", "active")
        .await;
    action(&cloud, 0, &id, "restart")
        .await
        .expect(StatusCode::OK);
    cloud
        .wait_state(0, &path, "occi.compute.state", "active")
        .await;
    // Cyclades cannot suspend.
    action(&cloud, 0, &id, "suspend")
        .await
        .expect(StatusCode::NOT_IMPLEMENTED);
    // Another user cannot act on it.
    action(&cloud, 1, &id, "stop")
        .await
        .expect(StatusCode::NOT_FOUND);
    cloud.finish().await;
}

#[tokio::test]
async fn a_compute_is_renamed_by_partial_and_full_update() {
    let cloud = Cloud::start().await;
    let id = cloud.active_compute(0, "before").await;
    let path = format!("/compute/{id}");
    let answer = cloud
        .post(
            0,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"after\"\n".to_owned(),
        )
        .await;
    answer.expect(StatusCode::OK);
    assert!(
        answer.body.contains("occi.core.title=\"after\""),
        "{}",
        answer.body
    );
    assert_eq!(cloud.show_json(0, &path).await["title"], "after");
    // Bob cannot rename it.
    cloud
        .post(
            1,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"bob's\"\n".to_owned(),
        )
        .await
        .expect(StatusCode::NOT_FOUND);
    cloud.finish().await;
}

/// Synnefo refuses to destroy a server while it is being built; the
/// gateway waits for the build (within `busy_wait`), so a client
/// can delete what it has just made. A second delete is 404.
#[tokio::test]
async fn a_compute_deleted_right_after_its_create_goes_and_a_second_delete_is_404() {
    let cloud = Cloud::start_with("busy_wait = \"60s\"").await;
    let id = cloud.create_compute(0, "short-lived", "").await;
    let path = format!("/compute/{id}");
    let answer = cloud.delete(0, &path).await;
    assert!(
        answer.status.is_success(),
        "{} {}",
        answer.status,
        answer.body
    );
    cloud.wait_gone(0, &path).await;
    let again = cloud.delete(0, &path).await;
    again.expect(StatusCode::NOT_FOUND);
    assert!(
        again.body.contains(&format!("no compute {id}")),
        "{}",
        again.body
    );
    cloud.finish().await;
}

/// Concurrent creates of one user on the public network: each reserves
/// its own floating IP and names it, so all succeed with distinct
/// addresses (Cyclades would otherwise hand each create any free address
/// of the user, and concurrent creates took each other's: on the real
/// Synnefo some creates then needed a second reservation, and twenty
/// creates, a whole floating IP quota, ended in 413 over quota).
///
/// Bob's: this takes all twenty floating IPs of his quota, so no other
/// scenario reserves IPs as bob.
#[tokio::test]
async fn concurrent_creates_on_the_public_network_each_get_their_own_address() {
    let cloud = Cloud::start().await;
    const BOB: usize = 1;
    let public = cloud.public_network(BOB).await;
    let link = format!(
        "Link: </network/{public}>; rel=\"{INFRA}network\"; category=\"{INFRA}networkinterface\"\n"
    );
    const N: usize = 20;
    let ids = futures_util::future::join_all((0..N).map(|i| {
        let (cloud, link) = (&cloud, &link);
        async move {
            cloud
                .create_compute(BOB, &format!("public-{i}"), link)
                .await
        }
    }))
    .await;
    let mut addresses = std::collections::BTreeSet::new();
    for id in &ids {
        let shown = cloud
            .wait_state(
                BOB,
                &format!("/compute/{id}"),
                "occi.compute.state",
                "active",
            )
            .await;
        let link = shown["links"]
            .as_array()
            .expect("links")
            .iter()
            .find(|l| l["kind"] == format!("{INFRA}networkinterface"))
            .unwrap_or_else(|| panic!("compute {id} has an interface: {shown}"));
        let address = link["attributes"]["occi.networkinterface.address"]
            .as_str()
            .unwrap_or_else(|| panic!("an address: {link}"))
            .to_owned();
        assert!(addresses.insert(address.clone()), "{address} given twice");
    }
    assert_eq!(addresses.len(), N);
    // The addresses were reserved for the creates: they are the caller's
    // IP reservations, released at the end.
    let reservations = cloud.get(BOB, "/ipreservation/", JSON).await.json();
    let mut found = 0;
    for r in reservations["resources"].as_array().expect("resources") {
        let address = r["attributes"]["occi.ipreservation.address"]
            .as_str()
            .unwrap_or("");
        if addresses.contains(address) {
            cloud.made_ip(BOB, r["id"].as_str().expect("id"));
            assert_eq!(r["attributes"]["occi.ipreservation.used"], true, "{r}");
            found += 1;
        }
    }
    assert_eq!(found, N, "{reservations}");
    cloud.finish().await;
}

/// `save` snapshots the root disk and answers the new OS template; where
/// the cloud cannot store images (the real-Synnefo harness has no Pithos:
/// its image service is a fixed list that refuses registrations), the
/// refusal is passed on as a 4xx naming the snapshot, never a 5xx, and
/// the compute is untouched.
#[tokio::test]
async fn save_answers_the_new_os_template_or_the_clouds_refusal() {
    let cloud = Cloud::start().await;
    let id = cloud.active_compute(0, "to-save").await;
    let answer = cloud
        .post(
            0,
            &format!("/compute/{id}?action=save"),
            "text/plain",
            format!(
                "Category: save; scheme=\"{COMPUTE_ACTION}\"; class=\"action\"\n\
                 X-OCCI-Attribute: name=\"golden\"\n"
            ),
        )
        .await;
    if answer.status == StatusCode::OK {
        assert!(
            answer.body.contains("template/os#") && answer.body.contains("title=\"golden\""),
            "{}",
            answer.body
        );
    } else {
        assert!(
            answer.status.is_client_error(),
            "{} {}",
            answer.status,
            answer.body
        );
        assert!(answer.body.contains("snapshot"), "{}", answer.body);
    }
    let shown = cloud.show_json(0, &format!("/compute/{id}")).await;
    assert_eq!(
        shown["attributes"]["occi.compute.state"], "active",
        "{shown}"
    );
    cloud.finish().await;
}
