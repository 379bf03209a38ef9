//! The OCCI 1.2 JSON rendering (`application/occi+json`).

use serde_json::{Map, Value, json};

use super::Renderer;
use crate::occi::attribute::AttributeDef;
use crate::occi::category::{CategoryRef, CategorySet};
use crate::occi::entity::{Link, Resource};
use crate::occi::infrastructure::attr;

fn attributes_object<'a>(
    iter: impl Iterator<Item = (&'a str, &'a crate::occi::AttributeValue)>,
    skip: &[&str],
) -> Map<String, Value> {
    iter.filter(|(n, _)| !skip.contains(n))
        .map(|(n, v)| (n.to_owned(), v.to_json()))
        .collect()
}

/// A resource object.
pub fn resource(r: &Renderer, res: &Resource) -> Value {
    let mut o = Map::new();
    o.insert("kind".into(), json!(res.kind));
    if !res.mixins.is_empty() {
        o.insert("mixins".into(), json!(res.mixins));
    }
    let attrs = attributes_object(
        res.attributes.iter(),
        &[attr::ID, attr::TITLE, attr::SUMMARY],
    );
    if !attrs.is_empty() {
        o.insert("attributes".into(), Value::Object(attrs));
    }
    if !res.actions.is_empty() {
        o.insert("actions".into(), json!(res.actions));
    }
    o.insert("id".into(), json!(res.id));
    if let Some(t) = res.attributes.get(attr::TITLE) {
        o.insert("title".into(), t.to_json());
    }
    if let Some(s) = res.attributes.get(attr::SUMMARY) {
        o.insert("summary".into(), s.to_json());
    }
    if !res.links.is_empty() {
        o.insert(
            "links".into(),
            Value::Array(res.links.iter().map(|l| link(r, l)).collect()),
        );
    }
    Value::Object(o)
}

/// A link object.
pub fn link(r: &Renderer, l: &Link) -> Value {
    let mut o = Map::new();
    o.insert("kind".into(), json!(l.kind));
    if !l.mixins.is_empty() {
        o.insert("mixins".into(), json!(l.mixins));
    }
    let attrs = attributes_object(
        l.attributes.iter(),
        &[
            attr::ID,
            attr::TITLE,
            attr::SOURCE,
            attr::TARGET,
            attr::SOURCE_KIND,
            attr::TARGET_KIND,
        ],
    );
    if !attrs.is_empty() {
        o.insert("attributes".into(), Value::Object(attrs));
    }
    if !l.actions.is_empty() {
        o.insert("actions".into(), json!(l.actions));
    }
    o.insert("id".into(), json!(l.id));
    if let Some(t) = l.attributes.get(attr::TITLE) {
        o.insert("title".into(), t.to_json());
    }
    let kinded = |loc: &str, kind: &Option<String>| {
        let mut k = Map::new();
        k.insert("location".into(), json!(r.url(loc)));
        if let Some(kind) = kind {
            k.insert("kind".into(), json!(kind));
        }
        Value::Object(k)
    };
    o.insert("source".into(), kinded(&l.source.location, &l.source.kind));
    o.insert("target".into(), kinded(&l.target.location, &l.target.kind));
    Value::Object(o)
}

/// A collection: `{"resources": [...]}` and/or `{"links": [...]}`;
/// an empty collection is `{"resources": []}`.
pub fn collection(r: &Renderer, resources: &[Resource], links: &[Link]) -> Value {
    let mut o = Map::new();
    if !resources.is_empty() || links.is_empty() {
        o.insert(
            "resources".into(),
            Value::Array(resources.iter().map(|x| resource(r, x)).collect()),
        );
    }
    if !links.is_empty() {
        o.insert(
            "links".into(),
            Value::Array(links.iter().map(|x| link(r, x)).collect()),
        );
    }
    Value::Object(o)
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

/// The query interface: `{"kinds": [...], "mixins": [...], "actions": [...]}`.
pub fn categories(set: &CategorySet<'_>) -> Value {
    let mut o = Map::new();
    o.insert(
        "kinds".into(),
        Value::Array(
            set.kinds
                .iter()
                .map(|k| category(CategoryRef::Kind(k)))
                .collect(),
        ),
    );
    o.insert(
        "mixins".into(),
        Value::Array(
            set.mixins
                .iter()
                .map(|m| category(CategoryRef::Mixin(m)))
                .collect(),
        ),
    );
    o.insert(
        "actions".into(),
        Value::Array(
            set.actions
                .iter()
                .map(|a| category(CategoryRef::Action(a)))
                .collect(),
        ),
    );
    Value::Object(o)
}
