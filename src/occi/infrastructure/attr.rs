//! Attribute names the app reads and writes.

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
