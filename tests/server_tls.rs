//! TLS with optional and required client certificates: the peer chain
//! reaches the app as `PeerCertificates`.

mod common;

use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use snf_occi::config::{ClientAuth, ServerConfig, TlsConfig};
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
