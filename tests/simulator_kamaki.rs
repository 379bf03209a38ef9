//! Synnefo's own client, kamaki 0.16, against the simulator.
//!
//! Ignored by default: it needs Python 2.7 and kamaki, which `cargo test`
//! cannot assume. Install and run with:
//!
//! ```text
//! python2.7 -m pip install --target target/kamaki-py2 kamaki==0.16
//! KAMAKI_PY2=$(command -v python2.7) cargo test --test simulator_kamaki -- --ignored --nocapture
//! ```

use std::time::Duration;

use snf_occi_simulator::{self as simulator, SimulatorConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Python 2.7 and kamaki 0.16 in target/kamaki-py2 (see the module docs)"]
async fn kamaki_manages_servers_and_volumes() {
    let mut config = SimulatorConfig::new("127.0.0.1:0".parse().unwrap());
    config.build_delay = Duration::from_secs(1);
    config.action_delay = Duration::from_secs(1);
    let sim = simulator::start(&config).await.unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kamaki/check.sh");
    let output = tokio::process::Command::new("bash")
        .arg(script)
        .arg(sim.identity_url())
        .arg("alice-token")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    println!("{:#?}", sim.counters());
    assert!(output.status.success(), "kamaki check failed");
    assert!(stdout.contains("kamaki: all steps passed"));
}
