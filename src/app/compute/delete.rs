//! Deleting a compute without deleting the storage linked to it.

use crate::synnefo::{Server, ServerStatus};

use super::mapping::{is_gone, no_compute};
use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::app::ids::is_server_id;
use crate::app::{attach, busy};

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
    let mut server = ctx.client().get_server(&ctx.caller, id).await.ok();
    if server.as_ref().is_some_and(is_gone) {
        return Err(no_compute(id));
    }
    if let Some(s) = server.as_ref().filter(|s| attach::has_pending(s)) {
        forget_pending_links(ctx, s).await;
    }
    if let Some(seen) = server.take_if(|s| job_under_way(ctx, s).is_some()) {
        server = Some(when_no_job(ctx, id, seen).await?);
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

/// What Cyclades (or this process, for storage linked at its create) is
/// doing to `server` that a delete must not overtake, if anything.
///
/// Cyclades takes a `DESTROY` while another job of the server runs
/// (`logic/commands.py` `validate_server_action`), and the two jobs'
/// quota commissions then collide: when the earlier job ends, the
/// dispatcher (`logic/backend.py` `handle_vm_quotas`) issues its
/// commission again, which rejects the pending `DESTROY` one, and the
/// removal's end issues the release a second time; Astakos refuses a
/// release it cannot take (`NoQuantityError`, "Limit for resource 'Disk'
/// exceeded"), synchronously (413 to the delete) or in the dispatcher
/// (the server then stays `ACTIVE` for good). And a volume whose attach
/// ends after the removal was queued is deleted with the server: the
/// linked storage would go with its compute. A build is not listed:
/// Cyclades refuses that delete itself (409, see [`busy::when_idle`]).
fn job_under_way(ctx: &Ctx, server: &Server) -> Option<String> {
    let task = server.task_state.as_deref().unwrap_or_default();
    if !task.is_empty() && !task.eq_ignore_ascii_case("BUILDING") {
        return Some(format!("its task {task}"));
    }
    // The background attach waits for the build and finds nothing to
    // attach once the pending list is gone (see `forget_pending_links`);
    // past the build it may be sending the attach right now.
    let building = server.status == ServerStatus::Build;
    (!building && ctx.state.attaching.holds(&server.id))
        .then(|| "the attach of the storage linked at its create".to_owned())
}

/// Waits (within `busy_wait`) until no job runs on server `id`
/// ([`job_under_way`]) and answers the server as it is then; past the
/// wait, a 409 with `Retry-After`: the job goes on, a later delete finds
/// it done. `seen` is the server as the delete just read it, busy: the
/// first look is at it, so the wait starts with a pause, not a read.
async fn when_no_job(ctx: &Ctx, id: &str, seen: Server) -> Result<Server, AppError> {
    // The last job seen, for the 409 (a Mutex: the future must be Send).
    let job = std::sync::Mutex::new(String::new());
    let job = &job;
    let mut seen = Some(seen);
    let server = busy::until(ctx, || {
        let seen = seen.take();
        async move {
            let read = match seen {
                Some(server) => Ok(server),
                None => ctx.client().get_server(&ctx.caller, id).await,
            };
            match read {
                Ok(s) => match job_under_way(ctx, &s) {
                    Some(under_way) => {
                        if let Ok(mut job) = job.lock() {
                            *job = under_way;
                        }
                        None
                    }
                    None => Some(Ok(s)),
                },
                Err(e) if e.is_not_found() => Some(Err(no_compute(id))),
                Err(e) => Some(Err(AppError::synnefo(format!("server {id}"), e))),
            }
        }
    })
    .await;
    server.unwrap_or_else(|| {
        let job = job.lock().map(|j| j.clone()).unwrap_or_default();
        Err(AppError::Busy {
            message: format!(
                "delete compute {id}: {job} still runs (deleting the server now would \
                 collide with it in Synnefo); delete it again in a few seconds"
            ),
            retry_after: std::time::Duration::from_secs(5),
        })
    })
}

/// Drops the list of storage still to attach to `server` (linked at its
/// create): the links go with the compute, the storage stays, and no
/// attach starts after this (not here, nor on another replica).
async fn forget_pending_links(ctx: &Ctx, server: &Server) {
    if let Err(e) = ctx
        .client()
        .delete_server_metadata(&ctx.caller, &server.id, attach::PENDING_KEY)
        .await
        && !e.is_not_found()
    {
        tracing::warn!(server = %server.id, error = %e,
            "could not drop the pending storage links of a compute being deleted");
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
