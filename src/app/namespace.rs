//! Every path that is not a kind collection, the query interface or a
//! provider mixin collection: the namespace root and unknown paths.
//!
//! `GET /` lists the caller's entities of every kind (the namespace
//! hierarchy's one level above the kind collections); `DELETE /` is
//! refused (405): deleting everything a user owns in one request is too
//! easy a mistake, delete a kind collection instead. Any other path is
//! 404 (after authentication: unknown paths do not leak to anonymous
//! callers either).
//!
//! NOT IMPLEMENTED YET: user mixin locations (they need the store).

use std::sync::Arc;

use axum::extract::{Request, State};
use http::{Method, request::Parts};

use crate::middleware::HttpResponse;

use super::AppState;
use super::collection::{Collection, Entity};
use super::error::AppError;
use super::handlers::{context, filter_entities, negotiated, read_request, render_entities};
use super::{compute, ipreservation, network, networkinterface, storage, storagelink};

/// Serves any other path.
pub async fn handler(State(state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let media = negotiated(&parts).response;
    match serve(&state, &parts, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(media),
    }
}

async fn serve(
    state: &Arc<AppState>,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<HttpResponse, AppError> {
    let ctx = context(parts, state)?;
    let path = parts.uri.path();
    if path != "/" {
        return Err(AppError::NotFound(format!("{path} is not an OCCI path")));
    }
    match parts.method {
        Method::GET | Method::HEAD => {
            let filter = read_request(parts, body, &ctx).await?;
            let (c, s, n, sl, ni, ip) = tokio::try_join!(
                compute::Compute::list(&ctx),
                storage::Storage::list(&ctx),
                network::Network::list(&ctx),
                storagelink::StorageLink::list(&ctx),
                networkinterface::NetworkInterface::list(&ctx),
                ipreservation::IpReservation::list(&ctx),
            )?;
            let all: Vec<Entity> = [c, s, n, sl, ni, ip].into_iter().flatten().collect();
            Ok(render_entities(&ctx, &filter_entities(all, &filter)))
        }
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: path.to_owned(),
        }),
    }
}
