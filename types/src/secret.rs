//! [`SecretToken`]: a secret that never prints.

use std::fmt;
use std::sync::Arc;

/// A secret (a Synnefo token): `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(Arc<str>);

impl SecretToken {
    /// Wraps a secret.
    pub fn new(secret: impl Into<Arc<str>>) -> Self {
        SecretToken(secret.into())
    }

    /// The secret itself, to put in an outgoing `X-Auth-Token` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_debug_nor_display_shows_the_secret() {
        let t = SecretToken::new("s3cret");
        assert_eq!(format!("{t:?} {t}"), "SecretToken(***) ***");
        assert_eq!(t.expose(), "s3cret");
    }
}
