//! Volumes attached to servers (`/servers/{id}/os-volume_attachments`):
//! listing, attaching and detaching, with Cyclades' refusals.

use std::time::Instant;

use serde_json::{Value, json};

use super::World;
use super::body::{attribute, id_field, num_id};
use super::servers::{ATTACHING_VOLUME, DETACHING_VOLUME, Pending, Status};
use super::volumes::{Volume, template_family};
use crate::fault::Fault;

impl World {
    /// `api/servers.py` `volume_to_attachment`: integer ids.
    fn attachment_json(v: &Volume) -> Value {
        json!({"id": v.id, "volumeId": v.id, "serverId": v.server, "device": ""})
    }

    /// The caller's volume `vid` for an operation on a server
    /// (`volume/util.py` `get_volume` with `non_deleted` and
    /// `exception=faults.BadRequest`): 400 when unknown or deleted.
    pub(super) fn volume_for_server(&self, user: &str, vid: &str) -> Result<u64, Fault> {
        let n =
            num_id(vid).ok_or_else(|| Fault::bad_request(format!("Invalid volume id: {vid}")))?;
        match self.volumes.get(&n).filter(|v| v.owner == user) {
            None => Err(Fault::bad_request(format!("Volume {n} not found"))),
            Some(v) if v.deleted => Err(Fault::bad_request(format!(
                "Volume '{n}' has been deleted."
            ))),
            Some(_) => Ok(n),
        }
    }

    /// `GET /servers/{id}/os-volume_attachments`.
    pub fn list_attachments(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        let vols = self.server_mut(user, id, now)?.volumes.clone();
        let list: Vec<Value> = vols
            .iter()
            .filter_map(|v| self.volumes.get(v))
            .map(Self::attachment_json)
            .collect();
        Ok(json!({"volumeAttachments": list}))
    }

    /// `GET /servers/{id}/os-volume_attachments/{att}`.
    pub fn get_attachment(
        &mut self,
        user: &str,
        id: &str,
        att: &str,
        now: Instant,
    ) -> Result<Value, Fault> {
        let sid = self.server_mut(user, id, now)?.id;
        let vid = self.volume_for_server(user, att)?;
        let v = self
            .volumes
            .get(&vid)
            .filter(|v| v.server == Some(sid))
            .ok_or_else(|| {
                Fault::bad_request(format!("Volume '{vid}' is not attached to server '{sid}'"))
            })?;
        Ok(json!({"volumeAttachment": Self::attachment_json(v)}))
    }

    /// `POST /servers/{id}/os-volume_attachments`.
    pub fn attach(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        // `api/servers.py` `attach_volume`, `logic/servers.py`
        // `attach_volume` and `logic/server_attachments.py`
        // `attach_volume`, in their order.
        let spec = attribute(body, "volumeAttachment", Value::is_object)?;
        let vid = id_field(spec, "volumeId").ok_or_else(|| {
            Fault::bad_request("Malformed request. Missing attribute 'volumeId'.")
        })?;
        self.live_server_mut(user, id, now)?;
        let vid = self.volume_for_server(user, &vid)?;
        let status = self.volume_status(vid, now).to_ascii_uppercase();
        if status != "AVAILABLE" {
            return Err(Fault::bad_request(format!(
                "Cannot attach volume while volume is in '{status}' status."
            )));
        }
        let server_flavor = self.live_server_mut(user, id, now)?.flavor;
        let server_type = self
            .flavors
            .get(&server_flavor)
            .map(|f| f.volume_type)
            .unwrap_or_default();
        let volume_type = self
            .volumes
            .get(&vid)
            .map(|v| v.volume_type)
            .unwrap_or_default();
        let (a, b) = (self.template_of(volume_type), self.template_of(server_type));
        if template_family(&a) != template_family(&b) {
            return Err(Fault::bad_request(format!(
                "Volume and server must have the same volume template. Volume has volume template'{}' while server has '{}'",
                template_family(&a),
                template_family(&b)
            )));
        }
        let server = self.live_server_mut(user, id, now)?;
        server.refuse_if_busy("ATTACH_VOLUME")?;
        if server.status == Status::Error {
            return Err(Fault::bad_request(
                "Cannot perform 'ATTACH_VOLUME' action while server is in 'ERROR' state.",
            ));
        }
        let sid = server.id;
        let index = server.volumes.len() as u32;
        let volume = self
            .volumes
            .get_mut(&vid)
            .ok_or_else(|| Fault::bad_request(format!("Volume {vid} not found")))?;
        volume.server = Some(sid);
        volume.index = index;
        let answer = Self::attachment_json(volume);
        let vol_id = volume.id;
        // The volume is the server's at once (`volume.machine`), attaching
        // until the job ends.
        if let Some(server) = self.servers.get_mut(&sid) {
            server.volumes.push(vol_id);
        }
        self.start_volume_job(sid, vol_id, ATTACHING_VOLUME, now);
        Ok(json!({"volumeAttachment": answer}))
    }

    /// `DELETE /servers/{id}/os-volume_attachments/{att}`.
    pub fn detach(&mut self, user: &str, id: &str, att: &str, now: Instant) -> Result<(), Fault> {
        // `logic/servers.py` `detach_volume` and
        // `logic/server_attachments.py` `detach_volume`, in their order.
        let sid = self.live_server_mut(user, id, now)?.id;
        let vid = self.volume_for_server(user, att)?;
        if self
            .volumes
            .get(&vid)
            .is_some_and(|v| v.server != Some(sid))
        {
            return Err(Fault::bad_request(format!(
                "Volume '{vid}' is not attached to server '{sid}'"
            )));
        }
        if self.volumes.get(&vid).is_some_and(|v| v.root) {
            // Cyclades formats the server with its Python repr.
            return Err(Fault::bad_request(format!(
                "Cannot detach the root volume of server <vm:{sid}@backend:1>."
            )));
        }
        let status = self.volume_status(vid, now);
        if !matches!(status, "IN_USE" | "ERROR") {
            return Err(Fault::bad_request(format!(
                "Cannot detach volume while volume is in '{status}' status."
            )));
        }
        self.live_server_mut(user, id, now)?
            .refuse_if_busy("DETACH_VOLUME")?;
        // The volume stays the server's until the job ends.
        self.start_volume_job(sid, vid, DETACHING_VOLUME, now);
        Ok(())
    }

    /// Starts volume `vid`'s attach or detach job (`task`) on server
    /// `sid`: a Ganeti job in Synnefo, the action delay here, shown as the
    /// server's task and the volume's status until it ends. The server
    /// command saves the server (its stamp moves).
    fn start_volume_job(&mut self, sid: u64, vid: u64, task: &'static str, now: Instant) {
        let until = now + self.action_delay;
        if let Some(server) = self.servers.get_mut(&sid) {
            server.pending = Some(Pending {
                volume: Some(vid),
                ..Pending::action(until, server.status, task)
            });
            server.touch();
        }
        self.schedule(until);
        self.settle_where(now, |s| s.id == sid);
    }

    /// The end of a volume's detach job: it leaves server `sid`.
    pub(super) fn finish_detach(&mut self, sid: u64, vid: u64) {
        if let Some(server) = self.servers.get_mut(&sid) {
            server.volumes.retain(|v| *v != vid);
            server.touch();
        }
        if let Some(v) = self.volumes.get_mut(&vid) {
            v.server = None;
            v.index = 0;
        }
    }
}
