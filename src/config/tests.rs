//! Loading tests: defaults, every error with its key path and origin,
//! environment overrides.

// figment's `Jail` closures must return `figment::Error`, which is large.
#![allow(clippy::result_large_err)]

use super::*;

fn errors_of(toml: &str) -> Vec<ConfigError> {
    Config::from_toml_str(toml)
        .expect_err("config should be rejected")
        .0
}

#[test]
fn defaults_apply_to_an_empty_file() {
    let config = Config::from_toml_str("").unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8888".parse().unwrap());
    assert_eq!(config.server.public_url(), "http://127.0.0.1:8888");
    assert_eq!(config.pipeline.app, "occi");
    assert_eq!(
        config.urlmap.get("/healthz").map(String::as_str),
        Some("healthz")
    );
    assert_eq!(config.server.limits.shutdown_grace, Duration::from_secs(30));
}

#[test]
fn durations_are_humantime() {
    let config = Config::from_toml_str("[server.limits]\nshutdown_grace = \"5m\"\n").unwrap();
    assert_eq!(
        config.server.limits.shutdown_grace,
        Duration::from_secs(300)
    );
}

#[test]
fn every_error_is_reported_with_its_key_path() {
    let errors = errors_of(
        r#"
        [server]
        listen = "127.0.0.1:0"
        lisen = "x"
        [server.limits]
        max_headers = "many"
        [log]
        format = "xml"
        [bogus]
        a = 1
        "#,
    );
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert!(keys.contains(&"bogus"), "{errors:?}");
    assert!(keys.contains(&"log.format"), "{errors:?}");
    // serde stops at the first error inside one table, so `[server]`
    // reports one of its two mistakes.
    assert!(keys.iter().any(|k| k.starts_with("server.")), "{errors:?}");
    assert!(errors.len() >= 3);
}

#[test]
fn unknown_key_names_the_key() {
    let errors = errors_of("[server]\nlisen = \"127.0.0.1:1\"\n");
    assert_eq!(errors[0].key, "server.lisen");
    assert!(
        errors[0].reason.contains("unknown key"),
        "{}",
        errors[0].reason
    );
}

#[test]
fn wrong_type_names_the_key() {
    let errors = errors_of("[server.limits]\nmax_headers = \"many\"\n");
    assert_eq!(errors[0].key, "server.limits.max_headers");
    assert!(
        errors[0].reason.contains("invalid type"),
        "{}",
        errors[0].reason
    );
}

#[test]
fn bad_public_url_is_an_error() {
    let errors = errors_of("[server]\npublic_url = \"not a url\"\n");
    assert_eq!(errors[0].key, "server.public_url");
}

#[test]
fn env_overrides_the_file() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", "[server]\nlisten = \"127.0.0.1:1\"\n")?;
        jail.set_env("SNF_OCCI_SERVER__LISTEN", "127.0.0.1:9000");
        jail.set_env("SNF_OCCI_SERVER__LIMITS__MAX_HEADERS", "7");
        let config = Config::load(Path::new("c.toml")).map_err(|e| e.to_string())?;
        assert_eq!(config.server.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.server.limits.max_headers, 7);
        Ok(())
    });
}

#[test]
fn test_suite_variables_are_not_configuration() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", "")?;
        jail.set_env("SNF_OCCI_TEST_POSTGRES_URL", "postgres://u:p@h/db");
        jail.set_env("SNF_OCCI_TESTS__X", "1");
        let errors = Config::load(Path::new("c.toml"))
            .expect_err("only the TEST_ prefix is reserved")
            .0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].key.starts_with("tests"), "{errors:?}");
        Ok(())
    });
}

#[test]
fn env_errors_name_the_variable() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", "")?;
        jail.set_env("SNF_OCCI_SERVER__LIMITS__MAX_HEADERS", "many");
        let errors = Config::load(Path::new("c.toml"))
            .expect_err("bad env value")
            .0;
        assert_eq!(errors[0].key, "server.limits.max_headers");
        assert!(
            errors[0].origin.contains("SNF_OCCI_"),
            "{}",
            errors[0].origin
        );
        Ok(())
    });
}

#[test]
fn file_errors_name_the_file() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", "[server]\nlisen = 1\n")?;
        let errors = Config::load(Path::new("c.toml"))
            .expect_err("unknown key")
            .0;
        assert!(errors[0].origin.ends_with("c.toml"), "{}", errors[0].origin);
        Ok(())
    });
}
