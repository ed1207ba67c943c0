//! Admin endpoints: `POST /v1/admin/reload` (hot reload, see `reload`), `GET
//! /v1/admin/policies` (what is loaded and how it fares) and `POST /v1/admin/erase`
//! (crypto-shredding of one subject, see `store::erasure`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use crate::config::Role;
use crate::engine::ModuleInfo;
use crate::own_events::{append_event, gateway_event};
use crate::reload::{ReloadReport, ReloadStats, Trigger};
use crate::store::StoreError;

/// The `action` of the event an erasure writes into the log.
pub const ERASURE_ACTION: &str = "auditgate.subject.erase";

/// `POST /v1/admin/erase`'s body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    /// The subject to erase: the `user` of its events.
    pub user: String,
}

/// `POST /v1/admin/erase`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct EraseAnswer {
    /// `seq` of the erasure event written into the log.
    pub seq: u64,
    /// The subject's keyed hash (hex), as the erasure event's `resource_id` names it.
    pub subject_ref: String,
    /// A live data key was destroyed (`false`: the subject had no events since its last
    /// erasure, or none at all).
    pub key_destroyed: bool,
    /// Index entries (keyed hashes of its personal values) removed.
    pub index_entries_removed: u64,
}

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
    let caller = auth.require(Role::Admin)?;
    match state.reloader.reload(Trigger::Api, &caller.name).await {
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

/// Erases a subject (crypto-shredding): destroys its data key, so the personal fields of
/// its events read back as `"[erased]"`; the records and the hash chain stay and `auditgate
/// verify` still passes. The erasure is itself written to the log (who asked, the
/// subject's keyed hash), and the answer comes once that event is durable.
#[utoipa::path(
    post,
    path = "/v1/admin/erase",
    tag = "admin",
    security(("admin_key" = [])),
    request_body(content = EraseRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The subject's data key is destroyed and the erasure event durable", body = EraseAnswer),
        (status = 400, description = "The body is not `{\"user\": \"...\"}` with a non-empty user", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 409, description = "A legal hold covers the subject (`legal_hold`, naming the hold), or the store is not encrypted (`not_encrypted`, `storage.encryption = false`): nothing to shred", body = ErrorBody),
        (status = 503, description = "The store cannot be written", body = ErrorBody),
    )
)]
pub async fn erase(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth.require(Role::Admin)?;
    let request: EraseRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("expected {{\"user\": \"...\"}}: {e}"))
    })?;
    if request.user.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", "`user` must not be empty"));
    }
    let held = state
        .store
        .hold_blocking_erasure(&request.user)
        .map_err(|e| ApiError::unavailable(format!("cannot read the legal holds: {e}")))?;
    if let Some(hold) = held {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "legal_hold",
            format!(
                "legal hold {} covers this subject's events ({}): release it before erasing",
                hold.id,
                if hold.reason.is_empty() { "no reason given" } else { hold.reason.as_str() }
            ),
        ));
    }
    if !state.store.is_encrypted() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_encrypted",
            "erasure destroys a subject's data key: it needs an encrypted store (storage.encryption = true)",
        ));
    }
    let store = state.store.clone();
    let (user, by) = (request.user, caller.name.clone());
    let erasure = tokio::task::spawn_blocking(move || store.erase_subject(&user, &by))
        .await
        .map_err(|e| ApiError::unavailable(format!("erasure worker failed: {e}")))?
        .map_err(|e| ApiError::unavailable(format!("the erasure failed: {e}")))?;
    let details = json!({
        "key_destroyed": erasure.key_destroyed,
        "index_entries_removed": erasure.index_entries_removed,
    });
    let record = gateway_event(
        ERASURE_ACTION,
        "success",
        &caller.name,
        ("subject", &erasure.subject_ref),
        details,
        "erasure",
    );
    let seq = append_event(&state.store, record).await.map_err(|e: StoreError| {
        ApiError::unavailable(format!(
            "the data key is destroyed but the erasure event could not be written: {e}; retry the erasure"
        ))
    })?;
    tracing::info!(seq, by = %caller.name, subject_ref = %erasure.subject_ref, key_destroyed = erasure.key_destroyed, "subject erased");
    Ok(Json(EraseAnswer {
        seq,
        subject_ref: erasure.subject_ref,
        key_destroyed: erasure.key_destroyed,
        index_entries_removed: erasure.index_entries_removed,
    })
    .into_response())
}
