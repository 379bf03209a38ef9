//! Marks the headers that carry secrets as sensitive, so that no layer
//! (tracing, request logs, debug prints of a `HeaderMap`) shows them.
//!
//! Covers Keystone tokens (`X-Auth-Token`, the seed's `Auth-Token`),
//! `Authorization`, `Cookie`/`Set-Cookie`, and the client-certificate
//! headers a TLS front end forwards (`SSL_CLIENT_CERT`,
//! `SSL_CLIENT_CERT_CHAIN_0`.., `SSL-Client-Cert`...), matched by prefix
//! because the chain headers are numbered.
//!
//! Why our own layer and not tower-http's `SetSensitiveHeadersLayer`:
//! tower-http marks an exact list of names, one map lookup per listed
//! name. The forwarded chain headers are numbered without bound and come
//! in two spellings (`SSL_CLIENT_CERT_CHAIN_0`, `SSL-Client-Cert-Chain-1`,
//! ...), so no finite list covers them; a prefix does. The same
//! predicate, [`SensitiveHeadersLayer::is_sensitive`], is what
//! `request_log` uses to redact a header it is told to log, so the two
//! cannot disagree.
//!
//! ```
//! use snf_occi_middleware::sensitive_headers::SensitiveHeadersLayer;
//! use snf_occi_middleware::{Body, HttpRequest, HttpResponse};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! let svc = ServiceBuilder::new().layer(SensitiveHeadersLayer::default()).service_fn(|req: HttpRequest| async move {
//!     assert!(req.headers()["x-auth-token"].is_sensitive());
//!     Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::empty()))
//! });
//! # let _ = svc;
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderName};
use tower::{Layer, Service};

use crate::{HttpRequest, HttpResponse};

/// Header names that are always sensitive.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "x-auth-token",
    "auth-token",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-subject-token",
];
/// Header name prefixes that are always sensitive (forwarded certificates).
pub const SENSITIVE_PREFIXES: &[&str] = &[
    "ssl_client_cert",
    "ssl-client-cert",
    "x-ssl-client-cert",
    "x-forwarded-client-cert",
];

/// Layer marking secret-carrying request and response headers sensitive.
#[derive(Clone, Debug)]
pub struct SensitiveHeadersLayer {
    rules: Arc<Rules>,
}

/// What [`SensitiveHeadersLayer`] hides.
#[derive(Debug)]
struct Rules {
    names: Vec<HeaderName>,
    prefixes: Vec<String>,
    /// The first bytes of `names` and `prefixes`: every request header
    /// is looked at, and most (`host`, `accept`, `user-agent`, ...)
    /// start with a byte no secret-carrying name starts with.
    first_bytes: [bool; 256],
}

impl Rules {
    fn new(names: Vec<HeaderName>, prefixes: Vec<String>) -> Self {
        let mut first_bytes = [false; 256];
        let firsts = names
            .iter()
            .map(|n| n.as_str())
            .chain(prefixes.iter().map(String::as_str))
            .filter_map(|s| s.bytes().next());
        for b in firsts {
            first_bytes[usize::from(b)] = true;
        }
        Rules {
            names,
            prefixes,
            first_bytes,
        }
    }
}

impl Default for SensitiveHeadersLayer {
    fn default() -> Self {
        SensitiveHeadersLayer {
            rules: Arc::new(Rules::new(
                SENSITIVE_HEADERS
                    .iter()
                    .map(|n| HeaderName::from_static(n))
                    .collect(),
                SENSITIVE_PREFIXES.iter().map(|p| p.to_string()).collect(),
            )),
        }
    }
}

impl SensitiveHeadersLayer {
    /// The default list plus `extra` names.
    pub fn with_extra(extra: impl IntoIterator<Item = HeaderName>) -> Self {
        let mut names: Vec<HeaderName> = SENSITIVE_HEADERS
            .iter()
            .map(|n| HeaderName::from_static(n))
            .collect();
        names.extend(extra);
        let prefixes = SENSITIVE_PREFIXES.iter().map(|p| p.to_string()).collect();
        SensitiveHeadersLayer {
            rules: Arc::new(Rules::new(names, prefixes)),
        }
    }

    /// Whether `name` is one this layer hides.
    pub fn is_sensitive(&self, name: &HeaderName) -> bool {
        let rules = &*self.rules;
        let first = name.as_str().as_bytes().first().copied().unwrap_or(0);
        rules.first_bytes[usize::from(first)]
            && (rules.names.contains(name)
                || rules
                    .prefixes
                    .iter()
                    .any(|p| name.as_str().starts_with(p.as_str())))
    }

    fn mark(&self, headers: &mut HeaderMap) {
        for (name, value) in headers.iter_mut() {
            if self.is_sensitive(name) {
                value.set_sensitive(true);
            }
        }
    }
}

impl<S> Layer<S> for SensitiveHeadersLayer {
    type Service = SensitiveHeaders<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SensitiveHeaders {
            inner,
            layer: self.clone(),
        }
    }
}

/// Service of [`SensitiveHeadersLayer`].
#[derive(Clone, Debug)]
pub struct SensitiveHeaders<S> {
    inner: S,
    layer: SensitiveHeadersLayer,
}

impl<S> Service<HttpRequest> for SensitiveHeaders<S>
where
    S: Service<HttpRequest, Response = HttpResponse>,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = MarkResponse<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        self.layer.mark(req.headers_mut());
        MarkResponse {
            inner: self.inner.call(req),
            layer: self.layer.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`SensitiveHeaders`]: marks the response's
    /// headers too (`Set-Cookie`, a token an app echoes).
    pub struct MarkResponse<F> {
        #[pin]
        inner: F,
        layer: SensitiveHeadersLayer,
    }
}

impl<F, E> Future for MarkResponse<F>
where
    F: Future<Output = Result<HttpResponse, E>>,
{
    type Output = Result<HttpResponse, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        this.layer.mark(res.headers_mut());
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use std::convert::Infallible;
    use tower::{ServiceExt, service_fn};

    #[tokio::test]
    async fn marks_tokens_and_forwarded_certificates_only() {
        let svc =
            SensitiveHeadersLayer::default().layer(service_fn(|req: HttpRequest| async move {
                let marked: Vec<String> = req
                    .headers()
                    .iter()
                    .filter(|(_, v)| v.is_sensitive())
                    .map(|(n, _)| n.to_string())
                    .collect();
                assert!(!req.headers()["accept"].is_sensitive());
                let mut res = HttpResponse::new(Body::from(marked.join(",")));
                res.headers_mut()
                    .insert("set-cookie", "a=b".parse().unwrap());
                Ok::<_, Infallible>(res)
            }));
        let req = http::Request::builder()
            .header("x-auth-token", "s3cret")
            .header("Auth-Token", "s3cret")
            .header("authorization", "Bearer x")
            .header("SSL_CLIENT_CERT_CHAIN_3", "pem")
            .header("accept", "text/plain")
            .body(Body::empty())
            .unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert!(res.headers()["set-cookie"].is_sensitive());
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        for name in [
            "x-auth-token",
            "auth-token",
            "authorization",
            "ssl_client_cert_chain_3",
        ] {
            assert!(body.contains(name), "{name} not marked: {body}");
        }
        assert!(!body.contains("accept"));
    }

    #[test]
    fn extra_names_are_sensitive_whatever_they_start_with() {
        let layer = SensitiveHeadersLayer::with_extra([HeaderName::from_static("my-site-key")]);
        assert!(layer.is_sensitive(&HeaderName::from_static("my-site-key")));
        assert!(!layer.is_sensitive(&HeaderName::from_static("my-site")));
        assert!(layer.is_sensitive(&HeaderName::from_static("x-auth-token")));
        assert!(layer.is_sensitive(&HeaderName::from_static("ssl-client-cert-chain-12")));
        assert!(
            !SensitiveHeadersLayer::default().is_sensitive(&HeaderName::from_static("my-site-key"))
        );
        assert!(!layer.is_sensitive(&http::header::HOST));
    }
}
