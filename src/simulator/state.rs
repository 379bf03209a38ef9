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
use crate::synnefo::timestamp::format_rfc3339;

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
}

impl Server {
    /// Completes a transition whose time has come.
    fn settle(&mut self, now: Instant) {
        if let Some(p) = &self.pending
            && now >= p.until
        {
            self.status = p.to;
            self.pending = None;
            self.updated = SystemTime::now();
        }
    }

    fn task(&self) -> &'static str {
        self.pending.as_ref().map(|p| p.task).unwrap_or("")
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
    device: u64,
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
    created: SystemTime,
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

fn parse_cidr6(cidr: &str) -> bool {
    cidr.split_once('/').is_some_and(|(a, l)| {
        a.parse::<std::net::Ipv6Addr>().is_ok()
            && l.parse::<u8>().is_ok_and(|l| (48..=127).contains(&l))
    })
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
        for f in seed.flavors {
            let template = f.disk_template.clone();
            let volume_type = match world.volume_types.iter().find(|(_, n)| *n == template) {
                Some((id, _)) => *id,
                None => {
                    let id = world.volume_types.len() as u64 + 1;
                    world.volume_types.push((id, template));
                    id
                }
            };
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
                pool: Some((net + 1, last)),
                used: HashSet::new(),
                cursor: 0,
            };
            subnet.reserve(gateway);
            world.subnets.insert(subnet_id, subnet);
            let network = Network {
                id: n.id,
                name: n.name,
                owner: None,
                project: None,
                kind: "IP_LESS_ROUTED".into(),
                floating_ip_pool: n.floating_ip_pool,
                subnets: vec![subnet_id],
                created: now,
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
            "user": {"id": user.uuid, "name": user.name, "roles": [{"id": 1, "name": "default"}], "roles_links": [], "projects": user.projects},
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

    fn server_mut(&mut self, user: &str, id: &str, now: Instant) -> Result<&mut Server, Fault> {
        let server = num_id(id)
            .and_then(|n| self.servers.get_mut(&n))
            .filter(|s| s.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Server {id} not found")))?;
        server.settle(now);
        Ok(server)
    }

    fn count_servers(&self, user: &str) -> usize {
        self.servers
            .values()
            .filter(|s| s.owner == user && s.status != Status::Deleted)
            .count()
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
            .ok_or_else(|| Fault::not_found(format!("Flavor {id} not found")))?;
        Ok(json!({"flavor": self.flavor_json(f, true)}))
    }

    // ------------------------------------------------------------------ images

    fn image_json(&self, i: &ImageSeed, detail: bool) -> Value {
        let mut v = json!({"id": i.id, "name": i.name, "links": self.link(format!("/compute/v2.0/images/{}", i.id))});
        if detail && let Some(o) = v.as_object_mut() {
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
        let mut v = json!({"id": s.id, "name": s.name, "links": self.link(format!("/compute/v2.0/images/{}", s.id))});
        if detail && let Some(o) = v.as_object_mut() {
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
            .ok_or_else(|| Fault::not_found(format!("Image {id} not found")))?;
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
        for port in s.ports.iter().filter_map(|p| self.ports.get(p)) {
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
                    list.push(json!({"version": version, "addr": ip, "OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": port.mac}));
                }
            }
            attachments.push(json!({
                "id": port.id.to_string(), "network_id": port.network.to_string(), "mac_address": port.mac,
                "firewallProfile": "DISABLED", "ipv4": v4, "ipv6": v6, "OS-EXT-IPS:type": kind,
            }));
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
            "image": {"id": s.image, "links": self.link(format!("/compute/v2.0/images/{}", s.image))},
            "metadata": s.metadata, "addresses": addresses, "attachments": attachments,
            "volumes": volumes, "links": links, "hostId": "", "accessIPv4": "", "accessIPv6": "",
            "config_drive": "", "key_name": s.key_name, "SNF:key_names": s.key_name.iter().collect::<Vec<_>>(),
            "SNF:fqdn": format!("snf-{}.vm.example.org", s.id), "SNF:task_state": s.task(),
            "SNF:port_forwarding": {}, "suspended": false, "security_groups": [{"name": "default"}],
            "diagnostics": [], "deleted": s.status == Status::Deleted,
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
        for s in self.servers.values_mut().filter(|s| s.owner == user) {
            s.settle(now);
        }
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
            .ok_or_else(|| Fault::bad_request("Malformed request: no server"))?;
        let name = str_field(spec, "name")
            .ok_or_else(|| Fault::bad_request("Malformed request: name missing"))?;
        let flavor_ref = id_field(spec, "flavorRef")
            .ok_or_else(|| Fault::bad_request("Malformed request: flavorRef missing"))?;
        let image_ref = id_field(spec, "imageRef")
            .ok_or_else(|| Fault::bad_request("Malformed request: imageRef missing"))?;
        let flavor = num_id(&flavor_ref)
            .and_then(|n| self.flavors.get(&n))
            .ok_or_else(|| Fault::not_found(format!("Flavor {flavor_ref} not found")))?
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
            return Err(Fault::not_found(format!("Image {image_ref} not found")));
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
        let personality_files = check_personality(spec.get("personality"))?;
        let key_name = match spec.get("key_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(Fault::bad_request("Malformed key_name")),
        };
        if self.count_servers(&user.uuid) >= self.quotas.servers {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account. Limit for resource 'Virtual Machine' reached",
            ));
        }
        if self
            .volumes
            .values()
            .filter(|v| v.owner == user.uuid)
            .count()
            >= self.quotas.volumes
        {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account. Limit for resource 'Volume' reached",
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
            let port = self.connect(&user.uuid, id, step)?;
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
                    let volume = num_id(&vid)
                        .and_then(|n| self.volumes.get(&n))
                        .filter(|v| v.owner == user.uuid)
                        .ok_or_else(|| Fault::bad_request(format!("Volume {vid} not found")))?;
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
                .ok_or_else(|| Fault::not_found(format!("Network {net_id} not found")))?;
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

    /// Creates a port for a server and returns its id.
    fn connect(&mut self, user: &str, server: u64, how: Connect) -> Result<u64, Fault> {
        let id = self.next_port;
        self.next_port += 1;
        let (network, ips, floating_ip) = match how {
            Connect::Floating(fid) => {
                let fip = self
                    .floating_ips
                    .get_mut(&fid)
                    .ok_or_else(|| Fault::not_found("Floating IP not found"))?;
                fip.port = Some(id);
                fip.server = Some(server);
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
        if let Some(server) = self.servers.get_mut(&port.device) {
            server.ports.retain(|p| *p != port_id);
        }
    }

    /// `DELETE /servers/{id}`.
    pub fn delete_server(&mut self, user: &str, id: &str, now: Instant) -> Result<(), Fault> {
        let server = self.server_mut(user, id, now)?;
        if server.status == Status::Deleted {
            return Err(Fault::bad_request(format!(
                "Server '{id}' has been deleted."
            )));
        }
        // `logic/servers.py` `destroy`: refused while the create job runs.
        if server.status == Status::Build {
            return Err(Fault::build_in_progress("Server is being build"));
        }
        server.status = Status::Deleted;
        server.pending = None;
        server.updated = SystemTime::now();
        let ports = std::mem::take(&mut server.ports);
        let volumes = std::mem::take(&mut server.volumes);
        for p in ports {
            self.disconnect(p);
        }
        for v in volumes {
            let root = self.volumes.get(&v).is_some_and(|v| v.root);
            if root {
                self.volumes.remove(&v);
            } else if let Some(vol) = self.volumes.get_mut(&v) {
                vol.server = None;
                vol.index = 0;
            }
        }
        Ok(())
    }

    /// `PUT /servers/{id}` (rename).
    pub fn update_server(
        &mut self,
        user: &str,
        id: &str,
        body: &Value,
        now: Instant,
    ) -> Result<(), Fault> {
        let name = body
            .get("server")
            .and_then(|s| str_field(s, "name"))
            .ok_or_else(|| Fault::bad_request("Malformed request: server name missing"))?
            .to_owned();
        let server = self.server_mut(user, id, now)?;
        if server.status == Status::Deleted {
            return Err(Fault::bad_request(format!(
                "Server '{id}' has been deleted."
            )));
        }
        server.name = name;
        server.updated = SystemTime::now();
        Ok(())
    }

    /// `POST /servers/{id}/action`.
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
            .ok_or_else(|| Fault::bad_request("Malformed request: one action expected"))?;
        let action = action.clone();
        let resize_to = if action == "resize" {
            let f = id_field(args, "flavorRef")
                .ok_or_else(|| Fault::bad_request("Malformed request: flavorRef missing"))?;
            let flavor = num_id(&f)
                .and_then(|n| self.flavors.get(&n))
                .ok_or_else(|| Fault::not_found(format!("Flavor {f} not found")))?;
            Some(flavor.seed.id)
        } else {
            None
        };
        let reboot_type = args.get("type").and_then(Value::as_str).unwrap_or("SOFT");
        let delay = self.action_delay;
        let server = self.server_mut(user, id, now)?;
        let verb = match action.as_str() {
            "start" => "START",
            "shutdown" => "STOP",
            "reboot" => "REBOOT",
            "resize" => "RESIZE",
            _ => return Err(Fault::bad_request(format!("Unknown action '{action}'"))),
        };
        if action == "reboot" && !matches!(reboot_type, "SOFT" | "HARD") {
            return Err(Fault::bad_request(format!(
                "Invalid reboot type '{reboot_type}'"
            )));
        }
        // Synnefo's validate_server_action, in its order.
        if server.status == Status::Deleted {
            return Err(Fault::bad_request(format!(
                "Server '{id}' has been deleted."
            )));
        }
        if let Some(p) = &server.pending {
            if p.task == "BUILDING" {
                return Err(Fault::build_in_progress(format!(
                    "Server '{id}' is being build."
                )));
            }
            return Err(Fault::bad_request(format!(
                "Cannot perform '{verb}' action while there is a pending '{}'.",
                p.task
            )));
        }
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
                "Server '{id}' is being build."
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
                server.status = Status::Reboot;
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
        server.settle(now);
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
        let items = parse_metadata(body)?;
        let server = self.server_mut(user, id, now)?;
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
            .ok_or_else(|| Fault::not_found("Metadata key not found"))?;
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
        let server = self.server_mut(user, id, now)?;
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
        let server = self.server_mut(user, id, now)?;
        server
            .metadata
            .remove(key)
            .map(drop)
            .ok_or_else(|| Fault::not_found("Metadata key not found"))
    }

    fn attachment_json(v: &Volume) -> Value {
        json!({"id": v.id.to_string(), "volumeId": v.id.to_string(), "serverId": v.server.unwrap_or_default().to_string(), "device": ""})
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
        let vols = self.server_mut(user, id, now)?.volumes.clone();
        let v = num_id(att)
            .filter(|a| vols.contains(a))
            .and_then(|a| self.volumes.get(&a))
            .ok_or_else(|| Fault::not_found(format!("Volume attachment {att} not found")))?;
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
        let vid = body
            .get("volumeAttachment")
            .and_then(|a| id_field(a, "volumeId"))
            .ok_or_else(|| Fault::bad_request("Malformed request: volumeId missing"))?;
        let server = self.server_mut(user, id, now)?;
        match server.status {
            Status::Deleted => {
                return Err(Fault::bad_request(format!(
                    "Server '{id}' has been deleted."
                )));
            }
            Status::Build => {
                return Err(Fault::build_in_progress(format!(
                    "Server '{id}' is being build."
                )));
            }
            Status::Error => {
                return Err(Fault::bad_request(
                    "Cannot attach a volume to a server in 'ERROR' state.",
                ));
            }
            _ => {}
        }
        let sid = server.id;
        let index = server.volumes.len() as u32;
        let flavor = server.flavor;
        let server_type = self.flavors.get(&flavor).map(|f| f.volume_type);
        let template_of = |t: u64| {
            self.volume_types
                .iter()
                .find(|(id, _)| *id == t)
                .map(|(_, name)| name.clone())
                .unwrap_or_default()
        };
        let types = num_id(&vid)
            .and_then(|n| self.volumes.get(&n))
            .map(|v| v.volume_type)
            .zip(server_type)
            .map(|(v, s)| (template_of(v), template_of(s)));
        let volume = num_id(&vid)
            .and_then(|n| self.volumes.get_mut(&n))
            .filter(|v| v.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Volume {vid} not found")))?;
        if volume.server.is_some() {
            return Err(Fault::bad_request(
                "Cannot attach volume while volume is in 'IN_USE' status.",
            ));
        }
        // `logic/server_attachments.py` `attach_volume`, message verbatim.
        if let Some((has, server_has)) = types.filter(|(v, s)| v != s) {
            return Err(Fault::bad_request(format!(
                "Volume and server must have the same volume template. Volume has volume \
                 template'{has}' while server has '{server_has}'"
            )));
        }
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
        let server = self.server_mut(user, id, now)?;
        if server.status == Status::Build {
            return Err(Fault::build_in_progress(format!(
                "Server '{id}' is being build."
            )));
        }
        let vid = num_id(att)
            .filter(|a| server.volumes.contains(a))
            .ok_or_else(|| Fault::not_found(format!("Volume attachment {att} not found")))?;
        if self.volumes.get(&vid).is_some_and(|v| v.root) {
            return Err(Fault::bad_request(
                "Cannot detach the root volume of a server",
            ));
        }
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

    fn network_json(&self, n: &Network) -> Value {
        json!({
            "id": n.id.to_string(), "name": n.name, "status": "ACTIVE", "router:external": n.public(),
            "public": n.public(), "SNF:floating_ip_pool": n.floating_ip_pool, "user_id": n.owner,
            "tenant_id": n.project, "type": n.kind, "subnets": n.subnets.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "admin_state_up": true, "shared": n.public(), "deleted": false,
            "created": format_rfc3339(n.created), "updated": format_rfc3339(n.created),
            "links": self.link(format!("/network/v2.0/networks/{}", n.id)),
        })
    }

    fn network_ref(&self, user: &str, id: &str) -> Result<&Network, Fault> {
        num_id(id)
            .and_then(|n| self.networks.get(&n))
            .filter(|n| n.visible_to(user))
            .ok_or_else(|| Fault::not_found(format!("Network {id} not found")))
    }

    /// `GET /networks`.
    pub fn list_networks(&self, user: &str) -> Value {
        let list: Vec<Value> = self
            .networks
            .values()
            .filter(|n| n.visible_to(user))
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
        let spec = body
            .get("network")
            .filter(|v| v.is_object())
            .ok_or_else(|| Fault::bad_request("Malformed request: no network"))?;
        let kind = str_field(spec, "type").ok_or_else(|| Fault::bad_request("No network type"))?;
        if !matches!(
            kind,
            "MAC_FILTERED" | "IP_LESS_ROUTED" | "PHYSICAL_VLAN" | "CUSTOM"
        ) {
            return Err(Fault::bad_request(format!("Invalid network type '{kind}'")));
        }
        let name = str_field(spec, "name").unwrap_or("").to_owned();
        let project = self.project_for(user, spec.get("project"))?;
        let owned = self
            .networks
            .values()
            .filter(|n| n.owner.as_deref() == Some(&user.uuid))
            .count();
        if owned >= self.quotas.networks {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account. Limit for resource 'Private Network' reached",
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
        let nid = self.network_ref(user, id)?.id;
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

    /// `DELETE /networks/{id}`.
    pub fn delete_network(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let net = self.network_ref(user, id)?;
        if net.public() {
            return Err(Fault::forbidden("Cannot delete a public network"));
        }
        let nid = net.id;
        if self.ports.values().any(|p| p.network == nid) {
            return Err(Fault::conflict(format!(
                "Cannot delete network. There are ports still configured on network network {nid}"
            )));
        }
        if let Some(net) = self.networks.remove(&nid) {
            for s in net.subnets {
                self.subnets.remove(&s);
            }
        }
        Ok(())
    }

    fn subnet_json(s: &Subnet) -> Value {
        let pools: Vec<Value> = s
            .pool
            .map(|(a, b)| json!({"start": Ipv4Addr::from(a).to_string(), "end": Ipv4Addr::from(b).to_string()}))
            .into_iter()
            .collect();
        json!({
            "id": s.id.to_string(), "network_id": s.network.to_string(), "name": s.name, "cidr": s.cidr,
            "ip_version": s.ip_version, "gateway_ip": s.gateway, "enable_dhcp": s.dhcp,
            "allocation_pools": pools, "dns_nameservers": [], "host_routes": [],
            "user_id": s.owner, "tenant_id": s.owner, "links": [],
        })
    }

    /// `GET /subnets`.
    pub fn list_subnets(&self, user: &str) -> Value {
        let list: Vec<Value> = self
            .subnets
            .values()
            .filter(|s| s.owner.as_deref().is_none_or(|o| o == user))
            .map(Self::subnet_json)
            .collect();
        json!({"subnets": list})
    }

    /// `GET /subnets/{id}`.
    pub fn get_subnet(&self, user: &str, id: &str) -> Result<Value, Fault> {
        let s = num_id(id)
            .and_then(|n| self.subnets.get(&n))
            .filter(|s| s.owner.as_deref().is_none_or(|o| o == user))
            .ok_or_else(|| Fault::not_found(format!("Subnet {id} not found")))?;
        Ok(json!({"subnet": Self::subnet_json(s)}))
    }

    /// `POST /subnets`.
    pub fn create_subnet(&mut self, user: &str, body: &Value) -> Result<Value, Fault> {
        let spec = body
            .get("subnet")
            .filter(|v| v.is_object())
            .ok_or_else(|| Fault::bad_request("Malformed request: no subnet"))?;
        let net_id = id_field(spec, "network_id")
            .ok_or_else(|| Fault::bad_request("Malformed request: network_id missing"))?;
        let cidr = str_field(spec, "cidr")
            .ok_or_else(|| Fault::bad_request("Malformed request: cidr missing"))?;
        let version = match spec.get("ip_version") {
            None | Some(Value::Null) => 4,
            Some(v) => match v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(4) => 4,
                Some(6) => 6,
                _ => return Err(Fault::bad_request("Invalid IP version")),
            },
        };
        let net = self.network_ref(user, &net_id)?;
        if net.public() {
            return Err(Fault::forbidden("Cannot add a subnet to a public network"));
        }
        let nid = net.id;
        if net
            .subnets
            .iter()
            .filter_map(|s| self.subnets.get(s))
            .any(|s| s.ip_version == version)
        {
            return Err(Fault::bad_request(format!(
                "Only one IPv{version} subnet is allowed per network"
            )));
        }
        let (pool, canonical, default_gateway) = if version == 4 {
            let (net_addr, len) = parse_cidr4(cidr)
                .ok_or_else(|| Fault::bad_request(format!("Malformed CIDR '{cidr}'")))?;
            let last = net_addr + (1u32 << (32 - len)) - 2;
            (
                Some((net_addr + 1, last)),
                format!("{}/{len}", Ipv4Addr::from(net_addr)),
                Some(Ipv4Addr::from(net_addr + 1).to_string()),
            )
        } else {
            if !parse_cidr6(cidr) {
                return Err(Fault::bad_request(format!("Malformed CIDR '{cidr}'")));
            }
            (None, cidr.to_owned(), None)
        };
        let gateway = match spec.get("gateway_ip") {
            None => default_gateway,
            Some(Value::Null) => None,
            Some(Value::String(g)) if version == 4 => {
                let ip: Ipv4Addr = g
                    .parse()
                    .map_err(|_| Fault::bad_request(format!("Malformed gateway '{g}'")))?;
                let (first, last) = pool.unwrap_or_default();
                if !(first..=last).contains(&u32::from(ip)) {
                    return Err(Fault::bad_request(format!(
                        "Gateway {g} is not in subnet {canonical}"
                    )));
                }
                Some(g.clone())
            }
            Some(Value::String(g)) => Some(g.clone()),
            Some(_) => return Err(Fault::bad_request("Malformed gateway")),
        };
        let id = self.next_net;
        self.next_net += 1;
        let mut subnet = Subnet {
            id,
            network: nid,
            owner: Some(user.to_owned()),
            name: str_field(spec, "name").unwrap_or("").to_owned(),
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
        };
        if let Some(g) = gateway.and_then(|g| g.parse::<Ipv4Addr>().ok()) {
            subnet.reserve(g);
        }
        let answer = Self::subnet_json(&subnet);
        self.subnets.insert(id, subnet);
        if let Some(n) = self.networks.get_mut(&nid) {
            n.subnets.push(id);
        }
        Ok(json!({"subnet": answer}))
    }

    fn port_json(&self, p: &Port) -> Value {
        let ips: Vec<Value> = p
            .ips
            .iter()
            .map(|(ip, s)| json!({"ip_address": ip, "subnet": s.to_string()}))
            .collect();
        let status = match self.servers.get(&p.device).map(|s| s.status) {
            Some(Status::Active) | Some(Status::Reboot) => "ACTIVE",
            Some(Status::Build) => "BUILD",
            _ => "DOWN",
        };
        json!({
            "id": p.id.to_string(), "name": p.name, "status": status, "admin_state_up": true,
            "network_id": p.network.to_string(), "device_id": p.device.to_string(), "device_owner": "vm",
            "mac_address": p.mac, "fixed_ips": ips, "security_groups": [], "user_id": p.owner,
            "tenant_id": p.owner, "created": format_rfc3339(p.created), "updated": format_rfc3339(p.created),
            "links": self.link(format!("/network/v2.0/ports/{}", p.id)),
        })
    }

    /// `GET /ports[?device_id=]`.
    pub fn list_ports(&mut self, user: &str, device: Option<&str>, now: Instant) -> Value {
        for s in self.servers.values_mut().filter(|s| s.owner == user) {
            s.settle(now);
        }
        let list: Vec<Value> = self
            .ports
            .values()
            .filter(|p| p.owner == user && device.is_none_or(|d| p.device.to_string() == d))
            .map(|p| self.port_json(p))
            .collect();
        json!({"ports": list})
    }

    /// `GET /ports/{id}`.
    pub fn get_port(&self, user: &str, id: &str) -> Result<Value, Fault> {
        let p = num_id(id)
            .and_then(|n| self.ports.get(&n))
            .filter(|p| p.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Port {id} not found")))?;
        Ok(json!({"port": self.port_json(p)}))
    }

    /// `POST /ports`: connects a server to a network.
    pub fn create_port(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = body
            .get("port")
            .filter(|v| v.is_object())
            .ok_or_else(|| Fault::bad_request("Malformed request: no port"))?;
        let net_id = id_field(spec, "network_id")
            .ok_or_else(|| Fault::bad_request("Malformed request: network_id missing"))?;
        let device = id_field(spec, "device_id")
            .ok_or_else(|| Fault::bad_request("Malformed request: device_id missing"))?;
        let requested: Option<String> = spec
            .get("fixed_ips")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|f| str_field(f, "ip_address"))
            .map(str::to_owned);
        let net = self.network_ref(&user.uuid, &net_id)?;
        let (nid, public) = (net.id, net.public());
        let server = self.server_mut(&user.uuid, &device, now)?;
        match server.status {
            Status::Deleted => {
                return Err(Fault::bad_request(format!(
                    "Server '{device}' has been deleted."
                )));
            }
            Status::Build => {
                return Err(Fault::build_in_progress(format!(
                    "Server '{device}' is being build."
                )));
            }
            Status::Error => {
                return Err(Fault::bad_request(
                    "Cannot connect a server in 'ERROR' state.",
                ));
            }
            _ => {}
        }
        let sid = server.id;
        let how = if public {
            let ip = requested.ok_or_else(|| {
                Fault::bad_request("A floating IP is required to connect to a public network")
            })?;
            let fip = self
                .floating_ips
                .values()
                .find(|f| f.owner == user.uuid && f.address == ip && f.network == nid)
                .ok_or_else(|| Fault::not_found(format!("Floating IP {ip} not found")))?;
            if let Some(holder) = fip.server {
                return Err(Fault::conflict(format!(
                    "Floating IP '{}' is used by server '{holder}'",
                    fip.id
                )));
            }
            Connect::Floating(fip.id)
        } else {
            if requested.is_some() {
                return Err(Fault::bad_request(
                    "Fixed IPs can only be requested on public networks",
                ));
            }
            Connect::Network(nid)
        };
        let port = self.connect(&user.uuid, sid, how)?;
        if let Some(s) = self.servers.get_mut(&sid) {
            s.ports.push(port);
        }
        let p = self
            .ports
            .get(&port)
            .ok_or_else(|| Fault::not_found("Port vanished"))?;
        Ok(json!({"port": self.port_json(p)}))
    }

    /// `DELETE /ports/{id}`.
    pub fn delete_port(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let pid = num_id(id)
            .filter(|n| self.ports.get(n).is_some_and(|p| p.owner == user))
            .ok_or_else(|| Fault::not_found(format!("Port {id} not found")))?;
        self.disconnect(pid);
        Ok(())
    }

    fn fip_json(&self, f: &FloatingIp) -> Value {
        let fixed = f
            .port
            .and_then(|p| self.ports.get(&p))
            .and_then(|p| p.ips.first())
            .map(|(ip, _)| ip.clone());
        json!({
            "id": f.id.to_string(), "floating_ip_address": f.address, "fixed_ip_address": fixed,
            "floating_network_id": f.network.to_string(), "port_id": f.port.map(|p| p.to_string()),
            "instance_id": f.server.map(|s| s.to_string()), "user_id": f.owner, "tenant_id": f.project,
            "deleted": false, "created": format_rfc3339(f.created), "updated": format_rfc3339(f.created),
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
            .ok_or_else(|| Fault::not_found(format!("Floating IP {id} not found")))?;
        Ok(json!({"floatingip": self.fip_json(f)}))
    }

    /// `POST /floatingips` (Synnefo answers 200).
    pub fn create_floating_ip(&mut self, user: &UserRec, body: &Value) -> Result<Value, Fault> {
        let spec = body
            .get("floatingip")
            .filter(|v| v.is_object())
            .ok_or_else(|| Fault::bad_request("Malformed request: no floatingip"))?;
        let project = self.project_for(user, spec.get("project"))?;
        if self
            .floating_ips
            .values()
            .filter(|f| f.owner == user.uuid)
            .count()
            >= self.quotas.floating_ips
        {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account. Limit for resource 'Floating IP address' reached",
            ));
        }
        let net = match id_field(spec, "floating_network_id") {
            Some(id) => {
                let n = self.network_ref(&user.uuid, &id)?;
                if !n.floating_ip_pool {
                    return Err(Fault::bad_request(format!(
                        "Network {id} is not a floating IP pool"
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
            created: SystemTime::now(),
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
            .ok_or_else(|| Fault::not_found(format!("Floating IP {id} not found")))?;
        if let Some(server) = f.server {
            return Err(Fault::conflict(format!(
                "Floating IP '{id}' is used by server '{server}'"
            )));
        }
        let (fid, subnet, address) = (f.id, f.subnet, f.address.clone());
        self.floating_ips.remove(&fid);
        if let Some(s) = self.subnets.get_mut(&subnet) {
            s.release(&address);
        }
        Ok(())
    }

    // ----------------------------------------------------------------- volumes

    fn volume_json(&self, v: &Volume, detail: bool) -> Value {
        let links = self.link(format!("/volume/v2.0/volumes/{}", v.id));
        if !detail {
            return json!({"id": v.id.to_string(), "display_name": v.name, "links": links});
        }
        let attachments: Vec<Value> = v
            .server
            .map(|s| json!({"server_id": s.to_string(), "volume_id": v.id.to_string(), "device_index": v.index, "id": v.id.to_string()}))
            .into_iter()
            .collect();
        let status = if v.server.is_some() {
            "IN_USE"
        } else {
            "AVAILABLE"
        };
        json!({
            "id": v.id.to_string(), "display_name": v.name, "display_description": v.description,
            "size": v.size, "status": status, "attachments": attachments, "volume_type": v.volume_type,
            "snapshot_id": null, "source_volid": null, "image_id": null, "user_id": v.owner,
            "project": v.project, "tenant_id": v.project,
            "created_at": format_rfc3339(v.created), "metadata": v.metadata, "links": links,
            "delete_on_termination": v.delete_on_termination, "bootable": v.root,
        })
    }

    /// `GET /volumes[/detail]`.
    pub fn list_volumes(&self, user: &str, detail: bool) -> Value {
        let list: Vec<Value> = self
            .volumes
            .values()
            .filter(|v| v.owner == user)
            .map(|v| self.volume_json(v, detail))
            .collect();
        json!({"volumes": list})
    }

    /// `GET /volumes/{id}`.
    pub fn get_volume(&self, user: &str, id: &str) -> Result<Value, Fault> {
        let v = num_id(id)
            .and_then(|n| self.volumes.get(&n))
            .filter(|v| v.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Volume {id} not found")))?;
        Ok(json!({"volume": self.volume_json(v, true)}))
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
        let vid = num_id(id)
            .filter(|n| self.volumes.get(n).is_some_and(|v| v.owner == user))
            .ok_or_else(|| Fault::not_found(format!("Volume {id} not found")))?;
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

    /// `POST /volumes`.
    pub fn create_volume(
        &mut self,
        user: &UserRec,
        body: &Value,
        now: Instant,
    ) -> Result<Value, Fault> {
        let spec = body
            .get("volume")
            .filter(|v| v.is_object())
            .ok_or_else(|| Fault::bad_request("Malformed request: no volume"))?;
        let size = match spec.get("size") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => return Err(Fault::bad_request("Malformed request: size missing")),
        }
        .filter(|s| *s > 0)
        .ok_or_else(|| Fault::bad_request("Volume size must be a positive integer"))?;
        // `volume/views.py` `create_volume`.
        if size > 100_000 {
            return Err(Fault::bad_request("Maximum volume size is 100000GB"));
        }
        let project = self.project_for(user, spec.get("project"))?;
        let server = match id_field(spec, "server_id") {
            Some(sid) => {
                let s = self.server_mut(&user.uuid, &sid, now)?;
                match s.status {
                    Status::Deleted => {
                        return Err(Fault::bad_request(format!(
                            "Server '{sid}' has been deleted."
                        )));
                    }
                    Status::Build => {
                        return Err(Fault::build_in_progress(format!(
                            "Server '{sid}' is being build."
                        )));
                    }
                    _ => {}
                }
                Some(s.id)
            }
            None => None,
        };
        let volume_type = match id_field(spec, "volume_type") {
            Some(t) => num_id(&t)
                .filter(|n| self.volume_types.iter().any(|(id, _)| id == n))
                .or_else(|| {
                    self.volume_types
                        .iter()
                        .find(|(_, name)| *name == t)
                        .map(|(id, _)| *id)
                })
                .ok_or_else(|| Fault::not_found(format!("Volume type {t} not found")))?,
            None => match server
                .and_then(|s| self.servers.get(&s))
                .and_then(|s| self.flavors.get(&s.flavor))
            {
                Some(f) => f.volume_type,
                None => return Err(Fault::bad_request("Malformed request: volume_type missing")),
            },
        };
        if self
            .volumes
            .values()
            .filter(|v| v.owner == user.uuid)
            .count()
            >= self.quotas.volumes
        {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account. Limit for resource 'Volume' reached",
            ));
        }
        let used: u64 = self
            .volumes
            .values()
            .filter(|v| v.owner == user.uuid)
            .map(|v| v.size)
            .sum();
        if used + size > self.quotas.disk_gib {
            return Err(Fault::over_limit(
                "Resource Limit Exceeded for your account.",
            ));
        }
        let id = self.next_volume;
        self.next_volume += 1;
        let index = server
            .and_then(|s| self.servers.get(&s))
            .map(|s| s.volumes.len() as u32)
            .unwrap_or(0);
        let metadata = match spec.get("metadata") {
            Some(Value::Object(_)) => parse_metadata(&json!({"metadata": spec.get("metadata")}))?,
            _ => BTreeMap::new(),
        };
        let volume = Volume {
            id,
            owner: user.uuid.clone(),
            project,
            name: str_field(spec, "display_name")
                .or_else(|| str_field(spec, "name"))
                .unwrap_or("")
                .to_owned(),
            description: str_field(spec, "display_description")
                .unwrap_or("")
                .to_owned(),
            size,
            volume_type,
            server,
            index,
            root: false,
            delete_on_termination: false,
            created: SystemTime::now(),
            metadata,
            snapshot_counter: 0,
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

    /// `DELETE /volumes/{id}`.
    pub fn delete_volume(&mut self, user: &str, id: &str) -> Result<(), Fault> {
        let v = num_id(id)
            .and_then(|n| self.volumes.get(&n))
            .filter(|v| v.owner == user)
            .ok_or_else(|| Fault::not_found(format!("Volume {id} not found")))?;
        if v.root {
            return Err(Fault::bad_request(
                "Cannot delete the root volume of a server",
            ));
        }
        let (vid, server) = (v.id, v.server);
        if let Some(s) = server.and_then(|s| self.servers.get_mut(&s)) {
            s.volumes.retain(|x| *x != vid);
        }
        self.volumes.remove(&vid);
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

    /// The status Cyclades would give a volume: the simulator derives it
    /// from the server it is attached to (a building server's disks are
    /// `CREATING`, a failed one's `ERROR`).
    fn volume_status(&mut self, v: u64, now: Instant) -> &'static str {
        let Some(server) = self.volumes.get(&v).and_then(|v| v.server) else {
            return "AVAILABLE";
        };
        match self.servers.get_mut(&server) {
            Some(s) => {
                s.settle(now);
                match s.status {
                    Status::Build => "CREATING",
                    Status::Error => "ERROR",
                    Status::Deleted => "DELETED",
                    _ => "IN_USE",
                }
            }
            None => "AVAILABLE",
        }
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
        let spec = body
            .get("snapshot")
            .filter(|v| v.is_object())
            .ok_or_else(|| Fault::bad_request("Malformed request: no snapshot"))?;
        let vid = id_field(spec, "volume_id")
            .ok_or_else(|| Fault::bad_request("Malformed request: volume_id missing"))?;
        let n =
            num_id(&vid).ok_or_else(|| Fault::bad_request(format!("Invalid volume id: {vid}")))?;
        let volume = self
            .volumes
            .get(&n)
            .filter(|v| v.owner == user.uuid)
            .ok_or_else(|| Fault::bad_request(format!("Volume {vid} not found")))?
            .clone();
        let string = |key: &str| -> Result<Option<String>, Fault> {
            match spec.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Fault::bad_request(format!(
                    "Malformed request: {key} must be a string"
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
                    "Malformed request: metadata must be an object",
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

    /// `GET /types`.
    pub fn volume_types(&self) -> Value {
        let list: Vec<Value> = self
            .volume_types
            .iter()
            .map(
                |(id, name)| json!({"id": id.to_string(), "name": name, "SNF:disk_template": name}),
            )
            .collect();
        json!({"volume_types": list})
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
        json!({
            "users": self.users.len(), "servers": live, "servers_deleted": self.servers.len() - live,
            "volumes": self.volumes.len(), "snapshots": self.snapshots.len(), "networks": self.networks.len(), "subnets": self.subnets.len(),
            "ports": self.ports.len(), "floating_ips": self.floating_ips.len(),
            "personality_files": self.servers.values().map(|s| s.personality_files).sum::<usize>(),
        })
    }
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
