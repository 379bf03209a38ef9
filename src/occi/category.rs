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
