//! IP reservations (floating IPs) linked inline with a compute create:
//! read, checked to be the caller's and free, and turned into the server
//! create's `networks` entries.

use crate::synnefo::{FloatingIp, NetworkRef, Service, SynnefoError};

use crate::app::collection::Ctx;
use crate::app::error::AppError;

/// The 409 for IP reservation `id` when its floating IP is in use:
/// naming the compute (and its networkinterface) that holds it.
fn ip_in_use(id: &str, ip: &FloatingIp) -> Option<AppError> {
    let address = &ip.floating_ip_address;
    let holder = match (&ip.instance_id, &ip.port_id) {
        (Some(server), Some(port)) => format!(
            "is already linked to /compute/{server} (/networkinterface/{server}_{port}); \
             delete that networkinterface first or link another ipreservation"
        ),
        (Some(server), None) => format!(
            "is already linked to /compute/{server}; \
             delete that networkinterface first or link another ipreservation"
        ),
        (None, Some(port)) => format!("is already in use by port {port}"),
        (None, None) => return None,
    };
    Some(AppError::Conflict(format!(
        "ipreservation /ipreservation/{id} ({address}) {holder}"
    )))
}

/// The `networks` entries that attach the IP reservations `ids` to a new
/// server: each floating IP is read (1 call each, concurrently) for its
/// address and network, and must be the caller's (404 naming it: Synnefo
/// shows nobody another user's floating IP) and free (409 naming the
/// compute that holds it).
///
/// The entry is `{"uuid": <floating_network_id>, "fixed_ip": <address>}`,
/// what kamaki's `server create --network NET,IP` and `snf-manage
/// server-create --port floatingip:<id>` send (grnet/kamaki
/// `kamaki/cli/cmds/cyclades.py` `NetworkArgument`; grnet/synnefo
/// `snf-cyclades-app/synnefo/logic/management/commands/server-create.py`
/// `parse_connections`). Cyclades' server create
/// (`snf-cyclades-app/synnefo/logic/servers.py` `create` ->
/// `create_instance_ports` -> `_port_for_request` ->
/// `create_public_ipv4_port`) looks the address up among the caller's
/// floating IPs (`api/util.py` `get_floating_ip_by_address`: 404
/// "Floating IP does not exist."), and `_create_port` refuses one of
/// another network (409 "IP Address <ip> does not belong to network
/// <id>") or in use (409 "IP address '<ip>' is already in use"), all in
/// the create's one transaction: a refusal leaves no server.
pub(super) async fn floating_ip_networks(
    ctx: &Ctx,
    ids: &[String],
) -> Result<Vec<NetworkRef>, AppError> {
    let reads = ids
        .iter()
        .map(|id| async move { (id, ctx.client().get_floating_ip(&ctx.caller, id).await) });
    let mut networks = Vec::with_capacity(ids.len());
    for (id, read) in futures_util::future::join_all(reads).await {
        let ip = match read {
            Ok(ip) => ip,
            Err(e) if e.is_not_found() => {
                return Err(AppError::NotFound(format!(
                    "no ipreservation {id}: /ipreservation/{id} is not an IP reservation of yours"
                )));
            }
            Err(e) => return Err(AppError::synnefo(format!("reading floating IP {id}"), e)),
        };
        if let Some(conflict) = ip_in_use(id, &ip) {
            return Err(conflict);
        }
        let Some(network) = ip.floating_network_id.clone() else {
            return Err(AppError::synnefo(
                format!("reading floating IP {id}"),
                SynnefoError::InvalidResponse {
                    service: Service::Network,
                    reason: format!("floating IP {id} has no floating_network_id"),
                },
            ));
        };
        networks.push(NetworkRef::floating_ip(network, ip.floating_ip_address));
    }
    Ok(networks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn floating(instance: Option<&str>, port: Option<&str>) -> FloatingIp {
        serde_json::from_value(serde_json::json!({
            "id": "9", "floating_ip_address": "83.212.0.5", "floating_network_id": "1",
            "instance_id": instance, "port_id": port,
        }))
        .expect("floating IP")
    }

    #[test]
    fn an_ip_reservation_in_use_names_its_compute() {
        assert!(ip_in_use("9", &floating(None, None)).is_none());
        let err = ip_in_use("9", &floating(Some("42"), Some("77"))).unwrap();
        assert_eq!(err.status(), StatusCode::CONFLICT);
        let text = err.to_string();
        for part in [
            "/ipreservation/9",
            "83.212.0.5",
            "/compute/42",
            "/networkinterface/42_77",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        let err = ip_in_use("9", &floating(None, Some("77"))).unwrap();
        assert!(err.to_string().contains("port 77"), "{err}");
    }
}
