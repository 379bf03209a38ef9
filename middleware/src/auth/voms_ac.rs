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

use asn1_rs::{GeneralizedTime, Integer, OctetString, Oid, Tag, Utf8String, oid};
use x509_parser::extensions::{GeneralName, X509Extension};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::x509::AlgorithmIdentifier;

use super::AuthConfigError;
use super::asn1::{Element, element, only_element};
use super::proxy_chain::slash_dn;

/// `1.3.6.1.4.1.8005.100.100.5`: the proxy extension holding the ACs.
pub const OID_VOMS_AC_SEQUENCE: &str = "1.3.6.1.4.1.8005.100.100.5";
/// The AC attribute holding the VO and FQANs.
const OID_FQAN_ATTRIBUTE: Oid<'static> = oid!(1.3.6.1.4.1.8005.100.100.4);
/// The AC extension holding the VOMS server's certificate chain.
const OID_CERT_SEQUENCE: Oid<'static> = oid!(1.3.6.1.4.1.8005.100.100.10);

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

impl AttributeCertificate<'_> {
    /// Whether the AC names `holder` as the certificate it was issued to,
    /// by its issuer and serial number (the `baseCertificateID` VOMS
    /// writes). An AC that names no base certificate is bound to nobody.
    pub fn is_issued_to(&self, holder: &X509Certificate<'_>) -> bool {
        match (self.holder_issuer, self.holder_serial) {
            (Some(issuer), Some(serial)) => {
                issuer == holder.issuer().as_raw()
                    && trim_int(serial) == trim_int(holder.raw_serial())
            }
            _ => false,
        }
    }
}

/// Decodes the value of the 1.3.6.1.4.1.8005.100.100.5 extension.
pub fn parse_ac_sequence(value: &[u8]) -> Result<Vec<AttributeCertificate<'_>>, VomsAcError> {
    let outer = only_element(value).ok_or(VomsAcError::Malformed("not DER"))?;
    if !outer.is_universal(Tag::Sequence) {
        return Err(VomsAcError::Malformed("not a sequence"));
    }
    let mut acs = Vec::new();
    for item in outer
        .children()
        .ok_or(VomsAcError::Malformed("bad sequence"))?
    {
        if looks_like_ac(&item) {
            acs.push(parse_ac(&item)?);
        } else if item.is_universal(Tag::Sequence) {
            for inner in item
                .children()
                .ok_or(VomsAcError::Malformed("bad sequence"))?
            {
                acs.push(parse_ac(&inner)?);
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
fn looks_like_ac(item: &Element<'_>) -> bool {
    let Some(parts) = item.children() else {
        return false;
    };
    parts.len() == 3
        && parts[0].is_universal(Tag::Sequence)
        && parts[2].is_universal(Tag::BitString)
        && element(parts[0].value.data).is_some_and(|(first, _)| first.is_universal(Tag::Integer))
}

/// RFC 5755 section 4.1, as VOMS fills it in:
///
/// ```text
/// AttributeCertificate ::= SEQUENCE { acinfo, signatureAlgorithm, signatureValue BIT STRING }
/// AttributeCertificateInfo ::= SEQUENCE {
///     version INTEGER (v2 = 1), holder Holder, issuer AttCertIssuer,
///     signature AlgorithmIdentifier, serialNumber INTEGER,
///     attrCertValidityPeriod SEQUENCE { GeneralizedTime, GeneralizedTime },
///     attributes SEQUENCE OF Attribute,
///     issuerUniqueID BIT STRING OPTIONAL, extensions Extensions OPTIONAL }
/// ```
fn parse_ac<'a>(ac: &Element<'a>) -> Result<AttributeCertificate<'a>, VomsAcError> {
    use VomsAcError::Malformed;
    let parts = ac.children().ok_or(Malformed("bad AC"))?;
    let [acinfo, signature_algorithm, signature] = &parts[..] else {
        return Err(Malformed("an AC has three parts"));
    };
    if !acinfo.is_universal(Tag::Sequence)
        || !signature_algorithm.is_universal(Tag::Sequence)
        || !signature.is_universal(Tag::BitString)
    {
        return Err(Malformed("bad AC parts"));
    }
    let fields = acinfo.children().ok_or(Malformed("bad AC info"))?;
    if fields.len() < 7 {
        return Err(Malformed("AC info too short"));
    }
    match u32::from_der(fields[0].raw) {
        Ok((_, 1)) => {}
        _ => return Err(Malformed("not a version 2 attribute certificate")),
    }
    let (holder, issuer, validity, attributes) = (&fields[1], &fields[2], &fields[5], &fields[6]);
    if !holder.is_universal(Tag::Sequence)
        || !fields[3].is_universal(Tag::Sequence)
        || Integer::from_der(fields[4].raw).is_err()
        || !validity.is_universal(Tag::Sequence)
        || !attributes.is_universal(Tag::Sequence)
    {
        return Err(Malformed("bad AC info"));
    }

    // Holder: baseCertificateID [0] IssuerSerial { GeneralNames, serial }.
    let (mut holder_issuer, mut holder_serial) = (None, None);
    for part in holder.children().ok_or(Malformed("bad holder"))? {
        if part.is_context(0) {
            let ids = part.children().ok_or(Malformed("bad holder"))?;
            holder_issuer = ids.first().and_then(directory_name);
            holder_serial = ids
                .get(1)
                .filter(|s| Integer::from_der(s.raw).is_ok())
                .map(|s| s.value.data);
        }
    }

    // Issuer: v2Form [0] { issuerName GeneralNames, ... } or v1Form GeneralNames.
    let issuer_name = if issuer.is_context(0) {
        issuer
            .children()
            .and_then(|v2| v2.into_iter().find(|t| t.is_universal(Tag::Sequence)))
            .and_then(|names| directory_name(&names))
    } else if issuer.is_universal(Tag::Sequence) {
        directory_name(issuer)
    } else {
        return Err(Malformed("bad issuer"));
    };
    let server_dn = issuer_name
        .and_then(|raw| X509Name::from_der(raw).ok())
        .map(|(_, name)| slash_dn(&name))
        .unwrap_or_default();

    let times = validity.children().ok_or(Malformed("bad validity"))?;
    let [not_before, not_after] = &times[..] else {
        return Err(Malformed("bad validity"));
    };
    let not_before = generalized_time(not_before).ok_or(Malformed("bad notBefore"))?;
    let not_after = generalized_time(not_after).ok_or(Malformed("bad notAfter"))?;

    let (vo, uri, fqans) = fqan_attribute(attributes)?;

    // issuerUniqueID (a BIT STRING) may come first; the extensions are
    // the SEQUENCE.
    let mut server_certificates = Vec::new();
    if let Some(extensions) = fields[7..].iter().find(|f| f.is_universal(Tag::Sequence)) {
        for extension in extensions.children().ok_or(Malformed("bad extensions"))? {
            let (_, extension) =
                X509Extension::from_der(extension.raw).map_err(|_| Malformed("bad extension"))?;
            if extension.oid != OID_CERT_SEQUENCE {
                continue;
            }
            let certs = only_element(extension.value)
                .filter(|seq| seq.is_universal(Tag::Sequence))
                .ok_or(Malformed("bad certseq"))?;
            for cert in certs.children().ok_or(Malformed("bad certseq"))? {
                server_certificates.push(cert.raw);
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

/// A GeneralizedTime element as a point in time.
fn generalized_time(element: &Element<'_>) -> Option<SystemTime> {
    let (_, time) = GeneralizedTime::from_der(element.raw).ok()?;
    Some(time.utc_datetime().ok()?.into())
}

/// The raw `Name` of the first directoryName in a GeneralNames element.
fn directory_name<'a>(general_names: &Element<'a>) -> Option<&'a [u8]> {
    general_names
        .children()?
        .into_iter()
        .find_map(|name| match GeneralName::try_from(name.value) {
            Ok(GeneralName::DirectoryName(name)) => Some(name.as_raw()),
            _ => None,
        })
}

/// VO, `host:port` and FQANs from the 1.3.6.1.4.1.8005.100.100.4
/// attribute: `SET { IetfAttrSyntax }`, where
/// `IetfAttrSyntax ::= SEQUENCE { policyAuthority [0] GeneralNames OPTIONAL,
/// values SEQUENCE OF (OCTET STRING | OID | UTF8String) }`.
fn fqan_attribute(attributes: &Element<'_>) -> Result<(String, String, Vec<String>), VomsAcError> {
    use VomsAcError::Malformed;
    for attribute in attributes.children().ok_or(Malformed("bad attributes"))? {
        let parts = attribute.children().ok_or(Malformed("bad attribute"))?;
        let [oid, values] = &parts[..] else {
            return Err(Malformed("bad attribute"));
        };
        let (_, oid) = Oid::from_der(oid.raw).map_err(|_| Malformed("bad attribute"))?;
        if oid != OID_FQAN_ATTRIBUTE {
            continue;
        }
        if !values.is_universal(Tag::Set) {
            return Err(Malformed("bad FQAN attribute"));
        }
        let syntax = values
            .children()
            .and_then(|v| v.into_iter().next())
            .ok_or(Malformed("empty FQAN attribute"))?;
        let mut authority = None;
        let mut fqans = Vec::new();
        for part in syntax.children().ok_or(Malformed("bad FQAN attribute"))? {
            if part.is_context(0) {
                authority = part.children().and_then(|names| {
                    names
                        .into_iter()
                        .find_map(|name| match GeneralName::try_from(name.value) {
                            Ok(GeneralName::URI(uri)) => Some(uri),
                            _ => None,
                        })
                });
            } else if part.is_universal(Tag::Sequence) {
                for value in part.children().ok_or(Malformed("bad FQAN list"))? {
                    let text = if value.is_universal(Tag::OctetString) {
                        let (_, octets) = OctetString::from_der(value.raw)
                            .map_err(|_| Malformed("bad FQAN list"))?;
                        std::str::from_utf8(octets.as_ref())
                            .map_err(|_| Malformed("FQAN is not text"))?
                            .to_owned()
                    } else if value.is_universal(Tag::Utf8String) {
                        let (_, text) = Utf8String::from_der(value.raw)
                            .map_err(|_| Malformed("FQAN is not text"))?;
                        text.string()
                    } else {
                        continue; // an OID value: not an FQAN
                    };
                    fqans.push(text);
                }
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
        if !ac.is_issued_to(holder) {
            return Err(VomsAcError::WrongHolder);
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
        let (_, bits) =
            asn1_rs::BitString::from_der(ac.signature).map_err(|_| VomsAcError::BadSignature)?;
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
