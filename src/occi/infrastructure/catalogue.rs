//! The static catalogue: every kind, provider mixin and action of OCCI
//! 1.2 Core and Infrastructure, and those snf-occi adds, built once.

use std::sync::LazyLock;

// The schemes and type ids.
use super::*;
use crate::occi::attribute::{AttributeDef, AttributeType};
use crate::occi::category::{Action, Category, CategorySet, Kind, Mixin};

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

pub(super) fn mixin(
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
