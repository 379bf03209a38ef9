//! The caller's servers for `GET /compute/` locations, kept between
//! listings and brought up to date with Cyclades' `changes-since`.
//!
//! A listing must read every server's state (a server being deleted is
//! listed, `DESTROYING`, until its job ends, and only the details say so),
//! and `GET /servers/detail` is about 1.2 KB per server: for a user with
//! 10,000 servers, 12 MB for Cyclades to build and for the gateway to
//! decode (two thirds of the listing's CPU, benches/README.md) on every
//! listing. [`ServerListings`] keeps, per user, the live servers' ids and
//! states with Cyclades' clock at the read (its `Date`); the next listing
//! asks only for the servers changed since a little before that
//! (`?changes-since=`, deleted ones included, 304 when none did) and
//! merges them in.
//!
//! What a delta cannot say: a server that another user stops sharing
//! with the caller's project, or a project the caller leaves, changes
//! what the caller may see without changing any server the caller still
//! sees. So a kept listing is read in full again once it is older than
//! `app.occi.listing_refresh` (a minute by default; `0s` reads every
//! listing in full, as without this cache). A refused delta (Cyclades'
//! 400 for a `since` its clock finds in the future or too old) also falls
//! back to a full read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use snf_occi_types::cache::TimedCache as Cache;

use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::synnefo::{ServerState, ServerStates};

/// Servers kept at most, all users together (about 150 bytes each): the
/// least recently listed users go first.
const CAPACITY: u64 = 200_000;
/// How far before Cyclades' clock at the last read a delta starts: a
/// server's `updated` is stamped when it is saved, before its transaction
/// commits, so a change committed just after a read may carry a stamp
/// from before it; and the `Date` it is compared with is whole seconds.
const MARGIN: Duration = Duration::from_secs(10);

/// One user's servers as of the last read.
#[derive(Debug)]
struct Listing {
    /// The live servers (not deleted nor being deleted) by numeric id,
    /// Cyclades' order (`order_by('id')`); ids that are not numbers sort
    /// after them, by text.
    servers: BTreeMap<(u64, String), ServerState>,
    /// Cyclades' clock at the read.
    as_of: SystemTime,
}

impl Listing {
    fn full(states: Vec<ServerState>, as_of: SystemTime) -> Listing {
        let mut listing = Listing {
            servers: BTreeMap::new(),
            as_of,
        };
        listing.merge(states);
        listing
    }

    /// Applies a delta read at `as_of`: a changed server replaces what
    /// was kept, and one now deleted or being deleted leaves.
    /// A delta older than what is kept (two listings at once, the later
    /// read merged first) is left out: it could bring back a state the
    /// kept one has moved past.
    fn apply(&mut self, changes: Vec<ServerState>, as_of: SystemTime) {
        if as_of >= self.as_of {
            self.merge(changes);
            self.as_of = as_of;
        }
    }

    fn ids(&self) -> Vec<String> {
        self.servers.values().map(|s| s.id.clone()).collect()
    }

    fn merge(&mut self, states: Vec<ServerState>) {
        for state in states {
            let key = (state.id.parse().unwrap_or(u64::MAX), state.id.clone());
            if state.is_gone() {
                self.servers.remove(&key);
            } else {
                self.servers.insert(key, state);
            }
        }
    }
}

/// The kept listings, keyed by the caller's UUID: filled only from reads
/// made with the caller's own token, and never shown to anyone else. An
/// entry is inserted by a full read only (deltas change it in place), so
/// the cache's time to live is the time since the last full read.
#[derive(Clone, Debug)]
pub struct ServerListings {
    kept: Cache<String, Arc<Mutex<Listing>>>,
    refresh: Duration,
}

impl ServerListings {
    /// Listings read in full again once `refresh` old (`0s`: never kept).
    pub fn new(refresh: Duration) -> Self {
        let kept = Cache::builder(CAPACITY)
            .weigher(|l: &Arc<Mutex<Listing>>| {
                let servers = l.lock().map_or(0, |l| l.servers.len());
                u32::try_from(servers).unwrap_or(u32::MAX).saturating_add(1)
            })
            .time_to_live(refresh.max(Duration::from_millis(1)))
            .build();
        ServerListings { kept, refresh }
    }

    /// The ids of the caller's live servers, in Cyclades' order.
    pub async fn server_ids(&self, ctx: &Ctx) -> Result<Vec<String>, AppError> {
        let key = &ctx.auth.user;
        if let Some(kept) = self.kept.get(&**key) {
            let since = {
                let as_of = lock(&kept).as_of;
                as_of.checked_sub(MARGIN).unwrap_or(as_of)
            };
            match ctx.client().list_server_changes(&ctx.caller, since).await {
                // Nothing changed: what was kept is current.
                Ok(None) => return Ok(lock(&kept).ids()),
                Ok(Some(ServerStates {
                    servers,
                    as_of: Some(as_of),
                })) => {
                    let mut listing = lock(&kept);
                    listing.apply(servers, as_of);
                    return Ok(listing.ids());
                }
                // Without Cyclades' clock no later delta can start from
                // this one, and a refused `since` asks for a full read.
                Ok(Some(_)) => {}
                Err(e) if e.status() == Some(http::StatusCode::BAD_REQUEST) => {}
                Err(e) => return Err(AppError::synnefo("list servers", e)),
            }
        }
        let ServerStates { servers, as_of } = ctx
            .client()
            .list_server_states(&ctx.caller)
            .await
            .map_err(|e| AppError::synnefo("list servers", e))?;
        let listing = Listing::full(servers, as_of.unwrap_or(SystemTime::UNIX_EPOCH));
        let ids = listing.ids();
        if as_of.is_some() && !self.refresh.is_zero() {
            self.kept
                .insert(key.to_string(), Arc::new(Mutex::new(listing)));
        }
        Ok(ids)
    }
}

/// A kept listing, locked for a merge or a copy of its ids (no await
/// while held); one whose holder panicked is still a valid listing.
fn lock(l: &Mutex<Listing>) -> std::sync::MutexGuard<'_, Listing> {
    l.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: &str, status: &str, task: Option<&str>) -> ServerState {
        ServerState {
            id: id.to_owned(),
            status: status.to_owned(),
            task_state: task.map(str::to_owned),
        }
    }

    fn ids(l: &Listing) -> Vec<&str> {
        l.servers.values().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_delta_adds_replaces_and_drops_servers_in_cyclades_order() {
        let t = SystemTime::UNIX_EPOCH;
        let full = Listing::full(
            vec![
                state("10", "ACTIVE", None),
                state("9", "ACTIVE", None),
                state("100", "BUILD", None),
                state("11", "ACTIVE", Some("DESTROYING")),
            ],
            t,
        );
        // Numeric order, not text order; a server being deleted is out.
        assert_eq!(ids(&full), ["9", "10", "100"]);
        let mut next = Listing::full(
            vec![
                state("10", "ACTIVE", None),
                state("9", "ACTIVE", None),
                state("100", "BUILD", None),
            ],
            t,
        );
        next.apply(
            vec![
                state("9", "DELETED", None),
                state("100", "ACTIVE", None),
                state("12", "BUILD", None),
                state("10", "ACTIVE", Some("DESTROYING")),
            ],
            t + Duration::from_secs(5),
        );
        assert_eq!(ids(&next), ["12", "100"]);
        assert_eq!(next.servers.values().last().unwrap().status, "ACTIVE");
        assert_eq!(next.as_of, t + Duration::from_secs(5));
        // A delta read before the last one changes nothing.
        next.apply(vec![state("100", "ACTIVE", Some("DESTROYING"))], t);
        assert_eq!(ids(&next), ["12", "100"]);
        assert_eq!(next.as_of, t + Duration::from_secs(5));
    }
}
