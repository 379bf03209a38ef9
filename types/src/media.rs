//! [`MediaType`]: the OCCI renderings.

use std::fmt;

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
