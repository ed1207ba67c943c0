//! `POST /v1/admin/keys/rotate-master`: online master key rotation (see `store::rotation`).
//! The new key travels in the body (64 hex digits) and is never logged, stored or echoed;
//! only key ids are. The rotation is itself written to the log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zeroize::Zeroize;

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use crate::config::Role;
use crate::crypto::MasterKey;
use crate::own_events::{append_event, gateway_event};
use crate::store::{NewRecord, Rotation};

/// The `action` of the event a rotation writes into the log.
pub const ROTATION_ACTION: &str = "auditgate.keys.rotate";

/// `POST /v1/admin/keys/rotate-master`'s body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateMasterRequest {
    /// The new master key: 64 hex digits (e.g. from `openssl rand -hex 32`).
    pub new_master_key: String,
}

impl std::fmt::Debug for RotateMasterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RotateMasterRequest(<hidden>)")
    }
}

impl Drop for RotateMasterRequest {
    fn drop(&mut self) {
        self.new_master_key.zeroize();
    }
}

/// `POST /v1/admin/keys/rotate-master`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotateMasterAnswer {
    /// `seq` of the rotation event written into the log.
    pub seq: u64,
    /// Id of the master key the store was encrypted with until now (no longer needed).
    pub old_master_key_id: String,
    /// Id of the master key the store needs from now on (at every later start).
    pub new_master_key_id: String,
    /// Keys re-wrapped: every live data key, plus the index key and the host key.
    pub keys_rewrapped: u64,
}

/// Re-wraps every data key, the index key and the host key under a new master key, while
/// the gateway runs; events are not rewritten. Once answered the old master key no longer
/// opens the store: start the gateway with the new one from now on. The rotation is
/// written to the log (who asked, both key ids, never a key).
#[utoipa::path(
    post,
    path = "/v1/admin/keys/rotate-master",
    tag = "admin",
    security(("admin_key" = [])),
    request_body(content = RotateMasterRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Every key is re-wrapped under the new master key, on disk, and the rotation event durable", body = RotateMasterAnswer),
        (status = 400, description = "The body is not `{\"new_master_key\": \"<64 hex digits>\"}` (the text is never repeated)", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 409, description = "The store is not encrypted, or the new key is the one in use", body = ErrorBody),
        (status = 503, description = "The store cannot be written", body = ErrorBody),
    )
)]
pub async fn rotate_master(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth.require(Role::Admin)?;
    let new = parse_new_key(&body)?;
    let Some(current) = state.store.master_key_id() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_encrypted",
            "master key rotation needs an encrypted store (storage.encryption = true)",
        ));
    };
    if current == new.id() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "same_master_key",
            format!("the new master key (id {current}) is the one in use already: nothing to rotate"),
        ));
    }
    let store = state.store.clone();
    let rotation = tokio::task::spawn_blocking(move || store.rotate_master(&new))
        .await
        .map_err(|e| ApiError::unavailable(format!("rotation worker failed: {e}")))?
        .map_err(|e| ApiError::unavailable(format!("the rotation failed: {e}")))?;
    tracing::info!(
        by = %caller.name,
        old_master_key_id = %rotation.old_master_key_id,
        new_master_key_id = %rotation.new_master_key_id,
        keys = rotation.keys_rewrapped,
        "master key rotated: start with the new key from now on"
    );
    let seq = append_event(&state.store, rotation_record(&caller.name, &rotation)).await.map_err(|e| {
        ApiError::unavailable(format!(
            "the master key is rotated (now id {}) but the rotation event could not be written: {e}",
            rotation.new_master_key_id
        ))
    })?;
    Ok(Json(RotateMasterAnswer {
        seq,
        old_master_key_id: rotation.old_master_key_id,
        new_master_key_id: rotation.new_master_key_id,
        keys_rewrapped: rotation.keys_rewrapped,
    })
    .into_response())
}

/// The new key from the body. Errors never repeat the body: a serde message could quote
/// part of it, so only the position is named.
fn parse_new_key(body: &[u8]) -> Result<MasterKey, ApiError> {
    let request: RotateMasterRequest = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!(
                "expected {{\"new_master_key\": \"<64 hex digits>\"}} and nothing else (the body does not fit at \
                 line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    MasterKey::from_hex(&request.new_master_key, "`new_master_key`")
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_master_key", e.to_string()))
}

/// The log record of a rotation: who asked, both key ids, how many keys.
fn rotation_record(by: &str, rotation: &Rotation) -> NewRecord {
    let details = json!({
        "old_master_key_id": rotation.old_master_key_id,
        "new_master_key_id": rotation.new_master_key_id,
        "keys_rewrapped": rotation.keys_rewrapped,
    });
    gateway_event(
        ROTATION_ACTION,
        "success",
        by,
        ("master_key", &rotation.new_master_key_id),
        details,
        "key-rotation",
    )
}
