//! Writes a VOMS proxy of the tests' generated PKI (an RFC 3820 proxy
//! carrying a VOMS attribute certificate, then its user certificate), as
//! PEM, leaf first, and prints the holder's DN and VO. `scripts/im.sh`
//! hands it to `tools/im/dn_header_proxy.py --chain` (astavoms' TLS front
//! end as the simulator's astavoms receives it) and maps that DN to a
//! simulator user. For tests only: the PKI is made anew on every run.
//!
//! ```sh
//! cargo run --example test_voms_proxy -- target/proxy.pem
//! ```

#[allow(dead_code)]
#[path = "../middleware/tests/auth_support/pki.rs"]
mod pki;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: test_voms_proxy FILE");
        std::process::exit(2);
    };
    let pki = pki::Pki::new();
    let proxy = pki.proxy(&pki::ProxySpec {
        ac: Some(pki.ac(&pki::AcSpec::default())),
        ..Default::default()
    });
    let pem: String = proxy.chain.iter().map(|c| pki::pem(c)).collect();
    if let Err(e) = std::fs::write(&path, pem) {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    }
    println!("{}", pki::USER_DN);
    println!("{}", pki::VO);
}
