//! `timeout`: a request that takes longer than the configured time is
//! answered `504 Gateway Timeout` with an OCCI error body (in the
//! negotiated rendering when `occi_negotiate` ran first), not an error, so
//! the service keeps `Error = Infallible`. The inner future is dropped,
//! which cancels the backend call.
//!
//! ```
//! use std::time::Duration;
//! use snf_occi_middleware::timeout::TimeoutLayer;
//! use tower::ServiceBuilder;
//! # use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(30)))
//!     .service_fn(|_req: HttpRequest| async { Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::empty())) });
//! # let _ = svc;
//! ```

use std::task::{Context, Poll};
use std::time::Duration;

use http::StatusCode;
use tower::{Layer, Service};

use crate::error_response::{occi_error, rendering_of};
use crate::{HttpRequest, HttpResponse};

/// Layer answering 504 when the inner service is too slow.
#[derive(Clone, Copy, Debug)]
pub struct TimeoutLayer {
    duration: Duration,
}

impl TimeoutLayer {
    /// Requests may take at most `duration`.
    pub fn new(duration: Duration) -> Self {
        TimeoutLayer { duration }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            duration: self.duration,
        }
    }
}

/// Service of [`TimeoutLayer`].
#[derive(Clone, Debug)]
pub struct Timeout<S> {
    inner: S,
    duration: Duration,
}

impl<S> Service<HttpRequest> for Timeout<S>
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
        let rendering = rendering_of(req.extensions());
        let duration = self.duration;
        let fut = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(duration, fut).await {
                Ok(res) => res,
                Err(_) => Ok(occi_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    &format!("the request took longer than {} ms", duration.as_millis()),
                    rendering,
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Body, Negotiated};
    use snf_occi_types::MediaType;
    use std::convert::Infallible;
    use tower::{ServiceExt, service_fn};

    fn slow(
        delay: Duration,
    ) -> impl Service<HttpRequest, Response = HttpResponse, Error = Infallible, Future: Send> + Clone
    {
        service_fn(move |_req: HttpRequest| async move {
            tokio::time::sleep(delay).await;
            Ok::<_, Infallible>(HttpResponse::new(Body::from("done")))
        })
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_get_504_with_an_occi_body() {
        let svc = TimeoutLayer::new(Duration::from_millis(100)).layer(slow(Duration::from_secs(5)));
        let mut req = HttpRequest::new(Body::empty());
        req.extensions_mut().insert(Negotiated {
            response: MediaType::OcciJson,
            request: None,
        });
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(res.headers()["content-type"], "application/occi+json");
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], 504);
    }

    #[tokio::test(start_paused = true)]
    async fn fast_requests_pass() {
        let svc = TimeoutLayer::new(Duration::from_secs(1)).layer(slow(Duration::from_millis(10)));
        let res = svc.oneshot(HttpRequest::new(Body::empty())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}
