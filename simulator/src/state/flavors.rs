//! Flavors: the seeded sizes, each with the volume type of its disk
//! template.

use serde_json::{Value, json};

use super::World;
use super::body::num_id;
use crate::fault::Fault;
use crate::seed::FlavorSeed;

#[derive(Clone, Debug)]
pub(super) struct Flavor {
    pub(super) seed: FlavorSeed,
    pub(super) volume_type: u64,
}

impl World {
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
            .ok_or_else(|| Fault::not_found("Flavor not found."))?;
        Ok(json!({"flavor": self.flavor_json(f, true)}))
    }
}
