//! The shared HTTP plumbing: one call, as every typed call of the client
//! makes it (headers, timeout, retries of reads, a moved endpoint).
//!
//! - [`service`]: the services, by catalog type; [`caller`]: whose token
//!   and request id a call carries; [`config`]: [`ClientConfig`].
//! - [`endpoints`]: where each service is (configured, else discovered).
//! - [`failures`]: what a failed call becomes; [`paths`]: a call's metric
//!   label and answer bound, from its path.

use std::fmt;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::SynnefoError;
use super::transport::{Answer, AnswerSize, Transport, TransportError};

mod caller;
mod config;
mod endpoints;
mod failures;
mod paths;
mod service;

pub use caller::Caller;
pub use config::{ClientConfig, DEFAULT_READ_RETRIES, DEFAULT_RETRY_JITTER};
pub use service::Service;

pub(crate) use failures::{SendError, fault, transport_error};
pub(crate) use paths::operation_template;

use endpoints::Endpoints;
use failures::{jitter, retryable};
use paths::answer_size;

/// Header names of every call, parsed once (a name given as text is
/// parsed again on each insert).
const X_AUTH_TOKEN: http::HeaderName = http::HeaderName::from_static("x-auth-token");
const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

fn trim(url: &str) -> &str {
    url.trim_end_matches('/')
}

struct Inner {
    transport: Transport,
    config: ClientConfig,
    identity_url: String,
    endpoints: RwLock<Option<Arc<Endpoints>>>,
    // Serialises discovery so that concurrent first calls make one
    // catalog request (single flight).
    discovery: tokio::sync::Mutex<()>,
}

/// The Synnefo client: cheap to clone, one shared connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("identity_url", &self.inner.identity_url)
            .finish_non_exhaustive()
    }
}

/// One Synnefo call as the client sends it, and sends it again (a retried
/// read, a moved endpoint).
#[derive(Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) method: &'a Method,
    /// Below the service's base URL; may carry a query.
    pub(crate) path: &'a str,
    pub(crate) query: &'a [(&'a str, &'a str)],
    pub(crate) caller: Option<&'a Caller>,
    pub(crate) payload: &'a Payload,
}

/// A request body, already serialized.
pub(crate) enum Payload {
    None,
    // Bytes: a retried or re-routed call sends the same body uncopied.
    Json(Bytes),
}

impl Payload {
    pub(crate) fn json<T: Serialize>(service: Service, value: &T) -> Result<Payload, SynnefoError> {
        serde_json::to_vec(value)
            .map(|v| Payload::Json(v.into()))
            .map_err(|e| SynnefoError::InvalidResponse {
                service,
                reason: format!("cannot encode request: {e}"),
            })
    }
}

impl Client {
    /// Builds a client on a shared [`Transport`] (the gateway's pool).
    pub fn new(transport: Transport, config: ClientConfig) -> Self {
        let identity_url = trim(&config.identity_url).to_owned();
        Client {
            inner: Arc::new(Inner {
                transport,
                config,
                identity_url,
                endpoints: RwLock::new(None),
                discovery: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The identity URL, without a trailing slash.
    pub fn identity_url(&self) -> &str {
        &self.inner.identity_url
    }
    /// Sends one call to a service and returns the successful body.
    ///
    /// A failed idempotent read (GET: connection refused or dropped, or a
    /// 502/503/504 answer) is sent again up to `read_retries` times after
    /// a random delay of at most `retry_jitter`; a write never is.
    pub(crate) async fn call(
        &self,
        service: Service,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        caller: Option<&Caller>,
        payload: Payload,
    ) -> Result<Answer, SynnefoError> {
        let retries = if method == Method::GET || method == Method::HEAD {
            self.inner.config.read_retries
        } else {
            0
        };
        let call = Call {
            method: &method,
            path,
            query,
            caller,
            payload: &payload,
        };
        let mut attempt = 0;
        loop {
            let result = self.call_once(service, &call).await;
            match result {
                Err(err) if attempt < retries && retryable(&err) => {
                    attempt += 1;
                    tracing::debug!(
                        %service,
                        operation = %operation_template(&method, path),
                        attempt,
                        error = %err,
                        "retrying a failed Synnefo read"
                    );
                    tokio::time::sleep(jitter(self.inner.config.retry_jitter)).await;
                }
                other => return other,
            }
        }
    }

    /// One attempt of [`Client::call`].
    ///
    /// A connection failure on a discovered endpoint refreshes the catalog
    /// and, when the endpoint moved, retries once (the request never left).
    async fn call_once(&self, service: Service, call: &Call<'_>) -> Result<Answer, SynnefoError> {
        let request_id = call.caller.and_then(|c| c.request_id.as_ref());
        let (base, from_catalog) = self.resolve(service, request_id).await?;
        match self.send(service, &base, call).await {
            Err(SendError::Connect(err)) => {
                let Some(used) = from_catalog else {
                    return Err(err);
                };
                self.invalidate(&used);
                let (fresh, _) = self.resolve(service, request_id).await?;
                if fresh == base {
                    return Err(err);
                }
                self.send(service, &fresh, call)
                    .await
                    .map_err(SendError::into_inner)
            }
            other => other.map_err(SendError::into_inner),
        }
    }

    /// `base` + `path` (which may carry a query) + `query`, as a URI.
    /// Paths come from this client with their ids checked and encoded;
    /// the base is an endpoint from the config or the catalog.
    fn uri(base: &str, path: &str, query: &[(&str, &str)]) -> Result<http::Uri, TransportError> {
        let mut text = String::with_capacity(base.len() + path.len() + 32);
        text.push_str(base);
        text.push_str(path);
        if !query.is_empty() {
            text.push(if path.contains('?') { '&' } else { '?' });
            let mut pairs = url::form_urlencoded::Serializer::new(String::new());
            pairs.extend_pairs(query);
            text.push_str(&pairs.finish());
        }
        http::Uri::try_from(text).map_err(|_| TransportError::InvalidUrl(format!("{base}{path}")))
    }

    /// Sends `call` to `base` once and returns the successful body; any
    /// other answer is a [`SynnefoError::Fault`].
    pub(super) async fn send(
        &self,
        service: Service,
        base: &str,
        call: &Call<'_>,
    ) -> Result<Answer, SendError> {
        let request =
            Self::request(base, call).map_err(|e| SendError::Other(transport_error(service, e)))?;
        let Call {
            method,
            path,
            caller,
            ..
        } = *call;
        let started = std::time::Instant::now();
        let sent = self
            .inner
            .transport
            .send(
                request,
                self.inner.config.timeout(service),
                answer_size(path),
            )
            .await;
        // Count the call by its template (ids become `{id}`), never by URL.
        snf_occi_types::metrics::record_synnefo_call(
            service.catalog_type(),
            || operation_template(method, path),
            sent.as_ref().ok().map(|(status, _)| status.as_u16()),
            started.elapsed(),
        );
        let (status, body) = sent.map_err(|e| SendError::classify(service, e))?;
        if status.is_success() {
            return Ok(body);
        }
        Err(SendError::Other(fault(service, status, &body, caller)))
    }

    fn request(base: &str, call: &Call<'_>) -> Result<http::Request<Full<Bytes>>, TransportError> {
        let Call {
            method,
            path,
            query,
            caller,
            payload,
        } = *call;
        let mut request = http::Request::new(Full::default());
        *request.method_mut() = method.clone();
        *request.uri_mut() = Self::uri(base, path, query)?;
        // Room for Accept, the token, the request id, a body's type and
        // the transport's User-Agent without growing the map.
        *request.headers_mut() = http::HeaderMap::with_capacity(6);
        let headers = request.headers_mut();
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        if let Some(caller) = caller {
            let token = caller.token.expose();
            if !token.is_empty() {
                let mut value = HeaderValue::from_str(token)
                    .map_err(|_| TransportError::InvalidHeader("X-Auth-Token"))?;
                value.set_sensitive(true);
                headers.insert(X_AUTH_TOKEN, value);
            }
            if let Some(id) = &caller.request_id {
                let value = HeaderValue::from_str(id.as_str())
                    .map_err(|_| TransportError::InvalidHeader("X-Request-Id"))?;
                headers.insert(X_REQUEST_ID, value);
            }
        }
        match payload {
            Payload::None => {
                // A POST or PUT without a body still says so: some
                // front ends refuse one without a length (411).
                if method == Method::POST || method == Method::PUT {
                    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                }
            }
            Payload::Json(body) => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                *request.body_mut() = Full::new(body.clone());
            }
        }
        Ok(request)
    }

    /// Whether `service` answers HTTP at all: the status of an anonymous
    /// `GET path` (a 401 still proves it up). For readiness probes.
    pub async fn probe(&self, service: Service, path: &str) -> Result<StatusCode, SynnefoError> {
        let (base, _) = self.resolve(service, None).await?;
        let probe = Call {
            method: &Method::GET,
            path,
            query: &[],
            caller: None,
            payload: &Payload::None,
        };
        let request = Self::request(&base, &probe).map_err(|e| transport_error(service, e))?;
        match self
            .inner
            .transport
            .send(
                request,
                self.inner.config.timeout(service),
                AnswerSize::Item,
            )
            .await
        {
            Ok((status, _)) => Ok(status),
            Err(e) => Err(transport_error(service, e)),
        }
    }

    /// GET a JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        service: Service,
        path: &str,
        query: &[(&str, &str)],
        caller: &Caller,
    ) -> Result<T, SynnefoError> {
        let body = self
            .call(
                service,
                Method::GET,
                path,
                query,
                Some(caller),
                Payload::None,
            )
            .await?;
        decode(service, &body)
    }

    /// Sends a JSON body and decodes a JSON answer.
    pub(crate) async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        service: Service,
        method: Method,
        path: &str,
        caller: &Caller,
        body: &B,
    ) -> Result<T, SynnefoError> {
        let payload = Payload::json(service, body)?;
        let body = self
            .call(service, method, path, &[], Some(caller), payload)
            .await?;
        decode(service, &body)
    }

    /// Sends a request whose answer body does not matter.
    pub(crate) async fn send_empty<B: Serialize>(
        &self,
        service: Service,
        method: Method,
        path: &str,
        caller: &Caller,
        body: Option<&B>,
    ) -> Result<(), SynnefoError> {
        let payload = match body {
            Some(b) => Payload::json(service, b)?,
            None => Payload::None,
        };
        self.call(service, method, path, &[], Some(caller), payload)
            .await
            .map(drop)
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    service: Service,
    body: &[u8],
) -> Result<T, SynnefoError> {
    // One UTF-8 check of the whole body, then a parse that trusts it:
    // `from_slice` checked every string on its own, a tenth of a show's
    // decoding.
    let text = std::str::from_utf8(body).map_err(|e| SynnefoError::InvalidResponse {
        service,
        reason: format!("the answer is not UTF-8: {e}"),
    })?;
    serde_json::from_str(text).map_err(|e| SynnefoError::InvalidResponse {
        service,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod uri_tests {
    use super::*;
    use snf_occi_types::SecretToken;

    #[test]
    fn paths_extend_the_base_and_queries_are_encoded() {
        let base = "http://cyclades.example.org:8443/compute/v2.0";
        assert_eq!(
            Client::uri(base, "/servers/42", &[]).unwrap(),
            "http://cyclades.example.org:8443/compute/v2.0/servers/42"
        );
        assert_eq!(
            Client::uri(base, "/servers?changes-since=x", &[]).unwrap(),
            "http://cyclades.example.org:8443/compute/v2.0/servers?changes-since=x"
        );
        assert_eq!(
            Client::uri("http://h", "/ports", &[("device_id", "4 2&x")]).unwrap(),
            "http://h/ports?device_id=4+2%26x"
        );
        assert_eq!(
            Client::uri("http://h", "/p?a=1", &[("b", "2")]).unwrap(),
            "http://h/p?a=1&b=2"
        );
        match Client::uri("not a url", "/servers", &[]) {
            Err(TransportError::InvalidUrl(text)) => assert_eq!(text, "not a url/servers"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_token_header_is_marked_sensitive_and_bodyless_posts_say_so() {
        let caller = Caller::new(SecretToken::new("tok"));
        let call = |method, caller| Call {
            method,
            path: "/tokens",
            query: &[],
            caller,
            payload: &Payload::None,
        };
        let r = Client::request("http://h", &call(&Method::POST, Some(&caller))).unwrap();
        assert!(r.headers()["x-auth-token"].is_sensitive());
        assert_eq!(r.headers()[http::header::CONTENT_LENGTH], "0");
        let bad = Caller::new(SecretToken::new("a\nb"));
        assert!(matches!(
            Client::request("http://h", &call(&Method::GET, Some(&bad))),
            Err(TransportError::InvalidHeader("X-Auth-Token"))
        ));
    }
}
