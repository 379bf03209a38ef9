//! How a Synnefo server looks as an OCCI compute: its state, the actions
//! that apply, its links (network interfaces, storage links, pending
//! inline storage), and the one read of a server every operation starts
//! with.

use crate::occi::infrastructure::{
    COMPUTE, COMPUTE_RESTART, COMPUTE_SAVE, COMPUTE_START, COMPUTE_STOP, COMPUTE_SUSPEND,
    IPNETWORKINTERFACE, NETWORK, NETWORKINTERFACE, OS_TPL_SCHEME, RESOURCE_TPL_SCHEME, attr,
};
use crate::occi::{EntityRef, Link, Resource};
use crate::synnefo::transport::Answer;
use crate::synnefo::{Client, Server, ServerStatus};

use super::location;
use crate::app::Suspend;
use crate::app::attach;
use crate::app::collection::Ctx;
use crate::app::error::AppError;
use crate::app::ids::is_server_id;
use crate::app::storagelink::{Attachment, pending_storage_link, storage_link};
use crate::app::templates::TemplateCatalog;

/// The OCCI state of a Synnefo status, and the state message (the Synnefo
/// status) for the transitional ones; `None` for DELETED (the server is
/// gone: 404).
pub fn state_of(status: &ServerStatus) -> Option<(&'static str, Option<String>)> {
    match status {
        ServerStatus::Active => Some(("active", None)),
        ServerStatus::Stopped => Some(("inactive", None)),
        ServerStatus::Error => Some(("error", None)),
        ServerStatus::Deleted => None,
        other => Some(("inactive", Some(other.as_str().to_owned()))),
    }
}

/// The actions applicable in `status`: `save` wherever start, stop or
/// restart applies (a running or a stopped server's disk can be
/// snapshotted); `suspend` only where the site made it a shutdown
/// (`suspend`), then where `stop` applies.
pub fn actions_of(status: &ServerStatus, suspend: Suspend) -> Vec<String> {
    match status {
        ServerStatus::Active if suspend == Suspend::Shutdown => vec![
            COMPUTE_STOP.to_owned(),
            COMPUTE_RESTART.to_owned(),
            COMPUTE_SUSPEND.to_owned(),
            COMPUTE_SAVE.to_owned(),
        ],
        ServerStatus::Active => vec![
            COMPUTE_STOP.to_owned(),
            COMPUTE_RESTART.to_owned(),
            COMPUTE_SAVE.to_owned(),
        ],
        ServerStatus::Stopped => vec![COMPUTE_START.to_owned(), COMPUTE_SAVE.to_owned()],
        _ => Vec::new(),
    }
}

fn gib(mib: u64) -> f64 {
    mib as f64 / 1024.0
}

/// Whether the server is gone for its owner: deleted, or being deleted
/// (Cyclades shows a server whose delete job runs with its last status
/// and `SNF:task_state` `DESTROYING` until the job ends, then `DELETED`).
pub fn is_gone(server: &Server) -> bool {
    server.status == ServerStatus::Deleted
        || server
            .task_state
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("DESTROYING"))
}

/// The OCCI resource of a server with its links. NICs and volume ids
/// come with the server; `attachment` says at which index a volume is
/// attached and whether a job on it runs (from the volumes' details), for
/// its storage link's device id and state, and `catalog` gives the
/// template terms and the flavor's size.
/// `None` for a server that [`is_gone`].
pub fn to_resource(
    server: &Server,
    catalog: Option<&TemplateCatalog>,
    attachment: impl Fn(&str) -> Attachment,
    suspend: Suspend,
) -> Option<Resource> {
    if is_gone(server) {
        return None;
    }
    let (state, message) = state_of(&server.status)?;
    let loc = location(&server.id);
    let mut r = Resource::new(COMPUTE, server.id.clone(), loc.clone());
    if let Some(image) = &server.image {
        let term = catalog.map_or(image.id.as_str(), |c| c.image_term(&image.id));
        r.mixins.push(format!("{OS_TPL_SCHEME}{term}"));
    }
    if let Some(flavor) = &server.flavor {
        let term = catalog.map_or(flavor.id.as_str(), |c| c.flavor_term(&flavor.id));
        r.mixins.push(format!("{RESOURCE_TPL_SCHEME}{term}"));
    }
    let a = &mut r.attributes;
    a.set(attr::TITLE, server.name.clone());
    a.set(attr::COMPUTE_HOSTNAME, server.name.clone());
    let flavor = server
        .flavor
        .as_ref()
        .and_then(|f| catalog?.flavor_by_id(&f.id));
    if let Some(f) = flavor {
        a.set(attr::COMPUTE_CORES, f.vcpus as i64);
        a.set(attr::COMPUTE_MEMORY, gib(f.ram));
    }
    a.set(attr::COMPUTE_STATE, state);
    if let Some(m) = message {
        a.set(attr::COMPUTE_STATE_MESSAGE, m);
    }
    r.actions = actions_of(&server.status, suspend);
    let source = EntityRef::new(loc.clone(), COMPUTE);
    for (i, nic) in server.attachments.iter().enumerate() {
        let id = format!("{}_{}", server.id, nic.id);
        let mut l = Link::new(
            NETWORKINTERFACE,
            id.clone(),
            format!("/networkinterface/{id}"),
            source.clone(),
            EntityRef::new(format!("/network/{}", nic.network_id), NETWORK),
        );
        l.mixins.push(IPNETWORKINTERFACE.to_owned());
        l.attributes.set(attr::NI_INTERFACE, format!("eth{i}"));
        if let Some(mac) = &nic.mac_address {
            l.attributes.set(attr::NI_MAC, mac.clone());
        }
        l.attributes.set(attr::NI_STATE, "active");
        let address = if nic.ipv4.is_empty() {
            &nic.ipv6
        } else {
            &nic.ipv4
        };
        if !address.is_empty() {
            l.attributes.set(attr::NI_ADDRESS, address.clone());
        }
        l.attributes.set(attr::NI_ALLOCATION, "dynamic");
        r.links.push(l);
    }
    for volume in &server.volumes {
        // The link as `/storagelink/<id>` renders it (one link, one
        // rendering): the device id comes from the volume's attachment.
        r.links
            .push(storage_link(&server.id, volume, attachment(volume)));
    }
    // Storage linked inline with the create, attached once the compute is
    // built (see `crate::app::attach`).
    for volume in attach::pending(server) {
        r.links.push(pending_storage_link(&server.id, &volume));
    }
    Some(r)
}

/// Fetches the caller's server `id` (404 for an invalid id, another
/// user's server or a deleted one).
pub async fn get_server(ctx: &Ctx, id: &str) -> Result<Server, AppError> {
    let answer = get_server_answer(ctx, id).await?;
    server_in(id, &answer)
}

/// Cyclades' answer for the caller's server `id`, not decoded yet (404
/// for an invalid id or another user's server; [`server_in`] decodes).
pub async fn get_server_answer(ctx: &Ctx, id: &str) -> Result<Answer, AppError> {
    if !is_server_id(id) {
        return Err(no_compute(id));
    }
    match ctx.client().get_server_answer(&ctx.caller, id).await {
        Ok(answer) => Ok(answer),
        Err(e) if e.is_not_found() => Err(no_compute(id)),
        Err(e) => Err(AppError::synnefo(format!("get server {id}"), e)),
    }
}

/// The server of [`get_server_answer`]'s answer (404 for a deleted one).
pub fn server_in(id: &str, answer: &[u8]) -> Result<Server, AppError> {
    match Client::decode_server(answer) {
        Ok(s) if is_gone(&s) => Err(no_compute(id)),
        Ok(s) => Ok(s),
        Err(e) => Err(AppError::synnefo(format!("get server {id}"), e)),
    }
}

/// The 404 of a compute that is not the caller's (or not at all).
pub fn no_compute(id: &str) -> AppError {
    AppError::NotFound(format!("no compute {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_applicable_actions_follow_the_design() {
        assert_eq!(state_of(&ServerStatus::Active), Some(("active", None)));
        assert_eq!(state_of(&ServerStatus::Stopped), Some(("inactive", None)));
        assert_eq!(
            state_of(&ServerStatus::Build),
            Some(("inactive", Some("BUILD".to_owned())))
        );
        assert_eq!(
            state_of(&ServerStatus::Reboot),
            Some(("inactive", Some("REBOOT".to_owned())))
        );
        assert_eq!(state_of(&ServerStatus::Error), Some(("error", None)));
        assert_eq!(state_of(&ServerStatus::Deleted), None);
        for suspend in [Suspend::Refuse, Suspend::Shutdown] {
            assert_eq!(
                actions_of(&ServerStatus::Stopped, suspend),
                [COMPUTE_START, COMPUTE_SAVE]
            );
            assert!(actions_of(&ServerStatus::Build, suspend).is_empty());
            assert!(actions_of(&ServerStatus::Error, suspend).is_empty());
        }
        assert_eq!(
            actions_of(&ServerStatus::Active, Suspend::Refuse),
            [COMPUTE_STOP, COMPUTE_RESTART, COMPUTE_SAVE]
        );
        assert_eq!(
            actions_of(&ServerStatus::Active, Suspend::Shutdown),
            [COMPUTE_STOP, COMPUTE_RESTART, COMPUTE_SUSPEND, COMPUTE_SAVE]
        );
    }
}
