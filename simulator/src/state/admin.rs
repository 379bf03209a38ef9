//! What the admin endpoint (`/_sim`) does to the world: servers in bulk
//! for benchmarks, a forced status, and counts of everything.

use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::World;
use super::servers::Status;
use crate::fault::Fault;

impl World {
    /// Creates `count` servers for a user at once (benchmarks), ACTIVE
    /// unless told otherwise; returns their ids.
    pub fn seed_servers(
        &mut self,
        uuid: &str,
        count: usize,
        flavor: Option<u64>,
        image: Option<&str>,
        status: Status,
    ) -> Result<Vec<u64>, Fault> {
        let user = self
            .users
            .get(uuid)
            .cloned()
            .ok_or_else(|| Fault::not_found(format!("User {uuid} not found")))?;
        let flavor = flavor
            .or_else(|| {
                self.flavors
                    .values()
                    .find(|f| f.seed.allow_create)
                    .map(|f| f.seed.id)
            })
            .ok_or_else(|| Fault::bad_request("No flavor"))?;
        let image = image
            .map(str::to_owned)
            .or_else(|| self.images.first().map(|i| i.id.clone()))
            .ok_or_else(|| Fault::bad_request("No image"))?;
        let mut ids = Vec::with_capacity(count);
        let now = Instant::now();
        for _ in 0..count {
            let body = json!({"server": {"name": format!("bench-{}", self.next_server), "flavorRef": flavor, "imageRef": image}});
            let created = self.create_server(&user, &body, now)?;
            let id = created
                .pointer("/server/id")
                .and_then(Value::as_u64)
                .unwrap_or_default();
            if let Some(s) = self.servers.get_mut(&id) {
                s.status = status;
                s.pending = None;
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// Forces a server into a status (e.g. ERROR), ending any transition.
    pub fn force_status(&mut self, id: u64, status: Status) -> Result<(), Fault> {
        let s = self
            .servers
            .get_mut(&id)
            .ok_or_else(|| Fault::not_found(format!("Server {id} not found")))?;
        s.status = status;
        s.pending = None;
        s.updated = SystemTime::now();
        Ok(())
    }

    /// Counts of everything, for `/_sim/state`.
    pub fn summary(&self) -> Value {
        let live = self
            .servers
            .values()
            .filter(|s| s.status != Status::Deleted)
            .count();
        let volumes = self.volumes.values().filter(|v| !v.deleted).count();
        let networks = self.networks.values().filter(|n| !n.deleted).count();
        json!({
            "users": self.users.len(), "servers": live, "servers_deleted": self.servers.len() - live,
            "volumes": volumes, "volumes_deleted": self.volumes.len() - volumes,
            "snapshots": self.snapshots.len(), "networks": networks,
            "networks_deleted": self.networks.len() - networks,
            "subnets": self.subnets.values().filter(|s| !s.deleted).count(),
            "ports": self.ports.len(), "floating_ips": self.floating_ips.len(),
            "personality_files": self.servers.values().map(|s| s.personality_files).sum::<usize>(),
        })
    }
}
