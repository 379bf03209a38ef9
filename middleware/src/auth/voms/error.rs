//! Why a VOMS proxy was not accepted, and what each reason means for
//! the client (401, or 503 when astavoms failed).

use http::StatusCode;

use crate::auth::layer::AuthFailure;
use crate::auth::proxy_chain::ChainError;
use crate::auth::voms_ac::VomsAcError;

/// Why a proxy was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VomsError {
    /// The chain's shape, validity or VOMS extension is wrong.
    #[error("client proxy refused: {0}")]
    Chain(#[from] ChainError),
    /// In-process AC verification failed.
    #[error("client proxy refused: {0}")]
    Voms(#[from] VomsAcError),
    /// A trusted front end forwarded an unreadable certificate.
    #[error("the forwarded client certificate header is malformed")]
    BadHeader,
    /// A trusted front end's request carries a certificate header twice
    /// (or in both spellings) with different values: one came from the
    /// client.
    #[error(
        "the forwarded client certificate headers are ambiguous (sent twice with different values)"
    )]
    AmbiguousHeader,
    /// The user certificate does not chain to a CA of `client_ca_file`.
    #[error("client proxy refused: the user certificate is not from a trusted CA")]
    UntrustedChain,
    /// A limited proxy, and `limited_proxies` is `"refuse"`.
    #[error("client proxy refused: limited proxies are not accepted here")]
    LimitedProxy,
    /// The chain has no VOMS attributes: not this filter's credential.
    #[error("the client certificate carries no VOMS attributes")]
    NoVomsAttributes,
    /// astavoms refused the proxy.
    #[error("the VOMS proxy was not accepted{}", .0.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Rejected(Option<String>),
    /// astavoms could not be reached.
    #[error("the VOMS token service is unreachable")]
    Unreachable,
    /// astavoms failed.
    #[error("the VOMS token service failed with status {0}")]
    Upstream(u16),
    /// astavoms answered something that is not a token.
    #[error("the VOMS token service answered unreadable data")]
    BadAnswer,
}

impl AuthFailure for VomsError {
    fn status(&self) -> StatusCode {
        match self {
            VomsError::Unreachable | VomsError::Upstream(_) | VomsError::BadAnswer => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn reason(&self) -> &'static str {
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

    /// A chain without VOMS attributes is not this filter's credential:
    /// a token filter further in, or the app's 401, handle the request.
    fn passes_on(&self) -> bool {
        matches!(self, VomsError::NoVomsAttributes)
    }
}
