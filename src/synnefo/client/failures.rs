//! What a failed call becomes: the typed error of a fault (the caller's
//! token scrubbed), of a transport failure, and whether a read may be
//! sent again.

use std::time::Duration;

use http::StatusCode;

use super::{Caller, Service};
use crate::synnefo::FaultKind;
use crate::synnefo::error::{SynnefoError, parse_fault};
use crate::synnefo::transport::TransportError;

/// Whether a failed read may be sent again: the service was not reached,
/// dropped the connection, or said it is (temporarily) unavailable.
pub(super) fn retryable(err: &SynnefoError) -> bool {
    match err {
        SynnefoError::Unreachable { .. } | SynnefoError::Lost { .. } => true,
        SynnefoError::Fault { status, .. } => matches!(status.as_u16(), 502..=504),
        SynnefoError::Timeout { .. }
        | SynnefoError::InvalidResponse { .. }
        | SynnefoError::NoEndpoint { .. }
        | SynnefoError::Busy { .. } => false,
    }
}

/// A random delay in `[0, max]`.
pub(super) fn jitter(max: Duration) -> Duration {
    use std::hash::BuildHasher;
    // Each RandomState has fresh keys: a cheap random number without a
    // dependency.
    let r = std::collections::hash_map::RandomState::new().hash_one(0u8);
    max.mul_f64((r % 1_000_001) as f64 / 1_000_000.0)
}

/// Builds the typed error of a non-2xx answer, scrubbing the token.
pub(crate) fn fault(
    service: Service,
    status: StatusCode,
    body: &[u8],
    caller: Option<&Caller>,
) -> SynnefoError {
    let (kind, message, details) = match parse_fault(body) {
        Some((kind, message, details)) => {
            let kind = match kind {
                FaultKind::Other(k) if k.is_empty() => FaultKind::from_status(status),
                k => k,
            };
            (kind, message, details)
        }
        None => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            (FaultKind::from_status(status), text, String::new())
        }
    };
    let scrub = |s: String| match caller {
        Some(c) if !c.token.expose().is_empty() && s.contains(c.token.expose()) => {
            s.replace(c.token.expose(), "***")
        }
        _ => s,
    };
    SynnefoError::Fault {
        service,
        status,
        kind,
        message: scrub(message),
        details: scrub(details),
    }
}

pub(crate) enum SendError {
    Connect(SynnefoError),
    Other(SynnefoError),
}

impl SendError {
    pub(crate) fn classify(service: Service, e: TransportError) -> SendError {
        let connect = matches!(e, TransportError::Connect(_));
        let err = transport_error(service, e);
        if connect {
            SendError::Connect(err)
        } else {
            SendError::Other(err)
        }
    }

    pub(crate) fn into_inner(self) -> SynnefoError {
        match self {
            SendError::Connect(e) | SendError::Other(e) => e,
        }
    }
}

/// Maps a transport failure to the client's error: a timeout, or an
/// unreachable service with the cause an operator needs (never the URL's
/// query or a header).
pub(crate) fn transport_error(service: Service, e: TransportError) -> SynnefoError {
    match e {
        TransportError::Timeout => SynnefoError::Timeout { service },
        TransportError::TooLarge(_) => SynnefoError::InvalidResponse {
            service,
            reason: e.to_string(),
        },
        TransportError::Busy => SynnefoError::Busy { service },
        TransportError::Failed(reason) => SynnefoError::Lost { service, reason },
        other => SynnefoError::Unreachable {
            service,
            reason: other.to_string(),
        },
    }
}
