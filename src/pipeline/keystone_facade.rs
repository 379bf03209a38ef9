//! `keystone_facade`: a Keystone v2.0 token endpoint on the gateway itself
//! for OCCI clients that hold a Synnefo token, so that every client's
//! Keystone dance ends at Astakos, whatever it sends.
//!
//! The OCCI clients learn where to get a token from the `keystone_auth`
//! challenge and each talks Keystone its own way:
//!
//! - pOCCI posts `passwordCredentials` to `<uri>/v2.0/tokens`, which
//!   Astakos takes (user uuid and token);
//! - rOCCI-cli GETs `<uri>` for a version document, then posts to the
//!   `self` link it names: Astakos serves its versions at `/identity/`
//!   only, with 200, where rOCCI-cli expects one version or a 300 list;
//! - the Infrastructure Manager's OCCI connector always posts
//!   `{"auth": {"voms": true}}`, with its `token` auth data as
//!   `Authorization: Bearer <token>`, then lists `/v2.0/tenants` and asks
//!   a token per tenant: Astakos knows neither the body nor the tenants
//!   call (400).
//!
//! Mounted through `[urlmap]` (e.g. `"/keystone" = "keystone_facade"`,
//! with `filter.keystone.keystone_url = "/keystone"`), this app answers
//! all three and asks Astakos for the rest:
//!
//! | request | answer |
//! |---|---|
//! | `GET <mount>` | 300, the one version (v2.0) and its `self` link |
//! | `GET <mount>/v2.0` | 200, that version |
//! | `POST <mount>/v2.0/tokens` | the credential (`auth.token.id`, `auth.passwordCredentials`, or for any other body `Authorization: Bearer`/`X-Auth-Token`) validated at Astakos `POST <identity_url>/tokens`; its access answer, with `token.tenant` the `tenantName` asked for when it is one of the user's projects (401 otherwise) |
//! | `GET <mount>/v2.0/tenants` | the token's user's projects (Astakos' `access.user.projects`) |
//!
//! The token handed out is the Synnefo token itself (Astakos has no
//! scoped tokens): a tenant names the project only for the client, which
//! then picks its project the gateway's way (`X-Snf-Project`). A VOMS
//! proxy holder gets a token at astavoms, not here: this app sees no
//! client certificate it could trust. Tokens never appear in its logs or
//! answers other than as the token itself.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `identity_url` | the embedded simulator's | Astakos identity v2.0, e.g. `https://accounts.example.org/identity/v2.0` |
//! | `timeout` | `"10s"` | per Astakos call |

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::service_fn;

use super::registry::FactoryTable;
use super::{BuildContext, BuildError};
use crate::middleware::{Body, BoxHttp, HttpRequest, HttpResponse};

/// The most bytes of a token request read.
const MAX_BODY: usize = 64 * 1024;

/// `[app.NAME]` of `keystone_facade`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoneFacadeConfig {
    /// Astakos identity v2.0 (default: the embedded simulator's).
    #[serde(default)]
    pub identity_url: Option<String>,
    /// The timeout of each Astakos call.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for KeystoneFacadeConfig {
    fn default() -> Self {
        KeystoneFacadeConfig {
            identity_url: None,
            timeout: default_timeout(),
        }
    }
}

/// What every request shares.
#[derive(Debug)]
struct Facade {
    /// `<identity_url>/tokens`.
    tokens_url: String,
    /// The absolute URL of `<mount>/v2.0`, for the version documents.
    version_url: String,
    timeout: Duration,
    http: reqwest::Client,
}

/// Builds `keystone_facade`. Its version documents name it by
/// `server.public_url` and the `[urlmap]` prefix it is mounted at.
pub async fn keystone_facade(
    table: FactoryTable,
    ctx: BuildContext,
) -> Result<BoxHttp, BuildError> {
    let config: KeystoneFacadeConfig = table.deserialize()?;
    let identity = match (&config.identity_url, &ctx.simulator) {
        (Some(url), _) => url.clone(),
        (None, Some(sim)) => sim.identity_url.clone(),
        (None, None) => {
            return Err(table.invalid(
                "identity_url",
                "is required when no embedded simulator runs",
            ));
        }
    };
    let parsed = url::Url::parse(&identity).map_err(|e| table.invalid("identity_url", e))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(table.invalid("identity_url", "the scheme must be http or https"));
    }
    let mount = ctx
        .config
        .urlmap
        .iter()
        .find(|(_, app)| **app == table.instance)
        .map(|(prefix, _)| prefix.trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let facade = Arc::new(Facade {
        tokens_url: format!("{}/tokens", identity.trim_end_matches('/')),
        version_url: format!("{}{mount}/v2.0", ctx.public_url.trim_end_matches('/')),
        timeout: config.timeout,
        http: ctx.http.clone(),
    });
    Ok(BoxHttp::new(service_fn(move |req: HttpRequest| {
        let facade = facade.clone();
        async move { Ok::<_, Infallible>(facade.serve(req).await) }
    })))
}

fn json_response(status: StatusCode, value: &Value) -> HttpResponse {
    let mut res = HttpResponse::new(Body::from(value.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// A Keystone fault (`{"<kind>": {"code", "message"}}`).
fn fault(status: StatusCode, message: &str) -> HttpResponse {
    let kind = match status {
        StatusCode::BAD_REQUEST => "badRequest",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "itemNotFound",
        StatusCode::METHOD_NOT_ALLOWED => "badMethod",
        _ => "serviceUnavailable",
    };
    json_response(
        status,
        &json!({ kind: {"code": status.as_u16(), "message": message} }),
    )
}

/// A bearer or `X-Auth-Token` credential of the request, if any.
fn header_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        })
        .map(|(_, token)| token.trim());
    let header = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    bearer
        .or(header)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

impl Facade {
    fn version(&self) -> Value {
        json!({
            "id": "v2.0",
            "status": "stable",
            "updated": "2014-04-17T00:00:00Z",
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v2.0+json"}],
            "links": [{"href": self.version_url, "rel": "self"}],
        })
    }

    async fn serve(&self, req: HttpRequest) -> HttpResponse {
        let path = req.uri().path().trim_end_matches('/').to_owned();
        let method = req.method().clone();
        match (path.as_str(), &method) {
            ("", &Method::GET | &Method::HEAD) => json_response(
                StatusCode::MULTIPLE_CHOICES,
                &json!({"versions": {"values": [self.version()]}}),
            ),
            ("/v2.0", &Method::GET | &Method::HEAD) => {
                json_response(StatusCode::OK, &json!({"version": self.version()}))
            }
            ("/v2.0/tokens", &Method::POST) => self.tokens(req).await,
            ("/v2.0/tenants", &Method::GET | &Method::HEAD) => self.tenants(req.headers()).await,
            ("" | "/v2.0" | "/v2.0/tokens" | "/v2.0/tenants", _) => fault(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} is not allowed here"),
            ),
            _ => fault(StatusCode::NOT_FOUND, "no such Keystone v2.0 call"),
        }
    }

    /// Asks Astakos for the access of `auth` (its `auth` object).
    async fn astakos(&self, auth: Value) -> Result<Value, HttpResponse> {
        let sent = self
            .http
            .post(&self.tokens_url)
            .timeout(self.timeout)
            .json(&json!({ "auth": auth }))
            .send()
            .await;
        let res = match sent {
            Ok(res) => res,
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "keystone_facade: Astakos unreachable");
                return Err(fault(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the identity service (Astakos) did not answer",
                ));
            }
        };
        let status = res.status();
        let body = res.bytes().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|_| {
                fault(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the identity service (Astakos) answered what is not an access document",
                )
            });
        }
        // Astakos' own refusal (its fault JSON names why) for what the
        // client sent; anything else is the identity service's failure.
        if status.is_client_error() {
            let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut res = HttpResponse::new(Body::from(body));
            *res.status_mut() = status;
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Err(res);
        }
        Err(fault(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the identity service (Astakos) failed ({status})"),
        ))
    }

    async fn tokens(&self, req: HttpRequest) -> HttpResponse {
        let (parts, body) = req.into_parts();
        let bytes: Bytes =
            match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY))
                .await
            {
                Ok(b) => b.to_bytes(),
                Err(_) => return fault(StatusCode::BAD_REQUEST, "the request body is too large"),
            };
        let Ok(request) = serde_json::from_slice::<Value>(&bytes) else {
            return fault(StatusCode::BAD_REQUEST, "the request body is not JSON");
        };
        let Some(auth) = request.get("auth").filter(|a| a.is_object()) else {
            return fault(
                StatusCode::BAD_REQUEST,
                "the request has no \"auth\" object",
            );
        };
        let tenant = auth
            .get("tenantName")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        // The credential: in the body as Keystone v2.0 has it, else (IM's
        // VOMS-shaped body, rOCCI-cli's) in the headers.
        let credential = if let Some(id) = auth.pointer("/token/id") {
            json!({"token": {"id": id}})
        } else if let Some(creds) = auth.get("passwordCredentials") {
            json!({"passwordCredentials": creds})
        } else if let Some(token) = header_token(&parts.headers) {
            json!({"token": {"id": token}})
        } else {
            return fault(
                StatusCode::UNAUTHORIZED,
                "no Synnefo token: send it as auth.token.id, as passwordCredentials \
                 (user uuid and token) or as Authorization: Bearer; VOMS proxy holders \
                 get a token at astavoms",
            );
        };
        let mut access = match self.astakos(credential).await {
            Ok(access) => access,
            Err(res) => return res,
        };
        if let Some(tenant) = tenant {
            let user = access.pointer("/access/user/id").and_then(Value::as_str);
            let member = user == Some(tenant.as_str())
                || access
                    .pointer("/access/user/projects")
                    .and_then(Value::as_array)
                    .is_some_and(|p| p.iter().any(|p| p.as_str() == Some(tenant.as_str())));
            if !member {
                return fault(
                    StatusCode::UNAUTHORIZED,
                    &format!("Not conforming tenantName: {tenant} is not a project of the user"),
                );
            }
            if let Some(token) = access.pointer_mut("/access/token")
                && let Some(token) = token.as_object_mut()
            {
                token.insert("tenant".into(), json!({"id": tenant, "name": tenant}));
            }
        }
        json_response(StatusCode::OK, &access)
    }

    async fn tenants(&self, headers: &HeaderMap) -> HttpResponse {
        let Some(token) = header_token(headers) else {
            return fault(StatusCode::UNAUTHORIZED, "X-Auth-Token is required");
        };
        let access = match self.astakos(json!({"token": {"id": token}})).await {
            Ok(access) => access,
            Err(res) => return res,
        };
        let tenants: Vec<Value> = access
            .pointer("/access/user/projects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|p| json!({"id": p, "name": p, "enabled": true, "description": ""}))
            .collect();
        json_response(
            StatusCode::OK,
            &json!({"tenants": tenants, "tenants_links": []}),
        )
    }
}
