//! Cyclades compute, network and volume v2.0 (snapshots included), and
//! Plankton image listing: thin HTTP handlers over
//! [`World`](super::state::World).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde_json::Value;

use super::fault::{Fault, json, json_text, parse_body};
use super::serve::Sim;
use super::state::UserRec;

type S = State<Arc<Sim>>;

/// The user of the request's `X-Auth-Token` (401 `unauthorized` else).
pub(crate) struct Authed(pub UserRec);

impl FromRequestParts<Arc<Sim>> for Authed {
    type Rejection = Fault;

    async fn from_request_parts(parts: &mut Parts, sim: &Arc<Sim>) -> Result<Self, Fault> {
        // As `snf_django/lib/api/__init__.py` `api_method`: no token is
        // Cyclades' own 401; a token Astakos refuses is Astakos' answer
        // passed on as a generic `fault` (astakosclient's error: the
        // reason phrase as message, Astakos' body as details).
        let token = parts
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Fault::unauthorized("Access denied. No authentication token"))?;
        sim.world()
            .user_by_token(token)
            .cloned()
            .map(Authed)
            .ok_or_else(|| {
                Fault::new(StatusCode::UNAUTHORIZED, "fault", "UNAUTHORIZED").with_details(
                    r#"{"unauthorized": {"message": "Invalid token", "code": 401, "details": ""}}"#,
                )
            })
    }
}

fn reply(status: StatusCode, r: Result<Value, Fault>) -> Response {
    match r {
        Ok(v) => json(status, v),
        Err(f) => f.into_response(),
    }
}

fn done(status: StatusCode, r: Result<(), Fault>) -> Response {
    match r {
        Ok(()) => status.into_response(),
        Err(f) => f.into_response(),
    }
}

fn body(b: &Bytes) -> Result<Value, Fault> {
    parse_body(b)
}

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        // compute
        .route(
            "/compute/v2.0/servers",
            get(list_servers).post(create_server),
        )
        .route("/compute/v2.0/servers/detail", get(list_servers_detail))
        .route(
            "/compute/v2.0/servers/{id}",
            get(get_server).put(update_server).delete(delete_server),
        )
        .route(
            "/compute/v2.0/servers/{id}/action",
            axum::routing::post(server_action),
        )
        .route("/compute/v2.0/servers/{id}/ips", get(server_ips))
        .route(
            "/compute/v2.0/servers/{id}/metadata",
            get(get_metadata).post(update_metadata),
        )
        .route(
            "/compute/v2.0/servers/{id}/metadata/{key}",
            get(get_metadata_item)
                .put(set_metadata_item)
                .delete(delete_metadata_item),
        )
        .route(
            "/compute/v2.0/servers/{id}/os-volume_attachments",
            get(list_attachments).post(attach),
        )
        .route(
            "/compute/v2.0/servers/{id}/os-volume_attachments/{att}",
            get(get_attachment).delete(detach),
        )
        .route("/compute/v2.0/flavors", get(list_flavors))
        .route("/compute/v2.0/flavors/detail", get(list_flavors_detail))
        .route("/compute/v2.0/flavors/{id}", get(get_flavor))
        .route("/compute/v2.0/images", get(list_images))
        .route("/compute/v2.0/images/detail", get(list_images_detail))
        .route("/compute/v2.0/images/{id}", get(get_image))
        // network
        .route(
            "/network/v2.0/networks",
            get(list_networks).post(create_network),
        )
        // kamaki lists networks and ports with /detail, as Cyclades allows.
        .route("/network/v2.0/networks/detail", get(list_networks))
        .route("/network/v2.0/ports/detail", get(list_ports))
        .route(
            "/network/v2.0/networks/{id}",
            get(get_network).put(rename_network).delete(delete_network),
        )
        .route(
            "/network/v2.0/subnets",
            get(list_subnets).post(create_subnet),
        )
        .route("/network/v2.0/subnets/{id}", get(get_subnet))
        .route("/network/v2.0/ports", get(list_ports).post(create_port))
        .route(
            "/network/v2.0/ports/{id}",
            get(get_port).delete(delete_port),
        )
        .route("/network/v2.0/floatingips", get(list_fips).post(create_fip))
        .route(
            "/network/v2.0/floatingips/{id}",
            get(get_fip).delete(delete_fip),
        )
        // volume
        .route(
            "/volume/v2.0/volumes",
            get(list_volumes).post(create_volume),
        )
        .route("/volume/v2.0/volumes/detail", get(list_volumes_detail))
        .route(
            "/volume/v2.0/volumes/{id}",
            get(get_volume).put(update_volume).delete(delete_volume),
        )
        .route(
            "/volume/v2.0/snapshots",
            get(list_snapshots).post(create_snapshot),
        )
        .route("/volume/v2.0/snapshots/detail", get(list_snapshots))
        .route(
            "/volume/v2.0/snapshots/{id}",
            get(get_snapshot).delete(delete_snapshot),
        )
        .route("/volume/v2.0/types", get(volume_types))
        // image (Plankton)
        .route("/image/v1.0/images", get(plankton_images))
        .route("/image/v1.0/images/detail", get(plankton_images_detail))
}

// ------------------------------------------------------------------ compute

async fn list_servers(State(sim): S, Authed(u): Authed) -> Response {
    let text = sim.world().list_servers_text(&u.uuid, Instant::now());
    json_text(StatusCode::OK, text)
}

async fn list_servers_detail(
    State(sim): S,
    Authed(u): Authed,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    // An empty `changes-since` is none (`isoparse` of "" is None).
    match query.get("changes-since").filter(|s| !s.is_empty()) {
        None => json(
            StatusCode::OK,
            sim.world().list_servers_detail(&u.uuid, Instant::now()),
        ),
        Some(since) => match sim
            .world()
            .list_server_changes(&u.uuid, since, Instant::now())
        {
            Ok(Some(changes)) => json(StatusCode::OK, changes),
            Ok(None) => StatusCode::NOT_MODIFIED.into_response(),
            Err(f) => f.into_response(),
        },
    }
}

async fn get_server(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        sim.world().get_server(&u.uuid, &id, Instant::now()),
    )
}

async fn create_server(State(sim): S, Authed(u): Authed, b: Bytes) -> Response {
    reply(
        StatusCode::ACCEPTED,
        body(&b).and_then(|v| sim.world().create_server(&u, &v, Instant::now())),
    )
}

async fn update_server(
    State(sim): S,
    Authed(u): Authed,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    done(
        StatusCode::NO_CONTENT,
        body(&b).and_then(|v| sim.world().update_server(&u.uuid, &id, &v, Instant::now())),
    )
}

async fn delete_server(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    done(
        StatusCode::NO_CONTENT,
        sim.world().delete_server(&u.uuid, &id, Instant::now()),
    )
}

async fn server_action(
    State(sim): S,
    Authed(u): Authed,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    done(
        StatusCode::ACCEPTED,
        body(&b).and_then(|v| sim.world().server_action(&u.uuid, &id, &v, Instant::now())),
    )
}

async fn server_ips(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    let r = sim
        .world()
        .get_server(&u.uuid, &id, Instant::now())
        .map(|v| {
            let addresses = v
                .pointer("/server/addresses")
                .cloned()
                .unwrap_or(Value::Null);
            let attachments = v
                .pointer("/server/attachments")
                .cloned()
                .unwrap_or(Value::Null);
            serde_json::json!({"addresses": addresses, "attachments": attachments})
        });
    reply(StatusCode::OK, r)
}

async fn get_metadata(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        sim.world().get_metadata(&u.uuid, &id, Instant::now()),
    )
}

async fn update_metadata(
    State(sim): S,
    Authed(u): Authed,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    reply(
        StatusCode::CREATED,
        body(&b).and_then(|v| {
            sim.world()
                .update_metadata(&u.uuid, &id, &v, Instant::now())
        }),
    )
}

async fn get_metadata_item(
    State(sim): S,
    Authed(u): Authed,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    reply(
        StatusCode::OK,
        sim.world()
            .get_metadata_item(&u.uuid, &id, &key, Instant::now()),
    )
}

async fn set_metadata_item(
    State(sim): S,
    Authed(u): Authed,
    Path((id, key)): Path<(String, String)>,
    b: Bytes,
) -> Response {
    reply(
        StatusCode::CREATED,
        body(&b).and_then(|v| {
            sim.world()
                .set_metadata_item(&u.uuid, &id, &key, &v, Instant::now())
        }),
    )
}

async fn delete_metadata_item(
    State(sim): S,
    Authed(u): Authed,
    Path((id, key)): Path<(String, String)>,
) -> Response {
    done(
        StatusCode::NO_CONTENT,
        sim.world()
            .delete_metadata_item(&u.uuid, &id, &key, Instant::now()),
    )
}

async fn list_attachments(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        sim.world().list_attachments(&u.uuid, &id, Instant::now()),
    )
}

async fn get_attachment(
    State(sim): S,
    Authed(u): Authed,
    Path((id, att)): Path<(String, String)>,
) -> Response {
    reply(
        StatusCode::OK,
        sim.world()
            .get_attachment(&u.uuid, &id, &att, Instant::now()),
    )
}

async fn attach(State(sim): S, Authed(u): Authed, Path(id): Path<String>, b: Bytes) -> Response {
    reply(
        StatusCode::ACCEPTED,
        body(&b).and_then(|v| sim.world().attach(&u.uuid, &id, &v, Instant::now())),
    )
}

async fn detach(
    State(sim): S,
    Authed(u): Authed,
    Path((id, att)): Path<(String, String)>,
) -> Response {
    done(
        StatusCode::ACCEPTED,
        sim.world().detach(&u.uuid, &id, &att, Instant::now()),
    )
}

async fn list_flavors(State(sim): S, Authed(_): Authed) -> Response {
    json(StatusCode::OK, sim.world().list_flavors(false))
}

async fn list_flavors_detail(State(sim): S, Authed(_): Authed) -> Response {
    json(StatusCode::OK, sim.world().list_flavors(true))
}

async fn get_flavor(State(sim): S, Authed(_): Authed, Path(id): Path<String>) -> Response {
    reply(StatusCode::OK, sim.world().get_flavor(&id))
}

async fn list_images(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().list_images(&u.uuid, false, Instant::now()),
    )
}

async fn list_images_detail(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().list_images(&u.uuid, true, Instant::now()),
    )
}

async fn get_image(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        sim.world().get_image(&u.uuid, &id, Instant::now()),
    )
}

// ------------------------------------------------------------------ network

async fn list_networks(State(sim): S, Authed(u): Authed) -> Response {
    json(StatusCode::OK, sim.world().list_networks(&u.uuid))
}

async fn get_network(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(StatusCode::OK, sim.world().get_network(&u.uuid, &id))
}

async fn create_network(State(sim): S, Authed(u): Authed, b: Bytes) -> Response {
    reply(
        StatusCode::CREATED,
        body(&b).and_then(|v| sim.world().create_network(&u, &v)),
    )
}

async fn rename_network(
    State(sim): S,
    Authed(u): Authed,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    reply(
        StatusCode::OK,
        body(&b).and_then(|v| sim.world().rename_network(&u.uuid, &id, &v)),
    )
}

async fn delete_network(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    done(
        StatusCode::NO_CONTENT,
        sim.world().delete_network(&u.uuid, &id),
    )
}

async fn list_subnets(State(sim): S, Authed(u): Authed) -> Response {
    json(StatusCode::OK, sim.world().list_subnets(&u.uuid))
}

async fn get_subnet(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(StatusCode::OK, sim.world().get_subnet(&u.uuid, &id))
}

async fn create_subnet(State(sim): S, Authed(u): Authed, b: Bytes) -> Response {
    reply(
        StatusCode::CREATED,
        body(&b).and_then(|v| sim.world().create_subnet(&u.uuid, &v)),
    )
}

async fn list_ports(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().list_ports(&u.uuid, Instant::now()),
    )
}

async fn get_port(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        sim.world().get_port(&u.uuid, &id, Instant::now()),
    )
}

async fn create_port(State(sim): S, Authed(u): Authed, b: Bytes) -> Response {
    reply(
        StatusCode::CREATED,
        body(&b).and_then(|v| sim.world().create_port(&u, &v, Instant::now())),
    )
}

async fn delete_port(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    done(
        StatusCode::NO_CONTENT,
        sim.world().delete_port(&u.uuid, &id),
    )
}

async fn list_fips(State(sim): S, Authed(u): Authed) -> Response {
    json(StatusCode::OK, sim.world().list_floating_ips(&u.uuid))
}

async fn get_fip(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(StatusCode::OK, sim.world().get_floating_ip(&u.uuid, &id))
}

async fn create_fip(State(sim): S, Authed(u): Authed, b: Bytes) -> Response {
    reply(
        StatusCode::OK,
        body(&b).and_then(|v| sim.world().create_floating_ip(&u, &v)),
    )
}

async fn delete_fip(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    done(
        StatusCode::NO_CONTENT,
        sim.world().delete_floating_ip(&u.uuid, &id),
    )
}

// ------------------------------------------------------------------- volume

async fn list_volumes(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().list_volumes(&u.uuid, false, Instant::now()),
    )
}

async fn list_volumes_detail(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().list_volumes(&u.uuid, true, Instant::now()),
    )
}

async fn get_volume(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        sim.world().get_volume(&u.uuid, &id, Instant::now()),
    )
}

async fn create_volume(State(sim): S, Authed(u): Authed, b: Bytes) -> Response {
    reply(
        StatusCode::ACCEPTED,
        body(&b).and_then(|v| sim.world().create_volume(&u, &v, Instant::now())),
    )
}

async fn update_volume(
    State(sim): S,
    Authed(u): Authed,
    Path(id): Path<String>,
    b: Bytes,
) -> Response {
    reply(
        StatusCode::OK,
        body(&b).and_then(|v| sim.world().update_volume(&u.uuid, &id, &v)),
    )
}

async fn delete_volume(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    done(
        StatusCode::ACCEPTED,
        sim.world().delete_volume(&u.uuid, &id),
    )
}

async fn create_snapshot(State(sim): S, Authed(u): Authed, b: Bytes) -> Response {
    reply(
        StatusCode::ACCEPTED,
        body(&b).and_then(|v| sim.world().create_snapshot(&u, &v, Instant::now())),
    )
}

async fn list_snapshots(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().list_snapshots(&u.uuid, Instant::now()),
    )
}

async fn get_snapshot(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    reply(
        StatusCode::OK,
        sim.world().get_snapshot(&u.uuid, &id, Instant::now()),
    )
}

async fn delete_snapshot(State(sim): S, Authed(u): Authed, Path(id): Path<String>) -> Response {
    done(
        StatusCode::ACCEPTED,
        sim.world().delete_snapshot(&u.uuid, &id),
    )
}

async fn volume_types(State(sim): S, Authed(_): Authed) -> Response {
    json(StatusCode::OK, sim.world().volume_types())
}

// -------------------------------------------------------------------- image

async fn plankton_images(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().plankton_images(&u.uuid, false, Instant::now()),
    )
}

async fn plankton_images_detail(State(sim): S, Authed(u): Authed) -> Response {
    json(
        StatusCode::OK,
        sim.world().plankton_images(&u.uuid, true, Instant::now()),
    )
}
