//! The DER a client controls in a grid credential: VOMS attribute
//! certificates, ProxyCertInfo extensions and whole proxy chains must be
//! read into a value or an error for any bytes: never a panic, a hang or
//! an unbounded allocation.
//!
//! The first byte chooses what the rest is: `0` the value of a VOMS AC
//! extension (1.3.6.1.4.1.8005.100.100.5), `1` the value of a
//! ProxyCertInfo extension, anything else a chain of DER certificates,
//! leaf first, one after the other.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use rustls_pki_types::CertificateDer;
use snf_occi_middleware::auth::proxy_chain::{inspect_chain, read_proxy_cert_info};
use snf_occi_middleware::auth::voms_ac::parse_ac_sequence;

/// Splits concatenated DER elements; stops at the first that is not one.
fn certificates(mut bytes: &[u8]) -> Vec<CertificateDer<'_>> {
    use x509_parser::der_parser::asn1_rs::{Any, FromDer};
    let mut out = Vec::new();
    while let Ok((rest, _)) = Any::from_der(bytes) {
        out.push(CertificateDer::from(&bytes[..bytes.len() - rest.len()]));
        bytes = rest;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        0 => {
            if let Ok(acs) = parse_ac_sequence(rest) {
                assert!(!acs.is_empty(), "Ok means at least one AC");
            }
        }
        1 => {
            let _ = read_proxy_cert_info(rest);
        }
        _ => {
            let chain = certificates(rest);
            // The latest notBefore of the chain: a time that depends on
            // the input only (runs repeat) and at which a chain whose
            // validities overlap is valid, so the links are checked.
            let now = chain
                .iter()
                .filter_map(|der| x509_parser::parse_x509_certificate(der).ok())
                .map(|(_, cert)| cert.validity().not_before.timestamp())
                .max()
                .and_then(|t| u64::try_from(t).ok())
                .map_or(SystemTime::UNIX_EPOCH, |t| {
                    SystemTime::UNIX_EPOCH + Duration::from_secs(t)
                });
            if let Ok(read) = inspect_chain(&chain, now) {
                assert!(read.end_entity < chain.len());
            }
        }
    }
});
