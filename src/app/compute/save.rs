//! The compute action `save`: a Synnefo snapshot of the root disk, which
//! becomes an OS template of its owner.

use crate::occi::Attributes;
use crate::occi::infrastructure::{COMPUTE_SAVE, attr, os_template};
use crate::synnefo::{NewSnapshot, Server, ServerStatus};

use super::mapping::{get_server, state_of};
use crate::app::collection::{ActionOutcome, Ctx};
use crate::app::error::AppError;

/// The longest `name` a `save` takes, in characters. Our bound, not
/// Synnefo's (which stores it as Pithos metadata): as long as a server
/// name may be, so that an absurd name is a clear 400 here.
const MAX_SAVE_NAME: usize = 255;

/// The name of a `save`'s OS template: the action's `name`, else
/// "<server name> snapshot <UTC time>".
fn save_name(attrs: &Attributes, server: &Server) -> Result<String, AppError> {
    let Some(value) = attrs.get(attr::NAME) else {
        let now = snf_occi_types::timestamp::format_rfc3339(std::time::SystemTime::now());
        // "2024-05-01T12:00:00.123456+00:00" -> "2024-05-01T12:00:00Z"
        let stamp = now.get(..19).unwrap_or(&now);
        return Ok(format!("{} snapshot {stamp}Z", server.name));
    };
    let name = value.as_str().ok_or_else(|| {
        AppError::BadRequest(format!("the save name must be a string, not {value}"))
    })?;
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest(
            "the save name is empty; give the new OS template a name or leave name out".to_owned(),
        ));
    }
    if name.chars().count() > MAX_SAVE_NAME {
        return Err(AppError::BadRequest(format!(
            "the save name is longer than {MAX_SAVE_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "the save name contains control characters".to_owned(),
        ));
    }
    Ok(name.to_owned())
}

/// The root disk of `server`: the volume at device index 0.
///
/// Server details list volume ids sorted by id (`api/servers.py`
/// `vm_to_dict`), not by index: a volume attached at create
/// (`block_device_mapping_v2`) is older than the root disk made with the
/// server. One volume is the root; with more, the volume details say
/// (`attachments[].device_index`, `volume/views.py`
/// `get_volume_attachments`).
async fn root_volume(ctx: &Ctx, server: &Server) -> Result<String, AppError> {
    match server.volumes.as_slice() {
        [] => Err(AppError::Conflict(format!(
            "{COMPUTE_SAVE} does not apply: compute {} has no disk",
            server.id
        ))),
        [only] => Ok(only.clone()),
        _ => {
            let volumes = ctx
                .client()
                .list_volumes_detail(&ctx.caller)
                .await
                .map_err(|e| AppError::synnefo("list volumes", e))?;
            volumes
                .iter()
                .find(|v| {
                    server.volumes.contains(&v.id)
                        && v.attachments.iter().any(|a| {
                            a.server_id == server.id && a.device_index.as_deref() == Some("0")
                        })
                })
                .map(|v| v.id.clone())
                .ok_or_else(|| {
                    AppError::Conflict(format!(
                        "{COMPUTE_SAVE} does not apply: no volume of compute {} is its root disk (device index 0)",
                        server.id
                    ))
                })
        }
    }
}

/// `save`: snapshots the compute's root disk and answers with the new OS
/// template.
///
/// Why a volume snapshot (grnet/synnefo, Synnefo 0.16+):
/// `snf-cyclades-app/synnefo/volume/snapshots.py` `create` registers the
/// snapshot in Pithos as a Plankton image whose id is the snapshot id
/// (`is_snapshot`, `exclude_all_tasks`; the server's `OS` and `users`
/// metadata copied for a root disk), `api/images.py` lists it among its
/// owner's images only (`SAVING`, then `ACTIVE`) and `logic/servers.py`
/// `create` boots it like any image: it is an os_tpl of that user.
///
/// `method`: Cyclades snapshots the disk of a running server as it is,
/// without stopping it (`docs/design/volume-snapshots.rst`: the user is
/// accountable for the volume's consistency), so `hot` and `deferred`
/// both mean "now"; any other method is a 400.
///
/// States: Cyclades refuses the disk of a building server (`CREATING`)
/// or of a failed one (`ERROR`): "Cannot create snapshot while volume is
/// in '...' status"; a deleted server's disk is gone (404 here, as for
/// every action). We take `save` where start/stop/restart apply (active,
/// stopped), so that it is listed exactly where it works, and answer 409
/// in the transitional states too. Cyclades' own refusals (a disk
/// template other than `ext_*`, a volume it finds busy) are 400
/// `badRequest` about the compute, not about the request: 409 with its
/// message.
pub(super) async fn save(
    ctx: &Ctx,
    id: &str,
    attrs: &Attributes,
) -> Result<ActionOutcome, AppError> {
    if let Some(method) = attrs.get(attr::METHOD)
        && !matches!(method.as_str(), Some("hot" | "deferred"))
    {
        return Err(AppError::BadRequest(format!(
            "save method {method} is not one of hot, deferred"
        )));
    }
    let (server, catalog) =
        tokio::try_join!(get_server(ctx, id), ctx.state.templates.catalog(ctx))?;
    let name = save_name(attrs, &server)?;
    if !matches!(server.status, ServerStatus::Active | ServerStatus::Stopped) {
        let state = state_of(&server.status).map(|s| s.0).unwrap_or("deleted");
        return Err(AppError::Conflict(format!(
            "{COMPUTE_SAVE} does not apply: compute {id} is {state} (Synnefo status {}); \
             only an active or stopped compute can be saved",
            server.status
        )));
    }
    let volume = root_volume(ctx, &server).await?;
    let new = NewSnapshot {
        volume_id: volume.clone(),
        display_name: Some(name),
        display_description: Some(format!(
            "Saved from compute {id} ({}) through OCCI",
            server.name
        )),
    };
    let snapshot = match ctx.client().create_snapshot(&ctx.caller, &new).await {
        Ok(s) => s,
        Err(e) if e.fault_kind() == Some(&crate::synnefo::FaultKind::BadRequest) => {
            return Err(AppError::Conflict(format!(
                "{COMPUTE_SAVE} of compute {id} is refused by Synnefo (snapshot of volume {volume}): {}",
                e.user_message()
            )));
        }
        Err(e) => {
            // A timeout or a lost answer may still have made one.
            ctx.state.templates.forget_images(ctx.user());
            return Err(AppError::synnefo(
                format!("snapshot volume {volume} of compute {id}"),
                e,
            ));
        }
    };
    // The snapshot is an image now: the caller's OS templates must show
    // it (and a create must accept it) at once.
    ctx.state.templates.forget_images(ctx.user());
    let title = if snapshot.display_name.is_empty() {
        new.display_name.unwrap_or_default()
    } else {
        snapshot.display_name
    };
    // Its term is the one `/-/` will show: the terms of the caller's
    // images (read before the snapshot) with this one among them.
    let term = catalog.term_with_new_image(&snapshot.id, &title);
    Ok(ActionOutcome::Mixin(os_template(&term, &title)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn server(name: &str) -> Server {
        serde_json::from_value(serde_json::json!({
            "id": 7, "name": name, "status": "ACTIVE"
        }))
        .expect("server")
    }

    #[test]
    fn save_names_default_to_the_server_and_the_time_and_are_checked() {
        let vm = server("web");
        let default = save_name(&Attributes::new(), &vm).unwrap();
        assert!(default.starts_with("web snapshot 20"), "{default}");
        assert!(default.ends_with('Z') && default.len() == "web snapshot ".len() + 20);
        let named = |v: crate::occi::AttributeValue| {
            let mut a = Attributes::new();
            a.set(attr::NAME, v);
            save_name(&a, &vm)
        };
        assert_eq!(named("  golden ".into()).unwrap(), "golden");
        for bad in [
            crate::occi::AttributeValue::from("   "),
            "x".repeat(MAX_SAVE_NAME + 1).into(),
            "two\nlines".into(),
            7i64.into(),
        ] {
            let err = named(bad.clone()).unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(
            named("é".repeat(MAX_SAVE_NAME).into())
                .unwrap()
                .chars()
                .count(),
            MAX_SAVE_NAME
        );
    }
}
