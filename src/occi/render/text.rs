//! The OCCI text rendering (`text/plain` body lines, `text/occi`
//! headers): Category, Link, X-OCCI-Attribute and X-OCCI-Location fields.
//!
//! Every value of a rendering is written into one buffer ([`Fields`]),
//! remembered as a span; the text/plain body and the text/occi headers
//! are then made from the spans with one copy, so no value costs an
//! allocation of its own.

use std::fmt::{self, Write as _};
use std::ops::Range;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{Renderer, renderable_attribute, renderable_category, renderable_type_id};
use crate::occi::attribute::AttributeValue;
use crate::occi::category::{CategoryRef, CategorySet};
use crate::occi::entity::{Link, Resource};
use crate::occi::infrastructure::{self, attr};

/// Writes `s` escaped for a quoted text value: `\` and `"` get a
/// backslash, CR, LF and tab become `\r`, `\n`, `\t`, other control
/// characters `\uXXXX`, so that one value always stays on one line.
pub fn write_escaped(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    // Scans bytes: every character that needs escaping is ASCII, or a C1
    // control (U+0080..U+009F, encoded 0xC2 0x80..0x9F). Eight at a time
    // while none of them is special (most values have nothing to escape).
    while i < bytes.len() {
        while let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
            if may_be_special(word) {
                break;
            }
            i += 8;
        }
        let Some(&b) = bytes.get(i) else { break };
        if !SPECIAL[b as usize] {
            i += 1;
            continue;
        }
        let (esc, len): (Option<&str>, usize) = match b {
            b'"' => (Some("\\\""), 1),
            b'\\' => (Some("\\\\"), 1),
            b'\n' => (Some("\\n"), 1),
            b'\r' => (Some("\\r"), 1),
            b'\t' => (Some("\\t"), 1),
            0..=0x1f | 0x7f => (None, 1),
            0xc2 if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => (None, 2),
            _ => {
                i += 1;
                continue;
            }
        };
        out.write_str(&s[start..i])?;
        match esc {
            Some(e) => out.write_str(e)?,
            None => {
                let c = s[i..].chars().next().map_or(0, |c| c as u32);
                write!(out, "\\u{c:04x}")?;
            }
        }
        i += len;
        start = i;
    }
    out.write_str(&s[start..])
}

/// Whether any of the eight bytes of `word` may be [`SPECIAL`] (never
/// false when one is; the byte loop then decides): the bit tricks of
/// "has a zero byte" and "has a byte less than n" (n <= 128), per byte.
#[inline]
fn may_be_special(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has = |byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (control | has(b'"') | has(b'\\') | has(0x7f) | has(0xc2)) != 0
}

/// The bytes [`write_escaped`] must look at: ASCII controls, `"`, `\`
/// and 0xC2 (the lead byte of the C1 controls).
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0x7f] = true;
    t[0xc2] = true;
    t
};

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    let _ = write_escaped(out, s);
    out.push('"');
}

/// The four text field names, in rendering order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `Category`.
    Category,
    /// `Link`.
    Link,
    /// `X-OCCI-Attribute`.
    Attribute,
    /// `X-OCCI-Location`.
    Location,
}

impl Field {
    const ALL: [Field; 4] = [
        Field::Category,
        Field::Link,
        Field::Attribute,
        Field::Location,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Category => "Category",
            Field::Link => "Link",
            Field::Attribute => "X-OCCI-Attribute",
            Field::Location => "X-OCCI-Location",
        }
    }

    fn header(self) -> HeaderName {
        HeaderName::from_static(match self {
            Field::Category => "category",
            Field::Link => "link",
            Field::Attribute => "x-occi-attribute",
            Field::Location => "x-occi-location",
        })
    }
}

/// The text fields of one message: every value in one buffer, each known
/// by its field and byte range.
#[derive(Debug, Default)]
pub struct Fields {
    buf: String,
    spans: Vec<(Field, Range<usize>)>,
}

impl Fields {
    /// Room for about `values` values of `bytes` bytes in all.
    pub fn with_capacity(values: usize, bytes: usize) -> Self {
        Fields {
            buf: String::with_capacity(bytes),
            spans: Vec::with_capacity(values),
        }
    }

    /// Appends one value of `field`, written by `write` into the buffer.
    pub fn push(&mut self, field: Field, write: impl FnOnce(&mut String)) {
        let start = self.buf.len();
        write(&mut self.buf);
        self.spans.push((field, start..self.buf.len()));
    }

    /// The values of `field`, in order.
    pub fn values(&self, field: Field) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .filter(move |(f, _)| *f == field)
            .map(|(_, r)| &self.buf[r.clone()])
    }

    /// The text/plain body: one `Name: value` line per value, fields in
    /// the order Category, Link, X-OCCI-Attribute, X-OCCI-Location.
    ///
    /// Lines are separated by a newline and the last one has none
    /// (TXT §3 only asks that lines be separated; rOCCI-core's text
    /// renderers join their lines with `"\n"` the same way): a client reading a create's one location as the
    /// whole body, as IM's OCCI connector does with
    /// `os.path.basename(resp.text)`, gets the id and not `id\n`.
    pub fn to_body(&self) -> Bytes {
        let size = self.buf.len() + self.spans.len() * 20;
        let mut out = String::with_capacity(size);
        for field in Field::ALL {
            for v in self.values(field) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(field.name());
                out.push_str(": ");
                out.push_str(v);
            }
        }
        Bytes::from(out)
    }

    /// The size the text/occi headers would take.
    pub fn header_bytes(&self) -> usize {
        self.buf.len() + self.spans.len() * 2
    }

    /// The text/occi headers: one header per field name, values joined
    /// with `, ` (the recommended form; parsers split quote-aware).
    pub fn to_headers(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for field in Field::ALL {
            let mut joined = String::new();
            for v in self.values(field) {
                if !joined.is_empty() {
                    joined.push_str(", ");
                }
                joined.push_str(v);
            }
            if joined.is_empty() {
                continue;
            }
            // Values are built from escaped text; a value the http crate
            // still rejects (none known) is skipped rather than panicking.
            if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(joined)) {
                map.append(field.header(), v);
            }
        }
        map
    }
}

/// `"<absolute url>"`, escaped.
fn quoted_url(out: &mut String, r: &Renderer, location: &str) {
    // Any byte that may need escaping (a superset of `"`, `\` and the
    // control characters) takes the escaping path.
    if location.bytes().any(|b| SPECIAL[usize::from(b)]) {
        quoted(out, &r.url(location));
    } else {
        out.push('"');
        r.write_url(out, location);
        out.push('"');
    }
}

/// `term; scheme="..."; class="..."` for a type id.
fn category_ref(s: &mut String, type_id: &str, class: &str) {
    let (scheme, term) = crate::occi::split_type_id(type_id).unwrap_or(("", type_id));
    s.push_str(term);
    s.push_str("; scheme=");
    quoted(s, scheme);
    s.push_str("; class=\"");
    s.push_str(class);
    s.push('"');
}

/// `name=value`, the value in its text form.
fn attribute(s: &mut String, name: &str, value: &AttributeValue) {
    s.push_str(name);
    s.push('=');
    match value {
        AttributeValue::String(v) => quoted(s, v),
        other => {
            let _ = write!(s, "{other}");
        }
    }
}

/// `name="<absolute url>"`.
fn url_attribute(s: &mut String, r: &Renderer, name: &str, location: &str) {
    s.push_str(name);
    s.push('=');
    quoted_url(s, r, location);
}

/// `<url?action=term>; rel="type id"` for each action.
fn action_links(f: &mut Fields, r: &Renderer, location: &str, actions: &[String]) {
    for a in actions {
        let term = crate::occi::split_type_id(a).map(|(_, t)| t).unwrap_or(a);
        f.push(Field::Link, |s| {
            s.push('<');
            r.write_url(s, location);
            s.push_str("?action=");
            s.push_str(term);
            s.push_str(">; rel=");
            quoted(s, a);
        });
    }
}

/// The fields of a resource rendering.
pub fn resource(r: &Renderer, res: &Resource) -> Fields {
    let values = 1
        + res.mixins.len()
        + res.links.len()
        + res.actions.len()
        + 1
        + res.attributes.iter().count();
    let mut f = Fields::with_capacity(values, 96 * values + 300 * res.links.len());
    f.push(Field::Category, |s| category_ref(s, &res.kind, "kind"));
    for m in res.mixins.iter().filter(|m| renderable_type_id(m)) {
        f.push(Field::Category, |s| category_ref(s, m, "mixin"));
    }
    for l in res.links.iter().filter(|l| renderable_type_id(&l.kind)) {
        f.push(Field::Link, |s| owned_link(s, r, l));
    }
    action_links(&mut f, r, &res.location, &res.actions);
    f.push(Field::Attribute, |s| {
        s.push_str(attr::ID);
        s.push('=');
        quoted(s, &res.id);
    });
    for (n, v) in res.attributes.iter() {
        if n != attr::ID && renderable_attribute(n) {
            f.push(Field::Attribute, |s| attribute(s, n, v));
        }
    }
    f
}

/// `Link: <target>; rel=...; self=...; category=...; attributes` for a link
/// owned by a resource.
fn owned_link(s: &mut String, r: &Renderer, l: &Link) {
    s.push('<');
    r.write_url(s, &l.target.location);
    s.push_str(">; rel=");
    quoted(
        s,
        l.target.kind.as_deref().unwrap_or(infrastructure::RESOURCE),
    );
    s.push_str("; self=");
    quoted_url(s, r, &l.location);
    s.push_str("; category=\"");
    // Type ids are space-separated here: one holding a space (or a quote)
    // would name other categories, so those are left out.
    let _ = write_escaped(s, &l.kind);
    for m in l.mixins.iter().filter(|m| renderable_type_id(m)) {
        s.push(' ');
        let _ = write_escaped(s, m);
    }
    s.push('"');
    link_attributes(r, l, |write| {
        s.push_str("; ");
        write(s);
    });
}

/// Calls `each` with a writer of every attribute of a link: id, source,
/// target, their kinds, then the link's own.
fn link_attributes(r: &Renderer, l: &Link, mut each: impl FnMut(&dyn Fn(&mut String))) {
    each(&|s| {
        s.push_str(attr::ID);
        s.push('=');
        quoted(s, &l.id);
    });
    each(&|s| url_attribute(s, r, attr::SOURCE, &l.source.location));
    each(&|s| url_attribute(s, r, attr::TARGET, &l.target.location));
    if let Some(k) = &l.source.kind {
        each(&|s| {
            s.push_str(attr::SOURCE_KIND);
            s.push('=');
            quoted(s, k);
        });
    }
    if let Some(k) = &l.target.kind {
        each(&|s| {
            s.push_str(attr::TARGET_KIND);
            s.push('=');
            quoted(s, k);
        });
    }
    for (n, v) in l.attributes.iter() {
        if !matches!(
            n,
            attr::ID | attr::SOURCE | attr::TARGET | attr::SOURCE_KIND | attr::TARGET_KIND
        ) && renderable_attribute(n)
        {
            each(&|s| attribute(s, n, v));
        }
    }
}

/// The fields of a link entity rendering.
pub fn link(r: &Renderer, l: &Link) -> Fields {
    let values = 1 + l.mixins.len() + l.actions.len() + 5 + l.attributes.iter().count();
    let mut f = Fields::with_capacity(values, 96 * values);
    f.push(Field::Category, |s| category_ref(s, &l.kind, "kind"));
    for m in l.mixins.iter().filter(|m| renderable_type_id(m)) {
        f.push(Field::Category, |s| category_ref(s, m, "mixin"));
    }
    action_links(&mut f, r, &l.location, &l.actions);
    link_attributes(r, l, |write| f.push(Field::Attribute, write));
    f
}

/// The fields of a listing.
pub fn locations<S: AsRef<str>>(r: &Renderer, locations: &[S]) -> Fields {
    let mut f = Fields::with_capacity(locations.len(), locations.len() * (r.base_url().len() + 24));
    for l in locations {
        f.push(Field::Location, |s| r.write_url(s, l.as_ref()));
    }
    f
}

/// One full Category value of the query interface. Unlike
/// [`categories`], it does not check the category: see
/// [`CategoryRef::check`].
pub fn category_line(c: CategoryRef<'_>) -> String {
    let mut s = String::with_capacity(256);
    write_category_line(&mut s, c);
    s
}

fn write_category_line(s: &mut String, c: CategoryRef<'_>) {
    let cat = c.category();
    s.push_str(&cat.term);
    s.push_str("; scheme=");
    quoted(s, &cat.scheme);
    s.push_str("; class=\"");
    s.push_str(c.class().as_str());
    s.push('"');
    if let Some(t) = &cat.title {
        s.push_str("; title=");
        quoted(s, t);
    }
    if let Some(rel) = c.rel() {
        s.push_str("; rel=");
        quoted(s, rel);
    }
    if let Some(loc) = c.location() {
        s.push_str("; location=");
        quoted(s, loc);
    }
    let defs = c.attributes();
    if !defs.is_empty() {
        s.push_str("; attributes=\"");
        for (i, d) in defs.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write_escaped(s, &d.name);
            match (!d.mutable, d.required) {
                (true, true) => s.push_str("{immutable required}"),
                (true, false) => s.push_str("{immutable}"),
                (false, true) => s.push_str("{required}"),
                (false, false) => {}
            }
        }
        s.push('"');
    }
    let actions = c.actions();
    if !actions.is_empty() {
        s.push_str("; actions=\"");
        for (i, a) in actions.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write_escaped(s, a);
        }
        s.push('"');
    }
}

/// The fields of the query interface: one Category per category that
/// follows the OCCI grammar ([`CategoryRef::check`]); any other is left
/// out, with a warning (see the module docs of `render`).
pub fn categories(set: &CategorySet<'_>) -> Fields {
    let n = set.iter().count();
    let mut f = Fields::with_capacity(n, n * 400);
    for c in set.iter().filter(|c| renderable_category(*c)) {
        f.push(Field::Category, |s| write_category_line(s, c));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The escaping rule stated char by char, to check the byte scanner.
    fn escaped_by_chars(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn escapes_quotes_controls_and_c1_controls() {
        let mut out = String::new();
        write_escaped(&mut out, "a\"b\\c\nd\u{7f}e\u{85}f\u{a0}g").unwrap();
        assert_eq!(out, "a\\\"b\\\\c\\nd\\u007fe\\u0085f\u{a0}g");
    }

    #[test]
    fn the_word_test_finds_every_special_byte_at_every_place() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = b;
                assert_eq!(
                    may_be_special(u64::from_le_bytes(word)),
                    SPECIAL[usize::from(b)],
                    "byte {b:#04x} at {at}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn byte_scanner_matches_the_char_rule(s in any::<String>()) {
            let mut out = String::new();
            write_escaped(&mut out, &s).unwrap();
            prop_assert_eq!(out, escaped_by_chars(&s));
        }

        // Mostly plain text with a few specials: the eight-byte skips run.
        #[test]
        fn byte_scanner_matches_the_char_rule_in_plain_text(
            s in "[a-z0-9 ./:-]{0,40}([\"\\\\\n\t\u{7f}\u{85}\u{a0}é\u{1}][a-z0-9 ./:-]{0,40}){0,4}"
        ) {
            let mut out = String::new();
            write_escaped(&mut out, &s).unwrap();
            prop_assert_eq!(out, escaped_by_chars(&s));
        }
    }
}
