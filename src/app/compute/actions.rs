//! The compute actions, checked against the compute's state.

use crate::occi::Attributes;
use crate::occi::infrastructure::{
    COMPUTE_RESTART, COMPUTE_SAVE, COMPUTE_START, COMPUTE_STOP, COMPUTE_SUSPEND, attr,
};
use crate::synnefo::{RebootType, ServerAction, ServerStatus};

use super::mapping::{get_server, state_of};
use super::save::save;
use crate::app::Suspend;
use crate::app::busy;
use crate::app::collection::{ActionOutcome, Ctx};
use crate::app::error::AppError;

/// `POST /compute/{id}?action=...`: start, stop, restart (and suspend
/// where the site made it a shutdown) as Synnefo server actions, `save`
/// as a snapshot ([`super::save`]).
pub(super) async fn action(
    ctx: &Ctx,
    id: &str,
    action: &str,
    attrs: &Attributes,
) -> Result<ActionOutcome, AppError> {
    if action == COMPUTE_SUSPEND && ctx.state.config.suspend == Suspend::Refuse {
        return Err(AppError::NotImplemented(
            "suspend is not supported: Synnefo servers cannot be suspended \
             (a site may make it a shutdown: app.occi.suspend = \"shutdown\")"
                .to_owned(),
        ));
    }
    if action == COMPUTE_SAVE {
        return save(ctx, id, attrs).await;
    }
    let server = get_server(ctx, id).await?;
    let (synnefo_action, needs) = match action {
        COMPUTE_START => (ServerAction::Start, ServerStatus::Stopped),
        // `suspend` gets here only where the site made it a shutdown.
        COMPUTE_STOP | COMPUTE_SUSPEND => (ServerAction::Shutdown, ServerStatus::Active),
        COMPUTE_RESTART => {
            let reboot = match attrs.get_str(attr::METHOD) {
                None | Some("graceful") | Some("warm") => RebootType::Soft,
                Some("cold") => RebootType::Hard,
                Some(other) => {
                    return Err(AppError::BadRequest(format!(
                        "restart method {other:?} is not one of graceful, warm, cold"
                    )));
                }
            };
            (ServerAction::Reboot(reboot), ServerStatus::Active)
        }
        other => {
            return Err(AppError::BadRequest(format!(
                "{other} is not a compute action"
            )));
        }
    };
    if server.status != needs {
        let state = state_of(&server.status).map(|s| s.0).unwrap_or("deleted");
        return Err(AppError::Conflict(format!(
            "{action} does not apply: compute {id} is {state} (Synnefo status {})",
            server.status
        )));
    }
    busy::when_idle(ctx, || {
        ctx.client().server_action(&ctx.caller, id, &synnefo_action)
    })
    .await
    .map_err(|e| match e {
        e if busy::is_busy(&e) => busy::busy_error(&format!("{action} compute {id}"), &e),
        e => AppError::synnefo(format!("{action} server {id}"), e),
    })?;
    Ok(ActionOutcome::Done)
}
