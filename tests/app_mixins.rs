//! End-to-end tests of user mixin definitions over real sockets: a
//! definition (or a reference to a category) that breaks the OCCI 1.2
//! grammar is a 400 naming the field, in every input rendering; a user
//! mixin cannot take a provider scheme or a path the gateway does not
//! serve it at; mixins and associations per user are capped (409 naming
//! the cap, nothing stored); and what a store written by an older version
//! holds is never rendered into a broken answer.

mod common;

use common::{Gateway, occi_toml, start_gateway, start_gateway_config};
use reqwest::StatusCode;
use serde_json::json;
use snf_occi::store::{Store, StoreConfig, UserMixin};

const INFRA: &str = "http://schemas.ogf.org/occi/infrastructure#";
const TAGS: &str = "http://example.com/tags#";

/// `POST /-/` as user `n` with `body` in `content_type`: status and body.
async fn define_as(
    gw: &Gateway,
    n: usize,
    content_type: &str,
    body: String,
) -> (StatusCode, String) {
    let res = gw
        .client(n)
        .post(gw.at("/-/"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST /-/ reaches the gateway");
    (res.status(), res.text().await.expect("body"))
}

/// A JSON mixin definition body.
fn json_mixins(mixins: serde_json::Value) -> String {
    json!({ "mixins": mixins }).to_string()
}

/// Defines the tags mixin `term` (location `/<term>/`) for user `n`.
async fn define(gw: &Gateway, n: usize, term: &str) {
    let (status, body) = define_as(
        gw,
        n,
        "text/plain",
        format!("Category: {term}; scheme=\"{TAGS}\"; class=\"mixin\"; location=\"/{term}/\"\n"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// `GET path` as user `n` in `accept`: status, `Category` headers and body.
async fn get_as(
    gw: &Gateway,
    n: usize,
    path: &str,
    accept: &str,
) -> (StatusCode, Vec<String>, String) {
    let res = gw
        .client(n)
        .get(gw.at(path))
        .header("accept", accept)
        .send()
        .await
        .expect("GET reaches the gateway");
    let status = res.status();
    let categories = res
        .headers()
        .get_all("category")
        .iter()
        .map(|v| v.to_str().expect("ASCII header").to_owned())
        .collect();
    (status, categories, res.text().await.expect("body"))
}

/// The terms of the user mixins (scheme `scheme`) the query interface
/// shows user `n`, in JSON.
async fn user_terms(gw: &Gateway, n: usize, scheme: &str) -> Vec<String> {
    let (status, _, body) = get_as(gw, n, "/-/", "application/occi+json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    v["mixins"]
        .as_array()
        .expect("mixins")
        .iter()
        .filter(|m| m["scheme"] == scheme)
        .map(|m| m["term"].as_str().expect("term").to_owned())
        .collect()
}

/// The text/plain body of a 2 GB storage create with `extra` lines.
fn storage_body(extra: &str) -> String {
    format!(
        "Category: storage; scheme=\"{INFRA}\"; class=\"kind\"\n\
         {extra}X-OCCI-Attribute: occi.storage.size=2\n"
    )
}

async fn storage(gw: &Gateway, n: usize) -> String {
    let (status, location, body) = gw.post_text(n, "/storage/", storage_body("")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    location
        .expect("Location")
        .strip_prefix(&gw.url)
        .expect("our URL")
        .to_owned()
}

/// Every line of a text/plain OCCI body is one OCCI field.
fn assert_well_formed(body: &str) {
    for line in body.lines() {
        assert!(
            [
                "Category: ",
                "Link: ",
                "X-OCCI-Attribute: ",
                "X-OCCI-Location: "
            ]
            .iter()
            .any(|f| line.starts_with(f)),
            "a line that is no OCCI field: {line:?} in\n{body}"
        );
    }
}

/// The attacks and their kin, in JSON and text/plain: each is a
/// 400 naming the field and the rule, nothing is stored, and the query
/// interface keeps its `Category` headers (a CR/LF in a stored term made
/// text/occi drop all of them, and forged lines in text/plain).
#[tokio::test]
async fn definitions_that_break_the_grammar_are_400_naming_the_field() {
    let gw = start_gateway().await;
    let json_cases = [
        (
            json!([{"term": "evil\r\nCategory: injected", "scheme": TAGS, "location": "/evil/"}]),
            "category term",
        ),
        (
            json!([{"term": "forged\"; class=\"kind", "scheme": TAGS, "location": "/forged/"}]),
            "category term",
        ),
        (
            json!([{"term": "_hidden", "scheme": TAGS, "location": "/hidden/"}]),
            "category term",
        ),
        (
            json!([{"term": "noend", "scheme": "http://example.com/tags", "location": "/noend/"}]),
            "category scheme",
        ),
        (
            json!([{"term": "rel", "scheme": "tags#", "location": "/rel/"}]),
            "category scheme",
        ),
        (
            json!([{"term": "quote", "scheme": "http://example.com/\"x#", "location": "/quote/"}]),
            "category scheme",
        ),
        (
            json!([{"term": "titled", "scheme": TAGS, "title": "two\r\nlines", "location": "/titled/"}]),
            "category title",
        ),
        (
            json!([{"term": "located", "scheme": TAGS, "location": "/a\"b/"}]),
            "category location",
        ),
        // One bad definition among good ones: none of them is stored.
        (
            json!([
                {"term": "fine", "scheme": TAGS, "location": "/fine/"},
                {"term": "bad term", "scheme": TAGS, "location": "/bad/"},
            ]),
            "category term",
        ),
    ];
    for (mixins, field) in json_cases {
        let (status, body) =
            define_as(&gw, 0, "application/occi+json", json_mixins(mixins.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{mixins}: {body}");
        assert!(
            body.contains(field),
            "{mixins}: the answer names {field}: {body}"
        );
    }
    let text_cases = [
        (
            "Category: -x; scheme=\"http://example.com/tags#\"; class=\"mixin\"; location=\"/x/\"",
            "category term",
        ),
        (
            "Category: x; scheme=\"http://example.com/tags\"; class=\"mixin\"; location=\"/x/\"",
            "category scheme",
        ),
        (
            "Category: x; scheme=\"http://example.com/tags#\"; class=\"mixin\"; title=\"a\\nb\"; location=\"/x/\"",
            "category title",
        ),
    ];
    for (line, field) in text_cases {
        let (status, body) = define_as(&gw, 0, "text/plain", format!("{line}\n")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{line}: {body}");
        assert!(
            body.contains(field),
            "{line}: the answer names {field}: {body}"
        );
    }
    assert!(
        user_terms(&gw, 0, TAGS).await.is_empty(),
        "nothing was stored"
    );

    // Naming a category that breaks the grammar is refused the same way
    // wherever a client names one: a create, an update.
    let create = json!({"kind": format!("{INFRA}storage"), "mixins": [format!("{TAGS}a\r\nb")],
                        "attributes": {"occi.storage.size": 2}});
    let res = gw
        .client(0)
        .post(gw.at("/storage/"))
        .header("content-type", "application/occi+json")
        .body(create.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("category term"));
    let disk = storage(&gw, 0).await;
    let (status, body) = gw
        .update(
            0,
            false,
            &disk,
            "text/plain",
            format!("Category: x; scheme=\"{TAGS}\"; class=\"mixin\"; rel=\"nohash\"\n"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("category type id"), "{body}");

    // The query interface is whole in every rendering.
    define(&gw, 0, "good").await;
    let (status, categories, body) = get_as(&gw, 0, "/-/", "text/occi").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let joined = categories.join(", ");
    assert!(
        joined.contains("compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\""),
        "{joined}"
    );
    assert!(
        joined.contains(&format!("good; scheme=\"{TAGS}\"; class=\"mixin\"")),
        "{joined}"
    );
    let (_, _, plain) = get_as(&gw, 0, "/-/", "text/plain").await;
    assert_well_formed(&plain);
    assert_eq!(user_terms(&gw, 0, TAGS).await, ["good"]);
}

/// A user mixin may not pass for the provider's: OCCI's schemes and the
/// templates' are refused (403), and so is a location that another
/// mounted service answers (here `/status`, mounted in `[urlmap]`).
#[tokio::test]
async fn provider_schemes_and_mounted_paths_are_refused() {
    let gw = start_gateway_config(
        |_| {},
        |identity_url| {
            occi_toml(identity_url, "").replace(
                "[pipeline]",
                "[urlmap]\n\"/\" = \"pipeline\"\n\"/healthz\" = \"healthz\"\n\"/status\" = \"healthz\"\n\n[pipeline]",
            )
        },
    )
    .await;
    for (scheme, location) in [
        ("http://schemas.openstack.org/template/os#", "/mine/"),
        ("http://schemas.openstack.org/template/resource#", "/mine/"),
        ("http://schemas.ogf.org/occi/infrastructure#", "/mine/"),
        ("http://schemas.ogf.org/occi/my-own#", "/mine/"),
        ("http://schemas.synnefo.org/template/storage#", "/mine/"),
        (TAGS, "/status/"),
        (TAGS, "/status/deeper/"),
        (TAGS, "/compute/mine/"),
    ] {
        let (status, body) = define_as(
            &gw,
            0,
            "text/plain",
            format!(
                "Category: mine; scheme=\"{scheme}\"; class=\"mixin\"; location=\"{location}\"\n"
            ),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{scheme} {location}: {body}");
        assert!(body.contains("belongs to the provider"), "{body}");
    }
    // /statusx/ is not under the mount: the mixin is served there.
    let (status, body) = define_as(
        &gw,
        0,
        "text/plain",
        format!("Category: mine; scheme=\"{TAGS}\"; class=\"mixin\"; location=\"/statusx/\"\n"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = get_as(&gw, 0, "/statusx/", "text/plain").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The gateway of these tests with `store_extra` in its `[store]` table.
async fn capped_gateway(store_extra: &str) -> Gateway {
    let store_extra = store_extra.to_owned();
    start_gateway_config(
        |_| {},
        move |identity_url| {
            occi_toml(identity_url, "").replace(
                "url = \"sqlite::memory:\"",
                &format!("url = \"sqlite::memory:\"\n{store_extra}"),
            )
        },
    )
    .await
}

/// The request: 5,000 mixins in one request. With the default cap
/// (1,000) it is a 409 naming the cap, and none of them is stored.
#[tokio::test]
async fn one_request_cannot_store_thousands_of_mixins() {
    let gw = start_gateway().await;
    let mixins: Vec<serde_json::Value> = (0..5000)
        .map(|n| json!({"term": format!("t{n}"), "scheme": TAGS, "location": format!("/t{n}/")}))
        .collect();
    let (status, body) =
        define_as(&gw, 0, "application/occi+json", json_mixins(json!(mixins))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("store.max_mixins_per_user = 1000"), "{body}");
    assert!(user_terms(&gw, 0, TAGS).await.is_empty());
}

/// `store.max_mixins_per_user` and `store.max_associations_per_user`:
/// every write past a cap is a 409 naming it and changes nothing, per
/// user; a create past the association cap makes no entity.
#[tokio::test]
async fn mixins_and_associations_per_user_are_capped() {
    let gw = capped_gateway("max_mixins_per_user = 3\nmax_associations_per_user = 2\n").await;
    let four: Vec<serde_json::Value> = (1..=4)
        .map(|n| json!({"term": format!("t{n}"), "scheme": TAGS, "location": format!("/t{n}/")}))
        .collect();
    let (status, body) = define_as(&gw, 0, "application/occi+json", json_mixins(json!(four))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains("store.max_mixins_per_user = 3"), "{body}");
    assert!(
        user_terms(&gw, 0, TAGS).await.is_empty(),
        "none of the four stored"
    );
    for term in ["t1", "t2", "t3"] {
        define(&gw, 0, term).await;
    }
    let (status, body) = define_as(
        &gw,
        0,
        "text/plain",
        format!("Category: t4; scheme=\"{TAGS}\"; class=\"mixin\"; location=\"/t4/\"\n"),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Defining one again is no growth; Bob has a cap of his own.
    define(&gw, 0, "t1").await;
    define(&gw, 1, "t4").await;
    assert_eq!(user_terms(&gw, 0, TAGS).await, ["t1", "t2", "t3"]);

    // Associations: three storages into /t1/ is one too many.
    let disks = [
        storage(&gw, 0).await,
        storage(&gw, 0).await,
        storage(&gw, 0).await,
    ];
    let listed = |disks: &[String]| {
        disks
            .iter()
            .map(|d| format!("X-OCCI-Location: {}\n", gw.at(d)))
            .collect::<String>()
    };
    let (status, _, body) = gw.post_text(0, "/t1/", listed(&disks)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("store.max_associations_per_user = 2"),
        "{body}"
    );
    let (_, _, body) = get_as(&gw, 0, "/t1/", "text/plain").await;
    assert!(!body.contains("X-OCCI-Location"), "nothing tagged: {body}");
    let (status, _, body) = gw.post_text(0, "/t1/", listed(&disks[..2])).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // At the cap, an update adding a mixin changes nothing ...
    let (status, body) = gw
        .update(
            0,
            false,
            &disks[2],
            "text/plain",
            format!("Category: t2; scheme=\"{TAGS}\"; class=\"mixin\"\n"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, _, shown) = get_as(&gw, 0, &disks[2], "text/plain").await;
    assert!(!shown.contains("t2; scheme"), "{shown}");
    // ... and a create naming one makes no entity.
    let volumes = gw.sim_state().await;
    let (status, _, body) = gw
        .post_text(
            0,
            "/storage/",
            storage_body(&format!(
                "Category: t2; scheme=\"{TAGS}\"; class=\"mixin\"\n"
            )),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.contains("store.max_associations_per_user = 2"),
        "{body}"
    );
    assert_eq!(gw.sim_state().await, volumes, "no volume was made");
}

/// A mixin of `alice`'s as a store written by an older version may hold.
fn stored(term: &str, scheme: &str, title: Option<&str>, location: &str) -> UserMixin {
    UserMixin {
        scheme: scheme.into(),
        term: term.into(),
        title: title.map(str::to_owned),
        location: location.into(),
    }
}

/// A store written by an older version holds mixins that break the
/// grammar (the CR/LF and quote among them). The gateway renders
/// the query interface and a tagged entity well-formed in every
/// rendering: those mixins are left out, everything else is shown.
#[tokio::test]
async fn a_store_written_by_an_older_version_is_rendered_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let gw = start_gateway_config(
        |_| {},
        |identity_url| {
            occi_toml(identity_url, "user_mixin_cache_ttl = \"0s\"\n")
                .replace("url = \"sqlite::memory:\"", &format!("url = \"{url}\""))
        },
    )
    .await;
    let disk = storage(&gw, 0).await;
    let old = Store::open(&StoreConfig::new(url.clone())).await.unwrap();
    let alice = gw.user(0);
    let good = stored("good", TAGS, Some("a \"quoted\"\ttitle"), "/good/");
    let bad = [
        stored(
            "evil\r\nCategory: injected; scheme=\"http://x#\"; class=\"kind\"",
            TAGS,
            None,
            "/evil/",
        ),
        stored("forged\"; class=\"kind", TAGS, None, "/forged/"),
        stored(
            "badscheme",
            "http://example.com/\"; class=\"kind\"#",
            None,
            "/badscheme/",
        ),
        stored("badlocation", TAGS, None, "/bad\"location/"),
    ];
    for m in std::iter::once(&good).chain(&bad) {
        old.create_mixin(&alice, m).await.unwrap();
        old.associate(&alice, &m.type_id(), std::slice::from_ref(&disk))
            .await
            .unwrap();
    }

    // The query interface.
    let (status, categories, body) = get_as(&gw, 0, "/-/", "text/occi").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let joined = categories.join(", ");
    assert!(
        joined.contains("storage; scheme=\"http://schemas.ogf.org/occi/infrastructure#\""),
        "{joined}"
    );
    assert!(
        joined.contains(&format!("good; scheme=\"{TAGS}\"; class=\"mixin\"; title=\"a \\\"quoted\\\"\\ttitle\"; location=\"/good/\"")),
        "{joined}"
    );
    for absent in ["injected", "forged", "badscheme", "badlocation"] {
        assert!(!joined.contains(absent), "{absent} in {joined}");
    }
    let (_, _, plain) = get_as(&gw, 0, "/-/", "text/plain").await;
    assert_well_formed(&plain);
    assert!(plain.contains("Category: good; scheme="), "{plain}");
    assert!(
        !plain.contains("injected") && !plain.contains("forged"),
        "{plain}"
    );
    assert_eq!(user_terms(&gw, 0, TAGS).await, ["good"]);

    // The tagged entity. It names its mixins by type id only, so the one
    // whose location alone is broken is shown there (as a type id).
    let (status, categories, body) = get_as(&gw, 0, &disk, "text/occi").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let joined = categories.join(", ");
    assert!(joined.starts_with("storage; scheme="), "{joined}");
    assert!(
        joined.contains(&format!("good; scheme=\"{TAGS}\"; class=\"mixin\"")),
        "{joined}"
    );
    for absent in ["injected", "forged", "badscheme"] {
        assert!(!joined.contains(absent), "{absent} in {joined}");
    }
    let (_, _, plain) = get_as(&gw, 0, &disk, "text/plain").await;
    assert_well_formed(&plain);
    assert!(plain.starts_with("Category: storage;"), "{plain}");
    let (_, _, body) = get_as(&gw, 0, &disk, "application/occi+json").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let user_mixins: Vec<&str> = v["mixins"]
        .as_array()
        .expect("mixins")
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| !m.starts_with("http://schemas."))
        .collect();
    assert_eq!(
        user_mixins,
        [format!("{TAGS}badlocation"), format!("{TAGS}good")],
        "{body}"
    );
}
