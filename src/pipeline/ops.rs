//! Operations factories: the `metrics` filter, the `metrics` app (the
//! Prometheus scrape endpoint) and the `readyz` app (readiness probe).
//!
//! Both apps are meant to be mounted through `[urlmap]` beside the OCCI
//! pipeline, unauthenticated:
//!
//! ```toml
//! [pipeline]
//! filters = ["metrics", "request_log", "keystone"]
//! [filter.metrics]
//! [app.metrics]
//! [app.readyz]
//! [urlmap]
//! "/" = "pipeline"
//! "/metrics" = "metrics"
//! "/readyz" = "readyz"
//! ```

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use http::{HeaderValue, StatusCode, header};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tower::service_fn;

use super::registry::FactoryTable;
use super::{BuildContext, BuildError, boxed};
use crate::middleware::metrics::MetricsLayer;
use crate::middleware::{Body, BoxHttp, BoxHttpLayer, HttpRequest, HttpResponse, RouteTemplate};
use crate::store::Store;
use crate::synnefo::{Client, Service, SynnefoError};
use snf_occi_types::metrics::{HISTOGRAMS, LATENCY_BUCKETS};

/// `[filter.NAME]` of `metrics` (no options).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFilterConfig {}

/// Builds the `metrics` filter: counts every request passing through it by
/// route template, method and status, with latency and in-flight gauges.
pub fn metrics_filter(
    table: &FactoryTable,
    _ctx: &BuildContext,
) -> Result<BoxHttpLayer, BuildError> {
    let MetricsFilterConfig {} = table.deserialize()?;
    // Install the recorder here too, so a pipeline that counts but whose
    // scrape endpoint lives elsewhere still records.
    prometheus().map_err(|reason| table.invalid("", reason))?;
    Ok(boxed(MetricsLayer::new()))
}

static PROMETHEUS: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Whether [`prometheus`] installed the recorder: a pipeline built with
/// the `metrics` filter or app did. The binary records metrics only then
/// (`snf_occi_types::metrics::set_recording`).
pub fn prometheus_installed() -> bool {
    PROMETHEUS.get().is_some_and(Result::is_ok)
}

/// The process-wide Prometheus recorder, installed on first use.
///
/// The `metrics` facade has one global recorder per process; every build
/// (and every test server in one process) shares it.
pub fn prometheus() -> Result<PrometheusHandle, String> {
    PROMETHEUS
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for name in HISTOGRAMS {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full(name.to_string()), &LATENCY_BUCKETS)
                    .map_err(|e| e.to_string())?;
            }
            builder
                .install_recorder()
                .map_err(|e| format!("cannot install the Prometheus recorder: {e}"))
        })
        .clone()
}

/// `[app.NAME]` of `metrics` (no options).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsAppConfig {}

/// Builds the `metrics` app: `GET` answers the Prometheus text format.
pub async fn metrics_app(table: FactoryTable, _ctx: BuildContext) -> Result<BoxHttp, BuildError> {
    let MetricsAppConfig {} = table.deserialize()?;
    let handle = prometheus().map_err(|reason| table.invalid("", reason))?;
    Ok(BoxHttp::new(service_fn(move |req: HttpRequest| {
        let handle = handle.clone();
        async move {
            if let Some(res) = only_get(&req) {
                return Ok::<_, Infallible>(res);
            }
            handle.run_upkeep();
            let mut res = HttpResponse::new(Body::from(handle.render()));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            res.extensions_mut().insert(RouteTemplate("/metrics"));
            Ok(res)
        }
    })))
}

/// `405` for anything but `GET` and `HEAD`.
fn only_get(req: &HttpRequest) -> Option<HttpResponse> {
    if req.method() == http::Method::GET || req.method() == http::Method::HEAD {
        return None;
    }
    let mut res = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET is allowed here\n");
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(res)
}

fn plain(status: StatusCode, body: impl Into<String>) -> HttpResponse {
    let mut res = HttpResponse::new(Body::from(body.into()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    res
}

/// `[app.NAME]` of `readyz`. Where Synnefo is comes from `[synnefo]`:
/// the probe checks the client the OCCI app uses.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReadyzConfig {
    /// How long each check may take (shorter than `[synnefo]`'s call
    /// timeouts: a probe must answer before the balancer gives up).
    #[serde(default = "default_check_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// How long an answer is reused, so a flood of probes costs Synnefo at
    /// most one pair of calls per period (`0s`: check on every probe).
    #[serde(default = "default_cache_for", with = "humantime_serde")]
    pub cache_for: Duration,
}

impl Default for ReadyzConfig {
    fn default() -> Self {
        ReadyzConfig {
            timeout: default_check_timeout(),
            cache_for: default_cache_for(),
        }
    }
}

fn default_check_timeout() -> Duration {
    Duration::from_secs(2)
}

fn default_cache_for() -> Duration {
    Duration::from_secs(1)
}

/// One dependency the `readyz` app checks. The store registers one when
/// there is a store to check (see [`readiness_checks`]).
pub trait ReadinessCheck: Send + Sync + 'static {
    /// A fixed name shown in the probe's answer (never a URL).
    fn name(&self) -> &'static str;
    /// `Ok` when the dependency answers; `Err` with a short fixed reason.
    fn check(&self) -> BoxFuture<'_, Result<(), &'static str>>;
}

/// Checks Astakos (its public catalog answers) and Cyclades (the compute
/// endpoint answers HTTP at all: a 401 without a token still proves it up),
/// each within `timeout`.
struct SynnefoCheck {
    client: Client,
    cyclades: bool,
    timeout: Duration,
}

impl ReadinessCheck for SynnefoCheck {
    fn name(&self) -> &'static str {
        if self.cyclades { "cyclades" } else { "astakos" }
    }

    fn check(&self) -> BoxFuture<'_, Result<(), &'static str>> {
        Box::pin(async move {
            tokio::time::timeout(self.timeout, self.check_once())
                .await
                .unwrap_or(Err("timeout"))
        })
    }
}

impl SynnefoCheck {
    async fn check_once(&self) -> Result<(), &'static str> {
        if !self.cyclades {
            return match self.client.public_catalog(None).await {
                Ok(_) => Ok(()),
                Err(_) => Err("unreachable"),
            };
        }
        match self.client.probe(Service::Compute, "/flavors").await {
            Ok(status) if !status.is_server_error() => Ok(()),
            Ok(_) => Err("failing"),
            Err(SynnefoError::NoEndpoint { .. }) => Err("no endpoint"),
            Err(_) => {
                // The endpoint may have moved: rediscover next time.
                self.client.forget_endpoints();
                Err("unreachable")
            }
        }
    }
}

/// Checks the user-mixin store answers a trivial query.
struct StoreCheck {
    store: Store,
    timeout: Duration,
}

impl ReadinessCheck for StoreCheck {
    fn name(&self) -> &'static str {
        "store"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), &'static str>> {
        Box::pin(async move {
            match tokio::time::timeout(self.timeout, self.store.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err("failing"),
                Err(_) => Err("timeout"),
            }
        })
    }
}

/// The checks `readyz` runs for this build: Astakos and Cyclades through
/// `client` (the build's shared one) and, when given, the user-mixin
/// store.
pub fn readiness_checks(
    config: &ReadyzConfig,
    client: Client,
    store: Option<Store>,
) -> Vec<Arc<dyn ReadinessCheck>> {
    [false, true]
        .into_iter()
        .map(|cyclades| {
            Arc::new(SynnefoCheck {
                client: client.clone(),
                cyclades,
                timeout: config.timeout,
            }) as Arc<dyn ReadinessCheck>
        })
        .chain(store.map(|store| {
            Arc::new(StoreCheck {
                store,
                timeout: config.timeout,
            }) as Arc<dyn ReadinessCheck>
        }))
        .collect()
}

/// Builds the `readyz` app: `200 ready` when every check passes, else
/// `503` naming the failing dependency by name only (no URL, no detail of
/// the configuration).
pub async fn readyz(table: FactoryTable, ctx: BuildContext) -> Result<BoxHttp, BuildError> {
    let config: ReadyzConfig = table.deserialize()?;
    let client = ctx.synnefo()?;
    // A store that cannot be opened fails the build (as it fails the
    // occi app's): the probe then checks that it keeps answering.
    let store = ctx.store().await.map_err(|e| BuildError::Failed {
        key: "store.url".to_owned(),
        reason: e.to_string(),
    })?;
    let checks = Arc::new(readiness_checks(&config, client, Some(store)));
    let cache: Arc<Mutex<Option<(Instant, StatusCode, String)>>> = Arc::new(Mutex::new(None));
    let cache_for = config.cache_for;
    Ok(BoxHttp::new(service_fn(move |req: HttpRequest| {
        let checks = checks.clone();
        let cache = cache.clone();
        async move {
            if let Some(res) = only_get(&req) {
                return Ok::<_, Infallible>(res);
            }
            // One probe at a time runs the checks; concurrent probes wait
            // for it and reuse its answer.
            let mut cached = cache.lock().await;
            let (status, body) = match &*cached {
                Some((at, status, body)) if at.elapsed() < cache_for => (*status, body.clone()),
                _ => {
                    let (status, body) = run_checks(&checks).await;
                    *cached = Some((Instant::now(), status, body.clone()));
                    (status, body)
                }
            };
            drop(cached);
            let mut res = plain(status, body);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res.extensions_mut().insert(RouteTemplate("/readyz"));
            Ok(res)
        }
    })))
}

async fn run_checks(checks: &[Arc<dyn ReadinessCheck>]) -> (StatusCode, String) {
    let results = futures_util::future::join_all(
        checks
            .iter()
            .map(|c| async move { (c.name(), c.check().await) }),
    )
    .await;
    let mut ready = true;
    let mut body = String::new();
    for (name, result) in results {
        match result {
            Ok(()) => body.push_str(&format!("{name}: ok\n")),
            Err(reason) => {
                ready = false;
                tracing::warn!(check = name, reason, "readiness check failed");
                body.push_str(&format!("{name}: {reason}\n"));
            }
        }
    }
    if ready {
        (StatusCode::OK, format!("ready\n{body}"))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{body}"),
        )
    }
}
