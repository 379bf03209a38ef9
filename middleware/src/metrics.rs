//! `metrics`: request counters, latency histograms and the in-flight gauge,
//! recorded through the [`metrics`] facade (the `/metrics` app installs the
//! Prometheus recorder; without a recorder every call here is a no-op).
//!
//! The names of every metric of snf-occi, and the helpers that record the
//! others (Synnefo calls, auth caches, auth outcomes), are in
//! [`snf_occi_types::metrics`], which the Synnefo client shares.
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
use std::time::Instant;

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use snf_occi_types::metrics::{HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS, method_label};

use crate::extensions::RouteTemplate;
use crate::{HttpRequest, HttpResponse};

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
}
