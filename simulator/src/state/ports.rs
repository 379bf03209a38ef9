//! Ports: a server's NICs, or ports of no server. How a new port
//! connects ([`Connect`]) is decided first (by a server create or
//! `POST /ports`), then [`World::connect`] makes it.

use std::net::Ipv4Addr;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::World;
use super::accounts::UserRec;
use super::body::{attribute, id_field, num_id};
use super::networks::Network;
use super::servers::Status;
use crate::fault::Fault;
use snf_occi_types::timestamp::format_rfc3339;

#[derive(Clone, Debug)]
pub(super) struct Port {
    pub(super) id: u64,
    pub(super) owner: String,
    pub(super) network: u64,
    /// The server it connects, if any (Cyclades makes ports without one).
    pub(super) device: Option<u64>,
    /// Until when the Ganeti job connecting it runs (`BUILD`, no MAC).
    pub(super) connecting_until: Option<Instant>,
    /// Whether it has a firewall profile: Cyclades gives NICs on public
    /// networks its `DEFAULT_FIREWALL_PROFILE` (`logic/backend.py`
    /// `process_ganeti_nics`), others none.
    pub(super) firewall: bool,
    pub(super) mac: String,
    /// (address, subnet id)
    pub(super) ips: Vec<(String, u64)>,
    pub(super) floating_ip: Option<u64>,
    pub(super) name: String,
    pub(super) created: SystemTime,
}

/// How a new port connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Connect {
    /// The next free address of each of the network's subnets.
    Network(u64),
    /// Through this floating IP (on its network).
    Floating(u64),
    /// This address of this subnet of a private network.
    Fixed(u64, u64, Ipv4Addr),
}

impl World {
    pub(super) fn mac(port: u64) -> String {
        format!(
            "aa:00:00:{:02x}:{:02x}:{:02x}",
            (port >> 16) & 0xff,
            (port >> 8) & 0xff,
            port & 0xff
        )
    }

    /// Creates a port (for a server, if given) and returns its id.
    pub(super) fn connect(
        &mut self,
        user: &str,
        server: Option<u64>,
        how: Connect,
    ) -> Result<u64, Fault> {
        let id = self.next_port;
        self.next_port += 1;
        let (network, ips, floating_ip) = match how {
            Connect::Floating(fid) => {
                let fip = self
                    .floating_ips
                    .get_mut(&fid)
                    .ok_or_else(|| Fault::not_found("Floating IP not found"))?;
                fip.port = Some(id);
                fip.server = server;
                (
                    fip.network,
                    vec![(fip.address.clone(), fip.subnet)],
                    Some(fid),
                )
            }
            Connect::Fixed(nid, sid, address) => {
                // Checked free by the plan (and reserved before any port).
                if let Some(subnet) = self.subnets.get_mut(&sid) {
                    subnet.reserve(address);
                }
                (nid, vec![(address.to_string(), sid)], None)
            }
            Connect::Network(nid) => {
                let net = self
                    .networks
                    .get(&nid)
                    .ok_or_else(|| Fault::not_found(format!("Network {nid} not found")))?;
                let mut ips = Vec::new();
                for sid in net.subnets.clone() {
                    if let Some(subnet) = self.subnets.get_mut(&sid)
                        && let Some(ip) = subnet.allocate()
                    {
                        ips.push((ip.to_string(), sid));
                    }
                }
                (nid, ips, None)
            }
        };
        let port = Port {
            id,
            owner: user.to_owned(),
            network,
            device: server,
            connecting_until: None,
            firewall: self.networks.get(&network).is_some_and(Network::public),
            mac: Self::mac(id),
            ips,
            floating_ip,
            name: String::new(),
            created: SystemTime::now(),
        };
        self.ports.insert(id, port);
        Ok(id)
    }

    /// Removes a port, releasing its addresses and floating IP.
    pub(super) fn disconnect(&mut self, port_id: u64) {
        let Some(port) = self.ports.remove(&port_id) else {
            return;
        };
        match port.floating_ip.and_then(|f| self.floating_ips.get_mut(&f)) {
            Some(fip) => {
                fip.port = None;
                fip.server = None;
            }
            None => {
                for (ip, sid) in &port.ips {
                    if let Some(s) = self.subnets.get_mut(sid) {
                        s.release(ip);
                    }
                }
            }
        }
        if let Some(server) = port.device.and_then(|d| self.servers.get_mut(&d)) {
            server.ports.retain(|p| *p != port_id);
            server.touch();
        }
    }

    /// A port's state: `DOWN` without a server, `BUILD` while its
    /// server or its own connection is being built, else `ACTIVE`.
    pub(super) fn port_state(&self, p: &Port) -> &'static str {
        let Some(device) = p.device else {
            return "DOWN";
        };
        if p.connecting_until.is_some_and(|t| Instant::now() < t) {
            return "BUILD";
        }
        match self.servers.get(&device).map(|s| s.status) {
            Some(Status::Build) => "BUILD",
            Some(Status::Error) => "ERROR",
            Some(_) => "ACTIVE",
            None => "DOWN",
        }
    }

    /// `api/ports.py` `port_to_dict` (no MAC until Ganeti gave one).
    fn port_json(&self, p: &Port) -> Value {
        let ips: Vec<Value> = p
            .ips
            .iter()
            .map(|(ip, s)| json!({"ip_address": ip, "subnet": s.to_string()}))
            .collect();
        let status = self.port_state(p);
        let mac = (status != "BUILD" && p.device.is_some()).then_some(p.mac.as_str());
        json!({
            "id": p.id.to_string(), "name": p.name, "status": status, "admin_state_up": true,
            "network_id": p.network.to_string(), "device_id": p.device.map(|d| d.to_string()),
            "device_owner": p.device.map(|_| "vm"),
            "mac_address": mac, "fixed_ips": ips, "security_groups": [], "user_id": p.owner,
            "tenant_id": p.owner, "created": format_rfc3339(p.created), "updated": format_rfc3339(p.created),
            "links": self.link(format!("/network/v2.0/ports/{}", p.id)),
        })
    }

    /// `GET /ports`: all the caller's ports. Cyclades' `api/ports.py`
    /// `list_ports` ignores query filters such as `device_id`, so clients
    /// must filter themselves.
    pub fn list_ports(&mut self, user: &str, now: Instant) -> Value {
        self.settle_servers_of(user, now);
        let list: Vec<Value> = self
            .ports
            .values()
            .filter(|p| p.owner == user)
            .map(|p| self.port_json(p))
            .collect();
        json!({"ports": list})
    }

    /// `GET /ports/{id}`.
    pub fn get_port(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        self.settle_servers_of(user, now);
        let p = num_id(id)
            .and_then(|n| self.ports.get(&n))
            .filter(|p| p.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Port '{id}' not found.")))?;
        Ok(json!({"port": self.port_json(p)}))
    }

    /// `POST /ports` (201): `api/ports.py` `create_port` and
    /// `logic/servers.py` `create_port`, in their order: the body, the
    /// server if one is named (live), the network (live), then the
    /// address: on a public network only one of the caller's floating
    /// IPs, named in `fixed_ips`, unused and of that network; on a
    /// private one the next free address. Connecting a server is its
    /// `CONNECT` action (refused while it builds or has another pending).
    /// The port is `BUILD` (no MAC) until the connection's job is done,
    /// `DOWN` when it connects nothing.
    pub fn create_port(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = attribute(body, "port", Value::is_object)?;
        let net_id = match attribute(spec, "network_id", |v| v.is_string() || v.is_u64())? {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let device = id_field(spec, "device_id");
        let requested: Option<String> = match spec.get("fixed_ips") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) if list.is_empty() => None,
            Some(Value::Array(list)) if list.len() > 1 => {
                return Err(Fault::bad_request(
                    "'fixed_ips' attribute must contain only one fixed IP.",
                ));
            }
            Some(Value::Array(list)) => match list[0].get("ip_address") {
                None | Some(Value::Null) => None,
                Some(Value::String(ip)) => {
                    if ip.parse::<Ipv4Addr>().is_err() {
                        return Err(Fault::bad_request(format!(
                            "{ip} is not a valid IPv4 Address"
                        )));
                    }
                    Some(ip.clone())
                }
                Some(_) => return Err(Fault::bad_request("Invalid 'fixed_ips' field.")),
            },
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'fixed_ips' field",
                ));
            }
        };
        let name = match spec.get("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(n)) => n.clone(),
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'name' field",
                ));
            }
        };
        let sid = match &device {
            Some(d) => Some(self.live_server_mut(&user.uuid, d, now)?.id),
            None => None,
        };
        let net = self.live_network(&user.uuid, &net_id)?;
        let (nid, public) = (net.id, net.public());
        let how = if public {
            let ip = requested.ok_or_else(|| {
                Fault::bad_request(
                    "'fixed_ips' attribute must contain a floating IP address in order to connect to a public network.",
                )
            })?;
            let fip = self
                .floating_ips
                .values()
                .find(|f| f.owner == user.uuid && f.address == ip)
                .ok_or_else(|| Fault::not_found("Floating IP does not exist."))?;
            if fip.network != nid {
                return Err(Fault::conflict(format!(
                    "IP Address {ip} does not belong to network {nid}"
                )));
            }
            if fip.port.is_some() {
                return Err(Fault::conflict(format!(
                    "IP address '{ip}' is already in use"
                )));
            }
            Connect::Floating(fip.id)
        } else {
            match requested {
                Some(ip) => {
                    let net = self.live_network(&user.uuid, &net_id)?;
                    self.plan_fixed_ip(net, &ip, &[])?
                }
                None => Connect::Network(nid),
            }
        };
        if let Some(s) = sid.and_then(|id| self.servers.get(&id)) {
            s.refuse_if_busy("CONNECT")?;
        }
        let port = self.connect(&user.uuid, sid, how)?;
        let delay = self.action_delay;
        if let Some(p) = self.ports.get_mut(&port) {
            p.name = name;
            if sid.is_some() && !delay.is_zero() {
                p.connecting_until = Some(now + delay);
            }
        }
        if let Some(s) = sid.and_then(|sid| self.servers.get_mut(&sid)) {
            s.ports.push(port);
            s.touch();
        }
        let p = self
            .ports
            .get(&port)
            .ok_or_else(|| Fault::not_found("Port vanished"))?;
        Ok(json!({"port": self.port_json(p)}))
    }

    /// `DELETE /ports/{id}` (204): `logic/servers.py` `delete_port`: a
    /// port on a public network goes only with its floating IP.
    pub fn delete_port(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let pid = num_id(id)
            .filter(|n| self.ports.get(n).is_some_and(|p| p.owner == user))
            .ok_or_else(|| Fault::not_found(format!("Port '{id}' not found.")))?;
        let public_without_fip = self.ports.get(&pid).is_some_and(|p| {
            p.floating_ip.is_none() && self.networks.get(&p.network).is_some_and(Network::public)
        });
        if public_without_fip {
            return Err(Fault::forbidden("Cannot disconnect from public network."));
        }
        self.disconnect(pid);
        Ok(())
    }
}
