//! The provider mixin collections: `/os_tpl/`, `/resource_tpl/` and
//! their members (`/os_tpl/<term>/`, `/resource_tpl/<term>/`; the id or
//! name of the image or flavor finds it too), and `/storage_tpl/`.
//!
//! - GET lists the caller's computes with that template (the parent: with
//!   any); POST `?action=` acts on them.
//! - POST with `X-OCCI-Location`s associates computes with the template:
//!   a new resource_tpl resizes each (it must be stopped); a new os_tpl
//!   is refused (that would be a rebuild).
//! - PUT (full update of the collection) does the same for the listed
//!   computes, and is refused if a compute not listed has the template (a
//!   compute cannot be without one). DELETE (dissociate) is refused for
//!   the same reason.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::any;
use http::{Method, request::Parts};

use crate::middleware::HttpResponse;
use crate::occi::infrastructure::{
    COMPUTE, OS_TPL_SCHEME, RESOURCE_TPL_SCHEME, STORAGE, STORAGE_TPL_SCHEME,
};
use crate::occi::{CategoryClass, OcciRequest, ParsedCategory};

use super::AppState;
use super::collection::{Collection, Ctx, Entity};
use super::compute::Compute;
use super::error::AppError;
use super::handlers::{
    action_of, context, for_each_id, negotiated, ok, query_param, read_request, render_entities,
    render_outcomes,
};
use super::ids::{id_in, is_server_id};
use super::storage::Storage;

/// Adds the mixin collection routes.
pub fn routes(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    router
        .route("/os_tpl/", any(handler))
        .route("/os_tpl/{term}/", any(handler))
        .route("/os_tpl/{term}", any(handler))
        .route("/resource_tpl/", any(handler))
        .route("/resource_tpl/{term}/", any(handler))
        .route("/resource_tpl/{term}", any(handler))
        .route("/storage_tpl/", any(storage_tpl_handler))
        .route("/storage_tpl/{term}/", any(storage_tpl_handler))
        .route("/storage_tpl/{term}", any(storage_tpl_handler))
}

/// `/storage_tpl/` and `/storage_tpl/<term>/`: the caller's storage (of
/// that volume type). GET lists it and `POST ?action=` acts on it; a
/// volume's type cannot change, so associating or dissociating storage
/// is a 409.
async fn storage_tpl_handler(State(state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let media = negotiated(&parts).response;
    match serve_storage_tpl(&state, &parts, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(media),
    }
}

async fn serve_storage_tpl(
    state: &Arc<AppState>,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<HttpResponse, AppError> {
    let ctx = context(parts, state)?;
    let path = parts.uri.path();
    let term = path.trim_matches('/').split('/').nth(1).map(str::to_owned);
    let type_id = match &term {
        Some(term) => {
            let types = ctx.state.templates.storage_types(&ctx).await?;
            let t = types
                .find(term)
                .ok_or_else(|| AppError::NotFound(format!("no storage_tpl {term}")))?;
            Some(format!("{STORAGE_TPL_SCHEME}{}", types.term(&t.id)))
        }
        None => None,
    };
    let req = read_request(parts, body, &ctx).await?;
    let members = || async {
        Ok::<_, AppError>(
            Storage::list(&ctx)
                .await?
                .into_iter()
                .filter(|e| {
                    e.mixins().iter().any(|m| match &type_id {
                        Some(t) => m == t,
                        None => m.starts_with(STORAGE_TPL_SCHEME),
                    })
                })
                .collect::<Vec<_>>(),
        )
    };
    match parts.method {
        Method::GET | Method::HEAD => Ok(render_entities(&ctx, members().await?)),
        Method::POST if query_param(parts, "action").is_some() => {
            let action = query_param(parts, "action").unwrap_or_default();
            let action = action_of(&req, &action, STORAGE)?;
            let ids = members().await?.iter().map(|e| e.id().to_owned()).collect();
            let attrs = &req.attributes;
            let outcomes = for_each_id(&ctx, ids, "the action", |id| {
                let ctx = &ctx;
                let action = &action;
                async move { Storage::action(ctx, &id, action, attrs).await }
            })
            .await?;
            Ok(render_outcomes(&ctx, outcomes))
        }
        Method::POST | Method::PUT | Method::DELETE => Err(AppError::Conflict(
            "a storage's storage template is its Synnefo volume type, which cannot change; \
             create a storage with the template instead"
                .to_owned(),
        )),
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: path.to_owned(),
        }),
    }
}

/// Which template collection a path names.
struct Target {
    /// `os_tpl` or `resource_tpl`.
    family: &'static str,
    scheme: &'static str,
    /// The template id; `None` for the parent collection.
    term: Option<String>,
}

impl Target {
    fn of(path: &str) -> Option<Target> {
        let mut segments = path.trim_matches('/').split('/');
        let (family, scheme) = match segments.next()? {
            "os_tpl" => ("os_tpl", OS_TPL_SCHEME),
            "resource_tpl" => ("resource_tpl", RESOURCE_TPL_SCHEME),
            _ => return None,
        };
        let term = segments.next().map(str::to_owned);
        Some(Target {
            family,
            scheme,
            term,
        })
    }

    fn matches(&self, e: &Entity) -> bool {
        e.mixins().iter().any(|m| match &self.term {
            Some(t) => *m == format!("{}{t}", self.scheme),
            None => m.starts_with(self.scheme),
        })
    }
}

async fn handler(State(state): State<Arc<AppState>>, req: Request) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let media = negotiated(&parts).response;
    match serve(&state, &parts, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(media),
    }
}

async fn members(ctx: &Ctx, target: &Target) -> Result<Vec<Entity>, AppError> {
    Ok(Compute::list(ctx)
        .await?
        .into_iter()
        .filter(|e| target.matches(e))
        .collect())
}

fn compute_ids(base: &str, req: &OcciRequest) -> Result<Vec<String>, AppError> {
    req.locations
        .iter()
        .map(|loc| {
            id_in(loc, base, "/compute/")
                .filter(|id| is_server_id(id))
                .map(str::to_owned)
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "{loc} is not a compute location; templates apply to computes only"
                    ))
                })
        })
        .collect()
}

async fn serve(
    state: &Arc<AppState>,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<HttpResponse, AppError> {
    let ctx = context(parts, state)?;
    let path = parts.uri.path();
    let target = Target::of(path)
        .ok_or_else(|| AppError::NotFound(format!("{path} is not a template collection")))?;
    let mut target = target;
    if let Some(term) = &target.term {
        // The path may name the template by term, id or name (as a
        // create may); members are matched by its term.
        let catalog = ctx.state.templates.catalog(&ctx).await?;
        let canonical = match target.family {
            "os_tpl" => catalog
                .image(term)
                .ok()
                .flatten()
                .map(|i| catalog.image_term(&i.id).to_owned()),
            _ => catalog
                .flavor(term, None)
                .ok()
                .flatten()
                .map(|f| catalog.flavor_term(&f.id).to_owned()),
        };
        match canonical {
            Some(canonical) => target.term = Some(canonical),
            None => return Err(AppError::NotFound(format!("no {} {term}", target.family))),
        }
    }
    let req = read_request(parts, body, &ctx).await?;
    match parts.method {
        Method::GET | Method::HEAD => Ok(render_entities(&ctx, members(&ctx, &target).await?)),
        Method::POST if query_param(parts, "action").is_some() => {
            let action = query_param(parts, "action").unwrap_or_default();
            let action = action_of(&req, &action, COMPUTE)?;
            let ids = members(&ctx, &target)
                .await?
                .iter()
                .map(|e| e.location().trim_start_matches("/compute/").to_owned())
                .collect();
            let attrs = &req.attributes;
            let outcomes = for_each_id(&ctx, ids, "the action", |id| {
                let ctx = &ctx;
                let action = &action;
                async move { Compute::action(ctx, &id, action, attrs).await }
            })
            .await?;
            Ok(render_outcomes(&ctx, outcomes))
        }
        Method::POST | Method::PUT => {
            let term = target.term.clone().ok_or_else(|| {
                AppError::BadRequest(format!(
                    "associate computes with one template (/{}/<id>/), not with /{}/",
                    target.family, target.family
                ))
            })?;
            let ids = compute_ids(ctx.state.renderer.base_url(), &req)?;
            if parts.method == Method::PUT {
                let current = members(&ctx, &target).await?;
                if let Some(left) = current.iter().find(|e| {
                    let id = e.location().trim_start_matches("/compute/");
                    !ids.iter().any(|i| i == id)
                }) {
                    return Err(AppError::Conflict(format!(
                        "{} would be left without a {}: a compute always has one; associate it with another template instead",
                        left.location(),
                        target.family
                    )));
                }
            }
            let update = OcciRequest {
                categories: vec![ParsedCategory {
                    scheme: target.scheme.to_owned(),
                    term,
                    class: Some(CategoryClass::Mixin),
                    ..ParsedCategory::default()
                }],
                ..OcciRequest::default()
            };
            for_each_id(&ctx, ids, "the association", |id| {
                let ctx = &ctx;
                let update = &update;
                async move { Compute::update(ctx, &id, update, false).await }
            })
            .await?;
            Ok(ok(&ctx))
        }
        Method::DELETE => Err(AppError::Conflict(format!(
            "a compute cannot be dissociated from its {}: associate it with another template instead",
            target.family
        ))),
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: path.to_owned(),
        }),
    }
}
