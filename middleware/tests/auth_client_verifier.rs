//! Real rustls handshakes (tokio-rustls, 127.0.0.1:0) between a client
//! presenting generated proxy chains and a server using
//! `ProxyClientCertVerifier`.

mod auth_support;

use std::sync::Arc;

use auth_support::pki::{AcSpec, PPL_INDEPENDENT, Party, Pki, ProxySpec};
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair};
use rustls::client::ResolvesClientCert;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use snf_occi_middleware::auth::proxy_chain::inspect_chain;
use snf_occi_middleware::auth::{ClientAuth, ProxyClientCertVerifier};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(ca: &CertificateDer<'static>) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    Arc::new(roots)
}

fn server_identity(pki: &Pki) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &pki.ca.issuer()).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

/// Runs one handshake; returns the chain the server saw, or its error.
async fn handshake(
    pki: &Pki,
    verifier: Arc<dyn ClientCertVerifier>,
    client_cert: Option<(Vec<CertificateDer<'static>>, &KeyPair)>,
    version: &'static SupportedProtocolVersion,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let (cert, key) = server_identity(pki);
    let server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match acceptor.accept(tcp).await {
            Ok(mut tls) => {
                let seen = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|c| c.to_vec())
                    .unwrap_or_default();
                let _ = tls.write_all(b"ok").await;
                let _ = tls.shutdown().await;
                Ok(seen)
            }
            Err(err) => Err(err.to_string()),
        }
    });

    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots(&pki.ca.der));
    let client = match client_cert {
        // rustls' `with_client_auth_cert` parses the leaf with webpki to
        // match it with the key, and so refuses proxies too (as would any
        // rustls-based grid client); a resolver skips that check.
        Some((chain, key)) => {
            let key = provider()
                .key_provider
                .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                    key.serialize_der(),
                )))
                .unwrap();
            builder.with_client_cert_resolver(Arc::new(Presents(Arc::new(CertifiedKey::new(
                chain, key,
            )))))
        }
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    if let Ok(mut tls) = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
    {
        let mut buf = Vec::new();
        let _ = tls.read_to_end(&mut buf).await;
    }
    server_task.await.unwrap()
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

fn verifier(pki: &Pki, auth: ClientAuth) -> Arc<dyn ClientCertVerifier> {
    Arc::new(ProxyClientCertVerifier::new(roots(&pki.ca.der), auth).unwrap())
}

const VERSIONS: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS13, &rustls::version::TLS12];

#[tokio::test]
async fn a_voms_proxy_chain_is_accepted_over_tls_1_2_and_1_3() {
    let pki = Pki::new();
    let proxy = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        ..Default::default()
    });
    for version in VERSIONS {
        let seen = handshake(
            &pki,
            verifier(&pki, ClientAuth::Required),
            Some((proxy.chain.clone(), &proxy.key)),
            version,
        )
        .await
        .unwrap_or_else(|e| panic!("{version:?}: {e}"));
        assert_eq!(
            seen, proxy.chain,
            "the server sees the whole chain, leaf first"
        );
        // What the server hands to voms_exchange reads back fine.
        let inspected = inspect_chain(&seen, std::time::SystemTime::now()).unwrap();
        assert!(inspected.voms.is_some());
    }
}

#[tokio::test]
async fn stock_webpki_verifier_refuses_the_same_proxy() {
    // Why the custom verifier exists.
    let pki = Pki::new();
    let proxy = pki.proxy(&ProxySpec::default());
    let stock = WebPkiClientVerifier::builder_with_provider(roots(&pki.ca.der), provider())
        .build()
        .unwrap();
    let result = handshake(
        &pki,
        stock,
        Some((proxy.chain.clone(), &proxy.key)),
        &rustls::version::TLS13,
    )
    .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn plain_client_certificates_and_no_certificate() {
    let pki = Pki::new();
    let user: &Party = &pki.user;
    for version in VERSIONS {
        let seen = handshake(
            &pki,
            verifier(&pki, ClientAuth::Required),
            Some((vec![user.der.clone()], &user.key)),
            version,
        )
        .await
        .unwrap();
        assert_eq!(seen.len(), 1);
    }
    let seen = handshake(
        &pki,
        verifier(&pki, ClientAuth::Optional),
        None,
        &rustls::version::TLS13,
    )
    .await
    .unwrap();
    assert!(seen.is_empty(), "token users need no certificate");
    let refused = handshake(
        &pki,
        verifier(&pki, ClientAuth::Required),
        None,
        &rustls::version::TLS13,
    )
    .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn bad_chains_fail_the_handshake() {
    let pki = Pki::new();
    let now = time::OffsetDateTime::now_utc();
    let forged = pki.proxy(&ProxySpec {
        forged: true,
        ..Default::default()
    });
    let expired = pki.proxy(&ProxySpec {
        not_before: Some(now - time::Duration::days(2)),
        not_after: Some(now - time::Duration::days(1)),
        ..Default::default()
    });
    let misnamed = pki.proxy(&ProxySpec {
        bad_name: true,
        ..Default::default()
    });
    let independent = pki.proxy(&ProxySpec {
        policy: Some(PPL_INDEPENDENT),
        ..Default::default()
    });
    // A proxy of a user from a CA the server does not trust.
    let other = Pki::new();
    let stranger = other.proxy(&ProxySpec::default());
    for (name, proxy, reason) in [
        ("forged", &forged, "BadSignature"),
        ("expired", &expired, "Expired"),
        ("misnamed", &misnamed, "BadProxyName"),
        ("independent", &independent, "IndependentProxy"),
        // Same CA name, different CA key: webpki refuses the user certificate.
        ("stranger", &stranger, "BadSignature"),
    ] {
        for version in VERSIONS {
            let result = handshake(
                &pki,
                verifier(&pki, ClientAuth::Optional),
                Some((proxy.chain.clone(), &proxy.key)),
                version,
            )
            .await;
            let err = result.expect_err(name);
            assert!(err.contains(reason), "{name} {version:?}: {err}");
        }
    }
    // The right chain, but the client signs the handshake with another key
    // (it does not own the proxy).
    let good = pki.proxy(&ProxySpec::default());
    let thief = KeyPair::generate().unwrap();
    for version in VERSIONS {
        let result = handshake(
            &pki,
            verifier(&pki, ClientAuth::Optional),
            Some((good.chain.clone(), &thief)),
            version,
        )
        .await;
        let err = result.expect_err("a handshake signed with the wrong key was accepted");
        assert!(err.contains("BadSignature"), "{version:?}: {err}");
    }
}
