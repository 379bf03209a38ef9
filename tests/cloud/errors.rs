//! What a client gets wrong, and what it may not do: each a clear 4xx
//! that names the problem, and nothing made.

use reqwest::StatusCode;

use crate::support::{Cloud, INFRA, JSON};

/// The title of what the bad requests below must not make.
const UNMADE: &str = "bad-request-unmade";

#[tokio::test]
async fn requests_without_a_valid_token_are_401_with_a_challenge() {
    let cloud = Cloud::start().await;
    let anonymous = reqwest::Client::new();
    for path in ["/-/", "/compute/", "/compute/1", "/storage/", "/nowhere"] {
        let res = anonymous.get(cloud.at(path)).send().await.expect("answer");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            res.headers()
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Keystone uri=")),
            "{path}: {:?}",
            res.headers()
        );
    }
    let res = anonymous
        .get(cloud.at("/compute/"))
        .header("x-auth-token", "not-a-token-of-this-cloud")
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    cloud.finish().await;
}

#[tokio::test]
async fn bad_requests_are_4xx_that_name_the_problem_and_make_nothing() {
    let cloud = Cloud::start().await;
    let (flavor, image) = cloud.small_templates().await;
    // Every body that can carry a title carries this one, so what a bad
    // request made would be found by it (other scenarios create and delete
    // computes as the same user meanwhile).
    let title = format!("X-OCCI-Attribute: occi.core.title=\"{UNMADE}\"\n");
    let cases: Vec<(String, &str, StatusCode, &str)> = vec![
        // A kind that does not belong to the collection.
        (
            format!(
                "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\nX-OCCI-Attribute: occi.storage.size=1\n{title}"
            ),
            "text/plain",
            StatusCode::BAD_REQUEST,
            "storage",
        ),
        // An unknown template.
        (
            format!(
                "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n{}\n\
                 Category: no-such-image; scheme=\"{}\"; class=\"mixin\"\n{title}",
                flavor.category(),
                image.scheme
            ),
            "text/plain",
            StatusCode::BAD_REQUEST,
            "no-such-image",
        ),
        // A malformed line.
        (
            format!("Category compute\n{title}"),
            "text/plain",
            StatusCode::BAD_REQUEST,
            "Category",
        ),
        // Broken JSON.
        (
            "{\"kind\": ".to_owned(),
            JSON,
            StatusCode::BAD_REQUEST,
            "JSON",
        ),
    ];
    for (body, content_type, status, names) in cases {
        let answer = cloud.post(0, "/compute/", content_type, body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert!(answer.body.contains(names), "{body}: {}", answer.body);
    }
    for collection in ["/compute/", "/storage/"] {
        let titles = cloud.titles(0, collection).await;
        assert!(
            !titles.iter().any(|t| t == UNMADE),
            "a bad request made something in {collection}: {titles:?}"
        );
    }
    cloud.finish().await;
}

#[tokio::test]
async fn unknown_paths_methods_and_renderings_get_their_status() {
    let cloud = Cloud::start().await;
    cloud
        .get(0, "/nowhere/", "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);
    cloud
        .get(0, "/compute/999999999", "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);
    cloud
        .get(0, "/storage/not-an-id", "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);
    let answer = cloud.get(0, "/-/", "image/png").await;
    answer.expect(StatusCode::NOT_ACCEPTABLE);
    // One entity has no uri-list rendering.
    let vm = cloud.create_compute(0, "one", "").await;
    cloud
        .get(0, &format!("/compute/{vm}"), "text/uri-list")
        .await
        .expect(StatusCode::BAD_REQUEST);
    let answer = cloud
        .send(cloud.client(0).patch(cloud.at("/compute/")))
        .await;
    answer.expect(StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.header("allow").is_some(), "{:?}", answer.headers);
    // Every answer says who served it.
    assert!(
        answer
            .header("server")
            .is_some_and(|s| s.contains("OCCI/1.2")),
        "{:?}",
        answer.headers
    );
    cloud.finish().await;
}

/// Nothing of one user is visible or reachable to another: each of
/// alice's entities is a 404 for bob, in every collection and listing.
#[tokio::test]
async fn one_users_entities_are_invisible_to_another() {
    let cloud = Cloud::start().await;
    let (vm, disk, net, ip) = tokio::join!(
        cloud.active_compute(0, "private-vm"),
        cloud.create_storage(0, 1, ""),
        cloud.create_network(0, "private-lan", "10.46.0.0/24"),
        cloud.reserve_ip(0)
    );
    for path in [
        format!("/compute/{vm}"),
        format!("/storage/{disk}"),
        format!("/network/{net}"),
        format!("/ipreservation/{ip}"),
    ] {
        cloud
            .get(1, &path, "text/plain")
            .await
            .expect(StatusCode::NOT_FOUND);
        cloud.delete(1, &path).await.expect(StatusCode::NOT_FOUND);
        let collection = &path[..path.rfind('/').expect("/") + 1];
        let listed = cloud.get(1, collection, "text/uri-list").await;
        listed.expect(StatusCode::OK);
        assert!(
            !listed.body.contains(&cloud.at(&path)),
            "{collection}: {}",
            listed.body
        );
        // Still there for alice.
        cloud
            .get(0, &path, "text/plain")
            .await
            .expect(StatusCode::OK);
    }
    cloud.finish().await;
}
