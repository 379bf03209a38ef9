//! Factories of the authentication filters (`keystone_auth`,
//! `voms_exchange`, `jwt_auth`). Each deserializes the filter's typed
//! config from `snf-occi-middleware` and hands the layer what it calls
//! identity services through ([`super::auth_backends`]): the build's
//! Synnefo client for token validation, its transport for the rest.
//! Where the file leaves astavoms out, it defaults to the embedded
//! simulator's.

use super::auth_backends::{SynnefoTokens, TransportUpstream};
use super::registry::FactoryTable;
use super::{BuildContext, BuildError, boxed};
use crate::middleware::BoxHttpLayer;
use crate::middleware::auth::{
    AuthConfigError, AuthLayer, JwtAuthConfig, KeystoneAuthConfig, VomsExchangeConfig,
};

/// The error names the key itself (`astavoms_url` is required), so it
/// is reported against the filter's table.
fn config_error(table: &FactoryTable, e: AuthConfigError) -> BuildError {
    table.invalid("", e)
}

/// A `keystone_url` given as a path (`/keystone`, the gateway's own
/// [`keystone_facade`](super::keystone_facade)) is made absolute under
/// `server.public_url`: clients follow the challenge's URL as it is.
fn absolute(url: Option<String>, ctx: &BuildContext) -> Option<String> {
    url.map(|u| match u.strip_prefix('/') {
        Some(path) => format!("{}/{path}", ctx.public_url.trim_end_matches('/')),
        None => u,
    })
}

/// Builds `keystone_auth`: tokens are validated at the Astakos of
/// `[synnefo]`, through the Synnefo client the OCCI app uses; the
/// challenge defaults to that Astakos' Keystone base.
pub fn keystone_auth(table: &FactoryTable, ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let mut config: KeystoneAuthConfig = table.deserialize()?;
    config.keystone_url = absolute(config.keystone_url.take(), ctx);
    let synnefo = ctx.synnefo()?;
    let config = config
        .or_keystone_url_of(synnefo.identity_url())
        .map_err(|e| config_error(table, e))?;
    let layer =
        AuthLayer::keystone(config, SynnefoTokens(synnefo)).map_err(|e| config_error(table, e))?;
    Ok(boxed(layer))
}

/// Builds `voms_exchange`; `astavoms_url` defaults to the simulator's.
pub fn voms_exchange(table: &FactoryTable, ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let mut config: VomsExchangeConfig = table.deserialize()?;
    config.keystone_url = absolute(config.keystone_url.take(), ctx);
    if let Some(sim) = &ctx.simulator {
        config = config.or_astavoms_url(sim.astavoms_url.clone());
    }
    let layer = AuthLayer::voms(config, TransportUpstream(ctx.backend.clone()))
        .map_err(|e| config_error(table, e))?;
    Ok(boxed(layer))
}

/// Builds `jwt_auth`.
pub fn jwt_auth(table: &FactoryTable, ctx: &BuildContext) -> Result<BoxHttpLayer, BuildError> {
    let config: JwtAuthConfig = table.deserialize()?;
    let layer = AuthLayer::jwt(config, TransportUpstream(ctx.backend.clone()))
        .map_err(|e| config_error(table, e))?;
    Ok(boxed(layer))
}
