//! The OCCI 1.2 Core and Infrastructure catalogue, plus the provider
//! mixins snf-occi offers, and builders for the dynamic ones (one
//! `resource_tpl` per flavor, one `os_tpl` per image, user mixins).
//!
//! Every kind except `entity` is bound to an absolute path; entity URLs
//! are `<kind location><id>`. Only attributes that creation truly needs
//! are `required` (`occi.storage.size`, a link's source and target, the
//! payload of a contextualization mixin).
//!
//! ```
//! use snf_occi::occi::infrastructure::{self, catalogue};
//! let compute = catalogue().kind(infrastructure::COMPUTE).unwrap();
//! assert_eq!(compute.location.as_deref(), Some("/compute/"));
//! assert!(compute.actions.iter().any(|a| a == infrastructure::COMPUTE_START));
//! ```

use std::sync::LazyLock;

use super::attribute::{AttributeDef, AttributeType};
use super::category::{Action, Category, CategorySet, Kind, Mixin};

macro_rules! type_ids {
    ($( $(#[$m:meta])* $name:ident = $scheme:expr, $term:literal; )*) => {
        $( $(#[$m])* pub const $name: &str = concat!($scheme, $term); )*
    };
}

/// Scheme of the core kinds.
pub const CORE_SCHEME: &str = "http://schemas.ogf.org/occi/core#";
/// Scheme of the infrastructure kinds and the template parents.
pub const INFRA_SCHEME: &str = "http://schemas.ogf.org/occi/infrastructure#";
/// Scheme of the compute actions.
pub const COMPUTE_ACTION_SCHEME: &str =
    "http://schemas.ogf.org/occi/infrastructure/compute/action#";
/// Scheme of the storage actions.
pub const STORAGE_ACTION_SCHEME: &str =
    "http://schemas.ogf.org/occi/infrastructure/storage/action#";
/// Scheme of the network actions.
pub const NETWORK_ACTION_SCHEME: &str =
    "http://schemas.ogf.org/occi/infrastructure/network/action#";
/// Scheme of the `ipnetwork` mixin.
pub const IPNETWORK_SCHEME: &str = "http://schemas.ogf.org/occi/infrastructure/network#";
/// Scheme of the `ipnetworkinterface` mixin.
pub const IPNETWORKINTERFACE_SCHEME: &str =
    "http://schemas.ogf.org/occi/infrastructure/networkinterface#";
/// Scheme of the OCCI `ssh_key` mixin.
pub const CREDENTIALS_SCHEME: &str = "http://schemas.ogf.org/occi/infrastructure/credentials#";
/// Scheme of the OCCI `user_data` mixin.
pub const COMPUTE_MIXIN_SCHEME: &str = "http://schemas.ogf.org/occi/infrastructure/compute#";
/// Scheme of the OpenStack `public_key` mixin rOCCI-cli sends.
pub const OPENSTACK_CREDENTIALS_SCHEME: &str = "http://schemas.openstack.org/instance/credentials#";
/// Scheme of the OpenStack `user_data` mixin rOCCI-cli sends.
pub const OPENSTACK_INSTANCE_SCHEME: &str = "http://schemas.openstack.org/compute/instance#";
/// Scheme of the per-flavor resource templates.
pub const RESOURCE_TPL_SCHEME: &str = "http://schemas.openstack.org/template/resource#";
/// Scheme of the per-image OS templates.
pub const OS_TPL_SCHEME: &str = "http://schemas.openstack.org/template/os#";
/// Scheme of the `storage_tpl` parent mixin (Synnefo's own: OCCI 1.2
/// defines no storage templates).
pub const SYNNEFO_INFRA_SCHEME: &str = "http://schemas.synnefo.org/occi/infrastructure#";
/// Scheme of the per-volume-type storage templates.
pub const STORAGE_TPL_SCHEME: &str = "http://schemas.synnefo.org/template/storage#";

type_ids! {
    /// `entity` kind.
    ENTITY = "http://schemas.ogf.org/occi/core#", "entity";
    /// `resource` kind.
    RESOURCE = "http://schemas.ogf.org/occi/core#", "resource";
    /// `link` kind.
    LINK = "http://schemas.ogf.org/occi/core#", "link";
    /// `compute` kind.
    COMPUTE = "http://schemas.ogf.org/occi/infrastructure#", "compute";
    /// `storage` kind.
    STORAGE = "http://schemas.ogf.org/occi/infrastructure#", "storage";
    /// `network` kind.
    NETWORK = "http://schemas.ogf.org/occi/infrastructure#", "network";
    /// `storagelink` kind.
    STORAGELINK = "http://schemas.ogf.org/occi/infrastructure#", "storagelink";
    /// `networkinterface` kind.
    NETWORKINTERFACE = "http://schemas.ogf.org/occi/infrastructure#", "networkinterface";
    /// `ipreservation` kind (extension: floating IPs).
    IPRESERVATION = "http://schemas.ogf.org/occi/infrastructure#", "ipreservation";
    /// `os_tpl` parent mixin.
    OS_TPL = "http://schemas.ogf.org/occi/infrastructure#", "os_tpl";
    /// `resource_tpl` parent mixin.
    RESOURCE_TPL = "http://schemas.ogf.org/occi/infrastructure#", "resource_tpl";
    /// `storage_tpl` parent mixin (Synnefo volume types).
    STORAGE_TPL = "http://schemas.synnefo.org/occi/infrastructure#", "storage_tpl";
    /// `ipnetwork` mixin.
    IPNETWORK = "http://schemas.ogf.org/occi/infrastructure/network#", "ipnetwork";
    /// `ipnetworkinterface` mixin.
    IPNETWORKINTERFACE = "http://schemas.ogf.org/occi/infrastructure/networkinterface#", "ipnetworkinterface";
    /// OCCI `ssh_key` mixin.
    SSH_KEY = "http://schemas.ogf.org/occi/infrastructure/credentials#", "ssh_key";
    /// OCCI `user_data` mixin.
    USER_DATA = "http://schemas.ogf.org/occi/infrastructure/compute#", "user_data";
    /// OpenStack `public_key` mixin.
    OPENSTACK_PUBLIC_KEY = "http://schemas.openstack.org/instance/credentials#", "public_key";
    /// OpenStack `user_data` mixin.
    OPENSTACK_USER_DATA = "http://schemas.openstack.org/compute/instance#", "user_data";
    /// compute `start`.
    COMPUTE_START = "http://schemas.ogf.org/occi/infrastructure/compute/action#", "start";
    /// compute `stop`.
    COMPUTE_STOP = "http://schemas.ogf.org/occi/infrastructure/compute/action#", "stop";
    /// compute `restart`.
    COMPUTE_RESTART = "http://schemas.ogf.org/occi/infrastructure/compute/action#", "restart";
    /// compute `suspend`.
    COMPUTE_SUSPEND = "http://schemas.ogf.org/occi/infrastructure/compute/action#", "suspend";
    /// compute `save`.
    COMPUTE_SAVE = "http://schemas.ogf.org/occi/infrastructure/compute/action#", "save";
    /// storage `online`.
    STORAGE_ONLINE = "http://schemas.ogf.org/occi/infrastructure/storage/action#", "online";
    /// storage `offline`.
    STORAGE_OFFLINE = "http://schemas.ogf.org/occi/infrastructure/storage/action#", "offline";
    /// network `up`.
    NETWORK_UP = "http://schemas.ogf.org/occi/infrastructure/network/action#", "up";
    /// network `down`.
    NETWORK_DOWN = "http://schemas.ogf.org/occi/infrastructure/network/action#", "down";
}

/// Attribute names the app reads and writes.
pub mod attr {
    /// `occi.core.id`.
    pub const ID: &str = "occi.core.id";
    /// `occi.core.title`.
    pub const TITLE: &str = "occi.core.title";
    /// `occi.core.summary`.
    pub const SUMMARY: &str = "occi.core.summary";
    /// `occi.core.source`.
    pub const SOURCE: &str = "occi.core.source";
    /// `occi.core.source.kind`.
    pub const SOURCE_KIND: &str = "occi.core.source.kind";
    /// `occi.core.target`.
    pub const TARGET: &str = "occi.core.target";
    /// `occi.core.target.kind`.
    pub const TARGET_KIND: &str = "occi.core.target.kind";
    /// `occi.compute.architecture`.
    pub const COMPUTE_ARCHITECTURE: &str = "occi.compute.architecture";
    /// `occi.compute.cores`.
    pub const COMPUTE_CORES: &str = "occi.compute.cores";
    /// `occi.compute.hostname`.
    pub const COMPUTE_HOSTNAME: &str = "occi.compute.hostname";
    /// `occi.compute.share`.
    pub const COMPUTE_SHARE: &str = "occi.compute.share";
    /// `occi.compute.memory` (GiB).
    pub const COMPUTE_MEMORY: &str = "occi.compute.memory";
    /// `occi.compute.state`.
    pub const COMPUTE_STATE: &str = "occi.compute.state";
    /// `occi.compute.state.message`.
    pub const COMPUTE_STATE_MESSAGE: &str = "occi.compute.state.message";
    /// `occi.storage.size` (GiB).
    pub const STORAGE_SIZE: &str = "occi.storage.size";
    /// `occi.storage.state`.
    pub const STORAGE_STATE: &str = "occi.storage.state";
    /// `occi.storage.state.message`.
    pub const STORAGE_STATE_MESSAGE: &str = "occi.storage.state.message";
    /// `occi.network.vlan`.
    pub const NETWORK_VLAN: &str = "occi.network.vlan";
    /// `occi.network.label`.
    pub const NETWORK_LABEL: &str = "occi.network.label";
    /// `occi.network.state`.
    pub const NETWORK_STATE: &str = "occi.network.state";
    /// `occi.network.state.message`.
    pub const NETWORK_STATE_MESSAGE: &str = "occi.network.state.message";
    /// `occi.network.address` (ipnetwork).
    pub const NETWORK_ADDRESS: &str = "occi.network.address";
    /// `occi.network.gateway` (ipnetwork).
    pub const NETWORK_GATEWAY: &str = "occi.network.gateway";
    /// `occi.network.allocation` (ipnetwork).
    pub const NETWORK_ALLOCATION: &str = "occi.network.allocation";
    /// `occi.networkinterface.interface`.
    pub const NI_INTERFACE: &str = "occi.networkinterface.interface";
    /// `occi.networkinterface.mac`.
    pub const NI_MAC: &str = "occi.networkinterface.mac";
    /// `occi.networkinterface.state`.
    pub const NI_STATE: &str = "occi.networkinterface.state";
    /// `occi.networkinterface.state.message`.
    pub const NI_STATE_MESSAGE: &str = "occi.networkinterface.state.message";
    /// `occi.networkinterface.address` (ipnetworkinterface).
    pub const NI_ADDRESS: &str = "occi.networkinterface.address";
    /// `occi.networkinterface.gateway` (ipnetworkinterface).
    pub const NI_GATEWAY: &str = "occi.networkinterface.gateway";
    /// `occi.networkinterface.allocation` (ipnetworkinterface).
    pub const NI_ALLOCATION: &str = "occi.networkinterface.allocation";
    /// `occi.storagelink.deviceid`.
    pub const SL_DEVICEID: &str = "occi.storagelink.deviceid";
    /// `occi.storagelink.mountpoint`.
    pub const SL_MOUNTPOINT: &str = "occi.storagelink.mountpoint";
    /// `occi.storagelink.state`.
    pub const SL_STATE: &str = "occi.storagelink.state";
    /// `occi.storagelink.state.message`.
    pub const SL_STATE_MESSAGE: &str = "occi.storagelink.state.message";
    /// `occi.ipreservation.address`.
    pub const IPR_ADDRESS: &str = "occi.ipreservation.address";
    /// `occi.ipreservation.used`.
    pub const IPR_USED: &str = "occi.ipreservation.used";
    /// `occi.ipreservation.state`.
    pub const IPR_STATE: &str = "occi.ipreservation.state";
    /// `occi.credentials.ssh.publickey` (ssh_key).
    pub const SSH_PUBLICKEY: &str = "occi.credentials.ssh.publickey";
    /// `occi.compute.userdata` (user_data; base64).
    pub const USERDATA: &str = "occi.compute.userdata";
    /// `org.openstack.credentials.publickey.name` (OpenStack public_key).
    pub const OS_PUBLICKEY_NAME: &str = "org.openstack.credentials.publickey.name";
    /// `org.openstack.credentials.publickey.data` (OpenStack public_key).
    pub const OS_PUBLICKEY_DATA: &str = "org.openstack.credentials.publickey.data";
    /// `org.openstack.compute.user_data` (OpenStack user_data; base64).
    pub const OS_USER_DATA: &str = "org.openstack.compute.user_data";
    /// The disk size of a resource template, GiB (provider attribute).
    pub const TPL_DISK: &str = "eu.egi.fedcloud.flavor.disk";
    /// `method` parameter of compute actions.
    pub const METHOD: &str = "method";
    /// `name` parameter of `save`.
    pub const NAME: &str = "name";
}

fn enum_of(values: &[&str]) -> AttributeType {
    AttributeType::Enum(values.iter().map(|s| (*s).to_owned()).collect())
}

fn string(name: &str) -> AttributeDef {
    AttributeDef::new(name, AttributeType::String)
}

fn state(name: &str, values: &[&str], default: &str) -> AttributeDef {
    AttributeDef::new(name, enum_of(values))
        .immutable()
        .default_value(default)
}

fn kind(
    scheme: &str,
    term: &str,
    title: &str,
    parent: Option<&str>,
    location: Option<&str>,
    attributes: Vec<AttributeDef>,
    actions: &[&str],
) -> Kind {
    Kind {
        category: Category::new(scheme, term).titled(title),
        parent: parent.map(str::to_owned),
        attributes,
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        location: location.map(str::to_owned),
    }
}

fn mixin(
    scheme: &str,
    term: &str,
    title: &str,
    location: &str,
    depends: &[&str],
    applies: &[&str],
    attributes: Vec<AttributeDef>,
) -> Mixin {
    Mixin {
        category: Category::new(scheme, term).titled(title),
        depends: depends.iter().map(|s| (*s).to_owned()).collect(),
        applies: applies.iter().map(|s| (*s).to_owned()).collect(),
        attributes,
        actions: Vec::new(),
        location: Some(location.to_owned()),
    }
}

fn action(scheme: &str, term: &str, title: &str, attributes: Vec<AttributeDef>) -> Action {
    Action {
        category: Category::new(scheme, term).titled(title),
        attributes,
    }
}

fn method(values: &[&str]) -> AttributeDef {
    AttributeDef::new(attr::METHOD, enum_of(values))
}

/// The static catalogue: every kind, provider mixin and action.
#[derive(Debug)]
pub struct Catalogue {
    /// Kinds: core first, then infrastructure.
    pub kinds: Vec<Kind>,
    /// Provider mixins (template parents, ipnetwork, contextualization).
    pub mixins: Vec<Mixin>,
    /// Every action.
    pub actions: Vec<Action>,
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(Catalogue::build);

/// The static catalogue, built once.
pub fn catalogue() -> &'static Catalogue {
    &CATALOGUE
}

impl Catalogue {
    fn build() -> Catalogue {
        let compute_states = ["active", "inactive", "suspended", "error"];
        let link_states = ["active", "inactive", "error"];
        let kinds = vec![
            kind(
                CORE_SCHEME,
                "entity",
                "Entity",
                None,
                None,
                vec![
                    AttributeDef::new(attr::ID, AttributeType::String)
                        .immutable()
                        .describe("The unique identifier of the entity, set by the provider"),
                    string(attr::TITLE).describe("The display name of the entity"),
                ],
                &[],
            ),
            kind(
                CORE_SCHEME,
                "resource",
                "Resource",
                Some(ENTITY),
                Some("/resource/"),
                vec![string(attr::SUMMARY).describe("A summary of the resource")],
                &[],
            ),
            kind(
                CORE_SCHEME,
                "link",
                "Link",
                Some(ENTITY),
                Some("/link/"),
                vec![
                    AttributeDef::new(attr::SOURCE, AttributeType::Uri)
                        .required()
                        .describe("The location of the source resource"),
                    AttributeDef::new(attr::TARGET, AttributeType::Uri)
                        .required()
                        .describe("The location of the target resource"),
                ],
                &[],
            ),
            kind(
                INFRA_SCHEME,
                "compute",
                "Compute Resource",
                Some(RESOURCE),
                Some("/compute/"),
                vec![
                    AttributeDef::new(attr::COMPUTE_ARCHITECTURE, enum_of(&["x86", "x64"]))
                        .describe("CPU architecture of the instance"),
                    AttributeDef::new(
                        attr::COMPUTE_CORES,
                        AttributeType::Integer {
                            min: Some(1),
                            max: None,
                        },
                    )
                    .describe("Number of virtual CPU cores"),
                    string(attr::COMPUTE_HOSTNAME).describe("Fully qualified DNS hostname"),
                    AttributeDef::new(
                        attr::COMPUTE_SHARE,
                        AttributeType::Integer {
                            min: Some(0),
                            max: None,
                        },
                    )
                    .describe("Relative number of CPU shares"),
                    AttributeDef::new(
                        attr::COMPUTE_MEMORY,
                        AttributeType::Float { min: Some(0.0) },
                    )
                    .describe("Maximum RAM in gigabytes (GiB)"),
                    state(attr::COMPUTE_STATE, &compute_states, "inactive")
                        .describe("Current state of the instance"),
                    string(attr::COMPUTE_STATE_MESSAGE)
                        .immutable()
                        .describe("Human-readable explanation of the current state"),
                ],
                &[
                    COMPUTE_START,
                    COMPUTE_STOP,
                    COMPUTE_RESTART,
                    COMPUTE_SUSPEND,
                    COMPUTE_SAVE,
                ],
            ),
            kind(
                INFRA_SCHEME,
                "storage",
                "Storage Resource",
                Some(RESOURCE),
                Some("/storage/"),
                vec![
                    AttributeDef::new(attr::STORAGE_SIZE, AttributeType::Float { min: Some(0.0) })
                        .required()
                        .describe("Storage size of the instance in gigabytes (GiB)"),
                    state(
                        attr::STORAGE_STATE,
                        &["online", "offline", "error"],
                        "offline",
                    )
                    .describe("Current status of the instance"),
                    string(attr::STORAGE_STATE_MESSAGE)
                        .immutable()
                        .describe("Human-readable explanation of the current state"),
                ],
                &[STORAGE_ONLINE, STORAGE_OFFLINE],
            ),
            kind(
                INFRA_SCHEME,
                "storagelink",
                "Storage Link",
                Some(LINK),
                Some("/storagelink/"),
                vec![
                    string(attr::SL_DEVICEID)
                        .describe("Device identifier as defined by the provider"),
                    string(attr::SL_MOUNTPOINT).describe("Point to mount the storage device"),
                    state(attr::SL_STATE, &link_states, "inactive")
                        .describe("Current status of the link"),
                    string(attr::SL_STATE_MESSAGE)
                        .immutable()
                        .describe("Human-readable explanation of the current state"),
                ],
                &[],
            ),
            kind(
                INFRA_SCHEME,
                "network",
                "Network Resource",
                Some(RESOURCE),
                Some("/network/"),
                vec![
                    AttributeDef::new(
                        attr::NETWORK_VLAN,
                        AttributeType::Integer {
                            min: Some(0),
                            max: Some(4095),
                        },
                    )
                    .describe("802.1q VLAN identifier"),
                    string(attr::NETWORK_LABEL).describe("Tag based VLANs"),
                    state(attr::NETWORK_STATE, &link_states, "inactive")
                        .describe("Current state of the network"),
                    string(attr::NETWORK_STATE_MESSAGE)
                        .immutable()
                        .describe("Human-readable explanation of the current state"),
                ],
                &[NETWORK_UP, NETWORK_DOWN],
            ),
            kind(
                INFRA_SCHEME,
                "networkinterface",
                "Network Interface",
                Some(LINK),
                Some("/networkinterface/"),
                vec![
                    string(attr::NI_INTERFACE).immutable().describe(
                        "Identifier that relates the link to the link's device interface",
                    ),
                    string(attr::NI_MAC).describe("MAC address associated with the link's device"),
                    state(attr::NI_STATE, &link_states, "inactive")
                        .describe("Current status of the link"),
                    string(attr::NI_STATE_MESSAGE)
                        .immutable()
                        .describe("Human-readable explanation of the current state"),
                ],
                &[],
            ),
            kind(
                INFRA_SCHEME,
                "ipreservation",
                "IP Reservation",
                Some(NETWORK),
                Some("/ipreservation/"),
                vec![
                    AttributeDef::new(attr::IPR_ADDRESS, AttributeType::IpAddress)
                        .immutable()
                        .describe("The reserved (floating) IP address"),
                    AttributeDef::new(attr::IPR_USED, AttributeType::Boolean)
                        .immutable()
                        .describe("Whether the address is attached to an instance"),
                    state(attr::IPR_STATE, &link_states, "inactive")
                        .describe("Current state of the reservation"),
                ],
                &[],
            ),
        ];
        let allocation = || enum_of(&["dynamic", "static"]);
        let mixins = vec![
            mixin(
                IPNETWORK_SCHEME,
                "ipnetwork",
                "IP Networking Mixin",
                "/ipnetwork/",
                &[],
                &[NETWORK],
                vec![
                    AttributeDef::new(attr::NETWORK_ADDRESS, AttributeType::Cidr)
                        .describe("Internet Protocol (IP) network address (CIDR)"),
                    AttributeDef::new(attr::NETWORK_GATEWAY, AttributeType::IpAddress)
                        .describe("Internet Protocol (IP) network address of the gateway"),
                    AttributeDef::new(attr::NETWORK_ALLOCATION, allocation())
                        .describe("Address allocation mechanism"),
                ],
            ),
            mixin(
                IPNETWORKINTERFACE_SCHEME,
                "ipnetworkinterface",
                "IP Network Interface Mixin",
                "/ipnetworkinterface/",
                &[],
                &[NETWORKINTERFACE],
                vec![
                    AttributeDef::new(attr::NI_ADDRESS, AttributeType::IpAddress)
                        .describe("Internet Protocol (IP) address of the interface"),
                    AttributeDef::new(attr::NI_GATEWAY, AttributeType::IpAddress)
                        .describe("Internet Protocol (IP) address of the gateway"),
                    AttributeDef::new(attr::NI_ALLOCATION, allocation())
                        .describe("Address allocation mechanism"),
                ],
            ),
            mixin(
                INFRA_SCHEME,
                "os_tpl",
                "OS Template",
                "/os_tpl/",
                &[],
                &[COMPUTE],
                vec![],
            ),
            mixin(
                INFRA_SCHEME,
                "resource_tpl",
                "Resource Template",
                "/resource_tpl/",
                &[],
                &[COMPUTE],
                vec![],
            ),
            mixin(
                SYNNEFO_INFRA_SCHEME,
                "storage_tpl",
                "Storage Template",
                "/storage_tpl/",
                &[],
                &[STORAGE],
                vec![],
            ),
            mixin(
                CREDENTIALS_SCHEME,
                "ssh_key",
                "Credentials Mixin",
                "/ssh_key/",
                &[],
                &[COMPUTE],
                vec![
                    string(attr::SSH_PUBLICKEY)
                        .required()
                        .describe("The SSH public key installed into the instance"),
                ],
            ),
            mixin(
                COMPUTE_MIXIN_SCHEME,
                "user_data",
                "Contextualization Mixin",
                "/user_data/",
                &[],
                &[COMPUTE],
                vec![
                    string(attr::USERDATA)
                        .required()
                        .describe("Base64-encoded contextualization data, supplied once"),
                ],
            ),
            mixin(
                OPENSTACK_CREDENTIALS_SCHEME,
                "public_key",
                "Contextualization extension - public_key",
                "/openstack/public_key/",
                &[],
                &[COMPUTE],
                vec![
                    string(attr::OS_PUBLICKEY_NAME).describe("The name of the key pair"),
                    string(attr::OS_PUBLICKEY_DATA)
                        .required()
                        .describe("The SSH public key installed into the instance"),
                ],
            ),
            mixin(
                OPENSTACK_INSTANCE_SCHEME,
                "user_data",
                "Contextualization extension - user_data",
                "/openstack/user_data/",
                &[],
                &[COMPUTE],
                vec![
                    string(attr::OS_USER_DATA)
                        .required()
                        .describe("Base64-encoded contextualization data, supplied once"),
                ],
            ),
        ];
        let actions = vec![
            action(
                COMPUTE_ACTION_SCHEME,
                "start",
                "Start the compute instance",
                vec![],
            ),
            action(
                COMPUTE_ACTION_SCHEME,
                "stop",
                "Stop the compute instance",
                vec![method(&["graceful", "acpioff", "poweroff"])],
            ),
            action(
                COMPUTE_ACTION_SCHEME,
                "restart",
                "Restart the compute instance",
                vec![method(&["graceful", "warm", "cold"])],
            ),
            action(
                COMPUTE_ACTION_SCHEME,
                "suspend",
                "Suspend the compute instance",
                vec![method(&["hibernate", "suspend"])],
            ),
            action(
                COMPUTE_ACTION_SCHEME,
                "save",
                "Save the compute instance as a new OS template",
                vec![
                    method(&["hot", "deferred"]),
                    string(attr::NAME).describe("The name of the new OS template"),
                ],
            ),
            action(
                STORAGE_ACTION_SCHEME,
                "online",
                "Bring the storage online",
                vec![],
            ),
            action(
                STORAGE_ACTION_SCHEME,
                "offline",
                "Take the storage offline",
                vec![],
            ),
            action(NETWORK_ACTION_SCHEME, "up", "Bring the network up", vec![]),
            action(
                NETWORK_ACTION_SCHEME,
                "down",
                "Take the network down",
                vec![],
            ),
        ];
        Catalogue {
            kinds,
            mixins,
            actions,
        }
    }

    /// The kind with this type id.
    pub fn kind(&self, type_id: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.category.is(type_id))
    }

    /// The provider mixin with this type id.
    pub fn mixin(&self, type_id: &str) -> Option<&Mixin> {
        self.mixins.iter().find(|m| m.category.is(type_id))
    }

    /// The action with this type id.
    pub fn action(&self, type_id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.category.is(type_id))
    }

    /// The kind bound to this location (`/compute/`).
    pub fn kind_at(&self, location: &str) -> Option<&Kind> {
        self.kinds
            .iter()
            .find(|k| k.location.as_deref() == Some(location))
    }

    /// The kind and its ancestors, the kind first.
    pub fn lineage<'a>(&'a self, kind: &'a Kind) -> impl Iterator<Item = &'a Kind> + 'a {
        let mut next = Some(kind);
        // The chain is at most entity <- resource <- network <- ipreservation;
        // the depth guard keeps a malformed parent cycle from looping.
        let mut depth = 0;
        std::iter::from_fn(move || {
            let k = next?;
            depth += 1;
            next = if depth > 8 {
                None
            } else {
                k.parent.as_deref().and_then(|p| self.kind(p))
            };
            Some(k)
        })
    }

    /// Every attribute definition that applies to an instance of `kind`
    /// (inherited ones included), plus those of `mixins`.
    pub fn attribute_defs<'a>(
        &'a self,
        kind: &'a Kind,
        mixins: &[&'a Mixin],
    ) -> Vec<&'a AttributeDef> {
        let mut defs: Vec<&AttributeDef> = self
            .lineage(kind)
            .flat_map(|k| k.attributes.iter())
            .collect();
        defs.extend(mixins.iter().flat_map(|m| m.attributes.iter()));
        defs
    }

    /// The whole static catalogue as a [`CategorySet`] for the query
    /// interface; the app appends its templates and user mixins.
    pub fn category_set(&self) -> CategorySet<'_> {
        CategorySet {
            kinds: self.kinds.iter().collect(),
            mixins: self.mixins.iter().collect(),
            actions: self.actions.iter().collect(),
        }
    }
}

/// A resource template for one flavor (term: see `app::terms`), attributes
/// `occi.compute.cores`, `occi.compute.memory` (GiB) and the disk size
/// (GiB) with the flavor's values as defaults.
///
/// ```
/// use snf_occi::occi::infrastructure::{resource_template, RESOURCE_TPL};
/// let m = resource_template("3", "C2R2048D20", 2, 2.0, 20.0);
/// assert_eq!(m.location.as_deref(), Some("/resource_tpl/3/"));
/// assert!(m.depends_on(RESOURCE_TPL));
/// ```
pub fn resource_template(
    term: &str,
    title: &str,
    cores: i64,
    memory_gib: f64,
    disk_gib: f64,
) -> Mixin {
    let mut m = mixin(
        RESOURCE_TPL_SCHEME,
        term,
        title,
        &format!("/resource_tpl/{term}/"),
        &[RESOURCE_TPL],
        &[COMPUTE],
        vec![
            AttributeDef::new(
                attr::COMPUTE_CORES,
                AttributeType::Integer {
                    min: Some(1),
                    max: None,
                },
            )
            .immutable()
            .default_value(cores)
            .describe("Number of virtual CPU cores of this template"),
            AttributeDef::new(
                attr::COMPUTE_MEMORY,
                AttributeType::Float { min: Some(0.0) },
            )
            .immutable()
            .default_value(memory_gib)
            .describe("RAM of this template in gigabytes (GiB)"),
            AttributeDef::new(attr::TPL_DISK, AttributeType::Float { min: Some(0.0) })
                .immutable()
                .default_value(disk_gib)
                .describe("Root disk size of this template in gigabytes (GiB)"),
        ],
    );
    m.category.title = Some(title.to_owned());
    m
}

/// An OS template for one image (term: see `app::terms`), title = its name.
///
/// ```
/// use snf_occi::occi::infrastructure::{os_template, OS_TPL};
/// let m = os_template("img-1", "Debian");
/// assert!(m.depends_on(OS_TPL));
/// ```
pub fn os_template(term: &str, title: &str) -> Mixin {
    mixin(
        OS_TPL_SCHEME,
        term,
        title,
        &format!("/os_tpl/{term}/"),
        &[OS_TPL],
        &[COMPUTE],
        vec![],
    )
}

/// A storage template for one volume type (its title has no `;`: pOCCI
/// splits Category values at every `;`, quoted or not): its volumes attach to the
/// computes whose resource templates have disks of `template` (the
/// volume type's disk template); a non-detachable type's volumes exist
/// only as a compute's own disks, so no storage is created with it.
///
/// ```
/// use snf_occi::occi::infrastructure::{storage_template, STORAGE_TPL};
/// let m = storage_template("ext_archipelago", "ext_archipelago", true);
/// assert_eq!(m.location.as_deref(), Some("/storage_tpl/ext_archipelago/"));
/// assert!(m.depends_on(STORAGE_TPL));
/// ```
pub fn storage_template(term: &str, template: &str, detachable: bool) -> Mixin {
    let title = if detachable {
        format!(
            "Volume type {template}: links to computes whose resource templates have {template} disks"
        )
    } else {
        format!(
            "Volume type {template}: not detachable, only the disks of computes of {template} resource templates, never new storage"
        )
    };
    mixin(
        STORAGE_TPL_SCHEME,
        term,
        &title,
        &format!("/storage_tpl/{term}/"),
        &[STORAGE_TPL],
        &[STORAGE],
        vec![],
    )
}

/// A user-defined mixin (a tag), as added through the query interface.
pub fn user_mixin(
    scheme: &str,
    term: &str,
    title: Option<&str>,
    location: &str,
    depends: Vec<String>,
) -> Mixin {
    Mixin {
        category: Category {
            scheme: scheme.to_owned(),
            term: term.to_owned(),
            title: title.map(str::to_owned),
        },
        depends,
        applies: Vec::new(),
        attributes: Vec::new(),
        actions: Vec::new(),
        location: Some(location.to_owned()),
    }
}
