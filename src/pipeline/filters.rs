//! Factories of the built-in generic filters. Each deserializes its own
//! typed table (`deny_unknown_fields`, defaults for every key) and returns
//! the boxed layer from `snf-occi-middleware`, or tower-http's (CORS; the
//! timeout and the body limit, whose own answers get their OCCI body from
//! `OcciErrorBodyLayer`).

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::registry::FactoryTable;
use super::{BuildContext, BuildError, boxed};
use crate::middleware::BoxHttpLayer;
use crate::middleware::concurrency_limit::ConcurrencyLimitLayer;
use crate::middleware::error_response::OcciErrorBodyLayer;
use crate::middleware::request_id::RequestIdLayer;
use crate::middleware::request_log::RequestLogLayer;

fn header_names(
    table: &FactoryTable,
    key: &str,
    names: &[String],
) -> Result<Vec<HeaderName>, BuildError> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            HeaderName::try_from(n.as_str()).map_err(|_| {
                table.invalid(&format!("{key}.{i}"), format!("`{n}` is not a header name"))
            })
        })
        .collect()
}

/// `[filter.NAME]` of `request_log`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLogConfig {
    /// Request headers to log too (secret ones are logged as `***`).
    #[serde(default)]
    pub headers: Vec<String>,
}

/// Builds `request_log`.
pub fn request_log(table: &FactoryTable, _ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let config: RequestLogConfig = table.deserialize()?;
    let headers = header_names(table, "headers", &config.headers)?;
    Ok(boxed(RequestLogLayer::new().headers(headers)))
}

/// `[filter.NAME]` of `request_id` (no options; the edge already sets ids,
/// this filter exists for pipelines embedded without the edge).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestIdConfig {}

/// Builds `request_id`.
pub fn request_id(table: &FactoryTable, _ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let RequestIdConfig {} = table.deserialize()?;
    Ok(boxed(RequestIdLayer::new()))
}

/// `[filter.NAME]` of `timeout`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutConfig {
    /// Longest a request may take before a 504.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        TimeoutConfig {
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(60)
}

/// Builds `timeout`.
pub fn timeout(table: &FactoryTable, _ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let config: TimeoutConfig = table.deserialize()?;
    if config.timeout.is_zero() {
        return Err(table.invalid("timeout", "must be longer than 0s"));
    }
    Ok(boxed(OcciErrorBodyLayer::timeout(config.timeout)))
}

/// `[filter.NAME]` of `body_limit`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BodyLimitConfig {
    /// Largest request body, in bytes (more: 413).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
}

impl Default for BodyLimitConfig {
    fn default() -> Self {
        BodyLimitConfig {
            max_bytes: default_max_bytes(),
        }
    }
}

fn default_max_bytes() -> usize {
    1024 * 1024
}

/// Builds `body_limit`.
pub fn body_limit(table: &FactoryTable, _ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let config: BodyLimitConfig = table.deserialize()?;
    Ok(boxed(OcciErrorBodyLayer::body_limit(config.max_bytes)))
}

/// `[filter.NAME]` of `concurrency_limit`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyLimitConfig {
    /// Most requests in flight through this filter (more: 503).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// The `Retry-After` of a refused request.
    #[serde(default = "default_retry_after", with = "humantime_serde")]
    pub retry_after: Duration,
}

impl Default for ConcurrencyLimitConfig {
    fn default() -> Self {
        ConcurrencyLimitConfig {
            max_in_flight: default_max_in_flight(),
            retry_after: default_retry_after(),
        }
    }
}

fn default_max_in_flight() -> usize {
    256
}
fn default_retry_after() -> Duration {
    Duration::from_secs(1)
}

/// Builds `concurrency_limit`.
pub fn concurrency_limit(
    table: &FactoryTable,
    _ctx: &BuildContext,
) -> Result<BoxHttpLayer, BuildError> {
    let config: ConcurrencyLimitConfig = table.deserialize()?;
    if config.max_in_flight == 0 {
        return Err(table.invalid("max_in_flight", "must be at least 1"));
    }
    Ok(boxed(ConcurrencyLimitLayer::new(
        config.max_in_flight,
        config.retry_after,
    )))
}

/// `[filter.NAME]` of `cors`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Allowed origins; `["*"]` allows any (then credentials cannot be allowed).
    #[serde(default = "default_origins")]
    pub allow_origins: Vec<String>,
    /// Allowed methods.
    #[serde(default = "default_methods")]
    pub allow_methods: Vec<String>,
    /// Allowed request headers.
    #[serde(default = "default_allow_headers")]
    pub allow_headers: Vec<String>,
    /// Response headers scripts may read.
    #[serde(default = "default_expose_headers")]
    pub expose_headers: Vec<String>,
    /// Whether to allow credentials (cookies, `Authorization`).
    #[serde(default)]
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer.
    #[serde(default = "default_max_age", with = "humantime_serde")]
    pub max_age: Duration,
}

impl Default for CorsConfig {
    fn default() -> Self {
        CorsConfig {
            allow_origins: default_origins(),
            allow_methods: default_methods(),
            allow_headers: default_allow_headers(),
            expose_headers: default_expose_headers(),
            allow_credentials: false,
            max_age: default_max_age(),
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
fn default_origins() -> Vec<String> {
    strings(&["*"])
}
fn default_methods() -> Vec<String> {
    strings(&["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"])
}
fn default_allow_headers() -> Vec<String> {
    strings(&[
        "accept",
        "content-type",
        "authorization",
        "x-auth-token",
        "category",
        "link",
        "x-occi-attribute",
        "x-occi-location",
    ])
}
fn default_expose_headers() -> Vec<String> {
    strings(&[
        "location",
        "x-occi-location",
        "x-request-id",
        "www-authenticate",
    ])
}
fn default_max_age() -> Duration {
    Duration::from_secs(3600)
}

/// Builds `cors` (tower-http's `CorsLayer`, configured).
pub fn cors(table: &FactoryTable, _ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let config: CorsConfig = table.deserialize()?;
    let any = config.allow_origins.iter().any(|o| o == "*");
    if any && config.allow_credentials {
        return Err(table.invalid(
            "allow_credentials",
            "cannot be true when allow_origins contains \"*\"",
        ));
    }
    let origins = if any {
        AllowOrigin::any()
    } else {
        let list = config
            .allow_origins
            .iter()
            .enumerate()
            .map(|(i, o)| {
                HeaderValue::from_str(o).map_err(|_| {
                    table.invalid(
                        &format!("allow_origins.{i}"),
                        format!("`{o}` is not an origin"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        AllowOrigin::list(list)
    };
    let methods = config
        .allow_methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Method::from_bytes(m.as_bytes()).map_err(|_| {
                table.invalid(
                    &format!("allow_methods.{i}"),
                    format!("`{m}` is not a method"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let layer = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods(methods)
        .allow_headers(header_names(table, "allow_headers", &config.allow_headers)?)
        .expose_headers(header_names(
            table,
            "expose_headers",
            &config.expose_headers,
        )?)
        .allow_credentials(config.allow_credentials)
        .max_age(config.max_age);
    Ok(boxed(layer))
}

/// Builds `occi_negotiate` (its table is `NegotiateConfig`).
pub fn occi_negotiate(
    table: &FactoryTable,
    _ctx: &BuildContext,
) -> Result<BoxHttpLayer, BuildError> {
    let config: crate::middleware::negotiate::NegotiateConfig = table.deserialize()?;
    Ok(boxed(crate::middleware::negotiate::NegotiateLayer::new(
        config,
    )))
}
