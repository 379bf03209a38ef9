//! End-to-end tests of entity updates over real sockets: the caller's own
//! mixins added by a partial update (POST /<kind>/<id>) and replaced by a
//! full one (PUT) on every kind, unknown and other users' mixins refused
//! with nothing changed, and a Synnefo failure undoing the mixins. Also
//! creates naming the caller's mixins: the new entity is tagged, and an
//! unknown or another user's mixin is a 400 before anything is created.

mod common;

use common::{Gateway, start_gateway};
use reqwest::StatusCode;
use snf_occi_simulator::FaultSettings;

const INFRA: &str = "http://schemas.ogf.org/occi/infrastructure#";
const TAGS: &str = "http://example.com/tags#";
const DEBIAN_ID: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";

/// `Category: <term>` of the example tags scheme, as an update names it.
fn tag(term: &str) -> String {
    format!("Category: {term}; scheme=\"{TAGS}\"; class=\"mixin\"\n")
}

/// Defines the mixin `term` (location `/<term>/`) for user `n`.
async fn define(gw: &Gateway, n: usize, term: &str) {
    let (status, _, body) = gw
        .post_text(
            n,
            "/-/",
            format!(
                "Category: {term}; scheme=\"{TAGS}\"; class=\"mixin\"; location=\"/{term}/\"\n"
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn created(gw: &Gateway, n: usize, collection: &str, body: String) -> String {
    let (status, location, text) = gw.post_text(n, collection, body).await;
    assert_eq!(status, StatusCode::CREATED, "{collection}: {text}");
    location
        .expect("Location")
        .strip_prefix(&gw.url)
        .expect("our URL")
        .to_owned()
}

/// The text/plain body of a compute create (flavor 4, C2R2048D20: its
/// ext_archipelago disks take default storage; Debian) with
/// `extra` categories.
fn compute_body(title: &str, extra: &str) -> String {
    format!(
        "Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n\
         Category: 4; scheme=\"http://schemas.openstack.org/template/resource#\"; class=\"mixin\"\n\
         Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n\
         {extra}X-OCCI-Attribute: occi.core.title=\"{title}\"\n"
    )
}

/// The text/plain body of a 2 GB storage create with `extra` categories.
fn storage_body(title: &str, extra: &str) -> String {
    format!(
        "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\n\
         {extra}X-OCCI-Attribute: occi.core.title=\"{title}\"\n\
         X-OCCI-Attribute: occi.storage.size=2\n"
    )
}

async fn compute(gw: &Gateway, n: usize, title: &str) -> String {
    created(gw, n, "/compute/", compute_body(title, "")).await
}

async fn storage(gw: &Gateway, n: usize, title: &str) -> String {
    created(gw, n, "/storage/", storage_body(title, "")).await
}

async fn get(gw: &Gateway, n: usize, path: &str) -> (StatusCode, String) {
    let res = gw.client(n).get(gw.at(path)).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// POST (partial) or PUT (full) update of `path` as user `n`, text/plain.
async fn update(
    gw: &Gateway,
    n: usize,
    full: bool,
    path: &str,
    body: String,
) -> (StatusCode, String) {
    gw.update(n, full, path, "text/plain", body).await
}

/// The locations `GET /<term>/` lists (as paths).
async fn tagged(gw: &Gateway, n: usize, term: &str) -> Vec<String> {
    let (status, body) = get(gw, n, &format!("/{term}/")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.lines()
        .filter_map(|l| l.strip_prefix("X-OCCI-Location: "))
        .map(|l| l.trim().strip_prefix(&gw.url).unwrap_or(l).to_owned())
        .collect()
}

/// Whether a text rendering carries the tags mixin `term`.
fn carries(rendering: &str, term: &str) -> bool {
    rendering.contains(&format!(
        "Category: {term}; scheme=\"{TAGS}\"; class=\"mixin\""
    ))
}

/// The partial update adds mixins (the others stay), the full update
/// makes the entity's mixins exactly the ones it names; the answer and
/// later reads show it, and so do the mixin collections.
#[tokio::test]
async fn user_mixins_are_added_by_post_and_replaced_by_put_on_a_compute_and_a_storage() {
    let gw = start_gateway().await;
    define(&gw, 0, "prod").await;
    define(&gw, 0, "web").await;
    let vm = compute(&gw, 0, "vm").await;
    let disk = storage(&gw, 0, "disk").await;
    for (path, kind) in [(&vm, "compute"), (&disk, "storage")] {
        let (status, answer) = update(&gw, 0, false, path, tag("prod")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        assert!(
            carries(&answer, "prod"),
            "the answer shows the mixin: {answer}"
        );
        let (_, shown) = get(&gw, 0, path).await;
        assert!(carries(&shown, "prod"), "{shown}");
        assert!(tagged(&gw, 0, "prod").await.contains(path));

        // Partial: web is added, prod stays.
        let (status, answer) = update(&gw, 0, false, path, tag("web")).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(
            carries(&answer, "prod") && carries(&answer, "web"),
            "{answer}"
        );

        // Full: exactly web (with the kind and a title, as a client PUTs).
        let (status, answer) = update(
            &gw,
            0,
            true,
            path,
            format!(
                "Category: {kind}; scheme=\"{INFRA}\"; class=\"kind\"\n{}\
                 X-OCCI-Attribute: occi.core.title=\"{kind}-renamed\"\n",
                tag("web")
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(
            !carries(&answer, "prod") && carries(&answer, "web"),
            "{answer}"
        );
        assert!(answer.contains(&format!("{kind}-renamed")), "{answer}");
        assert!(!tagged(&gw, 0, "prod").await.contains(path));
        assert!(tagged(&gw, 0, "web").await.contains(path));

        // Full without mixins: none left.
        let (status, answer) = update(&gw, 0, true, path, String::new()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let (_, shown) = get(&gw, 0, path).await;
        assert!(
            !carries(&shown, "prod") && !carries(&shown, "web"),
            "{shown}"
        );
        assert!(!tagged(&gw, 0, "web").await.contains(path));
    }
    // The computes' templates are untouched by all this.
    let (_, shown) = get(&gw, 0, &vm).await;
    assert!(
        shown.contains("Category: Debian; scheme=\"http://schemas.openstack.org/template/os#\""),
        "{shown}"
    );
}

/// An update naming a mixin the caller has not defined (another user's
/// of the same scheme and term included) is a 400 naming it, and changes
/// nothing: no mixin stored, no rename sent to Synnefo.
#[tokio::test]
async fn an_unknown_or_another_users_mixin_is_400_and_changes_nothing() {
    let gw = start_gateway().await;
    define(&gw, 0, "web").await;
    define(&gw, 1, "prod").await; // bob's, not alice's
    let vm = compute(&gw, 0, "vm").await;
    let disk = storage(&gw, 0, "disk").await;
    for path in [&vm, &disk] {
        for full in [false, true] {
            gw.sim.reset_counters();
            let (status, body) = update(
                &gw,
                0,
                full,
                path,
                format!(
                    "{}{}X-OCCI-Attribute: occi.core.title=\"renamed\"\n",
                    tag("web"),
                    tag("prod")
                ),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert!(
                body.contains(&format!(
                    "no mixin {TAGS}prod: define it with POST /-/ first"
                )),
                "{body}"
            );
            let writes: Vec<_> = gw
                .calls()
                .into_iter()
                .filter(|(k, _)| !k.starts_with("GET"))
                .collect();
            assert!(writes.is_empty(), "nothing was sent to Synnefo: {writes:?}");
            let (_, shown) = get(&gw, 0, path).await;
            assert!(!shown.contains("renamed"), "not renamed: {shown}");
            assert!(!carries(&shown, "web"), "web not stored: {shown}");
        }
    }
    assert!(tagged(&gw, 0, "web").await.is_empty());
    assert!(
        tagged(&gw, 1, "prod").await.is_empty(),
        "bob's mixin untouched"
    );
    // Bob's own mixin on alice's compute: bob cannot see the compute.
    let (status, _) = update(&gw, 1, false, &vm, tag("prod")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(tagged(&gw, 1, "prod").await.is_empty());
}

/// Categories that cannot be part of an update are 400s naming them.
#[tokio::test]
async fn other_kinds_actions_and_foreign_provider_mixins_are_400() {
    let gw = start_gateway().await;
    let disk = storage(&gw, 0, "disk").await;
    let vm = compute(&gw, 0, "vm").await;
    for (path, body, says) in [
        (
            &disk,
            format!("Category: compute; scheme=\"{INFRA}\"; class=\"kind\"\n"),
            "an update cannot make it",
        ),
        (
            &disk,
            "Category: ipnetwork; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n".to_owned(),
            "does not apply to",
        ),
        (
            &disk,
            format!("Category: {DEBIAN_ID}; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"\n"),
            "applies to computes only",
        ),
        (
            &vm,
            "Category: stop; scheme=\"http://schemas.ogf.org/occi/infrastructure/compute/action#\"; class=\"action\"\n".to_owned(),
            "?action=stop",
        ),
        (
            &vm,
            "Category: nothing; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"\n".to_owned(),
            "no mixin http://schemas.ogf.org/occi/infrastructure#nothing",
        ),
    ] {
        let (status, answer) = update(&gw, 0, false, path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer.contains(says), "{body}: {answer}");
    }
    // The seed's way of naming templates (by name, infrastructure scheme)
    // still means the compute's templates in an update.
    let (status, answer) = update(
        &gw,
        0,
        false,
        &vm,
        format!("Category: Debian; scheme=\"{INFRA}\"\n"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Every kind takes the caller's mixins, and a full update that resends
/// the entity's own rendering (what pOCCI does) with them passes.
#[tokio::test]
async fn every_kind_takes_user_mixins_and_its_own_rendering_back() {
    let gw = start_gateway().await;
    define(&gw, 0, "prod").await;
    // Flavor 4 (ext_archipelago), so that the storage can be linked to it.
    let body = compute_body("vm", "").replace("Category: 1;", "Category: 4;");
    let vm = created(&gw, 0, "/compute/", body).await;
    let disk = storage(&gw, 0, "disk").await;
    let net = created(
        &gw,
        0,
        "/network/",
        format!(
            "Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n\
             Category: ipnetwork; scheme=\"http://schemas.ogf.org/occi/infrastructure/network#\"; class=\"mixin\"\n\
             X-OCCI-Attribute: occi.network.address=\"10.8.0.0/24\"\n\
             X-OCCI-Attribute: occi.network.gateway=\"10.8.0.1\"\n"
        ),
    )
    .await;
    let link = |kind: &str, target: &str| {
        format!(
            "Category: {kind}; scheme=\"{INFRA}\"; class=\"kind\"\n\
             X-OCCI-Attribute: occi.core.source=\"{vm}\"\n\
             X-OCCI-Attribute: occi.core.target=\"{target}\"\n"
        )
    };
    let attachment = created(&gw, 0, "/storagelink/", link("storagelink", &disk)).await;
    let interface = created(&gw, 0, "/networkinterface/", link("networkinterface", &net)).await;
    let ip = created(
        &gw,
        0,
        "/ipreservation/",
        format!("Category: ipreservation; scheme=\"{INFRA}\"; class=\"kind\"\n"),
    )
    .await;
    let entities = [&vm, &disk, &net, &attachment, &interface, &ip];
    for path in entities {
        let (status, answer) = update(&gw, 0, false, path, tag("prod")).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        assert!(carries(&answer, "prod"), "{path}: {answer}");
    }
    let listed = tagged(&gw, 0, "prod").await;
    for path in entities {
        assert!(listed.contains(path), "{path} in {listed:?}");
    }
    for path in entities {
        let (_, shown) = get(&gw, 0, path).await;
        // Its own rendering (the mixin included), as pOCCI PUTs it back.
        let (status, answer) = update(&gw, 0, true, path, shown.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}\nsent:\n{shown}");
        assert!(carries(&answer, "prod"), "{path}: {answer}");
    }
    // A link's attributes cannot change: 409 naming the attribute, and
    // the mixin of the refused update is not stored.
    define(&gw, 0, "web").await;
    for (path, attribute, value) in [
        (&attachment, "occi.core.target", "/storage/424242"),
        (&interface, "occi.networkinterface.address", "10.8.0.99"),
        (&ip, "occi.ipreservation.address", "192.0.2.1"),
    ] {
        let (status, answer) = update(
            &gw,
            0,
            false,
            path,
            format!("{}X-OCCI-Attribute: {attribute}=\"{value}\"\n", tag("web")),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {answer}");
        assert!(answer.contains(attribute), "{answer}");
    }
    assert!(tagged(&gw, 0, "web").await.is_empty());
}

/// A JSON partial update (`application/occi+json`) tags and renames.
#[tokio::test]
async fn json_updates_take_mixins_too() {
    let gw = start_gateway().await;
    define(&gw, 0, "prod").await;
    let disk = storage(&gw, 0, "disk").await;
    let res = gw
        .client(0)
        .post(gw.at(&disk))
        .header("content-type", "application/occi+json")
        .header("accept", "application/occi+json")
        .body(format!(
            r#"{{"kind": "{INFRA}storage", "mixins": ["{TAGS}prod"], "title": "json-disk"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(answer["title"], "json-disk", "{answer}");
    let mixins = answer["mixins"].as_array().expect("mixins");
    assert!(
        mixins.iter().any(|m| *m == format!("{TAGS}prod")),
        "{answer}"
    );
    assert_eq!(tagged(&gw, 0, "prod").await, std::slice::from_ref(&disk));
    // An unknown one: 400, as in text.
    let res = gw
        .client(0)
        .put(gw.at(&disk))
        .header("content-type", "application/occi+json")
        .body(format!(
            r#"{{"kind": "{INFRA}storage", "mixins": ["{TAGS}nope"]}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("no mixin {TAGS}nope"))
    );
    assert_eq!(tagged(&gw, 0, "prod").await, [disk]);
}

/// When Synnefo refuses the update after the mixins were stored, they
/// are put back: the failed update leaves nothing behind.
#[tokio::test]
async fn a_failed_synnefo_update_restores_the_mixins() {
    let gw = start_gateway().await;
    define(&gw, 0, "prod").await;
    define(&gw, 0, "web").await;
    let disk = storage(&gw, 0, "disk").await;
    let (status, _) = update(&gw, 0, false, &disk, tag("prod")).await;
    assert_eq!(status, StatusCode::OK);
    gw.sim.set_faults(FaultSettings {
        error_rate: 1.0,
        routes: vec!["PUT /volume/v2.0/volumes/{id}".into()],
        ..FaultSettings::default()
    });
    for full in [false, true] {
        let (status, body) = update(
            &gw,
            0,
            full,
            &disk,
            format!(
                "{}X-OCCI-Attribute: occi.core.title=\"renamed\"\n",
                tag("web")
            ),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert_eq!(
            tagged(&gw, 0, "prod").await,
            std::slice::from_ref(&disk),
            "prod restored"
        );
        assert!(tagged(&gw, 0, "web").await.is_empty(), "web undone");
    }
    gw.sim.set_faults(FaultSettings::default());
    let (_, shown) = get(&gw, 0, &disk).await;
    assert!(shown.contains("\"disk\""), "{shown}");
}

/// A create naming the caller's mixins (text/plain) tags the new compute
/// and storage: a later GET shows the mixins and `GET /<term>/` lists the
/// entities; the compute's templates keep their meaning.
#[tokio::test]
async fn creates_tag_the_new_compute_and_storage_with_user_mixins() {
    let gw = start_gateway().await;
    define(&gw, 0, "prod").await;
    define(&gw, 0, "web").await;
    let both = format!("{}{}", tag("prod"), tag("web"));
    let vm = created(&gw, 0, "/compute/", compute_body("vm", &both)).await;
    let disk = created(&gw, 0, "/storage/", storage_body("disk", &tag("prod"))).await;
    assert!(vm.starts_with("/compute/") && disk.starts_with("/storage/"));
    let (_, shown) = get(&gw, 0, &vm).await;
    assert!(carries(&shown, "prod") && carries(&shown, "web"), "{shown}");
    assert!(
        shown.contains("Category: Debian; scheme=\"http://schemas.openstack.org/template/os#\""),
        "templates kept: {shown}"
    );
    let (_, shown) = get(&gw, 0, &disk).await;
    assert!(
        carries(&shown, "prod") && !carries(&shown, "web"),
        "{shown}"
    );
    let mut prod = tagged(&gw, 0, "prod").await;
    prod.sort();
    let mut want = vec![vm.clone(), disk.clone()];
    want.sort();
    assert_eq!(prod, want);
    assert_eq!(tagged(&gw, 0, "web").await, std::slice::from_ref(&vm));
    // Deleting the entity drops its associations.
    let res = gw.client(0).delete(gw.at(&disk)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(tagged(&gw, 0, "prod").await, [vm]);
}

/// A text/occi create (categories in headers) tags the new entity too.
#[tokio::test]
async fn text_occi_creates_take_user_mixins() {
    let gw = start_gateway().await;
    define(&gw, 0, "prod").await;
    let res = gw
        .client(0)
        .post(gw.at("/storage/"))
        .header("content-type", "text/occi")
        .header(
            "category",
            format!(
                "storage; scheme=\"{INFRA}\"; class=\"kind\", \
                 prod; scheme=\"{TAGS}\"; class=\"mixin\""
            ),
        )
        .header("x-occi-attribute", "occi.storage.size=2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let disk = location.strip_prefix(&gw.url).unwrap().to_owned();
    let res = gw
        .client(0)
        .get(gw.at(&disk))
        .header("accept", "text/occi")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let categories: Vec<_> = res
        .headers()
        .get_all("category")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        categories
            .iter()
            .any(|c| c.contains(&format!("prod; scheme=\"{TAGS}\""))),
        "{categories:?}"
    );
    assert_eq!(tagged(&gw, 0, "prod").await, [disk]);
}

/// A create naming a mixin the caller has not defined (another user's of
/// the same scheme and term included) is a 400 naming it, and nothing is
/// created: no Synnefo write, no server or volume, no mixin stored.
#[tokio::test]
async fn a_create_with_an_unknown_or_another_users_mixin_is_400_and_creates_nothing() {
    let gw = start_gateway().await;
    define(&gw, 0, "web").await;
    define(&gw, 1, "prod").await; // bob's, not alice's
    let before = gw.sim_state().await;
    for (collection, body) in [
        (
            "/compute/",
            compute_body("vm", &format!("{}{}", tag("web"), tag("prod"))),
        ),
        (
            "/storage/",
            storage_body("disk", &format!("{}{}", tag("web"), tag("prod"))),
        ),
        ("/storage/", storage_body("disk", &tag("nope"))),
        (
            "/network/",
            format!(
                "Category: network; scheme=\"{INFRA}\"; class=\"kind\"\n{}",
                tag("prod")
            ),
        ),
        (
            "/ipreservation/",
            format!(
                "Category: ipreservation; scheme=\"{INFRA}\"; class=\"kind\"\n{}",
                tag("prod")
            ),
        ),
    ] {
        gw.sim.reset_counters();
        let (status, location, answer) = gw.post_text(0, collection, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{collection}: {answer}");
        assert!(location.is_none());
        assert!(
            answer.contains(&format!("no mixin {TAGS}"))
                && answer.contains("define it with POST /-/ first"),
            "{collection}: {answer}"
        );
        let writes: Vec<_> = gw
            .calls()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("GET"))
            .collect();
        assert!(writes.is_empty(), "nothing sent to Synnefo: {writes:?}");
    }
    assert_eq!(gw.sim_state().await, before, "nothing created");
    assert!(tagged(&gw, 0, "web").await.is_empty());
    assert!(tagged(&gw, 1, "prod").await.is_empty(), "bob's untouched");
}

/// A JSON create (`"mixins": [...]`) tags the new entity: the 201 answer
/// and a later GET carry the mixin; an unknown one is a 400.
#[tokio::test]
async fn json_creates_take_user_mixins() {
    let gw = start_gateway().await;
    define(&gw, 0, "prod").await;
    let create = |body: String| {
        gw.client(0)
            .post(gw.at("/compute/"))
            .header("content-type", "application/occi+json")
            .header("accept", "application/occi+json")
            .body(body)
            .send()
    };
    let body = |mixin: &str| {
        format!(
            r#"{{"kind": "{INFRA}compute", "title": "json-vm", "mixins": ["http://schemas.openstack.org/template/resource#1", "http://schemas.openstack.org/template/os#{DEBIAN_ID}", "{TAGS}{mixin}"]}}"#
        )
    };
    let res = create(body("prod")).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let vm = location.strip_prefix(&gw.url).unwrap().to_owned();
    let answer: serde_json::Value = res.json().await.unwrap();
    let has_prod = |v: &serde_json::Value| {
        v["mixins"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| *m == format!("{TAGS}prod")))
    };
    assert!(has_prod(&answer), "{answer}");
    let shown: serde_json::Value = gw
        .client(0)
        .get(gw.at(&vm))
        .header("accept", "application/occi+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(has_prod(&shown), "{shown}");
    assert_eq!(tagged(&gw, 0, "prod").await, std::slice::from_ref(&vm));

    let servers = gw.sim_state().await["servers"].clone();
    let res = create(body("nope")).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("no mixin {TAGS}nope"))
    );
    assert_eq!(gw.sim_state().await["servers"], servers, "nothing created");
}

/// A create whose user-mixin write fails after Synnefo made the entity
/// deletes it again: the answer is the store's 5xx and nothing is left.
/// The store fails for real: its association table is dropped behind the
/// gateway's back, through a second connection to the same SQLite file.
#[tokio::test]
async fn a_create_whose_tagging_fails_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("store.db").display()
    );
    let gw = common::start_gateway_config(
        |_| {},
        |identity| common::occi_toml(identity, "").replace("sqlite::memory:", &db),
    )
    .await;
    define(&gw, 0, "prod").await;
    // Read once, so the user's mixins are held in memory (the SQLite
    // default) and the create gets as far as Synnefo before the store
    // fails.
    let (status, _) = get(&gw, 0, "/-/").await;
    assert_eq!(status, StatusCode::OK);
    let behind = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("DROP TABLE mixin_associations")
        .execute(&behind)
        .await
        .unwrap();
    for (collection, body) in [
        ("/compute/", compute_body("vm", &tag("prod"))),
        ("/storage/", storage_body("disk", &tag("prod"))),
    ] {
        let (status, location, text) = gw.post_text(0, collection, body).await;
        assert_eq!(
            status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{collection}: {text}"
        );
        assert!(text.contains("mixin store"), "names what failed: {text}");
        assert!(
            location.is_none(),
            "{collection}: no Location for what was undone"
        );
        assert!(!text.contains("alice-token"), "{text}");
    }
    let state = gw.sim_state().await;
    assert_eq!(
        state["servers"], 0,
        "the compute was deleted again: {state}"
    );
    assert_eq!(state["servers_deleted"], 1, "{state}");
    let (_, listed) = get(&gw, 0, "/storage/").await;
    assert!(
        !listed.contains("disk"),
        "the volume was deleted again: {listed}"
    );
}
