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
//! | `POST <mount>/v2.0/tokens` | the credential (`auth.token.id`, `auth.passwordCredentials`, or for any other body `Authorization: Bearer`/`X-Auth-Token`) validated at Astakos `POST <synnefo.identity_url>/tokens`; its access answer, with `token.tenant` the `tenantName` asked for when it is one of the user's projects (401 otherwise) |
//! | `GET <mount>/v2.0/tenants` | the token's user's projects (Astakos' `access.user.projects`) |
//!
//! The token handed out is the Synnefo token itself (Astakos has no
//! scoped tokens): a tenant names the project only for the client, which
//! then picks its project the gateway's way (`X-Snf-Project`). A VOMS
//! proxy holder gets a token at astavoms, not here: this app sees no
//! client certificate it could trust. Tokens never appear in its logs or
//! answers other than as the token itself.
//!
//! It has no options: it asks the Astakos of `[synnefo]` (its
//! `identity_url`, `identity_timeout`), through the client the OCCI app
//! shares.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::service_fn;

use super::registry::FactoryTable;
use super::{BuildContext, BuildError};
use crate::middleware::{Body, BoxHttp, HttpRequest, HttpResponse};
use crate::synnefo::{Client, SynnefoError};
use snf_occi_types::{RequestId, SecretToken};

/// The most bytes of a token request read.
const MAX_BODY: usize = 64 * 1024;

/// `[app.NAME]` of `keystone_facade` (no options: Astakos is `[synnefo]`'s).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeystoneFacadeConfig {}

/// What every request shares.
#[derive(Debug)]
struct Facade {
    /// The absolute URL of `<mount>/v2.0`, for the version documents.
    version_url: String,
    /// The build's shared Synnefo client: Astakos is its identity URL.
    client: Client,
}

/// Builds `keystone_facade`. Its version documents name it by
/// `server.public_url` and the `[urlmap]` prefix it is mounted at.
pub async fn keystone_facade(
    table: FactoryTable,
    ctx: BuildContext,
) -> Result<BoxHttp, BuildError> {
    let KeystoneFacadeConfig {} = table.deserialize()?;
    let client = ctx.synnefo()?;
    let mount = ctx
        .config
        .urlmap
        .iter()
        .find(|(_, app)| **app == table.instance)
        .map(|(prefix, _)| prefix.trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let facade = Arc::new(Facade {
        version_url: format!("{}{mount}/v2.0", ctx.public_url.trim_end_matches('/')),
        client,
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
            ("/v2.0/tenants", &Method::GET | &Method::HEAD) => {
                let request_id = req.extensions().get::<RequestId>().cloned();
                self.tenants(req.headers(), request_id.as_ref()).await
            }
            ("" | "/v2.0" | "/v2.0/tokens" | "/v2.0/tenants", _) => fault(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} is not allowed here"),
            ),
            _ => fault(StatusCode::NOT_FOUND, "no such Keystone v2.0 call"),
        }
    }

    /// Asks Astakos for the access of `auth` (its `auth` object).
    async fn astakos(
        &self,
        auth: Value,
        request_id: Option<&RequestId>,
    ) -> Result<Value, HttpResponse> {
        // The credential in `auth`, scrubbed from any fault text.
        let secret = ["/token/id", "/passwordCredentials/password"]
            .iter()
            .find_map(|p| auth.pointer(p).and_then(Value::as_str))
            .unwrap_or_default();
        let answer = self
            .client
            .access_document(&auth, &SecretToken::new(secret), request_id)
            .await;
        match answer {
            Ok(access) => Ok(access),
            // Astakos' own refusal for what the client sent, in its fault
            // JSON that names why; anything else is the identity service's
            // failure.
            Err(SynnefoError::Fault {
                status,
                kind,
                message,
                details,
                ..
            }) if status.is_client_error() => Err(json_response(
                status,
                &json!({ kind.as_key(): {"code": status.as_u16(), "message": message, "details": details} }),
            )),
            Err(SynnefoError::Fault { status, .. }) => Err(fault(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the identity service (Astakos) failed ({status})"),
            )),
            Err(SynnefoError::InvalidResponse { .. }) => Err(fault(
                StatusCode::SERVICE_UNAVAILABLE,
                "the identity service (Astakos) answered what is not an access document",
            )),
            Err(e) => {
                tracing::warn!(error = %e, "keystone_facade: Astakos unreachable");
                Err(fault(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the identity service (Astakos) did not answer",
                ))
            }
        }
    }

    async fn tokens(&self, req: HttpRequest) -> HttpResponse {
        let (parts, body) = req.into_parts();
        let request_id = parts.extensions.get::<RequestId>();
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
        let mut access = match self.astakos(credential, request_id).await {
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

    async fn tenants(&self, headers: &HeaderMap, request_id: Option<&RequestId>) -> HttpResponse {
        let Some(token) = header_token(headers) else {
            return fault(StatusCode::UNAUTHORIZED, "X-Auth-Token is required");
        };
        let access = match self
            .astakos(json!({"token": {"id": token}}), request_id)
            .await
        {
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
