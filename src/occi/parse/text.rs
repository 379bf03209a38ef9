//! The text syntax (text/plain body lines and text/occi headers), tolerant
//! the way real clients need: repeated or comma-separated values, LF or
//! CRLF, unquoted values, trailing `;`, no spaces after `;`, spaces around
//! `=`, the `X-OCCI-Category`/`X-OCCI-Link`/`Location` aliases, targets in
//! `<...>` or `occi.core.target`, action links and `self=` ignored.
//!
//! Every scan is a single pass over the input: nothing is quadratic.

use http::HeaderMap;

use super::{LinkRequest, MAX_FIELDS, OcciRequest, ParseError, ParsedCategory, excerpt};
use crate::occi::attribute::AttributeValue;
use crate::occi::category::{CategoryClass, check_term, split_type_id};
use crate::occi::infrastructure::attr;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Category,
    Link,
    Attribute,
    Location,
}

fn field_of(name: &str) -> Option<Field> {
    let n = name.trim();
    if n.eq_ignore_ascii_case("category") || n.eq_ignore_ascii_case("x-occi-category") {
        Some(Field::Category)
    } else if n.eq_ignore_ascii_case("link") || n.eq_ignore_ascii_case("x-occi-link") {
        Some(Field::Link)
    } else if n.eq_ignore_ascii_case("x-occi-attribute") {
        Some(Field::Attribute)
    } else if n.eq_ignore_ascii_case("x-occi-location") || n.eq_ignore_ascii_case("location") {
        Some(Field::Location)
    } else {
        None
    }
}

fn syntax(what: &'static str, part: &str) -> ParseError {
    ParseError::Syntax {
        what,
        part: excerpt(part),
    }
}

/// Splits `s` at `sep` outside double quotes and `<...>`; a backslash
/// escapes the next character inside quotes.
fn split_outside(s: &str, sep: u8) -> Result<Vec<&str>, ParseError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut in_q, mut in_angle, mut esc) = (false, false, false);
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if in_q {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_q = false;
            }
            continue;
        }
        match c {
            b'"' => in_q = true,
            b'<' if !in_angle => in_angle = true,
            b'>' if in_angle => in_angle = false,
            _ if c == sep && !in_angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_q {
        return Err(syntax("unterminated quoted string", s));
    }
    out.push(&s[start..]);
    Ok(out)
}

/// Reads a value: `"quoted"` (unescaped) or a bare token (trimmed).
/// Returns the text and whether it was quoted.
fn value_text(raw: &str) -> Result<(String, bool), ParseError> {
    let v = raw.trim();
    if let Some(inner) = v.strip_prefix('"') {
        let Some(inner) = inner.strip_suffix('"') else {
            return Err(syntax("unterminated quoted string", v));
        };
        if inner.ends_with('\\')
            && !inner.ends_with("\\\\")
            && inner.len() + 2 == v.len()
            && v.len() >= 2
        {
            // `"abc\"` : the closing quote is escaped.
            let backslashes = inner.bytes().rev().take_while(|&c| c == b'\\').count();
            if backslashes % 2 == 1 {
                return Err(syntax("unterminated quoted string", v));
            }
        }
        return Ok((unescape(inner, v)?, true));
    }
    Ok((v.to_owned(), false))
}

fn unescape(s: &str, whole: &str) -> Result<String, ParseError> {
    if !s.contains('\\') {
        if s.contains('"') {
            return Err(syntax("unescaped quote inside a quoted string", whole));
        }
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let ch = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| syntax("bad \\u escape", whole))?;
                    out.push(ch);
                }
                Some(other) => out.push(other),
                None => return Err(syntax("dangling backslash", whole)),
            },
            '"' => return Err(syntax("unescaped quote inside a quoted string", whole)),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Parses an attribute value: quoted string, bare number, boolean, JSON
/// list, or a bare token (taken as a string: `occi.core.title = newVM`).
pub fn attribute_value(raw: &str) -> Result<AttributeValue, ParseError> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(syntax("attribute without a value", raw));
    }
    if v.starts_with('"') {
        return Ok(AttributeValue::String(value_text(v)?.0));
    }
    if v == "true" {
        return Ok(AttributeValue::Bool(true));
    }
    if v == "false" {
        return Ok(AttributeValue::Bool(false));
    }
    if v.starts_with('[') {
        let j: serde_json::Value =
            serde_json::from_str(v).map_err(|_| syntax("malformed list value", v))?;
        return AttributeValue::from_json(&j).ok_or_else(|| syntax("malformed list value", v));
    }
    let numeric = v
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E'))
        && v.bytes().any(|c| c.is_ascii_digit());
    if numeric {
        if let Ok(n) = v.parse::<i64>() {
            return Ok(AttributeValue::Integer(n));
        }
        if let Ok(f) = v.parse::<f64>()
            && f.is_finite()
        {
            return Ok(AttributeValue::Float(f));
        }
    }
    Ok(AttributeValue::String(v.to_owned()))
}

fn valid_attr_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// `name=value`.
fn attribute(s: &str) -> Result<(String, AttributeValue), ParseError> {
    let Some((name, value)) = s.split_once('=') else {
        return Err(syntax("attribute without '='", s));
    };
    let name = name.trim();
    if !valid_attr_name(name) {
        return Err(syntax("invalid attribute name", s));
    }
    Ok((name.to_owned(), attribute_value(value)?))
}

/// One Category value.
pub fn category(s: &str) -> Result<ParsedCategory, ParseError> {
    let chunks = split_outside(s, b';')?;
    let term = chunks[0].trim();
    if term.is_empty() {
        return Err(syntax("category without a term", s));
    }
    // Checked here, before the parameters: a term that breaks the
    // grammar may be what made the rest of the line unreadable.
    check_term(term)?;
    let mut c = ParsedCategory {
        term: term.to_owned(),
        ..ParsedCategory::default()
    };
    let mut scheme = None;
    for chunk in &chunks[1..] {
        if chunk.trim().is_empty() {
            continue; // trailing `;`
        }
        let Some((key, raw)) = chunk.split_once('=') else {
            return Err(syntax("category parameter without '='", chunk));
        };
        let (value, _) = value_text(raw)?;
        match key.trim().to_ascii_lowercase().as_str() {
            "scheme" => scheme = Some(value),
            "class" => {
                c.class = Some(
                    CategoryClass::parse(&value)
                        .ok_or_else(|| syntax("unknown category class", chunk))?,
                )
            }
            "title" => c.title = Some(value),
            "rel" => c.rel = value.split_whitespace().map(str::to_owned).collect(),
            "location" => c.location = Some(value),
            "attributes" => c.attributes = attribute_defs(&value),
            "actions" => c.actions = value.split_whitespace().map(str::to_owned).collect(),
            _ => {} // unknown parameters are ignored (forward compatibility)
        }
    }
    match scheme {
        Some(s) if !s.is_empty() => c.scheme = s,
        _ => return Err(syntax("category without a scheme", s)),
    }
    Ok(c)
}

fn attribute_defs(v: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let mut rest = v.trim();
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c == '{' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = &rest[..end];
        rest = &rest[end..];
        let (mut imm, mut req) = (false, false);
        if let Some(after) = rest.strip_prefix('{') {
            let close = after.find('}').unwrap_or(after.len());
            for flag in after[..close].split_whitespace() {
                imm |= flag == "immutable";
                req |= flag == "required";
            }
            rest = after.get(close + 1..).unwrap_or("");
        }
        if !name.is_empty() {
            out.push((name.to_owned(), imm, req));
        }
        rest = rest.trim_start();
    }
    out
}

/// One Link value; `None` for an action link (ignored in requests).
pub fn link(s: &str) -> Result<Option<LinkRequest>, ParseError> {
    let chunks = split_outside(s, b';')?;
    let first = chunks[0].trim();
    let mut l = LinkRequest::default();
    let mut rest = &chunks[..];
    if let Some(inner) = first.strip_prefix('<') {
        let Some(uri) = inner.strip_suffix('>') else {
            return Err(syntax("link target without closing '>'", s));
        };
        l.target = uri.trim().to_owned();
        rest = &chunks[1..];
    } else if !first.contains('=') {
        return Err(syntax("link target must be written <URI>", s));
    }
    for chunk in rest {
        if chunk.trim().is_empty() {
            continue;
        }
        let Some((key, raw)) = chunk.split_once('=') else {
            return Err(syntax("link parameter without '='", chunk));
        };
        match key.trim() {
            "rel" => {
                l.target_kind = value_text(raw)?
                    .0
                    .split_whitespace()
                    .next()
                    .map(str::to_owned)
            }
            "self" => {} // clients echo it; the server names links
            "category" => {
                let v = value_text(raw)?.0;
                let mut ids = v.split_whitespace().map(str::to_owned);
                l.kind = ids.next();
                l.mixins = ids.collect();
            }
            _ => {
                let (n, v) = attribute(chunk)?;
                if !l.attributes.insert_new(n.clone(), v) {
                    return Err(ParseError::Duplicate(format!(
                        "link attribute {n} given twice"
                    )));
                }
            }
        }
    }
    let is_action = l.target.contains("?action=")
        || l.target_kind
            .as_deref()
            .is_some_and(|r| split_type_id(r).is_some_and(|(s, _)| s.ends_with("/action#")));
    if is_action {
        return Ok(None);
    }
    if l.target.is_empty() {
        match l.attributes.get_str(attr::TARGET) {
            Some(t) if !t.is_empty() => l.target = t.to_owned(),
            _ => return Err(syntax("link without a target", s)),
        }
    }
    if l.target_kind.is_none() {
        l.target_kind = l.attributes.get_str(attr::TARGET_KIND).map(str::to_owned);
    }
    Ok(Some(l))
}

struct Builder {
    req: OcciRequest,
    fields: usize,
}

impl Builder {
    fn new() -> Self {
        Builder {
            req: OcciRequest::default(),
            fields: 0,
        }
    }

    fn add(&mut self, field: Field, value: &str) -> Result<(), ParseError> {
        if value.trim().is_empty() {
            let name = match field {
                Field::Category => "Category",
                Field::Link => "Link",
                Field::Attribute => "X-OCCI-Attribute",
                Field::Location => "X-OCCI-Location",
            };
            return Err(syntax("empty field", name));
        }
        for part in split_outside(value, b',')? {
            if part.trim().is_empty() {
                continue;
            }
            self.fields += 1;
            if self.fields > MAX_FIELDS {
                return Err(ParseError::TooLarge(format!(
                    "more than {MAX_FIELDS} fields"
                )));
            }
            match field {
                Field::Category => {
                    let c = category(part)?;
                    if c.class == Some(CategoryClass::Kind) && self.req.kind().is_some() {
                        return Err(ParseError::Duplicate(format!(
                            "more than one kind: {}",
                            excerpt(part.trim())
                        )));
                    }
                    if self
                        .req
                        .categories
                        .iter()
                        .any(|o| o.term == c.term && o.scheme == c.scheme)
                    {
                        return Err(ParseError::Duplicate(format!(
                            "category given twice: {}",
                            excerpt(&c.type_id())
                        )));
                    }
                    self.req.categories.push(c);
                }
                Field::Link => {
                    if let Some(l) = link(part)? {
                        self.req.links.push(l);
                    }
                }
                Field::Attribute => {
                    let (n, v) = attribute(part)?;
                    if !self.req.attributes.insert_new(n.clone(), v) {
                        return Err(ParseError::Duplicate(format!("attribute {n} given twice")));
                    }
                }
                Field::Location => self.req.locations.push(part.trim().to_owned()),
            }
        }
        Ok(())
    }
}

/// Parses the OCCI fields of a header map (repeated and comma-separated).
pub fn parse_headers(headers: &HeaderMap) -> Result<OcciRequest, ParseError> {
    let mut b = Builder::new();
    for (name, value) in headers {
        let Some(field) = field_of(name.as_str()) else {
            continue;
        };
        let value = std::str::from_utf8(value.as_bytes())
            .map_err(|_| ParseError::HeaderNotUtf8(name.as_str().to_owned()))?;
        b.add(field, value)?;
    }
    Ok(b.req)
}

/// Parses a text/plain body (LF or CRLF lines; blank lines ignored).
pub fn parse_body(body: &str) -> Result<OcciRequest, ParseError> {
    let mut b = Builder::new();
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(syntax("line without a field name", line));
        };
        let Some(field) = field_of(name) else {
            return Err(syntax("unknown field", line));
        };
        b.add(field, value)?;
    }
    Ok(b.req)
}
