//! Template terms: the names users read in `/-/` and type in a
//! `Category`, for flavors (`resource_tpl`), images (`os_tpl`) and volume
//! types (`storage_tpl`).
//!
//! The rule, one for all three: a template's term is its Synnefo name
//! made a valid OCCI term ([`term_of_name`]: kept as it is when it
//! already is one, as Cyclades' generated flavor names
//! `C2R2048D20ext_archipelago` and its volume type names are; otherwise
//! every run of other characters becomes one `_`, so the Plankton image
//! `Debian Base` is `Debian_Base`). When two templates of a family would
//! get the same term, or a name gives none (`Ελληνικά`), or a term would
//! be another template's id, those templates keep their id as term. So a
//! term depends only on the names the caller can see, never on the order
//! Synnefo lists them in; the id (`4`, an image UUID) is always accepted
//! too, and is the one reference that never changes.
//!
//! ```
//! use snf_occi::app::terms::{assign_terms, term_of_name};
//! assert_eq!(term_of_name("C2R2048D20ext_archipelago").as_deref(), Some("C2R2048D20ext_archipelago"));
//! assert_eq!(term_of_name("Ubuntu Server 16.04 LTS").as_deref(), Some("Ubuntu_Server_16_04_LTS"));
//! let terms = assign_terms(&[("7", "Debian Base"), ("8", "CentOS"), ("9", "CentOS")]);
//! assert_eq!(terms, ["Debian_Base", "8", "9"]);
//! ```

use std::collections::HashMap;

/// Whether `s` is a term of the OCCI text rendering grammar
/// (`term = ( ALPHA / DIGIT ) *( ALPHA / DIGIT / "-" / "_" )`).
///
/// ```
/// use snf_occi::app::terms::is_term;
/// assert!(is_term("C1R1024D20drbd") && is_term("0e5a4c4b-d2a1") && is_term("Debian_Base"));
/// assert!(!is_term("Debian Base") && !is_term("_x") && !is_term("16.04") && !is_term(""));
/// ```
pub fn is_term(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The term a template name gives: the name itself when it is a term;
/// else each run of characters a term cannot hold becomes one `_`, and
/// what cannot start or end a term is trimmed. `None` when nothing is
/// left (a name of symbols or non-ASCII letters only).
pub fn term_of_name(name: &str) -> Option<String> {
    if is_term(name) {
        return Some(name.to_owned());
    }
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    let start = out
        .find(|c: char| c.is_ascii_alphanumeric())
        .unwrap_or(out.len());
    let out = out[start..].trim_end_matches('_');
    is_term(out).then(|| out.to_owned())
}

/// The terms of a family of templates given as `(id, name)`, in the same
/// order: [`term_of_name`] of each name when no other template of the
/// family gets that term and it is no other template's id; the id
/// otherwise.
pub fn assign_terms(templates: &[(&str, &str)]) -> Vec<String> {
    let candidates: Vec<Option<String>> = templates
        .iter()
        .map(|(_, name)| term_of_name(name))
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for c in candidates.iter().flatten() {
        *count.entry(c.as_str()).or_default() += 1;
    }
    templates
        .iter()
        .zip(&candidates)
        .map(|((id, _), candidate)| match candidate {
            Some(t)
                if count.get(t.as_str()) == Some(&1)
                    && !templates.iter().any(|(other, _)| other == t && other != id) =>
            {
                t.clone()
            }
            _ => (*id).to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_terms_by_one_rule() {
        for (name, term) in [
            ("C2R2048D20", Some("C2R2048D20")),
            ("C1R1024D20drbd", Some("C1R1024D20drbd")),
            ("Debian Base", Some("Debian_Base")),
            ("Ubuntu Server LTS", Some("Ubuntu_Server_LTS")),
            ("  CentOS 7.9 (x86_64) ", Some("CentOS_7_9_x86_64")),
            (
                "web snapshot 2026-01-02T03:04:05Z",
                Some("web_snapshot_2026-01-02T03_04_05Z"),
            ),
            ("_private", Some("private")),
            ("Ελληνικά", None),
            ("Debian Ελληνικά", Some("Debian")),
            ("...", None),
            ("", None),
        ] {
            assert_eq!(term_of_name(name).as_deref(), term, "{name:?}");
            if let Some(t) = term {
                assert!(is_term(t), "{t}");
            }
        }
    }

    #[test]
    fn colliding_or_empty_terms_fall_back_to_ids_whatever_the_order() {
        let images = [
            ("u-1", "Debian Base"),
            ("u-2", "Debian-Base"),
            ("u-3", "Debian_Base"),
            ("u-4", "Debian.Base"),
            ("u-5", "ελληνικά"),
            ("u-6", "CentOS"),
        ];
        let terms = assign_terms(&images);
        // "Debian Base" and "Debian.Base" both give Debian_Base, as does
        // "Debian_Base" itself: all three keep their ids.
        assert_eq!(terms, ["u-1", "Debian-Base", "u-3", "u-4", "u-5", "CentOS"]);
        let mut reversed = images;
        reversed.reverse();
        let mut back = assign_terms(&reversed);
        back.reverse();
        assert_eq!(back, terms);
    }

    #[test]
    fn a_name_that_is_another_templates_id_keeps_its_own_id() {
        let flavors = [("4", "C2R2048D20"), ("5", "4")];
        assert_eq!(assign_terms(&flavors), ["C2R2048D20", "5"]);
        // Its own id as name is harmless.
        assert_eq!(assign_terms(&[("4", "4")]), ["4"]);
    }
}
