//! Proxy chains and VOMS ACs generated in the test, read by `proxy_chain`
//! and verified by `voms_ac::VomsTrust`.

mod auth_support;

use std::time::SystemTime;

use auth_support::pki::{
    AcSpec, CA_DN, PPL_ANY_LANGUAGE, PPL_INDEPENDENT, PPL_LIMITED, Pki, ProxySpec, USER_DN, VO,
    VOMS_DN,
};
use snf_occi_middleware::auth::proxy_chain::{ChainError, inspect_chain, with_first_ac};
use snf_occi_middleware::auth::voms_ac::{VomsAcError, VomsTrust};
use time::{Duration, OffsetDateTime};

fn trust(pki: &Pki) -> VomsTrust {
    let mut trust = VomsTrust::default();
    trust.add_lsc(VO, &format!("{VOMS_DN}\n{CA_DN}\n"));
    trust.add_ca(&pki.ca.der);
    trust
}

fn verify(
    chain: &[rustls_pki_types::CertificateDer<'_>],
    trust: &VomsTrust,
) -> Result<(), VomsAcError> {
    with_first_ac(chain, 1, |ac, eec| trust.verify(ac, eec, SystemTime::now())).expect("an AC")
}

#[test]
fn a_voms_proxy_is_read() {
    let pki = Pki::new();
    let proxy = pki.proxy(&ProxySpec {
        ac: Some(pki.ac(&AcSpec::default())),
        ..Default::default()
    });
    let chain = inspect_chain(&proxy.chain, SystemTime::now()).unwrap();
    assert_eq!(chain.end_entity, 1);
    assert_eq!(chain.end_entity_dn, USER_DN);
    assert_eq!(chain.end_entity_issuer_dn, CA_DN);
    let voms = chain.voms.expect("VOMS attributes");
    assert_eq!(voms.vo, VO);
    assert_eq!(voms.uri, "voms.snf-test.org:15000");
    assert_eq!(voms.server_dn, VOMS_DN);
    assert_eq!(
        voms.fqans,
        vec![
            format!("/{VO}/Role=NULL/Capability=NULL"),
            format!("/{VO}/cloud/Role=NULL/Capability=NULL")
        ]
    );
    // The proxy expires in 12 h, the user certificate in a year: the chain
    // lives as long as the proxy.
    let left = chain
        .not_after
        .duration_since(SystemTime::now())
        .unwrap()
        .as_secs();
    assert!((11 * 3600..=12 * 3600).contains(&left), "{left}");
    verify(&proxy.chain, &trust(&pki)).unwrap();
}

#[test]
fn a_plain_proxy_and_a_proxy_of_a_proxy() {
    let pki = Pki::new();
    let plain = pki.proxy(&ProxySpec::default());
    let chain = inspect_chain(&plain.chain, SystemTime::now()).unwrap();
    assert!(chain.voms.is_none());

    let first = pki.proxy(&ProxySpec {
        robot: true,
        ..Default::default()
    });
    let second = pki.proxy(&ProxySpec {
        parent: Some(&first),
        ..Default::default()
    });
    let chain = inspect_chain(&second.chain, SystemTime::now()).unwrap();
    assert_eq!(chain.end_entity, 2);
    assert_eq!(chain.end_entity_dn, "/DC=org/O=snf-test/OU=Robots");

    // A plain certificate (no proxy) is its own end entity.
    let chain = inspect_chain(std::slice::from_ref(&pki.user.der), SystemTime::now()).unwrap();
    assert_eq!(chain.end_entity, 0);
}

/// Issue 16 item 2: an independent proxy names nobody this server knows,
/// a policy it cannot read is one it cannot honour; a limited proxy is
/// read as such, and so is every proxy below one.
#[test]
fn proxy_policies() {
    let pki = Pki::new();
    let with = |policy, parent| {
        pki.proxy(&ProxySpec {
            policy: Some(policy),
            parent,
            robot: parent.is_none(),
            ac: Some(pki.ac(&AcSpec::default())),
            ..Default::default()
        })
    };
    let now = SystemTime::now();
    let independent = with(PPL_INDEPENDENT, None);
    assert_eq!(
        inspect_chain(&independent.chain, now).unwrap_err(),
        ChainError::IndependentProxy(0)
    );
    let any_language = with(PPL_ANY_LANGUAGE, None);
    assert_eq!(
        inspect_chain(&any_language.chain, now).unwrap_err(),
        ChainError::UnknownProxyPolicy(0)
    );
    // Deeper in the chain too.
    let below = pki.proxy(&ProxySpec {
        parent: Some(&independent),
        ..Default::default()
    });
    assert_eq!(
        inspect_chain(&below.chain, now).unwrap_err(),
        ChainError::IndependentProxy(1)
    );

    let full = pki.proxy(&ProxySpec::default());
    assert!(!inspect_chain(&full.chain, now).unwrap().limited);
    let limited = with(PPL_LIMITED, None);
    let chain = inspect_chain(&limited.chain, now).unwrap();
    assert!(chain.limited);
    assert_eq!(chain.end_entity_dn, "/DC=org/O=snf-test/OU=Robots");
    let below = pki.proxy(&ProxySpec {
        parent: Some(&limited),
        ..Default::default()
    });
    assert!(inspect_chain(&below.chain, now).unwrap().limited);
}

#[test]
fn path_length_is_enforced() {
    let pki = Pki::new();
    let first = pki.proxy(&ProxySpec {
        robot: true,
        path_len: Some(0),
        ..Default::default()
    });
    assert!(inspect_chain(&first.chain, SystemTime::now()).is_ok());
    let second = pki.proxy(&ProxySpec {
        parent: Some(&first),
        ..Default::default()
    });
    assert_eq!(
        inspect_chain(&second.chain, SystemTime::now()).unwrap_err(),
        ChainError::PathLength(1)
    );
    let first = pki.proxy(&ProxySpec {
        robot: true,
        path_len: Some(1),
        ..Default::default()
    });
    let second = pki.proxy(&ProxySpec {
        parent: Some(&first),
        ..Default::default()
    });
    assert!(inspect_chain(&second.chain, SystemTime::now()).is_ok());
}

#[test]
fn every_rejection_reason() {
    let pki = Pki::new();
    let now = OffsetDateTime::now_utc();
    let expired = pki.proxy(&ProxySpec {
        not_before: Some(now - Duration::days(2)),
        not_after: Some(now - Duration::days(1)),
        ..Default::default()
    });
    assert_eq!(
        inspect_chain(&expired.chain, SystemTime::now()).unwrap_err(),
        ChainError::Expired(0)
    );
    let early = pki.proxy(&ProxySpec {
        not_before: Some(now + Duration::days(1)),
        ..Default::default()
    });
    assert_eq!(
        inspect_chain(&early.chain, SystemTime::now()).unwrap_err(),
        ChainError::NotYetValid(0)
    );

    let forged = pki.proxy(&ProxySpec {
        forged: true,
        ..Default::default()
    });
    assert_eq!(
        inspect_chain(&forged.chain, SystemTime::now()).unwrap_err(),
        ChainError::BrokenLink(0)
    );

    let misnamed = pki.proxy(&ProxySpec {
        bad_name: true,
        ..Default::default()
    });
    assert_eq!(
        inspect_chain(&misnamed.chain, SystemTime::now()).unwrap_err(),
        ChainError::BadProxyName(0)
    );

    let ca = pki.proxy(&ProxySpec {
        ca: true,
        ..Default::default()
    });
    assert_eq!(
        inspect_chain(&ca.chain, SystemTime::now()).unwrap_err(),
        ChainError::BadProxyUsage(0)
    );

    // A proxy without the user certificate after it.
    let proxy = pki.proxy(&ProxySpec::default());
    assert_eq!(
        inspect_chain(&proxy.chain[..1], SystemTime::now()).unwrap_err(),
        ChainError::NoEndEntity
    );

    // A proxy followed by someone else's certificate.
    let wrong = vec![proxy.chain[0].clone(), pki.voms.der.clone()];
    assert_eq!(
        inspect_chain(&wrong, SystemTime::now()).unwrap_err(),
        ChainError::BrokenLink(0)
    );

    // An expired user certificate under a fresh proxy.
    let old = pki.expired_user();
    let chain = vec![proxy.chain[0].clone(), old.der.clone()];
    assert!(matches!(
        inspect_chain(&chain, SystemTime::now()).unwrap_err(),
        ChainError::Expired(1) | ChainError::BrokenLink(0)
    ));

    // Truncated DER.
    let mut cut = proxy.chain.clone();
    cut[0] = rustls_pki_types::CertificateDer::from(cut[0][..cut[0].len() / 2].to_vec());
    assert_eq!(
        inspect_chain(&cut, SystemTime::now()).unwrap_err(),
        ChainError::Malformed(0)
    );

    // A VOMS extension that is not an AC sequence.
    let broken_ac = pki.proxy(&ProxySpec {
        ac: Some(vec![0x02, 0x01, 0x05]),
        ..Default::default()
    });
    assert!(matches!(
        inspect_chain(&broken_ac.chain, SystemTime::now()).unwrap_err(),
        ChainError::Voms(VomsAcError::Malformed(_))
    ));

    // Messages name positions, never the DN.
    for err in [
        ChainError::Expired(0),
        ChainError::BrokenLink(1),
        ChainError::BadProxyName(0),
    ] {
        assert!(!err.to_string().contains("Jane"));
    }
}

#[test]
fn voms_ac_verification_rejections() {
    let pki = Pki::new();
    let trust = trust(&pki);
    let with = |spec: AcSpec| {
        pki.proxy(&ProxySpec {
            ac: Some(pki.ac(&spec)),
            ..Default::default()
        })
    };
    let now = OffsetDateTime::now_utc();

    let expired = with(AcSpec {
        not_before: now - Duration::days(2),
        not_after: now - Duration::days(1),
        ..AcSpec::default()
    });
    assert_eq!(verify(&expired.chain, &trust), Err(VomsAcError::Expired));

    let stolen = with(AcSpec {
        holder_serial: Some(&[0x66]),
        ..AcSpec::default()
    });
    assert_eq!(verify(&stolen.chain, &trust), Err(VomsAcError::WrongHolder));

    let tampered = with(AcSpec {
        corrupt_signature: true,
        ..AcSpec::default()
    });
    assert_eq!(
        verify(&tampered.chain, &trust),
        Err(VomsAcError::BadSignature)
    );

    let other_vo = with(AcSpec {
        vo: "other.vo",
        ..AcSpec::default()
    });
    assert_eq!(
        verify(&other_vo.chain, &trust),
        Err(VomsAcError::UntrustedServer("other.vo".into()))
    );

    // Signed by a certificate the .lsc does not name (the user's own).
    let self_made = with(AcSpec {
        signer: Some(&pki.user),
        ..AcSpec::default()
    });
    assert_eq!(
        verify(&self_made.chain, &trust),
        Err(VomsAcError::UntrustedServer(VO.into()))
    );

    // The right names, but the VOMS server certificate is not from a trusted CA.
    let mut no_ca = VomsTrust::default();
    no_ca.add_lsc(VO, &format!("{VOMS_DN}\n{CA_DN}\n"));
    no_ca.add_ca(&pki.user.der);
    let good = with(AcSpec::default());
    assert_eq!(
        verify(&good.chain, &no_ca),
        Err(VomsAcError::BadServerCertificate)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// Damaged chains are refused or read, never a panic.
    #[test]
    fn damaged_chains_never_panic(index in 0usize..2, offset in 0usize..2000, byte in proptest::num::u8::ANY) {
        use std::sync::OnceLock;
        static CHAIN: OnceLock<Vec<rustls_pki_types::CertificateDer<'static>>> = OnceLock::new();
        let chain = CHAIN.get_or_init(|| {
            let pki = Pki::new();
            pki.proxy(&ProxySpec { ac: Some(pki.ac(&AcSpec::default())), ..Default::default() }).chain
        });
        let mut damaged = chain.clone();
        let mut der = damaged[index].to_vec();
        let at = offset % der.len();
        der[at] = byte;
        damaged[index] = rustls_pki_types::CertificateDer::from(der);
        let _ = inspect_chain(&damaged, SystemTime::now());
    }
}
