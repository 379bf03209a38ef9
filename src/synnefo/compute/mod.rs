//! Cyclades compute v2.0: servers, their actions, metadata and volume
//! attachments; flavors ([`flavors`]) and images ([`images`]).

use std::collections::BTreeMap;
use std::fmt;

use http::Method;
use serde::{Deserialize, Serialize};

use super::serde_util::{id, ids, null_default};
use super::{Caller, Client, Result, Service};

pub mod flavors;
pub mod images;

/// An `{id, name}` entry of a non-detailed listing.
///
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `vm_to_dict(detail=False)`
/// (and `api/flavors.py` `flavor_to_dict`, `api/images.py` `image_to_dict`,
/// `volume/views.py` `volume_to_dict` without detail).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// The id (integer ids become strings).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// The name.
    #[serde(default)]
    pub name: String,
}

/// A server's id and state, from a detailed listing
/// ([`Client::list_server_states`]).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ServerState {
    /// The id (integer ids become strings).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// The status (`ACTIVE`, `BUILD`, ...).
    #[serde(default)]
    pub status: String,
    /// The task under way (`DESTROYING` while a delete job runs).
    #[serde(rename = "SNF:task_state", default)]
    pub task_state: Option<String>,
}

/// A detailed server listing read for states ([`ServerState`]), with
/// when Cyclades answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStates {
    /// The servers, in Cyclades' order (by id).
    pub servers: Vec<ServerState>,
    /// Cyclades' clock when it answered (its `Date`, to the second): a
    /// later [`Client::list_server_changes`] asks for the changes since
    /// a little before it.
    pub as_of: Option<std::time::SystemTime>,
}

impl ServerState {
    /// Whether the server is deleted or being deleted.
    pub fn is_gone(&self) -> bool {
        self.status.eq_ignore_ascii_case("DELETED")
            || self
                .task_state
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("DESTROYING"))
    }
}

/// A server's status as Synnefo reports it.
///
/// grnet/synnefo 0.20: `synnefo/logic/utils.py` `get_rsapi_state`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ServerStatus {
    /// Being created.
    Build,
    /// Running.
    Active,
    /// Shut down.
    Stopped,
    /// Rebooting.
    Reboot,
    /// Failed.
    Error,
    /// Deleted (still visible for a while).
    Deleted,
    /// Synnefo does not know.
    Unknown,
    /// A status this client does not know, kept verbatim.
    Other(String),
}

impl ServerStatus {
    /// Parses Synnefo's upper-case status.
    pub fn parse(s: &str) -> ServerStatus {
        match s {
            "BUILD" => ServerStatus::Build,
            "ACTIVE" => ServerStatus::Active,
            "STOPPED" => ServerStatus::Stopped,
            "REBOOT" => ServerStatus::Reboot,
            "ERROR" => ServerStatus::Error,
            "DELETED" => ServerStatus::Deleted,
            "UNKNOWN" => ServerStatus::Unknown,
            other => ServerStatus::Other(other.to_owned()),
        }
    }

    /// The status as Synnefo spells it.
    pub fn as_str(&self) -> &str {
        match self {
            ServerStatus::Build => "BUILD",
            ServerStatus::Active => "ACTIVE",
            ServerStatus::Stopped => "STOPPED",
            ServerStatus::Reboot => "REBOOT",
            ServerStatus::Error => "ERROR",
            ServerStatus::Deleted => "DELETED",
            ServerStatus::Unknown => "UNKNOWN",
            ServerStatus::Other(s) => s,
        }
    }
}

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ServerStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d).map(|s| ServerStatus::parse(&s))
    }
}

/// A reference to a flavor or image inside a server.
///
/// grnet/synnefo 0.20: the `flavor` and `image` of `synnefo/api/servers.py`
/// `vm_to_dict`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct IdRef {
    /// The referenced id.
    #[serde(deserialize_with = "id")]
    pub id: String,
}

/// One address of a server on one network.
///
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `attachments_to_addresses`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ServerAddress {
    /// 4 or 6.
    #[serde(default)]
    pub version: u8,
    /// The IP address.
    pub addr: String,
    /// `fixed` or `floating`.
    #[serde(rename = "OS-EXT-IPS:type", default)]
    pub ip_type: Option<String>,
    /// The MAC address, when Synnefo sends it.
    #[serde(rename = "OS-EXT-IPS-MAC:mac_addr", default)]
    pub mac_addr: Option<String>,
}

/// One NIC (port) of a server, as listed in its `attachments`.
///
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `nic_to_attachments`
/// (ACTIVE NICs only).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ServerAttachment {
    /// The port id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// The network it connects to.
    #[serde(deserialize_with = "id")]
    pub network_id: String,
    /// Its MAC address.
    #[serde(default)]
    pub mac_address: Option<String>,
    /// Its IPv4 address (`""` if none).
    #[serde(default, deserialize_with = "null_default")]
    pub ipv4: String,
    /// Its IPv6 address (`""` if none).
    #[serde(default, deserialize_with = "null_default")]
    pub ipv6: String,
    /// `fixed` or `floating`.
    #[serde(rename = "OS-EXT-IPS:type", default)]
    pub ip_type: Option<String>,
    /// `ENABLED`, `DISABLED` or `PROTECTED`.
    #[serde(rename = "firewallProfile", default)]
    pub firewall_profile: Option<String>,
}

/// A server in detail.
///
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `vm_to_dict(detail=True)`
/// (`create_server` adds `adminPass`).
#[derive(Clone, Debug, Deserialize)]
pub struct Server {
    /// Its id (Synnefo uses integers; kept as text).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its status.
    pub status: ServerStatus,
    /// The flavor it runs with.
    pub flavor: Option<IdRef>,
    /// The image it was built from.
    pub image: Option<IdRef>,
    /// Owner UUID.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Project (Synnefo sends it as `tenant_id`).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Addresses by network id.
    #[serde(default, deserialize_with = "null_default")]
    pub addresses: BTreeMap<String, Vec<ServerAddress>>,
    /// NICs.
    #[serde(default, deserialize_with = "null_default")]
    pub attachments: Vec<ServerAttachment>,
    /// The ids of the attached volumes (Cyclades' `volumes`; the
    /// attachment details add nothing but an always-empty `device`),
    /// sorted by id (`api/servers.py` `vm_to_dict`), not by disk index:
    /// the root disk comes first only when no older volume was attached
    /// at create. The volume details' `device_index` 0 marks the root.
    #[serde(default, deserialize_with = "ids")]
    pub volumes: Vec<String>,
    /// User metadata.
    #[serde(default, deserialize_with = "null_default")]
    pub metadata: BTreeMap<String, String>,
    /// Build progress in percent.
    #[serde(default)]
    pub progress: Option<u32>,
    /// Creation time (RFC 3339).
    #[serde(default)]
    pub created: Option<String>,
    /// Last update (RFC 3339).
    #[serde(default)]
    pub updated: Option<String>,
    /// The pending action (`BUILDING`, `STOPPING`, ...), `""` if none.
    #[serde(rename = "SNF:task_state", default)]
    pub task_state: Option<String>,
    /// The fully qualified domain name.
    #[serde(rename = "SNF:fqdn", default)]
    pub fqdn: Option<String>,
    /// The key pair name given at creation.
    #[serde(default)]
    pub key_name: Option<String>,
    /// The root password: only in the answer to a create.
    #[serde(rename = "adminPass", default)]
    pub admin_pass: Option<String>,
}

/// A file to inject into a new server.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Personality {
    /// Path on the server.
    pub path: String,
    /// Base64 contents (at most 10240 bytes decoded).
    pub contents: String,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub owner: Option<String>,
    /// Group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub group: Option<String>,
    /// Mode, as a number (e.g. 384 for 0600).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mode: Option<u32>,
}

/// A network to connect a new server to: one entry of a server create's
/// `networks` (grnet/synnefo `snf-cyclades-app/synnefo/logic/servers.py`
/// `_port_for_request`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NetworkRef {
    /// The network id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// A specific address: on a public network the address of one of the
    /// caller's floating IPs of that network, which the new server's port
    /// takes (see [`NetworkRef::floating_ip`]); on a private network an
    /// address of its subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_ip: Option<String>,
    /// An existing port instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
}

impl NetworkRef {
    /// Connect to this network.
    pub fn network(id: impl Into<String>) -> Self {
        NetworkRef {
            uuid: Some(id.into()),
            fixed_ip: None,
            port: None,
        }
    }

    /// Connect through a floating IP the caller has reserved: its
    /// network (`floating_network_id`) and its address, the way kamaki's
    /// `server create --network NET,IP` (`kamaki/cli/cmds/cyclades.py`
    /// `NetworkArgument`) and `snf-manage server-create --port
    /// floatingip:<id>` (which sends `{"uuid": fip.network_id,
    /// "fixed_ip": fip.address}`) do. Cyclades attaches it in the
    /// server's own create; it answers 404 "Floating IP does not exist."
    /// for an address that is not one of the caller's floating IPs, 409
    /// when it is in use or on another network.
    ///
    /// ```
    /// use snf_occi::synnefo::NetworkRef;
    /// let r = NetworkRef::floating_ip("1", "83.212.0.5");
    /// assert_eq!(
    ///     serde_json::to_value(&r).unwrap(),
    ///     serde_json::json!({"uuid": "1", "fixed_ip": "83.212.0.5"})
    /// );
    /// ```
    pub fn floating_ip(network: impl Into<String>, address: impl Into<String>) -> Self {
        NetworkRef {
            uuid: Some(network.into()),
            fixed_ip: Some(address.into()),
            port: None,
        }
    }
}

/// One disk of a new server (`block_device_mapping_v2`). Cyclades reads
/// the first entry as the root disk and creates, checks and attaches all
/// of them in the same transaction as the server.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BlockDevice {
    /// `image` (a new disk filled from an image) or `volume` (an
    /// existing, available volume).
    pub source_type: &'static str,
    /// The image or volume id.
    pub uuid: String,
    /// Index in the boot order (0 for the root disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_index: Option<u32>,
    /// Size in GiB of a new disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_size: Option<u64>,
    /// Whether the disk goes away with the server.
    pub delete_on_termination: bool,
}

impl BlockDevice {
    /// The root disk, filled from `image`, of the flavor's size.
    pub fn root(image: impl Into<String>, size_gib: u64) -> Self {
        BlockDevice {
            source_type: "image",
            uuid: image.into(),
            boot_index: Some(0),
            volume_size: Some(size_gib),
            delete_on_termination: true,
        }
    }

    /// An existing volume, kept when the server is deleted.
    pub fn volume(id: impl Into<String>) -> Self {
        BlockDevice {
            source_type: "volume",
            uuid: id.into(),
            boot_index: None,
            volume_size: None,
            delete_on_termination: false,
        }
    }
}

/// What to create a server with.
#[derive(Clone, Debug, Serialize, Default)]
pub struct NewServer {
    /// Name.
    pub name: String,
    /// Flavor id.
    #[serde(rename = "flavorRef")]
    pub flavor_ref: String,
    /// Image id.
    #[serde(rename = "imageRef")]
    pub image_ref: String,
    /// Project to charge (default: the user's system project).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Files to inject.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub personality: Vec<Personality>,
    /// Networks; `None` lets Synnefo apply its default policy, `Some(vec![])`
    /// asks for no network at all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<NetworkRef>>,
    /// Metadata.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// A key pair name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    /// The disks, root first; `None` lets Cyclades make the root disk from
    /// `imageRef` and the flavor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_device_mapping_v2: Option<Vec<BlockDevice>>,
}

/// SOFT or HARD reboot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RebootType {
    /// Ask the OS.
    Soft,
    /// Power cycle.
    Hard,
}

/// A server action (`POST /servers/{id}/action`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerAction {
    /// `{"start": {}}`: STOPPED -> ACTIVE.
    Start,
    /// `{"shutdown": {}}`: ACTIVE -> STOPPED.
    Shutdown,
    /// `{"reboot": {"type": ...}}`: -> REBOOT -> ACTIVE.
    Reboot(RebootType),
    /// `{"resize": {"flavorRef": ...}}` (the server must be STOPPED).
    Resize {
        /// The new flavor.
        flavor_ref: String,
    },
}

impl ServerAction {
    fn body(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            ServerAction::Start => json!({"start": {}}),
            ServerAction::Shutdown => json!({"shutdown": {}}),
            ServerAction::Reboot(t) => json!({"reboot": {"type": t}}),
            ServerAction::Resize { flavor_ref } => json!({"resize": {"flavorRef": flavor_ref}}),
        }
    }
}

/// A volume attached to a server (`os-volume_attachments`).
///
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `volume_to_attachment`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct VolumeAttachment {
    /// The attachment id (Synnefo: the volume id).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// The volume.
    #[serde(rename = "volumeId", deserialize_with = "id")]
    pub volume_id: String,
    /// The server.
    #[serde(rename = "serverId", deserialize_with = "id")]
    pub server_id: String,
    /// The device name (Synnefo sends `""`).
    #[serde(default, deserialize_with = "null_default")]
    pub device: String,
}

/// grnet/synnefo 0.20: `synnefo/api/servers.py` `list_servers`.
#[derive(Deserialize)]
struct Servers<T> {
    servers: Vec<T>,
}
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `render_server`
/// (`get_server_details`, `create_server`).
#[derive(Deserialize)]
struct OneServer {
    server: Server,
}
/// grnet/synnefo 0.20: `synnefo/api/util.py` `render_metadata`
/// (`list_metadata`, `update_metadata`).
#[derive(Deserialize)]
struct Metadata {
    #[serde(default, deserialize_with = "null_default")]
    metadata: BTreeMap<String, String>,
}
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `get_volumes`.
#[derive(Deserialize)]
struct Attachments {
    #[serde(
        rename = "volumeAttachments",
        default,
        deserialize_with = "null_default"
    )]
    volume_attachments: Vec<VolumeAttachment>,
}
/// grnet/synnefo 0.20: `synnefo/api/servers.py` `attach_volume` and
/// `get_volume_info`.
#[derive(Deserialize)]
struct OneAttachment {
    #[serde(rename = "volumeAttachment")]
    volume_attachment: VolumeAttachment,
}

/// Percent-encodes one path segment (ids come from users).
/// `.` stays encoded so that an id of `..` cannot climb the path.
pub(crate) fn seg(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

impl Client {
    /// `GET /servers`: ids and names of the caller's servers.
    pub async fn list_servers(&self, caller: &Caller) -> Result<Vec<Summary>> {
        let r: Servers<Summary> = self
            .get_json(Service::Compute, "/servers", &[], caller)
            .await?;
        Ok(r.servers)
    }

    /// `GET /servers/detail`, read for each server's id and whether it is
    /// still there: Cyclades lists a server whose delete job runs until
    /// the job ends (`SNF:task_state` `DESTROYING`), and only the detailed
    /// listing says so (`api/servers.py` `vm_to_dict`). The other fields
    /// are skipped unread.
    pub async fn list_server_states(&self, caller: &Caller) -> Result<ServerStates> {
        self.server_states(caller, &[]).await
    }

    /// `GET /servers/detail?changes-since=<since>`: the states of the
    /// servers changed at or after `since`, by Cyclades' clock, deleted
    /// ones included (`snf_django/lib/api/utils.py`
    /// `filter_modified_since`: every server whose `updated` is not
    /// before it, deleted or not); `None` when none did (its 304). Cyclades
    /// refuses (400) a `since` in its future or more than `POLL_LIMIT`
    /// (an hour by default) in its past.
    pub async fn list_server_changes(
        &self,
        caller: &Caller,
        since: std::time::SystemTime,
    ) -> Result<Option<ServerStates>> {
        let since = snf_occi_types::timestamp::format_rfc3339(since);
        match self
            .server_states(caller, &[("changes-since", since.as_str())])
            .await
        {
            Ok(states) => Ok(Some(states)),
            Err(e) if e.status() == Some(http::StatusCode::NOT_MODIFIED) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn server_states(&self, caller: &Caller, query: &[(&str, &str)]) -> Result<ServerStates> {
        let answer = self
            .call(
                Service::Compute,
                Method::GET,
                "/servers/detail",
                query,
                Some(caller),
                super::client::Payload::None,
            )
            .await?;
        let r: Servers<ServerState> = super::client::decode(Service::Compute, &answer)?;
        Ok(ServerStates {
            servers: r.servers,
            as_of: answer.date(),
        })
    }

    /// `GET /servers/detail`.
    pub async fn list_servers_detail(&self, caller: &Caller) -> Result<Vec<Server>> {
        let r: Servers<Server> = self
            .get_json(Service::Compute, "/servers/detail", &[], caller)
            .await?;
        Ok(r.servers)
    }

    /// `GET /servers/{id}`.
    pub async fn get_server(&self, caller: &Caller, server_id: &str) -> Result<Server> {
        let answer = self.get_server_answer(caller, server_id).await?;
        Self::decode_server(&answer)
    }

    /// `GET /servers/{id}` as Cyclades answered it, not decoded yet: a
    /// caller that rendered this very answer before can tell it is
    /// unchanged without decoding it ([`Client::decode_server`] decodes).
    pub async fn get_server_answer(
        &self,
        caller: &Caller,
        server_id: &str,
    ) -> Result<super::transport::Answer> {
        let path = format!("/servers/{}", seg(server_id));
        self.call(
            Service::Compute,
            Method::GET,
            &path,
            &[],
            Some(caller),
            super::client::Payload::None,
        )
        .await
    }

    /// The server of a [`Client::get_server_answer`].
    pub fn decode_server(answer: &[u8]) -> Result<Server> {
        let r: OneServer = super::client::decode(Service::Compute, answer)?;
        Ok(r.server)
    }

    /// `POST /servers` (202): the new server, in BUILD, with `adminPass`.
    pub async fn create_server(&self, caller: &Caller, server: &NewServer) -> Result<Server> {
        let body = serde_json::json!({ "server": server });
        let r: OneServer = self
            .send_json(Service::Compute, Method::POST, "/servers", caller, &body)
            .await?;
        Ok(r.server)
    }

    /// `DELETE /servers/{id}` (204).
    pub async fn delete_server(&self, caller: &Caller, server_id: &str) -> Result<()> {
        let path = format!("/servers/{}", seg(server_id));
        self.send_empty::<()>(Service::Compute, Method::DELETE, &path, caller, None)
            .await
    }

    /// `PUT /servers/{id}` with a new name (204).
    pub async fn rename_server(&self, caller: &Caller, server_id: &str, name: &str) -> Result<()> {
        let path = format!("/servers/{}", seg(server_id));
        let body = serde_json::json!({"server": {"name": name}});
        self.send_empty(Service::Compute, Method::PUT, &path, caller, Some(&body))
            .await
    }

    /// `POST /servers/{id}/action` (202).
    pub async fn server_action(
        &self,
        caller: &Caller,
        server_id: &str,
        action: &ServerAction,
    ) -> Result<()> {
        let path = format!("/servers/{}/action", seg(server_id));
        self.send_empty(
            Service::Compute,
            Method::POST,
            &path,
            caller,
            Some(&action.body()),
        )
        .await
    }

    /// `GET /servers/{id}/metadata`.
    pub async fn get_server_metadata(
        &self,
        caller: &Caller,
        server_id: &str,
    ) -> Result<BTreeMap<String, String>> {
        let path = format!("/servers/{}/metadata", seg(server_id));
        let r: Metadata = self.get_json(Service::Compute, &path, &[], caller).await?;
        Ok(r.metadata)
    }

    /// `POST /servers/{id}/metadata` (201): sets or updates the given
    /// keys, leaves the others; answers the whole metadata.
    pub async fn set_server_metadata(
        &self,
        caller: &Caller,
        server_id: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let path = format!("/servers/{}/metadata", seg(server_id));
        let body = serde_json::json!({ "metadata": metadata });
        let r: Metadata = self
            .send_json(Service::Compute, Method::POST, &path, caller, &body)
            .await?;
        Ok(r.metadata)
    }

    /// `DELETE /servers/{id}/metadata/{key}` (204).
    pub async fn delete_server_metadata(
        &self,
        caller: &Caller,
        server_id: &str,
        key: &str,
    ) -> Result<()> {
        let path = format!("/servers/{}/metadata/{}", seg(server_id), seg(key));
        self.send_empty::<()>(Service::Compute, Method::DELETE, &path, caller, None)
            .await
    }

    /// `GET /servers/{id}/os-volume_attachments`.
    pub async fn list_volume_attachments(
        &self,
        caller: &Caller,
        server_id: &str,
    ) -> Result<Vec<VolumeAttachment>> {
        let path = format!("/servers/{}/os-volume_attachments", seg(server_id));
        let r: Attachments = self.get_json(Service::Compute, &path, &[], caller).await?;
        Ok(r.volume_attachments)
    }

    /// `POST /servers/{id}/os-volume_attachments` (202).
    pub async fn attach_volume(
        &self,
        caller: &Caller,
        server_id: &str,
        volume_id: &str,
    ) -> Result<VolumeAttachment> {
        let path = format!("/servers/{}/os-volume_attachments", seg(server_id));
        let body = serde_json::json!({"volumeAttachment": {"volumeId": volume_id}});
        let r: OneAttachment = self
            .send_json(Service::Compute, Method::POST, &path, caller, &body)
            .await
            .map_err(|e| e.referenced_not_found("Volume"))?;
        Ok(r.volume_attachment)
    }

    /// `DELETE /servers/{id}/os-volume_attachments/{attachment}` (202).
    pub async fn detach_volume(
        &self,
        caller: &Caller,
        server_id: &str,
        attachment_id: &str,
    ) -> Result<()> {
        let path = format!(
            "/servers/{}/os-volume_attachments/{}",
            seg(server_id),
            seg(attachment_id)
        );
        self.send_empty::<()>(Service::Compute, Method::DELETE, &path, caller, None)
            .await
    }
}
