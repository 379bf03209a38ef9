//! Cyclades compute v2.0 flavors: the sizes a server is created with.

use serde::Deserialize;

use super::{Summary, seg};
use crate::synnefo::serde_util::{id, number, opt_id};
use crate::synnefo::{Caller, Client, Result, Service};

/// A flavor in detail.
///
/// grnet/synnefo 0.20: `synnefo/api/flavors.py` `flavor_to_dict`.
#[derive(Clone, Debug, Deserialize)]
pub struct Flavor {
    /// Id (an integer in Synnefo; kept as text).
    #[serde(deserialize_with = "id")]
    pub id: String,
    /// Name, e.g. `C2R2048D40drbd`.
    pub name: String,
    /// Memory in MiB.
    #[serde(deserialize_with = "number")]
    pub ram: u64,
    /// Virtual CPUs.
    #[serde(deserialize_with = "number")]
    pub vcpus: u64,
    /// Disk in GB.
    #[serde(deserialize_with = "number")]
    pub disk: u64,
    /// The disk template (`drbd`, `ext_archipelago`, ...).
    #[serde(rename = "SNF:disk_template", default)]
    pub disk_template: Option<String>,
    /// The volume type id of the flavor's disks.
    #[serde(rename = "SNF:volume_type", default, deserialize_with = "opt_id")]
    pub volume_type: Option<String>,
    /// Whether users may create servers with it (absent means yes).
    #[serde(rename = "SNF:allow_create", default = "yes")]
    pub allow_create: bool,
}

fn yes() -> bool {
    true
}

/// grnet/synnefo 0.20: `synnefo/api/flavors.py` `list_flavors`.
#[derive(Deserialize)]
struct Flavors<T> {
    flavors: Vec<T>,
}
/// grnet/synnefo 0.20: `synnefo/api/flavors.py` `get_flavor_details`.
#[derive(Deserialize)]
struct OneFlavor {
    flavor: Flavor,
}

impl Client {
    /// `GET /flavors`.
    pub async fn list_flavors(&self, caller: &Caller) -> Result<Vec<Summary>> {
        let r: Flavors<Summary> = self
            .get_json(Service::Compute, "/flavors", &[], caller)
            .await?;
        Ok(r.flavors)
    }

    /// `GET /flavors/detail`.
    pub async fn list_flavors_detail(&self, caller: &Caller) -> Result<Vec<Flavor>> {
        let r: Flavors<Flavor> = self
            .get_json(Service::Compute, "/flavors/detail", &[], caller)
            .await?;
        Ok(r.flavors)
    }

    /// `GET /flavors/{id}`.
    pub async fn get_flavor(&self, caller: &Caller, flavor_id: &str) -> Result<Flavor> {
        let path = format!("/flavors/{}", seg(flavor_id));
        let r: OneFlavor = self.get_json(Service::Compute, &path, &[], caller).await?;
        Ok(r.flavor)
    }
}
