//! The inline links of a compute create (`Link:` in text, `links` in
//! JSON), sorted by target, and the storage they link checked before the
//! compute is made.

use crate::occi::OcciRequest;
use crate::synnefo::Flavor;

use crate::app::attach;
use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::app::ids::{id_in, is_object_id};

/// The inline links of a create, by target: all of them go in the server
/// create itself.
#[derive(Debug, Default)]
pub(super) struct InlineLinks {
    /// Networks to connect (`networks[].uuid`).
    pub(super) networks: Vec<String>,
    /// Volumes to attach (`block_device_mapping_v2`).
    pub(super) volumes: Vec<String>,
    /// IP reservations (floating IPs) to attach (`networks[].fixed_ip`).
    pub(super) ip_reservations: Vec<String>,
}

/// Sorts the inline links of a create by target; a target outside these
/// collections, an absolute URL not under `base`, an invalid id or an IP
/// reservation linked twice is a 400 naming it.
pub(super) fn inline_links(base: &str, req: &OcciRequest) -> Result<InlineLinks, AppError> {
    let mut links = InlineLinks::default();
    for link in &req.links {
        let target = link.target.as_str();
        let valid = |id: &str, what: &str| -> Result<String, AppError> {
            if is_object_id(id) {
                Ok(id.to_owned())
            } else {
                Err(AppError::BadRequest(format!(
                    "invalid {what} id in link target {target}"
                )))
            }
        };
        if let Some(id) = id_in(target, base, "/network/") {
            links.networks.push(valid(id, "network")?);
        } else if let Some(id) = id_in(target, base, "/storage/") {
            links.volumes.push(valid(id, "storage")?);
        } else if let Some(id) = id_in(target, base, "/ipreservation/") {
            let id = valid(id, "ipreservation")?;
            if links.ip_reservations.contains(&id) {
                // One floating IP holds one port: Cyclades would refuse
                // the second (409 "already in use").
                return Err(AppError::BadRequest(format!(
                    "the ipreservation /ipreservation/{id} is linked twice; a floating IP connects one interface"
                )));
            }
            links.ip_reservations.push(id);
        } else {
            return Err(AppError::BadRequest(format!(
                "a compute can only be linked to a /network/, /storage/ or /ipreservation/ resource, not {target}"
            )));
        }
    }
    Ok(links)
}

/// Checks that every one of `volumes` can be linked to a new compute
/// before the compute is made (Synnefo attaches them only after the
/// build, see [`attach`]): missing or another user's (404), linked
/// elsewhere (409; Synnefo volumes attach to one server at a time), not
/// ready (409) or of another volume type than the flavor's disks (400).
pub(super) async fn check_linkable(
    ctx: &Ctx,
    volumes: &[String],
    flavor: &Flavor,
) -> Result<(), AppError> {
    if volumes.is_empty() {
        return Ok(());
    }
    // A storage waiting for another new compute's build is taken too.
    // The servers are read before the volumes, not beside them: a
    // storage leaves a pending list only once its attach has been taken
    // (`attach`), so read in this order it shows in one or the other;
    // read at once, a volume read just before its attach and a listing
    // just after it showed it free (seen on the real Synnefo).
    let servers = ctx
        .client()
        .list_servers_detail(&ctx.caller)
        .await
        .map_err(|e| AppError::synnefo("list servers", e))?;
    let reads = futures_util::future::join_all(
        volumes
            .iter()
            .map(|id| async move { (id, ctx.client().get_volume(&ctx.caller, id).await) }),
    )
    .await;
    for id in volumes {
        if let Some(server) = servers
            .iter()
            .find(|s| attach::pending(s).iter().any(|v| v == id))
        {
            return Err(AppError::Conflict(format!(
                "storage /storage/{id} is already linked to /compute/{} (attached once that \
                 compute is built); delete that storagelink first or link another storage",
                server.id
            )));
        }
    }
    for (id, read) in reads {
        let volume = match read {
            Err(e) if e.is_not_found() => {
                return Err(AppError::NotFound(format!("no storage {id}")));
            }
            Err(e) => return Err(AppError::synnefo(format!("reading volume {id}"), e)),
            Ok(volume) => volume,
        };
        if let Some(other) = volume.attachments.first() {
            return Err(AppError::Conflict(format!(
                "storage /storage/{id} is already linked to /compute/{}; \
                 delete that storagelink first or link another storage",
                other.server_id
            )));
        }
        let status = volume.status.as_deref().unwrap_or("unknown");
        if !status.eq_ignore_ascii_case("available") {
            return Err(AppError::Conflict(format!(
                "storage /storage/{id} is {} (Synnefo status); link it once it is online",
                status.to_ascii_lowercase()
            )));
        }
        if let (Some(wanted), Some(has)) =
            (flavor.volume_type.as_deref(), volume.volume_type.as_deref())
            && wanted != has
        {
            let (types, catalog) = tokio::try_join!(
                ctx.state.templates.storage_types(ctx),
                ctx.state.templates.catalog(ctx)
            )?;
            return Err(crate::app::storage::type_mismatch(
                id,
                Some(has),
                &types,
                flavor,
                catalog.flavor_term(&flavor.id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn linking(targets: &[&str]) -> OcciRequest {
        OcciRequest {
            links: targets
                .iter()
                .map(|t| crate::occi::LinkRequest {
                    target: (*t).to_owned(),
                    ..Default::default()
                })
                .collect(),
            ..OcciRequest::default()
        }
    }

    #[test]
    fn inline_links_sort_targets_and_take_ip_reservations() {
        let base = "http://gw:8888";
        let links = inline_links(
            base,
            &linking(&[
                "/network/7",
                "http://gw:8888/storage/8",
                "/ipreservation/9",
                "http://gw:8888/ipreservation/10/",
            ]),
        )
        .unwrap();
        assert_eq!(links.networks, ["7"]);
        assert_eq!(links.volumes, ["8"]);
        assert_eq!(links.ip_reservations, ["9", "10"]);

        for (targets, says) in [
            (
                &["http://evil.example/ipreservation/9"][..],
                "/network/, /storage/ or /ipreservation/",
            ),
            (&["/ipreservation/a%20b"][..], "invalid ipreservation id"),
            (
                &["/ipreservation/9", "http://gw:8888/ipreservation/9"][..],
                "linked twice",
            ),
            (
                &["/compute/1"][..],
                "/ipreservation/ resource, not /compute/1",
            ),
        ] {
            let err = inline_links(base, &linking(targets)).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{targets:?}");
            assert!(err.to_string().contains(says), "{targets:?}: {err}");
        }
    }
}
