//! Auth outcomes as metrics: each error maps to a fixed reason word, so the
//! `reason` label never carries text from the identity service or the
//! client (a message, a user name, a token).

use super::jwt::JwtError;
use super::keystone::KeystoneError;
use super::voms::VomsError;

pub(crate) use snf_occi_types::metrics::record_auth_outcome as record;

/// Counts one call of an auth filter to its identity service, like the
/// Synnefo client counts its own calls.
pub(crate) fn upstream_call(
    service: &'static str,
    operation: &'static str,
    answer: &Result<reqwest::Response, reqwest::Error>,
    started: std::time::Instant,
) {
    snf_occi_types::metrics::record_synnefo_call(
        service,
        operation.to_string(),
        answer.as_ref().ok().map(|r| r.status().as_u16()),
        started.elapsed(),
    );
}

impl KeystoneError {
    /// A fixed word naming why, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            KeystoneError::MalformedToken => "malformed",
            KeystoneError::Rejected(_) => "rejected_by_identity",
            KeystoneError::Unreachable => "identity_unreachable",
            KeystoneError::Upstream(_) => "identity_failed",
            KeystoneError::BadAnswer => "identity_bad_answer",
        }
    }
}

impl VomsError {
    /// A fixed word naming why, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            VomsError::Chain(_) => "bad_chain",
            VomsError::Voms(_) => "bad_voms_attributes",
            VomsError::BadHeader => "bad_forwarded_header",
            VomsError::AmbiguousHeader => "ambiguous_forwarded_header",
            VomsError::LimitedProxy => "limited_proxy",
            VomsError::UntrustedChain => "untrusted_chain",
            VomsError::NoVomsAttributes => "no_voms_attributes",
            VomsError::Rejected(_) => "rejected_by_astavoms",
            VomsError::Unreachable => "astavoms_unreachable",
            VomsError::Upstream(_) => "astavoms_failed",
            VomsError::BadAnswer => "astavoms_bad_answer",
        }
    }
}

impl JwtError {
    /// A fixed word naming why, for metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            JwtError::Malformed => "malformed",
            JwtError::AlgorithmNotAllowed => "algorithm_not_allowed",
            JwtError::UnknownKey => "unknown_key",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::WrongIssuer => "wrong_issuer",
            JwtError::WrongAudience => "wrong_audience",
            JwtError::MissingClaim(_) => "missing_claim",
            JwtError::NoAccount(_) => "no_account",
            JwtError::Unavailable(_) => "unavailable",
        }
    }
}
