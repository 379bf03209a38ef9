//! The issuer's JSON Web Key Set: fetched lazily (from `jwks_url`, or
//! the `jwks_uri` of the issuer's OIDC discovery document), kept for
//! `jwks_max_age`, refetched on an unknown `kid` at most once per
//! `jwks_refresh_interval`.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};

use super::FILTER;
use super::error::JwtError;
use crate::auth::upstream::{self, SharedUpstream};

/// Where the keys are.
pub(super) enum JwksSource {
    /// `jwks_url`.
    Url(String),
    /// The issuer's discovery document, naming its `jwks_uri`.
    Discovery(String),
}

#[derive(Default)]
pub(super) struct JwksState {
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
}

/// The issuer's keys, fetched lazily and refreshed with a rate limit. The
/// mutex is held across a fetch: concurrent requests wait for one fetch
/// instead of each starting their own.
pub(super) struct Jwks {
    pub(super) source: JwksSource,
    pub(super) upstream: SharedUpstream,
    pub(super) timeout: Duration,
    pub(super) max_age: Duration,
    pub(super) refresh_interval: Duration,
    pub(super) state: tokio::sync::Mutex<JwksState>,
}

impl Jwks {
    /// The key for `kid` (or the only one fit for `alg`), fetching or
    /// refetching the set as the rules above allow.
    pub(super) async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<Jwk, JwtError> {
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
        let request = upstream::get_json(url).map_err(|_| JwtError::Unavailable(WHAT))?;
        let answer = self
            .upstream
            .send(request, self.timeout)
            .await
            .map_err(|_| JwtError::Unavailable(WHAT))?;
        if !answer.status().is_success() {
            return Err(JwtError::Unavailable(WHAT));
        }
        serde_json::from_slice(answer.body()).map_err(|_| JwtError::Unavailable(WHAT))
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
