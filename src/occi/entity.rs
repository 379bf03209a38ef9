//! Entity instances: resources and links, as the app builds them for
//! rendering.
//!
//! Locations are absolute paths in our namespace (`/compute/42`); the
//! renderers prefix them with the public base URL. A location that is
//! already an absolute URL (an external link target) is kept as is.

use super::attribute::Attributes;

/// A reference to another entity: its location and, optionally, its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityRef {
    /// Absolute path (`/storage/7`) or absolute URL.
    pub location: String,
    /// The kind type id of the referenced entity.
    pub kind: Option<String>,
}

impl EntityRef {
    /// A reference with a known kind.
    pub fn new(location: impl Into<String>, kind: impl Into<String>) -> Self {
        EntityRef {
            location: location.into(),
            kind: Some(kind.into()),
        }
    }
}

/// A resource (compute, storage, network ...).
///
/// `occi.core.id` is rendered from [`Resource::id`]; title and summary
/// live in [`Resource::attributes`] as `occi.core.title`/`occi.core.summary`
/// (JSON lifts them to top-level members).
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The kind type id.
    pub kind: String,
    /// Mixin type ids, in rendering order.
    pub mixins: Vec<String>,
    /// `occi.core.id`.
    pub id: String,
    /// The absolute path of this resource (`/compute/42`).
    pub location: String,
    /// All other attributes, in rendering order.
    pub attributes: Attributes,
    /// Type ids of the actions applicable now (rendered as action links).
    pub actions: Vec<String>,
    /// The links this resource owns (outgoing).
    pub links: Vec<Link>,
}

impl Resource {
    /// A resource of `kind` with `id` at `location`, nothing else set.
    pub fn new(
        kind: impl Into<String>,
        id: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        Resource {
            kind: kind.into(),
            mixins: Vec::new(),
            id: id.into(),
            location: location.into(),
            attributes: Attributes::new(),
            actions: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// A link (storagelink, networkinterface), owned by its source resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The kind type id.
    pub kind: String,
    /// Mixin type ids (ipnetworkinterface ...).
    pub mixins: Vec<String>,
    /// `occi.core.id`.
    pub id: String,
    /// The absolute path of this link (`/networkinterface/42_7`).
    pub location: String,
    /// The source resource.
    pub source: EntityRef,
    /// The target resource.
    pub target: EntityRef,
    /// All other attributes (`occi.core.title`, kind and mixin attributes).
    pub attributes: Attributes,
    /// Type ids of the actions applicable now.
    pub actions: Vec<String>,
}

impl Link {
    /// A link of `kind` with `id` at `location` from `source` to `target`.
    pub fn new(
        kind: impl Into<String>,
        id: impl Into<String>,
        location: impl Into<String>,
        source: EntityRef,
        target: EntityRef,
    ) -> Self {
        Link {
            kind: kind.into(),
            mixins: Vec::new(),
            id: id.into(),
            location: location.into(),
            source,
            target,
            attributes: Attributes::new(),
            actions: Vec::new(),
        }
    }
}
