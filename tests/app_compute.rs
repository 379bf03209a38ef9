//! End-to-end tests of the OCCI app's core: compute, the query interface
//! and the generic handlers, over real sockets (simulator + gateway on
//! 127.0.0.1:0).

mod common;

use common::{Gateway, start_gateway};
use reqwest::StatusCode;

const COMPUTE_KIND: &str =
    "Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"";
const DEBIAN_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";

fn create_body(title: &str) -> String {
    format!(
        "{COMPUTE_KIND}\n\
         Category: 1; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
         Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n\
         X-OCCI-Attribute: occi.core.title=\"{title}\"\n"
    )
}

/// Creates a compute as user `n` (text/plain) and returns its id.
async fn create(gw: &Gateway, n: usize, title: &str) -> String {
    let res = gw
        .client(n)
        .post(gw.at("/compute/"))
        .header("content-type", "text/plain")
        .body(create_body(title))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(body.contains(&location), "body {body:?} names {location}");
    let prefix = gw.at("/compute/");
    location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{location} is under {prefix}"))
        .to_owned()
}

async fn get_text(gw: &Gateway, n: usize, path: &str) -> (StatusCode, String) {
    let res = gw.client(n).get(gw.at(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn action(gw: &Gateway, n: usize, id: &str, term: &str, extra: &str) -> (StatusCode, String) {
    let res = gw
        .client(n)
        .post(gw.at(&format!("/compute/{id}?action={term}")))
        .header("content-type", "text/plain")
        .body(format!(
            "Category: {term}; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"\n{extra}"
        ))
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn without_a_token_every_path_is_401() {
    let gw = start_gateway().await;
    let plain = reqwest::Client::new();
    for path in ["/-/", "/compute/", "/compute/1", "/storage/", "/nowhere"] {
        let res = plain.get(gw.at(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(res.headers().contains_key("www-authenticate"), "{path}");
    }
}

#[tokio::test]
async fn query_interface_lists_kinds_actions_and_templates_and_filters() {
    let gw = start_gateway().await;
    for path in ["/-/", "/.well-known/org/ogf/occi/-/"] {
        let (status, body) = get_text(&gw, 0, path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\""), "{body}");
        assert!(body.contains("class=\"action\""));
        // One resource_tpl per creatable flavor, one os_tpl per image.
        assert!(body.contains("scheme=\"http://schemas.openstack.org/template/resource#\""));
        assert!(body.contains(&format!(
            "Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\""
        )));
    }
    // Filtered to one category.
    let res = gw
        .client(0)
        .get(gw.at("/-/"))
        .header("content-type", "text/occi")
        .header(
            "category",
            "storage; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert_eq!(body.matches("Category:").count(), 1, "{body}");
    assert!(body.starts_with("Category: storage;"));
    // Provider categories cannot be removed.
    let res = gw
        .client(0)
        .delete(gw.at("/-/"))
        .header("content-type", "text/plain")
        .body(COMPUTE_KIND)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn compute_lifecycle_in_text_plain() {
    let gw = start_gateway().await;
    let (status, body) = get_text(&gw, 0, "/compute/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("/compute/"), "empty at first: {body}");

    let id = create(&gw, 0, "vm-one").await;
    let (status, body) = get_text(&gw, 0, "/compute/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(&format!("X-OCCI-Location: {}/compute/{id}", gw.url)),
        "{body}"
    );

    let (status, body) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("occi.core.title=\"vm-one\""), "{body}");
    assert!(body.contains("occi.compute.state=\"active\""), "{body}");
    assert!(body.contains("occi.compute.cores=1"), "{body}");
    assert!(
        body.contains("occi.compute.memory=1"),
        "memory in GiB: {body}"
    );
    assert!(
        body.contains(&format!(
            "{DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\""
        )),
        "{body}"
    );
    assert!(body.contains("compute/action#stop"), "{body}");
    assert!(
        !body.contains("compute/action#start\""),
        "start does not apply to an active compute: {body}"
    );

    // Inapplicable action: 409 with the reason.
    let (status, body) = action(&gw, 0, &id, "start", "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("active"), "{body}");
    // Unsupported: 501.
    let (status, body) = action(&gw, 0, &id, "suspend", "").await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{body}");
    // ?action= and the body must agree.
    let res = gw
        .client(0)
        .post(gw.at(&format!("/compute/{id}?action=stop")))
        .header("content-type", "text/plain")
        .body("Category: start; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let (status, body) = action(&gw, 0, &id, "stop", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert!(body.contains("occi.compute.state=\"inactive\""), "{body}");

    // Resize (new resource_tpl) while stopped, and rename.
    let res = gw
        .client(0)
        .post(gw.at(&format!("/compute/{id}")))
        .header("content-type", "text/plain")
        .body("Category: 2; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\nX-OCCI-Attribute: occi.core.title=\"renamed\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(body.contains("occi.core.title=\"renamed\""), "{body}");
    assert!(body.contains("occi.compute.cores=2"), "{body}");

    let (status, body) = action(&gw, 0, &id, "start", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = action(
        &gw,
        0,
        &id,
        "restart",
        "X-OCCI-Attribute: method=\"cold\"\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let res = gw
        .client(0)
        .delete(gw.at(&format!("/compute/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_users_compute_is_404_and_listings_are_per_user() {
    let gw = start_gateway().await;
    let (alice_vm, bob_vm) = tokio::join!(create(&gw, 0, "a"), create(&gw, 1, "b"));
    let (status, _) = get_text(&gw, 1, &format!("/compute/{alice_vm}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = gw
        .client(1)
        .delete(gw.at(&format!("/compute/{alice_vm}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (_, alice_list) = get_text(&gw, 0, "/compute/").await;
    let (_, bob_list) = get_text(&gw, 1, "/compute/").await;
    assert!(
        alice_list.contains(&format!("/compute/{alice_vm}"))
            && !alice_list.contains(&format!("/compute/{bob_vm}"))
    );
    assert!(
        bob_list.contains(&format!("/compute/{bob_vm}"))
            && !bob_list.contains(&format!("/compute/{alice_vm}"))
    );
    // DELETE of the collection removes only the caller's.
    let res = gw
        .client(1)
        .delete(gw.at("/compute/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = get_text(&gw, 0, &format!("/compute/{alice_vm}")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get_text(&gw, 1, &format!("/compute/{bob_vm}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx() {
    let gw = start_gateway().await;
    for (body, want) in [
        (COMPUTE_KIND.to_owned(), "resource template is missing"),
        (
            format!(
                "{COMPUTE_KIND}\nCategory: 999; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n"
            ),
            "unknown resource template",
        ),
        ("Category: compute; scheme=\"unterminated\n".to_owned(), ""),
    ] {
        let res = gw
            .client(0)
            .post(gw.at("/compute/"))
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().await.unwrap().contains(want));
    }
    for path in ["/compute/abc", "/compute/..%2F1", "/compute/999999"] {
        let (status, _) = get_text(&gw, 0, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let res = gw.client(0).put(gw.at("/compute/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn every_rendering_lists_and_shows() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "render-me").await;
    for accept in [
        "text/plain",
        "text/occi",
        "text/uri-list",
        "application/occi+json",
        "application/json",
    ] {
        let res = gw
            .client(0)
            .get(gw.at("/compute/"))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{accept}");
        let headers = format!("{:?}", res.headers());
        let body = res.text().await.unwrap();
        let url = format!("{}/compute/{id}", gw.url);
        match accept {
            "text/occi" => assert!(headers.contains(&url), "{accept}: {headers}"),
            a if a.contains("json") => assert!(
                body.contains(&format!("\"id\":\"{id}\"")) || body.contains(&url),
                "{accept}: {body}"
            ),
            _ => assert!(body.contains(&url), "{accept}: {body}"),
        }
        let res = gw
            .client(0)
            .get(gw.at(&format!("/compute/{id}")))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        if accept == "text/uri-list" {
            assert_eq!(
                res.status(),
                StatusCode::BAD_REQUEST,
                "uri-list of one entity"
            );
        } else {
            assert_eq!(res.status(), StatusCode::OK, "{accept}");
            let headers = format!("{:?}", res.headers());
            let text = format!("{headers}{}", res.text().await.unwrap());
            assert!(text.contains("render-me"), "{accept}: {text}");
        }
    }
}

#[tokio::test]
async fn synnefo_calls_per_operation() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "count").await;
    // Warm the caches.
    get_text(&gw, 0, &format!("/compute/{id}")).await;
    gw.sim.reset_counters();
    get_text(&gw, 0, "/compute/").await;
    assert_eq!(gw.backend_calls(), 1, "list: {:?}", gw.calls());
    gw.sim.reset_counters();
    get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(gw.backend_calls(), 1, "show: {:?}", gw.calls());
    gw.sim.reset_counters();
    get_text(&gw, 0, "/-/").await;
    assert_eq!(
        gw.backend_calls(),
        0,
        "query with warm caches: {:?}",
        gw.calls()
    );
    gw.sim.reset_counters();
    create(&gw, 0, "count2").await;
    assert_eq!(gw.backend_calls(), 1, "create: {:?}", gw.calls());
}

#[tokio::test]
async fn template_collections_list_associate_and_act() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "tpl").await;
    let loc = format!("{}/compute/{id}", gw.url);
    let (status, body) = get_text(&gw, 0, "/resource_tpl/1/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&loc), "{body}");
    let (_, body) = get_text(&gw, 0, "/resource_tpl/2/").await;
    assert!(!body.contains(&loc), "{body}");
    let (status, _) = get_text(&gw, 0, "/resource_tpl/nope/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Action on every compute of a kind.
    let res = gw
        .client(0)
        .post(gw.at("/compute/?action=stop"))
        .header("content-type", "text/plain")
        .body("Category: stop; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, body) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert!(body.contains("occi.compute.state=\"inactive\""), "{body}");

    // A new resource_tpl resizes; a new os_tpl is refused.
    let associate = |path: &'static str| {
        gw.client(0)
            .post(gw.at(path))
            .header("content-type", "text/plain")
            .body(format!("X-OCCI-Location: {loc}\n"))
            .send()
    };
    let res = associate("/resource_tpl/2/").await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let (_, body) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert!(body.contains("occi.compute.cores=2"), "{body}");
    let res = associate("/os_tpl/0e5a4c4b-d2a1-4c1d-9d2b-ubuntu000002/")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("cannot change"));
    let res = gw
        .client(0)
        .delete(gw.at("/resource_tpl/2/"))
        .body(format!("X-OCCI-Location: {loc}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn user_mixins_are_per_user_and_tag_entities() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "tagged").await;
    let define = "Category: mytag; scheme=\"http://example.org/tags#\"; class=\"mixin\"; location=\"/mytag/\"\n";
    let post = |n: usize, path: &str, body: String| {
        gw.client(n)
            .post(gw.at(path))
            .header("content-type", "text/plain")
            .body(body)
            .send()
    };
    let res = post(0, "/-/", define.to_owned()).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    // The same definition again is a no-op; another one at its location
    // is a conflict. A provider location: forbidden.
    assert_eq!(
        post(0, "/-/", define.to_owned()).await.unwrap().status(),
        StatusCode::OK
    );
    let res = post(0, "/-/", define.replace("mytag;", "other;"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = post(
        0,
        "/-/",
        define
            .replace("/mytag/", "/compute/")
            .replace("mytag;", "other;"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Alice sees it in /-/, Bob does not.
    let (_, alice_q) = get_text(&gw, 0, "/-/").await;
    let (_, bob_q) = get_text(&gw, 1, "/-/").await;
    assert!(alice_q.contains("Category: mytag;"));
    assert!(!bob_q.contains("Category: mytag;"));
    let (status, _) = get_text(&gw, 1, "/mytag/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Tag the compute; it shows the mixin and the collection lists it.
    let loc = format!("{}/compute/{id}", gw.url);
    let res = post(0, "/mytag/", format!("X-OCCI-Location: {loc}\n"))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let (_, body) = get_text(&gw, 0, "/mytag/").await;
    assert!(body.contains(&loc), "{body}");
    let (_, body) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert!(
        body.contains("Category: mytag; scheme=\"http://example.org/tags#\""),
        "{body}"
    );
    // Bob cannot tag Alice's compute with his own mixin.
    post(1, "/-/", define.to_owned()).await.unwrap();
    let res = post(1, "/mytag/", format!("X-OCCI-Location: {loc}\n"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Untag, then remove the definition.
    let res = gw
        .client(0)
        .delete(gw.at("/mytag/"))
        .header("content-type", "text/plain")
        .body(format!("X-OCCI-Location: {loc}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, body) = get_text(&gw, 0, "/mytag/").await;
    assert!(!body.contains(&loc), "{body}");
    let res = gw
        .client(0)
        .delete(gw.at("/-/"))
        .header("content-type", "text/plain")
        .body(define)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = get_text(&gw, 0, "/mytag/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn contextualization_and_bad_user_data() {
    let gw = start_gateway().await;
    // OpenStack-scheme key and OCCI user data (base64 of "hello\n").
    let body = format!(
        "{}Category: public_key; scheme=\"http://schemas.openstack.org/instance/credentials#\"; class=\"mixin\"\n\
         Category: user_data; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute#\"; class=\"mixin\"\n\
         X-OCCI-Attribute: org.openstack.credentials.publickey.data=\"ssh-rsa AAAA me@host\"\n\
         X-OCCI-Attribute: occi.compute.userdata=\"aGVsbG8K\"\n",
        create_body("ctx")
    );
    let res = gw
        .client(0)
        .post(gw.at("/compute/"))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    // user-data + meta-data + root's and user's authorized_keys (Debian's users).
    let state = gw.sim_state().await;
    assert_eq!(state["personality_files"], 4, "{state}");
    // User data that is not base64 is refused before anything is created.
    let res = gw
        .client(0)
        .post(gw.at("/compute/"))
        .header("content-type", "text/plain")
        .body(body.replace("aGVsbG8K", "not base64!"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("base64"));
}

#[tokio::test]
async fn floating_ip_retry_and_nothing_left_by_a_refused_inline_link() {
    let gw = common::start_gateway_with(|c| c.require_floating_ip = true, "").await;
    gw.sim.reset_counters();
    create(&gw, 0, "needs-ip").await;
    let state = gw.sim_state().await;
    assert_eq!(state["floating_ips"], 1, "{state}");
    assert_eq!(state["servers"], 1, "{state}");
    let calls = gw.calls();
    assert_eq!(
        calls.get("POST /compute/v2.0/servers"),
        Some(&2),
        "{calls:?}"
    );

    // A storage link to a volume that does not exist: 404 naming it, and
    // no server is left behind.
    let body = format!(
        "{}Link: <{}/storage/424242>; rel=\"http://schemas.ogf.org/occi/infrastructure#storage\"; category=\"http://schemas.ogf.org/occi/infrastructure#storagelink\"\n",
        create_body("rollback"),
        gw.url
    );
    let res = gw
        .client(0)
        .post(gw.at("/compute/"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("no storage 424242"));
    let state = gw.sim_state().await;
    assert_eq!(state["servers"], 1, "no half-created server: {state}");
}

#[tokio::test]
async fn defaults_apply_to_creates_only() {
    let gw = common::start_gateway_with(
        |_| {},
        "default_flavor = \"C2R2048D40drbd\"\ndefault_image = \"CentOS\"\n",
    )
    .await;
    // No templates: the configured ones, by name.
    let res = gw
        .client(0)
        .post(gw.at("/compute/"))
        .header("content-type", "text/plain")
        .body(format!("{COMPUTE_KIND}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, body) = get_text(
        &gw,
        0,
        res.headers()["location"]
            .to_str()
            .unwrap()
            .trim_start_matches(&gw.url),
    )
    .await;
    assert!(body.contains("occi.compute.cores=2"), "{body}");
    assert!(body.contains("centos000003"), "{body}");
    // An update without templates keeps the compute's own (no resize, no
    // "cannot change the OS template").
    let id = create(&gw, 0, "explicit").await;
    let res = gw
        .client(0)
        .post(gw.at(&format!("/compute/{id}")))
        .header("content-type", "text/plain")
        .body("X-OCCI-Attribute: occi.core.title=\"renamed\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("occi.core.title=\"renamed\"") && body.contains("occi.compute.cores=1"),
        "{body}"
    );
}
