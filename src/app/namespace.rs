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
//! A user mixin's location (`/my_tag/`) is its collection: GET lists the
//! tagged entities, POST with `X-OCCI-Location`s tags more (each must be
//! one of the caller's entities), POST `?action=` acts on the tagged
//! entities, PUT replaces the tagged set, DELETE untags the listed
//! locations (all of them when none is listed).

use std::sync::Arc;

use axum::extract::{Request, State};
use http::{Method, request::Parts};

use crate::middleware::HttpResponse;

use super::AppState;
use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::handlers::{
    action_of, context, filter_entities, for_each_id, negotiated, ok, query_param, read_request,
    render_entities, render_outcomes,
};
use super::response::RenderedResponse;
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
        let wanted = if path.ends_with('/') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        let type_id = ctx
            .state
            .store
            .tags(ctx.user())
            .await?
            .mixins()
            .iter()
            .find(|m| m.location == wanted)
            .map(|m| m.type_id())
            .ok_or_else(|| AppError::NotFound(format!("{path} is not an OCCI path")))?;
        return user_mixin_collection(&ctx, parts, body, &type_id).await;
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
            Ok(render_entities(&ctx, filter_entities(all, &filter)))
        }
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: path.to_owned(),
        }),
    }
}

/// Shows the caller's entity at `location` (a path or one of our URLs),
/// dispatching on its collection; 404 if it is not one.
pub async fn show_any(ctx: &Ctx, location: &str) -> Result<Entity, AppError> {
    let path = ctx.state.renderer.path_of(location).unwrap_or(location);
    let not_found = || AppError::NotFound(format!("{location} is not one of your entities"));
    let (collection, id) = path
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(not_found)?;
    if id.is_empty() || id.contains('/') {
        return Err(not_found());
    }
    match collection {
        "compute" => compute::Compute::show(ctx, id).await,
        "storage" => storage::Storage::show(ctx, id).await,
        "network" => network::Network::show(ctx, id).await,
        "storagelink" => storagelink::StorageLink::show(ctx, id).await,
        "networkinterface" | "networklink" => {
            networkinterface::NetworkInterface::show(ctx, id).await
        }
        "ipreservation" => ipreservation::IpReservation::show(ctx, id).await,
        _ => Err(not_found()),
    }
}

/// Triggers `action` on the caller's entity at `location` (its kind must
/// have the action, else 400).
async fn action_any(
    ctx: &Ctx,
    location: &str,
    action_term: &str,
    req: &crate::occi::OcciRequest,
) -> Result<ActionOutcome, AppError> {
    let (collection, id) = location
        .trim_start_matches('/')
        .split_once('/')
        .unwrap_or_default();
    macro_rules! act {
        ($c:ty) => {{
            let action = action_of(req, action_term, <$c>::KIND)?;
            <$c>::action(ctx, id, &action, &req.attributes).await
        }};
    }
    match collection {
        "compute" => act!(compute::Compute),
        "storage" => act!(storage::Storage),
        "network" => act!(network::Network),
        "storagelink" => act!(storagelink::StorageLink),
        "networkinterface" | "networklink" => act!(networkinterface::NetworkInterface),
        "ipreservation" => act!(ipreservation::IpReservation),
        _ => Err(AppError::NotFound(format!(
            "{location} is not one of your entities"
        ))),
    }
}

/// The entity paths a request lists (`X-OCCI-Location`s), checked to be
/// the caller's entities.
async fn owned_locations(
    ctx: &Ctx,
    req: &crate::occi::OcciRequest,
) -> Result<Vec<String>, AppError> {
    let mut out = Vec::new();
    for location in &req.locations {
        let entity = show_any(ctx, location).await?;
        out.push(entity.location().to_owned());
    }
    Ok(out)
}

async fn user_mixin_collection(
    ctx: &Ctx,
    parts: &Parts,
    body: axum::body::Body,
    type_id: &str,
) -> Result<HttpResponse, AppError> {
    let req = read_request(parts, body, ctx).await?;
    let store = &ctx.state.store;
    let user = ctx.user();
    match parts.method {
        Method::GET | Method::HEAD => {
            let locations = store.tags(user).await?.associations(type_id)?.to_vec();
            if ctx.media().is_json() {
                let mut entities = Vec::new();
                for l in &locations {
                    match show_any(ctx, l).await {
                        Ok(mut e) => {
                            e.add_mixin(type_id);
                            entities.push(e);
                        }
                        // Deleted behind our back: not part of the collection.
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e),
                    }
                }
                return Ok(render_entities(ctx, filter_entities(entities, &req)));
            }
            Ok(ctx
                .state
                .renderer
                .locations(&locations, ctx.media())?
                .into_response(http::StatusCode::OK))
        }
        Method::POST if query_param(parts, "action").is_some() => {
            let action = query_param(parts, "action").unwrap_or_default();
            let locations = store.tags(user).await?.associations(type_id)?.to_vec();
            let outcomes = for_each_id(ctx, locations, "the action", |l| {
                let action = &action;
                let req = &req;
                async move { action_any(ctx, &l, action, req).await }
            })
            .await?;
            Ok(render_outcomes(ctx, outcomes))
        }
        Method::POST => {
            let locations = owned_locations(ctx, &req).await?;
            store.associate(user, type_id, &locations).await?;
            Ok(ok(ctx))
        }
        Method::PUT => {
            let locations = owned_locations(ctx, &req).await?;
            store
                .replace_associations(user, type_id, &locations)
                .await?;
            Ok(ok(ctx))
        }
        Method::DELETE => {
            let locations: Vec<String> = if req.locations.is_empty() {
                store.tags(user).await?.associations(type_id)?.to_vec()
            } else {
                req.locations
                    .iter()
                    .map(|l| ctx.state.renderer.path_of(l).unwrap_or(l).to_owned())
                    .collect()
            };
            store.dissociate(user, type_id, &locations).await?;
            Ok(ok(ctx))
        }
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        }),
    }
}
