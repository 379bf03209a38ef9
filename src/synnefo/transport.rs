//! The backend transport: hyper's HTTP/1.1 and HTTP/2 connections over
//! rustls, pooled (`transport/pool.rs`), with nothing between a Synnefo
//! call and the connection.
//!
//! The Synnefo client used reqwest, whose layers (URL re-parsing with IDNA
//! host mapping, a redirect policy that parses the URL again, a retry
//! layer, boxed futures) were a fifth of the instructions of a compute
//! show (callgrind, `benches/README.md`). Synnefo calls need none of them:
//! the client builds each URI itself, follows no redirect and retries by
//! its own rule. The auth filters' calls (astavoms, OIDC providers) go
//! through the same transport (`pipeline::auth_backends`): one HTTP stack.

mod pool;
mod proxy;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::config::SynnefoConfig;
use pool::Pool;
use proxy::{ProxyConnector, proxy_matcher};

/// The default most one listing answer may hold
/// ([`TransportConfig::max_listing_bytes`]): Cyclades sends about 2 KiB
/// per server, so some 30,000 servers.
pub const MAX_LISTING_BYTES: usize = 64 * 1024 * 1024;
/// The most one entity's answer (a server, a volume, a token with its
/// catalog) may hold: the largest legitimate one is a few KiB.
pub const MAX_ITEM_BYTES: usize = 4 * 1024 * 1024;
/// The most a fault (any answer but a 2xx) is read: Synnefo's are a few
/// hundred bytes of JSON.
pub const MAX_FAULT_BYTES: usize = 64 * 1024;
/// The default most all answers being read at once may hold
/// ([`TransportConfig::max_bytes_in_flight`]).
pub const MAX_BYTES_IN_FLIGHT: usize = 256 * 1024 * 1024;
/// An answer at least this large asks the allocator to give freed memory
/// back to the system once it is dropped (see [`Answer`]).
const TRIM_AFTER_BYTES: usize = 1024 * 1024;

/// What a call may legitimately return, which bounds how much of its
/// answer is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerSize {
    /// One entity, a token, an action's answer: [`MAX_ITEM_BYTES`].
    Item,
    /// A listing: [`TransportConfig::max_listing_bytes`].
    Listing,
}

/// The `User-Agent` of every backend call.
pub const USER_AGENT: &str = concat!("snf-occi/", env!("CARGO_PKG_VERSION"));

/// How the transport's connection pool behaves (from the `[synnefo]`
/// table, [`SynnefoConfig::transport_config`]).
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Most idle keep-alive connections kept per backend host.
    pub pool_max_idle_per_host: usize,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// How long a new connection (TCP, then TLS) may take.
    pub connect_timeout: Duration,
    /// The most one listing answer may hold ([`MAX_LISTING_BYTES`] by
    /// default); entities and faults have fixed, smaller bounds.
    pub max_listing_bytes: usize,
    /// The most all answers being read at once may hold together
    /// ([`MAX_BYTES_IN_FLIGHT`] by default).
    pub max_bytes_in_flight: usize,
    /// CA certificates trusted besides the platform's store (see
    /// [`load_ca_file`]).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Which forward proxy, if any, calls go through.
    pub proxy: ProxySetting,
}

/// Where the transport finds its forward proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either
    /// case), read once when the transport is built, as curl and reqwest
    /// read them.
    #[default]
    Environment,
    /// Every call through this `http://` proxy.
    Url(String),
    /// No proxy, whatever the environment says.
    None,
}

impl Default for TransportConfig {
    /// `[synnefo]`'s defaults: no extra roots, the environment's proxy.
    fn default() -> Self {
        SynnefoConfig::default().transport_config_with(Vec::new())
    }
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The URI did not parse (an endpoint in the catalog or config that is
    /// not a URL).
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    /// A credential or request id that cannot be an HTTP header value
    /// (named by the header, never quoted).
    #[error("the {0} header value is not valid in HTTP")]
    InvalidHeader(&'static str),
    /// No connection could be made: the request never left.
    #[error("{0}")]
    Connect(String),
    /// The whole exchange took longer than its timeout.
    #[error("timed out")]
    Timeout,
    /// The answer body was larger than what that call may return (see
    /// [`AnswerSize`]).
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// Other answers being read take the whole
    /// [`TransportConfig::max_bytes_in_flight`]: this one was not read.
    #[error("too many large answers are being read at once")]
    Busy,
    /// The connection failed after the request was sent, or the answer
    /// was not HTTP.
    #[error("{0}")]
    Failed(String),
}

/// A pooled HTTP client for Synnefo: cheap to clone, one pool.
///
/// ```
/// use snf_occi::synnefo::{Transport, TransportConfig};
/// let transport = Transport::new(TransportConfig::default()).expect("TLS roots load");
/// let _same_pool = transport.clone();
/// ```
#[derive(Clone)]
pub struct Transport {
    pool: Arc<Pool>,
    user_agent: HeaderValue,
    max_listing_bytes: usize,
    // One permit per byte of the answers being read or held (an
    // [`Answer`] returns its permits when dropped).
    in_flight: Arc<tokio::sync::Semaphore>,
}

/// An answer body, holding its share of the transport's in-flight bytes
/// until it is dropped (after decoding): the total that answers take in
/// memory at once is bounded, not only each one.
///
/// Dropping a large one runs the memory trim the binary set
/// ([`set_memory_trim`]): allocators otherwise keep the peak of a burst
/// of large answers until the thread allocates again, or for good.
#[derive(Debug)]
pub struct Answer {
    body: Bytes,
    /// The answer's `Date` as sent: the backend's clock when it answered
    /// (parsed on demand: only listings read it).
    date: Option<HeaderValue>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Answer {
    /// An answer that holds no share of a transport (tests, fixtures).
    pub fn detached(body: Bytes) -> Self {
        Answer {
            body,
            date: None,
            _permit: None,
        }
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// When the backend answered, by its own clock (the `Date` header,
    /// to the second), if it said.
    pub fn date(&self) -> Option<std::time::SystemTime> {
        let text = self.date.as_ref()?.to_str().ok()?;
        httpdate::parse_http_date(text).ok()
    }
}

impl std::ops::Deref for Answer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.body
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if self.body.len() >= TRIM_AFTER_BYTES {
            // Free the body first, then trim.
            self.body = Bytes::new();
            trim_soon();
        }
    }
}

/// How the process gives freed memory back to the system: the library
/// cannot know the allocator, so the binary says (see
/// [`set_memory_trim`]); by default nothing is done.
static TRIM: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what runs after a large answer is dropped, so that the process
/// can give the freed memory back: the binary's hook (`src/main.rs`)
/// has its idle worker threads run mimalloc's `mi_collect`. Without one,
/// memory goes back whenever the allocator decides. The first call wins.
pub fn set_memory_trim(trim: fn()) {
    let _ = TRIM.set(trim);
}

/// Runs the memory trim, if one is set, right where a large answer was
/// freed (thread-local allocators collect the calling thread's pages).
fn trim_soon() {
    if let Some(trim) = TRIM.get() {
        trim();
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport verifying servers against the platform's roots (as
    /// reqwest does) and `config.extra_roots`, speaking HTTP/2 where TLS
    /// negotiates it.
    pub fn new(config: TransportConfig) -> Result<Self, TransportError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = if config.extra_roots.is_empty() {
            rustls_platform_verifier::Verifier::new(provider.clone())
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(
                config.extra_roots.iter().cloned(),
                provider.clone(),
            )
        }
        .map_err(|e| TransportError::Failed(format!("TLS roots: {e}")))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TransportError::Failed(format!("TLS setup: {e}")))?
            .dangerous()
            // The platform verifier: not dangerous, but rustls names
            // every custom verifier so.
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        // Requests are small and answered at once: no Nagle delay.
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        // A pooled connection may sit idle for `pool_idle_timeout`; probe
        // it so a peer or NAT that silently dropped it is noticed (the
        // keep-alive reqwest sets too: 15 s, then every 15 s, 3 tries).
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_keepalive_interval(Some(Duration::from_secs(15)));
        http.set_keepalive_retries(Some(3));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(ProxyConnector {
                http,
                matcher: proxy_matcher(&config.proxy)?.map(Arc::new),
            });
        let pool = Arc::new(Pool::new(
            connector,
            config.pool_max_idle_per_host,
            config.pool_idle_timeout,
        ));
        let in_flight = config
            .max_bytes_in_flight
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        Ok(Transport {
            pool,
            user_agent: HeaderValue::from_static(USER_AGENT),
            max_listing_bytes: config.max_listing_bytes,
            in_flight: Arc::new(tokio::sync::Semaphore::new(in_flight)),
        })
    }

    /// Sends `request` and reads the whole answer, all within `timeout`,
    /// reading at most what an answer of `size` may hold.
    pub async fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
        size: AnswerSize,
    ) -> Result<(StatusCode, Answer), TransportError> {
        let (status, _, answer) = self.round_trip(request, timeout, size, false).await?;
        Ok((status, answer))
    }

    /// [`Transport::send`], answering the response's headers too: the
    /// auth filters' calls read them (a token exchange's
    /// `X-Subject-Token`). Off the hot path: the headers are copied
    /// before the body is read, which [`Transport::send`] never does.
    pub async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
        timeout: Duration,
        size: AnswerSize,
    ) -> Result<Response<Answer>, TransportError> {
        let (status, headers, body) = self.round_trip(request, timeout, size, true).await?;
        let mut answer = Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

impl Transport {
    /// One call within `timeout`: its status, its headers when
    /// `with_headers` (else an empty map), and its answer read to the end,
    /// after which the connection may serve the next call.
    async fn round_trip(
        &self,
        mut request: Request<Full<Bytes>>,
        timeout: Duration,
        size: AnswerSize,
        with_headers: bool,
    ) -> Result<(StatusCode, http::HeaderMap, Answer), TransportError> {
        request
            .headers_mut()
            .insert(http::header::USER_AGENT, self.user_agent.clone());
        let max = match size {
            AnswerSize::Item => MAX_ITEM_BYTES,
            AnswerSize::Listing => self.max_listing_bytes,
        };
        let exchange = async {
            let (response, lease) = self.pool.send(request).await?;
            let headers = if with_headers {
                response.headers().clone()
            } else {
                http::HeaderMap::new()
            };
            let (status, answer) = self.read_answer(response, max).await?;
            self.pool.give_back(lease);
            Ok((status, headers, answer))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(TransportError::Timeout),
        }
    }

    /// Reads an answer of at most `max` bytes (a fault: at most
    /// [`MAX_FAULT_BYTES`]), chunk by chunk, each chunk taking its bytes
    /// from the in-flight budget first: past the budget the read stops
    /// and the connection is dropped with what was read.
    async fn read_answer(
        &self,
        response: Response<Incoming>,
        max: usize,
    ) -> Result<(StatusCode, Answer), TransportError> {
        let status = response.status();
        let max = if status.is_success() {
            max
        } else {
            max.min(MAX_FAULT_BYTES)
        };
        let declared = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        // A declared length past the bound is refused before any read.
        let declared = match declared {
            Some(length) if length > max as u64 => return Err(TransportError::TooLarge(max)),
            Some(length) => Some(length as usize),
            None => None,
        };
        let date = response.headers().get(http::header::DATE).cloned();
        let mut body = response.into_body();
        let mut permit: Option<tokio::sync::OwnedSemaphorePermit> = None;
        // One chunk is the usual answer: kept as is, no copy. A longer one
        // is copied chunk by chunk into one buffer of the declared length,
        // each chunk freed at once: hyper then reuses its read buffer, and
        // a 12 MB listing takes 12 MB, not twice that.
        let mut first: Option<Bytes> = None;
        let mut joined: Option<bytes::BytesMut> = None;
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| TransportError::Failed(innermost(&e)))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            total += chunk.len();
            if total > max {
                return Err(TransportError::TooLarge(max));
            }
            let share = u32::try_from(chunk.len()).map_err(|_| TransportError::TooLarge(max))?;
            let more = self
                .in_flight
                .clone()
                .try_acquire_many_owned(share)
                .map_err(|_| TransportError::Busy)?;
            match permit.as_mut() {
                Some(p) => p.merge(more),
                None => permit = Some(more),
            }
            if let Some(all) = joined.as_mut() {
                all.extend_from_slice(&chunk);
            } else if let Some(head) = first.take() {
                // The declared length is at most `max` (checked above).
                let capacity = declared.unwrap_or(0).max(total);
                let mut all = bytes::BytesMut::with_capacity(capacity);
                all.extend_from_slice(&head);
                all.extend_from_slice(&chunk);
                joined = Some(all);
            } else {
                first = Some(chunk);
            }
        }
        let body = match joined {
            Some(all) => all.freeze(),
            None => first.unwrap_or_default(),
        };
        Ok((
            status,
            Answer {
                body,
                date,
                _permit: permit,
            },
        ))
    }
}

/// The CA certificates of a PEM file (`synnefo.ca_file`); an unreadable
/// file or one without a certificate is an error naming the file.
pub fn load_ca_file(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(certs)
}

/// The innermost cause's text: what an operator needs ("Connection
/// refused"), not the wrappers around it.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(next) = last.source() {
        last = next;
    }
    let text = last.to_string();
    if text.is_empty() { e.to_string() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let transport = Transport::new(TransportConfig::default()).unwrap();
        // Bind then drop: a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let request = Request::get(format!("http://127.0.0.1:{port}/x"))
            .body(Full::default())
            .unwrap();
        match transport
            .send(request, Duration::from_secs(5), AnswerSize::Item)
            .await
        {
            Err(TransportError::Connect(reason)) => assert!(!reason.is_empty()),
            other => panic!("expected a connect error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_answer_past_the_timeout_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and never answers.
        let held = tokio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
        let transport = Transport::new(TransportConfig::default()).unwrap();
        let request = Request::get(format!("http://{addr}/slow"))
            .body(Full::default())
            .unwrap();
        let answer = transport
            .send(request, Duration::from_millis(200), AnswerSize::Item)
            .await;
        assert!(matches!(answer, Err(TransportError::Timeout)), "{answer:?}");
        drop(held);
    }

    /// A server answering each request with `status` and `size` bytes,
    /// chunked (no length: the cap must stop the read itself) or with a
    /// `content-length`.
    async fn sized_server(status: u16, size: usize, chunked: bool) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = [0u8; 4096];
                    let _ = s.read(&mut head).await;
                    let body = vec![b'x'; size];
                    let head = if chunked {
                        format!("HTTP/1.1 {status} X\r\ntransfer-encoding: chunked\r\n\r\n")
                    } else {
                        format!("HTTP/1.1 {status} X\r\ncontent-length: {size}\r\n\r\n")
                    };
                    if s.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    if chunked {
                        for part in body.chunks(64 * 1024) {
                            let chunk = format!("{:x}\r\n", part.len());
                            if s.write_all(chunk.as_bytes()).await.is_err()
                                || s.write_all(part).await.is_err()
                                || s.write_all(b"\r\n").await.is_err()
                            {
                                return;
                            }
                        }
                        let _ = s.write_all(b"0\r\n\r\n").await;
                    } else {
                        let _ = s.write_all(&body).await;
                    }
                });
            }
        });
        addr
    }

    async fn fetch(
        transport: &Transport,
        addr: std::net::SocketAddr,
        size: AnswerSize,
    ) -> Result<(StatusCode, Answer), TransportError> {
        let request = Request::get(format!("http://{addr}/x"))
            .body(Full::default())
            .unwrap();
        transport.send(request, Duration::from_secs(10), size).await
    }

    #[tokio::test]
    async fn each_answer_is_read_only_as_far_as_its_call_may_return() {
        let transport = Transport::new(TransportConfig {
            max_listing_bytes: 6 * 1024 * 1024,
            ..TransportConfig::default()
        })
        .unwrap();
        // One entity: 4 MiB at most, declared or not.
        for chunked in [false, true] {
            let big = sized_server(200, MAX_ITEM_BYTES + 1, chunked).await;
            let answer = fetch(&transport, big, AnswerSize::Item).await;
            assert!(
                matches!(answer, Err(TransportError::TooLarge(MAX_ITEM_BYTES))),
                "chunked {chunked}: {answer:?}"
            );
            // The same size is a fine listing.
            let (status, body) = fetch(&transport, big, AnswerSize::Listing).await.unwrap();
            assert_eq!((status, body.len()), (StatusCode::OK, MAX_ITEM_BYTES + 1));
        }
        // A listing: the configured most.
        let huge = sized_server(200, 6 * 1024 * 1024 + 1, true).await;
        assert!(matches!(
            fetch(&transport, huge, AnswerSize::Listing).await,
            Err(TransportError::TooLarge(n)) if n == 6 * 1024 * 1024
        ));
        // A fault: 64 KiB.
        let fault = sized_server(404, MAX_FAULT_BYTES + 1, true).await;
        assert!(matches!(
            fetch(&transport, fault, AnswerSize::Listing).await,
            Err(TransportError::TooLarge(MAX_FAULT_BYTES))
        ));
        let small_fault = sized_server(404, 300, false).await;
        let (status, body) = fetch(&transport, small_fault, AnswerSize::Item)
            .await
            .unwrap();
        assert_eq!((status, body.len()), (StatusCode::NOT_FOUND, 300));
    }

    #[tokio::test]
    async fn answers_held_at_once_share_one_budget() {
        let transport = Transport::new(TransportConfig {
            max_bytes_in_flight: 300_000,
            ..TransportConfig::default()
        })
        .unwrap();
        let server = sized_server(200, 200_000, true).await;
        let first = fetch(&transport, server, AnswerSize::Listing)
            .await
            .unwrap();
        // While the first is held, a second does not fit: refused at once.
        let second = fetch(&transport, server, AnswerSize::Listing).await;
        assert!(matches!(second, Err(TransportError::Busy)), "{second:?}");
        // Once it is dropped, the budget is whole again.
        drop(first);
        let (status, body) = fetch(&transport, server, AnswerSize::Listing)
            .await
            .unwrap();
        assert_eq!((status, body.len()), (StatusCode::OK, 200_000));
        let third = fetch(&transport, server, AnswerSize::Listing).await;
        assert!(matches!(third, Err(TransportError::Busy)), "{third:?}");
    }

    #[tokio::test]
    async fn an_exchange_answers_the_headers_too() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 4096];
            let _ = s.read(&mut head).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 201 Created\r\nx-subject-token: abc\r\ncontent-length: 2\r\n\r\n{}",
                )
                .await;
        });
        let transport = Transport::new(TransportConfig::default()).unwrap();
        let request = Request::post(format!("http://{addr}/v3/auth"))
            .body(Full::default())
            .unwrap();
        let answer = transport
            .exchange(request, Duration::from_secs(5), AnswerSize::Item)
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::CREATED);
        assert_eq!(answer.headers()["x-subject-token"], "abc");
        assert_eq!(&answer.body()[..], b"{}");
    }
}
