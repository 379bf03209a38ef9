//! What the differential test compares of one answer: its status, the
//! shape of its JSON (keys and value types, recursively), the values of
//! a few enumerated fields, and a fault's kind, code, message and
//! details; and how two such observations differ.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Objects whose keys are data, not schema (metadata, the networks of a
/// server's `addresses`, image properties): their values are compared as
/// one merged shape under the key `*`.
const MAP_KEYS: &[&str] = &["metadata", "addresses", "SNF:port_forwarding", "properties"];

/// Keys whose values are enumerations a client branches on: compared by
/// value (as well as by type) wherever they appear.
const VALUE_KEYS: &[&str] = &[
    "status",
    "SNF:task_state",
    "deleted",
    "suspended",
    "public",
    "router:external",
    "shared",
    "SNF:floating_ip_pool",
    "OS-EXT-IPS:type",
    "ip_version",
    "enable_dhcp",
    "admin_state_up",
    "device_owner",
    "delete_on_termination",
    "SNF:allow_create",
    "SNF:detachable",
    "type",
    "rel",
    "version",
];

/// The JSON type names a position can hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// One or more scalar (or structural, after a merge of unlike
    /// values) type names: `null`, `bool`, `int`, `float`, `string`,
    /// `array`, `object`.
    Scalar(BTreeSet<String>),
    /// An array: its elements' shapes, in order.
    Array(Vec<Shape>),
    /// An object: its keys and their shapes.
    Object(BTreeMap<String, Shape>),
    /// An object whose keys are data: the merged shape of its values
    /// (`None`: empty).
    Map(Option<Box<Shape>>),
}

fn scalar(name: &str) -> Shape {
    Shape::Scalar(BTreeSet::from([name.to_owned()]))
}

impl Shape {
    /// The shape of `v`; `map` when `v` is the value of a [`MAP_KEYS`] key.
    pub fn of(v: &Value, map: bool) -> Shape {
        match v {
            Value::Null => scalar("null"),
            Value::Bool(_) => scalar("bool"),
            Value::Number(n) if n.is_i64() || n.is_u64() => scalar("int"),
            Value::Number(_) => scalar("float"),
            Value::String(_) => scalar("string"),
            Value::Array(items) => {
                Shape::Array(items.iter().map(|i| Shape::of(i, false)).collect())
            }
            Value::Object(o) if map => Shape::Map(
                o.values()
                    .map(|i| Shape::of(i, false))
                    .reduce(Shape::merge)
                    .map(Box::new),
            ),
            Value::Object(o) => Shape::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Shape::of(v, MAP_KEYS.contains(&k.as_str()))))
                    .collect(),
            ),
        }
    }

    fn names(&self) -> BTreeSet<String> {
        match self {
            Shape::Scalar(s) => s.clone(),
            Shape::Array(_) => BTreeSet::from(["array".to_owned()]),
            Shape::Object(_) | Shape::Map(_) => BTreeSet::from(["object".to_owned()]),
        }
    }

    /// The shape that covers both (elements of one array).
    pub fn merge(self, other: Shape) -> Shape {
        match (self, other) {
            (Shape::Object(mut a), Shape::Object(b)) => {
                for (k, v) in b {
                    let merged = match a.remove(&k) {
                        Some(old) => old.merge(v),
                        None => v,
                    };
                    a.insert(k, merged);
                }
                Shape::Object(a)
            }
            (Shape::Array(mut a), Shape::Array(b)) => {
                a.extend(b);
                Shape::Array(a)
            }
            (Shape::Map(a), Shape::Map(b)) => Shape::Map(merge_opt(a, b)),
            (a, b) => Shape::Scalar(a.names().union(&b.names()).cloned().collect()),
        }
    }
}

fn merge_opt(a: Option<Box<Shape>>, b: Option<Box<Shape>>) -> Option<Box<Shape>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(Box::new(a.merge(*b))),
        (a, b) => a.or(b),
    }
}

fn type_text(names: &BTreeSet<String>) -> String {
    names.iter().cloned().collect::<Vec<_>>().join("|")
}

/// Collects the values of [`VALUE_KEYS`] by path (`servers[].status`).
pub fn values_of(v: &Value) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(v: &Value, path: &str, map: bool, out: &mut BTreeMap<String, BTreeSet<String>>) {
        match v {
            Value::Array(items) => {
                for i in items {
                    walk(i, &format!("{path}[]"), false, out);
                }
            }
            Value::Object(o) => {
                for (k, child) in o {
                    let key = if map { "*" } else { k.as_str() };
                    let p = if path.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{path}.{key}")
                    };
                    if !map
                        && VALUE_KEYS.contains(&k.as_str())
                        && !child.is_object()
                        && !child.is_array()
                    {
                        out.entry(p.clone()).or_default().insert(child.to_string());
                    }
                    walk(child, &p, !map && MAP_KEYS.contains(&k.as_str()), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(v, "", false, &mut out);
    out
}

/// A Synnefo fault body: `{"<kind>": {"message", "code", "details"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The one key (`itemNotFound`, `badRequest`, ...).
    pub kind: String,
    /// `code`, as JSON text.
    pub code: String,
    /// `message`, normalized.
    pub message: String,
    /// `details`, normalized.
    pub details: String,
}

impl Fault {
    /// The fault in `v`, if `v` is one.
    pub fn of(v: &Value) -> Option<(String, &Value)> {
        let o = v.as_object().filter(|o| o.len() == 1)?;
        let (kind, inner) = o.iter().next()?;
        let inner_o = inner.as_object()?;
        (inner_o.contains_key("message") && inner_o.contains_key("code"))
            .then(|| (kind.clone(), inner))
    }
}

/// What was seen of one answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Obs {
    /// The step's name, unique in a run.
    pub step: String,
    /// The request, for reports (`GET /compute/v2.0/servers/{server}`).
    pub request: String,
    /// The HTTP status; 0 when the step was skipped.
    pub status: u16,
    /// Why the step was skipped (its precondition did not hold on this
    /// backend), if it was.
    pub skipped: Option<String>,
    /// The body's shape (`None` for a fault, an empty or a non-JSON body).
    pub shape: Option<Shape>,
    /// The compared values (empty for a shape-only step).
    pub values: BTreeMap<String, BTreeSet<String>>,
    /// The fault, if the body is one.
    pub fault: Option<Fault>,
    /// A body that is not JSON (`""` when empty), normalized.
    pub text: Option<String>,
}

/// One difference between the simulator's and Synnefo's observation of
/// a step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diff {
    /// The step.
    pub step: String,
    /// What differs, as `<what>: <simulator> | <synnefo>`.
    pub what: String,
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.step, self.what)
    }
}

fn shape_diffs(path: &str, sim: &Shape, real: &Shape, out: &mut Vec<String>) {
    let at = |p: &str| {
        if p.is_empty() {
            "(body)".to_owned()
        } else {
            p.to_owned()
        }
    };
    match (sim, real) {
        (Shape::Object(a), Shape::Object(b)) => {
            for (k, va) in a {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(vb) => shape_diffs(&p, va, vb, out),
                    None => out.push(format!("key {p}: only in simulator")),
                }
            }
            for k in b.keys().filter(|k| !a.contains_key(*k)) {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.push(format!("key {p}: only in synnefo"));
            }
        }
        (Shape::Array(a), Shape::Array(b)) => {
            let inner = format!("{path}[]");
            if a.len() == b.len() {
                // Element by element: listings are in id order on both.
                for (x, y) in a.iter().zip(b) {
                    shape_diffs(&inner, x, y, out);
                }
                return;
            }
            let merged = |l: &[Shape]| l.iter().cloned().reduce(Shape::merge);
            match (merged(a), merged(b)) {
                (Some(x), Some(y)) => shape_diffs(&inner, &x, &y, out),
                (None, None) => {}
                (x, _) => out.push(format!(
                    "empty {}: {} | {}",
                    at(path),
                    if x.is_none() { "empty" } else { "not empty" },
                    if x.is_none() { "not empty" } else { "empty" }
                )),
            }
        }
        (Shape::Map(a), Shape::Map(b)) => {
            let inner = format!("{path}.*");
            match (a, b) {
                (Some(a), Some(b)) => shape_diffs(&inner, a, b, out),
                (None, None) => {}
                (a, _) => out.push(format!(
                    "empty {}: {} | {}",
                    at(path),
                    if a.is_none() { "empty" } else { "not empty" },
                    if a.is_none() { "not empty" } else { "empty" }
                )),
            }
        }
        (a, b) => {
            let (na, nb) = (a.names(), b.names());
            if na != nb {
                out.push(format!(
                    "type {}: {} | {}",
                    at(path),
                    type_text(&na),
                    type_text(&nb)
                ));
            }
        }
    }
}

fn set_text(s: Option<&BTreeSet<String>>) -> String {
    match s {
        None => "-".into(),
        Some(s) => s.iter().cloned().collect::<Vec<_>>().join(","),
    }
}

/// The differences between the simulator's (`sim`) and Synnefo's
/// (`real`) observation of one step.
pub fn compare(sim: &Obs, real: &Obs) -> Vec<Diff> {
    let mut what = Vec::new();
    if sim.status != real.status {
        what.push(format!("status: {} | {}", sim.status, real.status));
    }
    match (&sim.fault, &real.fault) {
        (Some(a), Some(b)) => {
            for (name, x, y) in [
                ("kind", &a.kind, &b.kind),
                ("code", &a.code, &b.code),
                ("message", &a.message, &b.message),
                ("details", &a.details, &b.details),
            ] {
                if x != y {
                    what.push(format!("fault {name}: {x:?} | {y:?}"));
                }
            }
        }
        (Some(a), None) => what.push(format!("fault: {} | none", a.kind)),
        (None, Some(b)) => what.push(format!("fault: none | {}", b.kind)),
        (None, None) => {}
    }
    match (&sim.shape, &real.shape) {
        (Some(a), Some(b)) => shape_diffs("", a, b, &mut what),
        (None, None) if sim.fault.is_none() && real.fault.is_none() && sim.text != real.text => {
            what.push(format!("body: {:?} | {:?}", sim.text, real.text));
        }
        (None, None) => {}
        (a, b) if sim.fault.is_none() && real.fault.is_none() => what.push(format!(
            "body: {} | {}",
            if a.is_some() { "json" } else { "not json" },
            if b.is_some() { "json" } else { "not json" }
        )),
        _ => {}
    }
    let paths: BTreeSet<&String> = sim.values.keys().chain(real.values.keys()).collect();
    for p in paths {
        let (a, b) = (sim.values.get(p), real.values.get(p));
        // A key missing on one side is already a shape difference.
        if a.is_some() && b.is_some() && a != b {
            what.push(format!("value {p}: {} | {}", set_text(a), set_text(b)));
        }
    }
    let mut seen = BTreeSet::new();
    what.retain(|w| seen.insert(w.clone()));
    what.into_iter()
        .map(|what| Diff {
            step: sim.step.clone(),
            what,
        })
        .collect()
}
