//! How long a connection may stay open without a request.
//!
//! hyper bounds the time to read an HTTP/1 request head, but only once
//! the connection is known to speak HTTP/1: the protocol detection of a
//! plain listener (HTTP/1 or the HTTP/2 preface) waits for a first byte
//! forever, and nothing bounds an HTTP/2 connection that opens no stream
//! (a client can send the preface and answer pings for ever). So the
//! server keeps the deadlines itself, for every protocol alike:
//!
//! - from the moment it is accepted, a connection has
//!   `header_read_timeout` to deliver its first complete request head
//!   (TLS handshake included);
//! - between requests it may stay idle for `idle_timeout`, counted from
//!   the end of the last response (HTTP/2 pings do not count as
//!   requests);
//! - on HTTP/1, a request head that has begun must be complete within
//!   `header_read_timeout` of its first byte (a slow head cannot use the
//!   longer idle allowance);
//! - while a request is in flight neither applies (the body and the
//!   `timeout` filter have their own limits).
//!
//! When a deadline passes the connection is shut down gracefully (HTTP/2
//! `GOAWAY`, HTTP/1 close) and dropped if it has not ended a second later
//! with no request in flight.
//!
//! [`Activity`] is the per-connection record the request path updates
//! (a [`RequestGuard`] per request, held by its response body until the
//! body is sent or dropped; bytes read by [`Watched`]), and [`drive`]
//! polls the connection against it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a connection that misses a deadline has to end after its
/// graceful shutdown before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// No HTTP/1 head has begun since the last response.
const NO_HEAD: u64 = u64::MAX;

/// The deadlines of [`drive`] (`server.limits`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    /// Time to the first complete request head, and to complete an
    /// HTTP/1 head once it has begun.
    pub head: Duration,
    /// Time a connection may stay open between requests.
    pub idle: Duration,
}

/// What one connection has been doing, shared by its requests and its
/// driver. Times are milliseconds since `started`.
#[derive(Debug)]
pub(crate) struct Activity {
    started: Instant,
    in_flight: AtomicU32,
    served: AtomicBool,
    http1: AtomicBool,
    idle_since: AtomicU64,
    head_since: AtomicU64,
}

impl Activity {
    /// A connection accepted at `started`. `http1` when it is known to
    /// speak HTTP/1 (an HTTP/1-only listener, TLS without ALPN `h2`);
    /// otherwise its first request tells.
    pub(crate) fn new(started: Instant, http1: bool) -> Arc<Activity> {
        Arc::new(Activity {
            started,
            in_flight: AtomicU32::new(0),
            served: AtomicBool::new(false),
            http1: AtomicBool::new(http1),
            idle_since: AtomicU64::new(0),
            head_since: AtomicU64::new(NO_HEAD),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.started + Duration::from_millis(ms)
    }

    /// A request head was read: it is in flight until the guard drops.
    pub(crate) fn request(self: &Arc<Self>, version: http::Version) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        if !self.served.swap(true, Ordering::Relaxed) && version < http::Version::HTTP_2 {
            self.http1.store(true, Ordering::Relaxed);
        }
        self.head_since.store(NO_HEAD, Ordering::Relaxed);
        RequestGuard {
            activity: self.clone(),
        }
    }

    /// Bytes arrived: on an idle HTTP/1 connection, a head has begun.
    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.served.load(Ordering::Relaxed)
            && self.http1.load(Ordering::Relaxed)
            && self.head_since.load(Ordering::Relaxed) == NO_HEAD
        {
            self.head_since.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// When the connection is next due to be looked at, and whether it
    /// is then to be closed (and why).
    fn deadline(&self, timeouts: Timeouts) -> (Instant, Option<&'static str>) {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            // Look again later: the request's end restarts the idle clock.
            return (Instant::now() + timeouts.idle, None);
        }
        if !self.served.load(Ordering::Relaxed) {
            return (
                self.started + timeouts.head,
                Some("no request within server.limits.header_read_timeout"),
            );
        }
        let idle = (
            self.at(self.idle_since.load(Ordering::Relaxed)) + timeouts.idle,
            Some("idle for server.limits.idle_timeout"),
        );
        match self.head_since.load(Ordering::Relaxed) {
            NO_HEAD => idle,
            since => {
                let head = (
                    self.at(since) + timeouts.head,
                    Some("request head not complete within server.limits.header_read_timeout"),
                );
                if head.0 < idle.0 { head } else { idle }
            }
        }
    }
}

/// One request in flight; dropping it (with the response body it is
/// moved into) ends the request.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let activity = &self.activity;
        activity
            .idle_since
            .store(activity.now_ms(), Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds its request's [`RequestGuard`] until
    /// it has been sent (or dropped).
    pub(crate) struct TrackedBody<B> {
        #[pin]
        inner: B,
        guard: Option<RequestGuard>,
    }
}

impl<B> TrackedBody<B> {
    pub(crate) fn new(inner: B, guard: Option<RequestGuard>) -> Self {
        TrackedBody { inner, guard }
    }
}

impl<B: HttpBody> HttpBody for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = frame {
            // Sent: the connection is idle from now, even if hyper keeps
            // the body around a little longer.
            this.guard.take();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A connection's stream, telling its [`Activity`] when bytes arrive.
    pub(crate) struct Watched<T> {
        #[pin]
        inner: T,
        activity: Arc<Activity>,
    }
}

impl<T> Watched<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<T: AsyncRead> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.inner.poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_read();
        }
        result
    }
}

impl<T: AsyncWrite> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `conn` until it ends, shutting it down gracefully when the
/// server drains (`shutdown` changes or closes) or when a deadline of
/// [`Activity`] passes with no request in flight.
pub(crate) async fn drive<C>(
    conn: C,
    activity: &Activity,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<()>,
    remote: std::net::SocketAddr,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(conn);
    let mut draining = false;
    // Set once a deadline passed: when the connection is dropped unless
    // it has ended by itself.
    let mut closing: Option<Instant> = None;
    loop {
        let wake = match closing {
            Some(at) => at,
            None => activity.deadline(timeouts).0,
        };
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!(%remote, "connection ended: {e}");
                }
                return;
            }
            _ = shutdown.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(wake) => {
                if closing.is_some() {
                    if activity.in_flight.load(Ordering::Relaxed) == 0 {
                        tracing::debug!(%remote, "connection dropped: it did not close");
                        return;
                    }
                    // A request slipped in before the shutdown took: let
                    // it finish, and look again.
                    closing = Some(Instant::now() + CLOSE_GRACE);
                } else if let (due, Some(reason)) = activity.deadline(timeouts)
                    && Instant::now() >= due
                {
                    tracing::debug!(%remote, "closing the connection: {reason}");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + CLOSE_GRACE);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        head: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_requests() {
        let activity = Activity::new(Instant::now(), false);
        let (at, why) = activity.deadline(T);
        assert_eq!(at, Instant::now() + T.head);
        assert!(why.unwrap().contains("no request"));

        let guard = activity.request(http::Version::HTTP_11);
        assert!(activity.deadline(T).1.is_none(), "a request is in flight");
        // Bytes of the request's body are not a new head.
        activity.bytes_read();
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(guard);
        let (at, why) = activity.deadline(T);
        assert_eq!(at, Instant::now() + T.idle);
        assert!(why.unwrap().contains("idle"));

        // The next head begins: it has `head`, not `idle`, to finish.
        tokio::time::advance(Duration::from_secs(5)).await;
        activity.bytes_read();
        let (at, why) = activity.deadline(T);
        assert_eq!(at, Instant::now() + T.head);
        assert!(why.unwrap().contains("request head"));
        let _next = activity.request(http::Version::HTTP_11);
        assert!(activity.deadline(T).1.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn http2_bytes_between_requests_are_not_heads() {
        let activity = Activity::new(Instant::now(), false);
        drop(activity.request(http::Version::HTTP_2));
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.bytes_read(); // a PING
        let (at, why) = activity.deadline(T);
        assert!(why.unwrap().contains("idle"));
        assert_eq!(at, Instant::now() - Duration::from_secs(30) + T.idle);
    }
}
