//! A compute's disks for its show: the index each volume its server
//! names is attached at (the storage links' `occi.storagelink.deviceid`)
//! and the volume's status (an attach or detach job under way: the
//! links' state), which only the volume's own details carry
//! (`GET /volumes/{id}`: `status`, `attachments[].device_index`; the
//! server names its volumes by id only).
//!
//! Reading them on every show doubled its Synnefo round trips (and the
//! caller's whole `GET /volumes/detail`, read before that, grew with every
//! volume the user has). [`DiskIndexes`] keeps, per user and server, the
//! attachments a show read, under the server's `updated` stamp of that show,
//! and the next show uses them only if its own server answer carries the
//! same stamp and names the same volumes. Cyclades changes a volume's
//! index only with the server: attaching, detaching and deleting an
//! attached volume run as a server command (`logic/server_attachments.py`,
//! `commands.ServerCommand`, which saves the server), and the Ganeti job
//! that may renumber disks, and sets the volume's status when it ends,
//! saves it again (`logic/backend.py` `process_op_status`); the server's
//! `updated` is `auto_now` and shown with microseconds. So an unchanged
//! stamp means unchanged indexes and statuses, and a show of a server
//! nobody touched makes one call.
//!
//! The disks are read only after the server's answer: indexes read before
//! it could predate its stamp and would then be kept under a stamp they
//! do not belong to.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use snf_occi_types::cache::TimedCache as Cache;

use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::app::storagelink::Attachment;
use crate::synnefo::Server;

/// Servers whose disk indexes are kept at most (a few hundred bytes each).
const CAPACITY: u64 = 10_000;
/// How long an unused entry is kept.
const IDLE: Duration = Duration::from_secs(600);

/// The attachments (indexes and statuses) of a server's disks, as one
/// show read them.
#[derive(Debug, PartialEq, Eq)]
pub struct Disks {
    /// The server's `updated` when they were read.
    updated: String,
    /// The volumes it named, in its order, each with its attachment
    /// (`None`: the volume read as gone).
    attachments: Vec<(String, Option<Attachment>)>,
    /// Whether they are kept for the next show (see [`Disks::lasting`]).
    lasting: bool,
}

impl Disks {
    /// Volume `id`'s attachment: its index and any job on it (a
    /// default one, no index, for a volume read as gone).
    pub fn attachment_of(&self, id: &str) -> Attachment {
        self.attachments
            .iter()
            .find(|(v, _)| v == id)
            .and_then(|(_, a)| *a)
            .unwrap_or_default()
    }

    /// Whether they hold for every show of the same server answer: kept
    /// under its stamp, not read for a server without one or while one
    /// of its volumes read as gone (which a next show reads again).
    pub fn lasting(&self) -> bool {
        self.lasting
    }

    /// Whether these are the disks of `server` as it is now: the same
    /// stamp and the same volumes.
    fn fits(&self, server: &Server) -> bool {
        server.updated.as_deref() == Some(self.updated.as_str())
            && self
                .attachments
                .iter()
                .map(|(v, _)| v)
                .eq(server.volumes.iter())
    }
}

/// The disk indexes of the servers shown lately, keyed by the caller's
/// UUID and the server id: one user's shows never decide what another's
/// show says, and an entry is only ever filled from reads made with the
/// caller's own token.
#[derive(Clone, Debug)]
pub struct DiskIndexes(Cache<String, Arc<Disks>>);

impl Default for DiskIndexes {
    fn default() -> Self {
        DiskIndexes(Cache::builder(CAPACITY).time_to_idle(IDLE).build())
    }
}

impl DiskIndexes {
    /// The disks of `server` (just read): kept ones when its stamp and
    /// volumes are unchanged, else every volume read now, all at once. A
    /// volume read as gone (404) has no index; any other failure fails
    /// the show. Reads that all succeeded are kept for the next show.
    pub async fn of(&self, ctx: &Ctx, server: &Server) -> Result<Arc<Disks>, AppError> {
        let key = key(ctx, &server.id);
        if let Some(kept) = self.0.get(key.as_str())
            && kept.fits(server)
        {
            return Ok(kept);
        }
        let reads = join_all(server.volumes.iter().map(|id| async move {
            match ctx.client().get_volume(&ctx.caller, id).await {
                Ok(v) => Ok((Some(Attachment::of(&v, &server.id)), id)),
                Err(e) if e.is_not_found() => Ok((None, id)),
                Err(e) => Err(AppError::synnefo("read volume", e)),
            }
        }))
        .await;
        let mut attachments = Vec::with_capacity(reads.len());
        let mut all_found = true;
        for read in reads {
            let (attachment, id) = read?;
            all_found &= attachment.is_some();
            attachments.push((id.clone(), attachment));
        }
        // A 404 for a volume the server names is a race with its delete,
        // which changes the server's stamp: nothing worth keeping. Without
        // a stamp nothing could tell the entry is still right.
        let lasting = all_found && server.updated.is_some();
        let disks = Arc::new(Disks {
            updated: server.updated.clone().unwrap_or_default(),
            attachments,
            lasting,
        });
        if lasting {
            self.0.insert(key, disks.clone());
        }
        Ok(disks)
    }
}

/// The entry's key: the caller's UUID and the server id (a UUID holds no
/// newline).
fn key(ctx: &Ctx, server: &str) -> String {
    format!("{}\n{server}", ctx.auth.user)
}
