//! `/network/`: Synnefo networks (the public one included) as OCCI
//! networks.
//!
//! - list = `GET /networks` and `GET /subnets` concurrently (2 calls);
//!   show = `GET /networks/{id}` then, if it has one, its first subnet.
//! - create: `POST /networks` (`MAC_FILTERED`, named by `occi.core.title`,
//!   the caller's project); with the `ipnetwork` mixin also `POST
//!   /subnets` from `occi.network.address` (required then) and
//!   `occi.network.gateway`. If the subnet fails the network is deleted
//!   again and the subnet's error is reported.
//! - delete = `DELETE /networks/{id}` (Synnefo refuses the public network
//!   and networks with ports; its status is passed on).
//! - `up`/`down`: 501, Synnefo networks have no such operation.
//! - update = `PUT /networks/{id}` (after `GET /networks/{id}`, and its
//!   subnet when the update names subnet attributes), only when the name
//!   changes: `occi.core.title` renames the network (at most 128
//!   characters; the public network cannot be renamed, 403, as Synnefo
//!   answers); a full update (PUT) without a title resets it to `OCCI
//!   network`. `occi.network.address`, `occi.network.gateway` and
//!   `occi.network.allocation` cannot change (Synnefo cannot change a
//!   subnet's CIDR, and OCCI cannot say what to do with the ports on
//!   it), nor can the `ipnetwork` mixin be added to a network without a
//!   subnet: the current values pass (full updates resend them), others
//!   are a 409 naming them (see [`super::update`]). `occi.core.summary`
//!   has no place in a Synnefo network and is ignored, as creates do.
//!
//! State from the network status (not a constant, unlike the original):
//! `ACTIVE` -> active, anything else -> inactive with the status as
//! `occi.network.state.message`. Networks with a subnet carry the
//! `ipnetwork` mixin with address, gateway and `allocation` `dynamic`.

use crate::occi::infrastructure::{self, attr};
use crate::occi::{Attributes, OcciRequest, Resource};
use crate::synnefo::{Network as SnfNetwork, NewNetwork, NewSubnet, Subnet};

use super::collection::{ActionOutcome, Collection, Ctx, Entity};
use super::error::AppError;
use super::ids::is_object_id;
use super::update::{new_title, same_value};

/// The name of a network created without a title.
const DEFAULT_TITLE: &str = "OCCI network";
/// The longest network name Cyclades keeps, in characters (`db/models.py`
/// `Network.NETWORK_NAME_LENGTH`).
const MAX_NETWORK_NAME: usize = 128;

/// `/network/`: Synnefo networks.
pub struct Network;

/// The OCCI network resource of a Synnefo network and its subnet.
pub fn network_resource(network: &SnfNetwork, subnet: Option<&Subnet>) -> Resource {
    let location = format!("/{}/{}", Network::PATH, network.id);
    let mut r = Resource::new(Network::KIND, network.id.clone(), location);
    if !network.name.is_empty() {
        r.attributes.set(attr::TITLE, network.name.clone());
    }
    let status = network
        .status
        .as_deref()
        .unwrap_or("UNKNOWN")
        .to_ascii_uppercase();
    if status == "ACTIVE" {
        r.attributes.set(attr::NETWORK_STATE, "active");
    } else {
        r.attributes.set(attr::NETWORK_STATE, "inactive");
        r.attributes.set(attr::NETWORK_STATE_MESSAGE, status);
    }
    if network.public {
        r.attributes.set(attr::NETWORK_LABEL, "public");
    }
    if let Some(subnet) = subnet {
        r.mixins.push(infrastructure::IPNETWORK.to_owned());
        r.attributes.set(attr::NETWORK_ADDRESS, subnet.cidr.clone());
        if let Some(gateway) = subnet.gateway_ip.as_deref().filter(|g| !g.is_empty()) {
            r.attributes.set(attr::NETWORK_GATEWAY, gateway.to_owned());
        }
        r.attributes.set(attr::NETWORK_ALLOCATION, "dynamic");
    }
    r
}

fn not_found(id: &str) -> AppError {
    AppError::NotFound(format!("no network {id}"))
}

/// Whether Synnefo still shows a deleted network: Cyclades keeps it,
/// with status `DELETED`, once its delete job has ended
/// (`api/networks.py` `get_network` reads it without `non_deleted`).
fn is_deleted(network: &SnfNetwork) -> bool {
    network
        .status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("DELETED"))
}

/// The caller's network `id` (public or own; 404 otherwise, deleted
/// ones included).
pub async fn network(ctx: &Ctx, id: &str) -> Result<SnfNetwork, AppError> {
    if !is_object_id(id) {
        return Err(not_found(id));
    }
    match ctx.client().get_network(&ctx.caller, id).await {
        Ok(net) if is_deleted(&net) => Err(not_found(id)),
        Ok(net) => Ok(net),
        Err(e) if e.is_not_found() => Err(not_found(id)),
        Err(e) => Err(AppError::synnefo(format!("reading network {id}"), e)),
    }
}

/// The first subnet of `net` (the one OCCI shows), if it has one.
async fn first_subnet(ctx: &Ctx, net: &SnfNetwork) -> Result<Option<Subnet>, AppError> {
    match net.subnets.first() {
        Some(subnet_id) => Ok(Some(
            ctx.client()
                .get_subnet(&ctx.caller, subnet_id)
                .await
                .map_err(|e| AppError::synnefo(format!("reading subnet {subnet_id}"), e))?,
        )),
        None => Ok(None),
    }
}

impl Collection for Network {
    const KIND: &'static str = infrastructure::NETWORK;
    const PATH: &'static str = "network";

    async fn list(ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        let client = ctx.client();
        let (networks, subnets) = tokio::try_join!(
            async {
                client
                    .list_networks(&ctx.caller)
                    .await
                    .map_err(|e| AppError::synnefo("listing networks", e))
            },
            async {
                client
                    .list_subnets(&ctx.caller)
                    .await
                    .map_err(|e| AppError::synnefo("listing subnets", e))
            },
        )?;
        Ok(networks
            .iter()
            .filter(|n| !is_deleted(n))
            .take(ctx.state.config.collection_limit)
            .map(|n| {
                let subnet = subnets.iter().find(|s| s.network_id == n.id);
                network_resource(n, subnet).into()
            })
            .collect())
    }

    async fn show(ctx: &Ctx, id: &str) -> Result<Entity, AppError> {
        let net = network(ctx, id).await?;
        let subnet = first_subnet(ctx, &net).await?;
        Ok(network_resource(&net, subnet.as_ref()).into())
    }

    async fn create(ctx: &Ctx, req: &OcciRequest) -> Result<String, AppError> {
        if let Some(kind) = req.kind()
            && kind.type_id() != Self::KIND
        {
            return Err(AppError::BadRequest(format!(
                "kind {} cannot be created in /network/",
                kind.type_id()
            )));
        }
        let with_subnet = req
            .mixins()
            .any(|m| m.type_id() == infrastructure::IPNETWORK);
        let address = req.attributes.get_str(attr::NETWORK_ADDRESS);
        let address = match (with_subnet, address) {
            (true, None) => {
                return Err(AppError::BadRequest(format!(
                    "the ipnetwork mixin requires {}",
                    attr::NETWORK_ADDRESS
                )));
            }
            (true, Some(a)) => Some(a.to_owned()),
            (false, _) => None,
        };
        let gateway = req
            .attributes
            .get_str(attr::NETWORK_GATEWAY)
            .map(str::to_owned);
        let title = req
            .attributes
            .get_str(attr::TITLE)
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_TITLE)
            .to_owned();
        let created = ctx
            .client()
            .create_network(
                &ctx.caller,
                &NewNetwork {
                    network_type: "MAC_FILTERED".to_owned(),
                    name: title.clone(),
                    project: ctx.auth.project.as_deref().map(str::to_owned),
                    shared: false,
                    admin_state_up: true,
                },
            )
            .await
            .map_err(|e| AppError::synnefo("creating the network", e))?;
        if let Some(cidr) = address {
            let ip_version = if cidr.contains(':') { 6 } else { 4 };
            let subnet = NewSubnet {
                network_id: created.id.clone(),
                cidr,
                ip_version,
                name: Some(format!("{title} subnet")),
                gateway_ip: gateway,
                enable_dhcp: false,
            };
            if let Err(e) = ctx.client().create_subnet(&ctx.caller, &subnet).await {
                // Undo: the network without its subnet is not what was
                // asked for. The subnet's error is the one reported.
                if let Err(undo) = ctx.client().delete_network(&ctx.caller, &created.id).await {
                    tracing::warn!(network = %created.id, error = %undo,
                        "could not delete the network after its subnet failed");
                }
                return Err(AppError::synnefo(
                    "creating the subnet (network deleted again)",
                    e,
                ));
            }
        }
        Ok(created.id)
    }

    async fn delete(ctx: &Ctx, id: &str) -> Result<(), AppError> {
        if !is_object_id(id) {
            return Err(not_found(id));
        }
        match ctx.client().delete_network(&ctx.caller, id).await {
            Ok(()) => Ok(()),
            // Also Cyclades' 400 "Network has been deleted.".
            Err(e) if e.is_not_found() => Err(not_found(id)),
            Err(e) => Err(AppError::synnefo(format!("deleting network {id}"), e)),
        }
    }

    async fn action(
        ctx: &Ctx,
        id: &str,
        action: &str,
        _attrs: &Attributes,
    ) -> Result<ActionOutcome, AppError> {
        network(ctx, id).await?;
        let name = action.rsplit('#').next().unwrap_or(action);
        Err(AppError::NotImplemented(format!(
            "network action {name} is not supported: Synnefo networks cannot be brought up or down"
        )))
    }

    /// The new name, if it changes.
    type Update = Option<String>;

    async fn plan_update(
        ctx: &Ctx,
        id: &str,
        req: &OcciRequest,
        full: bool,
    ) -> Result<Option<String>, AppError> {
        let net = network(ctx, id).await?;
        let attrs = &req.attributes;
        let adds_ipnetwork = req
            .categories
            .iter()
            .any(|c| c.type_id() == infrastructure::IPNETWORK);
        let subnet_attrs = [
            attr::NETWORK_ADDRESS,
            attr::NETWORK_GATEWAY,
            attr::NETWORK_ALLOCATION,
        ];
        if adds_ipnetwork || subnet_attrs.iter().any(|a| attrs.contains(a)) {
            // What the network shows now: the subnet attributes come from
            // its first subnet, as in `show`.
            let current = network_resource(&net, first_subnet(ctx, &net).await?.as_ref());
            if adds_ipnetwork
                && !current
                    .mixins
                    .iter()
                    .any(|m| m == infrastructure::IPNETWORK)
            {
                return Err(AppError::Conflict(format!(
                    "the mixin {} cannot be added to network {id}: Synnefo cannot give an \
                     existing network a subnet here; create a network with it instead",
                    infrastructure::IPNETWORK
                )));
            }
            for name in subnet_attrs {
                let Some(wanted) = attrs.get(name) else {
                    continue;
                };
                if !current
                    .attributes
                    .get(name)
                    .is_some_and(|value| same_value(value, wanted))
                {
                    return Err(AppError::Conflict(format!(
                        "{name} of network {id} cannot change: Synnefo cannot change a \
                         network's subnet; create a new network instead"
                    )));
                }
            }
        }
        let Some(name) = new_title(attrs, full, DEFAULT_TITLE, MAX_NETWORK_NAME)?
            .filter(|name| *name != net.name)
        else {
            return Ok(None);
        };
        if net.public {
            return Err(AppError::Forbidden(format!(
                "network {id} is the public network: it cannot be renamed"
            )));
        }
        Ok(Some(name))
    }

    async fn apply_update(ctx: &Ctx, id: &str, update: Option<String>) -> Result<(), AppError> {
        if let Some(name) = update {
            ctx.client()
                .rename_network(&ctx.caller, id, &name)
                .await
                .map_err(|e| AppError::synnefo(format!("renaming network {id}"), e))?;
        }
        Ok(())
    }
}
