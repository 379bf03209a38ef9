//! Synnefo faults and transport failures as one typed error.
//!
//! Synnefo answers errors with a JSON object that has exactly one key, the
//! fault kind: `{"itemNotFound": {"message": "...", "code": 404, "details":
//! ""}}`. The gateway needs the status and the kind to answer with the same
//! meaning (DESIGN "Backend errors keep their meaning"), so both are kept.

use std::fmt;

use http::StatusCode;

use super::Service;

/// The kind of a Synnefo fault: the single key of its JSON body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// `badRequest` (400).
    BadRequest,
    /// `unauthorized` (401).
    Unauthorized,
    /// `forbidden` (403).
    Forbidden,
    /// `itemNotFound` (404).
    ItemNotFound,
    /// `badMethod` / `notAllowed` (405).
    BadMethod,
    /// `buildInProgress` (409, the server is still being built).
    BuildInProgress,
    /// `conflict` (409).
    Conflict,
    /// `overLimit` (413, quota or size limits).
    OverLimit,
    /// `badMediaType` (415).
    BadMediaType,
    /// `computeFault` / `internalServerError` (500).
    ComputeFault,
    /// `notImplemented` (501).
    NotImplemented,
    /// `serviceUnavailable` (503).
    ServiceUnavailable,
    /// Any other key, kept verbatim.
    Other(String),
}

impl FaultKind {
    /// Parses a fault key as Synnefo (and OpenStack) spell it.
    pub fn from_key(key: &str) -> FaultKind {
        match key {
            "badRequest" => FaultKind::BadRequest,
            "unauthorized" => FaultKind::Unauthorized,
            "forbidden" => FaultKind::Forbidden,
            "itemNotFound" => FaultKind::ItemNotFound,
            "badMethod" | "notAllowed" => FaultKind::BadMethod,
            "buildInProgress" => FaultKind::BuildInProgress,
            "conflict" => FaultKind::Conflict,
            "overLimit" => FaultKind::OverLimit,
            "badMediaType" => FaultKind::BadMediaType,
            "computeFault" | "internalServerError" => FaultKind::ComputeFault,
            "notImplemented" => FaultKind::NotImplemented,
            "serviceUnavailable" => FaultKind::ServiceUnavailable,
            other => FaultKind::Other(other.to_owned()),
        }
    }

    /// The kind Synnefo uses for a status when the body names none.
    pub fn from_status(status: StatusCode) -> FaultKind {
        match status.as_u16() {
            400 => FaultKind::BadRequest,
            401 => FaultKind::Unauthorized,
            403 => FaultKind::Forbidden,
            404 => FaultKind::ItemNotFound,
            405 => FaultKind::BadMethod,
            409 => FaultKind::Conflict,
            413 => FaultKind::OverLimit,
            415 => FaultKind::BadMediaType,
            501 => FaultKind::NotImplemented,
            503 => FaultKind::ServiceUnavailable,
            _ => FaultKind::ComputeFault,
        }
    }

    /// The JSON key of this kind.
    pub fn as_key(&self) -> &str {
        match self {
            FaultKind::BadRequest => "badRequest",
            FaultKind::Unauthorized => "unauthorized",
            FaultKind::Forbidden => "forbidden",
            FaultKind::ItemNotFound => "itemNotFound",
            FaultKind::BadMethod => "badMethod",
            FaultKind::BuildInProgress => "buildInProgress",
            FaultKind::Conflict => "conflict",
            FaultKind::OverLimit => "overLimit",
            FaultKind::BadMediaType => "badMediaType",
            FaultKind::ComputeFault => "computeFault",
            FaultKind::NotImplemented => "notImplemented",
            FaultKind::ServiceUnavailable => "serviceUnavailable",
            FaultKind::Other(key) => key,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_key())
    }
}

/// Why a Synnefo call failed.
///
/// Messages never contain the caller's token: fault texts that echo it are
/// scrubbed before they are stored here.
#[derive(Debug, thiserror::Error)]
pub enum SynnefoError {
    /// Synnefo answered with an error status (and usually a fault body).
    #[error("{service} answered {status} {kind}: {message}")]
    Fault {
        /// Which service answered.
        service: Service,
        /// The HTTP status Synnefo answered.
        status: StatusCode,
        /// The fault kind (the JSON key).
        kind: FaultKind,
        /// The fault's `message`.
        message: String,
        /// The fault's `details` (often empty).
        details: String,
    },
    /// The service could not be reached (connection refused or reset,
    /// DNS failure, connection closed before an answer).
    #[error("{service} is unreachable: {reason}")]
    Unreachable {
        /// Which service.
        service: Service,
        /// What went wrong, without URLs' query strings or credentials.
        reason: String,
    },
    /// The request was sent but its answer was lost: the connection
    /// closed or broke before a whole answer came. Synnefo may have acted
    /// on it (see [`SynnefoError::may_have_acted`]).
    #[error("{service} did not answer: {reason}")]
    Lost {
        /// Which service.
        service: Service,
        /// What went wrong, without URLs' query strings or credentials.
        reason: String,
    },
    /// The service did not answer within the configured timeout.
    #[error("{service} did not answer within the timeout")]
    Timeout {
        /// Which service.
        service: Service,
    },
    /// The answer could not be understood (not JSON, missing fields).
    #[error("{service} sent an invalid response: {reason}")]
    InvalidResponse {
        /// Which service.
        service: Service,
        /// What was wrong with it.
        reason: String,
    },
    /// Too many large answers were being read at once
    /// (`synnefo.max_answer_bytes_in_flight`): this call's was not (503;
    /// the client may try again).
    #[error("the gateway is reading too many large {service} answers at once")]
    Busy {
        /// Which service.
        service: Service,
    },
    /// The service catalog has no endpoint for a service the call needs,
    /// and the configuration names none.
    #[error("no {service} endpoint in the service catalog or the configuration")]
    NoEndpoint {
        /// Which service.
        service: Service,
    },
}

impl SynnefoError {
    /// The HTTP status the gateway should answer with for this error:
    /// Synnefo's own 400/401/403/404/409/413 keep their meaning; other
    /// client errors keep their status; Synnefo 5xx, unreachable services
    /// and unintelligible answers are 502; timeouts are 504.
    pub fn gateway_status(&self) -> StatusCode {
        match self {
            SynnefoError::Fault {
                status,
                kind,
                message,
                ..
            } => {
                // Cyclades deletes a detached volume through a helper server
                // of the site's (`volume/volumes.py`): its 404s "Helper
                // server not found." and "Cannot find an available helper
                // server" are the site's failure, not an absent volume.
                if names_helper_server(message) {
                    StatusCode::BAD_GATEWAY
                } else if self.is_not_found() {
                    StatusCode::NOT_FOUND
                } else if *kind == FaultKind::OverLimit {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else if status.is_client_error() {
                    *status
                } else {
                    StatusCode::BAD_GATEWAY
                }
            }
            SynnefoError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            SynnefoError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            SynnefoError::Unreachable { .. }
            | SynnefoError::Lost { .. }
            | SynnefoError::InvalidResponse { .. }
            | SynnefoError::NoEndpoint { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// The fault kind, when Synnefo answered with a fault.
    pub fn fault_kind(&self) -> Option<&FaultKind> {
        match self {
            SynnefoError::Fault { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Whether Synnefo may have carried the request out although the
    /// gateway got no answer it can trust: a timeout, a lost answer, or a
    /// 5xx (which a front end of Synnefo's may answer for a request that
    /// reached it). A write that failed so must be checked before anyone
    /// is told that nothing was made.
    pub fn may_have_acted(&self) -> bool {
        match self {
            SynnefoError::Timeout { .. } | SynnefoError::Lost { .. } => true,
            SynnefoError::Fault { status, .. } => status.is_server_error(),
            _ => false,
        }
    }

    /// Synnefo's status, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            SynnefoError::Fault { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the item is absent: a 404 `itemNotFound`, or the 400 that
    /// Cyclades answers for an item it still keeps as deleted ("Server
    /// has been deleted.", "Server '42' has been deleted.", "Network has
    /// been deleted.": `api/util.py` `get_vm`/`get_network` with
    /// `non_deleted=True`, `logic/commands.py` `validate_server_action`),
    /// where a `GET` of the same item says 404 or `DELETED`. The gateway
    /// treats both as "absent" rather than as a failure.
    pub fn is_not_found(&self) -> bool {
        match self {
            SynnefoError::Fault {
                status, message, ..
            } => {
                (*status == StatusCode::NOT_FOUND && !names_helper_server(message))
                    || (*status == StatusCode::BAD_REQUEST
                        && (message.contains("has been deleted")
                            // Cyclades 0.20 says this of every unknown
                            // server id once a deleted volume's attachment
                            // lost its server (`api/util.py` `get_vm`
                            // turns the ValueError into it); the gateway
                            // sends digits only, so it means "no such
                            // server" here.
                            || message.starts_with("Invalid server ID")))
            }
            _ => false,
        }
    }

    /// This error, but a 404 `itemNotFound` when it is Cyclades' 400 for
    /// an unknown `what` named in a request body: Cyclades looks such
    /// objects up with `exception=faults.BadRequest` (`volume/util.py`
    /// `get_volume`: "Volume 7 not found"), which to a client means the
    /// object does not exist (another user's included).
    pub fn referenced_not_found(self, what: &str) -> SynnefoError {
        match self {
            SynnefoError::Fault {
                service,
                status,
                kind: FaultKind::BadRequest,
                message,
                details,
            } if status == StatusCode::BAD_REQUEST
                && message.starts_with(&format!("{what} "))
                && message.ends_with(" not found") =>
            {
                SynnefoError::Fault {
                    service,
                    status: StatusCode::NOT_FOUND,
                    kind: FaultKind::ItemNotFound,
                    message,
                    details,
                }
            }
            other => other,
        }
    }

    /// The message to show a user: Synnefo's fault message when it gave
    /// one, else a short description of the failure.
    pub fn user_message(&self) -> String {
        match self {
            SynnefoError::Fault { message, kind, .. } if !message.is_empty() => {
                format!("{kind}: {message}")
            }
            other => other.to_string(),
        }
    }
}

/// Parses a Synnefo fault body; `None` when it is not one.
///
/// Returns the kind, message and details.
pub(crate) fn parse_fault(body: &[u8]) -> Option<(FaultKind, String, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    // Astavoms-style errors are {"message": "..."} at the top level.
    if let Some(serde_json::Value::String(message)) = object.get("message") {
        return Some((
            FaultKind::Other(String::new()),
            message.clone(),
            String::new(),
        ));
    }
    let (key, inner) = object.iter().find(|(_, v)| v.is_object())?;
    let message = inner
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    let details = match inner.get("details") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Some((FaultKind::from_key(key), message, details))
}

/// Whether a Cyclades fault is about the site's helper server (which
/// Cyclades words both "Helper server not found." and "Cannot find an
/// available helper server").
fn names_helper_server(message: &str) -> bool {
    message.to_ascii_lowercase().contains("helper server")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(status: u16, kind: FaultKind) -> SynnefoError {
        SynnefoError::Fault {
            service: Service::Compute,
            status: StatusCode::from_u16(status).unwrap(),
            kind,
            message: "m".into(),
            details: String::new(),
        }
    }

    #[test]
    fn a_missing_helper_server_is_the_sites_failure_not_an_absent_volume() {
        for message in [
            "Helper server not found.",
            "Cannot find an available helper server",
        ] {
            let e = SynnefoError::Fault {
                service: Service::Volume,
                status: StatusCode::NOT_FOUND,
                kind: FaultKind::ItemNotFound,
                message: message.into(),
                details: String::new(),
            };
            assert!(!e.is_not_found(), "{message}");
            assert_eq!(e.gateway_status(), StatusCode::BAD_GATEWAY, "{message}");
        }
    }

    #[test]
    fn a_referenced_object_cyclades_cannot_find_is_not_found() {
        let bad = |message: &str| SynnefoError::Fault {
            service: Service::Compute,
            status: StatusCode::BAD_REQUEST,
            kind: FaultKind::BadRequest,
            message: message.into(),
            details: String::new(),
        };
        let e = bad("Volume 7 not found").referenced_not_found("Volume");
        assert!(e.is_not_found(), "{e:?}");
        assert_eq!(e.gateway_status(), StatusCode::NOT_FOUND);
        assert_eq!(e.fault_kind(), Some(&FaultKind::ItemNotFound));
        for other in ["Server 7 not found", "Invalid volume id: x"] {
            let e = bad(other).referenced_not_found("Volume");
            assert_eq!(e.gateway_status(), StatusCode::BAD_REQUEST, "{other}");
        }
    }

    #[test]
    fn statuses_keep_their_meaning_at_the_gateway() {
        assert_eq!(fault(404, FaultKind::ItemNotFound).gateway_status(), 404);
        assert_eq!(fault(409, FaultKind::BuildInProgress).gateway_status(), 409);
        assert_eq!(fault(401, FaultKind::Unauthorized).gateway_status(), 401);
        assert_eq!(fault(400, FaultKind::BadRequest).gateway_status(), 400);
        assert_eq!(fault(403, FaultKind::Forbidden).gateway_status(), 403);
        assert_eq!(fault(413, FaultKind::OverLimit).gateway_status(), 413);
        // Some Synnefo versions answer quota errors with 409 overLimit.
        assert_eq!(fault(409, FaultKind::OverLimit).gateway_status(), 413);
        assert_eq!(fault(500, FaultKind::ComputeFault).gateway_status(), 502);
        assert_eq!(
            fault(503, FaultKind::ServiceUnavailable).gateway_status(),
            502
        );
        let timeout = SynnefoError::Timeout {
            service: Service::Volume,
        };
        assert_eq!(timeout.gateway_status(), 504);
        let down = SynnefoError::Unreachable {
            service: Service::Network,
            reason: "refused".into(),
        };
        assert_eq!(down.gateway_status(), 502);
    }

    #[test]
    fn an_item_cyclades_keeps_as_deleted_is_absent() {
        for message in [
            "Server has been deleted.",
            "Server '42' has been deleted.",
            "Network has been deleted.",
            "Invalid server ID.",
        ] {
            let e = SynnefoError::Fault {
                service: Service::Compute,
                status: StatusCode::BAD_REQUEST,
                kind: FaultKind::BadRequest,
                message: message.into(),
                details: String::new(),
            };
            assert!(e.is_not_found(), "{message}");
            assert_eq!(e.gateway_status(), 404, "{message}");
        }
        assert!(!fault(400, FaultKind::BadRequest).is_not_found());
    }

    #[test]
    fn parses_synnefo_fault_bodies() {
        let body =
            br#"{"itemNotFound": {"message": "Server 7 not found", "code": 404, "details": ""}}"#;
        let (kind, message, details) = parse_fault(body).unwrap();
        assert_eq!(kind, FaultKind::ItemNotFound);
        assert_eq!(message, "Server 7 not found");
        assert_eq!(details, "");
        let body = br#"{"overLimit": {"message": "Limit exceeded", "code": 413, "details": null}}"#;
        assert_eq!(parse_fault(body).unwrap().0, FaultKind::OverLimit);
        assert!(parse_fault(b"<html>Bad gateway</html>").is_none());
        assert!(parse_fault(b"[1,2]").is_none());
    }
}
