//! The typed Synnefo client against answers recorded from the Synnefo API
//! documentation (tests/fixtures/synnefo), served by a tiny in-test HTTP
//! server: checks what the client sends and how it reads what Synnefo
//! documents, independently of the simulator.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use snf_occi::middleware::{RequestId, SecretToken};
use snf_occi::synnefo::{
    Caller, Client, ClientConfig, FaultKind, NewFloatingIp, NewNetwork, NewServer, NewSnapshot,
    NewSubnet, NewVolume, Personality, RebootType, ServerAction, ServerStatus, Service,
    SynnefoError,
};

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
    match fake.routes.get(&key) {
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
async fn authenticate_reads_the_documented_access_answer() {
    let (fake, c) = fake(&[]).await;
    let access = c.authenticate(&caller()).await.unwrap();
    let sent = fake.last("POST", "/account/v2.0/tokens");
    assert_eq!(
        sent.body,
        Some(json!({"auth": {"token": {"id": "user-secret-token"}}}))
    );
    assert_eq!(sent.token, None, "the token travels in the body only");
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    let token = access.token.as_ref().unwrap();
    assert_eq!(token.id.expose(), "CDEe2k0T/HdiJWBMMbHyOA==");
    let expected =
        snf_occi::synnefo::timestamp::parse_rfc3339("2013-06-19T15:23:59.975572Z").unwrap();
    assert_eq!(token.expires_at(), Some(expected));
    assert_eq!(
        token.tenant.as_ref().unwrap().id,
        "c18088be-16b1-4263-8180-043c54e22903"
    );
    let user = access.user.as_ref().unwrap();
    assert_eq!(user.name.as_deref(), Some("Firstname Lastname"));
    assert_eq!(
        access.default_project(),
        Some("4d3c1fa4-5b05-4a3e-8f5b-0e7e1b1d3b8c")
    );
    assert_eq!(
        access.endpoint("compute").as_deref(),
        Some(format!("{}{C}", fake.base).as_str())
    );

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
async fn servers_with_mixed_integer_and_string_ids() {
    let (_fake, c) = fake(&[]).await;
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
    assert!(err.user_message().contains("Server 999999 not found"));
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
    assert_eq!(created.id, "5678");
    assert_eq!(created.status, ServerStatus::Build);
    assert_eq!(created.admin_pass.as_deref(), Some("fKCqlZe2at"));
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
    assert_eq!(all.get("OS").map(String::as_str), Some("Linux"));
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
    let flavors = c.list_flavors_detail(&caller()).await.unwrap();
    assert_eq!(flavors.len(), 2);
    assert_eq!(
        (
            flavors[0].id.as_str(),
            flavors[0].vcpus,
            flavors[0].ram,
            flavors[0].disk
        ),
        ("1", 1, 1024, 20)
    );
    assert!(
        flavors[0].allow_create,
        "absent SNF:allow_create means creatable"
    );
    assert!(!flavors[1].allow_create);
    assert_eq!(
        c.get_flavor(&caller(), "1")
            .await
            .unwrap()
            .disk_template
            .as_deref(),
        Some("drbd")
    );
    let images = c.list_images_detail(&caller()).await.unwrap();
    assert_eq!(images[0].users().collect::<Vec<_>>(), vec!["root", "user"]);

    let atts = c.list_volume_attachments(&caller(), "101").await.unwrap();
    assert_eq!(
        (
            atts[0].id.as_str(),
            atts[0].volume_id.as_str(),
            atts[0].server_id.as_str()
        ),
        ("109", "109", "101")
    );
    let att = c.attach_volume(&caller(), "101", "110").await.unwrap();
    assert_eq!(att.volume_id, "110");
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
    assert_eq!(nets[0].id, "2718");
    assert_eq!(nets[0].subnets, vec!["28".to_string()]);
    assert!(nets[0].public);
    assert_eq!(nets[1].user_id.as_deref(), Some("s0m3-u5e7-1d"));

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
    assert_eq!(net.id, "3141");
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
    assert_eq!(subnet.gateway_ip, None);
    assert_eq!(
        fake.last("POST", &format!("{N}/subnets")).body,
        Some(
            json!({"subnet": {"network_id": "3141", "cidr": "192.168.0.0/24", "ip_version": 4, "name": "My Test Network subnet", "gateway_ip": null, "enable_dhcp": false}})
        )
    );
    c.delete_network(&caller(), "3141").await.unwrap();

    // The device filter is sent, and applied here too.
    let ports = c.list_ports(&caller(), Some("42")).await.unwrap();
    assert_eq!(
        ports.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec!["18", "19"]
    );
    assert_eq!(
        fake.last("GET", &format!("{N}/ports")).query.as_deref(),
        Some("device_id=42")
    );
    assert_eq!(c.list_ports(&caller(), None).await.unwrap().len(), 3);

    let fips = c.list_floating_ips(&caller()).await.unwrap();
    assert_eq!(fips[0].instance_id.as_deref(), Some("42"));
    assert_eq!(fips[0].floating_network_id.as_deref(), Some("2719"));
    assert_eq!(fips[0].port_id.as_deref(), Some("19"));
    assert_eq!(fips[1].instance_id, None);

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
    assert_eq!(fip.floating_ip_address, "192.168.1.5");
    assert_eq!(
        fake.last("POST", &format!("{N}/floatingips")).body,
        Some(json!({"floatingip": {"floating_network_id": null, "project": "p"}}))
    );
    c.attach_floating_ip(&caller(), "42", &fip).await.unwrap();
    assert_eq!(
        fake.last("POST", &format!("{N}/ports")).body,
        Some(
            json!({"port": {"network_id": "2719", "device_id": "42", "fixed_ips": [{"ip_address": "192.168.1.5"}]}})
        )
    );
    c.delete_port(&caller(), "19").await.unwrap();
}

#[tokio::test]
async fn volumes_as_block_storage_documents_them() {
    let (fake, c) = fake(&[]).await;
    let list = c.list_volumes(&caller()).await.unwrap();
    assert_eq!(
        list.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        vec!["Volume One", "Volume Two"]
    );
    let vols = c.list_volumes_detail(&caller()).await.unwrap();
    assert_eq!(vols[0].volume_type.as_deref(), Some("1"));
    assert_eq!(vols[0].project(), Some("1234"));
    assert_eq!(vols[1].attachments[0].server_id, "101");
    assert_eq!(vols[1].attachments[0].device_index.as_deref(), Some("1"));
    assert_eq!(
        vols[1].metadata.get("requested_by").map(String::as_str),
        Some("John")
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
    assert_eq!((v.id.as_str(), v.name.as_str()), ("44", "Volume Three"));
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
