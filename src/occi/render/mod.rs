//! Renderers: one [`Renderer`] per public base URL turns model values into
//! a [`Rendered`] (status-independent headers + body) in any media type.
//!
//! - `text/plain`: `Name: value` lines in the body.
//! - `text/occi`: the same fields as HTTP headers (comma-joined, one
//!   header per field name), body `OK`. Header values are never truncated:
//!   when the headers would exceed [`Renderer::max_header_bytes`] (default
//!   64 KiB; proxies such as nginx keep 4-8 KiB by default) the answer is
//!   rendered as `text/plain` instead and [`Rendered::media`] says so.
//! - `text/uri-list`: listings only; anything else is
//!   [`RenderError::UriListNotListing`] (the app answers 400).
//! - `application/occi+json` / `application/json`: the OCCI 1.2 JSON shapes.
//!
//! Nothing that breaks the OCCI grammar is rendered, whatever its source.
//! Requests are checked when parsed (`parse::check_category`), but the
//! user mixins of a store written by an older version, or a value a
//! future code path forgets to check, reach the renderers unchecked. So:
//!
//! - quoted-strings (titles, attribute values, summaries) are escaped
//!   ([`text::write_escaped`]): a quote, backslash or control character
//!   becomes `\"`, `\\`, `\n`, `\uXXXX`, and the value stays one value on
//!   one line; nothing is lost.
//! - terms, schemes, type ids, locations and attribute names have no
//!   escape in the grammar (a term is written bare; a scheme or location
//!   is a URI inside quotes, where `\"` is not a URI), and an escaped
//!   term would name another category that no client can send back. A
//!   category, mixin type id or attribute whose such part breaks the
//!   grammar ([`CategoryRef::check`], [`check_type_id`]) is left out of
//!   the rendering, in every media type alike so that the renderings
//!   agree, and a warning naming it (escaped) is logged: the answer stays
//!   well-formed and shows everything else, and the operator learns that
//!   the store holds something to clean up (docs/deployment.md).
//!
//! ```
//! use snf_occi_types::MediaType;
//! use snf_occi::occi::{Renderer, Resource, infrastructure::COMPUTE};
//! let r = Renderer::new("http://localhost:8888");
//! let vm = Resource::new(COMPUTE, "42", "/compute/42");
//! let out = r.resource(&vm, MediaType::TextPlain).unwrap();
//! let body = std::str::from_utf8(&out.body).unwrap();
//! assert!(body.starts_with("Category: compute;"));
//! assert!(body.contains("X-OCCI-Attribute: occi.core.id=\"42\""));
//! ```

pub mod json;
pub mod text;
pub mod uri_list;

use bytes::Bytes;
use http::HeaderMap;
use snf_occi_types::MediaType;

use super::category::{
    CategoryRef, CategorySet, GrammarError, Mixin, check_attribute_name, check_type_id,
};
use super::entity::{Link, Resource};

/// A rendering, ready to become a response with any status (the app
/// makes it one).
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The media type actually rendered (text/occi may fall back to
    /// text/plain, see the module docs).
    pub media: MediaType,
    /// OCCI headers (text/occi only; `Content-Type` is not included).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Rendered {
    /// The bytes it holds: body, header names and values (what a cache
    /// of renderings counts it for).
    pub fn size(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        self.body.len() + headers
    }
}

/// Why something could not be rendered in the requested media type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// text/uri-list was asked for something that is not a listing (400).
    #[error("text/uri-list is only available for collections of entities")]
    UriListNotListing,
    /// A JSON listing needs the entities, not only their locations.
    #[error("a JSON collection needs the entities; use Renderer::collection")]
    JsonNeedsEntities,
}

/// Renders model values against one public base URL.
#[derive(Clone, Debug)]
pub struct Renderer {
    base: String,
    max_header_bytes: usize,
}

impl Renderer {
    /// A renderer whose absolute URLs start with `base_url`
    /// (`server.public_url`; a trailing `/` is ignored).
    pub fn new(base_url: &str) -> Self {
        Renderer {
            base: base_url.trim_end_matches('/').to_owned(),
            max_header_bytes: 64 * 1024,
        }
    }

    /// Sets the text/occi header budget (see the module docs).
    pub fn with_max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// The text/occi header budget in bytes.
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The absolute URL of a location: paths get the base URL, absolute
    /// URLs are kept.
    pub fn url(&self, location: &str) -> String {
        let mut s = String::with_capacity(self.base.len() + location.len() + 1);
        self.write_url(&mut s, location);
        s
    }

    /// Appends the absolute URL of `location` (see [`Renderer::url`]) to
    /// `out`, for renderings that write into one buffer.
    pub fn write_url(&self, out: &mut String, location: &str) {
        if location.contains("://") {
            out.push_str(location);
        } else {
            out.push_str(&self.base);
            if !location.starts_with('/') {
                out.push('/');
            }
            out.push_str(location);
        }
    }

    /// The path of a URL in our namespace (`http://base/compute/1` ->
    /// `/compute/1`); paths are returned unchanged; `None` for URLs of
    /// another host.
    pub fn path_of<'a>(&self, url: &'a str) -> Option<&'a str> {
        if url.starts_with('/') {
            return Some(url);
        }
        let rest = url.strip_prefix(self.base.as_str())?;
        if rest.starts_with('/') {
            Some(rest)
        } else {
            None
        }
    }

    /// One resource, with its owned links and applicable action links.
    pub fn resource(&self, r: &Resource, media: MediaType) -> Result<Rendered, RenderError> {
        match media {
            MediaType::UriList => Err(RenderError::UriListNotListing),
            m if m.is_json() => Ok(json_bytes(m, json::to_bytes(&json::ResourceJson(self, r)))),
            m => Ok(self.text_out(m, text::resource(self, r))),
        }
    }

    /// One link entity.
    pub fn link(&self, l: &Link, media: MediaType) -> Result<Rendered, RenderError> {
        match media {
            MediaType::UriList => Err(RenderError::UriListNotListing),
            m if m.is_json() => Ok(json_bytes(m, json::to_bytes(&json::LinkJson(self, l)))),
            m => Ok(self.text_out(m, text::link(self, l))),
        }
    }

    /// A listing of entity locations (paths or absolute URLs). JSON needs
    /// the entities: use [`Renderer::collection`].
    pub fn locations<S: AsRef<str>>(
        &self,
        locations: &[S],
        media: MediaType,
    ) -> Result<Rendered, RenderError> {
        match media {
            MediaType::UriList => Ok(Rendered {
                media,
                headers: HeaderMap::new(),
                body: uri_list::render(self, locations),
            }),
            m if m.is_json() => Err(RenderError::JsonNeedsEntities),
            m => Ok(self.text_out(m, text::locations(self, locations))),
        }
    }

    /// A collection of entities: JSON `{"resources": [...], "links": [...]}`,
    /// their locations in the text renderings and text/uri-list.
    pub fn collection(&self, resources: &[Resource], links: &[Link], media: MediaType) -> Rendered {
        if media.is_json() {
            return json_bytes(
                media,
                json::to_bytes(&json::CollectionJson(self, resources, links)),
            );
        }
        let locs: Vec<&str> = resources
            .iter()
            .map(|r| r.location.as_str())
            .chain(links.iter().map(|l| l.location.as_str()))
            .collect();
        match self.locations(&locs, media) {
            Ok(r) => r,
            // Unreachable for non-JSON media; render text/plain rather than fail.
            Err(_) => self.text_out(MediaType::TextPlain, text::locations(self, &locs)),
        }
    }

    /// The query interface: categories with their attributes and actions.
    pub fn categories(
        &self,
        set: &CategorySet<'_>,
        media: MediaType,
    ) -> Result<Rendered, RenderError> {
        match media {
            MediaType::UriList => Err(RenderError::UriListNotListing),
            m if m.is_json() => Ok(json_out(m, json::categories(set))),
            m => Ok(self.text_out(m, text::categories(set))),
        }
    }

    /// Mixins an operation made (the OS template of a compute `save`):
    /// `Category` lines in the text renderings, as the query interface
    /// shows them; `{"mixins": [...]}` in JSON (OCCI JSON's mixin
    /// collection). Like [`Renderer::ok`], text/uri-list (not a listing)
    /// is answered in text/plain.
    pub fn mixins(&self, mixins: &[Mixin], media: MediaType) -> Rendered {
        if media.is_json() {
            let list: Vec<serde_json::Value> = mixins
                .iter()
                .map(CategoryRef::Mixin)
                .filter(|c| renderable_category(*c))
                .map(json::category)
                .collect();
            return json_out(media, serde_json::json!({ "mixins": list }));
        }
        let media = if media == MediaType::UriList {
            MediaType::TextPlain
        } else {
            media
        };
        let set = CategorySet {
            kinds: Vec::new(),
            mixins: mixins.iter().collect(),
            actions: Vec::new(),
        };
        self.text_out(media, text::categories(&set))
    }

    /// A success without an entity (an action): text/occi body `OK`, empty
    /// otherwise.
    pub fn ok(&self, media: MediaType) -> Rendered {
        let media = if media == MediaType::UriList {
            MediaType::TextPlain
        } else {
            media
        };
        let body = match media {
            MediaType::TextOcci => Bytes::from_static(b"OK"),
            m if m.is_json() => Bytes::from_static(b"{}"),
            _ => Bytes::new(),
        };
        Rendered {
            media,
            headers: HeaderMap::new(),
            body,
        }
    }

    fn text_out(&self, media: MediaType, fields: text::Fields) -> Rendered {
        if media == MediaType::TextOcci && fields.header_bytes() <= self.max_header_bytes {
            Rendered {
                media,
                headers: fields.to_headers(),
                body: Bytes::from_static(b"OK"),
            }
        } else {
            Rendered {
                media: MediaType::TextPlain,
                headers: HeaderMap::new(),
                body: fields.to_body(),
            }
        }
    }
}

/// Logs that `what` is left out of a rendering because of `error`. The
/// error quotes the value escaped, so a line break in it cannot forge a
/// log line either.
fn left_out(what: &'static str, error: &GrammarError) {
    tracing::warn!(
        %error,
        "{what} left out of the rendering: it breaks the OCCI grammar \
         (written by an older version? see docs/deployment.md)"
    );
}

/// Whether a category may be rendered ([`CategoryRef::check`]); logs a
/// warning when not.
pub(crate) fn renderable_category(c: CategoryRef<'_>) -> bool {
    c.check().map_err(|e| left_out("a category", &e)).is_ok()
}

/// Whether a type id (an entity's mixin, a link's kind) may be rendered
/// ([`check_type_id`]); logs a warning when not.
pub(crate) fn renderable_type_id(type_id: &str) -> bool {
    check_type_id(type_id)
        .map_err(|e| left_out("a mixin", &e))
        .is_ok()
}

/// Whether an attribute may be rendered (its name follows the grammar;
/// its value is always escaped); logs a warning when not.
pub(crate) fn renderable_attribute(name: &str) -> bool {
    check_attribute_name(name)
        .map_err(|e| left_out("an attribute", &e))
        .is_ok()
}

fn json_out(media: MediaType, value: serde_json::Value) -> Rendered {
    json_bytes(media, Bytes::from(value.to_string()))
}

fn json_bytes(media: MediaType, body: Bytes) -> Rendered {
    Rendered {
        media,
        headers: HeaderMap::new(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::occi::infrastructure::os_template;

    #[test]
    fn made_mixins_render_as_categories_in_text_and_a_mixin_collection_in_json() {
        let r = Renderer::new("http://localhost:8888");
        let made = [os_template("img-1", "golden")];
        let line = "img-1; scheme=\"http://schemas.openstack.org/template/os#\"; class=\"mixin\"; \
                    title=\"golden\"; rel=\"http://schemas.ogf.org/occi/infrastructure#os_tpl\"; \
                    location=\"/os_tpl/img-1/\"";
        let plain = r.mixins(&made, MediaType::TextPlain);
        assert_eq!(plain.body, format!("Category: {line}"));
        let occi = r.mixins(&made, MediaType::TextOcci);
        assert_eq!(occi.body, "OK");
        assert_eq!(occi.headers["category"], line);
        let uri = r.mixins(&made, MediaType::UriList);
        assert_eq!(uri.media, MediaType::TextPlain);
        let json: serde_json::Value =
            serde_json::from_slice(&r.mixins(&made, MediaType::OcciJson).body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"mixins": [{
                "term": "img-1",
                "scheme": "http://schemas.openstack.org/template/os#",
                "title": "golden",
                "depends": ["http://schemas.ogf.org/occi/infrastructure#os_tpl"],
                "applies": ["http://schemas.ogf.org/occi/infrastructure#compute"],
                "location": "/os_tpl/img-1/",
            }]})
        );
    }
}
