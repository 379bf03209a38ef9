//! `request_log`: one tracing event per request, when its response head is
//! ready: method, path, status, latency and request id (plus any headers
//! the operator asked for).
//!
//! Secrets stay out: only the path is logged (query strings can carry
//! credentials), and a logged header that is marked sensitive (see
//! [`crate::sensitive_headers`]) or is one of the always-secret names is
//! written as `***`. Text or JSON output is the tracing subscriber's
//! choice (`[log] format`), not this layer's.
//!
//! ```
//! use snf_occi_middleware::request_log::RequestLogLayer;
//! use tower::ServiceBuilder;
//! # use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
//! let svc = ServiceBuilder::new()
//!     .layer(RequestLogLayer::new().headers(vec![http::header::USER_AGENT]))
//!     .service_fn(|_req: HttpRequest| async { Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::empty())) });
//! # let _ = svc;
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::HeaderName;
use tower::{Layer, Service};

use crate::sensitive_headers::SensitiveHeadersLayer;
use crate::{HttpRequest, HttpResponse};
use snf_occi_types::RequestId;

/// The tracing target of request events.
pub const TARGET: &str = "snf_occi::request";

/// Layer logging one event per request.
#[derive(Clone, Debug, Default)]
pub struct RequestLogLayer {
    headers: Arc<Vec<HeaderName>>,
}

impl RequestLogLayer {
    /// Logs method, path, status, latency and request id.
    pub fn new() -> Self {
        RequestLogLayer::default()
    }

    /// Also logs these request headers (secrets as `***`).
    pub fn headers(mut self, headers: Vec<HeaderName>) -> Self {
        self.headers = Arc::new(headers);
        self
    }
}

impl<S> Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestLog {
            inner,
            headers: self.headers.clone(),
        }
    }
}

/// Service of [`RequestLogLayer`].
#[derive(Clone, Debug)]
pub struct RequestLog<S> {
    inner: S,
    headers: Arc<Vec<HeaderName>>,
}

/// The logged `name=value` pairs of `req`'s headers, secrets redacted.
fn logged_headers(req: &HttpRequest, names: &[HeaderName]) -> String {
    let always = SensitiveHeadersLayer::default();
    let mut out = String::new();
    for name in names {
        for value in req.headers().get_all(name) {
            if !out.is_empty() {
                out.push(' ');
            }
            let shown = if value.is_sensitive() || always.is_sensitive(name) {
                "***".to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes())
                    .escape_debug()
                    .to_string()
            };
            out.push_str(&format!("{name}={shown}"));
        }
    }
    out
}

impl<S> Service<HttpRequest> for RequestLog<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = futures_util::future::BoxFuture<'static, Result<HttpResponse, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let start = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        // Once per line: under the edge's `request` span (which carries
        // the id, see `request_id`) the event does not repeat it.
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .filter(|_| tracing::Span::current().field("request_id").is_none())
            .map(|id| id.to_string());
        let headers = if self.headers.is_empty() {
            String::new()
        } else {
            logged_headers(&req, &self.headers)
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            // Milliseconds to the microsecond: finer is clock noise.
            let latency_ms = (start.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
            tracing::info!(
                target: TARGET,
                method = %method,
                path = %path.escape_debug(),
                status = res.status().as_u16(),
                latency_ms,
                request_id = request_id.as_deref(),
                headers = %headers,
                "request"
            );
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use std::convert::Infallible;
    use std::sync::Mutex;
    use tower::{ServiceExt, service_fn};
    use tracing::field::{Field, Visit};
    use tracing::subscriber::with_default;

    /// Collects every field of every event as `name=value`.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<String>>>);

    struct Fields<'a>(&'a mut Vec<String>);
    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push(format!("{}={:?}", field.name(), value));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push(format!("{}={}", field.name(), value));
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.push(format!("{}={}", field.name(), value));
        }
    }

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut fields = Vec::new();
            event.record(&mut Fields(&mut fields));
            self.0.lock().unwrap().push(fields.join(" "));
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn logs_one_event_with_the_essentials_and_no_secrets() {
        let capture = Capture::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        with_default(capture.clone(), || {
            rt.block_on(async {
                let svc = RequestLogLayer::new()
                    .headers(vec![
                        HeaderName::from_static("x-auth-token"),
                        http::header::USER_AGENT,
                    ])
                    .layer(service_fn(|_req: HttpRequest| async {
                        let mut res = HttpResponse::new(Body::empty());
                        *res.status_mut() = http::StatusCode::NOT_FOUND;
                        Ok::<_, Infallible>(res)
                    }));
                let mut req = http::Request::builder()
                    .method("DELETE")
                    .uri("/compute/42?token=s3cret")
                    .header("x-auth-token", "s3cret")
                    .header("user-agent", "rOCCI-cli")
                    .body(Body::empty())
                    .unwrap();
                req.extensions_mut().insert(RequestId(Arc::from("rid-7")));
                svc.oneshot(req).await.unwrap();
            })
        });
        let events = capture.0.lock().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        let line = &events[0];
        for expected in [
            "method=DELETE",
            "path=/compute/42",
            "status=404",
            "request_id=rid-7",
            "user-agent=rOCCI-cli",
            "x-auth-token=***",
            "latency_ms=",
        ] {
            assert!(line.contains(expected), "missing {expected}: {line}");
        }
        assert!(!line.contains("s3cret"), "secret leaked: {line}");
    }

    /// Under the edge's span the id is written once per line, and the
    /// latency to the microsecond.
    #[test]
    fn under_the_request_span_the_id_is_written_once() {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        with_default(subscriber, || {
            rt.block_on(async {
                let svc = RequestLogLayer::new().layer(service_fn(|_req: HttpRequest| async {
                    Ok::<_, Infallible>(HttpResponse::new(Body::empty()))
                }));
                let mut req = http::Request::builder()
                    .uri("/-/")
                    .body(Body::empty())
                    .unwrap();
                req.extensions_mut().insert(RequestId(Arc::from("rid-8")));
                let span = tracing::info_span!("request", request_id = "rid-8");
                tracing::Instrument::instrument(svc.oneshot(req), span)
                    .await
                    .unwrap();
            })
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert_eq!(text.matches("rid-8").count(), 1, "{text}");
        let latency = text
            .split("latency_ms=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{text}"));
        let decimals = latency.split('.').nth(1).map_or(0, str::len);
        assert!(decimals <= 3, "{latency} in {text}");
    }
}
