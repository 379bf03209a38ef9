//! [`AppError`]: everything a request to the OCCI app can fail with, and
//! the OCCI error response each one becomes.
//!
//! The status says who is at fault: 4xx for what the client sent (or may
//! not do), the gateway status of [`SynnefoError`] for what the cloud
//! answered. Nothing a client or the cloud does becomes a 500.

use std::sync::Arc;

use http::StatusCode;

use crate::middleware::{HttpResponse, error_response::occi_error};
use crate::occi::{ParseError, RenderError, ValidationError};
use crate::store::StoreError;
use crate::synnefo::SynnefoError;
use snf_occi_types::MediaType;

/// Why an OCCI request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No [`AuthContext`](snf_occi_types::AuthContext): no auth filter
    /// ran or it let an anonymous request through (401; the auth filter
    /// adds its challenge on the way out).
    #[error("authentication required")]
    Unauthenticated,
    /// The body could not be parsed (400).
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// An attribute is missing, unknown or of the wrong type (400).
    #[error("{0}")]
    Validation(#[from] ValidationError),
    /// The request is well-formed but wrong (400), with the reason.
    #[error("{0}")]
    BadRequest(String),
    /// The client did not send its body in time (408).
    #[error("{0}")]
    RequestTimeout(String),
    /// The entity or path does not exist for this caller (404).
    #[error("{0}")]
    NotFound(String),
    /// The method is not allowed on this path (405).
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The method used.
        method: http::Method,
        /// The path.
        path: String,
    },
    /// The caller may not do this (403), e.g. delete a provider mixin.
    #[error("{0}")]
    Forbidden(String),
    /// The action or change does not apply in the entity's state (409).
    #[error("{0}")]
    Conflict(String),
    /// The entity is busy with something that ends by itself, e.g. a
    /// compute still being built (409 with `Retry-After`).
    #[error("{message}")]
    Busy {
        /// What is going on, and what to do.
        message: String,
        /// When trying again makes sense.
        retry_after: std::time::Duration,
    },
    /// The operation exists in OCCI but this gateway does not offer it (501).
    #[error("{0}")]
    NotImplemented(String),
    /// The requested rendering cannot hold this answer (400).
    #[error("{0}")]
    Render(#[from] RenderError),
    /// Synnefo refused or failed; `step` names what the gateway was doing.
    #[error("{step}: {}", .source.user_message())]
    Synnefo {
        /// What the gateway was doing (`create server`, `attach volume 7`).
        step: String,
        /// The error (shared: a cached failure answers several requests).
        source: Arc<SynnefoError>,
    },
    /// The mixin store failed (503: the request can be retried).
    #[error("mixin store: {0}")]
    Store(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            // A cap: 409, why not 413 or 403 is on the variants.
            StoreError::MixinExists(_)
            | StoreError::TooManyMixins { .. }
            | StoreError::TooManyAssociations { .. } => AppError::Conflict(e.to_string()),
            StoreError::NoSuchMixin(_) => AppError::NotFound(e.to_string()),
            other => AppError::Store(other.to_string()),
        }
    }
}

impl From<SynnefoError> for AppError {
    fn from(source: SynnefoError) -> Self {
        AppError::Synnefo {
            step: "Synnefo".to_owned(),
            source: Arc::new(source),
        }
    }
}

impl AppError {
    /// A Synnefo failure while doing `step`.
    pub fn synnefo(step: impl Into<String>, source: SynnefoError) -> Self {
        AppError::Synnefo {
            step: step.into(),
            source: Arc::new(source),
        }
    }

    /// A shared Synnefo failure (from a single-flight cache) while doing
    /// `step`.
    pub fn synnefo_shared(step: impl Into<String>, source: Arc<SynnefoError>) -> Self {
        AppError::Synnefo {
            step: step.into(),
            source,
        }
    }

    /// Whether this is Synnefo's 404 (the entity is gone).
    pub fn is_not_found(&self) -> bool {
        matches!(self, AppError::NotFound(_))
            || matches!(self, AppError::Synnefo { source, .. } if source.is_not_found())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Parse(ParseError::TooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Parse(_)
            | AppError::Validation(_)
            | AppError::BadRequest(_)
            | AppError::Render(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) | AppError::Busy { .. } => StatusCode::CONFLICT,
            AppError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            AppError::Synnefo { source, .. } => source.gateway_status(),
            AppError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The OCCI error response in `rendering`.
    pub fn into_response(self, rendering: MediaType) -> HttpResponse {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(%status, error = %self, "OCCI request failed");
        }
        let mut response = occi_error(status, &self.to_string(), rendering);
        match self {
            AppError::MethodNotAllowed { .. } => {
                // 405 must say what is allowed; every OCCI path allows these.
                response.headers_mut().insert(
                    http::header::ALLOW,
                    http::HeaderValue::from_static("GET, HEAD, POST, PUT, DELETE"),
                );
            }
            AppError::Busy { retry_after, .. } => {
                let seconds = retry_after.as_secs().max(1);
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}
