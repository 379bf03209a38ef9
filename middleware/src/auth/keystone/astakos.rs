//! [`AstakosTokens`]: a [`TokenValidator`] that asks Astakos itself, over
//! any [`Upstream`], for embedders that have no Synnefo client of their
//! own (snf-occi's pipeline validates through its shared Synnefo client
//! instead).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{KeystoneError, TokenValidator};
use crate::auth::identity::{Identity, error_message, parse_access};
use crate::auth::upstream::{self, SharedUpstream, Upstream};
use crate::auth::{AuthConfigError, join_url, parse_url};
use snf_occi_types::SecretToken;

/// Validates tokens with Astakos `POST <identity_url>/tokens
/// {"auth": {"token": {"id": T}}}`, each call within `timeout` (10 s
/// unless [`AstakosTokens::with_timeout`] says otherwise).
#[derive(Clone)]
pub struct AstakosTokens {
    tokens_url: Arc<str>,
    timeout: Duration,
    upstream: SharedUpstream,
}

impl AstakosTokens {
    /// Astakos at `identity_url` (its identity v2.0 base, e.g.
    /// `https://accounts.example.org/identity/v2.0`), called through
    /// `upstream`.
    pub fn new(identity_url: &str, upstream: impl Upstream) -> Result<Self, AuthConfigError> {
        let identity = parse_url("identity_url", identity_url)?;
        Ok(AstakosTokens {
            tokens_url: join_url(&identity, "tokens").into(),
            timeout: Duration::from_secs(10),
            upstream: Arc::new(upstream),
        })
    }

    /// The same validator, with `timeout` per Astakos call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL tokens are posted to.
    pub fn tokens_url(&self) -> &str {
        &self.tokens_url
    }
}

impl TokenValidator for AstakosTokens {
    fn validate(&self, token: SecretToken) -> BoxFuture<'static, Result<Identity, KeystoneError>> {
        let this = self.clone();
        Box::pin(async move {
            let body = serde_json::json!({ "auth": { "token": { "id": token.expose() } } });
            let request = upstream::post_json(&this.tokens_url, Some(&body), [])
                .map_err(|_| KeystoneError::Unreachable)?;
            let answer = upstream::call(
                &*this.upstream,
                "identity",
                "POST /tokens",
                request,
                this.timeout,
            )
            .await
            .map_err(|_| KeystoneError::Unreachable)?;
            let body = answer.body();
            match answer.status().as_u16() {
                // Astakos answers with the token it was asked about; if it
                // hands back another one, that is what Cyclades will accept.
                200..=299 => parse_access(body).ok_or(KeystoneError::BadAnswer),
                // 404 is not the token's fault: the identity URL is wrong.
                400 | 401 | 403 => Err(KeystoneError::Rejected(error_message(body))),
                other => Err(KeystoneError::Upstream(other)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_posted_under_the_identity_url() {
        let never = |_: http::Request<bytes::Bytes>,
                     _: Duration|
         -> BoxFuture<
            'static,
            Result<http::Response<bytes::Bytes>, upstream::UpstreamError>,
        > { Box::pin(async { Err(upstream::UpstreamError::Unreachable) }) };
        for identity in ["http://h:1/identity/v2.0", "http://h:1/identity/v2.0/"] {
            let astakos = AstakosTokens::new(identity, never).unwrap();
            assert_eq!(astakos.tokens_url(), "http://h:1/identity/v2.0/tokens");
        }
        assert!(matches!(
            AstakosTokens::new("ftp://x/", never),
            Err(AuthConfigError::BadUrl { .. })
        ));
    }
}
