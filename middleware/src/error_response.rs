//! OCCI error responses in the negotiated rendering.
//!
//! Layers short-circuit with a response, never an error (tower-http
//! style); this module builds that response so that a 401 from an auth
//! filter looks like a 404 from the app.

use http::{HeaderValue, StatusCode, header};

use crate::{Body, HttpResponse, Negotiated};
use snf_occi_types::MediaType;

/// Builds an OCCI error response: `text/plain` body line, `X-OCCI-Error`
/// header (and body `OK`-less message) for `text/occi`, `{"code","message"}`
/// for JSON.
pub fn occi_error(status: StatusCode, message: &str, rendering: MediaType) -> HttpResponse {
    let (content_type, body) = match rendering {
        MediaType::OcciJson | MediaType::Json => (
            rendering.as_str(),
            serde_json::json!({ "code": status.as_u16(), "message": message }).to_string(),
        ),
        MediaType::TextOcci => ("text/occi", String::new()),
        MediaType::TextPlain | MediaType::UriList => ("text/plain", format!("{message}\n")),
    };
    let mut response = http::Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if rendering == MediaType::TextOcci {
        // Header values cannot hold control characters; keep the message readable.
        let clean: String = message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&clean) {
            headers.insert("x-occi-error", v);
        }
    }
    response
}

/// The response rendering recorded in a request's extensions, or text/plain.
pub fn rendering_of(extensions: &http::Extensions) -> MediaType {
    extensions
        .get::<Negotiated>()
        .map(|n| n.response)
        .unwrap_or(MediaType::TextPlain)
}
