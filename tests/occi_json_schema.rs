//! Our JSON renderings follow the OCCI 1.2 JSON shapes
//! (`tests/fixtures/occi-1.2-shapes.json`): required members present,
//! no member the schema does not allow (`additionalProperties: false`),
//! every member of the right JSON type. Checked structurally by a small
//! walker: no JSON-Schema validator crate is a dependency.

use serde_json::Value;
use snf_occi::occi::infrastructure::{
    self as infra, attr, catalogue, os_template, resource_template,
};
use snf_occi::occi::{EntityRef, Link, Renderer, Resource};
use snf_occi_types::MediaType;

fn shapes() -> Value {
    serde_json::from_str(include_str!("fixtures/occi-1.2-shapes.json")).unwrap()
}

fn check(shapes: &Value, shape: &str, v: &Value, path: &str) {
    if let Some(item) = shape.strip_suffix("[]") {
        let arr = v
            .as_array()
            .unwrap_or_else(|| panic!("{path}: expected an array"));
        for (i, x) in arr.iter().enumerate() {
            check(shapes, item, x, &format!("{path}[{i}]"));
        }
        return;
    }
    match shape {
        "string" => assert!(v.is_string(), "{path}: expected a string, got {v}"),
        "boolean" => assert!(v.is_boolean(), "{path}: expected a boolean"),
        "object" => assert!(v.is_object(), "{path}: expected an object"),
        "any" => {}
        "type_name" => {
            let names = shapes["type_names"].as_array().unwrap();
            assert!(names.contains(v), "{path}: {v} is not a JSON type name");
        }
        "attributes" => {
            for (k, x) in v
                .as_object()
                .unwrap_or_else(|| panic!("{path}: expected an object"))
            {
                assert!(!x.is_null(), "{path}.{k}: null attribute value");
            }
        }
        "attribute_definitions" => {
            for (k, x) in v
                .as_object()
                .unwrap_or_else(|| panic!("{path}: expected an object"))
            {
                check(shapes, "attribute_definition", x, &format!("{path}.{k}"));
            }
        }
        object => {
            let def = &shapes[object];
            assert!(def.is_object(), "unknown shape {object}");
            let o = v
                .as_object()
                .unwrap_or_else(|| panic!("{path}: expected a {object} object"));
            for (k, t) in def["required"].as_object().unwrap() {
                let x = o
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}: required member {k} missing"));
                check(shapes, t.as_str().unwrap(), x, &format!("{path}.{k}"));
            }
            for (k, x) in o {
                if def["required"].get(k).is_some() {
                    continue;
                }
                let t = def["optional"]
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}: member {k} is not allowed in a {object}"));
                check(shapes, t.as_str().unwrap(), x, &format!("{path}.{k}"));
            }
        }
    }
}

fn compute() -> Resource {
    let mut r = Resource::new(infra::COMPUTE, "42", "/compute/42");
    r.mixins = vec![format!("{}img-1", infra::OS_TPL_SCHEME)];
    r.attributes.set(attr::TITLE, "vm");
    r.attributes.set(attr::SUMMARY, "a VM");
    r.attributes.set(attr::COMPUTE_MEMORY, 2.0f64);
    r.actions = vec![infra::COMPUTE_STOP.into()];
    let mut sl = Link::new(
        infra::STORAGELINK,
        "42_9",
        "/storagelink/42_9",
        EntityRef::new("/compute/42", infra::COMPUTE),
        EntityRef::new("/storage/9", infra::STORAGE),
    );
    sl.attributes.set(attr::SL_DEVICEID, "vdb");
    r.links = vec![sl];
    r
}

fn json(r: &snf_occi::occi::Rendered) -> Value {
    assert_eq!(r.media, MediaType::OcciJson);
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn resource_link_collection_and_model_follow_the_schema() {
    let s = shapes();
    let r = Renderer::new("http://localhost:8888");
    let res = compute();
    let v = json(&r.resource(&res, MediaType::OcciJson).unwrap());
    check(&s, "resource", &v, "resource");
    assert_eq!(v["title"], "vm");
    assert_eq!(
        v["links"][0]["target"]["location"],
        "http://localhost:8888/storage/9"
    );
    check(
        &s,
        "link",
        &json(&r.link(&res.links[0], MediaType::OcciJson).unwrap()),
        "link",
    );
    check(
        &s,
        "collection",
        &json(&r.collection(std::slice::from_ref(&res), &[], MediaType::OcciJson)),
        "collection",
    );
    check(
        &s,
        "collection",
        &json(&r.collection(&[], &res.links, MediaType::OcciJson)),
        "collection",
    );

    let tpls = [
        resource_template("3", "C2R2048D20", 2, 2.0, 20.0),
        os_template("img-1", "Debian"),
    ];
    let mut set = catalogue().category_set();
    set.mixins.extend(tpls.iter());
    let model = json(&r.categories(&set, MediaType::OcciJson).unwrap());
    check(&s, "model", &model, "model");
    // Entity is the only kind without a location (J4).
    let unbound: Vec<&Value> = model["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k.get("location").is_none())
        .map(|k| &k["term"])
        .collect();
    assert_eq!(unbound, [&Value::from("entity")]);
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let s = shapes();
    let bad = serde_json::json!({"kind": "x#y", "id": "1", "location": "/x/1"});
    let caught = std::panic::catch_unwind(|| check(&s, "resource", &bad, "r"));
    assert!(caught.is_err(), "an extra member must be rejected");
    let bad = serde_json::json!({"kind": "x#y"});
    assert!(std::panic::catch_unwind(|| check(&s, "resource", &bad, "r")).is_err());
}
