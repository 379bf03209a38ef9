//! `concurrency_limit`: at most N requests in flight; beyond that, an
//! immediate `503 Service Unavailable` with `Retry-After`, instead of an
//! unbounded queue (tower's own `ConcurrencyLimit` waits in `poll_ready`,
//! which under overload only turns into timeouts later).
//!
//! The limit is shared by every clone of the service made from one layer.
//!
//! ```
//! use std::time::Duration;
//! use snf_occi_middleware::concurrency_limit::ConcurrencyLimitLayer;
//! use tower::ServiceBuilder;
//! # use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
//! let svc = ServiceBuilder::new()
//!     .layer(ConcurrencyLimitLayer::new(64, Duration::from_secs(1)))
//!     .service_fn(|_req: HttpRequest| async { Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::empty())) });
//! # let _ = svc;
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use crate::error_response::{occi_error, rendering_of};
use crate::{HttpRequest, HttpResponse};

/// Layer shedding requests beyond a number in flight.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimitLayer {
    permits: Arc<Semaphore>,
    max: usize,
    retry_after: Duration,
}

impl ConcurrencyLimitLayer {
    /// At most `max` requests at once; refused ones are told to retry after
    /// `retry_after` (rounded up to whole seconds).
    pub fn new(max: usize, retry_after: Duration) -> Self {
        ConcurrencyLimitLayer {
            permits: Arc::new(Semaphore::new(max)),
            max,
            retry_after,
        }
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// Service of [`ConcurrencyLimitLayer`].
#[derive(Clone, Debug)]
pub struct ConcurrencyLimit<S> {
    inner: S,
    layer: ConcurrencyLimitLayer,
}

impl<S> Service<HttpRequest> for ConcurrencyLimit<S>
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
        match self.layer.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let res = fut.await;
                    drop(permit);
                    res
                })
            }
            Err(_) => {
                let message = format!(
                    "too many requests in progress (limit {}), retry later",
                    self.layer.max
                );
                let mut res = occi_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &message,
                    rendering_of(req.extensions()),
                );
                let secs = self.layer.retry_after.as_secs_f64().ceil().max(1.0) as u64;
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                Box::pin(async move { Ok(res) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use std::convert::Infallible;
    use tokio::sync::oneshot;
    use tower::{ServiceExt, service_fn};

    #[tokio::test]
    async fn sheds_beyond_the_limit_and_recovers() {
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let release = Arc::new(tokio::sync::Mutex::new(Some(release_rx)));
        let svc = ConcurrencyLimitLayer::new(1, Duration::from_millis(200)).layer(service_fn(
            move |_req: HttpRequest| {
                let release = release.clone();
                async move {
                    if let Some(rx) = release.lock().await.take() {
                        let _ = rx.await;
                    }
                    Ok::<_, Infallible>(HttpResponse::new(Body::empty()))
                }
            },
        ));
        let first = tokio::spawn(svc.clone().oneshot(HttpRequest::new(Body::empty())));
        tokio::task::yield_now().await;
        // The first request holds the only permit: the second is refused at once.
        let second = svc
            .clone()
            .oneshot(HttpRequest::new(Body::empty()))
            .await
            .unwrap();
        assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(second.headers()["retry-after"], "1");
        release_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        let third = svc.oneshot(HttpRequest::new(Body::empty())).await.unwrap();
        assert_eq!(third.status(), StatusCode::OK);
    }
}
