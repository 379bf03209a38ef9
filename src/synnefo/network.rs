//! Cyclades network v2.0: networks, subnets, ports and floating IPs.

use http::Method;
use serde::{Deserialize, Serialize};

use super::compute::seg;
use super::serde_util::{id, ids, null_default, opt_id};
use super::{Caller, Client, Result, Service};

/// A network.
///
/// grnet/synnefo 0.20: `synnefo/api/networks.py` `network_to_dict`.
#[derive(Clone, Debug, Deserialize)]
pub struct Network {
    /// Id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// `ACTIVE`, `BUILD`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// Whether it is a public network (shared by everybody).
    #[serde(default)]
    pub public: bool,
    /// Whether floating IPs are allocated from it.
    #[serde(rename = "SNF:floating_ip_pool", default)]
    pub floating_ip_pool: bool,
    /// `MAC_FILTERED`, `IP_LESS_ROUTED`, ...
    #[serde(rename = "type", default)]
    pub network_type: Option<String>,
    /// Subnet ids.
    #[serde(default, deserialize_with = "ids")]
    pub subnets: Vec<String>,
    /// Owner UUID (`null` for public networks).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Project (`tenant_id`).
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// A subnet.
///
/// grnet/synnefo 0.20: `synnefo/api/subnets.py` `subnet_to_dict`.
#[derive(Clone, Debug, Deserialize)]
pub struct Subnet {
    /// Id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Its network.
    #[serde(deserialize_with = "id")]
    pub network_id: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// CIDR, e.g. `192.168.0.0/24`.
    pub cidr: String,
    /// Gateway, if any.
    #[serde(default)]
    pub gateway_ip: Option<String>,
    /// 4 or 6.
    #[serde(default)]
    pub ip_version: u8,
    /// Whether DHCP is on.
    #[serde(default)]
    pub enable_dhcp: bool,
}

/// One address of a port.
///
/// grnet/synnefo 0.20: the `fixed_ips` of `synnefo/api/ports.py`
/// `port_to_dict`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct FixedIp {
    /// The address.
    pub ip_address: String,
    /// Its subnet.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_id"
    )]
    pub subnet: Option<String>,
}

/// A port: a server's connection to a network.
///
/// grnet/synnefo 0.20: `synnefo/api/ports.py` `port_to_dict`.
#[derive(Clone, Debug, Deserialize)]
pub struct Port {
    /// Id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Its network.
    #[serde(deserialize_with = "id")]
    pub network_id: String,
    /// The server it belongs to.
    #[serde(default, deserialize_with = "opt_id")]
    pub device_id: Option<String>,
    /// MAC address.
    #[serde(default)]
    pub mac_address: Option<String>,
    /// Addresses.
    #[serde(default, deserialize_with = "null_default")]
    pub fixed_ips: Vec<FixedIp>,
    /// `ACTIVE`, `BUILD`, `DOWN`.
    #[serde(default)]
    pub status: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
}

/// A floating (public) IP.
///
/// grnet/synnefo 0.20: `synnefo/api/floating_ips.py` `ip_to_dict` (whose
/// `fixed_ip_address` is always null).
#[derive(Clone, Debug, Deserialize)]
pub struct FloatingIp {
    /// Id.
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// The address.
    pub floating_ip_address: String,
    /// The public network it belongs to.
    #[serde(default, deserialize_with = "opt_id")]
    pub floating_network_id: Option<String>,
    /// The server address it maps to, if attached.
    #[serde(default)]
    pub fixed_ip_address: Option<String>,
    /// The port holding it, if attached.
    #[serde(default, deserialize_with = "opt_id")]
    pub port_id: Option<String>,
    /// The server holding it, if attached.
    #[serde(default, deserialize_with = "opt_id")]
    pub instance_id: Option<String>,
    /// Project (`tenant_id`).
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// What to create a network with.
#[derive(Clone, Debug, Serialize)]
pub struct NewNetwork {
    /// `MAC_FILTERED` (the usual private type), `IP_LESS_ROUTED`, ...
    #[serde(rename = "type")]
    pub network_type: String,
    /// Name.
    pub name: String,
    /// Project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Shared with other users (the original always sent `false`).
    pub shared: bool,
    /// Administratively up (the original always sent `true`).
    pub admin_state_up: bool,
}

/// What to create a subnet with.
#[derive(Clone, Debug, Serialize)]
pub struct NewSubnet {
    /// The network.
    pub network_id: String,
    /// CIDR.
    pub cidr: String,
    /// 4 or 6.
    pub ip_version: u8,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Gateway; `None` sends `null` (no gateway).
    pub gateway_ip: Option<String>,
    /// DHCP.
    pub enable_dhcp: bool,
}

/// What to create a port with.
#[derive(Clone, Debug, Serialize)]
pub struct NewPort {
    /// The network.
    pub network_id: String,
    /// The server.
    pub device_id: String,
    /// Requested addresses (a floating IP for a public network).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed_ips: Vec<FixedIpRequest>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A requested address of a new port.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct FixedIpRequest {
    /// The address.
    pub ip_address: String,
}

/// What to create a floating IP with.
#[derive(Clone, Debug, Serialize, Default)]
pub struct NewFloatingIp {
    /// The public network (`None`: Synnefo picks a pool).
    pub floating_network_id: Option<String>,
    /// A specific address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floating_ip_address: Option<String>,
    /// Project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

/// grnet/synnefo 0.20: `synnefo/api/networks.py` `list_networks`.
#[derive(Deserialize)]
struct Networks {
    networks: Vec<Network>,
}
/// grnet/synnefo 0.20: `synnefo/api/networks.py` `render_network`.
#[derive(Deserialize)]
struct OneNetwork {
    network: Network,
}
/// grnet/synnefo 0.20: `synnefo/api/subnets.py` `list_subnets`.
#[derive(Deserialize)]
struct Subnets {
    subnets: Vec<Subnet>,
}
/// grnet/synnefo 0.20: `synnefo/api/subnets.py` `create_subnet` and
/// `get_subnet`.
#[derive(Deserialize)]
struct OneSubnet {
    subnet: Subnet,
}
/// grnet/synnefo 0.20: `synnefo/api/ports.py` `list_ports` (every port of
/// the caller: it ignores `device_id`).
#[derive(Deserialize)]
struct Ports {
    ports: Vec<Port>,
}
/// grnet/synnefo 0.20: `synnefo/api/ports.py` `render_port`.
#[derive(Deserialize)]
struct OnePort {
    port: Port,
}
/// grnet/synnefo 0.20: `synnefo/api/floating_ips.py` `_floatingip_list_view`.
#[derive(Deserialize)]
struct FloatingIps {
    floatingips: Vec<FloatingIp>,
}
/// grnet/synnefo 0.20: `synnefo/api/floating_ips.py`
/// `_floatingip_details_view`.
#[derive(Deserialize)]
struct OneFloatingIp {
    floatingip: FloatingIp,
}

impl Client {
    /// `GET /networks`: public networks and the caller's own.
    pub async fn list_networks(&self, caller: &Caller) -> Result<Vec<Network>> {
        let r: Networks = self
            .get_json(Service::Network, "/networks", &[], caller)
            .await?;
        Ok(r.networks)
    }

    /// `GET /networks/{id}`.
    pub async fn get_network(&self, caller: &Caller, network_id: &str) -> Result<Network> {
        let path = format!("/networks/{}", seg(network_id));
        let r: OneNetwork = self.get_json(Service::Network, &path, &[], caller).await?;
        Ok(r.network)
    }

    /// `POST /networks` (201).
    pub async fn create_network(&self, caller: &Caller, network: &NewNetwork) -> Result<Network> {
        let body = serde_json::json!({ "network": network });
        let r: OneNetwork = self
            .send_json(Service::Network, Method::POST, "/networks", caller, &body)
            .await?;
        Ok(r.network)
    }

    /// `PUT /networks/{id}` with a new name (200, the network): a network's
    /// name is the one thing Cyclades lets its owner change.
    ///
    /// Cyclades answers 404 `itemNotFound` for a network that is unknown,
    /// another user's or deleted, 403 `forbidden` for a public network
    /// ("Cannot rename the public network."), and 400 `badRequest` for a
    /// missing or non-string `name` or one longer than 128 characters
    /// (`snf-cyclades-app/synnefo/api/networks.py` `update_network`,
    /// `logic/networks.py` `rename`, `db/models.py`
    /// `Network.NETWORK_NAME_LENGTH`; kamaki's `NetworkClient.update_network`
    /// sends the same body). A write: never retried.
    pub async fn rename_network(
        &self,
        caller: &Caller,
        network_id: &str,
        name: &str,
    ) -> Result<Network> {
        let path = format!("/networks/{}", seg(network_id));
        let body = serde_json::json!({ "network": { "name": name } });
        let r: OneNetwork = self
            .send_json(Service::Network, Method::PUT, &path, caller, &body)
            .await?;
        Ok(r.network)
    }

    /// `DELETE /networks/{id}` (204).
    pub async fn delete_network(&self, caller: &Caller, network_id: &str) -> Result<()> {
        let path = format!("/networks/{}", seg(network_id));
        self.send_empty::<()>(Service::Network, Method::DELETE, &path, caller, None)
            .await
    }

    /// `GET /subnets`.
    pub async fn list_subnets(&self, caller: &Caller) -> Result<Vec<Subnet>> {
        let r: Subnets = self
            .get_json(Service::Network, "/subnets", &[], caller)
            .await?;
        Ok(r.subnets)
    }

    /// `GET /subnets/{id}`.
    pub async fn get_subnet(&self, caller: &Caller, subnet_id: &str) -> Result<Subnet> {
        let path = format!("/subnets/{}", seg(subnet_id));
        let r: OneSubnet = self.get_json(Service::Network, &path, &[], caller).await?;
        Ok(r.subnet)
    }

    /// `POST /subnets` (201).
    pub async fn create_subnet(&self, caller: &Caller, subnet: &NewSubnet) -> Result<Subnet> {
        let body = serde_json::json!({ "subnet": subnet });
        let r: OneSubnet = self
            .send_json(Service::Network, Method::POST, "/subnets", caller, &body)
            .await?;
        Ok(r.subnet)
    }

    /// `GET /ports[?device_id=]`. The filter is also applied here, since
    /// not every Synnefo version honours it.
    pub async fn list_ports(&self, caller: &Caller, device_id: Option<&str>) -> Result<Vec<Port>> {
        let query: Vec<(&str, &str)> = device_id
            .map(|d| vec![("device_id", d)])
            .unwrap_or_default();
        let r: Ports = self
            .get_json(Service::Network, "/ports", &query, caller)
            .await?;
        Ok(match device_id {
            Some(d) => r
                .ports
                .into_iter()
                .filter(|p| p.device_id.as_deref() == Some(d))
                .collect(),
            None => r.ports,
        })
    }

    /// `GET /ports/{id}`.
    pub async fn get_port(&self, caller: &Caller, port_id: &str) -> Result<Port> {
        let path = format!("/ports/{}", seg(port_id));
        let r: OnePort = self.get_json(Service::Network, &path, &[], caller).await?;
        Ok(r.port)
    }

    /// `POST /ports` (201): connects a server to a network.
    pub async fn create_port(&self, caller: &Caller, port: &NewPort) -> Result<Port> {
        let body = serde_json::json!({ "port": port });
        let r: OnePort = self
            .send_json(Service::Network, Method::POST, "/ports", caller, &body)
            .await?;
        Ok(r.port)
    }

    /// `DELETE /ports/{id}` (204).
    pub async fn delete_port(&self, caller: &Caller, port_id: &str) -> Result<()> {
        let path = format!("/ports/{}", seg(port_id));
        self.send_empty::<()>(Service::Network, Method::DELETE, &path, caller, None)
            .await
    }

    /// `GET /floatingips`.
    pub async fn list_floating_ips(&self, caller: &Caller) -> Result<Vec<FloatingIp>> {
        let r: FloatingIps = self
            .get_json(Service::Network, "/floatingips", &[], caller)
            .await?;
        Ok(r.floatingips)
    }

    /// `GET /floatingips/{id}`.
    pub async fn get_floating_ip(
        &self,
        caller: &Caller,
        floating_ip_id: &str,
    ) -> Result<FloatingIp> {
        let path = format!("/floatingips/{}", seg(floating_ip_id));
        let r: OneFloatingIp = self.get_json(Service::Network, &path, &[], caller).await?;
        Ok(r.floatingip)
    }

    /// `POST /floatingips` (200).
    pub async fn create_floating_ip(
        &self,
        caller: &Caller,
        request: &NewFloatingIp,
    ) -> Result<FloatingIp> {
        let body = serde_json::json!({ "floatingip": request });
        let r: OneFloatingIp = self
            .send_json(
                Service::Network,
                Method::POST,
                "/floatingips",
                caller,
                &body,
            )
            .await?;
        Ok(r.floatingip)
    }

    /// `DELETE /floatingips/{id}` (204); it must not be attached.
    pub async fn delete_floating_ip(&self, caller: &Caller, floating_ip_id: &str) -> Result<()> {
        let path = format!("/floatingips/{}", seg(floating_ip_id));
        self.send_empty::<()>(Service::Network, Method::DELETE, &path, caller, None)
            .await
    }

    /// Attaches a floating IP to a server the Synnefo way: a port on the
    /// IP's network with the IP as its address.
    pub async fn attach_floating_ip(
        &self,
        caller: &Caller,
        server_id: &str,
        ip: &FloatingIp,
    ) -> Result<Port> {
        let network_id = ip.floating_network_id.clone().unwrap_or_default();
        let port = NewPort {
            network_id,
            device_id: server_id.to_owned(),
            fixed_ips: vec![FixedIpRequest {
                ip_address: ip.floating_ip_address.clone(),
            }],
            name: None,
        };
        self.create_port(caller, &port).await
    }
}
