//! Reading request bodies as Cyclades' API does: its attribute, id,
//! metadata and personality checks, each refusal worded as Cyclades
//! words it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::fault::Fault;

/// Largest personality file, decoded (Synnefo's limit).
const MAX_PERSONALITY_BYTES: usize = 10_240;

/// Most personality files per server.
const MAX_PERSONALITY_FILES: usize = 5;

pub(super) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// An id given as a JSON number or string.
pub(super) fn id_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn num_id(s: &str) -> Option<u64> {
    s.trim().parse().ok()
}

pub(super) fn parse_metadata(body: &Value) -> Result<BTreeMap<String, String>, Fault> {
    let m = body
        .get("metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| Fault::bad_request("Malformed request: metadata missing"))?;
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(Fault::bad_request(format!(
                "Malformed metadata value for {k}"
            ))),
        })
        .collect()
}

/// Validates personality: paths, base64 contents within Synnefo's limits.
pub(super) fn check_personality(p: Option<&Value>) -> Result<usize, Fault> {
    use base64::Engine;
    let list = match p {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Fault::bad_request("Malformed personality")),
    };
    if list.len() > MAX_PERSONALITY_FILES {
        return Err(Fault::over_limit(
            "Maximum number of personality files exceeded",
        ));
    }
    for item in list {
        let path = str_field(item, "path")
            .ok_or_else(|| Fault::bad_request("Malformed personality: path missing"))?;
        if !path.starts_with('/') {
            return Err(Fault::bad_request(
                "Malformed personality: path must be absolute",
            ));
        }
        let contents = str_field(item, "contents")
            .ok_or_else(|| Fault::bad_request("Malformed personality: contents missing"))?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(contents.as_bytes())
            .map_err(|_| Fault::bad_request("Malformed personality: contents must be base64"))?;
        if decoded.len() > MAX_PERSONALITY_BYTES {
            return Err(Fault::over_limit("Maximum size of personality exceeded"));
        }
        if let Some(mode) = item.get("mode")
            && !mode.is_u64()
        {
            return Err(Fault::bad_request(
                "Malformed personality: mode must be a number",
            ));
        }
    }
    Ok(list.len())
}

/// `body[key]` as Synnefo's `api.utils.get_attribute` reads it: missing or
/// null is "Missing attribute", a value failing `valid` "Invalid ... field"
/// (both 400).
pub(super) fn attribute<'a>(
    body: &'a Value,
    key: &str,
    valid: fn(&Value) -> bool,
) -> Result<&'a Value, Fault> {
    match body.get(key) {
        None | Some(Value::Null) => Err(Fault::bad_request(format!(
            "Malformed request. Missing attribute '{key}'."
        ))),
        Some(v) if !valid(v) => Err(Fault::bad_request(format!(
            "Malformed request. Invalid '{key}' field"
        ))),
        Some(v) => Ok(v),
    }
}
