//! The auditor's tamper-evidence endpoints: the latest signed checkpoint, inclusion
//! proofs for one record, consistency proofs between tree sizes.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::query::check_params;
use crate::config::Role;
use crate::ledger::bundle::ProofBundle;
use crate::ledger::checkpoint::Checkpoint;
use crate::ledger::merkle::Hash;
use crate::store::StoreError;

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::InvalidInput(m) => ApiError::bad_query(m),
        other => ApiError::unavailable(format!("the audit log could not be read: {other}")),
    }
}

fn b64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

fn number(params: &HashMap<String, String>, key: &str) -> Result<Option<u64>, ApiError> {
    params
        .get(key)
        .map(|s| {
            s.parse::<u64>().map_err(|_| ApiError::bad_query(format!("`{key}` must be a number, got {s:?}")))
        })
        .transpose()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::unavailable(e.to_string()))?
}

/// `GET /v1/checkpoint`: the latest signed checkpoint as a note and its fields.
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    auth.require(Role::Auditor)?;
    let note = state.store.latest_checkpoint().map_err(store_error)?;
    let note = note.ok_or_else(|| ApiError::not_found("no checkpoint has been signed yet"))?;
    let cp = Checkpoint::parse_note_unverified(&note).map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(
        json!({"origin": cp.origin, "size": cp.size, "root": B64.encode(cp.root), "number": cp.number, "note": note}),
    ))
}

/// `GET /v1/events/{seq}/proof?size=N`: the bundle `auditgate proof verify` checks: the
/// stored record, its inclusion proof, and the signed checkpoint of size N (default: the
/// latest checkpoint).
pub async fn inclusion(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(seq): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Role::Auditor)?;
    let seq: u64 =
        seq.parse().map_err(|_| ApiError::bad_query(format!("seq must be a number, got {seq:?}")))?;
    check_params(&params, &["size"])?;
    let size = number(&params, "size")?;
    let store = state.store.clone();
    blocking(move || {
        let note = match size {
            Some(n) => store.checkpoint_at(n).map_err(store_error)?.ok_or_else(|| {
                ApiError::not_found(format!(
                    "no signed checkpoint of size {n}; GET /v1/checkpoint names the latest"
                ))
            })?,
            None => store
                .latest_checkpoint()
                .map_err(store_error)?
                .ok_or_else(|| ApiError::not_found("no checkpoint has been signed yet"))?,
        };
        let cp =
            Checkpoint::parse_note_unverified(&note).map_err(|e| ApiError::unavailable(e.to_string()))?;
        if seq == 0 || seq > cp.size {
            return Err(ApiError::not_found(format!(
                "record {seq} is not covered by the checkpoint of size {}",
                cp.size
            )));
        }
        let bytes = store
            .record_bytes(seq)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found("no such event"))?;
        let proof = store.inclusion_proof(seq, cp.size).map_err(store_error)?;
        let bundle =
            ProofBundle::new(seq, &bytes, &proof, &note).map_err(|e| ApiError::unavailable(e.to_string()))?;
        serde_json::to_value(bundle).map(Json).map_err(|e| ApiError::unavailable(e.to_string()))
    })
    .await
}

/// `GET /v1/consistency?from=M&to=N`: the RFC 6962 consistency proof and both roots.
pub async fn consistency(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &["from", "to"])?;
    let from = number(&params, "from")?.ok_or_else(|| ApiError::bad_query("`from` is required"))?;
    let to = number(&params, "to")?.unwrap_or_else(|| state.store.count());
    let store = state.store.clone();
    blocking(move || {
        let proof = store.consistency_proof(from, to).map_err(store_error)?;
        Ok(Json(json!({
            "from": from,
            "to": to,
            "from_root": B64.encode(store.root(from).map_err(store_error)?),
            "to_root": B64.encode(store.root(to).map_err(store_error)?),
            "proof": b64_all(&proof),
        })))
    })
    .await
}

/// `GET /v1/verify?from=M&to=N`: walks the durable records (default: all) and answers
/// with the first bad `seq` and the kind of damage, or `ok` with the counts.
pub async fn verify(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &["from", "to"])?;
    let (from, to) = (number(&params, "from")?, number(&params, "to")?);
    let store = state.store.clone();
    blocking(move || {
        let check = store.verify_range(from, to).map_err(store_error)?;
        let mut out = json!({
            "from": check.from,
            "to": check.to,
            "records": check.records,
            "checkpoints": check.checkpoints,
        });
        match check.damage {
            None => {
                out["status"] = json!("ok");
                if check.checkpoints == 0 {
                    out["warning"] =
                        json!("no signed checkpoint in the range: truncation cannot be detected");
                }
            }
            Some(d) => {
                out["status"] = json!("damaged");
                out["seq"] = json!(d.seq);
                out["kind"] = json!(d.kind.as_str());
                out["detail"] = json!(d.detail);
            }
        }
        Ok(Json(out))
    })
    .await
}
