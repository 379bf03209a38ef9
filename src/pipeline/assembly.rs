//! Assembly: the configured filters as one [`Pipeline`] layer, and the
//! always-on edge around everything.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;

use http::{HeaderValue, StatusCode, header};
use tower::{Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::map_response_body::MapResponseBodyLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::middleware::error_response::occi_error;
use crate::middleware::request_id::RequestIdLayer;
use crate::middleware::sensitive_headers::SensitiveHeadersLayer;
use crate::middleware::{Body, BoxHttp, BoxHttpLayer, HttpRequest, HttpResponse};
use snf_occi_types::MediaType;

/// The value of the `Server` header, which [`EdgeLayer`] sets on every
/// response (and nothing else does: one place says who answers).
pub const SERVER_HEADER: &str = concat!("snf-occi/", env!("CARGO_PKG_VERSION"), " OCCI/1.2");

/// Boxes a typed layer into a [`BoxHttpLayer`] (one allocation per request
/// for its future).
pub fn boxed<L>(layer: L) -> BoxHttpLayer
where
    L: Layer<BoxHttp> + Send + Sync + 'static,
    L::Service: Service<HttpRequest, Response = HttpResponse, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as Service<HttpRequest>>::Future: Send + 'static,
{
    BoxHttpLayer::new(layer)
}

/// The configured filters, in request order (first = outermost). A
/// `tower::Layer` over any infallible HTTP service, so it wraps an axum
/// `Router`, a `service_fn`, or the OCCI app alike.
///
/// ```
/// use std::time::Duration;
/// use snf_occi::pipeline::Pipeline;
/// use snf_occi::middleware::{error_response::OcciErrorBodyLayer, request_log::RequestLogLayer};
///
/// let pipeline = Pipeline::new()
///     .push("request_log", RequestLogLayer::new())
///     .push("timeout", OcciErrorBodyLayer::timeout(Duration::from_secs(30)));
/// assert_eq!(pipeline.names().collect::<Vec<_>>(), ["request_log", "timeout"]);
/// ```
#[derive(Clone, Default)]
pub struct Pipeline {
    filters: Vec<(String, BoxHttpLayer)>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pipeline")
            .field(&self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl Pipeline {
    /// No filters.
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// Appends a typed layer (it sees requests after the ones before it).
    pub fn push<L>(mut self, name: impl Into<String>, layer: L) -> Self
    where
        L: Layer<BoxHttp> + Send + Sync + 'static,
        L::Service: Service<HttpRequest, Response = HttpResponse, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<HttpRequest>>::Future: Send + 'static,
    {
        self.filters.push((name.into(), boxed(layer)));
        self
    }

    /// Appends an already boxed layer.
    pub fn push_boxed(&mut self, name: impl Into<String>, layer: BoxHttpLayer) {
        self.filters.push((name.into(), layer));
    }

    /// The filter instance names, outermost first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.filters.iter().map(|(n, _)| n.as_str())
    }

    /// The number of filters.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether there are no filters.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }
}

impl<S> Layer<S> for Pipeline
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Service = BoxHttp;

    fn layer(&self, inner: S) -> BoxHttp {
        // Fold from the back: the last filter wraps the app first, so the
        // first filter ends up outermost, as in the file.
        self.filters
            .iter()
            .rev()
            .fold(BoxHttp::new(inner), |svc, (_, layer)| layer.layer(svc))
    }
}

/// The always-on edge, outermost first: `Server` header on every response;
/// `X-Request-Id` accepted or generated and echoed (so even a panic's 500
/// carries it); catch-panic (a panic becomes a 500 with an OCCI body and the
/// server keeps serving); secret-carrying headers marked sensitive.
#[derive(Clone, Copy, Debug, Default)]
pub struct EdgeLayer {
    _priv: (),
}

impl EdgeLayer {
    /// The edge.
    pub fn new() -> Self {
        EdgeLayer { _priv: () }
    }
}

fn panic_response(payload: Box<dyn Any + Send + 'static>) -> HttpResponse {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_string());
    tracing::error!(panic = %detail, "a request handler panicked");
    occi_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal server error",
        MediaType::TextPlain,
    )
}

impl<S> Layer<S> for EdgeLayer
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Service = BoxHttp;

    fn layer(&self, inner: S) -> BoxHttp {
        BoxHttp::new(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::SERVER,
                    HeaderValue::from_static(SERVER_HEADER),
                ))
                .layer(RequestIdLayer::new())
                .layer(MapResponseBodyLayer::new(Body::new))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(SensitiveHeadersLayer::default())
                .service(inner),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{ServiceExt, service_fn};

    #[tokio::test]
    async fn a_panic_becomes_a_500_with_server_header_and_request_id() {
        let edge = EdgeLayer::new().layer(service_fn(|req: HttpRequest| async move {
            if req.uri().path() == "/boom" {
                panic!("boom");
            }
            Ok::<_, Infallible>(HttpResponse::new(Body::from("fine")))
        }));
        let res = edge
            .clone()
            .oneshot(http::Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()["server"], SERVER_HEADER);
        assert!(res.headers().contains_key("x-request-id"));
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"internal server error\n");
        // The service still answers afterwards.
        let res = edge
            .oneshot(http::Request::get("/ok").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["server"], SERVER_HEADER);
    }

    #[tokio::test]
    async fn filters_run_in_file_order() {
        let pipeline = Pipeline::new()
            .push(
                "a",
                tower::layer::layer_fn(|s: BoxHttp| {
                    tower::util::MapRequestLayer::new(tag_fn("a")).layer(s)
                }),
            )
            .push(
                "b",
                tower::layer::layer_fn(|s: BoxHttp| {
                    tower::util::MapRequestLayer::new(tag_fn("b")).layer(s)
                }),
            );
        let svc = pipeline.layer(service_fn(|req: HttpRequest| async move {
            let order = req.headers()["order"].to_str().unwrap().to_string();
            Ok::<_, Infallible>(HttpResponse::new(Body::from(order)))
        }));
        let res = svc.oneshot(HttpRequest::new(Body::empty())).await.unwrap();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"ab");
    }

    fn tag_fn(
        tag: &'static str,
    ) -> impl Fn(HttpRequest) -> HttpRequest + Clone + Send + Sync + 'static {
        move |mut req: HttpRequest| {
            let seen = req
                .headers()
                .get("order")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            if let Ok(v) = format!("{seen}{tag}").parse() {
                req.headers_mut().insert("order", v);
            }
            req
        }
    }
}
