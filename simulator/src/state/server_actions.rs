//! What happens to a server after its creation: deletion (and what its
//! completion releases), renaming, and the start, shutdown, reboot and
//! resize actions with Cyclades' checks in its order.

use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::World;
use super::body::{attribute, id_field, num_id};
use super::servers::{Pending, Status};
use crate::fault::Fault;

impl World {
    /// `DELETE /servers/{id}` (204): `logic/servers.py` `destroy`. The
    /// server keeps its state with the task `DESTROYING` until the
    /// deletion completes (the action delay, as the Ganeti job), then is
    /// `DELETED` (its task stays `DESTROYING`) and its ports and disks are
    /// released (`finish_delete`, below). Destroying is permitted while
    /// another action is pending, and again while it is in progress
    /// (`logic/commands.py` `validate_server_action`).
    pub fn delete_server(&mut self, user: &str, id: &str, now: Instant) -> Result<(), Fault> {
        let delay = self.action_delay;
        let server = self.server_mut(user, id, now)?;
        if server.status == Status::Deleted {
            // `logic/servers.py` `destroy` looks the server up with
            // `get_vm(non_deleted=True)`, which words it without the id.
            return Err(Fault::bad_request("Server has been deleted."));
        }
        // `logic/servers.py` `destroy`: refused while the create job runs.
        if server.status == Status::Build {
            return Err(Fault::build_in_progress("Server is being build"));
        }
        // Ganeti runs an instance's jobs in their order: a volume's
        // attach or detach queued before the removal ends first, as any
        // due transition does (an attached volume is then deleted with
        // the server, a detached one is spared).
        if let Some(job) = server.pending.as_mut().filter(|p| p.volume.is_some()) {
            job.until = now;
        }
        let sid = server.id;
        self.settle_where(now, |s| s.id == sid);
        let server = self
            .servers
            .get_mut(&sid)
            .ok_or_else(|| Fault::not_found("Server not found."))?;
        if server.destroying() {
            server.destroyed_twice = true;
        } else {
            server.pending = Some(Pending::action(now + delay, Status::Deleted, "DESTROYING"));
            server.updated = SystemTime::now();
        }
        self.schedule(now + delay);
        self.settle_where(now, |s| s.id == sid);
        Ok(())
    }

    /// What the completion of a server's deletion releases, as Cyclades'
    /// `logic/backend.py` `process_op_status` does for `OP_INSTANCE_REMOVE`:
    /// its ports (and their addresses; floating IPs stay the user's), and
    /// every volume still attached, which is deleted with it (whatever its
    /// `delete_on_termination`: Cyclades 0.20 marks them all deleted).
    pub(super) fn finish_delete(&mut self, id: u64) {
        let Some(server) = self.servers.get_mut(&id) else {
            return;
        };
        let ports = std::mem::take(&mut server.ports);
        let volumes = std::mem::take(&mut server.volumes);
        for p in ports {
            self.disconnect(p);
        }
        for v in volumes {
            if let Some(vol) = self.volumes.get_mut(&v) {
                vol.server = None;
                vol.index = 0;
                vol.deleted = true;
            }
        }
    }

    /// `PUT /servers/{id}` (rename).
    pub fn update_server(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<(), Fault> {
        let spec = attribute(body, "server", Value::is_object)?;
        let name = attribute(spec, "name", Value::is_string)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let server = self.live_server_mut(user, id, now)?;
        server.name = name;
        server.updated = SystemTime::now();
        Ok(())
    }

    /// `POST /servers/{id}/action`: `api/servers.py`
    /// `demux_server_action` (one known action, its arguments checked
    /// first), then `logic/commands.py` `ServerCommand`: the server looked
    /// up live (`get_vm` with `non_deleted`), then
    /// `validate_server_action`'s checks in its order.
    pub fn server_action(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<(), Fault> {
        let (action, args) = body
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .ok_or_else(|| Fault::bad_request("Malformed request"))?;
        let action = action.clone();
        let verb = match action.as_str() {
            "start" => "START",
            "shutdown" => "STOP",
            "reboot" => "REBOOT",
            "resize" => "RESIZE",
            _ => {
                return Err(Fault::bad_request(format!("Action {action} not supported")));
            }
        };
        if !args.is_null() && !args.is_object() {
            return Err(Fault::bad_request(format!(
                "Malformed request. Invalid '{action}' field"
            )));
        }
        let reboot_type = args.get("type").and_then(Value::as_str).unwrap_or("SOFT");
        if action == "reboot" && !matches!(reboot_type, "SOFT" | "HARD") {
            return Err(Fault::bad_request("Invalid 'type' attribute."));
        }
        let resize_to = if action == "resize" {
            let f = id_field(args, "flavorRef").ok_or_else(|| {
                Fault::bad_request("Malformed request. Missing attribute 'flavorRef'.")
            })?;
            let flavor = num_id(&f)
                .and_then(|n| self.flavors.get(&n))
                .ok_or_else(|| Fault::not_found("Flavor not found."))?;
            Some(flavor.seed.id)
        } else {
            None
        };
        let delay = self.action_delay;
        let server = self.live_server_mut(user, id, now)?;
        // Synnefo's validate_server_action, in its order.
        server.refuse_if_busy(verb)?;
        let state = match server.status {
            Status::Active | Status::Reboot => "STARTED",
            Status::Stopped => "STOPPED",
            Status::Error => "ERROR",
            Status::Build => "BUILD",
            Status::Deleted => "DESTROYED",
        };
        if state == "ERROR" {
            return Err(Fault::bad_request(format!(
                "Cannot perform '{verb}' action while server is in 'ERROR' state."
            )));
        }
        if state == "BUILD" {
            return Err(Fault::build_in_progress(format!(
                "Server '{id}' is being built."
            )));
        }
        let wrong = match verb {
            "START" | "RESIZE" => state != "STOPPED",
            "STOP" => state != "STARTED",
            _ => false,
        };
        if wrong {
            return Err(Fault::bad_request(format!(
                "Cannot perform '{verb}' action while server is in '{state}' state."
            )));
        }
        let until = now + delay;
        server.updated = SystemTime::now();
        match verb {
            "START" => server.pending = Some(Pending::action(until, Status::Active, "STARTING")),
            "STOP" => server.pending = Some(Pending::action(until, Status::Stopped, "STOPPING")),
            "REBOOT" => {
                // REBOOT only shows on a running server (`get_rsapi_state`):
                // a stopped one stays STOPPED until it is up.
                if server.status == Status::Active {
                    server.status = Status::Reboot;
                }
                server.pending = Some(Pending::action(until, Status::Active, "REBOOTING"));
            }
            _ => {
                if let Some(f) = resize_to {
                    server.flavor = f;
                }
                server.pending = Some(Pending::action(until, Status::Stopped, "RESIZING"));
            }
        }
        let sid = server.id;
        self.schedule(until);
        self.settle_where(now, |s| s.id == sid);
        Ok(())
    }
}
