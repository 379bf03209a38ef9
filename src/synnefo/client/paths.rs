//! What a call's path says about it: the bounded operation label of its
//! metrics (ids become `{id}`) and how large its answer may be.

use http::Method;

use crate::synnefo::transport::AnswerSize;

/// What the call of `path` may return: a listing (the path ends with a
/// collection or `detail`), else one entity.
pub(super) fn answer_size(path: &str) -> AnswerSize {
    const LISTINGS: &[&str] = &[
        "detail",
        "servers",
        "flavors",
        "images",
        "networks",
        "subnets",
        "ports",
        "floatingips",
        "volumes",
        "types",
        "snapshots",
        "os-volume_attachments",
    ];
    let path = path.split('?').next().unwrap_or("");
    match path.rsplit('/').find(|s| !s.is_empty()) {
        Some(last) if LISTINGS.contains(&last) => AnswerSize::Listing,
        _ => AnswerSize::Item,
    }
}

/// The words of Synnefo API paths; any other segment is an id or a name
/// and becomes `{id}` in a metric label.
const PATH_WORDS: &[&str] = &[
    "servers",
    "detail",
    "flavors",
    "images",
    "metadata",
    "action",
    "os-volume_attachments",
    "ips",
    "networks",
    "subnets",
    "ports",
    "floatingips",
    "volumes",
    "types",
    "snapshots",
    "tokens",
    "extensions",
];

/// `GET /servers/42/metadata` -> `GET /servers/{id}/metadata`: the bounded
/// operation label of one call.
pub(crate) fn operation_template(method: &Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or("");
    let mut out = String::with_capacity(path.len() + 8);
    out.push_str(snf_occi_types::metrics::method_label(method));
    out.push(' ');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() {
        out.push('/');
    }
    for segment in segments {
        out.push('/');
        out.push_str(if PATH_WORDS.contains(&segment) {
            segment
        } else {
            "{id}"
        });
    }
    out
}

#[cfg(test)]
mod operation_tests {
    use super::*;

    #[test]
    fn ids_and_names_become_placeholders() {
        assert_eq!(
            operation_template(&Method::GET, "/servers/42/metadata"),
            "GET /servers/{id}/metadata"
        );
        assert_eq!(
            operation_template(&Method::POST, "/servers/abc-def/action"),
            "POST /servers/{id}/action"
        );
        assert_eq!(
            operation_template(&Method::DELETE, "/servers/1/os-volume_attachments/9"),
            "DELETE /servers/{id}/os-volume_attachments/{id}"
        );
        assert_eq!(
            operation_template(&Method::GET, "/flavors/detail"),
            "GET /flavors/detail"
        );
        assert_eq!(operation_template(&Method::GET, ""), "GET /");
        assert_eq!(
            operation_template(&Method::GET, "/servers/alice@example.org?x=secret"),
            "GET /servers/{id}"
        );
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn listings_and_entities_are_told_apart_by_their_path() {
        for listing in [
            "/servers/detail",
            "/servers",
            "/volumes/detail",
            "/networks",
            "/floatingips",
            "/ports?device_id=4",
            "/servers/42/os-volume_attachments",
            "/types",
        ] {
            assert_eq!(answer_size(listing), AnswerSize::Listing, "{listing}");
        }
        for item in [
            "/servers/42",
            "/tokens",
            "/servers/42/action",
            "/volumes/7",
            "/servers/42/metadata",
            "",
        ] {
            assert_eq!(answer_size(item), AnswerSize::Item, "{item}");
        }
    }
}
