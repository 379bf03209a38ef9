//! Typed request extensions: the contract between layers.
//!
//! paste-deploy filters talked through WSGI `environ` keys; our layers talk
//! through these types, inserted into `http::Request::extensions()`.
//! The extensions the OCCI model and the Synnefo client read too
//! ([`RequestId`](snf_occi_types::RequestId),
//! [`AuthContext`](snf_occi_types::AuthContext) and the [`MediaType`] inside
//! [`Negotiated`]) live in `snf-occi-types`, below both.

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use snf_occi_types::MediaType;

/// The certificate chain a TLS client presented (leaf first), inserted by
/// the server for every request of that connection.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// What `occi_negotiate` chose: the response rendering and the request
/// body's syntax (`None` when the request has no body or no Content-Type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The rendering of the response.
    pub response: MediaType,
    /// The syntax of the request body, if any.
    pub request: Option<MediaType>,
}

impl Default for Negotiated {
    fn default() -> Self {
        Negotiated {
            response: MediaType::TextPlain,
            request: None,
        }
    }
}

/// The remote address of the connection a request came on, inserted by
/// the server (used e.g. to trust forwarded certificate headers only from
/// configured front ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddr(pub std::net::SocketAddr);

/// The route template an app matched, e.g. `/compute/{id}`: set by the app
/// as a *response* extension so the `metrics` layer can label a request by
/// its route without ever putting an id into a label. A response without
/// one is counted as `unmatched`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteTemplate(pub &'static str);

impl RouteTemplate {
    /// The label used when no app set a template.
    pub const UNMATCHED: RouteTemplate = RouteTemplate("unmatched");

    /// The template as text.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}
