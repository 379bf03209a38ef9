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
    let res = gw
        .client(n)
        .post(gw.at(path))
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

async fn created_id(gw: &Gateway, n: usize, path: &str, body: String) -> String {
    let (status, location, text) = post(gw, n, path, body).await;
    assert_eq!(status, StatusCode::CREATED, "{path}: {text}");
    let location = location.expect("Location");
    location
        .strip_prefix(&gw.at(path))
        .expect("under the collection")
        .to_owned()
}

async fn server(gw: &Gateway, n: usize) -> String {
    created_id(
        gw,
        n,
        "/compute/",
        format!(
            "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n\
             Category: 1; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
             Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n"
        ),
    )
    .await
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
