//! `occi_negotiate`: content negotiation for OCCI renderings.
//!
//! - The response rendering comes from `Accept` (q-values and wildcards
//!   honoured; none or `*/*` gives `text/plain`); nothing acceptable is a
//!   406 listing the supported types.
//! - The request syntax comes from `Content-Type`; a comma list
//!   (`text/plain,text/occi`, what rOCCI-cli sends) means its first
//!   supported entry; an unsupported one is a 415 (406 with
//!   `occi_1_1_errors = true`, what OCCI 1.1 peers answered).
//! - A `User-Agent` announcing `OCCI/x.y` above 1.2 is a 501.
//! - The choice goes into the [`Negotiated`] extension; every response
//!   gets `Server: snf-occi/<version> OCCI/1.2` and an `Accept` header
//!   listing the supported request types.
//!
//! `text/uri-list` is recorded like any other choice: it is only valid for
//! listings, so the app answers 400 when it is asked for anything else.
//!
//! ```
//! use snf_occi_middleware::negotiate::{NegotiateConfig, NegotiateLayer};
//! use snf_occi_middleware::{Body, HttpRequest, HttpResponse, Negotiated};
//! use snf_occi_types::MediaType;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! # tokio_test_block(async {
//! let svc = ServiceBuilder::new()
//!     .layer(NegotiateLayer::new(NegotiateConfig::default()))
//!     .service(service_fn(|req: HttpRequest| async move {
//!         let n = req.extensions().get::<Negotiated>().copied().unwrap_or_default();
//!         Ok::<_, std::convert::Infallible>(HttpResponse::new(Body::from(n.response.as_str())))
//!     }));
//! let req = http::Request::builder().header("accept", "text/occi").body(Body::empty()).unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), 200);
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use tower::{Layer, Service};

use crate::error_response::occi_error;
use crate::{HttpRequest, HttpResponse, Negotiated};
use snf_occi_types::MediaType;

/// Request types listed in the response `Accept` header.
const ACCEPTED_REQUEST_TYPES: &str =
    "text/plain, text/occi, application/occi+json, application/json";

/// The configuration of `occi_negotiate` (the `[filter.X]` table).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegotiateConfig {
    /// Answer an unsupported request Content-Type with 406 (what OCCI 1.1
    /// servers did) instead of 415.
    #[serde(default)]
    pub occi_1_1_errors: bool,
}

/// The layer: negotiates OCCI media types (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct NegotiateLayer {
    config: NegotiateConfig,
}

impl NegotiateLayer {
    /// A layer with this configuration.
    pub fn new(config: NegotiateConfig) -> Self {
        NegotiateLayer { config }
    }
}

impl<S> Layer<S> for NegotiateLayer {
    type Service = Negotiate<S>;
    fn layer(&self, inner: S) -> Negotiate<S> {
        Negotiate {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service of [`NegotiateLayer`].
#[derive(Clone, Debug)]
pub struct Negotiate<S> {
    inner: S,
    config: NegotiateConfig,
}

/// Why a request cannot be served in any OCCI rendering.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateError {
    /// Nothing in `Accept` is supported (406).
    #[error(
        "none of the accepted media types is supported; supported: text/plain, text/occi, text/uri-list, application/occi+json, application/json"
    )]
    NotAcceptable,
    /// The request `Content-Type` is not an OCCI syntax (415, or 406).
    #[error("unsupported request Content-Type {0}; supported: {ACCEPTED_REQUEST_TYPES}")]
    UnsupportedContentType(String),
    /// The client speaks a newer OCCI (501).
    #[error("OCCI/{0} is not supported; this server speaks OCCI/1.1 and OCCI/1.2")]
    VersionNotSupported(String),
}

fn media_of(essence: &str) -> Option<MediaType> {
    let e = essence.trim();
    let e = e.split(';').next().unwrap_or("").trim();
    if e.eq_ignore_ascii_case("text/plain") || e.eq_ignore_ascii_case("text/occi+plain") {
        Some(MediaType::TextPlain)
    } else if e.eq_ignore_ascii_case("text/occi") {
        Some(MediaType::TextOcci)
    } else if e.eq_ignore_ascii_case("text/uri-list") {
        Some(MediaType::UriList)
    } else if e.eq_ignore_ascii_case("application/occi+json") {
        Some(MediaType::OcciJson)
    } else if e.eq_ignore_ascii_case("application/json") {
        Some(MediaType::Json)
    } else {
        None
    }
}

/// Picks the response rendering from an `Accept` value.
///
/// ```
/// use snf_occi_middleware::negotiate::choose_response;
/// use snf_occi_types::MediaType;
/// assert_eq!(choose_response(None), Ok(MediaType::TextPlain));
/// assert_eq!(choose_response(Some("text/occi;q=0.2, text/plain")), Ok(MediaType::TextPlain));
/// assert_eq!(choose_response(Some("application/*")), Ok(MediaType::OcciJson));
/// assert!(choose_response(Some("image/png")).is_err());
/// ```
pub fn choose_response(accept: Option<&str>) -> Result<MediaType, NegotiateError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(MediaType::TextPlain);
    };
    // (q, specificity, server preference, type): the best q wins, then the
    // most specific range, then our preference order.
    let mut best: Option<(u32, u8, usize, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1000u32;
        for p in parts {
            if let Some((k, v)) = p.split_once('=')
                && k.trim().eq_ignore_ascii_case("q")
            {
                q = parse_q(v.trim()).unwrap_or(0);
            }
        }
        if q == 0 || essence.is_empty() {
            continue;
        }
        for (pref, m) in MediaType::ALL.iter().enumerate() {
            let spec = match essence.as_str() {
                "*/*" => 0,
                e if e.ends_with("/*") && m.as_str().starts_with(&e[..e.len() - 1]) => 1,
                _ if media_of(&essence) == Some(*m) => 2,
                _ => continue,
            };
            // text/uri-list and application/json are never picked by a
            // wildcard: they are explicit choices.
            if spec < 2 && matches!(m, MediaType::UriList | MediaType::Json) {
                continue;
            }
            let cand = (q, spec, pref, *m);
            best = match best {
                Some(b) if (b.0, b.1) > (q, spec) || ((b.0, b.1) == (q, spec) && b.2 <= pref) => {
                    Some(b)
                }
                _ => Some(cand),
            };
        }
    }
    best.map(|b| b.3).ok_or(NegotiateError::NotAcceptable)
}

fn parse_q(v: &str) -> Option<u32> {
    let f: f32 = v.parse().ok()?;
    if !(0.0..=1.0).contains(&f) {
        return None;
    }
    Some((f * 1000.0).round() as u32)
}

/// Picks the request syntax from a `Content-Type` value: the first
/// supported entry of a comma list; `Ok(None)` when absent.
pub fn choose_request(content_type: Option<&str>) -> Result<Option<MediaType>, NegotiateError> {
    let Some(ct) = content_type.filter(|c| !c.trim().is_empty()) else {
        return Ok(None);
    };
    ct.split(',')
        .find_map(media_of)
        .map(Some)
        .ok_or_else(|| NegotiateError::UnsupportedContentType(ct.chars().take(100).collect()))
}

/// The OCCI version a `User-Agent` announces above 1.2, if any.
pub fn too_new_version(user_agent: &str) -> Option<String> {
    let mut rest = user_agent;
    while let Some(at) = rest.find("OCCI/") {
        let v = &rest[at + 5..];
        let end = v
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(v.len());
        let ver = &v[..end];
        let mut nums = ver.split('.').map(|n| n.parse::<u32>().ok());
        if let (Some(Some(major)), Some(Some(minor))) = (nums.next(), nums.next())
            && (major, minor) > (1, 2)
        {
            return Some(ver.to_owned());
        }
        rest = v;
    }
    None
}

fn finish(mut res: HttpResponse) -> HttpResponse {
    let h = res.headers_mut();
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static(ACCEPTED_REQUEST_TYPES),
    );
    res
}

impl<S> Service<HttpRequest> for Negotiate<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        let text = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let accept = text(header::ACCEPT);
        let content_type = text(header::CONTENT_TYPE);
        let user_agent = text(header::USER_AGENT);
        // Errors before a rendering is known are rendered in the best
        // rendering we can tell, else text/plain.
        let response = choose_response(accept.as_deref());
        let rendering = response.clone().unwrap_or(MediaType::TextPlain);
        let rendering = if rendering == MediaType::UriList {
            MediaType::TextPlain
        } else {
            rendering
        };
        let fail = |status: StatusCode, e: NegotiateError| -> Self::Future {
            let res = finish(occi_error(status, &e.to_string(), rendering));
            Box::pin(async move { Ok(res) })
        };
        if let Some(v) = user_agent.as_deref().and_then(too_new_version) {
            return fail(
                StatusCode::NOT_IMPLEMENTED,
                NegotiateError::VersionNotSupported(v),
            );
        }
        let response = match response {
            Ok(m) => m,
            Err(e) => return fail(StatusCode::NOT_ACCEPTABLE, e),
        };
        let request = match choose_request(content_type.as_deref()) {
            Ok(m) => m,
            Err(e) => {
                let status = if self.config.occi_1_1_errors {
                    StatusCode::NOT_ACCEPTABLE
                } else {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                };
                return fail(status, e);
            }
        };
        req.extensions_mut()
            .insert(Negotiated { response, request });
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            Ok(finish(res))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use tower::{ServiceExt, service_fn};

    fn svc(
        config: NegotiateConfig,
    ) -> Negotiate<
        impl Service<HttpRequest, Response = HttpResponse, Error = Infallible, Future: Send> + Clone,
    > {
        NegotiateLayer::new(config).layer(service_fn(|req: HttpRequest| async move {
            let n = req.extensions().get::<Negotiated>().copied();
            let body = match n {
                Some(n) => format!(
                    "{}|{}",
                    n.response,
                    n.request.map(|m| m.as_str()).unwrap_or("-")
                ),
                None => "none".into(),
            };
            Ok::<_, Infallible>(HttpResponse::new(Body::from(body)))
        }))
    }

    async fn call(
        headers: &[(&str, &str)],
        config: NegotiateConfig,
    ) -> (StatusCode, http::HeaderMap, String) {
        let mut b = http::Request::builder();
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let res = svc(config)
            .oneshot(b.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = res.into_parts();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn default_is_text_plain_and_headers_are_set() {
        let (status, headers, body) = call(&[], NegotiateConfig::default()).await;
        assert_eq!(status, 200);
        assert_eq!(body, "text/plain|-");
        assert!(
            !headers.contains_key(header::SERVER),
            "the edge sets Server"
        );
        assert!(
            headers[header::ACCEPT]
                .to_str()
                .unwrap()
                .contains("application/occi+json")
        );
        let (_, _, body) = call(&[("accept", "*/*")], NegotiateConfig::default()).await;
        assert_eq!(body, "text/plain|-");
    }

    #[tokio::test]
    async fn q_values_and_wildcards() {
        let (_, _, b) = call(
            &[("accept", "text/plain;q=0.5, text/occi")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(b, "text/occi|-");
        let (_, _, b) = call(
            &[("accept", "text/plain,text/occi;q=0.2")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(b, "text/plain|-");
        let (_, _, b) = call(
            &[("accept", "application/*, text/plain;q=0.1")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(b, "application/occi+json|-");
        let (_, _, b) = call(&[("accept", "text/uri-list")], NegotiateConfig::default()).await;
        assert_eq!(b, "text/uri-list|-");
        let (_, _, b) = call(
            &[("accept", "text/plain;q=0, text/occi;q=0.3")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(b, "text/occi|-");
    }

    #[tokio::test]
    async fn not_acceptable_lists_supported_types() {
        let (status, headers, body) =
            call(&[("accept", "image/png")], NegotiateConfig::default()).await;
        assert_eq!(status, 406);
        assert!(
            body.contains("text/plain") && body.contains("application/occi+json"),
            "{body}"
        );
        assert!(
            !headers.contains_key(header::SERVER),
            "the edge sets Server"
        );
    }

    #[tokio::test]
    async fn content_type_comma_list_and_415() {
        let (_, _, b) = call(
            &[("content-type", "text/plain,text/occi")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(b, "text/plain|text/plain");
        let (_, _, b) = call(
            &[("content-type", "application/occi+json; charset=utf-8")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(b, "text/plain|application/occi+json");
        let (status, _, body) = call(
            &[("content-type", "application/xml")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(status, 415);
        assert!(body.contains("application/xml"));
        let (status, _, _) = call(
            &[("content-type", "application/xml")],
            NegotiateConfig {
                occi_1_1_errors: true,
            },
        )
        .await;
        assert_eq!(status, 406);
    }

    #[tokio::test]
    async fn newer_occi_user_agent_is_501() {
        let (status, headers, body) = call(
            &[("user-agent", "client/1.0 OCCI/1.3")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(status, 501);
        assert!(body.contains("OCCI/1.3"));
        assert!(
            !headers.contains_key(header::SERVER),
            "the edge sets Server"
        );
        let (status, _, _) = call(
            &[("user-agent", "rOCCI-core/4.3 rOCCI-api/4.3 OCCI/1.1 ruby")],
            NegotiateConfig::default(),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _, _) =
            call(&[("user-agent", "x OCCI/2.0")], NegotiateConfig::default()).await;
        assert_eq!(status, 501);
    }

    #[test]
    fn config_rejects_unknown_fields() {
        let e = serde_json::from_str::<NegotiateConfig>(r#"{"bogus": 1}"#);
        assert!(e.is_err());
        let ok: NegotiateConfig = serde_json::from_str(r#"{"occi_1_1_errors": true}"#).unwrap();
        assert!(ok.occi_1_1_errors);
    }

    mod never_panics {
        use super::super::{choose_request, choose_response, too_new_version};
        use proptest::prelude::*;
        use snf_occi_types::MediaType;

        proptest! {
            #[test]
            fn on_any_header_text(accept in ".{0,200}", content_type in ".{0,200}", agent in ".{0,100}") {
                if let Ok(media) = choose_response(Some(&accept)) {
                    prop_assert!(MediaType::ALL.contains(&media));
                }
                if let Ok(Some(media)) = choose_request(Some(&content_type)) {
                    prop_assert!(MediaType::ALL.contains(&media));
                }
                let _ = too_new_version(&agent);
            }

            #[test]
            fn on_media_range_like_text(
                accept in "([a-z*+/.-]{0,20}(;[ ]?[a-z]{1,5}=[0-9.a-z\"]{0,6}){0,3},? ?){0,6}",
            ) {
                if let Ok(media) = choose_response(Some(&accept)) {
                    prop_assert!(MediaType::ALL.contains(&media));
                }
                let _ = choose_request(Some(&accept));
            }
        }
    }
}
