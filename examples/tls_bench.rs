//! The TLS half of the benchmarks (`benches/tls.py`): writes a test PKI
//! and opens full TLS handshakes, each carrying one request.
//!
//! wrk measures TLS with keep-alive, but it can neither present a client
//! certificate nor refuse session resumption, and a VOMS user's first
//! request (or any client that does not keep its connection) pays a full
//! handshake in which the server verifies an RFC 3820 proxy chain. This
//! client pays exactly that: every connection is new, resumption is off
//! (no session tickets, no session ids), and the request says
//! `Connection: close`.
//!
//! ```sh
//! # CA, server certificate for localhost, a user certificate and a VOMS
//! # proxy of it (leaf first chain), each key beside it; prints DN and VO.
//! cargo run --release --example tls_bench -- pki DIR
//! # N full handshakes, C at a time; prints one JSON line.
//! cargo run --release --example tls_bench -- handshakes 127.0.0.1:8443 /compute/1 \
//!     --ca DIR/ca.pem --cert DIR/proxy.pem --key DIR/proxy.key -n 2000 -c 8 \
//!     -H 'X-Auth-Token: alice-token'
//! ```
//!
//! The PKI is the tests' (middleware/tests/auth_support/pki.rs, ECDSA P-256
//! keys, made anew on each run): for benchmarks and tests only.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

#[allow(dead_code)]
#[path = "../middleware/tests/auth_support/pki.rs"]
mod pki;

#[derive(Parser)]
#[command(about = "TLS benchmark helper: test PKI and full handshakes")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes ca.pem, server.pem/.key (localhost, 127.0.0.1), user.pem/.key
    /// and proxy.pem/.key (a VOMS proxy of the user, chain leaf first).
    Pki {
        /// Directory to write into (created when missing).
        dir: PathBuf,
    },
    /// Opens `-n` new TLS connections, `-c` at a time, one request each.
    Handshakes {
        /// Server address (the name checked in its certificate is `localhost`).
        addr: SocketAddr,
        /// Request path.
        path: String,
        /// CA bundle the server's certificate must chain to.
        #[arg(long)]
        ca: PathBuf,
        /// Client certificate chain (PEM, leaf first); none without it.
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// The client certificate's private key (PEM).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Connections in all.
        #[arg(short = 'n', default_value_t = 1000)]
        connections: usize,
        /// Connections at a time.
        #[arg(short = 'c', default_value_t = 8)]
        concurrency: usize,
        /// Extra request header, `Name: value` (repeatable).
        #[arg(short = 'H')]
        header: Vec<String>,
        /// Requests per connection: 1 closes each after its request
        /// (`Connection: close`), more keep it alive for that many.
        #[arg(short = 'r', default_value_t = 1)]
        requests: usize,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Pki { dir } => write_pki(&dir),
        Command::Handshakes {
            addr,
            path,
            ca,
            cert,
            key,
            connections,
            concurrency,
            header,
            requests,
        } => {
            let config = client_config(&ca, cert.as_deref(), key.as_deref());
            let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
            for h in &header {
                request.push_str(h);
                request.push_str("\r\n");
            }
            request.push_str(if requests > 1 {
                "\r\n"
            } else {
                "Connection: close\r\n\r\n"
            });
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let report = runtime.block_on(run(
                addr,
                config,
                Arc::from(request.into_bytes()),
                connections,
                concurrency.max(1),
                requests.max(1),
            ));
            println!("{report}");
        }
    }
}

fn write_pki(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the PKI directory");
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).expect("write a PKI file");
    };
    let pki = pki::Pki::new();
    let server_key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server params");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server = params
        .signed_by(&server_key, &pki.ca.issuer())
        .expect("server certificate");
    write("ca.pem", pki::pem(&pki.ca.der));
    write("server.pem", server.pem());
    write("server.key", server_key.serialize_pem());
    write("user.pem", pki::pem(&pki.user.der));
    write("user.key", pki.user.key.serialize_pem());
    let proxy = pki.proxy(&pki::ProxySpec {
        ac: Some(pki.ac(&pki::AcSpec::default())),
        ..Default::default()
    });
    write(
        "proxy.pem",
        proxy.chain.iter().map(|c| pki::pem(c)).collect::<String>(),
    );
    write("proxy.key", proxy.key.serialize_pem());
    println!("{}", pki::USER_DN);
    println!("{}", pki::VO);
}

fn client_config(ca: &Path, cert: Option<&Path>, key: Option<&Path>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("read --ca") {
        roots.add(c.expect("a CA certificate")).expect("add a CA");
    }
    // X25519 only, as the OpenSSL 3.0 clients grid users run offer (and
    // nginx's OpenSSL takes): the same key exchange against both servers.
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
    let provider = Arc::new(provider);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let mut config = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .expect("read --cert")
                .collect::<Result<Vec<_>, _>>()
                .expect("a client certificate");
            let key = PrivateKeyDer::from_pem_file(key).expect("read --key");
            let key = provider
                .key_provider
                .load_private_key(key)
                .expect("a usable private key");
            // Not `with_client_auth_cert`: it parses the leaf with webpki,
            // which refuses a proxy's critical ProxyCertInfo extension.
            builder.with_client_cert_resolver(Arc::new(Presents(Arc::new(CertifiedKey::new(
                chain, key,
            )))))
        }
        _ => builder.with_no_client_auth(),
    };
    // Every handshake full: no tickets, no session ids to resume with.
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Presents the one chain it holds to every server that asks.
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

/// The first line's status code of an HTTP/1.1 answer, if any.
fn status_of(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let code = line.split(|b| *b == b' ').nth(1)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Reads one answer with a `Content-Length` body off a kept-alive
/// connection; its status.
async fn read_answer<R: AsyncBufReadExt + Unpin>(conn: &mut R) -> Result<u16, String> {
    let mut head = Vec::new();
    let mut length = None;
    loop {
        let start = head.len();
        let n = conn
            .read_until(b'\n', &mut head)
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed mid-answer".into());
        }
        let line = &head[start..];
        if line == b"\r\n" {
            break;
        }
        let text = String::from_utf8_lossy(line).to_ascii_lowercase();
        if let Some(v) = text.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let length = length.ok_or("an answer without Content-Length")?;
    let mut body = vec![0; length];
    conn.read_exact(&mut body)
        .await
        .map_err(|e| e.to_string())?;
    status_of(&head).ok_or_else(|| "no status line".into())
}

/// One connection: a full handshake, then `requests` requests; the
/// statuses of the answers.
async fn one(
    addr: SocketAddr,
    connector: TlsConnector,
    request: Arc<[u8]>,
    requests: usize,
) -> Result<Vec<u16>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("localhost").expect("a DNS name");
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    if requests > 1 {
        let mut conn = BufReader::new(tls);
        let mut statuses = Vec::with_capacity(requests);
        for _ in 0..requests {
            conn.get_mut()
                .write_all(&request)
                .await
                .map_err(|e| e.to_string())?;
            statuses.push(read_answer(&mut conn).await?);
        }
        return Ok(statuses);
    }
    tls.write_all(&request).await.map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    // A server may close without close_notify after `Connection: close`;
    // what was read by then is the answer.
    let read = tls.read_to_end(&mut answer).await;
    match (status_of(&answer), read) {
        (Some(status), _) => Ok(vec![status]),
        (None, Err(e)) => Err(e.to_string()),
        (None, Ok(_)) => Err("no answer".into()),
    }
}

async fn run(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    request: Arc<[u8]>,
    connections: usize,
    concurrency: usize,
    requests: usize,
) -> String {
    let connector = TlsConnector::from(config);
    let start = Instant::now();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = 0;
    while started < connections || !tasks.is_empty() {
        while started < connections && tasks.len() < concurrency {
            tasks.spawn(one(addr, connector.clone(), request.clone(), requests));
            started += 1;
        }
        match tasks.join_next().await {
            Some(Ok(Ok(answers))) => {
                for status in answers {
                    *statuses.entry(status.to_string()).or_default() += 1;
                }
            }
            Some(Ok(Err(e))) => *errors.entry(e).or_default() += 1,
            Some(Err(e)) => *errors.entry(e.to_string()).or_default() += 1,
            None => break,
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    serde_json::json!({
        "connections": connections,
        "requests_per_connection": requests,
        "seconds": seconds,
        "statuses": statuses,
        "errors": errors,
    })
    .to_string()
}
