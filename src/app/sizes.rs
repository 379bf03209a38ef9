//! A compute's size asked for by attributes instead of a resource
//! template: `occi.compute.cores`, `occi.compute.memory` (GiB) and the
//! templates' disk attribute `eu.egi.fedcloud.flavor.disk` (GiB), as IM
//! sends them when its RADL names no `instance_type`.
//!
//! Without a template the compute gets the smallest creatable flavor that
//! has at least every size asked for (fewest cores, then least memory,
//! then least disk; among equals the one with the default flavor's disk
//! template, so that default storage links to it), or a 400 listing the
//! sizes that exist. With a template, a size that differs from the
//! template's is a 400: the request contradicts itself.

use std::fmt::Write as _;

use crate::occi::infrastructure::attr;
use crate::occi::{AttributeValue, Attributes};
use crate::synnefo::Flavor;

use super::error::AppError;

/// The sizes a request names (`None`: not named).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SizeRequest {
    /// `occi.compute.cores`.
    pub cores: Option<u64>,
    /// `occi.compute.memory`, GiB.
    pub memory_gib: Option<f64>,
    /// `eu.egi.fedcloud.flavor.disk`, GiB.
    pub disk_gib: Option<f64>,
}

/// The largest size taken (a million cores, or a million GiB): anything
/// beyond is a typo, answered as such.
const MAX_SIZE: f64 = 1_000_000.0;

fn number(attrs: &Attributes, name: &str) -> Result<Option<f64>, AppError> {
    let bad = |v: &AttributeValue| {
        AppError::BadRequest(format!(
            "{name} must be a positive number (at most {MAX_SIZE}), not {v}"
        ))
    };
    let Some(v) = attrs.get(name) else {
        return Ok(None);
    };
    let n = match v {
        AttributeValue::Integer(n) => *n as f64,
        AttributeValue::Float(f) => *f,
        AttributeValue::String(s) => s.trim().parse::<f64>().map_err(|_| bad(v))?,
        _ => return Err(bad(v)),
    };
    if n.is_finite() && n > 0.0 && n <= MAX_SIZE {
        Ok(Some(n))
    } else {
        Err(bad(v))
    }
}

/// Whether a flavor's `mib` of memory is `gib` GiB (to the MiB).
fn same_memory(mib: u64, gib: f64) -> bool {
    (mib as f64 - gib * 1024.0).abs() < 1.0
}

impl SizeRequest {
    /// The sizes `attrs` name; `None` when they name none. A size that is
    /// not a positive number (or cores not a whole one) is a 400 naming
    /// the attribute.
    pub fn of(attrs: &Attributes) -> Result<Option<SizeRequest>, AppError> {
        let cores = match number(attrs, attr::COMPUTE_CORES)? {
            Some(c) if c.fract() != 0.0 => {
                return Err(AppError::BadRequest(format!(
                    "{} must be a whole number of cores, not {c}",
                    attr::COMPUTE_CORES
                )));
            }
            c => c.map(|c| c as u64),
        };
        let want = SizeRequest {
            cores,
            memory_gib: number(attrs, attr::COMPUTE_MEMORY)?,
            disk_gib: number(attrs, attr::TPL_DISK)?,
        };
        Ok((want != SizeRequest::default()).then_some(want))
    }

    /// Whether `f` has at least every size asked for.
    pub fn fits(&self, f: &Flavor) -> bool {
        self.cores.is_none_or(|c| f.vcpus >= c)
            && self
                .memory_gib
                .is_none_or(|m| f.ram as f64 >= m * 1024.0 || same_memory(f.ram, m))
            && self.disk_gib.is_none_or(|d| f.disk as f64 >= d)
    }

    /// The first size asked for that differs from `f`'s, as a 400 naming
    /// it: a request with a resource template that asks for another size.
    pub fn contradicts(&self, f: &Flavor, term: &str) -> Option<AppError> {
        let differs = |name: &str, asked: String, has: String| {
            Some(AppError::BadRequest(format!(
                "{name}={asked} contradicts the resource template {term}, which has {has}: \
                 leave the attribute out or name the template of that size"
            )))
        };
        if let Some(c) = self.cores.filter(|c| *c != f.vcpus) {
            return differs(
                attr::COMPUTE_CORES,
                c.to_string(),
                format!("{} cores", f.vcpus),
            );
        }
        if let Some(m) = self.memory_gib.filter(|m| !same_memory(f.ram, *m)) {
            return differs(
                attr::COMPUTE_MEMORY,
                m.to_string(),
                format!("{} GiB of memory", f.ram as f64 / 1024.0),
            );
        }
        if let Some(d) = self.disk_gib.filter(|d| *d != f.disk as f64) {
            return differs(
                attr::TPL_DISK,
                d.to_string(),
                format!("{} GiB of disk", f.disk),
            );
        }
        None
    }

    /// "at least 2 cores and 2 GiB of memory".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = self.cores {
            parts.push(format!("{c} cores"));
        }
        if let Some(m) = self.memory_gib {
            parts.push(format!("{m} GiB of memory"));
        }
        if let Some(d) = self.disk_gib {
            parts.push(format!("{d} GiB of disk"));
        }
        format!("at least {}", parts.join(" and "))
    }
}

/// The smallest creatable flavor of `flavors` that [fits](SizeRequest::fits)
/// `want`; among equal sizes the one whose disk template is `prefer`,
/// then the lowest id. A 400 listing the sizes that exist when none fits.
pub fn smallest<'a>(
    flavors: &'a [Flavor],
    want: &SizeRequest,
    prefer: Option<&str>,
) -> Result<&'a Flavor, AppError> {
    let creatable = || flavors.iter().filter(|f| f.allow_create);
    creatable()
        .filter(|f| want.fits(f))
        .min_by_key(|f| {
            (
                f.vcpus,
                f.ram,
                f.disk,
                prefer.is_none() || f.disk_template.as_deref() != prefer,
                f.id.parse::<u64>().unwrap_or(u64::MAX),
            )
        })
        .ok_or_else(|| {
            let mut sizes: Vec<(u64, u64, u64)> =
                creatable().map(|f| (f.vcpus, f.ram, f.disk)).collect();
            sizes.sort_unstable();
            sizes.dedup();
            let mut list = String::new();
            for (i, (c, r, d)) in sizes.iter().enumerate() {
                let sep = if i == 0 { "" } else { "; " };
                let _ = write!(
                    list,
                    "{sep}{c} cores, {} GiB of memory, {d} GiB of disk",
                    *r as f64 / 1024.0
                );
            }
            AppError::BadRequest(format!(
                "no resource template has {}; the sizes that exist are: {list}",
                want.describe()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flavor(id: &str, cores: u64, ram: u64, disk: u64, template: &str) -> Flavor {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("C{cores}R{ram}D{disk}{template}"),
            "vcpus": cores, "ram": ram, "disk": disk, "SNF:disk_template": template,
        }))
        .expect("flavor")
    }

    fn asked(pairs: &[(&str, AttributeValue)]) -> Result<Option<SizeRequest>, AppError> {
        let mut a = Attributes::new();
        for (k, v) in pairs {
            a.set(*k, v.clone());
        }
        SizeRequest::of(&a)
    }

    #[test]
    fn the_smallest_flavor_that_fits_every_size_is_chosen() {
        let flavors = [
            flavor("1", 1, 1024, 20, "drbd"),
            flavor("2", 2, 2048, 40, "drbd"),
            flavor("3", 4, 4096, 40, "drbd"),
            flavor("4", 2, 2048, 20, "ext_archipelago"),
            flavor("5", 1, 512, 10, "ext_archipelago"),
            flavor("6", 2, 2048, 20, "drbd"),
        ];
        let want = |c: Option<u64>, m: Option<f64>, d: Option<f64>| SizeRequest {
            cores: c,
            memory_gib: m,
            disk_gib: d,
        };
        let pick = |w: SizeRequest, prefer: Option<&str>| {
            smallest(&flavors, &w, prefer).map(|f| f.id.clone())
        };
        assert_eq!(pick(want(Some(2), Some(2.0), None), None).unwrap(), "4");
        assert_eq!(
            pick(want(Some(2), Some(2.0), None), Some("drbd")).unwrap(),
            "6"
        );
        assert_eq!(pick(want(None, Some(0.5), None), None).unwrap(), "5");
        assert_eq!(pick(want(Some(1), Some(1.5), None), None).unwrap(), "4");
        assert_eq!(pick(want(Some(2), None, Some(30.0)), None).unwrap(), "2");
        assert_eq!(pick(want(Some(3), None, None), None).unwrap(), "3");
        let err = pick(want(Some(64), Some(2.0), None), None).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
        let text = err.to_string();
        assert!(
            text.contains("at least 64 cores and 2 GiB of memory"),
            "{text}"
        );
        assert!(
            text.contains("1 cores, 0.5 GiB of memory, 10 GiB of disk; 1 cores, 1 GiB"),
            "{text}"
        );
    }

    #[test]
    fn sizes_are_read_from_numbers_and_checked() {
        assert_eq!(asked(&[]).unwrap(), None);
        assert_eq!(
            asked(&[
                (attr::COMPUTE_CORES, 2i64.into()),
                (attr::COMPUTE_MEMORY, AttributeValue::Float(2.0)),
            ])
            .unwrap(),
            Some(SizeRequest {
                cores: Some(2),
                memory_gib: Some(2.0),
                disk_gib: None
            })
        );
        assert_eq!(
            asked(&[(attr::COMPUTE_MEMORY, "1.5".into())])
                .unwrap()
                .and_then(|w| w.memory_gib),
            Some(1.5)
        );
        for bad in [
            (attr::COMPUTE_CORES, AttributeValue::Float(1.5)),
            (attr::COMPUTE_CORES, 0i64.into()),
            (attr::COMPUTE_MEMORY, "lots".into()),
            (attr::COMPUTE_MEMORY, AttributeValue::Float(-1.0)),
            (attr::TPL_DISK, AttributeValue::Bool(true)),
        ] {
            let err = asked(std::slice::from_ref(&bad)).unwrap_err();
            assert_eq!(err.status(), http::StatusCode::BAD_REQUEST, "{bad:?}");
            assert!(err.to_string().contains(bad.0), "{err}");
        }
    }

    #[test]
    fn a_size_that_differs_from_the_template_is_named() {
        let f = flavor("4", 2, 2048, 20, "ext_archipelago");
        let same = SizeRequest {
            cores: Some(2),
            memory_gib: Some(2.0),
            disk_gib: Some(20.0),
        };
        assert!(same.contradicts(&f, "C2R2048D20").is_none());
        let more = SizeRequest {
            memory_gib: Some(4.0),
            ..same
        };
        let err = more.contradicts(&f, "C2R2048D20").unwrap();
        let text = err.to_string();
        assert!(
            text.contains("occi.compute.memory=4 contradicts the resource template C2R2048D20"),
            "{text}"
        );
    }
}
