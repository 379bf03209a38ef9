//! `/storage/`: Synnefo volumes as OCCI storage.
//!
//! - list = `GET /volumes/detail` (1 call), then `GET /servers/detail`
//!   when some volume is attached; show = `GET /volumes/{id}`, then `GET
//!   /servers/{id}` for an attached one (the volume types, `GET /types`,
//!   are cached): a volume attached to a compute being deleted goes with
//!   it, and is a 404 as that compute is. A storage carries the
//!   storage template of its volume type
//!   (`http://schemas.synnefo.org/template/storage#<term>`).
//! - create = `POST /volumes` with `occi.storage.size` (whole GiB: Synnefo
//!   sizes are integers), `occi.core.title` as the name (default
//!   `OCCI volume`), `occi.core.summary` as the description, the volume
//!   type of the storage template the request names, else the default
//!   one (the configured `volume_type`; else the default flavor's type
//!   when detachable, so that new storage links to the computes made
//!   with the defaults; else the cloud's first detachable type), and the
//!   caller's project. A Synnefo volume attaches only to a compute whose
//!   flavor has disks of its type, and only detachable types
//!   (`SNF:detachable`; `ext_*` by Cyclades' default) can be created on
//!   their own: another is a 400 naming the ones that can.
//! - delete = `DELETE /volumes/{id}`; a compute's root disk cannot be
//!   deleted (409: it goes with the compute).
//! - `online`/`offline`: 501, Synnefo volumes have no such operation (a
//!   volume is usable when attached: create a storagelink).
//! - update = `PUT /volumes/{id}` (after `GET /volumes/{id}`), only when
//!   something changes: `occi.core.title` renames the volume, and
//!   `occi.core.summary` is its description; a full update (PUT) without
//!   them resets both to what a create without them gives (`OCCI volume`,
//!   no description). `occi.storage.size` cannot change (Cyclades cannot
//!   resize a volume): the current size passes (full updates resend it), a
//!   different one is a 409 naming it (see [`super::update`]). State
//!   attributes a client resends are ignored.
//!
//! State from the volume status: `AVAILABLE`/`IN_USE` -> online;
//! `ERROR*` -> error; anything else (`CREATING`, `DELETING`, `ATTACHING`,
//! ...) -> offline with the status as `occi.storage.state.message`.

use std::collections::HashSet;

use crate::occi::infrastructure::{self, STORAGE_TPL_SCHEME, attr};
use crate::occi::{AttributeValue, Attributes, OcciRequest, ParsedCategory, Resource};
use crate::synnefo::{Flavor, NewVolume, Volume, VolumeType, VolumeUpdate};

use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::compute::mapping::is_gone;
use super::error::AppError;
use super::ids::is_object_id;
use super::templates::StorageTypes;
use super::update::{new_summary, new_title};

/// The name of a volume created without a title.
const DEFAULT_TITLE: &str = "OCCI volume";
/// The longest volume name and description Cyclades keeps, in characters
/// (`db/models.py` `Volume.NAME_LENGTH`, `DESCRIPTION_LENGTH`).
const MAX_VOLUME_TEXT: usize = 255;

/// `/storage/`: Synnefo volumes as OCCI storage.
pub struct Storage;

/// The OCCI state and message of a Synnefo volume status.
///
/// ```
/// use snf_occi::app::storage::storage_state;
/// assert_eq!(storage_state(Some("IN_USE")), ("online", None));
/// assert_eq!(storage_state(Some("creating")), ("offline", Some("CREATING".to_string())));
/// assert_eq!(storage_state(Some("ERROR_DELETING")).0, "error");
/// ```
pub fn storage_state(status: Option<&str>) -> (&'static str, Option<String>) {
    let status = status.unwrap_or("UNKNOWN").to_ascii_uppercase();
    match status.as_str() {
        "AVAILABLE" | "IN_USE" | "IN-USE" => ("online", None),
        s if s.starts_with("ERROR") => ("error", Some(status)),
        _ => ("offline", Some(status)),
    }
}

/// The OCCI storage resource of a Synnefo volume; `types` give its
/// storage template's term.
pub fn volume_resource(volume: &Volume, types: &StorageTypes) -> Resource {
    let location = format!("/{}/{}", Storage::PATH, volume.id);
    let mut r = Resource::new(Storage::KIND, volume.id.clone(), location);
    if let Some(t) = &volume.volume_type {
        r.mixins
            .push(format!("{STORAGE_TPL_SCHEME}{}", types.term(t)));
    }
    if !volume.display_name.is_empty() {
        r.attributes.set(attr::TITLE, volume.display_name.clone());
    }
    if let Some(summary) = volume
        .display_description
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        r.attributes.set(attr::SUMMARY, summary.to_owned());
    }
    r.attributes.set(
        attr::STORAGE_SIZE,
        AttributeValue::Float(volume.size as f64),
    );
    let (state, message) = storage_state(volume.status.as_deref());
    r.attributes.set(attr::STORAGE_STATE, state);
    if let Some(message) = message {
        r.attributes.set(attr::STORAGE_STATE_MESSAGE, message);
    }
    r
}

/// `occi.storage.size` as whole GiB, or a 400 naming the problem. OCCI
/// sizes are floats in GiB while Synnefo volumes are whole GiB: a
/// fractional request is rounded up, so the volume is never smaller than
/// asked (pOCCI asks for 0.1 GiB).
fn requested_size(attrs: &Attributes) -> Result<u64, AppError> {
    if !attrs.contains(attr::STORAGE_SIZE) {
        return Err(AppError::BadRequest(format!(
            "{} is required to create storage",
            attr::STORAGE_SIZE
        )));
    }
    size_of(attrs)
}

/// `occi.storage.size` (which must be there) as whole GiB, rounded up as
/// a create rounds it, or a 400 naming the problem.
fn size_of(attrs: &Attributes) -> Result<u64, AppError> {
    let bad = || {
        AppError::BadRequest(format!(
            "{} must be a positive number of GiB (at most 1000000)",
            attr::STORAGE_SIZE
        ))
    };
    let size = match attrs.get(attr::STORAGE_SIZE) {
        None => return Err(bad()),
        Some(AttributeValue::Integer(n)) => *n as f64,
        Some(AttributeValue::Float(f)) => *f,
        Some(AttributeValue::String(s)) => s.trim().parse::<f64>().map_err(|_| bad())?,
        Some(_) => return Err(bad()),
    };
    if !(size.is_finite() && size > 0.0 && size <= 1_000_000.0) {
        return Err(bad());
    }
    Ok(size.ceil() as u64)
}

/// The volume type of a new storage: the storage template the request
/// names (`Category: <term>; scheme="http://schemas.synnefo.org/template/storage#"`,
/// or its term, id or name under any scheme), else the default (see
/// [`StorageTypes::default_type`]). A type whose volumes cannot exist
/// unattached is a 400 before anything is sent: Cyclades would refuse
/// it ("Volume type ... is not detachable").
async fn volume_type(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
    let types = ctx.state.templates.storage_types(ctx).await?;
    let mut named: Option<&VolumeType> = None;
    for c in &req.categories {
        let tid = c.type_id();
        let found = if c.scheme == STORAGE_TPL_SCHEME {
            Some(types.find(&c.term).ok_or_else(|| {
                AppError::BadRequest(format!(
                    "unknown storage template {tid}: the storage templates are listed in /-/"
                ))
            })?)
        } else if tid == Storage::KIND || infrastructure::catalogue().mixin(&tid).is_some() {
            None
        } else {
            types.find(&c.term)
        };
        match (named, found) {
            (Some(a), Some(b)) if a.id != b.id => {
                return Err(AppError::BadRequest(format!(
                    "two storage templates given: {} and {}",
                    types.term(&a.id),
                    types.term(&b.id)
                )));
            }
            (_, Some(b)) => named = Some(b),
            _ => {}
        }
    }
    let chosen = match named {
        Some(t) => t,
        None => {
            let catalog = ctx.state.templates.catalog(ctx).await?;
            types.default_type(&ctx.state.config, catalog.default_flavor(&ctx.state.config))?
        }
    };
    if !chosen.is_detachable() {
        let usable: Vec<&str> = types
            .types()
            .iter()
            .filter(|t| t.is_detachable())
            .map(|t| types.term(&t.id))
            .collect();
        return Err(AppError::BadRequest(format!(
            "the storage template {} is not detachable: Synnefo makes {} volumes only as the \
             disks of a compute; new storage can have {}",
            types.term(&chosen.id),
            chosen.template(),
            if usable.is_empty() {
                "no volume type of this cloud".to_owned()
            } else {
                usable.join(" or ")
            }
        )));
    }
    Ok(chosen.id.clone())
}

/// The 400 for linking storage `id`, of volume type `volume_type`, to a
/// compute of resource template `flavor`: Cyclades attaches a volume only
/// to a server whose flavor's disks have the volume's disk template
/// (`logic/server_attachments.py` `attach_volume`), and says so with type
/// ids; this names the storage and resource templates instead.
pub fn type_mismatch(
    id: &str,
    volume_type: Option<&str>,
    types: &StorageTypes,
    flavor: &Flavor,
    flavor_term: &str,
) -> AppError {
    let has = volume_type.and_then(|t| types.types().iter().find(|x| x.id == t));
    let wants = types.of_flavor(flavor);
    let name = |t: Option<&VolumeType>, fallback: Option<&str>| {
        t.map(|t| types.term(&t.id).to_owned())
            .or_else(|| fallback.map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned())
    };
    AppError::BadRequest(format!(
        "storage /storage/{id} has the storage template {} and the resource template \
         {flavor_term} has {} disks: Synnefo links a storage only to computes whose disks \
         are of its own volume type",
        name(has, volume_type),
        name(wants, flavor.disk_template.as_deref()),
    ))
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no storage {id}"))
}

/// The caller's volume `id` (404 for an invalid id, another user's or a
/// deleted volume).
async fn volume(ctx: &Ctx, id: &str) -> Result<Volume, AppError> {
    if !is_object_id(id) {
        return Err(not_found(id));
    }
    let volume = ctx
        .client()
        .get_volume(&ctx.caller, id)
        .await
        .map_err(|e| AppError::synnefo(format!("reading volume {id}"), e))?;
    if being_deleted(&volume) || departing(ctx, &volume).await? {
        return Err(not_found(id));
    }
    Ok(volume)
}

/// Whether `volume` is deleted or being deleted: a 404 and out of listings,
/// as a compute being deleted is. A deleted volume may linger in listings
/// of some Synnefo versions; a detached one being deleted stays `DELETING`
/// (attached to the site's helper server) until Ganeti has removed it.
pub fn being_deleted(volume: &Volume) -> bool {
    volume
        .status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("DELETED") || s.eq_ignore_ascii_case("DELETING"))
}

/// The caller's servers being deleted (see [`super::compute::mapping::is_gone`]):
/// a compute being deleted is a 404, and so is every volume attached to
/// it, which goes with it (Cyclades marks them all deleted when the
/// delete job ends, `logic/backend.py` `process_op_status`): until then
/// it would be listed as storage in use by a compute that is not there.
pub async fn departing_servers(ctx: &Ctx) -> Result<HashSet<String>, AppError> {
    let servers = ctx
        .client()
        .list_servers_detail(&ctx.caller)
        .await
        .map_err(|e| AppError::synnefo("list servers", e))?;
    Ok(servers.into_iter().filter(is_gone).map(|s| s.id).collect())
}

/// Whether `volume` is attached to one of the `departing` servers.
pub fn departs_with(volume: &Volume, departing: &HashSet<String>) -> bool {
    volume
        .attachments
        .iter()
        .any(|a| departing.contains(&a.server_id))
}

/// Whether the server `volume` is attached to, if any, is being deleted
/// (or already is): one call per attachment.
pub async fn departing(ctx: &Ctx, volume: &Volume) -> Result<bool, AppError> {
    for a in &volume.attachments {
        match ctx.client().get_server(&ctx.caller, &a.server_id).await {
            Ok(server) if is_gone(&server) => return Ok(true),
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(true),
            Err(e) => return Err(AppError::synnefo(format!("get server {}", a.server_id), e)),
        }
    }
    Ok(false)
}

impl Collection for Storage {
    const KIND: &'static str = infrastructure::STORAGE;
    const PATH: &'static str = "storage";

    async fn list(ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        let volumes = async {
            ctx.client()
                .list_volumes_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("listing volumes", e))
        };
        let (volumes, types) = tokio::try_join!(volumes, ctx.state.templates.storage_types(ctx))?;
        let departing = if volumes.iter().any(|v| !v.attachments.is_empty()) {
            departing_servers(ctx).await?
        } else {
            HashSet::new()
        };
        Ok(volumes
            .iter()
            .filter(|v| !being_deleted(v) && !departs_with(v, &departing))
            .take(ctx.state.config.collection_limit)
            .map(|v| volume_resource(v, &types).into())
            .collect())
    }

    async fn show(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
        let (volume, types) =
            tokio::try_join!(volume(ctx, id), ctx.state.templates.storage_types(ctx))?;
        Ok(volume_resource(&volume, &types).into())
    }

    async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
        if let Some(kind) = req.kind()
            && kind.type_id() != Self::KIND
        {
            return Err(AppError::BadRequest(format!(
                "kind {} cannot be created in /storage/",
                kind.type_id()
            )));
        }
        let size = requested_size(&req.attributes)?;
        let volume = NewVolume {
            size,
            display_name: req
                .attributes
                .get_str(attr::TITLE)
                .filter(|t| !t.is_empty())
                .unwrap_or(DEFAULT_TITLE)
                .to_owned(),
            volume_type: Some(volume_type(ctx, req).await?),
            project: ctx.auth.project.as_deref().map(str::to_owned),
            server_id: None,
            display_description: req.attributes.get_str(attr::SUMMARY).map(str::to_owned),
        };
        let created = ctx
            .client()
            .create_volume(&ctx.caller, &volume)
            .await
            .map_err(|e| AppError::synnefo("creating the volume", e))?;
        Ok(created.id)
    }

    async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
        if !is_object_id(id) {
            return Err(not_found(id));
        }
        ctx.client()
            .delete_volume(&ctx.caller, id)
            .await
            .map_err(|e| match e.fault_kind() {
                // Cyclades' bare 400 for the boot disk
                // (`logic/server_attachments.py` `delete_volume`: "Cannot
                // delete the root volume of server ..."): the storage's
                // state, not the request, is the reason.
                Some(crate::synnefo::FaultKind::BadRequest)
                    if e.user_message().contains("root volume") =>
                {
                    AppError::Conflict(format!(
                        "storage {id} is the root disk of a compute: it is deleted with the compute"
                    ))
                }
                _ => AppError::synnefo(format!("deleting volume {id}"), e),
            })
    }

    async fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        _attrs: &Attributes,
    ) -> Result<ActionOutcome, AppError> {
        // The entity must exist (404 first), then the action is refused.
        Self::show(ctx, id).await?;
        let name = action.rsplit('#').next().unwrap_or(action);
        Err(AppError::NotImplemented(format!(
            "storage action {name} is not supported: Synnefo volumes have no online/offline \
             operation; a volume is usable while attached (create a storagelink)"
        )))
    }

    type Update = VolumeUpdate;

    async fn plan_update(
        ctx: &Ctx,
        id: &str,
        req: &OcciRequest,
        full: bool,
    ) -> Result<VolumeUpdate, AppError> {
        let (volume, types) =
            tokio::try_join!(volume(ctx, id), ctx.state.templates.storage_types(ctx))?;
        // The generic handler leaves only the kind, provider mixins and
        // storage templates here (named under any scheme or their own).
        for c in req.categories.iter().filter(|c| c.type_id() != Self::KIND) {
            let asked = match types.find(&c.term) {
                Some(t) => t,
                None if c.scheme == STORAGE_TPL_SCHEME => {
                    return Err(AppError::BadRequest(format!(
                        "unknown storage template {}: the storage templates are listed in /-/",
                        c.type_id()
                    )));
                }
                None => continue,
            };
            if volume.volume_type.as_deref() != Some(asked.id.as_str()) {
                return Err(AppError::Conflict(format!(
                    "storage {id} cannot change to the storage template {}: Synnefo cannot change \
                     a volume's type; create a new storage with it instead",
                    types.term(&asked.id)
                )));
            }
        }
        if req.attributes.contains(attr::STORAGE_SIZE) {
            let size = size_of(&req.attributes)?;
            if size != volume.size {
                return Err(AppError::Conflict(format!(
                    "{} cannot change from {} to {size} GiB: Synnefo cannot resize a volume; \
                     create a new storage of that size instead",
                    attr::STORAGE_SIZE,
                    volume.size
                )));
            }
        }
        let name = new_title(&req.attributes, full, DEFAULT_TITLE, MAX_VOLUME_TEXT)?
            .filter(|name| *name != volume.display_name);
        let current = volume.display_description.as_deref().unwrap_or("");
        let description = new_summary(&req.attributes, full, MAX_VOLUME_TEXT)?
            .filter(|summary| summary != current);
        Ok(VolumeUpdate {
            display_name: name,
            display_description: description,
        })
    }

    /// A storage template named by term, id or name under any scheme.
    async fn understands(ctx: &Ctx, category: &ParsedCategory) -> Result<bool, AppError> {
        Ok(ctx
            .state
            .templates
            .storage_types(ctx)
            .await?
            .find(&category.term)
            .is_some())
    }

    async fn apply_update(ctx: &Ctx, id: &str, update: VolumeUpdate) -> Result<(), AppError> {
        // Cyclades refuses an update that changes nothing.
        if update.is_empty() {
            return Ok(());
        }
        ctx.client()
            .update_volume(&ctx.caller, id, &update)
            .await
            .map_err(|e| AppError::synnefo(format!("updating volume {id}"), e))?;
        Ok(())
    }
}
