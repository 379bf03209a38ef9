//! The provider mixin collections: `/os_tpl/`, `/resource_tpl/` and
//! their members.
//!
//! NOT IMPLEMENTED YET (skeleton): no routes; these paths fall to the
//! namespace.

use std::sync::Arc;

use axum::Router;

use super::AppState;

/// Adds the mixin collection routes.
pub fn routes(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    router
}
