//! `POST /servers`. Everything is checked and planned (disks, then NICs,
//! then the quota) before anything changes, so a refused create leaves
//! no port, address or volume behind, as Cyclades' one transaction does.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use super::World;
use super::accounts::UserRec;
use super::body::{check_personality, id_field, num_id, str_field};
use super::flavors::Flavor;
use super::networks::Network;
use super::ports::Connect;
use super::servers::{Pending, Server, Status};
use super::volumes::Volume;
use crate::fault::Fault;

/// What a server create does with disks: the root disk's size and the
/// existing volumes to attach after it, in order.
struct DiskPlan {
    root_size: u64,
    pub(super) attach: Vec<u64>,
}

impl World {
    /// `POST /servers`.
    pub fn create_server(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = body
            .get("server")
            .filter(|v| v.is_object())
            .ok_or_else(|| Fault::bad_request("Malformed request"))?;
        // `api/servers.py` `create_server` reads these in one `try`: any
        // missing is the same "Malformed request".
        let name =
            str_field(spec, "name").ok_or_else(|| Fault::bad_request("Malformed request"))?;
        let flavor_ref =
            id_field(spec, "flavorRef").ok_or_else(|| Fault::bad_request("Malformed request"))?;
        let image_ref =
            id_field(spec, "imageRef").ok_or_else(|| Fault::bad_request("Malformed request"))?;
        let flavor = num_id(&flavor_ref)
            .and_then(|n| self.flavors.get(&n))
            .ok_or_else(|| Fault::not_found("Flavor not found."))?
            .clone();
        if !flavor.seed.allow_create {
            return Err(Fault::forbidden(format!(
                "Flavor {} is not allowed to be created",
                flavor.seed.name
            )));
        }
        // A snapshot boots while still CREATING: Cyclades' server create
        // (`logic/servers.py` `create`) does not look at the image status.
        if !self.usable_image(&user.uuid, &image_ref) {
            return Err(Fault::not_found(format!("Image '{image_ref}' not found")));
        }
        let project = self.project_for(user, spec.get("project"))?;
        let metadata = match spec.get("metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_owned()))
                        .ok_or_else(|| Fault::bad_request("Malformed metadata"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(Fault::bad_request("Malformed metadata")),
        };
        if spec
            .get("networks")
            .is_some_and(|n| !n.is_null() && !n.is_array())
        {
            return Err(Fault::bad_request("Malformed request"));
        }
        let personality_files = check_personality(spec.get("personality"))?;
        let key_name = match spec.get("key_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(Fault::bad_request("Malformed key_name")),
        };
        if self
            .volumes
            .values()
            .filter(|v| v.owner == user.uuid && !v.deleted)
            .count()
            >= self.quotas.volumes
        {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account.",
            ));
        }
        // Plan the volumes and network connections before changing anything.
        let disks = self.plan_volumes(
            user,
            spec.get("block_device_mapping_v2"),
            &image_ref,
            &flavor,
        )?;
        let plan = self.plan_networks(user, spec.get("networks"))?;
        // The server's commission comes after its ports and disks are
        // planned (`logic/servers.py` `_db_create_server`).
        self.check_server_quota(&user.uuid, &flavor, disks.root_size)?;

        let id = self.next_server;
        self.next_server += 1;
        let created = SystemTime::now();
        let mut server = Server {
            id,
            owner: user.uuid.clone(),
            project,
            name: name.to_owned(),
            flavor: flavor.seed.id,
            image: image_ref,
            status: Status::Build,
            pending: Some(Pending::action(
                now + self.build_delay,
                Status::Active,
                "BUILDING",
            )),
            metadata,
            key_name,
            created,
            updated: created,
            ports: Vec::new(),
            volumes: Vec::new(),
            personality_files,
            destroyed_twice: false,
        };
        // Requested private addresses first, so that no port of this
        // server takes one as its next free address.
        for step in &plan {
            if let Connect::Fixed(_, sid, address) = *step
                && let Some(subnet) = self.subnets.get_mut(&sid)
            {
                subnet.reserve(address);
            }
        }
        for step in plan {
            let port = self.connect(&user.uuid, Some(id), step)?;
            server.ports.push(port);
        }
        let vol = self.next_volume;
        self.next_volume += 1;
        self.volumes.insert(
            vol,
            Volume {
                id: vol,
                owner: user.uuid.clone(),
                project: server.project.clone(),
                name: String::new(),
                description: String::new(),
                size: disks.root_size,
                volume_type: flavor.volume_type,
                server: Some(id),
                index: 0,
                root: true,
                delete_on_termination: true,
                created,
                metadata: BTreeMap::new(),
                snapshot_counter: 0,
                deleted: false,
                image: Some(server.image.clone()),
            },
        );
        server.volumes.push(vol);
        for (index, vid) in (1..).zip(disks.attach) {
            if let Some(v) = self.volumes.get_mut(&vid) {
                v.server = Some(id);
                v.index = index;
                server.volumes.push(vid);
            }
        }
        let mut answer = self.server_json(&server);
        if let Some(o) = answer.as_object_mut() {
            o.insert(
                "adminPass".into(),
                json!(format!("sim{:08x}", id.wrapping_mul(2_654_435_761) as u32)),
            );
        }
        self.servers.insert(id, server);
        self.schedule(now + self.build_delay);
        Ok(json!({ "server": answer }))
    }

    /// Cyclades' `block_device_mapping_v2` (`api/servers.py`
    /// `_parse_block_device`, `logic/servers.py` `create`): the first entry
    /// is the root disk, made from the server's image; the others name
    /// existing volumes, which must be the caller's, `AVAILABLE` and of the
    /// flavor's volume type (each refusal a 400, as Cyclades answers), and
    /// then Cyclades 0.20 fails with a 500 (see below): existing volumes
    /// cannot be attached in a create. Blank and snapshot disks are not
    /// modelled.
    fn plan_volumes(
        &self,
        user: &UserRec,
        mapping: Option<&Value>,
        image_ref: &str,
        flavor: &Flavor,
    ) -> Result<DiskPlan, Fault> {
        let mut plan = DiskPlan {
            root_size: flavor.seed.disk,
            attach: Vec::new(),
        };
        let Some(mapping) = mapping.filter(|v| !v.is_null()) else {
            return Ok(plan);
        };
        let invalid =
            |why: &str| Fault::bad_request(format!("Block Device Mapping is Invalid{why}"));
        let devices = mapping.as_array().ok_or_else(|| invalid(""))?;
        for (index, device) in devices.iter().enumerate() {
            if !device.is_object() {
                return Err(invalid(""));
            }
            let source = str_field(device, "source_type")
                .ok_or_else(|| invalid(": Invalid source_type field"))?;
            if !["image", "volume", "blank"].contains(&source) {
                return Err(invalid(": source_type must be on of image, volume, blank"));
            }
            let uuid = id_field(device, "uuid");
            if uuid.is_none() && source != "blank" {
                return Err(invalid(&format!(": uuid of {source} is missing")));
            }
            let size = match device.get("volume_size") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .ok_or_else(|| invalid(": Invalid size field"))?,
                ),
            };
            if device
                .get("delete_on_termination")
                .is_some_and(|d| !d.is_null() && !d.is_boolean())
            {
                return Err(invalid(": Invalid delete_on_termination field"));
            }
            match (index, source, uuid) {
                (0, "blank", _) => return Err(Fault::bad_request("Root volume cannot be blank")),
                (0, "image", Some(image)) => {
                    if image != image_ref {
                        return Err(Fault::bad_request(
                            "The specified server's image is different from the the source of the first volume.",
                        ));
                    }
                    plan.root_size = size.unwrap_or(flavor.seed.disk);
                }
                (i, "volume", Some(vid)) if i > 0 => {
                    let volume = self.volume_for_server(&user.uuid, &vid).and_then(|n| {
                        self.volumes
                            .get(&n)
                            .ok_or_else(|| Fault::bad_request(format!("Volume {n} not found")))
                    })?;
                    if volume.volume_type != flavor.volume_type {
                        return Err(Fault::bad_request(format!(
                            "Volume '{}' has type '{}' while flavor's volume type is '{}'",
                            volume.id, volume.volume_type, flavor.volume_type
                        )));
                    }
                    if volume.server.is_some() || plan.attach.contains(&volume.id) {
                        return Err(Fault::bad_request(
                            "Cannot use volume while it is in IN_USE status",
                        ));
                    }
                    // Cyclades 0.20 then fails: `_db_create_server` reads
                    // `origin_size`, which only a volume made by this very
                    // request has (AttributeError, answered as a 500).
                    return Err(Fault::new(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        "computeFault",
                        "Unexpected error",
                    ));
                }
                _ => {
                    return Err(Fault::bad_request(format!(
                        "the simulator models a root disk from the server's image followed by existing volumes, not a {source} disk at index {index}"
                    )));
                }
            }
        }
        Ok(plan)
    }

    /// Cyclades' `networks` of a server create, checked before anything
    /// is made (grnet/synnefo `snf-cyclades-app/synnefo/logic/servers.py`:
    /// `create` -> `create_instance_ports` -> `create_ports_for_request`
    /// -> `_port_for_request`, all in the create's one transaction, so a
    /// refusal leaves nothing behind). Per entry `{"uuid", "fixed_ip"}`:
    ///
    /// - a network the caller cannot see: 404 (`api/util.py`
    ///   `get_network`);
    /// - a public network with `fixed_ip`: that address must be one of
    ///   the caller's floating IPs (`create_public_ipv4_port` ->
    ///   `api/util.py` `get_floating_ip_by_address`: else 404 "Floating IP
    ///   does not exist."), of this network (`_create_port`: else 409 `IP
    ///   Address <ip> does not belong to network <id>`) and unused (else
    ///   409 `IP address '<ip>' is already in use`); the port gets it, and
    ///   the floating IP shows the new server (`instance_id`, `port_id`).
    ///   This is how kamaki's `server create --network NET,IP` and
    ///   `snf-manage server-create --port floatingip:<id>` (which sends
    ///   `{"uuid": fip.network_id, "fixed_ip": fip.address}`) attach a
    ///   floating IP at creation;
    /// - a public network without `fixed_ip`: a free floating IP of the
    ///   caller's on it (`ips.get_free_floating_ip`: else 409 "... Please
    ///   create a floating IP.");
    /// - a public network with `"fixed_ip": null`: 400 (Cyclades means to
    ///   answer "Cannot connect to public network");
    /// - a private network with `fixed_ip`: that address of its IPv4
    ///   subnet (`ips.allocate_ip`: 400 `Address <ip> does not belong to
    ///   network <id>` outside the pool, 409 `IP address <ip> is already
    ///   used.` when taken), without: the next free one.
    ///
    /// An address asked for twice in one create is "in use" the second
    /// time, as the first port already holds it in Cyclades' transaction.
    fn plan_networks(
        &self,
        user: &UserRec,
        networks: Option<&Value>,
    ) -> Result<Vec<Connect>, Fault> {
        let Some(networks) = networks.filter(|v| !v.is_null()) else {
            return self.plan_default_networks(user);
        };
        let malformed = || Fault::bad_request("Malformed request. Invalid 'networks' field");
        let list = networks.as_array().ok_or_else(malformed)?;
        let mut plan = Vec::new();
        for entry in list {
            if !entry.is_object() {
                return Err(malformed());
            }
            if let Some(port) = id_field(entry, "port") {
                return Err(Fault::bad_request(format!(
                    "Port {port} cannot be used: connect servers by network"
                )));
            }
            let net_id = id_field(entry, "uuid").ok_or_else(|| {
                Fault::bad_request("Network 'uuid' or 'port' attribute is required.")
            })?;
            let net = num_id(&net_id)
                .and_then(|n| self.networks.get(&n))
                .filter(|n| n.visible_to(&user.uuid))
                .ok_or_else(|| Fault::not_found(format!("Network {net_id} not found.")))?;
            // Absent, `null` or an address.
            let fixed = match entry.get("fixed_ip") {
                None => None,
                Some(Value::Null) => Some(None),
                Some(Value::String(ip)) => Some(Some(ip.as_str())),
                Some(_) => return Err(malformed()),
            };
            let step = if net.public() {
                match fixed {
                    None => {
                        let fip = self
                            .floating_ips
                            .values()
                            .find(|f| {
                                f.owner == user.uuid
                                    && f.network == net.id
                                    && f.port.is_none()
                                    && !plan.contains(&Connect::Floating(f.id))
                            })
                            .ok_or_else(|| {
                                Fault::conflict(format!(
                                    "Cannot find an unused floating IP to connect server to network '{}'. Please create a floating IP.",
                                    net.id
                                ))
                            })?;
                        Connect::Floating(fip.id)
                    }
                    Some(None) => {
                        return Err(Fault::bad_request("Cannot connect to public network"));
                    }
                    Some(Some(ip)) => {
                        let fip = self
                            .floating_ips
                            .values()
                            .find(|f| f.owner == user.uuid && f.address == ip)
                            .ok_or_else(|| Fault::not_found("Floating IP does not exist."))?;
                        if fip.network != net.id {
                            return Err(Fault::conflict(format!(
                                "IP Address {ip} does not belong to network {}",
                                net.id
                            )));
                        }
                        if fip.port.is_some() || plan.contains(&Connect::Floating(fip.id)) {
                            return Err(Fault::conflict(format!(
                                "IP address '{ip}' is already in use"
                            )));
                        }
                        Connect::Floating(fip.id)
                    }
                }
            } else {
                match fixed {
                    None | Some(None) => Connect::Network(net.id),
                    Some(Some(ip)) => self.plan_fixed_ip(net, ip, &plan)?,
                }
            };
            plan.push(step);
        }
        Ok(plan)
    }

    /// The connections of a server created without `networks`: the site's
    /// `CYCLADES_DEFAULT_SERVER_NETWORKS` (`logic/servers.py`
    /// `create_ports_for_setting`, category "default"). Cyclades' own
    /// default is empty: such a server gets no NIC at all. Entries:
    /// - `SNF:ANY_PUBLIC_IPV4`: a free floating IP of the caller's, else
    ///   409 "Cannot find an unused floating IP to connect server to a
    ///   public network. Please create a floating IP.";
    /// - `SNF:ANY_PUBLIC`: the same, but as there is no IPv6-only network
    ///   here the refusal is 409 "Cannot connect server to a public IPv4
    ///   or IPv6 network.";
    /// - a network id: as if the request had named it.
    fn plan_default_networks(&self, user: &UserRec) -> Result<Vec<Connect>, Fault> {
        let mut plan = Vec::new();
        for entry in &self.default_server_networks {
            let step = match entry.as_str() {
                "SNF:ANY_PUBLIC_IPV4" | "SNF:ANY_PUBLIC" => {
                    let fip = self
                        .floating_ips
                        .values()
                        .find(|f| {
                            f.owner == user.uuid
                                && f.port.is_none()
                                && !plan.contains(&Connect::Floating(f.id))
                        })
                        .ok_or_else(|| {
                            Fault::conflict(if entry == "SNF:ANY_PUBLIC" {
                                "Cannot connect server to a public IPv4 or IPv6 network."
                            } else {
                                "Cannot find an unused floating IP to connect server to a public network. Please create a floating IP."
                            })
                        })?;
                    Connect::Floating(fip.id)
                }
                id => {
                    let mut planned = self.plan_networks(user, Some(&json!([{ "uuid": id }])))?;
                    planned.remove(0)
                }
            };
            plan.push(step);
        }
        Ok(plan)
    }

    /// A requested address on a private network (`ips.allocate_ip`).
    pub(super) fn plan_fixed_ip(
        &self,
        net: &Network,
        ip: &str,
        plan: &[Connect],
    ) -> Result<Connect, Fault> {
        let mut v4 = net
            .subnets
            .iter()
            .filter_map(|s| self.subnets.get(s))
            .filter(|s| s.ip_version == 4)
            .peekable();
        if v4.peek().is_none() {
            return Err(Fault::bad_request(format!(
                "Address {ip} is not a valid IP for the defined network subnets"
            )));
        }
        let outside = || {
            Fault::bad_request(format!(
                "Address {ip} does not belong to network {}",
                net.id
            ))
        };
        let address: Ipv4Addr = ip.parse().map_err(|_| outside())?;
        let n = u32::from(address);
        let subnet = v4
            .find(|s| {
                s.pool
                    .is_some_and(|(first, last)| (first..=last).contains(&n))
            })
            .ok_or_else(outside)?;
        let step = Connect::Fixed(net.id, subnet.id, address);
        if subnet.used.contains(&n) || plan.contains(&step) {
            return Err(Fault::conflict(format!("IP address {ip} is already used.")));
        }
        Ok(step)
    }
}
