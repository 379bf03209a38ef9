//! The shared HTTP plumbing: endpoints, headers, timeouts and faults.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::Full;
use serde::Serialize;
use serde::de::DeserializeOwned;

use snf_occi_middleware::{AuthContext, RequestId, SecretToken};

use super::error::{SynnefoError, parse_fault};
use super::identity::Access;
use super::transport::{Answer, AnswerSize, Transport, TransportError};

/// The Synnefo services the client talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Astakos identity v2.0.
    Identity,
    /// Cyclades compute v2.0 (servers, flavors, images).
    Compute,
    /// Cyclades network v2.0 (networks, subnets, ports, floating IPs).
    Network,
    /// Cyclades block storage v2.0 (volumes).
    Volume,
    /// Plankton image v1.0.
    Image,
}

impl Service {
    /// The `type` of this service in the Astakos catalog.
    pub const fn catalog_type(self) -> &'static str {
        match self {
            Service::Identity => "identity",
            Service::Compute => "compute",
            Service::Network => "network",
            Service::Volume => "volume",
            Service::Image => "image",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.catalog_type())
    }
}

/// The default [`ClientConfig::read_retries`]: one retry.
pub const DEFAULT_READ_RETRIES: u32 = 1;
/// The default [`ClientConfig::retry_jitter`]: up to 100 ms.
pub const DEFAULT_RETRY_JITTER: Duration = Duration::from_millis(100);

/// How to reach Synnefo.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The Astakos identity v2.0 URL (`.../identity/v2.0`).
    pub identity_url: String,
    /// Compute endpoint override (else from the catalog).
    pub compute_url: Option<String>,
    /// Network endpoint override.
    pub network_url: Option<String>,
    /// Volume endpoint override.
    pub volume_url: Option<String>,
    /// Image endpoint override.
    pub image_url: Option<String>,
    /// The timeout of each call (the whole exchange, body included).
    pub timeout: Duration,
    /// The timeout of each identity (Astakos) call instead: token
    /// validations and catalog discovery.
    pub identity_timeout: Duration,
    /// How often an idempotent read (GET) is sent again after a failed
    /// connection, a dropped connection or a 502/503/504 answer. Writes
    /// (POST, PUT, DELETE) are never sent twice; a timeout is not retried
    /// (it already took the whole `timeout`).
    pub read_retries: u32,
    /// The most a retry waits first: a random delay between zero and this
    /// (jitter, so that many callers do not retry in step).
    pub retry_jitter: Duration,
}

impl ClientConfig {
    /// A configuration with endpoints from the catalog, a 30 s timeout
    /// (10 s for Astakos) and one retry of failed reads.
    pub fn new(identity_url: impl Into<String>) -> Self {
        ClientConfig {
            identity_url: identity_url.into(),
            compute_url: None,
            network_url: None,
            volume_url: None,
            image_url: None,
            timeout: Duration::from_secs(30),
            identity_timeout: Duration::from_secs(10),
            read_retries: DEFAULT_READ_RETRIES,
            retry_jitter: DEFAULT_RETRY_JITTER,
        }
    }

    /// The timeout of one call to `service`.
    fn timeout(&self, service: Service) -> Duration {
        match service {
            Service::Identity => self.identity_timeout,
            _ => self.timeout,
        }
    }

    fn explicit(&self, service: Service) -> Option<&str> {
        match service {
            Service::Identity => Some(&self.identity_url),
            Service::Compute => self.compute_url.as_deref(),
            Service::Network => self.network_url.as_deref(),
            Service::Volume => self.volume_url.as_deref(),
            Service::Image => self.image_url.as_deref(),
        }
    }
}

/// Who a call is made for: the caller's own token and request id.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token sent as `X-Auth-Token`.
    pub token: SecretToken,
    /// The id sent as `X-Request-Id`, when there is one.
    pub request_id: Option<RequestId>,
}

impl Caller {
    /// A caller with a token and no request id.
    pub fn new(token: SecretToken) -> Self {
        Caller {
            token,
            request_id: None,
        }
    }

    /// Adds the request id to send along.
    pub fn with_request_id(mut self, id: RequestId) -> Self {
        self.request_id = Some(id);
        self
    }

    /// The caller of an authenticated gateway request.
    pub fn from_auth(auth: &AuthContext, request_id: Option<&RequestId>) -> Self {
        Caller {
            token: auth.token.clone(),
            request_id: request_id.cloned(),
        }
    }
}

/// Endpoints found in one catalog.
#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    compute: Option<String>,
    network: Option<String>,
    volume: Option<String>,
    image: Option<String>,
}

impl Endpoints {
    fn from_access(access: &Access) -> Endpoints {
        let find = |service: Service| access.endpoint(service.catalog_type());
        Endpoints {
            compute: find(Service::Compute),
            network: find(Service::Network),
            volume: find(Service::Volume),
            image: find(Service::Image),
        }
    }

    fn get(&self, service: Service) -> Option<&str> {
        match service {
            Service::Compute => self.compute.as_deref(),
            Service::Network => self.network.as_deref(),
            Service::Volume => self.volume.as_deref(),
            Service::Image => self.image.as_deref(),
            Service::Identity => None,
        }
    }
}

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

    /// The endpoint of a service: configured, else from the catalog
    /// (discovered on first use).
    pub async fn endpoint(
        &self,
        service: Service,
        request_id: Option<&RequestId>,
    ) -> Result<String, SynnefoError> {
        Ok(self.resolve(service, request_id).await?.0)
    }

    /// Forgets the discovered endpoints; the next call rediscovers them.
    pub fn forget_endpoints(&self) {
        if let Ok(mut guard) = self.inner.endpoints.write() {
            *guard = None;
        }
    }

    fn cached(&self) -> Option<Arc<Endpoints>> {
        self.inner.endpoints.read().ok().and_then(|g| g.clone())
    }

    async fn resolve(
        &self,
        service: Service,
        request_id: Option<&RequestId>,
    ) -> Result<(String, Option<Arc<Endpoints>>), SynnefoError> {
        if let Some(url) = self.inner.config.explicit(service) {
            return Ok((trim(url).to_owned(), None));
        }
        let endpoints = match self.cached() {
            Some(e) => e,
            None => self.discover(request_id).await?,
        };
        match endpoints.get(service) {
            Some(url) => Ok((url.to_owned(), Some(endpoints))),
            None => Err(SynnefoError::NoEndpoint { service }),
        }
    }

    async fn discover(
        &self,
        request_id: Option<&RequestId>,
    ) -> Result<Arc<Endpoints>, SynnefoError> {
        let _flight = self.inner.discovery.lock().await;
        if let Some(e) = self.cached() {
            return Ok(e);
        }
        let access = self.public_catalog(request_id).await?;
        let endpoints = Arc::new(Endpoints::from_access(&access));
        if let Ok(mut guard) = self.inner.endpoints.write() {
            *guard = Some(endpoints.clone());
        }
        Ok(endpoints)
    }

    /// Drops `used` from the cache if it is still the cached catalog.
    fn invalidate(&self, used: &Arc<Endpoints>) {
        if let Ok(mut guard) = self.inner.endpoints.write()
            && guard
                .as_ref()
                .is_some_and(|current| Arc::ptr_eq(current, used))
        {
            *guard = None;
        }
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
        snf_occi_middleware::metrics::record_synnefo_call(
            service.catalog_type(),
            operation_template(method, path),
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
                headers.insert("x-auth-token", value);
            }
            if let Some(id) = &caller.request_id {
                let value = HeaderValue::from_str(id.as_str())
                    .map_err(|_| TransportError::InvalidHeader("X-Request-Id"))?;
                headers.insert("x-request-id", value);
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

/// What the call of `path` may return: a listing (the path ends with a
/// collection or `detail`), else one entity.
fn answer_size(path: &str) -> AnswerSize {
    const LISTINGS: &[&str] = &[
        "detail",
        "servers",
        "flavors",
        "images",
        "networks",
        "subnets",
        "ports",
        "floatingips",
        "volumes",
        "types",
        "snapshots",
        "os-volume_attachments",
    ];
    let path = path.split('?').next().unwrap_or("");
    match path.rsplit('/').find(|s| !s.is_empty()) {
        Some(last) if LISTINGS.contains(&last) => AnswerSize::Listing,
        _ => AnswerSize::Item,
    }
}

/// Whether a failed read may be sent again: the service was not reached,
/// dropped the connection, or said it is (temporarily) unavailable.
fn retryable(err: &SynnefoError) -> bool {
    match err {
        SynnefoError::Unreachable { .. } | SynnefoError::Lost { .. } => true,
        SynnefoError::Fault { status, .. } => matches!(status.as_u16(), 502..=504),
        SynnefoError::Timeout { .. }
        | SynnefoError::InvalidResponse { .. }
        | SynnefoError::NoEndpoint { .. }
        | SynnefoError::Busy { .. } => false,
    }
}

/// A random delay in `[0, max]`.
fn jitter(max: Duration) -> Duration {
    use std::hash::BuildHasher;
    // Each RandomState has fresh keys: a cheap random number without a
    // dependency.
    let r = std::collections::hash_map::RandomState::new().hash_one(0u8);
    max.mul_f64((r % 1_000_001) as f64 / 1_000_000.0)
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

/// Builds the typed error of a non-2xx answer, scrubbing the token.
pub(crate) fn fault(
    service: Service,
    status: StatusCode,
    body: &[u8],
    caller: Option<&Caller>,
) -> SynnefoError {
    let (kind, message, details) = match parse_fault(body) {
        Some((kind, message, details)) => {
            let kind = match kind {
                super::FaultKind::Other(k) if k.is_empty() => super::FaultKind::from_status(status),
                k => k,
            };
            (kind, message, details)
        }
        None => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            (super::FaultKind::from_status(status), text, String::new())
        }
    };
    let scrub = |s: String| match caller {
        Some(c) if !c.token.expose().is_empty() && s.contains(c.token.expose()) => {
            s.replace(c.token.expose(), "***")
        }
        _ => s,
    };
    SynnefoError::Fault {
        service,
        status,
        kind,
        message: scrub(message),
        details: scrub(details),
    }
}

pub(crate) enum SendError {
    Connect(SynnefoError),
    Other(SynnefoError),
}

impl SendError {
    fn classify(service: Service, e: TransportError) -> SendError {
        let connect = matches!(e, TransportError::Connect(_));
        let err = transport_error(service, e);
        if connect {
            SendError::Connect(err)
        } else {
            SendError::Other(err)
        }
    }

    pub(super) fn into_inner(self) -> SynnefoError {
        match self {
            SendError::Connect(e) | SendError::Other(e) => e,
        }
    }
}

/// Maps a transport failure to the client's error: a timeout, or an
/// unreachable service with the cause an operator needs (never the URL's
/// query or a header).
pub(crate) fn transport_error(service: Service, e: TransportError) -> SynnefoError {
    match e {
        TransportError::Timeout => SynnefoError::Timeout { service },
        TransportError::TooLarge(_) => SynnefoError::InvalidResponse {
            service,
            reason: e.to_string(),
        },
        TransportError::Busy => SynnefoError::Busy { service },
        TransportError::Failed(reason) => SynnefoError::Lost { service, reason },
        other => SynnefoError::Unreachable {
            service,
            reason: other.to_string(),
        },
    }
}

/// The words of Synnefo API paths; any other segment is an id or a name
/// and becomes `{id}` in a metric label.
const PATH_WORDS: &[&str] = &[
    "servers",
    "detail",
    "flavors",
    "images",
    "metadata",
    "action",
    "os-volume_attachments",
    "ips",
    "networks",
    "subnets",
    "ports",
    "floatingips",
    "volumes",
    "types",
    "snapshots",
    "tokens",
    "extensions",
];

/// `GET /servers/42/metadata` -> `GET /servers/{id}/metadata`: the bounded
/// operation label of one call.
pub(crate) fn operation_template(method: &Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or("");
    let mut out = String::with_capacity(path.len() + 8);
    out.push_str(snf_occi_middleware::metrics::method_label(method));
    out.push(' ');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() {
        out.push('/');
    }
    for segment in segments {
        out.push('/');
        out.push_str(if PATH_WORDS.contains(&segment) {
            segment
        } else {
            "{id}"
        });
    }
    out
}

#[cfg(test)]
mod operation_tests {
    use super::*;

    #[test]
    fn ids_and_names_become_placeholders() {
        assert_eq!(
            operation_template(&Method::GET, "/servers/42/metadata"),
            "GET /servers/{id}/metadata"
        );
        assert_eq!(
            operation_template(&Method::POST, "/servers/abc-def/action"),
            "POST /servers/{id}/action"
        );
        assert_eq!(
            operation_template(&Method::DELETE, "/servers/1/os-volume_attachments/9"),
            "DELETE /servers/{id}/os-volume_attachments/{id}"
        );
        assert_eq!(
            operation_template(&Method::GET, "/flavors/detail"),
            "GET /flavors/detail"
        );
        assert_eq!(operation_template(&Method::GET, ""), "GET /");
        assert_eq!(
            operation_template(&Method::GET, "/servers/alice@example.org?x=secret"),
            "GET /servers/{id}"
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn listings_and_entities_are_told_apart_by_their_path() {
        for listing in [
            "/servers/detail",
            "/servers",
            "/volumes/detail",
            "/networks",
            "/floatingips",
            "/ports?device_id=4",
            "/servers/42/os-volume_attachments",
            "/types",
        ] {
            assert_eq!(answer_size(listing), AnswerSize::Listing, "{listing}");
        }
        for item in [
            "/servers/42",
            "/tokens",
            "/servers/42/action",
            "/volumes/7",
            "/servers/42/metadata",
            "",
        ] {
            assert_eq!(answer_size(item), AnswerSize::Item, "{item}");
        }
    }
}

#[cfg(test)]
mod uri_tests {
    use super::*;

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
