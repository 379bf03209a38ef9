//! Reusable Tower layers of snf-occi.
//!
//! Every layer here is shaped like a tower-http middleware (`XLayer` +
//! `X<S>`), has `Error = Infallible` when its inner service has, and talks
//! to its neighbours only through the typed request extensions of
//! [`extensions`] and of `snf-occi-types` (request id, auth context, media
//! type). They plug unchanged into a `tower::ServiceBuilder`, an
//! axum `Router::layer` or a hyper-util server.
//!
//! Where tower-http has the layer, it is used rather than rewritten: the
//! timeout and the request body limit are tower-http's, their own answers
//! turned into OCCI error bodies by [`error_response::OcciErrorBodyLayer`];
//! [`request_id`] builds on tower-http's request-id layers. A layer of our
//! own says in its docs why tower-http's would not do.
//!
//! No layer here sets the `Server` header: that is the server's to say,
//! once, on every response (snf-occi's always-on edge does).
//!
//! The canonical request and response types are [`HttpRequest`] and
//! [`HttpResponse`] over axum-core's boxed [`Body`].

use std::convert::Infallible;

pub mod auth;
pub mod body_timeout;
pub mod concurrency_limit;
pub mod error_response;
pub mod extensions;
pub mod metrics;
pub mod negotiate;
pub mod request_id;
pub mod request_log;
pub mod sensitive_headers;

pub use extensions::{Negotiated, PeerCertificates, RemoteAddr, RouteTemplate};

/// The body type every snf-occi service takes and returns.
pub type Body = axum_core::body::Body;
/// The request type every snf-occi service takes.
pub type HttpRequest = http::Request<Body>;
/// The response type every snf-occi service returns.
pub type HttpResponse = http::Response<Body>;
/// A type-erased, cloneable, `Send + Sync` HTTP service that never fails.
pub type BoxHttp = tower::util::BoxCloneSyncService<HttpRequest, HttpResponse, Infallible>;
/// A type-erased layer producing a [`BoxHttp`]: one configured filter.
pub type BoxHttpLayer =
    tower::util::BoxCloneSyncServiceLayer<BoxHttp, HttpRequest, HttpResponse, Infallible>;
/// The error type of fallible building blocks (bodies, I/O).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
