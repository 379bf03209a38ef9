//! Images as Cyclades' compute API and Plankton list them: the seeded
//! public images, then each user's own snapshots (a snapshot is an image
//! in Synnefo, private to its owner and bootable by them).

use std::time::Instant;

use serde_json::{Value, json};

use super::World;
use super::snapshots::Snapshot;
use crate::fault::Fault;
use crate::seed::ImageSeed;
use snf_occi_types::timestamp::format_rfc3339;

impl World {
    /// An image's links (`api/util.py` `image_to_links`): self and
    /// bookmark in the compute API, alternate in Plankton.
    pub(super) fn image_links(&self, id: &str) -> Value {
        let href = format!("{}/compute/v2.0/images/{id}", self.base);
        let alternate = format!("{}/image/v1.0/images/{id}", self.base);
        json!([{"href": href, "rel": "self"}, {"href": href, "rel": "bookmark"}, {"href": alternate, "rel": "alternate"}])
    }

    /// An image as `api/images.py` `image_to_dict` shows it: only id and
    /// name without detail.
    fn image_json(&self, i: &ImageSeed, detail: bool) -> Value {
        let mut v = json!({"id": i.id, "name": i.name});
        if detail && let Some(o) = v.as_object_mut() {
            o.insert("links".into(), self.image_links(&i.id));
            let created = format_rfc3339(self.token_issued);
            o.insert("status".into(), json!("ACTIVE"));
            o.insert("progress".into(), json!(100));
            o.insert("created".into(), json!(created));
            o.insert("updated".into(), json!(created));
            o.insert("user_id".into(), json!("snf-images"));
            o.insert("tenant_id".into(), json!("snf-images"));
            o.insert("public".into(), json!(true));
            o.insert("is_snapshot".into(), json!(false));
            o.insert(
                "metadata".into(),
                json!({"os": i.os, "users": i.users, "osfamily": i.osfamily, "ROOT_PARTITION": "1", "description": i.name}),
            );
        }
        v
    }

    /// A snapshot as Cyclades' image API shows it (`api/images.py`
    /// `image_to_dict`: Plankton status `CREATING` is `SAVING`,
    /// `AVAILABLE` is `ACTIVE`; `is_snapshot` true; private to its owner).
    fn snapshot_image_json(&self, s: &Snapshot, detail: bool, now: Instant) -> Value {
        let mut v = json!({"id": s.id, "name": s.name});
        if detail && let Some(o) = v.as_object_mut() {
            o.insert("links".into(), self.image_links(&s.id));
            let ready = s.ready(now);
            let created = format_rfc3339(s.created);
            o.insert(
                "status".into(),
                json!(if ready { "ACTIVE" } else { "SAVING" }),
            );
            o.insert("progress".into(), json!(if ready { 100 } else { 0 }));
            o.insert("created".into(), json!(created));
            o.insert("updated".into(), json!(created));
            o.insert("user_id".into(), json!(s.owner));
            o.insert("tenant_id".into(), json!(s.owner));
            o.insert("public".into(), json!(false));
            o.insert("is_snapshot".into(), json!(true));
            o.insert("metadata".into(), json!(s.properties));
        }
        v
    }

    /// The caller's snapshot `id`, if any (another user's is invisible).
    pub(super) fn own_snapshot(&self, user: &str, id: &str) -> Option<&Snapshot> {
        self.snapshots.get(id).filter(|s| s.owner == user)
    }

    /// Whether `user` may boot `id`: a public image or one of their
    /// snapshots.
    pub(super) fn usable_image(&self, user: &str, id: &str) -> bool {
        self.images.iter().any(|i| i.id == id) || self.own_snapshot(user, id).is_some()
    }

    /// `GET /images[/detail]`: the public images, then the caller's own
    /// snapshots (Plankton lists every image the user may read).
    pub fn list_images(&self, user: &str, detail: bool, now: Instant) -> Value {
        let public = self.images.iter().map(|i| self.image_json(i, detail));
        let own = self
            .snapshots
            .values()
            .filter(|s| s.owner == user)
            .map(|s| self.snapshot_image_json(s, detail, now));
        json!({"images": public.chain(own).collect::<Vec<_>>()})
    }

    /// `GET /images/{id}`.
    pub fn get_image(&self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        if let Some(s) = self.own_snapshot(user, id) {
            return Ok(json!({"image": self.snapshot_image_json(s, true, now)}));
        }
        let i = self
            .images
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| Fault::not_found(format!("Image '{id}' not found")))?;
        Ok(json!({"image": self.image_json(i, true)}))
    }

    /// Plankton `GET /image/v1.0/images[/detail]`: a bare JSON list, the
    /// public images then the caller's snapshots.
    pub fn plankton_images(&self, user: &str, detail: bool, now: Instant) -> Value {
        let public = self.images.iter().map(|i| {
            let mut v = json!({"id": i.id, "name": i.name, "container_format": "bare", "disk_format": "diskdump", "size": i.size, "status": "available"});
            if detail && let Some(o) = v.as_object_mut() {
                let t = format_rfc3339(self.token_issued);
                o.insert("is_public".into(), json!(true));
                o.insert("owner".into(), json!("snf-images"));
                o.insert("created_at".into(), json!(t));
                o.insert("updated_at".into(), json!(t));
                o.insert("deleted_at".into(), json!(""));
                o.insert("checksum".into(), json!(""));
                o.insert("location".into(), json!(format!("pithos://snf-images/images/{}", i.name)));
                o.insert("properties".into(), json!({"os": i.os, "users": i.users, "osfamily": i.osfamily, "ROOT_PARTITION": "1"}));
            }
            v
        });
        let own = self.snapshots.values().filter(|s| s.owner == user).map(|s| {
            let status = if s.ready(now) { "AVAILABLE" } else { "CREATING" };
            let mut v = json!({"id": s.id, "name": s.name, "container_format": "bare", "disk_format": "diskdump", "size": s.size << 30, "status": status});
            if detail && let Some(o) = v.as_object_mut() {
                let t = format_rfc3339(s.created);
                o.insert("is_public".into(), json!(false));
                o.insert("is_snapshot".into(), json!(true));
                o.insert("owner".into(), json!(s.owner));
                o.insert("created_at".into(), json!(t));
                o.insert("updated_at".into(), json!(t));
                o.insert("deleted_at".into(), json!(""));
                o.insert("checksum".into(), json!(""));
                o.insert("location".into(), json!(format!("pithos://{}/snapshots/{}", s.owner, s.file_name)));
                o.insert("properties".into(), json!(s.properties));
            }
            v
        });
        Value::Array(public.chain(own).collect())
    }
}
