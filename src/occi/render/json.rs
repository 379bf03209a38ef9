//! The OCCI 1.2 JSON rendering (`application/occi+json`).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::{Renderer, renderable_attribute, renderable_category, renderable_type_id};
use crate::occi::attribute::{AttributeDef, AttributeValue, Attributes};
use crate::occi::category::{CategoryRef, CategorySet};
use crate::occi::entity::{EntityRef, Link, Resource};
use crate::occi::infrastructure::attr;

/// An attribute value as JSON (non-finite floats, which JSON cannot
/// hold, as `null`).
struct JsonValue<'a>(&'a AttributeValue);

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AttributeValue::String(v) => s.serialize_str(v),
            AttributeValue::Integer(n) => s.serialize_i64(*n),
            AttributeValue::Float(x) if x.is_finite() => s.serialize_f64(*x),
            AttributeValue::Float(_) => s.serialize_unit(),
            AttributeValue::Bool(b) => s.serialize_bool(*b),
            AttributeValue::List(items) => s.collect_seq(items.iter().map(JsonValue)),
        }
    }
}

/// The `attributes` object: every attribute but `skip`, sorted by name.
struct AttributesJson<'a>(Vec<(&'a str, &'a AttributeValue)>);

impl<'a> AttributesJson<'a> {
    fn new(attributes: &'a Attributes, skip: &[&str]) -> Self {
        let mut v: Vec<_> = attributes
            .iter()
            .filter(|(n, _)| !skip.contains(n) && renderable_attribute(n))
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        AttributesJson(v)
    }
}

impl Serialize for AttributesJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(n, v)| (*n, JsonValue(v))))
    }
}

/// `{"kind": ..., "location": "<absolute url>"}` of a link end.
struct EndJson<'a>(&'a Renderer, &'a EntityRef);

impl Serialize for EndJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(kind) = &self.1.kind {
            m.serialize_entry("kind", kind)?;
        }
        m.serialize_entry("location", &self.0.url(&self.1.location))?;
        m.end()
    }
}

/// A resource object (keys in sorted order, as clients diffing the
/// output expect a stable order).
pub struct ResourceJson<'a>(pub &'a Renderer, pub &'a Resource);

impl Serialize for ResourceJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (r, res) = (self.0, self.1);
        let mut m = s.serialize_map(None)?;
        if !res.actions.is_empty() {
            m.serialize_entry("actions", &res.actions)?;
        }
        let attrs = AttributesJson::new(&res.attributes, &[attr::ID, attr::TITLE, attr::SUMMARY]);
        if !attrs.0.is_empty() {
            m.serialize_entry("attributes", &attrs)?;
        }
        m.serialize_entry("id", &res.id)?;
        m.serialize_entry("kind", &res.kind)?;
        if !res.links.is_empty() {
            m.serialize_entry("links", &Seq(&res.links, |l| LinkJson(r, l)))?;
        }
        if !res.mixins.is_empty() {
            m.serialize_entry("mixins", &TypeIds(&res.mixins))?;
        }
        if let Some(v) = res.attributes.get(attr::SUMMARY) {
            m.serialize_entry("summary", &JsonValue(v))?;
        }
        if let Some(v) = res.attributes.get(attr::TITLE) {
            m.serialize_entry("title", &JsonValue(v))?;
        }
        m.end()
    }
}

/// A link object.
pub struct LinkJson<'a>(pub &'a Renderer, pub &'a Link);

impl Serialize for LinkJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (r, l) = (self.0, self.1);
        let mut m = s.serialize_map(None)?;
        if !l.actions.is_empty() {
            m.serialize_entry("actions", &l.actions)?;
        }
        let attrs = AttributesJson::new(
            &l.attributes,
            &[
                attr::ID,
                attr::TITLE,
                attr::SOURCE,
                attr::TARGET,
                attr::SOURCE_KIND,
                attr::TARGET_KIND,
            ],
        );
        if !attrs.0.is_empty() {
            m.serialize_entry("attributes", &attrs)?;
        }
        m.serialize_entry("id", &l.id)?;
        m.serialize_entry("kind", &l.kind)?;
        if !l.mixins.is_empty() {
            m.serialize_entry("mixins", &TypeIds(&l.mixins))?;
        }
        m.serialize_entry("source", &EndJson(r, &l.source))?;
        m.serialize_entry("target", &EndJson(r, &l.target))?;
        if let Some(v) = l.attributes.get(attr::TITLE) {
            m.serialize_entry("title", &JsonValue(v))?;
        }
        m.end()
    }
}

/// The mixin type ids of an entity that follow the grammar (see the
/// module docs of `render`: the other renderings leave the others out
/// too).
struct TypeIds<'a>(&'a [String]);

impl Serialize for TypeIds<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().filter(|t| renderable_type_id(t)))
    }
}

/// A sequence serialized through a per-item wrapper.
struct Seq<'a, T, W, F: Fn(&'a T) -> W>(&'a [T], F);

impl<'a, T, W: Serialize, F: Fn(&'a T) -> W> Serialize for Seq<'a, T, W, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(&self.1))
    }
}

/// A collection: `{"links": [...], "resources": [...]}`, either part only
/// when non-empty; an empty collection is `{"resources": []}`.
pub struct CollectionJson<'a>(pub &'a Renderer, pub &'a [Resource], pub &'a [Link]);

impl Serialize for CollectionJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (r, resources, links) = (self.0, self.1, self.2);
        let mut m = s.serialize_map(None)?;
        if !links.is_empty() {
            m.serialize_entry("links", &Seq(links, |l| LinkJson(r, l)))?;
        }
        if !resources.is_empty() || links.is_empty() {
            m.serialize_entry("resources", &Seq(resources, |x| ResourceJson(r, x)))?;
        }
        m.end()
    }
}

/// Serializes `value` into one buffer.
pub fn to_bytes(value: &impl Serialize) -> bytes::Bytes {
    let mut out = Vec::with_capacity(1024);
    // Writing to a Vec cannot fail, and our Serialize impls never do.
    let _ = serde_json::to_writer(&mut out, value);
    bytes::Bytes::from(out)
}

/// An attribute description.
pub fn attribute_def(d: &AttributeDef) -> Value {
    let mut o = Map::new();
    o.insert("mutable".into(), json!(d.mutable));
    o.insert("required".into(), json!(d.required));
    o.insert("type".into(), json!(d.kind.json_type()));
    if let Some(p) = d.kind.json_pattern() {
        o.insert("pattern".into(), p);
    }
    if let Some(v) = &d.default {
        o.insert("default".into(), v.to_json());
    }
    if let Some(t) = &d.description {
        o.insert("description".into(), json!(t));
    }
    Value::Object(o)
}

/// A kind, mixin or action object.
pub fn category(c: CategoryRef<'_>) -> Value {
    let cat = c.category();
    let mut o = Map::new();
    o.insert("term".into(), json!(cat.term));
    o.insert("scheme".into(), json!(cat.scheme));
    if let Some(t) = &cat.title {
        o.insert("title".into(), json!(t));
    }
    if !c.attributes().is_empty() {
        let defs: Map<String, Value> = c
            .attributes()
            .iter()
            .map(|d| (d.name.clone(), attribute_def(d)))
            .collect();
        o.insert("attributes".into(), Value::Object(defs));
    }
    if !c.actions().is_empty() {
        o.insert("actions".into(), json!(c.actions()));
    }
    match c {
        CategoryRef::Kind(k) => {
            if let Some(p) = &k.parent {
                o.insert("parent".into(), json!(p));
            }
        }
        CategoryRef::Mixin(m) => {
            if !m.depends.is_empty() {
                o.insert("depends".into(), json!(m.depends));
            }
            if !m.applies.is_empty() {
                o.insert("applies".into(), json!(m.applies));
            }
        }
        CategoryRef::Action(_) => {}
    }
    if let Some(l) = c.location() {
        o.insert("location".into(), json!(l));
    }
    Value::Object(o)
}

/// The query interface: `{"kinds": [...], "mixins": [...], "actions": [...]}`,
/// leaving out any category that breaks the grammar (as the text
/// renderings do).
pub fn categories(set: &CategorySet<'_>) -> Value {
    fn list<'a>(items: impl Iterator<Item = CategoryRef<'a>>) -> Value {
        Value::Array(
            items
                .filter(|c| renderable_category(*c))
                .map(category)
                .collect(),
        )
    }
    let mut o = Map::new();
    o.insert(
        "kinds".into(),
        list(set.kinds.iter().map(|k| CategoryRef::Kind(k))),
    );
    o.insert(
        "mixins".into(),
        list(set.mixins.iter().map(|m| CategoryRef::Mixin(m))),
    );
    o.insert(
        "actions".into(),
        list(set.actions.iter().map(|a| CategoryRef::Action(a))),
    );
    Value::Object(o)
}
