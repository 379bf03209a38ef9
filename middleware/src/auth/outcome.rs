//! Auth outcomes as metrics. Each error names its own fixed reason word
//! ([`AuthFailure::reason`](super::AuthFailure::reason)), so the `reason`
//! label never carries text from the identity service or the client (a
//! message, a user name, a token), and this module needs to know none of
//! the login methods.

pub(crate) use snf_occi_types::metrics::record_auth_outcome as record;
