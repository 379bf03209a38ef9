//! The typed Synnefo client against answers recorded from a real Synnefo
//! 0.20 (tests/fixtures/synnefo, by its `capture.py`) and a few written
//! from the API documentation (`documented/`, mixed integer and string
//! ids) or Cyclades' code, served by a tiny in-test HTTP server: checks
//! what the client sends and that it reads what each answer carries,
//! independently of the simulator.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use snf_occi::synnefo::{
    Caller, Client, ClientConfig, FaultKind, NewFloatingIp, NewNetwork, NewServer, NewSnapshot,
    NewSubnet, NewVolume, Personality, RebootType, ServerAction, ServerStatus, Service,
    SynnefoError,
};
use snf_occi_types::{RequestId, SecretToken};

/// One request the fake Synnefo saw.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    token: Option<String>,
    request_id: Option<String>,
    content_type: Option<String>,
    body: Option<Value>,
}

#[derive(Clone)]
struct Fake {
    base: String,
    routes: Arc<HashMap<String, (u16, &'static str)>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A fixture as JSON (`{BASE}` left in place).
fn raw(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A JSON id (a number or a string) as the client keeps it: text.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/synnefo/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn answer(State(fake): State<Fake>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    fake.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        token: header("x-auth-token"),
        request_id: header("x-request-id"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).ok(),
    });
    let key = format!("{} {}", parts.method, parts.uri.path());
    // Astakos answers a body-less POST /tokens with the public catalog
    // alone (`astakos/api/tokens.py` `authenticate`, public mode).
    let route = match fake.routes.get(&key) {
        Some((status, "identity_tokens.json")) if body.is_empty() => {
            Some((*status, "identity_public.json"))
        }
        other => other.copied(),
    };
    match route.as_ref() {
        Some((status, "")) => StatusCode::from_u16(*status).unwrap().into_response(),
        Some((status, "!html")) => (
            StatusCode::from_u16(*status).unwrap(),
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Some((status, name)) => {
            let text = fixture(name).replace("{BASE}", &fake.base);
            (
                StatusCode::from_u16(*status).unwrap(),
                [("content-type", "application/json")],
                text,
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no fixture for {key}")).into_response(),
    }
}

const C: &str = "/cyclades/compute/v2.0";
const N: &str = "/cyclades/network/v2.0";
const V: &str = "/cyclades/volume/v2.0";

async fn fake(extra: &[(&str, u16, &'static str)]) -> (Fake, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut routes: HashMap<String, (u16, &'static str)> = HashMap::new();
    let defaults: Vec<(String, u16, &'static str)> = vec![
        (
            "POST /account/v2.0/tokens".into(),
            200,
            "identity_tokens.json",
        ),
        (format!("GET {C}/servers"), 200, "servers_list.json"),
        (
            format!("GET {C}/servers/detail"),
            200,
            "servers_detail.json",
        ),
        (format!("GET {C}/servers/84"), 200, "server_show.json"),
        (
            format!("GET {C}/servers/999999"),
            404,
            "fault_item_not_found.json",
        ),
        (format!("POST {C}/servers"), 202, "server_create.json"),
        (format!("DELETE {C}/servers/84"), 204, ""),
        (format!("PUT {C}/servers/84"), 204, ""),
        (format!("POST {C}/servers/84/action"), 202, ""),
        (
            format!("POST {C}/servers/5678/action"),
            409,
            "fault_build_in_progress.json",
        ),
        (
            format!("POST {C}/servers/42/action"),
            400,
            "fault_bad_request.json",
        ),
        (
            format!("POST {C}/servers/84/metadata"),
            201,
            "server_metadata.json",
        ),
        (
            format!("GET {C}/servers/101/os-volume_attachments"),
            200,
            "volume_attachments.json",
        ),
        (
            format!("POST {C}/servers/101/os-volume_attachments"),
            202,
            "volume_attachment_create.json",
        ),
        (
            format!("DELETE {C}/servers/101/os-volume_attachments/110"),
            202,
            "",
        ),
        (
            format!("GET {C}/flavors/detail"),
            200,
            "flavors_detail.json",
        ),
        (format!("GET {C}/flavors/1"), 200, "flavor_show.json"),
        (format!("GET {C}/images/detail"), 200, "images_detail.json"),
        (format!("GET {N}/networks"), 200, "networks_list.json"),
        (format!("POST {N}/networks"), 201, "network_create.json"),
        (format!("DELETE {N}/networks/3141"), 204, ""),
        (format!("POST {N}/subnets"), 201, "subnet_create.json"),
        (format!("GET {N}/ports"), 200, "ports_list.json"),
        (format!("POST {N}/ports"), 201, "port_create.json"),
        (format!("DELETE {N}/ports/19"), 204, ""),
        (format!("GET {N}/floatingips"), 200, "floatingips_list.json"),
        (
            format!("POST {N}/floatingips"),
            200,
            "floatingip_create.json",
        ),
        (format!("GET {V}/volumes"), 200, "volumes_list.json"),
        (
            format!("GET {V}/volumes/detail"),
            200,
            "volumes_detail.json",
        ),
        (format!("POST {V}/volumes"), 202, "volume_create.json"),
        (format!("DELETE {V}/volumes/42"), 202, ""),
        (format!("POST {V}/snapshots"), 202, "snapshot_create.json"),
    ];
    for (k, s, f) in defaults {
        routes.insert(k, (s, f));
    }
    for (k, s, f) in extra {
        routes.insert((*k).to_owned(), (*s, *f));
    }
    let fake = Fake {
        base: base.clone(),
        routes: Arc::new(routes),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new().fallback(answer).with_state(fake.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let client = Client::new(
        snf_occi::synnefo::Transport::new(Default::default()).unwrap(),
        ClientConfig::new(format!("{base}/account/v2.0")),
    );
    (fake, client)
}

fn caller() -> Caller {
    Caller::new(SecretToken::new("user-secret-token")).with_request_id(RequestId("req-42".into()))
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn last(&self, method: &str, path: &str) -> Seen {
        self.seen()
            .into_iter()
            .rev()
            .find(|s| s.method == method && s.path == path)
            .unwrap_or_else(|| panic!("no {method} {path}"))
    }
}

#[tokio::test]
async fn every_call_carries_the_callers_token_and_request_id() {
    let (fake, c) = fake(&[]).await;
    c.list_servers(&caller()).await.unwrap();
    let seen = fake.seen();
    // The catalog discovery: POST /tokens without a body and without a token.
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/account/v2.0/tokens");
    assert_eq!(seen[0].token, None);
    assert_eq!(seen[0].body, None);
    assert_eq!(seen[0].request_id.as_deref(), Some("req-42"));
    let list = fake.last("GET", &format!("{C}/servers"));
    assert_eq!(list.token.as_deref(), Some("user-secret-token"));
    assert_eq!(list.request_id.as_deref(), Some("req-42"));
}

#[tokio::test]
async fn authenticate_reads_the_access_answer() {
    let (fake, c) = fake(&[]).await;
    let access = c.authenticate(&caller()).await.unwrap();
    let sent = fake.last("POST", "/account/v2.0/tokens");
    assert_eq!(
        sent.body,
        Some(json!({"auth": {"token": {"id": "user-secret-token"}}}))
    );
    assert_eq!(sent.token, None, "the token travels in the body only");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    let recorded = &raw("identity_tokens.json")["access"];
    let token = access.token.as_ref().unwrap();
    assert_eq!(token.id.expose(), recorded["token"]["id"].as_str().unwrap());
    let expected =
        snf_occi_types::timestamp::parse_rfc3339(recorded["token"]["expires"].as_str().unwrap())
            .unwrap();
    assert_eq!(token.expires_at(), Some(expected));
    assert_eq!(
        token.tenant.as_ref().unwrap().id,
        recorded["token"]["tenant"]["id"].as_str().unwrap()
    );
    let user = access.user.as_ref().unwrap();
    assert_eq!(user.name.as_deref(), recorded["user"]["name"].as_str());
    // Astakos lists the projects the user is a member of; with none but
    // the user's own, resources go to the user's own project.
    let projects = recorded["user"]["projects"].as_array().unwrap();
    let own = recorded["user"]["id"].as_str().unwrap();
    let expected = projects
        .iter()
        .filter_map(Value::as_str)
        .find(|p| *p != own)
        .unwrap_or(own);
    assert_eq!(access.default_project(), Some(expected));
    // Compute is published with its version, network and volume bare
    // (`SNF:exposeVersion` "False"): the client appends `versionId`.
    for (service, path) in [("compute", C), ("network", N), ("volume", V)] {
        assert_eq!(
            access.endpoint(service).as_deref(),
            Some(format!("{}{path}", fake.base).as_str()),
            "{service}"
        );
    }

    c.authenticate_password(
        "c18088be-16b1-4263-8180-043c54e22903",
        &SecretToken::new("pw"),
        None,
    )
    .await
    .unwrap();
    let sent = fake.last("POST", "/account/v2.0/tokens");
    assert_eq!(
        sent.body,
        Some(
            json!({"auth": {"passwordCredentials": {"username": "c18088be-16b1-4263-8180-043c54e22903", "password": "pw"}}})
        )
    );
}

#[tokio::test]
async fn an_astakos_401_is_an_unauthorized_fault() {
    let (_fake, c) = fake(&[("POST /account/v2.0/tokens", 401, "fault_unauthorized.json")]).await;
    let err = c.authenticate(&caller()).await.unwrap_err();
    match &err {
        SynnefoError::Fault {
            service,
            status,
            kind,
            message,
            ..
        } => {
            assert_eq!(*service, Service::Identity);
            assert_eq!(*status, 401);
            assert_eq!(*kind, FaultKind::Unauthorized);
            assert_eq!(message, "Invalid token");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.gateway_status(), 401);
}

#[tokio::test]
async fn servers_as_cyclades_answers_them() {
    let (_fake, c) = fake(&[]).await;
    let recorded = raw("servers_list.json");
    let list = c.list_servers(&caller()).await.unwrap();
    let ids: Vec<String> = recorded["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| text(&s["id"]))
        .collect();
    assert_eq!(
        list.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        ids,
        "integer ids read as text"
    );
    let recorded = raw("servers_detail.json");
    let detail = c.list_servers_detail(&caller()).await.unwrap();
    assert_eq!(detail.len(), recorded["servers"].as_array().unwrap().len());
    for (s, r) in detail.iter().zip(recorded["servers"].as_array().unwrap()) {
        assert_eq!(s.id, text(&r["id"]));
        assert_eq!(s.name, r["name"].as_str().unwrap());
        assert_eq!(s.status, ServerStatus::parse(r["status"].as_str().unwrap()));
        assert_eq!(s.flavor.as_ref().unwrap().id, text(&r["flavor"]["id"]));
        assert_eq!(s.image.as_ref().unwrap().id, text(&r["image"]["id"]));
        assert_eq!(s.fqdn.as_deref(), r["SNF:fqdn"].as_str());
        let nics = r["attachments"].as_array().unwrap();
        assert_eq!(s.attachments.len(), nics.len());
        for (a, n) in s.attachments.iter().zip(nics) {
            assert_eq!(a.id, text(&n["id"]), "integer port ids read as text");
            assert_eq!(a.network_id, text(&n["network_id"]));
            assert_eq!(a.ipv4, n["ipv4"].as_str().unwrap());
            assert_eq!(a.ip_type.as_deref(), n["OS-EXT-IPS:type"].as_str());
            assert_eq!(a.mac_address.as_deref(), n["mac_address"].as_str());
        }
        let addresses = r["addresses"].as_object().unwrap();
        assert_eq!(s.addresses.len(), addresses.len());
        for (network, list) in addresses {
            assert_eq!(
                s.addresses[network][0].addr,
                list[0]["addr"].as_str().unwrap()
            );
        }
        let metadata: BTreeMap<String, String> =
            serde_json::from_value(r["metadata"].clone()).unwrap();
        assert_eq!(s.metadata, metadata);
    }
    let one = text(&recorded["servers"][0]["id"]);
    let shown = c.get_server(&caller(), "84").await.unwrap();
    assert_eq!(shown.id, text(&raw("server_show.json")["server"]["id"]));
    assert_eq!(shown.id, one);
}

/// The API guide's examples mix integer and string ids (`"id": 84` next
/// to `"network_id": "2718"`); the client takes both.
#[tokio::test]
async fn servers_with_mixed_integer_and_string_ids() {
    let (_fake, c) = fake(&[
        (
            "GET /cyclades/compute/v2.0/servers",
            200,
            "documented/servers_list.json",
        ),
        (
            "GET /cyclades/compute/v2.0/servers/detail",
            200,
            "documented/servers_detail.json",
        ),
        (
            "GET /cyclades/compute/v2.0/servers/84",
            200,
            "documented/server_show.json",
        ),
    ])
    .await;
    let list = c.list_servers(&caller()).await.unwrap();
    assert_eq!(
        list.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec!["42", "84"]
    );
    let detail = c.list_servers_detail(&caller()).await.unwrap();
    let s = &detail[0];
    assert_eq!(s.id, "84");
    assert_eq!(s.status, ServerStatus::Active);
    assert_eq!(
        s.flavor.as_ref().unwrap().id,
        "3",
        "integer flavor id read as text"
    );
    assert_eq!(s.image.as_ref().unwrap().id, "im4g3-1d");
    assert_eq!(s.attachments.len(), 2);
    assert_eq!(s.attachments[1].ipv4, "192.168.1.3");
    assert_eq!(s.attachments[1].ip_type.as_deref(), Some("floating"));
    assert_eq!(s.addresses["2718"][0].version, 6);
    assert_eq!(s.fqdn.as_deref(), Some("snf-84.vm.example.org"));
    assert_eq!(s.metadata.get("users").map(String::as_str), Some("root"));
    let shown = c.get_server(&caller(), "84").await.unwrap();
    assert_eq!(shown.name, "My Other Server");
}

#[tokio::test]
async fn a_missing_server_is_item_not_found() {
    let (_fake, c) = fake(&[]).await;
    let err = c.get_server(&caller(), "999999").await.unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.fault_kind(), Some(&FaultKind::ItemNotFound));
    assert_eq!(err.gateway_status(), 404);
    // Cyclades' `api/util.py` `get_vm`.
    assert!(
        err.user_message().contains("Server not found."),
        "{}",
        err.user_message()
    );
}

#[tokio::test]
async fn create_server_sends_what_cyclades_documents() {
    let (fake, c) = fake(&[]).await;
    let spec = NewServer {
        name: "OCCI test VM".into(),
        flavor_ref: "1".into(),
        image_ref: "im4g3-1d".into(),
        project: Some("4d3c1fa4-5b05-4a3e-8f5b-0e7e1b1d3b8c".into()),
        personality: vec![Personality {
            path: "/root/.ssh/authorized_keys".into(),
            contents: "c3NoLXJzYSBBQUFB".into(),
            owner: Some("root".into()),
            group: Some("root".into()),
            mode: Some(384),
        }],
        networks: Some(vec![
            snf_occi::synnefo::NetworkRef::network("3141"),
            snf_occi::synnefo::NetworkRef::floating_ip("2718", "83.212.0.5"),
        ]),
        metadata: BTreeMap::from([("role".to_string(), "web".to_string())]),
        key_name: None,
        block_device_mapping_v2: Some(vec![
            snf_occi::synnefo::BlockDevice::root("im4g3-1d", 20),
            snf_occi::synnefo::BlockDevice::volume("2718"),
        ]),
    };
    let created = c.create_server(&caller(), &spec).await.unwrap();
    let recorded = &raw("server_create.json")["server"];
    assert_eq!(created.id, text(&recorded["id"]));
    assert_eq!(created.status, ServerStatus::Build);
    assert_eq!(
        created.admin_pass.as_deref(),
        recorded["adminPass"].as_str()
    );
    let sent = fake.last("POST", &format!("{C}/servers"));
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        sent.body,
        Some(json!({"server": {
            "name": "OCCI test VM", "flavorRef": "1", "imageRef": "im4g3-1d",
            "project": "4d3c1fa4-5b05-4a3e-8f5b-0e7e1b1d3b8c",
            "personality": [{"path": "/root/.ssh/authorized_keys", "contents": "c3NoLXJzYSBBQUFB", "owner": "root", "group": "root", "mode": 384}],
            "networks": [{"uuid": "3141"}, {"uuid": "2718", "fixed_ip": "83.212.0.5"}],
            "metadata": {"role": "web"},
            "block_device_mapping_v2": [
                {"source_type": "image", "uuid": "im4g3-1d", "boot_index": 0,
                 "volume_size": 20, "delete_on_termination": true},
                {"source_type": "volume", "uuid": "2718", "delete_on_termination": false}
            ]
        }}))
    );
    // Without networks, the key is left out so that Synnefo applies its
    // default policy (an empty list would mean "no network at all").
    c.create_server(
        &caller(),
        &NewServer {
            name: "n".into(),
            flavor_ref: "1".into(),
            image_ref: "i".into(),
            ..NewServer::default()
        },
    )
    .await
    .unwrap();
    let sent = fake.last("POST", &format!("{C}/servers"));
    assert_eq!(
        sent.body,
        Some(json!({"server": {"name": "n", "flavorRef": "1", "imageRef": "i"}}))
    );
}

#[tokio::test]
async fn actions_rename_delete_and_metadata() {
    let (fake, c) = fake(&[]).await;
    let action = format!("{C}/servers/84/action");
    c.server_action(&caller(), "84", &ServerAction::Start)
        .await
        .unwrap();
    assert_eq!(fake.last("POST", &action).body, Some(json!({"start": {}})));
    c.server_action(&caller(), "84", &ServerAction::Shutdown)
        .await
        .unwrap();
    assert_eq!(
        fake.last("POST", &action).body,
        Some(json!({"shutdown": {}}))
    );
    c.server_action(&caller(), "84", &ServerAction::Reboot(RebootType::Soft))
        .await
        .unwrap();
    assert_eq!(
        fake.last("POST", &action).body,
        Some(json!({"reboot": {"type": "SOFT"}}))
    );
    c.server_action(&caller(), "84", &ServerAction::Reboot(RebootType::Hard))
        .await
        .unwrap();
    assert_eq!(
        fake.last("POST", &action).body,
        Some(json!({"reboot": {"type": "HARD"}}))
    );
    c.server_action(
        &caller(),
        "84",
        &ServerAction::Resize {
            flavor_ref: "3".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        fake.last("POST", &action).body,
        Some(json!({"resize": {"flavorRef": "3"}}))
    );

    c.rename_server(&caller(), "84", "new name").await.unwrap();
    assert_eq!(
        fake.last("PUT", &format!("{C}/servers/84")).body,
        Some(json!({"server": {"name": "new name"}}))
    );
    c.delete_server(&caller(), "84").await.unwrap();
    assert_eq!(fake.last("DELETE", &format!("{C}/servers/84")).body, None);

    let all = c
        .set_server_metadata(
            &caller(),
            "84",
            &BTreeMap::from([("role".into(), "webmail".into())]),
        )
        .await
        .unwrap();
    let recorded: BTreeMap<String, String> =
        serde_json::from_value(raw("server_metadata.json")["metadata"].clone()).unwrap();
    assert_eq!(all, recorded, "all the server's metadata, as answered");
    assert_eq!(
        fake.last("POST", &format!("{C}/servers/84/metadata")).body,
        Some(json!({"metadata": {"role": "webmail"}}))
    );

    let err = c
        .server_action(&caller(), "5678", &ServerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(err.fault_kind(), Some(&FaultKind::BuildInProgress));
    assert_eq!(err.gateway_status(), 409);
    let err = c
        .server_action(&caller(), "42", &ServerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(err.gateway_status(), 400);
    assert!(err.user_message().contains("STARTED"));
}

#[tokio::test]
async fn ids_in_paths_are_encoded() {
    let (fake, c) = fake(&[]).await;
    let _ = c.get_server(&caller(), "../flavors/1").await;
    let seen = fake.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.path, format!("{C}/servers/%2E%2E%2Fflavors%2F1"));
}

#[tokio::test]
async fn flavors_images_and_attachments() {
    let (fake, c) = fake(&[]).await;
    let recorded = raw("flavors_detail.json");
    let flavors = c.list_flavors_detail(&caller()).await.unwrap();
    let recorded = recorded["flavors"].as_array().unwrap();
    assert_eq!(flavors.len(), recorded.len());
    for (f, r) in flavors.iter().zip(recorded) {
        assert_eq!(
            (f.id.clone(), f.vcpus, f.ram, f.disk),
            (
                text(&r["id"]),
                r["vcpus"].as_u64().unwrap(),
                r["ram"].as_u64().unwrap(),
                r["disk"].as_u64().unwrap()
            )
        );
        assert_eq!(f.name, r["name"].as_str().unwrap());
        assert_eq!(f.allow_create, r["SNF:allow_create"].as_bool().unwrap());
        assert_eq!(f.disk_template.as_deref(), r["SNF:disk_template"].as_str());
    }
    // An absent SNF:allow_create (older Cyclades) means creatable.
    let absent: snf_occi::synnefo::Flavor =
        serde_json::from_value(json!({"id": 1, "name": "f", "ram": 1, "vcpus": 1, "disk": 1}))
            .unwrap();
    assert!(absent.allow_create);
    let shown = c.get_flavor(&caller(), "1").await.unwrap();
    assert_eq!(
        shown.disk_template.as_deref(),
        raw("flavor_show.json")["flavor"]["SNF:disk_template"].as_str()
    );
    let images = c.list_images_detail(&caller()).await.unwrap();
    let recorded = raw("images_detail.json");
    for (i, r) in images.iter().zip(recorded["images"].as_array().unwrap()) {
        assert_eq!(i.id, text(&r["id"]));
        let metadata: BTreeMap<String, String> =
            serde_json::from_value(r["metadata"].clone()).unwrap();
        assert_eq!(i.metadata, metadata, "the image's properties, as given");
    }

    let atts = c.list_volume_attachments(&caller(), "101").await.unwrap();
    let recorded = raw("volume_attachments.json");
    let recorded = recorded["volumeAttachments"].as_array().unwrap();
    assert_eq!(atts.len(), recorded.len());
    for (a, r) in atts.iter().zip(recorded) {
        assert_eq!(
            (a.id.clone(), a.volume_id.clone(), a.server_id.clone()),
            (text(&r["id"]), text(&r["volumeId"]), text(&r["serverId"])),
            "integer ids read as text"
        );
    }
    let att = c.attach_volume(&caller(), "101", "110").await.unwrap();
    assert_eq!(
        att.volume_id,
        text(&raw("volume_attachment_create.json")["volumeAttachment"]["volumeId"])
    );
    assert_eq!(
        fake.last("POST", &format!("{C}/servers/101/os-volume_attachments"))
            .body,
        Some(json!({"volumeAttachment": {"volumeId": "110"}}))
    );
    c.detach_volume(&caller(), "101", "110").await.unwrap();
}

#[tokio::test]
async fn networks_subnets_ports_and_floating_ips() {
    let (fake, c) = fake(&[]).await;
    let nets = c.list_networks(&caller()).await.unwrap();
    let recorded = raw("networks_list.json");
    let recorded = recorded["networks"].as_array().unwrap();
    assert_eq!(nets.len(), recorded.len());
    for (n, r) in nets.iter().zip(recorded) {
        assert_eq!(n.id, text(&r["id"]));
        let subnets: Vec<String> = r["subnets"].as_array().unwrap().iter().map(text).collect();
        assert_eq!(n.subnets, subnets);
        assert_eq!(n.public, r["public"].as_bool().unwrap());
        assert_eq!(
            n.floating_ip_pool,
            r["SNF:floating_ip_pool"].as_bool().unwrap()
        );
        assert_eq!(n.user_id.as_deref(), r["user_id"].as_str());
        assert_eq!(n.network_type.as_deref(), r["type"].as_str());
    }

    let net = c
        .create_network(
            &caller(),
            &NewNetwork {
                network_type: "MAC_FILTERED".into(),
                name: "My Test Network".into(),
                project: Some("p".into()),
                shared: false,
                admin_state_up: true,
            },
        )
        .await
        .unwrap();
    assert_eq!(net.id, text(&raw("network_create.json")["network"]["id"]));
    assert_eq!(
        fake.last("POST", &format!("{N}/networks")).body,
        Some(
            json!({"network": {"type": "MAC_FILTERED", "name": "My Test Network", "project": "p", "shared": false, "admin_state_up": true}})
        )
    );
    let subnet = c
        .create_subnet(
            &caller(),
            &NewSubnet {
                network_id: "3141".into(),
                cidr: "192.168.0.0/24".into(),
                ip_version: 4,
                name: Some("My Test Network subnet".into()),
                gateway_ip: None,
                enable_dhcp: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        subnet.gateway_ip.as_deref(),
        raw("subnet_create.json")["subnet"]["gateway_ip"].as_str()
    );
    assert_eq!(
        fake.last("POST", &format!("{N}/subnets")).body,
        Some(
            json!({"subnet": {"network_id": "3141", "cidr": "192.168.0.0/24", "ip_version": 4, "name": "My Test Network subnet", "gateway_ip": null, "enable_dhcp": false}})
        )
    );
    c.delete_network(&caller(), "3141").await.unwrap();

    // The device filter is sent, and applied here too: Cyclades'
    // `list_ports` ignores it and answers every port of the caller.
    let recorded = raw("ports_list.json");
    let recorded = recorded["ports"].as_array().unwrap();
    let device = recorded
        .iter()
        .find_map(|p| p["device_id"].as_str())
        .expect("a port of a server")
        .to_owned();
    let ports = c.list_ports(&caller(), Some(&device)).await.unwrap();
    let expected: Vec<String> = recorded
        .iter()
        .filter(|p| p["device_id"].as_str() == Some(device.as_str()))
        .map(|p| text(&p["id"]))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        ports.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(
        fake.last("GET", &format!("{N}/ports")).query,
        Some(format!("device_id={device}"))
    );
    assert_eq!(
        c.list_ports(&caller(), None).await.unwrap().len(),
        recorded.len()
    );

    let fips = c.list_floating_ips(&caller()).await.unwrap();
    let recorded = raw("floatingips_list.json");
    let recorded = recorded["floatingips"].as_array().unwrap();
    assert_eq!(fips.len(), recorded.len());
    for (f, r) in fips.iter().zip(recorded) {
        assert_eq!(f.id, text(&r["id"]));
        assert_eq!(
            f.floating_ip_address,
            r["floating_ip_address"].as_str().unwrap()
        );
        assert_eq!(f.instance_id.as_deref(), r["instance_id"].as_str());
        assert_eq!(f.port_id.as_deref(), r["port_id"].as_str());
        assert_eq!(
            f.floating_network_id.as_deref(),
            r["floating_network_id"].as_str()
        );
    }

    let fip = c
        .create_floating_ip(
            &caller(),
            &NewFloatingIp {
                floating_network_id: None,
                floating_ip_address: None,
                project: Some("p".into()),
            },
        )
        .await
        .unwrap();
    let recorded = &raw("floatingip_create.json")["floatingip"];
    assert_eq!(
        fip.floating_ip_address,
        recorded["floating_ip_address"].as_str().unwrap()
    );
    assert_eq!(
        fake.last("POST", &format!("{N}/floatingips")).body,
        Some(json!({"floatingip": {"floating_network_id": null, "project": "p"}}))
    );
    c.attach_floating_ip(&caller(), "42", &fip).await.unwrap();
    assert_eq!(
        fake.last("POST", &format!("{N}/ports")).body,
        Some(
            json!({"port": {"network_id": recorded["floating_network_id"], "device_id": "42",
                            "fixed_ips": [{"ip_address": recorded["floating_ip_address"]}]}})
        )
    );
    c.delete_port(&caller(), "19").await.unwrap();
}

#[tokio::test]
async fn volumes_as_block_storage_documents_them() {
    let (fake, c) = fake(&[]).await;
    let list = c.list_volumes(&caller()).await.unwrap();
    let recorded = raw("volumes_list.json");
    // A root disk's name is null (Cyclades stores none): read as "".
    let names: Vec<String> = recorded["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| text(&v["display_name"]))
        .collect();
    assert_eq!(
        list.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
        names
    );
    let vols = c.list_volumes_detail(&caller()).await.unwrap();
    let recorded = raw("volumes_detail.json");
    let recorded = recorded["volumes"].as_array().unwrap();
    assert_eq!(vols.len(), recorded.len());
    for (v, r) in vols.iter().zip(recorded) {
        assert_eq!(v.id, text(&r["id"]));
        assert_eq!(
            v.volume_type.as_deref(),
            Some(text(&r["volume_type"]).as_str())
        );
        assert_eq!(v.project(), r["tenant_id"].as_str());
        assert_eq!(v.status.as_deref(), r["status"].as_str());
        assert_eq!(v.size, r["size"].as_u64().unwrap());
        let attachments = r["attachments"].as_array().unwrap();
        assert_eq!(v.attachments.len(), attachments.len());
        for (a, ra) in v.attachments.iter().zip(attachments) {
            assert_eq!(a.server_id, text(&ra["server_id"]));
            assert_eq!(
                a.device_index.as_deref(),
                Some(text(&ra["device_index"]).as_str())
            );
        }
    }
    assert!(
        vols.iter().any(|v| !v.attachments.is_empty()),
        "the recording holds an attached volume"
    );
    let v = c
        .create_volume(
            &caller(),
            &NewVolume {
                size: 10,
                display_name: "Volume Three".into(),
                volume_type: Some("1".into()),
                project: Some("1234".into()),
                server_id: None,
                display_description: None,
            },
        )
        .await
        .unwrap();
    // Cyclades answers a create in brief (`volume_to_dict(volume,
    // detail=False)`): the id and name only.
    let recorded = &raw("volume_create.json")["volume"];
    assert_eq!(
        (v.id.clone(), v.name.clone()),
        (text(&recorded["id"]), text(&recorded["display_name"]))
    );
    assert_eq!(
        fake.last("POST", &format!("{V}/volumes")).body,
        Some(
            json!({"volume": {"size": 10, "display_name": "Volume Three", "volume_type": "1", "project": "1234"}})
        )
    );
    c.delete_volume(&caller(), "42").await.unwrap();
}

#[tokio::test]
async fn snapshots_as_block_storage_documents_them() {
    let (documented, c) = fake(&[]).await;
    let new = NewSnapshot {
        volume_id: "123".into(),
        display_name: Some("Snapshot Three".into()),
        display_description: None,
    };
    let s = c.create_snapshot(&caller(), &new).await.unwrap();
    assert_eq!(s.id, "44");
    assert_eq!(s.display_name, "Snapshot Three");
    assert_eq!(s.status.as_deref(), Some("CREATING"));
    assert_eq!(s.volume_id.as_deref(), Some("123"));
    assert_eq!(s.size, Some(10));
    assert_eq!(
        documented.last("POST", &format!("{V}/snapshots")).body,
        Some(json!({"snapshot": {"volume_id": "123", "display_name": "Snapshot Three"}}))
    );
    // A refusal keeps Cyclades' status, kind and message; a write is
    // sent once.
    let refused = format!("POST {V}/snapshots");
    let (refusing, c) = fake(&[(&refused, 400, "fault_snapshot_refused.json")]).await;
    let err = c.create_snapshot(&caller(), &new).await.unwrap_err();
    assert_eq!(err.fault_kind(), Some(&FaultKind::BadRequest));
    assert_eq!(err.gateway_status(), 400);
    assert!(err.user_message().contains("'drbd' disk template"), "{err}");
    let sent = refusing
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path.ends_with("/snapshots"))
        .count();
    assert_eq!(sent, 1);
}

#[tokio::test]
async fn quota_faults_are_413_and_unintelligible_answers_are_502() {
    let extra = [
        (
            "GET /cyclades/compute/v2.0/flavors/detail",
            413,
            "fault_over_limit.json",
        ),
        ("GET /cyclades/compute/v2.0/images/detail", 502, "!html"),
        ("GET /cyclades/network/v2.0/networks", 200, "!html"),
    ];
    let (_fake, c) = fake(&extra).await;
    let err = c.list_flavors_detail(&caller()).await.unwrap_err();
    assert_eq!(err.fault_kind(), Some(&FaultKind::OverLimit));
    assert_eq!(err.gateway_status(), 413);
    let err = c.list_images_detail(&caller()).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    assert_eq!(err.gateway_status(), 502);
    let err = c.list_networks(&caller()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SynnefoError::InvalidResponse {
                service: Service::Network,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.gateway_status(), 502);
}

#[tokio::test]
async fn catalog_problems_are_clear_errors() {
    let (_fake, c) = fake(&[("POST /account/v2.0/tokens", 200, "fault_unauthorized.json")]).await;
    // 200 with a body that has no access: invalid, not a crash.
    let err = c.list_servers(&caller()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SynnefoError::InvalidResponse {
                service: Service::Identity,
                ..
            }
        ),
        "{err:?}"
    );
    let (_fake, c) = fake(&[(
        "POST /account/v2.0/tokens",
        200,
        "identity_compute_only.json",
    )])
    .await;
    assert!(c.list_servers(&caller()).await.is_ok());
    let err = c.list_volumes(&caller()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SynnefoError::NoEndpoint {
                service: Service::Volume
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.gateway_status(), 502);
    let mut config = ClientConfig::new("http://127.0.0.1:9/identity/v2.0");
    config.compute_url = Some("http://127.0.0.1:9/compute/v2.0".into());
    let c = Client::new(
        snf_occi::synnefo::Transport::new(Default::default()).unwrap(),
        config,
    );
    // The explicit endpoint is used without discovery; nothing listens.
    let err = c.list_servers(&caller()).await.unwrap_err();
    assert!(
        matches!(
            err,
            SynnefoError::Unreachable {
                service: Service::Compute,
                ..
            }
        ),
        "{err:?}"
    );
}
