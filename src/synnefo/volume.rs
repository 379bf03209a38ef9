//! Cyclades block storage (volume) v2.0: volumes, volume types and
//! snapshots.
//!
//! A Synnefo snapshot is more than a backup: Cyclades registers it in
//! Plankton as an image whose id is the snapshot id
//! (`snf-cyclades-app/synnefo/volume/snapshots.py` `create`), so it is
//! listed among its owner's images (`GET /images/detail`, with
//! `is_snapshot: true`) and boots new servers like any image.

use std::collections::BTreeMap;

use http::Method;
use serde::{Deserialize, Serialize};

use super::compute::{Summary, seg};
use super::serde_util::{id, null_default, number, opt_id};
use super::{Caller, Client, Result, Service};

/// Where a volume is attached.
///
/// grnet/synnefo 0.20: `synnefo/volume/views.py` `get_volume_attachments`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct VolumeServerAttachment {
    /// The server.
    #[serde(deserialize_with = "id")]
    pub server_id: String,
    /// The volume.
    #[serde(default, deserialize_with = "opt_id")]
    pub volume_id: Option<String>,
    /// Its index among the server's disks (0 = root).
    #[serde(default, deserialize_with = "opt_id")]
    pub device_index: Option<String>,
}

/// A volume in detail.
///
/// grnet/synnefo 0.20: `synnefo/volume/views.py` `volume_to_dict(detail=True)`.
#[derive(Clone, Debug, Deserialize)]
pub struct Volume {
    /// Id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Name.
    #[serde(default, deserialize_with = "null_default")]
    pub display_name: String,
    /// Description.
    #[serde(default)]
    pub display_description: Option<String>,
    /// Size in GB.
    #[serde(deserialize_with = "number")]
    pub size: u64,
    /// `CREATING`, `AVAILABLE`, `IN_USE`, `DELETING`, `ERROR`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// Attachments (at most one in Synnefo).
    #[serde(default, deserialize_with = "null_default")]
    pub attachments: Vec<VolumeServerAttachment>,
    /// The volume type id.
    #[serde(default, deserialize_with = "opt_id")]
    pub volume_type: Option<String>,
    /// Owner.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Project, as the block storage API names it.
    #[serde(default)]
    pub project: Option<String>,
    /// Project, as OpenStack names it (some versions send this instead).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Metadata.
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: BTreeMap<String, String>,
}

/// A volume type.
///
/// grnet/synnefo 0.20: `synnefo/volume/views.py` `volume_type_to_dict`.
#[derive(Clone, Debug, Deserialize)]
pub struct VolumeType {
    /// Id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Name (as Cyclades names them, the disk template: `drbd`,
    /// `ext_archipelago`, ...).
    pub name: String,
    /// The Ganeti disk template of its volumes. A volume attaches only to
    /// a server whose flavor's type has the same template
    /// (`logic/server_attachments.py` `attach_volume`).
    #[serde(rename = "SNF:disk_template", default)]
    pub disk_template: Option<String>,
    /// Whether its volumes may exist unattached, be attached and be
    /// detached (the template is in `CYCLADES_DETACHABLE_DISK_TEMPLATES`);
    /// a volume of another type is created only with its server
    /// (`volume/volumes.py` `create`: "Volume type ... is not
    /// detachable").
    #[serde(rename = "SNF:detachable", default)]
    pub detachable: Option<bool>,
}

impl VolumeType {
    /// The disk template of its volumes (its name when not given).
    pub fn template(&self) -> &str {
        self.disk_template.as_deref().unwrap_or(&self.name)
    }

    /// Whether its volumes can be created on their own and attached to a
    /// server later. When the cloud does not say (`SNF:detachable`
    /// absent), Cyclades' default `CYCLADES_DETACHABLE_DISK_TEMPLATES`
    /// (`ext_archipelago`, `ext_vlmc`: the `ext_` templates) decides.
    pub fn is_detachable(&self) -> bool {
        self.detachable
            .unwrap_or_else(|| self.template().starts_with("ext_"))
    }
}

/// What to create a volume with.
#[derive(Clone, Debug, Serialize)]
pub struct NewVolume {
    /// Size in GB.
    pub size: u64,
    /// Name.
    pub display_name: String,
    /// Volume type id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_type: Option<String>,
    /// Project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Attach to this server at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_description: Option<String>,
}

/// A volume snapshot, as `POST /snapshots` and `GET /snapshots/{id}`
/// answer (`snf-cyclades-app/synnefo/volume/views.py`
/// `snapshot_to_dict`).
#[derive(Clone, Debug, Deserialize)]
pub struct Snapshot {
    /// Id: also the id of the Plankton image the snapshot is (a UUID).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Name (the image's name too).
    #[serde(default, deserialize_with = "null_default")]
    pub display_name: String,
    /// Description.
    #[serde(default)]
    pub display_description: Option<String>,
    /// `CREATING` (the Ganeti snapshot job is running; a create always
    /// answers this), then `AVAILABLE`, or `ERROR`.
    #[serde(default)]
    pub status: Option<String>,
    /// The volume it was taken from.
    #[serde(default, deserialize_with = "opt_id")]
    pub volume_id: Option<String>,
    /// Size in GB (the volume's).
    #[serde(default)]
    pub size: Option<u64>,
    /// Owner.
    #[serde(default)]
    pub user_id: Option<String>,
}

/// What to snapshot (`POST /snapshots`).
#[derive(Clone, Debug, Serialize)]
pub struct NewSnapshot {
    /// The volume to snapshot: the caller's, attached to a server.
    pub volume_id: String,
    /// The name of the snapshot (and of its image). Cyclades names an
    /// unnamed one `Snapshot of volume '<id>'`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_description: Option<String>,
}

/// What `PUT /volumes/{id}` changes: only the fields that are set are
/// sent (Cyclades changes just those and refuses a body with none, 400
/// "Nothing to update.").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VolumeUpdate {
    /// The new name (at most 255 characters, Cyclades' `Volume.NAME_LENGTH`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The new description (at most 255 characters,
    /// `Volume.DESCRIPTION_LENGTH`); `""` clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_description: Option<String>,
}

impl VolumeUpdate {
    /// Whether nothing would change (Cyclades refuses such a request).
    pub fn is_empty(&self) -> bool {
        self.display_name.is_none() && self.display_description.is_none()
    }
}

/// grnet/synnefo 0.20: `synnefo/volume/views.py` `create_snapshot` and
/// `get_snapshot`.
#[derive(Deserialize)]
struct OneSnapshot {
    snapshot: Snapshot,
}

/// grnet/synnefo 0.20: `synnefo/volume/views.py` `list_volumes`.
#[derive(Deserialize)]
struct Volumes<T> {
    volumes: Vec<T>,
}
/// grnet/synnefo 0.20: `synnefo/volume/views.py` `list_volume_types`.
#[derive(Deserialize)]
struct VolumeTypes {
    volume_types: Vec<VolumeType>,
}

/// `{"volume": ...}`: one volume, in brief or in detail.
///
/// grnet/synnefo 0.20: `synnefo/volume/views.py` `create_volume` (in
/// brief), `get_volume` and `update_volume` (in detail).
#[derive(Deserialize)]
struct Envelope<T> {
    volume: T,
}

/// A volume in brief (`volume_to_dict(volume, detail=False)`): what
/// listings and a create answer carry. Listings name volumes
/// `display_name`, not `name`.
///
/// grnet/synnefo 0.20: `synnefo/volume/views.py`
/// `volume_to_dict(detail=False)`.
#[derive(Deserialize)]
struct VolumeSummary {
    #[serde(deserialize_with = "id")]
    id: String,
    #[serde(default, deserialize_with = "null_default")]
    display_name: String,
}

impl Volume {
    /// The project the volume is charged to, whichever key carried it.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref().or(self.tenant_id.as_deref())
    }
}

impl Client {
    /// `GET /volumes`.
    pub async fn list_volumes(&self, caller: &Caller) -> Result<Vec<Summary>> {
        let r: Volumes<VolumeSummary> = self
            .get_json(Service::Volume, "/volumes", &[], caller)
            .await?;
        Ok(r.volumes
            .into_iter()
            .map(|v| Summary {
                id: v.id,
                name: v.display_name,
            })
            .collect())
    }

    /// `GET /volumes/detail`.
    pub async fn list_volumes_detail(&self, caller: &Caller) -> Result<Vec<Volume>> {
        let r: Volumes<Volume> = self
            .get_json(Service::Volume, "/volumes/detail", &[], caller)
            .await?;
        Ok(r.volumes)
    }

    /// `GET /volumes/{id}`.
    pub async fn get_volume(&self, caller: &Caller, volume_id: &str) -> Result<Volume> {
        let path = format!("/volumes/{}", seg(volume_id));
        let r: Envelope<Volume> = self.get_json(Service::Volume, &path, &[], caller).await?;
        Ok(r.volume)
    }

    /// `POST /volumes` (202). Cyclades answers the new volume in brief
    /// only: `id`, `display_name` and `links`
    /// (`snf-cyclades-app/synnefo/volume/views.py` `create_volume`,
    /// `volume_to_dict(volume, detail=False)`); read it with
    /// [`Client::get_volume`] for anything else.
    pub async fn create_volume(&self, caller: &Caller, volume: &NewVolume) -> Result<Summary> {
        let body = serde_json::json!({ "volume": volume });
        let r: Envelope<VolumeSummary> = self
            .send_json(Service::Volume, Method::POST, "/volumes", caller, &body)
            .await?;
        Ok(Summary {
            id: r.volume.id,
            name: r.volume.display_name,
        })
    }

    /// `DELETE /volumes/{id}` (202).
    pub async fn delete_volume(&self, caller: &Caller, volume_id: &str) -> Result<()> {
        let path = format!("/volumes/{}", seg(volume_id));
        self.send_empty::<()>(Service::Volume, Method::DELETE, &path, caller, None)
            .await
    }

    /// `PUT /volumes/{id}` (200, the volume in detail): renames a volume
    /// or changes its description. Nothing else about a volume can
    /// change: Cyclades has no resize (its update takes `display_name`,
    /// `display_description` and `delete_on_termination` only).
    ///
    /// Cyclades answers 404 `itemNotFound` for a volume that is unknown,
    /// another user's or deleted (`util.get_volume(..., non_deleted=True)`),
    /// and 400 `badRequest` for an empty update ("Nothing to update.") or a
    /// name or description longer than 255 characters
    /// (`snf-cyclades-app/synnefo/volume/views.py` `update_volume`,
    /// `volume/volumes.py` `update`, `db/models.py` `Volume.NAME_LENGTH`,
    /// `DESCRIPTION_LENGTH`; kamaki's `BlockStorageClient.update_volume`
    /// sends the same body). A write: never retried.
    pub async fn update_volume(
        &self,
        caller: &Caller,
        volume_id: &str,
        update: &VolumeUpdate,
    ) -> Result<Volume> {
        let path = format!("/volumes/{}", seg(volume_id));
        let body = serde_json::json!({ "volume": update });
        let r: Envelope<Volume> = self
            .send_json(Service::Volume, Method::PUT, &path, caller, &body)
            .await?;
        Ok(r.volume)
    }

    /// `POST /snapshots` (202): snapshots a volume; the answer is
    /// `CREATING` and its id is already a usable image id.
    ///
    /// Cyclades refuses with 400 `badRequest` a volume that is unknown,
    /// another user's or deleted ("Volume N not found": `get_volume` is
    /// called with `exception=faults.BadRequest`), detached, not
    /// `AVAILABLE`/`IN_USE` (e.g. `CREATING` while its server builds), or
    /// of a disk template other than `ext_*`; a full Pithos quota is 413
    /// `overLimit` (`volume/views.py` `create_snapshot`,
    /// `volume/snapshots.py` `create`). A write: never retried.
    pub async fn create_snapshot(
        &self,
        caller: &Caller,
        snapshot: &NewSnapshot,
    ) -> Result<Snapshot> {
        let body = serde_json::json!({ "snapshot": snapshot });
        let r: OneSnapshot = self
            .send_json(Service::Volume, Method::POST, "/snapshots", caller, &body)
            .await?;
        Ok(r.snapshot)
    }

    /// `GET /snapshots/{id}` (404 for another user's).
    pub async fn get_snapshot(&self, caller: &Caller, snapshot_id: &str) -> Result<Snapshot> {
        let path = format!("/snapshots/{}", seg(snapshot_id));
        let r: OneSnapshot = self.get_json(Service::Volume, &path, &[], caller).await?;
        Ok(r.snapshot)
    }

    /// `GET /types`: the volume types.
    pub async fn list_volume_types(&self, caller: &Caller) -> Result<Vec<VolumeType>> {
        let r: VolumeTypes = self
            .get_json(Service::Volume, "/types", &[], caller)
            .await?;
        Ok(r.volume_types)
    }
}
