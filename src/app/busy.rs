//! Writes to a compute that Synnefo says is busy, sent again once it is
//! not.
//!
//! Cyclades runs one task per server at a time and refuses what comes
//! meanwhile (`logic/commands.py` `validate_server_action`): 409
//! `buildInProgress` while the server is being built ("Server '42' is
//! being built.", and `logic/servers.py` `destroy`: "Server is being
//! build"), and 400 "Cannot perform 'CONNECT' action while there is a
//! pending 'CONNECT'." for anything else under way. Neither is the
//! client's mistake: clients delete or link what they have just made
//! (pOCCI, IM's launches). So such a write is sent again, with growing
//! pauses, for up to `busy_wait`; after it the answer is a 409 with
//! `Retry-After` that names the state.

use std::future::Future;
use std::time::Duration;

use crate::synnefo::{FaultKind, SynnefoError};

use super::collection::Ctx;
use super::error::AppError;

/// Whether Synnefo refused because the server is busy with another task.
pub fn is_busy(e: &SynnefoError) -> bool {
    match e {
        SynnefoError::Fault { kind, message, .. } => {
            *kind == FaultKind::BuildInProgress || message.contains("while there is a pending")
        }
        _ => false,
    }
}

/// Runs `op` until it succeeds, fails for another reason than a busy
/// server, or `busy_wait` is up; returns its last result.
pub async fn when_idle<T, F, Fut>(ctx: &Ctx, mut op: F) -> Result<T, SynnefoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SynnefoError>>,
{
    let budget = ctx.state.config.busy_wait;
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        match op().await {
            Err(e) if is_busy(&e) && started.elapsed() + pause <= budget => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

/// Polls `done` with growing pauses, within `busy_wait`, until it says
/// that a change Synnefo accepted has happened (Cyclades carries most
/// changes out in a Ganeti job: a port goes, a volume detaches, seconds
/// later). Whether it happened in time.
pub async fn settled<F, Fut>(ctx: &Ctx, mut done: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    until(ctx, || {
        let done = done();
        async move { done.await.then_some(()) }
    })
    .await
    .is_some()
}

/// Polls `ready` the way [`settled`] does, until it answers something;
/// that answer, or `None` when `busy_wait` is up first.
pub async fn until<T, F, Fut>(ctx: &Ctx, mut ready: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let budget = ctx.state.config.busy_wait;
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(200);
    loop {
        if let Some(answer) = ready().await {
            return Some(answer);
        }
        if started.elapsed() + pause > budget {
            return None;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// The answer for a write refused as busy after the wait: 409 with
/// `Retry-After`, naming what was refused and Synnefo's reason.
pub fn busy_error(what: &str, e: &SynnefoError) -> AppError {
    AppError::Busy {
        message: format!(
            "{what}: the compute is busy (Synnefo: {}); try again in a few seconds",
            e.user_message()
        ),
        retry_after: Duration::from_secs(5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synnefo::Service;
    use http::StatusCode;

    fn fault(status: u16, kind: FaultKind, message: &str) -> SynnefoError {
        SynnefoError::Fault {
            service: Service::Compute,
            status: StatusCode::from_u16(status).unwrap(),
            kind,
            message: message.into(),
            details: String::new(),
        }
    }

    #[test]
    fn building_and_pending_tasks_are_busy_and_nothing_else_is() {
        assert!(is_busy(&fault(
            409,
            FaultKind::BuildInProgress,
            "Server is being build"
        )));
        assert!(is_busy(&fault(
            400,
            FaultKind::BadRequest,
            "Cannot perform 'CONNECT' action while there is a pending 'CONNECT'."
        )));
        assert!(!is_busy(&fault(
            400,
            FaultKind::BadRequest,
            "Server has been deleted."
        )));
        assert!(!is_busy(&fault(
            409,
            FaultKind::Conflict,
            "IP address is already in use"
        )));
        assert!(!is_busy(&SynnefoError::Timeout {
            service: Service::Compute
        }));
    }
}
