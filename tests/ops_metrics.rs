//! `/metrics` scraped after a known sequence of requests through a
//! `metrics` + `keystone_auth` pipeline in front of the simulator.
//!
//! One test in this binary: the Prometheus recorder is process-wide, so a
//! second test running in parallel would add to the same counters.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use http::StatusCode;
use snf_occi::config::Config;
use snf_occi::middleware::{Body, BoxHttp, HttpRequest, HttpResponse, RouteTemplate};
use snf_occi::pipeline::{BuildContext, Registry};
use snf_occi_simulator::{self as simulator, SimulatorConfig};
use tower::{ServiceExt, service_fn};

async fn body_text(res: HttpResponse) -> String {
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn request(method: &str, uri: &str, token: Option<&str>) -> HttpRequest {
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("x-auth-token", t);
    }
    b.body(Body::empty()).expect("request")
}

/// One sample of the exposition: its labels and value.
#[derive(Debug)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Every sample of `name` in a Prometheus text exposition.
fn samples(text: &str, name: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, labels) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some(Sample {
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The value of the sample of `name` with exactly these labels (0 if none).
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples(text, name)
        .into_iter()
        .find(|s| s.labels == want)
        .map_or(0.0, |s| s.value)
}

#[tokio::test]
async fn counters_after_a_known_sequence() {
    let sim = simulator::start(&SimulatorConfig::instant("127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    let user = sim.users()[0].clone();
    let toml = format!(
        r#"
        [pipeline]
        filters = ["metrics", "keystone"]
        app = "routed"
        [filter.metrics]
        [synnefo]
        identity_url = "{identity}"
        [filter.keystone]
        use = "keystone_auth"
        [app.routed]
        [app.metrics]
        [urlmap]
        "/" = "pipeline"
        "/metrics" = "metrics"
        "#,
        identity = sim.identity_url()
    );
    let config = Config::from_toml_str(&toml).unwrap();
    let ctx = BuildContext::new(Arc::new(config)).unwrap();
    let mut registry = Registry::with_builtins();
    // Stands in for the OCCI app: it names its matched route, as the app
    // does, and answers 200.
    registry.register_app("routed", |_table, _ctx| async {
        Ok(BoxHttp::new(service_fn(|_req: HttpRequest| async {
            let mut res = HttpResponse::new(Body::from("ok"));
            res.extensions_mut().insert(RouteTemplate("/compute/{id}"));
            Ok::<_, Infallible>(res)
        })))
    });
    let service = registry.build_service(&ctx).await.unwrap();

    // 3 authenticated GETs of /compute/<three different ids>.
    for id in ["1", "22", "333"] {
        let res = service
            .clone()
            .oneshot(request("GET", &format!("/compute/{id}"), Some(&user.token)))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // 1 GET with a token Astakos refuses, twice (errors are not cached).
    for _ in 0..2 {
        let res = service
            .clone()
            .oneshot(request("GET", "/compute/9", Some("not-a-real-token")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // 1 request with an extension method.
    let res = service
        .clone()
        .oneshot(request("BREW", "/compute/1", Some(&user.token)))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let res = service
        .clone()
        .oneshot(request("GET", "/metrics", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = body_text(res).await;

    let requests = "snf_occi_http_requests_total";
    let ok = [
        ("method", "GET"),
        ("route", "/compute/{id}"),
        ("status", "200"),
    ];
    assert_eq!(value(&text, requests, &ok), 3.0, "{text}");
    assert_eq!(
        value(
            &text,
            requests,
            &[("method", "GET"), ("route", "unmatched"), ("status", "401")]
        ),
        2.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            requests,
            &[
                ("method", "OTHER"),
                ("route", "/compute/{id}"),
                ("status", "200")
            ]
        ),
        1.0,
        "{text}"
    );
    // The latency histogram has one observation per request, in buckets.
    assert_eq!(
        value(&text, "snf_occi_http_request_duration_seconds_count", &ok),
        3.0
    );
    let mut le_inf = ok.to_vec();
    le_inf.push(("le", "+Inf"));
    assert_eq!(
        value(
            &text,
            "snf_occi_http_request_duration_seconds_bucket",
            &le_inf
        ),
        3.0,
        "{text}"
    );
    // Nothing is in flight once every answer has been read.
    assert_eq!(
        value(&text, "snf_occi_http_requests_in_flight", &[]),
        0.0,
        "{text}"
    );

    // The first valid token missed the cache, the next three hit; both bad
    // tokens missed.
    let lookups = "snf_occi_cache_lookups_total";
    assert_eq!(
        value(
            &text,
            lookups,
            &[("cache", "keystone_auth"), ("result", "miss")]
        ),
        3.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            lookups,
            &[("cache", "keystone_auth"), ("result", "hit")]
        ),
        3.0,
        "{text}"
    );

    let auth = "snf_occi_auth_outcomes_total";
    let outcome = |o: &str, r: &str| {
        value(
            &text,
            auth,
            &[("filter", "keystone_auth"), ("outcome", o), ("reason", r)],
        )
    };
    assert_eq!(outcome("accepted", "validated"), 1.0, "{text}");
    assert_eq!(outcome("accepted", "cached"), 3.0, "{text}");
    assert_eq!(outcome("rejected", "rejected_by_identity"), 2.0, "{text}");

    // Astakos was asked three times (one valid token, two bad ones).
    let calls: f64 = samples(&text, "snf_occi_synnefo_calls_total")
        .iter()
        .filter(|s| {
            s.labels.get("service").map(String::as_str) == Some("identity")
                && s.labels.get("operation").map(String::as_str) == Some("POST /tokens")
        })
        .map(|s| s.value)
        .sum();
    assert_eq!(calls, 3.0, "{text}");
    assert!(
        text.contains("snf_occi_synnefo_call_duration_seconds_bucket{"),
        "{text}"
    );

    // No label carries a token, a user id, a user name or a raw path.
    for secret in [
        user.token.as_str(),
        "not-a-real-token",
        user.uuid.as_str(),
        user.name.as_str(),
        "/compute/22",
        "BREW",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
    }

    // Only GET: a POST to the scrape endpoint is refused.
    let res = service
        .clone()
        .oneshot(request("POST", "/metrics", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    sim.shutdown().await;
}
