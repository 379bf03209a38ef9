//! [`Upstream`]: the HTTP client the auth filters call identity services
//! through (astavoms, an OIDC provider's JWKS and token exchange, Astakos
//! for [`AstakosTokens`](super::AstakosTokens)).
//!
//! The layer crate brings no HTTP stack of its own to a gateway: the
//! pipeline that builds the filters hands them its own client (snf-occi
//! hands them the one transport its Synnefo calls use, so there is one
//! connection pool, one TLS configuration, one `ca_file`). An embedder
//! without one can use a `reqwest::Client` (the `reqwest` feature, on by
//! default), or any closure of the right shape.
//!
//! ```
//! use std::time::Duration;
//! use snf_occi_middleware::auth::{Upstream, UpstreamError};
//!
//! // A stand-in that answers every call 503 (tests use such fakes).
//! type Answer = Result<http::Response<bytes::Bytes>, UpstreamError>;
//! let down = |_request: http::Request<bytes::Bytes>, _timeout: Duration| {
//!     Box::pin(async { Err(UpstreamError::Unreachable) })
//!         as futures_util::future::BoxFuture<'static, Answer>
//! };
//! let _client: std::sync::Arc<dyn Upstream> = std::sync::Arc::new(down);
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::BoxFuture;

/// Why an identity service gave no answer. Deliberately without detail:
/// what went wrong on the wire is the pipeline's to log, and the filters
/// answer every case the same way (503, the client may retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// No connection, or it broke before a whole answer came.
    #[error("unreachable")]
    Unreachable,
    /// No whole answer within the timeout.
    #[error("timed out")]
    Timeout,
    /// The answer was larger than an identity service's answer may be.
    #[error("answer too large")]
    TooLarge,
}

/// One HTTP exchange with an identity service: the request (absolute
/// URI, headers, body) out, the whole answer in, within `timeout`.
/// Implementations follow no redirects and add no credentials.
pub trait Upstream: Send + Sync + 'static {
    /// Sends `request` and reads the whole answer within `timeout`.
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, UpstreamError>>;
}

/// A closure of the same shape is an [`Upstream`] (fakes in tests, a
/// client the embedder already has).
impl<F> Upstream for F
where
    F: Fn(
            http::Request<Bytes>,
            Duration,
        ) -> BoxFuture<'static, Result<http::Response<Bytes>, UpstreamError>>
        + Send
        + Sync
        + 'static,
{
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, UpstreamError>> {
        self(request, timeout)
    }
}

/// The shared handle the filters keep.
pub type SharedUpstream = Arc<dyn Upstream>;

#[cfg(feature = "reqwest")]
impl Upstream for reqwest::Client {
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, UpstreamError>> {
        let client = self.clone();
        Box::pin(async move {
            let request = reqwest::Request::try_from(request.map(reqwest::Body::from))
                .map_err(|_| UpstreamError::Unreachable)?;
            let exchange = async {
                let answer = client
                    .execute(request)
                    .await
                    .map_err(|_| UpstreamError::Unreachable)?;
                let mut head = http::Response::new(());
                *head.status_mut() = answer.status();
                *head.headers_mut() = answer.headers().clone();
                let body = answer
                    .bytes()
                    .await
                    .map_err(|_| UpstreamError::Unreachable)?;
                Ok(head.map(|()| body))
            };
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or(Err(UpstreamError::Timeout))
        })
    }
}

/// A JSON `POST` (or a body-less one when `body` is `None`) accepting
/// JSON, with `headers` added.
pub(crate) fn post_json(
    url: &str,
    body: Option<&serde_json::Value>,
    headers: impl IntoIterator<Item = (http::HeaderName, http::HeaderValue)>,
) -> Result<http::Request<Bytes>, UpstreamError> {
    let mut builder = http::Request::post(url).header(http::header::ACCEPT, "application/json");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let body = match body {
        Some(json) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            Bytes::from(json.to_string())
        }
        None => {
            // Some front ends refuse a POST without a length (411).
            builder = builder.header(http::header::CONTENT_LENGTH, "0");
            Bytes::new()
        }
    };
    // A URL from the configuration was parsed when the filter was built.
    builder.body(body).map_err(|_| UpstreamError::Unreachable)
}

/// A `GET` accepting JSON.
pub(crate) fn get_json(url: &str) -> Result<http::Request<Bytes>, UpstreamError> {
    http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::new())
        .map_err(|_| UpstreamError::Unreachable)
}

/// Sends `request` and counts the call like the Synnefo client counts its
/// own (`service`, the fixed `operation`, the status or `error`).
pub(crate) async fn call(
    upstream: &dyn Upstream,
    service: &'static str,
    operation: &'static str,
    request: http::Request<Bytes>,
    timeout: Duration,
) -> Result<http::Response<Bytes>, UpstreamError> {
    let started = Instant::now();
    let answer = upstream.send(request, timeout).await;
    snf_occi_types::metrics::record_synnefo_call(
        service,
        || operation.to_string(),
        answer.as_ref().ok().map(|r| r.status().as_u16()),
        started.elapsed(),
    );
    answer
}

/// An [`Upstream`] that never reaches anything: for tests of what is
/// decided before any call.
#[cfg(test)]
pub(crate) fn unreachable() -> impl Upstream {
    |_: http::Request<Bytes>,
     _: Duration|
     -> BoxFuture<'static, Result<http::Response<Bytes>, UpstreamError>> {
        Box::pin(async { Err(UpstreamError::Unreachable) })
    }
}
