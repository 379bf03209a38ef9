//! `voms_exchange`: X.509 VOMS proxies exchanged for Synnefo tokens at
//! astavoms.
//!
//! - The chain comes from the TLS connection ([`PeerCertificates`], which
//!   the server fills after [`ProxyClientCertVerifier`]
//!   accepted it) or, **only** when the peer address ([`RemoteAddr`]) is
//!   in `trusted_proxies`, from the headers a TLS front end forwards:
//!   `SSL_CLIENT_CERT` + `SSL_CLIENT_CERT_CHAIN_0..n` (or the
//!   `SSL-Client-Cert`, `SSL-Client-Cert-Chain-N` spelling; PEM with
//!   newlines flattened to spaces, or URL-escaped as nginx's
//!   `$ssl_client_escaped_cert`). Anyone else's such headers are ignored.
//!   A header present twice, or in both spellings, with different values
//!   is refused (401): a front end overwrites only its own spelling, so
//!   the other one came from the client.
//!   The TLS chain is trusted as the server's verifier left it, so serve
//!   TLS with [`ProxyClientCertVerifier`]
//!   (never with a verifier that accepts any certificate). Forwarded
//!   headers carry what the client sent, whatever the front end made of
//!   it, so they are verified here exactly as the TLS verifier does
//!   (proxies by [`inspect_chain`](super::proxy_chain::inspect_chain), the user certificate against the CAs
//!   of `client_ca_file`, which `trusted_proxies` requires); with
//!   `client_ca_file` set, TLS chains are verified again too.
//! - Only the verified part of a chain reaches astavoms: the proxies and
//!   the user certificate they lead to. Whatever a client appends after
//!   its user certificate (a path to the CA needs no more than the CA
//!   file has, and a self-signed certificate with somebody else's DN is
//!   no part of any path) is dropped, so astavoms cannot be shown it.
//! - The chain is checked with [`inspect_chain`](super::proxy_chain::inspect_chain) (RFC 3820 links,
//!   validity, proxy policy, VOMS AC); expired or malformed -> 401 naming
//!   the reason. Independent proxies (`id-ppl-independent`) and policies
//!   this server cannot interpret are refused; limited proxies (Globus'
//!   limited policy) are refused unless `limited_proxies = "accept"`.
//!   A chain without VOMS attributes is not this filter's credential: the
//!   request passes on (a token filter or the app's 401 handle it).
//! - With `vomsdir` and `voms_ca_file` set, the AC is also verified in
//!   process ([`VomsTrust`]) before anything is sent to astavoms.
//! - The exchange: `POST <astavoms_url>/v2.0/tokens` with
//!   `{"auth": {"voms": true}}` and the headers astavoms reads
//!   (`SSL-Client-S-DN`, `SSL-Client-Cert`, `SSL-Client-Cert-Chain-N`);
//!   200 and 202 are success, with a Keystone v2.0 `access` body whose
//!   `token.tenant.id` is the VO's project. 4xx -> 401 with astavoms'
//!   message; unreachable, misaddressed (404) or 5xx -> 503.
//! - Cached by SHA-256 of the leaf certificate until the token or the
//!   proxy expires (or `cache_ttl`); evicted when the app answers 401.
//!
//! # Configuration (`[filter.NAME]`, `use = "voms_exchange"`)
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `astavoms_url` | (factory: the embedded simulator's `/astavoms`) | astavoms base (without `/v2.0`; a trailing `/v2.0` is tolerated) |
//! | `keystone_url` | `astavoms_url` without `/v2.0`, no trailing `/` | URL in the `WWW-Authenticate: Keystone uri='...'` challenge (astavoms is where a proxy holder gets a token) |
//! | `trusted_proxies` | `[]` | addresses / CIDR blocks whose certificate headers are believed |
//! | `client_ca_file` | none (required with `trusted_proxies`) | PEM bundle of the CAs user certificates must chain to (the grid CAs, as `server.tls.client_ca`): forwarded chains are verified against it |
//! | `vomsdir` | none | `<vomsdir>/<vo>/*.lsc`: enables in-process AC verification (needs `voms_ca_file`) |
//! | `voms_ca_file` | none | PEM bundle of CAs that sign VOMS server certificates |
//! | `limited_proxies` | `"refuse"` | `"accept"` lets limited proxies (`voms-proxy-init -limited`) log in; they are meant for data access, and creating virtual machines is job submission |
//! | `cache_ttl` | `"1h"` | longest an exchange is reused |
//! | `cache_capacity` | `10000` | most proxies remembered |
//! | `timeout` | `"15s"` | per astavoms call |
//!
//! astavoms is called through the [`Upstream`] the
//! filter is built with (snf-occi: the transport of its Synnefo calls).
//!
//! # Example
//!
//! ```
//! use snf_occi_middleware::auth::{VomsExchangeConfig, VomsExchangeLayer};
//!
//! // Proxies over TLS, verified by the server's ProxyClientCertVerifier.
//! let config = VomsExchangeConfig::default()
//!     .with_astavoms_url("http://127.0.0.1:8890/astavoms");
//! let layer = VomsExchangeLayer::voms(config.clone(), reqwest::Client::new()).unwrap();
//! // Believing Apache front ends' certificate headers needs the CAs to
//! // verify what they forward.
//! let front_ends = config.trust_proxy("10.0.0.0/24");
//! assert!(VomsExchangeLayer::voms(front_ends.clone(), reqwest::Client::new()).is_err());
//! let front_ends = snf_occi_middleware::auth::VomsExchangeConfig {
//!     client_ca_file: Some("/etc/grid-security/ca-bundle.pem".into()),
//!     ..front_ends
//! };
//! # drop(front_ends);
//! let app = tower::ServiceBuilder::new().layer(layer).service(tower::service_fn(
//!     |_req: snf_occi_middleware::HttpRequest| async {
//!         Ok::<_, std::convert::Infallible>(snf_occi_middleware::HttpResponse::default())
//!     },
//! ));
//! # drop(app);
//! ```

mod error;
mod exchange;
mod forwarded;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue};
use rustls_pki_types::CertificateDer;
use serde::Deserialize;

pub use error::VomsError;

use super::cache::Expiring;
use super::identity::Identity;
use super::layer::{AuthLayer, CachePolicy, Verifier};
use super::trusted::Cidr;
use super::upstream::{SharedUpstream, Upstream};
use super::voms_ac::VomsTrust;
use super::{
    AuthConfigError, ClientAuth, ProxyClientCertVerifier, join_url, keystone_base,
    keystone_challenge, parse_url, project_header,
};
use crate::{HttpRequest, PeerCertificates, RemoteAddr};
use forwarded::forwarded_chain;
use snf_occi_types::AuthContext;

const FILTER: &str = "voms_exchange";

/// Configuration of `voms_exchange` (see the module docs for the keys).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VomsExchangeConfig {
    /// astavoms base URL.
    pub astavoms_url: Option<String>,
    /// URL in the 401 challenge (default: `astavoms_url`).
    pub keystone_url: Option<String>,
    /// Front ends whose certificate headers are believed.
    pub trusted_proxies: Vec<String>,
    /// CAs that user certificates must chain to.
    pub client_ca_file: Option<PathBuf>,
    /// vomsdir for in-process AC verification.
    pub vomsdir: Option<PathBuf>,
    /// CA bundle for in-process AC verification.
    pub voms_ca_file: Option<PathBuf>,
    /// Whether limited proxies may log in.
    pub limited_proxies: LimitedProxies,
    /// Longest an exchange is reused.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Most proxies remembered.
    pub cache_capacity: u64,
    /// Timeout of one astavoms call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for VomsExchangeConfig {
    fn default() -> Self {
        VomsExchangeConfig {
            astavoms_url: None,
            keystone_url: None,
            trusted_proxies: Vec::new(),
            client_ca_file: None,
            vomsdir: None,
            voms_ca_file: None,
            limited_proxies: LimitedProxies::default(),
            cache_ttl: Duration::from_secs(3600),
            cache_capacity: 10_000,
            timeout: Duration::from_secs(15),
        }
    }
}

impl VomsExchangeConfig {
    /// Sets `astavoms_url`.
    pub fn with_astavoms_url(mut self, url: impl Into<String>) -> Self {
        self.astavoms_url = Some(url.into());
        self
    }

    /// Sets `astavoms_url` only if the configuration left it out.
    pub fn or_astavoms_url(mut self, url: impl Into<String>) -> Self {
        if self.astavoms_url.is_none() {
            self.astavoms_url = Some(url.into());
        }
        self
    }

    /// Adds a trusted front-end address or CIDR block.
    pub fn trust_proxy(mut self, cidr: impl Into<String>) -> Self {
        self.trusted_proxies.push(cidr.into());
        self
    }
}

/// Whether limited proxies (Globus' limited proxy policy, what
/// `voms-proxy-init -limited` makes) may log in.
///
/// By grid convention a limited proxy is good for data access but not for
/// starting jobs (GRAM gatekeepers refuse it), and a VOMS proxy that
/// reached a service as a limited one was usually delegated there for
/// that restricted purpose. Creating and controlling virtual machines is
/// job submission, so the default refuses them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitedProxies {
    /// A limited proxy is answered 401 naming why.
    #[default]
    Refuse,
    /// A limited proxy logs in as its user, like a full one.
    Accept,
}

/// A successful exchange: the Synnefo identity, valid until the token or
/// the proxy expires (what the cache keeps).
#[derive(Clone)]
pub struct VomsLogin {
    identity: Identity,
    expires: Option<SystemTime>,
}

impl Expiring for VomsLogin {
    fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

/// The [`Verifier`] of `voms_exchange`.
pub struct VomsVerifier {
    tokens_url: String,
    challenge: HeaderValue,
    trusted: Vec<Cidr>,
    client_cas: Option<ProxyClientCertVerifier>,
    trust: Option<VomsTrust>,
    limited_proxies: LimitedProxies,
    timeout: Duration,
    upstream: SharedUpstream,
    cache: CachePolicy,
}

impl VomsVerifier {
    /// Builds the verifier; fails on a missing or bad URL, a bad address,
    /// or an unreadable vomsdir / CA file. astavoms is called through
    /// `upstream`.
    pub fn new(
        config: VomsExchangeConfig,
        upstream: impl Upstream,
    ) -> Result<Self, AuthConfigError> {
        let base = config
            .astavoms_url
            .as_deref()
            .ok_or(AuthConfigError::Missing("astavoms_url"))?;
        let base_url = parse_url("astavoms_url", base)?;
        let trimmed = base_url
            .as_str()
            .trim_end_matches('/')
            .trim_end_matches("/v2.0")
            .to_owned();
        let base_url = parse_url("astavoms_url", &trimmed)?;
        let keystone_url = match config.keystone_url.as_deref() {
            Some(url) => {
                parse_url("keystone_url", url)?;
                url.to_owned()
            }
            None => keystone_base(&base_url),
        };
        let trusted = config
            .trusted_proxies
            .iter()
            .map(|c| Cidr::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let trust = match (&config.vomsdir, &config.voms_ca_file) {
            (Some(dir), Some(ca)) => Some(VomsTrust::load(dir, ca)?),
            (None, None) => None,
            (Some(_), None) => return Err(AuthConfigError::Missing("voms_ca_file")),
            (None, Some(_)) => return Err(AuthConfigError::Missing("vomsdir")),
        };
        let client_cas = match &config.client_ca_file {
            Some(path) => Some(
                ProxyClientCertVerifier::from_pem_file(path, ClientAuth::Optional).map_err(
                    |e| AuthConfigError::File {
                        key: "client_ca_file",
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    },
                )?,
            ),
            None if !trusted.is_empty() => {
                return Err(AuthConfigError::Invalid {
                    key: "client_ca_file",
                    reason: "required with `trusted_proxies`: forwarded certificate chains are \
                             verified against these CAs"
                        .into(),
                });
            }
            None => None,
        };
        if config.cache_capacity == 0 {
            return Err(AuthConfigError::Invalid {
                key: "cache_capacity",
                reason: "must be at least 1".into(),
            });
        }
        Ok(VomsVerifier {
            tokens_url: join_url(&base_url, "v2.0/tokens"),
            challenge: keystone_challenge("keystone_url", &keystone_url)?,
            trusted,
            client_cas,
            trust,
            limited_proxies: config.limited_proxies,
            timeout: config.timeout,
            upstream: Arc::new(upstream),
            cache: CachePolicy {
                capacity: config.cache_capacity,
                ttl: config.cache_ttl,
            },
        })
    }
}

/// `voms_exchange`'s layer.
pub type VomsExchangeLayer = AuthLayer<VomsVerifier>;
/// `voms_exchange`'s service.
pub type VomsExchange<S> = super::Auth<S, VomsVerifier>;

impl AuthLayer<VomsVerifier> {
    /// `voms_exchange` with `config`, calling astavoms through `upstream`.
    pub fn voms(
        config: VomsExchangeConfig,
        upstream: impl Upstream,
    ) -> Result<Self, AuthConfigError> {
        Ok(AuthLayer::new(VomsVerifier::new(config, upstream)?))
    }
}

impl VomsVerifier {
    /// The chain this request presents, if any: TLS first, then the
    /// headers of a trusted front end.
    fn chain_of(
        &self,
        request: &HttpRequest,
    ) -> Option<Result<Vec<CertificateDer<'static>>, VomsError>> {
        if let Some(PeerCertificates(certs)) = request.extensions().get::<PeerCertificates>()
            && !certs.is_empty()
        {
            return Some(Ok(certs.as_ref().clone()));
        }
        let RemoteAddr(peer) = request.extensions().get::<RemoteAddr>()?;
        if !self.trusted.iter().any(|c| c.contains(peer.ip())) {
            return None;
        }
        forwarded_chain(request.headers())
    }
}

impl Verifier for VomsVerifier {
    type Credential = Vec<CertificateDer<'static>>;
    type Login = VomsLogin;
    type Error = VomsError;

    fn name(&self) -> &'static str {
        FILTER
    }

    fn challenge(&self) -> &HeaderValue {
        &self.challenge
    }

    fn cache_policy(&self) -> CachePolicy {
        self.cache
    }

    fn credential(
        &self,
        request: &HttpRequest,
    ) -> Option<Result<Vec<CertificateDer<'static>>, VomsError>> {
        self.chain_of(request)
    }

    /// The leaf certificate: a new proxy is a new login.
    fn key_material<'a>(&self, chain: &'a Vec<CertificateDer<'static>>) -> &'a [u8] {
        chain.first().map_or(&[], |leaf| leaf.as_ref())
    }

    fn verify(
        &self,
        chain: &Vec<CertificateDer<'static>>,
    ) -> impl Future<Output = Result<VomsLogin, VomsError>> + Send {
        self.login(chain)
    }

    fn context(&self, login: &VomsLogin, headers: &HeaderMap) -> AuthContext {
        let identity = &login.identity;
        let project = project_header(headers)
            .or_else(|| identity.tenant.clone())
            .unwrap_or_else(|| identity.default_project());
        identity.context(project, login.expires, FILTER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::upstream::unreachable;

    #[test]
    fn config_errors() {
        let base =
            VomsExchangeConfig::default().with_astavoms_url("http://127.0.0.1:1/astavoms/v2.0/");
        let verifier = VomsVerifier::new(base.clone(), unreachable()).unwrap();
        assert_eq!(
            verifier.tokens_url,
            "http://127.0.0.1:1/astavoms/v2.0/tokens"
        );
        assert_eq!(
            verifier.challenge,
            "Keystone uri='http://127.0.0.1:1/astavoms'"
        );
        assert!(matches!(
            VomsVerifier::new(VomsExchangeConfig::default(), unreachable()),
            Err(AuthConfigError::Missing("astavoms_url"))
        ));
        assert!(matches!(
            VomsVerifier::new(base.clone().trust_proxy("10.0.0.0/99"), unreachable()),
            Err(AuthConfigError::BadAddress(_))
        ));
        let half = VomsExchangeConfig {
            vomsdir: Some("/nonexistent".into()),
            ..base.clone()
        };
        assert!(matches!(
            VomsVerifier::new(half, unreachable()),
            Err(AuthConfigError::Missing("voms_ca_file"))
        ));
        let missing = VomsExchangeConfig {
            vomsdir: Some("/nonexistent".into()),
            voms_ca_file: Some("/nonexistent.pem".into()),
            ..base
        };
        assert!(matches!(
            VomsVerifier::new(missing, unreachable()),
            Err(AuthConfigError::File { .. })
        ));
    }
}
