//! Admin endpoints of the policy set: `POST /v1/admin/reload` (hot reload, see `reload`)
//! and `GET /v1/admin/policies` (what is loaded and how it fares).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use crate::config::Role;
use crate::engine::ModuleInfo;
use crate::reload::{ReloadReport, ReloadStats, Trigger};

/// One loaded policy with its counters since its set was loaded.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyStatus {
    #[serde(flatten)]
    pub module: ModuleInfo,
    /// Policy calls (of at most 16 events each) since this set was loaded.
    pub calls: u64,
    /// Events this policy failed on since this set was loaded.
    pub errors: u64,
}

/// `GET /v1/admin/policies`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PoliciesAnswer {
    /// The policy set in service (stored on every event it processes).
    pub policy_set: String,
    /// The chain, in order.
    pub policies: Vec<PolicyStatus>,
    pub reloads: ReloadStats,
    /// Whether the config file is watched (`server.watch_config`).
    pub watch_config: bool,
}

/// Reloads the policy chain and `[[lookup]]` tables from the config file.
#[utoipa::path(
    post,
    path = "/v1/admin/reload",
    tag = "admin",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The new policy set is active", body = ReloadReport),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 422, description = "The new configuration is bad (file, value, module, init, table); the message names the policy and the key at fault. The previous set stays active", body = ErrorBody),
        (status = 500, description = "The reload itself failed: the previous set stays active", body = ErrorBody),
    )
)]
pub async fn reload(State(state): State<AppState>, auth: Authenticated) -> Result<Response, ApiError> {
    auth.require(Role::Admin)?;
    match state.reloader.reload(Trigger::Api).await {
        Ok(report) => Ok(Json(report).into_response()),
        Err(e) => {
            let (status, code) = match e.is_config_fault() {
                true => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_config"),
                false => (StatusCode::INTERNAL_SERVER_ERROR, "reload_failed"),
            };
            // The one error shape; the message names the policy (engine errors start with
            // it) and the key at fault, and what stays in service.
            let mut message = e.to_string();
            if let Some(key) = e.key().filter(|k| !message.contains(k)) {
                message.push_str(&format!(" (key `{key}`)"));
            }
            let active = state.reloader.active().load().policy_set().to_string();
            message.push_str(&format!("; the active policy set {active} is unchanged"));
            Err(ApiError::new(status, code, message))
        }
    }
}

/// The policy set in service: its chain with module hashes and counters, and reloads.
#[utoipa::path(
    get,
    path = "/v1/admin/policies",
    tag = "admin",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The active policy set", body = PoliciesAnswer),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
    )
)]
pub async fn policies(State(state): State<AppState>, auth: Authenticated) -> Result<Response, ApiError> {
    auth.require(Role::Admin)?;
    let engine = state.reloader.active().load_full();
    let policies = engine
        .modules()
        .into_iter()
        .map(|(m, stats)| PolicyStatus {
            module: m.clone(),
            calls: stats.calls.load(std::sync::atomic::Ordering::Relaxed),
            errors: stats.errors.load(std::sync::atomic::Ordering::Relaxed),
        })
        .collect();
    Ok(Json(PoliciesAnswer {
        policy_set: engine.policy_set().to_string(),
        policies,
        reloads: state.reloader.stats(),
        watch_config: state.reloader.watching(),
    })
    .into_response())
}
