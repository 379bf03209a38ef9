//! Categories: the OCCI type system (Kind, Mixin, Action).
//!
//! A category is identified by its *type id*, the scheme followed by the
//! term (`http://schemas.ogf.org/occi/infrastructure#` + `compute`).

use std::fmt;

use super::attribute::AttributeDef;

/// Which of the three category classes a category is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CategoryClass {
    /// A Kind: the type of an entity.
    Kind,
    /// A Mixin: extra capabilities added to an entity.
    Mixin,
    /// An Action: an operation on an entity.
    Action,
}

impl CategoryClass {
    /// The `class` parameter value of text renderings.
    pub const fn as_str(self) -> &'static str {
        match self {
            CategoryClass::Kind => "kind",
            CategoryClass::Mixin => "mixin",
            CategoryClass::Action => "action",
        }
    }

    /// Parses a `class` value (case-insensitive).
    pub fn parse(s: &str) -> Option<CategoryClass> {
        if s.eq_ignore_ascii_case("kind") {
            Some(CategoryClass::Kind)
        } else if s.eq_ignore_ascii_case("mixin") {
            Some(CategoryClass::Mixin)
        } else if s.eq_ignore_ascii_case("action") {
            Some(CategoryClass::Action)
        } else {
            None
        }
    }
}

impl fmt::Display for CategoryClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity shared by every category: scheme, term and title.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Category {
    /// The scheme, ending in `#`.
    pub scheme: String,
    /// The term, unique within the scheme.
    pub term: String,
    /// A human readable title.
    pub title: Option<String>,
}

impl Category {
    /// A category without a title.
    pub fn new(scheme: impl Into<String>, term: impl Into<String>) -> Self {
        Category {
            scheme: scheme.into(),
            term: term.into(),
            title: None,
        }
    }

    /// Sets the title.
    pub fn titled(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// The type id: scheme + term.
    pub fn type_id(&self) -> String {
        let mut s = String::with_capacity(self.scheme.len() + self.term.len());
        s.push_str(&self.scheme);
        s.push_str(&self.term);
        s
    }

    /// Whether `type_id` names this category.
    pub fn is(&self, type_id: &str) -> bool {
        type_id.len() == self.scheme.len() + self.term.len()
            && type_id.starts_with(&self.scheme)
            && type_id.ends_with(&self.term)
    }
}

/// Splits a type id into scheme (up to and including the last `#`) and
/// term. `None` when there is no `#` or the term is empty.
///
/// ```
/// use snf_occi::occi::split_type_id;
/// assert_eq!(
///     split_type_id("http://schemas.ogf.org/occi/infrastructure#compute"),
///     Some(("http://schemas.ogf.org/occi/infrastructure#", "compute"))
/// );
/// assert_eq!(split_type_id("compute"), None);
/// ```
pub fn split_type_id(type_id: &str) -> Option<(&str, &str)> {
    let at = type_id.rfind('#')?;
    let (scheme, term) = type_id.split_at(at + 1);
    if term.is_empty() || scheme.len() < 2 {
        None
    } else {
        Some((scheme, term))
    }
}

/// Which part of a category breaks the OCCI grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrammarField {
    /// The term.
    Term,
    /// The scheme.
    Scheme,
    /// A type id (scheme + term): a `rel`, `actions` or link `category`.
    TypeId,
    /// The title.
    Title,
    /// The location.
    Location,
    /// An attribute name.
    AttributeName,
}

impl GrammarField {
    /// How the field is named in messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrammarField::Term => "category term",
            GrammarField::Scheme => "category scheme",
            GrammarField::TypeId => "category type id",
            GrammarField::Title => "category title",
            GrammarField::Location => "category location",
            GrammarField::AttributeName => "attribute name",
        }
    }
}

/// A category part that breaks the OCCI 1.2 grammar, with the offending
/// value (escaped and cut, so that the message itself stays on one line)
/// and why. Its message names the field: `category term "a\r\nb": ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} {value}: {why}", field.as_str())]
pub struct GrammarError {
    /// The part.
    pub field: GrammarField,
    /// The value, quoted and escaped as a Rust string literal, at most
    /// about 120 characters.
    pub value: String,
    /// What the grammar requires.
    pub why: &'static str,
}

impl GrammarError {
    fn new(field: GrammarField, value: &str, why: &'static str) -> Self {
        const MAX: usize = 120;
        let mut end = value.len().min(MAX);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let mut quoted = format!("{:?}", &value[..end]);
        if end < value.len() {
            quoted.push_str("...");
        }
        GrammarError {
            field,
            value: quoted,
            why,
        }
    }
}

const TERM_RULE: &str = "a term is a letter or digit followed by letters, digits, '-', '_' or '.' \
     (OCCI 1.2 text rendering: term = ( ALPHA | DIGIT ) *( ALPHA | DIGIT | \"-\" | \"_\" | \".\" ))";

/// Whether `term` is an OCCI 1.2 term, `( ALPHA | DIGIT ) *( ALPHA |
/// DIGIT | "-" | "_" | "." )` (text rendering, Category ABNF; attribute
/// names follow the same rule). A term is written bare in the text
/// renderings, so anything else (a space, `;`, `"`, CR or LF) would change
/// the rendering's meaning.
///
/// ```
/// use snf_occi::occi::category::is_valid_term;
/// assert!(is_valid_term("compute"));
/// assert!(is_valid_term("9e8a3b2c-1f00-4c7e-9d8f-000000000001"));
/// assert!(is_valid_term("C2R2048D20.large"));
/// assert!(!is_valid_term("-x"));
/// assert!(!is_valid_term("a\r\nCategory: x"));
/// assert!(!is_valid_term("tag\"; class=\"kind"));
/// ```
pub fn is_valid_term(term: &str) -> bool {
    let bytes = term.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|&b| TERM_BYTE[usize::from(b)])
}

/// The bytes of a term after its first, as a table: every attribute name
/// and term rendered is checked byte by byte.
static TERM_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.';
        b += 1;
    }
    t
};

/// Checks a term ([`is_valid_term`]).
pub fn check_term(term: &str) -> Result<(), GrammarError> {
    if term.is_empty() {
        return Err(GrammarError::new(
            GrammarField::Term,
            term,
            "a category needs a term",
        ));
    }
    if is_valid_term(term) {
        Ok(())
    } else {
        Err(GrammarError::new(GrammarField::Term, term, TERM_RULE))
    }
}

/// Checks a scheme: an absolute URI (RFC 3986: ASCII, no spaces, quotes
/// or control characters) whose only `#` is its last character, so that
/// scheme + term splits back at the last `#`.
///
/// ```
/// use snf_occi::occi::category::check_scheme;
/// assert!(check_scheme("http://example.com/tags#").is_ok());
/// assert!(check_scheme("http://example.com/tags").is_err());
/// assert!(check_scheme("/tags#").is_err());
/// assert!(check_scheme("http://example.com/a b#").is_err());
/// assert!(check_scheme("http://x#\"; class=\"kind\"#").is_err());
/// ```
pub fn check_scheme(scheme: &str) -> Result<(), GrammarError> {
    let fail = |why| Err(GrammarError::new(GrammarField::Scheme, scheme, why));
    if scheme.is_empty() {
        return fail("a category needs a scheme");
    }
    // The model's own schemes come back in every rendering: a comparison
    // with each is cheaper than walking their bytes again.
    if KNOWN_SCHEMES.contains(&scheme) {
        return Ok(());
    }
    if !is_plain_uri(scheme, Shape::Absolute)
        && iri_string::validate::iri::<iri_string::spec::UriSpec>(scheme).is_err()
    {
        return fail("a scheme is an absolute URI (RFC 3986), e.g. http://example.com/tags#");
    }
    // A URI's fragment cannot hold `#`, so ending in `#` means the
    // fragment is empty: the scheme's only `#` is its last character.
    if !scheme.ends_with('#') {
        return fail("a scheme ends in '#', e.g. http://example.com/tags#");
    }
    Ok(())
}

/// The schemes of the OCCI model this server serves, valid by the tests
/// below (`known_schemes_are_valid`).
const KNOWN_SCHEMES: [&str; 15] = {
    use super::infrastructure as i;
    [
        i::CORE_SCHEME,
        i::INFRA_SCHEME,
        i::COMPUTE_ACTION_SCHEME,
        i::STORAGE_ACTION_SCHEME,
        i::NETWORK_ACTION_SCHEME,
        i::IPNETWORK_SCHEME,
        i::IPNETWORKINTERFACE_SCHEME,
        i::CREDENTIALS_SCHEME,
        i::COMPUTE_MIXIN_SCHEME,
        i::OPENSTACK_CREDENTIALS_SCHEME,
        i::OPENSTACK_INSTANCE_SCHEME,
        i::RESOURCE_TPL_SCHEME,
        i::OS_TPL_SCHEME,
        i::SYNNEFO_INFRA_SCHEME,
        i::STORAGE_TPL_SCHEME,
    ]
};

/// Which URIs [`is_plain_uri`] looks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `scheme "://" host path [ "#" fragment ]`.
    Absolute,
    /// That, or an absolute path (`/a/b/`).
    Reference,
}

/// A path, fragment or host character that never needs a closer look:
/// unreserved, sub-delims, `:` and `@` (RFC 3986 `pchar` without
/// percent-encodings).
fn plain_pchar(b: u8) -> bool {
    PLAIN_PCHAR[usize::from(b)]
}

/// [`plain_pchar`] as a table: it runs for every byte of every scheme
/// and location rendered.
static PLAIN_PCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric();
        b += 1;
    }
    let extra = b"-._~!$&'()*+,;=:@";
    let mut i = 0;
    while i < extra.len() {
        t[extra[i] as usize] = true;
        i += 1;
    }
    t
};

/// A fast test of the usual shapes, so that rendering hundreds of
/// categories costs no full parse each: `ALPHA *( ALPHA / DIGIT / "+" /
/// "-" / "." ) "://"` a host name of letters, digits, `-` and `.`, a
/// path of [`plain_pchar`]s and `/`, an optional fragment of the same;
/// or (for a reference) such a path starting with one `/`. Every string
/// it accepts is a URI (or URI reference) by RFC 3986; anything else is
/// left to the full parser, so it never changes the answer.
fn is_plain_uri(s: &str, shape: Shape) -> bool {
    let bytes = s.as_bytes();
    let path_ok = |p: &[u8]| p.iter().all(|&b| b == b'/' || plain_pchar(b));
    let tail_ok = |tail: &[u8]| match tail.iter().position(|&b| b == b'#') {
        Some(i) => {
            path_ok(&tail[..i]) && tail[i + 1..].iter().all(|&b| plain_pchar(b) || b == b'/')
        }
        None => path_ok(tail),
    };
    if shape == Shape::Reference && bytes.first() == Some(&b'/') {
        return bytes.get(1) != Some(&b'/') && tail_ok(bytes);
    }
    let Some(colon) = bytes.iter().position(|&b| b == b':') else {
        return false;
    };
    let (scheme, rest) = bytes.split_at(colon);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let Some(rest) = rest.strip_prefix(b"://") else {
        return false;
    };
    let host_end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'#')
        .unwrap_or(rest.len());
    let (host, tail) = rest.split_at(host_end);
    scheme_ok
        && !host.is_empty()
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        && tail_ok(tail)
}

/// Checks a type id: a scheme ([`check_scheme`]) followed by a term
/// ([`check_term`]).
pub fn check_type_id(type_id: &str) -> Result<(), GrammarError> {
    let Some((scheme, term)) = split_type_id(type_id) else {
        return Err(GrammarError::new(
            GrammarField::TypeId,
            type_id,
            "a type id is a scheme ending in '#' followed by a term",
        ));
    };
    check_scheme(scheme).and_then(|()| check_term(term))
}

/// Checks a title: any text without control characters (the text
/// renderings write it as an escaped quoted-string, one line).
pub fn check_title(title: &str) -> Result<(), GrammarError> {
    if title.chars().any(char::is_control) {
        Err(GrammarError::new(
            GrammarField::Title,
            title,
            "a title may not contain control characters (line breaks, tabs, ...)",
        ))
    } else {
        Ok(())
    }
}

/// Checks a location: a URI reference (RFC 3986), e.g. `/my_tag/` or
/// `http://example.com/my_tag/`.
pub fn check_location(location: &str) -> Result<(), GrammarError> {
    if location.is_empty()
        || !is_plain_uri(location, Shape::Reference)
            && iri_string::validate::iri_reference::<iri_string::spec::UriSpec>(location).is_err()
    {
        Err(GrammarError::new(
            GrammarField::Location,
            location,
            "a location is a URI reference (RFC 3986), e.g. /my_tag/",
        ))
    } else {
        Ok(())
    }
}

/// Checks an attribute name (the term rule, [`is_valid_term`]).
pub fn check_attribute_name(name: &str) -> Result<(), GrammarError> {
    if is_valid_term(name) {
        Ok(())
    } else {
        Err(GrammarError::new(
            GrammarField::AttributeName,
            name,
            "an attribute name is a letter or digit followed by letters, digits, '-', '_' or '.'",
        ))
    }
}

impl Category {
    /// Checks the term, scheme and title against the OCCI grammar.
    pub fn check(&self) -> Result<(), GrammarError> {
        check_term(&self.term)?;
        check_scheme(&self.scheme)?;
        if let Some(title) = &self.title {
            check_title(title)?;
        }
        Ok(())
    }
}

/// A Kind: the type of an entity, with its parent, attributes, actions
/// and location.
#[derive(Clone, Debug, PartialEq)]
pub struct Kind {
    /// Scheme, term, title.
    pub category: Category,
    /// The parent kind's type id (`None` only for `entity`).
    pub parent: Option<String>,
    /// The attributes this kind defines (not the inherited ones).
    pub attributes: Vec<AttributeDef>,
    /// Type ids of the actions instances of this kind support.
    pub actions: Vec<String>,
    /// The absolute path of the collection (`/compute/`); `None` for kinds
    /// that cannot be instantiated (entity).
    pub location: Option<String>,
}

/// A Mixin: capabilities added to entities (templates, contextualization,
/// user tags).
#[derive(Clone, Debug, PartialEq)]
pub struct Mixin {
    /// Scheme, term, title.
    pub category: Category,
    /// Type ids of the mixins this one depends on (text `rel` is the
    /// first of them).
    pub depends: Vec<String>,
    /// Type ids of the kinds this mixin may be applied to.
    pub applies: Vec<String>,
    /// The attributes this mixin defines.
    pub attributes: Vec<AttributeDef>,
    /// Type ids of the actions this mixin adds.
    pub actions: Vec<String>,
    /// The absolute path of the mixin collection (`/os_tpl/`).
    pub location: Option<String>,
}

impl Mixin {
    /// A mixin with nothing but its identity and location.
    pub fn new(category: Category, location: Option<String>) -> Self {
        Mixin {
            category,
            depends: Vec::new(),
            applies: Vec::new(),
            attributes: Vec::new(),
            actions: Vec::new(),
            location,
        }
    }

    /// Whether this mixin depends on `type_id` (directly).
    pub fn depends_on(&self, type_id: &str) -> bool {
        self.depends.iter().any(|d| d == type_id)
    }
}

/// An Action: an operation on an entity, with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// Scheme, term, title.
    pub category: Category,
    /// The parameters of an invocation (`method`, `name`).
    pub attributes: Vec<AttributeDef>,
}

/// Borrowed views of the three classes, for code that renders or looks up
/// any category.
#[derive(Clone, Copy, Debug)]
pub enum CategoryRef<'a> {
    /// A kind.
    Kind(&'a Kind),
    /// A mixin.
    Mixin(&'a Mixin),
    /// An action.
    Action(&'a Action),
}

impl<'a> CategoryRef<'a> {
    /// The identity.
    pub fn category(&self) -> &'a Category {
        match self {
            CategoryRef::Kind(k) => &k.category,
            CategoryRef::Mixin(m) => &m.category,
            CategoryRef::Action(a) => &a.category,
        }
    }

    /// The class.
    pub fn class(&self) -> CategoryClass {
        match self {
            CategoryRef::Kind(_) => CategoryClass::Kind,
            CategoryRef::Mixin(_) => CategoryClass::Mixin,
            CategoryRef::Action(_) => CategoryClass::Action,
        }
    }

    /// The attribute definitions.
    pub fn attributes(&self) -> &'a [AttributeDef] {
        match self {
            CategoryRef::Kind(k) => &k.attributes,
            CategoryRef::Mixin(m) => &m.attributes,
            CategoryRef::Action(a) => &a.attributes,
        }
    }

    /// The action type ids (empty for actions).
    pub fn actions(&self) -> &'a [String] {
        match self {
            CategoryRef::Kind(k) => &k.actions,
            CategoryRef::Mixin(m) => &m.actions,
            CategoryRef::Action(_) => &[],
        }
    }

    /// The location, if bound.
    pub fn location(&self) -> Option<&'a str> {
        match self {
            CategoryRef::Kind(k) => k.location.as_deref(),
            CategoryRef::Mixin(m) => m.location.as_deref(),
            CategoryRef::Action(_) => None,
        }
    }

    /// Checks everything the text renderings write of this category
    /// that must follow the OCCI grammar and has no escape: the term, the
    /// scheme, the location, the `rel` (a kind's parent, a mixin's first
    /// dependency), the action type ids and the attribute names.
    /// Renderers leave out a category that fails. Not checked: the title
    /// (renderers escape it) and what only JSON renders (further
    /// dependencies, `applies`: JSON strings are always escaped).
    pub fn check(&self) -> Result<(), GrammarError> {
        let category = self.category();
        check_term(&category.term)?;
        check_scheme(&category.scheme)?;
        if let Some(location) = self.location() {
            check_location(location)?;
        }
        if let Some(rel) = self.rel() {
            check_type_id(rel)?;
        }
        self.actions().iter().try_for_each(|a| check_type_id(a))?;
        self.attributes()
            .iter()
            .try_for_each(|d| check_attribute_name(&d.name))
    }

    /// The text `rel`: a kind's parent, a mixin's first dependency.
    pub fn rel(&self) -> Option<&'a str> {
        match self {
            CategoryRef::Kind(k) => k.parent.as_deref(),
            CategoryRef::Mixin(m) => m.depends.first().map(String::as_str),
            CategoryRef::Action(_) => None,
        }
    }
}

/// The categories of a query interface answer (or a filtered part of it),
/// borrowed so that static and per-request (template) categories render
/// together without copies.
#[derive(Clone, Debug, Default)]
pub struct CategorySet<'a> {
    /// Kinds, in rendering order.
    pub kinds: Vec<&'a Kind>,
    /// Mixins, in rendering order.
    pub mixins: Vec<&'a Mixin>,
    /// Actions, in rendering order.
    pub actions: Vec<&'a Action>,
}

impl<'a> CategorySet<'a> {
    /// Every category, kinds first, then mixins, then actions.
    pub fn iter(&self) -> impl Iterator<Item = CategoryRef<'a>> + '_ {
        self.kinds
            .iter()
            .map(|k| CategoryRef::Kind(k))
            .chain(self.mixins.iter().map(|m| CategoryRef::Mixin(m)))
            .chain(self.actions.iter().map(|a| CategoryRef::Action(a)))
    }

    /// How many categories there are.
    pub fn len(&self) -> usize {
        self.kinds.len() + self.mixins.len() + self.actions.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iri_string::spec::UriSpec;
    use iri_string::validate::{iri, iri_reference};
    use proptest::prelude::*;

    #[test]
    fn the_fast_path_takes_the_usual_shapes() {
        for s in [
            "http://schemas.ogf.org/occi/infrastructure#",
            "http://schemas.openstack.org/template/os#",
            "https://example.com/my-tags#",
            "urn+x.y://h/a;b=c,d'e@f:g#",
        ] {
            assert!(is_plain_uri(s, Shape::Absolute), "{s}");
        }
        for s in ["/compute/", "/os_tpl/9e8a3b2c-1f00/", "/a:b@c/"] {
            assert!(is_plain_uri(s, Shape::Reference), "{s}");
        }
        // Left to the full parser (which accepts the first three).
        for s in [
            "urn:x#",
            "http://h:8080/x#",
            "http://h/%41#",
            "http://h/\"x#",
            "//h/x",
        ] {
            assert!(!is_plain_uri(s, Shape::Reference), "{s}");
        }
    }

    #[test]
    fn known_schemes_are_valid() {
        for s in KNOWN_SCHEMES {
            assert!(iri::<UriSpec>(s).is_ok() && s.ends_with('#'), "{s}");
            assert_eq!(s.matches('#').count(), 1, "{s}");
        }
    }

    #[test]
    fn terms_are_checked_byte_by_byte() {
        assert!(is_valid_term("occi.compute.state"));
        assert!(is_valid_term("C2R2048D20_drbd-1"));
        for bad in ["", ".x", "a b", "a\"b", "a/b", "a#b", "a\u{e9}"] {
            assert!(!is_valid_term(bad), "{bad:?}");
        }
    }

    proptest! {
        /// The term table agrees with the rule it tabulates.
        #[test]
        fn the_term_table_is_the_rule(s in "\\PC{0,12}") {
            let rule = s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            prop_assert_eq!(is_valid_term(&s), rule);
        }

        /// The fast path accepts nothing the full parser refuses.
        #[test]
        fn the_fast_path_agrees_with_rfc_3986(s in "[a-z+.:/#@%?\\[\\]\"<> '(),;=~!$&*_-]{0,24}") {
            if is_plain_uri(&s, Shape::Absolute) {
                prop_assert!(iri::<UriSpec>(&s).is_ok(), "{}", s);
            }
            if is_plain_uri(&s, Shape::Reference) {
                prop_assert!(iri_reference::<UriSpec>(&s).is_ok(), "{}", s);
            }
        }

        /// Prefixed with the usual beginnings, to reach the deeper parts.
        #[test]
        fn the_fast_path_agrees_with_rfc_3986_on_likely_uris(
            head in prop_oneof![Just("http://"), Just("a+b://"), Just("/"), Just("x:/"), Just("http://h")],
            s in "[a-z0-9+.:/#@%?\\[\\]\"<> '(),;=~!$&*_-]{0,24}",
        ) {
            let s = format!("{head}{s}");
            if is_plain_uri(&s, Shape::Absolute) {
                prop_assert!(iri::<UriSpec>(&s).is_ok(), "{}", s);
            }
            if is_plain_uri(&s, Shape::Reference) {
                prop_assert!(iri_reference::<UriSpec>(&s).is_ok(), "{}", s);
            }
        }
    }
}
