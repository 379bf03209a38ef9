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

mod catalogue;
mod templates;

pub mod attr;

pub use catalogue::{Catalogue, catalogue};
pub use templates::{os_template, resource_template, storage_template, user_mixin};

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
