//! Per-request overhead of the pipeline: a no-op app alone, behind the
//! always-on edge and urlmap, and behind the edge plus every built-in
//! generic filter, each request driven with `oneshot` (no sockets).
//!
//! `cargo bench --bench pipeline`

use std::convert::Infallible;
use std::sync::Arc;

use snf_occi::config::Config;
use snf_occi::middleware::{Body, BoxHttp, HttpRequest, HttpResponse};
use snf_occi::pipeline::{BuildContext, Registry};
use tower::{ServiceExt, service_fn};

fn main() {
    divan::main();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn noop_app() -> BoxHttp {
    BoxHttp::new(service_fn(|_req: HttpRequest| async {
        Ok::<_, Infallible>(HttpResponse::new(Body::empty()))
    }))
}

fn build(rt: &tokio::runtime::Runtime, filters: &str) -> BoxHttp {
    let mut registry = Registry::with_builtins();
    registry.register_app("noop", |_table, _ctx| async { Ok(noop_app()) });
    let toml = format!("[pipeline]\nfilters = [{filters}]\napp = \"noop\"\n");
    let config = Config::from_toml_str(&toml).expect("config");
    let ctx = BuildContext::new(Arc::new(config)).expect("context");
    rt.block_on(registry.build_service(&ctx)).expect("pipeline")
}

fn request() -> HttpRequest {
    http::Request::get("/compute/1")
        .header("accept", "text/plain")
        .header("x-auth-token", "secret")
        .header("origin", "https://portal.example.org")
        .body(Body::empty())
        .expect("request")
}

fn run(bencher: divan::Bencher, service: BoxHttp, rt: tokio::runtime::Runtime) {
    bencher.bench_local(|| {
        let res = rt
            .block_on(service.clone().oneshot(request()))
            .expect("infallible");
        divan::black_box(res);
    });
}

/// The no-op app alone: the baseline.
#[divan::bench]
fn app_alone(bencher: divan::Bencher) {
    run(bencher, noop_app(), runtime());
}

/// Edge (Server header, request id, catch-panic, sensitive headers) and
/// urlmap around the no-op app, no configured filters.
#[divan::bench]
fn edge_and_urlmap(bencher: divan::Bencher) {
    let rt = runtime();
    let service = build(&rt, "");
    run(bencher, service, rt);
}

/// Edge, urlmap and all six built-in generic filters.
#[divan::bench]
fn all_builtin_filters(bencher: divan::Bencher) {
    let rt = runtime();
    let service = build(
        &rt,
        r#""request_log", "request_id", "timeout", "body_limit", "concurrency_limit", "cors""#,
    );
    run(bencher, service, rt);
}
