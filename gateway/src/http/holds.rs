//! Legal hold endpoints (admin): `POST /v1/admin/legal-holds`, `GET
//! /v1/admin/legal-holds`, `DELETE /v1/admin/legal-holds/{id}`. Creating and releasing a
//! hold are written to the log (`auditgate.legal_hold.create` / `.release`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use crate::config::Role;
use crate::retention::{HOLD_CREATE_ACTION, HOLD_RELEASE_ACTION, append_event, gateway_event};
use crate::store::{HoldError, HoldScope, LegalHold};

/// `POST /v1/admin/legal-holds`'s body: a user, an event-time range, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// Hold the events of this user (and refuse their erasure).
    pub user: Option<String>,
    /// Hold events whose `time` is at or after this (RFC 3339).
    pub from: Option<String>,
    /// Hold events whose `time` is before this (RFC 3339).
    pub to: Option<String>,
    /// Why (a case number, a request).
    #[serde(default)]
    pub reason: String,
}

/// `POST` and `DELETE` answers: the hold and the `seq` of the audit event written.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldAnswer {
    pub hold: LegalHold,
    /// `seq` of the `auditgate.legal_hold.*` event.
    pub seq: u64,
}

/// `GET /v1/admin/legal-holds`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoldList {
    /// Config holds first, then API holds.
    pub holds: Vec<LegalHold>,
}

fn hold_error(e: HoldError) -> ApiError {
    match e {
        HoldError::Invalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_hold", m),
        e @ HoldError::NotFound(_) => ApiError::not_found(e.to_string()),
        e @ HoldError::FromConfig(_) => {
            ApiError::new(StatusCode::CONFLICT, "hold_from_config", e.to_string())
        }
        HoldError::Store(e) => ApiError::unavailable(format!("the store failed: {e}")),
    }
}

/// Places a legal hold: retention stops before the first record it covers, and a held
/// user cannot be erased.
#[utoipa::path(
    post,
    path = "/v1/admin/legal-holds",
    operation_id = "create_legal_hold",
    tag = "admin",
    security(("admin_key" = [])),
    request_body(content = HoldRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The hold is durable and its audit event written", body = HoldAnswer),
        (status = 400, description = "Not a hold: unknown field, no `user`/`from`/`to`, a time that is not RFC 3339, `from` not before `to`", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 503, description = "The store cannot be written", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth.require(Role::Admin)?;
    let request: HoldRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!(
                "expected {{\"user\", \"from\", \"to\", \"reason\"}} (at least one of the first three): {e}"
            ),
        )
    })?;
    let scope = HoldScope { user: request.user, from: request.from, to: request.to };
    scope.validate().map_err(hold_error)?;
    let store = state.store.clone();
    let by = caller.name.clone();
    let hold = tokio::task::spawn_blocking(move || store.create_legal_hold(scope, request.reason, &by))
        .await
        .map_err(|e| ApiError::unavailable(format!("hold worker failed: {e}")))?
        .map_err(hold_error)?;
    let seq = record(&state, HOLD_CREATE_ACTION, &caller.name, &hold).await?;
    tracing::info!(id = %hold.id, by = %caller.name, "legal hold created");
    Ok(Json(HoldAnswer { hold, seq }).into_response())
}

/// Every legal hold in force (config and API).
#[utoipa::path(
    get,
    path = "/v1/admin/legal-holds",
    operation_id = "list_legal_holds",
    tag = "admin",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The holds", body = HoldList),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn list(State(state): State<AppState>, auth: Authenticated) -> Result<Json<HoldList>, ApiError> {
    auth.require(Role::Admin)?;
    let holds =
        state.store.legal_holds().map_err(|e| ApiError::unavailable(format!("the store failed: {e}")))?;
    Ok(Json(HoldList { holds }))
}

/// Releases a hold made through the API (config holds are released in the config file).
#[utoipa::path(
    delete,
    path = "/v1/admin/legal-holds/{id}",
    operation_id = "release_legal_hold",
    tag = "admin",
    security(("admin_key" = [])),
    params(("id" = String, Path, description = "The hold's id (`hold-<n>`)")),
    responses(
        (status = 200, description = "The hold is released and its audit event written", body = HoldAnswer),
        (status = 400, description = "The id is not valid UTF-8", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 404, description = "No hold has this id", body = ErrorBody),
        (status = 409, description = "A `[[legal_hold]]` of the config file (`hold_from_config`)", body = ErrorBody),
        (status = 503, description = "The store cannot be written", body = ErrorBody),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    auth: Authenticated,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let caller = auth.require(Role::Admin)?;
    let Path(id) = path.map_err(|e| ApiError::bad_query(format!("invalid `id`: {}", e.body_text())))?;
    let store = state.store.clone();
    let hold = tokio::task::spawn_blocking(move || store.release_legal_hold(&id))
        .await
        .map_err(|e| ApiError::unavailable(format!("hold worker failed: {e}")))?
        .map_err(hold_error)?;
    let seq = record(&state, HOLD_RELEASE_ACTION, &caller.name, &hold).await?;
    tracing::info!(id = %hold.id, by = %caller.name, "legal hold released");
    Ok(Json(HoldAnswer { hold, seq }).into_response())
}

/// Writes the audit event of a hold change.
async fn record(state: &AppState, action: &str, by: &str, hold: &LegalHold) -> Result<u64, ApiError> {
    let details = json!({ "user": hold.user, "from": hold.from, "to": hold.to, "reason": hold.reason });
    let event = gateway_event(action, "success", by, ("legal_hold", &hold.id), details, "legal-hold");
    append_event(&state.store, event).await.map_err(|e| {
        ApiError::unavailable(format!(
            "the hold change is durable but its audit event could not be written: {e}"
        ))
    })
}
