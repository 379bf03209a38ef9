//! Networks (private ones with a subnet, the public one) and IP
//! reservations (floating IPs).

use reqwest::StatusCode;

use crate::support::{Cloud, INFRA, JSON};

const IPNETWORK: &str = "http://schemas.ogf.org/occi/infrastructure/network#ipnetwork";

#[tokio::test]
async fn a_private_network_is_created_shown_renamed_and_deleted() {
    let cloud = Cloud::start().await;
    let id = cloud.create_network(0, "lan", "192.168.37.0/24").await;
    let path = format!("/network/{id}");
    let shown = cloud
        .wait_state(0, &path, "occi.network.state", "active")
        .await;
    assert_eq!(shown["title"], "lan", "{shown}");
    assert_eq!(
        shown["attributes"]["occi.network.address"], "192.168.37.0/24",
        "{shown}"
    );
    assert!(shown["mixins"].to_string().contains(IPNETWORK), "{shown}");
    for accept in ["text/plain", "text/occi"] {
        let answer = cloud.get(0, &path, accept).await;
        answer.expect(StatusCode::OK);
        let everything = format!("{:?}{}", answer.headers, answer.body);
        assert!(
            everything.contains("192.168.37.0/24"),
            "{accept}: {everything}"
        );
    }
    let listed = cloud.get(0, "/network/", "text/uri-list").await;
    assert!(listed.body.contains(&path), "{}", listed.body);

    // Rename; the address cannot change (409 naming it).
    cloud
        .post(
            0,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"backbone\"\n".to_owned(),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(cloud.show_json(0, &path).await["title"], "backbone");
    let answer = cloud
        .post(
            0,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.network.address=\"10.1.0.0/16\"\n".to_owned(),
        )
        .await;
    answer.expect(StatusCode::CONFLICT);
    assert!(
        answer.body.contains("occi.network.address"),
        "{}",
        answer.body
    );

    // up/down do not exist in Cyclades.
    let answer = cloud
        .post(
            0,
            &format!("{path}?action=down"),
            "text/plain",
            "Category: down; scheme=\"http://schemas.ogf.org/occi/infrastructure/network/action#\"; class=\"action\"\n".to_owned(),
        )
        .await;
    answer.expect(StatusCode::NOT_IMPLEMENTED);

    // Bob does not see it.
    cloud
        .get(1, &path, "text/plain")
        .await
        .expect(StatusCode::NOT_FOUND);
    cloud.delete(1, &path).await.expect(StatusCode::NOT_FOUND);

    cloud.delete_until_gone(0, &path).await;
    cloud.finish().await;
}

#[tokio::test]
async fn a_network_without_a_valid_address_is_400_and_leaves_nothing() {
    let cloud = Cloud::start().await;
    let answer = cloud
        .post(
            0,
            "/network/",
            "text/plain",
            format!(
                "Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n\
                 Category: ipnetwork; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n"
            ),
        )
        .await;
    answer.expect(StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains("occi.network.address"),
        "{}",
        answer.body
    );
    let answer = cloud
        .post(
            0,
            "/network/",
            "text/plain",
            format!(
                "Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n\
                 Category: ipnetwork; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n\
                 X-OCCI-Attribute: occi.core.title=\"half-made\"\n\
                 X-OCCI-Attribute: occi.network.address=\"not-a-cidr\"\n"
            ),
        )
        .await;
    assert!(
        answer.status.is_client_error(),
        "{} {}",
        answer.status,
        answer.body
    );
    // The network made before the subnet failed is deleted again.
    let titles = cloud.titles(0, "/network/").await;
    assert!(
        !titles.iter().any(|t| t == "half-made"),
        "no half-made network: {titles:?}"
    );
    cloud.finish().await;
}

#[tokio::test]
async fn the_public_network_is_listed_and_cannot_be_deleted_or_renamed() {
    let cloud = Cloud::start().await;
    let public = cloud.public_network(0).await;
    let path = format!("/network/{public}");
    let shown = cloud.show_json(0, &path).await;
    assert_eq!(
        shown["attributes"]["occi.network.label"], "public",
        "{shown}"
    );
    // Both users see it.
    cloud
        .get(1, &path, "text/plain")
        .await
        .expect(StatusCode::OK);
    let answer = cloud.delete(0, &path).await;
    assert!(
        answer.status.is_client_error(),
        "{} {}",
        answer.status,
        answer.body
    );
    let answer = cloud
        .post(
            0,
            &path,
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"mine\"\n".to_owned(),
        )
        .await;
    answer.expect(StatusCode::FORBIDDEN);
    cloud
        .get(0, &path, "text/plain")
        .await
        .expect(StatusCode::OK);
    cloud.finish().await;
}

#[tokio::test]
async fn an_ip_is_reserved_shown_listed_and_released() {
    let cloud = Cloud::start().await;
    let plain = cloud.reserve_ip(0).await;
    let answer = cloud
        .post(
            0,
            "/ipreservation/",
            JSON,
            serde_json::json!({"kind": format!("{INFRA}ipreservation")}).to_string(),
        )
        .await;
    let json = cloud.created_id(&answer, "/ipreservation/");
    cloud.made_ip(0, &json);
    for id in [&plain, &json] {
        let path = format!("/ipreservation/{id}");
        let shown = cloud.show_json(0, &path).await;
        assert!(
            shown["attributes"]["occi.ipreservation.address"]
                .as_str()
                .is_some_and(|a| a.contains('.')),
            "{shown}"
        );
        assert_eq!(
            shown["attributes"]["occi.ipreservation.used"], false,
            "{shown}"
        );
        let listed = cloud.get(0, "/ipreservation/", "text/uri-list").await;
        assert!(listed.body.contains(&path), "{}", listed.body);
        cloud
            .get(1, &path, "text/plain")
            .await
            .expect(StatusCode::NOT_FOUND);
        cloud.delete(1, &path).await.expect(StatusCode::NOT_FOUND);
    }
    let path = format!("/ipreservation/{plain}");
    cloud.delete_until_gone(0, &path).await;
    cloud.finish().await;
}
