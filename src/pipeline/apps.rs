//! Built-in apps: `healthz` (liveness) and `echo` (a diagnostic and test
//! app that answers with what it received; it stands in for the OCCI app
//! in tests and benchmarks).

use std::convert::Infallible;
use std::time::Duration;

use http::{HeaderValue, header};
use serde::{Deserialize, Serialize};
use tower::service_fn;

use super::registry::FactoryTable;
use super::{BuildContext, BuildError};
use crate::middleware::error_response::{occi_error, rendering_of};
use crate::middleware::{Body, BoxHttp, HttpRequest, HttpResponse, PeerCertificates, RemoteAddr};
use snf_occi_types::{AuthContext, RequestId};

fn text(body: String) -> HttpResponse {
    let mut res = HttpResponse::new(Body::from(body));
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    res
}

/// `[app.NAME]` of `healthz` (no options).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthzConfig {}

/// Builds `healthz`: `200 ok` while the process serves.
pub async fn healthz(table: FactoryTable, _ctx: BuildContext) -> Result<BoxHttp, BuildError> {
    let HealthzConfig {} = table.deserialize()?;
    Ok(BoxHttp::new(service_fn(|_req: HttpRequest| async {
        Ok::<_, Infallible>(text("ok\n".to_string()))
    })))
}

/// `[app.NAME]` of `echo`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EchoConfig {
    /// How long to wait before answering (to test timeouts and shutdown).
    #[serde(default, with = "humantime_serde")]
    pub delay: Duration,
    /// Answer `401` (an OCCI error in the negotiated rendering) when no
    /// auth filter set an [`AuthContext`], as the OCCI app does; this is
    /// what makes `keystone_auth` add its `WWW-Authenticate` challenge.
    #[serde(default)]
    pub require_auth: bool,
}

/// Builds `echo`: answers `200 text/plain` with the method, the path and
/// query, the request id, the remote address, the number of TLS peer
/// certificates and the body length it received, then, when an auth
/// filter authenticated the request, `auth: <user> <project> <method>`
/// (never the token).
pub async fn echo(table: FactoryTable, _ctx: BuildContext) -> Result<BoxHttp, BuildError> {
    let config: EchoConfig = table.deserialize()?;
    let delay = config.delay;
    let require_auth = config.require_auth;
    Ok(BoxHttp::new(service_fn(
        move |req: HttpRequest| async move {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if require_auth && req.extensions().get::<AuthContext>().is_none() {
                return Ok(occi_error(
                    http::StatusCode::UNAUTHORIZED,
                    "Authentication required",
                    rendering_of(req.extensions()),
                ));
            }
            let (parts, body) = req.into_parts();
            let ext = &parts.extensions;
            let body_len = match http_body_util::BodyExt::collect(body).await {
                Ok(b) => b.to_bytes().len().to_string(),
                Err(e) => format!("unreadable ({e})"),
            };
            let mut out = format!(
                "{} {}\nrequest-id: {}\nremote-addr: {}\npeer-certificates: {}\nbody-bytes: {}\n",
                parts.method,
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/"),
                ext.get::<RequestId>().map(|r| r.as_str()).unwrap_or("-"),
                ext.get::<RemoteAddr>()
                    .map(|a| a.0.to_string())
                    .unwrap_or_else(|| "-".into()),
                ext.get::<PeerCertificates>()
                    .map(|c| c.0.len())
                    .unwrap_or(0),
                body_len,
            );
            if let Some(auth) = ext.get::<AuthContext>() {
                // The token is deliberately left out: this body may be logged.
                out.push_str(&format!(
                    "auth: {} {} {}\n",
                    auth.user,
                    auth.project.as_deref().unwrap_or("-"),
                    auth.method
                ));
            }
            Ok::<_, Infallible>(text(out))
        },
    )))
}
