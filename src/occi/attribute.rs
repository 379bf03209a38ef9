//! Attribute definitions (what a Kind, Mixin or Action declares) and
//! attribute values (what an entity or a request carries), with the
//! validation that ties the two together.

use std::fmt;

/// The type of an attribute, as declared by its definition.
///
/// The OCCI type system is small; the IP and CIDR types exist because the
/// infrastructure model uses them and they can be checked with the
/// standard library (their JSON `pattern` says the same in JSON-Schema).
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeType {
    /// Any string.
    String,
    /// One of a fixed set of strings.
    Enum(Vec<String>),
    /// A whole number, optionally bounded (inclusive).
    Integer {
        /// The smallest allowed value.
        min: Option<i64>,
        /// The largest allowed value.
        max: Option<i64>,
    },
    /// A floating point number (integers are accepted and widened).
    Float {
        /// The smallest allowed value.
        min: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
    /// A URI (absolute URL or absolute path).
    Uri,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/24`).
    Cidr,
    /// A list of values (JSON array).
    List,
}

impl AttributeType {
    /// An integer without bounds.
    pub const INTEGER: AttributeType = AttributeType::Integer {
        min: None,
        max: None,
    };
    /// A float without bounds.
    pub const FLOAT: AttributeType = AttributeType::Float { min: None };

    /// The JSON type name used in attribute descriptions (JSON rendering
    /// §3.2: `string`, `number`, `boolean`, `array`, `object`).
    pub fn json_type(&self) -> &'static str {
        match self {
            AttributeType::Integer { .. } | AttributeType::Float { .. } => "number",
            AttributeType::Boolean => "boolean",
            AttributeType::List => "array",
            _ => "string",
        }
    }

    /// The JSON-Schema fragment rendered as the `pattern` of an attribute
    /// description, when the type constrains more than its JSON type.
    pub fn json_pattern(&self) -> Option<serde_json::Value> {
        use serde_json::json;
        match self {
            AttributeType::Enum(values) => Some(json!({ "type": "string", "enum": values })),
            AttributeType::Integer { min, max } => {
                let mut p = json!({ "type": "integer" });
                if let Some(min) = min {
                    p["minimum"] = json!(min);
                }
                if let Some(max) = max {
                    p["maximum"] = json!(max);
                }
                Some(p)
            }
            AttributeType::Float { min: Some(min) } => {
                Some(json!({ "type": "number", "minimum": min }))
            }
            AttributeType::Uri => Some(json!({ "type": "string", "format": "uri" })),
            AttributeType::IpAddress => Some(json!({ "type": "string", "format": "ip" })),
            AttributeType::Cidr => {
                Some(json!({ "type": "string", "pattern": "^[0-9a-fA-F:.]+/[0-9]{1,3}$" }))
            }
            _ => None,
        }
    }
}

/// The definition of one attribute: name, type and the rules around it.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeDef {
    /// The attribute name (`occi.compute.cores`).
    pub name: String,
    /// Its type.
    pub kind: AttributeType,
    /// Whether a client may set or change it. Immutable attributes are set
    /// by the provider only.
    pub mutable: bool,
    /// Whether a create request must carry it. Only what creation truly
    /// needs is required (pOCCI fills required attributes from a fixed
    /// table and fails on others).
    pub required: bool,
    /// The value assumed when none is given.
    pub default: Option<AttributeValue>,
    /// A human readable description.
    pub description: Option<String>,
}

impl AttributeDef {
    /// A mutable, optional attribute of the given type.
    pub fn new(name: impl Into<String>, kind: AttributeType) -> Self {
        AttributeDef {
            name: name.into(),
            kind,
            mutable: true,
            required: false,
            default: None,
            description: None,
        }
    }

    /// Marks the attribute immutable (provider-set).
    pub fn immutable(mut self) -> Self {
        self.mutable = false;
        self
    }

    /// Marks the attribute required at creation.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the default value.
    pub fn default_value(mut self, value: impl Into<AttributeValue>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// Sets the description.
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// The enum values, or an empty slice for other types.
    pub fn enum_values(&self) -> &[String] {
        match &self.kind {
            AttributeType::Enum(v) => v,
            _ => &[],
        }
    }

    /// Checks `value` against this definition and returns it in its
    /// canonical typed form: a quoted number for a numeric attribute becomes
    /// a number, an integer for a float attribute becomes a float, a bare
    /// token for a string attribute stays a string.
    ///
    /// ```
    /// use snf_occi::occi::{AttributeDef, AttributeType, AttributeValue};
    /// let cores = AttributeDef::new("occi.compute.cores", AttributeType::INTEGER);
    /// assert_eq!(cores.check(&AttributeValue::from("4")).unwrap(), AttributeValue::Integer(4));
    /// let err = cores.check(&AttributeValue::from("four")).unwrap_err();
    /// assert!(err.to_string().contains("occi.compute.cores"));
    /// ```
    pub fn check(&self, value: &AttributeValue) -> Result<AttributeValue, ValidationError> {
        let fail = |rule: String| ValidationError::Invalid {
            attribute: self.name.clone(),
            value: value.to_string(),
            rule,
        };
        match (&self.kind, value) {
            (AttributeType::String, AttributeValue::String(_)) => Ok(value.clone()),
            (AttributeType::String, AttributeValue::Integer(_) | AttributeValue::Float(_)) => {
                // A bare number for a string attribute (a hostname `42`) is
                // what the client meant as text.
                Ok(AttributeValue::String(value.to_string()))
            }
            (AttributeType::String, _) => Err(fail("must be a string".into())),
            (AttributeType::Enum(allowed), AttributeValue::String(s)) => {
                if allowed.iter().any(|a| a == s) {
                    Ok(value.clone())
                } else {
                    Err(fail(format!("must be one of {}", allowed.join(", "))))
                }
            }
            (AttributeType::Enum(allowed), _) => {
                Err(fail(format!("must be one of {}", allowed.join(", "))))
            }
            (AttributeType::Integer { min, max }, v) => {
                let n = match v {
                    AttributeValue::Integer(n) => *n,
                    AttributeValue::String(s) => s
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| fail("must be an integer".into()))?,
                    AttributeValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => *f as i64,
                    _ => return Err(fail("must be an integer".into())),
                };
                if let Some(min) = min
                    && n < *min
                {
                    return Err(fail(format!("must be at least {min}")));
                }
                if let Some(max) = max
                    && n > *max
                {
                    return Err(fail(format!("must be at most {max}")));
                }
                Ok(AttributeValue::Integer(n))
            }
            (AttributeType::Float { min }, v) => {
                let f = match v {
                    AttributeValue::Float(f) => *f,
                    AttributeValue::Integer(n) => *n as f64,
                    AttributeValue::String(s) => s
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| fail("must be a number".into()))?,
                    _ => return Err(fail("must be a number".into())),
                };
                if !f.is_finite() {
                    return Err(fail("must be a finite number".into()));
                }
                if let Some(min) = min
                    && f < *min
                {
                    return Err(fail(format!("must be at least {min}")));
                }
                Ok(AttributeValue::Float(f))
            }
            (AttributeType::Boolean, AttributeValue::Bool(_)) => Ok(value.clone()),
            (AttributeType::Boolean, AttributeValue::String(s)) => match s.as_str() {
                "true" => Ok(AttributeValue::Bool(true)),
                "false" => Ok(AttributeValue::Bool(false)),
                _ => Err(fail("must be true or false".into())),
            },
            (AttributeType::Boolean, _) => Err(fail("must be true or false".into())),
            (AttributeType::Uri, AttributeValue::String(s)) => {
                if s.starts_with('/') || url::Url::parse(s).is_ok() {
                    Ok(value.clone())
                } else {
                    Err(fail("must be an absolute URL or an absolute path".into()))
                }
            }
            (AttributeType::IpAddress, AttributeValue::String(s)) => {
                if s.parse::<std::net::IpAddr>().is_ok() {
                    Ok(value.clone())
                } else {
                    Err(fail("must be an IPv4 or IPv6 address".into()))
                }
            }
            (AttributeType::Cidr, AttributeValue::String(s)) => {
                if valid_cidr(s) {
                    Ok(value.clone())
                } else {
                    Err(fail(
                        "must be a network in CIDR notation (10.0.0.0/24)".into(),
                    ))
                }
            }
            (AttributeType::Uri | AttributeType::IpAddress | AttributeType::Cidr, _) => {
                Err(fail("must be a string".into()))
            }
            (AttributeType::List, AttributeValue::List(_)) => Ok(value.clone()),
            (AttributeType::List, _) => Err(fail("must be a list".into())),
        }
    }
}

fn valid_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}

/// A typed attribute value.
///
/// Text renderings write strings quoted and escaped, numbers and booleans
/// bare; JSON uses the matching JSON types. Floats always render with a
/// fraction or exponent (`2.0`), so that they parse back as floats.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// A string (also enums, URIs, addresses).
    String(String),
    /// A whole number.
    Integer(i64),
    /// A floating point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A list (JSON array).
    List(Vec<AttributeValue>),
}

impl AttributeValue {
    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a JSON value (non-finite floats become `null`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            AttributeValue::String(s) => serde_json::Value::String(s.clone()),
            AttributeValue::Integer(n) => serde_json::Value::from(*n),
            AttributeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            AttributeValue::Bool(b) => serde_json::Value::Bool(*b),
            AttributeValue::List(items) => {
                serde_json::Value::Array(items.iter().map(AttributeValue::to_json).collect())
            }
        }
    }

    /// The value of a JSON value; `None` for `null` and objects (which
    /// OCCI attributes of this server never hold).
    pub fn from_json(value: &serde_json::Value) -> Option<AttributeValue> {
        match value {
            serde_json::Value::String(s) => Some(AttributeValue::String(s.clone())),
            serde_json::Value::Bool(b) => Some(AttributeValue::Bool(*b)),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(AttributeValue::Integer)
                .or_else(|| n.as_f64().map(AttributeValue::Float)),
            serde_json::Value::Array(items) => items
                .iter()
                .map(AttributeValue::from_json)
                .collect::<Option<Vec<_>>>()
                .map(AttributeValue::List),
            _ => None,
        }
    }
}

/// The text form of a value: what text renderings put after `=`, i.e.
/// strings quoted with `"` and `\` escaped, numbers and booleans bare,
/// lists as JSON arrays.
impl fmt::Display for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::String(s) => {
                f.write_str("\"")?;
                crate::occi::render::text::write_escaped(f, s)?;
                f.write_str("\"")
            }
            AttributeValue::Integer(n) => write!(f, "{n}"),
            AttributeValue::Float(x) => write!(f, "{x:?}"),
            AttributeValue::Bool(b) => write!(f, "{b}"),
            AttributeValue::List(_) => write!(f, "{}", self.to_json()),
        }
    }
}

impl From<&str> for AttributeValue {
    fn from(s: &str) -> Self {
        AttributeValue::String(s.to_owned())
    }
}
impl From<String> for AttributeValue {
    fn from(s: String) -> Self {
        AttributeValue::String(s)
    }
}
impl From<i64> for AttributeValue {
    fn from(n: i64) -> Self {
        AttributeValue::Integer(n)
    }
}
impl From<f64> for AttributeValue {
    fn from(x: f64) -> Self {
        AttributeValue::Float(x)
    }
}
impl From<bool> for AttributeValue {
    fn from(b: bool) -> Self {
        AttributeValue::Bool(b)
    }
}

/// An ordered set of attributes: insertion order is rendering order, one
/// value per name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(Vec<(String, AttributeValue)>);

impl Attributes {
    /// No attributes.
    pub fn new() -> Self {
        Attributes(Vec::new())
    }

    /// Sets `name` to `value`, replacing an earlier value in place.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<AttributeValue>) {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Adds `name` = `value`, or returns `false` when `name` is already set.
    pub fn insert_new(&mut self, name: impl Into<String>, value: AttributeValue) -> bool {
        let name = name.into();
        if self.contains(&name) {
            return false;
        }
        self.0.push((name, value));
        true
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&AttributeValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The string value of `name`, if it is a string.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(AttributeValue::as_str)
    }

    /// Whether `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Removes and returns the value of `name`.
    pub fn remove(&mut self, name: &str) -> Option<AttributeValue> {
        let at = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(at).1)
    }

    /// The attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttributeValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many attributes are set.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none are set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Validates these attributes against `defs` (the definitions of a kind,
    /// its mixins, or an action) and returns them in canonical typed form.
    ///
    /// - every present attribute that has a definition is type-checked;
    /// - with [`Validation::Create`], every required definition must be
    ///   present; with [`Validation::Update`] immutable attributes must not
    ///   be set (`occi.core.id` is exempt: clients echo it back);
    /// - attributes without a definition are kept unchanged (clients such as
    ///   pOCCI send extras like `occi.core.summary`; the app decides).
    pub fn validate<'d>(
        &self,
        defs: impl IntoIterator<Item = &'d AttributeDef> + Clone,
        mode: Validation,
    ) -> Result<Attributes, ValidationError> {
        let mut out = Attributes(Vec::with_capacity(self.0.len()));
        for (name, value) in &self.0 {
            let def = defs.clone().into_iter().find(|d| d.name == *name);
            let value = match def {
                Some(def) => {
                    if mode == Validation::Update && !def.mutable && name != "occi.core.id" {
                        return Err(ValidationError::Immutable {
                            attribute: name.clone(),
                        });
                    }
                    def.check(value)?
                }
                None => value.clone(),
            };
            out.0.push((name.clone(), value));
        }
        if mode == Validation::Create {
            for def in defs {
                if def.required && !out.contains(&def.name) {
                    return Err(ValidationError::Missing {
                        attribute: def.name.clone(),
                    });
                }
            }
        }
        Ok(out)
    }
}

impl FromIterator<(String, AttributeValue)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, AttributeValue)>>(iter: I) -> Self {
        let mut a = Attributes::new();
        for (n, v) in iter {
            a.set(n, v);
        }
        a
    }
}

/// What a validation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// A create request: required attributes must be present.
    Create,
    /// An update: immutable attributes must not be set.
    Update,
    /// Only check the types of what is present (action invocations).
    TypesOnly,
}

/// An attribute that does not satisfy its definition. Every variant names
/// the attribute; `Invalid` also names the value and the rule (a 400).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// The value breaks the definition's rule.
    #[error("attribute {attribute} = {value}: {rule}")]
    Invalid {
        /// The attribute name.
        attribute: String,
        /// The offending value, in text form.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
    /// A required attribute is missing.
    #[error("attribute {attribute} is required")]
    Missing {
        /// The attribute name.
        attribute: String,
    },
    /// An immutable attribute was set by the client.
    #[error("attribute {attribute} is immutable")]
    Immutable {
        /// The attribute name.
        attribute: String,
    },
}
