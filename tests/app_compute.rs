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
        // Terms users read and type: the image `Debian`, not its id.
        assert!(body.contains(
            "Category: Debian; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"; title=\"Debian\""
        ));
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
        body.contains("Category: Debian; scheme=\"http://schemas.openstack.org/template/os#\""),
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
    // The server alone: its one disk's index (the storage link's device
    // id) was read by the first show and the server has not changed.
    assert_eq!(gw.backend_calls(), 1, "show: {:?}", gw.calls());
    // Once the server changes (renamed in Synnefo, not through the
    // gateway), its disk is read again: one disk read, never the caller's
    // whole volume listing.
    let res = gw
        .client(0)
        .put(format!("{}/compute/v2.0/servers/{id}", gw.sim.url()))
        .json(&serde_json::json!({"server": {"name": "count-renamed"}}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    gw.sim.reset_counters();
    get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(gw.backend_calls(), 2, "show: {:?}", gw.calls());
    assert_eq!(
        gw.calls().get("GET /volume/v2.0/volumes/{id}"),
        Some(&1),
        "show: {:?}",
        gw.calls()
    );
    assert_eq!(
        gw.calls().get("GET /volume/v2.0/volumes/detail"),
        None,
        "show: {:?}",
        gw.calls()
    );
    gw.sim.reset_counters();
    get_text(&gw, 0, "/-/").await;
    // The volume types (storage templates) were not needed before.
    assert_eq!(
        gw.calls().get("GET /volume/v2.0/types"),
        Some(&1),
        "query: {:?}",
        gw.calls()
    );
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
    // The query interface is rendered (and kept) before the definition,
    // in text and JSON; a second look is the same document.
    let gw_ref = &gw;
    let query_json = |n: usize| async move {
        let res = gw_ref
            .client(n)
            .get(gw_ref.at("/-/"))
            .header("accept", "application/occi+json")
            .send()
            .await
            .unwrap();
        res.text().await.unwrap()
    };
    let (_, first) = get_text(&gw, 0, "/-/").await;
    assert!(!first.contains("Category: mytag;"));
    assert_eq!(get_text(&gw, 0, "/-/").await.1, first);
    assert!(!query_json(0).await.contains("\"term\":\"mytag\""));
    let res = post(0, "/-/", define.to_owned()).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    assert!(query_json(0).await.contains("\"term\":\"mytag\""));
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
    // Gone from the query interface, in both renderings.
    assert_eq!(get_text(&gw, 0, "/-/").await.1, first);
    assert!(!query_json(0).await.contains("\"term\":\"mytag\""));
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

/// On a site whose default networks are public (`SNF:ANY_PUBLIC_IPV4`),
/// each create reserves a floating IP after Synnefo's 409 and names it
/// in its second create: concurrent creates of one user never take each
/// other's address, every one succeeds, and no address is left over.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_each_name_the_floating_ip_they_reserved() {
    let gw = common::start_gateway_with(
        |c| c.default_server_networks = vec!["SNF:ANY_PUBLIC_IPV4".into()],
        "",
    )
    .await;
    gw.sim.reset_counters();
    const N: usize = 16;
    let ids = futures_util::future::join_all((0..N).map(|i| {
        let gw = &gw;
        async move { create(gw, 0, &format!("parallel-{i}")).await }
    }))
    .await;
    let mut addresses = std::collections::BTreeSet::new();
    for id in &ids {
        let (status, body) = get_text(&gw, 0, &format!("/compute/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let address = body
            .lines()
            .find_map(|l| l.split("occi.networkinterface.address=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("compute {id} has a public address: {body}"))
            .to_owned();
        assert!(addresses.insert(address.clone()), "{address} given twice");
    }
    let state = gw.sim_state().await;
    assert_eq!(state["servers"], N, "{state}");
    assert_eq!(
        state["floating_ips"], N,
        "one address per compute, none left over: {state}"
    );
    let calls = gw.calls();
    assert_eq!(
        calls.get("POST /network/v2.0/floatingips"),
        Some(&(N as u64)),
        "{calls:?}"
    );
}

#[tokio::test]
async fn floating_ip_retry_and_nothing_left_by_a_refused_inline_link() {
    let gw = common::start_gateway_with(
        |c| c.default_server_networks = vec!["SNF:ANY_PUBLIC_IPV4".into()],
        "",
    )
    .await;
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
    assert!(
        body.contains("Category: CentOS; scheme=\"http://schemas.openstack.org/template/os#\""),
        "{body}"
    );
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

const OS_TPL: &str = "http://schemas.openstack.org/template/os#";

/// Creates a compute of flavor 4 (`C2R2048D20`, whose disks are
/// `ext_archipelago`: Cyclades snapshots only `ext_*` disks) as user `n`.
async fn create_snapshottable(gw: &Gateway, n: usize, title: &str, extra: &str) -> String {
    let (status, location, body) = gw
        .post_text(
            n,
            "/compute/",
            format!(
                "{}{extra}",
                create_body(title).replace("Category: 1;", "Category: 4;")
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    location
        .expect("Location")
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// The term of the one os_tpl `Category` a text rendering carries.
fn os_tpl_term(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(&format!("scheme=\"{OS_TPL}\"")))
        .unwrap_or_else(|| panic!("an os_tpl Category in {text}"));
    let start = line
        .find("Category: ")
        .map_or(0, |i| i + "Category: ".len());
    line[start..].split(';').next().unwrap().trim().to_owned()
}

/// OCCI 1.2 `save`: a Synnefo snapshot of the root disk, answered with
/// the new OS template, which its owner (only) sees at once and creates
/// computes from.
#[tokio::test]
async fn save_makes_an_os_template_its_owner_creates_computes_from() {
    let gw = start_gateway().await;
    let id = create_snapshottable(&gw, 0, "golden-src", "").await;
    let (_, shown) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert!(
        shown.contains(&format!("/compute/{id}?action=save")),
        "save applies to an active compute: {shown}"
    );
    // Warm the template caches, then count what save takes.
    get_text(&gw, 0, "/-/").await;
    gw.sim.reset_counters();
    let (status, body) = action(
        &gw,
        0,
        &id,
        "save",
        "X-OCCI-Attribute: name=\"golden\"\nX-OCCI-Attribute: method=\"hot\"\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls = gw.calls();
    assert_eq!(gw.backend_calls(), 2, "save: {calls:?}");
    assert_eq!(calls.get("GET /compute/v2.0/servers/{id}"), Some(&1));
    assert_eq!(calls.get("POST /volume/v2.0/snapshots"), Some(&1));
    let tpl = os_tpl_term(&body);
    assert!(
        body.starts_with(&format!(
            "Category: {tpl}; scheme=\"{OS_TPL}\"; class=\"mixin\"; title=\"golden\"; \
             rel=\"http://schemas.ogf.org/occi/infrastructure#os_tpl\"; location=\"/os_tpl/{tpl}/\""
        )),
        "{body}"
    );

    // The owner's query interface lists it right away (the image list is
    // read again once); nobody else's does.
    gw.sim.reset_counters();
    let (_, alice_q) = get_text(&gw, 0, "/-/").await;
    assert!(
        alice_q.contains(&format!("Category: {tpl}; scheme=\"{OS_TPL}\"")),
        "{alice_q}"
    );
    assert_eq!(gw.calls().get("GET /compute/v2.0/images/detail"), Some(&1));
    let (_, bob_q) = get_text(&gw, 1, "/-/").await;
    assert!(!bob_q.contains(&tpl), "{bob_q}");

    // It creates computes, by id or by its name; not for another user.
    let from_tpl = |n: usize, category: String| {
        gw.post_text(
            n,
            "/compute/",
            format!(
                "{COMPUTE_KIND}\n\
                 Category: 4; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
                 {category}\n"
            ),
        )
    };
    let (status, location, body) = from_tpl(
        0,
        format!("Category: {tpl}; scheme=\"{OS_TPL}\"; class=\"mixin\""),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let clone = location.unwrap().rsplit('/').next().unwrap().to_owned();
    let (_, shown) = get_text(&gw, 0, &format!("/compute/{clone}")).await;
    assert!(
        shown.contains(&format!("Category: {tpl}; scheme=\"{OS_TPL}\"")),
        "{shown}"
    );
    let (_, members) = get_text(&gw, 0, &format!("/os_tpl/{tpl}/")).await;
    assert!(members.contains(&format!("/compute/{clone}")), "{members}");
    let (status, _, _) = from_tpl(
        0,
        "Category: golden; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"".to_owned(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "by name, as the seed names Debian"
    );
    let (status, _, body) = from_tpl(
        1,
        format!("Category: {tpl}; scheme=\"{OS_TPL}\"; class=\"mixin\""),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("unknown OS template"), "{body}");
    let (status, _) = get_text(&gw, 1, &format!("/os_tpl/{tpl}/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A stopped compute saves too (method deferred); the new template
    // outlives the compute it was saved from.
    let (status, body) = action(&gw, 0, &id, "stop", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, shown) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert!(
        shown.contains(&format!("/compute/{id}?action=save")),
        "{shown}"
    );
    let (status, body) = action(
        &gw,
        0,
        &id,
        "save",
        "X-OCCI-Attribute: method=\"deferred\"\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("title=\"golden-src snapshot 20"),
        "default name: {body}"
    );
    let res = gw
        .client(0)
        .delete(gw.at(&format!("/compute/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (_, alice_q) = get_text(&gw, 0, "/-/").await;
    assert!(alice_q.contains(&format!("Category: {tpl};")), "{alice_q}");
}

/// The save answer in every rendering an action answers in: the new
/// os_tpl as a Category line (text/plain), a Category header with body
/// `OK` (text/occi), `{"mixins": [...]}` (JSON); text/uri-list, which
/// has no category form, gets text/plain as every action answer does.
#[tokio::test]
async fn save_answers_in_every_rendering() {
    let gw = start_gateway().await;
    let id = create_snapshottable(&gw, 0, "render-save", "").await;
    let category = "Category: save; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"";
    for accept in [
        "text/plain",
        "text/occi",
        "application/occi+json",
        "application/json",
        "text/uri-list",
    ] {
        let name = format!("as {accept}");
        let req = gw
            .client(0)
            .post(gw.at(&format!("/compute/{id}?action=save")))
            .header("accept", accept);
        let req = if accept.contains("json") {
            req.header("content-type", "application/occi+json").body(format!(
                r#"{{"action": "http://schemas.ogf.org/occi/infrastructure/compute/action#save", "attributes": {{"name": "{name}"}}}}"#
            ))
        } else {
            req.header("content-type", "text/occi")
                .header("category", category.trim_start_matches("Category: "))
                .header("x-occi-attribute", format!("name=\"{name}\""))
        };
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{accept}");
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        let header = res
            .headers()
            .get("category")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.text().await.unwrap();
        match accept {
            "text/occi" => {
                assert_eq!(body, "OK");
                let header = header.expect("a Category header");
                assert!(header.contains(&format!("scheme=\"{OS_TPL}\"")), "{header}");
                assert!(header.contains(&format!("title=\"{name}\"")), "{header}");
            }
            a if a.contains("json") => {
                let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
                let m = &v["mixins"][0];
                assert_eq!(v["mixins"].as_array().unwrap().len(), 1, "{body}");
                assert_eq!(m["scheme"], OS_TPL, "{body}");
                assert_eq!(m["title"], name.as_str(), "{body}");
                let term = m["term"].as_str().unwrap();
                assert_eq!(m["location"], format!("/os_tpl/{term}/"), "{body}");
                assert_eq!(
                    m["depends"],
                    serde_json::json!(["http://schemas.ogf.org/occi/infrastructure#os_tpl"])
                );
            }
            _ => {
                assert!(
                    content_type.starts_with("text/plain"),
                    "{accept}: {content_type}"
                );
                assert!(
                    body.contains(&format!("title=\"{name}\"")),
                    "{accept}: {body}"
                );
                assert!(!os_tpl_term(&body).is_empty());
            }
        }
    }
}

/// What save refuses, each with a 4xx that names the problem and before
/// Synnefo is asked to snapshot anything it would refuse.
#[tokio::test]
async fn save_refusals_are_clear_4xx() {
    let gw = start_gateway().await;
    let id = create_snapshottable(&gw, 0, "careful", "").await;
    let snapshots = || async { gw.sim_state().await["snapshots"].clone() };

    let (status, body) = action(&gw, 0, &id, "save", "X-OCCI-Attribute: method=\"cold\"\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("\"cold\"") && body.contains("hot, deferred"),
        "{body}"
    );
    let (status, body) = action(&gw, 0, &id, "save", "X-OCCI-Attribute: name=\"  \"\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("name"), "{body}");
    let (status, body) = action(
        &gw,
        0,
        &id,
        "save",
        &format!("X-OCCI-Attribute: name=\"{}\"\n", "n".repeat(300)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Another user's compute does not exist for Bob.
    let (status, _) = action(&gw, 1, &id, "save", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A compute whose disk template Cyclades cannot snapshot (drbd):
    // Synnefo's reason, as a conflict of that compute.
    let drbd = create(&gw, 0, "drbd").await;
    let (status, body) = action(&gw, 0, &drbd, "save", "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("'drbd' disk template"), "{body}");

    // Building (and failed) computes: 409 naming the state; no snapshot
    // attempted, and save is not among their actions.
    let force = |status: &'static str| {
        let url = format!("{}/_sim/servers/{id}/status", gw.sim.url());
        async move {
            reqwest::Client::new()
                .put(url)
                .json(&serde_json::json!({ "status": status }))
                .send()
                .await
                .unwrap()
        }
    };
    for (status_name, says) in [("BUILD", "BUILD"), ("ERROR", "error")] {
        assert_eq!(force(status_name).await.status(), 204);
        gw.sim.reset_counters();
        let (status, body) = action(&gw, 0, &id, "save", "").await;
        assert_eq!(status, StatusCode::CONFLICT, "{status_name}: {body}");
        assert!(body.contains(says), "{status_name}: {body}");
        assert_eq!(gw.calls().get("POST /volume/v2.0/snapshots"), None);
        let (_, shown) = get_text(&gw, 0, &format!("/compute/{id}")).await;
        assert!(!shown.contains("action=save"), "{status_name}: {shown}");
    }
    assert_eq!(snapshots().await, 0);

    // A deleted compute is gone: 404, like every action on it.
    assert_eq!(force("ACTIVE").await.status(), 204);
    let res = gw
        .client(0)
        .delete(gw.at(&format!("/compute/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, _) = action(&gw, 0, &id, "save", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(snapshots().await, 0);
}

/// With a volume attached at create, the server's `volumes` (sorted by
/// id) start with that older volume: save asks the volume details which
/// disk is the root one (device index 0), and snapshots that.
#[tokio::test]
async fn save_snapshots_the_root_disk_among_several() {
    let gw = common::start_gateway_with(|_| {}, "volume_type = \"ext_archipelago\"\n").await;
    let (status, location, body) = gw
        .post_text(
            0,
            "/storage/",
            "Category: storage; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n\
             X-OCCI-Attribute: occi.storage.size=2\n"
                .to_owned(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let data = location.unwrap().rsplit('/').next().unwrap().to_owned();
    let id = create_snapshottable(
        &gw,
        0,
        "two-disks",
        &format!(
            "Link: <{}>; rel=\"http://schemas.ogf.org/occi/infrastructure#storage\"; \
             category=\"http://schemas.ogf.org/occi/infrastructure#storagelink\"\n",
            gw.at(&format!("/storage/{data}"))
        ),
    )
    .await;
    // Inline storage is attached once the compute is built.
    for _ in 0..100 {
        let (_, shown) = get_text(&gw, 0, &format!("/compute/{id}")).await;
        if !shown.contains("attaching once the compute is built") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    gw.sim.reset_counters();
    let (status, body) = action(&gw, 0, &id, "save", "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls = gw.calls();
    assert_eq!(gw.backend_calls(), 3, "{calls:?}");
    assert_eq!(calls.get("GET /volume/v2.0/volumes/detail"), Some(&1));
    // The template's term is its name made a term ("two-disks snapshot
    // <time>"); the simulator has the one snapshot.
    assert!(
        os_tpl_term(&body).starts_with("two-disks_snapshot_"),
        "{body}"
    );
    let snapshots = gw.synnefo_json(0, "/volume/v2.0/snapshots").await;
    let snapshot = &snapshots["snapshots"][0];
    let volume = snapshot["volume_id"].as_str().unwrap();
    assert_ne!(volume, data, "not the attached data volume: {snapshot}");
}

/// `save` on a collection saves every member and answers every new OS
/// template.
#[tokio::test]
async fn save_on_a_collection_answers_each_new_template() {
    let gw = start_gateway().await;
    tokio::join!(
        create_snapshottable(&gw, 0, "one", ""),
        create_snapshottable(&gw, 0, "two", "")
    );
    let res = gw
        .client(0)
        .post(gw.at("/compute/?action=save"))
        .header("content-type", "text/plain")
        .body("Category: save; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert_eq!(body.matches("Category: ").count(), 2, "{body}");
    for name in ["one snapshot", "two snapshot"] {
        assert!(body.contains(&format!("title=\"{name} ")), "{name}: {body}");
    }
    assert_eq!(gw.sim_state().await["snapshots"], 2);
}

/// A `/-/` whose image list was read before a save and arrives after it
/// answers with what it read, but the next `/-/` shows the new template:
/// the stale list is not left in the cache until its TTL.
#[tokio::test]
async fn an_image_list_read_across_a_save_is_not_kept() {
    let gw = start_gateway().await;
    let id = create_snapshottable(&gw, 0, "racing", "").await;
    // A first save leaves the image cache empty.
    let (status, body) = action(&gw, 0, &id, "save", "X-OCCI-Attribute: name=\"first\"\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The next image list is read now and answered 1.5 s later.
    gw.sim.set_faults(snf_occi_simulator::FaultSettings {
        answer_latency: std::time::Duration::from_millis(1500),
        routes: vec!["GET /compute/v2.0/images/detail".to_owned()],
        ..Default::default()
    });
    gw.sim.reset_counters();
    let slow = {
        let (client, url) = (gw.client(0), gw.at("/-/"));
        tokio::spawn(async move { client.get(url).send().await.unwrap().text().await.unwrap() })
    };
    let started = std::time::Instant::now();
    while !gw.calls().contains_key("GET /compute/v2.0/images/detail") {
        assert!(
            started.elapsed().as_secs() < 10,
            "the image list was never read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    gw.sim.set_faults(Default::default());
    let (status, body) = action(&gw, 0, &id, "save", "X-OCCI-Attribute: name=\"second\"\n").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = os_tpl_term(&body);
    let stale = slow.await.unwrap();
    assert!(stale.contains("title=\"first\""), "{stale}");
    assert!(!stale.contains(&second), "read before the save: {stale}");
    let (_, fresh) = get_text(&gw, 0, "/-/").await;
    assert!(
        fresh.contains(&format!("Category: {second}; scheme=\"{OS_TPL}\"")),
        "{fresh}"
    );
}

async fn delete(gw: &Gateway, n: usize, id: &str) -> (StatusCode, Option<String>, String) {
    let res = gw
        .client(n)
        .delete(gw.at(&format!("/compute/{id}")))
        .send()
        .await
        .unwrap();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status(), retry_after, res.text().await.unwrap())
}

/// Synnefo refuses to destroy a server while it is being built (409
/// buildInProgress): the gateway waits for the build within
/// `busy_wait` and then deletes it.
#[tokio::test]
async fn a_compute_deleted_while_it_builds_is_deleted_once_built() {
    let gw = common::start_gateway_with(
        |c| c.build_delay = std::time::Duration::from_millis(600),
        "busy_wait = \"10s\"",
    )
    .await;
    let id = create(&gw, 0, "young").await;
    let (status, body) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert!(
        body.contains("occi.compute.state=\"inactive\""),
        "{status} {body}"
    );
    let (status, _, body) = delete(&gw, 0, &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(gw.sim_state().await["servers"], 0);
}

/// Past `busy_wait`, the answer is a 409 naming the state, with
/// `Retry-After`, and the compute is still there to delete later.
#[tokio::test]
async fn a_build_longer_than_the_wait_is_409_with_retry_after() {
    let gw = common::start_gateway_with(
        |c| c.build_delay = std::time::Duration::from_secs(3600),
        "busy_wait = \"0s\"",
    )
    .await;
    let id = create(&gw, 0, "slow").await;
    let (status, retry_after, body) = delete(&gw, 0, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(retry_after.as_deref(), Some("5"));
    assert!(
        body.contains("busy") && body.contains("being build"),
        "{body}"
    );
    let (status, _) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::OK, "nothing was deleted");
}

/// A second DELETE says what a GET says: the compute is gone (Synnefo
/// itself answers 400 "Server ... has been deleted.").
#[tokio::test]
async fn a_second_delete_is_404() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "twice").await;
    let (status, _, body) = delete(&gw, 0, &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = delete(&gw, 0, &id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body.contains(&format!("no compute {id}")), "{body}");
}

/// A create that names nothing (an empty body, attributes alone, in any
/// rendering) is a 400 "No categories", even where defaults would make a
/// compute: a VM that costs a user's quota is never made from a request
/// that asked for nothing.
#[tokio::test]
async fn a_create_that_names_nothing_is_400_and_makes_nothing() {
    let gw = common::start_gateway_with(
        |_| {},
        "default_flavor = \"1\"\ndefault_image = \"Debian\"\n",
    )
    .await;
    let cases: [(&str, &str, &str); 5] = [
        ("/compute/", "text/plain", ""),
        (
            "/compute/",
            "text/plain",
            "X-OCCI-Attribute: occi.core.title=\"nameless\"\n",
        ),
        (
            "/compute/",
            "application/occi+json",
            "{\"attributes\": {\"occi.core.title\": \"x\"}}",
        ),
        ("/compute/", "text/occi", ""),
        (
            "/storage/",
            "text/plain",
            "X-OCCI-Attribute: occi.storage.size=1\n",
        ),
    ];
    for (path, content_type, body) in cases {
        let res = gw
            .client(0)
            .post(gw.at(path))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "{path} {content_type} {body:?}"
        );
        let text = res.text().await.unwrap();
        // JSON without a kind is not an OCCI resource rendering at all.
        assert!(
            text.contains("No categories") || text.contains("expected a resource"),
            "{text}"
        );
    }
    let state = gw.sim_state().await;
    assert_eq!(
        (state["servers"].as_u64(), state["volumes"].as_u64()),
        (Some(0), Some(0)),
        "{state}"
    );
    // The same defaults do make a compute when the kind is named.
    let res = gw
        .client(0)
        .post(gw.at("/compute/"))
        .header("content-type", "text/plain")
        .body(format!("{COMPUTE_KIND}\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
}

/// A compute's disks are read one by one (`GET /volumes/{id}`): a disk
/// whose read says 404 (deleted between the two calls) is shown without
/// a device id, and the show still succeeds; any other failure of that
/// read fails the show as Synnefo's failure. Neither is kept: the next
/// show reads the disk again and shows its device id.
#[tokio::test]
async fn a_disk_read_that_fails_or_finds_nothing() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "disks").await;

    let fail_disk_reads = |status: u16| snf_occi_simulator::FaultSettings {
        error_rate: 1.0,
        error_status: Some(status),
        routes: vec!["GET /volume/v2.0/volumes/{id}".to_owned()],
        ..Default::default()
    };
    gw.sim.set_faults(fail_disk_reads(404));
    let (status, gone) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    gw.sim.set_faults(Default::default());
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert!(gone.contains("/storagelink/"), "the link stays: {gone}");
    assert!(!gone.contains("occi.storagelink.deviceid"), "{gone}");

    gw.sim.set_faults(fail_disk_reads(503));
    let (status, failed) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    gw.sim.set_faults(Default::default());
    // Synnefo's 503 is the gateway's 502, naming the step that failed.
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{failed}");
    assert!(failed.contains("read volume"), "{failed}");

    gw.sim.reset_counters();
    let (status, shown) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(
        shown.contains("occi.storagelink.deviceid=\"/dev/vda\""),
        "{shown}"
    );
    assert_eq!(gw.backend_calls(), 2, "server and disk: {:?}", gw.calls());
}

/// A show reads a server's disks once per change of the server: the next
/// show of an unchanged server makes one Synnefo call and says the same.
#[tokio::test]
async fn an_unchanged_servers_show_makes_one_call() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "once").await;
    let (status, first) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(
        first.contains("occi.storagelink.deviceid=\"/dev/vda\""),
        "{first}"
    );

    gw.sim.reset_counters();
    let (status, again) = get_text(&gw, 0, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(gw.backend_calls(), 1, "{:?}", gw.calls());
    assert_eq!(again, first);

    // Another user's show of it reads nothing kept for the owner: 404.
    let (status, other) = get_text(&gw, 1, &format!("/compute/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{other}");
}

/// After the first listing of locations, a listing asks Cyclades only for
/// the servers changed since the last one (`?changes-since=`) and merges
/// them: a create and a delete show at once, the listing is the same as
/// a full one, and another user's listing holds none of it.
#[tokio::test]
async fn listings_read_the_changes_since_the_last() {
    let gw = start_gateway().await;
    let listed =
        |text: &str, id: &str| text.lines().any(|l| l.ends_with(&format!("/compute/{id}")));
    let a = create(&gw, 0, "one").await;
    let b = create(&gw, 0, "two").await;
    gw.sim.reset_counters();
    let (status, first) = get_text(&gw, 0, "/compute/").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(listed(&first, &a) && listed(&first, &b), "{first}");
    assert_eq!(
        gw.calls().get("GET /compute/v2.0/servers/detail"),
        Some(&1),
        "the first listing reads all: {:?}",
        gw.calls()
    );

    gw.sim.reset_counters();
    let (_, again) = get_text(&gw, 0, "/compute/").await;
    assert_eq!(again, first);
    assert_eq!(
        gw.calls()
            .get("GET /compute/v2.0/servers/detail?changes-since"),
        Some(&1),
        "{:?}",
        gw.calls()
    );
    assert_eq!(gw.calls().get("GET /compute/v2.0/servers/detail"), None);

    let c = create(&gw, 0, "three").await;
    let (status, _, body) = delete(&gw, 0, &a).await;
    assert!(status.is_success(), "{body}");
    let (_, after) = get_text(&gw, 0, "/compute/").await;
    assert!(!listed(&after, &a), "deleted: {after}");
    assert!(listed(&after, &b) && listed(&after, &c), "{after}");
    // The uri-list rendering lists the same.
    let res = gw
        .client(0)
        .get(gw.at("/compute/"))
        .header("accept", "text/uri-list")
        .send()
        .await
        .unwrap();
    let uris = res.text().await.unwrap();
    assert!(
        !listed(&uris, &a) && listed(&uris, &b) && listed(&uris, &c),
        "{uris}"
    );

    let (_, bobs) = get_text(&gw, 1, "/compute/").await;
    assert!([&a, &b, &c].iter().all(|id| !listed(&bobs, id)), "{bobs}");
}

/// A kept listing is read in full again once `app.occi.listing_refresh`
/// old, and `0s` reads every listing in full.
#[tokio::test]
async fn listings_are_read_in_full_once_the_refresh_is_due() {
    let full = "GET /compute/v2.0/servers/detail";
    let delta = "GET /compute/v2.0/servers/detail?changes-since";
    let gw = common::start_gateway_with(|_| {}, "listing_refresh = \"300ms\"\n").await;
    create(&gw, 0, "refreshed").await;
    get_text(&gw, 0, "/compute/").await;
    gw.sim.reset_counters();
    get_text(&gw, 0, "/compute/").await;
    assert_eq!(gw.calls().get(delta), Some(&1), "{:?}", gw.calls());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    gw.sim.reset_counters();
    get_text(&gw, 0, "/compute/").await;
    assert_eq!(gw.calls().get(full), Some(&1), "{:?}", gw.calls());
    assert_eq!(gw.calls().get(delta), None, "{:?}", gw.calls());

    let gw = common::start_gateway_with(|_| {}, "listing_refresh = \"0s\"\n").await;
    for _ in 0..2 {
        gw.sim.reset_counters();
        get_text(&gw, 0, "/compute/").await;
        assert_eq!(gw.calls().get(full), Some(&1), "{:?}", gw.calls());
        assert_eq!(gw.calls().get(delta), None, "{:?}", gw.calls());
    }
}

/// A show of an unchanged compute serves the rendering of the last one
/// (see `app::compute::shown`); anything that changes what it shows,
/// made through the gateway or behind it in Synnefo, shows at once, in
/// every media type, and nothing kept for one user reaches another.
#[tokio::test]
async fn a_kept_rendering_follows_every_change_behind_it() {
    let gw = start_gateway().await;
    let id = create(&gw, 0, "kept").await;
    let show = format!("/compute/{id}");
    let get = |accept: &'static str| {
        let url = gw.at(&show);
        let client = gw.client(0);
        async move {
            let res = client
                .get(url)
                .header("accept", accept)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let occi: Vec<String> = res
                .headers()
                .get_all("x-occi-attribute")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            (status, occi.join(", "), res.text().await.unwrap())
        }
    };
    let (_, _, first) = get("text/plain").await;
    assert!(first.contains("occi.core.title=\"kept\""), "{first}");
    gw.sim.reset_counters();
    assert_eq!(get("text/plain").await.2, first);
    assert_eq!(gw.backend_calls(), 1, "{:?}", gw.calls());

    // Renamed in Synnefo, not through the gateway.
    let server = format!("{}/compute/v2.0/servers/{id}", gw.sim.url());
    let res = gw
        .client(0)
        .put(&server)
        .json(&serde_json::json!({"server": {"name": "renamed behind"}}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let (_, _, renamed) = get("text/plain").await;
    assert!(
        renamed.contains("occi.core.title=\"renamed behind\""),
        "{renamed}"
    );
    // Stopped there too: the state and the applicable actions follow.
    let res = gw
        .client(0)
        .post(format!("{server}/action"))
        .json(&serde_json::json!({"shutdown": {}}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let mut stopped = String::new();
    for _ in 0..100 {
        stopped = get("text/plain").await.2;
        if stopped.contains("occi.compute.state=\"inactive\"") && !stopped.contains("message") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        stopped.contains("occi.compute.state=\"inactive\""),
        "{stopped}"
    );
    assert!(stopped.contains("?action=start"), "{stopped}");
    assert!(!stopped.contains("?action=stop>"), "{stopped}");

    // Each media type its own rendering, each served again unchanged.
    let (_, headers, occi_body) = get("text/occi").await;
    assert_eq!(occi_body.trim(), "OK");
    assert!(
        headers.contains("occi.core.title=\"renamed behind\""),
        "{headers}"
    );
    assert_eq!(get("text/occi").await.1, headers);
    let (_, _, json) = get("application/occi+json").await;
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["title"], "renamed behind", "{json}");
    assert_eq!(get("text/plain").await.2, stopped);

    // Tagged with a user mixin: the tag shows on the next show.
    let define = "Category: kepttag; scheme=\"http://example.org/tags#\"; class=\"mixin\"; location=\"/kepttag/\"\n";
    let (status, _, body) = gw.post_text(0, "/-/", define.to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = gw
        .post_text(
            0,
            "/kepttag/",
            format!("X-OCCI-Location: {}\n", gw.at(&show)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, tagged) = get("text/plain").await;
    assert!(tagged.contains("Category: kepttag;"), "{tagged}");

    // Bob's show of it is his own: 404, whatever Alice's shows kept.
    let res = gw.client(1).get(gw.at(&show)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Deleted behind the gateway: 404, not the kept rendering.
    let res = gw.client(0).delete(&server).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let mut status = StatusCode::OK;
    for _ in 0..100 {
        status = get("text/plain").await.0;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::NOT_FOUND);
}
