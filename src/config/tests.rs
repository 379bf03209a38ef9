//! Loading tests: defaults, every error with its key path and origin,
//! environment overrides.

// figment's `Jail` closures must return `figment::Error`, which is large.
#![allow(clippy::result_large_err)]

use std::time::Duration;

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

#[test]
fn old_keys_are_errors_naming_their_new_place() {
    let errors = errors_of(
        r#"
        [filter.keystone]
        use = "keystone_auth"
        identity_url = "http://a/identity/v2.0"
        timeout = "5s"
        cache_ttl = "5m"
        [app.occi]
        identity_url = "http://a/identity/v2.0"
        read_retries = 2
        default_flavor = "C1"
        [app.readyz]
        compute_url = "http://c/compute/v2.0"
        [app.keystone_facade]
        timeout = "3s"
        [backend]
        pool_max_idle_per_host = 8
        ca_file = "/etc/ca.pem"
        "#,
    );
    let found: Vec<(String, String)> = errors
        .iter()
        .map(|e| (e.key.clone(), e.reason.clone()))
        .collect();
    let expected = [
        ("filter.keystone.identity_url", "synnefo.identity_url"),
        ("filter.keystone.timeout", "synnefo.identity_timeout"),
        ("app.keystone_facade.timeout", "synnefo.identity_timeout"),
        ("app.occi.identity_url", "synnefo.identity_url"),
        ("app.occi.read_retries", "synnefo.read_retries"),
        ("app.readyz.compute_url", "synnefo.compute_url"),
        ("backend.ca_file", "synnefo.ca_file"),
        (
            "backend.pool_max_idle_per_host",
            "synnefo.pool_max_idle_per_host",
        ),
    ];
    for (key, to) in expected {
        let reason = format!("moved to `{to}`");
        assert!(
            found.contains(&(key.to_owned(), reason)),
            "{key} -> {to}: {found:?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{found:?}");
    assert!(
        errors[0]
            .to_string()
            .contains("`filter.keystone.identity_url`: moved to `synnefo.identity_url`"),
        "{}",
        errors[0]
    );
}

#[test]
fn moved_keys_leave_their_table_so_the_factory_does_not_report_them_again() {
    let (config, errors) = Config::from_figment_partial(Figment::from(Toml::string(
        "[app.occi]\nidentity_url = \"http://a/\"\ndefault_image = \"Debian\"\n",
    )));
    assert_eq!(errors.len(), 1, "{errors:?}");
    let occi = &config.app["occi"];
    assert!(!occi.contains_key("identity_url"));
    assert!(occi.contains_key("default_image"));
    // Only for the factory that had the key: another app's `timeout` stays.
    let (config, errors) = Config::from_figment_partial(Figment::from(Toml::string(
        "[app.probe]\nuse = \"readyz\"\ntimeout = \"1s\"\n",
    )));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(config.app["probe"].contains_key("timeout"));
}

#[test]
fn an_empty_backend_table_still_names_its_new_place() {
    let errors = errors_of("[backend]\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "backend");
    assert_eq!(errors[0].reason, "moved to `synnefo`");
}

#[test]
fn the_synnefo_table_and_its_environment_overrides() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "c.toml",
            "[synnefo]\nidentity_url = \"http://file/identity/v2.0\"\nread_retries = 3\n",
        )?;
        jail.set_env(
            "SNF_OCCI_SYNNEFO__IDENTITY_URL",
            "https://env.example.org/identity/v2.0",
        );
        jail.set_env("SNF_OCCI_SYNNEFO__IDENTITY_TIMEOUT", "4s");
        let config = Config::load(Path::new("c.toml")).map_err(|e| e.to_string())?;
        assert_eq!(
            config.synnefo.identity_url.as_deref(),
            Some("https://env.example.org/identity/v2.0")
        );
        assert_eq!(config.synnefo.identity_timeout, Duration::from_secs(4));
        assert_eq!(config.synnefo.read_retries, 3);
        assert!(
            config
                .sources
                .origin_of("synnefo.identity_url")
                .contains("SNF_OCCI_"),
            "{}",
            config.sources.origin_of("synnefo.identity_url")
        );
        Ok(())
    });
}

#[test]
fn an_old_key_from_the_environment_names_the_variable_and_the_new_place() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("c.toml", "")?;
        jail.set_env("SNF_OCCI_APP__OCCI__IDENTITY_URL", "http://a/identity/v2.0");
        let errors = Config::load(Path::new("c.toml")).expect_err("an old key").0;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "app.occi.identity_url");
        assert_eq!(errors[0].reason, "moved to `synnefo.identity_url`");
        assert!(
            errors[0].origin.contains("SNF_OCCI_"),
            "{}",
            errors[0].origin
        );
        Ok(())
    });
}

#[test]
fn synnefo_urls_are_checked_when_loaded() {
    let errors = errors_of("[synnefo]\nidentity_url = \"accounts.example.org\"\n");
    assert_eq!(errors[0].key, "synnefo.identity_url");
    assert!(errors[0].reason.contains("absolute URL"), "{errors:?}");
}
