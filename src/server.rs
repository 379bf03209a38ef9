//! The HTTP server: hyper 1 through hyper-util, optional rustls TLS with
//! optional or required client certificates, per-request [`RemoteAddr`]
//! and [`PeerCertificates`] extensions, header limits, connection
//! deadlines, and graceful shutdown.
//!
//! Protocols: over TLS, HTTP/2 when the client asks for it by ALPN, else
//! HTTP/1.1. A plain listener speaks HTTP/1.1 only, unless `server.h2c`
//! turns on HTTP/2 with prior knowledge beside it (see docs/configuration.md, `server.h2c`).
//!
//! Every connection must deliver its first request head within
//! `header_read_timeout` of being accepted, and is closed after
//! `idle_timeout` without a request, whatever its protocol (`lifetime`).
//!
//! The client-certificate verifier is pluggable ([`tls_config`] takes any
//! `rustls::server::danger::ClientCertVerifier`), so a verifier that
//! accepts RFC 3820 proxy chains can replace the default
//! `WebPkiClientVerifier` built from `client_ca`.
//!
//! ```no_run
//! use snf_occi::config::ServerConfig;
//! use snf_occi::server::{Server, shutdown_signal};
//! # async fn run(service: snf_occi::middleware::BoxHttp) -> Result<(), Box<dyn std::error::Error>> {
//! let server = Server::bind(&ServerConfig::default(), service).await?;
//! println!("listening on http://{}", server.local_addr()?);
//! server.serve(shutdown_signal()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use snf_occi_middleware::auth::{ClientAuth as ProxyClientAuth, ProxyClientCertVerifier};
use snf_occi_middleware::body_timeout::TimedBody;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

mod explain;
mod lifetime;

use explain::{ExplainParseErrors, HeadLimits};
use lifetime::{Activity, RequestGuard, Timeouts, TrackedBody, Watched};

use crate::config::{ClientAuth, LimitsConfig, ServerConfig, TlsConfig};
use crate::middleware::{Body, BoxHttp, PeerCertificates, RemoteAddr};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("`server.listen`: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// A TLS file is missing or unusable.
    #[error("`server.tls.{key}` ({}): {reason}", path.display())]
    Tls {
        /// The key naming the file (`cert`, `key`, `client_ca`).
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The TLS settings do not fit together.
    #[error("`server.tls`: {0}")]
    TlsSettings(String),
    /// The local address of the listener is unknown.
    #[error("cannot read the listening address: {0}")]
    LocalAddr(io::Error),
}

fn tls_file_error(key: &'static str, path: &Path, reason: impl ToString) -> ServerError {
    ServerError::Tls {
        key,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Reads the CA certificates in a PEM file.
pub fn load_roots(path: &Path) -> Result<RootCertStore, ServerError> {
    let mut roots = RootCertStore::empty();
    let certs =
        CertificateDer::pem_file_iter(path).map_err(|e| tls_file_error("client_ca", path, e))?;
    for cert in certs {
        let cert = cert.map_err(|e| tls_file_error("client_ca", path, e))?;
        roots
            .add(cert)
            .map_err(|e| tls_file_error("client_ca", path, e))?;
    }
    if roots.is_empty() {
        return Err(tls_file_error(
            "client_ca",
            path,
            "no certificate in the file",
        ));
    }
    Ok(roots)
}

/// The default client verifier of `tls`: none without `client_ca`, else
/// [`ProxyClientCertVerifier`] against `client_ca`: plain user certificates
/// and RFC 3820 proxy chains (VOMS proxies, which rustls' stock webpki
/// verifier rejects) alike; certificates optional unless
/// `client_auth = "required"`.
pub fn default_client_verifier(
    tls: &TlsConfig,
) -> Result<Arc<dyn ClientCertVerifier>, ServerError> {
    let Some(ca) = &tls.client_ca else {
        if tls.client_auth == ClientAuth::Required {
            return Err(ServerError::TlsSettings(
                "client_auth = \"required\" needs client_ca".into(),
            ));
        }
        return Ok(WebPkiClientVerifier::no_client_auth());
    };
    let client_auth = match tls.client_auth {
        ClientAuth::Optional => ProxyClientAuth::Optional,
        ClientAuth::Required => ProxyClientAuth::Required,
    };
    let verifier = ProxyClientCertVerifier::new(Arc::new(load_roots(ca)?), client_auth)
        .map_err(|e| tls_file_error("client_ca", ca, e))?;
    Ok(Arc::new(verifier))
}

/// The rustls server configuration of `tls`. `verifier` replaces the
/// default client-certificate verifier (e.g. one accepting proxy chains).
pub fn tls_config(
    tls: &TlsConfig,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| tls_file_error("cert", &tls.cert, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_file_error("cert", &tls.cert, e))?;
    if certs.is_empty() {
        return Err(tls_file_error(
            "cert",
            &tls.cert,
            "no certificate in the file",
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| tls_file_error("key", &tls.key, e))?;
    let verifier = match verifier {
        Some(v) => v,
        None => default_client_verifier(tls)?,
    };
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| tls_file_error("key", &tls.key, e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Resolves when the process gets SIGINT or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is
/// first polled: call it before announcing readiness, so that a signal
/// sent right after the announcement is never met by the default action
/// (killing the process mid-request).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!("cannot listen for SIGTERM/SIGINT: {e}");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A bound server, ready to serve one service.
pub struct Server {
    listener: TcpListener,
    service: BoxHttp,
    limits: LimitsConfig,
    tls: Option<TlsAcceptor>,
    h2c: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl Server {
    /// Binds `config.listen` and loads `[server.tls]` with the default
    /// client verifier.
    pub async fn bind(config: &ServerConfig, service: BoxHttp) -> Result<Self, ServerError> {
        let tls = match &config.tls {
            Some(tls) => Some(tls_config(tls, None)?),
            None => None,
        };
        Server::bind_with_tls(config, service, tls).await
    }

    /// Binds `config.listen`, serving TLS with `tls` when given (build it
    /// with [`tls_config`] to plug a custom client verifier).
    pub async fn bind_with_tls(
        config: &ServerConfig,
        service: BoxHttp,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Self, ServerError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        Ok(Server {
            listener,
            service,
            limits: config.limits.clone(),
            tls: tls.map(TlsAcceptor::from),
            h2c: config.h2c,
        })
    }

    /// A server on an already bound listener (plain HTTP/1.1).
    pub fn from_listener(listener: TcpListener, service: BoxHttp, limits: LimitsConfig) -> Self {
        Server {
            listener,
            service,
            limits,
            tls: None,
            h2c: false,
        }
    }

    /// Whether a plain listener also speaks HTTP/2 with prior knowledge
    /// (`server.h2c`; TLS listeners offer HTTP/2 by ALPN either way).
    pub fn with_h2c(mut self, h2c: bool) -> Self {
        self.h2c = h2c;
        self
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::LocalAddr)
    }

    fn builder(limits: &LimitsConfig) -> auto::Builder<TokioExecutor> {
        /// The most headers hyper takes in a request head when told no
        /// other bound (`proto::h1::role::DEFAULT_MAX_HEADERS`).
        const HYPER_MAX_HEADERS: usize = 100;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            // The head deadlines are `lifetime`'s, the same for both
            // protocols (hyper's would also cut idle keep-alive
            // connections at the head timeout).
            .header_read_timeout(None)
            // hyper refuses buffers under 8 KiB.
            .max_buf_size(limits.max_header_bytes.max(8192))
            .keep_alive(limits.keep_alive);
        // hyper's own bound is 100 headers, parsed into arrays on the
        // stack; a bound set here, even the same one, makes it fill two
        // vectors of that many slots for every request head (about 2,300
        // instructions a request under callgrind, 3 % of a show).
        if limits.max_headers != HYPER_MAX_HEADERS {
            builder.http1().max_headers(limits.max_headers);
        }
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .keep_alive_interval(Some(Duration::from_secs(30)));
        builder
    }

    /// Serves until `signal` resolves, then stops accepting, lets in-flight
    /// requests finish within `shutdown_grace`, and returns.
    pub async fn serve(self, signal: impl Future<Output = ()>) -> Result<(), ServerError> {
        let both = Server::builder(&self.limits);
        let builders = Arc::new(Builders {
            plain: if self.h2c {
                both.clone()
            } else {
                both.clone().http1_only()
            },
            http1: both.clone().http1_only(),
            http2: both.http2_only(),
        });
        // Every connection holds a receiver: `send` asks them to drain,
        // `closed` resolves when the last one has ended.
        let (drain, _) = watch::channel(());
        let timeouts = Timeouts {
            head: self.limits.header_read_timeout,
            idle: self.limits.idle_timeout,
        };
        let body_read_timeout = self.limits.body_read_timeout;
        let head_limits = HeadLimits {
            max_headers: self.limits.max_headers,
            max_header_bytes: self.limits.max_header_bytes,
        };
        tokio::pin!(signal);
        loop {
            let (stream, remote) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off
                        // instead of spinning.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut signal => break,
            };
            let _ = stream.set_nodelay(true);
            let service = self.service.clone();
            let tls = self.tls.clone();
            // One task shape per transport: a plain connection's task does
            // not reserve room for the TLS branch's state (thousands of idle
            // keep-alive connections each hold one task).
            let conn = Accepted {
                accepted: tokio::time::Instant::now(),
                stream,
                remote,
                service,
                drain: drain.subscribe(),
                timeouts,
                body_read_timeout,
                head_limits,
            };
            match tls {
                None => {
                    tokio::spawn(serve_plain(conn, builders.clone(), !self.h2c));
                }
                Some(acceptor) => {
                    tokio::spawn(serve_tls(conn, acceptor, builders.clone()));
                }
            }
        }
        drop(self.listener);
        tracing::info!(
            connections = drain.receiver_count(),
            "shutting down: no new connections, finishing in-flight requests"
        );
        let _ = drain.send(());
        match tokio::time::timeout(self.limits.shutdown_grace, drain.closed()).await {
            Ok(()) => tracing::info!("all connections closed"),
            Err(_) => {
                tracing::warn!("shutdown grace period elapsed; dropping the remaining connections")
            }
        }
        Ok(())
    }
}

/// The connection builders: a plain listener's (HTTP/1.1, or also h2c),
/// and the one protocol TLS clients chose by ALPN.
struct Builders {
    plain: auto::Builder<TokioExecutor>,
    http1: auto::Builder<TokioExecutor>,
    http2: auto::Builder<TokioExecutor>,
}

/// The per-connection hyper service: the body boxed, the connection's
/// remote address and peer certificates in the extensions, each request
/// counted in the connection's [`Activity`] until its response is sent.
#[derive(Clone)]
struct ConnectionService {
    service: BoxHttp,
    remote: SocketAddr,
    certs: Option<PeerCertificates>,
    body_read_timeout: Duration,
    activity: Arc<Activity>,
}

pin_project_lite::pin_project! {
    /// The response future, handing the request's guard to the body.
    struct Tracked {
        #[pin]
        inner: tower::util::Oneshot<BoxHttp, crate::middleware::HttpRequest>,
        guard: Option<RequestGuard>,
    }
}

impl Future for Tracked {
    type Output = Result<http::Response<TrackedBody<Body>>, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx));
        let guard = this.guard.take();
        std::task::Poll::Ready(
            response.map(|response| response.map(|body| TrackedBody::new(body, guard))),
        )
    }
}

impl hyper::service::Service<http::Request<Incoming>> for ConnectionService {
    type Response = http::Response<TrackedBody<Body>>;
    type Error = std::convert::Infallible;
    type Future = Tracked;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let guard = self.activity.request(req.version());
        // A client trickling its body is cut off (the app answers 408).
        let limit = self.body_read_timeout;
        let mut req = req.map(|body| Body::new(TimedBody::new(body, limit)));
        req.extensions_mut().insert(RemoteAddr(self.remote));
        if let Some(certs) = &self.certs {
            req.extensions_mut().insert(certs.clone());
        }
        Tracked {
            inner: self.service.clone().oneshot(req),
            guard: Some(guard),
        }
    }
}

/// An accepted connection and what serving it needs.
struct Accepted {
    accepted: tokio::time::Instant,
    stream: tokio::net::TcpStream,
    remote: SocketAddr,
    service: BoxHttp,
    drain: watch::Receiver<()>,
    timeouts: Timeouts,
    body_read_timeout: Duration,
    head_limits: HeadLimits,
}

/// Serves one plain-HTTP connection until it ends, misses a deadline or
/// shutdown drains it.
async fn serve_plain(c: Accepted, builders: Arc<Builders>, http1: bool) {
    let activity = Activity::new(c.accepted, http1);
    let io = Watched::new(c.stream, activity.clone());
    let conn = builders
        .plain
        .serve_connection(
            TokioIo::new(ExplainParseErrors::new(io, c.head_limits)),
            hyper_service(c.service, c.remote, None, c.body_read_timeout, &activity),
        )
        .into_owned();
    lifetime::drive(conn, &activity, c.timeouts, c.drain, c.remote).await;
}

/// Completes the TLS handshake (within `header_read_timeout` of the
/// accept), then serves the connection in the protocol the client chose
/// by ALPN, with the client's certificates attached.
async fn serve_tls(c: Accepted, acceptor: TlsAcceptor, builders: Arc<Builders>) {
    let remote = c.remote;
    let deadline = c.accepted + c.timeouts.head;
    let stream = match tokio::time::timeout_at(deadline, acceptor.accept(c.stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%remote, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            return;
        }
    };
    let tls = stream.get_ref().1;
    let certs = tls
        .peer_certificates()
        .map(|c| PeerCertificates(Arc::new(c.to_vec())));
    let http2 = tls.alpn_protocol() == Some(b"h2");
    let builder = if http2 {
        &builders.http2
    } else {
        &builders.http1
    };
    let activity = Activity::new(c.accepted, !http2);
    let io = Watched::new(stream, activity.clone());
    let conn = builder
        .serve_connection(
            TokioIo::new(ExplainParseErrors::new(io, c.head_limits)),
            hyper_service(c.service, remote, certs, c.body_read_timeout, &activity),
        )
        .into_owned();
    lifetime::drive(conn, &activity, c.timeouts, c.drain, remote).await;
}

fn hyper_service(
    service: BoxHttp,
    remote: SocketAddr,
    certs: Option<PeerCertificates>,
    body_read_timeout: Duration,
    activity: &Arc<Activity>,
) -> ConnectionService {
    ConnectionService {
        service,
        remote,
        certs,
        body_read_timeout,
        activity: activity.clone(),
    }
}
