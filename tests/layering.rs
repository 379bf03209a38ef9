//! The crate's layering, checked from its own source: every `crate::X`
//! path in `src/` (and every `snf_occi::X` path in `src/main.rs`) is an
//! edge from the module of the file to the top-level module `X`, and an
//! edge may only point down (or sideways) in this order:
//!
//! ```text
//! 0  occi, cache            the OCCI model (no I/O); a small cache helper
//! 1  synnefo, store         the Synnefo client; the user-mixin store
//! 2  app                    OCCI mapped onto Synnefo
//! 3  pipeline, config       the filters and apps built from the typed file
//! 4  server, main           serving, the CLI
//! ```
//!
//! The layer crates sit below all of them: `snf-occi-types` depends on
//! no other crate of the workspace, `snf-occi-middleware` only on it, and
//! neither the model nor the Synnefo client imports the layer crate. The
//! simulator crate (`snf-occi-simulator`) may use the layer crates, never
//! the gateway.
//!
//! Reading text keeps the check cheap (no parser, no build of the crate);
//! comments are skipped, test modules are not (a wrong-way edge in a test
//! is still one).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The level of each top-level module of `src/`.
const LEVELS: &[(&str, u8)] = &[
    ("occi", 0),
    ("cache", 0),
    ("synnefo", 1),
    ("store", 1),
    ("app", 2),
    ("pipeline", 3),
    ("config", 3),
    ("server", 4),
    ("main", 4),
    // The layer crate's re-export (`pub use snf_occi_middleware as
    // middleware`): below everything, but see `LAYER_CRATE_FREE`.
    ("middleware", 0),
];

/// Modules that must not import the layer crate (they import
/// `snf-occi-types` for the small types they share with it).
const LAYER_CRATE_FREE: &[&str] = &["occi", "synnefo"];

/// Wrong-way edges that exist today and are being removed by the other
/// moves of issue 17, as `(from, to)`. The list may only shrink: an entry
/// whose edge is gone fails the test too, so that it is deleted and the
/// edge cannot come back unnoticed.
const KNOWN: &[(&str, &str)] = &[];

fn level(module: &str) -> Option<u8> {
    LEVELS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/app/compute.rs`
/// and `src/app.rs` are both `app`), or `None` for `lib.rs`.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The source without comments (line comments, doc comments and block
/// comments) and without the contents of string literals.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let (mut i, mut in_str) = (0, false);
    // Non-ASCII text only ever appears inside comments and strings, but
    // slicing with `get` keeps a stray one from panicking the scan.
    let at = |i: usize| text.get(i..).unwrap_or("");
    while i < bytes.len() {
        let c = bytes[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
                out.push('"');
            }
        } else if c == b'"' {
            in_str = true;
            out.push('"');
        } else if let Some(end) = raw_string_end(at(i)) {
            // r"..." and r#"..."#: quotes inside do not end them.
            out.push_str("\"\"");
            i += end;
            continue;
        } else if at(i).starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        } else if at(i).starts_with("/*") {
            let end = at(i + 2).find("*/").map_or(bytes.len(), |e| i + 2 + e + 2);
            i = end;
            continue;
        } else if let Some(len) = char_literal_len(at(i)) {
            // A char literal such as '"' or '\"' must not open a string.
            out.push_str("' '");
            i += len;
            continue;
        } else {
            out.push(c as char);
        }
        i += 1;
    }
    out
}

/// The length of the raw string literal `text` starts with, if any.
fn raw_string_end(text: &str) -> Option<usize> {
    let rest = text.strip_prefix('r')?;
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    let body = rest[hashes..].strip_prefix('"')?;
    let close = format!("\"{}", "#".repeat(hashes));
    let end = body.find(&close)?;
    Some(1 + hashes + 1 + end + close.len())
}

/// The length of the char literal `text` starts with (`'x'`, `'\''`,
/// `'\u{..}'`), if any; a lifetime is none.
fn char_literal_len(text: &str) -> Option<usize> {
    let rest = text.strip_prefix('\'')?;
    if let Some(escaped) = rest.strip_prefix('\\') {
        let close = escaped.get(1..)?.find('\'')?;
        return Some(1 + 1 + 1 + close + 1);
    }
    let c = rest.chars().next()?;
    rest[c.len_utf8()..]
        .starts_with('\'')
        .then(|| 1 + c.len_utf8() + 1)
}

/// The top-level modules `code` names through `prefix` (`crate::` or
/// `snf_occi::`), groups included: `crate::{occi::X, synnefo::Y}`.
fn targets(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        // `snf_occi::` inside `xsnf_occi::` or `crate::` inside `foo_crate::`.
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        if depth == 1 {
                            found.insert(ident(&group[i..]));
                        }
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

/// Every `(from, to)` edge between top-level modules of `src/`.
fn edges() -> BTreeSet<(String, String)> {
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = BTreeSet::new();
    for file in files {
        let Some(from) = module_of(&src, &file) else {
            continue;
        };
        let code = strip_comments(&fs::read_to_string(&file).unwrap());
        let prefix = if from == "main" {
            "snf_occi::"
        } else {
            "crate::"
        };
        for to in targets(&code, prefix) {
            if to != from {
                edges.insert((from.clone(), to));
            }
        }
        if code.contains("snf_occi_middleware") {
            edges.insert((from.clone(), "middleware".to_owned()));
        }
    }
    edges
}

#[test]
fn every_edge_points_down_the_layers() {
    let edges = edges();
    assert!(
        edges.contains(&("app".into(), "synnefo".into())),
        "the scan finds the edges it must: {edges:?}"
    );
    let mut wrong = Vec::new();
    for (from, to) in &edges {
        let (Some(f), Some(t)) = (level(from), level(to)) else {
            wrong.push(format!(
                "{from} -> {to}: a module with no level; add it to LEVELS"
            ));
            continue;
        };
        let known = KNOWN.contains(&(from.as_str(), to.as_str()));
        if t > f && !known {
            wrong.push(format!("{from} (level {f}) -> {to} (level {t})"));
        }
        if to == "middleware" && LAYER_CRATE_FREE.contains(&from.as_str()) {
            wrong.push(format!(
                "{from} imports the layer crate: take the type from snf-occi-types"
            ));
        }
    }
    for (from, to) in KNOWN {
        if !edges.contains(&(from.to_string(), to.to_string())) {
            wrong.push(format!(
                "{from} -> {to} is gone: delete it from KNOWN in tests/layering.rs"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "edges against the layering:\n{}",
        wrong.join("\n")
    );
}

/// The `[dependencies]` of a workspace member's manifest, as names.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let text = fs::read_to_string(Path::new(ROOT).join(manifest)).unwrap();
    let mut deps = BTreeSet::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside
            && !line.starts_with('#')
            && let Some((name, _)) = line.split_once('=')
        {
            let name = name.trim();
            deps.insert(name.strip_suffix(".workspace").unwrap_or(name).to_owned());
        }
    }
    deps
}

#[test]
fn the_layer_crates_depend_on_nothing_above_them() {
    let types = dependencies("types/Cargo.toml");
    assert!(types.contains("http"), "the manifest is read: {types:?}");
    let ours = |deps: &BTreeSet<String>| -> Vec<String> {
        deps.iter()
            .filter(|d| d.starts_with("snf-occi"))
            .cloned()
            .collect()
    };
    assert_eq!(ours(&types), Vec::<String>::new(), "snf-occi-types");
    assert_eq!(
        ours(&dependencies("middleware/Cargo.toml")),
        ["snf-occi-types"],
        "snf-occi-middleware"
    );
    for dep in ours(&dependencies("simulator/Cargo.toml")) {
        assert!(
            ["snf-occi-middleware", "snf-occi-types"].contains(&dep.as_str()),
            "snf-occi-simulator depends on {dep}"
        );
    }
}

#[test]
fn the_scanner_reads_groups_and_skips_comments() {
    let code = strip_comments(
        r##"use crate::{occi::X, synnefo::{a, b}};
// crate::app
/* crate::server */ let s = "//"; crate::store::S;
let c = '"'; let d = '\"'; crate::cache::C; snf_crate::nope;
let t = r#"a "quoted" // crate::pipeline"#; let l: &'static str = "";
"##,
    );
    assert_eq!(
        targets(&code, "crate::"),
        ["cache", "occi", "store", "synnefo"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}
