//! OCCI 1.2 JSON requests: a resource, a link, an action invocation
//! (`{"action": ..., "attributes": ...}`), or mixin definitions
//! (`{"mixins": [{term, scheme, location, depends, ...}]}`). A
//! `{"resources": [one]}` wrapper (the spec's own examples) is accepted.

use serde_json::{Map, Value};

use super::{LinkRequest, OcciRequest, ParseError, ParsedCategory, excerpt};
use crate::occi::attribute::{AttributeValue, Attributes};
use crate::occi::category::{CategoryClass, split_type_id};
use crate::occi::infrastructure::attr;

fn err(msg: impl Into<String>) -> ParseError {
    ParseError::Json(msg.into())
}

fn str_member<'a>(o: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ParseError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(format!("member \"{key}\" must be a string"))),
    }
}

fn str_list(o: &Map<String, Value>, key: &str) -> Result<Vec<String>, ParseError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(format!("\"{key}\" must be an array of strings")))
            })
            .collect(),
        Some(_) => Err(err(format!("member \"{key}\" must be an array of strings"))),
    }
}

fn typed(type_id: &str, class: CategoryClass) -> Result<ParsedCategory, ParseError> {
    let (scheme, term) = split_type_id(type_id)
        .ok_or_else(|| err(format!("not a category type id: {}", excerpt(type_id))))?;
    Ok(ParsedCategory {
        scheme: scheme.into(),
        term: term.into(),
        class: Some(class),
        ..ParsedCategory::default()
    })
}

fn attributes(o: &Map<String, Value>, into: &mut Attributes) -> Result<(), ParseError> {
    match o.get("attributes") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let value = AttributeValue::from_json(v).ok_or_else(|| {
                    err(format!(
                        "attribute {k}: unsupported value {}",
                        excerpt(&v.to_string())
                    ))
                })?;
                into.set(k.clone(), value);
            }
            Ok(())
        }
        Some(_) => Err(err("member \"attributes\" must be an object")),
    }
}

fn kinded(
    o: &Map<String, Value>,
    key: &str,
) -> Result<Option<(String, Option<String>)>, ParseError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some((s.clone(), None))),
        Some(Value::Object(k)) => {
            let loc = str_member(k, "location")?
                .ok_or_else(|| err(format!("\"{key}\" needs a \"location\"")))?;
            Ok(Some((
                loc.to_owned(),
                str_member(k, "kind")?.map(str::to_owned),
            )))
        }
        Some(_) => Err(err(format!("member \"{key}\" must be an object"))),
    }
}

fn entity(o: &Map<String, Value>, req: &mut OcciRequest) -> Result<(), ParseError> {
    let kind = str_member(o, "kind")?.ok_or_else(|| err("an entity needs a \"kind\""))?;
    req.categories.push(typed(kind, CategoryClass::Kind)?);
    for m in str_list(o, "mixins")? {
        let c = typed(&m, CategoryClass::Mixin)?;
        if req
            .categories
            .iter()
            .any(|o| o.term == c.term && o.scheme == c.scheme)
        {
            return Err(ParseError::Duplicate(format!(
                "category given twice: {}",
                excerpt(&m)
            )));
        }
        req.categories.push(c);
    }
    attributes(o, &mut req.attributes)?;
    for (key, name) in [
        ("id", attr::ID),
        ("title", attr::TITLE),
        ("summary", attr::SUMMARY),
    ] {
        if let Some(v) = str_member(o, key)? {
            req.attributes.set(name, v);
        }
    }
    if let Some((loc, kind)) = kinded(o, "source")? {
        req.attributes.set(attr::SOURCE, loc);
        if let Some(k) = kind {
            req.attributes.set(attr::SOURCE_KIND, k);
        }
    }
    if let Some((loc, kind)) = kinded(o, "target")? {
        req.attributes.set(attr::TARGET, loc);
        if let Some(k) = kind {
            req.attributes.set(attr::TARGET_KIND, k);
        }
    }
    match o.get("links") {
        None | Some(Value::Null) => {}
        Some(Value::Array(links)) => {
            for l in links {
                let l = l
                    .as_object()
                    .ok_or_else(|| err("\"links\" must be an array of objects"))?;
                let (target, target_kind) =
                    kinded(l, "target")?.ok_or_else(|| err("a link needs a \"target\""))?;
                let mut lr = LinkRequest {
                    target,
                    target_kind,
                    kind: str_member(l, "kind")?.map(str::to_owned),
                    mixins: str_list(l, "mixins")?,
                    attributes: Attributes::new(),
                };
                attributes(l, &mut lr.attributes)?;
                if let Some(id) = str_member(l, "id")? {
                    lr.attributes.set(attr::ID, id);
                }
                if let Some(t) = str_member(l, "title")? {
                    lr.attributes.set(attr::TITLE, t);
                }
                req.links.push(lr);
            }
        }
        Some(_) => return Err(err("member \"links\" must be an array")),
    }
    Ok(())
}

/// Parses a JSON request body.
pub fn parse(body: &str) -> Result<OcciRequest, ParseError> {
    let v: Value = serde_json::from_str(body).map_err(|e| err(e.to_string()))?;
    let o = v
        .as_object()
        .ok_or_else(|| err("the body must be a JSON object"))?;
    let mut req = OcciRequest::default();
    if let Some(action) = str_member(o, "action")? {
        req.categories.push(typed(action, CategoryClass::Action)?);
        attributes(o, &mut req.attributes)?;
        return Ok(req);
    }
    if o.contains_key("kind") {
        entity(o, &mut req)?;
        return Ok(req);
    }
    if let Some(r) = o.get("resources").or_else(|| o.get("links")) {
        let arr = r
            .as_array()
            .ok_or_else(|| err("\"resources\" must be an array"))?;
        return match arr.as_slice() {
            [one] => {
                entity(
                    one.as_object()
                        .ok_or_else(|| err("an entity must be an object"))?,
                    &mut req,
                )?;
                Ok(req)
            }
            _ => Err(err("exactly one entity per request")),
        };
    }
    if let Some(m) = o.get("mixins") {
        let arr = m
            .as_array()
            .ok_or_else(|| err("\"mixins\" must be an array"))?;
        for m in arr {
            let m = m
                .as_object()
                .ok_or_else(|| err("a mixin must be an object"))?;
            let term = str_member(m, "term")?.ok_or_else(|| err("a mixin needs a \"term\""))?;
            let scheme =
                str_member(m, "scheme")?.ok_or_else(|| err("a mixin needs a \"scheme\""))?;
            if term.is_empty() || scheme.is_empty() {
                return Err(err("a mixin needs a non-empty term and scheme"));
            }
            req.categories.push(ParsedCategory {
                scheme: scheme.into(),
                term: term.into(),
                class: Some(CategoryClass::Mixin),
                title: str_member(m, "title")?.map(str::to_owned),
                rel: str_list(m, "depends")?,
                location: str_member(m, "location")?.map(str::to_owned),
                attributes: Vec::new(),
                actions: Vec::new(),
            });
        }
        return Ok(req);
    }
    Err(err(
        "expected a resource, a link, an action invocation or mixin definitions",
    ))
}
