//! VOMS attribute certificates (RFC 5755 ACs in proxy extension
//! 1.3.6.1.4.1.8005.100.100.5): decoding, and optional in-process
//! verification against a vomsdir.
//!
//! A VOMS proxy carries `SEQUENCE { SEQUENCE OF AttributeCertificate }`
//! (the bare `SEQUENCE OF` is accepted too). From the first AC we read the
//! VO (the `voname://host:port` policy authority of the
//! 1.3.6.1.4.1.8005.100.100.4 attribute), the FQANs, the issuing VOMS
//! server's DN, the validity window, the holder (issuer and serial of the
//! user's certificate) and the VOMS server certificate embedded in the
//! 1.3.6.1.4.1.8005.100.100.10 extension.
//!
//! [`VomsTrust`] verifies an AC the way `voms-proxy-info --all` and
//! libvomsapi do, so a site can rely on its own checks instead of a front
//! end's: validity, holder binding, the `.lsc` file of the VO naming the
//! VOMS server's subject and issuer, the server certificate signed by a
//! configured CA and valid, and the AC signature under the server's key.

use std::collections::HashMap;
use std::path::Path;
use std::time::SystemTime;

use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::x509::AlgorithmIdentifier;

use super::AuthConfigError;
use super::der::{self, Tlv};
use super::proxy_chain::slash_dn;

/// `1.3.6.1.4.1.8005.100.100.5`: the proxy extension holding the ACs.
pub const OID_VOMS_AC_SEQUENCE: &str = "1.3.6.1.4.1.8005.100.100.5";
const FQAN_ATTRIBUTE: [u64; 10] = [1, 3, 6, 1, 4, 1, 8005, 100, 100, 4];
const CERT_SEQUENCE: [u64; 10] = [1, 3, 6, 1, 4, 1, 8005, 100, 100, 10];

/// What a VOMS attribute certificate says about its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VomsAttributes {
    /// The VO name.
    pub vo: String,
    /// The VOMS server, `host:port`, from the policy authority.
    pub uri: String,
    /// The FQANs, e.g. `/vo.example.org/Role=NULL/Capability=NULL`.
    pub fqans: Vec<String>,
    /// The issuing VOMS server's DN (OpenSSL slash form).
    pub server_dn: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

/// Why a VOMS attribute certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VomsAcError {
    /// The DER does not have the RFC 5755 / VOMS shape.
    #[error("malformed VOMS attribute certificate ({0})")]
    Malformed(&'static str),
    /// Outside its validity window.
    #[error("the VOMS attributes have expired or are not valid yet")]
    Expired,
    /// The holder is not the proxy's end-entity certificate.
    #[error("the VOMS attributes were issued to another certificate")]
    WrongHolder,
    /// No `.lsc` of the VO names this VOMS server.
    #[error("the VOMS server of VO {0:?} is not trusted here")]
    UntrustedServer(String),
    /// The VOMS server certificate is missing, expired or not from a
    /// trusted CA.
    #[error("the VOMS server certificate cannot be verified")]
    BadServerCertificate,
    /// The AC signature does not verify.
    #[error("the VOMS attribute certificate signature is invalid")]
    BadSignature,
}

/// One decoded AC, with what its verification needs.
#[derive(Clone, Debug)]
pub struct AttributeCertificate<'a> {
    /// The attributes.
    pub attributes: VomsAttributes,
    acinfo: &'a [u8],
    signature_algorithm: &'a [u8],
    signature: &'a [u8],
    holder_issuer: Option<&'a [u8]>,
    holder_serial: Option<&'a [u8]>,
    issuer_name: Option<&'a [u8]>,
    server_certificates: Vec<&'a [u8]>,
}

/// Decodes the value of the 1.3.6.1.4.1.8005.100.100.5 extension.
pub fn parse_ac_sequence(value: &[u8]) -> Result<Vec<AttributeCertificate<'_>>, VomsAcError> {
    let outer = der::read_all(value).ok_or(VomsAcError::Malformed("not DER"))?;
    if outer.tag != der::SEQUENCE {
        return Err(VomsAcError::Malformed("not a sequence"));
    }
    let mut acs = Vec::new();
    for item in der::children(outer.content).ok_or(VomsAcError::Malformed("bad sequence"))? {
        if looks_like_ac(&item) {
            acs.push(parse_ac(item)?);
        } else if item.tag == der::SEQUENCE {
            for inner in
                der::children(item.content).ok_or(VomsAcError::Malformed("bad sequence"))?
            {
                acs.push(parse_ac(inner)?);
            }
        } else {
            return Err(VomsAcError::Malformed("unexpected element"));
        }
    }
    if acs.is_empty() {
        return Err(VomsAcError::Malformed("no attribute certificate"));
    }
    Ok(acs)
}

/// `SEQUENCE { SEQUENCE { INTEGER, ... }, SEQUENCE, BIT STRING }`.
fn looks_like_ac(item: &Tlv<'_>) -> bool {
    let Some(parts) = der::children(item.content) else {
        return false;
    };
    parts.len() == 3
        && parts[0].tag == der::SEQUENCE
        && parts[2].tag == der::BIT_STRING
        && der::read(parts[0].content).is_some_and(|(first, _)| first.tag == der::INTEGER)
}

fn parse_ac(ac: Tlv<'_>) -> Result<AttributeCertificate<'_>, VomsAcError> {
    use VomsAcError::Malformed;
    let parts = der::children(ac.content).ok_or(Malformed("bad AC"))?;
    let [acinfo, signature_algorithm, signature] = parts[..] else {
        return Err(Malformed("an AC has three parts"));
    };
    if acinfo.tag != der::SEQUENCE
        || signature_algorithm.tag != der::SEQUENCE
        || signature.tag != der::BIT_STRING
    {
        return Err(Malformed("bad AC parts"));
    }
    let fields = der::children(acinfo.content).ok_or(Malformed("bad AC info"))?;
    if fields.len() < 7 {
        return Err(Malformed("AC info too short"));
    }
    let (holder, issuer, validity, attributes) = (fields[1], fields[2], fields[5], fields[6]);

    // Holder: baseCertificateID [0] IssuerSerial { GeneralNames, serial }.
    let (mut holder_issuer, mut holder_serial) = (None, None);
    for part in der::children(holder.content).ok_or(Malformed("bad holder"))? {
        if part.tag == 0xa0 {
            let ids = der::children(part.content).ok_or(Malformed("bad holder"))?;
            holder_issuer = ids.first().and_then(|names| directory_name(names.content));
            holder_serial = ids
                .get(1)
                .filter(|s| s.tag == der::INTEGER)
                .map(|s| s.content);
        }
    }

    // Issuer: v2Form [0] { issuerName GeneralNames } or v1Form GeneralNames.
    let issuer_name = match issuer.tag {
        0xa0 => der::children(issuer.content)
            .and_then(|v2| v2.into_iter().find(|t| t.tag == der::SEQUENCE))
            .and_then(|names| directory_name(names.content)),
        der::SEQUENCE => directory_name(issuer.content),
        _ => return Err(Malformed("bad issuer")),
    };
    let server_dn = issuer_name
        .and_then(|raw| X509Name::from_der(raw).ok())
        .map(|(_, name)| slash_dn(&name))
        .unwrap_or_default();

    let times = der::children(validity.content).ok_or(Malformed("bad validity"))?;
    let [not_before, not_after] = times[..] else {
        return Err(Malformed("bad validity"));
    };
    let not_before = der::generalized_time(not_before.content).ok_or(Malformed("bad notBefore"))?;
    let not_after = der::generalized_time(not_after.content).ok_or(Malformed("bad notAfter"))?;

    let (vo, uri, fqans) = fqan_attribute(attributes)?;

    let mut server_certificates = Vec::new();
    if let Some(extensions) = fields[7..].iter().find(|f| f.tag == der::SEQUENCE) {
        let certseq = der::oid_content(&CERT_SEQUENCE);
        for extension in der::children(extensions.content).ok_or(Malformed("bad extensions"))? {
            let ext = der::children(extension.content).ok_or(Malformed("bad extension"))?;
            if ext
                .first()
                .is_some_and(|o| o.tag == der::OID && o.content == certseq.as_slice())
            {
                let value = ext
                    .last()
                    .filter(|v| v.tag == der::OCTET_STRING)
                    .ok_or(Malformed("bad certseq"))?;
                let seq = der::read_all(value.content).ok_or(Malformed("bad certseq"))?;
                for cert in der::children(seq.content).ok_or(Malformed("bad certseq"))? {
                    server_certificates.push(cert.raw);
                }
            }
        }
    }

    Ok(AttributeCertificate {
        attributes: VomsAttributes {
            vo,
            uri,
            fqans,
            server_dn,
            not_before,
            not_after,
        },
        acinfo: acinfo.raw,
        signature_algorithm: signature_algorithm.raw,
        signature: signature.raw,
        holder_issuer,
        holder_serial,
        issuer_name,
        server_certificates,
    })
}

/// The raw `Name` of the first directoryName [4] in GeneralNames content.
fn directory_name(general_names: &[u8]) -> Option<&[u8]> {
    der::children(general_names)?
        .into_iter()
        .find(|g| g.tag == 0xa4)
        .and_then(|g| der::read_all(g.content))
        .map(|name| name.raw)
}

/// VO, `host:port` and FQANs from the 1.3.6.1.4.1.8005.100.100.4 attribute.
fn fqan_attribute(attributes: Tlv<'_>) -> Result<(String, String, Vec<String>), VomsAcError> {
    use VomsAcError::Malformed;
    let wanted = der::oid_content(&FQAN_ATTRIBUTE);
    for attribute in der::children(attributes.content).ok_or(Malformed("bad attributes"))? {
        let parts = der::children(attribute.content).ok_or(Malformed("bad attribute"))?;
        let [oid, values] = parts[..] else {
            return Err(Malformed("bad attribute"));
        };
        if oid.tag != der::OID || oid.content != wanted.as_slice() {
            continue;
        }
        let syntax = der::children(values.content)
            .and_then(|v| v.into_iter().next())
            .ok_or(Malformed("empty FQAN attribute"))?;
        let mut authority = None;
        let mut fqans = Vec::new();
        for part in der::children(syntax.content).ok_or(Malformed("bad FQAN attribute"))? {
            match part.tag {
                0xa0 => {
                    authority = der::children(part.content)
                        .and_then(|names| names.into_iter().find(|n| n.tag == 0x86))
                        .and_then(|uri| std::str::from_utf8(uri.content).ok())
                }
                der::SEQUENCE => {
                    for value in der::children(part.content).ok_or(Malformed("bad FQAN list"))? {
                        if matches!(value.tag, der::OCTET_STRING | der::UTF8_STRING) {
                            let fqan = std::str::from_utf8(value.content)
                                .map_err(|_| Malformed("FQAN is not text"))?;
                            fqans.push(fqan.to_owned());
                        }
                    }
                }
                _ => {}
            }
        }
        let authority = authority.ok_or(Malformed("no policy authority"))?;
        let (vo, uri) = authority
            .split_once("://")
            .ok_or(Malformed("policy authority is not vo://host:port"))?;
        if vo.is_empty() {
            return Err(Malformed("empty VO name"));
        }
        return Ok((vo.to_owned(), uri.to_owned(), fqans));
    }
    Err(Malformed("no FQAN attribute"))
}

/// Trust anchors for in-process AC verification (`vomsdir` + CA bundle).
#[derive(Clone, Debug, Default)]
pub struct VomsTrust {
    /// VO name -> accepted (VOMS server subject, issuer) pairs.
    lsc: HashMap<String, Vec<(String, String)>>,
    /// DER of the CAs that may sign VOMS server certificates.
    cas: Vec<Vec<u8>>,
}

impl VomsTrust {
    /// Reads `<vomsdir>/<vo>/*.lsc` and a PEM bundle of CA certificates.
    pub fn load(vomsdir: &Path, ca_file: &Path) -> Result<VomsTrust, AuthConfigError> {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let file_err = |key, path: &Path, reason: String| AuthConfigError::File {
            key,
            path: path.display().to_string(),
            reason,
        };
        let mut trust = VomsTrust::default();
        let vos =
            std::fs::read_dir(vomsdir).map_err(|e| file_err("vomsdir", vomsdir, e.to_string()))?;
        for vo in vos.flatten() {
            let Ok(files) = std::fs::read_dir(vo.path()) else {
                continue;
            };
            let vo_name = vo.file_name().to_string_lossy().into_owned();
            for file in files.flatten() {
                let path = file.path();
                if path.extension().is_none_or(|e| e != "lsc") {
                    continue;
                }
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| file_err("vomsdir", &path, e.to_string()))?;
                trust.add_lsc(&vo_name, &text);
            }
        }
        for cert in CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| file_err("voms_ca_file", ca_file, e.to_string()))?
        {
            let cert = cert.map_err(|e| file_err("voms_ca_file", ca_file, e.to_string()))?;
            trust.cas.push(cert.to_vec());
        }
        if trust.cas.is_empty() {
            return Err(file_err(
                "voms_ca_file",
                ca_file,
                "no certificate in the file".into(),
            ));
        }
        Ok(trust)
    }

    /// Adds the chains of one `.lsc` file (subject line, issuer line,
    /// chains separated by `------ NEXT CHAIN ------`).
    pub fn add_lsc(&mut self, vo: &str, text: &str) {
        for chain in text.split("NEXT CHAIN") {
            let lines: Vec<&str> = chain
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with('/'))
                .collect();
            if let [subject, issuer, ..] = lines[..] {
                self.lsc
                    .entry(vo.to_owned())
                    .or_default()
                    .push((subject.to_owned(), issuer.to_owned()));
            }
        }
    }

    /// Adds a CA (DER) that may sign VOMS server certificates.
    pub fn add_ca(&mut self, der: &[u8]) {
        self.cas.push(der.to_vec());
    }

    /// Verifies `ac`, issued to `holder` (the proxy chain's end-entity
    /// certificate), at `now`.
    pub fn verify(
        &self,
        ac: &AttributeCertificate<'_>,
        holder: &X509Certificate<'_>,
        now: SystemTime,
    ) -> Result<(), VomsAcError> {
        let attrs = &ac.attributes;
        if now < attrs.not_before || now > attrs.not_after {
            return Err(VomsAcError::Expired);
        }
        if let (Some(issuer), Some(serial)) = (ac.holder_issuer, ac.holder_serial) {
            let serial_matches = trim_int(serial) == trim_int(holder.raw_serial());
            if issuer != holder.issuer().as_raw() || !serial_matches {
                return Err(VomsAcError::WrongHolder);
            }
        }
        let untrusted = || VomsAcError::UntrustedServer(attrs.vo.clone());
        let accepted = self.lsc.get(&attrs.vo).ok_or_else(untrusted)?;
        let server_der = ac
            .server_certificates
            .first()
            .ok_or(VomsAcError::BadServerCertificate)?;
        let (_, server) =
            X509Certificate::from_der(server_der).map_err(|_| VomsAcError::BadServerCertificate)?;
        let subject = slash_dn(server.subject());
        let issuer = slash_dn(server.issuer());
        if !accepted.iter().any(|(s, i)| *s == subject && *i == issuer) {
            return Err(untrusted());
        }
        if ac
            .issuer_name
            .is_some_and(|name| name != server.subject().as_raw())
        {
            return Err(VomsAcError::BadServerCertificate);
        }
        let valid = super::proxy_chain::valid_at(&server, now);
        let signed_by_ca = self.cas.iter().any(|ca| {
            X509Certificate::from_der(ca).is_ok_and(|(_, ca)| {
                ca.subject().as_raw() == server.issuer().as_raw()
                    && server.verify_signature(Some(ca.public_key())).is_ok()
            })
        });
        if !valid || !signed_by_ca {
            return Err(VomsAcError::BadServerCertificate);
        }
        let (_, algorithm) = AlgorithmIdentifier::from_der(ac.signature_algorithm)
            .map_err(|_| VomsAcError::BadSignature)?;
        let (_, bits) = x509_parser::der_parser::asn1_rs::BitString::from_der(ac.signature)
            .map_err(|_| VomsAcError::BadSignature)?;
        x509_parser::verify::verify_signature(server.public_key(), &algorithm, &bits, ac.acinfo)
            .map_err(|_| VomsAcError::BadSignature)
    }
}

/// An INTEGER's content without leading zero octets.
fn trim_int(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for input in [
            &b""[..],
            b"\x30\x00",
            b"\x30\x03\x02\x01\x01",
            b"\x04\x01\x00",
            b"\x30\x82\xff",
        ] {
            assert!(
                matches!(parse_ac_sequence(input), Err(VomsAcError::Malformed(_))),
                "{input:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_extension_value(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = parse_ac_sequence(&bytes);
        }

        #[test]
        fn never_panics_inside_a_plausible_envelope(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            // SEQUENCE { SEQUENCE { <random> } }: gets past the first checks.
            let mut inner = vec![0x30, bytes.len() as u8];
            inner.extend(&bytes);
            let mut outer = vec![0x30, inner.len() as u8];
            outer.extend(inner);
            let _ = parse_ac_sequence(&outer);
        }
    }

    #[test]
    fn lsc_files() {
        let mut trust = VomsTrust::default();
        trust.add_lsc(
            "vo.example.org",
            "/DC=org/CN=voms.example.org\n/DC=org/CN=Example CA\n------ NEXT CHAIN ------\n/DC=org/CN=voms2\n/DC=org/CN=CA2\n",
        );
        assert_eq!(trust.lsc["vo.example.org"].len(), 2);
        assert_eq!(
            trust.lsc["vo.example.org"][1],
            ("/DC=org/CN=voms2".into(), "/DC=org/CN=CA2".into())
        );
    }
}
