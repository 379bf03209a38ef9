//! `/storagelink/`: volume attachments as OCCI storage links.
//!
//! A link's id is `<server id>_<volume id>` (see [`super::ids`]): Synnefo
//! attaches a volume to at most one server and names the attachment by
//! the volume id, so the pair finds the attachment with no lookup table.
//!
//! - list = `GET /volumes/detail` (1 call): every attachment of every
//!   volume of the caller.
//! - show = `GET /volumes/{volume}` (1 call): 404 unless attached to
//!   that server.
//! - create = attach: `occi.core.source` a `/compute/<id>` and
//!   `occi.core.target` a `/storage/<id>` (only their ids are used, the
//!   URLs are never fetched); `POST /servers/{id}/os-volume_attachments`.
//! - delete = detach: `DELETE /servers/{id}/os-volume_attachments/{vol}`.
//! - No actions. An update may tag the link with the caller's mixins
//!   (see [`super::handlers`]) and resend its current attributes; any
//!   other value is a 409: an attachment cannot be changed, only detached
//!   and attached again.

use crate::occi::infrastructure::{self, COMPUTE, STORAGE, attr};
use crate::occi::{Attributes, EntityRef, Link, OcciRequest};
use crate::synnefo::{SynnefoError, Volume};
use http::StatusCode;

use super::busy;
use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::ids::{id_in, is_object_id, is_server_id, split_link_id};
use super::update::fixed_entity;

/// `/storagelink/`: volume attachments.
pub struct StorageLink;

/// The `occi.storagelink.deviceid` of the disk at Synnefo index `index`
/// (`attachments[].device_index`, the volume's Ganeti disk index; 0 is
/// the root disk): the name a paravirtual disk at that index gets in a
/// Linux guest, Ganeti's KVM default (`/dev/vda`, `/dev/vdb`, ...,
/// `/dev/vdz`, `/dev/vdaa`). Cyclades itself names no device (its
/// attachment `device` is always `""`); the index is what it knows.
/// Clients key on it: IM never detaches or deletes a disk whose device
/// ends in `vda` (the root).
///
/// ```
/// use snf_occi::app::storagelink::device_id;
/// assert_eq!(device_id(0), "/dev/vda");
/// assert_eq!(device_id(2), "/dev/vdc");
/// assert_eq!(device_id(25), "/dev/vdz");
/// assert_eq!(device_id(26), "/dev/vdaa");
/// ```
pub fn device_id(index: u32) -> String {
    // Bijective base 26, as Linux names disks: a..z, aa..az, ba...
    let mut letters = Vec::new();
    let mut n = u64::from(index) + 1;
    while n > 0 {
        n -= 1;
        letters.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    format!("/dev/vd{}", String::from_utf8_lossy(&letters))
}

/// The disk index of `volume` on server `server_id`, if it is attached
/// there and Synnefo says at which index.
pub fn disk_index(volume: &Volume, server_id: &str) -> Option<u32> {
    volume
        .attachments
        .iter()
        .find(|a| a.server_id == server_id)
        .and_then(|a| a.device_index.as_deref())
        .and_then(|i| i.parse().ok())
}

/// What a storage link shows of its volume's attachment: the disk index
/// (its device id) and where the attachment stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attachment {
    /// The disk index, when Synnefo says it.
    pub index: Option<u32>,
    /// A job on the attachment, or its failure (`None`: attached).
    pub job: Option<AttachmentJob>,
}

/// Where an attachment stands while it is not simply in use: Cyclades
/// attaches and detaches a volume in a Ganeti job, during which the
/// volume's status says so (`attaching`, `detaching`; `creating` for a
/// disk made with its server), and `error` when the job failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentJob {
    /// Being attached (or created with its server).
    Attaching,
    /// Being detached (or deleted).
    Detaching,
    /// The volume is in error.
    Failed,
}

impl Attachment {
    /// `volume`'s attachment to server `server_id`.
    pub fn of(volume: &Volume, server_id: &str) -> Attachment {
        let status = volume.status.as_deref().unwrap_or_default();
        let job = if status.eq_ignore_ascii_case("attaching")
            || status.eq_ignore_ascii_case("creating")
        {
            Some(AttachmentJob::Attaching)
        } else if status.eq_ignore_ascii_case("detaching")
            || status.eq_ignore_ascii_case("deleting")
        {
            Some(AttachmentJob::Detaching)
        } else if status.eq_ignore_ascii_case("error") {
            Some(AttachmentJob::Failed)
        } else {
            None
        };
        Attachment {
            index: disk_index(volume, server_id),
            job,
        }
    }
}

/// Whether volume `volume_id` is no longer attached to server `server_id`
/// (gone, or an error that says nothing: the caller stops waiting).
pub async fn detached(ctx: &Ctx, server_id: &str, volume_id: &str) -> bool {
    match ctx.client().get_volume(&ctx.caller, volume_id).await {
        Ok(v) => !v.attachments.iter().any(|a| a.server_id == server_id),
        Err(_) => true,
    }
}

/// Whether `volume` is the root disk (index 0) of server `server_id`.
pub fn is_root_disk(volume: &Volume, server_id: &str) -> bool {
    disk_index(volume, server_id) == Some(0)
}

/// The storage link of volume `volume_id` attached to `server_id` at
/// disk `index`, as rendered on its own and inline in its source
/// compute: one link, one rendering. The device id is left out only when
/// the index is unknown (a volume attached between the two reads a
/// compute show makes).
pub fn storage_link(server_id: &str, volume_id: &str, attachment: Attachment) -> Link {
    let id = format!("{server_id}_{volume_id}");
    let mut l = Link::new(
        infrastructure::STORAGELINK,
        id.clone(),
        format!("/{}/{id}", StorageLink::PATH),
        EntityRef::new(format!("/compute/{server_id}"), COMPUTE),
        EntityRef::new(format!("/storage/{volume_id}"), STORAGE),
    );
    if let Some(index) = attachment.index {
        l.attributes.set(attr::SL_DEVICEID, device_id(index));
    }
    let (state, message) = match attachment.job {
        None => ("active", None),
        Some(AttachmentJob::Attaching) => ("inactive", Some("attaching")),
        Some(AttachmentJob::Detaching) => ("inactive", Some("detaching")),
        Some(AttachmentJob::Failed) => ("error", Some("the volume is in error")),
    };
    l.attributes.set(attr::SL_STATE, state);
    if let Some(message) = message {
        l.attributes.set(attr::SL_STATE_MESSAGE, message);
    }
    l
}

/// The storage link of volume `volume_id`, linked inline with the create
/// of `server_id` and attached once that compute is built (see
/// [`super::attach`]): inactive, its device not known yet.
pub fn pending_storage_link(server_id: &str, volume_id: &str) -> Link {
    let mut l = storage_link(server_id, volume_id, Attachment::default());
    l.attributes.set(attr::SL_STATE, "inactive");
    l.attributes.set(
        attr::SL_STATE_MESSAGE,
        "attaching once the compute is built",
    );
    l
}

/// The storage links of a volume (one per attachment).
pub fn links_of_volume(volume: &Volume) -> Vec<Link> {
    volume
        .attachments
        .iter()
        .filter(|a| is_server_id(&a.server_id))
        .map(|a| {
            storage_link(
                &a.server_id,
                &volume.id,
                Attachment::of(volume, &a.server_id),
            )
        })
        .collect()
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no storagelink {id}"))
}

/// What a refused attach means to an OCCI client. Cyclades answers every
/// refusal with a plain 400 BadRequest, told apart by its message
/// (`logic/server_attachments.py` `attach_volume`):
/// - the volume is in use: a conflict with the storage's state (409),
///   resolved by deleting the other link;
/// - the volume's disk template is not the server's: a 400 naming the
///   storage and resource templates (read on this failure path only).
async fn attach_refused(ctx: &Ctx, server: &str, volume: &str, e: SynnefoError) -> AppError {
    let message = match &e {
        SynnefoError::Fault {
            status, message, ..
        } if *status == StatusCode::BAD_REQUEST => message.as_str(),
        _ => "",
    };
    if message.contains("IN_USE") {
        return AppError::Conflict(format!(
            "storage /storage/{volume} is already linked to a compute; \
             delete that storagelink before linking it to /compute/{server}"
        ));
    }
    if message.contains("same volume template") {
        let (vol, srv, types, catalog) = tokio::join!(
            ctx.client().get_volume(&ctx.caller, volume),
            ctx.client().get_server(&ctx.caller, server),
            ctx.state.templates.storage_types(ctx),
            ctx.state.templates.catalog(ctx)
        );
        if let (Ok(vol), Ok(srv), Ok(types), Ok(catalog)) = (vol, srv, types, catalog)
            && let Some(flavor) = srv
                .flavor
                .as_ref()
                .and_then(|f| catalog.flavor_by_id(&f.id))
        {
            return super::storage::type_mismatch(
                volume,
                vol.volume_type.as_deref(),
                &types,
                flavor,
                catalog.flavor_term(&flavor.id),
            );
        }
    }
    AppError::synnefo(format!("attaching volume {volume} to server {server}"), e)
}

/// The volume of link `id` if it is attached to the link's server.
async fn attached_volume(ctx: &Ctx, id: &str) -> Result<(String, Volume), AppError> {
    let (server, volume_id) = split_link_id(id).ok_or_else(|| not_found(id))?;
    let volume = match ctx.client().get_volume(&ctx.caller, volume_id).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() => return Err(not_found(id)),
        Err(e) => return Err(AppError::synnefo(format!("reading volume {volume_id}"), e)),
    };
    if !volume.attachments.iter().any(|a| a.server_id == server) {
        return Err(not_found(id));
    }
    Ok((server.to_owned(), volume))
}

/// The id in a link end the client sent (`occi.core.source`/`target` or
/// the inline link's target), checked against `collection`.
fn end_id<'a>(
    base: &str,
    value: Option<&'a str>,
    name: &str,
    collection: &str,
) -> Result<&'a str, AppError> {
    let value = value.ok_or_else(|| AppError::BadRequest(format!("{name} is required")))?;
    id_in(value, base, collection).ok_or_else(|| {
        AppError::BadRequest(format!(
            "{name} must be a {collection}<id> location, got {value:?}"
        ))
    })
}

impl Collection for StorageLink {
    const KIND: &'static str = infrastructure::STORAGELINK;
    const PATH: &'static str = "storagelink";

    async fn list(ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        let volumes = async {
            ctx.client()
                .list_volumes_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("listing volumes", e))
        };
        // The links of a compute being deleted went with it.
        let volumes = volumes.await?;
        let departing = if volumes.iter().any(|v| !v.attachments.is_empty()) {
            super::storage::departing_servers(ctx).await?
        } else {
            std::collections::HashSet::new()
        };
        Ok(volumes
            .iter()
            .filter(|v| !super::storage::departs_with(v, &departing))
            .flat_map(links_of_volume)
            .take(ctx.state.config.collection_limit)
            .map(Entity::from)
            .collect())
    }

    async fn show(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
        let (server, volume) = attached_volume(ctx, id).await?;
        links_of_volume(&volume)
            .into_iter()
            .find(|l| l.source.location == format!("/compute/{server}"))
            .map(Entity::from)
            .ok_or_else(|| not_found(id))
    }

    async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
        if let Some(kind) = req.kind()
            && kind.type_id() != Self::KIND
        {
            return Err(AppError::BadRequest(format!(
                "kind {} cannot be created in /storagelink/",
                kind.type_id()
            )));
        }
        let server = end_id(
            ctx.state.renderer.base_url(),
            req.attributes.get_str(attr::SOURCE),
            attr::SOURCE,
            "/compute/",
        )?;
        let volume = end_id(
            ctx.state.renderer.base_url(),
            req.attributes.get_str(attr::TARGET),
            attr::TARGET,
            "/storage/",
        )?;
        if !is_server_id(server) {
            return Err(AppError::NotFound(format!("no compute {server}")));
        }
        if !is_object_id(volume) {
            return Err(AppError::NotFound(format!("no storage {volume}")));
        }
        let attached = busy::when_idle(ctx, || {
            ctx.client().attach_volume(&ctx.caller, server, volume)
        })
        .await;
        match attached {
            Ok(_) => {}
            Err(e) if busy::is_busy(&e) => {
                return Err(busy::busy_error(
                    &format!("link /storage/{volume} to compute {server}"),
                    &e,
                ));
            }
            Err(e) => return Err(attach_refused(ctx, server, volume, e).await),
        }
        Ok(format!("{server}_{volume}"))
    }

    async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
        let (server, volume) = attached_volume(ctx, id).await?;
        if is_root_disk(&volume, &server) {
            // Cyclades refuses with a bare 400 (`logic/server_attachments.py`
            // `detach_volume`: "Cannot detach the root volume of server");
            // nothing is wrong with the request, the link is the compute's
            // boot disk: a conflict with its state, which no retry changes.
            return Err(AppError::Conflict(format!(
                "storagelink {id} links the root disk of /compute/{server} \
                 (occi.storagelink.deviceid {}): a compute's root disk cannot be \
                 unlinked; it is deleted with the compute",
                device_id(0)
            )));
        }
        busy::when_idle(ctx, || {
            ctx.client().detach_volume(&ctx.caller, &server, &volume.id)
        })
        .await
        .map_err(|e| match e {
            e if busy::is_busy(&e) => busy::busy_error(&format!("unlink storagelink {id}"), &e),
            e => AppError::synnefo(format!("detaching volume {}", volume.id), e),
        })?;
        // The detach runs as a Ganeti job: answer once the link is gone
        // (a client reads the compute next), or, past `busy_wait`, once it
        // is on its way.
        busy::settled(ctx, || detached(ctx, &server, &volume.id)).await;
        Ok(())
    }

    async fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        _attrs: &Attributes,
    ) -> Result<ActionOutcome, AppError> {
        attached_volume(ctx, id).await?;
        Err(AppError::NotImplemented(format!(
            "storagelink has no action {action}"
        )))
    }

    /// Nothing to change in Synnefo.
    type Update = ();

    async fn plan_update(
        ctx: &Ctx,
        id: &str,
        req: &OcciRequest,
        _full: bool,
    ) -> Result<(), AppError> {
        fixed_entity::<Self>(
            ctx,
            id,
            req,
            "a storagelink is a Synnefo volume attachment, which cannot be changed; detach the volume (delete the storagelink) and attach it again",
        )
        .await
    }

    async fn apply_update(_ctx: &Ctx, _id: &str, _update: ()) -> Result<(), AppError> {
        Ok(())
    }
}
