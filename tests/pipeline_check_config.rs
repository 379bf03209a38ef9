//! `snf-occi check-config` on good and bad files, through the real binary.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_snf-occi");

fn write(dir: &Path, toml: &str) -> std::path::PathBuf {
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    // Keep the developer's own SNF_OCCI_* variables out of the test.
    for (k, _) in std::env::vars() {
        if k.starts_with("SNF_OCCI_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(envs.iter().copied());
    cmd.output().unwrap()
}

const BAD: &str = r#"
[server]
listen = "127.0.0.1:0"

[server.limits]
max_headers = "lots"

[pipeline]
filters = ["request_log", "no_such_filter", "timeout"]
app = "echo"

[filter.timeout]
timeout = "5s"
timout = "10s"
"#;

#[test]
fn every_error_is_printed_with_its_key_path_and_the_exit_is_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), BAD);
    let out = run(&["check-config", "--config", path.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // One run reports all three, each with its key path.
    assert!(
        stderr.contains("`server.limits.max_headers`: invalid type"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`pipeline.filters`: unknown filter factory `no_such_filter`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`filter.timeout.timout`: unknown key"),
        "{stderr}"
    );
    assert!(stderr.contains("3 configuration error(s)"), "{stderr}");
    // The file is named as the origin.
    assert!(
        stderr.contains("pipeline.toml: `server.limits.max_headers`"),
        "{stderr}"
    );

    // `--config` is accepted before the subcommand too.
    let out = run(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_good_file_passes_and_the_environment_can_break_or_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[pipeline]\nfilters = [\"request_log\", \"timeout\"]\napp = \"echo\"\n",
    );
    let p = path.to_str().unwrap();
    let out = run(&["check-config", "-c", p], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("OK (filters: [request_log, timeout], app: echo")
    );

    let out = run(
        &["check-config", "-c", p],
        &[("SNF_OCCI_FILTER__TIMEOUT__TIMEOUT", "soon")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("`filter.timeout.timeout`"), "{stderr}");
    assert!(
        stderr.contains("SNF_OCCI_"),
        "names the environment as the origin: {stderr}"
    );

    let out = run(
        &["check-config", "-c", p],
        &[("SNF_OCCI_PIPELINE__APP", "healthz")],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("app: healthz"));

    // The runtime's worker threads: a count from 1 passes, 0 is refused
    // naming the key.
    let out = run(
        &["check-config", "-c", p],
        &[("SNF_OCCI_SERVER__WORKERS", "1")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["check-config", "-c", p],
        &[("SNF_OCCI_SERVER__WORKERS", "0")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`server.workers`: 0 worker threads"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_an_error_not_an_empty_config() {
    let out = run(
        &["check-config", "--config", "/nonexistent/snf-occi.toml"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/snf-occi.toml"));
}

#[test]
fn a_file_that_is_not_toml_reports_only_that() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "[server\nlisten = 1\n");
    let out = run(&["check-config", "--config", path.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("pipeline.toml: TOML parse error at line 1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 configuration error(s)"),
        "no follow-on noise: {stderr}"
    );
}

/// The simulator's table is typed by the simulator crate, outside the
/// configuration module: its mistakes are still reported with the others,
/// each with its key and file, and `serve` starts nothing.
#[cfg(feature = "simulator")]
#[test]
fn a_wrong_simulator_key_is_reported_with_the_others() {
    /// A `[simulator]` table with a wrong key, beside a wrong `[server]` key.
    const BAD_SIMULATOR: &str = r#"
[server]
listen = "127.0.0.1:0"
listn = "127.0.0.1:0"

[pipeline]
filters = []
app = "echo"

[simulator]
listen = "127.0.0.1:0"
build_dlay = "1s"
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), BAD_SIMULATOR);
    for command in ["check-config", "serve"] {
        let out = run(&[command, "--config", path.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("pipeline.toml: `simulator.build_dlay`: unknown key"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("`server.listn`: unknown key"),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("2 configuration error(s)"),
            "{command}: {stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening"),
            "{command} served"
        );
    }
    // The environment's value is named as its origin.
    let path = write(
        dir.path(),
        "[pipeline]\nfilters = []\napp = \"echo\"\n[simulator]\nlisten = \"127.0.0.1:0\"\n",
    );
    let out = run(
        &["check-config", "--config", path.to_str().unwrap()],
        &[("SNF_OCCI_SIMULATOR__BUILD_DELAY", "soon")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "`SNF_OCCI_` environment variable(s): `simulator.build_delay`: invalid value string \"soon\""
        ),
        "{stderr}"
    );
    assert!(stderr.contains("1 configuration error(s)"), "{stderr}");
}

/// A build without the `simulator` feature has no simulator: a file that
/// asks for one is refused, naming the feature, and there is no
/// `simulator` command. (`cargo test --no-default-features --test
/// pipeline_check_config`, as CI runs it.)
#[cfg(not(feature = "simulator"))]
#[test]
fn without_the_feature_a_simulator_table_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "[simulator]\nlisten = \"127.0.0.1:0\"\n");
    for command in ["check-config", "serve"] {
        let out = run(&[command, "--config", path.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(
                "pipeline.toml: `simulator`: this snf-occi was built without the `simulator` feature"
            ),
            "{command}: {stderr}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("listening"),
            "{command} served"
        );
    }
    let out = run(&["simulator"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'simulator'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_names_the_synnefo_it_will_use_and_where_that_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[pipeline]\nfilters = [\"keystone\"]\napp = \"echo\"\n\
         [filter.keystone]\nuse = \"keystone_auth\"\n\
         [synnefo]\nidentity_url = \"https://file.example.org/identity/v2.0\"\n",
    );
    let p = path.to_str().unwrap();
    let out = run(&["check-config", "-c", p], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("synnefo.identity_url: https://file.example.org/identity/v2.0 (from "),
        "{stdout}"
    );
    assert!(stdout.contains("pipeline.toml)"), "{stdout}");

    // The environment overrides it under the new name, and says so.
    let out = run(
        &["check-config", "-c", p],
        &[(
            "SNF_OCCI_SYNNEFO__IDENTITY_URL",
            "https://env.example.org/identity/v2.0",
        )],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("synnefo.identity_url: https://env.example.org/identity/v2.0"),
        "{stdout}"
    );
    assert!(stdout.contains("SNF_OCCI_"), "{stdout}");

    // Under the old name it is an error naming the new place.
    let out = run(
        &["check-config", "-c", p],
        &[(
            "SNF_OCCI_FILTER__KEYSTONE__IDENTITY_URL",
            "https://env.example.org/identity/v2.0",
        )],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`filter.keystone.identity_url`: moved to `synnefo.identity_url`"),
        "{stderr}"
    );
    assert!(stderr.contains("1 configuration error(s)"), "{stderr}");
}

#[test]
fn without_a_synnefo_or_a_simulator_the_build_says_which_key_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "[pipeline]\nfilters = [\"keystone\"]\napp = \"readyz\"\n\
         [filter.keystone]\nuse = \"keystone_auth\"\n",
    );
    let out = run(&["check-config", "-c", path.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // Two factories need it: reported once.
    assert_eq!(
        stderr
            .matches("`synnefo.identity_url`: is required when no embedded simulator runs")
            .count(),
        1,
        "{stderr}"
    );
}
