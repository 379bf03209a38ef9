//! Every path that is not a kind collection, the query interface or a
//! provider mixin collection: user mixin locations and the namespace
//! hierarchy.
//!
//! NOT IMPLEMENTED YET (skeleton): answers 404.

use std::sync::Arc;

use axum::extract::{Request, State};

use crate::middleware::HttpResponse;

use super::AppState;
use super::error::AppError;
use super::handlers::negotiated;

/// Serves any other path.
pub async fn handler(State(_state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    let (parts, _) = req.into_parts();
    let media = negotiated(&parts).response;
    AppError::NotFound(format!("{} is not an OCCI path", parts.uri.path())).into_response(media)
}
