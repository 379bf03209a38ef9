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
    /// Every header of every request and response is looked at, and
    /// most (`host`, `content-type`, `x-request-id`, ...) are no secret:
    /// by first byte, the lengths (below 64) a secret name of that byte
    /// has, as bits...
    name_lengths: [u64; 256],
    /// ...and the shortest prefix of that byte (0: none), so that a
    /// header that cannot match is passed over without comparing names.
    prefix_min: [usize; 256],
}

impl Rules {
    fn new(names: Vec<HeaderName>, prefixes: Vec<String>) -> Self {
        let mut name_lengths = [0u64; 256];
        for name in &names {
            let name = name.as_str();
            if let Some(&b) = name.as_bytes().first() {
                // A length past 63 is looked at whatever the bits say.
                if name.len() < 64 {
                    name_lengths[usize::from(b)] |= 1 << name.len();
                }
            }
        }
        let mut prefix_min = [0usize; 256];
        for prefix in &prefixes {
            if let Some(&b) = prefix.as_bytes().first() {
                let min = &mut prefix_min[usize::from(b)];
                *min = if *min == 0 {
                    prefix.len()
                } else {
                    (*min).min(prefix.len())
                };
            }
        }
        Rules {
            names,
            prefixes,
            name_lengths,
            prefix_min,
        }
    }

    fn is_sensitive(&self, name: &HeaderName) -> bool {
        let text = name.as_str();
        let Some(&first) = text.as_bytes().first() else {
            return false;
        };
        let len = text.len();
        let may_be_name = len >= 64 || self.name_lengths[usize::from(first)] & (1 << len) != 0;
        let shortest_prefix = self.prefix_min[usize::from(first)];
        let may_have_prefix = shortest_prefix != 0 && len >= shortest_prefix;
        (may_be_name && self.names.contains(name))
            || (may_have_prefix && self.prefixes.iter().any(|p| text.starts_with(p.as_str())))
    }
}

impl Default for SensitiveHeadersLayer {
    fn default() -> Self {
        SensitiveHeadersLayer::with_extra([])
    }
}

impl SensitiveHeadersLayer {
    /// The default list plus `extra` names.
    pub fn with_extra(extra: impl IntoIterator<Item = HeaderName>) -> Self {
        let names = SENSITIVE_HEADERS
            .iter()
            .map(|n| HeaderName::from_static(n))
            .chain(extra)
            .collect();
        let prefixes = SENSITIVE_PREFIXES.iter().map(|p| p.to_string()).collect();
        SensitiveHeadersLayer {
            rules: Arc::new(Rules::new(names, prefixes)),
        }
    }

    /// Whether `name` is one this layer hides.
    pub fn is_sensitive(&self, name: &HeaderName) -> bool {
        self.rules.is_sensitive(name)
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
        // Same first byte and length as a secret name, or past a prefix's
        // length: compared, and told apart.
        assert!(!layer.is_sensitive(&HeaderName::from_static("x-request-id")));
        assert!(layer.is_sensitive(&HeaderName::from_static("ssl-client-certificate-id")));
        assert!(!layer.is_sensitive(&HeaderName::from_static("ssl-client-ce")));
        assert!(!layer.is_sensitive(&HeaderName::from_static("x-ssl-client-cer")));
        let long =
            HeaderName::from_bytes(format!("my-site-key{}", "x".repeat(60)).as_bytes()).unwrap();
        let with_long = SensitiveHeadersLayer::with_extra([long.clone()]);
        assert!(with_long.is_sensitive(&long));
        assert!(!with_long.is_sensitive(&HeaderName::from_static("my-site-key")));
    }

    proptest::proptest! {
        /// The length and first-byte screening never changes the answer
        /// of the plain rule: a listed name, or a listed prefix.
        #[test]
        fn the_screening_is_the_plain_rule(
            name in "(x-|ssl[-_]|auth|set-|my-)?[a-z_-]{0,28}",
        ) {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                return Ok(());
            };
            let layer = SensitiveHeadersLayer::with_extra([HeaderName::from_static("my-site-key")]);
            let plain = layer.rules.names.contains(&name)
                || layer.rules.prefixes.iter().any(|p| name.as_str().starts_with(p.as_str()));
            proptest::prop_assert_eq!(layer.is_sensitive(&name), plain);
        }
    }
}
