//! TLS with optional and required client certificates: the peer chain
//! reaches the app as `PeerCertificates`.

mod common;

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use snf_occi::config::{ClientAuth, LimitsConfig, ServerConfig, TlsConfig};
use snf_occi::server::Server;
use tokio::sync::oneshot;

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_pem: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "snf-occi test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();

    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "alice");
    let client = client_params.signed_by(&client_key, &ca).unwrap();

    Pki {
        ca_pem: ca.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        client_pem: format!("{}{}", client.pem(), client_key.serialize_pem()),
    }
}

async fn start(dir: &Path, pki: &Pki, client_auth: ClientAuth) -> (String, oneshot::Sender<()>) {
    start_with(dir, pki, client_auth, LimitsConfig::default()).await
}

async fn start_with(
    dir: &Path,
    pki: &Pki,
    client_auth: ClientAuth,
    limits: LimitsConfig,
) -> (String, oneshot::Sender<()>) {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(TlsConfig {
            cert: write("server.pem", &pki.server_cert),
            key: write("server.key", &pki.server_key),
            client_ca: Some(write("ca.pem", &pki.ca_pem)),
            client_auth,
        }),
        limits,
        ..ServerConfig::default()
    };
    let service = common::build("[pipeline]\napp = \"echo\"\n").await.unwrap();
    let server = Server::bind(&config, service).await.unwrap();
    let url = format!("https://localhost:{}", server.local_addr().unwrap().port());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));
    (url, stop)
}

fn client(pki: &Pki, with_cert: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap()])
        .resolve("localhost", "127.0.0.1:0".parse().unwrap());
    if with_cert {
        builder = builder.identity(reqwest::Identity::from_pem(pki.client_pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn optional_client_certificates_reach_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (url, stop) = start(dir.path(), &pki, ClientAuth::Optional).await;

    let body = client(&pki, true)
        .get(format!("{url}/x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("peer-certificates: 1"), "{body}");

    // A token user without a certificate is still served.
    let res = client(&pki, false)
        .get(format!("{url}/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("peer-certificates: 0"));
    stop.send(()).unwrap();
}

#[tokio::test]
async fn required_client_certificates_refuse_anonymous_clients() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let (url, stop) = start(dir.path(), &pki, ClientAuth::Required).await;

    assert!(
        client(&pki, false)
            .get(format!("{url}/x"))
            .send()
            .await
            .is_err()
    );
    let body = client(&pki, true)
        .get(format!("{url}/x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("peer-certificates: 1"), "{body}");
    stop.send(()).unwrap();
}

#[tokio::test]
async fn a_missing_key_file_is_named() {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: Some(TlsConfig {
            cert: "/nonexistent/cert.pem".into(),
            key: "/nonexistent/key.pem".into(),
            client_ca: None,
            client_auth: ClientAuth::Optional,
        }),
        ..ServerConfig::default()
    };
    let service = common::build("[pipeline]\napp = \"echo\"\n").await.unwrap();
    let error = Server::bind(&config, service)
        .await
        .expect_err("no such files")
        .to_string();
    assert!(
        error.contains("`server.tls.cert`") && error.contains("/nonexistent/cert.pem"),
        "{error}"
    );
}

/// A TLS front for the simulator (as a site's Apache in front of
/// Cyclades): terminates TLS with `pki`'s server certificate and relays
/// the bytes to the upstream the test names once it is known.
fn tls_front(
    pki: &Pki,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::OnceLock<std::net::SocketAddr>>,
) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use std::sync::{Arc, OnceLock};
    let certs = CertificateDer::pem_slice_iter(pki.server_cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream: Arc<OnceLock<std::net::SocketAddr>> = Arc::default();
    let target = upstream.clone();
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, target) = (acceptor.clone(), target.clone());
            tokio::spawn(async move {
                let (Ok(mut tls), Some(to)) = (acceptor.accept(tcp).await, target.get()) else {
                    return;
                };
                if let Ok(mut up) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                }
            });
        }
    });
    (addr, upstream)
}

/// A gateway whose every Synnefo and identity call goes through the TLS
/// front at `front`, trusting `ca_file` when given.
async fn gateway_behind_tls(
    front: std::net::SocketAddr,
    upstream: &std::sync::OnceLock<std::net::SocketAddr>,
    ca_file: Option<&Path>,
) -> common::Gateway {
    common::start_gateway_config(
        |_| {},
        |identity| {
            let plain = identity
                .strip_prefix("http://")
                .and_then(|rest| rest.split('/').next())
                .unwrap();
            let _ = upstream.set(plain.parse().unwrap());
            let tls = format!("https://{front}");
            let ca = ca_file.map_or(String::new(), |p| {
                format!("ca_file = \"{}\"\n", p.display())
            });
            common::occi_toml_with(
                &format!("{tls}/identity/v2.0"),
                &format!(
                    "{ca}compute_url = \"{tls}/compute/v2.0\"\n\
                     network_url = \"{tls}/network/v2.0\"\n\
                     volume_url = \"{tls}/volume/v2.0\"\n\
                     image_url = \"{tls}/image/v1.0\"\n"
                ),
                "",
            )
        },
    )
    .await
}

/// With `synnefo.ca_file` naming the site CA, identity and Cyclades calls
/// over TLS work (one pool: the auth filter's and the app's); without
/// it the same site is refused as untrusted, with a clear 5xx.
#[tokio::test]
async fn backend_tls_trusts_the_site_ca_from_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let ca = dir.path().join("site-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let (front, upstream) = tls_front(&pki);

    let gw = gateway_behind_tls(front, &upstream, Some(&ca)).await;
    for path in ["/compute/", "/-/"] {
        let res = gw.client(0).get(gw.at(path)).send().await.unwrap();
        let status = res.status();
        assert_eq!(status, 200, "{path}: {}", res.text().await.unwrap());
    }
    let calls = gw.calls();
    assert!(
        calls.contains_key("GET /compute/v2.0/servers/detail"),
        "{calls:?}"
    );
    assert!(
        calls.contains_key("GET /compute/v2.0/images/detail"),
        "{calls:?}"
    );

    let untrusting = gateway_behind_tls(front, &upstream, None).await;
    let res = untrusting
        .client(0)
        .get(untrusting.at("/compute/"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(status.is_server_error(), "{status}: {body}");
    assert!(!body.contains(&untrusting.token(0)), "{body}");
}

/// A `synnefo.ca_file` that holds no certificate stops the build, naming
/// the key.
#[tokio::test]
async fn a_ca_file_without_certificates_is_a_build_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let toml = common::occi_toml_with(
        "http://127.0.0.1:9/identity/v2.0",
        &format!("ca_file = \"{}\"\n", empty.display()),
        "",
    );
    let config = snf_occi::config::Config::from_toml_str(&toml).unwrap();
    let err = snf_occi::pipeline::BuildContext::new(std::sync::Arc::new(config)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("synnefo.ca_file"), "{text}");
    assert!(text.contains("no certificate"), "{text}");
}

/// Issue 16 item 3 over TLS: a client that completes the handshake (with
/// either protocol by ALPN) and then sends no request is closed after the
/// head timeout, counted from the accept, as on plain listeners.
#[tokio::test]
async fn a_tls_connection_without_a_request_is_closed() {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let pki = pki();
    let limits = LimitsConfig {
        header_read_timeout: std::time::Duration::from_millis(300),
        idle_timeout: std::time::Duration::from_secs(60),
        ..LimitsConfig::default()
    };
    let (url, stop) = start_with(dir.path(), &pki, ClientAuth::Optional, limits).await;
    let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pki_types::CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    for alpn in [vec![], vec![b"http/1.1".to_vec()], vec![b"h2".to_vec()]] {
        let mut config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
        config.alpn_protocols = alpn.clone();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let mut tls = connector
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .expect("the handshake completes");
        let started = std::time::Instant::now();
        let mut bytes = Vec::new();
        let closed = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tls.read_to_end(&mut bytes),
        )
        .await;
        assert!(closed.is_ok(), "ALPN {alpn:?}: still open");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "ALPN {alpn:?}: {:?}",
            started.elapsed()
        );
    }
    stop.send(()).unwrap();
}
