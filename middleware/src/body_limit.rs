//! `body_limit`: request bodies larger than the limit get `413 Payload Too
//! Large`. A declared `Content-Length` over the limit is refused before the
//! inner service runs; a chunked body is wrapped in
//! [`http_body_util::Limited`], whose error axum's body extractors turn
//! into 413 as well.
//!
//! ```
//! use snf_occi_middleware::body_limit::BodyLimitLayer;
//! use tower::ServiceBuilder;
//! # use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
//! let svc = ServiceBuilder::new()
//!     .layer(BodyLimitLayer::new(1024 * 1024))
//!     .service_fn(|_req: HttpRequest| async { Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::empty())) });
//! # let _ = svc;
//! ```

use std::task::{Context, Poll};

use futures_util::future::{self, Either, Ready};
use http::{StatusCode, header};
use http_body_util::Limited;
use tower::{Layer, Service};

use crate::error_response::{occi_error, rendering_of};
use crate::{Body, HttpRequest, HttpResponse};

/// Layer refusing request bodies over a size.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    /// Bodies may hold at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BodyLimitLayer { limit }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        BodyLimit {
            inner,
            limit: self.limit,
        }
    }
}

/// Service of [`BodyLimitLayer`].
#[derive(Clone, Debug)]
pub struct BodyLimit<S> {
    inner: S,
    limit: usize,
}

impl<S> Service<HttpRequest> for BodyLimit<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<HttpResponse, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limit as u64) {
            let message = format!("the request body is larger than {} bytes", self.limit);
            let res = occi_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &message,
                rendering_of(req.extensions()),
            );
            return Either::Right(future::ready(Ok(res)));
        }
        let limit = self.limit;
        let req = req.map(|body| Body::new(Limited::new(body, limit)));
        Either::Left(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::{ServiceExt, service_fn};

    fn reader() -> impl Service<HttpRequest, Response = HttpResponse, Error = Infallible> {
        service_fn(|req: HttpRequest| async move {
            match http_body_util::BodyExt::collect(req.into_body()).await {
                Ok(b) => Ok(HttpResponse::new(Body::from(b.to_bytes()))),
                Err(_) => {
                    let mut res = HttpResponse::new(Body::empty());
                    *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                    Ok(res)
                }
            }
        })
    }

    #[tokio::test]
    async fn declared_oversize_is_413_before_the_app() {
        let req = http::Request::builder()
            .header("content-length", "11")
            .body(Body::from("hello world"))
            .unwrap();
        let res = BodyLimitLayer::new(5)
            .layer(reader())
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(res.headers()["content-type"], "text/plain");
    }

    #[tokio::test]
    async fn undeclared_oversize_fails_while_reading() {
        let res = BodyLimitLayer::new(5)
            .layer(reader())
            .oneshot(HttpRequest::new(Body::from("hello world")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn small_bodies_pass_intact() {
        let res = BodyLimitLayer::new(64)
            .layer(reader())
            .oneshot(HttpRequest::new(Body::from("hello")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"hello");
    }
}
