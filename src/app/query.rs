//! The query interface (`/-/` and `/.well-known/org/ogf/occi/-/`).
//!
//! GET/HEAD render the static catalogue plus the caller's templates (one
//! `resource_tpl` per creatable flavor, one `os_tpl` per image; cached
//! per user, so a warm query costs no Synnefo call), filtered to the
//! categories the request names, if any. POST and DELETE manage user
//! mixins (the store); provider categories cannot be removed (403).

use std::sync::Arc;

use axum::extract::{Request, State};
use http::{Method, StatusCode, request::Parts};

use crate::middleware::HttpResponse;
use crate::occi::infrastructure::{catalogue, os_template, resource_template};
use crate::occi::{CategorySet, Mixin};

use super::AppState;
use super::collection::Ctx;
use super::error::AppError;
use super::handlers::{context, negotiated, read_request};

/// The caller's template mixins: resource templates of the creatable
/// flavors, then OS templates.
pub async fn template_mixins(ctx: &Ctx) -> Result<Vec<Mixin>, AppError> {
    let (flavors, images) = tokio::try_join!(
        ctx.state.templates.flavors(ctx),
        ctx.state.templates.images(ctx)
    )?;
    let mut mixins: Vec<Mixin> = flavors
        .iter()
        .filter(|f| f.allow_create)
        .map(|f| {
            resource_template(
                &f.id,
                &f.name,
                f.vcpus as i64,
                f.ram as f64 / 1024.0,
                f.disk as f64,
            )
        })
        .collect();
    mixins.extend(images.iter().map(|i| os_template(&i.id, &i.name)));
    Ok(mixins)
}

/// Serves the query interface.
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
    match parts.method {
        Method::GET | Method::HEAD => {
            let filter = read_request(parts, body, &ctx).await?;
            let templates = template_mixins(&ctx).await?;
            let mut set = catalogue().category_set();
            set.mixins.extend(templates.iter());
            let wanted: Vec<String> = filter.categories.iter().map(|c| c.type_id()).collect();
            let set = if wanted.is_empty() {
                set
            } else {
                let keep = |tid: String| wanted.contains(&tid);
                CategorySet {
                    kinds: set
                        .kinds
                        .into_iter()
                        .filter(|k| keep(k.category.type_id()))
                        .collect(),
                    mixins: set
                        .mixins
                        .into_iter()
                        .filter(|m| keep(m.category.type_id()))
                        .collect(),
                    actions: set
                        .actions
                        .into_iter()
                        .filter(|a| keep(a.category.type_id()))
                        .collect(),
                }
            };
            Ok(ctx
                .state
                .renderer
                .categories(&set, ctx.media())?
                .into_response(StatusCode::OK))
        }
        Method::POST | Method::DELETE => {
            let req = read_request(parts, body, &ctx).await?;
            if req.categories.is_empty() {
                return Err(AppError::BadRequest(
                    "name the mixin to add or remove with a Category".to_owned(),
                ));
            }
            let templates = template_mixins(&ctx).await?;
            for c in &req.categories {
                let tid = c.type_id();
                let provider = catalogue().kind(&tid).is_some()
                    || catalogue().mixin(&tid).is_some()
                    || catalogue().action(&tid).is_some()
                    || templates.iter().any(|m| m.category.type_id() == tid);
                if provider {
                    return Err(AppError::Forbidden(format!(
                        "{tid} is a provider category; it cannot be added or removed"
                    )));
                }
            }
            // NOT IMPLEMENTED YET: user mixins live in engineer B's store.
            Err(AppError::NotImplemented(
                "user-defined mixins are not available yet (the mixin store is not connected)"
                    .to_owned(),
            ))
        }
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        }),
    }
}
