//! The dynamic mixins: one `resource_tpl` per flavor, one `os_tpl` per
//! image, one storage template per volume type, and user mixins.

use super::catalogue::mixin;
// The schemes and type ids.
use super::*;
use crate::occi::attribute::{AttributeDef, AttributeType};
use crate::occi::category::{Category, Mixin};

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
