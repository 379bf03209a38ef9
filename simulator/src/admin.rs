//! The simulator's admin endpoint, under `/_sim` on the simulator's own
//! port (unauthenticated: it is a test fixture, never exposed by the
//! gateway).
//!
//! | Method and path | Effect |
//! |---|---|
//! | `GET /_sim` | this index |
//! | `GET /_sim/counters` | `{"counters": {"GET /compute/v2.0/servers": 3, ...}, "total": n}`: calls per operation since start or reset, faulted ones included (a retried call counts twice; calls to a service that is `down` are not counted) |
//! | `DELETE /_sim/counters` | reset them (204) |
//! | `GET /_sim/faults` | the injected faults |
//! | `PUT /_sim/faults` | replace them: `{"latency": "200ms", "answer_latency": "0s", "error_rate": 0.5, "error_status": 503, "drop_rate": 0.1, "drop_after_rate": 0.0, "down": ["compute"], "routes": ["POST /network/v2.0/subnets"]}` (any subset; `answer_latency` delays the answer after the work is done; `drop_after_rate` carries the request out, then closes the connection unanswered; `routes`, when given, limits latency, errors and drops to those operations; 200 with the result) |
//! | `DELETE /_sim/faults` | no more faults (204) |
//! | `POST /_sim/seed/servers` | `{"user": "<uuid>", "count": 1000, "flavor": 1, "image": "<id>", "status": "ACTIVE"}`: bulk-create servers (201 `{"ids": [...]}`) |
//! | `PUT /_sim/servers/{id}/status` | `{"status": "ERROR"}`: force a server's status (204) |
//! | `POST /_sim/jobs/complete` | complete every transition in progress now (builds, actions, volume attaches and detaches, deletions, snapshots), as the real harness's `snf.sh complete-jobs` does: 200 `{"completed": n}` |
//! | `GET /_sim/state` | counts of servers, volumes, networks, ... |

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::fault::json;
use super::seed::FaultSettings;
use super::serve::Sim;
use super::state::Status;

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/", get(index))
        .route("/counters", get(counters).delete(reset_counters))
        .route(
            "/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route("/seed/servers", post(seed_servers))
        .route("/servers/{id}/status", put(force_status))
        .route("/jobs/complete", post(complete_jobs))
        .route("/state", get(state))
}

fn bad(message: impl std::fmt::Display) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        json!({ "error": message.to_string() }),
    )
}

async fn index() -> Response {
    json(
        StatusCode::OK,
        json!({"endpoints": [
            "GET /_sim/counters", "DELETE /_sim/counters", "GET /_sim/faults", "PUT /_sim/faults",
            "DELETE /_sim/faults", "POST /_sim/seed/servers", "PUT /_sim/servers/{id}/status",
            "POST /_sim/jobs/complete", "GET /_sim/state"
        ]}),
    )
}

async fn counters(State(sim): State<Arc<Sim>>) -> Response {
    let counters = sim.counters();
    let total: u64 = counters.values().sum();
    json(
        StatusCode::OK,
        json!({ "counters": counters, "total": total }),
    )
}

async fn reset_counters(State(sim): State<Arc<Sim>>) -> Response {
    sim.reset_counters();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_value(&*sim.faults()).unwrap_or_default(),
    )
}

async fn put_faults(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let faults: FaultSettings = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return bad(format!("invalid faults: {e}")),
    };
    if ![faults.error_rate, faults.drop_rate, faults.drop_after_rate]
        .iter()
        .all(|share| (0.0..=1.0).contains(share))
    {
        return bad("error_rate, drop_rate and drop_after_rate are shares between 0 and 1");
    }
    if let Some(s) = faults.error_status
        && !(500..=599).contains(&s)
    {
        return bad("error_status must be a 5xx status");
    }
    let known = [
        "identity", "compute", "network", "volume", "image", "astavoms",
    ];
    if let Some(unknown) = faults.down.iter().find(|s| !known.contains(&s.as_str())) {
        return bad(format!(
            "unknown service {unknown:?}; known: {}",
            known.join(", ")
        ));
    }
    sim.set_faults(faults);
    json(
        StatusCode::OK,
        serde_json::to_value(&*sim.faults()).unwrap_or_default(),
    )
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Response {
    sim.set_faults(FaultSettings::default());
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedServers {
    user: String,
    count: usize,
    #[serde(default)]
    flavor: Option<u64>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

async fn seed_servers(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: SeedServers = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("invalid seed request: {e}")),
    };
    if request.count > 100_000 {
        return bad("count is at most 100000");
    }
    let status = match request.status.as_deref().map(Status::parse) {
        None => Status::Active,
        Some(Some(s)) if s != Status::Deleted => s,
        Some(_) => return bad("status is one of BUILD, ACTIVE, STOPPED, REBOOT, ERROR"),
    };
    let result = sim.world().seed_servers(
        &request.user,
        request.count,
        request.flavor,
        request.image.as_deref(),
        status,
    );
    match result {
        Ok(ids) => json(StatusCode::CREATED, json!({ "ids": ids })),
        Err(fault) => bad(fault.message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceStatus {
    status: String,
}

async fn force_status(State(sim): State<Arc<Sim>>, Path(id): Path<u64>, body: Bytes) -> Response {
    let request: ForceStatus = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad(format!("invalid request: {e}")),
    };
    let Some(status) = Status::parse(&request.status) else {
        return bad("status is one of BUILD, ACTIVE, STOPPED, REBOOT, ERROR, DELETED");
    };
    match sim.world().force_status(id, status) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(fault) => fault.into_response(),
    }
}

async fn complete_jobs(State(sim): State<Arc<Sim>>) -> Response {
    let completed = sim.world().complete_jobs(std::time::Instant::now());
    json(StatusCode::OK, json!({ "completed": completed }))
}

async fn state(State(sim): State<Arc<Sim>>) -> Response {
    json(StatusCode::OK, sim.world().summary())
}
