//! The simulated cloud: users, flavors, images, networks, servers,
//! volumes, and the rules Synnefo applies to them. Pure data and logic:
//! no HTTP here, every operation answers JSON or a [`Fault`](crate::fault::Fault).
//!
//! One [`World`] holds every record and is served behind one lock
//! (`serve.rs`). Synnefo's rules cross resources (a server create plans
//! its disks, ports and floating IPs together; a server's deletion
//! releases them; a port's state follows its server's), so the
//! operations stay methods of the one world rather than of separate
//! stores that would need each other. They are split by the resource
//! they answer for: each module below is its own `impl World` block,
//! next to the records it owns, whose fields its siblings may read.
//!
//! | module | holds |
//! |---|---|
//! | `accounts` | Astakos: users and projects, the service catalog, tokens, the quota commissions of every create |
//! | `flavors`, `images` | the compute catalogue: flavors; public images and snapshots as images (Cyclades and Plankton) |
//! | `servers` | the server record, its status and pending transition, its views and metadata |
//! | `server_create` | `POST /servers`: its disks and NICs planned before anything changes |
//! | `server_actions` | deleting and renaming a server, start, shutdown, reboot and resize |
//! | `attachments` | volumes attached to and detached from servers |
//! | `networks` | networks and their subnets (the address pools) |
//! | `ports` | ports, how each connects (network, fixed address, floating IP) |
//! | `floating_ips` | floating IPs |
//! | `volumes` | volumes, volume types and their disk templates |
//! | `snapshots` | volume snapshots |
//! | `jobs` | time: when the transitions (Ganeti's jobs) complete |
//! | `admin` | what `/_sim` does to the world: bulk servers, forced statuses, counts |
//! | `body` | reading request bodies the way Cyclades' API does |

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::SimulatorError;
use crate::seed::{FlavorSeed, ImageSeed, NetworkSeed, Quotas, UserSeed, VomsUserSeed};
use flavors::Flavor;
use floating_ips::FloatingIp;
use networks::{Network, Subnet, parse_cidr4};
use ports::Port;
use servers::Server;
use snapshots::Snapshot;
use volumes::Volume;

mod accounts;
mod admin;
mod attachments;
mod body;
mod flavors;
mod floating_ips;
mod images;
mod jobs;
mod networks;
mod ports;
mod server_actions;
mod server_create;
mod servers;
mod snapshots;
mod volumes;

pub use accounts::UserRec;
pub use servers::Status;

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
    pub networks: Vec<NetworkSeed>,
    /// VOMS mapping.
    pub voms_users: Vec<VomsUserSeed>,
}

fn invalid(reason: String) -> SimulatorError {
    SimulatorError::Seed { reason }
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

    /// The `links` of a record at `path`: `self` and `bookmark`, both
    /// absolute, as Synnefo writes them.
    fn link(&self, path: String) -> Value {
        let href = format!("{}{}", self.base, path);
        json!([{"href": href, "rel": "self"}, {"href": href, "rel": "bookmark"}])
    }
}
