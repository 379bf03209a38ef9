//! Storage (Cyclades volumes): create in every rendering, show, list,
//! rename, what cannot change, actions, quota, another user's.

use reqwest::StatusCode;

use crate::support::{Cloud, INFRA, JSON};

#[tokio::test]
async fn a_storage_is_created_shown_renamed_and_deleted_in_each_rendering() {
    let cloud = Cloud::start().await;
    let plain = cloud
        .create_storage(0, 2, "X-OCCI-Attribute: occi.core.title=\"plain-disk\"\n")
        .await;
    let answer = cloud
        .post_occi(
            0,
            "/storage/",
            &[
                format!("Category: storage; scheme=\"{INFRA}\"; class=\"kind\""),
                "X-OCCI-Attribute: occi.core.title=\"occi-disk\", occi.storage.size=3".to_owned(),
            ],
        )
        .await;
    let occi = cloud.created_id(&answer, "/storage/");
    cloud.made_storage(0, &occi);
    let body = serde_json::json!({
        "kind": format!("{INFRA}storage"),
        "attributes": {"occi.core.title": "json-disk", "occi.storage.size": 4},
    });
    let answer = cloud.post(0, "/storage/", JSON, body.to_string()).await;
    let json = cloud.created_id(&answer, "/storage/");
    cloud.made_storage(0, &json);

    for (id, title, size) in [
        (&plain, "plain-disk", 2.0),
        (&occi, "occi-disk", 3.0),
        (&json, "json-disk", 4.0),
    ] {
        let path = format!("/storage/{id}");
        // A new volume is being created (offline), then available.
        let shown = cloud
            .wait_state(0, &path, "occi.storage.state", "online")
            .await;
        assert_eq!(shown["title"], title, "{shown}");
        assert_eq!(
            shown["attributes"]["occi.storage.size"].as_f64(),
            Some(size),
            "{shown}"
        );
        let text = cloud.get(0, &path, "text/plain").await;
        assert!(
            text.body.contains(&format!("occi.core.title=\"{title}\"")),
            "{}",
            text.body
        );
        let listed = cloud.get(0, "/storage/", "text/uri-list").await;
        assert!(listed.body.contains(&path), "{}", listed.body);
    }

    // Rename (partial update); the size cannot change (409 naming it),
    // and resending the same size is no change at all.
    let path = format!("/storage/{plain}");
    cloud
        .post(
            0,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"renamed\"\n".to_owned(),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(cloud.show_json(0, &path).await["title"], "renamed");
    let answer = cloud
        .post(
            0,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.storage.size=9\n".to_owned(),
        )
        .await;
    answer.expect(StatusCode::CONFLICT);
    assert!(answer.body.contains("occi.storage.size"), "{}", answer.body);
    cloud
        .post(
            0,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.storage.size=2\n".to_owned(),
        )
        .await
        .expect(StatusCode::OK);

    // Volumes have no online/offline action.
    let answer = cloud
        .post(
            0,
            &format!("{path}?action=online"),
            "text/plain",
            "Category: online; scheme=\"http://schemas.ogf.org/occi/infrastructure/storage/action#\"; class=\"action\"\n".to_owned(),
        )
        .await;
    answer.expect(StatusCode::NOT_IMPLEMENTED);

    // Bob sees none of it.
    cloud
        .get(1, &path, "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);
    cloud.delete(1, &path).await.expect(StatusCode::NOT_FOUND);
    let bobs = cloud.get(1, "/storage/", "text/uri-list").await;
    assert!(!bobs.body.contains(&path), "{}", bobs.body);

    cloud.delete_until_gone(0, &path).await;
    cloud.finish().await;
}

#[tokio::test]
async fn a_storage_beyond_the_quota_is_413_and_bad_sizes_are_400() {
    let cloud = Cloud::start().await;
    // 50,000 GiB: beyond the user's disk quota (and below Cyclades'
    // largest volume, 100,000 GB, which is a 400).
    let answer = cloud
        .post(
            0,
            "/storage/",
            "text/plain",
            format!(
                "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\n\
                 X-OCCI-Attribute: occi.storage.size=50000\n"
            ),
        )
        .await;
    answer.expect(StatusCode::PAYLOAD_TOO_LARGE);
    for size in ["0", "-1", "\"big\"", "1e9"] {
        let answer = cloud
            .post(
                0,
                "/storage/",
                "text/plain",
                format!(
                    "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\n\
                     X-OCCI-Attribute: occi.storage.size={size}\n"
                ),
            )
            .await;
        answer.expect(StatusCode::BAD_REQUEST);
        assert!(
            answer.body.contains("occi.storage.size"),
            "{size}: {}",
            answer.body
        );
    }
    cloud.finish().await;
}
