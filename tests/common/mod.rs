//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use snf_occi::config::Config;
use snf_occi::middleware::{Body, BoxHttp, HttpResponse};
use snf_occi::pipeline::{BuildContext, BuildErrors, Registry};

/// The body of a response as text.
pub async fn body_text(res: HttpResponse) -> String {
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Builds the whole service of a TOML configuration with the built-ins.
pub async fn build(toml: &str) -> Result<BoxHttp, BuildErrors> {
    build_with(Registry::with_builtins(), toml).await
}

/// Builds the whole service of a TOML configuration with `registry`.
pub async fn build_with(registry: Registry, toml: &str) -> Result<BoxHttp, BuildErrors> {
    let config = Config::from_toml_str(toml).unwrap_or_else(|e| panic!("config rejected: {e}"));
    let ctx = BuildContext::new(Arc::new(config)).expect("context");
    registry.build_service(&ctx).await
}

/// A GET request.
pub fn get(uri: &str) -> http::Request<Body> {
    http::Request::get(uri)
        .body(Body::empty())
        .expect("request")
}
