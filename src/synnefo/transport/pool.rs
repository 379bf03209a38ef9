//! The transport's connection pool: hyper's own HTTP/1.1 and HTTP/2
//! connections (`hyper::client::conn`), kept idle per origin.
//!
//! Why not hyper-util's pooled client: under callgrind a relayed show
//! cost 46,207 instructions through it and 32,108 through the same
//! connections pooled here (`examples/floor_proxy.rs` against a bare
//! variant; 11 against 7 µs of user CPU a request natively). Its pool
//! hashes its `(scheme, authority)` key with SipHash byte by byte twice
//! a call, compares authorities case-insensitively, and boxes and wraps
//! every request's future. Synnefo calls go to two or three origins,
//! over a few connections each: a short list under a lock, compared by
//! the origin's text, does.
//!
//! What it keeps from hyper-util's: one idle HTTP/1.1 connection serves
//! one call at a time and returns to the pool only once its answer was
//! read to the end; an HTTP/2 connection (ALPN chose `h2`) is shared by
//! every call to its origin; a connection idle past `pool_idle_timeout`
//! or closed by the peer is dropped; at most `pool_max_idle_per_host`
//! idle HTTP/1.1 connections are kept per origin; and a call that a
//! reused connection never sent (the peer closed it as it was taken) is
//! sent again on another, once, whatever its method (nothing left).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;

use super::proxy::ProxyConnector;
use super::{TransportError, innermost};

/// A connection's sending half.
enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    Http2(http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::Http1(s) => s.is_closed(),
            Sender::Http2(s) => s.is_closed(),
        }
    }
}

/// Where a connection goes: the scheme and authority as the calls'
/// URIs spell them (shared bytes: copying one copies no text).
#[derive(Clone, Debug)]
struct Origin {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
}

impl Origin {
    fn of(uri: &Uri) -> Result<Origin, TransportError> {
        match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => Ok(Origin {
                scheme: scheme.clone(),
                authority: authority.clone(),
            }),
            _ => Err(TransportError::InvalidUrl(
                "a call needs an absolute URL".to_owned(),
            )),
        }
    }

    /// The same text (no case folding: the calls spell their origins
    /// one way, from the catalog or the configuration).
    fn is(&self, other: &Origin) -> bool {
        self.authority.as_str() == other.authority.as_str()
            && self.scheme.as_str() == other.scheme.as_str()
    }
}

/// An idle connection and where it goes.
struct Idle {
    origin: Origin,
    sender: Sender,
    since: Instant,
}

impl Idle {
    /// Whether it may still serve: open, and idle no longer than `timeout`.
    fn live(&self, now: Instant, timeout: Duration) -> bool {
        !self.sender.is_closed() && now.duration_since(self.since) <= timeout
    }
}

/// What the pool holds, under its lock.
struct Slots {
    idle: Vec<Idle>,
    /// When idle connections were last swept for age.
    swept: Instant,
}

/// The pool (one per transport, shared by its clones).
pub(super) struct Pool {
    connector: HttpsConnector<ProxyConnector>,
    slots: Mutex<Slots>,
    max_idle_per_origin: usize,
    idle_timeout: Duration,
}

/// An HTTP/1.1 connection lent to one call: give it back with
/// [`Pool::give_back`] once the answer was read to the end (dropped
/// otherwise, which closes it).
pub(super) struct Lease {
    origin: Origin,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
}

impl Pool {
    pub(super) fn new(
        connector: HttpsConnector<ProxyConnector>,
        max_idle_per_origin: usize,
        idle_timeout: Duration,
    ) -> Self {
        Pool {
            connector,
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                swept: Instant::now(),
            }),
            max_idle_per_origin,
            idle_timeout,
        }
    }

    /// Sends `request` (an absolute URI) on a pooled connection or a new
    /// one, and answers the response head with the connection's lease.
    pub(super) async fn send(
        &self,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Lease), TransportError> {
        let uri = request.uri().clone();
        let origin = Origin::of(&uri)?;
        // A reused connection the peer closed as it was taken sends
        // nothing: the request comes back and goes out again (a fresh
        // connection is not retried: its failure is the answer).
        loop {
            let (sender, reused) = match self.take(&origin) {
                Some(sender) => (sender, true),
                // Boxed: a connect's state (TCP, tunnel, TLS, handshake) is
                // large, and inline it would be carried, and moved, by
                // every call's future, reuses included.
                None => (Box::pin(self.connect(&uri, &origin)).await?, false),
            };
            // An HTTP/1.1 connection is lent with the answer; an HTTP/2
            // one stays in the pool, shared.
            let (sent, lent) = match sender {
                Sender::Http1(mut s) => {
                    if reused && s.ready().await.is_err() {
                        continue;
                    }
                    to_origin_form(&mut request, &uri);
                    (s.try_send_request(request).await, Some(s))
                }
                Sender::Http2(mut s) => (s.try_send_request(request).await, None),
            };
            let mut failed = match sent {
                Ok(response) => {
                    let lease = Lease {
                        origin,
                        sender: lent,
                    };
                    return Ok((response, lease));
                }
                Err(failed) => failed,
            };
            match failed.take_message() {
                Some(unsent) if reused => {
                    request = unsent;
                    // Back to the absolute form the next connection needs.
                    *request.uri_mut() = uri.clone();
                }
                _ => {
                    let e = failed.into_error();
                    return Err(TransportError::Failed(innermost(&e)));
                }
            }
        }
    }

    /// Returns a lent connection whose answer was read to the end.
    pub(super) fn give_back(&self, lease: Lease) {
        let Some(sender) = lease.sender else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        self.sweep(&mut slots, now);
        let kept = slots
            .idle
            .iter()
            .filter(|i| i.origin.is(&lease.origin) && matches!(i.sender, Sender::Http1(_)))
            .count();
        if kept < self.max_idle_per_origin {
            slots.idle.push(Idle {
                origin: lease.origin,
                sender: Sender::Http1(sender),
                since: now,
            });
        }
    }

    /// The most recently idle live connection to `origin`: an HTTP/1.1
    /// one leaves the pool, an HTTP/2 one is shared.
    fn take(&self, origin: &Origin) -> Option<Sender> {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(pos) = slots.idle.iter().rposition(|i| i.origin.is(origin)) {
            let idle = &mut slots.idle[pos];
            let stale = !idle.live(now, self.idle_timeout);
            match (&idle.sender, stale) {
                (_, true) => {
                    slots.idle.swap_remove(pos);
                }
                (Sender::Http2(shared), false) => {
                    // Shared, so in use until idle: its idle time starts
                    // again with each call.
                    let shared = shared.clone();
                    idle.since = now;
                    return Some(Sender::Http2(shared));
                }
                (Sender::Http1(_), false) => return Some(slots.idle.swap_remove(pos).sender),
            }
        }
        None
    }

    /// Drops idle connections past their time, at most twice per idle
    /// timeout (their sockets close with them).
    fn sweep(&self, slots: &mut Slots, now: Instant) {
        if now.duration_since(slots.swept) < self.idle_timeout / 2 {
            return;
        }
        slots.swept = now;
        let timeout = self.idle_timeout;
        slots.idle.retain(|i| i.live(now, timeout));
    }

    /// A new connection to `uri`'s origin (TCP, a proxy's tunnel, TLS),
    /// HTTP/2 when ALPN chose it; shared at once when it is.
    async fn connect(&self, uri: &Uri, origin: &Origin) -> Result<Sender, TransportError> {
        let io = self
            .connector
            .clone()
            .oneshot(uri.clone())
            .await
            .map_err(|e| TransportError::Connect(innermost(e.as_ref())))?;
        let connect_failed = |e: hyper::Error| TransportError::Connect(innermost(&e));
        if io.connected().is_negotiated_h2() {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(connect_failed)?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.idle.push(Idle {
                origin: origin.clone(),
                sender: Sender::Http2(sender.clone()),
                since: Instant::now(),
            });
            return Ok(Sender::Http2(sender));
        }
        let (sender, connection) = http1::handshake(io).await.map_err(connect_failed)?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Sender::Http1(sender))
    }
}

/// An HTTP/1.1 request names its path alone, and its host in `Host`
/// (without the scheme's default port), as hyper-util's client sent it.
fn to_origin_form(request: &mut Request<Full<Bytes>>, uri: &Uri) {
    if !request.headers().contains_key(http::header::HOST)
        && let Some(authority) = uri.authority()
    {
        let default_port = match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        };
        let host = match authority.port_u16() {
            Some(port) if port == default_port => authority.host(),
            _ => authority.as_str(),
        };
        if let Ok(value) = HeaderValue::from_str(host) {
            request.headers_mut().insert(http::header::HOST, value);
        }
    }
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
    *request.uri_mut() = Uri::from(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_keeps_the_path_and_names_the_host() {
        let uri: Uri = "http://cyclades.example.org:8080/compute/v2.0/servers/1?x=1"
            .parse()
            .unwrap();
        let mut request = Request::new(Full::default());
        *request.uri_mut() = uri.clone();
        to_origin_form(&mut request, &uri);
        assert_eq!(request.uri(), "/compute/v2.0/servers/1?x=1");
        assert_eq!(request.headers()["host"], "cyclades.example.org:8080");

        let uri: Uri = "https://cyclades.example.org:443/x".parse().unwrap();
        let mut request = Request::new(Full::default());
        to_origin_form(&mut request, &uri);
        assert_eq!(request.headers()["host"], "cyclades.example.org");
        let origin = Origin::of(&uri).unwrap();
        assert!(
            origin.is(&Origin::of(&"https://cyclades.example.org:443/y".parse().unwrap()).unwrap())
        );
        assert!(
            !origin.is(&Origin::of(&"http://cyclades.example.org:443/x".parse().unwrap()).unwrap())
        );
        assert!(Origin::of(&"/x".parse().unwrap()).is_err());
    }

    /// A server answering `200 ok` on every connection it accepts, each
    /// kept for `per_connection` requests and then closed; counts the
    /// connections.
    async fn server(
        per_connection: usize,
    ) -> (
        std::net::SocketAddr,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    for _ in 0..per_connection {
                        match s.read(&mut buf).await {
                            Ok(n) if n > 0 => {}
                            _ => return,
                        }
                        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if s.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn pool() -> Pool {
        let transport = super::super::Transport::new(super::super::TransportConfig {
            proxy: super::super::ProxySetting::None,
            ..Default::default()
        })
        .unwrap();
        let connector = transport.pool.connector.clone();
        Pool::new(connector, 4, Duration::from_secs(60))
    }

    async fn get(pool: &Pool, addr: std::net::SocketAddr, method: http::Method) -> Bytes {
        use http_body_util::BodyExt;
        let mut request = Request::new(Full::default());
        *request.method_mut() = method;
        *request.uri_mut() = format!("http://{addr}/x").parse().unwrap();
        let (response, lease) = pool.send(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        pool.give_back(lease);
        body
    }

    #[tokio::test]
    async fn a_connection_serves_call_after_call() {
        let (addr, accepted) = server(usize::MAX).await;
        let pool = pool();
        for _ in 0..5 {
            assert_eq!(get(&pool, addr, http::Method::GET).await, "ok");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_connection_the_peer_closed_is_replaced_for_any_method() {
        let (addr, accepted) = server(1).await;
        let pool = pool();
        for method in [http::Method::GET, http::Method::POST, http::Method::DELETE] {
            assert_eq!(get(&pool, addr, method).await, "ok");
            // Let the closed connection's task see the end of it, or not:
            // either way the next call must get its answer.
            tokio::task::yield_now().await;
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn idle_connections_are_bounded_per_origin() {
        let (addr, _) = server(usize::MAX).await;
        let pool = pool();
        let mut leases = Vec::new();
        for _ in 0..6 {
            let mut request = Request::new(Full::default());
            *request.uri_mut() = format!("http://{addr}/x").parse().unwrap();
            let (response, lease) = pool.send(request).await.unwrap();
            use http_body_util::BodyExt;
            response.into_body().collect().await.unwrap();
            leases.push(lease);
        }
        for lease in leases {
            pool.give_back(lease);
        }
        assert_eq!(pool.slots.lock().unwrap().idle.len(), 4);
    }

    /// An HTTP/2 origin (ALPN `h2` over TLS, as a site's front may
    /// offer): one connection serves every call, several at once.
    #[tokio::test]
    async fn an_h2_connection_is_shared_by_the_calls_to_its_origin() {
        use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let ca_issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca_issuer)
            .unwrap();
        let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(|_req| async {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });

        let transport = super::super::Transport::new(super::super::TransportConfig {
            proxy: super::super::ProxySetting::None,
            extra_roots: vec![ca.der().clone()],
            ..Default::default()
        })
        .unwrap();
        let call = || {
            let transport = transport.clone();
            async move {
                let request = Request::get(format!("https://localhost:{port}/x"))
                    .body(Full::default())
                    .unwrap();
                transport
                    .send(
                        request,
                        Duration::from_secs(10),
                        super::super::AnswerSize::Item,
                    )
                    .await
                    .unwrap()
            }
        };
        let (status, body) = call().await;
        assert_eq!((status.as_u16(), &body[..]), (200, &b"ok"[..]));
        let answers = futures_util::future::join_all((0..4).map(|_| call())).await;
        assert!(
            answers
                .iter()
                .all(|(s, b)| s.as_u16() == 200 && &b[..] == b"ok")
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one shared connection");
    }
}
