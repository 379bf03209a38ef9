//! Pipelines built from inline TOML, driven with `oneshot`.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use common::{body_text, build, build_with, get};
use http::StatusCode;
use snf_occi::middleware::{Body, BoxHttp, HttpRequest, HttpResponse};
use snf_occi::pipeline::{BuildError, Registry, SERVER_HEADER, boxed};
use tower::{ServiceExt, service_fn};

#[tokio::test]
async fn filters_from_the_file_apply_in_order() {
    let service = build(
        r#"
        [pipeline]
        filters = ["request_log", "small", "slow_guard"]
        app = "echo"
        [filter.small]
        use = "body_limit"
        max_bytes = 8
        [filter.slow_guard]
        use = "timeout"
        timeout = "50ms"
        [app.echo]
        delay = "0s"
        "#,
    )
    .await
    .unwrap();

    let res = service.clone().oneshot(get("/compute/?x=1")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["server"], SERVER_HEADER);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = body_text(res).await;
    assert!(body.starts_with("GET /compute/?x=1\n"), "{body}");
    assert!(
        body.contains(&format!("request-id: {id}")),
        "the app sees the id it echoes: {body}"
    );

    let big = http::Request::post("/")
        .header("content-length", "20")
        .body(Body::from("x".repeat(20)))
        .unwrap();
    let res = service.clone().oneshot(big).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["server"], SERVER_HEADER);
}

#[tokio::test]
async fn one_factory_twice_with_different_options() {
    let service = build(
        r#"
        [pipeline]
        filters = ["outer", "inner"]
        app = "slow"
        [filter.outer]
        use = "timeout"
        timeout = "10s"
        [filter.inner]
        use = "timeout"
        timeout = "30ms"
        [app.slow]
        use = "echo"
        delay = "2s"
        "#,
    )
    .await
    .unwrap();
    let res = service.oneshot(get("/")).await.unwrap();
    // The inner, shorter timeout answers.
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(body_text(res).await.contains("longer than 30 ms"));
}

#[tokio::test]
async fn urlmap_mounts_healthz_beside_the_pipeline() {
    let service = build(
        r#"
        [pipeline]
        filters = ["cors"]
        app = "echo"
        "#,
    )
    .await
    .unwrap();
    let res = service.clone().oneshot(get("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_text(res).await, "ok\n");

    let preflight = http::Request::builder()
        .method("OPTIONS")
        .uri("/compute/")
        .header("origin", "https://portal.example.org")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    let res = service.oneshot(preflight).await.unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert_eq!(res.headers()["server"], SERVER_HEADER);
}

#[tokio::test]
async fn a_filters_own_answer_gets_the_server_header_from_the_edge() {
    let service = build("[pipeline]\nfilters = [\"occi_negotiate\"]\napp = \"echo\"\n")
        .await
        .unwrap();
    let req = http::Request::get("/compute/")
        .header("accept", "image/png")
        .body(Body::empty())
        .unwrap();
    let res = service.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(res.headers().get_all("server").iter().count(), 1);
    assert_eq!(res.headers()["server"], SERVER_HEADER);
}

#[tokio::test]
async fn unmounted_path_is_an_occi_404_with_server_header() {
    let service = build(
        r#"
        [pipeline]
        app = "echo"
        [urlmap]
        "/healthz" = "healthz"
        "#,
    )
    .await
    .unwrap();
    let res = service.oneshot(get("/compute/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.headers()["server"], SERVER_HEADER);
    assert!(
        body_text(res)
            .await
            .contains("nothing is mounted at /compute/")
    );
}

#[tokio::test]
async fn every_build_error_is_reported_with_its_key() {
    let errors = build(
        r#"
        [pipeline]
        filters = ["request_log", "nonesuch", "t", "limit"]
        app = "missing_app"
        [filter.t]
        use = "timeout"
        timeout = "5s"
        tiemout = "6s"
        [filter.limit]
        use = "body_limit"
        max_bytes = "lots"
        "#,
    )
    .await
    .expect_err("four mistakes");
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 4, "{text}");
    assert!(
        matches!(&errors.0[0], BuildError::UnknownFilter { factory, key, .. } if factory == "nonesuch" && key == "pipeline.filters"),
        "{text}"
    );
    assert!(text.contains("`filter.t.tiemout`: unknown key"), "{text}");
    assert!(
        text.contains("`filter.limit.max_bytes`: invalid type"),
        "{text}"
    );
    assert!(
        text.contains("`pipeline.app`: unknown app factory `missing_app`"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_value_names_its_key() {
    let errors = build(
        r#"
        [pipeline]
        filters = ["concurrency_limit"]
        app = "echo"
        [filter.concurrency_limit]
        max_in_flight = 0
        "#,
    )
    .await
    .expect_err("zero permits");
    assert!(
        errors
            .to_string()
            .contains("`filter.concurrency_limit.max_in_flight`: must be at least 1"),
        "{errors}"
    );
}

#[tokio::test]
async fn embedders_register_their_own_factories() {
    let mut registry = Registry::with_builtins();
    registry.register_filter(
        "tag",
        |table: &snf_occi::pipeline::FactoryTable, _ctx: &snf_occi::pipeline::BuildContext| {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct TagConfig {
                value: String,
            }
            let config: TagConfig = table.deserialize()?;
            let value = http::HeaderValue::from_str(&config.value)
                .map_err(|e| table.invalid("value", e))?;
            Ok(boxed(
                tower_http::set_header::SetResponseHeaderLayer::overriding(
                    http::HeaderName::from_static("x-tag"),
                    value,
                ),
            ))
        },
    );
    registry.register_app("hello", |_table, _ctx| async {
        Ok(BoxHttp::new(service_fn(|_req: HttpRequest| async {
            Ok::<_, Infallible>(HttpResponse::new(Body::from("hello")))
        })))
    });
    let service = build_with(
        registry,
        r#"
        [pipeline]
        filters = ["tag"]
        app = "hello"
        [filter.tag]
        value = "custom"
        "#,
    )
    .await
    .unwrap();
    let res = service.oneshot(get("/")).await.unwrap();
    assert_eq!(res.headers()["x-tag"], "custom");
    assert_eq!(body_text(res).await, "hello");
}

#[tokio::test]
async fn a_panicking_app_gives_500_and_the_service_keeps_serving() {
    let mut registry = Registry::with_builtins();
    registry.register_app("fragile", |_table, _ctx| async {
        Ok(BoxHttp::new(service_fn(|req: HttpRequest| async move {
            if req.uri().path() == "/panic" {
                panic!("deliberate");
            }
            Ok::<_, Infallible>(HttpResponse::new(Body::from("fine")))
        })))
    });
    let service = build_with(
        registry,
        "[pipeline]\nfilters = [\"request_log\"]\napp = \"fragile\"\n",
    )
    .await
    .unwrap();
    let res = service.clone().oneshot(get("/panic")).await.unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.headers()["server"], SERVER_HEADER);
    assert_eq!(body_text(res).await, "internal server error\n");
    let res = service.oneshot(get("/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrency_limit_sheds_quickly() {
    let service = build(
        r#"
        [pipeline]
        filters = ["concurrency_limit"]
        app = "slow"
        [filter.concurrency_limit]
        max_in_flight = 1
        retry_after = "2s"
        [app.slow]
        use = "echo"
        delay = "300ms"
        "#,
    )
    .await
    .unwrap();
    let first = tokio::spawn(service.clone().oneshot(get("/")));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = service.clone().oneshot(get("/")).await.unwrap();
    // Refused while the first is still in flight: not queued behind it.
    assert!(!first.is_finished());
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers()["retry-after"], "2");
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
}
