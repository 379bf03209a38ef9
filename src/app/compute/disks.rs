//! A compute's disks for its show: the volumes its server names, each
//! read on its own (`GET /volumes/{id}`) for the index it is attached at
//! (the storage links' `occi.storagelink.deviceid`).
//!
//! Not the caller's whole `GET /volumes/detail`: decoding it grew with
//! every volume the user has (a user with 100 volumes: 1.05 M of a show's
//! 1.37 M instructions, benches/README.md), where a server has one or a
//! few disks. The disk ids come with the server, so their reads would
//! wait for it: [`DiskGuesses`] remembers, per user and server, the ids
//! the last show found, and the next show reads those at the same time
//! as the server. Only which reads start early comes from there: every
//! value shown is read in the request, a disk the server no longer names
//! is dropped whatever its read said, and one it names that was not
//! guessed is read after the server, as without a guess.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use moka::future::Cache;

use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::synnefo::{Server, SynnefoError, Volume};

/// Servers whose disks are remembered at most (a few hundred bytes each).
const CAPACITY: u64 = 10_000;
/// How long an unused guess is kept.
const IDLE: Duration = Duration::from_secs(600);

/// One volume's read: the volume, `None` when Synnefo says it is gone
/// (404), or the failure.
type Read = (String, Result<Option<Volume>, SynnefoError>);

/// The disk ids each server had at its last show, keyed by the user's
/// UUID and the server id: a guess only ever starts reads with the
/// caller's own token, and one user's shows never decide another's.
#[derive(Clone, Debug)]
pub struct DiskGuesses(Cache<String, Arc<[String]>>);

impl Default for DiskGuesses {
    fn default() -> Self {
        DiskGuesses(
            Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(IDLE)
                .build(),
        )
    }
}

impl DiskGuesses {
    /// Reads the disks the last show of server `id` found for this
    /// caller (none without a guess); meant to run beside the server's
    /// read, so it never fails: failures are kept for [`Self::settle`].
    pub async fn read_guessed(&self, ctx: &Ctx, id: &str) -> Vec<Read> {
        match self.0.get(&key(ctx, id)).await {
            Some(ids) => read_all(ctx, &ids).await,
            None => Vec::new(),
        }
    }

    /// The disks of `server`: those read early that it still names, the
    /// others read now, all at once. A disk read as gone (404) is left
    /// out; any other failure of a disk the server names fails the show.
    /// Remembers the server's disks for its next show.
    pub async fn settle(
        &self,
        ctx: &Ctx,
        server: &Server,
        early: Vec<Read>,
    ) -> Result<Vec<Volume>, AppError> {
        // The guess held (the common case): nothing to remember anew.
        let unchanged = early.iter().map(|(id, _)| id).eq(server.volumes.iter());
        // A server has a few disks: linear searches, no hashing.
        let mut reads = early;
        let missing: Vec<String> = server
            .volumes
            .iter()
            .filter(|v| !reads.iter().any(|(id, _)| id == *v))
            .cloned()
            .collect();
        if !missing.is_empty() {
            reads.extend(read_all(ctx, &missing).await);
        }
        let mut disks = Vec::with_capacity(server.volumes.len());
        for id in &server.volumes {
            let Some(at) = reads.iter().position(|(read, _)| read == id) else {
                continue;
            };
            match reads.swap_remove(at).1 {
                Ok(Some(volume)) => disks.push(volume),
                Ok(None) => {}
                Err(e) => return Err(AppError::synnefo("read volume", e)),
            }
        }
        if !unchanged {
            self.0
                .insert(key(ctx, &server.id), server.volumes.clone().into())
                .await;
        }
        Ok(disks)
    }
}

/// The guess's key: the caller's UUID and the server id (a UUID holds no
/// newline).
fn key(ctx: &Ctx, server: &str) -> String {
    format!("{}\n{server}", ctx.auth.user)
}

/// Reads volumes `ids`, all at once.
async fn read_all(ctx: &Ctx, ids: &[String]) -> Vec<Read> {
    join_all(ids.iter().map(|id| async move {
        let read = match ctx.client().get_volume(&ctx.caller, id).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        };
        (id.clone(), read)
    }))
    .await
}
