//! `keystone_auth`: Synnefo (Keystone v2.0-style) tokens validated at Astakos.
//!
//! - No `X-Auth-Token` (or the seed's `Auth-Token`): the request passes on;
//!   a 401 coming back (the app's "who are you?") gets
//!   `WWW-Authenticate: Keystone uri='<keystone_url>'`, which sends
//!   rOCCI-cli and pOCCI to Keystone (astavoms/Astakos) for a token.
//! - A token is validated with Astakos `POST <identity_url>/tokens`
//!   `{"auth": {"token": {"id": T}}}`; the project is the request's
//!   `X-Snf-Project` or `X-Project-Id`, else the first of the user's
//!   projects that is not the user's own, else the user's own (as the
//!   original snf-occi did).
//! - Astakos says no (400/401/403): 401 naming the reason; Astakos
//!   down, slow, misaddressed (404), 5xx or unreadable: 503.
//! - Validations are cached by SHA-256 of the token for `cache_ttl` or
//!   until the token expires; concurrent first requests share one Astakos
//!   call; a 401 from the app (Cyclades rejected the token) evicts the
//!   entry at once.
//!
//! # Configuration (`[filter.NAME]`, `use = "keystone_auth"`)
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `identity_url` | (factory: the embedded simulator) | Astakos identity v2.0 base, e.g. `https://accounts.example.org/identity/v2.0`; we POST `<identity_url>/tokens` |
//! | `keystone_url` | `identity_url` without `/v2.0` and without a trailing `/` | sent verbatim in `WWW-Authenticate: Keystone uri='...'`: where clients get tokens (Astakos or astavoms). pOCCI and IM both append `/v2.0/tokens` to it (IM after stripping a `/v2.0` or `/v3` suffix, pOCCI after adding a missing `/`), so give the version-less base with no trailing `/` |
//! | `cache_ttl` | `"5m"` | longest a validation is reused |
//! | `cache_capacity` | `10000` | most tokens remembered |
//! | `timeout` | `"10s"` | per Astakos call |
//!
//! # Example
//!
//! ```
//! use snf_occi_middleware::auth::{KeystoneAuthConfig, KeystoneAuthLayer};
//! use snf_occi_middleware::{HttpRequest, HttpResponse};
//! use snf_occi_types::AuthContext;
//! use tower::ServiceBuilder;
//!
//! let config = KeystoneAuthConfig::default()
//!     .with_identity_url("http://127.0.0.1:8890/identity/v2.0");
//! let layer = KeystoneAuthLayer::new(config, reqwest::Client::new()).unwrap();
//! let app = ServiceBuilder::new().layer(layer).service_fn(|req: HttpRequest| async move {
//!     let user = req.extensions().get::<AuthContext>().map(|a| a.user.clone());
//!     Ok::<_, std::convert::Infallible>(HttpResponse::new(user.unwrap_or_default().into()))
//! });
//! # drop(app);
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use tower::{Layer, Service};

use super::cache::{AuthCache, CacheKey, cache_key};
use super::identity::{Identity, error_message, parse_access};
use super::{
    AuthConfigError, AuthFuture, add_challenge, call_authenticated, join_url, keystone_base,
    keystone_challenge, parse_url, project_header, ready, reject,
};
use crate::{HttpRequest, HttpResponse};
use snf_occi_types::AuthContext;

const FILTER: &str = "keystone_auth";

/// Configuration of `keystone_auth` (see the module docs for the keys).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeystoneAuthConfig {
    /// Astakos identity v2.0 base URL; tokens are validated at `<it>/tokens`.
    pub identity_url: Option<String>,
    /// The URL advertised in `WWW-Authenticate` (default: `identity_url`
    /// without `/v2.0`, ending in `/`).
    pub keystone_url: Option<String>,
    /// Longest a validation is reused.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Most tokens remembered.
    pub cache_capacity: u64,
    /// Timeout of one Astakos call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for KeystoneAuthConfig {
    fn default() -> Self {
        KeystoneAuthConfig {
            identity_url: None,
            keystone_url: None,
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
            timeout: Duration::from_secs(10),
        }
    }
}

impl KeystoneAuthConfig {
    /// Sets `identity_url` (the pipeline factory defaults it to the
    /// embedded simulator's Astakos).
    pub fn with_identity_url(mut self, url: impl Into<String>) -> Self {
        self.identity_url = Some(url.into());
        self
    }

    /// Sets `identity_url` only if the configuration left it out.
    pub fn or_identity_url(mut self, url: impl Into<String>) -> Self {
        if self.identity_url.is_none() {
            self.identity_url = Some(url.into());
        }
        self
    }

    /// Sets `keystone_url`, the URL sent in the 401 challenge.
    pub fn with_keystone_url(mut self, url: impl Into<String>) -> Self {
        self.keystone_url = Some(url.into());
        self
    }
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeystoneError {
    /// The header holds something that cannot be a token.
    #[error("the X-Auth-Token header is not a well-formed token")]
    MalformedToken,
    /// Astakos rejected the token.
    #[error("the token is invalid or expired{}", .0.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Rejected(Option<String>),
    /// Astakos could not be reached (or timed out).
    #[error("the identity service is unreachable")]
    Unreachable,
    /// Astakos failed (5xx or another unexpected status).
    #[error("the identity service failed with status {0}")]
    Upstream(u16),
    /// Astakos answered 200 with something that is not a token answer.
    #[error("the identity service answered unreadable data")]
    BadAnswer,
}

impl KeystoneError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            KeystoneError::MalformedToken | KeystoneError::Rejected(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Applies [`KeystoneAuth`] to a service.
#[derive(Clone)]
pub struct KeystoneAuthLayer {
    shared: Arc<Shared>,
}

struct Shared {
    tokens_url: String,
    challenge: HeaderValue,
    timeout: Duration,
    client: reqwest::Client,
    cache: AuthCache<Identity>,
}

impl KeystoneAuthLayer {
    /// Builds the filter; fails when `identity_url` is missing or a URL is
    /// unusable.
    pub fn new(
        config: KeystoneAuthConfig,
        client: reqwest::Client,
    ) -> Result<Self, AuthConfigError> {
        let identity = config
            .identity_url
            .as_deref()
            .ok_or(AuthConfigError::Missing("identity_url"))?;
        let identity = parse_url("identity_url", identity)?;
        let keystone_url = match config.keystone_url.as_deref() {
            Some(url) => {
                parse_url("keystone_url", url)?;
                url.to_owned()
            }
            None => keystone_base(&identity),
        };
        if config.cache_capacity == 0 {
            return Err(AuthConfigError::Invalid {
                key: "cache_capacity",
                reason: "must be at least 1".into(),
            });
        }
        Ok(KeystoneAuthLayer {
            shared: Arc::new(Shared {
                tokens_url: join_url(&identity, "tokens"),
                challenge: keystone_challenge("keystone_url", &keystone_url)?,
                timeout: config.timeout,
                client,
                cache: AuthCache::new(config.cache_capacity, config.cache_ttl).named(FILTER),
            }),
        })
    }
}

impl<S> Layer<S> for KeystoneAuthLayer {
    type Service = KeystoneAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        KeystoneAuth {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Authenticates requests that carry a Synnefo token (see the module docs).
#[derive(Clone)]
pub struct KeystoneAuth<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// The token a request carries, if any: `X-Auth-Token`, else `Auth-Token`.
fn token_header(headers: &HeaderMap) -> Option<&HeaderValue> {
    headers
        .get("x-auth-token")
        .or_else(|| headers.get("auth-token"))
}

/// A token is printable ASCII without spaces; anything else is refused
/// before it reaches Astakos (or a log line).
fn well_formed(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?.trim();
    (!text.is_empty() && text.len() <= 4096 && text.bytes().all(|b| b.is_ascii_graphic()))
        .then_some(text)
}

impl<S> Service<HttpRequest> for KeystoneAuth<S>
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
            token_header(request.headers()).cloned()
        };
        let Some(token) = token else {
            return Box::pin(async move {
                let mut response = inner.call(request).await?;
                add_challenge(&mut response, &shared.challenge);
                Ok(response)
            });
        };
        let Some(token) = well_formed(&token).map(str::to_owned) else {
            tracing::info!(
                filter = FILTER,
                outcome = "rejected",
                reason = "malformed token"
            );
            let err = KeystoneError::MalformedToken;
            super::outcome::record(FILTER, "rejected", err.reason());
            return ready(reject(
                &request,
                err.status(),
                Some(&shared.challenge),
                &err.to_string(),
            ));
        };

        Box::pin(async move {
            let key: CacheKey = cache_key(token.as_bytes());
            let validation = shared
                .cache
                .get_or_try_insert(key, shared.validate(&token))
                .await;
            let (identity, fresh) = match validation {
                Ok(found) => found,
                Err(err) => {
                    tracing::info!(filter = FILTER, outcome = "rejected", reason = %err);
                    super::outcome::record(FILTER, "rejected", err.reason());
                    let challenge =
                        (err.status() == StatusCode::UNAUTHORIZED).then_some(&shared.challenge);
                    return Ok(reject(&request, err.status(), challenge, &err.to_string()));
                }
            };
            tracing::debug!(filter = FILTER, outcome = "authenticated", cached = !fresh);
            super::outcome::record(
                FILTER,
                "accepted",
                if fresh { "validated" } else { "cached" },
            );
            let project =
                project_header(request.headers()).unwrap_or_else(|| identity.default_project());
            let context = identity.context(project, identity.expires, FILTER);
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
    /// One Astakos round trip: `POST <identity>/tokens {"auth": {"token": {"id": T}}}`.
    async fn validate(&self, token: &str) -> Result<Identity, KeystoneError> {
        let body = serde_json::json!({ "auth": { "token": { "id": token } } });
        let started = std::time::Instant::now();
        let answer = self
            .client
            .post(&self.tokens_url)
            .timeout(self.timeout)
            .header(http::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await;
        super::outcome::upstream_call("identity", "POST /tokens", &answer, started);
        let answer = answer.map_err(|_| KeystoneError::Unreachable)?;
        let status = answer.status();
        let bytes = answer
            .bytes()
            .await
            .map_err(|_| KeystoneError::Unreachable)?;
        match status.as_u16() {
            200..=299 => {
                let identity = parse_access(&bytes).ok_or(KeystoneError::BadAnswer)?;
                // Astakos answers with the token it was asked about; if it
                // hands back another one, that is what Cyclades will accept.
                Ok(identity)
            }
            // 404 is not the token's fault: the identity URL is wrong.
            400 | 401 | 403 => Err(KeystoneError::Rejected(error_message(&bytes))),
            other => Err(KeystoneError::Upstream(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let mut h = HeaderMap::new();
        assert!(token_header(&h).is_none());
        h.insert("auth-token", HeaderValue::from_static("b"));
        assert_eq!(token_header(&h).unwrap(), "b");
        h.insert("x-auth-token", HeaderValue::from_static("a"));
        assert_eq!(token_header(&h).unwrap(), "a");
        assert_eq!(project_header(&h), None);
        h.insert("x-project-id", HeaderValue::from_static("p2"));
        assert_eq!(project_header(&h).as_deref(), Some("p2"));
        h.insert("x-snf-project", HeaderValue::from_static("p1"));
        assert_eq!(project_header(&h).as_deref(), Some("p1"));
        h.insert("x-snf-project", HeaderValue::from_static(""));
        assert_eq!(project_header(&h).as_deref(), Some("p2"));
    }

    #[test]
    fn malformed_tokens() {
        assert!(well_formed(&HeaderValue::from_static("abc-DEF_123=")).is_some());
        assert!(well_formed(&HeaderValue::from_static("")).is_none());
        assert!(well_formed(&HeaderValue::from_static("two words")).is_none());
        assert!(well_formed(&HeaderValue::from_bytes(b"\xff\xfe").unwrap()).is_none());
    }

    #[test]
    fn the_default_challenge_is_the_keystone_base() {
        for identity in [
            "http://h:1/identity/v2.0",
            "http://h:1/identity/v2.0/",
            "http://h:1/identity/",
        ] {
            let cfg = KeystoneAuthConfig::default().with_identity_url(identity);
            let layer = KeystoneAuthLayer::new(cfg, reqwest::Client::new()).unwrap();
            assert_eq!(
                layer.shared.challenge, "Keystone uri='http://h:1/identity'",
                "{identity}"
            );
        }
        let cfg = KeystoneAuthConfig::default()
            .with_identity_url("http://h:1/identity/v2.0")
            .with_keystone_url("https://k:5000");
        let layer = KeystoneAuthLayer::new(cfg, reqwest::Client::new()).unwrap();
        assert_eq!(
            layer.shared.challenge, "Keystone uri='https://k:5000'",
            "exactly as configured"
        );
        assert_eq!(layer.shared.tokens_url, "http://h:1/identity/v2.0/tokens");
    }

    #[test]
    fn config_errors() {
        let client = reqwest::Client::new();
        assert!(matches!(
            KeystoneAuthLayer::new(KeystoneAuthConfig::default(), client.clone()),
            Err(AuthConfigError::Missing("identity_url"))
        ));
        let cfg = KeystoneAuthConfig::default().with_identity_url("ftp://x/");
        assert!(matches!(
            KeystoneAuthLayer::new(cfg, client.clone()),
            Err(AuthConfigError::BadUrl { .. })
        ));
        let cfg = KeystoneAuthConfig::default()
            .with_identity_url("http://x/identity/v2.0")
            .with_keystone_url("http://x/it's");
        assert!(KeystoneAuthLayer::new(cfg, client.clone()).is_err());
        let toml_like: KeystoneAuthConfig =
            serde_json::from_str(r#"{"identity_url": "http://a/", "cache_ttl": "90s"}"#).unwrap();
        assert_eq!(toml_like.cache_ttl, Duration::from_secs(90));
        assert!(serde_json::from_str::<KeystoneAuthConfig>(r#"{"identity": "x"}"#).is_err());
    }
}
