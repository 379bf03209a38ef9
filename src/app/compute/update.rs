//! Updating a compute: a new resource template (or sizes) resizes a
//! stopped compute, a title renames it; the OS template and the
//! contextualization cannot change.

use crate::occi::OcciRequest;
use crate::occi::infrastructure::attr;
use crate::synnefo::{Flavor, Server, ServerAction, ServerStatus};

use super::DEFAULT_NAME;
use super::create::resolve;
use super::mapping::{get_server, state_of};
use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::app::sizes::{SizeRequest, smallest};
use crate::app::update::new_title;

/// The longest server name Cyclades keeps, in characters
/// (`db/models.py` `VirtualMachine.VIRTUAL_MACHINE_NAME_LENGTH`).
const MAX_SERVER_NAME: usize = 255;

/// What a compute update changes, as [`Collection::plan_update`](crate::app::Collection::plan_update)
/// plans it for a compute.
#[derive(Debug, Default)]
pub struct ComputeUpdate {
    /// The flavor to resize to (the compute is stopped).
    resize: Option<String>,
    /// The new server name.
    rename: Option<String>,
}

/// What an update of compute `id` changes, checked before anything is
/// changed (see [`Collection::plan_update`](crate::app::Collection::plan_update)).
pub(super) async fn plan_update(
    ctx: &Ctx,
    id: &str,
    req: &OcciRequest,
    full: bool,
) -> Result<ComputeUpdate, AppError> {
    let server = get_server(ctx, id).await?;
    let mut w = resolve(ctx, req, false).await?;
    if let (None, Some(size)) = (&w.flavor, &w.size) {
        w.flavor = resize_by_size(ctx, &server, size).await?;
    }
    if let (Some(image), Some(current)) = (&w.image, &server.image)
        && image.id != current.id
    {
        return Err(AppError::BadRequest(format!(
            "the OS template of a compute cannot change (it would need a rebuild); create a new compute with {}",
            image.name
        )));
    }
    if w.ssh_key.is_some() || w.user_data.is_some() {
        return Err(AppError::BadRequest(
            "contextualization applies only when a compute is created".to_owned(),
        ));
    }
    let mut update = ComputeUpdate::default();
    if let Some(flavor) = &w.flavor {
        let current = server.flavor.as_ref().map(|f| f.id.as_str());
        if current != Some(flavor.id.as_str()) {
            if server.status != ServerStatus::Stopped {
                return Err(AppError::Conflict(format!(
                    "a new resource template resizes the compute, which must be stopped first (it is {})",
                    state_of(&server.status).map(|s| s.0).unwrap_or("deleted")
                )));
            }
            update.resize = Some(flavor.id.clone());
        }
    }
    // A full update without a title resets it, as a create would.
    update.rename = new_title(&req.attributes, full, DEFAULT_NAME, MAX_SERVER_NAME)?
        .filter(|name| *name != server.name);
    Ok(update)
}

/// Applies a planned update: resize, then rename.
pub(super) async fn apply_update(
    ctx: &Ctx,
    id: &str,
    update: ComputeUpdate,
) -> Result<(), AppError> {
    // Resize first: it is the step Synnefo may still refuse (409).
    if let Some(flavor_ref) = update.resize {
        ctx.client()
            .server_action(&ctx.caller, id, &ServerAction::Resize { flavor_ref })
            .await
            .map_err(|e| AppError::synnefo(format!("resize server {id}"), e))?;
    }
    if let Some(name) = update.rename {
        ctx.client()
            .rename_server(&ctx.caller, id, &name)
            .await
            .map_err(|e| AppError::synnefo(format!("rename server {id}"), e))?;
    }
    Ok(())
}

/// The flavor an update that asks for sizes (and names no template)
/// resizes `server` to: `None` when its own flavor already has them (a
/// full update resends them); else the smallest creatable flavor with at
/// least the sizes asked for and the current ones for the rest, among
/// those Cyclades can resize to (`logic/servers.py` `resize`: the same
/// disk size and volume type).
async fn resize_by_size(
    ctx: &Ctx,
    server: &Server,
    size: &SizeRequest,
) -> Result<Option<Flavor>, AppError> {
    let catalog = ctx.state.templates.catalog(ctx).await?;
    let Some(current) = server
        .flavor
        .as_ref()
        .and_then(|f| catalog.flavor_by_id(&f.id))
    else {
        return Err(AppError::Conflict(format!(
            "compute {} has a flavor this account cannot see; name a resource template to resize it",
            server.id
        )));
    };
    let term = catalog.flavor_term(&current.id);
    if size.contradicts(current, term).is_none() {
        return Ok(None);
    }
    if size.disk_gib.is_some_and(|d| d != current.disk as f64) {
        return Err(AppError::Conflict(format!(
            "{} cannot change: Synnefo cannot resize a compute's disk ({} GiB, resource template {term})",
            attr::TPL_DISK,
            current.disk
        )));
    }
    let floor = SizeRequest {
        cores: Some(size.cores.unwrap_or(current.vcpus)),
        memory_gib: Some(size.memory_gib.unwrap_or(current.ram as f64 / 1024.0)),
        disk_gib: None,
    };
    let same_disks: Vec<Flavor> = catalog
        .flavors()
        .iter()
        .filter(|f| {
            f.disk == current.disk
                && f.volume_type == current.volume_type
                && f.disk_template == current.disk_template
        })
        .cloned()
        .collect();
    smallest(&same_disks, &floor, None).map(|f| Some(f.clone()))
}
