//! A rustls client-certificate verifier that accepts RFC 3820 proxy
//! chains, so grid clients (`rOCCI-cli -n x509 -x <proxy> -X`) can talk
//! TLS to snf-occi with no Apache in front.
//!
//! rustls' own `WebPkiClientVerifier` refuses proxies: the critical
//! ProxyCertInfo extension is unknown to webpki, and a proxy is issued by
//! an end-entity certificate. [`ProxyClientCertVerifier`] therefore:
//!
//! 1. checks the proxy part of the chain with
//!    [`inspect_chain`] (each proxy
//!    signed by the next certificate, named after it plus one CN, valid,
//!    within its path length);
//! 2. hands the end-entity (user) certificate and whatever follows it to
//!    webpki, against the configured CAs, exactly as for a plain client
//!    certificate;
//! 3. checks the handshake signature with the *leaf's* public key as a
//!    raw SPKI (rustls' helpers would parse the proxy leaf with webpki
//!    and refuse it again).
//!
//! Plain (non-proxy) client certificates pass through steps 2 and 3
//! unchanged, so one verifier serves both kinds of users; with
//! [`ClientAuth::Optional`] token users present none at all.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use snf_occi_middleware::auth::{ClientAuth, ProxyClientCertVerifier};
//! # fn ca_der() -> Option<rustls_pki_types::CertificateDer<'static>> { None }
//! let mut roots = rustls::RootCertStore::empty();
//! if let Some(ca) = ca_der() {
//!     roots.add(ca).unwrap();
//! }
//! // With no CA configured, building fails with a clear error instead of
//! // accepting everyone.
//! let verifier = ProxyClientCertVerifier::new(Arc::new(roots), ClientAuth::Optional);
//! assert!(verifier.is_err());
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, RootCertStore,
    SignatureScheme,
};
use rustls_pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::proxy_chain::{ChainError, inspect_chain};

/// Whether clients must present a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// Certificates are asked for but not required (token users send none).
    Optional,
    /// Every client must present a valid certificate or proxy chain.
    Required,
}

/// Why the verifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    /// webpki refused the CA set (e.g. it is empty).
    #[error("client CA certificates unusable: {0}")]
    Roots(#[from] rustls::server::VerifierBuilderError),
    /// The CA file could not be read or holds no certificate.
    #[error("cannot read client CA file {path}: {reason}")]
    File {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
}

/// A [`ClientCertVerifier`] that accepts RFC 3820 proxy chains (see the
/// module docs).
#[derive(Debug)]
pub struct ProxyClientCertVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl ProxyClientCertVerifier {
    /// A verifier trusting `roots`, with rustls' aws-lc-rs provider.
    pub fn new(roots: Arc<RootCertStore>, client_auth: ClientAuth) -> Result<Self, VerifierError> {
        Self::with_provider(
            roots,
            client_auth,
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
    }

    /// A verifier trusting `roots`, with an explicit crypto provider (use
    /// the one the server config is built with).
    pub fn with_provider(
        roots: Arc<RootCertStore>,
        client_auth: ClientAuth,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, VerifierError> {
        let algorithms = provider.signature_verification_algorithms;
        let webpki = WebPkiClientVerifier::builder_with_provider(roots, provider).build()?;
        Ok(ProxyClientCertVerifier {
            webpki,
            algorithms,
            mandatory: client_auth == ClientAuth::Required,
        })
    }

    /// A verifier trusting the CA certificates of a PEM file (a grid
    /// site's `/etc/grid-security/certificates` concatenated, say).
    pub fn from_pem_file(
        path: &std::path::Path,
        client_auth: ClientAuth,
    ) -> Result<Self, VerifierError> {
        use rustls_pki_types::pem::PemObject;
        let file_error = |reason: String| VerifierError::File {
            path: path.display().to_string(),
            reason,
        };
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_error(e.to_string()))? {
            let cert = cert.map_err(|e| file_error(e.to_string()))?;
            roots.add(cert).map_err(|e| file_error(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(file_error("no certificate in the file".into()));
        }
        Self::new(Arc::new(roots), client_auth)
    }

    /// Checks the end-entity (user) certificate `chain[end_entity]` against
    /// the CAs, with the certificates after it as candidate intermediates,
    /// as the handshake does after [`inspect_chain`] checked the proxies
    /// before it. `voms_exchange` calls it for chains a trusted front end
    /// forwards: those are what the client sent, checked by nobody here.
    pub fn verify_end_entity(
        &self,
        chain: &[CertificateDer<'_>],
        end_entity: usize,
        now: UnixTime,
    ) -> Result<(), Error> {
        let user = chain
            .get(end_entity)
            .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
        self.webpki
            .verify_client_cert(user, &chain[end_entity + 1..], now)
            .map(|_| ())
    }

    /// The leaf's SubjectPublicKeyInfo, DER.
    fn leaf_spki(cert: &CertificateDer<'_>) -> Result<SubjectPublicKeyInfoDer<'static>, Error> {
        let (_, parsed) = X509Certificate::from_der(cert)
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        Ok(SubjectPublicKeyInfoDer::from(
            parsed.public_key().raw.to_vec(),
        ))
    }
}

fn chain_error(err: ChainError) -> Error {
    Error::InvalidCertificate(match err {
        ChainError::Expired(_) => CertificateError::Expired,
        ChainError::NotYetValid(_) => CertificateError::NotValidYet,
        ChainError::Malformed(_) => CertificateError::BadEncoding,
        ChainError::BrokenLink(_) => CertificateError::BadSignature,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    })
}

fn webpki_error(err: webpki::Error) -> Error {
    match err {
        webpki::Error::InvalidSignatureForPublicKey => {
            Error::InvalidCertificate(CertificateError::BadSignature)
        }
        webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | webpki::Error::UnsupportedSignatureAlgorithmContext(_) => {
            Error::InvalidCertificate(CertificateError::BadSignature)
        }
        other => Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(other)))),
    }
}

impl ClientCertVerifier for ProxyClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let mut chain = Vec::with_capacity(intermediates.len() + 1);
        chain.push(end_entity.clone());
        chain.extend(intermediates.iter().cloned());
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(now.as_secs());
        let inspected = inspect_chain(&chain, at).map_err(chain_error)?;
        self.verify_end_entity(&chain, inspected.end_entity, now)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let spki = Self::leaf_spki(cert)?;
        let key = webpki::RawPublicKeyEntity::try_from(&spki).map_err(webpki_error)?;
        // TLS 1.2 schemes do not pin the curve: try each candidate, as
        // rustls' own `verify_tls12_signature` does.
        let mut last = None;
        for algorithm in self
            .algorithms
            .mapping
            .iter()
            .filter(|(s, _)| *s == dss.scheme)
            .flat_map(|(_, a)| a.iter())
        {
            match key.verify_signature(*algorithm, message, dss.signature()) {
                Ok(()) => return Ok(HandshakeSignatureValid::assertion()),
                Err(err @ webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => {
                    last = Some(err)
                }
                Err(err) => return Err(webpki_error(err)),
            }
        }
        Err(match last {
            Some(err) => webpki_error(err),
            None => Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ),
        })
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let spki = Self::leaf_spki(cert)?;
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
