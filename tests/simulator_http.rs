//! The simulator over raw HTTP: the statuses, fault bodies, scoping,
//! astavoms facade, admin endpoint and configuration a real client sees.

use std::time::Duration;

use serde_json::{Value, json};

use snf_occi_simulator::{self as simulator, RunningSimulator, SimulatorConfig, SimulatorError};

#[allow(dead_code)]
#[path = "../middleware/tests/auth_support/pki.rs"]
mod pki;

/// A certificate's serial number, as an AC names its holder.
fn holder_serial(party: &pki::Party) -> &[u8] {
    party
        .params
        .serial_number
        .as_ref()
        .map(|s| s.as_ref())
        .unwrap_or_default()
}

const DEBIAN: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";
const DEMO: &str = "d3m0d3m0-0000-4000-8000-000000000001";

async fn sim() -> RunningSimulator {
    simulator::start(&SimulatorConfig::instant("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap()
}

struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    fn new(sim: &RunningSimulator) -> Http {
        Http {
            base: sim.url(),
            client: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.header("X-Auth-Token", t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn fault_kind(v: &Value) -> Option<&str> {
    let (key, inner) = v.as_object()?.iter().next()?;
    inner.get("message")?.as_str()?;
    inner.get("code")?.as_u64()?;
    Some(key)
}

#[tokio::test]
async fn every_api_call_needs_a_valid_token() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let paths = [
        "/compute/v2.0/servers",
        "/compute/v2.0/servers/detail",
        "/compute/v2.0/servers/101",
        "/compute/v2.0/flavors/detail",
        "/compute/v2.0/images/detail",
        "/network/v2.0/networks",
        "/network/v2.0/ports",
        "/network/v2.0/floatingips",
        "/network/v2.0/subnets",
        "/volume/v2.0/volumes/detail",
        "/image/v1.0/images",
        "/identity/v2.0/tenants",
    ];
    // No token is Cyclades' own 401; a token Astakos refuses is Astakos'
    // 401 passed on as a generic `fault` (`snf_django/lib/api`
    // `api_method`), Astakos' body in its details.
    for path in paths {
        let (status, body) = h.call("GET", path, None, None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(fault_kind(&body), Some("unauthorized"), "{path}: {body}");
        assert_eq!(body["unauthorized"]["code"], 401);
        let (status, body) = h.call("GET", path, Some("wrong"), None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(fault_kind(&body), Some("fault"), "{path}: {body}");
        assert_eq!(body["fault"]["message"], "UNAUTHORIZED", "{path}: {body}");
        let details = body["fault"]["details"].as_str().unwrap_or_default();
        assert!(details.contains("Invalid token"), "{path}: {body}");
    }
    let (status, body) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            None,
            Some(json!({"server": {}})),
        )
        .await;
    assert_eq!((status, fault_kind(&body)), (401, Some("unauthorized")));
}

#[tokio::test]
async fn statuses_are_the_ones_synnefo_answers() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let t = Some("alice-token");
    let (s, server) = h
        // Flavor 4 (ext_archipelago): its volumes can be attached and detached.
        .call("POST", "/compute/v2.0/servers", t, Some(json!({"server": {"name": "a", "flavorRef": 4, "imageRef": DEBIAN, "project": DEMO}})))
        .await;
    assert_eq!(s, 202);
    let id = server["server"]["id"].as_u64().expect("integer server id");
    assert_eq!(server["server"]["status"], "BUILD");
    assert_eq!(server["server"]["tenant_id"], DEMO);
    let (s, _) = h
        .call(
            "POST",
            &format!("/compute/v2.0/servers/{id}/action"),
            t,
            Some(json!({"shutdown": {}})),
        )
        .await;
    assert_eq!(s, 202);
    let (s, _) = h
        .call(
            "PUT",
            &format!("/compute/v2.0/servers/{id}"),
            t,
            Some(json!({"server": {"name": "b"}})),
        )
        .await;
    assert_eq!(s, 204);
    let (s, md) = h
        .call(
            "POST",
            &format!("/compute/v2.0/servers/{id}/metadata"),
            t,
            Some(json!({"metadata": {"k": "v"}})),
        )
        .await;
    assert_eq!((s, &md["metadata"]["k"]), (201, &json!("v")));
    let (s, vol) = h
        .call(
            "POST",
            "/volume/v2.0/volumes",
            t,
            Some(json!({"volume": {"size": 1, "display_name": "v", "volume_type": 1}})),
        )
        .await;
    assert_eq!(s, 202);
    let vid = vol["volume"]["id"].as_str().unwrap().to_owned();
    let (s, _) = h
        .call(
            "POST",
            &format!("/compute/v2.0/servers/{id}/os-volume_attachments"),
            t,
            Some(json!({"volumeAttachment": {"volumeId": vid}})),
        )
        .await;
    assert_eq!(s, 202);
    let (s, _) = h
        .call(
            "DELETE",
            &format!("/compute/v2.0/servers/{id}/os-volume_attachments/{vid}"),
            t,
            None,
        )
        .await;
    assert_eq!(s, 202);
    let (s, _) = h
        .call("DELETE", &format!("/volume/v2.0/volumes/{vid}"), t, None)
        .await;
    assert_eq!(s, 202);
    let (s, net) = h
        .call(
            "POST",
            "/network/v2.0/networks",
            t,
            Some(json!({"network": {"type": "MAC_FILTERED", "name": "n"}})),
        )
        .await;
    assert_eq!(s, 201);
    let nid = net["network"]["id"].as_str().unwrap().to_owned();
    let (s, _) = h
        .call(
            "POST",
            "/network/v2.0/subnets",
            t,
            Some(json!({"subnet": {"network_id": nid, "cidr": "10.1.0.0/24"}})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, fip) = h
        .call(
            "POST",
            "/network/v2.0/floatingips",
            t,
            Some(json!({"floatingip": {"floating_network_id": null}})),
        )
        .await;
    assert_eq!(s, 200, "Synnefo answers 200 to a floating IP create");
    let fid = fip["floatingip"]["id"].as_str().unwrap().to_owned();
    let (s, _) = h
        .call(
            "DELETE",
            &format!("/network/v2.0/floatingips/{fid}"),
            t,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = h
        .call("DELETE", &format!("/network/v2.0/networks/{nid}"), t, None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = h
        .call("DELETE", &format!("/compute/v2.0/servers/{id}"), t, None)
        .await;
    assert_eq!(s, 204);
    let (s, body) = h
        .call("DELETE", &format!("/compute/v2.0/servers/{id}"), t, None)
        .await;
    assert_eq!(
        (s, fault_kind(&body)),
        (400, Some("badRequest")),
        "deleting twice"
    );
}

#[tokio::test]
async fn faults_for_bad_input() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let t = Some("alice-token");
    let cases: Vec<(&str, &str, Option<Value>, u16, &str)> = vec![
        (
            "POST",
            "/compute/v2.0/servers",
            Some(json!("not an object")),
            400,
            "badRequest",
        ),
        (
            "POST",
            "/compute/v2.0/servers",
            Some(json!({"server": {"name": "x", "flavorRef": 1}})),
            400,
            "badRequest",
        ),
        (
            "POST",
            "/compute/v2.0/servers",
            Some(json!({"server": {"name": "x", "flavorRef": 999, "imageRef": DEBIAN}})),
            404,
            "itemNotFound",
        ),
        (
            "POST",
            "/compute/v2.0/servers",
            Some(json!({"server": {"name": "x", "flavorRef": 6, "imageRef": DEBIAN}})),
            403,
            "forbidden",
        ),
        (
            "POST",
            "/compute/v2.0/servers",
            Some(
                json!({"server": {"name": "x", "flavorRef": 1, "imageRef": DEBIAN, "project": "not-mine"}}),
            ),
            403,
            "forbidden",
        ),
        (
            "POST",
            "/compute/v2.0/servers",
            Some(
                json!({"server": {"name": "x", "flavorRef": 1, "imageRef": DEBIAN, "networks": [{"uuid": "424242"}]}}),
            ),
            404,
            "itemNotFound",
        ),
        (
            "GET",
            "/compute/v2.0/servers/abc",
            None,
            404,
            "itemNotFound",
        ),
        // Cyclades checks the action before the server.
        (
            "POST",
            "/compute/v2.0/servers/101/action",
            Some(json!({"fly": {}})),
            400,
            "badRequest",
        ),
        (
            "POST",
            "/network/v2.0/networks",
            Some(json!({"network": {"name": "n"}})),
            400,
            "badRequest",
        ),
        (
            "POST",
            "/network/v2.0/networks",
            Some(json!({"network": {"name": "n", "type": "WIFI"}})),
            400,
            "badRequest",
        ),
        ("DELETE", "/network/v2.0/networks/1", None, 403, "forbidden"),
        (
            "POST",
            "/volume/v2.0/volumes",
            Some(json!({"volume": {"size": -1, "volume_type": 1}})),
            400,
            "badRequest",
        ),
        (
            "POST",
            "/volume/v2.0/volumes",
            Some(json!({"volume": {"size": 1, "display_name": "v", "volume_type": 77}})),
            400,
            "badRequest",
        ),
        (
            "GET",
            "/compute/v2.0/no-such-thing",
            None,
            400,
            "badRequest",
        ),
        ("DELETE", "/compute/v2.0/flavors", None, 405, "badMethod"),
    ];
    for (method, path, body, status, kind) in cases {
        let (s, answer) = h.call(method, path, t, body.clone()).await;
        assert_eq!(
            (s, fault_kind(&answer)),
            (status, Some(kind)),
            "{method} {path} {body:?}: {answer}"
        );
    }
    // Unparsable JSON.
    let response = reqwest::Client::new()
        .post(format!("{}/compute/v2.0/servers", sim.url()))
        .header("X-Auth-Token", "alice-token")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// `PUT /volumes/{id}` and `PUT /networks/{id}` as Cyclades answers them
/// (`volume/views.py` `update_volume`, `api/networks.py`
/// `update_network`): 200 with the changed object; 404 for another
/// user's or an unknown id; 400 for nothing to update, bad fields and
/// names that are too long; 403 for the public network.
#[tokio::test]
async fn volumes_and_networks_are_renamed_as_cyclades_does() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let (alice, bob) = (Some("alice-token"), Some("bob-token"));
    let (s, vol) = h
        .call(
            "POST",
            "/volume/v2.0/volumes",
            alice,
            Some(json!({"volume": {"size": 2, "display_name": "v", "volume_type": 1}})),
        )
        .await;
    assert_eq!(s, 202);
    let vid = vol["volume"]["id"].as_str().unwrap().to_owned();
    let vpath = format!("/volume/v2.0/volumes/{vid}");
    let (s, updated) = h
        .call(
            "PUT",
            &vpath,
            alice,
            Some(json!({"volume": {"display_name": "renamed", "display_description": "d"}})),
        )
        .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["volume"]["display_name"], "renamed");
    assert_eq!(updated["volume"]["display_description"], "d");
    assert_eq!(updated["volume"]["size"], 2, "the size is untouched");
    let (_, shown) = h.call("GET", &vpath, alice, None).await;
    assert_eq!(shown["volume"]["display_name"], "renamed");
    // Only the description: the name stays.
    let (s, updated) = h
        .call(
            "PUT",
            &vpath,
            alice,
            Some(json!({"volume": {"display_description": ""}})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(updated["volume"]["display_name"], "renamed");
    assert_eq!(updated["volume"]["display_description"], "");

    let long = "x".repeat(256);
    let volume_cases: Vec<(Option<&str>, &str, Value, u16, &str)> = vec![
        (
            bob,
            vpath.as_str(),
            json!({"volume": {"display_name": "b"}}),
            404,
            "itemNotFound",
        ),
        (
            alice,
            "/volume/v2.0/volumes/424242",
            json!({"volume": {"display_name": "b"}}),
            404,
            "itemNotFound",
        ),
        (
            alice,
            vpath.as_str(),
            json!({"volume": {}}),
            400,
            "badRequest",
        ),
        (
            alice,
            vpath.as_str(),
            json!({"display_name": "unwrapped"}),
            400,
            "badRequest",
        ),
        (
            alice,
            vpath.as_str(),
            json!({"volume": "x"}),
            400,
            "badRequest",
        ),
        (
            alice,
            vpath.as_str(),
            json!({"volume": {"size": 5}}),
            400,
            "badRequest",
        ),
        (
            alice,
            vpath.as_str(),
            json!({"volume": {"display_name": long}}),
            400,
            "badRequest",
        ),
        (
            alice,
            vpath.as_str(),
            json!({"volume": {"display_description": long}}),
            400,
            "badRequest",
        ),
        (
            alice,
            vpath.as_str(),
            json!({"volume": {"delete_on_termination": "yes"}}),
            400,
            "badRequest",
        ),
    ];
    for (token, path, body, status, kind) in volume_cases {
        let (s, answer) = h.call("PUT", path, token, Some(body.clone())).await;
        assert_eq!(
            (s, fault_kind(&answer)),
            (status, Some(kind)),
            "PUT {path} {body}: {answer}"
        );
    }
    let (_, shown) = h.call("GET", &vpath, alice, None).await;
    assert_eq!(
        shown["volume"]["display_name"], "renamed",
        "refusals change nothing"
    );
    assert_eq!(shown["volume"]["size"], 2);
    let name255 = "é".repeat(255);
    let (s, updated) = h
        .call(
            "PUT",
            &vpath,
            alice,
            Some(json!({"volume": {"display_name": name255, "delete_on_termination": true}})),
        )
        .await;
    assert_eq!(s, 200, "255 characters (not bytes) fit: {updated}");
    assert_eq!(updated["volume"]["delete_on_termination"], true);

    let (s, net) = h
        .call(
            "POST",
            "/network/v2.0/networks",
            alice,
            Some(json!({"network": {"type": "MAC_FILTERED", "name": "n"}})),
        )
        .await;
    assert_eq!(s, 201);
    let nid = net["network"]["id"].as_str().unwrap().to_owned();
    let npath = format!("/network/v2.0/networks/{nid}");
    let (s, renamed) = h
        .call(
            "PUT",
            &npath,
            alice,
            Some(json!({"network": {"name": "lan"}})),
        )
        .await;
    assert_eq!(s, 200, "{renamed}");
    assert_eq!(renamed["network"]["name"], "lan");
    assert_eq!(renamed["network"]["id"], nid.as_str());
    let (_, shown) = h.call("GET", &npath, alice, None).await;
    assert_eq!(shown["network"]["name"], "lan");
    let long = "n".repeat(129);
    let network_cases: Vec<(Option<&str>, &str, Value, u16, &str)> = vec![
        (
            bob,
            npath.as_str(),
            json!({"network": {"name": "b"}}),
            404,
            "itemNotFound",
        ),
        (
            alice,
            "/network/v2.0/networks/424242",
            json!({"network": {"name": "b"}}),
            404,
            "itemNotFound",
        ),
        (
            alice,
            "/network/v2.0/networks/1",
            json!({"network": {"name": "mine"}}),
            403,
            "forbidden",
        ),
        (
            alice,
            npath.as_str(),
            json!({"network": {}}),
            400,
            "badRequest",
        ),
        (
            alice,
            npath.as_str(),
            json!({"network": {"name": 7}}),
            400,
            "badRequest",
        ),
        (
            alice,
            npath.as_str(),
            json!({"name": "unwrapped"}),
            400,
            "badRequest",
        ),
        (
            alice,
            npath.as_str(),
            json!({"network": {"name": long}}),
            400,
            "badRequest",
        ),
    ];
    for (token, path, body, status, kind) in network_cases {
        let (s, answer) = h.call("PUT", path, token, Some(body.clone())).await;
        assert_eq!(
            (s, fault_kind(&answer)),
            (status, Some(kind)),
            "PUT {path} {body}: {answer}"
        );
    }
    let (_, shown) = h.call("GET", &npath, alice, None).await;
    assert_eq!(shown["network"]["name"], "lan", "refusals change nothing");
    let (_, public) = h.call("GET", "/network/v2.0/networks/1", alice, None).await;
    assert_ne!(public["network"]["name"], "mine");
}

#[tokio::test]
async fn unknown_actions_on_a_real_server_are_bad_requests() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let t = Some("alice-token");
    let (_, server) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            t,
            Some(json!({"server": {"name": "a", "flavorRef": 1, "imageRef": DEBIAN}})),
        )
        .await;
    let id = server["server"]["id"].as_u64().unwrap();
    let (s, body) = h
        .call(
            "POST",
            &format!("/compute/v2.0/servers/{id}/action"),
            t,
            Some(json!({"fly": {}})),
        )
        .await;
    assert_eq!((s, fault_kind(&body)), (400, Some("badRequest")));
    let (s, body) = h
        .call(
            "POST",
            &format!("/compute/v2.0/servers/{id}/action"),
            t,
            Some(json!({"reboot": {"type": "GENTLE"}})),
        )
        .await;
    assert_eq!((s, fault_kind(&body)), (400, Some("badRequest")));
    // ERROR servers refuse actions.
    let (s, _) = h
        .call(
            "PUT",
            &format!("/_sim/servers/{id}/status"),
            None,
            Some(json!({"status": "ERROR"})),
        )
        .await;
    assert_eq!(s, 204);
    let (_, shown) = h
        .call("GET", &format!("/compute/v2.0/servers/{id}"), t, None)
        .await;
    assert_eq!(shown["server"]["status"], "ERROR");
    let (s, _) = h
        .call(
            "POST",
            &format!("/compute/v2.0/servers/{id}/action"),
            t,
            Some(json!({"start": {}})),
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn catalogs_flavors_and_images_look_like_synnefo() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let (s, public) = h.call("POST", "/identity/v2.0/tokens", None, None).await;
    assert_eq!(s, 200);
    let catalog = public["access"]["serviceCatalog"].as_array().unwrap();
    for t in ["compute", "network", "volume", "image", "identity"] {
        let entry = catalog
            .iter()
            .find(|e| e["type"] == t)
            .unwrap_or_else(|| panic!("{t} in catalog"));
        let url = entry["endpoints"][0]["publicURL"].as_str().unwrap();
        assert!(url.starts_with(&sim.url()), "absolute URL: {url}");
    }
    let (_, access) = h
        .call(
            "POST",
            "/identity/v2.0/tokens",
            None,
            Some(json!({"auth": {"token": {"id": "bob-token"}}})),
        )
        .await;
    assert_eq!(
        access["access"]["token"]["tenant"]["id"],
        "b0b00000-0000-4000-8000-000000000002"
    );
    assert_eq!(access["access"]["user"]["projects"][1], DEMO);
    let (s, body) = h
        .call(
            "POST",
            "/identity/v2.0/tokens",
            None,
            Some(json!({"auth": {"token": {"id": "bob-token"}, "tenantName": DEMO}})),
        )
        .await;
    assert_eq!(
        (s, fault_kind(&body)),
        (400, Some("badRequest")),
        "Astakos takes only the user's UUID as tenantName"
    );
    let (s, tenants) = h
        .call("GET", "/identity/v2.0/tenants", Some("bob-token"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(tenants["tenants"].as_array().unwrap().len(), 2);

    let (_, flavors) = h
        .call(
            "GET",
            "/compute/v2.0/flavors/detail",
            Some("bob-token"),
            None,
        )
        .await;
    let f = &flavors["flavors"][0];
    assert!(f["id"].is_u64());
    assert!(f["SNF:allow_create"].is_boolean());
    assert!(f["SNF:disk_template"].is_string());
    let (_, images) = h
        .call(
            "GET",
            "/compute/v2.0/images/detail",
            Some("bob-token"),
            None,
        )
        .await;
    let debian = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "Debian")
        .unwrap();
    assert_eq!(debian["metadata"]["os"], "debian");
    assert_eq!(debian["metadata"]["users"], "root user");
    // Trailing slashes are accepted, as kamaki sends them.
    let (s, _) = h
        .call("GET", "/compute/v2.0/flavors/", Some("bob-token"), None)
        .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn astavoms_versions_and_token_exchange() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let (s, versions) = h.call("GET", "/astavoms/", None, None).await;
    assert_eq!(s, 300);
    let self_href = versions["versions"]["values"][0]["links"][0]["href"]
        .as_str()
        .unwrap();
    assert_eq!(self_href, format!("{}/astavoms/v2.0", sim.url()));
    let (s, version) = h.call("GET", "/astavoms/v2.0", None, None).await;
    assert_eq!((s, &version["version"]["id"]), (200, &json!("v2.0")));

    let post = |headers: Vec<(&'static str, String)>, body: Option<&'static str>| {
        let mut r = reqwest::Client::new().post(format!("{}/astavoms/v2.0/tokens", sim.url()));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        if let Some(b) = body {
            r = r.header("content-type", "application/json").body(b);
        }
        async move {
            let response = r.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let voms = Some(r#"{"auth": {"voms": true}}"#);
    let (s, body) = post(vec![], None).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (400, Some("Request is missing data input"))
    );
    let (s, body) = post(vec![], Some(r#"{"auth": {}}"#)).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (400, Some("Input is missing some elements"))
    );
    let (s, _) = post(vec![], voms).await;
    assert_eq!(s, 400, "no certificate");
    // A DN header alone is no certificate: astavoms takes the DN from
    // the VOMS data of the chain, never from the header.
    let alice_dn = "/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example";
    let (s, _) = post(vec![("SSL-Client-S-DN", alice_dn.into())], voms).await;
    assert_eq!(s, 400, "a DN without a certificate");

    // A VOMS proxy of a certificate with Alice's DN (the default mapping,
    // VO fedcloud.egi.eu), flattened the way Apache forwards it.
    let pki = pki::Pki::new();
    let alice = pki.named_user(
        &[
            ("C", "GR"),
            ("O", "HellasGrid"),
            ("OU", "example.org"),
            ("CN", "Alice Example"),
        ],
        &[0x0a],
    );
    let ac = |holder: &pki::Party, vo: &'static str| {
        pki.ac(&pki::AcSpec {
            vo,
            holder_serial: Some(holder_serial(holder)),
            ..Default::default()
        })
    };
    let proxy_of = |holder: &pki::Party, ac: Vec<u8>| {
        pki.proxy(&pki::ProxySpec {
            holder: Some(holder),
            ac: Some(ac),
            ..Default::default()
        })
    };
    let flat = |der: &[u8]| pki::pem(der).trim().replace('\n', " ");
    let headers = |chain: &[rustls_pki_types::CertificateDer<'static>]| {
        let mut out = vec![("SSL-Client-Cert", flat(&chain[0]))];
        let names = [
            "SSL-Client-Cert-Chain-0",
            "SSL-Client-Cert-Chain-1",
            "SSL-Client-Cert-Chain-2",
        ];
        for (name, cert) in names.iter().zip(&chain[1..]) {
            out.push((name, flat(cert)));
        }
        out.push((names[chain.len() - 1], "(null)".into()));
        out
    };
    let proxy = proxy_of(&alice, ac(&alice, "fedcloud.egi.eu"));
    let (s, body) = post(headers(&proxy.chain), voms).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["access"]["token"]["id"], "alice-token");
    assert_eq!(
        body["access"]["user"]["id"],
        "a11ce000-0000-4000-8000-000000000001"
    );
    assert_eq!(body["access"]["token"]["tenant"]["id"], DEMO);
    assert_eq!(body["access"]["token"]["tenant"]["name"], "fedcloud.egi.eu");
    assert_eq!(body["voname"], "fedcloud.egi.eu");
    assert_eq!(body["user"], alice_dn, "the holder's DN, not the proxy's");
    assert_eq!(body["userca"], pki::CA_DN);
    assert!(
        body["access"]["serviceCatalog"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );

    // Issue 16 item 1: Mallory's valid proxy with a self-signed copy of
    // Alice's certificate appended maps to Mallory's DN, the holder's,
    // which maps to nobody; so does the copy in the DN header.
    let mallory = pki.other_user("Mallory", &[0x0b]);
    let proxy = proxy_of(&mallory, ac(&mallory, "fedcloud.egi.eu"));
    let mut chain = proxy.chain.clone();
    chain.push(pki::Pki::self_signed_copy(&alice).der);
    let mut sent = headers(&chain);
    sent.push(("SSL-Client-S-DN", alice_dn.into()));
    let (s, body) = post(sent, voms).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (401, Some("VOMS Authentication Failed"))
    );
    assert_eq!(body["error"], "unknown holder");
    // An AC issued to Alice's certificate is not Mallory's to use.
    let stolen = proxy_of(&mallory, ac(&alice, "fedcloud.egi.eu"));
    let (s, body) = post(headers(&stolen.chain), voms).await;
    assert_eq!(s, 401);
    assert_eq!(
        body["error"],
        "user data in extension different from the real"
    );
    // A VO astavoms has no project for.
    let elsewhere = proxy_of(&alice, ac(&alice, "other.vo.org"));
    let (s, body) = post(headers(&elsewhere.chain), voms).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (400, Some("Unknown VO: other.vo.org"))
    );
    // A proxy without VOMS attributes.
    let plain = pki.proxy(&pki::ProxySpec {
        holder: Some(&alice),
        ..Default::default()
    });
    let (s, body) = post(headers(&plain.chain), voms).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (401, Some("voms extension missing"))
    );
    let (s, _) = post(
        vec![(
            "SSL-Client-Cert",
            "-----BEGIN CERTIFICATE----- garbage -----END CERTIFICATE-----".into(),
        )],
        voms,
    )
    .await;
    assert_eq!(s, 401, "unreadable certificate");

    // The tenants of a presented proxy.
    let proxy = proxy_of(&alice, ac(&alice, "fedcloud.egi.eu"));
    let mut request = reqwest::Client::new().get(format!("{}/astavoms/v2.0/tenants", sim.url()));
    for (name, value) in headers(&proxy.chain) {
        request = request.header(name, value);
    }
    let tenants: Value = request.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        tenants["tenants"],
        json!([{"id": DEMO, "name": "fedcloud.egi.eu", "enabled": true, "description": ""}])
    );

    let (s, tenants) = h
        .call("GET", "/astavoms/v2.0/tenants", Some("alice-token"), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        tenants["tenants"],
        json!([{"id": DEMO, "name": "fedcloud.egi.eu", "enabled": true, "description": ""}])
    );
    let (s, tenants) = h
        .call("GET", "/astavoms/v2.0/tenants", Some("bob-token"), None)
        .await;
    assert_eq!(
        (s, tenants["tenants"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (s, _) = h.call("GET", "/astavoms/v2.0/tenants", None, None).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn admin_counters_faults_and_bulk_seeding() {
    let sim = sim().await;
    let h = Http::new(&sim);
    h.call("GET", "/compute/v2.0/servers", Some("alice-token"), None)
        .await;
    h.call("GET", "/compute/v2.0/servers", Some("alice-token"), None)
        .await;
    let (s, counters) = h.call("GET", "/_sim/counters", None, None).await;
    assert_eq!(s, 200);
    assert_eq!(counters["counters"]["GET /compute/v2.0/servers"], 2);
    assert_eq!(counters["total"], 2, "admin calls are not counted");
    let (s, _) = h.call("DELETE", "/_sim/counters", None, None).await;
    assert_eq!(s, 204);
    let (_, counters) = h.call("GET", "/_sim/counters", None, None).await;
    assert_eq!(counters["total"], 0);

    let (s, seeded) = h
        .call(
            "POST",
            "/_sim/seed/servers",
            None,
            Some(json!({"user": "b0b00000-0000-4000-8000-000000000002", "count": 50})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(seeded["ids"].as_array().unwrap().len(), 50);
    let (_, list) = h
        .call(
            "GET",
            "/compute/v2.0/servers/detail",
            Some("bob-token"),
            None,
        )
        .await;
    let servers = list["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 50);
    assert!(servers.iter().all(|s| s["status"] == "ACTIVE"));
    let (_, list) = h
        .call("GET", "/compute/v2.0/servers", Some("alice-token"), None)
        .await;
    assert_eq!(
        list["servers"].as_array().unwrap().len(),
        0,
        "seeded for bob only"
    );
    let (s, _) = h
        .call(
            "POST",
            "/_sim/seed/servers",
            None,
            Some(json!({"user": "nobody", "count": 1})),
        )
        .await;
    assert_eq!(s, 400);

    let (s, _) = h
        .call(
            "PUT",
            "/_sim/faults",
            None,
            Some(json!({"error_rate": 2.0})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = h
        .call(
            "PUT",
            "/_sim/faults",
            None,
            Some(json!({"down": ["pithos"]})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, faults) = h
        .call(
            "PUT",
            "/_sim/faults",
            None,
            Some(json!({"latency": "30ms", "error_rate": 1.0, "error_status": 500})),
        )
        .await;
    assert_eq!((s, &faults["latency"]), (200, &json!("30ms")));
    let started = std::time::Instant::now();
    let (s, body) = h
        .call("GET", "/compute/v2.0/servers", Some("alice-token"), None)
        .await;
    assert_eq!((s, fault_kind(&body)), (500, Some("computeFault")));
    assert!(started.elapsed() >= Duration::from_millis(30));
    let (s, _) = h
        .call("PUT", "/_sim/faults", None, Some(json!({"drop_rate": 1.0})))
        .await;
    assert_eq!(s, 200);
    let dropped = reqwest::Client::new()
        .get(format!("{}/compute/v2.0/servers", sim.url()))
        .send()
        .await;
    assert!(
        dropped.is_err(),
        "the connection is closed without an answer"
    );
    // The admin endpoint itself is never faulted.
    let (s, _) = h.call("DELETE", "/_sim/faults", None, None).await;
    assert_eq!(s, 204);
    let (s, _) = h
        .call("GET", "/compute/v2.0/servers", Some("alice-token"), None)
        .await;
    assert_eq!(s, 200);
    let (s, state) = h.call("GET", "/_sim/state", None, None).await;
    assert_eq!((s, &state["servers"]), (200, &json!(50)));
}

#[tokio::test]
async fn configuration_from_a_pipeline_file_table() {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    let toml = r#"
        listen = "127.0.0.1:0"
        build_delay = "0s"
        action_delay = "0s"
        [[users]]
        uuid = "11111111-0000-4000-8000-000000000001"
        name = "carol@example.org"
        token = "carol-token"
        projects = ["22222222-0000-4000-8000-000000000002"]
        [[flavors]]
        id = 7
        name = "C2R2048D20"
        vcpus = 2
        ram = 2048
        disk = 20
        [[images]]
        id = "img-debian"
        name = "Debian"
        os = "debian"
        [[voms_users]]
        dn = "/C=GR/CN=Carol"
        vo = "vo.example.org"
        user = "11111111-0000-4000-8000-000000000001"
        project = "22222222-0000-4000-8000-000000000002"
        [quotas]
        servers = 1
    "#;
    let config: SimulatorConfig = Figment::from(Toml::string(toml))
        .extract()
        .expect("valid table");
    let sim = simulator::start(&config).await.unwrap();
    let h = Http::new(&sim);
    let (s, _) = h
        .call("GET", "/compute/v2.0/servers", Some("alice-token"), None)
        .await;
    assert_eq!(s, 401, "the default users are replaced");
    let (_, flavors) = h
        .call("GET", "/compute/v2.0/flavors", Some("carol-token"), None)
        .await;
    assert_eq!(
        flavors["flavors"],
        json!([{"id": 7, "name": "C2R2048D20", "links": flavors["flavors"][0]["links"]}])
    );
    let spec = json!({"server": {"name": "c", "flavorRef": 7, "imageRef": "img-debian"}});
    let (s, _) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            Some("carol-token"),
            Some(spec.clone()),
        )
        .await;
    assert_eq!(s, 202);
    let (s, body) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            Some("carol-token"),
            Some(spec),
        )
        .await;
    assert_eq!((s, fault_kind(&body)), (413, Some("overLimit")));

    let unknown = Figment::from(Toml::string(
        "listen = \"127.0.0.1:0\"\nbuild_dealy = \"1s\"",
    ))
    .extract::<SimulatorConfig>();
    assert!(unknown.unwrap_err().to_string().contains("build_dealy"));
}

#[tokio::test]
async fn inconsistent_seeds_are_refused() {
    let mut config = SimulatorConfig::instant("127.0.0.1:0".parse().unwrap());
    let mut users = config.effective_users();
    users[1].token = users[0].token.clone();
    config.users = Some(users);
    let err = simulator::start(&config).await.unwrap_err();
    assert!(matches!(err, SimulatorError::Seed { .. }), "{err}");
    assert!(
        !err.to_string().contains("alice-token"),
        "tokens stay out of errors: {err}"
    );

    let mut config = SimulatorConfig::instant("127.0.0.1:0".parse().unwrap());
    let mut nets = simulator::seed::default_networks();
    nets[0].cidr = "300.1.2.3/24".into();
    config.networks = Some(nets);
    assert!(matches!(
        simulator::start(&config).await.unwrap_err(),
        SimulatorError::Seed { .. }
    ));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = sim().await;
    let url = format!("{}/identity/v2.0/tokens", sim.url());
    assert!(reqwest::Client::new().post(&url).send().await.is_ok());
    sim.shutdown().await;
    assert!(reqwest::Client::new().post(&url).send().await.is_err());
}

/// `block_device_mapping_v2` as Cyclades 0.20 reads it: root disk from
/// the image first, then existing volumes, each checked (a 400 that
/// creates nothing), and then a usable one still fails the create with a
/// 500: `_db_create_server` reads `origin_size`, which only volumes made
/// in the same request have (an `AttributeError` in Synnefo's log).
#[tokio::test]
async fn block_device_mapping_checks_volumes_and_then_fails_as_cyclades_does() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let t = Some("alice-token");
    let new_volume = || async {
        let (s, vol) = h
            .call(
                "POST",
                "/volume/v2.0/volumes",
                t,
                Some(json!({"volume": {"size": 1, "display_name": "v", "volume_type": 1}})),
            )
            .await;
        assert_eq!(s, 202, "{vol}");
        vol["volume"]["id"].as_str().unwrap().to_owned()
    };
    let vid = new_volume().await;
    let server = |flavor: u64, bdm: Value| {
        json!({"server": {"name": "bdm", "flavorRef": flavor, "imageRef": DEBIAN,
                          "block_device_mapping_v2": bdm}})
    };
    let root = json!({"source_type": "image", "uuid": DEBIAN, "boot_index": 0,
                      "volume_size": 20, "delete_on_termination": true});
    let attach =
        |v: &str| json!({"source_type": "volume", "uuid": v, "delete_on_termination": false});

    // A root disk alone is fine.
    let (s, created) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            t,
            // Flavor 4 is ext_archipelago, volume type 1's template.
            Some(server(4, json!([root]))),
        )
        .await;
    assert_eq!(s, 202, "{created}");
    let sid = created["server"]["id"].to_string();
    // vid is attached the way that works: to the built server.
    let (s, att) = h
        .call(
            "POST",
            &format!("/compute/v2.0/servers/{sid}/os-volume_attachments"),
            t,
            Some(json!({"volumeAttachment": {"volumeId": vid}})),
        )
        .await;
    assert_eq!(s, 202, "{att}");

    let (_, before) = h.call("GET", "/compute/v2.0/servers", t, None).await;
    let usable = new_volume().await;
    let (s, fault) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            t,
            Some(server(4, json!([root, attach(&usable)]))),
        )
        .await;
    assert_eq!(
        (s, fault_kind(&fault)),
        (500, Some("computeFault")),
        "{fault}"
    );
    let (_, now) = h.call("GET", "/compute/v2.0/servers", t, None).await;
    assert_eq!(before, now, "the failed create leaves no server");
    let other = new_volume().await;
    for (flavor, bdm, says) in [
        // Volume type 1 is ext_archipelago: flavor 4's, not flavor 1's.
        (4, json!([root, attach(&vid)]), "IN_USE"),
        (
            4,
            json!([root, attach("424242")]),
            "Volume 424242 not found",
        ),
        (1, json!([root, attach(&other)]), "volume type"),
        (
            1,
            json!([{"source_type": "blank"}]),
            "Root volume cannot be blank",
        ),
        (
            1,
            json!([{"source_type": "image", "uuid": "another-image"}]),
            "is different from",
        ),
        (
            1,
            json!([{"source_type": "floppy", "uuid": "x"}]),
            "source_type",
        ),
        (
            1,
            json!({"not": "a list"}),
            "Block Device Mapping is Invalid",
        ),
    ] {
        let (s, fault) = h
            .call(
                "POST",
                "/compute/v2.0/servers",
                t,
                Some(server(flavor, bdm.clone())),
            )
            .await;
        assert_eq!(
            (s, fault_kind(&fault)),
            (400, Some("badRequest")),
            "{bdm}: {fault}"
        );
        assert!(fault.to_string().contains(says), "{bdm}: {fault}");
    }
    let (_, after) = h.call("GET", "/compute/v2.0/servers", t, None).await;
    assert_eq!(before, after, "refused creates leave no server");
    let (_, vol) = h
        .call("GET", &format!("/volume/v2.0/volumes/{other}"), t, None)
        .await;
    assert_eq!(vol["volume"]["attachments"], json!([]), "{vol}");
}

/// Volume snapshots as Cyclades makes them (`volume/views.py`
/// `create_snapshot`, `volume/snapshots.py` `create`): 202 `CREATING`,
/// then a private image of its owner that boots new servers; refusals
/// are 400s naming the volume's problem.
#[tokio::test]
async fn snapshots_become_private_bootable_images() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let (alice, bob) = (Some("alice-token"), Some("bob-token"));
    // Flavor 4 is ext_archipelago (snapshots work), 1 is drbd.
    let h = &h;
    let server = |flavor: u64| async move {
        let (s, created) = h
            .call(
                "POST",
                "/compute/v2.0/servers",
                alice,
                Some(
                    json!({"server": {"name": "src", "flavorRef": flavor, "imageRef": DEBIAN,
                                       "metadata": {"OS": "debian", "users": "root user"}}}),
                ),
            )
            .await;
        assert_eq!(s, 202, "{created}");
        let id = created["server"]["id"].as_u64().unwrap();
        let (_, detail) = h
            .call("GET", &format!("/compute/v2.0/servers/{id}"), alice, None)
            .await;
        let root = detail["server"]["volumes"][0].to_string();
        (id, root.trim_matches('"').to_owned())
    };
    let snapshot = |token, body: Value| h.call("POST", "/volume/v2.0/snapshots", token, Some(body));

    let (_, root) = server(4).await;
    let (s, made) = snapshot(
        alice,
        json!({"snapshot": {"volume_id": root, "display_name": "saved", "display_description": "d"}}),
    )
    .await;
    assert_eq!(s, 202, "{made}");
    let snap = &made["snapshot"];
    assert_eq!(snap["status"], "CREATING", "{made}");
    assert_eq!(snap["display_name"], "saved");
    assert_eq!(snap["volume_id"], json!(root));
    assert_eq!(snap["size"], 20, "the volume's GB");
    assert_eq!(snap["user_id"], sim.users()[0].uuid);
    let id = snap["id"].as_str().expect("string id").to_owned();

    // The snapshot id is an image id: its owner lists and shows it.
    let (_, images) = h
        .call("GET", "/compute/v2.0/images/detail", alice, None)
        .await;
    let image = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(id))
        .unwrap_or_else(|| panic!("{id} among alice's images: {images}"))
        .clone();
    assert_eq!(image["name"], "saved");
    assert_eq!(image["is_snapshot"], true);
    assert_eq!(image["public"], false);
    assert_eq!(image["status"], "ACTIVE", "instant simulator: done");
    assert_eq!(image["metadata"]["exclude_all_tasks"], "yes");
    assert_eq!(
        image["metadata"]["users"], "root user",
        "root volume: the server's users"
    );
    let (s, _) = h
        .call("GET", &format!("/compute/v2.0/images/{id}"), alice, None)
        .await;
    assert_eq!(s, 200);
    let (s, shown) = h
        .call("GET", &format!("/volume/v2.0/snapshots/{id}"), alice, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(shown["snapshot"]["status"], "AVAILABLE");
    assert_eq!(
        shown["snapshot"]["os-extended-snapshot-attribute:progress"],
        "100%"
    );
    let (_, plankton) = h
        .call("GET", "/image/v1.0/images/detail", alice, None)
        .await;
    assert!(plankton.to_string().contains(&id), "{plankton}");

    // Nobody else sees it or boots it.
    let (_, theirs) = h
        .call("GET", "/compute/v2.0/images/detail", bob, None)
        .await;
    assert!(!theirs.to_string().contains(&id), "{theirs}");
    for path in [
        format!("/compute/v2.0/images/{id}"),
        format!("/volume/v2.0/snapshots/{id}"),
    ] {
        let (s, fault) = h.call("GET", &path, bob, None).await;
        assert_eq!(
            (s, fault_kind(&fault)),
            (404, Some("itemNotFound")),
            "{path}"
        );
    }
    let boot = |token| {
        h.call(
            "POST",
            "/compute/v2.0/servers",
            token,
            Some(json!({"server": {"name": "clone", "flavorRef": 4, "imageRef": id}})),
        )
    };
    let (s, fault) = boot(bob).await;
    assert_eq!((s, fault_kind(&fault)), (404, Some("itemNotFound")));
    let (s, clone) = boot(alice).await;
    assert_eq!(s, 202, "{clone}");
    assert_eq!(clone["server"]["image"]["id"], json!(id));

    // Refusals, all 400 as Cyclades answers them.
    let (_, drbd_root) = server(1).await;
    let (ext_server, ext_root) = server(4).await;
    let (s, detached) = h
        .call(
            "POST",
            "/volume/v2.0/volumes",
            alice,
            // Type 1: ext_archipelago, the detachable one.
            Some(json!({"volume": {"size": 1, "display_name": "loose", "volume_type": 1}})),
        )
        .await;
    assert_eq!(s, 202, "{detached}");
    let detached = detached["volume"]["id"].as_str().unwrap().to_owned();
    let cases: Vec<(Option<&str>, Value, &str)> = vec![
        (bob, json!({"snapshot": {"volume_id": root}}), "not found"),
        (
            alice,
            json!({"snapshot": {"volume_id": "424242"}}),
            "Volume 424242 not found",
        ),
        (
            alice,
            json!({"snapshot": {"volume_id": "abc"}}),
            "Invalid volume id",
        ),
        (alice, json!({"volume_id": root}), "snapshot"),
        (alice, json!({"snapshot": {}}), "volume_id"),
        (
            alice,
            json!({"snapshot": {"volume_id": root, "display_name": 7}}),
            "display_name",
        ),
        (
            alice,
            json!({"snapshot": {"volume_id": drbd_root}}),
            "'drbd' disk template",
        ),
        (
            alice,
            json!({"snapshot": {"volume_id": detached}}),
            "detached",
        ),
    ];
    for (token, body, says) in cases {
        let (s, fault) = snapshot(token, body.clone()).await;
        assert_eq!(
            (s, fault_kind(&fault)),
            (400, Some("badRequest")),
            "{body}: {fault}"
        );
        assert!(fault.to_string().contains(says), "{body}: {fault}");
    }
    // A building server's disk is CREATING; a deleted server's is gone.
    let force = |status: &str| {
        reqwest::Client::new()
            .put(format!("{}/_sim/servers/{ext_server}/status", sim.url()))
            .json(&json!({ "status": status }))
            .send()
    };
    assert_eq!(force("BUILD").await.unwrap().status(), 204);
    let (s, fault) = snapshot(alice, json!({"snapshot": {"volume_id": ext_root}})).await;
    assert_eq!(s, 400, "{fault}");
    assert!(fault.to_string().contains("'CREATING' status"), "{fault}");
    assert_eq!(force("ERROR").await.unwrap().status(), 204);
    let (s, fault) = snapshot(alice, json!({"snapshot": {"volume_id": ext_root}})).await;
    assert_eq!(s, 400, "{fault}");
    assert!(fault.to_string().contains("'ERROR' status"), "{fault}");
    let (s, _) = h
        .call(
            "DELETE",
            &format!("/compute/v2.0/servers/{ext_server}"),
            alice,
            None,
        )
        .await;
    assert_eq!(s, 204);
    // Its disks go with it, and stay known as deleted.
    let (s, fault) = snapshot(alice, json!({"snapshot": {"volume_id": ext_root}})).await;
    assert_eq!(s, 400, "{fault}");
    assert!(fault.to_string().contains("has been deleted"), "{fault}");

    // Deleting the snapshot deletes the image.
    let (s, _) = h
        .call(
            "DELETE",
            &format!("/volume/v2.0/snapshots/{id}"),
            alice,
            None,
        )
        .await;
    assert_eq!(s, 202);
    let (_, images) = h
        .call("GET", "/compute/v2.0/images/detail", alice, None)
        .await;
    assert!(!images.to_string().contains(&id), "{images}");
    let (s, _) = h
        .call(
            "DELETE",
            &format!("/volume/v2.0/snapshots/{id}"),
            alice,
            None,
        )
        .await;
    assert_eq!(s, 404);
}

/// `networks[].fixed_ip` of a server create as Cyclades reads it
/// (`logic/servers.py` `_port_for_request`): on a public network the
/// address of one of the caller's free floating IPs of that network,
/// attached to the new server in the create's own transaction; every
/// refusal (another user's or an unknown address 404, another network's
/// or a used one 409) creates nothing. On a private network, that
/// address of its subnet.
#[tokio::test]
async fn fixed_ip_attaches_a_floating_ip_at_creation() {
    let mut config = SimulatorConfig::instant("127.0.0.1:0".parse().unwrap());
    let mut nets = simulator::seed::default_networks();
    nets.push(simulator::seed::NetworkSeed {
        id: 2,
        name: "Second public network".into(),
        cidr: "83.212.8.0/24".into(),
        gateway: None,
        floating_ip_pool: true,
        network_type: "IP_LESS_ROUTED".into(),
    });
    config.networks = Some(nets);
    let sim = simulator::start(&config).await.unwrap();
    let h = Http::new(&sim);
    let (alice, bob) = (Some("alice-token"), Some("bob-token"));
    let reserve = |network: u64| {
        let h = &h;
        async move {
            let (s, fip) = h
                .call(
                    "POST",
                    "/network/v2.0/floatingips",
                    alice,
                    Some(json!({"floatingip": {"floating_network_id": network.to_string()}})),
                )
                .await;
            assert_eq!(s, 200, "{fip}");
            let fip = &fip["floatingip"];
            (
                fip["id"].as_str().unwrap().to_owned(),
                fip["floating_ip_address"].as_str().unwrap().to_owned(),
            )
        }
    };
    let server = |networks: Value| json!({"server": {"name": "fip", "flavorRef": 1, "imageRef": DEBIAN, "networks": networks}});
    let (fid, address) = reserve(1).await;
    let (_, free) = reserve(1).await;

    let (s, created) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            alice,
            Some(server(json!([{"uuid": "1", "fixed_ip": address}]))),
        )
        .await;
    assert_eq!(s, 202, "{created}");
    let sid = created["server"]["id"].to_string();
    // A server being built shows no NICs (`vm_to_dict` lists the ACTIVE
    // ones); this instant one is built at the next read.
    assert_eq!(created["server"]["attachments"], json!([]), "{created}");
    let (_, created) = h
        .call("GET", &format!("/compute/v2.0/servers/{sid}"), alice, None)
        .await;
    let nics = created["server"]["attachments"].as_array().unwrap();
    assert_eq!(nics.len(), 1, "only the requested NIC: {created}");
    assert_eq!(nics[0]["network_id"], "1");
    assert_eq!(nics[0]["ipv4"], address.as_str());
    assert_eq!(nics[0]["OS-EXT-IPS:type"], "floating");
    let (_, fip) = h
        .call(
            "GET",
            &format!("/network/v2.0/floatingips/{fid}"),
            alice,
            None,
        )
        .await;
    assert_eq!(fip["floatingip"]["instance_id"], sid.as_str(), "{fip}");
    // Ports ids are strings in the network API, integers in a server's
    // `attachments` (`nic_to_attachments`).
    assert_eq!(
        fip["floatingip"]["port_id"],
        nics[0]["id"].to_string(),
        "{fip}"
    );

    let state = || async {
        reqwest::get(format!("{}/_sim/state", sim.url()))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let before = state().await;
    let (_, other_net) = reserve(2).await;
    for (token, networks, status, kind, says) in [
        (
            alice,
            json!([{"uuid": "1", "fixed_ip": address}]),
            409,
            "conflict",
            format!("IP address '{address}' is already in use"),
        ),
        (
            bob,
            json!([{"uuid": "1", "fixed_ip": free}]),
            404,
            "itemNotFound",
            "Floating IP does not exist.".to_owned(),
        ),
        (
            alice,
            json!([{"uuid": "1", "fixed_ip": "83.212.3.250"}]),
            404,
            "itemNotFound",
            "Floating IP does not exist.".to_owned(),
        ),
        (
            alice,
            json!([{"uuid": "1", "fixed_ip": other_net}]),
            409,
            "conflict",
            format!("IP Address {other_net} does not belong to network 1"),
        ),
        (
            alice,
            json!([{"uuid": "1", "fixed_ip": free}, {"uuid": "1", "fixed_ip": free}]),
            409,
            "conflict",
            format!("IP address '{free}' is already in use"),
        ),
        (
            alice,
            json!([{"uuid": "1", "fixed_ip": null}]),
            400,
            "badRequest",
            "Cannot connect to public network".to_owned(),
        ),
        (
            alice,
            json!([{"uuid": "1", "fixed_ip": 7}]),
            400,
            "badRequest",
            "networks".to_owned(),
        ),
    ] {
        let (s, fault) = h
            .call(
                "POST",
                "/compute/v2.0/servers",
                token,
                Some(server(networks.clone())),
            )
            .await;
        assert_eq!(
            (s, fault_kind(&fault)),
            (status, Some(kind)),
            "{networks}: {fault}"
        );
        assert!(fault.to_string().contains(&says), "{networks}: {fault}");
    }
    let mut after = state().await;
    after["floating_ips"] = before["floating_ips"].clone();
    assert_eq!(after, before, "refused creates make no server or port");
    let (_, fips) = h
        .call("GET", "/network/v2.0/floatingips", alice, None)
        .await;
    let used = fips["floatingips"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["port_id"].is_null())
        .count();
    assert_eq!(used, 1, "only the first create took one: {fips}");

    // Deleting the server keeps the reservation, free again
    // (`logic/backend.py` `remove_nic_ips`).
    let (s, _) = h
        .call(
            "DELETE",
            &format!("/compute/v2.0/servers/{sid}"),
            alice,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, fip) = h
        .call(
            "GET",
            &format!("/network/v2.0/floatingips/{fid}"),
            alice,
            None,
        )
        .await;
    assert_eq!(s, 200, "still reserved: {fip}");
    assert!(fip["floatingip"]["port_id"].is_null(), "{fip}");
    assert!(fip["floatingip"]["instance_id"].is_null(), "{fip}");

    // A private network: that address of its subnet.
    let (s, net) = h
        .call(
            "POST",
            "/network/v2.0/networks",
            alice,
            Some(json!({"network": {"name": "lan", "type": "MAC_FILTERED"}})),
        )
        .await;
    assert_eq!(s, 201, "{net}");
    let nid = net["network"]["id"].as_str().unwrap().to_owned();
    let (s, sub) = h
        .call(
            "POST",
            "/network/v2.0/subnets",
            alice,
            Some(json!({"subnet": {"network_id": nid, "cidr": "10.7.0.0/24"}})),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let (s, created) = h
        .call(
            "POST",
            "/compute/v2.0/servers",
            alice,
            Some(server(
                json!([{"uuid": nid, "fixed_ip": "10.7.0.9"}, {"uuid": nid}]),
            )),
        )
        .await;
    assert_eq!(s, 202, "{created}");
    let id = created["server"]["id"].clone();
    let (_, created) = h
        .call("GET", &format!("/compute/v2.0/servers/{id}"), alice, None)
        .await;
    let nics = created["server"]["attachments"].as_array().unwrap();
    assert_eq!(nics[0]["ipv4"], "10.7.0.9", "{created}");
    assert_ne!(nics[1]["ipv4"], "10.7.0.9", "{created}");
    for (fixed, status, says) in [
        ("10.7.0.9", 409, "IP address 10.7.0.9 is already used."),
        // The gateway is outside the pool Cyclades makes
        // (`logic/subnets.py`: the pool starts after it).
        ("10.7.0.1", 400, "does not belong to network"),
        ("10.8.0.9", 400, "does not belong to network"),
        ("not-an-ip", 400, "does not belong to network"),
    ] {
        let (s, fault) = h
            .call(
                "POST",
                "/compute/v2.0/servers",
                alice,
                Some(server(json!([{"uuid": nid, "fixed_ip": fixed}]))),
            )
            .await;
        assert_eq!(s, status, "{fixed}: {fault}");
        assert!(fault.to_string().contains(says), "{fixed}: {fault}");
    }
}

/// A public network named without `fixed_ip` takes a free floating IP of
/// the caller's on it (`ips.get_free_floating_ip`), else 409 "Please
/// create a floating IP".
#[tokio::test]
async fn a_public_network_without_fixed_ip_takes_a_free_floating_ip() {
    let config = SimulatorConfig::instant("127.0.0.1:0".parse().unwrap());
    let sim = simulator::start(&config).await.unwrap();
    let h = Http::new(&sim);
    let t = Some("alice-token");
    let server = json!({"server": {"name": "pub", "flavorRef": 1, "imageRef": DEBIAN,
                                   "networks": [{"uuid": "1"}]}});
    let (s, fault) = h
        .call("POST", "/compute/v2.0/servers", t, Some(server.clone()))
        .await;
    assert_eq!((s, fault_kind(&fault)), (409, Some("conflict")), "{fault}");
    assert!(
        fault.to_string().contains("Please create a floating IP"),
        "{fault}"
    );
    let (s, fip) = h
        .call(
            "POST",
            "/network/v2.0/floatingips",
            t,
            Some(json!({"floatingip": {}})),
        )
        .await;
    assert_eq!(s, 200, "{fip}");
    let address = fip["floatingip"]["floating_ip_address"].clone();
    let (s, created) = h
        .call("POST", "/compute/v2.0/servers", t, Some(server))
        .await;
    assert_eq!(s, 202, "{created}");
    let id = created["server"]["id"].clone();
    let (_, shown) = h
        .call("GET", &format!("/compute/v2.0/servers/{id}"), t, None)
        .await;
    assert_eq!(
        shown["server"]["attachments"][0]["ipv4"], address,
        "{shown}"
    );
}

#[tokio::test]
async fn the_server_listing_names_each_own_live_server_with_its_links() {
    let sim = sim().await;
    let h = Http::new(&sim);
    let (alice, bob) = (Some("alice-token"), Some("bob-token"));
    let create = |name: &str| json!({"server": {"name": name, "flavorRef": 1, "imageRef": DEBIAN, "project": DEMO}});
    let (_, kept) = h
        .call("POST", "/compute/v2.0/servers", alice, Some(create("kept")))
        .await;
    let (_, gone) = h
        .call("POST", "/compute/v2.0/servers", alice, Some(create("gone")))
        .await;
    let gone_id = gone["server"]["id"].as_u64().unwrap();
    let (s, _) = h
        .call(
            "DELETE",
            &format!("/compute/v2.0/servers/{gone_id}"),
            alice,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, listed) = h.call("GET", "/compute/v2.0/servers", alice, None).await;
    assert_eq!(s, 200);
    let servers = listed["servers"].as_array().unwrap();
    let kept_id = kept["server"]["id"].as_u64().unwrap();
    let entry = servers
        .iter()
        .find(|s| s["id"] == kept_id)
        .expect("the live server is listed");
    assert_eq!(entry["name"], "kept");
    let href = format!("{}/compute/v2.0/servers/{kept_id}", sim.url());
    assert_eq!(
        entry["links"],
        json!([{"href": href, "rel": "self"}, {"href": href, "rel": "bookmark"}])
    );
    assert_eq!(
        entry.as_object().unwrap().len(),
        3,
        "id, name and links only: {entry}"
    );
    assert!(
        servers.iter().all(|s| s["id"] != gone_id),
        "a deleted server is not listed"
    );
    let (_, theirs) = h.call("GET", "/compute/v2.0/servers", bob, None).await;
    assert!(
        theirs["servers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != kept_id)
    );
}
