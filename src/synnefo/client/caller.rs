//! [`Caller`]: who a call is made for.

use snf_occi_types::{AuthContext, RequestId, SecretToken};

/// Who a call is made for: the caller's own token and request id.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token sent as `X-Auth-Token`.
    pub token: SecretToken,
    /// The id sent as `X-Request-Id`, when there is one.
    pub request_id: Option<RequestId>,
}

impl Caller {
    /// A caller with a token and no request id.
    pub fn new(token: SecretToken) -> Self {
        Caller {
            token,
            request_id: None,
        }
    }

    /// Adds the request id to send along.
    pub fn with_request_id(mut self, id: RequestId) -> Self {
        self.request_id = Some(id);
        self
    }

    /// The caller of an authenticated gateway request.
    pub fn from_auth(auth: &AuthContext, request_id: Option<&RequestId>) -> Self {
        Caller {
            token: auth.token.clone(),
            request_id: request_id.cloned(),
        }
    }
}
