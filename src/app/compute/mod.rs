//! `/compute/`: Synnefo servers as OCCI compute resources.
//!
//! Synnefo calls per operation (template caches warm):
//! - list: 1 (`GET /servers/detail`, with the cached templates for their
//!   terms; JSON also reads `GET /volumes/detail` for the device ids); a
//!   listing of locations (text, uri-list) asks for the changes since the
//!   caller's last one (`?changes-since=`, see [`listing`]), and reads
//!   them all once a minute;
//! - show: 1 (`GET /servers/{id}`: NICs and volume ids come with it),
//!   plus 1 per disk (`GET /volumes/{id}`, all at once: the index each
//!   is attached at, the storage links' `occi.storagelink.deviceid`) when
//!   the server changed since the caller's last show of it (see
//!   [`disks`]);
//! - create: 1 (`POST /servers`, inline network links as `networks`),
//!   plus 1 read per inline link to a storage (checked before the create,
//!   with one server listing) and per inline link to an IP reservation (`GET /floatingips/{id}`:
//!   its address and network, sent as `networks[].fixed_ip`), + 2 per
//!   "Please create a floating IP" retry; inline storage is attached in
//!   the background once the compute is built (see [`super::attach`]);
//! - action: 2 (`GET /servers/{id}` for the state check, `POST
//!   /servers/{id}/action`);
//! - save: 2 (`GET /servers/{id}`, whose `volumes` name the disks, and
//!   `POST /volume/v2.0/snapshots`), 3 when the server has more than one
//!   volume (`GET /volumes/detail` says which is the root disk); the
//!   caller's image list is reloaded (1) on the next template lookup;
//! - update: 1 (`GET /servers/{id}`), + 1 per change (`POST
//!   /servers/{id}/action` resize, `PUT /servers/{id}` rename), + the
//!   show of the answer (1). A new resource template resizes a stopped
//!   compute (409 otherwise), as do sizes asked for without a template
//!   (`occi.compute.cores`, `occi.compute.memory`: the smallest flavor
//!   Cyclades can resize to that has them), a different OS template is a
//!   400, the title renames (a full update without one resets it to
//!   `OCCI_VM`);
//! - delete: 1.
//!
//! Inline links of a create (`Link:` in text, `links` in JSON) may
//! target `/network/<id>`, `/storage/<id>` and `/ipreservation/<id>`
//! (relative, or absolute under `server.public_url`). Networks and IP
//! reservations go in the one `POST /servers`, and storage is checked
//! before it, so a refused link creates nothing. A link to an
//! IP reservation attaches that floating IP to the new compute exactly as
//! a networkinterface created afterwards would, and the compute renders
//! it the same way; deleting the compute keeps the reservation (Synnefo
//! only disassociates a floating IP from a deleted server's port).
//!
//! Templates are named by terms (see [`super::terms`]): the compute shows
//! its flavor's and image's, and a create or update may name them by
//! term, id or name; a create without a resource template but asking
//! for sizes gets the smallest flavor that has them (see
//! [`super::sizes`]).
//!
//! Link ids: a storagelink is `<server id>_<volume id>`, a
//! networkinterface `<server id>_<port id>`: both halves are Synnefo ids,
//! so a link is found again from its id with no lookup table.
//!
//! The modules: [`mapping`] (a server as an OCCI compute), [`create`]
//! (template resolution, contextualization, the server create),
//! [`inline_links`] and [`floating_ips`] (what a create links), [`actions`]
//! and [`save`], [`update`], [`delete`].

pub mod actions;
pub mod create;
pub mod delete;
pub mod disks;
pub mod floating_ips;
pub mod inline_links;
pub mod listing;
pub mod mapping;
pub mod save;
pub mod shown;
pub mod update;

use std::collections::HashMap;

use crate::occi::infrastructure::COMPUTE;
use crate::occi::{Attributes, OcciRequest, ParsedCategory, Rendered};
use crate::synnefo::{Server, Volume};

use super::attach;
use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::handlers::{add_user_mixins, render};
use super::ids::is_server_id;
use super::storagelink::Attachment;
use super::templates::TemplateCatalog;
use mapping::{get_server, get_server_answer, no_compute, server_in, to_resource};
use shown::ShowInputs;
use update::ComputeUpdate;

/// The server name when the client gives no title (as the original).
const DEFAULT_NAME: &str = "OCCI_VM";

/// The `/compute/` collection.
pub struct Compute;

/// The location of server `id`.
pub fn location(id: &str) -> String {
    format!("/compute/{id}")
}

/// The compute of `server` (just read) with its disks' indexes (read
/// once per change of the server, see `disks`), resuming the attach of
/// storage still pending; 404 for a server that is gone.
async fn built(
    ctx: &Ctx,
    id: &str,
    server: &Server,
    catalog: &TemplateCatalog,
) -> Result<(Entity, std::sync::Arc<disks::Disks>), AppError> {
    let disks = ctx.state.disk_indexes.of(ctx, server).await?;
    attach::resume(ctx, server);
    let attachment = |v: &str| disks.attachment_of(v);
    let compute = to_resource(server, Some(catalog), attachment, ctx.state.config.suspend)
        .map(Entity::Resource)
        .ok_or_else(|| no_compute(id))?;
    Ok((compute, disks))
}

impl Collection for Compute {
    const KIND: &'static str = COMPUTE;
    const PATH: &'static str = "compute";

    async fn list(ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        // The template terms are needed to render (and to filter by)
        // templates; the volume details only for the links' device ids,
        // which only JSON collections show.
        let servers = async {
            ctx.client()
                .list_servers_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("list servers", e))
        };
        let disks = async {
            if !ctx.media().is_json() {
                return Ok(Vec::new());
            }
            ctx.client()
                .list_volumes_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("list volumes", e))
        };
        let (servers, catalog, disks) =
            tokio::try_join!(servers, ctx.state.templates.catalog(ctx), disks)?;
        // Each server's volumes looked up by id: one pass over the
        // caller's volumes, not one per listed disk.
        let by_id: HashMap<&str, &Volume> = disks.iter().map(|v| (v.id.as_str(), v)).collect();
        Ok(servers
            .iter()
            .filter_map(|s| {
                let attachment = |v: &str| {
                    by_id
                        .get(v)
                        .map(|v| Attachment::of(v, &s.id))
                        .unwrap_or_default()
                };
                to_resource(s, Some(&catalog), attachment, ctx.state.config.suspend)
            })
            .take(ctx.state.config.collection_limit)
            .map(Entity::Resource)
            .collect())
    }

    async fn locations(ctx: &Ctx) -> Result<Vec<String>, AppError> {
        // The detailed listing, read for ids and states only: Cyclades
        // lists a server being deleted until its delete job ends, and only
        // the details say so; a compute a client deleted is not listed
        // (its GET is a 404 too). Kept per user and brought up to date
        // with the changes since (see `listing`).
        let ids = ctx.state.server_listings.server_ids(ctx).await?;
        Ok(ids
            .iter()
            .take(ctx.state.config.collection_limit)
            .map(|id| location(id))
            .collect())
    }

    async fn show(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
        if !is_server_id(id) {
            return Err(no_compute(id));
        }
        let (server, catalog) =
            tokio::try_join!(get_server(ctx, id), ctx.state.templates.catalog(ctx))?;
        let (compute, _) = built(ctx, id, &server, &catalog).await?;
        Ok(compute)
    }

    /// A show that serves the kept rendering while Cyclades' answer and
    /// the caller's snapshots are those it was made from (see
    /// [`shown`]).
    async fn show_rendered(ctx: &Ctx, id: &str) -> Result<Rendered, AppError> {
        let tags = async { Ok::<_, AppError>(ctx.state.store.tags(ctx.user()).await?) };
        let (answer, catalog, tags) = tokio::try_join!(
            get_server_answer(ctx, id),
            ctx.state.templates.catalog(ctx),
            tags
        )?;
        let inputs = ShowInputs {
            answer: &answer,
            catalog: &catalog,
            tags: &tags,
        };
        if let Some(kept) = ctx.state.shown_computes.get(ctx, id, &inputs) {
            return Ok(kept);
        }
        let server = server_in(id, &answer)?;
        let (mut compute, disks) = built(ctx, id, &server, &catalog).await?;
        add_user_mixins(&mut compute, &tags, &location(id));
        let rendered = render(ctx, &compute)?;
        // A show of a compute whose storage is still pending may start
        // its attach: never skipped.
        if !attach::has_pending(&server) {
            ctx.state
                .shown_computes
                .keep(ctx, id, inputs, &disks, &rendered);
        }
        Ok(rendered)
    }

    async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
        create::create(ctx, req).await
    }

    async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
        delete::delete(ctx, id).await
    }

    async fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        attrs: &Attributes,
    ) -> Result<ActionOutcome, AppError> {
        actions::action(ctx, id, action, attrs).await
    }

    type Update = ComputeUpdate;

    async fn plan_update(
        ctx: &Ctx,
        id: &str,
        req: &OcciRequest,
        full: bool,
    ) -> Result<ComputeUpdate, AppError> {
        update::plan_update(ctx, id, req, full).await
    }

    async fn apply_update(ctx: &Ctx, id: &str, update: ComputeUpdate) -> Result<(), AppError> {
        update::apply_update(ctx, id, update).await
    }

    /// A template named by term, id or name under any scheme (the seed's
    /// `Category: Debian; scheme="...infrastructure#"`), as creates take.
    async fn understands(ctx: &Ctx, category: &ParsedCategory) -> Result<bool, AppError> {
        let catalog = ctx.state.templates.catalog(ctx).await?;
        // An ambiguous name is understood too: the create then says which
        // templates it could mean.
        Ok(!matches!(catalog.flavor(&category.term, None), Ok(None))
            || !matches!(catalog.image(&category.term), Ok(None)))
    }
}
