//! Test PKI generated at run time: a CA, a user certificate, RFC 3820
//! proxies (optionally carrying a VOMS AC), and a VOMS server whose AC
//! is written by hand in DER (rcgen has no attribute certificates).

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber, SigningKey,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

const DC: [u64; 7] = [0, 9, 2342, 19200300, 100, 1, 25];
const CN: [u64; 4] = [2, 5, 4, 3];
pub const VO: &str = "vo.snf-test.org";
pub const USER_DN: &str = "/DC=org/O=snf-test/OU=People/CN=Jane Doe";
pub const VOMS_DN: &str = "/DC=org/O=snf-test/CN=voms.snf-test.org";
pub const CA_DN: &str = "/DC=org/O=snf-test/CN=SNF Test CA";

fn dn(parts: &[(&str, &str)]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for (kind, value) in parts {
        match *kind {
            "DC" => name.push(DnType::CustomDnType(DC.to_vec()), *value),
            "C" => name.push(DnType::CountryName, *value),
            "O" => name.push(DnType::OrganizationName, *value),
            "OU" => name.push(DnType::OrganizationalUnitName, *value),
            "CN" => name.push(DnType::CommonName, *value),
            _ => unreachable!(),
        }
    }
    name
}

/// A certificate with its parameters and key, able to issue others.
pub struct Party {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub der: CertificateDer<'static>,
}

impl Party {
    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

/// The whole test PKI.
pub struct Pki {
    pub ca: Party,
    pub user: Party,
    pub voms: Party,
    /// A user without a CN in its DN, whose proxies can be proxied again.
    pub robot: Party,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl Pki {
    pub fn new() -> Pki {
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name =
            dn(&[("DC", "org"), ("O", "snf-test"), ("CN", "SNF Test CA")]);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params.not_before = now() - Duration::days(30);
        ca_params.not_after = now() + Duration::days(3650);
        let ca_key = KeyPair::generate().unwrap();
        let ca_der = ca_params.self_signed(&ca_key).unwrap().der().clone();
        let ca = Party {
            params: ca_params,
            key: ca_key,
            der: ca_der,
        };

        let user = Self::leaf(
            &ca,
            dn(&[
                ("DC", "org"),
                ("O", "snf-test"),
                ("OU", "People"),
                ("CN", "Jane Doe"),
            ]),
            &[0x01, 0x42],
        );
        let voms = Self::leaf(
            &ca,
            dn(&[
                ("DC", "org"),
                ("O", "snf-test"),
                ("CN", "voms.snf-test.org"),
            ]),
            &[0x07],
        );
        let robot = Self::leaf(
            &ca,
            dn(&[("DC", "org"), ("O", "snf-test"), ("OU", "Robots")]),
            &[0x09],
        );
        Pki {
            ca,
            user,
            voms,
            robot,
        }
    }

    fn leaf(ca: &Party, name: DistinguishedName, serial: &[u8]) -> Party {
        let mut params = CertificateParams::default();
        params.distinguished_name = name;
        params.serial_number = Some(SerialNumber::from_slice(serial));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = now() - Duration::days(10);
        params.not_after = now() + Duration::days(365);
        let key = KeyPair::generate().unwrap();
        let der = params.signed_by(&key, &ca.issuer()).unwrap().der().clone();
        Party { params, key, der }
    }

    /// Another user of the same CA, `CN=<cn>` under `OU=People`.
    pub fn other_user(&self, cn: &str, serial: &[u8]) -> Party {
        Self::leaf(
            &self.ca,
            dn(&[
                ("DC", "org"),
                ("O", "snf-test"),
                ("OU", "People"),
                ("CN", cn),
            ]),
            serial,
        )
    }

    /// A user of this CA with the DN `parts` (`C`, `DC`, `O`, `OU`, `CN`;
    /// each type at most once).
    pub fn named_user(&self, parts: &[(&str, &str)], serial: &[u8]) -> Party {
        Self::leaf(&self.ca, dn(parts), serial)
    }

    /// A self-signed certificate carrying `party`'s DN: anybody can make
    /// one for anybody's DN.
    pub fn self_signed_copy(party: &Party) -> Party {
        let mut params = CertificateParams::default();
        params.distinguished_name = party.params.distinguished_name.clone();
        params.serial_number = party.params.serial_number.clone();
        params.not_before = now() - Duration::days(1);
        params.not_after = now() + Duration::days(30);
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().clone();
        Party { params, key, der }
    }

    /// A user certificate that has expired.
    pub fn expired_user(&self) -> Party {
        let mut user = Self::leaf(
            &self.ca,
            self.user.params.distinguished_name.clone(),
            &[0x01, 0x43],
        );
        user.params.not_before = now() - Duration::days(400);
        user.params.not_after = now() - Duration::days(1);
        user.der = user
            .params
            .signed_by(&user.key, &self.ca.issuer())
            .unwrap()
            .der()
            .clone();
        user
    }

    /// A VOMS AC for the user, as a VOMS server would sign it.
    pub fn ac(&self, spec: &AcSpec) -> Vec<u8> {
        let signer = spec.signer.unwrap_or(&self.voms);
        let holder_issuer = general_names_dirname(&name_der(&self.ca.params));
        let holder = seq(&[tlv(
            0xa0,
            &[
                holder_issuer,
                int(spec.holder_serial.unwrap_or(&[0x01, 0x42])),
            ]
            .concat(),
        )]);
        let issuer = tlv(0xa0, &general_names_dirname(&name_der(&signer.params)));
        let sig_alg = seq(&[oid(&[1, 2, 840, 10045, 4, 3, 2])]);
        let validity = seq(&[gentime(spec.not_before), gentime(spec.not_after)]);
        let authority = tlv(
            0xa0,
            &tlv(
                0x86,
                format!("{}://voms.snf-test.org:15000", spec.vo).as_bytes(),
            ),
        );
        let values = seq(&spec
            .fqans
            .iter()
            .map(|f| tlv(0x04, f.as_bytes()))
            .collect::<Vec<_>>());
        let fqan_attr = seq(&[
            oid(&[1, 3, 6, 1, 4, 1, 8005, 100, 100, 4]),
            tlv(0x31, &seq(&[authority, values])),
        ]);
        let certseq = seq(&[
            oid(&[1, 3, 6, 1, 4, 1, 8005, 100, 100, 10]),
            tlv(0x04, &seq(&[signer.der.to_vec()])),
        ]);
        let acinfo = seq(&[
            int(&[1]),
            holder,
            issuer,
            sig_alg.clone(),
            int(&[0x10, 0x20]),
            validity,
            seq(&[fqan_attr]),
            seq(&[certseq]),
        ]);
        let mut signature = signer.key.sign(&acinfo).unwrap();
        if spec.corrupt_signature {
            let last = signature.len() - 2;
            signature[last] ^= 0x55;
        }
        let mut bits = vec![0u8];
        bits.extend(signature);
        seq(&[acinfo, sig_alg, tlv(0x03, &bits)])
    }

    /// A proxy of `parent` (the user when `None`), leaf first chain.
    pub fn proxy(&self, spec: &ProxySpec) -> Proxy {
        let (parent_params, parent_key, parent_chain): (
            &CertificateParams,
            &KeyPair,
            Vec<CertificateDer<'static>>,
        ) = match (spec.parent, spec.holder) {
            (Some(p), _) => (&p.params, &p.key, p.chain.clone()),
            (None, Some(holder)) => (&holder.params, &holder.key, vec![holder.der.clone()]),
            (None, None) if spec.robot => (
                &self.robot.params,
                &self.robot.key,
                vec![self.robot.der.clone()],
            ),
            (None, None) => (
                &self.user.params,
                &self.user.key,
                vec![self.user.der.clone()],
            ),
        };
        let mut params = CertificateParams::default();
        let depth = parent_chain.len();
        // One more CN. rcgen keys names by type, so a second CN goes in as
        // a custom type with CN's OID (a third is not possible: use the
        // CN-less robot user for proxies of proxies).
        let mut name = parent_params.distinguished_name.clone();
        let cn = if name.get(&DnType::CommonName).is_some() {
            DnType::CustomDnType(CN.to_vec())
        } else {
            DnType::CommonName
        };
        name.push(cn, format!("{}", 1000 + depth));
        if spec.bad_name {
            name = dn(&[("DC", "org"), ("CN", "Somebody Else")]);
        }
        params.distinguished_name = name;
        if spec.ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        params.serial_number = Some(SerialNumber::from_slice(&[0x12, 0x34, depth as u8]));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.not_before = spec.not_before.unwrap_or(now() - Duration::minutes(5));
        params.not_after = spec.not_after.unwrap_or(now() + Duration::hours(12));
        // ProxyCertInfo: SEQUENCE { [pathLen INTEGER], SEQUENCE { policy language } }
        let mut info = Vec::new();
        if let Some(limit) = spec.path_len {
            info.push(int(&[limit]));
        }
        info.push(seq(&[oid(spec.policy.unwrap_or(PPL_INHERIT_ALL))]));
        let mut pci = CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 14], seq(&info));
        pci.set_criticality(true);
        params.custom_extensions.push(pci);
        if let Some(ac) = &spec.ac {
            let value = seq(&[seq(std::slice::from_ref(ac))]);
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 8005, 100, 100, 5],
                    value,
                ));
        }
        let key = KeyPair::generate().unwrap();
        let der = if spec.forged {
            // Signed by an unrelated key that claims the parent's name.
            let impostor = KeyPair::generate().unwrap();
            params
                .signed_by(&key, &Issuer::from_params(parent_params, &impostor))
                .unwrap()
                .der()
                .clone()
        } else {
            params
                .signed_by(&key, &Issuer::from_params(parent_params, parent_key))
                .unwrap()
                .der()
                .clone()
        };
        let mut chain = vec![der];
        chain.extend(parent_chain);
        Proxy { params, key, chain }
    }
}

/// How to build a proxy.
#[derive(Default)]
pub struct ProxySpec<'a> {
    pub parent: Option<&'a Proxy>,
    pub ac: Option<Vec<u8>>,
    pub path_len: Option<u8>,
    pub not_before: Option<OffsetDateTime>,
    pub not_after: Option<OffsetDateTime>,
    pub bad_name: bool,
    pub forged: bool,
    /// Mark the proxy as a CA (forbidden by RFC 3820).
    pub ca: bool,
    /// Proxy the CN-less robot user instead of Jane Doe.
    pub robot: bool,
    /// Proxy this user certificate instead of Jane Doe.
    pub holder: Option<&'a Party>,
    /// The proxy policy language (default `id-ppl-inheritAll`).
    pub policy: Option<&'static [u64]>,
}

/// `id-ppl-inheritAll`: an impersonation proxy.
pub const PPL_INHERIT_ALL: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 21, 1];
/// `id-ppl-independent`: a proxy with none of its issuer's rights.
pub const PPL_INDEPENDENT: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 21, 2];
/// `id-ppl-anyLanguage`: a policy in some language the relying party
/// must understand.
pub const PPL_ANY_LANGUAGE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 21, 0];
/// Globus' limited proxy (`voms-proxy-init -limited`).
pub const PPL_LIMITED: &[u64] = &[1, 3, 6, 1, 4, 1, 3536, 1, 1, 1, 9];

/// How to build an AC.
pub struct AcSpec<'a> {
    pub vo: &'a str,
    pub fqans: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub signer: Option<&'a Party>,
    pub holder_serial: Option<&'a [u8]>,
    pub corrupt_signature: bool,
}

impl Default for AcSpec<'_> {
    fn default() -> Self {
        AcSpec {
            vo: VO,
            fqans: vec![
                format!("/{VO}/Role=NULL/Capability=NULL"),
                format!("/{VO}/cloud/Role=NULL/Capability=NULL"),
            ],
            not_before: now() - Duration::minutes(5),
            not_after: now() + Duration::hours(12),
            signer: None,
            holder_serial: None,
            corrupt_signature: false,
        }
    }
}

/// A proxy certificate, its key and its chain (leaf first, no CA).
pub struct Proxy {
    pub params: CertificateParams,
    pub key: KeyPair,
    pub chain: Vec<CertificateDer<'static>>,
}

/// PEM of one certificate.
pub fn pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

// rcgen keeps one value per attribute type, so names use each type once.

// --- a tiny DER writer -------------------------------------------------

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

pub fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

pub fn int(bytes: &[u8]) -> Vec<u8> {
    let mut content = bytes.to_vec();
    if content.first().is_some_and(|b| b & 0x80 != 0) {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

pub fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |mut v: u64| {
        let mut bytes = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            bytes.push(((v & 0x7f) as u8) | 0x80);
            v >>= 7;
        }
        out.extend(bytes.iter().rev());
    };
    push(arcs[0] * 40 + arcs[1]);
    for arc in &arcs[2..] {
        push(*arc);
    }
    tlv(0x06, &out)
}

fn gentime(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let text = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(0x18, text.as_bytes())
}

/// The DER `Name` of a certificate's subject, as rcgen writes it.
fn name_der(params: &CertificateParams) -> Vec<u8> {
    // Self-sign a throwaway certificate with these names and cut the
    // subject out with x509-parser: the exact bytes rcgen writes.
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::default();
    p.distinguished_name = params.distinguished_name.clone();
    let cert = p.self_signed(&key).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
    parsed.subject().as_raw().to_vec()
}

/// GeneralNames { directoryName [4] Name } content (for implicit tagging).
fn general_names_dirname(name: &[u8]) -> Vec<u8> {
    seq(&[tlv(0xa4, name)])
}
