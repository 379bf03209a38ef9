//! Astakos' side of the world: users and their projects, the service
//! catalog and the token answer, and the quota commissions a create must
//! pass (Astakos counts memory and disk in bytes).

use serde_json::{Value, json};

use super::World;
use super::flavors::Flavor;
use super::servers::{Server, Status};
use crate::fault::Fault;
use snf_occi_types::timestamp::format_rfc3339;

/// A user of the simulated Astakos.
#[derive(Clone, Debug)]
pub struct UserRec {
    /// UUID.
    pub uuid: String,
    /// Display name.
    pub name: String,
    /// Token.
    pub token: String,
    /// Projects, the system project (the UUID) first.
    pub projects: Vec<String>,
}

impl UserRec {
    pub(super) fn member_of(&self, project: &str) -> bool {
        self.projects.iter().any(|p| p == project)
    }
}

impl World {
    /// The service catalog with absolute endpoint URLs, published as
    /// Astakos does (`snf_service_export`): compute, identity and account
    /// URLs end with their version (`SNF:exposeVersion` `"True"`), while
    /// network, volume and image are published bare (`http://host/network`)
    /// with `"False"`, and clients append `versionId` themselves.
    pub fn catalog(&self) -> Value {
        let b = &self.base;
        let entry = |t: &str, name: &str, version: &str, url: String, exposed: bool| {
            let expose = if exposed { "True" } else { "False" };
            json!({"endpoints_links": [], "endpoints": [{"SNF:uiURL": format!("{b}/ui"), "region": "default", "versionId": version, "SNF:exposeVersion": expose, "publicURL": url}], "type": t, "name": name})
        };
        json!([
            entry(
                "identity",
                "astakos_identity",
                "v2.0",
                format!("{b}/identity/v2.0"),
                true
            ),
            entry(
                "account",
                "astakos_account",
                "v1.0",
                format!("{b}/account/v1.0"),
                true
            ),
            entry(
                "compute",
                "cyclades_compute",
                "v2.0",
                format!("{b}/compute/v2.0"),
                true
            ),
            entry(
                "network",
                "cyclades_network",
                "v2.0",
                format!("{b}/network"),
                false
            ),
            entry(
                "volume",
                "cyclades_volume",
                "v2.0",
                format!("{b}/volume"),
                false
            ),
            entry(
                "image",
                "cyclades_plankton",
                "v1.0",
                format!("{b}/image"),
                false
            ),
        ])
    }

    /// The `access` answer of `POST /tokens` for a user.
    pub fn access(&self, user: &UserRec, tenant: Option<(&str, &str)>) -> Value {
        let expires = format_rfc3339(self.token_issued + self.token_lifetime);
        let (tenant_id, tenant_name) = tenant.unwrap_or((&user.uuid, &user.name));
        json!({"access": {
            "token": {"id": user.token, "expires": expires, "tenant": {"id": tenant_id, "name": tenant_name}},
            "user": {"id": user.uuid, "name": user.name, "roles": [], "roles_links": [], "projects": user.projects},
            "serviceCatalog": self.catalog(),
        }})
    }

    pub(super) fn project_for(
        &self,
        user: &UserRec,
        requested: Option<&Value>,
    ) -> Result<String, Fault> {
        match requested {
            None | Some(Value::Null) => Ok(user.uuid.clone()),
            Some(Value::String(p)) if user.member_of(p) => Ok(p.clone()),
            Some(Value::String(p)) => Err(Fault::forbidden(format!(
                "User is not a member of project {p}"
            ))),
            Some(_) => Err(Fault::bad_request("Malformed project")),
        }
    }

    /// The `cyclades.vm`, `cyclades.total_cpu`, `cyclades.total_ram` and
    /// `cyclades.disk` commission of a new server (Astakos counts memory
    /// and disk in bytes; astakosclient names only some resources, the
    /// others by their key).
    pub(super) fn check_server_quota(
        &self,
        user: &str,
        flavor: &Flavor,
        disk: u64,
    ) -> Result<(), Fault> {
        let live: Vec<&Server> = self
            .servers
            .values()
            .filter(|s| s.owner == user && s.status != Status::Deleted)
            .collect();
        if live.len() >= self.quotas.servers {
            return Err(Fault::quota(
                "Virtual Machine",
                (self.quotas.servers - live.len()) as u64,
                1,
            ));
        }
        let (cpus, ram) = live
            .iter()
            .filter_map(|s| self.flavors.get(&s.flavor))
            .fold((0, 0), |(c, r), f| (c + f.seed.vcpus, r + f.seed.ram));
        if cpus + flavor.seed.vcpus > self.quotas.cpus {
            return Err(Fault::quota(
                "cyclades.total_cpu",
                self.quotas.cpus.saturating_sub(cpus),
                flavor.seed.vcpus,
            ));
        }
        if ram + flavor.seed.ram > self.quotas.ram_mib {
            return Err(Fault::quota(
                "cyclades.total_ram",
                self.quotas.ram_mib.saturating_sub(ram) << 20,
                flavor.seed.ram << 20,
            ));
        }
        self.check_disk(user, disk)
    }

    /// Disk (GiB) held by `user`'s volumes that are not deleted.
    fn disk_used(&self, user: &str) -> u64 {
        self.volumes
            .values()
            .filter(|v| v.owner == user && !v.deleted)
            .map(|v| v.size)
            .sum()
    }

    /// The `cyclades.disk` commission of `extra` GiB more (bytes in the
    /// refusal, as Astakos counts them).
    pub(super) fn check_disk(&self, user: &str, extra: u64) -> Result<(), Fault> {
        let used = self.disk_used(user);
        if used + extra > self.quotas.disk_gib {
            return Err(Fault::quota(
                "Disk",
                self.quotas.disk_gib.saturating_sub(used) << 30,
                extra << 30,
            ));
        }
        Ok(())
    }
}
