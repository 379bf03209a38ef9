//! OCCI error responses in the negotiated rendering.
//!
//! Layers short-circuit with a response, never an error (tower-http
//! style); [`occi_error`] builds that response so that a 401 from an auth
//! filter looks like a 404 from the app. Where tower-http has the layer
//! (a timeout, a request body limit), we use it, and
//! [`OcciErrorBodyLayer`] turns the answers it makes itself into OCCI
//! error responses, in this one place.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::Map;
use http::{HeaderValue, StatusCode, header};
use pin_project_lite::pin_project;
use snf_occi_types::MediaType;
use tower::{Layer, Service};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::{Body, BoxError, HttpRequest, HttpResponse, Negotiated};

/// Builds an OCCI error response: `text/plain` body line, `X-OCCI-Error`
/// header (and body `OK`-less message) for `text/occi`, `{"code","message"}`
/// for JSON.
pub fn occi_error(status: StatusCode, message: &str, rendering: MediaType) -> HttpResponse {
    let (content_type, body) = match rendering {
        MediaType::OcciJson | MediaType::Json => (
            rendering.as_str(),
            serde_json::json!({ "code": status.as_u16(), "message": message }).to_string(),
        ),
        MediaType::TextOcci => ("text/occi", String::new()),
        MediaType::TextPlain | MediaType::UriList => ("text/plain", format!("{message}\n")),
    };
    let mut response = http::Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if rendering == MediaType::TextOcci {
        // Header values cannot hold control characters; keep the message readable.
        let clean: String = message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&clean) {
            headers.insert("x-occi-error", v);
        }
    }
    response
}

/// The response rendering recorded in a request's extensions, or text/plain.
pub fn rendering_of(extensions: &http::Extensions) -> MediaType {
    extensions
        .get::<Negotiated>()
        .map(|n| n.response)
        .unwrap_or(MediaType::TextPlain)
}

/// Layer that wraps a tower-http layer `L` (a timeout, a body limit) so
/// that the answers `L` makes itself become OCCI error responses, in the
/// negotiated rendering, with `message`; the inner service's answers pass
/// untouched, whatever their status.
///
/// This is the one place where a foreign layer's answer gets its OCCI
/// body. It tells `L`'s own answers apart without guessing from status or
/// headers: every response of the inner service is marked on its way out
/// (a private response extension), and a response without the mark can
/// only have been made by `L`. The request body `L` hands on (tower-http's
/// `Limited`, say) and the response body it returns are boxed back into
/// [`Body`], so the result is an ordinary snf-occi service.
///
/// ```
/// use std::time::Duration;
/// use snf_occi_middleware::error_response::OcciErrorBodyLayer;
/// use tower::ServiceBuilder;
/// # use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
/// let svc = ServiceBuilder::new()
///     .layer(OcciErrorBodyLayer::timeout(Duration::from_secs(30)))
///     .layer(OcciErrorBodyLayer::body_limit(1024 * 1024))
///     .service_fn(|_req: HttpRequest| async { Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::empty())) });
/// # let _ = svc;
/// ```
#[derive(Clone, Debug)]
pub struct OcciErrorBodyLayer<L> {
    layer: L,
    message: Arc<str>,
}

impl<L> OcciErrorBodyLayer<L> {
    /// `layer`, whose own answers say `message`.
    pub fn new(layer: L, message: impl Into<Arc<str>>) -> Self {
        OcciErrorBodyLayer {
            layer,
            message: message.into(),
        }
    }
}

impl OcciErrorBodyLayer<TimeoutLayer> {
    /// `timeout`: tower-http's [`TimeoutLayer`] answering `504 Gateway
    /// Timeout` ("the request took longer than N ms") when the inner
    /// service takes longer than `duration`; the inner future is dropped,
    /// which cancels the backend call.
    pub fn timeout(duration: Duration) -> Self {
        OcciErrorBodyLayer::new(
            TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, duration),
            format!("the request took longer than {} ms", duration.as_millis()),
        )
    }
}

impl OcciErrorBodyLayer<RequestBodyLimitLayer> {
    /// `body_limit`: tower-http's [`RequestBodyLimitLayer`]. A declared
    /// `Content-Length` over `max_bytes` is answered `413 Payload Too
    /// Large` ("the request body is larger than N bytes") before the inner
    /// service runs; a longer chunked body fails while it is read (the
    /// reader answers).
    pub fn body_limit(max_bytes: usize) -> Self {
        OcciErrorBodyLayer::new(
            RequestBodyLimitLayer::new(max_bytes),
            format!("the request body is larger than {max_bytes} bytes"),
        )
    }
}

impl<L, S> Layer<S> for OcciErrorBodyLayer<L>
where
    L: Layer<Marked<S>>,
{
    type Service = OcciErrorBody<L::Service>;

    fn layer(&self, inner: S) -> Self::Service {
        OcciErrorBody {
            inner: self.layer.layer(Marked { inner }),
            message: Arc::clone(&self.message),
        }
    }
}

/// Service of [`OcciErrorBodyLayer`]: the wrapped layer's service.
#[derive(Clone, Debug)]
pub struct OcciErrorBody<S> {
    inner: S,
    message: Arc<str>,
}

/// The mark on every response of the service a wrapped layer wraps.
#[derive(Clone, Copy, Debug)]
struct FromInner;

impl<S, B> Service<HttpRequest> for OcciErrorBody<S>
where
    S: Service<HttpRequest, Response = http::Response<B>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = OcciErrorBodyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        OcciErrorBodyFuture {
            rendering: rendering_of(req.extensions()),
            message: Arc::clone(&self.message),
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// Response future of [`OcciErrorBody`].
    pub struct OcciErrorBodyFuture<F> {
        #[pin]
        inner: F,
        rendering: MediaType,
        message: Arc<str>,
    }
}

impl<F, B, E> Future for OcciErrorBodyFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = Result<HttpResponse, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = ready!(this.inner.poll(cx))?;
        if res.extensions_mut().remove::<FromInner>().is_some() {
            return Poll::Ready(Ok(res.map(Body::new)));
        }
        Poll::Ready(Ok(occi_error(res.status(), this.message, *this.rendering)))
    }
}

/// The inner service of an [`OcciErrorBodyLayer`]'s wrapped layer: marks
/// its responses, and boxes the request body the wrapped layer hands on.
#[derive(Clone, Debug)]
pub struct Marked<S> {
    inner: S,
}

fn mark<E>(res: Result<HttpResponse, E>) -> Result<HttpResponse, E> {
    res.map(|mut res| {
        res.extensions_mut().insert(FromInner);
        res
    })
}

impl<S, B> Service<http::Request<B>> for Marked<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future =
        Map<S::Future, fn(Result<HttpResponse, S::Error>) -> Result<HttpResponse, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.inner.call(req.map(Body::new)).map(mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::{ServiceExt, service_fn};

    async fn text(res: HttpResponse) -> String {
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    fn slow(
        delay: Duration,
    ) -> impl Service<HttpRequest, Response = HttpResponse, Error = Infallible, Future: Send> + Clone
    {
        service_fn(move |_req: HttpRequest| async move {
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(HttpResponse::new(Body::from("done")))
        })
    }

    /// Reads the whole body; answers 413 itself (without an OCCI body)
    /// when reading fails, as a reader that ran out of room would.
    fn reader() -> impl Service<HttpRequest, Response = HttpResponse, Error = Infallible> {
        service_fn(|req: HttpRequest| async move {
            match http_body_util::BodyExt::collect(req.into_body()).await {
                Ok(b) => Ok(HttpResponse::new(Body::from(b.to_bytes()))),
                Err(_) => {
                    let mut res = HttpResponse::new(Body::from("reader: too large"));
                    *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                    Ok(res)
                }
            }
        })
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_get_504_with_an_occi_body() {
        let svc = OcciErrorBodyLayer::timeout(Duration::from_millis(100))
            .layer(slow(Duration::from_secs(5)));
        let mut req = HttpRequest::new(Body::empty());
        req.extensions_mut().insert(Negotiated {
            response: MediaType::OcciJson,
            request: None,
        });
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(res.headers()["content-type"], "application/occi+json");
        let json: serde_json::Value = serde_json::from_str(&text(res).await).unwrap();
        assert_eq!(json["code"], 504);
        assert_eq!(json["message"], "the request took longer than 100 ms");
    }

    #[tokio::test(start_paused = true)]
    async fn fast_requests_pass() {
        let svc = OcciErrorBodyLayer::timeout(Duration::from_secs(1))
            .layer(slow(Duration::from_millis(10)));
        let res = svc.oneshot(HttpRequest::new(Body::empty())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(text(res).await, "done");
    }

    #[tokio::test]
    async fn the_inner_services_own_error_answers_pass_untouched() {
        // A 504 of the app (Synnefo timed out) keeps its own body.
        let svc = OcciErrorBodyLayer::timeout(Duration::from_secs(5)).layer(service_fn(
            |_req: HttpRequest| async {
                let mut res = HttpResponse::new(Body::from("Synnefo did not answer"));
                *res.status_mut() = StatusCode::GATEWAY_TIMEOUT;
                Ok::<_, Infallible>(res)
            },
        ));
        let res = svc.oneshot(HttpRequest::new(Body::empty())).await.unwrap();
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(
            res.extensions().get::<FromInner>().is_none(),
            "the mark stays inside"
        );
        assert_eq!(text(res).await, "Synnefo did not answer");
    }

    #[tokio::test]
    async fn declared_oversize_is_413_before_the_app() {
        let req = http::Request::builder()
            .header("content-length", "11")
            .body(Body::from("hello world"))
            .unwrap();
        let res = OcciErrorBodyLayer::body_limit(5)
            .layer(reader())
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(res.headers()["content-type"], "text/plain");
        assert_eq!(text(res).await, "the request body is larger than 5 bytes\n");
    }

    #[tokio::test]
    async fn undeclared_oversize_fails_while_reading() {
        let res = OcciErrorBodyLayer::body_limit(5)
            .layer(reader())
            .oneshot(HttpRequest::new(Body::from("hello world")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(text(res).await, "reader: too large", "the reader's answer");
    }

    #[tokio::test]
    async fn small_bodies_pass_intact() {
        let res = OcciErrorBodyLayer::body_limit(64)
            .layer(reader())
            .oneshot(HttpRequest::new(Body::from("hello")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(text(res).await, "hello");
    }
}
