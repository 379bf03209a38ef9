//! Time. A transition (a build, an action, a deletion: Ganeti's jobs in
//! Synnefo) completes when its time has come, on the next call that
//! looks, or at once through `/_sim/jobs/complete`.

use std::time::Instant;

use super::World;
use super::servers::{Server, Settled, Status};

impl World {
    /// Completes the due transitions of the servers `which` selects, and
    /// releases what the deleted ones held.
    pub(super) fn settle_where(&mut self, now: Instant, which: impl Fn(&Server) -> bool) {
        let done: Vec<(u64, Settled)> = self
            .servers
            .values_mut()
            .filter(|s| which(s))
            .filter_map(|s| s.settle(now).map(|d| (s.id, d)))
            .collect();
        for (id, settled) in done {
            match settled {
                Settled::Deleted => self.finish_delete(id),
                Settled::Detached(volume) => self.finish_detach(id, volume),
            }
        }
    }

    /// Completes the server transitions whose time has come, whoever
    /// asks: a real Cyclades finishes a server's deletion (releasing its
    /// floating IP) when the Ganeti job ends, not when someone reads the
    /// server. Cheap unless a transition is due.
    pub fn tick(&mut self, now: Instant) {
        if self.next_due.is_none_or(|due| now < due) {
            return;
        }
        self.settle_where(now, |_| true);
        self.next_due = self
            .servers
            .values()
            .filter(|s| s.status != Status::Deleted)
            .filter_map(|s| s.pending.as_ref().map(|p| p.until))
            .min();
    }

    /// Notes that a transition comes due at `until`.
    pub(super) fn schedule(&mut self, until: Instant) {
        self.next_due = Some(self.next_due.map_or(until, |due| due.min(until)));
    }

    /// Completes every transition in progress at once (builds, actions,
    /// snapshots), as `snf.sh complete-jobs` completes the real
    /// harness's queued Ganeti jobs; answers how many there were.
    pub fn complete_jobs(&mut self, now: Instant) -> usize {
        let mut done = 0;
        for s in self.servers.values_mut() {
            if let Some(p) = &mut s.pending
                && s.status != Status::Deleted
            {
                p.until = now;
                done += 1;
            }
        }
        for p in self.ports.values_mut() {
            if p.connecting_until.take().is_some_and(|t| t > now) {
                done += 1;
            }
        }
        self.settle_where(now, |_| true);
        for s in self.snapshots.values_mut() {
            if s.ready_at > now {
                s.ready_at = now;
                done += 1;
            }
        }
        done
    }
}
