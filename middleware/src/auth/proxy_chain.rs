//! RFC 3820 proxy certificate chains, read with x509-parser.
//!
//! A grid client presents `[proxy_n, ..., proxy_1, user certificate,
//! (CAs...)]`: each proxy is issued by the certificate after it, named
//! after it plus one CN, and marked by the critical ProxyCertInfo
//! extension (1.3.6.1.5.5.7.1.14; the pre-RFC GT3 OID
//! 1.3.6.1.4.1.3536.1.222 is accepted too). [`inspect_chain`] checks
//! every proxy link (issuer name, subject = issuer + one CN, signature,
//! validity, not a CA, issuer allowed to sign, path length, proxy
//! policy) and the end-entity certificate's validity, and reads the VOMS
//! attributes. It does not check the end-entity certificate against a
//! CA: the TLS verifier
//! ([`ProxyClientCertVerifier`](super::ProxyClientCertVerifier)) or
//! `voms_exchange` (for a trusted front end's headers) do that.
//!
//! Proxy policies (the ProxyCertInfo's policy language, RFC 3820 3.8):
//!
//! - `id-ppl-inheritAll` (1.3.6.1.5.5.7.21.1): an impersonation proxy,
//!   acting with all of its issuer's rights. Accepted.
//! - `id-ppl-independent` (1.3.6.1.5.5.7.21.2): a proxy that carries
//!   *none* of its issuer's rights, only its own (new) identity. Refused
//!   ([`ChainError::IndependentProxy`]): the user's DN must not be
//!   derived from it.
//! - the Globus limited-proxy language (1.3.6.1.4.1.3536.1.1.1.9, what
//!   `voms-proxy-init -limited` and `grid-proxy-init -limited` make): the
//!   issuer's identity, restricted by convention to data access (GRAM
//!   refuses it for job submission). Read as [`ProxyChain::limited`];
//!   whether such a chain may log in is the relying filter's choice
//!   (`voms_exchange`'s `limited_proxies`).
//! - anything else (`id-ppl-anyLanguage` with a policy, site-specific
//!   languages): a restriction this server cannot interpret, so it cannot
//!   honour it. Refused ([`ChainError::UnknownProxyPolicy`]), as RFC 3820
//!   asks of relying parties that do not understand a policy.
//!
//! Legacy (GT2, pre-RFC) proxies without the extension are not
//! recognised as proxies.

use std::time::SystemTime;

use asn1_rs::{Oid, Tag};
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use super::asn1::only_element;
use super::voms_ac::{
    AttributeCertificate, OID_VOMS_AC_SEQUENCE, VomsAcError, VomsAttributes, parse_ac_sequence,
};

const OID_PROXY_CERT_INFO: &str = "1.3.6.1.5.5.7.1.14";
const OID_PROXY_CERT_INFO_GT3: &str = "1.3.6.1.4.1.3536.1.222";
const OID_COMMON_NAME: &str = "2.5.4.3";
/// `id-ppl-inheritAll`: an impersonation proxy.
const OID_PPL_INHERIT_ALL: Oid<'static> = asn1_rs::oid!(1.3.6.1.5.5.7.21.1);
/// `id-ppl-independent`: a proxy with none of its issuer's rights.
const OID_PPL_INDEPENDENT: Oid<'static> = asn1_rs::oid!(1.3.6.1.5.5.7.21.2);
/// Globus' limited-proxy policy language.
const OID_PPL_LIMITED: Oid<'static> = asn1_rs::oid!(1.3.6.1.4.1.3536.1.1.1.9);

/// What a verified-shape proxy chain says.
#[derive(Clone, Debug)]
pub struct ProxyChain {
    /// Index of the end-entity (user) certificate in the chain.
    pub end_entity: usize,
    /// The user's DN, OpenSSL slash form (`/DC=org/DC=example/CN=Jane Doe`).
    pub end_entity_dn: String,
    /// The user certificate's issuer DN, slash form.
    pub end_entity_issuer_dn: String,
    /// When the first certificate of leaf..=end-entity expires.
    pub not_after: SystemTime,
    /// The VOMS attributes of the first AC found (leaf first), if any.
    pub voms: Option<VomsAttributes>,
    /// Whether a proxy of the chain is a (Globus) limited proxy: every
    /// proxy it issued is limited too, so the whole chain is.
    pub limited: bool,
}

/// Why a chain was refused. Messages name the position, never the DN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No certificates.
    #[error("no client certificate was presented")]
    Empty,
    /// Not DER X.509.
    #[error("certificate {0} of the chain is malformed")]
    Malformed(usize),
    /// Past notAfter.
    #[error("certificate {0} of the chain has expired")]
    Expired(usize),
    /// Before notBefore.
    #[error("certificate {0} of the chain is not valid yet")]
    NotYetValid(usize),
    /// Only proxies: no user certificate.
    #[error("the chain has no end-entity certificate after its proxies")]
    NoEndEntity,
    /// The next certificate did not issue this proxy.
    #[error("proxy certificate {0} was not issued by the next certificate of the chain")]
    BrokenLink(usize),
    /// Subject is not issuer + one CN.
    #[error("proxy certificate {0} is not named after its issuer plus one CN")]
    BadProxyName(usize),
    /// ProxyCertInfo not decodable.
    #[error("proxy certificate {0} has a malformed ProxyCertInfo extension")]
    BadProxyCertInfo(usize),
    /// A proxy claims to be a CA, or its issuer may not sign (RFC 3820
    /// 3.1 and 3.8).
    #[error("proxy certificate {0} has key usages a proxy may not have")]
    BadProxyUsage(usize),
    /// More proxies below a proxy than its path length allows.
    #[error("proxy certificate {0} allows fewer delegations than the chain has")]
    PathLength(usize),
    /// An independent proxy (`id-ppl-independent`) carries none of its
    /// issuer's rights, so it names nobody this server knows.
    #[error(
        "proxy certificate {0} is an independent proxy, which carries none of its issuer's identity"
    )]
    IndependentProxy(usize),
    /// A proxy policy language this server cannot interpret, so it cannot
    /// honour the restriction.
    #[error("proxy certificate {0} has a proxy policy this server does not understand")]
    UnknownProxyPolicy(usize),
    /// The VOMS extension is there but unreadable.
    #[error("{0}")]
    Voms(#[from] VomsAcError),
}

/// The OpenSSL "slash" form of a DN, as grid tools, `.lsc` files and
/// astavoms write it.
pub fn slash_dn(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut out = String::new();
    for rdn in name.iter_rdn() {
        for attr in rdn.iter() {
            let key = x509_parser::objects::oid2abbrev(attr.attr_type(), registry)
                .map(|k| match k {
                    "domainComponent" => "DC".to_owned(),
                    other => other.to_owned(),
                })
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value = attr
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| String::from_utf8_lossy(attr.as_slice()).into_owned());
            out.push('/');
            out.push_str(&key);
            out.push('=');
            out.push_str(&value);
        }
    }
    out
}

/// Whether `now` is inside the certificate's validity window.
pub(crate) fn valid_at(cert: &X509Certificate<'_>, now: SystemTime) -> bool {
    let now = unix(now);
    cert.validity().not_before.timestamp() <= now && now <= cert.validity().not_after.timestamp()
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// A ProxyCertInfo extension value: `(path length constraint, policy
/// language)`. RFC 3820 3.8:
///
/// ```text
/// ProxyCertInfo ::= SEQUENCE { pCPathLenConstraint INTEGER (0..MAX) OPTIONAL,
///                              proxyPolicy ProxyPolicy }
/// ProxyPolicy ::= SEQUENCE { policyLanguage OBJECT IDENTIFIER,
///                            policy OCTET STRING OPTIONAL }
/// ```
///
/// The pre-RFC (GT3) layout puts the policy first and the constraint
/// after it as `[1] EXPLICIT INTEGER`. Nothing else may follow.
fn decode_proxy_cert_info(value: &[u8]) -> Option<(Option<u64>, Oid<'_>)> {
    let info = only_element(value).filter(|i| i.is_universal(Tag::Sequence))?;
    let parts = info.children()?;
    let (path_len, policy) = match &parts[..] {
        [policy] => (None, policy),
        [len, policy] if len.is_universal(Tag::Integer) => (Some(len.raw), policy),
        [policy, len] if len.is_context(1) => (Some(len.value.data), policy),
        _ => return None,
    };
    let path_len = match path_len {
        Some(raw) => match u64::from_der(raw) {
            Ok(([], n)) => Some(n),
            _ => return None,
        },
        None => None,
    };
    let policy = policy
        .children()
        .filter(|_| policy.is_universal(Tag::Sequence))?;
    let language = match &policy[..] {
        [language] => language,
        [language, body] if body.is_universal(Tag::OctetString) => language,
        _ => return None,
    };
    match Oid::from_der(language.raw) {
        Ok(([], language)) => Some((path_len, language)),
        _ => None,
    }
}

/// What a proxy's ProxyCertInfo allows.
struct ProxyInfo {
    /// Most proxies it may issue below it (`None`: unlimited).
    path_len: Option<u64>,
    /// Whether it is a limited proxy.
    limited: bool,
}

/// What a ProxyCertInfo extension (RFC 3820 3.8) says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyCertInfo {
    /// Most proxies the proxy may issue below it (`None`: no limit).
    pub path_len: Option<u64>,
    /// The policy language, dotted (`1.3.6.1.5.5.7.21.1`, inheritAll).
    pub policy_language: String,
}

/// Reads a ProxyCertInfo extension value, in the RFC 3820 or the GT3
/// layout; `None` if it is neither.
pub fn read_proxy_cert_info(value: &[u8]) -> Option<ProxyCertInfo> {
    decode_proxy_cert_info(value).map(|(path_len, language)| ProxyCertInfo {
        path_len,
        policy_language: language.to_id_string(),
    })
}

/// The ProxyCertInfo extension of a certificate: `None` if it is not a
/// proxy; an error for a policy this server refuses (see the module docs).
fn proxy_cert_info(
    cert: &X509Certificate<'_>,
    index: usize,
) -> Result<Option<ProxyInfo>, ChainError> {
    let Some(ext) = cert.extensions().iter().find(|e| {
        let id = e.oid.to_id_string();
        id == OID_PROXY_CERT_INFO || id == OID_PROXY_CERT_INFO_GT3
    }) else {
        return Ok(None);
    };
    let (path_len, language) =
        decode_proxy_cert_info(ext.value).ok_or(ChainError::BadProxyCertInfo(index))?;
    let limited = if language == OID_PPL_INHERIT_ALL {
        false
    } else if language == OID_PPL_LIMITED {
        true
    } else if language == OID_PPL_INDEPENDENT {
        return Err(ChainError::IndependentProxy(index));
    } else {
        return Err(ChainError::UnknownProxyPolicy(index));
    };
    Ok(Some(ProxyInfo { path_len, limited }))
}

/// RDNs as comparable (type, value) lists.
fn rdns<'a>(name: &'a X509Name<'a>) -> Vec<Vec<(String, &'a [u8])>> {
    name.iter_rdn()
        .map(|rdn| {
            rdn.iter()
                .map(|a| (a.attr_type().to_id_string(), a.as_slice()))
                .collect()
        })
        .collect()
}

/// Subject = issuer's subject + exactly one RDN holding one CN.
fn named_after(proxy: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    let mine = rdns(proxy.subject());
    let theirs = rdns(issuer.subject());
    mine.len() == theirs.len() + 1
        && mine[..theirs.len()] == theirs[..]
        && mine
            .last()
            .is_some_and(|last| last.len() == 1 && last[0].0 == OID_COMMON_NAME)
}

/// Checks the shape of a proxy chain (leaf first) at `now` and reads it.
pub fn inspect_chain(
    chain: &[CertificateDer<'_>],
    now: SystemTime,
) -> Result<ProxyChain, ChainError> {
    if chain.is_empty() {
        return Err(ChainError::Empty);
    }
    let mut certs = Vec::with_capacity(chain.len());
    for (i, der) in chain.iter().enumerate() {
        match X509Certificate::from_der(der) {
            Ok(([], cert)) => certs.push(cert),
            _ => return Err(ChainError::Malformed(i)),
        }
    }
    // Walk from the leaf while certificates are proxies.
    let mut limits = Vec::new();
    let mut end_entity = None;
    for (i, cert) in certs.iter().enumerate() {
        match proxy_cert_info(cert, i)? {
            Some(info) => limits.push(info),
            None => {
                end_entity = Some(i);
                break;
            }
        }
    }
    let end_entity = end_entity.ok_or(ChainError::NoEndEntity)?;
    let mut not_after = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::MAX >> 2);
    for (i, cert) in certs[..=end_entity].iter().enumerate() {
        let now_unix = unix(now);
        if now_unix < cert.validity().not_before.timestamp() {
            return Err(ChainError::NotYetValid(i));
        }
        if now_unix > cert.validity().not_after.timestamp() {
            return Err(ChainError::Expired(i));
        }
        let expires = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
        not_after = not_after.min(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(expires));
    }
    for i in 0..end_entity {
        let (proxy, issuer) = (&certs[i], &certs[i + 1]);
        if proxy.issuer().as_raw() != issuer.subject().as_raw()
            || proxy.verify_signature(Some(issuer.public_key())).is_err()
        {
            return Err(ChainError::BrokenLink(i));
        }
        if !named_after(proxy, issuer) {
            return Err(ChainError::BadProxyName(i));
        }
        // RFC 3820: a proxy is never a CA (3.8), and its issuer, if it
        // states key usages, must be allowed to sign (3.1).
        let is_ca = proxy
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca);
        let issuer_cannot_sign = issuer
            .key_usage()
            .ok()
            .flatten()
            .is_some_and(|ku| !ku.value.digital_signature());
        if is_ca || issuer_cannot_sign {
            return Err(ChainError::BadProxyUsage(i));
        }
        // Proxy i has i proxies below it (those closer to the leaf).
        if limits[i].path_len.is_some_and(|limit| (i as u64) > limit) {
            return Err(ChainError::PathLength(i));
        }
    }
    let mut voms = None;
    for cert in &certs[..end_entity] {
        if let Some(ext) = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == OID_VOMS_AC_SEQUENCE)
        {
            let acs = parse_ac_sequence(ext.value)?;
            voms = acs.into_iter().next().map(|ac| ac.attributes);
            break;
        }
    }
    let eec = &certs[end_entity];
    Ok(ProxyChain {
        end_entity,
        end_entity_dn: slash_dn(eec.subject()),
        end_entity_issuer_dn: slash_dn(eec.issuer()),
        not_after,
        voms,
        limited: limits.iter().any(|info| info.limited),
    })
}

/// The first VOMS AC of a chain (leaf first) with the end-entity
/// certificate it must be bound to, for [`VomsTrust::verify`](super::voms_ac::VomsTrust::verify).
pub fn with_first_ac<T>(
    chain: &[CertificateDer<'_>],
    end_entity: usize,
    f: impl FnOnce(&AttributeCertificate<'_>, &X509Certificate<'_>) -> T,
) -> Option<T> {
    let (_, eec) = X509Certificate::from_der(chain.get(end_entity)?).ok()?;
    for der in &chain[..end_entity] {
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        if let Some(ext) = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == OID_VOMS_AC_SEQUENCE)
        {
            let acs = parse_ac_sequence(ext.value).ok()?;
            return acs.first().map(|ac| f(ac, &eec));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_chains() {
        assert_eq!(
            inspect_chain(&[], SystemTime::now()).unwrap_err(),
            ChainError::Empty
        );
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert_eq!(
            inspect_chain(&[junk], SystemTime::now()).unwrap_err(),
            ChainError::Malformed(0)
        );
    }

    /// DER of `SEQUENCE { [INTEGER n,] SEQUENCE { OID language } }`.
    fn info(path_len: Option<&[u8]>, language: &[u8]) -> Vec<u8> {
        let tlv = |tag: u8, content: &[u8]| [&[tag, content.len() as u8][..], content].concat();
        let policy = tlv(0x30, &tlv(0x06, language));
        let mut body = path_len.map(|n| tlv(0x02, n)).unwrap_or_default();
        body.extend(policy);
        tlv(0x30, &body)
    }

    const INHERIT_ALL: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 21, 1];

    #[test]
    fn proxy_cert_info_layouts_and_path_lengths() {
        let decode = |v: &[u8]| decode_proxy_cert_info(v).map(|(n, l)| (n, l.to_id_string()));
        let inherit = "1.3.6.1.5.5.7.21.1".to_owned();
        assert_eq!(
            decode(&info(None, INHERIT_ALL)),
            Some((None, inherit.clone()))
        );
        assert_eq!(
            decode(&info(Some(&[0]), INHERIT_ALL)),
            Some((Some(0), inherit.clone()))
        );
        assert_eq!(
            decode(&info(Some(&[1, 0]), INHERIT_ALL)),
            Some((Some(256), inherit.clone()))
        );
        // Negative, empty or non-minimal integers are not DER path lengths.
        assert_eq!(decode(&info(Some(&[0x80]), INHERIT_ALL)), None);
        assert_eq!(decode(&info(Some(&[]), INHERIT_ALL)), None);
        assert_eq!(decode(&info(Some(&[0, 1]), INHERIT_ALL)), None);
        // GT3: the policy first, then [1] EXPLICIT INTEGER.
        let policy = [&[0x30, 10, 0x06, 8][..], INHERIT_ALL].concat();
        let gt3 = [&[0x30, 17][..], &policy, &[0xa1, 3, 0x02, 1, 2]].concat();
        assert_eq!(decode(&gt3), Some((Some(2), inherit)));
        // No policy, trailing bytes, or not a sequence at all.
        assert_eq!(decode(&[0x30, 3, 0x02, 1, 1]), None);
        assert_eq!(decode(&[info(None, INHERIT_ALL), vec![0]].concat()), None);
        assert_eq!(decode(&[0x04, 0]), None);
    }

    proptest::proptest! {
        #[test]
        fn proxy_cert_info_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode_proxy_cert_info(&bytes);
        }
    }
}
