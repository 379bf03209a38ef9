//! Round trips of the typed client against the embedded simulator over
//! loopback HTTP: what one Synnefo call costs the gateway in benchmarks.
//!
//! `cargo bench --bench synnefo_simulator`

use std::sync::OnceLock;

use snf_occi::synnefo::{Caller, Client, ClientConfig};
use snf_occi_simulator::{self as simulator, RunningSimulator, SimulatorConfig};
use snf_occi_types::SecretToken;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    _sim: RunningSimulator,
    client: Client,
    server_id: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let (sim, client, server_id) = runtime.block_on(async {
            let sim = simulator::start(&SimulatorConfig::instant("127.0.0.1:0".parse().unwrap())).await.unwrap();
            let seeded: serde_json::Value = reqwest::Client::new()
                .post(format!("{}/_sim/seed/servers", sim.url()))
                .json(&serde_json::json!({"user": "a11ce000-0000-4000-8000-000000000001", "count": 100}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = seeded["ids"][0].to_string();
            let client = Client::new(snf_occi::synnefo::Transport::new(Default::default()).unwrap(), ClientConfig::new(sim.identity_url()));
            client.list_flavors(&caller()).await.unwrap();
            (sim, client, id)
        });
        Fixture { runtime, _sim: sim, client, server_id }
    })
}

fn caller() -> Caller {
    Caller::new(SecretToken::new("alice-token"))
}

#[divan::bench]
fn get_server() {
    let f = fixture();
    f.runtime
        .block_on(f.client.get_server(&caller(), &f.server_id))
        .unwrap();
}

#[divan::bench]
fn list_servers_100() {
    let f = fixture();
    f.runtime
        .block_on(f.client.list_servers(&caller()))
        .unwrap();
}

#[divan::bench]
fn list_servers_detail_100() {
    let f = fixture();
    f.runtime
        .block_on(f.client.list_servers_detail(&caller()))
        .unwrap();
}

#[divan::bench]
fn authenticate() {
    let f = fixture();
    f.runtime
        .block_on(f.client.authenticate(&caller()))
        .unwrap();
}

fn main() {
    divan::main();
}
