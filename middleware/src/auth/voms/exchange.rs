//! Checking a presented chain and exchanging it at astavoms for a
//! Synnefo token.

use std::time::SystemTime;

use http::{HeaderName, HeaderValue};
use rustls_pki_types::{CertificateDer, UnixTime};

use super::error::VomsError;
use super::forwarded::pem_header;
use super::{LimitedProxies, VomsLogin, VomsVerifier};
use crate::auth::identity::{error_message, parse_access};
use crate::auth::proxy_chain::{inspect_chain, with_first_ac};
use crate::auth::upstream;

impl VomsVerifier {
    /// Checks the chain and exchanges it at astavoms.
    pub(super) async fn login(
        &self,
        chain: &[CertificateDer<'static>],
    ) -> Result<VomsLogin, VomsError> {
        let now = SystemTime::now();
        let inspected = inspect_chain(chain, now)?;
        if inspected.voms.is_none() {
            return Err(VomsError::NoVomsAttributes);
        }
        if let Some(cas) = &self.client_cas {
            cas.verify_end_entity(chain, inspected.end_entity, UnixTime::now())
                .map_err(|_| VomsError::UntrustedChain)?;
        }
        if inspected.limited && self.limited_proxies == LimitedProxies::Refuse {
            return Err(VomsError::LimitedProxy);
        }
        // The proxies and the user certificate: what was verified, and all
        // astavoms needs (it takes the DN of the first certificate after
        // the proxies, and binds the AC to it).
        let chain = &chain[..=inspected.end_entity];
        if let Some(trust) = &self.trust {
            with_first_ac(chain, inspected.end_entity, |ac, eec| {
                trust.verify(ac, eec, now)
            })
            .ok_or(VomsError::NoVomsAttributes)??;
        }
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(chain.len() + 1);
        if let Ok(dn) = HeaderValue::from_str(&inspected.end_entity_dn) {
            headers.push((HeaderName::from_static("ssl-client-s-dn"), dn));
        }
        let leaf = pem_header(&chain[0]).ok_or(VomsError::BadHeader)?;
        headers.push((HeaderName::from_static("ssl-client-cert"), leaf));
        for (n, cert) in chain[1..].iter().enumerate() {
            let value = pem_header(cert).ok_or(VomsError::BadHeader)?;
            let name = HeaderName::try_from(format!("ssl-client-cert-chain-{n}"))
                .map_err(|_| VomsError::BadHeader)?;
            headers.push((name, value));
        }
        let body = serde_json::json!({ "auth": { "voms": true } });
        let request = upstream::post_json(&self.tokens_url, Some(&body), headers)
            .map_err(|_| VomsError::Unreachable)?;
        let answer = upstream::call(
            &*self.upstream,
            "astavoms",
            "POST /tokens",
            request,
            self.timeout,
        )
        .await
        .map_err(|_| VomsError::Unreachable)?;
        let status = answer.status().as_u16();
        let body = answer.body();
        match status {
            200..=299 => {
                let identity = parse_access(body).ok_or(VomsError::BadAnswer)?;
                let expires = match identity.expires {
                    Some(token) => Some(token.min(inspected.not_after)),
                    None => Some(inspected.not_after),
                };
                Ok(VomsLogin { identity, expires })
            }
            // 404/405: astavoms_url is wrong, not the proxy.
            400..=499 if status != 404 && status != 405 => {
                Err(VomsError::Rejected(error_message(body)))
            }
            other => Err(VomsError::Upstream(other)),
        }
    }
}
