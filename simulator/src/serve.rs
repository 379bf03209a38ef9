//! The simulator's server: accept loop, fault injection, per-operation
//! counters, and the router of every service.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tower::ServiceExt;

use super::fault::Fault;
use super::seed::FaultSettings;
use super::state::World;

/// Shared simulator state.
pub(crate) struct Sim {
    world: Mutex<World>,
    counters: Mutex<HashMap<String, u64>>,
    faults: RwLock<Arc<FaultSettings>>,
    error_seq: AtomicU64,
    drop_seq: AtomicU64,
    drop_after_seq: AtomicU64,
}

impl Sim {
    pub(crate) fn new(world: World, faults: FaultSettings) -> Sim {
        Sim {
            world: Mutex::new(world),
            counters: Mutex::new(HashMap::new()),
            faults: RwLock::new(Arc::new(faults)),
            error_seq: AtomicU64::new(0),
            drop_seq: AtomicU64::new(0),
            drop_after_seq: AtomicU64::new(0),
        }
    }

    /// The world, locked, with the transitions that came due completed
    /// (a poisoned lock is still usable: every operation leaves the world
    /// consistent before it can panic).
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        let mut world = self.world.lock().unwrap_or_else(|e| e.into_inner());
        world.tick(std::time::Instant::now());
        world
    }

    pub(crate) fn counters(&self) -> BTreeMap<String, u64> {
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub(crate) fn reset_counters(&self) {
        self.counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn count(&self, key: &str) {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        match counters.get_mut(key) {
            Some(n) => *n += 1,
            None => {
                counters.insert(key.to_owned(), 1);
            }
        }
    }

    pub(crate) fn faults(&self) -> Arc<FaultSettings> {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_faults(&self, faults: FaultSettings) {
        *self.faults.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(faults);
        self.error_seq.store(0, Ordering::Relaxed);
        self.drop_seq.store(0, Ordering::Relaxed);
        self.drop_after_seq.store(0, Ordering::Relaxed);
    }
}

/// Whether request number `n` (from a shared sequence) falls in a share:
/// exactly round-down(N x rate) of the first N requests do.
fn in_share(seq: &AtomicU64, rate: f64) -> bool {
    if rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    let n = seq.fetch_add(1, Ordering::Relaxed) as f64;
    ((n + 1.0) * rate).floor() > (n * rate).floor()
}

/// The service a path belongs to, for `down`.
fn service_of(path: &str) -> &str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "account" => "identity",
        other => other,
    }
}

/// Closes the connection without an answer (hyper does, on a service
/// error).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// The counter key of a routed request: `"<METHOD> <route>"`.
fn operation(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|route| format!("{} {}", request.method(), route.as_str()))
}

/// Counts each routed request as `"<METHOD> <route>"`, faulted or not; a
/// listing of the changes since (`?changes-since=`) apart, as
/// `"<METHOD> <route>?changes-since"`, so that tests can tell a client
/// that reads only those from one that reads everything.
async fn count(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if let Some(mut key) = operation(&request) {
        let delta = request
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("changes-since=")));
        if delta {
            key.push_str("?changes-since");
        }
        sim.count(&key);
    }
    next.run(request).await
}

/// Marks an answer that [`handle`] turns into a dropped connection.
#[derive(Clone, Copy, Debug)]
struct Dropped;

/// Injects the configured drops, latency and errors into routed requests
/// (after [`count`]: a faulted call is still counted, so that tests can
/// see how often a client tried).
async fn inject(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let faults = sim.faults();
    if !faults.routes.is_empty() {
        let applies = operation(&request).is_some_and(|key| faults.routes.contains(&key));
        if !applies {
            return next.run(request).await;
        }
    }
    if in_share(&sim.drop_seq, faults.drop_rate) {
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response.extensions_mut().insert(Dropped);
        return response;
    }
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if in_share(&sim.error_seq, faults.error_rate) {
        let status = faults
            .error_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let kind = match status.as_u16() {
            503 => "serviceUnavailable",
            501 => "notImplemented",
            _ => "computeFault",
        };
        return Fault::new(status, kind, "Injected failure").into_response();
    }
    if in_share(&sim.drop_after_seq, faults.drop_after_rate) {
        let mut response = next.run(request).await;
        response.extensions_mut().insert(Dropped);
        return response;
    }
    if faults.answer_latency.is_zero() {
        return next.run(request).await;
    }
    // Carry the request out even if the client gives up meanwhile (hyper
    // drops a handler whose connection closed), then answer late.
    let response = tokio::spawn(next.run(request))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    tokio::time::sleep(faults.answer_latency).await;
    response
}

async fn not_found(State(sim): State<Arc<Sim>>, request: Request) -> Response {
    sim.count(&format!("{} (unknown endpoint)", request.method()));
    Fault::bad_request("API endpoint not found").into_response()
}

async fn not_allowed() -> Response {
    Fault::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "badMethod",
        "Method not allowed",
    )
    .into_response()
}

fn router(sim: Arc<Sim>) -> Router {
    let services = Router::new()
        .merge(super::identity::routes())
        .merge(super::api::routes())
        .method_not_allowed_fallback(not_allowed)
        .route_layer(axum::middleware::from_fn_with_state(sim.clone(), inject))
        .route_layer(axum::middleware::from_fn_with_state(sim.clone(), count))
        .fallback(not_found);
    services
        .nest("/_sim", super::admin::routes())
        .with_state(sim)
}

/// Serves until `stopped` fires.
pub(crate) async fn run(
    listener: tokio::net::TcpListener,
    sim: Arc<Sim>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let app = router(sim.clone());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                // Out of file descriptors and the like: back off a little.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let sim = sim.clone();
        let service =
            hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
                handle(sim.clone(), app.clone(), request.map(Body::new))
            });
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(connection).await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(2), graceful.shutdown()).await;
}

async fn handle(
    sim: Arc<Sim>,
    app: Router,
    mut request: Request,
) -> Result<Response, DropConnection> {
    normalize(&mut request);
    let path = request.uri().path();
    if !path.starts_with("/_sim") {
        let faults = sim.faults();
        if !faults.down.is_empty() && faults.down.iter().any(|s| s == service_of(path)) {
            return Err(DropConnection);
        }
    }
    let response: Result<Response, Infallible> = app.oneshot(request).await;
    match response {
        Ok(r) if r.extensions().get::<Dropped>().is_some() => Err(DropConnection),
        Ok(r) => Ok(r),
        Err(never) => match never {},
    }
}

/// Drops one trailing slash (kamaki and friends add them freely).
fn normalize(request: &mut Request) {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match request.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(pq) = rebuilt.parse::<http::uri::PathAndQuery>() {
            let mut parts = request.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = http::Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_exact() {
        let seq = AtomicU64::new(0);
        let hits = (0..100).filter(|_| in_share(&seq, 0.25)).count();
        assert_eq!(hits, 25);
        let seq = AtomicU64::new(0);
        assert_eq!((0..10).filter(|_| in_share(&seq, 0.0)).count(), 0);
        assert_eq!((0..10).filter(|_| in_share(&seq, 1.0)).count(), 10);
    }

    #[test]
    fn services_by_path() {
        assert_eq!(service_of("/compute/v2.0/servers"), "compute");
        assert_eq!(service_of("/account/v1.0/user_catalogs"), "identity");
        assert_eq!(service_of("/astavoms/v2.0/tokens"), "astavoms");
    }
}
