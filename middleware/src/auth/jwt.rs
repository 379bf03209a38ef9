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
//! # Example
//!
//! ```
//! use snf_occi_middleware::auth::{JwtAuthConfig, JwtAuthLayer};
//!
//! let config = JwtAuthConfig::new("https://aai.egi.eu/auth/realms/egi", "snf-occi")
//!     .with_exchange_url(
//!         "https://keystone.example.org/v3/OS-FEDERATION/identity_providers/egi.eu/protocols/openid/auth",
//!     );
//! // Nothing is fetched until the first bearer arrives.
//! let layer = JwtAuthLayer::new(config, reqwest::Client::new()).unwrap();
//! # drop(layer);
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tower::{Layer, Service};

use super::cache::{AuthCache, Expiring, cache_key};
use super::identity::{Identity, parse_access, parse_expiry};
use super::{
    AuthConfigError, AuthFuture, add_challenge, call_authenticated, parse_url, project_header,
    ready, reject,
};
use crate::{HttpRequest, HttpResponse};
use snf_occi_types::{AuthContext, SecretToken};

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

/// Why a bearer token was not accepted.
#[derive(Clone, Debug, thiserror::Error)]
pub enum JwtError {
    /// Not a JWT (or an unparsable header).
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    /// `alg` not in the allow-list.
    #[error("the bearer token's algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// No JWKS key has this `kid` (even after a refetch).
    #[error("the bearer token is signed with an unknown key")]
    UnknownKey,
    /// Signature does not verify.
    #[error("the bearer token's signature is invalid")]
    BadSignature,
    /// Past `exp`.
    #[error("the bearer token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the bearer token is not valid yet")]
    NotYetValid,
    /// Wrong `iss`.
    #[error("the bearer token is from another issuer")]
    WrongIssuer,
    /// Wrong `aud`.
    #[error("the bearer token is meant for another audience")]
    WrongAudience,
    /// A required claim is missing.
    #[error("the bearer token lacks the {0:?} claim")]
    MissingClaim(String),
    /// Verified, but no Synnefo account corresponds.
    #[error("no cloud account corresponds to this identity{}", .0.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    NoAccount(Option<String>),
    /// The IdP (JWKS) or the exchange endpoint is unreachable or failing.
    #[error("the {0} is unavailable")]
    Unavailable(&'static str),
}

impl JwtError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            JwtError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
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

/// A verified bearer's Synnefo identity.
#[derive(Clone)]
struct Login {
    identity: Identity,
    project: Option<String>,
    expires: Option<SystemTime>,
}

impl Expiring for Login {
    fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    iss: String,
    exp: u64,
}

/// Applies [`JwtAuth`] to a service.
#[derive(Clone)]
pub struct JwtAuthLayer {
    shared: Arc<Shared>,
}

struct Shared {
    issuer: String,
    audience: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    jwks: Jwks,
    exchange_url: Option<String>,
    mapping: HashMap<(Option<String>, String), StaticMapping>,
    challenge: HeaderValue,
    realm: String,
    timeout: Duration,
    client: reqwest::Client,
    cache: AuthCache<Login>,
}

impl JwtAuthLayer {
    /// Builds the filter; fails on a missing issuer/audience, an unknown
    /// or HMAC algorithm, bad URLs, or no way to find Synnefo accounts.
    pub fn new(config: JwtAuthConfig, client: reqwest::Client) -> Result<Self, AuthConfigError> {
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
        let mapping = config
            .mapping
            .iter()
            .map(|m| ((m.iss.clone(), m.sub.clone()), m.clone()))
            .collect();
        Ok(JwtAuthLayer {
            shared: Arc::new(Shared {
                issuer,
                audience: config.audience.clone(),
                algorithms,
                leeway: config.leeway,
                jwks: Jwks {
                    source,
                    client: client.clone(),
                    timeout: config.timeout,
                    max_age: config.jwks_max_age,
                    refresh_interval: config.jwks_refresh_interval,
                    state: tokio::sync::Mutex::new(JwksState::default()),
                },
                exchange_url,
                mapping,
                challenge,
                realm: config.realm.clone(),
                timeout: config.timeout,
                client,
                cache: AuthCache::new(config.cache_capacity, config.cache_ttl).named(FILTER),
            }),
        })
    }
}

impl<S> Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Authenticates requests that carry an OIDC bearer token (see the
/// module docs).
#[derive(Clone)]
pub struct JwtAuth<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// The bearer of `Authorization: Bearer <token>`, if that is the scheme.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl<S> Service<HttpRequest> for JwtAuth<S>
where
    S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = HttpResponse;
    type Error = S::Error;
    type Future = AuthFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();

        let token = if request.extensions().get::<AuthContext>().is_some() {
            None
        } else {
            bearer(request.headers()).map(str::to_owned)
        };
        let Some(token) = token else {
            return Box::pin(async move {
                let mut response = inner.call(request).await?;
                add_challenge(&mut response, &shared.challenge);
                Ok(response)
            });
        };
        if token.is_empty() || token.len() > 16_384 || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            let err = JwtError::Malformed;
            tracing::info!(filter = FILTER, outcome = "rejected", reason = %err);
            super::outcome::record(FILTER, "rejected", err.reason());
            return ready(reject(
                &request,
                err.status(),
                Some(&shared.error_challenge()),
                &err.to_string(),
            ));
        }

        Box::pin(async move {
            let key = cache_key(token.as_bytes());
            let login = match shared
                .cache
                .get_or_try_insert(key, shared.login(&token))
                .await
            {
                Ok((login, fresh)) => {
                    tracing::debug!(filter = FILTER, outcome = "authenticated", cached = !fresh);
                    super::outcome::record(
                        FILTER,
                        "accepted",
                        if fresh { "validated" } else { "cached" },
                    );
                    login
                }
                Err(err) => {
                    tracing::info!(filter = FILTER, outcome = "rejected", reason = %err);
                    super::outcome::record(FILTER, "rejected", err.reason());
                    let challenge = (err.status() == StatusCode::UNAUTHORIZED)
                        .then(|| shared.error_challenge());
                    return Ok(reject(
                        &request,
                        err.status(),
                        challenge.as_ref(),
                        &err.to_string(),
                    ));
                }
            };
            let identity = &login.identity;
            let project = project_header(request.headers())
                .or_else(|| login.project.clone())
                .unwrap_or_else(|| identity.default_project());
            let context = identity.context(project, login.expires, FILTER);
            call_authenticated(
                &mut inner,
                request,
                context,
                &shared.cache,
                &key,
                &shared.challenge,
            )
            .await
        })
    }
}

impl Shared {
    /// RFC 6750's challenge for a rejected token.
    fn error_challenge(&self) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "Bearer realm=\"{}\", error=\"invalid_token\"",
            self.realm
        ))
        .unwrap_or_else(|_| self.challenge.clone())
    }

    /// Verifies the JWT, then finds its Synnefo account.
    async fn login(&self, token: &str) -> Result<Login, JwtError> {
        let claims = self.verify(token).await?;
        let sub = claims
            .sub
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| JwtError::MissingClaim("sub".into()))?;
        let jwt_expires = SystemTime::UNIX_EPOCH + Duration::from_secs(claims.exp);
        let mapped = self
            .mapping
            .get(&(Some(claims.iss.clone()), sub.clone()))
            .or_else(|| self.mapping.get(&(None, sub)));
        if let Some(account) = mapped {
            return Ok(Login {
                identity: Identity {
                    token: SecretToken::new(account.token.as_str()),
                    user: account.user.clone(),
                    user_name: None,
                    projects: Vec::new(),
                    tenant: None,
                    expires: None,
                },
                project: account.project.clone(),
                expires: Some(jwt_expires),
            });
        }
        let Some(url) = &self.exchange_url else {
            return Err(JwtError::NoAccount(None));
        };
        let (identity, project) = self.exchange(url, token).await?;
        let expires = Some(identity.expires.map_or(jwt_expires, |t| t.min(jwt_expires)));
        Ok(Login {
            identity,
            project,
            expires,
        })
    }

    async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
        if !self.algorithms.contains(&header.alg) {
            return Err(JwtError::AlgorithmNotAllowed);
        }
        let jwk = self.jwks.key(header.kid.as_deref(), header.alg).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| JwtError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.leeway = self.leeway.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audience);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e
            .kind()
        {
            ErrorKind::ExpiredSignature => JwtError::Expired,
            ErrorKind::ImmatureSignature => JwtError::NotYetValid,
            ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
            ErrorKind::InvalidAudience => JwtError::WrongAudience,
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::MissingRequiredClaim(claim) => JwtError::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm => JwtError::AlgorithmNotAllowed,
            _ => JwtError::Malformed,
        })?;
        Ok(data.claims)
    }

    /// Keystone v3 federation style: the OIDC token as a bearer.
    async fn exchange(
        &self,
        url: &str,
        token: &str,
    ) -> Result<(Identity, Option<String>), JwtError> {
        const WHAT: &str = "token exchange service";
        let started = Instant::now();
        let answer = self
            .client
            .post(url)
            .timeout(self.timeout)
            .bearer_auth(token)
            .header(header::ACCEPT, "application/json")
            .send()
            .await;
        super::outcome::upstream_call("token_exchange", "POST exchange", &answer, started);
        let answer = answer.map_err(|_| JwtError::Unavailable(WHAT))?;
        let status = answer.status().as_u16();
        let subject_token = answer
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = answer
            .bytes()
            .await
            .map_err(|_| JwtError::Unavailable(WHAT))?;
        match status {
            200 | 201 => {}
            401 | 403 => {
                return Err(JwtError::NoAccount(super::identity::error_message(&body)));
            }
            _ => return Err(JwtError::Unavailable(WHAT)),
        }
        if let Some(identity) = parse_access(&body) {
            let tenant = identity.tenant.clone();
            return Ok((identity, tenant));
        }
        let subject_token = subject_token
            .filter(|t| !t.is_empty())
            .ok_or(JwtError::Unavailable(WHAT))?;
        let v3: V3Answer =
            serde_json::from_slice(&body).map_err(|_| JwtError::Unavailable(WHAT))?;
        let identity = Identity {
            token: SecretToken::new(subject_token),
            user: v3.token.user.id,
            user_name: v3.token.user.name,
            projects: Vec::new(),
            tenant: None,
            expires: v3.token.expires_at.as_deref().and_then(parse_expiry),
        };
        Ok((identity, v3.token.project.map(|p| p.id)))
    }
}

#[derive(Deserialize)]
struct V3Answer {
    token: V3Token,
}

#[derive(Deserialize)]
struct V3Token {
    user: V3User,
    #[serde(default)]
    project: Option<V3Project>,
    #[serde(default)]
    expires_at: Option<String>,
}

#[derive(Deserialize)]
struct V3User {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct V3Project {
    id: String,
}

// --- JWKS -----------------------------------------------------------------

enum JwksSource {
    Url(String),
    Discovery(String),
}

#[derive(Default)]
struct JwksState {
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
}

/// The issuer's keys, fetched lazily and refreshed with a rate limit. The
/// mutex is held across a fetch: concurrent requests wait for one fetch
/// instead of each starting their own.
struct Jwks {
    source: JwksSource,
    client: reqwest::Client,
    timeout: Duration,
    max_age: Duration,
    refresh_interval: Duration,
    state: tokio::sync::Mutex<JwksState>,
}

impl Jwks {
    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Jwk, JwtError> {
        let mut state = self.state.lock().await;
        let stale = state
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.max_age);
        if stale {
            match self.fetch().await {
                Ok(keys) => {
                    *state = JwksState {
                        keys,
                        fetched_at: Some(Instant::now()),
                    }
                }
                Err(err) if state.keys.is_empty() => return Err(err),
                Err(_) => tracing::warn!(
                    filter = FILTER,
                    outcome = "jwks refresh failed",
                    reason = "keeping the old keys"
                ),
            }
        }
        if let Some(found) = find(&state.keys, kid, alg) {
            return Ok(found);
        }
        let may_refetch = !stale
            && state
                .fetched_at
                .is_none_or(|at| at.elapsed() >= self.refresh_interval);
        if may_refetch {
            let keys = self.fetch().await?;
            *state = JwksState {
                keys,
                fetched_at: Some(Instant::now()),
            };
            if let Some(found) = find(&state.keys, kid, alg) {
                return Ok(found);
            }
        }
        Err(JwtError::UnknownKey)
    }

    async fn fetch(&self) -> Result<Vec<Jwk>, JwtError> {
        const WHAT: &str = "identity provider";
        let url = match &self.source {
            JwksSource::Url(url) => url.clone(),
            JwksSource::Discovery(url) => {
                let doc: serde_json::Value = self.get_json(url).await?;
                doc.get("jwks_uri")
                    .and_then(|u| u.as_str())
                    .ok_or(JwtError::Unavailable(WHAT))?
                    .to_owned()
            }
        };
        let set = self.get_json(&url).await?;
        let keys = set
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or(JwtError::Unavailable(WHAT))?;
        // Lenient: one key we cannot read must not hide the others.
        Ok(keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect())
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, JwtError> {
        const WHAT: &str = "identity provider";
        let answer = self
            .client
            .get(url)
            .timeout(self.timeout)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|_| JwtError::Unavailable(WHAT))?;
        if !answer.status().is_success() {
            return Err(JwtError::Unavailable(WHAT));
        }
        answer.json().await.map_err(|_| JwtError::Unavailable(WHAT))
    }
}

/// The key for `kid` (or, without a kid, the only key fit for `alg`).
fn find(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Option<Jwk> {
    let fits = |k: &&Jwk| {
        k.common
            .key_algorithm
            .is_none_or(|a| a.to_string() == format!("{alg:?}"))
            && DecodingKey::from_jwk(k).is_ok()
    };
    match kid {
        Some(kid) => keys
            .iter()
            .filter(fits)
            .find(|k| k.common.key_id.as_deref() == Some(kid))
            .cloned(),
        None => {
            let mut usable = keys.iter().filter(fits);
            match (usable.next(), usable.next()) {
                (Some(only), None) => Some(only.clone()),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let client = reqwest::Client::new();
        for alg in ["HS256", "none", "rs256"] {
            let config = JwtAuthConfig {
                algorithms: vec![alg.into()],
                ..JwtAuthConfig::new("https://idp/", "snf")
            }
            .with_exchange_url("https://ks/v3/auth");
            assert!(
                matches!(
                    JwtAuthLayer::new(config, client.clone()),
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
        let client = reqwest::Client::new();
        let ok = JwtAuthConfig::new("https://idp.example.org/", "snf")
            .with_exchange_url("https://ks/v3/auth");
        assert!(JwtAuthLayer::new(ok.clone(), client.clone()).is_ok());
        let no_target = JwtAuthConfig::new("https://idp.example.org/", "snf");
        assert!(matches!(
            JwtAuthLayer::new(no_target, client.clone()),
            Err(AuthConfigError::Missing(_))
        ));
        let no_aud = JwtAuthConfig {
            audience: vec![],
            ..ok.clone()
        };
        assert!(matches!(
            JwtAuthLayer::new(no_aud, client.clone()),
            Err(AuthConfigError::Missing("audience"))
        ));
        let no_iss = JwtAuthConfig {
            issuer: None,
            ..ok.clone()
        };
        assert!(matches!(
            JwtAuthLayer::new(no_iss, client.clone()),
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
        assert!(JwtAuthLayer::new(parsed, client).is_ok());
    }
}
