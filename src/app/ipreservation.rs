//! `/ipreservation/`: Synnefo floating IPs.
//!
//! - list = `GET /floatingips` (1 call), show = `GET /floatingips/{id}`.
//! - create = `POST /floatingips` on Synnefo's choice of public network,
//!   charged to the caller's project (the original answered 500 here).
//! - delete = `DELETE /floatingips/{id}`: releases the address. Synnefo
//!   refuses it while the IP is attached; detach first (delete the
//!   networkinterface).
//! - linking: a networkinterface to `/ipreservation/<id>`, created on its
//!   own ([`super::networkinterface`]) or inline in a compute create
//!   ([`super::compute`]), attaches exactly this address; deleting the
//!   interface or the compute keeps the reservation.
//! - No actions (the kind defines none). An update may tag the floating
//!   IP with the caller's mixins (see [`super::handlers`]) and resend its
//!   current attributes; any other value is a 409: its address is fixed.
//!
//! Attributes: `occi.ipreservation.address`, `occi.ipreservation.used`
//! (attached to a server) and `occi.ipreservation.state` (`active` while
//! used, else `inactive`); the title is the address.

use crate::occi::infrastructure::{self, attr};
use crate::occi::{Attributes, OcciRequest, Resource};
use crate::synnefo::{FloatingIp, NewFloatingIp};

use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::ids::is_object_id;
use super::update::fixed_entity;

/// `/ipreservation/`: floating IPs.
pub struct IpReservation;

/// The OCCI ipreservation resource of a floating IP.
pub fn floating_ip_resource(ip: &FloatingIp) -> Resource {
    let location = format!("/{}/{}", IpReservation::PATH, ip.id);
    let mut r = Resource::new(IpReservation::KIND, ip.id.clone(), location);
    let used = ip.port_id.is_some() || ip.instance_id.is_some();
    r.attributes
        .set(attr::TITLE, ip.floating_ip_address.clone());
    r.attributes
        .set(attr::IPR_ADDRESS, ip.floating_ip_address.clone());
    r.attributes.set(attr::IPR_USED, used);
    r.attributes
        .set(attr::IPR_STATE, if used { "active" } else { "inactive" });
    r
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no ipreservation {id}"))
}

/// The caller's floating IP `id` (404 for an invalid or foreign id).
pub async fn floating_ip(ctx: &Ctx, id: &str) -> Result<FloatingIp, AppError> {
    if !is_object_id(id) {
        return Err(not_found(id));
    }
    ctx.client()
        .get_floating_ip(&ctx.caller, id)
        .await
        .map_err(|e| AppError::synnefo(format!("reading floating IP {id}"), e))
}

impl Collection for IpReservation {
    const KIND: &'static str = infrastructure::IPRESERVATION;
    const PATH: &'static str = "ipreservation";

    async fn list(ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        let ips = ctx
            .client()
            .list_floating_ips(&ctx.caller)
            .await
            .map_err(|e| AppError::synnefo("listing floating IPs", e))?;
        Ok(ips
            .iter()
            .take(ctx.state.config.collection_limit)
            .map(|ip| floating_ip_resource(ip).into())
            .collect())
    }

    async fn show(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
        Ok(floating_ip_resource(&floating_ip(ctx, id).await?).into())
    }

    async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
        if let Some(kind) = req.kind()
            && kind.type_id() != Self::KIND
        {
            return Err(AppError::BadRequest(format!(
                "kind {} cannot be created in /ipreservation/",
                kind.type_id()
            )));
        }
        let request = NewFloatingIp {
            floating_network_id: None,
            floating_ip_address: None,
            project: ctx.auth.project.as_deref().map(str::to_owned),
        };
        let ip = ctx
            .client()
            .create_floating_ip(&ctx.caller, &request)
            .await
            .map_err(|e| AppError::synnefo("allocating a floating IP", e))?;
        Ok(ip.id)
    }

    async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
        let ip = floating_ip(ctx, id).await?;
        if ip.port_id.is_some() {
            return Err(AppError::Conflict(format!(
                "floating IP {} is attached to a server; delete its networkinterface first",
                ip.floating_ip_address
            )));
        }
        ctx.client()
            .delete_floating_ip(&ctx.caller, id)
            .await
            .map_err(|e| AppError::synnefo(format!("releasing floating IP {id}"), e))
    }

    async fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        _attrs: &Attributes,
    ) -> Result<ActionOutcome, AppError> {
        floating_ip(ctx, id).await?;
        Err(AppError::NotImplemented(format!(
            "ipreservation has no action {action}"
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
            "a floating IP's address is fixed and it has no name (its title is the address); its use changes by creating or deleting networkinterfaces",
        )
        .await
    }

    async fn apply_update(_ctx: &Ctx, _id: &str, _update: ()) -> Result<(), AppError> {
        Ok(())
    }
}
