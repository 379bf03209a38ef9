//! Storage linked inline with a compute's create, attached once the
//! compute is built.
//!
//! Cyclades 0.20 cannot take existing volumes in a server create: its
//! `block_device_mapping_v2` entries with `source_type: volume` end in
//! a 500 (`logic/servers.py` `_db_create_server` reads `origin_size`,
//! which only a volume made in the same request has). And it refuses to
//! attach a volume to a server while the server is being built
//! (`logic/commands.py` `validate_server_action`: 409 buildInProgress).
//! So a create with inline storage links:
//!
//! 1. checks every linked storage first (the caller's, free, of the
//!    flavor's volume type: a 404, 409 or 400 creates nothing);
//! 2. creates the server with the volume ids in its metadata under
//!    [`PENDING_KEY`], which makes the links visible at once, as
//!    `inactive` storage links, to every gateway replica;
//! 3. answers 201, and attaches the volumes in the background as soon
//!    as the server is built, then removes the metadata key.
//!
//! The pending list lives in Synnefo itself, not in this process: when
//! the background attach did not run (the gateway restarted, another
//! replica answered), the owner's next `GET` of the compute finishes it.
//! An attach that Synnefo refuses by then (the storage was deleted or
//! linked elsewhere meanwhile) is dropped from the list and logged.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::synnefo::{Server, ServerStatus};

use super::collection::Ctx;

/// The server metadata key holding the volume ids still to attach,
/// comma-separated.
pub const PENDING_KEY: &str = "snf-occi-attach";

/// The volume ids of `server` still waiting for their attach.
pub fn pending(server: &Server) -> Vec<String> {
    server
        .metadata
        .get(PENDING_KEY)
        .map(|ids| {
            ids.split(',')
                .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .filter(|id| !server.volumes.iter().any(|v| v == id))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The metadata value naming `volumes` as pending.
pub fn pending_value(volumes: &[String]) -> String {
    volumes.join(",")
}

/// The servers whose attach runs in this process: a show does not start
/// a second one while the first waits for the build.
#[derive(Clone, Debug, Default)]
pub struct Attaching(Arc<Mutex<HashSet<String>>>);

impl Attaching {
    fn claim(&self, server: &str) -> bool {
        self.0
            .lock()
            .map(|mut set| set.insert(server.to_owned()))
            .unwrap_or(false)
    }

    /// Whether an attach of `server`'s pending volumes runs here.
    pub fn holds(&self, server: &str) -> bool {
        self.0.lock().is_ok_and(|set| set.contains(server))
    }

    fn release(&self, server: &str) {
        if let Ok(mut set) = self.0.lock() {
            set.remove(server);
        }
    }
}

/// Starts the attach of `server`'s pending volumes in the background
/// unless one already runs here.
pub fn spawn(ctx: &Ctx, server: &str) {
    let attaching = ctx.state.attaching.clone();
    if !attaching.claim(server) {
        return;
    }
    let (ctx, server) = (ctx.clone(), server.to_owned());
    tokio::spawn(async move {
        run(&ctx, &server).await;
        attaching.release(&server);
    });
}

/// Whether `server` has storage linked at its create still to attach.
pub fn has_pending(server: &Server) -> bool {
    server.metadata.contains_key(PENDING_KEY)
}

/// After a show: a built server that still has pending volumes (no
/// attach ran for it, or it stopped) gets one.
pub fn resume(ctx: &Ctx, server: &Server) {
    let built = matches!(server.status, ServerStatus::Active | ServerStatus::Stopped);
    if built && has_pending(server) {
        spawn(ctx, &server.id);
    }
}

/// Waits for the build (polling with growing pauses, up to
/// `inline_attach_timeout`), attaches what is pending and clears the list.
async fn run(ctx: &Ctx, id: &str) {
    let deadline = tokio::time::Instant::now() + ctx.state.config.inline_attach_timeout;
    let mut pause = Duration::from_millis(250);
    let server = loop {
        match ctx.client().get_server(&ctx.caller, id).await {
            Ok(s) if super::compute::mapping::is_gone(&s) => return,
            Ok(s) if matches!(s.status, ServerStatus::Active | ServerStatus::Stopped) => break s,
            Ok(s)
                if matches!(
                    s.status,
                    ServerStatus::Build
                        | ServerStatus::Reboot
                        | ServerStatus::Unknown
                        | ServerStatus::Other(_)
                ) => {}
            // Failed or gone: nothing to attach to.
            Ok(s) => {
                tracing::warn!(server = %id, status = %s.status,
                    "the compute's inline storage links were not attached: it did not build");
                return;
            }
            Err(e) if e.is_not_found() => return,
            Err(e) => {
                tracing::debug!(server = %id, error = %e, "waiting for a build to attach storage")
            }
        }
        if tokio::time::Instant::now() + pause > deadline {
            tracing::warn!(server = %id,
                "the compute's inline storage links are still pending: the build did not end in time");
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    };
    // One at a time, each once the server is idle again: Cyclades runs
    // one task per server ("while there is a pending 'ATTACH_VOLUME'").
    for volume in pending(&server) {
        let mut pause = Duration::from_millis(250);
        loop {
            match ctx.client().attach_volume(&ctx.caller, id, &volume).await {
                Ok(_) => break,
                Err(e) if super::busy::is_busy(&e) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::warn!(server = %id, volume = %volume, error = %e,
                        "an inline storage link could not be attached");
                    break;
                }
            }
        }
    }
    if let Err(e) = ctx
        .client()
        .delete_server_metadata(&ctx.caller, id, PENDING_KEY)
        .await
        && !e.is_not_found()
    {
        tracing::warn!(server = %id, error = %e, "could not clear the pending storage links");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(pending: &str, attached: &[&str]) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": 7, "name": "s", "status": "BUILD",
            "metadata": {PENDING_KEY: pending},
            "volumes": attached,
        }))
        .expect("server")
    }

    #[test]
    fn pending_volumes_are_the_listed_ones_not_yet_attached() {
        assert_eq!(pending(&server("4,5", &[])), ["4", "5"]);
        assert_eq!(pending(&server("4,5", &["4"])), ["5"]);
        assert!(pending(&server("", &[])).is_empty());
        // Anything but ids is ignored (the key is ours, but metadata is
        // the user's to change).
        assert_eq!(pending(&server("4,../x,,6", &[])), ["4", "6"]);
        assert_eq!(pending_value(&["4".into(), "5".into()]), "4,5");
    }

    #[test]
    fn one_attach_per_server_at_a_time() {
        let a = Attaching::default();
        assert!(a.claim("7"));
        assert!(!a.claim("7"));
        assert!(a.claim("8"));
        a.release("7");
        assert!(a.claim("7"));
    }
}
