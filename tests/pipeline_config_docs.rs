//! The configuration reference (docs/configuration.md) matches the code: every key of
//! the config types has a row, every row names a real key, and every
//! documented default is the code's default.

use std::collections::{BTreeMap, BTreeSet};

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Serialize;
use serde::de::DeserializeOwned;
use snf_occi::app::OcciAppConfig;
use snf_occi::config::{ClientAuth, Config, LogConfig, PipelineConfig, ServerConfig, TlsConfig};
use snf_occi::pipeline::apps::EchoConfig;
use snf_occi::pipeline::filters::{
    BodyLimitConfig, ConcurrencyLimitConfig, CorsConfig, RequestLogConfig, TimeoutConfig,
};
use snf_occi::store::StoreConfig;
use snf_occi::synnefo::SynnefoConfig;

/// Documented rows: key -> default column (without backticks).
fn documented() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let start = readme
        .find("## Configuration reference")
        .expect("a reference section");
    let end = readme[start..]
        .find("## Writing a custom pipeline")
        .map(|i| start + i)
        .expect("section end");
    let mut rows = BTreeMap::new();
    for line in readme[start..end].lines() {
        let cells: Vec<&str> = line.split(" | ").collect();
        if !line.starts_with("| `") || cells.len() < 4 {
            continue;
        }
        let key = cells[0]
            .trim_start_matches("| ")
            .trim_matches('`')
            .to_string();
        let default = cells[2].trim().to_string();
        assert!(
            rows.insert(key.clone(), default).is_none(),
            "`{key}` documented twice"
        );
    }
    rows
}

/// The leaf keys of a serialized config, prefixed.
fn keys_of(prefix: &str, value: &impl Serialize) -> BTreeSet<String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    walk(&format!("{prefix}.{k}"), v, out);
                }
            }
            _ => {
                out.insert(prefix.to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(prefix, &serde_json::to_value(value).unwrap(), &mut out);
    out
}

/// Whether `key = default` (TOML) deserializes, at `path` inside `T`, to
/// `T::default()`.
fn default_matches<T: DeserializeOwned + Default + PartialEq + std::fmt::Debug>(
    path: &str,
    literal: &str,
) -> Result<(), String> {
    matches_expected(path, literal, "", T::default())
}

/// Whether `key = default` (plus the `required` keys of its table)
/// deserializes, at `path` inside `T`, to `expected`.
fn matches_expected<T: DeserializeOwned + PartialEq + std::fmt::Debug>(
    path: &str,
    literal: &str,
    required: &str,
    expected: T,
) -> Result<(), String> {
    let (tables, leaf) = match path.rsplit_once('.') {
        Some((t, l)) => (format!("[{t}]\n"), l),
        None => (String::new(), path),
    };
    let toml = format!("{tables}{required}{leaf} = {literal}\n");
    let parsed: T = Figment::from(Toml::string(&toml))
        .extract()
        .map_err(|e| format!("{toml}: {e}"))?;
    if parsed == expected {
        Ok(())
    } else {
        Err(format!(
            "{toml} gives {parsed:?}, the code's default is {expected:?}"
        ))
    }
}

#[test]
fn every_key_is_documented_and_every_documented_key_exists() {
    let sample_tls = ServerConfig {
        tls: Some(TlsConfig {
            cert: "c".into(),
            key: "k".into(),
            client_ca: Some("ca".into()),
            client_auth: ClientAuth::Optional,
        }),
        ..ServerConfig::default()
    };
    let mut code = BTreeSet::new();
    code.extend(keys_of("server", &sample_tls));
    code.extend(keys_of("pipeline", &PipelineConfig::default()));
    code.extend(keys_of("log", &LogConfig::default()));
    code.extend(keys_of("synnefo", &SynnefoConfig::default()));
    code.extend(keys_of("store", &StoreConfig::default()));
    code.extend(keys_of("filter.request_log", &RequestLogConfig::default()));
    code.extend(keys_of("filter.timeout", &TimeoutConfig::default()));
    code.extend(keys_of("filter.body_limit", &BodyLimitConfig::default()));
    code.extend(keys_of(
        "filter.concurrency_limit",
        &ConcurrencyLimitConfig::default(),
    ));
    code.extend(keys_of("filter.cors", &CorsConfig::default()));
    code.extend(keys_of("app.echo", &EchoConfig::default()));
    code.extend(keys_of("app.occi", &OcciAppConfig::default()));

    let docs = documented();
    // `[simulator]` belongs to another module and is not serializable:
    // its row is checked by parsing below.
    let own: BTreeSet<String> = docs
        .keys()
        .filter(|k| !k.starts_with("simulator."))
        .cloned()
        .collect();
    let undocumented: Vec<_> = code.difference(&own).collect();
    let unknown: Vec<_> = own.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "keys missing from docs/configuration.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/configuration.md documents keys the code does not have: {unknown:?}"
    );
}

#[test]
fn documented_defaults_are_the_code_defaults() {
    let mut failures = Vec::new();
    for (key, default) in documented() {
        // Only backticked literals are defaults; "none ..." and
        // "required ..." are prose.
        let Some(literal) = default.strip_prefix('`').and_then(|d| d.strip_suffix('`')) else {
            continue;
        };
        let (section, rest) = key.split_once('.').unwrap();
        let result = match section {
            // `[server.tls]` has required keys: give them, expect defaults
            // for the rest.
            "server" if rest.starts_with("tls.") => matches_expected(
                rest,
                literal,
                "cert = \"c\"\nkey = \"k\"\n",
                ServerConfig {
                    tls: Some(TlsConfig {
                        cert: "c".into(),
                        key: "k".into(),
                        client_ca: None,
                        client_auth: ClientAuth::default(),
                    }),
                    ..ServerConfig::default()
                },
            ),
            "server" => default_matches::<ServerConfig>(rest, literal),
            "pipeline" => default_matches::<PipelineConfig>(rest, literal),
            "log" => default_matches::<LogConfig>(rest, literal),
            "synnefo" => default_matches::<SynnefoConfig>(rest, literal),
            "store" => default_matches::<StoreConfig>(rest, literal),
            "filter" | "app" => {
                let (factory, leaf) = rest.split_once('.').unwrap();
                match factory {
                    "request_log" => default_matches::<RequestLogConfig>(leaf, literal),
                    "timeout" => default_matches::<TimeoutConfig>(leaf, literal),
                    "body_limit" => default_matches::<BodyLimitConfig>(leaf, literal),
                    "concurrency_limit" => default_matches::<ConcurrencyLimitConfig>(leaf, literal),
                    "cors" => default_matches::<CorsConfig>(leaf, literal),
                    "echo" => default_matches::<EchoConfig>(leaf, literal),
                    "occi" => default_matches::<OcciAppConfig>(leaf, literal),
                    other => Err(format!("no check for factory `{other}`")),
                }
            }
            other => Err(format!("no check for table `{other}`")),
        };
        if let Err(e) = result {
            failures.push(format!("{key}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_simulator_row_names_a_real_key() {
    let config = Config::from_toml_str("[simulator]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    assert!(config.simulator.is_some());
    assert!(documented().contains_key("simulator.listen"));
}

#[test]
fn the_shipped_pipeline_file_parses() {
    // Building it needs the OCCI and auth factories; parsing must work now.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/snf-occi.pipeline.toml");
    let config = Config::from_figment(Figment::from(Toml::file_exact(path))).unwrap();
    assert_eq!(config.pipeline.app, "occi");
    assert!(
        config.simulator.is_some(),
        "the default pipeline runs on the embedded simulator"
    );
}
