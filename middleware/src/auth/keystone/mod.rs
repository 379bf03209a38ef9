//! `keystone_auth`: Synnefo (Keystone v2.0-style) tokens, validated by a
//! [`TokenValidator`].
//!
//! - No `X-Auth-Token` (or the seed's `Auth-Token`): the request passes on;
//!   a 401 coming back (the app's "who are you?") gets
//!   `WWW-Authenticate: Keystone uri='<keystone_url>'`, which sends
//!   rOCCI-cli and pOCCI to Keystone (astavoms/Astakos) for a token.
//! - A token is validated by the [`TokenValidator`] the filter was built
//!   with: snf-occi's pipeline hands it the Synnefo client the OCCI app
//!   uses (Astakos `POST <identity_url>/tokens`); an embedder without one
//!   can use [`AstakosTokens`], the same call over an
//!   [`Upstream`](super::Upstream). The project is the request's
//!   `X-Snf-Project` or `X-Project-Id`, else the first of the user's
//!   projects that is not the user's own, else the user's own (as the
//!   original snf-occi did).
//! - Astakos says no (400/401/403): 401 naming the reason; Astakos
//!   down, slow, misaddressed (404), 5xx or unreadable: 503.
//! - Validations are cached by SHA-256 of the token for `cache_ttl` or
//!   until the token expires; concurrent first requests share one
//!   validation; a 401 from the app (Cyclades rejected the token) evicts
//!   the entry at once.
//!
//! # Configuration (`[filter.NAME]`, `use = "keystone_auth"`)
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `keystone_url` | (factory: the identity URL without `/v2.0` and without a trailing `/`) | sent verbatim in `WWW-Authenticate: Keystone uri='...'`: where clients get tokens (Astakos, astavoms, or the gateway's Keystone facade). pOCCI and IM both append `/v2.0/tokens` to it (IM after stripping a `/v2.0` or `/v3` suffix, pOCCI after adding a missing `/`), so give the version-less base with no trailing `/` |
//! | `cache_ttl` | `"5m"` | longest a validation is reused |
//! | `cache_capacity` | `10000` | most tokens remembered |
//!
//! Where tokens are validated (the identity URL) and the timeout of that
//! call belong to the validator: in snf-occi, the `[synnefo]` table.
//!
//! # Example
//!
//! ```
//! use snf_occi_middleware::auth::{AstakosTokens, AuthLayer, KeystoneAuthConfig};
//! use snf_occi_middleware::{HttpRequest, HttpResponse};
//! use snf_occi_types::AuthContext;
//! use tower::ServiceBuilder;
//!
//! let identity = "http://127.0.0.1:8890/identity/v2.0";
//! let astakos = AstakosTokens::new(identity, reqwest::Client::new()).unwrap();
//! let config = KeystoneAuthConfig::default().with_keystone_url("http://127.0.0.1:8890/identity");
//! let layer = AuthLayer::keystone(config, astakos).unwrap();
//! let app = ServiceBuilder::new().layer(layer).service_fn(|req: HttpRequest| async move {
//!     let user = req.extensions().get::<AuthContext>().map(|a| a.user.to_string());
//!     Ok::<_, std::convert::Infallible>(HttpResponse::new(user.unwrap_or_default().into()))
//! });
//! # drop(app);
//! ```

mod astakos;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

pub use astakos::AstakosTokens;

use super::identity::Identity;
use super::layer::{AuthFailure, AuthLayer, CachePolicy, Verifier};
use super::{AuthConfigError, keystone_base, keystone_challenge, parse_url, project_header};
use crate::HttpRequest;
use snf_occi_types::{AuthContext, SecretToken};

const FILTER: &str = "keystone_auth";

/// Configuration of `keystone_auth` (see the module docs for the keys).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeystoneAuthConfig {
    /// The URL advertised in `WWW-Authenticate`.
    pub keystone_url: Option<String>,
    /// Longest a validation is reused.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Most tokens remembered.
    pub cache_capacity: u64,
}

impl Default for KeystoneAuthConfig {
    fn default() -> Self {
        KeystoneAuthConfig {
            keystone_url: None,
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
        }
    }
}

impl KeystoneAuthConfig {
    /// Sets `keystone_url`, the URL sent in the 401 challenge.
    pub fn with_keystone_url(mut self, url: impl Into<String>) -> Self {
        self.keystone_url = Some(url.into());
        self
    }

    /// Sets `keystone_url` to the Keystone base of `identity_url` (the
    /// Astakos identity v2.0 URL without `/v2.0` and without a trailing
    /// `/`, the one form every client joins correctly) when the
    /// configuration left it out.
    pub fn or_keystone_url_of(mut self, identity_url: &str) -> Result<Self, AuthConfigError> {
        if self.keystone_url.is_none() {
            let identity = parse_url("identity_url", identity_url)?;
            self.keystone_url = Some(keystone_base(&identity));
        }
        Ok(self)
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

impl AuthFailure for KeystoneError {
    fn status(&self) -> StatusCode {
        match self {
            KeystoneError::MalformedToken | KeystoneError::Rejected(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            KeystoneError::MalformedToken => "malformed",
            KeystoneError::Rejected(_) => "rejected_by_identity",
            KeystoneError::Unreachable => "identity_unreachable",
            KeystoneError::Upstream(_) => "identity_failed",
            KeystoneError::BadAnswer => "identity_bad_answer",
        }
    }
}

/// Who a token belongs to, asked of the identity service that issued it.
///
/// The layer crate knows no Synnefo client: whoever builds the filter
/// supplies the validation (snf-occi: its shared Synnefo client; an
/// embedder: [`AstakosTokens`], or a closure). A rejected token is
/// [`KeystoneError::Rejected`] (401), an identity service that failed any
/// other error (503).
pub trait TokenValidator: Send + Sync + 'static {
    /// Validates `token`.
    fn validate(&self, token: SecretToken) -> BoxFuture<'static, Result<Identity, KeystoneError>>;
}

impl<F> TokenValidator for F
where
    F: Fn(SecretToken) -> BoxFuture<'static, Result<Identity, KeystoneError>>
        + Send
        + Sync
        + 'static,
{
    fn validate(&self, token: SecretToken) -> BoxFuture<'static, Result<Identity, KeystoneError>> {
        self(token)
    }
}

/// The [`Verifier`] of `keystone_auth`.
pub struct KeystoneVerifier {
    challenge: HeaderValue,
    cache: CachePolicy,
    validator: Arc<dyn TokenValidator>,
}

impl KeystoneVerifier {
    /// Builds the verifier; fails when `keystone_url` is missing or
    /// unusable, or the cache can hold nothing.
    pub fn new(
        config: KeystoneAuthConfig,
        validator: impl TokenValidator,
    ) -> Result<Self, AuthConfigError> {
        let keystone_url = config
            .keystone_url
            .as_deref()
            .ok_or(AuthConfigError::Missing("keystone_url"))?;
        parse_url("keystone_url", keystone_url)?;
        if config.cache_capacity == 0 {
            return Err(AuthConfigError::Invalid {
                key: "cache_capacity",
                reason: "must be at least 1".into(),
            });
        }
        Ok(KeystoneVerifier {
            challenge: keystone_challenge("keystone_url", keystone_url)?,
            cache: CachePolicy {
                capacity: config.cache_capacity,
                ttl: config.cache_ttl,
            },
            validator: Arc::new(validator),
        })
    }
}

/// `keystone_auth`'s layer.
pub type KeystoneAuthLayer = AuthLayer<KeystoneVerifier>;
/// `keystone_auth`'s service.
pub type KeystoneAuth<S> = super::Auth<S, KeystoneVerifier>;

impl AuthLayer<KeystoneVerifier> {
    /// `keystone_auth` with `config`, validating tokens with `validator`.
    pub fn keystone(
        config: KeystoneAuthConfig,
        validator: impl TokenValidator,
    ) -> Result<Self, AuthConfigError> {
        Ok(AuthLayer::new(KeystoneVerifier::new(config, validator)?))
    }
}

/// The token a request carries, if any: `X-Auth-Token`, else `Auth-Token`.
fn token_header(headers: &HeaderMap) -> Option<&HeaderValue> {
    // Names parsed once, not on every lookup.
    const X_AUTH_TOKEN: HeaderName = HeaderName::from_static("x-auth-token");
    const AUTH_TOKEN: HeaderName = HeaderName::from_static("auth-token");
    headers
        .get(X_AUTH_TOKEN)
        .or_else(|| headers.get(AUTH_TOKEN))
}

/// A token is printable ASCII without spaces; anything else is refused
/// before it reaches Astakos (or a log line).
fn well_formed(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?.trim();
    (!text.is_empty() && text.len() <= 4096 && text.bytes().all(|b| b.is_ascii_graphic()))
        .then_some(text)
}

impl Verifier for KeystoneVerifier {
    type Credential = SecretToken;
    type Login = Identity;
    type Error = KeystoneError;

    fn name(&self) -> &'static str {
        FILTER
    }

    fn challenge(&self) -> &HeaderValue {
        &self.challenge
    }

    fn cache_policy(&self) -> CachePolicy {
        self.cache
    }

    fn credential(&self, request: &HttpRequest) -> Option<Result<SecretToken, KeystoneError>> {
        let value = token_header(request.headers())?;
        Some(
            well_formed(value)
                .map(SecretToken::new)
                .ok_or(KeystoneError::MalformedToken),
        )
    }

    fn key_material<'a>(&self, token: &'a SecretToken) -> &'a [u8] {
        token.expose().as_bytes()
    }

    // Lazy (an async fn): the cache polls it only on a miss, so a hit
    // costs no validator call and no allocation.
    async fn verify(&self, token: &SecretToken) -> Result<Identity, KeystoneError> {
        self.validator.validate(token.clone()).await
    }

    fn context(&self, identity: &Identity, headers: &HeaderMap) -> AuthContext {
        let project = project_header(headers).unwrap_or_else(|| identity.default_project());
        identity.context(project, identity.expires, FILTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never() -> impl TokenValidator {
        |_token: SecretToken| -> BoxFuture<'static, Result<Identity, KeystoneError>> {
            Box::pin(async { Err(KeystoneError::Unreachable) })
        }
    }

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
            let cfg = KeystoneAuthConfig::default()
                .or_keystone_url_of(identity)
                .unwrap();
            let verifier = KeystoneVerifier::new(cfg, never()).unwrap();
            assert_eq!(
                verifier.challenge, "Keystone uri='http://h:1/identity'",
                "{identity}"
            );
        }
        let cfg = KeystoneAuthConfig::default()
            .with_keystone_url("https://k:5000")
            .or_keystone_url_of("http://h:1/identity/v2.0")
            .unwrap();
        let verifier = KeystoneVerifier::new(cfg, never()).unwrap();
        assert_eq!(
            verifier.challenge, "Keystone uri='https://k:5000'",
            "exactly as configured"
        );
    }

    #[test]
    fn config_errors() {
        assert!(matches!(
            KeystoneVerifier::new(KeystoneAuthConfig::default(), never()),
            Err(AuthConfigError::Missing("keystone_url"))
        ));
        assert!(matches!(
            KeystoneAuthConfig::default().or_keystone_url_of("ftp://x/"),
            Err(AuthConfigError::BadUrl { .. })
        ));
        let cfg = KeystoneAuthConfig::default().with_keystone_url("http://x/it's");
        assert!(KeystoneVerifier::new(cfg, never()).is_err());
        let cfg = KeystoneAuthConfig {
            cache_capacity: 0,
            ..KeystoneAuthConfig::default().with_keystone_url("http://x/")
        };
        assert!(matches!(
            KeystoneVerifier::new(cfg, never()),
            Err(AuthConfigError::Invalid {
                key: "cache_capacity",
                ..
            })
        ));
        let toml_like: KeystoneAuthConfig =
            serde_json::from_str(r#"{"keystone_url": "http://a/", "cache_ttl": "90s"}"#).unwrap();
        assert_eq!(toml_like.cache_ttl, Duration::from_secs(90));
        // Where tokens are validated is the validator's business now.
        assert!(
            serde_json::from_str::<KeystoneAuthConfig>(r#"{"identity_url": "http://a/"}"#).is_err()
        );
    }
}
