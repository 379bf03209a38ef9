//! A request body that must arrive in time: [`TimedBody`] fails with
//! [`BodyReadTimeout`] when its last byte has not arrived by a deadline,
//! so that a client trickling (or stalling) its body cannot hold a
//! request, and the memory and connection it uses, open. The server wraps
//! every request body in one (`server.limits.body_read_timeout`); a reader
//! that finds [`BodyReadTimeout`] in the error's source chain
//! ([`is_body_timeout`]) answers `408 Request Timeout`.
//!
//! tower-http's `RequestBodyTimeoutLayer` restarts its timer at every
//! frame, so a client sending a byte at a time never trips it; this one
//! is a deadline for the whole body.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use http_body_util::BodyExt;
//! use snf_occi_middleware::body_timeout::{TimedBody, is_body_timeout};
//! # use snf_occi_middleware::Body;
//! // A body whose next frame never comes.
//! let never = http_body_util::StreamBody::new(futures_util::stream::pending::<
//!     Result<http_body::Frame<bytes::Bytes>, std::convert::Infallible>,
//! >());
//! let body = Body::new(TimedBody::new(never, Duration::from_millis(10)));
//! let err = body.collect().await.unwrap_err();
//! assert!(is_body_timeout(&err));
//! # }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::BoxError;

/// The body did not arrive in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the request body did not arrive within {}", humantime_format(*.0))]
pub struct BodyReadTimeout(pub Duration);

fn humantime_format(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

pin_project! {
    /// A body failing with [`BodyReadTimeout`] past a deadline.
    pub struct TimedBody<B> {
        #[pin]
        inner: B,
        #[pin]
        deadline: Sleep,
        limit: Duration,
        done: bool,
    }
}

impl<B> TimedBody<B> {
    /// `inner` must end within `limit` from now.
    pub fn new(inner: B, limit: Duration) -> Self {
        TimedBody {
            inner,
            deadline: tokio::time::sleep_until(Instant::now() + limit),
            limit,
            done: false,
        }
    }
}

impl<B> HttpBody for TimedBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame.map_err(Into::into))),
            Poll::Ready(None) => {
                *this.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => match this.deadline.poll(cx) {
                Poll::Ready(()) => {
                    *this.done = true;
                    Poll::Ready(Some(Err(Box::new(BodyReadTimeout(*this.limit)))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `err` (or any error it wraps) is a [`BodyReadTimeout`].
pub fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<BodyReadTimeout>() {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_complete_body_passes_and_a_stalled_one_times_out() {
        let full = TimedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"abc")),
            Duration::from_secs(5),
        );
        assert_eq!(full.collect().await.unwrap().to_bytes(), "abc");

        let stalled = http_body_util::StreamBody::new(futures_util::stream::pending::<
            Result<Frame<Bytes>, std::convert::Infallible>,
        >());
        let body = crate::Body::new(TimedBody::new(stalled, Duration::from_millis(20)));
        let err = body.collect().await.unwrap_err();
        assert!(is_body_timeout(&err), "{err:?}");
        assert!(
            err.to_string().contains("did not arrive within 20ms"),
            "{err}"
        );
    }
}
