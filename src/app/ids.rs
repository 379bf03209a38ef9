//! Id validation: an id from a URL or from a link a client sent reaches a
//! Synnefo path only if it passes these checks, so that no client input
//! can make the gateway call another Synnefo path (`..`, `/`, `?`).
//!
//! An id that fails is answered like an unknown one (404): to the client
//! there is no such entity.

/// Whether `id` is a Synnefo server id (digits only, at most 20).
///
/// ```
/// use snf_occi::app::ids::is_server_id;
/// assert!(is_server_id("42"));
/// assert!(!is_server_id("42/../7"));
/// assert!(!is_server_id(""));
/// ```
pub fn is_server_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `id` is a Cyclades id of any other object the gateway shows:
/// volumes, networks, ports and floating IPs are integers, and Cyclades'
/// URLs take them as such (`volume/urls.py` `volumes/(\d+)`, and likewise
/// for the others): anything else never names one (Cyclades would answer
/// 400 "API endpoint not found"). Digits only, at most 20.
///
/// ```
/// use snf_occi::app::ids::is_object_id;
/// assert!(is_object_id("42"));
/// assert!(!is_object_id("5e3c1b0a-1f2e-4d5c-9a8b-7c6d5e4f3a2b"));
/// assert!(!is_object_id("a b"));
/// assert!(!is_object_id("../x"));
/// ```
pub fn is_object_id(id: &str) -> bool {
    is_server_id(id)
}

/// Splits a link id `<server id>_<object id>` (storagelink:
/// `<server>_<volume>`, networkinterface: `<server>_<port>`) into its
/// validated parts.
///
/// ```
/// use snf_occi::app::ids::split_link_id;
/// assert_eq!(split_link_id("42_7"), Some(("42", "7")));
/// assert_eq!(split_link_id("42"), None);
/// assert_eq!(split_link_id("x_7"), None);
/// ```
pub fn split_link_id(id: &str) -> Option<(&str, &str)> {
    let (server, object) = id.split_once('_')?;
    (is_server_id(server) && is_object_id(object)).then_some((server, object))
}

/// The id at the end of a location or URL in `collection` (`/compute/`),
/// e.g. `http://host/compute/42` -> `42`; `None` for another collection,
/// an empty id, or an absolute URL that is not under `base` (this
/// server's `public_url`): a client's URL is only ever read for an id of
/// ours, never fetched or followed to another host. The id's characters
/// are not validated (callers check them before any Synnefo call).
///
/// ```
/// use snf_occi::app::ids::id_in;
/// let base = "http://h:8888";
/// assert_eq!(id_in("http://h:8888/network/7", base, "/network/"), Some("7"));
/// assert_eq!(id_in("/network/7", base, "/network/"), Some("7"));
/// assert_eq!(id_in("/storage/7", base, "/network/"), None);
/// assert_eq!(id_in("http://evil.example/network/7", base, "/network/"), None);
/// assert_eq!(id_in("http://h:8888.evil/network/7", base, "/network/"), None);
/// assert_eq!(id_in("/storage/../../servers", base, "/storage/"), None);
/// ```
pub fn id_in<'a>(location: &'a str, base: &str, collection: &str) -> Option<&'a str> {
    let path = if location.contains("://") {
        let rest = location.strip_prefix(base.trim_end_matches('/'))?;
        if !rest.starts_with('/') {
            return None;
        }
        rest
    } else {
        location
    };
    let id = path.strip_prefix(collection)?.trim_end_matches('/');
    (!id.is_empty() && !id.contains('/')).then_some(id)
}
