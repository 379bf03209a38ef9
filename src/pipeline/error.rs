//! Why a pipeline could not be built.

use std::fmt;

use crate::config::ConfigError;

/// One reason a filter, app or the pipeline could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A filter instance names a factory nobody registered.
    #[error("{origin}: `{key}`: unknown filter factory `{factory}` (known: {known})")]
    UnknownFilter {
        /// File or variable that named it.
        origin: String,
        /// Key path (`pipeline.filters` or `filter.NAME.use`).
        key: String,
        /// The unknown name.
        factory: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// An app instance names a factory nobody registered.
    #[error("{origin}: `{key}`: unknown app factory `{factory}` (known: {known})")]
    UnknownApp {
        /// File or variable that named it.
        origin: String,
        /// Key path (`pipeline.app`, `urlmap./x` or `app.NAME.use`).
        key: String,
        /// The unknown name.
        factory: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// A factory's table is wrong (unknown key, wrong type, bad value).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A factory failed for another reason (a store that does not open,
    /// an endpoint that cannot be discovered).
    #[error("`{key}`: {reason}")]
    Failed {
        /// Key path of the instance (`app.occi`).
        key: String,
        /// What went wrong.
        reason: String,
    },
}

/// Every error found while building a pipeline.
#[derive(Debug)]
pub struct BuildErrors(pub Vec<BuildError>);

impl fmt::Display for BuildErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BuildErrors {}

impl From<BuildError> for BuildErrors {
    fn from(e: BuildError) -> Self {
        BuildErrors(vec![e])
    }
}
