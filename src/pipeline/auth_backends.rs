//! What the auth filters reach identity services through: the build's
//! own HTTP stack, handed to the layer crate (which has none).
//!
//! - [`SynnefoTokens`]: `keystone_auth`'s token validation, through the
//!   build's Synnefo client (the one `[synnefo]` configures and the OCCI
//!   app uses): Astakos `POST /tokens`, its timeout, its metrics.
//! - [`TransportUpstream`]: the calls of `voms_exchange` (astavoms) and
//!   `jwt_auth` (the OIDC provider, the token exchange), through the
//!   build's transport: one connection pool, one TLS configuration, one
//!   `ca_file` for every outgoing call.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::Full;

use crate::middleware::auth::{Identity, KeystoneError, TokenValidator, Upstream, UpstreamError};
use crate::synnefo::transport::AnswerSize;
use crate::synnefo::{Access, Caller, Client, SynnefoError, Transport, TransportError};
use snf_occi_types::SecretToken;

/// Validates Keystone tokens with the build's Synnefo client.
#[derive(Clone, Debug)]
pub struct SynnefoTokens(pub Client);

impl TokenValidator for SynnefoTokens {
    fn validate(&self, token: SecretToken) -> BoxFuture<'static, Result<Identity, KeystoneError>> {
        let client = self.0.clone();
        Box::pin(async move {
            match client.authenticate(&Caller::new(token)).await {
                Ok(access) => identity_of(access).ok_or(KeystoneError::BadAnswer),
                Err(e) => Err(keystone_error(e)),
            }
        })
    }
}

/// The identity an Astakos access answer vouches for; `None` when it
/// names no token or no user.
fn identity_of(access: Access) -> Option<Identity> {
    let token = access.token?;
    let user = access.user?;
    if token.id.expose().is_empty() || user.id.is_empty() {
        return None;
    }
    Some(Identity {
        expires: token.expires_at(),
        tenant: token
            .tenant
            .map(|t| t.id)
            .filter(|t| !t.is_empty())
            .map(Into::into),
        token: token.id,
        user_name: user.name.filter(|n| !n.is_empty()).map(Into::into),
        user: user.id.into(),
        projects: user.projects.into_iter().map(Into::into).collect(),
    })
}

/// Astakos refusing the token (400, 401, 403) is the token's fault, with
/// Astakos' message for the client; anything else (404 included: the
/// identity URL is wrong) is the identity service's.
fn keystone_error(e: SynnefoError) -> KeystoneError {
    match e {
        SynnefoError::Fault {
            status, message, ..
        } if matches!(status.as_u16(), 400 | 401 | 403) => {
            // Short and printable: it goes into the client's error body.
            let clean: String = message
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            KeystoneError::Rejected((!clean.trim().is_empty()).then_some(clean))
        }
        SynnefoError::Fault { status, .. } => KeystoneError::Upstream(status.as_u16()),
        SynnefoError::InvalidResponse { .. } => KeystoneError::BadAnswer,
        SynnefoError::Unreachable { .. }
        | SynnefoError::Lost { .. }
        | SynnefoError::Timeout { .. }
        | SynnefoError::Busy { .. }
        | SynnefoError::NoEndpoint { .. } => KeystoneError::Unreachable,
    }
}

/// The build's transport as the auth filters' HTTP client.
#[derive(Clone, Debug)]
pub struct TransportUpstream(pub Transport);

impl Upstream for TransportUpstream {
    fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, UpstreamError>> {
        let transport = self.0.clone();
        Box::pin(async move {
            // An identity service's answer is one entity: 4 MiB at most.
            match transport
                .exchange(request.map(Full::new), timeout, AnswerSize::Item)
                .await
            {
                Ok(answer) => Ok(answer.map(|body| body.bytes().clone())),
                Err(TransportError::Timeout) => Err(UpstreamError::Timeout),
                Err(TransportError::TooLarge(_)) => Err(UpstreamError::TooLarge),
                Err(e) => {
                    // The cause is for the operator; the filter answers 503.
                    tracing::debug!(error = %e, "identity service call failed");
                    Err(UpstreamError::Unreachable)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synnefo::{FaultKind, Service};
    use http::StatusCode;

    fn fault(status: u16, message: &str) -> SynnefoError {
        SynnefoError::Fault {
            service: Service::Identity,
            status: StatusCode::from_u16(status).unwrap(),
            kind: FaultKind::from_status(StatusCode::from_u16(status).unwrap()),
            message: message.into(),
            details: String::new(),
        }
    }

    #[test]
    fn astakos_refusals_are_the_tokens_fault_and_failures_are_not() {
        assert!(matches!(
            keystone_error(fault(401, "Invalid token")),
            KeystoneError::Rejected(Some(m)) if m == "Invalid token"
        ));
        assert!(matches!(
            keystone_error(fault(400, "")),
            KeystoneError::Rejected(None)
        ));
        assert!(matches!(
            keystone_error(fault(404, "no such thing")),
            KeystoneError::Upstream(404)
        ));
        assert!(matches!(
            keystone_error(fault(500, "oops")),
            KeystoneError::Upstream(500)
        ));
        assert!(matches!(
            keystone_error(SynnefoError::Timeout {
                service: Service::Identity
            }),
            KeystoneError::Unreachable
        ));
        let long = "x\n".repeat(500);
        match keystone_error(fault(401, &long)) {
            KeystoneError::Rejected(Some(m)) => {
                assert_eq!(m.len(), 200);
                assert!(!m.contains('\n'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_access_answer_without_a_user_or_token_is_no_identity() {
        let access: Access = serde_json::from_value(
            serde_json::json!({
                "access": {"token": {"id": "t", "expires": "2030-01-01T00:00:00Z"},
                           "user": {"id": "u", "name": "", "projects": ["u", "p"]},
                           "serviceCatalog": []}
            })["access"]
                .clone(),
        )
        .unwrap();
        let identity = identity_of(access).unwrap();
        assert_eq!(&*identity.user, "u");
        assert_eq!(identity.user_name, None);
        assert_eq!(&*identity.default_project(), "p");
        assert!(identity.expires.is_some());
        let anonymous: Access =
            serde_json::from_value(serde_json::json!({"serviceCatalog": []})).unwrap();
        assert!(identity_of(anonymous).is_none());
    }
}
