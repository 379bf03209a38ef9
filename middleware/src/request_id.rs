//! `request_id`: accept or generate `X-Request-Id`, echo it back.
//!
//! tower-http does the work: [`SetRequestIdLayer`] keeps the client's id
//! or generates a UUID v4 ([`MakeRequestUuid`]), and
//! [`PropagateRequestIdLayer`] echoes it on the response. [`RequestIdLayer`]
//! adds what tower-http leaves to its user:
//!
//! - a client's id is kept only when it is short printable ASCII, so that
//!   a hostile value cannot forge log lines (tower-http keeps any value);
//!   otherwise it is dropped before tower-http sees it, which then
//!   generates one;
//! - the id goes into the request's extensions as [`RequestId`], the type
//!   the app and the Synnefo client read (from `snf-occi-types`, which
//!   imports no tower-http), and the rest of the request runs in a
//!   `request` span carrying it, so every log line of the request, in any
//!   layer or in the Synnefo client, names it once.
//!
//! The layer is idempotent: when an outer layer already set a
//! [`RequestId`], that id is kept and echoed.
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

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue};
use snf_occi_types::RequestId;
use tower::util::MapRequest;
use tower::{Layer, Service};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestId, PropagateRequestIdLayer, SetRequestId, SetRequestIdLayer,
};
use tracing::instrument::{Instrument, Instrumented};

use crate::{HttpRequest, HttpResponse};

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id we keep.
const MAX_LEN: usize = 128;

/// Layer that sets and echoes `X-Request-Id` (tower-http's), puts the id
/// into the request as a [`RequestId`] and runs the request in a span
/// naming it.
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

/// Service of [`RequestIdLayer`]: the client's id screened, then
/// tower-http's set and propagate, then [`InRequestSpan`].
pub type RequestIdService<S> =
    MapRequest<SetRequestId<PropagateRequestId<InRequestSpan<S>>, MakeRequestUuid>, Screen>;

/// The request mapping that screens a client's id (see the module docs).
pub type Screen = fn(HttpRequest) -> HttpRequest;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        let inner =
            PropagateRequestIdLayer::new(X_REQUEST_ID.clone()).layer(InRequestSpan { inner });
        let inner = SetRequestIdLayer::new(X_REQUEST_ID.clone(), MakeRequestUuid).layer(inner);
        MapRequest::new(inner, screen as Screen)
    }
}

fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Keeps the header tower-http will read consistent with an id an outer
/// layer set, and otherwise leaves one client id, the first, and only
/// when it may be logged.
fn screen(mut req: HttpRequest) -> HttpRequest {
    let outer = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| HeaderValue::from_str(id.as_str()).ok());
    let kept = outer.or_else(|| {
        req.headers()
            .get(&X_REQUEST_ID)
            .filter(|v| acceptable(v))
            .cloned()
    });
    match kept {
        Some(id) => req.headers_mut().insert(X_REQUEST_ID.clone(), id),
        None => req.headers_mut().remove(&X_REQUEST_ID),
    };
    req
}

/// The id of `req` as tower-http left it (screened printable ASCII or a
/// UUID), if any.
fn id_of(req: &HttpRequest) -> Option<RequestId> {
    if let Some(id) = req.extensions().get::<RequestId>() {
        return Some(id.clone());
    }
    let id = req
        .extensions()
        .get::<tower_http::request_id::RequestId>()?;
    let text = id.header_value().to_str().ok()?;
    Some(RequestId(Arc::from(text)))
}

/// The innermost part of [`RequestIdLayer`]: inserts the [`RequestId`] and
/// runs the inner service in the request's span.
#[derive(Clone, Debug)]
pub struct InRequestSpan<S> {
    inner: S,
}

impl<S> Service<HttpRequest> for InRequestSpan<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        let span = match id_of(&req) {
            Some(id) => {
                // Every log line of this request, in any layer or in the
                // Synnefo client, carries the id through this span.
                let span = tracing::info_span!("request", request_id = %id);
                req.extensions_mut().insert(id);
                span
            }
            None => tracing::info_span!("request"),
        };
        let fut = span.in_scope(|| self.inner.call(req));
        fut.instrument(span)
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
        let (res, seen) = run(req).await;
        assert_eq!(seen.len(), 36, "a UUID: {seen}");
        assert_eq!(res.headers()["x-request-id"], seen.as_str());
        for hostile in ["a b", "", "é"] {
            let req = http::Request::builder()
                .header(
                    "x-request-id",
                    HeaderValue::from_bytes(hostile.as_bytes()).unwrap(),
                )
                .body(Body::empty())
                .unwrap();
            let (res, seen) = run(req).await;
            assert_eq!(seen.len(), 36, "{hostile:?} replaced by a UUID: {seen}");
            assert_eq!(res.headers()["x-request-id"], seen.as_str());
        }
        // Two ids: the first is the one, once.
        let req = http::Request::builder()
            .header("x-request-id", "one")
            .header("x-request-id", "two")
            .body(Body::empty())
            .unwrap();
        let (res, seen) = run(req).await;
        assert_eq!(seen, "one");
        assert_eq!(res.headers().get_all("x-request-id").iter().count(), 1);
    }

    #[tokio::test]
    async fn keeps_an_id_an_outer_layer_set() {
        let mut req = http::Request::builder()
            .header("x-request-id", "client")
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(RequestId(Arc::from("outer")));
        let (res, seen) = run(req).await;
        assert_eq!(seen, "outer");
        assert_eq!(res.headers()["x-request-id"], "outer");
    }

    #[tokio::test]
    async fn an_inner_answers_own_id_is_kept() {
        let svc = RequestIdLayer::new().layer(service_fn(|_req: HttpRequest| async move {
            let mut res = HttpResponse::new(Body::empty());
            res.headers_mut()
                .insert("x-request-id", HeaderValue::from_static("inner"));
            Ok::<_, Infallible>(res)
        }));
        let res = svc.oneshot(HttpRequest::new(Body::empty())).await.unwrap();
        assert_eq!(res.headers()["x-request-id"], "inner");
    }
}
