//! [`UrlMap`]: paste's `composite:urlmap`. Apps are mounted at path
//! prefixes; the longest matching prefix wins. A mount other than `/` sees
//! the path with its prefix removed (like axum's `nest_service`), so an
//! app does not need to know where it is mounted. Nothing mounted: 404 with
//! an OCCI error body.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use http::{StatusCode, Uri};
use tower::{Service, ServiceExt};

use crate::middleware::error_response::{occi_error, rendering_of};
use crate::middleware::{BoxHttp, HttpRequest, HttpResponse};

/// Apps by path prefix.
#[derive(Clone)]
pub struct UrlMap {
    mounts: Arc<Vec<(String, BoxHttp)>>,
}

impl std::fmt::Debug for UrlMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UrlMap")
            .field(
                &self
                    .mounts
                    .iter()
                    .map(|(p, _)| p.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl UrlMap {
    /// Mounts each service at its prefix (`/`, `/healthz`, `/api/`).
    pub fn new(mounts: impl IntoIterator<Item = (String, BoxHttp)>) -> Self {
        let mut mounts: Vec<(String, BoxHttp)> = mounts
            .into_iter()
            .map(|(prefix, svc)| {
                let trimmed = prefix.trim_end_matches('/');
                (
                    if trimmed.is_empty() {
                        "/".to_string()
                    } else {
                        trimmed.to_string()
                    },
                    svc,
                )
            })
            .collect();
        mounts.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
        UrlMap {
            mounts: Arc::new(mounts),
        }
    }

    /// The mount for `path` and the path the app sees.
    fn route(&self, path: &str) -> Option<(&BoxHttp, Option<String>)> {
        self.mounts.iter().find_map(|(prefix, svc)| {
            if prefix == "/" {
                return Some((svc, None));
            }
            let rest = path.strip_prefix(prefix.as_str())?;
            if rest.is_empty() {
                Some((svc, Some("/".to_string())))
            } else if rest.starts_with('/') {
                Some((svc, Some(rest.to_string())))
            } else {
                None
            }
        })
    }
}

fn with_path(uri: &Uri, path: &str) -> Option<Uri> {
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

impl Service<HttpRequest> for UrlMap {
    type Response = HttpResponse;
    type Error = Infallible;
    /// The mount's own future, not boxed again (it is one already).
    type Future =
        Either<Ready<Result<HttpResponse, Infallible>>, tower::util::Oneshot<BoxHttp, HttpRequest>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each mount is driven to readiness in `call` (by `oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        let Some((svc, stripped)) = self.route(req.uri().path()) else {
            let message = format!("nothing is mounted at {}", req.uri().path().escape_debug());
            let res = occi_error(
                StatusCode::NOT_FOUND,
                &message,
                rendering_of(req.extensions()),
            );
            return Either::Left(ready(Ok(res)));
        };
        if let Some(path) = stripped
            && let Some(uri) = with_path(req.uri(), &path)
        {
            *req.uri_mut() = uri;
        }
        Either::Right(svc.clone().oneshot(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::{Body, HttpRequest};
    use tower::service_fn;

    fn named(name: &'static str) -> BoxHttp {
        BoxHttp::new(service_fn(move |req: HttpRequest| async move {
            Ok::<_, Infallible>(HttpResponse::new(Body::from(format!(
                "{name} {}",
                req.uri()
            ))))
        }))
    }

    async fn get(map: &UrlMap, uri: &str) -> (StatusCode, String) {
        let res = map
            .clone()
            .oneshot(http::Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn longest_prefix_wins_and_is_stripped() {
        let map = UrlMap::new([
            ("/".into(), named("occi")),
            ("/healthz".into(), named("health")),
            ("/api/".into(), named("api")),
        ]);
        assert_eq!(get(&map, "/compute/1?x=1").await.1, "occi /compute/1?x=1");
        assert_eq!(get(&map, "/healthz").await.1, "health /");
        assert_eq!(get(&map, "/api/v1?q").await.1, "api /v1?q");
        // A prefix matches whole segments only.
        assert_eq!(get(&map, "/healthzzz").await.1, "occi /healthzzz");
    }

    #[tokio::test]
    async fn unmounted_paths_are_404() {
        let map = UrlMap::new([("/healthz".into(), named("health"))]);
        let (status, body) = get(&map, "/compute/").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("nothing is mounted at /compute/"), "{body}");
    }
}
