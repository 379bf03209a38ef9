//! The typed Synnefo client against the embedded simulator, over real
//! sockets: what the OCCI app will do, call by call.

use std::collections::BTreeMap;
use std::time::Duration;

use snf_occi::synnefo::network::FixedIpRequest;
use snf_occi::synnefo::{
    Caller, Client, ClientConfig, FaultKind, NetworkRef, NewFloatingIp, NewNetwork, NewPort,
    NewServer, NewSnapshot, NewSubnet, NewVolume, Personality, RebootType, ServerAction,
    ServerStatus, Service, SynnefoError, VolumeUpdate,
};
use snf_occi_simulator::{self as simulator, FaultSettings, RunningSimulator, SimulatorConfig};
use snf_occi_types::{RequestId, SecretToken};

const ALICE: &str = "alice-token";
const ALICE_UUID: &str = "a11ce000-0000-4000-8000-000000000001";
const BOB: &str = "bob-token";
const DEBIAN: &str = "0e5a4c4b-d2a1-4c1d-9d2b-debian000001";
const DEMO_PROJECT: &str = "d3m0d3m0-0000-4000-8000-000000000001";

async fn sim() -> RunningSimulator {
    simulator::start(&SimulatorConfig::instant("127.0.0.1:0".parse().unwrap()))
        .await
        .expect("simulator starts")
}

fn client(sim: &RunningSimulator) -> Client {
    Client::new(
        snf_occi::synnefo::Transport::new(Default::default()).unwrap(),
        ClientConfig::new(sim.identity_url()),
    )
}

fn caller(token: &str) -> Caller {
    Caller::new(SecretToken::new(token)).with_request_id(RequestId("req-test-1".into()))
}

fn new_server(name: &str) -> NewServer {
    NewServer {
        name: name.into(),
        flavor_ref: "1".into(),
        image_ref: DEBIAN.into(),
        ..NewServer::default()
    }
}

#[tokio::test]
async fn authenticate_gives_user_projects_expiry_and_catalog() {
    let sim = sim().await;
    let c = client(&sim);
    let access = c.authenticate(&caller(ALICE)).await.unwrap();
    let user = access.user.as_ref().unwrap();
    assert_eq!(user.id, ALICE_UUID);
    assert_eq!(user.name.as_deref(), Some("alice@example.org"));
    assert_eq!(
        user.projects,
        vec![ALICE_UUID.to_string(), DEMO_PROJECT.to_string()]
    );
    assert_eq!(access.default_project(), Some(DEMO_PROJECT));
    let token = access.token.as_ref().unwrap();
    assert_eq!(token.id.expose(), ALICE);
    let expires = token.expires_at().expect("expiry parses");
    assert!(expires > std::time::SystemTime::now() + Duration::from_secs(24 * 3600));
    assert_eq!(
        access.endpoint("compute").as_deref(),
        Some(format!("{}/compute/v2.0", sim.url()).as_str())
    );
    assert_eq!(
        access.endpoint("volume").as_deref(),
        Some(format!("{}/volume/v2.0", sim.url()).as_str()),
        "published bare with SNF:exposeVersion False, versioned by the client"
    );
    assert_eq!(
        access.endpoint("network").as_deref(),
        Some(format!("{}/network/v2.0", sim.url()).as_str())
    );

    let by_password = c
        .authenticate_password(ALICE_UUID, &SecretToken::new(ALICE), None)
        .await
        .unwrap();
    assert_eq!(by_password.user.unwrap().id, ALICE_UUID);

    let public = c.public_catalog(None).await.unwrap();
    assert!(public.token.is_none());
    assert!(public.endpoint("network").is_some());
}

#[tokio::test]
async fn bad_tokens_are_401_unauthorized_without_leaking_the_token() {
    let sim = sim().await;
    let c = client(&sim);
    let err = c.authenticate(&caller("not-a-token")).await.unwrap_err();
    assert_eq!(err.gateway_status(), 401);
    assert_eq!(err.fault_kind(), Some(&FaultKind::Unauthorized));
    assert!(!format!("{err} {err:?}").contains("not-a-token"));

    let err = c.list_servers(&caller("not-a-token")).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));

    // passwordCredentials must name the token's own user.
    let err = c
        .authenticate_password("someone-else", &SecretToken::new(ALICE), None)
        .await
        .unwrap_err();
    assert_eq!(err.gateway_status(), 401);
    assert!(!err.to_string().contains(ALICE));
}

#[tokio::test]
async fn server_lifecycle_build_stop_start_reboot_delete() {
    let mut config = SimulatorConfig::instant("127.0.0.1:0".parse().unwrap());
    config.build_delay = Duration::from_millis(300);
    config.action_delay = Duration::from_millis(100);
    let sim = simulator::start(&config).await.unwrap();
    let c = client(&sim);
    let alice = caller(ALICE);

    let mut spec = new_server("vm1");
    spec.project = Some(DEMO_PROJECT.into());
    spec.metadata = BTreeMap::from([("role".to_string(), "test".to_string())]);
    spec.personality = vec![Personality {
        path: "/var/lib/cloud/seed/nocloud-net/user-data".into(),
        contents: "I2Nsb3VkLWNvbmZpZwo=".into(),
        owner: None,
        group: None,
        mode: Some(384),
    }];
    let created = c.create_server(&alice, &spec).await.unwrap();
    assert_eq!(created.status, ServerStatus::Build);
    assert!(created.admin_pass.is_some(), "a create answers adminPass");
    assert!(created.id.parse::<u64>().is_ok(), "server ids are integers");
    assert_eq!(created.tenant_id.as_deref(), Some(DEMO_PROJECT));

    // While building, actions are 409 buildInProgress.
    let err = c
        .server_action(&alice, &created.id, &ServerAction::Shutdown)
        .await
        .unwrap_err();
    assert_eq!(err.fault_kind(), Some(&FaultKind::BuildInProgress));
    assert_eq!(err.gateway_status(), 409);

    tokio::time::sleep(Duration::from_millis(350)).await;
    let server = c.get_server(&alice, &created.id).await.unwrap();
    assert_eq!(server.status, ServerStatus::Active);
    assert_eq!(server.flavor.as_ref().unwrap().id, "1");
    assert_eq!(server.image.as_ref().unwrap().id, DEBIAN);
    assert_eq!(
        server.metadata.get("role").map(String::as_str),
        Some("test")
    );
    assert!(
        server.attachments.is_empty() && server.addresses.is_empty(),
        "Cyclades' default CYCLADES_DEFAULT_SERVER_NETWORKS is empty: no NIC"
    );

    // Start while ACTIVE is a 400 badRequest, as Synnefo validates it.
    let err = c
        .server_action(&alice, &created.id, &ServerAction::Start)
        .await
        .unwrap_err();
    assert_eq!(err.gateway_status(), 400);

    c.server_action(&alice, &created.id, &ServerAction::Shutdown)
        .await
        .unwrap();
    let stopping = c.get_server(&alice, &created.id).await.unwrap();
    assert_eq!(stopping.task_state.as_deref(), Some("STOPPING"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        c.get_server(&alice, &created.id).await.unwrap().status,
        ServerStatus::Stopped
    );

    c.server_action(&alice, &created.id, &ServerAction::Start)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        c.get_server(&alice, &created.id).await.unwrap().status,
        ServerStatus::Active
    );

    c.server_action(&alice, &created.id, &ServerAction::Reboot(RebootType::Soft))
        .await
        .unwrap();
    assert_eq!(
        c.get_server(&alice, &created.id).await.unwrap().status,
        ServerStatus::Reboot
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        c.get_server(&alice, &created.id).await.unwrap().status,
        ServerStatus::Active
    );

    c.rename_server(&alice, &created.id, "renamed")
        .await
        .unwrap();
    let listed = c.list_servers(&alice).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "renamed");

    c.delete_server(&alice, &created.id).await.unwrap();
    // Being deleted until the deletion's job is done, as in Cyclades.
    assert_eq!(
        c.get_server(&alice, &created.id).await.unwrap().status,
        ServerStatus::Active
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        c.get_server(&alice, &created.id).await.unwrap().status,
        ServerStatus::Deleted
    );
    assert!(c.list_servers_detail(&alice).await.unwrap().is_empty());
}

#[tokio::test]
async fn users_never_see_each_others_resources() {
    let sim = sim().await;
    let c = client(&sim);
    let (alice, bob) = (caller(ALICE), caller(BOB));
    let server = c
        .create_server(&alice, &new_server("private"))
        .await
        .unwrap();
    let volume = c
        .create_volume(
            &alice,
            &NewVolume {
                size: 2,
                display_name: "data".into(),
                volume_type: Some("1".into()),
                project: None,
                server_id: None,
                display_description: None,
            },
        )
        .await
        .unwrap();
    let net = c
        .create_network(
            &alice,
            &NewNetwork {
                network_type: "MAC_FILTERED".into(),
                name: "alice-net".into(),
                project: None,
                shared: false,
                admin_state_up: true,
            },
        )
        .await
        .unwrap();
    let fip = c
        .create_floating_ip(&alice, &NewFloatingIp::default())
        .await
        .unwrap();

    assert!(c.list_servers(&bob).await.unwrap().is_empty());
    assert!(
        c.get_server(&bob, &server.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        c.delete_server(&bob, &server.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        c.get_volume(&bob, &volume.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(c.list_volumes_detail(&bob).await.unwrap().is_empty());
    assert!(
        c.get_network(&bob, &net.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let bob_nets = c.list_networks(&bob).await.unwrap();
    assert!(
        bob_nets.iter().all(|n| n.public),
        "bob sees only public networks"
    );
    assert!(c.list_floating_ips(&bob).await.unwrap().is_empty());
    assert!(
        c.delete_floating_ip(&bob, &fip.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(c.list_ports(&bob, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn flavors_and_images_carry_synnefo_extensions() {
    let sim = sim().await;
    let c = client(&sim);
    let alice = caller(ALICE);
    let flavors = c.list_flavors_detail(&alice).await.unwrap();
    let seed = flavors
        .iter()
        .find(|f| f.name == "C2R2048D20")
        .expect("seed document's flavor");
    assert_eq!((seed.vcpus, seed.ram, seed.disk), (2, 2048, 20));
    assert!(
        flavors
            .iter()
            .any(|f| f.name == "C1R1024D20drbd" && f.disk_template.as_deref() == Some("drbd"))
    );
    assert!(
        flavors.iter().any(|f| !f.allow_create),
        "one flavor is not creatable"
    );
    assert_eq!(c.list_flavors(&alice).await.unwrap().len(), flavors.len());
    assert_eq!(
        c.get_flavor(&alice, &seed.id).await.unwrap().name,
        "C2R2048D20"
    );

    let images = c.list_images_detail(&alice).await.unwrap();
    let debian = images
        .iter()
        .find(|i| i.name == "Debian")
        .expect("seed document's image");
    assert_eq!(debian.users().collect::<Vec<_>>(), vec!["root", "user"]);
    assert_eq!(
        debian.metadata.get("os").map(String::as_str),
        Some("debian")
    );
    assert!(
        c.get_image(&alice, "no-such-image")
            .await
            .unwrap_err()
            .is_not_found()
    );

    // A non-creatable flavor is refused.
    let mut spec = new_server("x");
    spec.flavor_ref = flavors.iter().find(|f| !f.allow_create).unwrap().id.clone();
    assert_eq!(
        c.create_server(&alice, &spec)
            .await
            .unwrap_err()
            .gateway_status(),
        403
    );
    // An unknown image is 404.
    let mut spec = new_server("x");
    spec.image_ref = "nope".into();
    assert_eq!(
        c.create_server(&alice, &spec)
            .await
            .unwrap_err()
            .gateway_status(),
        404
    );
}

#[tokio::test]
async fn volumes_attach_detach_and_delete() {
    let sim = sim().await;
    let c = client(&sim);
    let alice = caller(ALICE);
    // Flavor 4 (ext_archipelago): volume type 1's template, which
    // Cyclades requires of the server a volume is attached to.
    let server = c
        .create_server(
            &alice,
            &NewServer {
                flavor_ref: "4".into(),
                ..new_server("with-disk")
            },
        )
        .await
        .unwrap();
    let volume = c
        .create_volume(
            &alice,
            &NewVolume {
                size: 10,
                display_name: "My Test Volume".into(),
                volume_type: Some("1".into()),
                project: Some(DEMO_PROJECT.into()),
                server_id: None,
                display_description: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(volume.name, "My Test Volume");
    let volume = c.get_volume(&alice, &volume.id).await.unwrap();
    assert_eq!(volume.size, 10);
    assert_eq!(volume.project(), Some(DEMO_PROJECT));
    assert!(volume.attachments.is_empty());

    let root = c.list_volume_attachments(&alice, &server.id).await.unwrap();
    assert_eq!(root.len(), 1, "the root volume");
    let att = c
        .attach_volume(&alice, &server.id, &volume.id)
        .await
        .unwrap();
    assert_eq!(att.volume_id, volume.id);
    assert_eq!(att.server_id, server.id);
    let attached = c.get_volume(&alice, &volume.id).await.unwrap();
    assert_eq!(attached.attachments[0].server_id, server.id);
    // Cyclades shows volume statuses in lower case.
    assert_eq!(attached.status.as_deref(), Some("in_use"));
    assert_eq!(
        c.list_volume_attachments(&alice, &server.id)
            .await
            .unwrap()
            .len(),
        2
    );

    // The root volume cannot be detached.
    assert_eq!(
        c.detach_volume(&alice, &server.id, &root[0].id)
            .await
            .unwrap_err()
            .gateway_status(),
        400
    );
    c.detach_volume(&alice, &server.id, &att.id).await.unwrap();
    assert!(
        c.get_volume(&alice, &volume.id)
            .await
            .unwrap()
            .attachments
            .is_empty()
    );
    c.delete_volume(&alice, &volume.id).await.unwrap();
    // A deleted volume is still shown, as deleted.
    assert_eq!(
        c.get_volume(&alice, &volume.id)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("deleted")
    );

    let err = c
        .create_volume(
            &alice,
            &NewVolume {
                size: 0,
                display_name: "zero".into(),
                volume_type: Some("1".into()),
                project: None,
                server_id: None,
                display_description: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.gateway_status(), 400);
    // The detachable template first, as the real harness numbers them.
    assert_eq!(
        c.list_volume_types(&alice).await.unwrap()[0].name,
        "ext_archipelago"
    );
}

#[tokio::test]
async fn a_snapshot_of_a_root_volume_is_an_image_of_its_owner() {
    let sim = sim().await;
    let c = client(&sim);
    let (alice, bob) = (caller(ALICE), caller(BOB));
    // Flavor 4 keeps its disks on ext_archipelago, which snapshots.
    let server = c
        .create_server(
            &alice,
            &NewServer {
                flavor_ref: "4".into(),
                ..new_server("source")
            },
        )
        .await
        .unwrap();
    let server = c.get_server(&alice, &server.id).await.unwrap();
    let root = server.volumes[0].clone();
    let new = NewSnapshot {
        volume_id: root.clone(),
        display_name: Some("golden".into()),
        display_description: None,
    };
    let snap = c.create_snapshot(&alice, &new).await.unwrap();
    assert_eq!(snap.status.as_deref(), Some("CREATING"));
    assert_eq!(snap.volume_id.as_deref(), Some(root.as_str()));
    let image = c.get_image(&alice, &snap.id).await.unwrap();
    assert_eq!(image.name, "golden");
    assert_eq!(image.is_snapshot, Some(true));
    assert_eq!(image.public, Some(false));
    assert!(
        c.list_images_detail(&alice)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id == snap.id)
    );
    assert!(
        !c.list_images_detail(&bob)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id == snap.id)
    );
    let shown = c.get_snapshot(&alice, &snap.id).await.unwrap();
    assert_eq!(shown.status.as_deref(), Some("AVAILABLE"));
    assert!(
        c.get_snapshot(&bob, &snap.id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Bob cannot snapshot Alice's volume: Cyclades says 400, not 404.
    let err = c.create_snapshot(&bob, &new).await.unwrap_err();
    assert_eq!(err.fault_kind(), Some(&FaultKind::BadRequest));
    // The snapshot boots a new server.
    let clone = c
        .create_server(
            &alice,
            &NewServer {
                flavor_ref: "4".into(),
                image_ref: snap.id.clone(),
                ..new_server("clone")
            },
        )
        .await
        .unwrap();
    assert_eq!(
        clone.image.as_ref().map(|i| i.id.as_str()),
        Some(snap.id.as_str())
    );
}

#[tokio::test]
async fn private_networks_ports_and_floating_ips() {
    let sim = sim().await;
    let c = client(&sim);
    let alice = caller(ALICE);
    let server = c.create_server(&alice, &new_server("net")).await.unwrap();
    let net = c
        .create_network(
            &alice,
            &NewNetwork {
                network_type: "MAC_FILTERED".into(),
                name: "My Test Network".into(),
                project: Some(DEMO_PROJECT.into()),
                shared: false,
                admin_state_up: true,
            },
        )
        .await
        .unwrap();
    assert!(!net.public);
    let subnet = c
        .create_subnet(
            &alice,
            &NewSubnet {
                network_id: net.id.clone(),
                cidr: "192.168.0.0/24".into(),
                ip_version: 4,
                name: Some("My Test Network subnet".into()),
                gateway_ip: None,
                enable_dhcp: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(subnet.cidr, "192.168.0.0/24");
    assert_eq!(subnet.gateway_ip, None, "null gateway stays null");
    assert_eq!(
        c.get_network(&alice, &net.id).await.unwrap().subnets,
        vec![subnet.id.clone()]
    );
    assert!(
        c.list_subnets(&alice)
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == subnet.id)
    );

    let port = c
        .create_port(
            &alice,
            &NewPort {
                network_id: net.id.clone(),
                device_id: server.id.clone(),
                fixed_ips: vec![],
                name: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(port.device_id.as_deref(), Some(server.id.as_str()));
    assert!(port.fixed_ips[0].ip_address.starts_with("192.168.0."));
    let server_now = c.get_server(&alice, &server.id).await.unwrap();
    assert!(
        server_now
            .attachments
            .iter()
            .any(|a| a.network_id == net.id && a.mac_address == port.mac_address)
    );

    // A network with ports cannot go.
    assert_eq!(
        c.delete_network(&alice, &net.id)
            .await
            .unwrap_err()
            .gateway_status(),
        409
    );

    let fip = c
        .create_floating_ip(
            &alice,
            &NewFloatingIp {
                floating_network_id: None,
                floating_ip_address: None,
                project: Some(DEMO_PROJECT.into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(fip.floating_network_id.as_deref(), Some("1"));
    assert!(fip.instance_id.is_none());
    let fport = c
        .attach_floating_ip(&alice, &server.id, &fip)
        .await
        .unwrap();
    let fip_now = c.get_floating_ip(&alice, &fip.id).await.unwrap();
    assert_eq!(fip_now.instance_id.as_deref(), Some(server.id.as_str()));
    assert_eq!(fip_now.port_id.as_deref(), Some(fport.id.as_str()));
    let server_now = c.get_server(&alice, &server.id).await.unwrap();
    let floating = server_now.addresses["1"]
        .iter()
        .find(|a| a.addr == fip.floating_ip_address)
        .unwrap();
    assert_eq!(floating.ip_type.as_deref(), Some("floating"));
    // Attached floating IPs cannot be released; a second attach conflicts.
    assert_eq!(
        c.delete_floating_ip(&alice, &fip.id)
            .await
            .unwrap_err()
            .gateway_status(),
        409
    );
    let again = NewPort {
        network_id: "1".into(),
        device_id: server.id.clone(),
        fixed_ips: vec![FixedIpRequest {
            ip_address: fip.floating_ip_address.clone(),
        }],
        name: None,
    };
    assert_eq!(
        c.create_port(&alice, &again)
            .await
            .unwrap_err()
            .gateway_status(),
        409
    );

    let ports = c.list_ports(&alice, Some(&server.id)).await.unwrap();
    assert_eq!(
        ports.len(),
        2,
        "private port, floating port (no default NIC)"
    );
    c.delete_port(&alice, &fport.id).await.unwrap();
    c.delete_port(&alice, &port.id).await.unwrap();
    c.delete_floating_ip(&alice, &fip.id).await.unwrap();
    c.delete_network(&alice, &net.id).await.unwrap();
    // A deleted network is still shown, as DELETED.
    assert_eq!(
        c.get_network(&alice, &net.id)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("DELETED")
    );

    // Servers created on a private network get an address from it.
    let net2 = c
        .create_network(
            &alice,
            &NewNetwork {
                network_type: "MAC_FILTERED".into(),
                name: "n2".into(),
                project: None,
                shared: false,
                admin_state_up: true,
            },
        )
        .await
        .unwrap();
    c.create_subnet(
        &alice,
        &NewSubnet {
            network_id: net2.id.clone(),
            cidr: "10.0.0.0/24".into(),
            ip_version: 4,
            name: None,
            gateway_ip: Some("10.0.0.1".into()),
            enable_dhcp: true,
        },
    )
    .await
    .unwrap();
    let mut spec = new_server("on-private");
    spec.networks = Some(vec![NetworkRef::network(net2.id.clone())]);
    let s2 = c.create_server(&alice, &spec).await.unwrap();
    let addrs = &c.get_server(&alice, &s2.id).await.unwrap().addresses[&net2.id];
    assert_eq!(addrs[0].addr, "10.0.0.2");
}

#[tokio::test]
async fn metadata_get_set_delete() {
    let sim = sim().await;
    let c = client(&sim);
    let alice = caller(ALICE);
    let s = c.create_server(&alice, &new_server("meta")).await.unwrap();
    let all = c
        .set_server_metadata(
            &alice,
            &s.id,
            &BTreeMap::from([
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "2".to_string()),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let all = c
        .set_server_metadata(
            &alice,
            &s.id,
            &BTreeMap::from([("a".to_string(), "3".to_string())]),
        )
        .await
        .unwrap();
    assert_eq!(all.get("a").map(String::as_str), Some("3"));
    assert_eq!(
        all.get("b").map(String::as_str),
        Some("2"),
        "other keys stay"
    );
    c.delete_server_metadata(&alice, &s.id, "b").await.unwrap();
    assert_eq!(c.get_server_metadata(&alice, &s.id).await.unwrap().len(), 1);
    assert!(
        c.delete_server_metadata(&alice, &s.id, "b")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn quota_and_personality_limits_are_413() {
    let mut config = SimulatorConfig::instant("127.0.0.1:0".parse().unwrap());
    config.quotas.servers = 1;
    let sim = simulator::start(&config).await.unwrap();
    let c = client(&sim);
    let alice = caller(ALICE);
    c.create_server(&alice, &new_server("one")).await.unwrap();
    let err = c
        .create_server(&alice, &new_server("two"))
        .await
        .unwrap_err();
    assert_eq!(err.fault_kind(), Some(&FaultKind::OverLimit));
    assert_eq!(err.gateway_status(), 413);

    let mut spec = new_server("big");
    use base64::Engine;
    spec.personality = vec![Personality {
        path: "/big".into(),
        contents: base64::engine::general_purpose::STANDARD.encode(vec![b'x'; 10_241]),
        owner: None,
        group: None,
        mode: None,
    }];
    let bob = caller(BOB);
    assert_eq!(
        c.create_server(&bob, &spec)
            .await
            .unwrap_err()
            .gateway_status(),
        413
    );
    spec.personality[0].contents = "not base64!".into();
    assert_eq!(
        c.create_server(&bob, &spec)
            .await
            .unwrap_err()
            .gateway_status(),
        400
    );
}

#[tokio::test]
async fn public_default_networks_answer_the_conflict_the_original_retried_on() {
    let mut config = SimulatorConfig::instant("127.0.0.1:0".parse().unwrap());
    config.default_server_networks = vec!["SNF:ANY_PUBLIC_IPV4".into()];
    let sim = simulator::start(&config).await.unwrap();
    let c = client(&sim);
    let alice = caller(ALICE);
    let err = c
        .create_server(&alice, &new_server("needs-ip"))
        .await
        .unwrap_err();
    assert_eq!(err.gateway_status(), 409);
    assert!(
        err.user_message().contains("Please create a floating IP"),
        "{}",
        err.user_message()
    );
    let fip = c
        .create_floating_ip(&alice, &NewFloatingIp::default())
        .await
        .unwrap();
    let s = c
        .create_server(&alice, &new_server("needs-ip"))
        .await
        .unwrap();
    // No NIC shows while the server builds; this instant one is built.
    let s = c.get_server(&alice, &s.id).await.unwrap();
    assert_eq!(s.addresses["1"][0].addr, fip.floating_ip_address);
}

#[tokio::test]
async fn volumes_and_networks_are_renamed_and_the_writes_never_retried() {
    let sim = sim().await;
    let c = client(&sim);
    let (alice, bob) = (caller(ALICE), caller(BOB));
    let volume = c
        .create_volume(
            &alice,
            &NewVolume {
                size: 3,
                display_name: "data".into(),
                volume_type: Some("1".into()),
                project: None,
                server_id: None,
                display_description: None,
            },
        )
        .await
        .unwrap();
    let update = VolumeUpdate {
        display_name: Some("renamed".into()),
        display_description: Some("scratch space".into()),
    };
    let updated = c.update_volume(&alice, &volume.id, &update).await.unwrap();
    assert_eq!(updated.display_name, "renamed");
    assert_eq!(
        updated.display_description.as_deref(),
        Some("scratch space")
    );
    assert_eq!(updated.size, 3);
    assert_eq!(
        c.get_volume(&alice, &volume.id).await.unwrap().display_name,
        "renamed"
    );
    let err = c
        .update_volume(&bob, &volume.id, &update)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = c
        .update_volume(&alice, &volume.id, &VolumeUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err:?}");

    let net = c
        .create_network(
            &alice,
            &NewNetwork {
                network_type: "MAC_FILTERED".into(),
                name: "n".into(),
                project: None,
                shared: false,
                admin_state_up: true,
            },
        )
        .await
        .unwrap();
    let renamed = c.rename_network(&alice, &net.id, "lan").await.unwrap();
    assert_eq!(
        (renamed.id.as_str(), renamed.name.as_str()),
        (net.id.as_str(), "lan")
    );
    assert!(
        c.rename_network(&bob, &net.id, "x")
            .await
            .unwrap_err()
            .is_not_found()
    );
    let public = c
        .list_networks(&alice)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.public)
        .unwrap();
    let err = c
        .rename_network(&alice, &public.id, "mine")
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403), "{err:?}");

    // A refused write is not sent again (reads are, once).
    sim.set_faults(FaultSettings {
        error_rate: 1.0,
        routes: vec![
            "PUT /volume/v2.0/volumes/{id}".into(),
            "PUT /network/v2.0/networks/{id}".into(),
        ],
        ..FaultSettings::default()
    });
    sim.reset_counters();
    assert!(c.update_volume(&alice, &volume.id, &update).await.is_err());
    assert!(c.rename_network(&alice, &net.id, "again").await.is_err());
    let counters = sim.counters();
    assert_eq!(counters.get("PUT /volume/v2.0/volumes/{id}"), Some(&1));
    assert_eq!(counters.get("PUT /network/v2.0/networks/{id}"), Some(&1));
}

#[tokio::test]
async fn calls_are_counted_per_operation() {
    let sim = sim().await;
    let c = client(&sim);
    let alice = caller(ALICE);
    c.list_servers(&alice).await.unwrap(); // discovery + list
    sim.reset_counters();
    c.list_servers(&alice).await.unwrap();
    c.list_servers(&alice).await.unwrap();
    let _ = c.get_server(&alice, "424242").await;
    let counters = sim.counters();
    assert_eq!(counters.get("GET /compute/v2.0/servers"), Some(&2));
    assert_eq!(counters.get("GET /compute/v2.0/servers/{id}"), Some(&1));
    assert_eq!(
        counters.get("POST /identity/v2.0/tokens"),
        None,
        "the catalog is discovered once"
    );
    assert_eq!(counters.values().sum::<u64>(), 3);
}

#[tokio::test]
async fn concurrent_first_calls_discover_the_catalog_once() {
    let sim = sim().await;
    let c = client(&sim);
    let calls = (0..8).map(|_| {
        let c = c.clone();
        async move { c.list_flavors(&caller(ALICE)).await.map(|f| f.len()) }
    });
    for r in futures_util::future::join_all(calls).await {
        assert!(r.unwrap() > 0);
    }
    assert_eq!(sim.counters().get("POST /identity/v2.0/tokens"), Some(&1));
}

#[tokio::test]
async fn explicit_endpoints_win_over_the_catalog() {
    let sim = sim().await;
    let mut config = ClientConfig::new(sim.identity_url());
    config.compute_url = Some(format!("{}/compute/v2.0/", sim.url()));
    let c = Client::new(
        snf_occi::synnefo::Transport::new(Default::default()).unwrap(),
        config,
    );
    c.list_servers(&caller(ALICE)).await.unwrap();
    assert_eq!(sim.counters().get("POST /identity/v2.0/tokens"), None);
    assert_eq!(
        c.endpoint(Service::Compute, None).await.unwrap(),
        format!("{}/compute/v2.0", sim.url())
    );
}

#[tokio::test]
async fn injected_faults_map_to_gateway_statuses() {
    let sim = sim().await;
    let mut config = ClientConfig::new(sim.identity_url());
    config.timeout = Duration::from_millis(200);
    // Each failure as it is: retries are tested in reliability_faults.rs.
    config.read_retries = 0;
    let c = Client::new(
        snf_occi::synnefo::Transport::new(Default::default()).unwrap(),
        config,
    );
    let alice = caller(ALICE);
    c.list_servers(&alice).await.unwrap();

    sim.set_faults(FaultSettings {
        error_rate: 1.0,
        ..FaultSettings::default()
    });
    let err = c.list_servers(&alice).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(err.fault_kind(), Some(&FaultKind::ServiceUnavailable));
    assert_eq!(err.gateway_status(), 502);

    sim.set_faults(FaultSettings {
        latency: Duration::from_millis(500),
        ..FaultSettings::default()
    });
    let err = c.list_servers(&alice).await.unwrap_err();
    assert!(
        matches!(
            err,
            SynnefoError::Timeout {
                service: Service::Compute
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.gateway_status(), 504);

    sim.set_faults(FaultSettings {
        down: vec!["compute".into()],
        ..FaultSettings::default()
    });
    let err = c.list_servers(&alice).await.unwrap_err();
    assert!(matches!(err, SynnefoError::Lost { .. }), "{err:?}");
    assert_eq!(err.gateway_status(), 502);
    // Other services still answer.
    assert!(c.list_networks(&alice).await.is_ok());

    sim.set_faults(FaultSettings {
        error_rate: 0.5,
        ..FaultSettings::default()
    });
    let mut failures = 0;
    for _ in 0..10 {
        if c.list_flavors(&alice).await.is_err() {
            failures += 1;
        }
    }
    assert_eq!(failures, 5, "an exact share of answers fail");
    sim.set_faults(FaultSettings::default());
    assert!(c.list_servers(&alice).await.is_ok());
}

#[tokio::test]
async fn an_unreachable_identity_service_is_502() {
    // Reserve a port, then free it: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = Client::new(
        snf_occi::synnefo::Transport::new(Default::default()).unwrap(),
        ClientConfig::new(format!("http://{dead}/identity/v2.0")),
    );
    let err = c.list_servers(&caller(ALICE)).await.unwrap_err();
    assert!(
        matches!(
            err,
            SynnefoError::Unreachable {
                service: Service::Identity,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.gateway_status(), 502);
}

#[tokio::test]
async fn a_moved_compute_endpoint_is_rediscovered_after_a_connection_error() {
    // A catalog served by hand: first pointing at a dead port, then at the
    // simulator. The client must refresh it after the connection error.
    let sim = sim().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let identity = listener.local_addr().unwrap();
    let live = format!("{}/compute/v2.0", sim.url());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                break;
            };
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let url = if n == 0 {
                format!("http://{dead}/compute/v2.0")
            } else {
                live.clone()
            };
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = vec![0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let body = format!(
                r#"{{"access": {{"serviceCatalog": [{{"type": "compute", "name": "cyclades_compute", "endpoints": [{{"publicURL": "{url}", "versionId": "v2.0"}}]}}]}}}}"#
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    let c = Client::new(
        snf_occi::synnefo::Transport::new(Default::default()).unwrap(),
        ClientConfig::new(format!("http://{identity}/identity/v2.0")),
    );
    let servers = c
        .list_servers(&caller(ALICE))
        .await
        .expect("retried on the rediscovered endpoint");
    assert!(servers.is_empty());
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "catalog fetched twice"
    );
}

/// `changes-since` on the detailed listing, as Cyclades answers it: the
/// servers changed at or after the time (a deleted one too), 304 (`None`)
/// when none did, 400 for a time more than an hour old or in the future;
/// and every listing says when Cyclades answered it (its `Date`).
#[tokio::test]
async fn server_changes_since_a_time() {
    let sim = sim().await;
    let c = client(&sim);
    let alice = caller(ALICE);
    let kept = c.create_server(&alice, &new_server("kept")).await.unwrap();
    let full = c.list_server_states(&alice).await.unwrap();
    let as_of = full.as_of.expect("the listing carries Cyclades' Date");
    let clock = std::time::SystemTime::now();
    assert!(
        as_of <= clock && clock.duration_since(as_of).unwrap() < Duration::from_secs(5),
        "{as_of:?} is Cyclades' clock, to the second"
    );
    assert!(full.servers.iter().any(|s| s.id == kept.id));

    // Nothing changed since a moment from now: 304.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let since = std::time::SystemTime::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(c.list_server_changes(&alice, since).await.unwrap(), None);

    // A new server and a deleted one are the changes; the untouched one
    // is not among them.
    let added = c.create_server(&alice, &new_server("added")).await.unwrap();
    c.delete_server(&alice, &kept.id).await.unwrap();
    let changes = c
        .list_server_changes(&alice, since)
        .await
        .unwrap()
        .expect("two servers changed");
    let mut changed: Vec<(String, bool)> = changes
        .servers
        .iter()
        .map(|s| (s.id.clone(), s.is_gone()))
        .collect();
    changed.sort();
    let mut expected = vec![(kept.id.clone(), true), (added.id.clone(), false)];
    expected.sort();
    assert_eq!(changed, expected);
    // Bob's changes hold none of alice's servers.
    assert_eq!(
        c.list_server_changes(&caller(BOB), since).await.unwrap(),
        None
    );

    for (since, words) in [
        (
            std::time::SystemTime::now() - Duration::from_secs(7200),
            "Too old changes-since value.",
        ),
        (
            std::time::SystemTime::now() + Duration::from_secs(600),
            "changes-since value set in the future.",
        ),
    ] {
        let err = c.list_server_changes(&alice, since).await.unwrap_err();
        assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST), "{err}");
        assert!(err.to_string().contains(words), "{err}");
    }
}
