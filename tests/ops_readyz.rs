//! `/readyz` follows the simulator: ready while it runs, 503 once it is
//! stopped, ready again when it is back on the same address. `/healthz`
//! stays 200 throughout; neither reveals configuration.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use snf_occi::config::Config;
use snf_occi::middleware::{Body, BoxHttp, HttpResponse};
use snf_occi::pipeline::{BuildContext, Registry};
use snf_occi_simulator::{self as simulator, SimulatorConfig};
use tower::ServiceExt;

async fn get(service: &BoxHttp, uri: &str) -> (StatusCode, String) {
    let req = http::Request::get(uri).body(Body::empty()).unwrap();
    let res: HttpResponse = service.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn readiness_fails_without_the_simulator_and_recovers() {
    let sim = simulator::start(&SimulatorConfig::instant("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let addr = sim.local_addr();
    let identity = sim.identity_url();
    let toml = format!(
        r#"
        [pipeline]
        app = "echo"
        [app.echo]
        [app.healthz]
        [synnefo]
        identity_url = "{identity}"
        [app.readyz]
        timeout = "1s"
        cache_for = "0s"
        [store]
        url = "sqlite::memory:"
        [urlmap]
        "/" = "pipeline"
        "/healthz" = "healthz"
        "/readyz" = "readyz"
        "#
    );
    let ctx = BuildContext::new(Arc::new(Config::from_toml_str(&toml).unwrap())).unwrap();
    let service = Registry::with_builtins().build_service(&ctx).await.unwrap();

    let (status, body) = get(&service, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "ready\nastakos: ok\ncyclades: ok\nstore: ok\n");

    sim.shutdown().await;
    let (status, body) = get(&service, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.starts_with("not ready\n"), "{body}");
    assert!(body.contains("astakos: unreachable"), "{body}");
    assert!(body.contains("cyclades: unreachable"), "{body}");
    assert!(
        body.contains("store: ok"),
        "the store is not Synnefo: {body}"
    );
    // It names the dependencies, never where they are.
    assert!(!body.contains(&addr.port().to_string()), "{body}");
    assert!(!body.contains("127.0.0.1"), "{body}");
    // Liveness does not depend on Synnefo.
    assert_eq!(get(&service, "/healthz").await.0, StatusCode::OK);

    // Back on the same address: ready again (the port may take a moment
    // to be free for rebinding).
    let config = SimulatorConfig::instant(addr);
    let mut sim = None;
    for _ in 0..50 {
        match simulator::start(&config).await {
            Ok(s) => {
                sim = Some(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let sim = sim.expect("the simulator restarts on its address");
    let (status, body) = get(&service, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn readyz_needs_an_identity_url_without_a_simulator() {
    let toml = r#"
        [pipeline]
        app = "readyz"
        [app.readyz]
        "#;
    let ctx = BuildContext::new(Arc::new(Config::from_toml_str(toml).unwrap())).unwrap();
    let err = Registry::with_builtins()
        .build_service(&ctx)
        .await
        .expect_err("refused")
        .to_string();
    assert!(err.contains("identity_url"), "{err}");
}
