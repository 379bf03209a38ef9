//! Templates as the cloud names them (Cyclades' generated flavor names,
//! Plankton's image names) and its volume types as storage templates
//! that fit the computes a storage links to.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{Cloud, INFRA, JSON};

const STORAGE_TPL: &str = "http://schemas.synnefo.org/template/storage#";
const SYNNEFO_INFRA: &str = "http://schemas.synnefo.org/occi/infrastructure#";

/// A term of the OCCI text grammar.
fn is_term(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The storage templates of `/-/`: (term, title).
async fn storage_templates(cloud: &Cloud) -> Vec<(String, String)> {
    let query = cloud.get(0, "/-/", JSON).await;
    query.expect(StatusCode::OK);
    query.json()["mixins"]
        .as_array()
        .expect("mixins")
        .iter()
        .filter(|m| {
            m["depends"].as_array().is_some_and(|d| {
                d.iter()
                    .any(|d| d.as_str() == Some(&format!("{SYNNEFO_INFRA}storage_tpl")))
            })
        })
        .map(|m| {
            (
                m["term"].as_str().unwrap_or("").to_owned(),
                m["title"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The storage template a storage carries (its JSON `mixins`).
fn storage_template_of(shown: &Value) -> String {
    shown["mixins"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|m| m.strip_prefix(STORAGE_TPL))
        .unwrap_or_else(|| panic!("a storage template in {shown}"))
        .to_owned()
}

#[tokio::test]
async fn templates_are_named_by_the_cloud_s_own_names() {
    let cloud = Cloud::start().await;
    let (flavors, images) = cloud.templates().await;
    assert!(!flavors.is_empty() && !images.is_empty());
    // Cyclades' flavor names (`C2R2048D20ext_archipelago`) are terms: the
    // term is the name.
    for f in &flavors {
        assert_eq!(f.term, f.title, "{f:?}");
        assert!(is_term(&f.term), "{f:?}");
    }
    // Image names become terms by one rule (`Debian Base` -> `Debian_Base`).
    for i in &images {
        assert!(is_term(&i.term), "{i:?}");
        let rule: String = i
            .title
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        assert!(i.term == rule || i.term.contains('-'), "{i:?}: {rule}");
    }
    // A compute made from terms shows them, and its template collections
    // list it.
    let (flavor, image) = cloud.small_templates().await;
    let id = cloud.create_compute(0, "by-terms", "").await;
    let shown = cloud.show_json(0, &format!("/compute/{id}")).await;
    let mixins = shown["mixins"].to_string();
    assert!(
        mixins.contains(&format!("{}{}", flavor.scheme, flavor.term)),
        "{shown}"
    );
    assert!(
        mixins.contains(&format!("{}{}", image.scheme, image.term)),
        "{shown}"
    );
    for path in [
        format!("/os_tpl/{}/", image.term),
        format!("/resource_tpl/{}/", flavor.term),
    ] {
        let listed = cloud.get(0, &path, "text/uri-list").await;
        listed.expect(StatusCode::OK);
        assert!(
            listed.body.contains(&format!("/compute/{id}")),
            "{path}: {}",
            listed.body
        );
    }
    cloud.finish().await;
}

#[tokio::test]
async fn new_storage_fits_the_computes_it_links_to() {
    let cloud = Cloud::start().await;
    let templates = storage_templates(&cloud).await;
    assert!(
        templates
            .iter()
            .any(|(_, title)| title.contains("links to computes")),
        "a detachable volume type: {templates:?}"
    );
    // New storage gets a detachable type, and links to a compute whose
    // disks are of it (the smallest template's, on both clouds).
    let (vm, disk) = tokio::join!(cloud.active_compute(0, "fits"), async {
        let disk = cloud.create_storage(0, 1, "").await;
        cloud
            .wait_state(
                0,
                &format!("/storage/{disk}"),
                "occi.storage.state",
                "online",
            )
            .await
    });
    let term = storage_template_of(&disk);
    let disk = disk["id"].as_str().unwrap().to_owned();
    let (_, title) = templates
        .iter()
        .find(|(t, _)| *t == term)
        .expect("listed in /-/");
    assert!(title.contains("links to computes"), "{title}");
    let link = |compute: &str, storage: &str| {
        format!(
            "Category: storagelink; scheme=\"{INFRA}\"; class=\"kind\"\n\
             X-OCCI-Attribute: occi.core.source=\"/compute/{compute}\"\n\
             X-OCCI-Attribute: occi.core.target=\"/storage/{storage}\"\n"
        )
    };
    let answer = cloud
        .post(0, "/storagelink/", "text/plain", link(&vm, &disk))
        .await;
    answer.expect(StatusCode::CREATED);
    cloud
        .wait_state(
            0,
            &format!("/storagelink/{vm}_{disk}"),
            "occi.storagelink.state",
            "active",
        )
        .await;
    let shown = cloud
        .show_json(0, &format!("/storagelink/{vm}_{disk}"))
        .await;
    let device = shown["attributes"]["occi.storagelink.deviceid"]
        .as_str()
        .unwrap_or("");
    assert!(
        device.starts_with("/dev/vd") && device != "/dev/vda",
        "{shown}"
    );

    // A type that cannot exist on its own is refused before anything is
    // made, naming the ones that can.
    if let Some((fixed, _)) = templates
        .iter()
        .find(|(_, title)| title.contains("not detachable"))
    {
        let body = format!(
            "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\n\
             Category: {fixed}; scheme=\"{STORAGE_TPL}\"; class=\"mixin\"\n\
             X-OCCI-Attribute: occi.storage.size=1\n"
        );
        let answer = cloud.post(0, "/storage/", "text/plain", body).await;
        answer.expect(StatusCode::BAD_REQUEST);
        assert!(
            answer.body.contains("is not detachable") && answer.body.contains(&term),
            "{}",
            answer.body
        );

        // A compute whose disks are of that other type takes none of ours.
        let (flavors, _) = cloud.templates().await;
        if let Some(other) = flavors.iter().find(|f| f.term.ends_with(fixed.as_str())) {
            let (_, image) = cloud.small_templates().await;
            let body = format!(
                "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n{}\n{}\n\
                 X-OCCI-Attribute: occi.core.title=\"other-type\"\n",
                other.category(),
                image.category()
            );
            let answer = cloud.post(0, "/compute/", "text/plain", body).await;
            let other_vm = cloud.created_id(&answer, "/compute/");
            cloud.made_compute(0, &other_vm);
            cloud
                .wait_state(
                    0,
                    &format!("/compute/{other_vm}"),
                    "occi.compute.state",
                    "active",
                )
                .await;
            let spare = cloud.create_storage(0, 1, "").await;
            cloud
                .wait_state(
                    0,
                    &format!("/storage/{spare}"),
                    "occi.storage.state",
                    "online",
                )
                .await;
            let answer = cloud
                .post(0, "/storagelink/", "text/plain", link(&other_vm, &spare))
                .await;
            answer.expect(StatusCode::BAD_REQUEST);
            assert!(
                answer
                    .body
                    .contains(&format!("has the storage template {term}"))
                    && answer
                        .body
                        .contains(&format!("{} has {fixed} disks", other.term)),
                "{}",
                answer.body
            );
        }
    }
    cloud.finish().await;
}
