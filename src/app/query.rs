//! The query interface (`/-/` and `/.well-known/org/ogf/occi/-/`).
//!
//! NOT IMPLEMENTED YET (skeleton): answers 501.

use std::sync::Arc;

use axum::extract::{Request, State};

use crate::middleware::HttpResponse;

use super::AppState;
use super::error::AppError;
use super::handlers::negotiated;

/// Serves the query interface.
pub async fn handler(State(_state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    let media = negotiated(&req.into_parts().0).response;
    AppError::NotImplemented("the query interface is not implemented yet".to_owned())
        .into_response(media)
}
