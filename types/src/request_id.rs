//! [`RequestId`]: the id that ties one request's log lines and Synnefo
//! calls together.

use std::fmt;
use std::sync::Arc;

/// The id of one request, accepted from `X-Request-Id` or generated (by
/// the `request_id` layer), carried as a request extension and sent on
/// to Synnefo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
