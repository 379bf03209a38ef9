//! Writes seed inputs for the `proxy_chain` fuzz target (fuzz/README.md):
//! real proxy chains, VOMS attribute certificates and ProxyCertInfo
//! values from the test PKI, so that the fuzzer starts from inputs that
//! get past the first checks.
//!
//! ```sh
//! cargo run -p snf-occi-middleware --example fuzz_seeds -- fuzz/corpus/proxy_chain
//! ```

#[allow(dead_code)]
#[path = "../tests/auth_support/pki.rs"]
mod pki;

use pki::{AcSpec, PPL_INDEPENDENT, PPL_LIMITED, Pki, ProxySpec};
use x509_parser::prelude::{FromDer, X509Certificate};

const AC_EXTENSION: &str = "1.3.6.1.4.1.8005.100.100.5";
const PROXY_CERT_INFO: &str = "1.3.6.1.5.5.7.1.14";

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus/proxy_chain".into());
    std::fs::create_dir_all(&dir).expect("the seed directory");
    let pki = Pki::new();
    let voms = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        ..Default::default()
    });
    let robot = pki.proxy(&ProxySpec {
        robot: true,
        path_len: Some(1),
        ..Default::default()
    });
    let chains = [
        ("voms", voms.chain.clone()),
        ("plain", pki.proxy(&ProxySpec::default()).chain),
        (
            "proxy-of-proxy",
            pki.proxy(&ProxySpec {
                parent: Some(&robot),
                ..Default::default()
            })
            .chain,
        ),
        (
            "limited",
            pki.proxy(&ProxySpec {
                policy: Some(PPL_LIMITED),
                ..Default::default()
            })
            .chain,
        ),
        (
            "independent",
            pki.proxy(&ProxySpec {
                policy: Some(PPL_INDEPENDENT),
                ..Default::default()
            })
            .chain,
        ),
        (
            "user-and-ca",
            vec![pki.user.der.clone(), pki.ca.der.clone()],
        ),
    ];
    let mut written = 0;
    let mut write = |name: &str, mode: u8, body: &[u8]| {
        let mut input = vec![mode];
        input.extend_from_slice(body);
        std::fs::write(format!("{dir}/{name}"), input).expect("a seed file");
        written += 1;
    };
    for (name, chain) in &chains {
        let der: Vec<u8> = chain.iter().flat_map(|c| c.iter().copied()).collect();
        write(&format!("chain-{name}"), 2, &der);
        let (_, leaf) = X509Certificate::from_der(&chain[0]).expect("a certificate");
        for ext in leaf.extensions() {
            match ext.oid.to_id_string().as_str() {
                AC_EXTENSION => write(&format!("ac-{name}"), 0, ext.value),
                PROXY_CERT_INFO => write(&format!("pci-{name}"), 1, ext.value),
                _ => {}
            }
        }
    }
    println!("{written} seeds in {dir}");
}
