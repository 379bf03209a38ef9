//! Networks (the seeded public ones and users' private ones) and their
//! subnets, which hold the address pools ports draw from.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::World;
use super::accounts::UserRec;
use super::body::{attribute, num_id};
use crate::fault::Fault;
use snf_occi_types::timestamp::format_rfc3339;

#[derive(Clone, Debug)]
pub(super) struct Network {
    pub(super) id: u64,
    pub(super) name: String,
    /// `None` for public networks.
    pub(super) owner: Option<String>,
    pub(super) project: Option<String>,
    pub(super) kind: String,
    pub(super) floating_ip_pool: bool,
    pub(super) subnets: Vec<u64>,
    pub(super) created: SystemTime,
    /// Deleted: `GET` still shows it (`DELETED`), no listing does.
    pub(super) deleted: bool,
}

impl Network {
    pub(super) fn public(&self) -> bool {
        self.owner.is_none()
    }
    pub(super) fn visible_to(&self, user: &str) -> bool {
        self.owner.as_deref().is_none_or(|o| o == user)
    }
}

#[derive(Clone, Debug)]
pub(super) struct Subnet {
    pub(super) id: u64,
    pub(super) network: u64,
    pub(super) owner: Option<String>,
    pub(super) name: String,
    pub(super) cidr: String,
    pub(super) ip_version: u8,
    pub(super) gateway: Option<String>,
    pub(super) dhcp: bool,
    /// IPv4 pool: first and last allocatable host, and used addresses.
    pub(super) pool: Option<(u32, u32)>,
    pub(super) used: HashSet<u32>,
    pub(super) cursor: u32,
    /// Deleted with its network: `GET` still shows it (without pools),
    /// no listing does.
    pub(super) deleted: bool,
}

impl Subnet {
    pub(super) fn allocate(&mut self) -> Option<Ipv4Addr> {
        let (first, last) = self.pool?;
        let span = last - first + 1;
        for i in 0..span {
            let candidate = first + (self.cursor + i) % span;
            if !self.used.contains(&candidate) {
                self.used.insert(candidate);
                self.cursor = (candidate - first + 1) % span;
                return Some(Ipv4Addr::from(candidate));
            }
        }
        None
    }

    pub(super) fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        match self.pool {
            Some((first, last)) if n >= first && n <= last => self.used.insert(n),
            _ => false,
        }
    }

    pub(super) fn release(&mut self, ip: &str) {
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            self.used.remove(&u32::from(ip));
        }
    }
}

/// The longest network name, in characters (`Network.NETWORK_NAME_LENGTH`).
const NETWORK_NAME_LENGTH: usize = 128;

/// Parses `a.b.c.d/n`: network address and prefix length.
pub(super) fn parse_cidr4(cidr: &str) -> Option<(u32, u32)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    if !(8..=30).contains(&len) {
        return None;
    }
    let mask = u32::MAX << (32 - len);
    Some((u32::from(addr) & mask, len))
}

/// Parses `a.b.c.d/n` (any prefix length up to 32, host bits kept):
/// the address and the prefix length.
fn parse_cidr4_any(cidr: &str) -> Option<(u32, u32)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u32 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((u32::from(addr), len))
}

impl World {
    /// `api/networks.py` `network_to_dict`.
    fn network_json(&self, n: &Network) -> Value {
        let status = if n.deleted { "DELETED" } else { "ACTIVE" };
        json!({
            "id": n.id.to_string(), "name": n.name, "status": status, "router:external": n.public(),
            "public": n.public(), "SNF:floating_ip_pool": n.floating_ip_pool, "user_id": n.owner,
            "tenant_id": n.project, "type": n.kind, "subnets": n.subnets.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "admin_state_up": true, "shared": n.public(), "deleted": n.deleted, "shared_to_project": false,
            "created": format_rfc3339(n.created), "updated": format_rfc3339(n.created),
            "links": self.link(format!("/network/v2.0/networks/{}", n.id)),
        })
    }

    /// `api/util.py` `get_network`: the caller's or a public network,
    /// deleted ones included.
    fn network_ref(&self, user: &str, id: &str) -> Result<&Network, Fault> {
        num_id(id)
            .and_then(|n| self.networks.get(&n))
            .filter(|n| n.visible_to(user))
            .ok_or_else(|| Fault::not_found(format!("Network {id} not found.")))
    }

    /// [`World::network_ref`] with `non_deleted`.
    pub(super) fn live_network(&self, user: &str, id: &str) -> Result<&Network, Fault> {
        let n = self.network_ref(user, id)?;
        if n.deleted {
            return Err(Fault::bad_request("Network has been deleted."));
        }
        Ok(n)
    }

    /// `GET /networks`.
    pub fn list_networks(&self, user: &str) -> Value {
        let list: Vec<Value> = self
            .networks
            .values()
            .filter(|n| n.visible_to(user) && !n.deleted)
            .map(|n| self.network_json(n))
            .collect();
        json!({"networks": list})
    }

    /// `GET /networks/{id}`.
    pub fn get_network(&self, user: &str, id: &str) -> Result<Value, Fault> {
        Ok(json!({"network": self.network_json(self.network_ref(user, id)?)}))
    }

    /// `POST /networks`.
    pub fn create_network(&mut self, user: &UserRec, body: &Value) -> Result<Value, Fault> {
        // `api/networks.py` `create_network`: users may create only the
        // flavors of `API_ENABLED_NETWORK_FLAVORS` (`MAC_FILTERED` by
        // default).
        let spec = attribute(body, "network", Value::is_object)?;
        let kind = attribute(spec, "type", Value::is_string)?
            .as_str()
            .unwrap_or_default();
        if !matches!(
            kind,
            "MAC_FILTERED" | "IP_LESS_ROUTED" | "PHYSICAL_VLAN" | "CUSTOM"
        ) {
            return Err(Fault::bad_request(format!("Invalid network type '{kind}'")));
        }
        if kind != "MAC_FILTERED" {
            return Err(Fault::forbidden(format!(
                "Cannot create network of type '{kind}'."
            )));
        }
        let name = match spec.get("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'name' field",
                ));
            }
        };
        if name.chars().count() > NETWORK_NAME_LENGTH {
            return Err(Fault::bad_request("Network name is too long"));
        }
        let project = self.project_for(user, spec.get("project"))?;
        let owned = self
            .networks
            .values()
            .filter(|n| n.owner.as_deref() == Some(&user.uuid) && !n.deleted)
            .count();
        if owned >= self.quotas.networks {
            return Err(Fault::quota(
                "Private Network",
                (self.quotas.networks - owned) as u64,
                1,
            ));
        }
        let id = self.next_net;
        self.next_net += 1;
        let network = Network {
            id,
            name,
            owner: Some(user.uuid.clone()),
            project: Some(project),
            kind: kind.to_owned(),
            floating_ip_pool: false,
            subnets: Vec::new(),
            created: SystemTime::now(),
            deleted: false,
        };
        let answer = self.network_json(&network);
        self.networks.insert(id, network);
        Ok(json!({"network": answer}))
    }

    /// `PUT /networks/{id}`: renames one of the caller's networks
    /// (Cyclades' `api/networks.py` `update_network` and
    /// `logic/networks.py` `rename`): the body needs a `network` object
    /// with a string `name` (400), the network must be visible (404), not
    /// public (403) and the name at most 128 characters (400). Nothing
    /// else about a network changes through this call.
    pub fn rename_network(&mut self, user: &str, id: &str, body: &Value) -> Result<Value, Fault> {
        let spec = attribute(body, "network", Value::is_object)?;
        let name = attribute(spec, "name", Value::is_string)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let nid = self.live_network(user, id)?.id;
        let network = self
            .networks
            .get_mut(&nid)
            .ok_or_else(|| Fault::not_found(format!("Network {id} not found")))?;
        if network.public() {
            return Err(Fault::forbidden("Cannot rename the public network."));
        }
        if name.chars().count() > NETWORK_NAME_LENGTH {
            return Err(Fault::bad_request("Network name is too long"));
        }
        network.name = name;
        let network = network.clone();
        Ok(json!({"network": self.network_json(&network)}))
    }

    /// `DELETE /networks/{id}` (204): `logic/networks.py` `delete`. The
    /// network and its subnets stay visible to `GET`, as deleted.
    pub fn delete_network(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let net = self.live_network(user, id)?;
        if net.public() {
            return Err(Fault::forbidden("Cannot delete the public network."));
        }
        let nid = net.id;
        if self.ports.values().any(|p| p.network == nid) {
            return Err(Fault::conflict(format!(
                "Cannot delete network. There are ports still configured on network network {nid}"
            )));
        }
        if let Some(net) = self.networks.get_mut(&nid) {
            net.deleted = true;
            for s in net.subnets.clone() {
                if let Some(subnet) = self.subnets.get_mut(&s) {
                    subnet.deleted = true;
                }
            }
        }
        Ok(())
    }

    /// `api/subnets.py` `subnet_to_dict`.
    fn subnet_json(&self, s: &Subnet) -> Value {
        let pools: Vec<Value> = s
            .pool
            .filter(|_| !s.deleted)
            .map(|(a, b)| json!({"start": Ipv4Addr::from(a).to_string(), "end": Ipv4Addr::from(b).to_string()}))
            .into_iter()
            .collect();
        let mut v = json!({
            "id": s.id.to_string(), "network_id": s.network.to_string(), "name": s.name, "cidr": s.cidr,
            "ip_version": s.ip_version, "gateway_ip": s.gateway, "enable_dhcp": s.dhcp,
            "allocation_pools": pools, "dns_nameservers": [], "host_routes": [],
            "user_id": s.owner, "tenant_id": s.owner, "public": s.owner.is_none(), "deleted": s.deleted,
            "links": self.link(format!("/network/v2.0/subnets/{}", s.id)),
        });
        if s.ip_version == 6 {
            v["enable_slaac"] = json!(s.dhcp);
        }
        v
    }

    /// `GET /subnets`.
    pub fn list_subnets(&self, user: &str) -> Value {
        let list: Vec<Value> = self
            .subnets
            .values()
            .filter(|s| s.owner.as_deref().is_none_or(|o| o == user) && !s.deleted)
            .map(|s| self.subnet_json(s))
            .collect();
        json!({"subnets": list})
    }

    /// `GET /subnets/{id}`.
    pub fn get_subnet(&self, user: &str, id: &str) -> Result<Value, Fault> {
        let s = num_id(id)
            .and_then(|n| self.subnets.get(&n))
            .filter(|s| s.owner.as_deref().is_none_or(|o| o == user))
            .ok_or_else(|| Fault::not_found(format!("Subnet '{id}' not found.")))?;
        Ok(json!({"subnet": self.subnet_json(s)}))
    }

    /// `POST /subnets` (201): `api/subnets.py` `create_subnet` and
    /// `logic/subnets.py` `_create_subnet`, in their order: the body
    /// (`network_id` and `cidr`), the CIDR's syntax, the network (the
    /// caller's own, live, and without servers yet), the version, one
    /// subnet per version, then the CIDR's rules (no host bits; IPv4
    /// from /22 to /29, a 413 otherwise, as `MAX_CIDR_BLOCK` says; IPv6
    /// /64) and the gateway's (in the subnet). The allocation pool is
    /// the subnet without the gateway when it is the first or last host.
    pub fn create_subnet(&mut self, user: &str, body: &Value) -> Result<Value, Fault> {
        let malformed = || Fault::bad_request("Malformed request");
        let spec = body.get("subnet").ok_or_else(malformed)?;
        let net_id = spec.get("network_id").ok_or_else(malformed)?.clone();
        let cidr = spec.get("cidr").ok_or_else(malformed)?;
        let cidr_text = match cidr {
            Value::String(c) => c.clone(),
            other => other.to_string(),
        };
        let v4 = parse_cidr4_any(&cidr_text);
        let v6 = cidr_text.split_once('/').and_then(|(a, l)| {
            Some((
                a.parse::<std::net::Ipv6Addr>().ok()?,
                l.parse::<u8>().ok().filter(|l| *l <= 128)?,
            ))
        });
        if v4.is_none() && v6.is_none() {
            return Err(Fault::bad_request(format!("Malformed CIDR '{cidr_text}'")));
        }
        let net_id = match &net_id {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let nid = num_id(&net_id).ok_or_else(|| Fault::bad_request("Malformed network ID"))?;
        let net = self
            .networks
            .get(&nid)
            .ok_or_else(|| Fault::not_found("No network found with that ID"))?;
        if net.deleted {
            return Err(Fault::bad_request("Network has been deleted"));
        }
        if net.owner.as_deref() != Some(user) {
            return Err(Fault::forbidden("Forbidden operation"));
        }
        let version = match spec.get("ip_version") {
            None => 4,
            Some(v) => match v.as_u64() {
                Some(4) => 4,
                Some(6) => 6,
                _ => return Err(Fault::bad_request("Malformed IP version type")),
            },
        };
        if net
            .subnets
            .iter()
            .filter_map(|s| self.subnets.get(s))
            .any(|s| s.ip_version == version)
        {
            return Err(Fault::bad_request(
                "Only one subnet of IPv4/IPv6 per network is allowed",
            ));
        }
        if self.ports.values().any(|p| p.network == nid) {
            return Err(Fault::bad_request(format!(
                "Cannot create subnet in network {nid}, VMs are already connected to this network"
            )));
        }
        let gateway_given = match spec.get("gateway_ip") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(g)) if g.is_empty() => None,
            Some(Value::String(g)) => Some(Some(g.clone())),
            Some(_) => return Err(Fault::bad_request("Malformed gateway")),
        };
        let (pool, canonical, gateway) = if version == 4 {
            let (addr, len) =
                v4.ok_or_else(|| Fault::bad_request("Invalid network IPv4 subnet"))?;
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            if addr & !mask != 0 {
                return Err(Fault::bad_request("Invalid network IPv4 subnet"));
            }
            if !(22..=29).contains(&len) {
                return Err(Fault::over_limit("Unsupported network size")
                    .with_details("Netmask must be in range: [22, 29]"));
            }
            let broadcast = addr | !mask;
            let gateway = match gateway_given {
                None => Some(Ipv4Addr::from(addr + 1)),
                Some(None) => None,
                Some(Some(g)) => {
                    let ip: Ipv4Addr = g
                        .parse()
                        .map_err(|_| Fault::bad_request("Invalid network IPv4 gateway"))?;
                    if u32::from(ip) & mask != addr {
                        return Err(Fault::bad_request("Invalid network IPv4 gateway"));
                    }
                    Some(ip)
                }
            };
            let pool = match gateway.map(u32::from) {
                Some(g) if g == addr + 1 => (g + 1, broadcast - 1),
                Some(g) if g == broadcast - 1 => (addr + 1, g - 1),
                _ => (addr + 1, broadcast - 1),
            };
            (
                Some(pool),
                format!("{}/{len}", Ipv4Addr::from(addr)),
                gateway.map(|g| g.to_string()),
            )
        } else {
            let (_, len) = v6.ok_or_else(|| Fault::bad_request("Invalid network IPv6 subnet"))?;
            if len != 64 {
                return Err(Fault::bad_request(
                    "Unsupported IPv6 subnet size. Network netmask must be /64",
                ));
            }
            let gateway = match gateway_given {
                Some(Some(g)) => {
                    g.parse::<std::net::Ipv6Addr>()
                        .map_err(|_| Fault::bad_request("Invalid network IPv6 gateway"))?;
                    Some(g)
                }
                _ => None,
            };
            (None, cidr_text.clone(), gateway)
        };
        let name = match spec.get("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(n)) => n.clone(),
            Some(other) => other.to_string(),
        };
        let id = self.next_net;
        self.next_net += 1;
        let mut subnet = Subnet {
            id,
            network: nid,
            owner: Some(user.to_owned()),
            name,
            cidr: canonical,
            ip_version: version,
            gateway: gateway.clone(),
            dhcp: spec
                .get("enable_dhcp")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            pool,
            used: HashSet::new(),
            cursor: 0,
            deleted: false,
        };
        if let Some(g) = gateway.and_then(|g| g.parse::<Ipv4Addr>().ok()) {
            subnet.reserve(g);
        }
        let answer = self.subnet_json(&subnet);
        self.subnets.insert(id, subnet);
        if let Some(n) = self.networks.get_mut(&nid) {
            n.subnets.push(id);
        }
        Ok(json!({"subnet": answer}))
    }
}
