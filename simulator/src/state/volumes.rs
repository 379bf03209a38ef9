//! Volumes (root disks made with their servers, and standalone ones),
//! their statuses, and the volume types with their disk templates.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::World;
use super::accounts::UserRec;
use super::body::{attribute, id_field, num_id, parse_metadata};
use super::servers::{ATTACHING_VOLUME, DETACHING_VOLUME, Status};
use crate::fault::Fault;
use snf_occi_types::timestamp::format_rfc3339;

#[derive(Clone, Debug)]
pub(super) struct Volume {
    pub(super) id: u64,
    pub(super) owner: String,
    pub(super) project: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) size: u64,
    pub(super) volume_type: u64,
    pub(super) server: Option<u64>,
    pub(super) index: u32,
    pub(super) root: bool,
    /// Whether deleting its server deletes it too (Cyclades' default:
    /// true for a root disk).
    pub(super) delete_on_termination: bool,
    pub(super) created: SystemTime,
    pub(super) metadata: BTreeMap<String, String>,
    /// Snapshots taken so far (names the Pithos file of the next one).
    pub(super) snapshot_counter: u64,
    /// Deleted: still shown by `GET /volumes/{id}` (status `deleted`),
    /// as Cyclades keeps its rows, but in no listing.
    pub(super) deleted: bool,
    /// The image a root disk was made from (`image_id`).
    pub(super) image: Option<String>,
}

/// The longest volume name and description, in characters (Cyclades'
/// `Volume.NAME_LENGTH` and `DESCRIPTION_LENGTH`).
const VOLUME_TEXT_LENGTH: usize = 255;

/// A disk template's family, as Cyclades' `VolumeType.template`
/// (`ext_archipelago` -> `ext`, `drbd` -> `drbd`).
pub(super) fn template_family(template: &str) -> &str {
    template.split('_').next().unwrap_or(template)
}

impl World {
    /// A volume as `volume/views.py` `volume_to_dict` shows it: the
    /// status in lower case, integer ids in `attachments`, a root disk's
    /// name and description null (Cyclades stores none).
    fn volume_json(&self, v: &Volume, detail: bool) -> Value {
        let links = self.link(format!("/volume/v2.0/volumes/{}", v.id));
        let name = if v.root && v.name.is_empty() {
            Value::Null
        } else {
            json!(v.name)
        };
        if !detail {
            return json!({"id": v.id.to_string(), "display_name": name, "links": links});
        }
        let description = if v.root && v.description.is_empty() {
            Value::Null
        } else {
            json!(v.description)
        };
        let attachments: Vec<Value> = v
            .server
            .map(|s| json!({"server_id": s, "volume_id": v.id, "device_index": v.index}))
            .into_iter()
            .collect();
        json!({
            "id": v.id.to_string(), "display_name": name, "display_description": description,
            "size": v.size, "status": self.volume_state(v).to_ascii_lowercase(), "attachments": attachments,
            "volume_type": v.volume_type, "snapshot_id": null, "source_volid": null, "image_id": v.image,
            "user_id": v.owner, "tenant_id": v.project, "shared_to_project": false,
            "created_at": format_rfc3339(v.created), "metadata": v.metadata, "links": links,
            "delete_on_termination": v.delete_on_termination, "deleted": v.deleted,
        })
    }

    /// `GET /volumes[/detail]`: the caller's volumes that are not
    /// deleted, with their servers' transitions brought up to `now`.
    pub fn list_volumes(&mut self, user: &str, detail: bool, now: Instant) -> Value {
        self.settle_servers_of(user, now);
        let list: Vec<Value> = self
            .volumes
            .values()
            .filter(|v| v.owner == user && !v.deleted)
            .map(|v| self.volume_json(v, detail))
            .collect();
        json!({"volumes": list})
    }

    /// `GET /volumes/{id}` (a deleted volume still shows, `deleted`).
    pub fn get_volume(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        self.settle_servers_of(user, now);
        let v = num_id(id)
            .and_then(|n| self.volumes.get(&n))
            .filter(|v| v.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Volume {id} not found")))?;
        Ok(json!({"volume": self.volume_json(v, true)}))
    }

    /// The caller's volume `id`, not deleted (`volume/util.py`
    /// `get_volume` with `non_deleted`): 404 when unknown, 400 when
    /// deleted.
    fn own_live_volume(&self, user: &str, id: &str) -> Result<u64, Fault> {
        let n = num_id(id).ok_or_else(|| Fault::bad_request(format!("Invalid volume id: {id}")))?;
        match self.volumes.get(&n).filter(|v| v.owner == user) {
            None => Err(Fault::not_found(format!("Volume {n} not found"))),
            Some(v) if v.deleted => Err(Fault::bad_request(format!(
                "Volume '{n}' has been deleted."
            ))),
            Some(_) => Ok(n),
        }
    }

    /// `PUT /volumes/{id}`: a new `display_name`, `display_description`
    /// or `delete_on_termination` (Cyclades' `volume/views.py`
    /// `update_volume` and `volume/volumes.py` `update`): the volume must
    /// be the caller's (404 otherwise), the body must carry a `volume`
    /// object with at least one of the three ("Nothing to update."), names
    /// and descriptions hold at most 255 characters. Sizes never change:
    /// Cyclades cannot resize a volume. Here names must be strings, where
    /// Cyclades would store any JSON value's text.
    pub fn update_volume(&mut self, user: &str, id: &str, body: &Value) -> Result<Value, Fault> {
        // Cyclades looks the volume up before it reads the body.
        let vid = self.own_live_volume(user, id)?;
        let spec = attribute(body, "volume", Value::is_object)?;
        let text = |key: &str| -> Result<Option<String>, Fault> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fault::bad_request(format!(
                    "Malformed request. Invalid '{key}' field"
                ))),
            }
        };
        let name = text("display_name")?;
        let description = text("display_description")?;
        let delete_on_termination = match spec.get("delete_on_termination") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'delete_on_termination' field",
                ));
            }
        };
        if name.is_none() && description.is_none() && delete_on_termination.is_none() {
            return Err(Fault::bad_request("Nothing to update."));
        }
        if name
            .as_ref()
            .is_some_and(|n| n.chars().count() > VOLUME_TEXT_LENGTH)
        {
            return Err(Fault::bad_request("Volume name is too long"));
        }
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > VOLUME_TEXT_LENGTH)
        {
            return Err(Fault::bad_request("Volume description is too long"));
        }
        // `volume/volumes.py` `validate_volume_termination`: Cyclades 0.20
        // deletes every volume with its server.
        if delete_on_termination == Some(false) {
            let vt = self
                .volumes
                .get(&vid)
                .map(|v| v.volume_type)
                .unwrap_or_default();
            let template = self.template_of(vt);
            if template_family(&template) != "ext" {
                return Err(Fault::bad_request(format!(
                    "Volumes of '{template}' disk template cannot have 'delete_on_termination' attribute set to 'False'"
                )));
            }
            return Err(Fault::not_implemented(
                "Volumes with the 'delete_on_termination' attribute set to False are not supported",
            ));
        }
        let volume = self
            .volumes
            .get_mut(&vid)
            .ok_or_else(|| Fault::not_found(format!("Volume {id} not found")))?;
        if let Some(name) = name {
            volume.name = name;
        }
        if let Some(description) = description {
            volume.description = description;
        }
        if let Some(d) = delete_on_termination {
            volume.delete_on_termination = d;
        }
        let volume = volume.clone();
        Ok(json!({"volume": self.volume_json(&volume, true)}))
    }

    /// `POST /volumes` (202): `volume/views.py` `create_volume` and
    /// `volume/volumes.py` `create`, in their order: the body
    /// (`display_name` and a positive `size` required), the server to
    /// attach to (400 when unknown, as `create` words it), the volume
    /// type (an integer id; the server's when not given; without a
    /// server it must be given and detachable), the names' lengths, then
    /// the disk quota. A standalone volume is `available` at once and,
    /// as every volume Cyclades 0.20 makes, deleted with any server it
    /// is later attached to (`delete_on_termination`).
    pub fn create_volume(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = attribute(body, "volume", Value::is_object)?;
        let name = attribute(spec, "display_name", Value::is_string)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let size = attribute(spec, "size", |v| v.is_string() || v.is_i64())?;
        let size_text = match size {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let size = size_text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| *s > 0)
            .map(|s| s as u64)
            .ok_or_else(|| {
                Fault::bad_request(format!(
                    "Volume 'size' needs to be a positive integer value. '{size_text}' cannot be accepted."
                ))
            })?;
        let project = self.project_for(user, spec.get("project"))?;
        let optional_text = |key: &str| -> Result<Option<String>, Fault> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fault::bad_request(format!(
                    "Malformed request. Invalid '{key}' field"
                ))),
            }
        };
        let description = optional_text("display_description")?.unwrap_or_default();
        let metadata = match spec.get("metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(_)) => parse_metadata(spec)?,
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'metadata' field",
                ));
            }
        };
        let requested_type = match spec.get("volume_type") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'volume_type' field",
                ));
            }
        };
        let volume_type_of = |world: &World, t: Option<&str>| -> Result<u64, Fault> {
            let t = t.unwrap_or("None");
            let n = num_id(t)
                .ok_or_else(|| Fault::bad_request(format!("Invalid volume type id: {t}")))?;
            world
                .volume_types
                .iter()
                .any(|(id, _)| *id == n)
                .then_some(n)
                .ok_or_else(|| Fault::bad_request(format!("Volume type {n} not found")))
        };
        let server = match id_field(spec, "server_id") {
            Some(sid) => {
                let s = match self.live_server_mut(&user.uuid, &sid, now) {
                    Err(f) if f.status == http::StatusCode::NOT_FOUND => {
                        return Err(Fault::bad_request(format!("Server {sid} not found")));
                    }
                    other => other?,
                };
                Some((s.id, s.flavor))
            }
            None => None,
        };
        let volume_type = match server {
            Some((_, flavor)) => {
                let server_type = self
                    .flavors
                    .get(&flavor)
                    .map(|f| f.volume_type)
                    .unwrap_or_default();
                match requested_type.as_deref() {
                    None => server_type,
                    Some(t) => {
                        let vt = volume_type_of(self, Some(t))?;
                        let (a, b) = (self.template_of(vt), self.template_of(server_type));
                        if template_family(&a) != template_family(&b) {
                            return Err(Fault::bad_request(format!(
                                "Cannot create a volume with template '{}' to a server with volume template '{}'.",
                                template_family(&a),
                                template_family(&b)
                            )));
                        }
                        vt
                    }
                }
            }
            None => {
                let vt = volume_type_of(self, requested_type.as_deref())?;
                let template = self.template_of(vt);
                if !template.starts_with("ext_") {
                    return Err(Fault::bad_request(format!(
                        "Volume type '{template}' is not detachable"
                    )));
                }
                vt
            }
        };
        if name.chars().count() > VOLUME_TEXT_LENGTH {
            return Err(Fault::bad_request("Volume name is too long"));
        }
        if description.chars().count() > VOLUME_TEXT_LENGTH {
            return Err(Fault::bad_request("Volume description is too long"));
        }
        // `volume/volumes.py` `_create_volume`: the site's
        // `CYCLADES_VOLUME_MAX_SIZE` (the harness's 100000).
        if size > 100_000 {
            return Err(Fault::bad_request("Maximum volume size is 100000GB"));
        }
        if let Some(s) = server.and_then(|(id, _)| self.servers.get(&id)) {
            s.refuse_if_busy("ATTACH_VOLUME")?;
        }
        self.check_disk(&user.uuid, size)?;
        if self
            .volumes
            .values()
            .filter(|v| v.owner == user.uuid && !v.deleted)
            .count()
            >= self.quotas.volumes
        {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account.",
            ));
        }
        let server = server.map(|(id, _)| id);
        let id = self.next_volume;
        self.next_volume += 1;
        let index = server
            .and_then(|s| self.servers.get(&s))
            .map(|s| s.volumes.len() as u32)
            .unwrap_or(0);
        let volume = Volume {
            id,
            owner: user.uuid.clone(),
            project,
            name,
            description,
            size,
            volume_type,
            server,
            index,
            root: false,
            delete_on_termination: true,
            created: SystemTime::now(),
            metadata,
            snapshot_counter: 0,
            deleted: false,
            image: None,
        };
        // Cyclades answers a create in brief (`volume/views.py`
        // `create_volume`: `volume_to_dict(volume, detail=False)`).
        let answer = self.volume_json(&volume, false);
        self.volumes.insert(id, volume);
        if let Some(s) = server.and_then(|s| self.servers.get_mut(&s)) {
            s.volumes.push(id);
            s.touch();
        }
        Ok(json!({"volume": answer}))
    }

    /// `DELETE /volumes/{id}` (202): `volume/volumes.py` `delete`. An
    /// attached volume goes with its server's disk job
    /// (`server_attachments.delete_volume`: not the root disk, not while
    /// the server has a pending action); a detached one is marked deleted
    /// at once (Cyclades' "uninitialized volume" case: the simulator keeps
    /// no data to remove through a helper server). A deleted volume stays
    /// visible to `GET` as `deleted`.
    pub fn delete_volume(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let vid = self.own_live_volume(user, id)?;
        let Some(v) = self.volumes.get(&vid) else {
            return Err(Fault::not_found(format!("Volume {vid} not found")));
        };
        if let Some(sid) = v.server {
            let status = self.volume_state(v);
            if !matches!(status, "IN_USE" | "ERROR") {
                return Err(Fault::bad_request(format!(
                    "Cannot delete volume while volume is in '{status}' status."
                )));
            }
            if v.index == 0 || v.root {
                return Err(Fault::bad_request(format!(
                    "Cannot delete the root volume of server <vm:{sid}@backend:1>."
                )));
            }
            if let Some(server) = self.servers.get(&sid) {
                server.refuse_if_busy("DELETE_VOLUME")?;
            }
            if let Some(s) = self.servers.get_mut(&sid) {
                s.volumes.retain(|x| *x != vid);
                s.touch();
            }
        }
        // An attached volume keeps showing its server once deleted
        // (`mark_volume_as_deleted` leaves `machine` set).
        if let Some(v) = self.volumes.get_mut(&vid) {
            v.deleted = true;
        }
        Ok(())
    }

    /// The status Cyclades would give a volume (upper case, as stored;
    /// the API shows it in lower case): the simulator derives it from the
    /// server it is attached to (a building server's disks are
    /// `CREATING`, a failed one's `ERROR`).
    fn volume_state(&self, v: &Volume) -> &'static str {
        if v.deleted {
            return "DELETED";
        }
        let Some(server) = v.server else {
            return "AVAILABLE";
        };
        let server = self.servers.get(&server);
        match server.and_then(|s| s.volume_job()) {
            Some((ATTACHING_VOLUME, id)) if id == v.id => return "ATTACHING",
            Some((DETACHING_VOLUME, id)) if id == v.id => return "DETACHING",
            _ => {}
        }
        match server.map(|s| s.status) {
            Some(Status::Build) => "CREATING",
            Some(Status::Error) => "ERROR",
            Some(Status::Deleted) => "DELETED",
            Some(_) => "IN_USE",
            None => "AVAILABLE",
        }
    }

    /// [`World::volume_state`] with the server's transitions brought up
    /// to `now`.
    pub(super) fn volume_status(&mut self, v: u64, now: Instant) -> &'static str {
        if let Some(server) = self.volumes.get(&v).and_then(|v| v.server) {
            self.settle_where(now, |s| s.id == server);
        }
        self.volumes
            .get(&v)
            .map(|vol| self.volume_state(vol))
            .unwrap_or("DELETED")
    }

    /// `GET /types`: `volume/views.py` `volume_type_to_dict` (integer
    /// ids; detachable are the `ext_*` templates, Cyclades'
    /// `CYCLADES_DETACHABLE_DISK_TEMPLATES`).
    pub fn volume_types(&self) -> Value {
        let list: Vec<Value> = self
            .volume_types
            .iter()
            .map(|(id, name)| {
                json!({"id": id, "name": name, "SNF:disk_template": name, "deleted": false,
                       "SNF:detachable": name.starts_with("ext_")})
            })
            .collect();
        json!({"volume_types": list})
    }

    /// The disk template of a volume type (`""` when unknown).
    pub(super) fn template_of(&self, volume_type: u64) -> String {
        self.volume_types
            .iter()
            .find(|(id, _)| *id == volume_type)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    }
}
