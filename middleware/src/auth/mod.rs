//! Authentication filters: each sets [`snf_occi_types::AuthContext`].
//!
//! One layer, [`AuthLayer`] + [`Auth`], generic over a [`Verifier`]: one
//! verifier per way a user logs in, plus the rustls client certificate
//! verifier the VOMS login needs when clients talk TLS to us directly:
//!
//! | filter (pipeline name) | layer | verifier | credential |
//! |---|---|---|---|
//! | `keystone_auth` | [`KeystoneAuthLayer`] | [`KeystoneVerifier`] | `X-Auth-Token` / `Auth-Token`, validated by a [`TokenValidator`] (Astakos) |
//! | `voms_exchange` | [`VomsExchangeLayer`] | [`VomsVerifier`] | an X.509 VOMS proxy chain, exchanged at astavoms |
//! | `jwt_auth` | [`JwtAuthLayer`] | [`JwtVerifier`] | `Authorization: Bearer <OIDC JWT>` |
//! | (TLS server) | [`ProxyClientCertVerifier`] | | accepts RFC 3820 proxy chains in the handshake |
//!
//! The layer owns what every method shares ([`layer`]); a verifier only
//! finds, checks and maps its credential. The modules import downwards
//! only: `layer` knows the [`Verifier`] and [`AuthFailure`] traits, each
//! verifier implements them, and nothing here imports a verifier back.
//!
//! # The contract every filter keeps
//!
//! - A request that already carries an [`AuthContext`](snf_occi_types::AuthContext)
//!   passes through untouched, and so does one without this filter's kind
//!   of credential: filters chain, the first that finds its credential
//!   decides.
//! - A *present but bad* credential is answered by the filter itself: 401,
//!   the filter's `WWW-Authenticate` challenge and a one-line OCCI error
//!   body in the negotiated rendering naming the reason (expired,
//!   malformed chain, unknown key...), never the credential.
//! - An identity service that is down or answers nonsense gives 503: the
//!   client did nothing wrong and may retry.
//! - On the way out, a 401 without a `WWW-Authenticate` header (the app's
//!   "no AuthContext" answer, on any method, HEAD included) gets this
//!   filter's challenge, so clients always learn where to log in.
//! - Only one challenge is ever sent (rOCCI-cli matches the whole header
//!   against `^(Keystone|snf-auth) uri=...$`, so two would break it): the
//!   innermost auth filter's wins. List `keystone_auth` last among the
//!   auth filters when OCCI clients should be sent to Keystone.
//! - Validations are cached (`snf_occi_types::cache`), keyed by SHA-256
//!   of the credential, for at most the credential's own lifetime and the
//!   configured TTL, so one user's login is never another's.
//! - Logs carry the filter name and the outcome only (`tracing`, target
//!   `snf_occi_middleware::auth::*`), never a token, certificate or DN.
//!
//! # No HTTP stack of its own
//!
//! The filters call identity services through what the pipeline hands
//! them: a [`TokenValidator`] for Keystone tokens (snf-occi: its shared
//! Synnefo client) and an [`Upstream`] for astavoms and OIDC providers
//! (snf-occi: the transport of its Synnefo calls). [`AstakosTokens`] and
//! the `Upstream` of a `reqwest::Client` (the `reqwest` feature) serve
//! embedders that have neither.
//!
//! Each filter is built with `AuthLayer::keystone/voms/jwt(config, ...)`
//! (or `AuthLayer::new(verifier)`), which checks the configuration and
//! returns [`AuthConfigError`] naming the key. Each configuration type
//! (`KeystoneAuthConfig`, `VomsExchangeConfig`, `JwtAuthConfig`)
//! deserializes from the filter's `[filter.NAME]` table
//! (`deny_unknown_fields`, durations in humantime: `"5m"`, `"30s"`);
//! their module docs list every key.

mod asn1;
mod cache;
pub mod client_verifier;
mod identity;
pub mod jwt;
pub mod keystone;
pub mod layer;
mod outcome;
pub mod proxy_chain;
mod trusted;
pub mod upstream;
pub mod voms;
pub mod voms_ac;

use http::HeaderValue;

pub use cache::Expiring;
pub use client_verifier::{ClientAuth, ProxyClientCertVerifier, VerifierError};
pub use identity::Identity;
pub use jwt::{JwtAuth, JwtAuthConfig, JwtAuthLayer, JwtError, JwtVerifier};
pub use keystone::{
    AstakosTokens, KeystoneAuth, KeystoneAuthConfig, KeystoneAuthLayer, KeystoneError,
    KeystoneVerifier, TokenValidator,
};
pub use layer::{Auth, AuthFailure, AuthFuture, AuthLayer, CachePolicy, Verifier};
pub use upstream::{SharedUpstream, Upstream, UpstreamError};
pub use voms::{
    LimitedProxies, VomsError, VomsExchange, VomsExchangeConfig, VomsExchangeLayer, VomsVerifier,
};

/// A filter configuration that cannot work; the pipeline stops at start-up
/// with it.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// A URL the filter needs is neither configured nor defaulted.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// A configured URL does not parse or is not http(s).
    #[error("`{key}` is not a usable http(s) URL: {reason}")]
    BadUrl {
        /// The configuration key.
        key: &'static str,
        /// Why.
        reason: String,
    },
    /// A value cannot be sent in an HTTP header (e.g. a quote in the
    /// `WWW-Authenticate` URL).
    #[error("`{0}` cannot be sent in an HTTP header")]
    NotAHeaderValue(&'static str),
    /// A trusted address is neither an IP address nor a CIDR.
    #[error("`trusted_proxies`: {0:?} is neither an IP address nor a CIDR block")]
    BadAddress(String),
    /// A file named in the configuration cannot be read.
    #[error("cannot read `{key}` ({path}): {reason}")]
    File {
        /// The configuration key.
        key: &'static str,
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Any other invalid value.
    #[error("`{key}`: {reason}")]
    Invalid {
        /// The configuration key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// Parses an http(s) URL from the configuration.
pub(crate) fn parse_url(key: &'static str, text: &str) -> Result<url::Url, AuthConfigError> {
    let url = url::Url::parse(text).map_err(|e| AuthConfigError::BadUrl {
        key,
        reason: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AuthConfigError::BadUrl {
            key,
            reason: "the scheme must be http or https".into(),
        });
    }
    Ok(url)
}

/// `base` + `/` + `tail`, whether or not `base` ends with a slash.
pub(crate) fn join_url(base: &url::Url, tail: &str) -> String {
    format!(
        "{}/{}",
        base.as_str().trim_end_matches('/'),
        tail.trim_start_matches('/')
    )
}

/// The Keystone base a client should be sent to, derived from a v2.0 URL
/// when `keystone_url` is not configured: without the `/v2.0` suffix and
/// without a trailing slash, the one form every client joins correctly:
/// - pOCCI 1.0.3 (`transport.py` `auth_keystone`) adds a `/` when the
///   URI has none, then `v2.0/tokens` (a `/v2.0` URI would give
///   `/v2.0/v2.0/tokens`);
/// - IM 1.19.1 (`connectors/OCCI.py` `KeyStoneAuth.get_keystone_uri`)
///   strips a trailing `/v2.0` or `/v3` and appends `/v2.0/tokens` (a
///   trailing `/` gives `identity//v2.0/tokens`, which Astakos answers
///   400);
/// - rOCCI-api (`authn_plugins/keystone.rb`) GETs the URI for its version
///   document and posts to the `self` link it names, so it needs a base
///   that answers one (astavoms' `/` does, with 300; Astakos answers its
///   versions at `/identity/` only, so rOCCI-cli against Astakos itself
///   needs `keystone_url` set to `.../identity/v2.0`, which pOCCI cannot
///   use).
pub(crate) fn keystone_base(url: &url::Url) -> String {
    let text = url.as_str().trim_end_matches('/');
    text.strip_suffix("/v2.0").unwrap_or(text).to_owned()
}

/// The `WWW-Authenticate` value rOCCI-cli, pOCCI and IM understand:
/// `Keystone uri='<url>'`, single quotes, the URL exactly as configured.
pub(crate) fn keystone_challenge(
    key: &'static str,
    url: &str,
) -> Result<HeaderValue, AuthConfigError> {
    if url.contains('\'') {
        return Err(AuthConfigError::NotAHeaderValue(key));
    }
    HeaderValue::from_str(&format!("Keystone uri='{url}'"))
        .map_err(|_| AuthConfigError::NotAHeaderValue(key))
}

/// The project the client asked for, if any: `X-Snf-Project`, else
/// `X-Project-Id` (the original's headers).
pub(crate) fn project_header(headers: &http::HeaderMap) -> Option<std::sync::Arc<str>> {
    ["x-snf-project", "x-project-id"].iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| value.into())
    })
}
