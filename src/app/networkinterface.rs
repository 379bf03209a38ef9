//! `/networkinterface/` (alias `/networklink/`): server ports as OCCI
//! network interfaces.
//!
//! A link's id is `<server id>_<port id>` (see [`super::ids`]): the port
//! names the connection and the server half lets a link be checked
//! against its source without a lookup table.
//!
//! - list = `GET /ports` (1 call): the caller's ports that have a server.
//! - show = `GET /ports/{port}` (1 call): 404 unless on that server.
//! - create: `occi.core.source` a `/compute/<id>`, `occi.core.target` one
//!   of (only the ids are used, the URLs are never fetched):
//!   - `/network/<private id>`: `POST /ports` on that network;
//!   - `/network/<public id>`: a floating IP of the caller's that is free
//!     on that network, else a new one (`POST /floatingips`), then a port
//!     with it; a floating IP allocated here is released again if the
//!     port fails;
//!   - `/ipreservation/<id>`: THAT floating IP (409 if it is in use).
//! - delete = detach: `DELETE /ports/{port}`. A floating IP stays
//!   reserved to the user after its interface is deleted; release it with
//!   `DELETE /ipreservation/<id>` (explicitly, never as a side effect).
//! - No actions. An update may tag the link with the caller's mixins
//!   (see [`super::handlers`]) and resend its current attributes; any
//!   other value is a 409: a port cannot be changed, only deleted and
//!   created again.

use crate::occi::infrastructure::{COMPUTE, IPNETWORKINTERFACE, NETWORK, NETWORKINTERFACE, attr};
use crate::occi::{Attributes, EntityRef, Link, OcciRequest};
use crate::synnefo::{FloatingIp, NewFloatingIp, NewPort, Port};

use super::busy;
use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::ids::{id_in, is_object_id, is_server_id, split_link_id};
use super::ipreservation::floating_ip;
use super::network::network;
use super::update::fixed_entity;

/// `/networkinterface/`: server ports.
pub struct NetworkInterface;

/// The network interface link of `port` (which must have a server).
pub fn port_link(port: &Port) -> Option<Link> {
    let server = port.device_id.as_deref().filter(|d| is_server_id(d))?;
    let id = format!("{server}_{}", port.id);
    let mut l = Link::new(
        NETWORKINTERFACE,
        id.clone(),
        format!("/{}/{id}", NetworkInterface::PATH),
        EntityRef::new(format!("/compute/{server}"), COMPUTE),
        EntityRef::new(format!("/network/{}", port.network_id), NETWORK),
    );
    l.mixins.push(IPNETWORKINTERFACE.to_owned());
    if let Some(mac) = port.mac_address.as_deref().filter(|m| !m.is_empty()) {
        l.attributes.set(attr::NI_MAC, mac.to_owned());
    }
    let status = port
        .status
        .as_deref()
        .unwrap_or("UNKNOWN")
        .to_ascii_uppercase();
    if status == "ACTIVE" {
        l.attributes.set(attr::NI_STATE, "active");
    } else {
        l.attributes.set(attr::NI_STATE, "inactive");
        l.attributes.set(attr::NI_STATE_MESSAGE, status);
    }
    if let Some(ip) = port.fixed_ips.first() {
        l.attributes.set(attr::NI_ADDRESS, ip.ip_address.clone());
    }
    l.attributes.set(attr::NI_ALLOCATION, "dynamic");
    Some(l)
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no networkinterface {id}"))
}

/// The port of link `id` if it is on the link's server.
async fn linked_port(ctx: &Ctx, id: &str) -> Result<Port, AppError> {
    let (server, port_id) = split_link_id(id).ok_or_else(|| not_found(id))?;
    let port = match ctx.client().get_port(&ctx.caller, port_id).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => return Err(not_found(id)),
        Err(e) => return Err(AppError::synnefo(format!("reading port {port_id}"), e)),
    };
    if port.device_id.as_deref() != Some(server) {
        return Err(not_found(id));
    }
    Ok(port)
}

/// Connects `server` through floating IP `ip` (which must be free).
async fn attach_ip(ctx: &Ctx, server: &str, ip: &FloatingIp) -> Result<Port, AppError> {
    let what = format!(
        "attaching floating IP {} to server {server}",
        ip.floating_ip_address
    );
    busy::when_idle(ctx, || {
        ctx.client().attach_floating_ip(&ctx.caller, server, ip)
    })
    .await
    .map_err(|e| match e {
        e if busy::is_busy(&e) => busy::busy_error(&what, &e),
        e => AppError::synnefo(what.clone(), e),
    })
}

/// Waits (up to `busy_wait`) while a new port is `BUILD`: Cyclades lists
/// a server's NICs only once they are active (`api/servers.py`
/// `vm_to_dict` shows `state == "ACTIVE"` NICs), so a client that
/// connects a compute and then reads it would not find the interface
/// (pOCCI's INFRA/CREATE/007 does exactly that). A port still building
/// after the wait is answered anyway: it exists, and shows in
/// `/networkinterface/` with its state.
async fn settled(ctx: &Ctx, port: &Port) {
    let building = |p: &Port| {
        p.status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("BUILD"))
    };
    if !building(port) {
        return;
    }
    let started = tokio::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(200);
    while started.elapsed() + pause <= ctx.state.config.busy_wait {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_secs(2));
        match ctx.client().get_port(&ctx.caller, &port.id).await {
            Ok(p) if !building(&p) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(port = %port.id, error = %e, "waiting for a new port");
                return;
            }
        }
    }
}

/// Connects `server` to the public network `network_id`: a free floating
/// IP of the caller's on it, else a new one (released again on failure).
async fn connect_public(ctx: &Ctx, server: &str, network_id: &str) -> Result<Port, AppError> {
    let ips = ctx
        .client()
        .list_floating_ips(&ctx.caller)
        .await
        .map_err(|e| AppError::synnefo("listing floating IPs", e))?;
    let free = ips.into_iter().find(|ip| {
        ip.port_id.is_none()
            && ip.instance_id.is_none()
            && ip.floating_network_id.as_deref() == Some(network_id)
    });
    if let Some(ip) = free {
        return attach_ip(ctx, server, &ip).await;
    }
    let ip = ctx
        .client()
        .create_floating_ip(
            &ctx.caller,
            &NewFloatingIp {
                floating_network_id: Some(network_id.to_owned()),
                floating_ip_address: None,
                project: ctx.auth.project.as_deref().map(str::to_owned),
            },
        )
        .await
        .map_err(|e| AppError::synnefo("allocating a floating IP", e))?;
    match attach_ip(ctx, server, &ip).await {
        Ok(port) => Ok(port),
        Err(e) => {
            // Undo the allocation: the user asked for a connection, not a
            // reservation.
            if let Err(undo) = ctx.client().delete_floating_ip(&ctx.caller, &ip.id).await {
                tracing::warn!(floating_ip = %ip.id, error = %undo,
                    "could not release the floating IP after its port failed");
            }
            Err(e)
        }
    }
}

impl Collection for NetworkInterface {
    const KIND: &'static str = NETWORKINTERFACE;
    const PATH: &'static str = "networkinterface";

    async fn list(ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        let ports = ctx
            .client()
            .list_ports(&ctx.caller, None)
            .await
            .map_err(|e| AppError::synnefo("listing ports", e))?;
        Ok(ports
            .iter()
            .filter_map(port_link)
            .take(ctx.state.config.collection_limit)
            .map(Entity::from)
            .collect())
    }

    async fn show(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
        let port = linked_port(ctx, id).await?;
        port_link(&port)
            .map(Entity::from)
            .ok_or_else(|| not_found(id))
    }

    async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
        if let Some(kind) = req.kind()
            && kind.type_id() != Self::KIND
        {
            return Err(AppError::BadRequest(format!(
                "kind {} cannot be created in /networkinterface/",
                kind.type_id()
            )));
        }
        let source = req
            .attributes
            .get_str(attr::SOURCE)
            .ok_or_else(|| AppError::BadRequest(format!("{} is required", attr::SOURCE)))?;
        let target = req
            .attributes
            .get_str(attr::TARGET)
            .ok_or_else(|| AppError::BadRequest(format!("{} is required", attr::TARGET)))?;
        let server =
            id_in(source, ctx.state.renderer.base_url(), "/compute/").ok_or_else(|| {
                AppError::BadRequest(format!(
                    "{} must be a /compute/<id> location, got {source:?}",
                    attr::SOURCE
                ))
            })?;
        if !is_server_id(server) {
            return Err(AppError::NotFound(format!("no compute {server}")));
        }
        let port = if let Some(ip_id) =
            id_in(target, ctx.state.renderer.base_url(), "/ipreservation/")
        {
            let ip = floating_ip(ctx, ip_id).await?;
            if ip.port_id.is_some() || ip.instance_id.is_some() {
                return Err(AppError::Conflict(format!(
                    "floating IP {} is already in use",
                    ip.floating_ip_address
                )));
            }
            attach_ip(ctx, server, &ip).await?
        } else if let Some(network_id) = id_in(target, ctx.state.renderer.base_url(), "/network/") {
            if !is_object_id(network_id) {
                return Err(AppError::NotFound(format!("no network {network_id}")));
            }
            let net = network(ctx, network_id).await?;
            if net.public || net.floating_ip_pool {
                connect_public(ctx, server, &net.id).await?
            } else {
                let what = format!("connecting server {server} to network {}", net.id);
                let port = NewPort {
                    network_id: net.id.clone(),
                    device_id: server.to_owned(),
                    fixed_ips: Vec::new(),
                    name: None,
                };
                busy::when_idle(ctx, || ctx.client().create_port(&ctx.caller, &port))
                    .await
                    .map_err(|e| match e {
                        e if busy::is_busy(&e) => busy::busy_error(&what, &e),
                        e => AppError::synnefo(what.clone(), e),
                    })?
            }
        } else {
            return Err(AppError::BadRequest(format!(
                "{} must be a /network/<id> or /ipreservation/<id> location, got {target:?}",
                attr::TARGET
            )));
        };
        settled(ctx, &port).await;
        Ok(format!("{server}_{}", port.id))
    }

    async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
        let port = linked_port(ctx, id).await?;
        busy::when_idle(ctx, || ctx.client().delete_port(&ctx.caller, &port.id))
            .await
            .map_err(|e| match e {
                e if busy::is_busy(&e) => {
                    busy::busy_error(&format!("unlink networkinterface {id}"), &e)
                }
                e => AppError::synnefo(format!("deleting port {}", port.id), e),
            })?;
        // The port goes in a Ganeti job: answer once it is gone (IM reads
        // the compute's addresses right after removing a public IP), or,
        // past `busy_wait`, once it is on its way.
        busy::settled(ctx, || async {
            matches!(
                ctx.client().get_port(&ctx.caller, &port.id).await,
                Err(e) if e.is_not_found()
            )
        })
        .await;
        Ok(())
    }

    async fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        _attrs: &Attributes,
    ) -> Result<ActionOutcome, AppError> {
        linked_port(ctx, id).await?;
        Err(AppError::NotImplemented(format!(
            "networkinterface has no action {action}"
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
            "a networkinterface is a Synnefo port, whose network, server and addresses cannot be changed; delete it and create another",
        )
        .await
    }

    async fn apply_update(_ctx: &Ctx, _id: &str, _update: ()) -> Result<(), AppError> {
        Ok(())
    }
}
