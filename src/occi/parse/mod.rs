//! Parsers for every request syntax real clients send, behind one entry
//! point, [`parse_request`].
//!
//! ```
//! use http::HeaderMap;
//! use snf_occi_types::MediaType;
//! use snf_occi::occi::{parse_request, CategoryClass};
//! let body = b"Category: compute; scheme=\"http://schemas.ogf.org/occi/infrastructure#\"; class=\"kind\"\n\
//!              X-OCCI-Attribute: occi.core.title = newVM\n";
//! let req = parse_request(&HeaderMap::new(), body, Some(MediaType::TextPlain)).unwrap();
//! assert_eq!(req.kind().unwrap().term, "compute");
//! assert_eq!(req.attributes.get_str("occi.core.title"), Some("newVM"));
//! ```

pub mod json;
pub mod text;

use http::HeaderMap;
use snf_occi_types::MediaType;

use super::attribute::Attributes;
use super::category::{
    CategoryClass, GrammarError, check_location, check_scheme, check_term, check_title,
    check_type_id,
};

/// The largest request body the parsers accept (4 MiB).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The most fields (categories, links, attributes, locations) one request
/// may carry.
pub const MAX_FIELDS: usize = 20_000;
/// The most attributes one request (or one link of it) may carry: no
/// OCCI kind has more than a few dozen.
pub const MAX_ATTRIBUTES: usize = 1_000;
/// The longest attribute value (128 KiB: room for 64 KiB of base64 user
/// data, OpenStack's own limit, and more).
pub const MAX_VALUE_BYTES: usize = 128 * 1024;
/// The longest category term or attribute name.
pub const MAX_NAME_BYTES: usize = 256;
/// The longest category scheme, location or type id.
pub const MAX_SCHEME_BYTES: usize = 1024;
/// The longest category title.
pub const MAX_TITLE_BYTES: usize = 1024;

/// One `Category` of a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedCategory {
    /// The scheme.
    pub scheme: String,
    /// The term.
    pub term: String,
    /// The class, when the client gave one (the seed's examples do not).
    pub class: Option<CategoryClass>,
    /// `title`.
    pub title: Option<String>,
    /// `rel` type ids (a mixin definition's dependencies; space-separated).
    pub rel: Vec<String>,
    /// `location` (mixin definitions).
    pub location: Option<String>,
    /// `attributes`: (name, immutable, required).
    pub attributes: Vec<(String, bool, bool)>,
    /// `actions` type ids.
    pub actions: Vec<String>,
}

impl ParsedCategory {
    /// scheme + term.
    pub fn type_id(&self) -> String {
        format!("{}{}", self.scheme, self.term)
    }
}

/// An inline link of a create request (action links and `self` are
/// dropped: clients echo them, the spec says to ignore them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkRequest {
    /// The target: from `<...>`, else `occi.core.target`.
    pub target: String,
    /// The target kind (`rel`, else `occi.core.target.kind`).
    pub target_kind: Option<String>,
    /// The link kind (first type id of `category`).
    pub kind: Option<String>,
    /// Link mixins (other type ids of `category`).
    pub mixins: Vec<String>,
    /// The link's attributes (incl. `occi.core.*` ones the client sent).
    pub attributes: Attributes,
}

/// A parsed request: everything a client may send, not yet checked against
/// the catalogue (the app resolves classless categories and validates
/// attributes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OcciRequest {
    /// Every Category, in order (kind, mixins, action, or mixin definitions).
    pub categories: Vec<ParsedCategory>,
    /// `X-OCCI-Attribute`s (JSON `attributes`; JSON `id`/`title`/`summary`
    /// become `occi.core.*`; a JSON link's source/target become
    /// `occi.core.source`/`occi.core.target`).
    pub attributes: Attributes,
    /// Inline links.
    pub links: Vec<LinkRequest>,
    /// `X-OCCI-Location`s (mixin collection updates), or uri-list lines.
    pub locations: Vec<String>,
}

impl OcciRequest {
    /// The category explicitly classed `kind`.
    pub fn kind(&self) -> Option<&ParsedCategory> {
        self.categories
            .iter()
            .find(|c| c.class == Some(CategoryClass::Kind))
    }

    /// The categories explicitly classed `mixin`.
    pub fn mixins(&self) -> impl Iterator<Item = &ParsedCategory> {
        self.categories
            .iter()
            .filter(|c| c.class == Some(CategoryClass::Mixin))
    }

    /// The category explicitly classed `action`.
    pub fn action(&self) -> Option<&ParsedCategory> {
        self.categories
            .iter()
            .find(|c| c.class == Some(CategoryClass::Action))
    }

    /// The categories without a class (the app resolves them by type id,
    /// template name ...).
    pub fn unclassified(&self) -> impl Iterator<Item = &ParsedCategory> {
        self.categories.iter().filter(|c| c.class.is_none())
    }

    /// Whether nothing at all was sent.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
            && self.attributes.is_empty()
            && self.links.is_empty()
            && self.locations.is_empty()
    }
}

/// A request that cannot be parsed (400). Each message quotes the
/// offending part (cut to 120 characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text syntax is wrong.
    #[error("{what}: {part}")]
    Syntax {
        /// What is wrong.
        what: &'static str,
        /// The offending part of the input.
        part: String,
    },
    /// The JSON is malformed or has the wrong shape.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Two kinds, or one category twice.
    #[error("{0}")]
    Duplicate(String),
    /// The body or the number of fields is absurd.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// The body is not UTF-8.
    #[error("the request body is not valid UTF-8")]
    NotUtf8,
    /// A header the parser reads is not UTF-8.
    #[error("the {0} header is not valid UTF-8")]
    HeaderNotUtf8(String),
    /// A category (or a type id naming one) breaks the OCCI grammar: the
    /// message names the field, quotes it and says what is allowed.
    #[error(transparent)]
    Grammar(#[from] GrammarError),
}

/// Checks the sizes of what a request carries (attribute count, name and
/// value lengths): absurd ones are refused whatever the rendering.
pub(crate) fn check_attributes(attributes: &Attributes) -> Result<(), ParseError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ParseError::TooLarge(format!(
            "{} attributes, at most {MAX_ATTRIBUTES}",
            attributes.len()
        )));
    }
    for (name, value) in attributes.iter() {
        if name.len() > MAX_NAME_BYTES {
            return Err(ParseError::TooLarge(format!(
                "attribute name {} is {} bytes, at most {MAX_NAME_BYTES}",
                excerpt(name),
                name.len()
            )));
        }
        if let Some(text) = value.as_str()
            && text.len() > MAX_VALUE_BYTES
        {
            return Err(ParseError::TooLarge(format!(
                "attribute {name} is {} bytes long, at most {MAX_VALUE_BYTES}",
                text.len()
            )));
        }
    }
    Ok(())
}

/// Checks a category of a request, whatever its rendering: the lengths
/// of its parts (413 when absurd), then the OCCI grammar ([`GrammarError`],
/// 400): the term, the scheme (an absolute URI ending in `#`), the title
/// (no control characters), the location (a URI reference) and the type
/// ids of `rel` and `actions`. What passes can be stored and rendered
/// back without changing the rendering's meaning.
pub(crate) fn check_category(c: &ParsedCategory) -> Result<(), ParseError> {
    if c.term.len() > MAX_NAME_BYTES {
        return Err(ParseError::TooLarge(format!(
            "category term {} is {} bytes, at most {MAX_NAME_BYTES}",
            excerpt(&c.term),
            c.term.len()
        )));
    }
    if c.scheme.len() > MAX_SCHEME_BYTES {
        return Err(ParseError::TooLarge(format!(
            "category scheme {} is {} bytes, at most {MAX_SCHEME_BYTES}",
            excerpt(&c.scheme),
            c.scheme.len()
        )));
    }
    if let Some(title) = &c.title
        && title.len() > MAX_TITLE_BYTES
    {
        return Err(ParseError::TooLarge(format!(
            "category title {} is {} bytes, at most {MAX_TITLE_BYTES}",
            excerpt(title),
            title.len()
        )));
    }
    if let Some(location) = &c.location
        && location.len() > MAX_SCHEME_BYTES
    {
        return Err(ParseError::TooLarge(format!(
            "category location {} is {} bytes, at most {MAX_SCHEME_BYTES}",
            excerpt(location),
            location.len()
        )));
    }
    check_term(&c.term)?;
    check_scheme(&c.scheme)?;
    if let Some(title) = &c.title {
        check_title(title)?;
    }
    if let Some(location) = &c.location {
        check_location(location)?;
    }
    for type_id in c.rel.iter().chain(&c.actions) {
        check_type_id_sized(type_id)?;
    }
    Ok(())
}

/// [`check_type_id`], after the length check.
fn check_type_id_sized(type_id: &str) -> Result<(), ParseError> {
    if type_id.len() > MAX_SCHEME_BYTES + MAX_NAME_BYTES {
        return Err(ParseError::TooLarge(format!(
            "category type id {} is {} bytes, at most {}",
            excerpt(type_id),
            type_id.len(),
            MAX_SCHEME_BYTES + MAX_NAME_BYTES
        )));
    }
    Ok(check_type_id(type_id)?)
}

/// Checks the categories an inline link names: its kind and mixins
/// (`category`) and its target's kind (`rel`).
fn check_link(l: &LinkRequest) -> Result<(), ParseError> {
    for type_id in l.kind.iter().chain(&l.mixins).chain(&l.target_kind) {
        check_type_id_sized(type_id)?;
    }
    check_attributes(&l.attributes)
}

/// Applies [`check_category`], [`check_attributes`] and the link checks
/// to a parsed request, whichever rendering it came in.
fn check_request(req: OcciRequest) -> Result<OcciRequest, ParseError> {
    for c in &req.categories {
        check_category(c)?;
    }
    check_attributes(&req.attributes)?;
    for l in &req.links {
        check_link(l)?;
    }
    Ok(req)
}

/// Cuts `s` for quoting in an error.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 120;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Parses a request from its headers, body and request media type
/// (`Negotiated::request`).
///
/// - JSON media: the body as OCCI JSON (resource, link, action invocation,
///   mixin definitions);
/// - `text/occi`: the headers (the body too, if the headers carry no OCCI
///   field and the body is not blank);
/// - `text/plain` or no media type: the body lines if the body is not
///   blank, else the headers (the seed's curl examples send headers);
/// - `text/uri-list`: the lines as locations.
pub fn parse_request(
    headers: &HeaderMap,
    body: &[u8],
    media: Option<MediaType>,
) -> Result<OcciRequest, ParseError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ParseError::TooLarge(format!(
            "{} bytes, at most {MAX_BODY_BYTES}",
            body.len()
        )));
    }
    let body = std::str::from_utf8(body).map_err(|_| ParseError::NotUtf8)?;
    let blank = body.trim().is_empty();
    let parsed = match media {
        Some(m) if m.is_json() => {
            if blank {
                text::parse_headers(headers)
            } else {
                json::parse(body)
            }
        }
        Some(MediaType::UriList) => Ok(OcciRequest {
            locations: body
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect(),
            ..OcciRequest::default()
        }),
        Some(MediaType::TextOcci) => {
            let req = text::parse_headers(headers)?;
            if req.is_empty() && !blank && body.trim() != "OK" {
                text::parse_body(body)
            } else {
                Ok(req)
            }
        }
        _ => {
            if blank {
                text::parse_headers(headers)
            } else {
                text::parse_body(body)
            }
        }
    };
    check_request(parsed?)
}
