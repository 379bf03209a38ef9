//! `request_id`: accept or generate `X-Request-Id`, echo it back.
//!
//! The id is put in the request's extensions as [`RequestId`] so that
//! logs and error bodies of every later layer can name it. A client's id
//! is kept only when it is short printable ASCII, so that a hostile value
//! cannot forge log lines; otherwise a UUID v4 is generated. The layer is
//! idempotent: when an outer layer already set a `RequestId`, it is kept.
//!
//! ```
//! use snf_occi_middleware::request_id::RequestIdLayer;
//! use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
//! use snf_occi_types::RequestId;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # tokio_test_block_on(async {
//! let svc = ServiceBuilder::new().layer(RequestIdLayer::new()).service_fn(|req: HttpRequest| async move {
//!     let id = req.extensions().get::<RequestId>().unwrap().to_string();
//!     Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::from(id)))
//! });
//! let req = http::Request::builder().header("x-request-id", "abc-1").body(Body::empty()).unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.headers()["x-request-id"], "abc-1");
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue};
use tower::{Layer, Service};

use crate::{HttpRequest, HttpResponse};
use snf_occi_types::RequestId;

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id we keep.
const MAX_LEN: usize = 128;

/// Layer that sets and echoes `X-Request-Id`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdLayer {
    _priv: (),
}

impl RequestIdLayer {
    /// A new layer.
    pub fn new() -> Self {
        RequestIdLayer { _priv: () }
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// Service that sets and echoes `X-Request-Id`; see [`RequestIdLayer`].
#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
}

fn acceptable(value: &HeaderValue) -> Option<&str> {
    let s = value.to_str().ok()?;
    let ok = !s.is_empty() && s.len() <= MAX_LEN && s.bytes().all(|b| b.is_ascii_graphic());
    ok.then_some(s)
}

/// The id for `req`: the one already in its extensions, the client's, or a
/// new UUID.
pub fn request_id_of(req: &HttpRequest) -> RequestId {
    if let Some(id) = req.extensions().get::<RequestId>() {
        return id.clone();
    }
    match req.headers().get(&X_REQUEST_ID).and_then(acceptable) {
        Some(s) => RequestId(Arc::from(s)),
        None => RequestId(Arc::from(uuid::Uuid::new_v4().to_string())),
    }
}

impl<S> Service<HttpRequest> for RequestIdService<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        let id = request_id_of(&req);
        // The id is printable ASCII either way, so this cannot fail.
        let header = HeaderValue::from_str(id.as_str()).ok();
        if let Some(h) = &header {
            req.headers_mut().insert(X_REQUEST_ID.clone(), h.clone());
        }
        // Every log line of this request, in any layer or in the Synnefo
        // client, carries the id through this span.
        let span = tracing::info_span!("request", request_id = %id);
        req.extensions_mut().insert(id);
        let fut = span.in_scope(|| self.inner.call(req));
        Box::pin(tracing::Instrument::instrument(
            async move {
                let mut res = fut.await?;
                if let Some(h) = header {
                    res.headers_mut().entry(X_REQUEST_ID.clone()).or_insert(h);
                }
                Ok(res)
            },
            span,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use std::convert::Infallible;
    use tower::{ServiceExt, service_fn};

    async fn run(req: HttpRequest) -> (HttpResponse, String) {
        let svc = RequestIdLayer::new().layer(service_fn(|req: HttpRequest| async move {
            let id = req
                .extensions()
                .get::<RequestId>()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let mut res = HttpResponse::new(Body::empty());
            res.headers_mut()
                .insert("seen", HeaderValue::from_str(&id).unwrap());
            Ok::<_, Infallible>(res)
        }));
        let res = svc.oneshot(req).await.unwrap();
        let seen = res.headers()["seen"].to_str().unwrap().to_string();
        (res, seen)
    }

    #[tokio::test]
    async fn keeps_a_clean_client_id_and_echoes_it() {
        let req = http::Request::builder()
            .header("x-request-id", "req-42")
            .body(Body::empty())
            .unwrap();
        let (res, seen) = run(req).await;
        assert_eq!(seen, "req-42");
        assert_eq!(res.headers()["x-request-id"], "req-42");
    }

    #[tokio::test]
    async fn generates_an_id_when_missing_or_hostile() {
        let (res, seen) = run(http::Request::new(Body::empty())).await;
        assert_eq!(seen.len(), 36, "a UUID: {seen}");
        assert_eq!(res.headers()["x-request-id"], seen.as_str());

        let long = "x".repeat(500);
        let req = http::Request::builder()
            .header("x-request-id", long.as_str())
            .body(Body::empty())
            .unwrap();
        let (_, seen) = run(req).await;
        assert_ne!(seen, long);
        let req = http::Request::builder()
            .header("x-request-id", "a b")
            .body(Body::empty())
            .unwrap();
        let (_, seen) = run(req).await;
        assert_ne!(seen, "a b");
    }

    #[tokio::test]
    async fn keeps_an_id_an_outer_layer_set() {
        let mut req = http::Request::builder()
            .header("x-request-id", "client")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(RequestId(Arc::from("outer")));
        let (_, seen) = run(req).await;
        assert_eq!(seen, "outer");
    }
}
