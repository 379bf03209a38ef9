//! Servers: the record, its Synnefo status and the transition in
//! progress (shown as `SNF:task_state`), the lookups every server call
//! starts with, the views, and metadata.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::World;
use super::body::{num_id, parse_metadata};
use crate::fault::Fault;
use snf_occi_types::timestamp::{format_rfc3339, parse_rfc3339};

/// How far back a `changes-since` may reach (Cyclades' `POLL_LIMIT`
/// default, `synnefo/app_settings/default/api.py`).
const POLL_LIMIT: Duration = Duration::from_secs(3600);

/// A server status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// BUILD.
    Build,
    /// ACTIVE.
    Active,
    /// STOPPED.
    Stopped,
    /// REBOOT.
    Reboot,
    /// ERROR.
    Error,
    /// DELETED.
    Deleted,
}

impl Status {
    /// Synnefo's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Build => "BUILD",
            Status::Active => "ACTIVE",
            Status::Stopped => "STOPPED",
            Status::Reboot => "REBOOT",
            Status::Error => "ERROR",
            Status::Deleted => "DELETED",
        }
    }

    /// Parses Synnefo's spelling.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "BUILD" => Status::Build,
            "ACTIVE" => Status::Active,
            "STOPPED" => Status::Stopped,
            "REBOOT" => Status::Reboot,
            "ERROR" => Status::Error,
            "DELETED" => Status::Deleted,
            _ => return None,
        })
    }
}

/// The task of a volume's attach job (`logic/utils.py`
/// `TASK_STATE_FROM_ACTION`).
pub(super) const ATTACHING_VOLUME: &str = "ATTACHING_VOLUME";
/// The task of a volume's detach job.
pub(super) const DETACHING_VOLUME: &str = "DETACHING_VOLUME";

/// A transition in progress: shown as `SNF:task_state`, done at `until`.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub(super) until: Instant,
    pub(super) to: Status,
    pub(super) task: &'static str,
    /// The volume an `ATTACHING_VOLUME` or `DETACHING_VOLUME` task is
    /// about (its status is `ATTACHING` or `DETACHING` meanwhile).
    pub(super) volume: Option<u64>,
}

impl Pending {
    /// A server action's transition to `to`.
    pub(super) fn action(until: Instant, to: Status, task: &'static str) -> Self {
        Self {
            until,
            to,
            task,
            volume: None,
        }
    }
}

/// What a completed transition leaves for the world to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Settled {
    /// The server's deletion ended: release its ports and disks.
    Deleted,
    /// A volume's detach ended: it leaves the server.
    Detached(u64),
}

#[derive(Clone, Debug)]
pub(super) struct Server {
    pub(super) id: u64,
    pub(super) owner: String,
    pub(super) project: String,
    pub(super) name: String,
    pub(super) flavor: u64,
    pub(super) image: String,
    pub(super) status: Status,
    pub(super) pending: Option<Pending>,
    pub(super) metadata: BTreeMap<String, String>,
    pub(super) key_name: Option<String>,
    pub(super) created: SystemTime,
    pub(super) updated: SystemTime,
    pub(super) ports: Vec<u64>,
    pub(super) volumes: Vec<u64>,
    pub(super) personality_files: usize,
    /// Deleted again while its deletion ran: Cyclades then keeps the
    /// task `DESTROYING` for good (the first job's completion does not
    /// clear the task the second job now owns, and the second fails).
    pub(super) destroyed_twice: bool,
}

impl Server {
    /// Completes a transition whose time has come; says what the world
    /// must do then: release a deleted server's ports and disks
    /// ([`World::finish_delete`]) or let a detached volume go
    /// ([`World::finish_detach`]).
    #[must_use]
    pub(super) fn settle(&mut self, now: Instant) -> Option<Settled> {
        let (to, task, volume) = self
            .pending
            .as_ref()
            .filter(|p| now >= p.until)
            .map(|p| (p.to, p.task, p.volume))?;
        if self.status == Status::Deleted {
            return None;
        }
        self.status = to;
        if !(to == Status::Deleted && self.destroyed_twice) {
            self.pending = None;
        }
        // The dispatcher saves the server when the job ends.
        self.updated = SystemTime::now();
        match (to, task, volume) {
            (Status::Deleted, ..) => Some(Settled::Deleted),
            (_, DETACHING_VOLUME, Some(v)) => Some(Settled::Detached(v)),
            _ => None,
        }
    }

    /// The volume job under way on this server, if any: (task, volume).
    pub(super) fn volume_job(&self) -> Option<(&'static str, u64)> {
        let p = self.pending.as_ref()?;
        p.volume.map(|v| (p.task, v))
    }

    /// `SNF:task_state` (`logic/utils.py` `get_task_state`).
    pub(super) fn task(&self) -> &'static str {
        self.pending.as_ref().map(|p| p.task).unwrap_or("")
    }

    /// The pending action as Cyclades names it in its refusals
    /// (`VirtualMachine.task`: `BUILD`, `START`, `STOP`, `REBOOT`,
    /// `RESIZE`, `DESTROY`).
    fn pending_action(&self) -> Option<&'static str> {
        let p = self.pending.as_ref()?;
        Some(match p.task {
            "BUILDING" => "BUILD",
            "STARTING" => "START",
            "STOPPING" => "STOP",
            "REBOOTING" => "REBOOT",
            "RESIZING" => "RESIZE",
            "DESTROYING" => "DESTROY",
            ATTACHING_VOLUME => "ATTACH_VOLUME",
            DETACHING_VOLUME => "DETACH_VOLUME",
            other => other,
        })
    }

    /// A server command changed it: Cyclades' `commands.ServerCommand`
    /// saves the server (its `updated` is `auto_now`), so attaching,
    /// detaching or deleting a disk and connecting or disconnecting a port
    /// move its stamp, which clients (the gateway's disk indexes among
    /// them) rely on to know it changed.
    pub(super) fn touch(&mut self) {
        self.updated = SystemTime::now();
    }

    /// `logic/commands.py` `validate_server_action`'s first refusal: an
    /// action is pending (409 while the server is being built).
    pub(super) fn refuse_if_busy(&self, action: &str) -> Result<(), Fault> {
        match self.pending_action() {
            None => Ok(()),
            Some("BUILD") => Err(Fault::build_in_progress(format!(
                "Server '{}' is being built.",
                self.id
            ))),
            Some(pending) => Err(Fault::bad_request(format!(
                "Cannot perform '{action}' action while there is a pending '{pending}'."
            ))),
        }
    }

    /// Whether a deletion is in progress or done.
    pub(super) fn destroying(&self) -> bool {
        self.status == Status::Deleted
            || self
                .pending
                .as_ref()
                .is_some_and(|p| p.to == Status::Deleted)
    }
}

impl World {
    /// The caller's server `id`, brought up to `now` (`api/util.py`
    /// `get_vm`: "Server not found." for an unknown or foreign one).
    pub(super) fn server_mut(
        &mut self,
        user: &str,
        id: &str,
        now: Instant,
    ) -> Result<&mut Server, Fault> {
        let n = num_id(id)
            .filter(|n| self.servers.get(n).is_some_and(|s| s.owner == user))
            .ok_or_else(|| Fault::not_found("Server not found."))?;
        self.settle_where(now, |s| s.id == n);
        self.servers
            .get_mut(&n)
            .ok_or_else(|| Fault::not_found("Server not found."))
    }

    /// [`World::server_mut`] refusing a deleted server, as `get_vm` with
    /// `non_deleted=True` does before any action is looked at.
    pub(super) fn live_server_mut(
        &mut self,
        user: &str,
        id: &str,
        now: Instant,
    ) -> Result<&mut Server, Fault> {
        let server = self.server_mut(user, id, now)?;
        if server.status == Status::Deleted {
            return Err(Fault::bad_request("Server has been deleted."));
        }
        Ok(server)
    }

    /// A server in detail (`GET /servers/{id}`, `/servers/detail`).
    pub(super) fn server_json(&self, s: &Server) -> Value {
        let links = self.link(format!("/compute/v2.0/servers/{}", s.id));
        let mut addresses = serde_json::Map::new();
        let mut attachments = Vec::new();
        // `vm_to_dict` shows the ACTIVE NICs only: none while the server
        // or the port is being built.
        for port in s
            .ports
            .iter()
            .filter_map(|p| self.ports.get(p))
            .filter(|p| self.port_state(p) == "ACTIVE")
        {
            let kind = if port.floating_ip.is_some() {
                "floating"
            } else {
                "fixed"
            };
            let entry = addresses
                .entry(port.network.to_string())
                .or_insert_with(|| json!([]));
            let (mut v4, mut v6) = (String::new(), String::new());
            for (ip, _) in &port.ips {
                let version = if ip.contains(':') { 6 } else { 4 };
                if version == 4 {
                    v4 = ip.clone()
                } else {
                    v6 = ip.clone()
                }
                if let Some(list) = entry.as_array_mut() {
                    list.push(json!({"version": version, "addr": ip, "OS-EXT-IPS:type": kind}));
                }
            }
            let mut nic = json!({
                "id": port.id, "network_id": port.network.to_string(), "mac_address": port.mac,
                "ipv4": v4, "ipv6": v6, "OS-EXT-IPS:type": kind,
            });
            if port.firewall {
                nic["firewallProfile"] = json!("DISABLED");
            }
            attachments.push(nic);
        }
        let progress = match s.status {
            Status::Build => 0,
            _ => 100,
        };
        // Cyclades sorts them by id (`api/servers.py` `vm_to_dict`), so a
        // volume attached at create comes before the newer root disk.
        let mut volumes = s.volumes.clone();
        volumes.sort_unstable();
        json!({
            "id": s.id, "name": s.name, "status": s.status.as_str(), "progress": progress,
            "user_id": s.owner, "tenant_id": s.project,
            "created": format_rfc3339(s.created), "updated": format_rfc3339(s.updated),
            "flavor": {"id": s.flavor, "links": self.link(format!("/compute/v2.0/flavors/{}", s.flavor))},
            "image": {"id": s.image, "links": self.image_links(&s.image)},
            "metadata": s.metadata, "addresses": addresses, "attachments": attachments,
            "volumes": volumes, "links": links, "hostId": "", "accessIPv4": "", "accessIPv6": "",
            "config_drive": "", "key_name": s.key_name, "SNF:key_names": s.key_name.iter().collect::<Vec<_>>(),
            "SNF:fqdn": format!("snf-{}.vm.example.org", s.id), "SNF:task_state": s.task(),
            "SNF:port_forwarding": {}, "suspended": false, "security_groups": [{"name": "default"}],
            "diagnostics": [], "deleted": s.status == Status::Deleted,
            "shared_to_project": false, "SNF:rescue": false,
        })
    }

    /// `GET /servers` as JSON text, serialized straight from the records.
    ///
    /// Through a `Value` tree (a dozen allocations per server) the
    /// simulator's own answer was most of the load benchmark's listing
    /// time and grew faster than the listing; the benchmark measures the
    /// gateway, so its stand-in backend should not dominate.
    pub fn list_servers_text(&mut self, user: &str, now: Instant) -> String {
        #[derive(serde::Serialize)]
        struct Link<'a> {
            href: &'a str,
            rel: &'static str,
        }
        #[derive(serde::Serialize)]
        struct Summary<'a> {
            id: u64,
            name: &'a str,
            links: [Link<'a>; 2],
        }
        #[derive(serde::Serialize)]
        struct List<'a> {
            servers: Vec<Summary<'a>>,
        }
        self.settle_servers_of(user, now);
        let listed: Vec<&Server> = self.live_servers_of(user).collect();
        let hrefs: Vec<String> = listed
            .iter()
            .map(|s| format!("{}/compute/v2.0/servers/{}", self.base, s.id))
            .collect();
        let servers = listed
            .iter()
            .zip(&hrefs)
            .map(|(s, href)| Summary {
                id: s.id,
                name: &s.name,
                links: [
                    Link { href, rel: "self" },
                    Link {
                        href,
                        rel: "bookmark",
                    },
                ],
            })
            .collect();
        serde_json::to_string(&List { servers }).unwrap_or_else(|_| r#"{"servers":[]}"#.into())
    }

    /// `GET /servers/detail`: the user's servers that are not deleted.
    pub fn list_servers_detail(&mut self, user: &str, now: Instant) -> Value {
        self.settle_servers_of(user, now);
        let list: Vec<Value> = self
            .live_servers_of(user)
            .map(|s| self.server_json(s))
            .collect();
        json!({ "servers": list })
    }

    /// `GET /servers/detail?changes-since=<since>`
    /// (`snf_django/lib/api/utils.py` `isoparse`, `filter_modified_since`):
    /// every server of `user` whose `updated` is not before `since`,
    /// deleted ones included, by id; `None` (Cyclades' 304) when there is
    /// none. `since` must carry its offset (Cyclades converts it to UTC,
    /// which Python 2 refuses for a naive time), and lie within the last
    /// `POLL_LIMIT` (3600 s) by Cyclades' clock.
    pub fn list_server_changes(
        &mut self,
        user: &str,
        since: &str,
        now: Instant,
    ) -> Result<Option<Value>, Fault> {
        let invalid = || Fault::bad_request("Invalid changes-since parameter.");
        let zoned = since.ends_with(['Z', 'z'])
            || since
                .get(19..)
                .is_some_and(|rest| rest.contains(['+', '-']));
        if !zoned {
            return Err(invalid());
        }
        let since = parse_rfc3339(since).ok_or_else(invalid)?;
        let clock = SystemTime::now();
        if since > clock {
            return Err(Fault::bad_request("changes-since value set in the future."));
        }
        if clock.duration_since(since).unwrap_or_default() > POLL_LIMIT {
            return Err(Fault::bad_request("Too old changes-since value."));
        }
        self.settle_servers_of(user, now);
        let list: Vec<Value> = self
            .servers
            .values()
            .filter(|s| s.owner == user && s.updated >= since)
            .map(|s| self.server_json(s))
            .collect();
        Ok((!list.is_empty()).then(|| json!({ "servers": list })))
    }

    /// Brings `user`'s servers up to `now` (builds and actions finish).
    pub(super) fn settle_servers_of(&mut self, user: &str, now: Instant) {
        self.settle_where(now, |s| s.owner == user);
    }

    /// `user`'s servers that are not deleted: what a listing shows.
    fn live_servers_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a Server> {
        self.servers
            .values()
            .filter(move |s| s.owner == user && s.status != Status::Deleted)
    }

    /// `GET /servers/{id}` (deleted servers still show, as DELETED).
    pub fn get_server(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        let s = self.server_mut(user, id, now)?.clone();
        Ok(json!({"server": self.server_json(&s)}))
    }

    /// `GET /servers/{id}/metadata`.
    pub fn get_metadata(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        Ok(json!({"metadata": self.server_mut(user, id, now)?.metadata}))
    }

    /// `POST /servers/{id}/metadata`: merges.
    pub fn update_metadata(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        self.live_server_mut(user, id, now)?;
        let items = parse_metadata(body)?;
        let server = self.live_server_mut(user, id, now)?;
        server.metadata.extend(items);
        Ok(json!({"metadata": server.metadata}))
    }

    /// `GET /servers/{id}/metadata/{key}`.
    pub fn get_metadata_item(
        &mut self,
        user: &str,
        id: &str,
        key: &str,
        now: Instant,
    ) -> Result<Value, Fault> {
        let server = self.server_mut(user, id, now)?;
        let value = server
            .metadata
            .get(key)
            .ok_or_else(|| Fault::not_found("Metadata key not found."))?;
        Ok(json!({"meta": {key: value}}))
    }

    /// `PUT /servers/{id}/metadata/{key}`.
    pub fn set_metadata_item(
        &mut self,
        user: &str,
        id: &str,
        key: &str,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let items = body
            .get("meta")
            .or_else(|| body.get("metadata"))
            .map(|m| parse_metadata(&json!({"metadata": m})))
            .ok_or_else(|| Fault::bad_request("Malformed request"))??;
        let value = items
            .get(key)
            .cloned()
            .ok_or_else(|| Fault::bad_request("Malformed request: key mismatch"))?;
        let server = self.live_server_mut(user, id, now)?;
        server.metadata.insert(key.to_owned(), value.clone());
        Ok(json!({"meta": {key: value}}))
    }

    /// `DELETE /servers/{id}/metadata/{key}`.
    pub fn delete_metadata_item(
        &mut self,
        user: &str,
        id: &str,
        key: &str,
        now: Instant,
    ) -> Result<(), Fault> {
        let server = self.live_server_mut(user, id, now)?;
        server
            .metadata
            .remove(key)
            .map(drop)
            .ok_or_else(|| Fault::not_found("Metadata key not found."))
    }
}
