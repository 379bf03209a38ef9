//! The query interface, user-defined mixins, mixin and template
//! collections, and actions on collections.

use reqwest::StatusCode;

use crate::support::{COMPUTE_ACTION, Cloud, INFRA, JSON};

const TAGS: &str = "http://example.org/tags#";

#[tokio::test]
async fn the_query_interface_names_kinds_actions_and_the_clouds_templates() {
    let cloud = Cloud::start().await;
    let (flavors, images) = cloud.templates().await;
    assert!(!flavors.is_empty() && !images.is_empty());
    for flavor in &flavors {
        // Every resource template has a size a client can choose by.
        for attribute in ["occi.compute.cores", "occi.compute.memory"] {
            assert!(
                flavor.attributes[attribute]["default"]
                    .as_f64()
                    .is_some_and(|v| v > 0.0),
                "{} {attribute}: {}",
                flavor.term,
                flavor.attributes
            );
        }
    }
    let text = cloud.get(0, "/-/", "text/plain").await;
    text.expect(StatusCode::OK);
    for needle in [
        format!("Category: compute; scheme=\"{INFRA}\"; class=\"kind\""),
        format!("Category: storagelink; scheme=\"{INFRA}\"; class=\"kind\""),
        format!("Category: stop; scheme=\"{COMPUTE_ACTION}\"; class=\"action\""),
        flavors[0].category(),
        images[0].category(),
    ] {
        assert!(text.body.contains(&needle), "{needle}: {}", text.body);
    }
    let headers = cloud.get(0, "/-/", "text/occi").await;
    headers.expect(StatusCode::OK);
    let categories: String = headers
        .headers
        .get_all("category")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .collect();
    assert!(categories.matches("class=").count() > 10, "{categories}");
    assert!(categories.contains(&flavors[0].term), "{categories}");
    // Filtered by a category: that kind (and nothing of the templates).
    let filtered = cloud
        .send_filter(
            0,
            &format!("Category: storage; scheme=\"{INFRA}\"; class=\"kind\""),
        )
        .await;
    filtered.expect(StatusCode::OK);
    assert!(
        filtered.body.contains("Category: storage;"),
        "{}",
        filtered.body
    );
    assert!(
        !filtered.body.contains(&flavors[0].category()),
        "{}",
        filtered.body
    );
    // The OCCI 1.2 well-known path answers the same.
    cloud
        .get(0, "/.well-known/org/ogf/occi/-/", JSON)
        .await
        .expect(StatusCode::OK);
    cloud.finish().await;
}

/// A user mixin is defined, tags a compute and a storage (through its
/// collection and in an update), lists what it tags, takes an action on
/// its collection, and is removed; nobody else sees it.
#[tokio::test]
async fn a_user_mixin_tags_entities_and_its_collection_lists_and_acts_on_them() {
    let cloud = Cloud::start().await;
    cloud.define_mixin(0, "prod", TAGS).await;
    let (vm, disk) = tokio::join!(
        cloud.active_compute(0, "tagged-vm"),
        cloud.create_storage(0, 1, "")
    );
    let vm_at = cloud.at(&format!("/compute/{vm}"));
    let disk_at = cloud.at(&format!("/storage/{disk}"));

    // Alice sees it; Bob neither sees it nor uses it.
    let query = cloud.get(0, "/-/", JSON).await.json();
    assert!(query["mixins"].to_string().contains(TAGS), "{query}");
    let bobs = cloud.get(1, "/-/", JSON).await.json();
    assert!(!bobs["mixins"].to_string().contains(TAGS), "{bobs}");
    cloud
        .get(1, "/prod/", "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);

    // Tag through the collection (the compute) and by an update (the
    // storage).
    cloud
        .post(
            0,
            "/prod/",
            "text/plain",
            format!("X-OCCI-Location: {vm_at}\n"),
        )
        .await
        .expect(StatusCode::OK);
    // An action on the mixin collection acts on its computes (while it
    // holds nothing else: a collection action must apply to all).
    cloud
        .post(
            0,
            "/prod/?action=stop",
            "text/plain",
            format!("Category: stop; scheme=\"{COMPUTE_ACTION}\"; class=\"action\"\n"),
        )
        .await
        .expect(StatusCode::OK);
    cloud
        .wait_state(
            0,
            &format!("/compute/{vm}"),
            "occi.compute.state",
            "inactive",
        )
        .await;

    cloud
        .post(
            0,
            &format!("/storage/{disk}"),
            "text/plain",
            format!("Category: prod; scheme=\"{TAGS}\"; class=\"mixin\"\n"),
        )
        .await
        .expect(StatusCode::OK);
    let listed = cloud.get(0, "/prod/", "text/uri-list").await;
    listed.expect(StatusCode::OK);
    assert!(
        listed.body.contains(&vm_at) && listed.body.contains(&disk_at),
        "{}",
        listed.body
    );
    let shown = cloud.show_json(0, &format!("/compute/{vm}")).await;
    assert!(
        shown["mixins"].to_string().contains(&format!("{TAGS}prod")),
        "{shown}"
    );
    // Now it holds a storage too: stop does not apply to all (400).
    let answer = cloud
        .post(
            0,
            "/prod/?action=stop",
            "text/plain",
            format!("Category: stop; scheme=\"{COMPUTE_ACTION}\"; class=\"action\"\n"),
        )
        .await;
    answer.expect(StatusCode::BAD_REQUEST);
    assert!(answer.body.contains("storage"), "{}", answer.body);
    // Bob cannot tag alice's compute with a mixin of his own.
    cloud.define_mixin(1, "prod", TAGS).await;
    cloud
        .post(
            1,
            "/prod/",
            "text/plain",
            format!("X-OCCI-Location: {vm_at}\n"),
        )
        .await
        .expect(StatusCode::NOT_FOUND);

    // PUT makes the collection exactly the storage; DELETE untags it.
    cloud
        .put(
            0,
            "/prod/",
            "text/plain",
            format!("X-OCCI-Location: {disk_at}\n"),
        )
        .await
        .expect(StatusCode::OK);
    let listed = cloud.get(0, "/prod/", "text/uri-list").await;
    assert!(
        !listed.body.contains(&vm_at) && listed.body.contains(&disk_at),
        "{}",
        listed.body
    );
    let answer = cloud
        .send(
            cloud
                .client(0)
                .delete(cloud.at("/prod/"))
                .header("content-type", "text/plain")
                .body(format!("X-OCCI-Location: {disk_at}\n")),
        )
        .await;
    answer.expect(StatusCode::OK);
    let listed = cloud.get(0, "/prod/", "text/uri-list").await;
    assert!(!listed.body.contains(&disk_at), "{}", listed.body);
    cloud.finish().await;
}

/// A template's collection lists the computes made from it.
#[tokio::test]
async fn a_template_collection_lists_its_computes() {
    let cloud = Cloud::start().await;
    let (flavor, image) = cloud.small_templates().await;
    let vm = cloud.create_compute(0, "from-templates", "").await;
    let vm_at = cloud.at(&format!("/compute/{vm}"));
    let query = cloud.get(0, "/-/", JSON).await.json();
    let location = |term: &str, scheme: &str| {
        query["mixins"]
            .as_array()
            .expect("mixins")
            .iter()
            .find(|m| m["term"] == term && m["scheme"] == scheme)
            .and_then(|m| m["location"].as_str())
            .unwrap_or_else(|| panic!("{scheme}{term} has a location"))
            .to_owned()
    };
    for location in [
        location(&flavor.term, &flavor.scheme),
        location(&image.term, &image.scheme),
    ] {
        let listed = cloud.get(0, &location, "text/uri-list").await;
        listed.expect(StatusCode::OK);
        assert!(listed.body.contains(&vm_at), "{location}: {}", listed.body);
        // Bob's view of the same template has none of alice's computes.
        let bobs = cloud.get(1, &location, "text/uri-list").await;
        assert!(!bobs.body.contains(&vm_at), "{location}: {}", bobs.body);
    }
    cloud.finish().await;
}
