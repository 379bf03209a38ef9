//! `voms_exchange` with generated VOMS proxies and an in-test astavoms.

mod auth_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, Request, StatusCode};
use rustls_pki_types::CertificateDer;
use snf_occi_middleware::auth::{LimitedProxies, VomsExchangeConfig, VomsExchangeLayer};
use snf_occi_middleware::{Body, PeerCertificates, RemoteAddr};
use tower::{Layer, Service, ServiceExt};

use auth_support::pki::{
    AcSpec, CA_DN, PPL_INDEPENDENT, PPL_LIMITED, Pki, ProxySpec, USER_DN, VO, VOMS_DN, pem,
};
use auth_support::{access, echo_app, serve, text};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Accept,
    UnknownVo,
    Broken,
}

#[derive(Clone)]
struct Astavoms {
    mode: Mode,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

async fn tokens(State(astavoms): State<Astavoms>, headers: HeaderMap, body: String) -> Response {
    astavoms.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    astavoms.seen.lock().unwrap().push(headers);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if json["auth"]["voms"] != serde_json::Value::Bool(true) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"message": "Input is missing some elements"})),
        )
            .into_response();
    }
    match astavoms.mode {
        Mode::Accept => {
            let mut answer = access(
                "voms-token",
                "voms-user-uuid",
                &["voms-user-uuid", "vo-project"],
                "2999-01-01T00:00:00Z",
            );
            answer["access"]["token"]["tenant"] =
                serde_json::json!({"id": "vo-project", "name": VO});
            answer["voname"] = serde_json::json!(VO);
            (StatusCode::ACCEPTED, axum::Json(answer)).into_response()
        }
        Mode::UnknownVo => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({"message": format!("Unknown VO: {VO}")})),
        )
            .into_response(),
        Mode::Broken => (StatusCode::INTERNAL_SERVER_ERROR, "<html>boom</html>").into_response(),
    }
}

async fn astavoms(mode: Mode) -> (String, Astavoms) {
    let state = Astavoms {
        mode,
        calls: Arc::default(),
        seen: Arc::default(),
    };
    let addr = serve(
        axum::Router::new()
            .route("/astavoms/v2.0/tokens", post(tokens))
            .with_state(state.clone()),
    )
    .await;
    (format!("http://{addr}/astavoms"), state)
}

/// `pki`'s CA in a PEM file, as `client_ca_file` reads it (removed when
/// dropped).
fn ca_file(pki: &Pki) -> tempfile::TempPath {
    let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::write(&path, pem(&pki.ca.der)).unwrap();
    path
}

/// The filter believing front ends in 10.0.0.0/8, whose forwarded chains
/// must lead to the CA in `ca`.
fn config(url: &str, ca: &Path) -> VomsExchangeConfig {
    VomsExchangeConfig {
        timeout: Duration::from_secs(2),
        client_ca_file: Some(ca.to_owned()),
        ..VomsExchangeConfig::default()
    }
    .with_astavoms_url(url)
    .trust_proxy("10.0.0.0/8")
}

fn layer(url: &str, ca: &Path) -> VomsExchangeLayer {
    VomsExchangeLayer::voms(config(url, ca), reqwest::Client::new()).unwrap()
}

fn over_tls(chain: &[CertificateDer<'static>]) -> Request<Body> {
    let mut req = Request::get("/compute/").body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(PeerCertificates(Arc::new(chain.to_vec())));
    req.extensions_mut()
        .insert(RemoteAddr("192.0.2.7:40000".parse().unwrap()));
    req
}

/// A request forwarded by a front end at `from`, Apache style.
fn forwarded(chain: &[CertificateDer<'static>], from: &str) -> Request<Body> {
    let flat = |der: &CertificateDer<'_>| pem(der).replace('\n', " ");
    let mut builder = Request::get("/compute/").header("SSL_CLIENT_CERT", flat(&chain[0]));
    for (n, cert) in chain[1..].iter().enumerate() {
        builder = builder.header(format!("SSL_CLIENT_CERT_CHAIN_{n}"), flat(cert));
    }
    let mut req = builder.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(RemoteAddr(from.parse::<SocketAddr>().unwrap()));
    req
}

fn voms_proxy(pki: &Pki) -> Vec<CertificateDer<'static>> {
    pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        ..Default::default()
    })
    .chain
}

#[tokio::test]
async fn a_voms_proxy_over_tls_is_exchanged_for_a_token() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let chain = voms_proxy(&pki);
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let response = layer(&url, &ca)
        .layer(echo_app())
        .oneshot(over_tls(&chain))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        text(response).await,
        "voms-user-uuid vo-project voms_exchange voms-token"
    );

    // astavoms got what it reads: the DN and the chain as Apache forwards it.
    let seen = astavoms.seen.lock().unwrap();
    let headers = &seen[0];
    assert_eq!(headers["ssl-client-s-dn"], USER_DN);
    assert_eq!(
        headers["ssl-client-cert"].to_str().unwrap(),
        pem(&chain[0]).replace('\n', " ").trim_end()
    );
    assert_eq!(
        headers["ssl-client-cert-chain-0"].to_str().unwrap(),
        pem(&chain[1]).replace('\n', " ").trim_end()
    );
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_front_ends() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let chain = voms_proxy(&pki);
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let svc = layer(&url, &ca).layer(echo_app());

    let response = svc
        .clone()
        .oneshot(forwarded(&chain, "10.1.2.3:5555"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        text(response).await,
        "voms-user-uuid vo-project voms_exchange voms-token"
    );

    // The same headers from anyone else are ignored: the app's 401, with
    // the challenge, and astavoms never asked.
    let spoofed = svc
        .clone()
        .oneshot(forwarded(&chain, "192.0.2.66:5555"))
        .await
        .unwrap();
    assert_eq!(spoofed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        spoofed.headers()["www-authenticate"],
        format!("Keystone uri='{url}'")
    );
    assert_eq!(text(spoofed).await, "who?");
    // And without a RemoteAddr at all.
    let mut anonymous = forwarded(&chain, "10.1.2.3:5555");
    anonymous.extensions_mut().remove::<RemoteAddr>();
    assert_eq!(
        svc.oneshot(anonymous).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 1);
}

/// A certificate as Apache sends it with the docs/deployment.md snippet
/// (`RequestHeader set SSL-Client-Cert "%{SSL_CLIENT_CERT}s"`): mod_headers
/// turns the PEM's line breaks into spaces; HTTP drops the trailing one.
fn apache_header(der: &CertificateDer<'_>) -> String {
    pem(der).replace('\n', " ").trim_end().to_owned()
}

/// A certificate as nginx's `$ssl_client_escaped_cert` holds it: the PEM
/// with every byte but `A-Za-z0-9-._~` escaped as `%XX`, upper-case hex
/// (nginx's NGX_ESCAPE_URI_COMPONENT).
fn nginx_escaped(der: &CertificateDer<'_>) -> String {
    pem(der)
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A request from the trusted front end 10.0.0.5 with these headers.
fn from_front_end(headers: &[(&str, String)]) -> Request<Body> {
    let mut builder = Request::get("/compute/");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    let mut req = builder.body(Body::empty()).unwrap();
    req.extensions_mut()
        .insert(RemoteAddr("10.0.0.5:41000".parse().unwrap()));
    req
}

#[tokio::test]
async fn the_deployment_snippets_header_formats_are_accepted() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let chain = voms_proxy(&pki);
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let svc = layer(&url, &ca).layer(echo_app());
    let accepted = "voms-user-uuid vo-project voms_exchange voms-token";

    // Apache: leaf and chain flattened; the chain variables the client's
    // chain does not fill arrive as "(null)".
    let apache = vec![
        ("SSL-Client-Cert", apache_header(&chain[0])),
        ("SSL-Client-Cert-Chain-0", apache_header(&chain[1])),
        ("SSL-Client-Cert-Chain-1", "(null)".to_owned()),
        ("SSL-Client-Cert-Chain-2", "(null)".to_owned()),
        ("SSL-Client-S-DN", "/CN=whoever".to_owned()),
    ];
    let response = svc.clone().oneshot(from_front_end(&apache)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, accepted);
    // astavoms got the real chain, not the client's DN header.
    {
        let seen = astavoms.seen.lock().unwrap();
        assert_eq!(seen[0]["ssl-client-s-dn"], USER_DN);
        assert_eq!(
            seen[0]["ssl-client-cert"],
            apache_header(&chain[0]).as_str()
        );
        assert_eq!(
            seen[0]["ssl-client-cert-chain-0"],
            apache_header(&chain[1]).as_str()
        );
        assert!(!seen[0].contains_key("ssl-client-cert-chain-1"));
    }

    // nginx's escaping of real certificates decodes to the same chain
    // (a fresh proxy, so no cached exchange answers).
    let chain = voms_proxy(&pki);
    let escaped = vec![
        ("SSL-Client-Cert", nginx_escaped(&chain[0])),
        ("SSL-Client-Cert-Chain-0", nginx_escaped(&chain[1])),
    ];
    assert!(escaped[0].1.starts_with("-----BEGIN%20CERTIFICATE-----%0A"));
    let response = svc.clone().oneshot(from_front_end(&escaped)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, accepted);
    assert_eq!(
        astavoms.seen.lock().unwrap()[1]["ssl-client-cert"],
        apache_header(&chain[0]).as_str()
    );

    // What nginx's http module alone can forward: the leaf, no chain. A
    // proxy without the user certificate it hangs from is refused, saying
    // so (docs/deployment.md sends VOMS clients through TLS passthrough).
    let chain = voms_proxy(&pki);
    let response = svc
        .clone()
        .oneshot(from_front_end(&[(
            "SSL-Client-Cert",
            nginx_escaped(&chain[0]),
        )]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        text(response)
            .await
            .contains("the chain has no end-entity certificate")
    );

    // A client smuggling someone else's (public) chain in the other
    // spelling past Apache, which overwrites only the spelling it sets,
    // is refused, not believed.
    let victim = voms_proxy(&Pki::new());
    let mut smuggled = apache.clone();
    smuggled.push(("SSL_CLIENT_CERT", apache_header(&victim[0])));
    smuggled.push(("SSL_CLIENT_CERT_CHAIN_0", apache_header(&victim[1])));
    let response = svc.oneshot(from_front_end(&smuggled)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains("headers are ambiguous"));
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 2);
}

/// The certificate headers astavoms received in its `n`th call, in order:
/// `SSL-Client-Cert`, then `SSL-Client-Cert-Chain-0..`.
fn forwarded_to_astavoms(astavoms: &Astavoms, n: usize) -> Vec<String> {
    let seen = astavoms.seen.lock().unwrap();
    let headers = &seen[n];
    let mut out = vec![headers["ssl-client-cert"].to_str().unwrap().to_owned()];
    for i in 0.. {
        match headers.get(format!("ssl-client-cert-chain-{i}")) {
            Some(value) => out.push(value.to_str().unwrap().to_owned()),
            None => break,
        }
    }
    out
}

/// Issue 16 item 1: a holder of a valid proxy appends a self-signed
/// certificate carrying another user's DN (and the CA, which a path may
/// use). Only the proxy and the user certificate it hangs from are
/// verified, so only they reach astavoms, over TLS and from a trusted
/// front end alike; a forwarded chain whose user certificate is from a CA
/// not in `client_ca_file` is refused before astavoms is asked.
#[tokio::test]
async fn only_the_verified_chain_reaches_astavoms() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let svc = layer(&url, &ca).layer(echo_app());
    let victim = Pki::self_signed_copy(&pki.other_user("Victim", &[0x66]));
    let proxy = voms_proxy(&pki);
    let mut presented = proxy.clone();
    presented.push(victim.der.clone());
    presented.push(pki.ca.der.clone());
    let flat = |chain: &[CertificateDer<'_>]| {
        chain
            .iter()
            .map(|c| pem(c).replace('\n', " ").trim_end().to_owned())
            .collect::<Vec<_>>()
    };

    let response = svc.clone().oneshot(over_tls(&presented)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let sent = forwarded_to_astavoms(&astavoms, 0);
    assert_eq!(sent.len(), 2, "the proxy and the user certificate only");
    assert_eq!(sent, flat(&proxy));

    let proxy = voms_proxy(&pki);
    let mut presented = proxy.clone();
    presented.push(victim.der.clone());
    let response = svc
        .clone()
        .oneshot(forwarded(&presented, "10.1.2.3:5555"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let sent = forwarded_to_astavoms(&astavoms, 1);
    assert_eq!(sent.len(), 2, "the proxy and the user certificate only");
    assert_eq!(sent, flat(&proxy));

    // A well-formed proxy of a user whose CA (same name, other key) is
    // not the configured one: the front end said nothing we can check.
    let stranger = voms_proxy(&Pki::new());
    let response = svc
        .oneshot(forwarded(&stranger, "10.1.2.3:5555"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        text(response)
            .await
            .contains("the user certificate is not from a trusted CA")
    );
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 2);

    // Believing front ends without saying which CAs to check is refused
    // at start-up.
    let unverified = VomsExchangeConfig {
        client_ca_file: None,
        ..config(&url, &ca)
    };
    let err = VomsExchangeLayer::voms(unverified, reqwest::Client::new())
        .err()
        .expect("trusted_proxies without client_ca_file");
    assert!(err.to_string().contains("`client_ca_file`"), "{err}");
}

#[tokio::test]
async fn bad_chains_are_401_naming_the_reason() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let svc = layer(&url, &ca).layer(echo_app());
    let now = time::OffsetDateTime::now_utc();
    let expired = pki
        .proxy(&ProxySpec {
            ac: Some(pki.ac(&AcSpec::default())),
            not_before: Some(now - time::Duration::days(2)),
            not_after: Some(now - time::Duration::days(1)),
            ..Default::default()
        })
        .chain;
    let forged = pki
        .proxy(&ProxySpec {
            ac: Some(pki.ac(&AcSpec::default())),
            forged: true,
            ..Default::default()
        })
        .chain;
    let broken_ac = pki
        .proxy(&ProxySpec {
            ac: Some(vec![0x30, 0x01, 0x00]),
            ..Default::default()
        })
        .chain;
    let independent = pki
        .proxy(&ProxySpec {
            ac: Some(pki.ac(&AcSpec::default())),
            policy: Some(PPL_INDEPENDENT),
            ..Default::default()
        })
        .chain;
    for (chain, reason) in [
        (expired, "has expired"),
        (independent, "is an independent proxy"),
        (forged, "was not issued by the next certificate"),
        (broken_ac, "malformed VOMS attribute certificate"),
    ] {
        let response = svc.clone().oneshot(over_tls(&chain)).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{reason}");
        assert_eq!(
            response.headers()["www-authenticate"],
            format!("Keystone uri='{url}'")
        );
        let body = text(response).await;
        assert!(body.contains(reason), "{body}");
        assert!(!body.contains("Jane"), "{body}");
    }
    // A garbage header from a trusted front end.
    let mut req = Request::get("/")
        .header(
            "SSL-Client-Cert",
            "-----BEGIN CERTIFICATE----- !!! -----END CERTIFICATE-----",
        )
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(RemoteAddr("10.0.0.1:1".parse().unwrap()));
    let response = svc.oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        text(response)
            .await
            .contains("forwarded client certificate header is malformed")
    );
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 0);
}

/// Issue 16 item 2: a limited proxy is refused unless the site chose
/// `limited_proxies = "accept"`; astavoms is not asked.
#[tokio::test]
async fn limited_proxies_are_a_configured_choice() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let limited = pki
        .proxy(&ProxySpec {
            ac: Some(pki.ac(&AcSpec::default())),
            policy: Some(PPL_LIMITED),
            ..Default::default()
        })
        .chain;
    let (url, astavoms) = astavoms(Mode::Accept).await;
    assert_eq!(
        VomsExchangeConfig::default().limited_proxies,
        LimitedProxies::Refuse
    );
    let response = layer(&url, &ca)
        .layer(echo_app())
        .oneshot(over_tls(&limited))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        text(response)
            .await
            .contains("limited proxies are not accepted here")
    );
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 0);

    let accepting = VomsExchangeConfig {
        limited_proxies: LimitedProxies::Accept,
        ..config(&url, &ca)
    };
    let response = VomsExchangeLayer::voms(accepting, reqwest::Client::new())
        .unwrap()
        .layer(echo_app())
        .oneshot(over_tls(&limited))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        text(response)
            .await
            .starts_with("voms-user-uuid vo-project")
    );
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_proxy_without_voms_attributes_is_not_this_filters_business() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let plain = pki.proxy(&ProxySpec::default()).chain;
    let response = layer(&url, &ca)
        .layer(echo_app())
        .oneshot(over_tls(&plain))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        text(response).await,
        "who?",
        "the app answered, not the filter"
    );
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn astavoms_refusals_and_failures() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let chain = voms_proxy(&pki);
    let (url, _) = astavoms(Mode::UnknownVo).await;
    let response = layer(&url, &ca)
        .layer(echo_app())
        .oneshot(over_tls(&chain))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains(&format!("Unknown VO: {VO}")));

    let (url, _) = astavoms(Mode::Broken).await;
    let response = layer(&url, &ca)
        .layer(echo_app())
        .oneshot(over_tls(&chain))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!response.headers().contains_key("www-authenticate"));

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let response = layer(&format!("http://{addr}/astavoms"), &ca)
        .layer(echo_app())
        .oneshot(over_tls(&chain))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn one_exchange_per_proxy_and_eviction_on_backend_401() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let chain = voms_proxy(&pki);
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let svc = layer(&url, &ca).layer(echo_app());
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (svc, req) = (svc.clone(), over_tls(&chain));
        tasks.push(tokio::spawn(async move {
            svc.oneshot(req).await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(astavoms.calls.load(Ordering::SeqCst), 1);

    let calls = Arc::new(AtomicUsize::new(0));
    let app = {
        let calls = calls.clone();
        tower::service_fn(move |_req: Request<Body>| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let status = if n == 0 {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::OK
                };
                Ok::<_, std::convert::Infallible>(
                    http::Response::builder()
                        .status(status)
                        .body(Body::empty())
                        .unwrap(),
                )
            }
        })
    };
    let mut svc = layer(&url, &ca).layer(app);
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(over_tls(&chain))
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(over_tls(&chain))
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        astavoms.calls.load(Ordering::SeqCst),
        3,
        "the rejected token was exchanged again"
    );
}

#[tokio::test]
async fn in_process_ac_verification_with_a_vomsdir() {
    let pki = Pki::new();
    let ca = ca_file(&pki);
    let dir = std::env::temp_dir().join(format!(
        "snf-occi-vomsdir-{}-{}",
        std::process::id(),
        line!()
    ));
    std::fs::create_dir_all(dir.join(VO)).unwrap();
    std::fs::write(
        dir.join(VO).join("voms.snf-test.org.lsc"),
        format!("{VOMS_DN}\n{CA_DN}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("ca.pem"), pem(&pki.ca.der)).unwrap();
    let (url, astavoms) = astavoms(Mode::Accept).await;
    let config = VomsExchangeConfig {
        vomsdir: Some(dir.clone()),
        voms_ca_file: Some(dir.join("ca.pem")),
        ..config(&url, &ca)
    };
    let svc = VomsExchangeLayer::voms(config, reqwest::Client::new())
        .unwrap()
        .layer(echo_app());

    let good = svc
        .clone()
        .oneshot(over_tls(&voms_proxy(&pki)))
        .await
        .unwrap();
    assert_eq!(good.status(), StatusCode::OK);

    let tampered = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec {
            corrupt_signature: true,
            ..AcSpec::default()
        })),
        ..Default::default()
    });
    let response = svc
        .clone()
        .oneshot(over_tls(&tampered.chain))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains("signature is invalid"));

    let self_signed = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec {
            signer: Some(&pki.user),
            ..AcSpec::default()
        })),
        ..Default::default()
    });
    let response = svc.oneshot(over_tls(&self_signed.chain)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(text(response).await.contains("not trusted here"));
    assert_eq!(
        astavoms.calls.load(Ordering::SeqCst),
        1,
        "refused ACs never reach astavoms"
    );
    let _ = std::fs::remove_dir_all(dir);
}
