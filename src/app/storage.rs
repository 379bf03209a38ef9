//! `/storage/`: Synnefo volumes as OCCI storage.
//!
//! NOT IMPLEMENTED YET: engineer B fills this module in (issue 5); until
//! then every operation answers 501.

use crate::occi::{Attributes, OcciRequest, infrastructure};

use super::collection::{Collection, Ctx, Entity};
use super::error::AppError;

/// `/storage/`: Synnefo volumes as OCCI storage.
pub struct Storage;

fn todo() -> AppError {
    AppError::NotImplemented("storage is not implemented yet".to_owned())
}

impl Collection for Storage {
    const KIND: &'static str = infrastructure::STORAGE;
    const PATH: &'static str = "storage";

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
