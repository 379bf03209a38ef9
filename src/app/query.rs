//! The query interface (`/-/` and `/.well-known/org/ogf/occi/-/`).
//!
//! GET/HEAD render the static catalogue plus the caller's templates (one
//! `resource_tpl` per creatable flavor, one `os_tpl` per image; cached
//! per user, so a warm query costs no Synnefo call), filtered to the
//! categories the request names, if any. POST and DELETE manage user
//! mixins (the store), all the request's categories or none: 200 on
//! success, 400 for a definition that breaks the OCCI grammar or names no
//! location this server can serve, 403 for provider categories (and
//! provider schemes and locations), 409 for a mixin or location the user
//! already has or past `store.max_mixins_per_user`, 404 when removing one
//! that does not exist.

use std::sync::Arc;

use axum::extract::{Request, State};
use http::{Method, StatusCode, request::Parts};

use crate::middleware::HttpResponse;
use crate::occi::infrastructure::{catalogue, user_mixin};
use crate::occi::{Category, CategoryClass, CategorySet, Mixin, ParsedCategory};
use crate::store::{UserMixin, UserTags};

use super::AppState;
use super::collection::Ctx;
use super::error::AppError;
use super::handlers::{context, negotiated, ok, read_request};
use super::response::RenderedResponse;

/// The caller's template mixins: resource templates of the creatable
/// flavors, then OS templates (cached per user).
pub async fn template_mixins(ctx: &Ctx) -> Result<Arc<Vec<Mixin>>, AppError> {
    ctx.state.templates.mixins(ctx).await
}

/// The caller's own mixins, as model mixins.
pub async fn user_mixins(ctx: &Ctx) -> Result<Vec<Mixin>, AppError> {
    Ok(as_model_mixins(&*ctx.state.store.tags(ctx.user()).await?))
}

fn as_model_mixins(tags: &UserTags) -> Vec<Mixin> {
    tags.mixins()
        .iter()
        .map(|m| {
            user_mixin(
                &m.scheme,
                &m.term,
                m.title.as_deref(),
                &m.location,
                Vec::new(),
            )
        })
        .collect()
}

/// Paths a user mixin may not take: the provider collections.
const RESERVED: &[&str] = &[
    "/-/",
    "/.well-known/",
    "/os_tpl/",
    "/resource_tpl/",
    "/storage_tpl/",
    "/networklink/",
    "/healthz",
];

/// Scheme prefixes no user mixin may take: OCCI's own (OCCI Core
/// §5.3.1: "reserved for OCCI and MUST NOT be used by service provider
/// extensions", so no user's either), and the provider's: the OpenStack
/// schemes of the templates and contextualization mixins, and Synnefo's
/// (storage templates, Synnefo attributes).
const PROVIDER_SCHEMES: &[&str] = &[
    "http://schemas.ogf.org/occi/",
    "http://schemas.openstack.org/",
    "http://schemas.synnefo.org/",
];

/// Whether `scheme` is the provider's ([`PROVIDER_SCHEMES`], or one a
/// catalogue category uses). A user mixin there would pass for a
/// provider category (a compute tagged with a user mixin in the os_tpl
/// scheme would be listed under `/os_tpl/`).
fn provider_scheme(scheme: &str) -> bool {
    PROVIDER_SCHEMES.iter().any(|p| scheme.starts_with(p))
        || catalogue()
            .category_set()
            .iter()
            .any(|c| c.category().scheme == scheme)
}

/// The paths (relative to the app, no trailing `/`) that `[urlmap]`
/// mounts other services at, under the app's own mount: requests there
/// never reach the app, so no user mixin may take them. The app is
/// mounted where `server.public_url`'s path says.
///
/// ```
/// use snf_occi::app::query::mounted_paths;
/// let urlmap = ["/".to_owned(), "/healthz".to_owned(), "/occi/metrics/".to_owned()];
/// assert_eq!(mounted_paths(&urlmap, "https://cloud.example"), ["/healthz", "/occi/metrics"]);
/// // Served under /occi: /healthz is not the app's, /occi/metrics is its /metrics.
/// assert_eq!(mounted_paths(&urlmap, "https://cloud.example/occi/"), ["/metrics"]);
/// ```
pub fn mounted_paths<'a>(
    urlmap: impl IntoIterator<Item = &'a String>,
    public_url: &str,
) -> Vec<String> {
    let base = url::Url::parse(public_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    urlmap
        .into_iter()
        .filter_map(|prefix| {
            let prefix = prefix.trim_end_matches('/');
            let rest = prefix.strip_prefix(base.as_str())?;
            rest.starts_with('/').then(|| rest.to_owned())
        })
        .collect()
}

/// A user mixin definition from a request Category. The parser has
/// checked the grammar (term, scheme, title, location: see
/// `occi::parse::check_category`); checked again here so that nothing
/// else can reach the store. Besides, it needs a scheme of its own (not
/// the provider's: 403) and a location: a path `/.../` of letters,
/// digits, `-`, `_` and `.` (at most 200 bytes), on this server, outside
/// the provider's collections and other mounted services (403).
pub fn user_mixin_of(ctx: &Ctx, c: &ParsedCategory) -> Result<UserMixin, AppError> {
    let tid = c.type_id();
    if matches!(
        c.class,
        Some(CategoryClass::Kind) | Some(CategoryClass::Action)
    ) {
        return Err(AppError::BadRequest(format!(
            "{tid}: only mixins can be defined by users"
        )));
    }
    let category = Category {
        scheme: c.scheme.clone(),
        term: c.term.clone(),
        title: c.title.clone(),
    };
    category
        .check()
        .map_err(|e| AppError::BadRequest(format!("mixin definition: {e}")))?;
    if provider_scheme(&c.scheme) {
        return Err(AppError::Forbidden(format!(
            "{tid}: the scheme {} belongs to the provider; define your mixins in a scheme of your own, e.g. http://example.com/my-tags#",
            c.scheme
        )));
    }
    let location = c.location.as_deref().ok_or_else(|| {
        AppError::BadRequest(format!("{tid}: a mixin definition needs a location"))
    })?;
    let path = ctx.state.renderer.path_of(location).ok_or_else(|| {
        AppError::BadRequest(format!(
            "{tid}: the location {location:?} is not on this server"
        ))
    })?;
    let path = if path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    };
    let valid = path.len() > 2
        && path.len() <= 200
        && !path.contains("//")
        && !path.contains("/../")
        && !path.contains("/./")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if !valid {
        return Err(AppError::BadRequest(format!(
            "{tid}: the location {location:?} must be a path like /my_tag/ (at most 200 letters, digits, '-', '_', '.' and '/')"
        )));
    }
    let taken = RESERVED.iter().any(|r| path.starts_with(r))
        || ctx.state.reserved_paths.iter().any(|m| {
            path.strip_prefix(m.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
        || catalogue()
            .kinds
            .iter()
            .filter_map(|k| k.location.as_deref())
            .any(|l| path.starts_with(l));
    if taken {
        return Err(AppError::Forbidden(format!(
            "{tid}: the location {path} belongs to the provider"
        )));
    }
    Ok(UserMixin {
        scheme: c.scheme.clone(),
        term: c.term.clone(),
        title: c.title.clone(),
        location: path,
    })
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
            let (templates, tags) = tokio::try_join!(template_mixins(&ctx), async {
                ctx.state
                    .store
                    .tags(ctx.user())
                    .await
                    .map_err(AppError::from)
            })?;
            let wanted: Vec<String> = filter.categories.iter().map(|c| c.type_id()).collect();
            let cache = &ctx.state.templates;
            // Without snapshots every read makes new tags, so a kept
            // rendering could never be served again: neither look nor keep.
            let keep = wanted.is_empty() && ctx.state.store.caches();
            if keep && let Some(hit) = cache.rendered_query(&ctx, ctx.media(), &templates, &tags) {
                return Ok(hit.into_response(StatusCode::OK));
            }
            let user_mixins = as_model_mixins(&tags);
            let mut set = catalogue().category_set();
            set.mixins.extend(templates.iter());
            set.mixins.extend(user_mixins.iter());
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
            let rendered = ctx.state.renderer.categories(&set, ctx.media())?;
            if keep {
                cache.keep_rendered_query(
                    &ctx,
                    ctx.media(),
                    templates.clone(),
                    tags.clone(),
                    &rendered,
                );
            }
            Ok(rendered.into_response(StatusCode::OK))
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
            // Every category is checked before anything is written, and the
            // store writes them in one transaction: a request either
            // defines (or removes) all its mixins or none.
            let user = ctx.user();
            if parts.method == Method::DELETE {
                let type_ids: Vec<String> = req.categories.iter().map(|c| c.type_id()).collect();
                ctx.state.store.delete_mixins(user, &type_ids).await?;
            } else {
                let mixins = req
                    .categories
                    .iter()
                    .map(|c| user_mixin_of(&ctx, c))
                    .collect::<Result<Vec<_>, _>>()?;
                // Defining the very same mixin again is a no-op (a client
                // retrying, or re-running its setup); a different one under
                // a taken id or location is 409, and so is passing the cap.
                ctx.state.store.create_mixins(user, &mixins).await?;
            }
            Ok(ok(&ctx))
        }
        _ => Err(AppError::MethodNotAllowed {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        }),
    }
}
