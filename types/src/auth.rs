//! [`AuthContext`]: who the caller is, as an auth filter found out.

use std::sync::Arc;
use std::time::SystemTime;

use crate::SecretToken;

/// Who the caller is, set by any auth filter as a request extension; the
/// app answers 401 when it is missing, so a pipeline without an auth
/// filter fails closed. The Synnefo client calls Synnefo with its token.
/// Cheap to clone (shared strings): the app and the Synnefo caller each
/// keep one per request.
#[derive(Clone, Debug)]
pub struct AuthContext {
    /// The Synnefo token to call Synnefo with, on the caller's behalf.
    pub token: SecretToken,
    /// The user's Synnefo (Astakos) UUID.
    pub user: Arc<str>,
    /// The user's display name, when the identity service gave one.
    pub user_name: Option<Arc<str>>,
    /// The project (tenant) resources are created in.
    pub project: Option<Arc<str>>,
    /// When the token expires, if known.
    pub expires: Option<SystemTime>,
    /// Which filter authenticated the request (`keystone_auth`, ...), for
    /// metrics and logs.
    pub method: &'static str,
}
