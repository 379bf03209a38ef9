//! The generic HTTP handlers every [`Collection`] is served by, and the
//! helpers the other handlers share (context, body parsing, action
//! checks, rendering of entities and creations).
//!
//! Paths of a collection `C` (`C::PATH` = `compute`):
//! - `/compute/` and `/compute`: GET/HEAD list (filtered by the request's
//!   categories and attributes), POST create or `?action=` on every
//!   entity, DELETE every entity of the caller; PUT is 405.
//! - `/compute/{id}`: GET/HEAD show, POST `?action=` or partial update,
//!   PUT full update, DELETE.
//!
//! Entity updates ([`update_entity`]) treat the caller's user mixins the
//! same way for every kind: a partial update (POST) tags the entity with
//! the user mixins it names, a full update (PUT) makes them exactly the
//! entity's user mixins. Everything is checked before anything is
//! written: the categories (a mixin that is neither the provider's nor
//! one of the caller's is a 400), then the collection's own part
//! ([`Collection::plan_update`]: 404, refused changes); only then are the
//! mixins stored and the Synnefo changes made, and if Synnefo then fails
//! the entity's mixins are put back as they were.
//!
//! Creates ([`create_entity`]) sort the categories the same way before
//! any Synnefo call (an unknown mixin is a 400 and nothing is made), then
//! tag the new entity with the caller's user mixins it names; if that
//! store write fails the new entity is deleted again.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::any;
use futures_util::{StreamExt, stream};
use http::{HeaderValue, Method, StatusCode, header, request::Parts};

use crate::middleware::{HttpResponse, Negotiated};
use crate::occi::infrastructure::{
    COMPUTE, OS_TPL_SCHEME, RESOURCE_TPL_SCHEME, STORAGE, STORAGE_TPL_SCHEME, catalogue,
};
use crate::occi::{CategoryClass, OcciRequest, Rendered, parse::MAX_BODY_BYTES, parse_request};
use crate::store::{StoreError, UserTags};
use snf_occi_types::{AuthContext, RequestId};

use super::AppState;
use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::response::RenderedResponse;

/// How many Synnefo operations a collection operation runs at once.
const COLLECTION_CONCURRENCY: usize = 8;

/// Adds the routes of collection `C` at `/{C::PATH}/`.
pub fn collection_routes<C: Collection>(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    alias_routes::<C>(router, C::PATH)
}

/// Adds the routes of collection `C` under another path segment (the
/// `/networklink/` alias of `/networkinterface/`).
pub fn alias_routes<C: Collection>(
    router: Router<Arc<AppState>>,
    segment: &str,
) -> Router<Arc<AppState>> {
    router
        .route(&format!("/{segment}/"), any(on_collection::<C>))
        .route(&format!("/{segment}"), any(on_collection::<C>))
        .route(&format!("/{segment}/{{id}}"), any(on_entity::<C>))
}

/// The rendering of a request (text/plain without `occi_negotiate`).
pub fn negotiated(parts: &Parts) -> Negotiated {
    parts
        .extensions
        .get::<Negotiated>()
        .copied()
        .unwrap_or_default()
}

/// The context of an authenticated request; 401 without an
/// [`AuthContext`].
pub fn context(parts: &Parts, state: &Arc<AppState>) -> Result<Ctx, AppError> {
    let auth = parts
        .extensions
        .get::<AuthContext>()
        .cloned()
        .ok_or(AppError::Unauthenticated)?;
    Ok(Ctx::new(
        auth,
        parts.extensions.get::<RequestId>(),
        negotiated(parts),
        Arc::clone(state),
    ))
}

/// Reads and parses an OCCI request body (headers included, for
/// text/occi and the seed's header-only requests).
pub async fn read_request(
    parts: &Parts,
    body: axum::body::Body,
    ctx: &Ctx,
) -> Result<OcciRequest, AppError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            if snf_occi_middleware::body_timeout::is_body_timeout(&e) {
                AppError::RequestTimeout(e.to_string())
            } else {
                AppError::BadRequest(format!(
                    "the request body could not be read or exceeds {MAX_BODY_BYTES} bytes"
                ))
            }
        })?;
    Ok(parse_request(
        &parts.headers,
        &bytes,
        ctx.negotiated.request,
    )?)
}

/// The value of `name` in the query string.
pub fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The action type id of an action invocation on an entity of `kind`:
/// `?action=TERM` must name the action Category of the body, and that
/// action must be one of the kind's (400 otherwise).
pub fn action_of(req: &OcciRequest, query_action: &str, kind: &str) -> Result<String, AppError> {
    let sent = req
        .categories
        .iter()
        .find(|c| {
            c.class == Some(CategoryClass::Action)
                || (c.class.is_none() && catalogue().action(&c.type_id()).is_some())
        })
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "?action={query_action} needs the action's Category in the request"
            ))
        })?;
    if sent.term != query_action {
        return Err(AppError::BadRequest(format!(
            "?action={query_action} does not match the action Category {}",
            sent.type_id()
        )));
    }
    let type_id = sent.type_id();
    let applies = catalogue()
        .kind(kind)
        .is_some_and(|k| k.actions.contains(&type_id));
    if !applies {
        return Err(AppError::BadRequest(format!(
            "{type_id} is not an action of {kind}"
        )));
    }
    Ok(type_id)
}

/// Renders one entity with 200.
pub fn render_entity(ctx: &Ctx, entity: &Entity) -> Result<HttpResponse, AppError> {
    Ok(render(ctx, entity)?.into_response(StatusCode::OK))
}

/// Renders one entity in the negotiated media type.
pub fn render(ctx: &Ctx, entity: &Entity) -> Result<Rendered, AppError> {
    let renderer = &ctx.state.renderer;
    Ok(match entity {
        Entity::Resource(r) => renderer.resource(r, ctx.media())?,
        Entity::Link(l) => renderer.link(l, ctx.media())?,
    })
}

/// Renders a list of entities with 200 (locations in the text renderings,
/// the entities in JSON).
pub fn render_entities(ctx: &Ctx, entities: Vec<Entity>) -> HttpResponse {
    if !ctx.media().is_json() {
        let locations: Vec<&str> = entities.iter().map(Entity::location).collect();
        return render_locations(ctx, &locations);
    }
    let mut resources = Vec::new();
    let mut links = Vec::new();
    for e in entities {
        match e {
            Entity::Resource(r) => resources.push(r),
            Entity::Link(l) => links.push(l),
        }
    }
    ctx.state
        .renderer
        .collection(&resources, &links, ctx.media())
        .into_response(StatusCode::OK)
}

/// Renders a listing of locations with 200 (text renderings only).
pub fn render_locations<S: AsRef<str>>(ctx: &Ctx, locations: &[S]) -> HttpResponse {
    match ctx.state.renderer.locations(locations, ctx.media()) {
        Ok(rendered) => rendered.into_response(StatusCode::OK),
        Err(e) => AppError::Render(e).into_response(ctx.media()),
    }
}

/// A success without an entity (actions, deletes, updates of mixins).
pub fn ok(ctx: &Ctx) -> HttpResponse {
    ctx.state
        .renderer
        .ok(ctx.media())
        .into_response(StatusCode::OK)
}

/// The 200 answer of actions (on one entity or a collection): the mixins
/// they made (a `save`'s new OS templates) when there are any, else the
/// empty success of [`ok`].
pub fn render_outcomes(ctx: &Ctx, outcomes: Vec<ActionOutcome>) -> HttpResponse {
    let made: Vec<_> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            ActionOutcome::Mixin(m) => Some(m),
            ActionOutcome::Done => None,
        })
        .collect();
    if made.is_empty() {
        return ok(ctx);
    }
    ctx.state
        .renderer
        .mixins(&made, ctx.media())
        .into_response(StatusCode::OK)
}

/// 201 with `Location` and the location in the body (JSON: the entity).
pub fn created(
    ctx: &Ctx,
    location: &str,
    entity: Option<&Entity>,
) -> Result<HttpResponse, AppError> {
    let renderer = &ctx.state.renderer;
    let mut response = match (ctx.media().is_json(), entity) {
        (true, Some(e)) => {
            let mut r = render_entity(ctx, e)?;
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        (true, None) => renderer.ok(ctx.media()).into_response(StatusCode::CREATED),
        (false, _) => renderer
            .locations(&[location], ctx.media())?
            .into_response(StatusCode::CREATED),
    };
    if let Ok(v) = HeaderValue::from_str(&renderer.url(location)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Keeps the entities that carry every category the request names (kind
/// or mixin, by type id or, for classless ones, by term) and every
/// attribute value it gives (the filtering of OCCI HTTP rendering 3.4.2).
pub fn filter_entities(entities: Vec<Entity>, req: &OcciRequest) -> Vec<Entity> {
    if req.categories.is_empty() && req.attributes.is_empty() {
        return entities;
    }
    entities
        .into_iter()
        .filter(|e| {
            let categories_match = req.categories.iter().all(|c| {
                let tid = c.type_id();
                e.kind() == tid || e.mixins().contains(&tid)
            });
            let attrs = match e {
                Entity::Resource(r) => &r.attributes,
                Entity::Link(l) => &l.attributes,
            };
            let attributes_match = req.attributes.iter().all(|(name, want)| {
                let have = match (name, e) {
                    ("occi.core.id", Entity::Resource(r)) => Some(r.id.as_str()),
                    ("occi.core.id", Entity::Link(l)) => Some(l.id.as_str()),
                    _ => attrs.get_str(name),
                };
                match (have, want.as_str()) {
                    (Some(h), Some(w)) => h == w,
                    _ => attrs.get(name) == Some(want),
                }
            });
            categories_match && attributes_match
        })
        .collect()
}

/// Runs `op` on every entity id (at most `collection_limit`), a few at a
/// time, and returns what each made; the first failure is reported.
pub async fn for_each_id<F, Fut, T>(
    ctx: &Ctx,
    ids: Vec<String>,
    what: &str,
    op: F,
) -> Result<Vec<T>, AppError>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    let limit = ctx.state.config.collection_limit;
    if ids.len() > limit {
        return Err(AppError::Conflict(format!(
            "{what} would touch {} entities, more than collection_limit ({limit}); narrow it down",
            ids.len()
        )));
    }
    let total = ids.len();
    let results: Vec<Result<T, AppError>> = stream::iter(ids.into_iter().map(op))
        .buffer_unordered(COLLECTION_CONCURRENCY)
        .collect()
        .await;
    let mut done = Vec::with_capacity(total);
    let mut first_failure = None;
    for r in results {
        match r {
            Ok(t) => done.push(t),
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    match first_failure {
        None => Ok(done),
        Some(first) => {
            tracing::info!(
                what,
                total,
                succeeded = done.len(),
                "collection operation partly failed"
            );
            Err(first)
        }
    }
}

/// Shows an entity with the caller's user mixins added (read from the
/// user's cached tags, or one store query run alongside the Synnefo calls).
pub async fn show_with_user_mixins<C: Collection>(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
    let (entity, tags) = tokio::join!(C::show(ctx, id), ctx.state.store.tags(ctx.user()));
    let (mut entity, tags) = (entity?, tags?);
    add_user_mixins(&mut entity, &tags, &format!("/{}/{id}", C::PATH));
    Ok(entity)
}

/// Adds the user mixins `tags` associate with the entity at `location`.
pub fn add_user_mixins(entity: &mut Entity, tags: &UserTags, location: &str) {
    for m in tags.mixins_of(location) {
        entity.add_mixin(&m.type_id());
    }
}

/// Drops a deleted entity's user mixin associations. The entity is gone
/// already, so a store failure is logged, not reported: stale rows only
/// name a location that answers 404.
pub async fn forget(ctx: &Ctx, location: &str) {
    if let Err(e) = ctx.state.store.forget_entity(ctx.user(), location).await {
        tracing::warn!(location, error = %e, "could not drop the mixin associations of a deleted entity");
    }
}

/// The 400 of a create or update naming a mixin the caller does not have.
fn no_mixin(type_id: &str) -> AppError {
    AppError::BadRequest(format!("no mixin {type_id}: define it with POST /-/ first"))
}

/// The answer when tagging an entity with the caller's mixins failed.
fn tagging_failed(e: StoreError) -> AppError {
    match e {
        // Deleted since it was read: as if never defined.
        StoreError::NoSuchMixin(tid) => no_mixin(&tid),
        other => other.into(),
    }
}

/// Sorts the categories of an update of the entity at `location` of
/// collection `C` into the caller's user mixins (returned as type ids, in
/// order, once each) and the rest, left in the returned request for
/// [`Collection::plan_update`]: `C`'s own kind, provider mixins that
/// apply to `C` (templates: computes only) and what `C`
/// [understands](Collection::understands). Another kind, an action, a
/// provider mixin for another kind or any other category is a 400 naming
/// it: OCCI makes a mixin that cannot be associated a bad request, and a
/// silently dropped one looks done. Another user's mixin of the same type
/// id is not the caller's: "no mixin".
pub async fn sort_update<C: Collection>(
    ctx: &Ctx,
    location: &str,
    tags: &UserTags,
    req: OcciRequest,
) -> Result<(Vec<String>, OcciRequest), AppError> {
    sort_categories::<C>(ctx, Some(location), tags, req).await
}

/// Sorts the categories of a create in collection `C` as
/// [`sort_update`] does an update's: the caller's user mixins (returned
/// as type ids, in order, once each) are taken out, a mixin that is
/// neither a provider category, a template, one `C`
/// [understands](Collection::understands) nor one of the caller's is a
/// 400 "no mixin" (another user's mixin of the same type id included),
/// and the rest is left in the returned request for
/// [`Collection::create`] with its current meaning: kinds (each create
/// checks its own), actions and provider mixins (templates, `ipnetwork`,
/// contextualization) are its to read or refuse. Reads only, so that a
/// create naming a wrong mixin makes nothing.
pub async fn sort_create<C: Collection>(
    ctx: &Ctx,
    tags: &UserTags,
    req: OcciRequest,
) -> Result<(Vec<String>, OcciRequest), AppError> {
    sort_categories::<C>(ctx, None, tags, req).await
}

/// [`sort_update`] (`location` is the updated entity's) and
/// [`sort_create`] (`location` is `None`): one classification of provider
/// categories, the caller's user mixins and unknown ones.
async fn sort_categories<C: Collection>(
    ctx: &Ctx,
    location: Option<&str>,
    tags: &UserTags,
    mut req: OcciRequest,
) -> Result<(Vec<String>, OcciRequest), AppError> {
    let catalogue = catalogue();
    let mut user_mixins: Vec<String> = Vec::new();
    let categories = std::mem::take(&mut req.categories);
    for c in categories {
        let tid = c.type_id();
        if c.class == Some(CategoryClass::Kind) || catalogue.kind(&tid).is_some() {
            if let Some(location) = location
                && tid != C::KIND
            {
                return Err(AppError::BadRequest(format!(
                    "{location} is a {}; an update cannot make it a {tid}",
                    C::KIND
                )));
            }
            req.categories.push(c);
        } else if c.class == Some(CategoryClass::Action) || catalogue.action(&tid).is_some() {
            if let Some(location) = location {
                return Err(AppError::BadRequest(format!(
                    "the action {tid} is triggered with POST {location}?action={}, not by an update",
                    c.term
                )));
            }
            req.categories.push(c);
        } else if tags.mixins().iter().any(|m| m.type_id() == tid) {
            if !user_mixins.contains(&tid) {
                user_mixins.push(tid);
            }
        } else if let Some(m) = catalogue.mixin(&tid) {
            if location.is_some()
                && !m.applies.is_empty()
                && !m.applies.iter().any(|k| k == C::KIND)
            {
                return Err(AppError::BadRequest(format!(
                    "the mixin {tid} does not apply to {}",
                    C::KIND
                )));
            }
            req.categories.push(c);
        } else if c.scheme == OS_TPL_SCHEME || c.scheme == RESOURCE_TPL_SCHEME {
            if location.is_some() && C::KIND != COMPUTE {
                return Err(AppError::BadRequest(format!(
                    "the template {tid} applies to computes only, not to {}",
                    C::KIND
                )));
            }
            req.categories.push(c);
        } else if c.scheme == STORAGE_TPL_SCHEME {
            if C::KIND != STORAGE {
                return Err(AppError::BadRequest(format!(
                    "the storage template {tid} applies to storage only, not to {}",
                    C::KIND
                )));
            }
            req.categories.push(c);
        } else if C::understands(ctx, &c).await? {
            req.categories.push(c);
        } else {
            return Err(no_mixin(&tid));
        }
    }
    Ok((user_mixins, req))
}

/// Creates an entity of `C` from `req`: the categories are sorted
/// ([`sort_create`]) before any Synnefo call, then `C` creates the entity
/// and it is tagged with the caller's user mixins the request named.
/// Returns the new entity's id.
///
/// When that store write fails, the entity is deleted again (the create
/// of `C` undoes its own failures the same way) and the store error is
/// the answer: a create either makes a tagged entity or nothing.
pub async fn create_entity<C: Collection>(ctx: &Ctx, req: OcciRequest) -> Result<String, AppError> {
    let store = &ctx.state.store;
    let user = ctx.user();
    let tags = store.tags(user).await?;
    let (wanted, rest) = sort_create::<C>(ctx, &tags, req).await?;
    // Past the association cap the tagging below would fail and the new
    // entity be deleted again: refuse before making it.
    store.check_association_room(&tags, wanted.len())?;
    let id = C::create(ctx, &rest).await?;
    if wanted.is_empty() {
        return Ok(id);
    }
    let location = format!("/{}/{id}", C::PATH);
    // `replace`: the new entity's user mixins are exactly the ones named,
    // whatever stale rows an earlier entity at this location left.
    if let Err(e) = store.tag_entity(user, &location, &wanted, true).await {
        // Not left half-made: an untagged entity the client was told
        // nothing about would look like a failed create that still made
        // something. Undo the Synnefo create, then report the store error.
        if let Err(undo) = C::delete(ctx, &id).await {
            tracing::warn!(location, error = %undo,
                "could not delete a new entity whose user mixins could not be stored");
        }
        return Err(tagging_failed(e));
    }
    Ok(id)
}

/// A partial (`full = false`, POST) or full (`full = true`, PUT) update
/// of entity `id` of `C` (see the module docs): the categories are
/// sorted ([`sort_update`]) and the collection plans its part before
/// anything is written; then the user mixins are stored (added, or made
/// exactly the entity's) and the collection applies its part. When that
/// fails the entity's user mixins are restored, so a failed update leaves
/// nothing behind.
pub async fn update_entity<C: Collection>(
    ctx: &Ctx,
    id: &str,
    req: OcciRequest,
    full: bool,
) -> Result<(), AppError> {
    let store = &ctx.state.store;
    let user = ctx.user();
    let location = format!("/{}/{id}", C::PATH);
    let tags = store.tags(user).await?;
    let (wanted, rest) = sort_update::<C>(ctx, &location, &tags, req).await?;
    let update = C::plan_update(ctx, id, &rest, full).await?;
    let before: Vec<String> = tags.mixins_of(&location).map(|m| m.type_id()).collect();
    let retag = if full {
        before.len() != wanted.len() || before.iter().any(|t| !wanted.contains(t))
    } else {
        wanted.iter().any(|t| !before.contains(t))
    };
    if retag {
        store
            .tag_entity(user, &location, &wanted, full)
            .await
            .map_err(tagging_failed)?;
    }
    if let Err(e) = C::apply_update(ctx, id, update).await {
        // Back to the mixins read before (a concurrent retag of this very
        // entity in between would be undone too; rare, and harmless
        // next to an update half-done).
        if retag && let Err(undo) = store.tag_entity(user, &location, &before, true).await {
            tracing::warn!(location, error = %undo,
                "could not restore the user mixins of an entity whose update failed");
        }
        return Err(e);
    }
    Ok(())
}

fn entity_id(e: &Entity) -> String {
    match e {
        Entity::Resource(r) => r.id.clone(),
        Entity::Link(l) => l.id.clone(),
    }
}

async fn on_collection<C: Collection>(
    State(state): State<Arc<AppState>>,
    req: Request,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let media = negotiated(&parts).response;
    match collection_op::<C>(&state, &parts, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(media),
    }
}

async fn collection_op<C: Collection>(
    state: &Arc<AppState>,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<HttpResponse, AppError> {
    let ctx = context(parts, state)?;
    match parts.method {
        Method::GET | Method::HEAD => {
            let filter = read_request(parts, body, &ctx).await?;
            // Unfiltered text listings need locations only, which some
            // collections get from a cheaper Synnefo call.
            if !ctx.media().is_json()
                && filter.categories.is_empty()
                && filter.attributes.is_empty()
            {
                return Ok(render_locations(&ctx, &C::locations(&ctx).await?));
            }
            let entities = filter_entities(C::list(&ctx).await?, &filter);
            Ok(render_entities(&ctx, entities))
        }
        // Writes are boxed (see entity_op).
        _ => Box::pin(collection_write::<C>(&ctx, parts, body)).await,
    }
}

async fn collection_write<C: Collection>(
    ctx: &Ctx,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<HttpResponse, AppError> {
    match parts.method {
        Method::POST => {
            let req = read_request(parts, body, ctx).await?;
            if let Some(action) = query_param(parts, "action") {
                let action = action_of(&req, &action, C::KIND)?;
                let ids: Vec<String> = C::list(ctx).await?.iter().map(entity_id).collect();
                let attrs = &req.attributes;
                let outcomes = for_each_id(ctx, ids, "the action", |id| {
                    let action = &action;
                    async move { C::action(ctx, &id, action, attrs).await }
                })
                .await?;
                return Ok(render_outcomes(ctx, outcomes));
            }
            // A create that names nothing (an empty body, attributes
            // alone) is refused, as the original snf-occi and ooi refused
            // it: an entity that costs the user's quota is never made from
            // the defaults of a request that asked for nothing.
            if req.categories.is_empty() {
                let kind = C::KIND.rsplit_once('#').map_or(C::KIND, |(_, term)| term);
                return Err(AppError::BadRequest(format!(
                    "No categories: a create names what it makes, at least its kind \
                     (Category: {kind}; scheme=\"{}\"; class=\"kind\")",
                    &C::KIND[..C::KIND.len() - kind.len()]
                )));
            }
            let id = create_entity::<C>(ctx, req).await?;
            let location = format!("/{}/{id}", C::PATH);
            let entity = if ctx.media().is_json() {
                Some(show_with_user_mixins::<C>(ctx, &id).await?)
            } else {
                None
            };
            created(ctx, &location, entity.as_ref())
        }
        Method::DELETE => {
            let filter = read_request(parts, body, ctx).await?;
            let ids: Vec<String> = filter_entities(C::list(ctx).await?, &filter)
                .iter()
                .map(entity_id)
                .collect();
            for_each_id(ctx, ids, "the delete", |id| {
                async move {
                    match C::delete(ctx, &id).await {
                        // Gone meanwhile: what the client wanted.
                        Err(e) if e.is_not_found() => Ok(()),
                        Err(e) => Err(e),
                        Ok(()) => {
                            forget(ctx, &format!("/{}/{id}", C::PATH)).await;
                            Ok(())
                        }
                    }
                }
            })
            .await?;
            Ok(ok(ctx))
        }
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        }),
    }
}

async fn on_entity<C: Collection>(
    State(state): State<Arc<AppState>>,
    req: Request,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let media = negotiated(&parts).response;
    match entity_op::<C>(&state, &parts, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(media),
    }
}

async fn entity_op<C: Collection>(
    state: &Arc<AppState>,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<HttpResponse, AppError> {
    let ctx = context(parts, state)?;
    // The last path segment, still percent-encoded: ids are plain ASCII,
    // so anything encoded is simply not a valid id.
    let id = parts
        .uri
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    match parts.method {
        Method::GET | Method::HEAD => Ok(C::show_rendered(&ctx, &id)
            .await?
            .into_response(StatusCode::OK)),
        // Writes are boxed: an async fn is as large as its largest state,
        // and this one is moved into a box on every request, reads too.
        _ => Box::pin(entity_write::<C>(&ctx, parts, body, &id)).await,
    }
}

async fn entity_write<C: Collection>(
    ctx: &Ctx,
    parts: &Parts,
    body: axum::body::Body,
    id: &str,
) -> Result<HttpResponse, AppError> {
    match parts.method {
        Method::POST => {
            let req = read_request(parts, body, ctx).await?;
            if let Some(action) = query_param(parts, "action") {
                let action = action_of(&req, &action, C::KIND)?;
                let outcome = C::action(ctx, id, &action, &req.attributes).await?;
                return Ok(render_outcomes(ctx, vec![outcome]));
            }
            update_entity::<C>(ctx, id, req, false).await?;
            let entity = show_with_user_mixins::<C>(ctx, id).await?;
            render_entity(ctx, &entity)
        }
        Method::PUT => {
            let req = read_request(parts, body, ctx).await?;
            update_entity::<C>(ctx, id, req, true).await?;
            let entity = show_with_user_mixins::<C>(ctx, id).await?;
            render_entity(ctx, &entity)
        }
        Method::DELETE => {
            C::delete(ctx, id).await?;
            forget(ctx, &format!("/{}/{id}", C::PATH)).await;
            Ok(ok(ctx))
        }
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        }),
    }
}
