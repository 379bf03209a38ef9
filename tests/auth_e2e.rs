//! Issue 6 end to end: the real `snf-occi` binary with its embedded
//! Synnefo simulator, the auth filters configured in the pipeline file and
//! the `echo` app with `require_auth = true` standing in for the OCCI app
//! (401 without an `AuthContext`, else `auth: <user> <project> <method>`).
//!
//! Every test stops the binary and checks that its debug logs hold no
//! token, bearer, certificate or key.

#[allow(dead_code)]
#[path = "../middleware/tests/auth_support/pki.rs"]
mod pki;
#[allow(dead_code)]
#[path = "../middleware/tests/auth_support/signer.rs"]
mod signer;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::get;
use base64::Engine;
use rcgen::{CertificateParams, KeyPair};
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use pki::{AcSpec, Pki, ProxySpec, USER_DN, VO, pem};
use signer::Signer;

const BIN: &str = env!("CARGO_BIN_EXE_snf-occi");

/// The simulator's default users (`simulator::seed::default_users`).
const ALICE: &str = "a11ce000-0000-4000-8000-000000000001";
const ALICE_TOKEN: &str = "alice-token";
const BOB: &str = "b0b00000-0000-4000-8000-000000000002";
const BOB_TOKEN: &str = "bob-token";
const DEMO_PROJECT: &str = "d3m0d3m0-0000-4000-8000-000000000001";

/// The parts every test config shares: an ephemeral port, the embedded
/// simulator, debug logs, and `echo` answering 401 to the unauthenticated.
const COMMON: &str = r#"
[simulator]
listen = "127.0.0.1:0"

[app.app]
use = "echo"
require_auth = true

[urlmap]
"/" = "pipeline"

[log]
level = "debug"
"#;

/// A running binary; its stdout and stderr are drained into `logs` so a
/// chatty debug log can never block it on a full pipe.
struct Running {
    child: Child,
    url: String,
    logs: Arc<Mutex<String>>,
}

fn drain(from: impl AsyncRead + Unpin + Send + 'static, logs: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut from = from;
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => logs
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
}

/// Writes `config` (plus [`COMMON`]) and starts `snf-occi serve` on it.
async fn start(dir: &Path, config: &str) -> Running {
    let path = dir.join("snf-occi.pipeline.toml");
    std::fs::write(&path, format!("{config}\n{COMMON}")).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", path.to_str().unwrap()])
        .env_remove("SNF_OCCI_SERVER__LISTEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let logs = Arc::new(Mutex::new(String::new()));
    drain(child.stderr.take().unwrap(), logs.clone());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut first)).await;
    if !matches!(read, Ok(Ok(n)) if n > 0) {
        let _ = child.kill().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        panic!(
            "the server did not announce its address; logs:\n{}",
            logs.lock().unwrap()
        );
    }
    drain(stdout, logs.clone());
    let url = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    Running { child, url, logs }
}

impl Running {
    /// SIGTERM, wait for the exit, and return everything it printed.
    async fn stop(mut self) -> String {
        let pid = self.child.id().expect("still running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exits on SIGTERM")
            .unwrap();
        assert!(exit.success(), "exit status {exit:?}");
        // Let the drains reach end of file.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.logs.lock().unwrap().clone()
    }
}

/// The debug logs of a whole run hold none of the secrets it handled.
fn assert_no_secrets(logs: &str, secrets: &[&str]) {
    assert!(
        logs.contains(" DEBUG "),
        "the capture holds the debug log: {logs}"
    );
    for marker in [
        "BEGIN CERTIFICATE",
        "PRIVATE KEY",
        "Bearer ey",
        ALICE_TOKEN,
        BOB_TOKEN,
    ] {
        assert!(!logs.contains(marker), "{marker:?} logged:\n{logs}");
    }
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret was logged:\n{logs}");
    }
}

/// The run logged the auth filters' own debug events (so that
/// [`assert_no_secrets`] looked at what they write).
fn assert_auth_events(logs: &str) {
    assert!(
        logs.lines()
            .any(|l| l.contains(" DEBUG ") && l.contains("snf_occi_middleware::auth::")),
        "the auth filters' debug events are captured: {logs}"
    );
}

/// The `auth:` line of an `echo` body: `user project method`.
fn auth_line(body: &str) -> &str {
    body.lines()
        .find_map(|l| l.strip_prefix("auth: "))
        .unwrap_or_else(|| panic!("no auth line in {body:?}"))
}

fn challenges(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

// ------------------------------------------------------------ keystone_auth

const KEYSTONE: &str = r#"
[server]
listen = "127.0.0.1:0"

[pipeline]
filters = ["request_log", "keystone"]
app = "app"

[filter.keystone]
use = "keystone_auth"

[synnefo]
identity_timeout = "1s"
"#;

/// What pOCCI's `--auth UUID TOKEN` does with a Keystone challenge: POST
/// password credentials to `<uri>v2.0/tokens` and take `access.token.id`.
async fn keystone_login(client: &reqwest::Client, uri: &str, user: &str, password: &str) -> String {
    let res = client
        .post(pocci_tokens_url(uri))
        .json(&serde_json::json!({"auth": {"passwordCredentials": {"username": user, "password": password}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login at {uri}");
    let access: serde_json::Value = res.json().await.unwrap();
    access["access"]["token"]["id"]
        .as_str()
        .expect("access.token.id")
        .to_string()
}

/// Where pOCCI 1.0.3 posts its login for challenge `uri`
/// (`transport.py` `auth_keystone`: a `/` added when missing, then
/// `v2.0` and `/tokens`).
fn pocci_tokens_url(uri: &str) -> String {
    let base = if uri.ends_with('/') {
        uri.to_owned()
    } else {
        format!("{uri}/")
    };
    format!("{base}v2.0/tokens")
}

/// `uri` out of `Keystone uri='<uri>'`.
fn keystone_uri(challenge: &str) -> String {
    challenge
        .strip_prefix("Keystone uri='")
        .and_then(|s| s.strip_suffix('\''))
        .unwrap_or_else(|| panic!("not a Keystone challenge: {challenge}"))
        .to_string()
}

#[tokio::test]
async fn keystone_401_login_and_retry_against_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), KEYSTONE).await;
    let url = &server.url;
    let client = reqwest::Client::new();

    // No token: 401 with the Keystone challenge, on every method.
    let mut uri = String::new();
    for method in [
        reqwest::Method::GET,
        reqwest::Method::HEAD,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
    ] {
        let res = client
            .request(method.clone(), format!("{url}/compute/"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method}");
        let found = challenges(&res);
        assert_eq!(found.len(), 1, "{method}: {found:?}");
        uri = keystone_uri(&found[0]);
        assert!(
            uri.starts_with("http://127.0.0.1:") && uri.ends_with("/identity"),
            "the embedded simulator's Astakos, no version suffix: {uri}"
        );
        let body = res.text().await.unwrap();
        if method == reqwest::Method::HEAD {
            assert!(body.is_empty());
        } else {
            assert_eq!(body, "Authentication required\n", "{method}");
        }
    }

    // pOCCI's flow: login at the advertised Keystone, retry with the token.
    let token = keystone_login(&client, &uri, ALICE, ALICE_TOKEN).await;
    let res = client
        .get(format!("{url}/compute/"))
        .header("x-auth-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert_eq!(
        auth_line(&body),
        format!("{ALICE} {DEMO_PROJECT} keystone_auth"),
        "the first project that is not the user's own"
    );
    assert!(!body.contains(&token), "the token is never echoed: {body}");

    // Wrong password at Keystone: the login itself fails.
    let res = client
        .post(pocci_tokens_url(&uri))
        .json(&serde_json::json!({"auth": {"passwordCredentials": {"username": ALICE, "password": BOB_TOKEN}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // The seed's `Auth-Token` header, and `X-Snf-Project`.
    let res = client
        .post(format!("{url}/compute/"))
        .header("auth-token", ALICE_TOKEN)
        .header("x-snf-project", ALICE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{ALICE} {ALICE} keystone_auth")
    );

    // A bad token: 401 with the same challenge, never 500.
    let res = client
        .get(format!("{url}/compute/"))
        .header("x-auth-token", "not-a-real-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(challenges(&res), vec![format!("Keystone uri='{uri}'")]);
    assert!(!res.text().await.unwrap().contains("not-a-real-token"));

    // Astakos down (the simulator's `down` fault): 503, not 401 or 500.
    let sim = uri.trim_end_matches("identity");
    let res = client
        .put(format!("{sim}_sim/faults"))
        .json(&serde_json::json!({"down": ["identity"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .get(format!("{url}/compute/"))
        .header("x-auth-token", BOB_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    // Alice's validation is cached: she keeps working meanwhile.
    let res = client
        .get(format!("{url}/compute/"))
        .header("x-auth-token", ALICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Back up: Bob gets in.
    let res = client
        .delete(format!("{sim}_sim/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = client
        .get(format!("{url}/compute/"))
        .header("x-auth-token", BOB_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{BOB} {DEMO_PROJECT} keystone_auth")
    );

    let logs = server.stop().await;
    assert_auth_events(&logs);
    assert_no_secrets(&logs, &["not-a-real-token"]);
}

// ------------------------------------------------------------ voms_exchange

/// The simulator's astavoms maps the generated user's DN to Alice.
fn voms_users() -> String {
    format!(
        "[[simulator.voms_users]]\ndn = \"{USER_DN}\"\nvo = \"{VO}\"\nuser = \"{ALICE}\"\nproject = \"{DEMO_PROJECT}\"\n"
    )
}

fn voms_proxy(pki: &Pki) -> pki::Proxy {
    pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        ..Default::default()
    })
}

/// Apache's one-line PEM, as `SSL_CLIENT_CERT*` carry it.
fn flat(der: &CertificateDer<'_>) -> String {
    pem(der).replace('\n', " ").trim_end().to_string()
}

fn forwarded(
    req: reqwest::RequestBuilder,
    chain: &[CertificateDer<'static>],
) -> reqwest::RequestBuilder {
    let mut req = req.header("SSL_CLIENT_CERT", flat(&chain[0]));
    for (n, cert) in chain[1..].iter().enumerate() {
        req = req.header(format!("SSL_CLIENT_CERT_CHAIN_{n}"), flat(cert));
    }
    req
}

/// Base64 of a certificate's middle, to find it in logs whatever the framing.
fn der_fragment(der: &CertificateDer<'_>) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    b64[b64.len() / 2..b64.len() / 2 + 40].to_string()
}

/// `pki`'s CA written as `name` in `dir`, for `client_ca_file`.
fn write_ca(dir: &Path, pki: &Pki) -> std::path::PathBuf {
    let path = dir.join("client-ca.pem");
    std::fs::write(&path, pem(&pki.ca.der)).unwrap();
    path
}

#[tokio::test]
async fn voms_headers_from_a_trusted_front_end_and_only_from_it() {
    let pki = Pki::new();
    let proxy = voms_proxy(&pki);
    let client = reqwest::Client::new();
    let voms = voms_users();

    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &pki);
    let trusted = start(
        dir.path(),
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"
[pipeline]
filters = ["request_log", "voms"]
app = "app"
[filter.voms]
use = "voms_exchange"
trusted_proxies = ["127.0.0.1/32"]
client_ca_file = "{}"
{voms}"#,
            ca.display()
        ),
    )
    .await;
    let res = forwarded(
        client.get(format!("{}/compute/", trusted.url)),
        &proxy.chain,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{ALICE} {DEMO_PROJECT} voms_exchange")
    );
    // An expired proxy forwarded by the trusted front end: 401 naming why.
    let now = time::OffsetDateTime::now_utc();
    let expired = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        not_before: Some(now - time::Duration::days(2)),
        not_after: Some(now - time::Duration::days(1)),
        ..Default::default()
    });
    let res = forwarded(
        client.get(format!("{}/compute/", trusted.url)),
        &expired.chain,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.text().await.unwrap().contains("has expired"),
        "the reason is named"
    );
    let logs = trusted.stop().await;
    assert_auth_events(&logs);
    assert_no_secrets(
        &logs,
        &[
            &der_fragment(&proxy.chain[0]),
            &der_fragment(&expired.chain[0]),
        ],
    );

    // The same headers when 127.0.0.1 is not a trusted front end: ignored.
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &pki);
    let untrusted = start(
        dir.path(),
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"
[pipeline]
filters = ["request_log", "voms"]
app = "app"
[filter.voms]
use = "voms_exchange"
trusted_proxies = ["10.0.0.0/8"]
client_ca_file = "{}"
{voms}"#,
            ca.display()
        ),
    )
    .await;
    let res = forwarded(
        client.get(format!("{}/compute/", untrusted.url)),
        &proxy.chain,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    assert!(challenges(&res)[0].starts_with("Keystone uri='http://127.0.0.1:"));
    let logs = untrusted.stop().await;
    assert_no_secrets(&logs, &[&der_fragment(&proxy.chain[0])]);
}

/// The seed's rOCCI-cli `-n x509 -x <proxy>` case: a VOMS proxy chain
/// straight at our TLS endpoint, verified by the proxy-aware verifier.
#[tokio::test]
async fn voms_proxy_over_direct_tls() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // The server's certificate, from the same test CA.
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &pki.ca.issuer())
        .unwrap();
    let cert = write("server.pem", &server_cert.pem());
    let key = write("server.key", &server_key.serialize_pem());
    let ca = write("ca.pem", &pem(&pki.ca.der));
    let server = start(
        dir.path(),
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"
[server.tls]
cert = "{}"
key = "{}"
client_ca = "{}"
[pipeline]
filters = ["request_log", "voms", "keystone"]
app = "app"
[filter.voms]
use = "voms_exchange"
[filter.keystone]
use = "keystone_auth"
{}"#,
            cert.display(),
            key.display(),
            ca.display(),
            voms_users()
        ),
    )
    .await;
    let port = server
        .url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("a TLS listener: {}", server.url));
    let url = format!("https://localhost:{port}");
    let client_with = |chain: &[CertificateDer<'static>], key: Option<&KeyPair>| {
        tls_client(&pki.ca.der, chain, key, port)
    };

    // The proxy chain: logged in as the user its DN maps to.
    let proxy = voms_proxy(&pki);
    let res = client_with(&proxy.chain, Some(&proxy.key))
        .get(format!("{url}/compute/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("peer-certificates: 2"), "{body}");
    assert_eq!(
        auth_line(&body),
        format!("{ALICE} {DEMO_PROJECT} voms_exchange")
    );

    // No certificate (token users): the same endpoint, Keystone.
    let res = client_with(&[], None)
        .get(format!("{url}/compute/"))
        .header("x-auth-token", BOB_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{BOB} {DEMO_PROJECT} keystone_auth")
    );

    // An expired proxy, and one from an impostor CA (same name, other
    // key): the proxy-aware verifier refuses both at the handshake.
    let now = time::OffsetDateTime::now_utc();
    let expired = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        not_before: Some(now - time::Duration::days(2)),
        not_after: Some(now - time::Duration::days(1)),
        ..Default::default()
    });
    let stranger_pki = Pki::new();
    let stranger = voms_proxy(&stranger_pki);
    for (name, proxy) in [("expired", &expired), ("untrusted CA", &stranger)] {
        let result = client_with(&proxy.chain, Some(&proxy.key))
            .get(format!("{url}/compute/"))
            .send()
            .await;
        match result {
            Err(e) => assert!(
                format!("{e:?}").contains("AlertReceived"),
                "{name}: the server refused the handshake: {e:?}"
            ),
            Ok(res) => panic!(
                "{name}: answered {} instead of failing the handshake",
                res.status()
            ),
        }
    }

    let logs = server.stop().await;
    assert_auth_events(&logs);
    // The server says why at debug level (the DN and chain stay out).
    for reason in ["Expired", "BadSignature"] {
        assert!(
            logs.contains(&format!(
                "TLS handshake failed: invalid peer certificate: {reason}"
            )),
            "{reason} logged: {logs}"
        );
    }
    assert_no_secrets(
        &logs,
        &[
            &der_fragment(&proxy.chain[0]),
            &der_fragment(&expired.chain[0]),
            &der_fragment(&stranger.chain[0]),
        ],
    );
}

/// Issue 16 item 1, end to end over TLS: Mallory holds a valid VOMS
/// proxy (her own certificate from the site CA, an AC issued to it) and
/// appends a self-signed certificate carrying Jane Doe's DN, which the
/// simulator's astavoms maps to Alice (listed first). The verifier
/// accepts the chain (the extra certificate is no part of the path);
/// Mallory must still act as herself (Bob's account), never as Alice,
/// and the same chain forwarded by a trusted front end neither.
#[tokio::test]
async fn an_appended_certificate_with_another_dn_does_not_change_who_you_are() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &pki.ca.issuer())
        .unwrap();
    let cert = write("server.pem", &server_cert.pem());
    let key = write("server.key", &server_key.serialize_pem());
    let ca = write("ca.pem", &pem(&pki.ca.der));
    let mallory_dn = "/DC=org/O=snf-test/OU=People/CN=Mallory";
    let server = start(
        dir.path(),
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"
[server.tls]
cert = "{}"
key = "{}"
client_ca = "{}"
[pipeline]
filters = ["request_log", "voms"]
app = "app"
[filter.voms]
use = "voms_exchange"
trusted_proxies = ["127.0.0.1"]
client_ca_file = "{}"
{}
[[simulator.voms_users]]
dn = "{mallory_dn}"
vo = "{VO}"
user = "{BOB}"
project = "{DEMO_PROJECT}"
"#,
            cert.display(),
            key.display(),
            ca.display(),
            ca.display(),
            voms_users()
        ),
    )
    .await;
    let port = server
        .url
        .strip_prefix("https://127.0.0.1:")
        .unwrap_or_else(|| panic!("a TLS listener: {}", server.url))
        .to_owned();
    let url = format!("https://localhost:{port}");

    let mallory = pki.other_user("Mallory", &[0x0b]);
    let serial = mallory.params.serial_number.clone().unwrap();
    let proxy = pki.proxy(&ProxySpec {
        holder: Some(&mallory),
        ac: Some(pki.ac(&AcSpec {
            holder_serial: Some(serial.as_ref()),
            ..Default::default()
        })),
        ..Default::default()
    });
    let jane_copy = Pki::self_signed_copy(&pki.user);
    let mut chain = proxy.chain.clone();
    chain.push(jane_copy.der.clone());

    let res = tls_client(&pki.ca.der, &chain, Some(&proxy.key), &port)
        .get(format!("{url}/compute/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("peer-certificates: 3"),
        "the handshake took the chain as sent: {body}"
    );
    assert_eq!(
        auth_line(&body),
        format!("{BOB} {DEMO_PROJECT} voms_exchange"),
        "Mallory acts as herself"
    );

    // The same chain in a trusted front end's headers (a fresh proxy, so
    // nothing is cached): still Mallory.
    let proxy = pki.proxy(&ProxySpec {
        holder: Some(&mallory),
        ac: Some(pki.ac(&AcSpec {
            holder_serial: Some(serial.as_ref()),
            ..Default::default()
        })),
        ..Default::default()
    });
    let mut chain = proxy.chain.clone();
    chain.push(jane_copy.der.clone());
    let plain_front = tls_client(&pki.ca.der, &[], None, &port);
    let res = forwarded(plain_front.get(format!("{url}/compute/")), &chain)
        .header("SSL-Client-S-DN", USER_DN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{BOB} {DEMO_PROJECT} voms_exchange")
    );

    let logs = server.stop().await;
    assert_auth_events(&logs);
    assert_no_secrets(&logs, &[&der_fragment(&proxy.chain[0])]);
}

/// A client trusting `ca` and presenting `chain` with `key`.
///
/// rustls' (and so reqwest's) `Identity` parses the leaf with webpki to
/// match it with the key, which refuses proxy certificates (critical
/// ProxyCertInfo) as any rustls-based grid client would meet; a resolver
/// that just presents the chain skips that check.
fn tls_client(
    ca: &CertificateDer<'static>,
    chain: &[CertificateDer<'static>],
    key: Option<&KeyPair>,
    port: &str,
) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match key {
        Some(key) => {
            let key = provider
                .key_provider
                .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    key.serialize_der(),
                )))
                .unwrap();
            builder.with_client_cert_resolver(Arc::new(Presents(Arc::new(CertifiedKey::new(
                chain.to_vec(),
                key,
            )))))
        }
        None => builder.with_no_client_auth(),
    };
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap()
}

#[derive(Debug)]
struct Presents(Arc<CertifiedKey>);

impl ResolvesClientCert for Presents {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

// ------------------------------------------------------------ jwt_auth

const AUD: &str = "snf-occi";
const SUB: &str = "alice@egi.eu";

/// An in-test IdP publishing `signer`'s JWKS; returns its issuer URL.
async fn jwks_server(signer: &Signer) -> String {
    let jwks = serde_json::json!({"keys": [signer.jwk()]});
    let router = axum::Router::new().route(
        "/realm/keys",
        get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}/realm")
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(issuer: &str) -> serde_json::Value {
    serde_json::json!({"iss": issuer, "aud": AUD, "sub": SUB, "exp": now() + 600, "iat": now(), "nbf": now() - 5})
}

/// `jwt_auth` with `SUB` mapped to the simulator's Alice.
fn jwt_filter(issuer: &str) -> String {
    format!(
        r#"
[filter.jwt]
use = "jwt_auth"
issuer = "{issuer}"
audience = ["{AUD}"]
jwks_url = "{issuer}/keys"
[[filter.jwt.mapping]]
sub = "{SUB}"
token = "{ALICE_TOKEN}"
user = "{ALICE}"
project = "{DEMO_PROJECT}"
"#
    )
}

#[tokio::test]
async fn jwt_bearers_verified_against_an_idp() {
    let signer = Signer::new("k1");
    let impostor = Signer::new("k1");
    let issuer = jwks_server(&signer).await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[pipeline]\nfilters = [\"request_log\", \"jwt\"]\napp = \"app\"\n{}",
            jwt_filter(&issuer)
        ),
    )
    .await;
    let url = &server.url;
    let client = reqwest::Client::new();

    let good = signer.sign(&claims(&issuer));
    let res = client
        .get(format!("{url}/compute/"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert_eq!(auth_line(&body), format!("{ALICE} {DEMO_PROJECT} jwt_auth"));

    let mut expired = claims(&issuer);
    expired["exp"] = (now() - 3600).into();
    let mut other_aud = claims(&issuer);
    other_aud["aud"] = "someone-else".into();
    let bad = [
        (impostor.sign(&claims(&issuer)), "signature is invalid"),
        (signer.sign(&expired), "has expired"),
        (signer.sign(&other_aud), "another audience"),
    ];
    for (token, reason) in &bad {
        let res = client
            .get(format!("{url}/compute/"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{reason}");
        assert_eq!(
            challenges(&res),
            vec!["Bearer realm=\"snf-occi\", error=\"invalid_token\"".to_string()],
            "{reason}"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains(reason), "{reason}: {body}");
    }
    // No bearer: the app's 401 with the plain Bearer challenge.
    let res = client.get(format!("{url}/compute/")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        challenges(&res),
        vec!["Bearer realm=\"snf-occi\"".to_string()]
    );

    let logs = server.stop().await;
    assert_auth_events(&logs);
    let signatures: Vec<&str> = std::iter::once(good.as_str())
        .chain(bad.iter().map(|(t, _)| t.as_str()))
        .map(|t| t.rsplit('.').next().unwrap())
        .collect();
    assert_no_secrets(&logs, &signatures);
}

// ------------------------------------------------------------ all three

#[tokio::test]
async fn chained_filters_each_credential_works_and_none_gets_keystone() {
    let pki = Pki::new();
    let proxy = voms_proxy(&pki);
    let signer = Signer::new("k1");
    let issuer = jwks_server(&signer).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write_ca(dir.path(), &pki);
    let server = start(
        dir.path(),
        &format!(
            r#"
[server]
listen = "127.0.0.1:0"
[pipeline]
filters = ["request_log", "voms", "jwt", "keystone"]
app = "app"
[filter.voms]
use = "voms_exchange"
trusted_proxies = ["127.0.0.1"]
client_ca_file = "{}"
[filter.keystone]
use = "keystone_auth"
{}
{}"#,
            ca.display(),
            jwt_filter(&issuer),
            voms_users()
        ),
    )
    .await;
    let url = &server.url;
    let client = reqwest::Client::new();

    let res = client
        .get(format!("{url}/compute/"))
        .header("x-auth-token", BOB_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{BOB} {DEMO_PROJECT} keystone_auth")
    );

    let bearer = signer.sign(&claims(&issuer));
    let res = client
        .get(format!("{url}/compute/"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{ALICE} {DEMO_PROJECT} jwt_auth")
    );

    let res = forwarded(client.get(format!("{url}/compute/")), &proxy.chain)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        auth_line(&res.text().await.unwrap()),
        format!("{ALICE} {DEMO_PROJECT} voms_exchange")
    );

    // Nothing: one challenge, Keystone's (what rOCCI-cli and pOCCI follow).
    for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
        let res = client
            .request(method.clone(), format!("{url}/compute/"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method}");
        let found = challenges(&res);
        assert_eq!(found.len(), 1, "{method}: {found:?}");
        let uri = keystone_uri(&found[0]);
        assert!(uri.ends_with("/identity"), "{uri}");
    }

    let logs = server.stop().await;
    assert_auth_events(&logs);
    assert_no_secrets(
        &logs,
        &[
            bearer.rsplit('.').next().unwrap(),
            &der_fragment(&proxy.chain[0]),
        ],
    );
}
