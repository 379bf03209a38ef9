//! The OCCI text rendering (`text/plain` body lines, `text/occi`
//! headers): Category, Link, X-OCCI-Attribute and X-OCCI-Location fields.

use std::fmt::{self, Write as _};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::Renderer;
use crate::occi::attribute::AttributeValue;
use crate::occi::category::{CategoryRef, CategorySet};
use crate::occi::entity::{Link, Resource};
use crate::occi::infrastructure::{self, attr};

/// Writes `s` escaped for a quoted text value: `\` and `"` get a
/// backslash, CR, LF and tab become `\r`, `\n`, `\t`, other control
/// characters `\uXXXX`, so that one value always stays on one line.
pub fn write_escaped(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if c.is_control() => None,
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        match esc {
            Some(e) => out.write_str(e)?,
            None => write!(out, "\\u{:04x}", c as u32)?,
        }
        start = i + c.len_utf8();
    }
    out.write_str(&s[start..])
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    let _ = write_escaped(out, s);
    out.push('"');
}

/// The text fields of one message, in rendering order.
#[derive(Debug, Default)]
pub struct Fields {
    /// `Category` values.
    pub category: Vec<String>,
    /// `Link` values.
    pub link: Vec<String>,
    /// `X-OCCI-Attribute` values.
    pub attribute: Vec<String>,
    /// `X-OCCI-Location` values.
    pub location: Vec<String>,
}

const NAMES: [&str; 4] = ["Category", "Link", "X-OCCI-Attribute", "X-OCCI-Location"];

impl Fields {
    fn groups(&self) -> [&Vec<String>; 4] {
        [&self.category, &self.link, &self.attribute, &self.location]
    }

    /// The text/plain body: one `Name: value` line per value.
    pub fn to_body(&self) -> Bytes {
        let size: usize = self
            .groups()
            .iter()
            .flat_map(|g| g.iter())
            .map(|v| v.len() + 20)
            .sum();
        let mut out = String::with_capacity(size);
        for (name, values) in NAMES.iter().zip(self.groups()) {
            for v in values {
                out.push_str(name);
                out.push_str(": ");
                out.push_str(v);
                out.push('\n');
            }
        }
        Bytes::from(out)
    }

    /// The size the text/occi headers would take.
    pub fn header_bytes(&self) -> usize {
        self.groups()
            .iter()
            .flat_map(|g| g.iter())
            .map(|v| v.len() + 2)
            .sum()
    }

    /// The text/occi headers: one header per field name, values joined
    /// with `, ` (the recommended form; parsers split quote-aware).
    pub fn to_headers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, values) in NAMES.iter().zip(self.groups()) {
            if values.is_empty() {
                continue;
            }
            let joined = values.join(", ");
            // Values are built from escaped text; a value the http crate
            // still rejects (none known) is skipped rather than panicking.
            if let Ok(v) = HeaderValue::from_str(&joined) {
                map.append(HeaderName::from_static(lower(name)), v);
            }
        }
        map
    }
}

fn lower(name: &str) -> &'static str {
    match name {
        "Category" => "category",
        "Link" => "link",
        "X-OCCI-Attribute" => "x-occi-attribute",
        _ => "x-occi-location",
    }
}

/// `term; scheme="..."; class="..."` for a type id.
fn category_ref(type_id: &str, class: &str) -> String {
    let (scheme, term) = crate::occi::split_type_id(type_id).unwrap_or(("", type_id));
    let mut s = String::with_capacity(type_id.len() + 32);
    s.push_str(term);
    s.push_str("; scheme=");
    quoted(&mut s, scheme);
    s.push_str("; class=\"");
    s.push_str(class);
    s.push('"');
    s
}

fn attribute(name: &str, value: &AttributeValue) -> String {
    let mut s = String::with_capacity(name.len() + 16);
    s.push_str(name);
    s.push('=');
    let _ = write!(s, "{value}");
    s
}

/// The fields of a resource rendering.
pub fn resource(r: &Renderer, res: &Resource) -> Fields {
    let mut f = Fields::default();
    f.category.push(category_ref(&res.kind, "kind"));
    f.category
        .extend(res.mixins.iter().map(|m| category_ref(m, "mixin")));
    for l in &res.links {
        f.link.push(owned_link(r, l));
    }
    let url = r.url(&res.location);
    for a in &res.actions {
        let term = crate::occi::split_type_id(a).map(|(_, t)| t).unwrap_or(a);
        let mut s = format!("<{url}?action={term}>; rel=");
        quoted(&mut s, a);
        f.link.push(s);
    }
    f.attribute
        .push(attribute(attr::ID, &AttributeValue::String(res.id.clone())));
    for (n, v) in res.attributes.iter() {
        if n != attr::ID {
            f.attribute.push(attribute(n, v));
        }
    }
    f
}

/// `Link: <target>; rel=...; self=...; category=...; attributes` for a link
/// owned by a resource.
fn owned_link(r: &Renderer, l: &Link) -> String {
    let mut s = String::with_capacity(256);
    s.push('<');
    s.push_str(&r.url(&l.target.location));
    s.push_str(">; rel=");
    quoted(
        &mut s,
        l.target.kind.as_deref().unwrap_or(infrastructure::RESOURCE),
    );
    s.push_str("; self=");
    quoted(&mut s, &r.url(&l.location));
    s.push_str("; category=");
    let mut cat = l.kind.clone();
    for m in &l.mixins {
        cat.push(' ');
        cat.push_str(m);
    }
    quoted(&mut s, &cat);
    for (n, v) in link_attributes(r, l) {
        s.push_str("; ");
        s.push_str(&attribute(&n, &v));
    }
    s
}

fn link_attributes(r: &Renderer, l: &Link) -> Vec<(String, AttributeValue)> {
    let mut out = vec![
        (attr::ID.to_owned(), AttributeValue::String(l.id.clone())),
        (
            attr::SOURCE.to_owned(),
            AttributeValue::String(r.url(&l.source.location)),
        ),
        (
            attr::TARGET.to_owned(),
            AttributeValue::String(r.url(&l.target.location)),
        ),
    ];
    if let Some(k) = &l.source.kind {
        out.push((
            attr::SOURCE_KIND.to_owned(),
            AttributeValue::String(k.clone()),
        ));
    }
    if let Some(k) = &l.target.kind {
        out.push((
            attr::TARGET_KIND.to_owned(),
            AttributeValue::String(k.clone()),
        ));
    }
    for (n, v) in l.attributes.iter() {
        if !matches!(
            n,
            attr::ID | attr::SOURCE | attr::TARGET | attr::SOURCE_KIND | attr::TARGET_KIND
        ) {
            out.push((n.to_owned(), v.clone()));
        }
    }
    out
}

/// The fields of a link entity rendering.
pub fn link(r: &Renderer, l: &Link) -> Fields {
    let mut f = Fields::default();
    f.category.push(category_ref(&l.kind, "kind"));
    f.category
        .extend(l.mixins.iter().map(|m| category_ref(m, "mixin")));
    let url = r.url(&l.location);
    for a in &l.actions {
        let term = crate::occi::split_type_id(a).map(|(_, t)| t).unwrap_or(a);
        let mut s = format!("<{url}?action={term}>; rel=");
        quoted(&mut s, a);
        f.link.push(s);
    }
    f.attribute
        .extend(link_attributes(r, l).iter().map(|(n, v)| attribute(n, v)));
    f
}

/// The fields of a listing.
pub fn locations<S: AsRef<str>>(r: &Renderer, locations: &[S]) -> Fields {
    Fields {
        location: locations.iter().map(|l| r.url(l.as_ref())).collect(),
        ..Fields::default()
    }
}

/// One full Category value of the query interface.
pub fn category_line(c: CategoryRef<'_>) -> String {
    let cat = c.category();
    let mut s = String::with_capacity(256);
    s.push_str(&cat.term);
    s.push_str("; scheme=");
    quoted(&mut s, &cat.scheme);
    s.push_str("; class=\"");
    s.push_str(c.class().as_str());
    s.push('"');
    if let Some(t) = &cat.title {
        s.push_str("; title=");
        quoted(&mut s, t);
    }
    if let Some(rel) = c.rel() {
        s.push_str("; rel=");
        quoted(&mut s, rel);
    }
    if let Some(loc) = c.location() {
        s.push_str("; location=");
        quoted(&mut s, loc);
    }
    let defs = c.attributes();
    if !defs.is_empty() {
        let mut a = String::new();
        for (i, d) in defs.iter().enumerate() {
            if i > 0 {
                a.push(' ');
            }
            a.push_str(&d.name);
            match (!d.mutable, d.required) {
                (true, true) => a.push_str("{immutable required}"),
                (true, false) => a.push_str("{immutable}"),
                (false, true) => a.push_str("{required}"),
                (false, false) => {}
            }
        }
        s.push_str("; attributes=");
        quoted(&mut s, &a);
    }
    let actions = c.actions();
    if !actions.is_empty() {
        s.push_str("; actions=");
        quoted(&mut s, &actions.join(" "));
    }
    s
}

/// The fields of the query interface.
pub fn categories(set: &CategorySet<'_>) -> Fields {
    Fields {
        category: set.iter().map(category_line).collect(),
        ..Fields::default()
    }
}
