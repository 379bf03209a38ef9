//! Floating IPs: public addresses a user holds, free or used by one port.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::World;
use super::accounts::UserRec;
use super::body::{attribute, id_field, num_id, str_field};
use crate::fault::Fault;

#[derive(Clone, Debug)]
pub(super) struct FloatingIp {
    pub(super) id: u64,
    pub(super) owner: String,
    pub(super) project: String,
    pub(super) network: u64,
    pub(super) subnet: u64,
    pub(super) address: String,
    pub(super) port: Option<u64>,
    pub(super) server: Option<u64>,
}

impl World {
    /// `api/floating_ips.py` `ip_to_dict` (whose `fixed_ip_address` is
    /// always null).
    fn fip_json(&self, f: &FloatingIp) -> Value {
        json!({
            "id": f.id.to_string(), "floating_ip_address": f.address, "fixed_ip_address": null,
            "floating_network_id": f.network.to_string(), "port_id": f.port.map(|p| p.to_string()),
            "instance_id": f.server.map(|s| s.to_string()), "user_id": f.owner, "tenant_id": f.project,
            "shared_to_project": false, "deleted": false,
        })
    }

    /// `GET /floatingips`.
    pub fn list_floating_ips(&self, user: &str) -> Value {
        let list: Vec<Value> = self
            .floating_ips
            .values()
            .filter(|f| f.owner == user)
            .map(|f| self.fip_json(f))
            .collect();
        json!({"floatingips": list})
    }

    /// `GET /floatingips/{id}`.
    pub fn get_floating_ip(&self, user: &str, id: &str) -> Result<Value, Fault> {
        let f = num_id(id)
            .and_then(|n| self.floating_ips.get(&n))
            .filter(|f| f.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Floating IP with ID {id} does not exist.")))?;
        Ok(json!({"floatingip": self.fip_json(f)}))
    }

    /// `POST /floatingips` (Synnefo answers 200).
    pub fn create_floating_ip(&mut self, user: &UserRec, body: &Value) -> Result<Value, Fault> {
        let spec = attribute(body, "floatingip", Value::is_object)?;
        let project = self.project_for(user, spec.get("project"))?;
        let held = self
            .floating_ips
            .values()
            .filter(|f| f.owner == user.uuid)
            .count();
        if held >= self.quotas.floating_ips {
            return Err(Fault::quota(
                "Floating IP address",
                (self.quotas.floating_ips - held) as u64,
                1,
            ));
        }
        let net = match id_field(spec, "floating_network_id") {
            Some(id) => {
                let n = self.live_network(&user.uuid, &id)?;
                if !n.floating_ip_pool {
                    return Err(Fault::conflict(format!(
                        "Cannot allocate floating IP. Network {id} is not a floating IP pool."
                    )));
                }
                n.id
            }
            None => self
                .networks
                .values()
                .find(|n| n.public() && n.floating_ip_pool)
                .map(|n| n.id)
                .ok_or_else(|| Fault::conflict("No available floating IP pool"))?,
        };
        let subnet_id = self
            .networks
            .get(&net)
            .and_then(|n| n.subnets.first().copied())
            .ok_or_else(|| Fault::conflict("Pool has no subnet"))?;
        let subnet = self
            .subnets
            .get_mut(&subnet_id)
            .ok_or_else(|| Fault::conflict("Pool has no subnet"))?;
        let address = match str_field(spec, "floating_ip_address").filter(|a| !a.is_empty()) {
            Some(a) => {
                let ip: Ipv4Addr = a
                    .parse()
                    .map_err(|_| Fault::bad_request(format!("Invalid IP address '{a}'")))?;
                if !subnet.reserve(ip) {
                    return Err(Fault::conflict(format!(
                        "IP address '{a}' is already in use"
                    )));
                }
                ip
            }
            None => subnet
                .allocate()
                .ok_or_else(|| Fault::conflict("No more free IP addresses in the pool"))?,
        };
        let id = self.next_net;
        self.next_net += 1;
        let fip = FloatingIp {
            id,
            owner: user.uuid.clone(),
            project,
            network: net,
            subnet: subnet_id,
            address: address.to_string(),
            port: None,
            server: None,
        };
        let answer = self.fip_json(&fip);
        self.floating_ips.insert(id, fip);
        Ok(json!({"floatingip": answer}))
    }

    /// `DELETE /floatingips/{id}`.
    pub fn delete_floating_ip(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let f = num_id(id)
            .and_then(|n| self.floating_ips.get(&n))
            .filter(|f| f.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Floating IP with ID {id} does not exist.")))?;
        // `logic/ips.py` `validate_ip_action`.
        if let Some(port) = f.port {
            return Err(Fault::conflict(match f.server {
                Some(server) => format!("IP '{}' is used by server '{server}'", f.id),
                None => format!("IP '{}' is used by port '{port}'", f.id),
            }));
        }
        let (fid, subnet, address) = (f.id, f.subnet, f.address.clone());
        self.floating_ips.remove(&fid);
        if let Some(s) = self.subnets.get_mut(&subnet) {
            s.release(&address);
        }
        Ok(())
    }
}
