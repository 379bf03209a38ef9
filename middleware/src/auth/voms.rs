//! `voms_exchange`: X.509 VOMS proxies exchanged for Synnefo tokens at
//! astavoms.
//!
//! - The chain comes from the TLS connection ([`PeerCertificates`], which
//!   the server fills after [`ProxyClientCertVerifier`](super::ProxyClientCertVerifier)
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
//!   TLS with [`ProxyClientCertVerifier`](super::ProxyClientCertVerifier)
//!   (never with a verifier that accepts any certificate). Forwarded
//!   headers carry what the client sent, whatever the front end made of
//!   it, so they are verified here exactly as the TLS verifier does
//!   (proxies by [`inspect_chain`], the user certificate against the CAs
//!   of `client_ca_file`, which `trusted_proxies` requires); with
//!   `client_ca_file` set, TLS chains are verified again too.
//! - Only the verified part of a chain reaches astavoms: the proxies and
//!   the user certificate they lead to. Whatever a client appends after
//!   its user certificate (a path to the CA needs no more than the CA
//!   file has, and a self-signed certificate with somebody else's DN is
//!   no part of any path) is dropped, so astavoms cannot be shown it.
//! - The chain is checked with [`inspect_chain`] (RFC 3820 links,
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
//! # Example
//!
//! ```
//! use snf_occi_middleware::auth::{VomsExchangeConfig, VomsExchangeLayer};
//!
//! // Proxies over TLS, verified by the server's ProxyClientCertVerifier.
//! let config = VomsExchangeConfig::default()
//!     .with_astavoms_url("http://127.0.0.1:8890/astavoms");
//! let layer = VomsExchangeLayer::new(config.clone(), reqwest::Client::new()).unwrap();
//! // Believing Apache front ends' certificate headers needs the CAs to
//! // verify what they forward.
//! let front_ends = config.trust_proxy("10.0.0.0/24");
//! assert!(VomsExchangeLayer::new(front_ends.clone(), reqwest::Client::new()).is_err());
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

use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode};
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use tower::{Layer, Service};

use super::cache::{AuthCache, Expiring, cache_key};
use super::identity::{Identity, error_message, parse_access};
use super::proxy_chain::{ChainError, inspect_chain, with_first_ac};
use super::trusted::Cidr;
use super::voms_ac::{VomsAcError, VomsTrust};
use super::{
    AuthConfigError, AuthFuture, ClientAuth, ProxyClientCertVerifier, add_challenge,
    call_authenticated, join_url, keystone_base, keystone_challenge, parse_url, project_header,
    ready, reject,
};
use crate::{HttpRequest, HttpResponse, PeerCertificates, RemoteAddr};
use snf_occi_types::AuthContext;

const FILTER: &str = "voms_exchange";
/// Most forwarded chain headers read (a proxy chain is a handful deep).
const MAX_CHAIN: usize = 16;

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

/// Why a proxy was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VomsError {
    /// The chain's shape, validity or VOMS extension is wrong.
    #[error("client proxy refused: {0}")]
    Chain(#[from] ChainError),
    /// In-process AC verification failed.
    #[error("client proxy refused: {0}")]
    Voms(#[from] VomsAcError),
    /// A trusted front end forwarded an unreadable certificate.
    #[error("the forwarded client certificate header is malformed")]
    BadHeader,
    /// A trusted front end's request carries a certificate header twice
    /// (or in both spellings) with different values: one came from the
    /// client.
    #[error(
        "the forwarded client certificate headers are ambiguous (sent twice with different values)"
    )]
    AmbiguousHeader,
    /// The user certificate does not chain to a CA of `client_ca_file`.
    #[error("client proxy refused: the user certificate is not from a trusted CA")]
    UntrustedChain,
    /// A limited proxy, and `limited_proxies` is `"refuse"`.
    #[error("client proxy refused: limited proxies are not accepted here")]
    LimitedProxy,
    /// The chain has no VOMS attributes: not this filter's credential.
    #[error("the client certificate carries no VOMS attributes")]
    NoVomsAttributes,
    /// astavoms refused the proxy.
    #[error("the VOMS proxy was not accepted{}", .0.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Rejected(Option<String>),
    /// astavoms could not be reached.
    #[error("the VOMS token service is unreachable")]
    Unreachable,
    /// astavoms failed.
    #[error("the VOMS token service failed with status {0}")]
    Upstream(u16),
    /// astavoms answered something that is not a token.
    #[error("the VOMS token service answered unreadable data")]
    BadAnswer,
}

impl VomsError {
    /// The status the client gets.
    pub fn status(&self) -> StatusCode {
        match self {
            VomsError::Unreachable | VomsError::Upstream(_) | VomsError::BadAnswer => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }
}

/// A successful exchange: the Synnefo identity, valid until the token or
/// the proxy expires.
#[derive(Clone)]
struct Login {
    identity: Identity,
    expires: Option<SystemTime>,
}

impl Expiring for Login {
    fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

/// Applies [`VomsExchange`] to a service.
#[derive(Clone)]
pub struct VomsExchangeLayer {
    shared: Arc<Shared>,
}

struct Shared {
    tokens_url: String,
    challenge: HeaderValue,
    trusted: Vec<Cidr>,
    client_cas: Option<ProxyClientCertVerifier>,
    trust: Option<VomsTrust>,
    limited_proxies: LimitedProxies,
    timeout: Duration,
    client: reqwest::Client,
    cache: AuthCache<Login>,
}

impl VomsExchangeLayer {
    /// Builds the filter; fails on a missing or bad URL, a bad address,
    /// or an unreadable vomsdir / CA file.
    pub fn new(
        config: VomsExchangeConfig,
        client: reqwest::Client,
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
        Ok(VomsExchangeLayer {
            shared: Arc::new(Shared {
                tokens_url: join_url(&base_url, "v2.0/tokens"),
                challenge: keystone_challenge("keystone_url", &keystone_url)?,
                trusted,
                client_cas,
                trust,
                limited_proxies: config.limited_proxies,
                timeout: config.timeout,
                client,
                cache: AuthCache::new(config.cache_capacity, config.cache_ttl).named(FILTER),
            }),
        })
    }
}

impl<S> Layer<S> for VomsExchangeLayer {
    type Service = VomsExchange<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VomsExchange {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// Logs in clients that present a VOMS proxy (see the module docs).
#[derive(Clone)]
pub struct VomsExchange<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl Shared {
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

/// `SSL_CLIENT_CERT` (+ chain) headers, either spelling.
fn forwarded_chain(headers: &HeaderMap) -> Option<Result<Vec<CertificateDer<'static>>, VomsError>> {
    let leaf = match forwarded_header(headers, "ssl_client_cert", "ssl-client-cert") {
        Ok(leaf) => leaf?,
        Err(err) => return Some(Err(err)),
    };
    let mut chain = Vec::new();
    match decode_pem_header(leaf) {
        Some(Some(der)) => chain.push(der),
        Some(None) => return None, // "(null)": the front end saw no certificate
        None => return Some(Err(VomsError::BadHeader)),
    }
    for n in 0..MAX_CHAIN {
        let value = forwarded_header(
            headers,
            &format!("ssl_client_cert_chain_{n}"),
            &format!("ssl-client-cert-chain-{n}"),
        );
        let value = match value {
            Ok(Some(value)) => value,
            Ok(None) => break,
            Err(err) => return Some(Err(err)),
        };
        match decode_pem_header(value) {
            Some(Some(der)) => chain.push(der),
            Some(None) => break,
            None => return Some(Err(VomsError::BadHeader)),
        }
    }
    Some(Ok(chain))
}

/// One forwarded certificate header, in either spelling. A front end
/// sets one spelling once; a second value (repeated, or the other spelling
/// with a different value) can only come from the client, passed on by a
/// front end that overwrote just its own spelling (Apache forwards
/// `SSL_CLIENT_CERT` from a client untouched while it sets
/// `SSL-Client-Cert`), so it is refused rather than guessed between.
fn forwarded_header<'a>(
    headers: &'a HeaderMap,
    underscore: &str,
    dash: &str,
) -> Result<Option<&'a HeaderValue>, VomsError> {
    let mut values = headers
        .get_all(underscore)
        .iter()
        .chain(headers.get_all(dash).iter());
    let first = values.next();
    if let Some(first) = first
        && values.any(|other| other != first)
    {
        return Err(VomsError::AmbiguousHeader);
    }
    Ok(first)
}

/// One PEM certificate from a header value: `Some(None)` for an empty or
/// `(null)` value, `None` for garbage.
fn decode_pem_header(value: &HeaderValue) -> Option<Option<CertificateDer<'static>>> {
    use base64::Engine;
    let text = value.to_str().ok()?.trim();
    if text.is_empty() || text == "(null)" || text == "null" {
        return Some(None);
    }
    let text = if text.contains('%') {
        percent_decode(text)?
    } else {
        text.to_owned()
    };
    let body = text
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(Some(CertificateDer::from(der)))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A certificate as astavoms wants it in a header: PEM with the newlines
/// flattened to spaces, the way Apache mod_ssl forwards it.
fn pem_header(der: &[u8]) -> Option<HeaderValue> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    HeaderValue::from_str(&format!(
        "-----BEGIN CERTIFICATE----- {} -----END CERTIFICATE-----",
        lines.join(" ")
    ))
    .ok()
}

impl<S> Service<HttpRequest> for VomsExchange<S>
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

        let chain = if request.extensions().get::<AuthContext>().is_some() {
            None
        } else {
            shared.chain_of(&request)
        };
        let chain = match chain {
            None => {
                return Box::pin(async move {
                    let mut response = inner.call(request).await?;
                    add_challenge(&mut response, &shared.challenge);
                    Ok(response)
                });
            }
            Some(Err(err)) => {
                tracing::info!(filter = FILTER, outcome = "rejected", reason = %err);
                super::outcome::record(FILTER, "rejected", err.reason());
                return ready(reject(
                    &request,
                    err.status(),
                    Some(&shared.challenge),
                    &err.to_string(),
                ));
            }
            Some(Ok(chain)) => chain,
        };

        Box::pin(async move {
            let key = cache_key(&chain[0]);
            let login = shared
                .cache
                .get_or_try_insert(key, shared.login(&chain))
                .await;
            let login = match login {
                Ok((login, fresh)) => {
                    tracing::debug!(filter = FILTER, outcome = "authenticated", cached = !fresh);
                    super::outcome::record(
                        FILTER,
                        "accepted",
                        if fresh { "validated" } else { "cached" },
                    );
                    login
                }
                Err(err) if matches!(*err, VomsError::NoVomsAttributes) => {
                    tracing::debug!(filter = FILTER, outcome = "passed", reason = %err);
                    super::outcome::record(FILTER, "passed", err.reason());
                    let mut response = inner.call(request).await?;
                    add_challenge(&mut response, &shared.challenge);
                    return Ok(response);
                }
                Err(err) => {
                    tracing::info!(filter = FILTER, outcome = "rejected", reason = %err);
                    super::outcome::record(FILTER, "rejected", err.reason());
                    let challenge =
                        (err.status() == StatusCode::UNAUTHORIZED).then_some(&shared.challenge);
                    return Ok(reject(&request, err.status(), challenge, &err.to_string()));
                }
            };
            let identity = &login.identity;
            let project = project_header(request.headers())
                .or_else(|| identity.tenant.clone())
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
    /// Checks the chain and exchanges it at astavoms.
    async fn login(&self, chain: &[CertificateDer<'static>]) -> Result<Login, VomsError> {
        let now = SystemTime::now();
        let inspected = inspect_chain(chain, now)?;
        if inspected.voms.is_none() {
            return Err(VomsError::NoVomsAttributes);
        }
        if let Some(cas) = &self.client_cas {
            cas.verify_end_entity(chain, inspected.end_entity, UnixTime::now())
                .map_err(|_| VomsError::UntrustedChain)?;
        }
        if inspected.limited && self.limited_proxies == LimitedProxies::Refuse {
            return Err(VomsError::LimitedProxy);
        }
        // The proxies and the user certificate: what was verified, and all
        // astavoms needs (it takes the DN of the first certificate after
        // the proxies, and binds the AC to it).
        let chain = &chain[..=inspected.end_entity];
        if let Some(trust) = &self.trust {
            with_first_ac(chain, inspected.end_entity, |ac, eec| {
                trust.verify(ac, eec, now)
            })
            .ok_or(VomsError::NoVomsAttributes)??;
        }
        let mut post = self
            .client
            .post(&self.tokens_url)
            .timeout(self.timeout)
            .header(http::header::ACCEPT, "application/json")
            .json(&serde_json::json!({ "auth": { "voms": true } }));
        if let Ok(dn) = HeaderValue::from_str(&inspected.end_entity_dn) {
            post = post.header("SSL-Client-S-DN", dn);
        }
        let leaf = pem_header(&chain[0]).ok_or(VomsError::BadHeader)?;
        post = post.header("SSL-Client-Cert", leaf);
        for (n, cert) in chain[1..].iter().enumerate() {
            let value = pem_header(cert).ok_or(VomsError::BadHeader)?;
            post = post.header(format!("SSL-Client-Cert-Chain-{n}"), value);
        }
        let started = std::time::Instant::now();
        let answer = post.send().await;
        super::outcome::upstream_call("astavoms", "POST /tokens", &answer, started);
        let answer = answer.map_err(|_| VomsError::Unreachable)?;
        let status = answer.status().as_u16();
        let body = answer.bytes().await.map_err(|_| VomsError::Unreachable)?;
        match status {
            200..=299 => {
                let identity = parse_access(&body).ok_or(VomsError::BadAnswer)?;
                let expires = match identity.expires {
                    Some(token) => Some(token.min(inspected.not_after)),
                    None => Some(inspected.not_after),
                };
                Ok(Login { identity, expires })
            }
            // 404/405: astavoms_url is wrong, not the proxy.
            400..=499 if status != 404 && status != 405 => {
                Err(VomsError::Rejected(error_message(&body)))
            }
            other => Err(VomsError::Upstream(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_headers_round_trip_in_every_spelling() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x07];
        let flat = pem_header(&der).unwrap();
        assert_eq!(
            decode_pem_header(&flat),
            Some(Some(CertificateDer::from(der.clone())))
        );
        let newlines = HeaderValue::from_static(
            "-----BEGIN CERTIFICATE-----\tMAMCAQc=\t-----END CERTIFICATE-----",
        );
        assert_eq!(
            decode_pem_header(&newlines),
            Some(Some(CertificateDer::from(der.clone())))
        );
        let escaped = HeaderValue::from_static(
            "-----BEGIN%20CERTIFICATE-----%0AMAMCAQc%3D%0A-----END%20CERTIFICATE-----%0A",
        );
        assert_eq!(
            decode_pem_header(&escaped),
            Some(Some(CertificateDer::from(der)))
        );
        assert_eq!(
            decode_pem_header(&HeaderValue::from_static("(null)")),
            Some(None)
        );
        assert_eq!(
            decode_pem_header(&HeaderValue::from_static("not a cert")),
            None
        );
        assert_eq!(decode_pem_header(&HeaderValue::from_static("%zz")), None);
    }

    proptest::proptest! {
        #[test]
        fn header_decoding_never_panics(text in "[ -~]{0,200}") {
            if let Ok(value) = HeaderValue::from_str(&text) {
                let _ = decode_pem_header(&value);
            }
            let _ = percent_decode(&text);
        }
    }

    #[test]
    fn forwarded_chains() {
        let mut headers = HeaderMap::new();
        assert!(forwarded_chain(&headers).is_none());
        headers.insert("ssl-client-cert", pem_header(&[0x30, 0x00]).unwrap());
        headers.insert(
            "ssl-client-cert-chain-0",
            pem_header(&[0x30, 0x01, 0x00]).unwrap(),
        );
        headers.insert(
            "ssl-client-cert-chain-1",
            HeaderValue::from_static("(null)"),
        );
        headers.insert(
            "ssl-client-cert-chain-2",
            pem_header(&[0x30, 0x02, 0x00, 0x00]).unwrap(),
        );
        let chain = forwarded_chain(&headers).unwrap().unwrap();
        assert_eq!(chain.len(), 2, "reading stops at (null)");
        // The other spelling with the same value is the same header.
        headers.insert("ssl_client_cert", pem_header(&[0x30, 0x00]).unwrap());
        assert_eq!(forwarded_chain(&headers).unwrap().unwrap().len(), 2);
        // With another value it is ambiguous, whichever it is.
        headers.insert("ssl_client_cert", HeaderValue::from_static("garbage"));
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::AmbiguousHeader))
        ));
        headers.remove("ssl-client-cert");
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::BadHeader))
        ));
        // A chain header sent twice, or smuggled in the other spelling
        // where the front end said "(null)".
        let mut headers = HeaderMap::new();
        headers.insert("ssl-client-cert", pem_header(&[0x30, 0x00]).unwrap());
        headers.insert(
            "ssl-client-cert-chain-0",
            HeaderValue::from_static("(null)"),
        );
        headers.insert(
            "ssl_client_cert_chain_0",
            pem_header(&[0x30, 0x01, 0x00]).unwrap(),
        );
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::AmbiguousHeader))
        ));
        headers.remove("ssl_client_cert_chain_0");
        headers.append(
            "ssl-client-cert-chain-0",
            pem_header(&[0x30, 0x01, 0x00]).unwrap(),
        );
        assert!(matches!(
            forwarded_chain(&headers),
            Some(Err(VomsError::AmbiguousHeader))
        ));
    }

    #[test]
    fn config_errors() {
        let client = reqwest::Client::new();
        let base =
            VomsExchangeConfig::default().with_astavoms_url("http://127.0.0.1:1/astavoms/v2.0/");
        let layer = VomsExchangeLayer::new(base.clone(), client.clone()).unwrap();
        assert_eq!(
            layer.shared.tokens_url,
            "http://127.0.0.1:1/astavoms/v2.0/tokens"
        );
        assert_eq!(
            layer.shared.challenge,
            "Keystone uri='http://127.0.0.1:1/astavoms'"
        );
        assert!(matches!(
            VomsExchangeLayer::new(VomsExchangeConfig::default(), client.clone()),
            Err(AuthConfigError::Missing("astavoms_url"))
        ));
        assert!(matches!(
            VomsExchangeLayer::new(base.clone().trust_proxy("10.0.0.0/99"), client.clone()),
            Err(AuthConfigError::BadAddress(_))
        ));
        let half = VomsExchangeConfig {
            vomsdir: Some("/nonexistent".into()),
            ..base.clone()
        };
        assert!(matches!(
            VomsExchangeLayer::new(half, client.clone()),
            Err(AuthConfigError::Missing("voms_ca_file"))
        ));
        let missing = VomsExchangeConfig {
            vomsdir: Some("/nonexistent".into()),
            voms_ca_file: Some("/nonexistent.pem".into()),
            ..base
        };
        assert!(matches!(
            VomsExchangeLayer::new(missing, client),
            Err(AuthConfigError::File { .. })
        ));
    }
}
