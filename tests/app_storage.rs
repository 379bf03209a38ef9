//! End-to-end tests of `/storage/` (Synnefo volumes) over real sockets:
//! every operation in text/plain, text/occi and JSON, two users, errors.

mod common;

use common::{Gateway, start_gateway};
use reqwest::StatusCode;

const STORAGE_KIND: &str =
    "storage; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"";
const INFRA: &str = "http://schemas.ogf.org/occi/infrastructure#";

/// Creates a volume as user `n` in `rendering` and returns its id.
async fn create(gw: &Gateway, n: usize, rendering: &str, title: &str, size: &str) -> String {
    let (status, location, body) = try_create(gw, n, rendering, title, size).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = location.expect("Location header");
    assert!(body.contains(&location), "body {body:?} names {location}");
    location
        .strip_prefix(&gw.at("/storage/"))
        .unwrap_or_else(|| panic!("{location} is under /storage/"))
        .to_owned()
}

async fn try_create(
    gw: &Gateway,
    n: usize,
    rendering: &str,
    title: &str,
    size: &str,
) -> (StatusCode, Option<String>, String) {
    let req = gw.client(n).post(gw.at("/storage/"));
    let req = match rendering {
        "text/plain" => req.header("content-type", "text/plain").body(format!(
            "Category: {STORAGE_KIND}\nX-OCCI-Attribute: occi.core.title=\"{title}\"\n\
             X-OCCI-Attribute: occi.storage.size={size}\n"
        )),
        "text/occi" => req
            .header("content-type", "text/occi")
            .header("accept", "text/occi")
            .header("category", STORAGE_KIND)
            .header(
                "x-occi-attribute",
                format!("occi.core.title=\"{title}\", occi.storage.size={size}"),
            ),
        _ => req
            .header("content-type", "application/occi+json")
            .header("accept", "application/occi+json")
            .body(format!(
                r#"{{"kind": "{INFRA}storage", "attributes": {{"occi.core.title": "{title}", "occi.storage.size": {size}}}}}"#
            )),
    };
    let res = req.send().await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    // text/occi carries the created location in X-OCCI-Location.
    let headers = format!("{:?}", res.headers());
    (
        status,
        location,
        format!("{headers}\n{}", res.text().await.unwrap()),
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
    let body = res.text().await.unwrap();
    // text/occi carries the entity in headers.
    (status, format!("{headers}\n{body}"))
}

#[tokio::test]
async fn every_operation_in_every_rendering() {
    let gw = start_gateway().await;
    for (i, rendering) in ["text/plain", "text/occi", "application/occi+json"]
        .into_iter()
        .enumerate()
    {
        let title = format!("disk-{i}");
        let id = create(&gw, 0, rendering, &title, "3").await;

        let (status, shown) = get(&gw, 0, &format!("/storage/{id}"), rendering).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(shown.contains(&title), "{rendering}: {shown}");
        assert!(shown.contains("occi.storage.size"), "{rendering}: {shown}");
        assert!(shown.contains('3'), "{rendering}: {shown}");
        assert!(shown.contains("occi.storage.state"), "{rendering}: {shown}");

        gw.sim.reset_counters();
        let (status, listed) = get(&gw, 0, "/storage/", rendering).await;
        assert_eq!(status, StatusCode::OK);
        // JSON collections hold whole resources (by id), the others locations.
        let listed_it = if rendering.contains("json") {
            listed.contains(&format!("\"id\":\"{id}\""))
        } else {
            listed.contains(&format!("/storage/{id}"))
        };
        assert!(listed_it, "{rendering}: {listed}");
        assert_eq!(
            gw.backend_calls(),
            1,
            "a listing is one call: {:?}",
            gw.calls()
        );

        let res = gw
            .client(0)
            .delete(gw.at(&format!("/storage/{id}")))
            .header("accept", rendering)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
        let (status, _) = get(&gw, 0, &format!("/storage/{id}"), rendering).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{rendering}: deleted volume");
    }
}

#[tokio::test]
async fn another_users_volume_is_404() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "text/plain", "alice-disk", "1").await;
    let (status, _) = get(&gw, 1, &format!("/storage/{id}"), "text/plain").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = get(&gw, 1, "/storage/", "text/plain").await;
    assert!(!listed.contains(&format!("/storage/{id}")), "{listed}");
    let res = gw
        .client(1)
        .delete(gw.at(&format!("/storage/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Still alice's.
    let (status, _) = get(&gw, 0, &format!("/storage/{id}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_sizes_and_ids_are_4xx_naming_the_problem() {
    let gw = start_gateway().await;
    for size in ["0", "-2", "1e9", "\"big\""] {
        let (status, _, body) = try_create(&gw, 0, "text/plain", "x", size).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "size {size}: {body}");
        assert!(body.contains("occi.storage.size"), "size {size}: {body}");
    }
    // OCCI sizes are float GiB, Synnefo's whole GiB: a fraction rounds up
    // (pOCCI asks for 0.1), never down.
    let id = create(&gw, 0, "text/plain", "tiny", "0.1").await;
    let (status, body) = get(&gw, 0, &format!("/storage/{id}"), "text/plain").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("occi.storage.size=1"), "{body}");
    let res = gw
        .client(0)
        .post(gw.at("/storage/"))
        .header("content-type", "text/plain")
        .body(format!("Category: {STORAGE_KIND}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("required"));

    for path in ["/storage/a%20b", "/storage/..%2Fx", "/storage/999999"] {
        let (status, body) = get(&gw, 0, path, "text/plain").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
}

#[tokio::test]
async fn online_and_offline_are_501_with_a_reason() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "text/plain", "d", "1").await;
    for term in ["online", "offline"] {
        let res = gw
            .client(0)
            .post(gw.at(&format!("/storage/{id}?action={term}")))
            .header("content-type", "text/plain")
            .body(format!(
                "Category: {term}; scheme=\"http://schemas.ogf.org/occi/infrastructure/storage/action#\"; class=\"action\"\n"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_IMPLEMENTED);
        assert!(res.text().await.unwrap().contains("storagelink"));
    }
}

/// `POST /storage/<id>` or `PUT` as user 0 with a body in `content_type`.
async fn update(
    gw: &Gateway,
    full: bool,
    id: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, String) {
    gw.update(0, full, &format!("/storage/{id}"), content_type, body)
        .await
}

/// A partial update renames the volume and sets its description (one
/// Synnefo `PUT /volumes/{id}`); a full update without them resets both
/// to what a create without them gives.
#[tokio::test]
async fn storage_is_renamed_by_post_and_reset_by_put() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "text/plain", "disk", "3").await;
    gw.sim.reset_counters();
    let (status, answer) = update(
        &gw,
        false,
        &id,
        "text/plain",
        "X-OCCI-Attribute: occi.core.title=\"renamed\"\n\
         X-OCCI-Attribute: occi.core.summary=\"scratch space\"\n"
            .to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("occi.core.title=\"renamed\""), "{answer}");
    assert!(
        answer.contains("occi.core.summary=\"scratch space\""),
        "{answer}"
    );
    assert_eq!(
        gw.calls().get("PUT /volume/v2.0/volumes/{id}"),
        Some(&1),
        "{:?}",
        gw.calls()
    );
    let (_, shown) = get(&gw, 0, &format!("/storage/{id}"), "text/plain").await;
    assert!(shown.contains("occi.core.title=\"renamed\""), "{shown}");

    // The same again changes nothing: no write at all.
    gw.sim.reset_counters();
    let (status, _) = update(
        &gw,
        false,
        &id,
        "text/plain",
        "X-OCCI-Attribute: occi.core.title=\"renamed\"\n".to_owned(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gw.calls().get("PUT /volume/v2.0/volumes/{id}"), None);

    // Full update with the kind only: the create defaults.
    let (status, answer) = update(
        &gw,
        true,
        &id,
        "text/plain",
        format!("Category: {STORAGE_KIND}\n"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer.contains("occi.core.title=\"OCCI volume\""),
        "{answer}"
    );
    assert!(!answer.contains("occi.core.summary"), "{answer}");
    assert!(
        answer.contains("occi.storage.size=3"),
        "the size stays: {answer}"
    );

    // JSON: a partial update renames.
    let (status, answer) = update(
        &gw,
        false,
        &id,
        "application/occi+json",
        format!(r#"{{"kind": "{INFRA}storage", "title": "json-name", "summary": "from json"}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let json: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(json["title"], "json-name", "{json}");
    assert_eq!(json["summary"], "from json", "{json}");
}

/// Synnefo cannot resize a volume: the current size (which full updates
/// resend) passes, another one is a 409 naming `occi.storage.size`, and
/// nothing of that update is done.
#[tokio::test]
async fn unchanged_size_passes_and_a_new_size_is_409() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "text/plain", "disk", "3").await;
    // pOCCI's full update: the entity's own rendering with a new title.
    let (_, shown) = get(&gw, 0, &format!("/storage/{id}"), "text/plain").await;
    let rendering = shown
        .lines()
        .filter(|l| l.starts_with("Category:") || l.starts_with("X-OCCI-Attribute:"))
        .map(|l| {
            if l.contains("occi.core.title") {
                "X-OCCI-Attribute: occi.core.title=\"pocci-style\"".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(rendering.contains("occi.storage.size"), "{rendering}");
    let (status, answer) = update(&gw, true, &id, "text/plain", rendering).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("pocci-style"), "{answer}");

    for (content_type, body) in [
        (
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"bigger\"\nX-OCCI-Attribute: occi.storage.size=5\n"
                .to_owned(),
        ),
        (
            "application/occi+json",
            format!(
                r#"{{"kind": "{INFRA}storage", "title": "bigger", "attributes": {{"occi.storage.size": 5.0}}}}"#
            ),
        ),
    ] {
        gw.sim.reset_counters();
        let (status, answer) = update(&gw, false, &id, content_type, body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{content_type}: {answer}");
        assert!(answer.contains("occi.storage.size"), "{answer}");
        assert!(answer.contains("resize"), "says why: {answer}");
        assert_eq!(gw.calls().get("PUT /volume/v2.0/volumes/{id}"), None);
    }
    // The same size as a float, in JSON: unchanged, passes.
    let (status, answer) = update(
        &gw,
        false,
        &id,
        "application/occi+json",
        format!(r#"{{"kind": "{INFRA}storage", "attributes": {{"occi.storage.size": 3.0}}}}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, shown) = get(&gw, 0, &format!("/storage/{id}"), "text/plain").await;
    assert!(
        shown.contains("pocci-style") && !shown.contains("bigger"),
        "{shown}"
    );
    assert!(shown.contains("occi.storage.size=3"), "{shown}");

    // Bad values are 400s naming the attribute; another user's is 404.
    for body in [
        "X-OCCI-Attribute: occi.storage.size=\"big\"\n".to_owned(),
        format!(
            "X-OCCI-Attribute: occi.core.title=\"{}\"\n",
            "x".repeat(256)
        ),
    ] {
        let (status, answer) = update(&gw, false, &id, "text/plain", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer.contains("occi.storage.size") || answer.contains("occi.core.title"));
    }
    let res = gw
        .client(1)
        .post(gw.at(&format!("/storage/{id}")))
        .header("content-type", "text/plain")
        .body("X-OCCI-Attribute: occi.core.title=\"bob's\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
