//! `jwt_auth`: OIDC bearer tokens (`Authorization: Bearer <JWT>`).
//!
//! - The JWT is verified with jsonwebtoken against the issuer's JWKS:
//!   signature, `iss`, `aud`, `exp`/`nbf` (with `leeway`), `sub` present,
//!   and the header's `alg` in the `algorithms` allow-list. `none` cannot
//!   be expressed, and HMAC (`HS*`) is refused at start-up: a JWKS holds
//!   public keys, and an HMAC "verified" with a public key is forgeable.
//! - The JWKS comes from `jwks_url`, or from OIDC discovery
//!   (`<issuer>/.well-known/openid-configuration` -> `jwks_uri`); it is
//!   kept for `jwks_max_age` and refetched on an unknown `kid` at most
//!   once per `jwks_refresh_interval` (so a flood of made-up kids cannot
//!   hammer the IdP). Keys the JWKS holds that we cannot use are skipped.
//! - A verified identity becomes a Synnefo one in one of two ways:
//!   - `mapping`: a static table (`iss` + `sub` -> token, user, project),
//!     for sites that pre-provision accounts;
//!   - `exchange_url`: a Keystone-compatible endpoint that takes the OIDC
//!     access token the way Keystone v3 federation does
//!     (`POST /v3/OS-FEDERATION/identity_providers/<idp>/protocols/openid/auth`
//!     with `Authorization: Bearer <JWT>`, no body). A Keystone v3 answer
//!     (`X-Subject-Token` header, `{"token": {"user": {"id", "name"},
//!     "project": {"id"}, "expires_at"}}`) or a Keystone v2.0 `access`
//!     answer (astavoms/Astakos style) are both understood; 200 and 201 are
//!     success, 401/403 -> 401, anything else -> 503.
//!
//!   The table is consulted first; with neither, the filter refuses to
//!   start.
//! - Bad bearer -> 401 with `WWW-Authenticate: Bearer realm="<realm>",
//!   error="invalid_token"` (RFC 6750) and an OCCI body naming the reason;
//!   a 401 from further in gets `Bearer realm="<realm>"`.
//! - Cached by SHA-256 of the JWT until it (or the Synnefo token) expires.
//!
//! # Configuration (`[filter.NAME]`, `use = "jwt_auth"`)
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `issuer` | required | expected `iss`; also the discovery base |
//! | `audience` | required (non-empty) | accepted `aud` values |
//! | `jwks_url` | discovery | where the JWKS is |
//! | `algorithms` | `["RS256", "ES256"]` | allowed `alg`s (RS*, PS*, ES256, ES384, EdDSA) |
//! | `leeway` | `"60s"` | clock skew allowed on `exp`/`nbf` |
//! | `jwks_max_age` | `"1h"` | how long a fetched JWKS is used |
//! | `jwks_refresh_interval` | `"5m"` | least time between refetches for an unknown `kid` |
//! | `exchange_url` | none | Keystone v3 federation auth URL (see above) |
//! | `mapping` | `[]` | `[[filter.NAME.mapping]] iss?, sub, token, user, project?` |
//! | `realm` | `"snf-occi"` | realm in the `Bearer` challenge |
//! | `cache_ttl` | `"5m"` | longest a verified bearer is reused |
//! | `cache_capacity` | `10000` | most bearers remembered |
//! | `timeout` | `"10s"` | per JWKS / discovery / exchange call |
//!
//! The provider and the exchange are called through the
//! [`Upstream`] the filter is built with (snf-occi: the
//! transport of its Synnefo calls).
//!
//! # Example
//!
//! ```
//! use snf_occi_middleware::auth::{AuthLayer, JwtAuthConfig};
//!
//! let config = JwtAuthConfig::new("https://aai.egi.eu/auth/realms/egi", "snf-occi")
//!     .with_exchange_url(
//!         "https://keystone.example.org/v3/OS-FEDERATION/identity_providers/egi.eu/protocols/openid/auth",
//!     );
//! // Nothing is fetched until the first bearer arrives.
//! let layer = AuthLayer::jwt(config, reqwest::Client::new()).unwrap();
//! # drop(layer);
//! ```

mod error;
mod jwks;
mod login;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};
use jsonwebtoken::Algorithm;
use serde::Deserialize;

pub use error::JwtError;
pub use login::JwtLogin;

use super::layer::{AuthLayer, CachePolicy, Verifier};
use super::upstream::{SharedUpstream, Upstream};
use super::{AuthConfigError, parse_url, project_header};
use crate::HttpRequest;
use jwks::{Jwks, JwksSource, JwksState};
use snf_occi_types::AuthContext;

const FILTER: &str = "jwt_auth";

/// One pre-provisioned account of the static `mapping` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticMapping {
    /// The issuer; any configured issuer when absent.
    #[serde(default)]
    pub iss: Option<String>,
    /// The OIDC subject.
    pub sub: String,
    /// The Synnefo token of the account.
    pub token: String,
    /// The Synnefo user UUID.
    pub user: String,
    /// The project to work in (default: the user's own).
    #[serde(default)]
    pub project: Option<String>,
}

impl std::fmt::Debug for StaticMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticMapping")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("token", &"***")
            .field("user", &self.user)
            .field("project", &self.project)
            .finish()
    }
}

/// Configuration of `jwt_auth` (see the module docs for the keys).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtAuthConfig {
    /// Expected `iss`.
    pub issuer: Option<String>,
    /// Accepted `aud` values.
    pub audience: Vec<String>,
    /// JWKS location (default: OIDC discovery from `issuer`).
    pub jwks_url: Option<String>,
    /// Allowed algorithms.
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp` / `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// How long a fetched JWKS is used.
    #[serde(with = "humantime_serde")]
    pub jwks_max_age: Duration,
    /// Least time between refetches caused by an unknown `kid`.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh_interval: Duration,
    /// Keystone v3 federation auth URL.
    pub exchange_url: Option<String>,
    /// Pre-provisioned accounts.
    pub mapping: Vec<StaticMapping>,
    /// Realm of the `Bearer` challenge.
    pub realm: String,
    /// Longest a verified bearer is reused.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Most bearers remembered.
    pub cache_capacity: u64,
    /// Timeout of one outgoing call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for JwtAuthConfig {
    fn default() -> Self {
        JwtAuthConfig {
            issuer: None,
            audience: Vec::new(),
            jwks_url: None,
            algorithms: vec!["RS256".into(), "ES256".into()],
            leeway: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(3600),
            jwks_refresh_interval: Duration::from_secs(300),
            exchange_url: None,
            mapping: Vec::new(),
            realm: "snf-occi".into(),
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
            timeout: Duration::from_secs(10),
        }
    }
}

impl JwtAuthConfig {
    /// A configuration for tokens of `issuer` meant for `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        JwtAuthConfig {
            issuer: Some(issuer.into()),
            audience: vec![audience.into()],
            ..JwtAuthConfig::default()
        }
    }

    /// Sets `jwks_url` (instead of discovery).
    pub fn with_jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// Sets `exchange_url`.
    pub fn with_exchange_url(mut self, url: impl Into<String>) -> Self {
        self.exchange_url = Some(url.into());
        self
    }

    /// Adds a pre-provisioned account.
    pub fn with_mapping(mut self, mapping: StaticMapping) -> Self {
        self.mapping.push(mapping);
        self
    }
}

fn algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The [`Verifier`] of `jwt_auth`.
pub struct JwtVerifier {
    issuer: String,
    audience: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    jwks: Jwks,
    exchange_url: Option<String>,
    mapping: HashMap<(Option<String>, String), StaticMapping>,
    challenge: HeaderValue,
    rejection: HeaderValue,
    timeout: Duration,
    upstream: SharedUpstream,
    cache: CachePolicy,
}

impl JwtVerifier {
    /// Builds the verifier; fails on a missing issuer/audience, an unknown
    /// or HMAC algorithm, bad URLs, or no way to find Synnefo accounts.
    /// The provider and the exchange are called through `upstream`.
    pub fn new(config: JwtAuthConfig, upstream: impl Upstream) -> Result<Self, AuthConfigError> {
        let issuer = config
            .issuer
            .clone()
            .ok_or(AuthConfigError::Missing("issuer"))?;
        if config.audience.is_empty() {
            return Err(AuthConfigError::Missing("audience"));
        }
        if config.algorithms.is_empty() {
            return Err(AuthConfigError::Missing("algorithms"));
        }
        let algorithms = config
            .algorithms
            .iter()
            .map(|name| {
                algorithm(name).ok_or_else(|| AuthConfigError::Invalid {
                    key: "algorithms",
                    reason: format!(
                        "{name:?} is not an allowed asymmetric algorithm (none and HS* never are)"
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let source = match &config.jwks_url {
            Some(url) => JwksSource::Url(parse_url("jwks_url", url)?.to_string()),
            None => {
                let base = parse_url("issuer", &issuer)?;
                JwksSource::Discovery(format!(
                    "{}/.well-known/openid-configuration",
                    base.as_str().trim_end_matches('/')
                ))
            }
        };
        let exchange_url = match &config.exchange_url {
            Some(url) => Some(parse_url("exchange_url", url)?.to_string()),
            None => None,
        };
        if exchange_url.is_none() && config.mapping.is_empty() {
            return Err(AuthConfigError::Missing("exchange_url` or `mapping"));
        }
        if config.cache_capacity == 0 {
            return Err(AuthConfigError::Invalid {
                key: "cache_capacity",
                reason: "must be at least 1".into(),
            });
        }
        if config.realm.contains('"') {
            return Err(AuthConfigError::NotAHeaderValue("realm"));
        }
        let challenge = HeaderValue::from_str(&format!("Bearer realm=\"{}\"", config.realm))
            .map_err(|_| AuthConfigError::NotAHeaderValue("realm"))?;
        // RFC 6750's challenge for a rejected token.
        let rejection = HeaderValue::from_str(&format!(
            "Bearer realm=\"{}\", error=\"invalid_token\"",
            config.realm
        ))
        .map_err(|_| AuthConfigError::NotAHeaderValue("realm"))?;
        let upstream: SharedUpstream = Arc::new(upstream);
        let mapping = config
            .mapping
            .iter()
            .map(|m| ((m.iss.clone(), m.sub.clone()), m.clone()))
            .collect();
        Ok(JwtVerifier {
            issuer,
            audience: config.audience.clone(),
            algorithms,
            leeway: config.leeway,
            jwks: Jwks {
                source,
                upstream: upstream.clone(),
                timeout: config.timeout,
                max_age: config.jwks_max_age,
                refresh_interval: config.jwks_refresh_interval,
                state: tokio::sync::Mutex::new(JwksState::default()),
            },
            exchange_url,
            mapping,
            challenge,
            rejection,
            timeout: config.timeout,
            upstream,
            cache: CachePolicy {
                capacity: config.cache_capacity,
                ttl: config.cache_ttl,
            },
        })
    }
}

/// `jwt_auth`'s layer.
pub type JwtAuthLayer = AuthLayer<JwtVerifier>;
/// `jwt_auth`'s service.
pub type JwtAuth<S> = super::Auth<S, JwtVerifier>;

impl AuthLayer<JwtVerifier> {
    /// `jwt_auth` with `config`, calling the provider and the exchange
    /// through `upstream`.
    pub fn jwt(config: JwtAuthConfig, upstream: impl Upstream) -> Result<Self, AuthConfigError> {
        Ok(AuthLayer::new(JwtVerifier::new(config, upstream)?))
    }
}

/// The bearer of `Authorization: Bearer <token>`, if that is the scheme.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A bearer is printable ASCII of a sane length; anything else is refused
/// before it reaches a parser, the provider or a log line.
fn well_formed(token: &str) -> bool {
    !token.is_empty() && token.len() <= 16_384 && token.bytes().all(|b| b.is_ascii_graphic())
}

impl Verifier for JwtVerifier {
    type Credential = String;
    type Login = JwtLogin;
    type Error = JwtError;

    fn name(&self) -> &'static str {
        FILTER
    }

    fn challenge(&self) -> &HeaderValue {
        &self.challenge
    }

    fn rejection_challenge(&self) -> HeaderValue {
        self.rejection.clone()
    }

    fn cache_policy(&self) -> CachePolicy {
        self.cache
    }

    fn credential(&self, request: &HttpRequest) -> Option<Result<String, JwtError>> {
        let token = bearer(request.headers())?;
        Some(if well_formed(token) {
            Ok(token.to_owned())
        } else {
            Err(JwtError::Malformed)
        })
    }

    fn key_material<'a>(&self, token: &'a String) -> &'a [u8] {
        token.as_bytes()
    }

    fn verify(&self, token: &String) -> impl Future<Output = Result<JwtLogin, JwtError>> + Send {
        self.login(token)
    }

    fn context(&self, login: &JwtLogin, headers: &HeaderMap) -> AuthContext {
        let identity = &login.identity;
        let project = project_header(headers)
            .or_else(|| login.project.as_deref().map(Into::into))
            .unwrap_or_else(|| identity.default_project());
        identity.context(project, login.expires, FILTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::upstream::unreachable;

    #[test]
    fn bearer_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcg=="),
        );
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc.def.ghi"),
        );
        assert_eq!(bearer(&h), Some("abc.def.ghi"));
    }

    #[test]
    fn hmac_and_none_are_refused_at_start_up() {
        for alg in ["HS256", "none", "rs256"] {
            let config = JwtAuthConfig {
                algorithms: vec![alg.into()],
                ..JwtAuthConfig::new("https://idp/", "snf")
            }
            .with_exchange_url("https://ks/v3/auth");
            assert!(
                matches!(
                    JwtVerifier::new(config, unreachable()),
                    Err(AuthConfigError::Invalid {
                        key: "algorithms",
                        ..
                    })
                ),
                "{alg}"
            );
        }
    }

    #[test]
    fn config_errors() {
        let ok = JwtAuthConfig::new("https://idp.example.org/", "snf")
            .with_exchange_url("https://ks/v3/auth");
        assert!(JwtVerifier::new(ok.clone(), unreachable()).is_ok());
        let no_target = JwtAuthConfig::new("https://idp.example.org/", "snf");
        assert!(matches!(
            JwtVerifier::new(no_target, unreachable()),
            Err(AuthConfigError::Missing(_))
        ));
        let no_aud = JwtAuthConfig {
            audience: vec![],
            ..ok.clone()
        };
        assert!(matches!(
            JwtVerifier::new(no_aud, unreachable()),
            Err(AuthConfigError::Missing("audience"))
        ));
        let no_iss = JwtAuthConfig {
            issuer: None,
            ..ok.clone()
        };
        assert!(matches!(
            JwtVerifier::new(no_iss, unreachable()),
            Err(AuthConfigError::Missing("issuer"))
        ));
        let parsed: JwtAuthConfig = serde_json::from_str(
            r#"{"issuer": "https://idp/", "audience": ["a"], "leeway": "30s",
                "mapping": [{"sub": "s", "token": "t", "user": "u"}]}"#,
        )
        .unwrap();
        assert_eq!(parsed.leeway, Duration::from_secs(30));
        assert!(
            !format!("{parsed:?}").contains("\"t\""),
            "the token is redacted in Debug"
        );
        assert!(JwtVerifier::new(parsed, unreachable()).is_ok());
    }
}
