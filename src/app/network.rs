//! `/network/`: Synnefo private networks as OCCI networks.
//!
//! NOT IMPLEMENTED YET: engineer B fills this module in (issue 5); until
//! then every operation answers 501.

use crate::occi::{Attributes, OcciRequest, infrastructure};

use super::collection::{Collection, Ctx, Entity};
use super::error::AppError;

/// `/network/`: Synnefo private networks as OCCI networks.
pub struct Network;

fn todo() -> AppError {
    AppError::NotImplemented("network is not implemented yet".to_owned())
}

impl Collection for Network {
    const KIND: &'static str = infrastructure::NETWORK;
    const PATH: &'static str = "network";

    async fn list(_ctx: &Ctx) -> Result<Vec<Entity>, AppError> {
        Err(todo())
    }
    async fn show(_ctx: &Ctx, _id: &str) -> Result<Entity, AppError> {
        Err(todo())
    }
    async fn create(_ctx: &Ctx, _req: &OcciRequest) -> Result<String, AppError> {
        Err(todo())
    }
    async fn delete(_ctx: &Ctx, _id: &str) -> Result<(), AppError> {
        Err(todo())
    }
    async fn action(
        _ctx: &Ctx,
        _id: &str,
        _action: &str,
        _attrs: &Attributes,
    ) -> Result<(), AppError> {
        Err(todo())
    }
    async fn update(
        _ctx: &Ctx,
        _id: &str,
        _req: &OcciRequest,
        _full: bool,
    ) -> Result<(), AppError> {
        Err(todo())
    }
}
