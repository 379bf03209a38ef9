//! The OCCI model, pure (no I/O): categories and attributes, the Core and
//! Infrastructure catalogue, entity instances, renderers for every response
//! type and parsers for every request syntax real clients send.
//!
//! The OCCI app uses it in three steps:
//! 1. [`parse::parse_request`] turns headers + body + request media type
//!    into an [`parse::OcciRequest`];
//! 2. it validates attributes against [`infrastructure::catalogue`] (or its
//!    dynamic templates) with [`Attributes::validate`];
//! 3. a [`render::Renderer`] (built from `server.public_url`) renders a
//!    resource, link, listing or the query interface into a
//!    [`render::Rendered`], which becomes the response.

pub mod attribute;
pub mod category;
pub mod entity;
pub mod infrastructure;
pub mod parse;
pub mod render;

pub use attribute::{
    AttributeDef, AttributeType, AttributeValue, Attributes, Validation, ValidationError,
};
pub use category::{
    Action, Category, CategoryClass, CategoryRef, CategorySet, GrammarError, GrammarField, Kind,
    Mixin, split_type_id,
};
pub use entity::{EntityRef, Link, Resource};
pub use parse::{LinkRequest, OcciRequest, ParseError, ParsedCategory, parse_request};
pub use render::{RenderError, Rendered, Renderer};
