//! Deleting a compute without deleting the storage linked to it.

use crate::synnefo::Server;

use super::mapping::{is_gone, no_compute};
use crate::app::busy;
use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::app::ids::is_server_id;

/// `DELETE /compute/{id}`: detaches the data disks first (Cyclades would
/// delete them with the server), then deletes the server.
pub(super) async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
    if !is_server_id(id) {
        return Err(no_compute(id));
    }
    // A compute being deleted is gone for its owner (its GET is a
    // 404), yet Cyclades accepts another DELETE of it (204) until its
    // delete job ends (`logic/commands.py` `validate_server_action`
    // permits DESTROY in any state): a second delete is a 404 too.
    let server = ctx.client().get_server(&ctx.caller, id).await.ok();
    if server.as_ref().is_some_and(is_gone) {
        return Err(no_compute(id));
    }
    // Storage outlives the compute it is linked to (OCCI: deleting a
    // resource deletes its links, not their targets), but Cyclades 0.20
    // deletes every volume attached to a server with it
    // (`volume/volumes.py` `validate_volume_termination`: volumes
    // cannot be kept). So the data disks are detached first.
    if let Some(server) = server.as_ref().filter(|s| s.volumes.len() > 1) {
        detach_data_disks(ctx, server).await?;
    }
    // Cyclades refuses to destroy a server while its create job runs
    // (`logic/servers.py` `destroy`: 409 buildInProgress "Server is
    // being build"); clients delete what they just made (pOCCI, IM's
    // clean-up of a failed launch): wait for it (`busy`).
    match busy::when_idle(ctx, || ctx.client().delete_server(&ctx.caller, id)).await {
        Ok(()) => Ok(()),
        // Also Cyclades' 400 "Server ... has been deleted.": the
        // compute is gone, as a GET of it says.
        Err(e) if e.is_not_found() => Err(no_compute(id)),
        Err(e) if busy::is_busy(&e) => Err(busy::busy_error(&format!("delete compute {id}"), &e)),
        Err(e) => Err(AppError::synnefo(format!("delete server {id}"), e)),
    }
}

/// Detaches every volume of `server` but its root disk and waits (within
/// `busy_wait`) until they are detached: a compute's delete must not take
/// its linked storage with it. Past the wait, a 409 with `Retry-After`:
/// the detaches go on, and the next delete finds them done.
async fn detach_data_disks(ctx: &Ctx, server: &Server) -> Result<(), AppError> {
    let id = &server.id;
    let volumes = ctx
        .client()
        .list_volumes_detail(&ctx.caller)
        .await
        .map_err(|e| AppError::synnefo("listing volumes", e))?;
    let data: Vec<&str> = volumes
        .iter()
        .filter(|v| v.attachments.iter().any(|a| a.server_id == *id))
        .filter(|v| !crate::app::storagelink::is_root_disk(v, id))
        .map(|v| v.id.as_str())
        .collect();
    for volume in &data {
        busy::when_idle(ctx, || ctx.client().detach_volume(&ctx.caller, id, volume))
            .await
            .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })
            .map_err(|e| match e {
                e if busy::is_busy(&e) => busy::busy_error(
                    &format!("delete compute {id} (its storage is detached first)"),
                    &e,
                ),
                e => AppError::synnefo(format!("detaching volume {volume} of server {id}"), e),
            })?;
    }
    let all_detached = busy::settled(ctx, || async {
        for volume in &data {
            if !crate::app::storagelink::detached(ctx, id, volume).await {
                return false;
            }
        }
        true
    })
    .await;
    if !all_detached {
        return Err(AppError::Busy {
            message: format!(
                "delete compute {id}: its storage is being unlinked first (Synnefo would \
                 delete storage still linked to it); delete it again in a few seconds"
            ),
            retry_after: std::time::Duration::from_secs(5),
        });
    }
    Ok(())
}
