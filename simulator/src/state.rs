//! The simulated cloud: users, flavors, images, networks, servers,
//! volumes, and the rules Synnefo applies to them. Pure data and logic:
//! no HTTP here, every operation answers JSON or a [`Fault`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::SimulatorError;
use super::fault::Fault;
use super::seed::{FlavorSeed, ImageSeed, Quotas, UserSeed, VomsUserSeed};
use crate::timestamp::format_rfc3339;

/// Largest personality file, decoded (Synnefo's limit).
const MAX_PERSONALITY_BYTES: usize = 10_240;
/// Most personality files per server.
const MAX_PERSONALITY_FILES: usize = 5;

/// A user of the simulated Astakos.
#[derive(Clone, Debug)]
pub struct UserRec {
    /// UUID.
    pub uuid: String,
    /// Display name.
    pub name: String,
    /// Token.
    pub token: String,
    /// Projects, the system project (the UUID) first.
    pub projects: Vec<String>,
}

impl UserRec {
    fn member_of(&self, project: &str) -> bool {
        self.projects.iter().any(|p| p == project)
    }
}

/// A server status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// BUILD.
    Build,
    /// ACTIVE.
    Active,
    /// STOPPED.
    Stopped,
    /// REBOOT.
    Reboot,
    /// ERROR.
    Error,
    /// DELETED.
    Deleted,
}

impl Status {
    /// Synnefo's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Build => "BUILD",
            Status::Active => "ACTIVE",
            Status::Stopped => "STOPPED",
            Status::Reboot => "REBOOT",
            Status::Error => "ERROR",
            Status::Deleted => "DELETED",
        }
    }

    /// Parses Synnefo's spelling.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "BUILD" => Status::Build,
            "ACTIVE" => Status::Active,
            "STOPPED" => Status::Stopped,
            "REBOOT" => Status::Reboot,
            "ERROR" => Status::Error,
            "DELETED" => Status::Deleted,
            _ => return None,
        })
    }
}

/// A transition in progress: shown as `SNF:task_state`, done at `until`.
#[derive(Clone, Debug)]
struct Pending {
    until: Instant,
    to: Status,
    task: &'static str,
}

#[derive(Clone, Debug)]
struct Server {
    id: u64,
    owner: String,
    project: String,
    name: String,
    flavor: u64,
    image: String,
    status: Status,
    pending: Option<Pending>,
    metadata: BTreeMap<String, String>,
    key_name: Option<String>,
    created: SystemTime,
    updated: SystemTime,
    ports: Vec<u64>,
    volumes: Vec<u64>,
    personality_files: usize,
    /// Deleted again while its deletion ran: Cyclades then keeps the
    /// task `DESTROYING` for good (the first job's completion does not
    /// clear the task the second job now owns, and the second fails).
    destroyed_twice: bool,
}

impl Server {
    /// Completes a transition whose time has come; true when that
    /// transition was the server's deletion (its ports and disks are then
    /// released by [`World::finish_delete`]).
    #[must_use]
    fn settle(&mut self, now: Instant) -> bool {
        let Some(to) = self
            .pending
            .as_ref()
            .filter(|p| now >= p.until)
            .map(|p| p.to)
        else {
            return false;
        };
        if self.status == Status::Deleted {
            return false;
        }
        self.status = to;
        if !(to == Status::Deleted && self.destroyed_twice) {
            self.pending = None;
        }
        self.updated = SystemTime::now();
        to == Status::Deleted
    }

    /// `SNF:task_state` (`logic/utils.py` `get_task_state`).
    fn task(&self) -> &'static str {
        self.pending.as_ref().map(|p| p.task).unwrap_or("")
    }

    /// The pending action as Cyclades names it in its refusals
    /// (`VirtualMachine.task`: `BUILD`, `START`, `STOP`, `REBOOT`,
    /// `RESIZE`, `DESTROY`).
    fn pending_action(&self) -> Option<&'static str> {
        let p = self.pending.as_ref()?;
        Some(match p.task {
            "BUILDING" => "BUILD",
            "STARTING" => "START",
            "STOPPING" => "STOP",
            "REBOOTING" => "REBOOT",
            "RESIZING" => "RESIZE",
            "DESTROYING" => "DESTROY",
            other => other,
        })
    }

    /// `logic/commands.py` `validate_server_action`'s first refusal: an
    /// action is pending (409 while the server is being built).
    fn refuse_if_busy(&self, action: &str) -> Result<(), Fault> {
        match self.pending_action() {
            None => Ok(()),
            Some("BUILD") => Err(Fault::build_in_progress(format!(
                "Server '{}' is being built.",
                self.id
            ))),
            Some(pending) => Err(Fault::bad_request(format!(
                "Cannot perform '{action}' action while there is a pending '{pending}'."
            ))),
        }
    }

    /// Whether a deletion is in progress or done.
    fn destroying(&self) -> bool {
        self.status == Status::Deleted
            || self
                .pending
                .as_ref()
                .is_some_and(|p| p.to == Status::Deleted)
    }
}

#[derive(Clone, Debug)]
struct Flavor {
    seed: FlavorSeed,
    volume_type: u64,
}

#[derive(Clone, Debug)]
struct Network {
    id: u64,
    name: String,
    /// `None` for public networks.
    owner: Option<String>,
    project: Option<String>,
    kind: String,
    floating_ip_pool: bool,
    subnets: Vec<u64>,
    created: SystemTime,
    /// Deleted: `GET` still shows it (`DELETED`), no listing does.
    deleted: bool,
}

impl Network {
    fn public(&self) -> bool {
        self.owner.is_none()
    }
    fn visible_to(&self, user: &str) -> bool {
        self.owner.as_deref().is_none_or(|o| o == user)
    }
}

#[derive(Clone, Debug)]
struct Subnet {
    id: u64,
    network: u64,
    owner: Option<String>,
    name: String,
    cidr: String,
    ip_version: u8,
    gateway: Option<String>,
    dhcp: bool,
    /// IPv4 pool: first and last allocatable host, and used addresses.
    pool: Option<(u32, u32)>,
    used: HashSet<u32>,
    cursor: u32,
    /// Deleted with its network: `GET` still shows it (without pools),
    /// no listing does.
    deleted: bool,
}

impl Subnet {
    fn allocate(&mut self) -> Option<Ipv4Addr> {
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

    fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        match self.pool {
            Some((first, last)) if n >= first && n <= last => self.used.insert(n),
            _ => false,
        }
    }

    fn release(&mut self, ip: &str) {
        if let Ok(ip) = ip.parse::<Ipv4Addr>() {
            self.used.remove(&u32::from(ip));
        }
    }
}

#[derive(Clone, Debug)]
struct Port {
    id: u64,
    owner: String,
    network: u64,
    /// The server it connects, if any (Cyclades makes ports without one).
    device: Option<u64>,
    /// Until when the Ganeti job connecting it runs (`BUILD`, no MAC).
    connecting_until: Option<Instant>,
    /// Whether it has a firewall profile: Cyclades gives NICs on public
    /// networks its `DEFAULT_FIREWALL_PROFILE` (`logic/backend.py`
    /// `process_ganeti_nics`), others none.
    firewall: bool,
    mac: String,
    /// (address, subnet id)
    ips: Vec<(String, u64)>,
    floating_ip: Option<u64>,
    name: String,
    created: SystemTime,
}

#[derive(Clone, Debug)]
struct FloatingIp {
    id: u64,
    owner: String,
    project: String,
    network: u64,
    subnet: u64,
    address: String,
    port: Option<u64>,
    server: Option<u64>,
}

#[derive(Clone, Debug)]
struct Volume {
    id: u64,
    owner: String,
    project: String,
    name: String,
    description: String,
    size: u64,
    volume_type: u64,
    server: Option<u64>,
    index: u32,
    root: bool,
    /// Whether deleting its server deletes it too (Cyclades' default:
    /// true for a root disk).
    delete_on_termination: bool,
    created: SystemTime,
    metadata: BTreeMap<String, String>,
    /// Snapshots taken so far (names the Pithos file of the next one).
    snapshot_counter: u64,
    /// Deleted: still shown by `GET /volumes/{id}` (status `deleted`),
    /// as Cyclades keeps its rows, but in no listing.
    deleted: bool,
    /// The image a root disk was made from (`image_id`).
    image: Option<String>,
}

/// A volume snapshot. Cyclades registers it in Pithos as a Plankton
/// image (`volume/snapshots.py` `create`), so its id is an image id: it
/// is listed among its owner's images and boots new servers.
#[derive(Clone, Debug)]
struct Snapshot {
    id: String,
    owner: String,
    name: String,
    description: String,
    volume: u64,
    /// The Pithos file, `snf-snap-<volume id>-<counter>`.
    file_name: String,
    /// GB, the volume's size.
    size: u64,
    created: SystemTime,
    /// `CREATING` until then (the Ganeti snapshot job), `AVAILABLE` after.
    ready_at: Instant,
    /// The image properties (`exclude_all_tasks`, `description`, and the
    /// server's `OS` and `users` for a root volume).
    properties: BTreeMap<String, String>,
}

impl Snapshot {
    fn ready(&self, now: Instant) -> bool {
        now >= self.ready_at
    }
}

/// What a server create does with disks: the root disk's size and the
/// existing volumes to attach after it, in order.
struct DiskPlan {
    root_size: u64,
    attach: Vec<u64>,
}

/// The whole simulated cloud.
pub struct World {
    base: String,
    build_delay: Duration,
    action_delay: Duration,
    token_lifetime: Duration,
    quotas: Quotas,
    default_server_networks: Vec<String>,
    users: HashMap<String, UserRec>,
    tokens: HashMap<String, String>,
    voms: Vec<VomsUserSeed>,
    flavors: BTreeMap<u64, Flavor>,
    images: Vec<ImageSeed>,
    volume_types: Vec<(u64, String)>,
    networks: BTreeMap<u64, Network>,
    subnets: BTreeMap<u64, Subnet>,
    ports: BTreeMap<u64, Port>,
    floating_ips: BTreeMap<u64, FloatingIp>,
    servers: BTreeMap<u64, Server>,
    volumes: BTreeMap<u64, Volume>,
    /// By id: Cyclades lists images sorted by id.
    snapshots: BTreeMap<String, Snapshot>,
    next_server: u64,
    /// The earliest time a server transition comes due (see
    /// [`World::tick`]).
    next_due: Option<Instant>,
    next_net: u64,
    next_port: u64,
    next_volume: u64,
    token_issued: SystemTime,
}

/// What the world is built from.
pub struct WorldSeed {
    /// The simulator's base URL, for links and the catalog.
    pub base: String,
    /// BUILD -> ACTIVE delay.
    pub build_delay: Duration,
    /// Start/shutdown/reboot delay.
    pub action_delay: Duration,
    /// Token validity.
    pub token_lifetime: Duration,
    /// Quotas.
    pub quotas: Quotas,
    /// The site's `CYCLADES_DEFAULT_SERVER_NETWORKS`.
    pub default_server_networks: Vec<String>,
    /// Users.
    pub users: Vec<UserSeed>,
    /// Flavors.
    pub flavors: Vec<FlavorSeed>,
    /// Images.
    pub images: Vec<ImageSeed>,
    /// Public networks.
    pub networks: Vec<super::seed::NetworkSeed>,
    /// VOMS mapping.
    pub voms_users: Vec<VomsUserSeed>,
}

/// The longest volume name and description, in characters (Cyclades'
/// `Volume.NAME_LENGTH` and `DESCRIPTION_LENGTH`).
const VOLUME_TEXT_LENGTH: usize = 255;
/// The longest network name, in characters (`Network.NETWORK_NAME_LENGTH`).
const NETWORK_NAME_LENGTH: usize = 128;

fn invalid(reason: String) -> SimulatorError {
    SimulatorError::Seed { reason }
}

/// Parses `a.b.c.d/n`: network address and prefix length.
fn parse_cidr4(cidr: &str) -> Option<(u32, u32)> {
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

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// An id given as a JSON number or string.
fn id_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn num_id(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

impl World {
    /// Builds the world from its seed; rejects inconsistent seeds.
    pub fn new(seed: WorldSeed) -> Result<World, SimulatorError> {
        let now = SystemTime::now();
        let mut world = World {
            base: seed.base,
            build_delay: seed.build_delay,
            action_delay: seed.action_delay,
            token_lifetime: seed.token_lifetime,
            quotas: seed.quotas,
            default_server_networks: seed.default_server_networks.clone(),
            users: HashMap::new(),
            tokens: HashMap::new(),
            voms: seed.voms_users,
            flavors: BTreeMap::new(),
            images: seed.images,
            volume_types: Vec::new(),
            networks: BTreeMap::new(),
            subnets: BTreeMap::new(),
            ports: BTreeMap::new(),
            floating_ips: BTreeMap::new(),
            servers: BTreeMap::new(),
            volumes: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            next_server: 101,
            next_due: None,
            next_net: 1000,
            next_port: 1,
            next_volume: 1,
            token_issued: now,
        };
        for u in seed.users {
            if u.token.is_empty() || u.uuid.is_empty() {
                return Err(invalid(format!(
                    "user {:?} needs a uuid and a token",
                    u.name
                )));
            }
            if world
                .tokens
                .insert(u.token.clone(), u.uuid.clone())
                .is_some()
            {
                return Err(invalid(format!("two users share the token of {}", u.name)));
            }
            let mut projects = vec![u.uuid.clone()];
            projects.extend(u.projects.into_iter().filter(|p| *p != u.uuid));
            let rec = UserRec {
                uuid: u.uuid.clone(),
                name: u.name,
                token: u.token,
                projects,
            };
            if world.users.insert(u.uuid.clone(), rec).is_some() {
                return Err(invalid(format!("two users share the uuid {}", u.uuid)));
            }
        }
        for v in &world.voms {
            let Some(user) = world.users.get(&v.user) else {
                return Err(invalid(format!(
                    "voms user {} maps to unknown user {}",
                    v.dn, v.user
                )));
            };
            if !user.member_of(&v.project) {
                return Err(invalid(format!(
                    "voms user {}: {} is not a project of {}",
                    v.dn, v.project, v.user
                )));
            }
        }
        // One volume type per disk template of the flavors, numbered as
        // the real harness numbers them: the detachable (`ext_*`) ones
        // first, so that a standalone volume of "the cloud's first type"
        // can be made (Cyclades refuses a detached volume of any other).
        let mut templates: Vec<String> = Vec::new();
        for f in &seed.flavors {
            if !templates.contains(&f.disk_template) {
                templates.push(f.disk_template.clone());
            }
        }
        templates.sort_by_key(|t| !t.starts_with("ext_"));
        world.volume_types = (1..).zip(templates).collect();
        for f in seed.flavors {
            let volume_type = world
                .volume_types
                .iter()
                .find(|(_, n)| *n == f.disk_template)
                .map(|(id, _)| *id)
                .unwrap_or_default();
            let id = f.id;
            if world
                .flavors
                .insert(
                    id,
                    Flavor {
                        seed: f,
                        volume_type,
                    },
                )
                .is_some()
            {
                return Err(invalid(format!("two flavors have the id {id}")));
            }
        }
        for n in seed.networks {
            let (net, len) = parse_cidr4(&n.cidr)
                .ok_or_else(|| invalid(format!("network {}: bad CIDR {}", n.name, n.cidr)))?;
            let subnet_id = world.next_net;
            world.next_net += 1;
            let gateway = match &n.gateway {
                Some(g) => g
                    .parse::<Ipv4Addr>()
                    .map_err(|_| invalid(format!("network {}: bad gateway {g}", n.name)))?,
                None => Ipv4Addr::from(net + 1),
            };
            let last = net + (1u32 << (32 - len)) - 2;
            let mut subnet = Subnet {
                id: subnet_id,
                network: n.id,
                owner: None,
                name: format!("{} subnet", n.name),
                cidr: format!("{}/{}", Ipv4Addr::from(net), len),
                ip_version: 4,
                gateway: Some(gateway.to_string()),
                dhcp: true,
                // As Cyclades makes it: without the gateway when that is
                // the first host.
                pool: Some(if u32::from(gateway) == net + 1 {
                    (net + 2, last)
                } else {
                    (net + 1, last)
                }),
                used: HashSet::new(),
                cursor: 0,
                deleted: false,
            };
            subnet.reserve(gateway);
            world.subnets.insert(subnet_id, subnet);
            let network = Network {
                id: n.id,
                name: n.name,
                owner: None,
                project: None,
                kind: n.network_type,
                floating_ip_pool: n.floating_ip_pool,
                subnets: vec![subnet_id],
                created: now,
                deleted: false,
            };
            if world.networks.insert(n.id, network).is_some() {
                return Err(invalid(format!("two networks have the id {}", n.id)));
            }
            world.next_net = world.next_net.max(n.id + 1);
        }
        Ok(world)
    }

    /// Finds the user of a token.
    pub fn user_by_token(&self, token: &str) -> Option<&UserRec> {
        self.tokens.get(token).and_then(|uuid| self.users.get(uuid))
    }

    /// Finds a user by UUID.
    pub fn user(&self, uuid: &str) -> Option<&UserRec> {
        self.users.get(uuid)
    }

    /// Finds a user by display name.
    pub fn user_by_name(&self, name: &str) -> Option<&UserRec> {
        self.users.values().find(|u| u.name == name)
    }

    /// The VOMS mappings.
    pub fn voms_users(&self) -> &[VomsUserSeed] {
        &self.voms
    }

    /// The simulator's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    // ---------------------------------------------------------------- identity

    /// The service catalog with absolute endpoint URLs, published as
    /// Astakos does (`snf_service_export`): compute, identity and account
    /// URLs end with their version (`SNF:exposeVersion` `"True"`), while
    /// network, volume and image are published bare (`http://host/network`)
    /// with `"False"`, and clients append `versionId` themselves.
    pub fn catalog(&self) -> Value {
        let b = &self.base;
        let entry = |t: &str, name: &str, version: &str, url: String, exposed: bool| {
            let expose = if exposed { "True" } else { "False" };
            json!({"endpoints_links": [], "endpoints": [{"SNF:uiURL": format!("{b}/ui"), "region": "default", "versionId": version, "SNF:exposeVersion": expose, "publicURL": url}], "type": t, "name": name})
        };
        json!([
            entry(
                "identity",
                "astakos_identity",
                "v2.0",
                format!("{b}/identity/v2.0"),
                true
            ),
            entry(
                "account",
                "astakos_account",
                "v1.0",
                format!("{b}/account/v1.0"),
                true
            ),
            entry(
                "compute",
                "cyclades_compute",
                "v2.0",
                format!("{b}/compute/v2.0"),
                true
            ),
            entry(
                "network",
                "cyclades_network",
                "v2.0",
                format!("{b}/network"),
                false
            ),
            entry(
                "volume",
                "cyclades_volume",
                "v2.0",
                format!("{b}/volume"),
                false
            ),
            entry(
                "image",
                "cyclades_plankton",
                "v1.0",
                format!("{b}/image"),
                false
            ),
        ])
    }

    /// The `access` answer of `POST /tokens` for a user.
    pub fn access(&self, user: &UserRec, tenant: Option<(&str, &str)>) -> Value {
        let expires = format_rfc3339(self.token_issued + self.token_lifetime);
        let (tenant_id, tenant_name) = tenant.unwrap_or((&user.uuid, &user.name));
        json!({"access": {
            "token": {"id": user.token, "expires": expires, "tenant": {"id": tenant_id, "name": tenant_name}},
            "user": {"id": user.uuid, "name": user.name, "roles": [], "roles_links": [], "projects": user.projects},
            "serviceCatalog": self.catalog(),
        }})
    }

    // ----------------------------------------------------------------- helpers

    fn link(&self, path: String) -> Value {
        let href = format!("{}{}", self.base, path);
        json!([{"href": href, "rel": "self"}, {"href": href, "rel": "bookmark"}])
    }

    fn project_for(&self, user: &UserRec, requested: Option<&Value>) -> Result<String, Fault> {
        match requested {
            None | Some(Value::Null) => Ok(user.uuid.clone()),
            Some(Value::String(p)) if user.member_of(p) => Ok(p.clone()),
            Some(Value::String(p)) => Err(Fault::forbidden(format!(
                "User is not a member of project {p}"
            ))),
            Some(_) => Err(Fault::bad_request("Malformed project")),
        }
    }

    /// The caller's server `id`, brought up to `now` (`api/util.py`
    /// `get_vm`: "Server not found." for an unknown or foreign one).
    fn server_mut(&mut self, user: &str, id: &str, now: Instant) -> Result<&mut Server, Fault> {
        let n = num_id(id)
            .filter(|n| self.servers.get(n).is_some_and(|s| s.owner == user))
            .ok_or_else(|| Fault::not_found("Server not found."))?;
        self.settle_where(now, |s| s.id == n);
        self.servers
            .get_mut(&n)
            .ok_or_else(|| Fault::not_found("Server not found."))
    }

    /// [`World::server_mut`] refusing a deleted server, as `get_vm` with
    /// `non_deleted=True` does before any action is looked at.
    fn live_server_mut(
        &mut self,
        user: &str,
        id: &str,
        now: Instant,
    ) -> Result<&mut Server, Fault> {
        let server = self.server_mut(user, id, now)?;
        if server.status == Status::Deleted {
            return Err(Fault::bad_request("Server has been deleted."));
        }
        Ok(server)
    }

    /// Completes the due transitions of the servers `which` selects, and
    /// releases what the deleted ones held.
    fn settle_where(&mut self, now: Instant, which: impl Fn(&Server) -> bool) {
        let deleted: Vec<u64> = self
            .servers
            .values_mut()
            .filter(|s| which(s))
            .filter_map(|s| s.settle(now).then_some(s.id))
            .collect();
        for id in deleted {
            self.finish_delete(id);
        }
    }

    /// The `cyclades.vm`, `cyclades.total_cpu`, `cyclades.total_ram` and
    /// `cyclades.disk` commission of a new server (Astakos counts memory
    /// and disk in bytes; astakosclient names only some resources, the
    /// others by their key).
    fn check_server_quota(&self, user: &str, flavor: &Flavor, disk: u64) -> Result<(), Fault> {
        let live: Vec<&Server> = self
            .servers
            .values()
            .filter(|s| s.owner == user && s.status != Status::Deleted)
            .collect();
        if live.len() >= self.quotas.servers {
            return Err(Fault::quota(
                "Virtual Machine",
                (self.quotas.servers - live.len()) as u64,
                1,
            ));
        }
        let (cpus, ram) = live
            .iter()
            .filter_map(|s| self.flavors.get(&s.flavor))
            .fold((0, 0), |(c, r), f| (c + f.seed.vcpus, r + f.seed.ram));
        if cpus + flavor.seed.vcpus > self.quotas.cpus {
            return Err(Fault::quota(
                "cyclades.total_cpu",
                self.quotas.cpus.saturating_sub(cpus),
                flavor.seed.vcpus,
            ));
        }
        if ram + flavor.seed.ram > self.quotas.ram_mib {
            return Err(Fault::quota(
                "cyclades.total_ram",
                self.quotas.ram_mib.saturating_sub(ram) << 20,
                flavor.seed.ram << 20,
            ));
        }
        self.check_disk(user, disk)
    }

    fn mac(port: u64) -> String {
        format!(
            "aa:00:00:{:02x}:{:02x}:{:02x}",
            (port >> 16) & 0xff,
            (port >> 8) & 0xff,
            port & 0xff
        )
    }

    // ----------------------------------------------------------------- flavors

    fn flavor_json(&self, f: &Flavor, detail: bool) -> Value {
        let s = &f.seed;
        let mut v = json!({"id": s.id, "name": s.name, "links": self.link(format!("/compute/v2.0/flavors/{}", s.id))});
        if detail {
            let o = v.as_object_mut().map(|o| {
                o.insert("ram".into(), json!(s.ram));
                o.insert("vcpus".into(), json!(s.vcpus));
                o.insert("disk".into(), json!(s.disk));
                o.insert("SNF:disk_template".into(), json!(s.disk_template));
                o.insert("SNF:volume_type".into(), json!(f.volume_type));
                o.insert("SNF:allow_create".into(), json!(s.allow_create));
                o.insert("os-flavor-access:is_public".into(), json!(true));
                o.insert("SNF:flavor-access".into(), json!([]));
            });
            debug_assert!(o.is_some());
        }
        v
    }

    /// `GET /flavors[/detail]`.
    pub fn list_flavors(&self, detail: bool) -> Value {
        json!({"flavors": self.flavors.values().map(|f| self.flavor_json(f, detail)).collect::<Vec<_>>()})
    }

    /// `GET /flavors/{id}`.
    pub fn get_flavor(&self, id: &str) -> Result<Value, Fault> {
        let f = num_id(id)
            .and_then(|n| self.flavors.get(&n))
            .ok_or_else(|| Fault::not_found("Flavor not found."))?;
        Ok(json!({"flavor": self.flavor_json(f, true)}))
    }

    // ------------------------------------------------------------------ images

    /// An image's links (`api/util.py` `image_to_links`): self and
    /// bookmark in the compute API, alternate in Plankton.
    fn image_links(&self, id: &str) -> Value {
        let href = format!("{}/compute/v2.0/images/{id}", self.base);
        let alternate = format!("{}/image/v1.0/images/{id}", self.base);
        json!([{"href": href, "rel": "self"}, {"href": href, "rel": "bookmark"}, {"href": alternate, "rel": "alternate"}])
    }

    /// An image as `api/images.py` `image_to_dict` shows it: only id and
    /// name without detail.
    fn image_json(&self, i: &ImageSeed, detail: bool) -> Value {
        let mut v = json!({"id": i.id, "name": i.name});
        if detail && let Some(o) = v.as_object_mut() {
            o.insert("links".into(), self.image_links(&i.id));
            let created = format_rfc3339(self.token_issued);
            o.insert("status".into(), json!("ACTIVE"));
            o.insert("progress".into(), json!(100));
            o.insert("created".into(), json!(created));
            o.insert("updated".into(), json!(created));
            o.insert("user_id".into(), json!("snf-images"));
            o.insert("tenant_id".into(), json!("snf-images"));
            o.insert("public".into(), json!(true));
            o.insert("is_snapshot".into(), json!(false));
            o.insert(
                "metadata".into(),
                json!({"os": i.os, "users": i.users, "osfamily": i.osfamily, "ROOT_PARTITION": "1", "description": i.name}),
            );
        }
        v
    }

    /// A snapshot as Cyclades' image API shows it (`api/images.py`
    /// `image_to_dict`: Plankton status `CREATING` is `SAVING`,
    /// `AVAILABLE` is `ACTIVE`; `is_snapshot` true; private to its owner).
    fn snapshot_image_json(&self, s: &Snapshot, detail: bool, now: Instant) -> Value {
        let mut v = json!({"id": s.id, "name": s.name});
        if detail && let Some(o) = v.as_object_mut() {
            o.insert("links".into(), self.image_links(&s.id));
            let ready = s.ready(now);
            let created = format_rfc3339(s.created);
            o.insert(
                "status".into(),
                json!(if ready { "ACTIVE" } else { "SAVING" }),
            );
            o.insert("progress".into(), json!(if ready { 100 } else { 0 }));
            o.insert("created".into(), json!(created));
            o.insert("updated".into(), json!(created));
            o.insert("user_id".into(), json!(s.owner));
            o.insert("tenant_id".into(), json!(s.owner));
            o.insert("public".into(), json!(false));
            o.insert("is_snapshot".into(), json!(true));
            o.insert("metadata".into(), json!(s.properties));
        }
        v
    }

    /// The caller's snapshot `id`, if any (another user's is invisible).
    fn own_snapshot(&self, user: &str, id: &str) -> Option<&Snapshot> {
        self.snapshots.get(id).filter(|s| s.owner == user)
    }

    /// Whether `user` may boot `id`: a public image or one of their
    /// snapshots.
    fn usable_image(&self, user: &str, id: &str) -> bool {
        self.images.iter().any(|i| i.id == id) || self.own_snapshot(user, id).is_some()
    }

    /// `GET /images[/detail]`: the public images, then the caller's own
    /// snapshots (Plankton lists every image the user may read).
    pub fn list_images(&self, user: &str, detail: bool, now: Instant) -> Value {
        let public = self.images.iter().map(|i| self.image_json(i, detail));
        let own = self
            .snapshots
            .values()
            .filter(|s| s.owner == user)
            .map(|s| self.snapshot_image_json(s, detail, now));
        json!({"images": public.chain(own).collect::<Vec<_>>()})
    }

    /// `GET /images/{id}`.
    pub fn get_image(&self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        if let Some(s) = self.own_snapshot(user, id) {
            return Ok(json!({"image": self.snapshot_image_json(s, true, now)}));
        }
        let i = self
            .images
            .iter()
            .find(|i| i.id == id)
            .ok_or_else(|| Fault::not_found(format!("Image '{id}' not found")))?;
        Ok(json!({"image": self.image_json(i, true)}))
    }

    /// Plankton `GET /image/v1.0/images[/detail]`: a bare JSON list, the
    /// public images then the caller's snapshots.
    pub fn plankton_images(&self, user: &str, detail: bool, now: Instant) -> Value {
        let public = self.images.iter().map(|i| {
            let mut v = json!({"id": i.id, "name": i.name, "container_format": "bare", "disk_format": "diskdump", "size": i.size, "status": "available"});
            if detail && let Some(o) = v.as_object_mut() {
                let t = format_rfc3339(self.token_issued);
                o.insert("is_public".into(), json!(true));
                o.insert("owner".into(), json!("snf-images"));
                o.insert("created_at".into(), json!(t));
                o.insert("updated_at".into(), json!(t));
                o.insert("deleted_at".into(), json!(""));
                o.insert("checksum".into(), json!(""));
                o.insert("location".into(), json!(format!("pithos://snf-images/images/{}", i.name)));
                o.insert("properties".into(), json!({"os": i.os, "users": i.users, "osfamily": i.osfamily, "ROOT_PARTITION": "1"}));
            }
            v
        });
        let own = self.snapshots.values().filter(|s| s.owner == user).map(|s| {
            let status = if s.ready(now) { "AVAILABLE" } else { "CREATING" };
            let mut v = json!({"id": s.id, "name": s.name, "container_format": "bare", "disk_format": "diskdump", "size": s.size << 30, "status": status});
            if detail && let Some(o) = v.as_object_mut() {
                let t = format_rfc3339(s.created);
                o.insert("is_public".into(), json!(false));
                o.insert("is_snapshot".into(), json!(true));
                o.insert("owner".into(), json!(s.owner));
                o.insert("created_at".into(), json!(t));
                o.insert("updated_at".into(), json!(t));
                o.insert("deleted_at".into(), json!(""));
                o.insert("checksum".into(), json!(""));
                o.insert("location".into(), json!(format!("pithos://{}/snapshots/{}", s.owner, s.file_name)));
                o.insert("properties".into(), json!(s.properties));
            }
            v
        });
        Value::Array(public.chain(own).collect())
    }

    // ----------------------------------------------------------------- servers

    /// A server in detail (`GET /servers/{id}`, `/servers/detail`).
    fn server_json(&self, s: &Server) -> Value {
        let links = self.link(format!("/compute/v2.0/servers/{}", s.id));
        let mut addresses = serde_json::Map::new();
        let mut attachments = Vec::new();
        // `vm_to_dict` shows the ACTIVE NICs only: none while the server
        // or the port is being built.
        for port in s
            .ports
            .iter()
            .filter_map(|p| self.ports.get(p))
            .filter(|p| self.port_state(p) == "ACTIVE")
        {
            let kind = if port.floating_ip.is_some() {
                "floating"
            } else {
                "fixed"
            };
            let entry = addresses
                .entry(port.network.to_string())
                .or_insert_with(|| json!([]));
            let (mut v4, mut v6) = (String::new(), String::new());
            for (ip, _) in &port.ips {
                let version = if ip.contains(':') { 6 } else { 4 };
                if version == 4 {
                    v4 = ip.clone()
                } else {
                    v6 = ip.clone()
                }
                if let Some(list) = entry.as_array_mut() {
                    list.push(json!({"version": version, "addr": ip, "OS-EXT-IPS:type": kind}));
                }
            }
            let mut nic = json!({
                "id": port.id, "network_id": port.network.to_string(), "mac_address": port.mac,
                "ipv4": v4, "ipv6": v6, "OS-EXT-IPS:type": kind,
            });
            if port.firewall {
                nic["firewallProfile"] = json!("DISABLED");
            }
            attachments.push(nic);
        }
        let progress = match s.status {
            Status::Build => 0,
            _ => 100,
        };
        // Cyclades sorts them by id (`api/servers.py` `vm_to_dict`), so a
        // volume attached at create comes before the newer root disk.
        let mut volumes = s.volumes.clone();
        volumes.sort_unstable();
        json!({
            "id": s.id, "name": s.name, "status": s.status.as_str(), "progress": progress,
            "user_id": s.owner, "tenant_id": s.project,
            "created": format_rfc3339(s.created), "updated": format_rfc3339(s.updated),
            "flavor": {"id": s.flavor, "links": self.link(format!("/compute/v2.0/flavors/{}", s.flavor))},
            "image": {"id": s.image, "links": self.image_links(&s.image)},
            "metadata": s.metadata, "addresses": addresses, "attachments": attachments,
            "volumes": volumes, "links": links, "hostId": "", "accessIPv4": "", "accessIPv6": "",
            "config_drive": "", "key_name": s.key_name, "SNF:key_names": s.key_name.iter().collect::<Vec<_>>(),
            "SNF:fqdn": format!("snf-{}.vm.example.org", s.id), "SNF:task_state": s.task(),
            "SNF:port_forwarding": {}, "suspended": false, "security_groups": [{"name": "default"}],
            "diagnostics": [], "deleted": s.status == Status::Deleted,
            "shared_to_project": false, "SNF:rescue": false,
        })
    }

    /// `GET /servers` as JSON text, serialized straight from the records.
    ///
    /// Through a `Value` tree (a dozen allocations per server) the
    /// simulator's own answer was most of the load benchmark's listing
    /// time and grew faster than the listing; the benchmark measures the
    /// gateway, so its stand-in backend should not dominate.
    pub fn list_servers_text(&mut self, user: &str, now: Instant) -> String {
        #[derive(serde::Serialize)]
        struct Link<'a> {
            href: &'a str,
            rel: &'static str,
        }
        #[derive(serde::Serialize)]
        struct Summary<'a> {
            id: u64,
            name: &'a str,
            links: [Link<'a>; 2],
        }
        #[derive(serde::Serialize)]
        struct List<'a> {
            servers: Vec<Summary<'a>>,
        }
        self.settle_servers_of(user, now);
        let listed: Vec<&Server> = self.live_servers_of(user).collect();
        let hrefs: Vec<String> = listed
            .iter()
            .map(|s| format!("{}/compute/v2.0/servers/{}", self.base, s.id))
            .collect();
        let servers = listed
            .iter()
            .zip(&hrefs)
            .map(|(s, href)| Summary {
                id: s.id,
                name: &s.name,
                links: [
                    Link { href, rel: "self" },
                    Link {
                        href,
                        rel: "bookmark",
                    },
                ],
            })
            .collect();
        serde_json::to_string(&List { servers }).unwrap_or_else(|_| r#"{"servers":[]}"#.into())
    }

    /// `GET /servers/detail`: the user's servers that are not deleted.
    pub fn list_servers_detail(&mut self, user: &str, now: Instant) -> Value {
        self.settle_servers_of(user, now);
        let list: Vec<Value> = self
            .live_servers_of(user)
            .map(|s| self.server_json(s))
            .collect();
        json!({ "servers": list })
    }

    /// Brings `user`'s servers up to `now` (builds and actions finish).
    fn settle_servers_of(&mut self, user: &str, now: Instant) {
        self.settle_where(now, |s| s.owner == user);
    }

    /// `user`'s servers that are not deleted: what a listing shows.
    fn live_servers_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a Server> {
        self.servers
            .values()
            .filter(move |s| s.owner == user && s.status != Status::Deleted)
    }

    /// `GET /servers/{id}` (deleted servers still show, as DELETED).
    pub fn get_server(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        let s = self.server_mut(user, id, now)?.clone();
        Ok(json!({"server": self.server_json(&s)}))
    }

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
            pending: Some(Pending {
                until: now + self.build_delay,
                to: Status::Active,
                task: "BUILDING",
            }),
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
    ///   does not exist."), of this network (`_create_port`: else 409 "IP
    ///   Address <ip> does not belong to network <id>") and unused (else
    ///   409 "IP address '<ip>' is already in use"); the port gets it, and
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
    ///   subnet (`ips.allocate_ip`: 400 "Address <ip> does not belong to
    ///   network <id>" outside the pool, 409 "IP address <ip> is already
    ///   used." when taken), without: the next free one.
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
    fn plan_fixed_ip(&self, net: &Network, ip: &str, plan: &[Connect]) -> Result<Connect, Fault> {
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

    /// Creates a port (for a server, if given) and returns its id.
    fn connect(&mut self, user: &str, server: Option<u64>, how: Connect) -> Result<u64, Fault> {
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
    fn disconnect(&mut self, port_id: u64) {
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
        }
    }

    /// `DELETE /servers/{id}` (204): `logic/servers.py` `destroy`. The
    /// server keeps its state with the task `DESTROYING` until the
    /// deletion completes (the action delay, as the Ganeti job), then is
    /// `DELETED` (its task stays `DESTROYING`) and its ports and disks are
    /// released ([`World::finish_delete`]). Destroying is permitted while
    /// another action is pending, and again while it is in progress
    /// (`logic/commands.py` `validate_server_action`).
    pub fn delete_server(&mut self, user: &str, id: &str, now: Instant) -> Result<(), Fault> {
        let delay = self.action_delay;
        let server = self.server_mut(user, id, now)?;
        if server.status == Status::Deleted {
            // `logic/servers.py` `destroy` looks the server up with
            // `get_vm(non_deleted=True)`, which words it without the id.
            return Err(Fault::bad_request("Server has been deleted."));
        }
        // `logic/servers.py` `destroy`: refused while the create job runs.
        if server.status == Status::Build {
            return Err(Fault::build_in_progress("Server is being build"));
        }
        if server.destroying() {
            server.destroyed_twice = true;
        } else {
            server.pending = Some(Pending {
                until: now + delay,
                to: Status::Deleted,
                task: "DESTROYING",
            });
            server.updated = SystemTime::now();
        }
        let sid = server.id;
        self.schedule(now + delay);
        self.settle_where(now, |s| s.id == sid);
        Ok(())
    }

    /// What the completion of a server's deletion releases, as Cyclades'
    /// `logic/backend.py` `process_op_status` does for `OP_INSTANCE_REMOVE`:
    /// its ports (and their addresses; floating IPs stay the user's), and
    /// every volume still attached, which is deleted with it (whatever its
    /// `delete_on_termination`: Cyclades 0.20 marks them all deleted).
    fn finish_delete(&mut self, id: u64) {
        let Some(server) = self.servers.get_mut(&id) else {
            return;
        };
        let ports = std::mem::take(&mut server.ports);
        let volumes = std::mem::take(&mut server.volumes);
        for p in ports {
            self.disconnect(p);
        }
        for v in volumes {
            if let Some(vol) = self.volumes.get_mut(&v) {
                vol.server = None;
                vol.index = 0;
                vol.deleted = true;
            }
        }
    }

    /// `PUT /servers/{id}` (rename).
    pub fn update_server(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<(), Fault> {
        let spec = attribute(body, "server", Value::is_object)?;
        let name = attribute(spec, "name", Value::is_string)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let server = self.live_server_mut(user, id, now)?;
        server.name = name;
        server.updated = SystemTime::now();
        Ok(())
    }

    /// `POST /servers/{id}/action`: `api/servers.py`
    /// `demux_server_action` (one known action, its arguments checked
    /// first), then `logic/commands.py` `ServerCommand`: the server looked
    /// up live (`get_vm` with `non_deleted`), then
    /// `validate_server_action`'s checks in its order.
    pub fn server_action(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<(), Fault> {
        let (action, args) = body
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .ok_or_else(|| Fault::bad_request("Malformed request"))?;
        let action = action.clone();
        let verb = match action.as_str() {
            "start" => "START",
            "shutdown" => "STOP",
            "reboot" => "REBOOT",
            "resize" => "RESIZE",
            _ => {
                return Err(Fault::bad_request(format!("Action {action} not supported")));
            }
        };
        if !args.is_null() && !args.is_object() {
            return Err(Fault::bad_request(format!(
                "Malformed request. Invalid '{action}' field"
            )));
        }
        let reboot_type = args.get("type").and_then(Value::as_str).unwrap_or("SOFT");
        if action == "reboot" && !matches!(reboot_type, "SOFT" | "HARD") {
            return Err(Fault::bad_request("Invalid 'type' attribute."));
        }
        let resize_to = if action == "resize" {
            let f = id_field(args, "flavorRef").ok_or_else(|| {
                Fault::bad_request("Malformed request. Missing attribute 'flavorRef'.")
            })?;
            let flavor = num_id(&f)
                .and_then(|n| self.flavors.get(&n))
                .ok_or_else(|| Fault::not_found("Flavor not found."))?;
            Some(flavor.seed.id)
        } else {
            None
        };
        let delay = self.action_delay;
        let server = self.live_server_mut(user, id, now)?;
        // Synnefo's validate_server_action, in its order.
        server.refuse_if_busy(verb)?;
        let state = match server.status {
            Status::Active | Status::Reboot => "STARTED",
            Status::Stopped => "STOPPED",
            Status::Error => "ERROR",
            Status::Build => "BUILD",
            Status::Deleted => "DESTROYED",
        };
        if state == "ERROR" {
            return Err(Fault::bad_request(format!(
                "Cannot perform '{verb}' action while server is in 'ERROR' state."
            )));
        }
        if state == "BUILD" {
            return Err(Fault::build_in_progress(format!(
                "Server '{id}' is being built."
            )));
        }
        let wrong = match verb {
            "START" | "RESIZE" => state != "STOPPED",
            "STOP" => state != "STARTED",
            _ => false,
        };
        if wrong {
            return Err(Fault::bad_request(format!(
                "Cannot perform '{verb}' action while server is in '{state}' state."
            )));
        }
        let until = now + delay;
        server.updated = SystemTime::now();
        match verb {
            "START" => {
                server.pending = Some(Pending {
                    until,
                    to: Status::Active,
                    task: "STARTING",
                })
            }
            "STOP" => {
                server.pending = Some(Pending {
                    until,
                    to: Status::Stopped,
                    task: "STOPPING",
                })
            }
            "REBOOT" => {
                // REBOOT only shows on a running server (`get_rsapi_state`):
                // a stopped one stays STOPPED until it is up.
                if server.status == Status::Active {
                    server.status = Status::Reboot;
                }
                server.pending = Some(Pending {
                    until,
                    to: Status::Active,
                    task: "REBOOTING",
                });
            }
            _ => {
                if let Some(f) = resize_to {
                    server.flavor = f;
                }
                server.pending = Some(Pending {
                    until,
                    to: Status::Stopped,
                    task: "RESIZING",
                });
            }
        }
        let sid = server.id;
        self.schedule(until);
        self.settle_where(now, |s| s.id == sid);
        Ok(())
    }

    /// `GET /servers/{id}/metadata`.
    pub fn get_metadata(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        Ok(json!({"metadata": self.server_mut(user, id, now)?.metadata}))
    }

    /// `POST /servers/{id}/metadata`: merges.
    pub fn update_metadata(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        self.live_server_mut(user, id, now)?;
        let items = parse_metadata(body)?;
        let server = self.live_server_mut(user, id, now)?;
        server.metadata.extend(items);
        Ok(json!({"metadata": server.metadata}))
    }

    /// `GET /servers/{id}/metadata/{key}`.
    pub fn get_metadata_item(
        &mut self,
        user: &str,
        id: &str,
        key: &str,
        now: Instant,
    ) -> Result<Value, Fault> {
        let server = self.server_mut(user, id, now)?;
        let value = server
            .metadata
            .get(key)
            .ok_or_else(|| Fault::not_found("Metadata key not found."))?;
        Ok(json!({"meta": {key: value}}))
    }

    /// `PUT /servers/{id}/metadata/{key}`.
    pub fn set_metadata_item(
        &mut self,
        user: &str,
        id: &str,
        key: &str,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let items = body
            .get("meta")
            .or_else(|| body.get("metadata"))
            .map(|m| parse_metadata(&json!({"metadata": m})))
            .ok_or_else(|| Fault::bad_request("Malformed request"))??;
        let value = items
            .get(key)
            .cloned()
            .ok_or_else(|| Fault::bad_request("Malformed request: key mismatch"))?;
        let server = self.live_server_mut(user, id, now)?;
        server.metadata.insert(key.to_owned(), value.clone());
        Ok(json!({"meta": {key: value}}))
    }

    /// `DELETE /servers/{id}/metadata/{key}`.
    pub fn delete_metadata_item(
        &mut self,
        user: &str,
        id: &str,
        key: &str,
        now: Instant,
    ) -> Result<(), Fault> {
        let server = self.live_server_mut(user, id, now)?;
        server
            .metadata
            .remove(key)
            .map(drop)
            .ok_or_else(|| Fault::not_found("Metadata key not found."))
    }

    /// `api/servers.py` `volume_to_attachment`: integer ids.
    fn attachment_json(v: &Volume) -> Value {
        json!({"id": v.id, "volumeId": v.id, "serverId": v.server, "device": ""})
    }

    /// The caller's volume `vid` for an operation on a server
    /// (`volume/util.py` `get_volume` with `non_deleted` and
    /// `exception=faults.BadRequest`): 400 when unknown or deleted.
    fn volume_for_server(&self, user: &str, vid: &str) -> Result<u64, Fault> {
        let n =
            num_id(vid).ok_or_else(|| Fault::bad_request(format!("Invalid volume id: {vid}")))?;
        match self.volumes.get(&n).filter(|v| v.owner == user) {
            None => Err(Fault::bad_request(format!("Volume {n} not found"))),
            Some(v) if v.deleted => Err(Fault::bad_request(format!(
                "Volume '{n}' has been deleted."
            ))),
            Some(_) => Ok(n),
        }
    }

    /// `GET /servers/{id}/os-volume_attachments`.
    pub fn list_attachments(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        let vols = self.server_mut(user, id, now)?.volumes.clone();
        let list: Vec<Value> = vols
            .iter()
            .filter_map(|v| self.volumes.get(v))
            .map(Self::attachment_json)
            .collect();
        Ok(json!({"volumeAttachments": list}))
    }

    /// `GET /servers/{id}/os-volume_attachments/{att}`.
    pub fn get_attachment(
        &mut self,
        user: &str,
        id: &str,
        att: &str,
        now: Instant,
    ) -> Result<Value, Fault> {
        let sid = self.server_mut(user, id, now)?.id;
        let vid = self.volume_for_server(user, att)?;
        let v = self
            .volumes
            .get(&vid)
            .filter(|v| v.server == Some(sid))
            .ok_or_else(|| {
                Fault::bad_request(format!("Volume '{vid}' is not attached to server '{sid}'"))
            })?;
        Ok(json!({"volumeAttachment": Self::attachment_json(v)}))
    }

    /// `POST /servers/{id}/os-volume_attachments`.
    pub fn attach(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        // `api/servers.py` `attach_volume`, `logic/servers.py`
        // `attach_volume` and `logic/server_attachments.py`
        // `attach_volume`, in their order.
        let spec = attribute(body, "volumeAttachment", Value::is_object)?;
        let vid = id_field(spec, "volumeId").ok_or_else(|| {
            Fault::bad_request("Malformed request. Missing attribute 'volumeId'.")
        })?;
        self.live_server_mut(user, id, now)?;
        let vid = self.volume_for_server(user, &vid)?;
        let status = self.volume_status(vid, now).to_ascii_uppercase();
        if status != "AVAILABLE" {
            return Err(Fault::bad_request(format!(
                "Cannot attach volume while volume is in '{status}' status."
            )));
        }
        let server_flavor = self.live_server_mut(user, id, now)?.flavor;
        let server_type = self
            .flavors
            .get(&server_flavor)
            .map(|f| f.volume_type)
            .unwrap_or_default();
        let volume_type = self
            .volumes
            .get(&vid)
            .map(|v| v.volume_type)
            .unwrap_or_default();
        let (a, b) = (self.template_of(volume_type), self.template_of(server_type));
        if template_family(&a) != template_family(&b) {
            return Err(Fault::bad_request(format!(
                "Volume and server must have the same volume template. Volume has volume template'{}' while server has '{}'",
                template_family(&a),
                template_family(&b)
            )));
        }
        let server = self.live_server_mut(user, id, now)?;
        server.refuse_if_busy("ATTACH_VOLUME")?;
        if server.status == Status::Error {
            return Err(Fault::bad_request(
                "Cannot perform 'ATTACH_VOLUME' action while server is in 'ERROR' state.",
            ));
        }
        let sid = server.id;
        let index = server.volumes.len() as u32;
        let volume = self
            .volumes
            .get_mut(&vid)
            .ok_or_else(|| Fault::bad_request(format!("Volume {vid} not found")))?;
        volume.server = Some(sid);
        volume.index = index;
        let answer = Self::attachment_json(volume);
        let vol_id = volume.id;
        if let Some(server) = self.servers.get_mut(&sid) {
            server.volumes.push(vol_id);
        }
        Ok(json!({"volumeAttachment": answer}))
    }

    /// `DELETE /servers/{id}/os-volume_attachments/{att}`.
    pub fn detach(&mut self, user: &str, id: &str, att: &str, now: Instant) -> Result<(), Fault> {
        // `logic/servers.py` `detach_volume` and
        // `logic/server_attachments.py` `detach_volume`, in their order.
        let sid = self.live_server_mut(user, id, now)?.id;
        let vid = self.volume_for_server(user, att)?;
        if self
            .volumes
            .get(&vid)
            .is_some_and(|v| v.server != Some(sid))
        {
            return Err(Fault::bad_request(format!(
                "Volume '{vid}' is not attached to server '{sid}'"
            )));
        }
        if self.volumes.get(&vid).is_some_and(|v| v.root) {
            // Cyclades formats the server with its Python repr.
            return Err(Fault::bad_request(format!(
                "Cannot detach the root volume of server <vm:{sid}@backend:1>."
            )));
        }
        let server = self.live_server_mut(user, id, now)?;
        server.refuse_if_busy("DETACH_VOLUME")?;
        if let Some(server) = self.servers.get_mut(&num_id(id).unwrap_or_default()) {
            server.volumes.retain(|v| *v != vid);
        }
        if let Some(v) = self.volumes.get_mut(&vid) {
            v.server = None;
            v.index = 0;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- networks

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
    fn live_network(&self, user: &str, id: &str) -> Result<&Network, Fault> {
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

    /// A port's state: `DOWN` without a server, `BUILD` while its
    /// server or its own connection is being built, else `ACTIVE`.
    fn port_state(&self, p: &Port) -> &'static str {
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

    // ----------------------------------------------------------------- volumes

    /// A volume as `volume/views.py` `volume_to_dict` shows it: the
    /// status in lower case, integer ids in `attachments`, a root disk's
    /// name and description null (Cyclades stores none).
    fn volume_json(&self, v: &Volume, detail: bool) -> Value {
        let links = self.link(format!("/volume/v2.0/volumes/{}", v.id));
        let name = if v.root && v.name.is_empty() {
            Value::Null
        } else {
            json!(v.name)
        };
        if !detail {
            return json!({"id": v.id.to_string(), "display_name": name, "links": links});
        }
        let description = if v.root && v.description.is_empty() {
            Value::Null
        } else {
            json!(v.description)
        };
        let attachments: Vec<Value> = v
            .server
            .map(|s| json!({"server_id": s, "volume_id": v.id, "device_index": v.index}))
            .into_iter()
            .collect();
        json!({
            "id": v.id.to_string(), "display_name": name, "display_description": description,
            "size": v.size, "status": self.volume_state(v).to_ascii_lowercase(), "attachments": attachments,
            "volume_type": v.volume_type, "snapshot_id": null, "source_volid": null, "image_id": v.image,
            "user_id": v.owner, "tenant_id": v.project, "shared_to_project": false,
            "created_at": format_rfc3339(v.created), "metadata": v.metadata, "links": links,
            "delete_on_termination": v.delete_on_termination, "deleted": v.deleted,
        })
    }

    /// `GET /volumes[/detail]`: the caller's volumes that are not
    /// deleted, with their servers' transitions brought up to `now`.
    pub fn list_volumes(&mut self, user: &str, detail: bool, now: Instant) -> Value {
        self.settle_servers_of(user, now);
        let list: Vec<Value> = self
            .volumes
            .values()
            .filter(|v| v.owner == user && !v.deleted)
            .map(|v| self.volume_json(v, detail))
            .collect();
        json!({"volumes": list})
    }

    /// `GET /volumes/{id}` (a deleted volume still shows, `deleted`).
    pub fn get_volume(&mut self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        self.settle_servers_of(user, now);
        let v = num_id(id)
            .and_then(|n| self.volumes.get(&n))
            .filter(|v| v.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Volume {id} not found")))?;
        Ok(json!({"volume": self.volume_json(v, true)}))
    }

    /// The caller's volume `id`, not deleted (`volume/util.py`
    /// `get_volume` with `non_deleted`): 404 when unknown, 400 when
    /// deleted.
    fn own_live_volume(&self, user: &str, id: &str) -> Result<u64, Fault> {
        let n = num_id(id).ok_or_else(|| Fault::bad_request(format!("Invalid volume id: {id}")))?;
        match self.volumes.get(&n).filter(|v| v.owner == user) {
            None => Err(Fault::not_found(format!("Volume {n} not found"))),
            Some(v) if v.deleted => Err(Fault::bad_request(format!(
                "Volume '{n}' has been deleted."
            ))),
            Some(_) => Ok(n),
        }
    }

    /// Disk (GiB) held by `user`'s volumes that are not deleted.
    fn disk_used(&self, user: &str) -> u64 {
        self.volumes
            .values()
            .filter(|v| v.owner == user && !v.deleted)
            .map(|v| v.size)
            .sum()
    }

    /// The `cyclades.disk` commission of `extra` GiB more (bytes in the
    /// refusal, as Astakos counts them).
    fn check_disk(&self, user: &str, extra: u64) -> Result<(), Fault> {
        let used = self.disk_used(user);
        if used + extra > self.quotas.disk_gib {
            return Err(Fault::quota(
                "Disk",
                self.quotas.disk_gib.saturating_sub(used) << 30,
                extra << 30,
            ));
        }
        Ok(())
    }

    /// `PUT /volumes/{id}`: a new `display_name`, `display_description`
    /// or `delete_on_termination` (Cyclades' `volume/views.py`
    /// `update_volume` and `volume/volumes.py` `update`): the volume must
    /// be the caller's (404 otherwise), the body must carry a `volume`
    /// object with at least one of the three ("Nothing to update."), names
    /// and descriptions hold at most 255 characters. Sizes never change:
    /// Cyclades cannot resize a volume. Here names must be strings, where
    /// Cyclades would store any JSON value's text.
    pub fn update_volume(&mut self, user: &str, id: &str, body: &Value) -> Result<Value, Fault> {
        // Cyclades looks the volume up before it reads the body.
        let vid = self.own_live_volume(user, id)?;
        let spec = attribute(body, "volume", Value::is_object)?;
        let text = |key: &str| -> Result<Option<String>, Fault> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fault::bad_request(format!(
                    "Malformed request. Invalid '{key}' field"
                ))),
            }
        };
        let name = text("display_name")?;
        let description = text("display_description")?;
        let delete_on_termination = match spec.get("delete_on_termination") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'delete_on_termination' field",
                ));
            }
        };
        if name.is_none() && description.is_none() && delete_on_termination.is_none() {
            return Err(Fault::bad_request("Nothing to update."));
        }
        if name
            .as_ref()
            .is_some_and(|n| n.chars().count() > VOLUME_TEXT_LENGTH)
        {
            return Err(Fault::bad_request("Volume name is too long"));
        }
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > VOLUME_TEXT_LENGTH)
        {
            return Err(Fault::bad_request("Volume description is too long"));
        }
        // `volume/volumes.py` `validate_volume_termination`: Cyclades 0.20
        // deletes every volume with its server.
        if delete_on_termination == Some(false) {
            let vt = self
                .volumes
                .get(&vid)
                .map(|v| v.volume_type)
                .unwrap_or_default();
            let template = self.template_of(vt);
            if template_family(&template) != "ext" {
                return Err(Fault::bad_request(format!(
                    "Volumes of '{template}' disk template cannot have 'delete_on_termination' attribute set to 'False'"
                )));
            }
            return Err(Fault::not_implemented(
                "Volumes with the 'delete_on_termination' attribute set to False are not supported",
            ));
        }
        let volume = self
            .volumes
            .get_mut(&vid)
            .ok_or_else(|| Fault::not_found(format!("Volume {id} not found")))?;
        if let Some(name) = name {
            volume.name = name;
        }
        if let Some(description) = description {
            volume.description = description;
        }
        if let Some(d) = delete_on_termination {
            volume.delete_on_termination = d;
        }
        let volume = volume.clone();
        Ok(json!({"volume": self.volume_json(&volume, true)}))
    }

    /// `POST /volumes` (202): `volume/views.py` `create_volume` and
    /// `volume/volumes.py` `create`, in their order: the body
    /// (`display_name` and a positive `size` required), the server to
    /// attach to (400 when unknown, as `create` words it), the volume
    /// type (an integer id; the server's when not given; without a
    /// server it must be given and detachable), the names' lengths, then
    /// the disk quota. A standalone volume is `available` at once and,
    /// as every volume Cyclades 0.20 makes, deleted with any server it
    /// is later attached to (`delete_on_termination`).
    pub fn create_volume(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = attribute(body, "volume", Value::is_object)?;
        let name = attribute(spec, "display_name", Value::is_string)?
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let size = attribute(spec, "size", |v| v.is_string() || v.is_i64())?;
        let size_text = match size {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let size = size_text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| *s > 0)
            .map(|s| s as u64)
            .ok_or_else(|| {
                Fault::bad_request(format!(
                    "Volume 'size' needs to be a positive integer value. '{size_text}' cannot be accepted."
                ))
            })?;
        let project = self.project_for(user, spec.get("project"))?;
        let optional_text = |key: &str| -> Result<Option<String>, Fault> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fault::bad_request(format!(
                    "Malformed request. Invalid '{key}' field"
                ))),
            }
        };
        let description = optional_text("display_description")?.unwrap_or_default();
        let metadata = match spec.get("metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(_)) => parse_metadata(spec)?,
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'metadata' field",
                ));
            }
        };
        let requested_type = match spec.get("volume_type") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'volume_type' field",
                ));
            }
        };
        let volume_type_of = |world: &World, t: Option<&str>| -> Result<u64, Fault> {
            let t = t.unwrap_or("None");
            let n = num_id(t)
                .ok_or_else(|| Fault::bad_request(format!("Invalid volume type id: {t}")))?;
            world
                .volume_types
                .iter()
                .any(|(id, _)| *id == n)
                .then_some(n)
                .ok_or_else(|| Fault::bad_request(format!("Volume type {n} not found")))
        };
        let server = match id_field(spec, "server_id") {
            Some(sid) => {
                let s = match self.live_server_mut(&user.uuid, &sid, now) {
                    Err(f) if f.status == http::StatusCode::NOT_FOUND => {
                        return Err(Fault::bad_request(format!("Server {sid} not found")));
                    }
                    other => other?,
                };
                Some((s.id, s.flavor))
            }
            None => None,
        };
        let volume_type = match server {
            Some((_, flavor)) => {
                let server_type = self
                    .flavors
                    .get(&flavor)
                    .map(|f| f.volume_type)
                    .unwrap_or_default();
                match requested_type.as_deref() {
                    None => server_type,
                    Some(t) => {
                        let vt = volume_type_of(self, Some(t))?;
                        let (a, b) = (self.template_of(vt), self.template_of(server_type));
                        if template_family(&a) != template_family(&b) {
                            return Err(Fault::bad_request(format!(
                                "Cannot create a volume with template '{}' to a server with volume template '{}'.",
                                template_family(&a),
                                template_family(&b)
                            )));
                        }
                        vt
                    }
                }
            }
            None => {
                let vt = volume_type_of(self, requested_type.as_deref())?;
                let template = self.template_of(vt);
                if !template.starts_with("ext_") {
                    return Err(Fault::bad_request(format!(
                        "Volume type '{template}' is not detachable"
                    )));
                }
                vt
            }
        };
        if name.chars().count() > VOLUME_TEXT_LENGTH {
            return Err(Fault::bad_request("Volume name is too long"));
        }
        if description.chars().count() > VOLUME_TEXT_LENGTH {
            return Err(Fault::bad_request("Volume description is too long"));
        }
        // `volume/volumes.py` `_create_volume`: the site's
        // `CYCLADES_VOLUME_MAX_SIZE` (the harness's 100000).
        if size > 100_000 {
            return Err(Fault::bad_request("Maximum volume size is 100000GB"));
        }
        if let Some(s) = server.and_then(|(id, _)| self.servers.get(&id)) {
            s.refuse_if_busy("ATTACH_VOLUME")?;
        }
        self.check_disk(&user.uuid, size)?;
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
        let server = server.map(|(id, _)| id);
        let id = self.next_volume;
        self.next_volume += 1;
        let index = server
            .and_then(|s| self.servers.get(&s))
            .map(|s| s.volumes.len() as u32)
            .unwrap_or(0);
        let volume = Volume {
            id,
            owner: user.uuid.clone(),
            project,
            name,
            description,
            size,
            volume_type,
            server,
            index,
            root: false,
            delete_on_termination: true,
            created: SystemTime::now(),
            metadata,
            snapshot_counter: 0,
            deleted: false,
            image: None,
        };
        // Cyclades answers a create in brief (`volume/views.py`
        // `create_volume`: `volume_to_dict(volume, detail=False)`).
        let answer = self.volume_json(&volume, false);
        self.volumes.insert(id, volume);
        if let Some(s) = server.and_then(|s| self.servers.get_mut(&s)) {
            s.volumes.push(id);
        }
        Ok(json!({"volume": answer}))
    }

    /// `DELETE /volumes/{id}` (202): `volume/volumes.py` `delete`. An
    /// attached volume goes with its server's disk job
    /// (`server_attachments.delete_volume`: not the root disk, not while
    /// the server has a pending action); a detached one is marked deleted
    /// at once (Cyclades' "uninitialized volume" case: the simulator keeps
    /// no data to remove through a helper server). A deleted volume stays
    /// visible to `GET` as `deleted`.
    pub fn delete_volume(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let vid = self.own_live_volume(user, id)?;
        let Some(v) = self.volumes.get(&vid) else {
            return Err(Fault::not_found(format!("Volume {vid} not found")));
        };
        if let Some(sid) = v.server {
            if v.index == 0 || v.root {
                return Err(Fault::bad_request(format!(
                    "Cannot delete the root volume of server <vm:{sid}@backend:1>."
                )));
            }
            if let Some(server) = self.servers.get(&sid) {
                server.refuse_if_busy("DELETE_VOLUME")?;
            }
            if let Some(s) = self.servers.get_mut(&sid) {
                s.volumes.retain(|x| *x != vid);
            }
        }
        // An attached volume keeps showing its server once deleted
        // (`mark_volume_as_deleted` leaves `machine` set).
        if let Some(v) = self.volumes.get_mut(&vid) {
            v.deleted = true;
        }
        Ok(())
    }

    // --------------------------------------------------------------- snapshots

    /// A snapshot as the block storage API shows it (`volume/views.py`
    /// `snapshot_to_dict`, the same with or without detail). Its
    /// `progress` is `"100%"` once available and the number `0` before,
    /// exactly as Cyclades' expression yields.
    fn snapshot_json(&self, s: &Snapshot, ready: bool) -> Value {
        let progress = if ready { json!("100%") } else { json!(0) };
        json!({
            "id": s.id, "size": s.size, "display_name": s.name,
            "display_description": s.description,
            "status": if ready { "AVAILABLE" } else { "CREATING" },
            "user_id": s.owner, "tenant_id": s.owner,
            "os-extended-snapshot-attribute:progress": progress,
            "created_at": format_rfc3339(s.created), "metadata": s.properties,
            "volume_id": s.volume.to_string(),
            "links": self.link(format!("/volume/v2.0/snapshots/{}", s.id)),
        })
    }

    /// The status Cyclades would give a volume (upper case, as stored;
    /// the API shows it in lower case): the simulator derives it from the
    /// server it is attached to (a building server's disks are
    /// `CREATING`, a failed one's `ERROR`).
    fn volume_state(&self, v: &Volume) -> &'static str {
        if v.deleted {
            return "DELETED";
        }
        let Some(server) = v.server else {
            return "AVAILABLE";
        };
        match self.servers.get(&server).map(|s| s.status) {
            Some(Status::Build) => "CREATING",
            Some(Status::Error) => "ERROR",
            Some(Status::Deleted) => "DELETED",
            Some(_) => "IN_USE",
            None => "AVAILABLE",
        }
    }

    /// [`World::volume_state`] with the server's transitions brought up
    /// to `now`.
    fn volume_status(&mut self, v: u64, now: Instant) -> &'static str {
        if let Some(server) = self.volumes.get(&v).and_then(|v| v.server) {
            self.settle_where(now, |s| s.id == server);
        }
        self.volumes
            .get(&v)
            .map(|vol| self.volume_state(vol))
            .unwrap_or("DELETED")
    }

    /// `POST /snapshots` (202): Cyclades' `volume/views.py`
    /// `create_snapshot` and `volume/snapshots.py` `create`, in their
    /// order. An unknown, foreign or deleted volume is a 400 (`get_volume`
    /// is called with `exception=faults.BadRequest`), as are a detached
    /// volume, a volume that is not `AVAILABLE`/`IN_USE` and a disk
    /// template other than `ext_*`. The snapshot is `CREATING` until the
    /// action delay has passed (the Ganeti job), then `AVAILABLE`.
    pub fn create_snapshot(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = attribute(body, "snapshot", Value::is_object)?;
        let vid = id_field(spec, "volume_id").ok_or_else(|| {
            Fault::bad_request("Malformed request. Missing attribute 'volume_id'.")
        })?;
        let n = self.volume_for_server(&user.uuid, &vid)?;
        let volume = self
            .volumes
            .get(&n)
            .ok_or_else(|| Fault::bad_request(format!("Volume {vid} not found")))?
            .clone();
        let string = |key: &str| -> Result<Option<String>, Fault> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fault::bad_request(format!(
                    "Malformed request. Invalid '{key}' field"
                ))),
            }
        };
        let name = string("display_name")?.unwrap_or_else(|| format!("Snapshot of volume '{vid}'"));
        let description = string("display_description")?.unwrap_or_default();
        let mut properties = match spec.get("metadata") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(_)) => parse_metadata(spec)?,
            Some(_) => {
                return Err(Fault::bad_request(
                    "Malformed request. Invalid 'metadata' field",
                ));
            }
        };
        // Cyclades reads `force` from the top of the body, not from
        // `snapshot` (and ignores it), but refuses a non-boolean there.
        if body.get("force").is_some_and(|f| !f.is_boolean()) {
            return Err(Fault::bad_request("Invalid value for 'force' attribute."));
        }
        let Some(server_id) = volume.server else {
            return Err(Fault::bad_request("Cannot snapshot a detached volume!"));
        };
        let status = self.volume_status(volume.id, now);
        if !matches!(status, "AVAILABLE" | "IN_USE") {
            return Err(Fault::bad_request(format!(
                "Cannot create snapshot while volume is in '{status}' status"
            )));
        }
        let template = self
            .volume_types
            .iter()
            .find(|(id, _)| *id == volume.volume_type)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        if !template.starts_with("ext_") {
            return Err(Fault::bad_request(format!(
                "Cannot take a snapshot from a volume with volume type '{}' and '{template}' disk template",
                volume.volume_type
            )));
        }
        properties.insert("exclude_all_tasks".into(), "yes".into());
        properties.insert("description".into(), description.clone());
        if volume.index == 0
            && let Some(server) = self.servers.get(&server_id)
        {
            for key in ["OS", "users"] {
                if let Some(v) = server.metadata.get(key) {
                    properties.insert(key.into(), v.clone());
                }
            }
        }
        let counter = match self.volumes.get_mut(&volume.id) {
            Some(v) => {
                v.snapshot_counter += 1;
                v.snapshot_counter
            }
            None => 1,
        };
        let snapshot = Snapshot {
            id: uuid::Uuid::new_v4().to_string(),
            owner: user.uuid.clone(),
            name,
            description,
            volume: volume.id,
            file_name: format!("snf-snap-{}-{counter}", volume.id),
            size: volume.size,
            created: SystemTime::now(),
            ready_at: now + self.action_delay,
            properties,
        };
        // Cyclades answers before the Ganeti job has run: always CREATING.
        let answer = self.snapshot_json(&snapshot, false);
        self.snapshots.insert(snapshot.id.clone(), snapshot);
        Ok(json!({"snapshot": answer}))
    }

    /// `GET /snapshots[/detail]`: the caller's snapshots, by id (both
    /// forms carry every attribute, as Cyclades' do).
    pub fn list_snapshots(&self, user: &str, now: Instant) -> Value {
        let list: Vec<Value> = self
            .snapshots
            .values()
            .filter(|s| s.owner == user)
            .map(|s| self.snapshot_json(s, s.ready(now)))
            .collect();
        json!({"snapshots": list})
    }

    /// `GET /snapshots/{id}`.
    pub fn get_snapshot(&self, user: &str, id: &str, now: Instant) -> Result<Value, Fault> {
        let s = self
            .own_snapshot(user, id)
            .ok_or_else(|| Fault::not_found(format!("Snapshot {id} not found")))?;
        Ok(json!({"snapshot": self.snapshot_json(s, s.ready(now))}))
    }

    /// `DELETE /snapshots/{id}` (202): the image goes with it.
    pub fn delete_snapshot(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        if self.own_snapshot(user, id).is_none() {
            return Err(Fault::not_found(format!("Snapshot {id} not found")));
        }
        self.snapshots.remove(id);
        Ok(())
    }

    /// `GET /types`: `volume/views.py` `volume_type_to_dict` (integer
    /// ids; detachable are the `ext_*` templates, Cyclades'
    /// `CYCLADES_DETACHABLE_DISK_TEMPLATES`).
    pub fn volume_types(&self) -> Value {
        let list: Vec<Value> = self
            .volume_types
            .iter()
            .map(|(id, name)| {
                json!({"id": id, "name": name, "SNF:disk_template": name, "deleted": false,
                       "SNF:detachable": name.starts_with("ext_")})
            })
            .collect();
        json!({"volume_types": list})
    }

    /// The disk template of a volume type (`""` when unknown).
    fn template_of(&self, volume_type: u64) -> String {
        self.volume_types
            .iter()
            .find(|(id, _)| *id == volume_type)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    }

    // ------------------------------------------------------------------- admin

    /// Creates `count` servers for a user at once (benchmarks), ACTIVE
    /// unless told otherwise; returns their ids.
    pub fn seed_servers(
        &mut self,
        uuid: &str,
        count: usize,
        flavor: Option<u64>,
        image: Option<&str>,
        status: Status,
    ) -> Result<Vec<u64>, Fault> {
        let user = self
            .users
            .get(uuid)
            .cloned()
            .ok_or_else(|| Fault::not_found(format!("User {uuid} not found")))?;
        let flavor = flavor
            .or_else(|| {
                self.flavors
                    .values()
                    .find(|f| f.seed.allow_create)
                    .map(|f| f.seed.id)
            })
            .ok_or_else(|| Fault::bad_request("No flavor"))?;
        let image = image
            .map(str::to_owned)
            .or_else(|| self.images.first().map(|i| i.id.clone()))
            .ok_or_else(|| Fault::bad_request("No image"))?;
        let mut ids = Vec::with_capacity(count);
        let now = Instant::now();
        for _ in 0..count {
            let body = json!({"server": {"name": format!("bench-{}", self.next_server), "flavorRef": flavor, "imageRef": image}});
            let created = self.create_server(&user, &body, now)?;
            let id = created
                .pointer("/server/id")
                .and_then(Value::as_u64)
                .unwrap_or_default();
            if let Some(s) = self.servers.get_mut(&id) {
                s.status = status;
                s.pending = None;
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// Completes the server transitions whose time has come, whoever
    /// asks: a real Cyclades finishes a server's deletion (releasing its
    /// floating IP) when the Ganeti job ends, not when someone reads the
    /// server. Cheap unless a transition is due.
    pub fn tick(&mut self, now: Instant) {
        if self.next_due.is_none_or(|due| now < due) {
            return;
        }
        self.settle_where(now, |_| true);
        self.next_due = self
            .servers
            .values()
            .filter(|s| s.status != Status::Deleted)
            .filter_map(|s| s.pending.as_ref().map(|p| p.until))
            .min();
    }

    /// Notes that a transition comes due at `until`.
    fn schedule(&mut self, until: Instant) {
        self.next_due = Some(self.next_due.map_or(until, |due| due.min(until)));
    }

    /// Completes every transition in progress at once (builds, actions,
    /// snapshots), as `snf.sh complete-jobs` completes the real
    /// harness's queued Ganeti jobs; answers how many there were.
    pub fn complete_jobs(&mut self, now: Instant) -> usize {
        let mut done = 0;
        for s in self.servers.values_mut() {
            if let Some(p) = &mut s.pending
                && s.status != Status::Deleted
            {
                p.until = now;
                done += 1;
            }
        }
        for p in self.ports.values_mut() {
            if p.connecting_until.take().is_some_and(|t| t > now) {
                done += 1;
            }
        }
        self.settle_where(now, |_| true);
        for s in self.snapshots.values_mut() {
            if s.ready_at > now {
                s.ready_at = now;
                done += 1;
            }
        }
        done
    }

    /// Forces a server into a status (e.g. ERROR), ending any transition.
    pub fn force_status(&mut self, id: u64, status: Status) -> Result<(), Fault> {
        let s = self
            .servers
            .get_mut(&id)
            .ok_or_else(|| Fault::not_found(format!("Server {id} not found")))?;
        s.status = status;
        s.pending = None;
        s.updated = SystemTime::now();
        Ok(())
    }

    /// Counts of everything, for `/_sim/state`.
    pub fn summary(&self) -> Value {
        let live = self
            .servers
            .values()
            .filter(|s| s.status != Status::Deleted)
            .count();
        let volumes = self.volumes.values().filter(|v| !v.deleted).count();
        let networks = self.networks.values().filter(|n| !n.deleted).count();
        json!({
            "users": self.users.len(), "servers": live, "servers_deleted": self.servers.len() - live,
            "volumes": volumes, "volumes_deleted": self.volumes.len() - volumes,
            "snapshots": self.snapshots.len(), "networks": networks,
            "networks_deleted": self.networks.len() - networks,
            "subnets": self.subnets.values().filter(|s| !s.deleted).count(),
            "ports": self.ports.len(), "floating_ips": self.floating_ips.len(),
            "personality_files": self.servers.values().map(|s| s.personality_files).sum::<usize>(),
        })
    }
}

/// A disk template's family, as Cyclades' `VolumeType.template`
/// (`ext_archipelago` -> `ext`, `drbd` -> `drbd`).
fn template_family(template: &str) -> &str {
    template.split('_').next().unwrap_or(template)
}

/// How a new port connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Connect {
    /// The next free address of each of the network's subnets.
    Network(u64),
    /// Through this floating IP (on its network).
    Floating(u64),
    /// This address of this subnet of a private network.
    Fixed(u64, u64, Ipv4Addr),
}

fn parse_metadata(body: &Value) -> Result<BTreeMap<String, String>, Fault> {
    let m = body
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| Fault::bad_request("Malformed request: metadata missing"))?;
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(Fault::bad_request(format!(
                "Malformed metadata value for {k}"
            ))),
        })
        .collect()
}

/// Validates personality: paths, base64 contents within Synnefo's limits.
fn check_personality(p: Option<&Value>) -> Result<usize, Fault> {
    use base64::Engine;
    let list = match p {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Fault::bad_request("Malformed personality")),
    };
    if list.len() > MAX_PERSONALITY_FILES {
        return Err(Fault::over_limit(
            "Maximum number of personality files exceeded",
        ));
    }
    for item in list {
        let path = str_field(item, "path")
            .ok_or_else(|| Fault::bad_request("Malformed personality: path missing"))?;
        if !path.starts_with('/') {
            return Err(Fault::bad_request(
                "Malformed personality: path must be absolute",
            ));
        }
        let contents = str_field(item, "contents")
            .ok_or_else(|| Fault::bad_request("Malformed personality: contents missing"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(contents.as_bytes())
            .map_err(|_| Fault::bad_request("Malformed personality: contents must be base64"))?;
        if decoded.len() > MAX_PERSONALITY_BYTES {
            return Err(Fault::over_limit("Maximum size of personality exceeded"));
        }
        if let Some(mode) = item.get("mode")
            && !mode.is_u64()
        {
            return Err(Fault::bad_request(
                "Malformed personality: mode must be a number",
            ));
        }
    }
    Ok(list.len())
}

/// `body[key]` as Synnefo's `api.utils.get_attribute` reads it: missing or
/// null is "Missing attribute", a value failing `valid` "Invalid ... field"
/// (both 400).
fn attribute<'a>(
    body: &'a Value,
    key: &str,
    valid: fn(&Value) -> bool,
) -> Result<&'a Value, Fault> {
    match body.get(key) {
        None | Some(Value::Null) => Err(Fault::bad_request(format!(
            "Malformed request. Missing attribute '{key}'."
        ))),
        Some(v) if !valid(v) => Err(Fault::bad_request(format!(
            "Malformed request. Invalid '{key}' field"
        ))),
        Some(v) => Ok(v),
    }
}
