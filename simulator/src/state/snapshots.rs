//! Volume snapshots. Cyclades registers each as a Plankton image, so
//! `images` lists them too.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::World;
use super::accounts::UserRec;
use super::body::{attribute, id_field, parse_metadata};
use crate::fault::Fault;
use snf_occi_types::timestamp::format_rfc3339;

/// A volume snapshot. Cyclades registers it in Pithos as a Plankton
/// image (`volume/snapshots.py` `create`), so its id is an image id: it
/// is listed among its owner's images and boots new servers.
#[derive(Clone, Debug)]
pub(super) struct Snapshot {
    pub(super) id: String,
    pub(super) owner: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) volume: u64,
    /// The Pithos file, `snf-snap-<volume id>-<counter>`.
    pub(super) file_name: String,
    /// GB, the volume's size.
    pub(super) size: u64,
    pub(super) created: SystemTime,
    /// `CREATING` until then (the Ganeti snapshot job), `AVAILABLE` after.
    pub(super) ready_at: Instant,
    /// The image properties (`exclude_all_tasks`, `description`, and the
    /// server's `OS` and `users` for a root volume).
    pub(super) properties: BTreeMap<String, String>,
}

impl Snapshot {
    pub(super) fn ready(&self, now: Instant) -> bool {
        now >= self.ready_at
    }
}

impl World {
    /// A snapshot as the block storage API shows it (`volume/views.py`
    /// `snapshot_to_dict`, the same with or without detail). Its
    /// `progress` is `"100%"` once available and the number `0` before,
    /// exactly as Cyclades' expression yields.
    fn snapshot_json(&self, s: &Snapshot, ready: bool) -> Value {
        let progress = if ready { json!("100%") } else { json!(0) };
        json!({
            "id": s.id, "size": s.size, "display_name": s.name,
            "display_description": s.description,
            "status": if ready { "AVAILABLE" } else { "CREATING" },
            "user_id": s.owner, "tenant_id": s.owner,
            "os-extended-snapshot-attribute:progress": progress,
            "created_at": format_rfc3339(s.created), "metadata": s.properties,
            "volume_id": s.volume.to_string(),
            "links": self.link(format!("/volume/v2.0/snapshots/{}", s.id)),
        })
    }

    /// `POST /snapshots` (202): Cyclades' `volume/views.py`
    /// `create_snapshot` and `volume/snapshots.py` `create`, in their
    /// order. An unknown, foreign or deleted volume is a 400 (`get_volume`
    /// is called with `exception=faults.BadRequest`), as are a detached
    /// volume, a volume that is not `AVAILABLE`/`IN_USE` and a disk
    /// template other than `ext_*`. The snapshot is `CREATING` until the
    /// action delay has passed (the Ganeti job), then `AVAILABLE`.
    pub fn create_snapshot(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = attribute(body, "snapshot", Value::is_object)?;
        let vid = id_field(spec, "volume_id").ok_or_else(|| {
            Fault::bad_request("Malformed request. Missing attribute 'volume_id'.")
        })?;
        let n = self.volume_for_server(&user.uuid, &vid)?;
        let volume = self
            .volumes
            .get(&n)
            .ok_or_else(|| Fault::bad_request(format!("Volume {vid} not found")))?
            .clone();
        let string = |key: &str| -> Result<Option<String>, Fault> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fault::bad_request(format!(
                    "Malformed request. Invalid '{key}' field"
                ))),
            }
        };
        let name = string("display_name")?.unwrap_or_else(|| format!("Snapshot of volume '{vid}'"));
        let description = string("display_description")?.unwrap_or_default();
        let mut properties = match spec.get("metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(_)) => parse_metadata(spec)?,
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'metadata' field",
                ));
            }
        };
        // Cyclades reads `force` from the top of the body, not from
        // `snapshot` (and ignores it), but refuses a non-boolean there.
        if body.get("force").is_some_and(|f| !f.is_boolean()) {
            return Err(Fault::bad_request("Invalid value for 'force' attribute."));
        }
        let Some(server_id) = volume.server else {
            return Err(Fault::bad_request("Cannot snapshot a detached volume!"));
        };
        let status = self.volume_status(volume.id, now);
        if !matches!(status, "AVAILABLE" | "IN_USE") {
            return Err(Fault::bad_request(format!(
                "Cannot create snapshot while volume is in '{status}' status"
            )));
        }
        let template = self
            .volume_types
            .iter()
            .find(|(id, _)| *id == volume.volume_type)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        if !template.starts_with("ext_") {
            return Err(Fault::bad_request(format!(
                "Cannot take a snapshot from a volume with volume type '{}' and '{template}' disk template",
                volume.volume_type
            )));
        }
        properties.insert("exclude_all_tasks".into(), "yes".into());
        properties.insert("description".into(), description.clone());
        if volume.index == 0
            && let Some(server) = self.servers.get(&server_id)
        {
            for key in ["OS", "users"] {
                if let Some(v) = server.metadata.get(key) {
                    properties.insert(key.into(), v.clone());
                }
            }
        }
        let counter = match self.volumes.get_mut(&volume.id) {
            Some(v) => {
                v.snapshot_counter += 1;
                v.snapshot_counter
            }
            None => 1,
        };
        let snapshot = Snapshot {
            id: uuid::Uuid::new_v4().to_string(),
            owner: user.uuid.clone(),
            name,
            description,
            volume: volume.id,
            file_name: format!("snf-snap-{}-{counter}", volume.id),
            size: volume.size,
            created: SystemTime::now(),
            ready_at: now + self.action_delay,
            properties,
        };
        // Cyclades answers before the Ganeti job has run: always CREATING.
        let answer = self.snapshot_json(&snapshot, false);
        self.snapshots.insert(snapshot.id.clone(), snapshot);
        Ok(json!({"snapshot": answer}))
    }

    /// `GET /snapshots[/detail]`: the caller's snapshots, by id (both
    /// forms carry every attribute, as Cyclades' do).
    pub fn list_snapshots(&self, user: &str, now: Instant) -> Value {
        let list: Vec<Value> = self
            .snapshots
            .values()
            .filter(|s| s.owner == user)
            .map(|s| self.snapshot_json(s, s.ready(now)))
            .collect();
        json!({"snapshots": list})
    }

    /// `GET /snapshots/{id}`.
    pub fn get_snapshot(&self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        let s = self
            .own_snapshot(user, id)
            .ok_or_else(|| Fault::not_found(format!("Snapshot {id} not found")))?;
        Ok(json!({"snapshot": self.snapshot_json(s, s.ready(now))}))
    }

    /// `DELETE /snapshots/{id}` (202): the image goes with it.
    pub fn delete_snapshot(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        if self.own_snapshot(user, id).is_none() {
            return Err(Fault::not_found(format!("Snapshot {id} not found")));
        }
        self.snapshots.remove(id);
        Ok(())
    }
}
