//! Astakos identity v2.0: `POST /tokens` with a token, with
//! `passwordCredentials`, or with no body (the public service catalog).

use std::time::SystemTime;

use http::Method;
use serde::{Deserialize, Deserializer, Serialize};

use snf_occi_types::{RequestId, SecretToken};

use super::client::{Payload, decode};
use super::serde_util::null_default;
use super::{Caller, Client, Result, Service};

/// The answer of `POST /identity/v2.0/tokens`.
///
/// grnet/synnefo 0.20: `astakos/api/tokens.py` `authenticate` (the `access`
/// object; without a body only `serviceCatalog`).
#[derive(Clone, Debug, Deserialize)]
pub struct Access {
    /// The token (absent in the public catalog).
    #[serde(default)]
    pub token: Option<Token>,
    /// The token's holder (absent in the public catalog).
    #[serde(default)]
    pub user: Option<User>,
    /// The services and their endpoints.
    #[serde(rename = "serviceCatalog", default, deserialize_with = "null_default")]
    pub service_catalog: Vec<CatalogService>,
}

impl Access {
    /// The URL to call for the service of this type: the first endpoint
    /// with a `publicURL`, versioned as Synnefo's own clients do it
    /// ([`CatalogEndpoint::versioned_url`]).
    pub fn endpoint(&self, service_type: &str) -> Option<String> {
        self.service_catalog
            .iter()
            .filter(|s| s.service_type == service_type)
            .flat_map(|s| s.endpoints.iter())
            .find_map(CatalogEndpoint::versioned_url)
    }

    /// The project resources should go to when the caller names none, as
    /// the original snf-occi chose it: the first of the user's projects
    /// that is not the user's own (system) project, else the user's UUID.
    pub fn default_project(&self) -> Option<&str> {
        let user = self.user.as_ref()?;
        Some(
            user.projects
                .iter()
                .find(|p| **p != user.id)
                .map(String::as_str)
                .unwrap_or(&user.id),
        )
    }
}

/// A token and what it is for.
///
/// grnet/synnefo 0.20: `astakos/api/tokens.py` `authenticate`, `access.token`.
#[derive(Clone, Debug, Deserialize)]
pub struct Token {
    /// The token itself.
    #[serde(deserialize_with = "secret")]
    pub id: SecretToken,
    /// Expiry, RFC 3339 as Astakos writes it.
    #[serde(default)]
    pub expires: Option<String>,
    /// The tenant (project) the token was scoped to.
    #[serde(default)]
    pub tenant: Option<Tenant>,
}

impl Token {
    /// The expiry as a time, when present and well formed.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires
            .as_deref()
            .and_then(snf_occi_types::timestamp::parse_rfc3339)
    }
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<SecretToken, D::Error> {
    String::deserialize(d).map(SecretToken::new)
}

/// A tenant (Synnefo project) reference.
///
/// grnet/synnefo 0.20: `astakos/api/tokens.py` `authenticate`,
/// `access.token.tenant` (the user's uuid and name).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Tenant {
    /// Project id (a UUID).
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
}

/// The holder of a token.
///
/// grnet/synnefo 0.20: `astakos/api/tokens.py` `authenticate`, `access.user`.
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    /// The user's UUID.
    pub id: String,
    /// The display name (Astakos: the user's name or email).
    #[serde(default)]
    pub name: Option<String>,
    /// UUIDs of the projects the user is an accepted member of.
    #[serde(default, deserialize_with = "null_default")]
    pub projects: Vec<String>,
}

/// One service of the catalog.
///
/// grnet/synnefo 0.20: `astakos/api/tokens.py` `compute_endpoints`.
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogService {
    /// `compute`, `network`, `volume`, `image`, `identity`, ...
    #[serde(rename = "type")]
    pub service_type: String,
    /// The service's name (`cyclades_compute`, ...).
    #[serde(default)]
    pub name: Option<String>,
    /// Its endpoints.
    #[serde(default, deserialize_with = "null_default")]
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint of a catalog service.
///
/// grnet/synnefo 0.20: `astakos/api/tokens.py` `compute_endpoints` (one
/// endpoint's data, from `snf-service-export`).
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogEndpoint {
    /// The absolute URL to call.
    #[serde(rename = "publicURL", default)]
    pub public_url: Option<String>,
    /// The API version (`v2.0`).
    #[serde(rename = "versionId", default)]
    pub version_id: Option<String>,
    /// Whether `publicURL` already ends with the version. Synnefo
    /// publishes its network, volume and image endpoints without it
    /// (`http://host/network`, `versionId` `v2.0`, `SNF:exposeVersion`
    /// `"False"`); absent means true. Astakos writes it as a string
    /// (`"True"`/`"False"`), other catalogs as a JSON boolean.
    #[serde(rename = "SNF:exposeVersion", default, deserialize_with = "loose_bool")]
    pub expose_version: Option<bool>,
}

impl CatalogEndpoint {
    /// The base URL of the API, as Synnefo's clients build it
    /// (`synnefo/lib/services.py`, `get_versioned_public_url`): the
    /// `publicURL`, joined with `versionId` when the endpoint does not
    /// expose its version, without a trailing slash.
    pub fn versioned_url(&self) -> Option<String> {
        let public = self.public_url.as_deref()?.trim_end_matches('/');
        match (self.expose_version, self.version_id.as_deref()) {
            (Some(false), Some(version)) if !version.trim_matches('/').is_empty() => {
                Some(format!("{public}/{}", version.trim_matches('/')))
            }
            _ => Some(public.to_owned()),
        }
    }
}

/// A boolean as JSON `true`/`false` or the strings `"True"`/`"False"`
/// (any case); anything else is treated as absent.
fn loose_bool<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

#[derive(Serialize)]
struct AuthBody<'a> {
    auth: AuthInner<'a>,
}

#[derive(Serialize)]
struct AuthInner<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<TokenId<'a>>,
    #[serde(
        rename = "passwordCredentials",
        skip_serializing_if = "Option::is_none"
    )]
    password_credentials: Option<PasswordCredentials<'a>>,
    #[serde(rename = "tenantName", skip_serializing_if = "Option::is_none")]
    tenant_name: Option<&'a str>,
}

#[derive(Serialize)]
struct TokenId<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct PasswordCredentials<'a> {
    username: &'a str,
    password: &'a str,
}

/// grnet/synnefo 0.20: `astakos/api/tokens.py` `authenticate`.
#[derive(Deserialize)]
struct AccessEnvelope {
    access: Access,
}

impl Client {
    /// Validates the caller's token: `POST /tokens {"auth": {"token":
    /// {"id": T}}}`. Answers the user (UUID, name, projects), the token's
    /// expiry and the catalog; a bad token is a 401 `unauthorized` fault.
    pub async fn authenticate(&self, caller: &Caller) -> Result<Access> {
        let body = AuthBody {
            auth: AuthInner {
                token: Some(TokenId {
                    id: caller.token.expose(),
                }),
                password_credentials: None,
                tenant_name: None,
            },
        };
        self.post_tokens(Some(caller), Payload::json(Service::Identity, &body)?)
            .await
    }

    /// Authenticates with `passwordCredentials` as Astakos accepts them:
    /// the user's UUID as username and the token as password.
    pub async fn authenticate_password(
        &self,
        username: &str,
        password: &SecretToken,
        request_id: Option<&RequestId>,
    ) -> Result<Access> {
        let body = AuthBody {
            auth: AuthInner {
                token: None,
                password_credentials: Some(PasswordCredentials {
                    username,
                    password: password.expose(),
                }),
                tenant_name: None,
            },
        };
        // The password is the token: scrub it from any fault text too.
        let caller = Caller {
            token: password.clone(),
            request_id: request_id.cloned(),
        };
        self.post_tokens_as(&caller, Payload::json(Service::Identity, &body)?)
            .await
    }

    /// `POST /tokens` with the `auth` object as a client wrote it (a
    /// token, `passwordCredentials`, a `tenantName`), answering Astakos'
    /// access document untouched: for the Keystone facade, which hands
    /// it on to Keystone clients that read more of it than [`Access`]
    /// holds. `secret` (the token or password in `auth`) is scrubbed from
    /// any fault text.
    pub async fn access_document(
        &self,
        auth: &serde_json::Value,
        secret: &SecretToken,
        request_id: Option<&RequestId>,
    ) -> Result<serde_json::Value> {
        let payload = Payload::json(Service::Identity, &serde_json::json!({ "auth": auth }))?;
        let caller = Caller {
            token: secret.clone(),
            request_id: request_id.cloned(),
        };
        let body = self.post_tokens_raw(Some(&caller), payload).await?;
        decode(Service::Identity, &body)
    }

    /// The public service catalog: `POST /tokens` with no body.
    pub async fn public_catalog(&self, request_id: Option<&RequestId>) -> Result<Access> {
        // Straight to the identity URL: no discovery, no retry (a POST).
        let anonymous = Caller {
            token: SecretToken::new(""),
            request_id: request_id.cloned(),
        };
        let call = super::client::Call {
            method: &Method::POST,
            path: "/tokens",
            query: &[],
            caller: Some(&anonymous),
            payload: &Payload::None,
        };
        let body = self
            .send(Service::Identity, self.identity_url(), &call)
            .await
            .map_err(super::client::SendError::into_inner)?;
        decode::<AccessEnvelope>(Service::Identity, &body).map(|e| e.access)
    }

    async fn post_tokens(&self, caller: Option<&Caller>, payload: Payload) -> Result<Access> {
        let body = self.post_tokens_raw(caller, payload).await?;
        decode::<AccessEnvelope>(Service::Identity, &body).map(|e| e.access)
    }

    /// `POST /tokens`, answering the body of a success.
    async fn post_tokens_raw(
        &self,
        caller: Option<&Caller>,
        payload: Payload,
    ) -> Result<super::transport::Answer> {
        // Identity calls send the token in the body, not as X-Auth-Token.
        let anonymous = caller.map(|c| Caller {
            token: SecretToken::new(""),
            request_id: c.request_id.clone(),
        });
        self.call(
            Service::Identity,
            Method::POST,
            "/tokens",
            &[],
            anonymous.as_ref(),
            payload,
        )
        .await
        .map_err(|e| scrub(e, caller))
    }

    async fn post_tokens_as(&self, caller: &Caller, payload: Payload) -> Result<Access> {
        self.post_tokens(Some(caller), payload).await
    }
}

/// Removes the token from a fault's text (a server that echoes the body
/// back must not leak it into logs).
fn scrub(e: super::SynnefoError, caller: Option<&Caller>) -> super::SynnefoError {
    let Some(secret) = caller.map(|c| c.token.expose()).filter(|s| !s.is_empty()) else {
        return e;
    };
    match e {
        super::SynnefoError::Fault {
            service,
            status,
            kind,
            message,
            details,
        } => super::SynnefoError::Fault {
            service,
            status,
            kind,
            message: message.replace(secret, "***"),
            details: details.replace(secret, "***"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(json: serde_json::Value) -> CatalogEndpoint {
        serde_json::from_value(json).expect("endpoint")
    }

    #[test]
    fn unexposed_versions_are_appended_as_synnefo_clients_do() {
        // Astakos' own rendering: strings, not booleans.
        let network = endpoint(serde_json::json!({
            "publicURL": "http://h/network", "versionId": "v2.0", "SNF:exposeVersion": "False"
        }));
        assert_eq!(
            network.versioned_url().as_deref(),
            Some("http://h/network/v2.0")
        );
        let compute = endpoint(serde_json::json!({
            "publicURL": "http://h/compute/v2.0/", "versionId": "v2.0", "SNF:exposeVersion": "True"
        }));
        assert_eq!(
            compute.versioned_url().as_deref(),
            Some("http://h/compute/v2.0")
        );
        // JSON booleans, and no flag at all (exposed by default).
        let volume = endpoint(serde_json::json!({
            "publicURL": "http://h/volume/", "versionId": "v2.0", "SNF:exposeVersion": false
        }));
        assert_eq!(
            volume.versioned_url().as_deref(),
            Some("http://h/volume/v2.0")
        );
        let plain = endpoint(serde_json::json!({"publicURL": "http://h/x/v1", "versionId": "v1"}));
        assert_eq!(plain.versioned_url().as_deref(), Some("http://h/x/v1"));
        let weblogin = endpoint(serde_json::json!({
            "publicURL": "http://h/weblogin", "versionId": "", "SNF:exposeVersion": "False"
        }));
        assert_eq!(
            weblogin.versioned_url().as_deref(),
            Some("http://h/weblogin")
        );
    }
}
