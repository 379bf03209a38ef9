//! What the simulator is seeded with, and the defaults when the
//! `[simulator]` table says nothing.
//!
//! Any list given in the table replaces the default list of that kind.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[[simulator.users]]`: a user, their token and projects.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    /// Astakos UUID.
    pub uuid: String,
    /// Display name (Astakos uses the email).
    pub name: String,
    /// The token (`X-Auth-Token`).
    pub token: String,
    /// Project UUIDs the user is a member of; the user's own system
    /// project (`uuid`) is always added first.
    #[serde(default)]
    pub projects: Vec<String>,
}

/// `[[simulator.flavors]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FlavorSeed {
    /// Integer id.
    pub id: u64,
    /// Name, e.g. `C2R2048D40drbd`.
    pub name: String,
    /// CPUs.
    pub vcpus: u64,
    /// Memory in MiB.
    pub ram: u64,
    /// Disk in GB.
    pub disk: u64,
    /// Disk template (`drbd`, `ext_archipelago`, ...).
    #[serde(default = "drbd")]
    pub disk_template: String,
    /// `SNF:allow_create`.
    #[serde(default = "yes")]
    pub allow_create: bool,
}

/// `[[simulator.images]]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSeed {
    /// Id (a UUID in Synnefo).
    pub id: String,
    /// Name, e.g. `Debian`.
    pub name: String,
    /// Metadata `os`.
    #[serde(default)]
    pub os: String,
    /// Metadata `users` (space separated login users).
    #[serde(default = "root")]
    pub users: String,
    /// Metadata `osfamily`.
    #[serde(default = "linux")]
    pub osfamily: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
}

/// `[[simulator.networks]]`: a public network with one IPv4 subnet.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSeed {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// IPv4 CIDR of its subnet.
    pub cidr: String,
    /// Gateway (default: the first host).
    #[serde(default)]
    pub gateway: Option<String>,
    /// Whether floating IPs are allocated from it.
    #[serde(default = "yes")]
    pub floating_ip_pool: bool,
    /// Its Cyclades network flavor, shown as `type` (`IP_LESS_ROUTED`,
    /// `CUSTOM`, ...: a site's choice).
    #[serde(default = "ip_less_routed", rename = "type")]
    pub network_type: String,
}

/// `[[simulator.voms_users]]`: which simulator user a VOMS proxy maps to
/// at the astavoms facade, standing for astavoms' `vo_projects` and its
/// user directory. As astavoms, the facade takes the DN of the proxy
/// chain's holder (its first certificate that is not a proxy) and the VO
/// of the VOMS attributes issued to that holder; the pair must equal
/// `dn` (in either notation) and `vo`. A VO no entry names is astavoms'
/// `400 Unknown VO`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VomsUserSeed {
    /// The holder's DN, `/C=../O=../CN=..` or `CN=.., O=.., C=..`.
    pub dn: String,
    /// The VO (`fedcloud.egi.eu`); answered as `voname` and tenant name.
    pub vo: String,
    /// The simulator user's UUID.
    pub user: String,
    /// The VO's Synnefo project (must be one of the user's).
    pub project: String,
}

/// `[simulator.quotas]`: per-user limits (413 `overLimit` beyond, worded
/// as Cyclades words a refused Astakos commission).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    /// Servers per user (`cyclades.vm`).
    pub servers: usize,
    /// Volumes per user, root volumes included (a simulator limit:
    /// Cyclades counts disk space, not volumes).
    pub volumes: usize,
    /// Private networks per user (`cyclades.network.private`).
    pub networks: usize,
    /// Floating IPs per user (`cyclades.floating_ip`).
    pub floating_ips: usize,
    /// Virtual CPUs of all servers per user (`cyclades.total_cpu`).
    pub cpus: u64,
    /// Memory of all servers per user, in MiB (`cyclades.total_ram`).
    pub ram_mib: u64,
    /// Disk per user, in GiB (Astakos' `cyclades.disk`: root disks and
    /// volumes).
    pub disk_gib: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            servers: 10_000,
            volumes: 20_000,
            networks: 1_000,
            floating_ips: 1_000,
            cpus: 1 << 20,
            ram_mib: 1 << 40,
            disk_gib: 10_240,
        }
    }
}

/// Faults to inject (also switchable at run time at `/_sim/faults`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSettings {
    /// Added before every answer (e.g. `"200ms"`).
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Added after the request was carried out, before its answer: a
    /// backend that did the work but answers too late (a client that
    /// gives up meanwhile does not know the outcome).
    #[serde(with = "humantime_serde")]
    pub answer_latency: Duration,
    /// Share of requests answered with `error_status` (0.0 to 1.0);
    /// exact: of every N requests, round(N x share) fail.
    pub error_rate: f64,
    /// The status of injected errors (default 503 `serviceUnavailable`).
    pub error_status: Option<u16>,
    /// Share of connections closed without an answer.
    pub drop_rate: f64,
    /// Share of requests carried out, then their connection closed
    /// without an answer: a backend that acted but whose answer was lost.
    pub drop_after_rate: f64,
    /// Services that are down (their requests get no answer):
    /// `identity`, `compute`, `network`, `volume`, `image`, `astavoms`.
    pub down: Vec<String>,
    /// When not empty, `latency`, `answer_latency`, `error_rate` and
    /// `drop_rate` apply only
    /// to these operations, named as the counters name them
    /// (`"POST /network/v2.0/subnets"`,
    /// `"GET /compute/v2.0/servers/{id}"`).
    pub routes: Vec<String>,
}

fn yes() -> bool {
    true
}
fn drbd() -> String {
    "drbd".into()
}
fn ip_less_routed() -> String {
    "IP_LESS_ROUTED".into()
}
fn root() -> String {
    "root".into()
}
fn linux() -> String {
    "linux".into()
}

/// The default project both default users are members of.
pub const DEMO_PROJECT: &str = "d3m0d3m0-0000-4000-8000-000000000001";

/// Two users: alice (token `alice-token`, member of the demo project) and
/// bob (token `bob-token`).
pub fn default_users() -> Vec<UserSeed> {
    vec![
        UserSeed {
            uuid: "a11ce000-0000-4000-8000-000000000001".into(),
            name: "alice@example.org".into(),
            token: "alice-token".into(),
            projects: vec![DEMO_PROJECT.into()],
        },
        UserSeed {
            uuid: "b0b00000-0000-4000-8000-000000000002".into(),
            name: "bob@example.org".into(),
            token: "bob-token".into(),
            projects: vec![DEMO_PROJECT.into()],
        },
    ]
}

/// ~okeanos-style flavors plus the seed document's `C2R2048D20`.
pub fn default_flavors() -> Vec<FlavorSeed> {
    let f = |id, name: &str, vcpus, ram, disk, template: &str, allow_create| FlavorSeed {
        id,
        name: name.into(),
        vcpus,
        ram,
        disk,
        disk_template: template.into(),
        allow_create,
    };
    vec![
        f(1, "C1R1024D20drbd", 1, 1024, 20, "drbd", true),
        f(2, "C2R2048D40drbd", 2, 2048, 40, "drbd", true),
        f(3, "C4R4096D40drbd", 4, 4096, 40, "drbd", true),
        f(4, "C2R2048D20", 2, 2048, 20, "ext_archipelago", true),
        f(
            5,
            "C1R512D10ext_archipelago",
            1,
            512,
            10,
            "ext_archipelago",
            true,
        ),
        f(6, "C8R16384D80drbd", 8, 16_384, 80, "drbd", false),
    ]
}

/// `Debian` (the seed document's), Ubuntu and CentOS.
pub fn default_images() -> Vec<ImageSeed> {
    vec![
        ImageSeed {
            id: "0e5a4c4b-d2a1-4c1d-9d2b-debian000001".into(),
            name: "Debian".into(),
            os: "debian".into(),
            users: "root user".into(),
            osfamily: "linux".into(),
            size: 2_147_483_648,
        },
        ImageSeed {
            id: "0e5a4c4b-d2a1-4c1d-9d2b-ubuntu000002".into(),
            name: "Ubuntu Server LTS".into(),
            os: "ubuntu".into(),
            users: "user".into(),
            osfamily: "linux".into(),
            size: 2_684_354_560,
        },
        ImageSeed {
            id: "0e5a4c4b-d2a1-4c1d-9d2b-centos000003".into(),
            name: "CentOS".into(),
            os: "centos".into(),
            users: "root".into(),
            osfamily: "linux".into(),
            size: 3_221_225_472,
        },
    ]
}

/// One public IPv4 network with a floating IP pool.
pub fn default_networks() -> Vec<NetworkSeed> {
    vec![NetworkSeed {
        id: 1,
        name: "Public IPv4 Network".into(),
        cidr: "83.212.0.0/22".into(),
        gateway: None,
        floating_ip_pool: true,
        network_type: ip_less_routed(),
    }]
}

/// Alice's certificate DN, mapped to her in the default VO.
pub fn default_voms_users() -> Vec<VomsUserSeed> {
    vec![VomsUserSeed {
        dn: "/C=GR/O=HellasGrid/OU=example.org/CN=Alice Example".into(),
        vo: "fedcloud.egi.eu".into(),
        user: "a11ce000-0000-4000-8000-000000000001".into(),
        project: DEMO_PROJECT.into(),
    }]
}
