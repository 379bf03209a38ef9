//! `metrics`: request counters, latency histograms and the in-flight gauge,
//! recorded through the [`metrics`] facade (the `/metrics` app installs the
//! Prometheus recorder; without a recorder every call here is a no-op).
//!
//! Also the names and helpers of the other metrics of snf-occi (Synnefo
//! calls, auth caches, auth outcomes), so every crate records them the same
//! way.
//!
//! Labels are bounded by construction: the route is the template an app
//! set as a [`RouteTemplate`] response extension (else `unmatched`), the
//! method is one of the standard ones (else `OTHER`), the status is the
//! three-digit code. No label ever carries a path, an id, a token or a user
//! name, so an attacker cannot grow the series count.
//!
//! ```
//! use snf_occi_middleware::metrics::MetricsLayer;
//! use tower::ServiceBuilder;
//! # use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
//! let svc = ServiceBuilder::new()
//!     .layer(MetricsLayer::new())
//!     .service_fn(|_req: HttpRequest| async { Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::empty())) });
//! # let _ = svc;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use http::Method;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::extensions::RouteTemplate;
use crate::{HttpRequest, HttpResponse};

/// Counter: requests answered, by `method`, `route` and `status`.
pub const HTTP_REQUESTS: &str = "snf_occi_http_requests_total";
/// Histogram (seconds): time to the response head, by `method`, `route`
/// and `status`.
pub const HTTP_DURATION: &str = "snf_occi_http_request_duration_seconds";
/// Gauge: requests in flight.
pub const HTTP_IN_FLIGHT: &str = "snf_occi_http_requests_in_flight";
/// Counter: calls to Synnefo, by `service`, `operation` (a template such as
/// `GET /servers/{id}`) and `status` (the HTTP code, or `error` when no
/// answer came).
pub const SYNNEFO_CALLS: &str = "snf_occi_synnefo_calls_total";
/// Histogram (seconds): duration of calls to Synnefo, by `service`,
/// `operation` and `status`.
pub const SYNNEFO_DURATION: &str = "snf_occi_synnefo_call_duration_seconds";
/// Counter: cache lookups, by `cache` and `result` (`hit` or `miss`).
pub const CACHE_LOOKUPS: &str = "snf_occi_cache_lookups_total";
/// Counter: authentication decisions, by `filter`, `outcome`
/// (`accepted`, `rejected`, `passed`, `error`) and `reason` (a fixed word).
pub const AUTH_OUTCOMES: &str = "snf_occi_auth_outcomes_total";

/// Every histogram name, for exporters that need bucket configuration.
pub const HISTOGRAMS: [&str; 2] = [HTTP_DURATION, SYNNEFO_DURATION];

/// Histogram buckets (seconds) suited to an API gateway in front of a
/// cloud: 1 ms up to 30 s.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The method as a bounded label.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        // Extension methods are arbitrary client text: never a label.
        _ => "OTHER",
    }
}

/// Counts one call to Synnefo. `operation` must be a template (no ids);
/// `status` is the HTTP code, or `None` when no answer came.
pub fn record_synnefo_call(
    service: &'static str,
    operation: String,
    status: Option<u16>,
    elapsed: Duration,
) {
    let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
    let labels = vec![
        metrics::Label::new("service", service),
        metrics::Label::new("operation", operation),
        metrics::Label::new("status", status),
    ];
    metrics::counter!(SYNNEFO_CALLS, labels.clone()).increment(1);
    metrics::histogram!(SYNNEFO_DURATION, labels).record(elapsed.as_secs_f64());
}

/// Counts one lookup in the cache named `cache`.
pub fn record_cache_lookup(cache: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => result).increment(1);
}

/// Counts one decision of the auth filter `filter`. `outcome` and `reason`
/// must be fixed words chosen by the filter, never request data.
pub fn record_auth_outcome(filter: &'static str, outcome: &'static str, reason: &'static str) {
    metrics::counter!(AUTH_OUTCOMES, "filter" => filter, "outcome" => outcome, "reason" => reason)
        .increment(1);
}

/// Layer recording every request's count, latency and in-flight state.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsLayer {
    _private: (),
}

impl MetricsLayer {
    /// A metrics layer.
    pub fn new() -> Self {
        MetricsLayer::default()
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Metrics { inner }
    }
}

/// Service of [`MetricsLayer`].
#[derive(Clone, Debug)]
pub struct Metrics<S> {
    inner: S,
}

impl<S> Service<HttpRequest> for Metrics<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let method = method_label(req.method());
        MetricsFuture {
            inner: self.inner.call(req),
            method,
            start: Instant::now(),
            _in_flight: InFlight::enter(),
        }
    }
}

/// Decrements the in-flight gauge when dropped, so a request whose future
/// is cancelled (client gone, timeout) leaves the gauge too.
#[derive(Debug)]
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        metrics::gauge!(HTTP_IN_FLIGHT).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(HTTP_IN_FLIGHT).decrement(1.0);
    }
}

pin_project! {
    /// Response future of [`Metrics`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        method: &'static str,
        start: Instant,
        _in_flight: InFlight,
    }
}

impl<F, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<HttpResponse, E>>,
{
    type Output = Result<HttpResponse, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(res) = &result {
            let route = res
                .extensions()
                .get::<RouteTemplate>()
                .copied()
                .unwrap_or(RouteTemplate::UNMATCHED);
            let labels = vec![
                metrics::Label::new("method", *this.method),
                metrics::Label::new("route", route.as_str()),
                metrics::Label::new("status", status_label(res.status().as_u16())),
            ];
            metrics::counter!(HTTP_REQUESTS, labels.clone()).increment(1);
            metrics::histogram!(HTTP_DURATION, labels).record(this.start.elapsed().as_secs_f64());
        }
        Poll::Ready(result)
    }
}

/// A status code as a label: `100` to `599`, anything else `other`.
fn status_label(code: u16) -> String {
    match code {
        100..=599 => code.to_string(),
        _ => "other".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_the_codes() {
        assert_eq!(status_label(100), "100");
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(404), "404");
        assert_eq!(status_label(599), "599");
        assert_eq!(status_label(600), "other");
        assert_eq!(status_label(99), "other");
    }

    #[test]
    fn extension_methods_are_not_labels() {
        let m = Method::from_bytes(b"SECRETTOKEN").unwrap();
        assert_eq!(method_label(&m), "OTHER");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }
}
