//! The `occi` app factory: builds the OCCI app ([`crate::app`]) from its
//! `[app.occi]` table and the build context. It lives here, with the other
//! factories, because building needs the pipeline's context and errors
//! while the app itself knows nothing of the pipeline.

use std::sync::Arc;

use crate::app::{AppState, OcciAppConfig, query, router};
use crate::middleware::BoxHttp;

use super::{BuildContext, BuildError, FactoryTable};

/// Builds the `occi` app from its `[app.occi]` table.
pub async fn occi(table: FactoryTable, ctx: BuildContext) -> Result<BoxHttp, BuildError> {
    let config: OcciAppConfig = table.deserialize()?;
    // The build's one Synnefo client (`[synnefo]`), shared with readyz,
    // the Keystone facade and keystone_auth.
    let client = ctx.synnefo()?;
    if config.collection_limit == 0 {
        return Err(table.invalid("collection_limit", "must be at least 1"));
    }
    let store = ctx.store().await.map_err(|e| BuildError::Failed {
        key: "store.url".to_owned(),
        reason: e.to_string(),
    })?;
    let mut state = AppState::new(config, client, &ctx.public_url, store);
    state.reserved_paths = query::mounted_paths(ctx.config.urlmap.keys(), &ctx.public_url);
    let state = Arc::new(state);
    Ok(BoxHttp::new(router(state)))
}
