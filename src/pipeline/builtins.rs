//! The built-in factories: one line each. The OCCI app and the OCCI and
//! auth filters are registered here too, one line each, as they land.

use super::Registry;
use super::{apps, auth_filters, filters, keystone_facade, occi_app, ops};

/// Registers every built-in factory into `registry`.
pub fn register(registry: &mut Registry) {
    registry.register_filter("request_log", filters::request_log);
    registry.register_filter("request_id", filters::request_id);
    registry.register_filter("timeout", filters::timeout);
    registry.register_filter("body_limit", filters::body_limit);
    registry.register_filter("concurrency_limit", filters::concurrency_limit);
    registry.register_filter("cors", filters::cors);
    registry.register_filter("occi_negotiate", filters::occi_negotiate);
    registry.register_filter("keystone_auth", auth_filters::keystone_auth);
    registry.register_filter("voms_exchange", auth_filters::voms_exchange);
    registry.register_filter("jwt_auth", auth_filters::jwt_auth);
    registry.register_filter("metrics", ops::metrics_filter);

    registry.register_app("healthz", apps::healthz);
    registry.register_app("echo", apps::echo);
    registry.register_app("keystone_facade", keystone_facade::keystone_facade);
    registry.register_app("occi", occi_app::occi);
    registry.register_app("metrics", ops::metrics_app);
    registry.register_app("readyz", ops::readyz);
}
