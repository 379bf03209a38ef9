//! `/networkinterface/` (alias `/networklink/`): ports (id `<server id>_<port id>`).
//!
//! NOT IMPLEMENTED YET: engineer B fills this module in (issue 5); until
//! then every operation answers 501.

use crate::occi::{Attributes, OcciRequest, infrastructure};

use super::collection::{Collection, Ctx, Entity};
use super::error::AppError;

/// `/networkinterface/` (alias `/networklink/`): ports (id `<server id>_<port id>`).
pub struct NetworkInterface;

fn todo() -> AppError {
    AppError::NotImplemented("networkinterface is not implemented yet".to_owned())
}

impl Collection for NetworkInterface {
    const KIND: &'static str = infrastructure::NETWORKINTERFACE;
    const PATH: &'static str = "networkinterface";

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
