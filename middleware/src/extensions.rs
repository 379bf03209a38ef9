//! Typed request extensions: the contract between layers.
//!
//! paste-deploy filters talked through WSGI `environ` keys; our layers talk
//! through these types, inserted into `http::Request::extensions()`.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use rustls_pki_types::CertificateDer;

/// The id of one request, accepted from `X-Request-Id` or generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The certificate chain a TLS client presented (leaf first), inserted by
/// the server for every request of that connection.
#[derive(Clone, Debug, Default)]
pub struct PeerCertificates(pub Arc<Vec<CertificateDer<'static>>>);

/// An OCCI media type, for a response rendering or a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `text/plain`: OCCI text rendering in the body (the default).
    TextPlain,
    /// `text/occi`: OCCI text rendering in HTTP headers, body `OK`.
    TextOcci,
    /// `text/uri-list`: locations only, one per line.
    UriList,
    /// `application/occi+json`: OCCI 1.2 JSON rendering.
    OcciJson,
    /// `application/json`: the same JSON rendering under the generic type.
    Json,
}

impl MediaType {
    /// Every media type, in server preference order.
    pub const ALL: [MediaType; 5] = [
        MediaType::TextPlain,
        MediaType::TextOcci,
        MediaType::UriList,
        MediaType::OcciJson,
        MediaType::Json,
    ];

    /// The `type/subtype` string.
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaType::TextPlain => "text/plain",
            MediaType::TextOcci => "text/occi",
            MediaType::UriList => "text/uri-list",
            MediaType::OcciJson => "application/occi+json",
            MediaType::Json => "application/json",
        }
    }

    /// Whether this is one of the JSON renderings.
    pub const fn is_json(self) -> bool {
        matches!(self, MediaType::OcciJson | MediaType::Json)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// A secret (a Synnefo token): `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(Arc<str>);

impl SecretToken {
    /// Wraps a secret.
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        SecretToken(secret.into())
    }

    /// The secret itself, to put in an outgoing `X-Auth-Token` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Who the caller is, set by any auth filter; the app answers 401 when it
/// is missing, so a pipeline without an auth filter fails closed.
#[derive(Clone, Debug)]
pub struct AuthContext {
    /// The Synnefo token to call Synnefo with, on the caller's behalf.
    pub token: SecretToken,
    /// The user's Synnefo (Astakos) UUID.
    pub user: String,
    /// The user's display name, when the identity service gave one.
    pub user_name: Option<String>,
    /// The project (tenant) resources are created in.
    pub project: Option<String>,
    /// When the token expires, if known.
    pub expires: Option<SystemTime>,
    /// Which filter authenticated the request (`keystone_auth`, ...), for
    /// metrics and logs.
    pub method: &'static str,
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
