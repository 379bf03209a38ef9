//! Why a bearer token was not accepted, and what each reason means for
//! the client (401, or 503 when the provider or the exchange failed).

use http::StatusCode;

use crate::auth::layer::AuthFailure;

/// Why a bearer token was not accepted.
#[derive(Clone, Debug, thiserror::Error)]
pub enum JwtError {
    /// Not a JWT (or an unparsable header).
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    /// `alg` not in the allow-list.
    #[error("the bearer token's algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// No JWKS key has this `kid` (even after a refetch).
    #[error("the bearer token is signed with an unknown key")]
    UnknownKey,
    /// Signature does not verify.
    #[error("the bearer token's signature is invalid")]
    BadSignature,
    /// Past `exp`.
    #[error("the bearer token has expired")]
    Expired,
    /// Before `nbf`.
    #[error("the bearer token is not valid yet")]
    NotYetValid,
    /// Wrong `iss`.
    #[error("the bearer token is from another issuer")]
    WrongIssuer,
    /// Wrong `aud`.
    #[error("the bearer token is meant for another audience")]
    WrongAudience,
    /// A required claim is missing.
    #[error("the bearer token lacks the {0:?} claim")]
    MissingClaim(String),
    /// Verified, but no Synnefo account corresponds.
    #[error("no cloud account corresponds to this identity{}", .0.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    NoAccount(Option<String>),
    /// The IdP (JWKS) or the exchange endpoint is unreachable or failing.
    #[error("the {0} is unavailable")]
    Unavailable(&'static str),
}

impl AuthFailure for JwtError {
    fn status(&self) -> StatusCode {
        match self {
            JwtError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    fn reason(&self) -> &'static str {
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
