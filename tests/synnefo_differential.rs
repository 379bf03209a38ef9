//! The simulator agrees with Synnefo, by test.
//!
//! One scenario of Synnefo API calls (the identity catalog, flavors,
//! images, servers created, shown, listed, started, shut down, rebooted
//! and deleted in each state, networks, subnets, ports, floating IPs,
//! volumes, attachments, volume types, and faults: 401, 404, 409, 400 and
//! 413 over quota) runs against the embedded simulator and against a real
//! Synnefo, and every answer is compared: status, JSON keys and value
//! types (recursively; ids and values may differ), the values of the
//! enumerations clients branch on (`status`, `SNF:task_state`, ...),
//! fault kinds, messages and details (with the run's own ids written as
//! `{server1}`, `{volume1}`, ...).
//!
//! Every difference is either fixed in the simulator or listed in
//! [`DELIBERATE`] with its reason; a listed difference that no longer
//! occurs fails the test too, so the list stays true.
//!
//! The real Synnefo is the one of `SNF_OCCI_TEST_SYNNEFO_URL` (its
//! identity URL, e.g. `http://127.0.0.1:26060/identity/v2.0`) with the
//! two users of `SNF_OCCI_TEST_SYNNEFO_TOKENS` (`alice,bob`), for example
//! `../shared/tools/real-synnefo` (GRNET's Synnefo 0.20 with a fake
//! Ganeti). Without them, the scenario runs against the simulator alone,
//! and the test says loudly that nothing was compared. The scenario
//! polls for every state change (it never sleeps a fixed time) and
//! removes what it made from both.

mod differential;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use differential::{Backend, Deliberate, Kind, Mode, Svc, User, judge, known_only, transcript};
use snf_occi::simulator::{self, Quotas, SimulatorConfig};

use Method as M;
use Mode::{Full, Shape};
use Svc::{Compute, Identity, Network, Volume};
use User::{Alice, Anonymous, Bob, Forged};

/// The differences the simulator keeps, each with its reason.
const DELIBERATE: &[Deliberate] = &[];

/// The simulator as the real Synnefo of the harness is configured: the
/// same quotas, a public network whose servers need a floating IP, and
/// transitions that last until the scenario waits for them (see
/// `/_sim/jobs`), as Ganeti jobs last until they complete.
fn simulator_config() -> SimulatorConfig {
    let mut config = SimulatorConfig::new("127.0.0.1:0".parse().expect("address"));
    config.build_delay = Duration::from_secs(3600);
    config.action_delay = Duration::from_secs(3600);
    config.require_floating_ip = true;
    config.quotas = Quotas {
        servers: 50,
        networks: 20,
        floating_ips: 20,
        ..Quotas::default()
    };
    config
}

/// The real Synnefo of the environment, if set.
fn real_synnefo() -> Option<(String, [String; 2])> {
    let url = std::env::var("SNF_OCCI_TEST_SYNNEFO_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    let tokens = std::env::var("SNF_OCCI_TEST_SYNNEFO_TOKENS").unwrap_or_else(|_| {
        panic!("SNF_OCCI_TEST_SYNNEFO_URL is set but SNF_OCCI_TEST_SYNNEFO_TOKENS is not")
    });
    let tokens: Vec<String> = tokens.split(',').map(|t| t.trim().to_owned()).collect();
    match tokens.as_slice() {
        [a, b] if !a.is_empty() && !b.is_empty() => Some((url, [a.clone(), b.clone()])),
        _ => panic!(
            "SNF_OCCI_TEST_SYNNEFO_TOKENS must be two tokens, alice's and bob's, separated by a comma"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_answers_as_synnefo_does() {
    let sim = simulator::start(&simulator_config())
        .await
        .expect("simulator starts");
    let tokens = [sim.users()[0].token.clone(), sim.users()[1].token.clone()];
    let mut s = Backend::connect(Kind::Simulator, &sim.identity_url(), tokens).await;
    s.admin = Some(sim.admin_url());
    run(&mut s).await;
    eprintln!("simulator: {} steps\n{}", s.obs.len(), transcript(&s.obs));

    let Some((url, tokens)) = real_synnefo() else {
        eprintln!(
            "\n\
             ************************************************************************\n\
             *  NOT COMPARED: SNF_OCCI_TEST_SYNNEFO_URL and SNF_OCCI_TEST_SYNNEFO_TOKENS\n\
             *  are not set, so the scenario ran against the simulator only ({} steps)\n\
             *  and nothing was checked against a real Synnefo. Set them (see\n\
             *  ../shared/tools/real-synnefo) to compare.\n\
             ************************************************************************\n",
            s.obs.len()
        );
        return;
    };
    let mut r = Backend::connect(Kind::Synnefo, &url, tokens).await;
    run(&mut r).await;
    eprintln!("synnefo: {} steps\n{}", r.obs.len(), transcript(&r.obs));

    let v = judge(&s.obs, &r.obs, DELIBERATE);
    eprintln!(
        "compared {} steps; {} skipped; {} differences ({} listed as deliberate)",
        v.compared,
        v.skipped.len(),
        v.found.len(),
        v.found.len() - v.unlisted.len()
    );
    for (step, why) in &v.skipped {
        eprintln!("  skipped [{step}]: {why}");
    }
    let mut problems = Vec::new();
    for d in &v.unlisted {
        problems.push(format!("unlisted difference {d}"));
    }
    for t in &v.stale {
        problems.push(format!(
            "listed difference no longer seen: [{}] {}",
            t.step, t.what
        ));
    }
    assert!(
        problems.is_empty(),
        "the simulator and Synnefo differ:\n{}",
        problems.join("\n")
    );
    assert!(v.compared > 100, "only {} steps compared", v.compared);
}

/// The whole scenario against one backend, then its clean-up (also
/// when the scenario fails).
async fn run(b: &mut Backend) {
    use futures_util::FutureExt;
    let outcome = std::panic::AssertUnwindSafe(scenario(b))
        .catch_unwind()
        .await;
    b.clean_up().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn scenario(b: &mut Backend) {
    identity(b).await;
    catalogs(b).await;
    faults(b).await;
    networks(b).await;
    floating_ips(b).await;
    volumes(b).await;
    servers(b).await;
    quotas(b).await;
}

/// The catalog cut to the services a client of Cyclades uses, keyed by
/// type (the real one lists more: weblogin, admin, vmapi, ...).
fn catalog_view(_: &Backend, mut body: Value) -> Value {
    if let Some(catalog) = body.pointer_mut("/access/serviceCatalog") {
        let by_type: serde_json::Map<String, Value> = catalog
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let t = s["type"].as_str()?;
                [
                    "identity", "account", "compute", "network", "volume", "image",
                ]
                .contains(&t)
                .then(|| (t.to_owned(), s.clone()))
            })
            .collect();
        *catalog = Value::Object(by_type);
    }
    body
}

async fn identity(b: &mut Backend) {
    let alice = b.get("alice_token");
    let body = json!({"auth": {"token": {"id": alice}}});
    b.step_with(
        "tokens: token in the body",
        Full,
        Anonymous,
        M::POST,
        Identity,
        "/tokens",
        Some(body),
        catalog_view,
    )
    .await;
    b.step_with(
        "tokens: token in the header, no body",
        Full,
        Alice,
        M::POST,
        Identity,
        "/tokens",
        None,
        catalog_view,
    )
    .await;
    b.step(
        "tokens: no token",
        Full,
        Anonymous,
        M::POST,
        Identity,
        "/tokens",
        None,
    )
    .await;
    b.step(
        "tokens: forged token",
        Full,
        Forged,
        M::POST,
        Identity,
        "/tokens",
        None,
    )
    .await;
    let forged = json!({"auth": {"token": {"id": "forged-token-000000000000000000"}}});
    b.step(
        "tokens: forged token in the body",
        Full,
        Anonymous,
        M::POST,
        Identity,
        "/tokens",
        Some(forged),
    )
    .await;
}

async fn catalogs(b: &mut Backend) {
    b.step("flavors", Full, Alice, M::GET, Compute, "/flavors", None)
        .await;
    let flavors = b
        .step(
            "flavors detail",
            Full,
            Alice,
            M::GET,
            Compute,
            "/flavors/detail",
            None,
        )
        .await;
    // The first creatable flavor whose disks can be detached and
    // snapshotted (ext_*), as the gateway's computes are.
    let flavor = flavors.body["flavors"]
        .as_array()
        .expect("flavors")
        .iter()
        .find(|f| {
            f["SNF:allow_create"] != false
                && f["SNF:disk_template"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("ext_"))
        })
        .unwrap_or_else(|| panic!("{}: no creatable ext_ flavor", b.kind.name()))
        .clone();
    b.var("flavor", &flavor["id"].to_string());
    b.var("volume_type", &flavor["SNF:volume_type"].to_string());
    b.step(
        "flavor show",
        Full,
        Alice,
        M::GET,
        Compute,
        &format!("/flavors/{}", flavor["id"]),
        None,
    )
    .await;
    b.step("images", Full, Alice, M::GET, Compute, "/images", None)
        .await;
    let images = b
        .step(
            "images detail",
            Full,
            Alice,
            M::GET,
            Compute,
            "/images/detail",
            None,
        )
        .await;
    let image = images.text("/images/0/id");
    b.var("image", &image);
    b.step(
        "image show",
        Full,
        Alice,
        M::GET,
        Compute,
        &format!("/images/{image}"),
        None,
    )
    .await;
    b.step("volume types", Full, Alice, M::GET, Volume, "/types", None)
        .await;
    let nets = b.send(Alice, M::GET, Network, "/networks", None).await;
    let public = nets.body["networks"]
        .as_array()
        .expect("networks")
        .iter()
        .find(|n| n["public"] == true && n["SNF:floating_ip_pool"] == true)
        .unwrap_or_else(|| {
            panic!(
                "{}: no public network with a floating IP pool",
                b.kind.name()
            )
        })
        .clone();
    b.var("public", public["id"].as_str().expect("network id"));
    if let Some(subnet) = public["subnets"][0].as_str() {
        b.var("public_subnet", subnet);
    }
    b.step_with(
        "networks with the public one",
        Full,
        Alice,
        M::GET,
        Network,
        "/networks",
        None,
        |b, v| known_only(b, v, "networks"),
    )
    .await;
    b.step(
        "public network show",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/networks/{}", b.get("public")),
        None,
    )
    .await;
    b.step_with(
        "subnets with the public one",
        Full,
        Alice,
        M::GET,
        Network,
        "/subnets",
        None,
        |b, v| known_only(b, v, "subnets"),
    )
    .await;
}

async fn faults(b: &mut Backend) {
    b.step(
        "servers: no token",
        Full,
        Anonymous,
        M::GET,
        Compute,
        "/servers",
        None,
    )
    .await;
    b.step(
        "servers: forged token",
        Full,
        Forged,
        M::GET,
        Compute,
        "/servers",
        None,
    )
    .await;
    b.step(
        "networks: no token",
        Full,
        Anonymous,
        M::GET,
        Network,
        "/networks",
        None,
    )
    .await;
    b.step(
        "volumes: forged token",
        Full,
        Forged,
        M::GET,
        Volume,
        "/volumes",
        None,
    )
    .await;
    b.step(
        "server show: unknown",
        Full,
        Alice,
        M::GET,
        Compute,
        "/servers/999999",
        None,
    )
    .await;
    b.step(
        "flavor show: unknown",
        Full,
        Alice,
        M::GET,
        Compute,
        "/flavors/999999",
        None,
    )
    .await;
    b.step(
        "image show: unknown",
        Full,
        Alice,
        M::GET,
        Compute,
        "/images/no-such-image",
        None,
    )
    .await;
    b.step(
        "network show: unknown",
        Full,
        Alice,
        M::GET,
        Network,
        "/networks/999999",
        None,
    )
    .await;
    b.step(
        "subnet show: unknown",
        Full,
        Alice,
        M::GET,
        Network,
        "/subnets/999999",
        None,
    )
    .await;
    b.step(
        "port show: unknown",
        Full,
        Alice,
        M::GET,
        Network,
        "/ports/999999",
        None,
    )
    .await;
    b.step(
        "floating IP show: unknown",
        Full,
        Alice,
        M::GET,
        Network,
        "/floatingips/999999",
        None,
    )
    .await;
    b.step(
        "volume show: unknown",
        Full,
        Alice,
        M::GET,
        Volume,
        "/volumes/999999",
        None,
    )
    .await;
    let image = b.get("image");
    let flavor: Value = serde_json::from_str(&b.get("flavor")).expect("flavor id");
    b.step(
        "server create: no server",
        Full,
        Alice,
        M::POST,
        Compute,
        "/servers",
        Some(json!({"nothing": {}})),
    )
    .await;
    b.step(
        "server create: not JSON",
        Full,
        Alice,
        M::POST,
        Compute,
        "/servers",
        Some(json!("raw:{\"server\":")),
    )
    .await;
    b.step(
        "server create: no name",
        Full,
        Alice,
        M::POST,
        Compute,
        "/servers",
        Some(json!({"server": {"flavorRef": flavor, "imageRef": image}})),
    )
    .await;
    b.step(
        "server create: unknown flavor",
        Full,
        Alice,
        M::POST,
        Compute,
        "/servers",
        Some(json!({"server": {"name": "diff", "flavorRef": 999999, "imageRef": image, "networks": []}})),
    )
    .await;
    b.step(
        "server create: unknown image",
        Full,
        Alice,
        M::POST,
        Compute,
        "/servers",
        Some(json!({"server": {"name": "diff", "flavorRef": flavor, "imageRef": "no-such-image", "networks": []}})),
    )
    .await;
    b.step(
        "server create: unknown network",
        Full,
        Alice,
        M::POST,
        Compute,
        "/servers",
        Some(json!({"server": {"name": "diff", "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": "999999"}]}})),
    )
    .await;
    // Bob's account: a free floating IP of his would be taken instead.
    let fips = b.send(Bob, M::GET, Network, "/floatingips", None).await;
    let free = fips.body["floatingips"]
        .as_array()
        .is_some_and(|l| l.iter().any(|f| f["port_id"].is_null()));
    let step = "server create: public network, no free floating IP";
    if free {
        b.skip(step, "bob already holds a free floating IP");
    } else {
        let body = json!({"server": {"name": "diff", "flavorRef": flavor, "imageRef": image, "networks": [{"uuid": b.get("public")}]}});
        let a = b
            .step(step, Full, Bob, M::POST, Compute, "/servers", Some(body))
            .await;
        if a.status == 202 {
            let id = a.text("/server/id");
            b.made(Bob, Compute, format!("/servers/{id}"));
        }
    }
    b.step(
        "volume create: no volume",
        Full,
        Alice,
        M::POST,
        Volume,
        "/volumes",
        Some(json!({"size": 1})),
    )
    .await;
    b.step(
        "volume create: no size",
        Full,
        Alice,
        M::POST,
        Volume,
        "/volumes",
        Some(json!({"volume": {"display_name": "diff", "volume_type": b.get("volume_type")}})),
    )
    .await;
    b.step(
        "volume create: unknown type",
        Full,
        Alice,
        M::POST,
        Volume,
        "/volumes",
        Some(json!({"volume": {"size": 1, "display_name": "diff", "volume_type": "999999"}})),
    )
    .await;
    b.step(
        "network create: no type",
        Full,
        Alice,
        M::POST,
        Network,
        "/networks",
        Some(json!({"network": {"name": "diff"}})),
    )
    .await;
    b.step(
        "network create: unknown type",
        Full,
        Alice,
        M::POST,
        Network,
        "/networks",
        Some(json!({"network": {"name": "diff", "type": "NO_SUCH_TYPE"}})),
    )
    .await;
    b.step(
        "public network rename",
        Full,
        Alice,
        M::PUT,
        Network,
        &format!("/networks/{}", b.get("public")),
        Some(json!({"network": {"name": "x"}})),
    )
    .await;
    b.step(
        "public network delete",
        Full,
        Alice,
        M::DELETE,
        Network,
        &format!("/networks/{}", b.get("public")),
        None,
    )
    .await;
}

async fn networks(b: &mut Backend) {
    let body = json!({"network": {"type": "MAC_FILTERED", "name": "diff-net"}});
    let a = b
        .step(
            "network create",
            Full,
            Alice,
            M::POST,
            Network,
            "/networks",
            Some(body),
        )
        .await;
    assert_eq!(
        a.status,
        201,
        "{}: network create: {}",
        b.kind.name(),
        a.body
    );
    let net = a.text("/network/id");
    b.var("net", &net);
    b.made(Alice, Network, format!("/networks/{net}"));
    b.step(
        "network show",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/networks/{net}"),
        None,
    )
    .await;
    b.step(
        "network rename",
        Full,
        Alice,
        M::PUT,
        Network,
        &format!("/networks/{net}"),
        Some(json!({"network": {"name": "diff-net-2"}})),
    )
    .await;
    b.step(
        "subnet create: bad CIDR",
        Full,
        Alice,
        M::POST,
        Network,
        "/subnets",
        Some(json!({"subnet": {"network_id": net, "cidr": "10.0.0.0/99", "ip_version": 4}})),
    )
    .await;
    b.step(
        "subnet create: public network",
        Full,
        Alice,
        M::POST,
        Network,
        "/subnets",
        Some(json!({"subnet": {"network_id": b.get("public"), "cidr": "10.9.0.0/24", "ip_version": 4}})),
    )
    .await;
    let body = json!({"subnet": {"network_id": net, "cidr": "10.42.0.0/24", "ip_version": 4, "name": "diff-subnet"}});
    let a = b
        .step(
            "subnet create",
            Full,
            Alice,
            M::POST,
            Network,
            "/subnets",
            Some(body),
        )
        .await;
    assert_eq!(
        a.status,
        201,
        "{}: subnet create: {}",
        b.kind.name(),
        a.body
    );
    let subnet = a.text("/subnet/id");
    b.var("subnet", &subnet);
    b.step(
        "subnet create: second IPv4",
        Full,
        Alice,
        M::POST,
        Network,
        "/subnets",
        Some(json!({"subnet": {"network_id": net, "cidr": "10.43.0.0/24", "ip_version": 4}})),
    )
    .await;
    b.step(
        "subnet show",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/subnets/{subnet}"),
        None,
    )
    .await;
    b.step(
        "network show with a subnet",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/networks/{net}"),
        None,
    )
    .await;
    b.step_with(
        "networks",
        Full,
        Alice,
        M::GET,
        Network,
        "/networks",
        None,
        |b, v| known_only(b, v, "networks"),
    )
    .await;
    b.step_with(
        "subnets",
        Full,
        Alice,
        M::GET,
        Network,
        "/subnets",
        None,
        |b, v| known_only(b, v, "subnets"),
    )
    .await;
    b.step(
        "network show as bob",
        Full,
        Bob,
        M::GET,
        Network,
        &format!("/networks/{net}"),
        None,
    )
    .await;
    b.step(
        "subnet show as bob",
        Full,
        Bob,
        M::GET,
        Network,
        &format!("/subnets/{subnet}"),
        None,
    )
    .await;
    // A network to delete at once.
    let a = b
        .send(
            Alice,
            M::POST,
            Network,
            "/networks",
            Some(&json!({"network": {"type": "MAC_FILTERED", "name": "diff-gone"}})),
        )
        .await;
    let gone = a.text("/network/id");
    b.var("net_gone", &gone);
    b.made(Alice, Network, format!("/networks/{gone}"));
    b.step(
        "network delete",
        Full,
        Alice,
        M::DELETE,
        Network,
        &format!("/networks/{gone}"),
        None,
    )
    .await;
    b.step(
        "network show deleted",
        Shape,
        Alice,
        M::GET,
        Network,
        &format!("/networks/{gone}"),
        None,
    )
    .await;
    b.step(
        "network delete deleted",
        Full,
        Alice,
        M::DELETE,
        Network,
        &format!("/networks/{gone}"),
        None,
    )
    .await;
    b.step_with(
        "networks without the deleted",
        Full,
        Alice,
        M::GET,
        Network,
        "/networks",
        None,
        |b, v| known_only(b, v, "networks"),
    )
    .await;
}

async fn floating_ips(b: &mut Backend) {
    let a = b
        .step(
            "floating IP create",
            Full,
            Alice,
            M::POST,
            Network,
            "/floatingips",
            Some(json!({"floatingip": {"floating_network_id": b.get("public")}})),
        )
        .await;
    assert!(
        a.status < 300,
        "{}: floating IP create: {}",
        b.kind.name(),
        a.body
    );
    let fip = a.text("/floatingip/id");
    b.var("fip1", &fip);
    b.var("fip1_address", &a.text("/floatingip/floating_ip_address"));
    b.made(Alice, Network, format!("/floatingips/{fip}"));
    b.step(
        "floating IP show",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/floatingips/{fip}"),
        None,
    )
    .await;
    b.step_with(
        "floating IPs",
        Full,
        Alice,
        M::GET,
        Network,
        "/floatingips",
        None,
        |b, v| known_only(b, v, "floatingips"),
    )
    .await;
    b.step(
        "floating IP show as bob",
        Full,
        Bob,
        M::GET,
        Network,
        &format!("/floatingips/{fip}"),
        None,
    )
    .await;
    b.step(
        "floating IP create: no body",
        Full,
        Alice,
        M::POST,
        Network,
        "/floatingips",
        Some(json!({"nothing": {}})),
    )
    .await;
    b.step(
        "floating IP create: not a pool",
        Full,
        Alice,
        M::POST,
        Network,
        "/floatingips",
        Some(json!({"floatingip": {"floating_network_id": b.get("net")}})),
    )
    .await;
    // A second one, for a port of its own later.
    let a = b
        .send(
            Alice,
            M::POST,
            Network,
            "/floatingips",
            Some(&json!({"floatingip": {"floating_network_id": b.get("public")}})),
        )
        .await;
    let fip2 = a.text("/floatingip/id");
    b.var("fip2", &fip2);
    b.var("fip2_address", &a.text("/floatingip/floating_ip_address"));
    b.made(Alice, Network, format!("/floatingips/{fip2}"));
    // And one to delete at once.
    let a = b
        .send(
            Alice,
            M::POST,
            Network,
            "/floatingips",
            Some(&json!({"floatingip": {"floating_network_id": b.get("public")}})),
        )
        .await;
    let gone = a.text("/floatingip/id");
    b.var("fip_gone", &gone);
    b.made(Alice, Network, format!("/floatingips/{gone}"));
    b.step(
        "floating IP delete",
        Full,
        Alice,
        M::DELETE,
        Network,
        &format!("/floatingips/{gone}"),
        None,
    )
    .await;
    b.step(
        "floating IP show deleted",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/floatingips/{gone}"),
        None,
    )
    .await;
    b.step(
        "floating IP delete deleted",
        Full,
        Alice,
        M::DELETE,
        Network,
        &format!("/floatingips/{gone}"),
        None,
    )
    .await;
}

fn volume_status(a: &differential::Answer) -> String {
    a.body
        .pointer("/volume/status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase()
}

async fn volumes(b: &mut Backend) {
    let body = json!({"volume": {"size": 1, "display_name": "diff-vol", "volume_type": b.get("volume_type")}});
    let a = b
        .step(
            "volume create",
            Full,
            Alice,
            M::POST,
            Volume,
            "/volumes",
            Some(body),
        )
        .await;
    assert_eq!(
        a.status,
        202,
        "{}: volume create: {}",
        b.kind.name(),
        a.body
    );
    let vol = a.text("/volume/id");
    b.var("volume1", &vol);
    b.made(Alice, Volume, format!("/volumes/{vol}"));
    b.step(
        "volume show new",
        Shape,
        Alice,
        M::GET,
        Volume,
        &format!("/volumes/{vol}"),
        None,
    )
    .await;
    b.wait(
        "volume available",
        Alice,
        Volume,
        &format!("/volumes/{vol}"),
        |a| volume_status(a) == "available",
    )
    .await;
    b.step(
        "volume show",
        Full,
        Alice,
        M::GET,
        Volume,
        &format!("/volumes/{vol}"),
        None,
    )
    .await;
    b.step_with(
        "volumes",
        Full,
        Alice,
        M::GET,
        Volume,
        "/volumes",
        None,
        |b, v| known_only(b, v, "volumes"),
    )
    .await;
    b.step_with(
        "volumes detail",
        Full,
        Alice,
        M::GET,
        Volume,
        "/volumes/detail",
        None,
        |b, v| known_only(b, v, "volumes"),
    )
    .await;
    b.step(
        "volume rename",
        Full,
        Alice,
        M::PUT,
        Volume,
        &format!("/volumes/{vol}"),
        Some(json!({"volume": {"display_name": "diff-vol-2", "display_description": "described"}})),
    )
    .await;
    b.step(
        "volume update: nothing",
        Full,
        Alice,
        M::PUT,
        Volume,
        &format!("/volumes/{vol}"),
        Some(json!({"volume": {}})),
    )
    .await;
    b.step(
        "volume show as bob",
        Full,
        Bob,
        M::GET,
        Volume,
        &format!("/volumes/{vol}"),
        None,
    )
    .await;
    // One to delete at once.
    let body = json!({"volume": {"size": 1, "display_name": "diff-gone", "volume_type": b.get("volume_type")}});
    let a = b
        .send(Alice, M::POST, Volume, "/volumes", Some(&body))
        .await;
    let gone = a.text("/volume/id");
    b.var("volume_gone", &gone);
    b.made(Alice, Volume, format!("/volumes/{gone}"));
    b.wait(
        "volume available",
        Alice,
        Volume,
        &format!("/volumes/{gone}"),
        |a| volume_status(a) == "available",
    )
    .await;
    b.step(
        "volume delete",
        Full,
        Alice,
        M::DELETE,
        Volume,
        &format!("/volumes/{gone}"),
        None,
    )
    .await;
    b.wait(
        "volume deleted",
        Alice,
        Volume,
        &format!("/volumes/{gone}"),
        |a| a.status == 404 || volume_status(a) == "deleted",
    )
    .await;
    b.step(
        "volume show deleted",
        Full,
        Alice,
        M::GET,
        Volume,
        &format!("/volumes/{gone}"),
        None,
    )
    .await;
    b.step(
        "volume delete deleted",
        Full,
        Alice,
        M::DELETE,
        Volume,
        &format!("/volumes/{gone}"),
        None,
    )
    .await;
}

/// A server create body.
fn server_body(b: &Backend, name: &str, networks: Option<Value>) -> Value {
    let flavor: Value = serde_json::from_str(&b.get("flavor")).expect("flavor id");
    let mut server = json!({"name": name, "flavorRef": flavor, "imageRef": b.get("image")});
    if let Some(n) = networks {
        server["networks"] = n;
    }
    json!({ "server": server })
}

/// Records `step` only if the server's task is `task` both before and
/// after it: the real Ganeti job may finish meanwhile.
#[allow(clippy::too_many_arguments)]
async fn racy(
    b: &mut Backend,
    step: &str,
    server: &str,
    task: &str,
    mode: Mode,
    method: Method,
    svc: Svc,
    path: &str,
    body: Option<Value>,
) {
    let before = b.server_state(server).await;
    b.step(step, mode, Alice, method, svc, path, body).await;
    let after = b.server_state(server).await;
    if !before.ends_with(&format!("/{task}")) || !after.ends_with(&format!("/{task}")) {
        b.obs.pop();
        b.skip(
            step,
            &format!("server went {before} -> {after}, not {task} throughout"),
        );
    }
}

/// Waits for a server to have no task, and shuts it down if it runs.
async fn ensure_stopped(b: &Backend, id: &str) {
    let a = b
        .wait(
            &format!("server {id} settled"),
            Alice,
            Compute,
            &format!("/servers/{id}"),
            |a| {
                a.body
                    .pointer("/server/SNF:task_state")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
            },
        )
        .await;
    if a.body.pointer("/server/status").and_then(Value::as_str) != Some("STOPPED") {
        b.send(
            Alice,
            M::POST,
            Compute,
            &format!("/servers/{id}/action"),
            Some(&json!({"shutdown": {}})),
        )
        .await;
        b.wait_server(id, "STOPPED").await;
    }
}

async fn action(b: &mut Backend, step: &str, id: &str, act: Value) -> u16 {
    b.step(
        step,
        Full,
        Alice,
        M::POST,
        Compute,
        &format!("/servers/{id}/action"),
        Some(act),
    )
    .await
    .status
}

async fn servers(b: &mut Backend) {
    let nets = |b: &Backend| json!([{"uuid": b.get("net")}, {"uuid": b.get("public"), "fixed_ip": b.get("fip1_address")}]);
    // BUILD: everything while the create job runs; on a real Synnefo the
    // job may finish before the last call, then the attempt starts over.
    let mut s1 = String::new();
    for attempt in 1..=5 {
        b.attempt();
        let body = server_body(b, "diff-s1", Some(nets(b)));
        let a = b
            .step(
                "server create",
                Full,
                Alice,
                M::POST,
                Compute,
                "/servers",
                Some(body),
            )
            .await;
        assert_eq!(
            a.status,
            202,
            "{}: server create: {}",
            b.kind.name(),
            a.body
        );
        s1 = a.text("/server/id");
        b.var("server1", &s1);
        b.made(Alice, Compute, format!("/servers/{s1}"));
        let path = format!("/servers/{s1}");
        b.step(
            "server show BUILD",
            Full,
            Alice,
            M::GET,
            Compute,
            &path,
            None,
        )
        .await;
        b.step_with(
            "servers detail with one in BUILD",
            Full,
            Alice,
            M::GET,
            Compute,
            "/servers/detail",
            None,
            |b, v| known_only(b, v, "servers"),
        )
        .await;
        action(b, "server start BUILD", &s1, json!({"start": {}})).await;
        action(b, "server shutdown BUILD", &s1, json!({"shutdown": {}})).await;
        action(
            b,
            "server reboot BUILD",
            &s1,
            json!({"reboot": {"type": "SOFT"}}),
        )
        .await;
        b.step(
            "volume attach BUILD",
            Full,
            Alice,
            M::POST,
            Compute,
            &format!("{path}/os-volume_attachments"),
            Some(json!({"volumeAttachment": {"volumeId": b.get("volume1")}})),
        )
        .await;
        b.step(
            "server delete BUILD",
            Full,
            Alice,
            M::DELETE,
            Compute,
            &path,
            None,
        )
        .await;
        let state = b.server_state(&s1).await;
        if state.starts_with("BUILD/") || b.kind == Kind::Simulator {
            b.keep();
            break;
        }
        eprintln!(
            "{}: attempt {attempt}: server {s1} left BUILD ({state}) before the end; again",
            b.kind.name()
        );
        b.abandon();
        b.send(Alice, M::DELETE, Compute, &path, None).await;
        b.wait(
            &format!("server {s1} deleted"),
            Alice,
            Compute,
            &path,
            |a| a.body.pointer("/server/status").and_then(Value::as_str) == Some("DELETED"),
        )
        .await;
        assert!(
            attempt < 5,
            "{}: never saw a server in BUILD to the end",
            b.kind.name()
        );
    }
    // A simulator that destroys building servers gets another one.
    if b.server_state(&s1).await.starts_with("DELETED")
        || b.server_state(&s1).await.ends_with("/DESTROYING")
    {
        let a = b
            .send(
                Alice,
                M::POST,
                Compute,
                "/servers",
                Some(&server_body(b, "diff-s1", Some(nets(b)))),
            )
            .await;
        assert_eq!(
            a.status,
            202,
            "{}: server create: {}",
            b.kind.name(),
            a.body
        );
        s1 = a.text("/server/id");
        b.var("server1", &s1);
        b.made(Alice, Compute, format!("/servers/{s1}"));
    }
    // A server without networks (no NIC where the site's default
    // networks are none), built meanwhile.
    let a = b
        .step(
            "server create without networks",
            Full,
            Alice,
            M::POST,
            Compute,
            "/servers",
            Some(server_body(b, "diff-s2", None)),
        )
        .await;
    let s2 = if a.status == 202 {
        a.text("/server/id")
    } else {
        let body = server_body(b, "diff-s2", Some(json!([{"uuid": b.get("net")}])));
        let a = b
            .send(Alice, M::POST, Compute, "/servers", Some(&body))
            .await;
        assert_eq!(
            a.status,
            202,
            "{}: server create: {}",
            b.kind.name(),
            a.body
        );
        a.text("/server/id")
    };
    b.var("server2", &s2);
    b.made(Alice, Compute, format!("/servers/{s2}"));

    // ACTIVE.
    let p1 = format!("/servers/{s1}");
    b.wait_server(&s1, "ACTIVE").await;
    let shown = b
        .step(
            "server show ACTIVE",
            Full,
            Alice,
            M::GET,
            Compute,
            &p1,
            None,
        )
        .await;
    for (i, nic) in shown.body["server"]["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let id = match &nic["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        b.var(&format!("server1_port{i}"), &id);
    }
    b.step_with(
        "servers",
        Full,
        Alice,
        M::GET,
        Compute,
        "/servers",
        None,
        |b, v| known_only(b, v, "servers"),
    )
    .await;
    b.step_with(
        "servers detail",
        Full,
        Alice,
        M::GET,
        Compute,
        "/servers/detail",
        None,
        |b, v| known_only(b, v, "servers"),
    )
    .await;
    b.step("server show as bob", Full, Bob, M::GET, Compute, &p1, None)
        .await;
    b.step(
        "server rename",
        Full,
        Alice,
        M::PUT,
        Compute,
        &p1,
        Some(json!({"server": {"name": "diff-s1-renamed"}})),
    )
    .await;
    b.step(
        "server metadata set",
        Full,
        Alice,
        M::POST,
        Compute,
        &format!("{p1}/metadata"),
        Some(json!({"metadata": {"role": "diff"}})),
    )
    .await;
    b.step(
        "server metadata",
        Full,
        Alice,
        M::GET,
        Compute,
        &format!("{p1}/metadata"),
        None,
    )
    .await;
    b.step(
        "server metadata item",
        Full,
        Alice,
        M::GET,
        Compute,
        &format!("{p1}/metadata/role"),
        None,
    )
    .await;
    b.step(
        "server metadata item delete",
        Full,
        Alice,
        M::DELETE,
        Compute,
        &format!("{p1}/metadata/role"),
        None,
    )
    .await;
    b.step(
        "server metadata item: unknown",
        Full,
        Alice,
        M::GET,
        Compute,
        &format!("{p1}/metadata/role"),
        None,
    )
    .await;
    b.step_with(
        "ports of a server",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/ports?device_id={s1}"),
        None,
        |b, v| known_only(b, v, "ports"),
    )
    .await;
    if let Some(port) = shown
        .body
        .pointer("/server/attachments/0/id")
        .map(|p| p.to_string().trim_matches('"').to_owned())
    {
        b.step(
            "port show",
            Full,
            Alice,
            M::GET,
            Network,
            &format!("/ports/{port}"),
            None,
        )
        .await;
    } else {
        b.skip("port show", "the server has no NIC");
    }
    b.step(
        "floating IP show in use",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/floatingips/{}", b.get("fip1")),
        None,
    )
    .await;
    b.step(
        "floating IP delete in use",
        Full,
        Alice,
        M::DELETE,
        Network,
        &format!("/floatingips/{}", b.get("fip1")),
        None,
    )
    .await;
    b.step(
        "network delete in use",
        Full,
        Alice,
        M::DELETE,
        Network,
        &format!("/networks/{}", b.get("net")),
        None,
    )
    .await;
    action(b, "server start ACTIVE", &s1, json!({"start": {}})).await;
    action(
        b,
        "server reboot: bad type",
        &s1,
        json!({"reboot": {"type": "GENTLE"}}),
    )
    .await;
    action(b, "server action: unknown", &s1, json!({"levitate": {}})).await;
    if action(
        b,
        "server reboot ACTIVE",
        &s1,
        json!({"reboot": {"type": "HARD"}}),
    )
    .await
        == 202
    {
        racy(
            b,
            "server show REBOOT",
            &s1,
            "REBOOTING",
            Shape,
            M::GET,
            Compute,
            &p1,
            None,
        )
        .await;
        racy(
            b,
            "server start while rebooting",
            &s1,
            "REBOOTING",
            Full,
            M::POST,
            Compute,
            &format!("{p1}/action"),
            Some(json!({"start": {}})),
        )
        .await;
    }
    b.wait_server(&s1, "ACTIVE").await;
    if action(b, "server shutdown ACTIVE", &s1, json!({"shutdown": {}})).await == 202 {
        racy(
            b,
            "server show STOPPING",
            &s1,
            "STOPPING",
            Full,
            M::GET,
            Compute,
            &p1,
            None,
        )
        .await;
    }
    b.wait_server(&s1, "STOPPED").await;

    // STOPPED.
    b.step(
        "server show STOPPED",
        Full,
        Alice,
        M::GET,
        Compute,
        &p1,
        None,
    )
    .await;
    action(b, "server shutdown STOPPED", &s1, json!({"shutdown": {}})).await;
    let vol = b.get("volume1");
    let a = b
        .step(
            "volume attach",
            Full,
            Alice,
            M::POST,
            Compute,
            &format!("{p1}/os-volume_attachments"),
            Some(json!({"volumeAttachment": {"volumeId": vol}})),
        )
        .await;
    if a.status < 300 {
        b.wait(
            "volume in use",
            Alice,
            Volume,
            &format!("/volumes/{vol}"),
            |a| volume_status(a) == "in_use",
        )
        .await;
        b.step(
            "volume show attached",
            Full,
            Alice,
            M::GET,
            Volume,
            &format!("/volumes/{vol}"),
            None,
        )
        .await;
        b.step(
            "server attachments",
            Full,
            Alice,
            M::GET,
            Compute,
            &format!("{p1}/os-volume_attachments"),
            None,
        )
        .await;
        b.step(
            "server attachment show",
            Full,
            Alice,
            M::GET,
            Compute,
            &format!("{p1}/os-volume_attachments/{vol}"),
            None,
        )
        .await;
        b.step(
            "server show with a volume",
            Full,
            Alice,
            M::GET,
            Compute,
            &p1,
            None,
        )
        .await;
        b.step(
            "volume attach: in use",
            Full,
            Alice,
            M::POST,
            Compute,
            &format!("/servers/{s2}/os-volume_attachments"),
            Some(json!({"volumeAttachment": {"volumeId": vol}})),
        )
        .await;
        b.step(
            "volume detach",
            Full,
            Alice,
            M::DELETE,
            Compute,
            &format!("{p1}/os-volume_attachments/{vol}"),
            None,
        )
        .await;
        b.wait(
            "volume available",
            Alice,
            Volume,
            &format!("/volumes/{vol}"),
            |a| volume_status(a) == "available",
        )
        .await;
        b.step(
            "volume show detached",
            Full,
            Alice,
            M::GET,
            Volume,
            &format!("/volumes/{vol}"),
            None,
        )
        .await;
    }
    b.step(
        "server attachment show: unknown",
        Full,
        Alice,
        M::GET,
        Compute,
        &format!("{p1}/os-volume_attachments/999999"),
        None,
    )
    .await;
    if action(
        b,
        "server reboot STOPPED",
        &s1,
        json!({"reboot": {"type": "SOFT"}}),
    )
    .await
        == 202
    {
        ensure_stopped(b, &s1).await;
    }
    if action(b, "server start STOPPED", &s1, json!({"start": {}})).await == 202 {
        racy(
            b,
            "server show STARTING",
            &s1,
            "STARTING",
            Full,
            M::GET,
            Compute,
            &p1,
            None,
        )
        .await;
        ensure_stopped(b, &s1).await;
    }

    // Deleted from STOPPED, then being deleted, then deleted.
    b.step(
        "server delete STOPPED",
        Full,
        Alice,
        M::DELETE,
        Compute,
        &p1,
        None,
    )
    .await;
    racy(
        b,
        "server show being deleted",
        &s1,
        "DESTROYING",
        Full,
        M::GET,
        Compute,
        &p1,
        None,
    )
    .await;
    racy(
        b,
        "server start being deleted",
        &s1,
        "DESTROYING",
        Full,
        M::POST,
        Compute,
        &format!("{p1}/action"),
        Some(json!({"start": {}})),
    )
    .await;
    racy(
        b,
        "server delete being deleted",
        &s1,
        "DESTROYING",
        Full,
        M::DELETE,
        Compute,
        &p1,
        None,
    )
    .await;
    b.wait_server(&s1, "DELETED").await;
    b.step(
        "server show DELETED",
        Full,
        Alice,
        M::GET,
        Compute,
        &p1,
        None,
    )
    .await;
    b.step_with(
        "servers detail without the deleted",
        Full,
        Alice,
        M::GET,
        Compute,
        "/servers/detail",
        None,
        |b, v| known_only(b, v, "servers"),
    )
    .await;
    action(b, "server start DELETED", &s1, json!({"start": {}})).await;
    action(b, "server shutdown DELETED", &s1, json!({"shutdown": {}})).await;
    action(
        b,
        "server reboot DELETED",
        &s1,
        json!({"reboot": {"type": "SOFT"}}),
    )
    .await;
    b.step(
        "server rename DELETED",
        Full,
        Alice,
        M::PUT,
        Compute,
        &p1,
        Some(json!({"server": {"name": "late"}})),
    )
    .await;
    b.step(
        "volume attach DELETED",
        Full,
        Alice,
        M::POST,
        Compute,
        &format!("{p1}/os-volume_attachments"),
        Some(json!({"volumeAttachment": {"volumeId": vol}})),
    )
    .await;
    b.step(
        "server delete DELETED",
        Full,
        Alice,
        M::DELETE,
        Compute,
        &p1,
        None,
    )
    .await;
    b.step(
        "server show DELETED as bob",
        Full,
        Bob,
        M::GET,
        Compute,
        &p1,
        None,
    )
    .await;
    b.wait(
        "floating IP released",
        Alice,
        Network,
        &format!("/floatingips/{}", b.get("fip1")),
        |a| {
            a.body
                .pointer("/floatingip/port_id")
                .is_some_and(Value::is_null)
        },
    )
    .await;
    b.step(
        "floating IP show released",
        Full,
        Alice,
        M::GET,
        Network,
        &format!("/floatingips/{}", b.get("fip1")),
        None,
    )
    .await;

    // The second server: ports made and removed on a running server.
    let p2 = format!("/servers/{s2}");
    b.wait_server(&s2, "ACTIVE").await;
    b.step(
        "server show ACTIVE without networks",
        Full,
        Alice,
        M::GET,
        Compute,
        &p2,
        None,
    )
    .await;
    let body = json!({"port": {"network_id": b.get("net"), "device_id": s2}});
    let a = b
        .step(
            "port create",
            Full,
            Alice,
            M::POST,
            Network,
            "/ports",
            Some(body),
        )
        .await;
    if a.status == 201 {
        let port = a.text("/port/id");
        b.var("port", &port);
        b.made(Alice, Network, format!("/ports/{port}"));
        b.wait(
            "port active",
            Alice,
            Network,
            &format!("/ports/{port}"),
            |a| a.body.pointer("/port/status").and_then(Value::as_str) == Some("ACTIVE"),
        )
        .await;
        b.step(
            "port show ACTIVE",
            Full,
            Alice,
            M::GET,
            Network,
            &format!("/ports/{port}"),
            None,
        )
        .await;
        b.step_with(
            "ports",
            Full,
            Alice,
            M::GET,
            Network,
            "/ports",
            None,
            |b, v| known_only(b, v, "ports"),
        )
        .await;
        b.step(
            "port show as bob",
            Full,
            Bob,
            M::GET,
            Network,
            &format!("/ports/{port}"),
            None,
        )
        .await;
        b.step(
            "port delete",
            Full,
            Alice,
            M::DELETE,
            Network,
            &format!("/ports/{port}"),
            None,
        )
        .await;
        b.wait(
            "port gone",
            Alice,
            Network,
            &format!("/ports/{port}"),
            |a| a.status == 404,
        )
        .await;
        b.step(
            "port delete deleted",
            Full,
            Alice,
            M::DELETE,
            Network,
            &format!("/ports/{port}"),
            None,
        )
        .await;
    }
    let body = json!({"port": {"network_id": b.get("public"), "device_id": s2, "fixed_ips": [{"ip_address": b.get("fip2_address")}]}});
    let a = b
        .step(
            "port create with a floating IP",
            Full,
            Alice,
            M::POST,
            Network,
            "/ports",
            Some(body),
        )
        .await;
    if a.status == 201 {
        let port = a.text("/port/id");
        b.var("fip_port", &port);
        b.made(Alice, Network, format!("/ports/{port}"));
        b.wait(
            "port active",
            Alice,
            Network,
            &format!("/ports/{port}"),
            |a| a.body.pointer("/port/status").and_then(Value::as_str) == Some("ACTIVE"),
        )
        .await;
        b.step(
            "floating IP show on a port",
            Full,
            Alice,
            M::GET,
            Network,
            &format!("/floatingips/{}", b.get("fip2")),
            None,
        )
        .await;
        b.step(
            "server show with a floating IP port",
            Full,
            Alice,
            M::GET,
            Compute,
            &p2,
            None,
        )
        .await;
    }
    b.step(
        "port create: no device",
        Full,
        Alice,
        M::POST,
        Network,
        "/ports",
        Some(json!({"port": {"network_id": b.get("net")}})),
    )
    .await;
    b.step(
        "port create: unknown server",
        Full,
        Alice,
        M::POST,
        Network,
        "/ports",
        Some(json!({"port": {"network_id": b.get("net"), "device_id": "999999"}})),
    )
    .await;
    b.step(
        "server delete ACTIVE",
        Full,
        Alice,
        M::DELETE,
        Compute,
        &p2,
        None,
    )
    .await;
    racy(
        b,
        "server show being deleted from ACTIVE",
        &s2,
        "DESTROYING",
        Full,
        M::GET,
        Compute,
        &p2,
        None,
    )
    .await;
    b.wait_server(&s2, "DELETED").await;
    b.step(
        "server show DELETED from ACTIVE",
        Full,
        Alice,
        M::GET,
        Compute,
        &p2,
        None,
    )
    .await;
}

async fn quotas(b: &mut Backend) {
    // 2 TiB of disk at most: a 3000 GB disk is over, whatever the
    // account holds.
    let body = json!({"volume": {"size": 3000, "display_name": "diff-huge", "volume_type": b.get("volume_type")}});
    b.step(
        "volume create over quota",
        Full,
        Alice,
        M::POST,
        Volume,
        "/volumes",
        Some(body),
    )
    .await;
    let mut body = server_body(b, "diff-huge", Some(json!([])));
    body["server"]["block_device_mapping_v2"] = json!([{
        "source_type": "image", "uuid": b.get("image"), "boot_index": 0,
        "volume_size": 3000, "delete_on_termination": true
    }]);
    b.step(
        "server create over disk quota",
        Full,
        Alice,
        M::POST,
        Compute,
        "/servers",
        Some(body),
    )
    .await;
    // 20 floating IPs and 20 private networks at most.
    for (step, path, body, key) in [
        (
            "floating IP create over quota",
            "/floatingips",
            json!({"floatingip": {"floating_network_id": b.get("public")}}),
            "/floatingip/id",
        ),
        (
            "network create over quota",
            "/networks",
            json!({"network": {"type": "MAC_FILTERED", "name": "diff-quota"}}),
            "/network/id",
        ),
    ] {
        let mut made = Vec::new();
        let mut last = None;
        for _ in 0..25 {
            let a = b.send(Alice, M::POST, Network, path, Some(&body)).await;
            if a.status >= 300 {
                last = Some(a);
                break;
            }
            let id = a.text(key);
            b.made(Alice, Network, format!("{path}/{id}"));
            made.push(id);
        }
        let a =
            last.unwrap_or_else(|| panic!("{}: 25 {path} creates and no refusal", b.kind.name()));
        b.record(step, Full, &format!("POST {path}"), a.status, &a.body);
        for id in made {
            b.send(Alice, M::DELETE, Network, &format!("{path}/{id}"), None)
                .await;
        }
    }
}

/// The comparison itself can fail: a difference it is not told of, and a
/// told difference that does not occur, are both reported.
#[test]
fn the_comparison_reports_unlisted_and_stale_differences() {
    use differential::shape::{Fault as F, Obs as O, Shape as S};
    let obs = |status: u16, body: Value| O {
        step: "s".into(),
        request: "GET /x".into(),
        status,
        skipped: None,
        shape: differential::shape::Fault::of(&body)
            .is_none()
            .then(|| S::of(&body, false)),
        values: differential::shape::values_of(&body),
        fault: differential::shape::Fault::of(&body).map(|(kind, inner)| F {
            kind,
            code: inner["code"].to_string(),
            message: inner["message"].as_str().unwrap_or_default().into(),
            details: String::new(),
        }),
        text: None,
    };
    let sim = [obs(
        200,
        json!({"server": {"id": 1, "status": "ACTIVE", "metadata": {"a": "b"}, "extra": true}}),
    )];
    let real = [obs(
        200,
        json!({"server": {"id": "1", "status": "BUILD", "metadata": {"c": "d", "e": "f"}, "SNF:rescue": false}}),
    )];
    let v = judge(&sim, &real, &[]);
    let whats: Vec<&str> = v.found.iter().map(|d| d.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "key server.extra: only in simulator",
            "type server.id: int | string",
            "key server.SNF:rescue: only in synnefo",
            "value server.status: \"ACTIVE\" | \"BUILD\"",
        ]
    );
    let told = [
        Deliberate {
            step: "s",
            what: "type server.id: int | string",
            why: "t",
        },
        Deliberate {
            step: "*",
            what: "status: 1 | 2",
            why: "t",
        },
    ];
    let v = judge(&sim, &real, &told);
    assert_eq!(v.unlisted.len(), 3);
    assert_eq!(v.stale.len(), 1);
    assert_eq!(v.stale[0].what, "status: 1 | 2");

    let sim = [obs(
        404,
        json!({"itemNotFound": {"message": "Server 7 not found", "code": 404, "details": ""}}),
    )];
    let real = [obs(
        404,
        json!({"itemNotFound": {"message": "Server not found.", "code": 404, "details": ""}}),
    )];
    let v = judge(&sim, &real, &[]);
    assert_eq!(v.found.len(), 1);
    assert_eq!(
        v.found[0].what,
        "fault message: \"Server 7 not found\" | \"Server not found.\""
    );
    let v = judge(&sim, &sim, &[]);
    assert!(v.found.is_empty() && v.compared == 1);
}
