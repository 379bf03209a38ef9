//! One server create, carried out to a known end whatever happens to the
//! request that asked for it.
//!
//! A create whose answer the gateway never gets (a timeout, a connection
//! reset after the request left, a 5xx from a front end of Synnefo's) may
//! still have made a server; a client told "failed" retries, and each
//! retry makes another. So every create carries a one-time tag in the
//! server's metadata ([`CREATE_TAG`]) and runs in a task of its own, not
//! in the request's future:
//!
//! - made: the request gets its 201; if the request is gone meanwhile
//!   (the `timeout` filter answered it, the client hung up), the client
//!   was told it failed, so the server is deleted again, with the floating
//!   IPs reserved for it;
//! - failed where Synnefo may have acted: the tag is looked up at once; a
//!   server found is the create's after all (201). None found: the answer
//!   says so, and the task keeps looking for a while (Synnefo may still be
//!   committing the create), deleting what turns up: a failed create never
//!   leaves a server behind, and no answer claims more than was checked;
//! - refused (4xx): nothing was made; the floating IPs reserved for it are
//!   released.
//!
//! On the floating IPs: see the private `attempt` below.

use std::time::Duration;

use http::StatusCode;

use crate::synnefo::{
    FloatingIp, NetworkRef, NewFloatingIp, NewServer, Server, Service, SynnefoError,
};

use super::collection::Ctx;
use super::error::AppError;

/// The server metadata key of a create's one-time tag.
pub const CREATE_TAG: &str = "snf-occi-create";

/// Synnefo's 409 message when a server needs a floating IP first.
const NEEDS_FLOATING_IP: &str = "Please create a floating IP";

/// How long a server made for a request that is gone, or turning up
/// after a failed create, may take to be deleted (its build may have to
/// end first) before the task gives up and logs it.
const REMOVE_PATIENCE: Duration = Duration::from_secs(600);

/// Creates `new` (which must carry a [`CREATE_TAG`]) in a task of its own
/// and answers with the server made, or why none was.
pub async fn create_server(ctx: &Ctx, new: &NewServer) -> Result<Server, AppError> {
    let (answer, wait) = tokio::sync::oneshot::channel();
    let (task_ctx, new) = (ctx.clone(), new.clone());
    tokio::spawn(async move { run(task_ctx, new, answer).await });
    wait.await.unwrap_or_else(|_| {
        Err(AppError::synnefo(
            "create server",
            SynnefoError::Lost {
                service: Service::Compute,
                reason: "the create was interrupted".to_owned(),
            },
        ))
    })
}

type Answer = tokio::sync::oneshot::Sender<Result<Server, AppError>>;

async fn run(ctx: Ctx, new: NewServer, answer: Answer) {
    let tag = new.metadata.get(CREATE_TAG).cloned().unwrap_or_default();
    let Attempt {
        result,
        new,
        reserved,
    } = attempt(&ctx, new).await;
    let named: Vec<FloatingIp> = reserved
        .iter()
        .filter(|ip| names(&new, ip))
        .cloned()
        .collect();
    match result {
        Ok(server) => {
            release(&ctx, reserved.iter().filter(|ip| !names(&new, ip))).await;
            deliver(&ctx, answer, server, named).await;
        }
        Err(e) if e.may_have_acted() => match tagged(&ctx, &tag).await {
            Ok(Some(server)) => {
                release(&ctx, reserved.iter().filter(|ip| !names(&new, ip))).await;
                deliver(&ctx, answer, server, named).await;
            }
            found => {
                let checked = found.is_ok();
                let window = watch_window(&ctx);
                let step = if checked {
                    format!(
                        "create server (Synnefo gave no answer to trust; no server of this \
                         create exists now, and one that appears within {}s will be deleted)",
                        window.as_secs()
                    )
                } else {
                    format!(
                        "create server (Synnefo gave no answer to trust, and could not be \
                         asked whether it made the server; one that appears within {}s will \
                         be deleted)",
                        window.as_secs()
                    )
                };
                let _ = answer.send(Err(AppError::synnefo(step, e)));
                watch(&ctx, &tag, reserved, window).await;
            }
        },
        Err(e) => {
            release(&ctx, reserved.iter()).await;
            let _ = answer.send(Err(AppError::synnefo("create server", e)));
        }
    }
}

/// Hands `server` to the request, or, when the request is gone, deletes
/// it again (with the floating IPs reserved for it).
async fn deliver(ctx: &Ctx, answer: Answer, server: Server, reserved: Vec<FloatingIp>) {
    if let Err(Ok(server)) = answer.send(Ok(server)) {
        tracing::warn!(server = %server.id,
            "the request of a server create ended before its answer: deleting the server");
        remove(ctx, &server.id, reserved).await;
    }
}

/// How long a failed create is watched for a late server: the
/// configured `create_watch`, else twice the per-call timeout, at least a
/// minute.
fn watch_window(ctx: &Ctx) -> Duration {
    ctx.state
        .config
        .create_watch
        .unwrap_or_else(|| (ctx.state.client.config().timeout * 2).max(Duration::from_secs(60)))
}

/// Looks for the server tagged `tag` until `window` is over, deleting it
/// if it turns up; then releases what is left of `reserved`.
async fn watch(ctx: &Ctx, tag: &str, reserved: Vec<FloatingIp>, window: Duration) {
    let deadline = tokio::time::Instant::now() + window;
    while !window.is_zero() {
        if let Ok(Some(server)) = tagged(ctx, tag).await {
            tracing::warn!(server = %server.id,
                "a failed server create made a server after all: deleting it");
            remove(ctx, &server.id, reserved).await;
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    release(ctx, reserved.iter()).await;
}

/// The caller's server carrying `tag`, if any.
async fn tagged(ctx: &Ctx, tag: &str) -> Result<Option<Server>, SynnefoError> {
    if tag.is_empty() {
        return Ok(None);
    }
    let servers = ctx.client().list_servers_detail(&ctx.caller).await?;
    Ok(servers
        .into_iter()
        .filter(|s| !super::compute::mapping::is_gone(s))
        .find(|s| s.metadata.get(CREATE_TAG).is_some_and(|t| t == tag)))
}

/// Deletes server `id` (waiting out its build), then releases `ips`
/// (which its ports hold until the delete job ends), within
/// [`REMOVE_PATIENCE`].
async fn remove(ctx: &Ctx, id: &str, ips: Vec<FloatingIp>) {
    let deadline = tokio::time::Instant::now() + REMOVE_PATIENCE;
    loop {
        match ctx.client().delete_server(&ctx.caller, id).await {
            Ok(()) => break,
            Err(e) if e.is_not_found() => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(server = %id, error = %e, "deleting an unwanted server: not yet");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => {
                tracing::warn!(server = %id, error = %e,
                    "could not delete a server no request wanted: /compute/{id} stays");
                return;
            }
        }
    }
    for ip in ips {
        loop {
            match ctx.client().delete_floating_ip(&ctx.caller, &ip.id).await {
                Ok(()) => break,
                Err(e) if e.is_not_found() => break,
                // In use until the server's ports are gone.
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => {
                    tracing::warn!(floating_ip = %ip.id, error = %e,
                        "could not release a floating IP reserved for an unwanted server");
                    break;
                }
            }
        }
    }
}

/// Releases floating IPs reserved for a create that does not use them.
async fn release<'a>(ctx: &Ctx, ips: impl Iterator<Item = &'a FloatingIp>) {
    for ip in ips {
        if let Err(e) = ctx.client().delete_floating_ip(&ctx.caller, &ip.id).await
            && !e.is_not_found()
        {
            tracing::warn!(floating_ip = %ip.id, error = %e,
                "could not release a floating IP reserved for a server create");
        }
    }
}

/// Whether `new` connects through `ip`.
fn names(new: &NewServer, ip: &FloatingIp) -> bool {
    new.networks
        .iter()
        .flatten()
        .any(|n| n.fixed_ip.as_deref() == Some(ip.floating_ip_address.as_str()))
}

/// What [`attempt`] ends with: Synnefo's last answer, the create as last
/// sent, and the floating IPs reserved for it.
struct Attempt {
    result: Result<Server, SynnefoError>,
    new: NewServer,
    reserved: Vec<FloatingIp>,
}

/// `POST /servers`; when Synnefo answers that the server needs a floating
/// IP first (409 "... Please create a floating IP."), reserves one for
/// this create and sends the create again naming it (bounded by
/// `create_server_max_retries`).
///
/// Naming the address matters: Cyclades connects a server that names only
/// a public network (or none, on a site whose default networks are
/// public) to *any* free floating IP of the user
/// (`logic/ips.py` `get_free_floating_ip`), so two creates of one user
/// that each reserved an address would take each other's. The reserved
/// address replaces the request's entry for that network without an
/// address, or is added when the request named no network (the site's
/// default networks asked for it; the server then gets exactly that
/// public interface). An address another client took meanwhile is
/// replaced by a new reservation.
async fn attempt(ctx: &Ctx, mut new: NewServer) -> Attempt {
    let max = u64::from(ctx.state.config.create_server_max_retries);
    let mut reserved: Vec<FloatingIp> = Vec::new();
    loop {
        let e = match ctx.client().create_server(&ctx.caller, &new).await {
            Ok(s) => {
                return Attempt {
                    result: Ok(s),
                    new,
                    reserved,
                };
            }
            Err(e) => e,
        };
        let retry = (reserved.len() as u64) < max;
        let conflict = e.status() == Some(StatusCode::CONFLICT);
        let message = e.user_message();
        let (network, replacing) = if conflict && retry && message.contains(NEEDS_FLOATING_IP) {
            (network_named_in(&message), None)
        } else if let Some(taken) = reserved
            .iter()
            .find(|ip| conflict && retry && message.contains(&ip.floating_ip_address))
            .cloned()
        {
            (taken.floating_network_id.clone(), Some(taken))
        } else {
            return Attempt {
                result: Err(e),
                new,
                reserved,
            };
        };
        let ip = NewFloatingIp {
            floating_network_id: network,
            floating_ip_address: None,
            project: ctx.auth.project.as_deref().map(str::to_owned),
        };
        match ctx.client().create_floating_ip(&ctx.caller, &ip).await {
            Ok(created) => {
                name_floating_ip(&mut new, &created, replacing.as_ref());
                reserved.push(created);
            }
            Err(e) => {
                return Attempt {
                    result: Err(e),
                    new,
                    reserved,
                };
            }
        }
    }
}

/// The network a "Please create a floating IP" fault names: Cyclades says
/// `... to connect server to network '1'. Please create a floating IP.`
/// for a public network the request named (`logic/ips.py`
/// `get_free_floating_ip`), and `... to a public network. ...` for the
/// site's default networks (then any floating IP pool will do).
fn network_named_in(message: &str) -> Option<String> {
    let rest = &message[message.find("network '")? + "network '".len()..];
    let id = &rest[..rest.find('\'')?];
    (!id.is_empty()).then(|| id.to_owned())
}

/// Makes `new` connect through floating IP `ip`: it takes the place of
/// `replacing` (an address taken by someone else), else of the first entry
/// for its network without an address, else it is added.
fn name_floating_ip(new: &mut NewServer, ip: &FloatingIp, replacing: Option<&FloatingIp>) {
    let network = ip.floating_network_id.clone().unwrap_or_default();
    let entry = NetworkRef::floating_ip(network.clone(), ip.floating_ip_address.clone());
    let networks = new.networks.get_or_insert_with(Vec::new);
    let slot = match replacing {
        Some(old) => networks
            .iter()
            .position(|n| n.fixed_ip.as_deref() == Some(old.floating_ip_address.as_str())),
        None => networks.iter().position(|n| {
            n.uuid.as_deref() == Some(network.as_str()) && n.fixed_ip.is_none() && n.port.is_none()
        }),
    };
    match slot {
        Some(i) => networks[i] = entry,
        None => networks.push(entry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floating(instance: Option<&str>, port: Option<&str>) -> FloatingIp {
        serde_json::from_value(serde_json::json!({
            "id": "9", "floating_ip_address": "83.212.0.5", "floating_network_id": "1",
            "instance_id": instance, "port_id": port,
        }))
        .expect("floating IP")
    }

    #[test]
    fn the_network_a_floating_ip_fault_names_is_read_from_cyclades_message() {
        assert_eq!(
            network_named_in(
                "Cannot find an unused floating IP to connect server to network '7'. Please create a floating IP."
            )
            .as_deref(),
            Some("7")
        );
        assert_eq!(
            network_named_in(
                "Cannot find an unused floating IP to connect server to a public network. Please create a floating IP."
            ),
            None
        );
        assert_eq!(network_named_in("network ''"), None);
    }

    #[test]
    fn a_reserved_floating_ip_is_named_in_the_create_that_reserved_it() {
        let ip = floating(None, None);
        // The default networks asked for it: the create names it alone.
        let mut new = NewServer::default();
        name_floating_ip(&mut new, &ip, None);
        assert_eq!(
            new.networks,
            Some(vec![NetworkRef::floating_ip("1", "83.212.0.5")])
        );
        // A public network named without an address takes it; the other
        // entries stay as they were.
        let mut new = NewServer {
            networks: Some(vec![NetworkRef::network("5"), NetworkRef::network("1")]),
            ..NewServer::default()
        };
        name_floating_ip(&mut new, &ip, None);
        assert_eq!(
            new.networks,
            Some(vec![
                NetworkRef::network("5"),
                NetworkRef::floating_ip("1", "83.212.0.5")
            ])
        );
        // An address another client took is replaced by the new one.
        let mut other = floating(None, None);
        other.floating_ip_address = "83.212.0.6".into();
        name_floating_ip(&mut new, &other, Some(&ip));
        assert_eq!(
            new.networks,
            Some(vec![
                NetworkRef::network("5"),
                NetworkRef::floating_ip("1", "83.212.0.6")
            ])
        );
    }
}
