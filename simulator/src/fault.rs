//! Synnefo fault answers: `{"<kind>": {"message", "code", "details"}}`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// A Synnefo fault the simulator answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// HTTP status.
    pub status: StatusCode,
    /// The JSON key (`itemNotFound`, ...).
    pub kind: &'static str,
    /// The message.
    pub message: String,
    /// The details (Cyclades passes an Astakos refusal's body here).
    pub details: String,
}

impl Fault {
    /// A fault of any kind.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            status,
            kind,
            message: message.into(),
            details: String::new(),
        }
    }
    /// The same fault with `details`.
    pub fn with_details(mut self, details: impl Into<String>) -> Fault {
        self.details = details.into();
        self
    }
    /// 400 `badRequest`.
    pub fn bad_request(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::BAD_REQUEST, "badRequest", message)
    }
    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404 `itemNotFound`.
    pub fn not_found(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::NOT_FOUND, "itemNotFound", message)
    }
    /// 409 `buildInProgress`.
    pub fn build_in_progress(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::CONFLICT, "buildInProgress", message)
    }
    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 413 `overLimit`.
    pub fn over_limit(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::PAYLOAD_TOO_LARGE, "overLimit", message)
    }
    /// 413 `overLimit` of a refused quota commission, as Cyclades words
    /// it (`synnefo/quotas/__init__.py` `handle_resource_commission`):
    /// the resource and the numbers are in the details.
    pub fn quota(resource: &str, available: u64, requested: u64) -> Fault {
        Fault::over_limit("Resource Limit Exceeded for your account.").with_details(format!(
            "Limit for resource '{resource}' exceeded for your account. Available: {available}, Requested: {requested}"
        ))
    }
    /// 501 `notImplemented`.
    pub fn not_implemented(message: impl Into<String>) -> Fault {
        Fault::new(StatusCode::NOT_IMPLEMENTED, "notImplemented", message)
    }
    /// 503 `serviceUnavailable`.
    pub fn unavailable(message: impl Into<String>) -> Fault {
        Fault::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceUnavailable",
            message,
        )
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            self.kind: { "message": self.message, "code": self.status.as_u16(), "details": self.details }
        });
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        response
    }
}

/// The content type of every simulator JSON answer.
pub const JSON: &str = "application/json; charset=UTF-8";

/// A JSON answer with a status.
pub fn json(status: StatusCode, value: serde_json::Value) -> Response {
    json_text(status, value.to_string())
}

/// A JSON answer already serialized.
pub fn json_text(status: StatusCode, text: String) -> Response {
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// Parses a JSON request body, or answers 400 as Synnefo does
/// (`snf_django/lib/api/utils.py` `get_json_body`: an empty body is not
/// JSON either).
pub fn parse_body(body: &[u8]) -> Result<serde_json::Value, Fault> {
    serde_json::from_slice(body)
        .map_err(|_| Fault::bad_request("Could not decode request body as JSON"))
}
