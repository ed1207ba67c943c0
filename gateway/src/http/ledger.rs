//! The auditor's tamper-evidence endpoints: the latest signed checkpoint, inclusion
//! proofs for one record, consistency proofs between tree sizes.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use super::query::{check_params, seq_param};
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

/// `GET /v1/checkpoint`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointAnswer {
    /// The log's origin line (the checkpoint's first line).
    pub origin: String,
    /// Tree size: the number of records the checkpoint covers.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` records, base64.
    pub root: String,
    /// The checkpoint's number, consecutive from 1.
    pub number: u64,
    /// The whole signed note (C2SP signed-note format).
    pub note: String,
}

/// `GET /v1/consistency`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyAnswer {
    pub from: u64,
    pub to: u64,
    /// Root of the first `from` records, base64.
    pub from_root: String,
    /// Root of the first `to` records, base64.
    pub to_root: String,
    /// RFC 6962 consistency proof, base64 hashes.
    pub proof: Vec<String>,
}

/// `GET /v1/verify`'s answer: `ok` with the counts, or `damaged` naming the first bad record.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyAnswer {
    /// First `seq` walked.
    pub from: u64,
    /// Last `seq` walked.
    pub to: u64,
    /// Records walked.
    pub records: u64,
    /// Signed checkpoints checked on the way.
    pub checkpoints: usize,
    /// `ok` or `damaged`.
    #[schema(pattern = "^(ok|damaged)$")]
    pub status: &'static str,
    /// With `ok` and no checkpoint in the range: truncation cannot be detected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
    /// With `damaged`: the first bad record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// With `damaged`: the kind of damage (`changed`, `missing`, `checkpoint-inconsistent`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// With `damaged`: what was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `GET /v1/checkpoint`: the latest signed checkpoint as a note and its fields.
#[utoipa::path(
    get,
    path = "/v1/checkpoint",
    tag = "ledger",
    security(("auditor_key" = [])),
    responses(
        (status = 200, description = "The latest signed checkpoint", body = CheckpointAnswer),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 404, description = "No checkpoint has been signed yet", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<CheckpointAnswer>, ApiError> {
    auth.require(Role::Auditor)?;
    let note = state.store.latest_checkpoint().map_err(store_error)?;
    let note = note.ok_or_else(|| ApiError::not_found("no checkpoint has been signed yet"))?;
    let cp = Checkpoint::parse_note_unverified(&note).map_err(|e| ApiError::unavailable(e.to_string()))?;
    Ok(Json(CheckpointAnswer {
        origin: cp.origin,
        size: cp.size,
        root: B64.encode(cp.root),
        number: cp.number,
        note,
    }))
}

/// `GET /v1/events/{seq}/proof?size=N`: the bundle `auditgate proof verify` checks: the
/// stored record, its inclusion proof, and the signed checkpoint of size N (default: the
/// latest checkpoint).
#[utoipa::path(
    get,
    path = "/v1/events/{seq}/proof",
    tag = "ledger",
    security(("auditor_key" = [])),
    params(
        ("seq" = u64, Path, minimum = 1, description = "The record's position in the log"),
        ("size" = Option<u64>, Query, nullable = false,
            description = "Size of the signed checkpoint to prove against (default: the latest)"),
    ),
    responses(
        (status = 200, description = "Record, audit path and signed checkpoint", body = ProofBundle),
        (status = 400, description = "`seq` or `size` is not a number, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 404, description = "No such checkpoint, or the record is not covered by it", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn inclusion(
    State(state): State<AppState>,
    auth: Authenticated,
    path: Result<Path<String>, PathRejection>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ProofBundle>, ApiError> {
    auth.require(Role::Auditor)?;
    let seq = seq_param(path)?;
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
        Ok(Json(bundle))
    })
    .await
}

/// `GET /v1/consistency?from=M&to=N`: the RFC 6962 consistency proof and both roots.
#[utoipa::path(
    get,
    path = "/v1/consistency",
    tag = "ledger",
    security(("auditor_key" = [])),
    params(
        ("from" = u64, Query, description = "The smaller tree size"),
        ("to" = Option<u64>, Query, nullable = false, description = "The larger tree size (default: the log's size)"),
    ),
    responses(
        (status = 200, description = "Consistency proof and both roots", body = ConsistencyAnswer),
        (status = 400, description = "`from` missing, a size not a number or not within the log, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn consistency(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ConsistencyAnswer>, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &["from", "to"])?;
    let from = number(&params, "from")?.ok_or_else(|| ApiError::bad_query("`from` is required"))?;
    let to = number(&params, "to")?.unwrap_or_else(|| state.store.count());
    let store = state.store.clone();
    blocking(move || {
        let proof = store.consistency_proof(from, to).map_err(store_error)?;
        Ok(Json(ConsistencyAnswer {
            from,
            to,
            from_root: B64.encode(store.root(from).map_err(store_error)?),
            to_root: B64.encode(store.root(to).map_err(store_error)?),
            proof: b64_all(&proof),
        }))
    })
    .await
}

/// `GET /v1/verify?from=M&to=N`: walks the durable records (default: all) and answers
/// with the first bad `seq` and the kind of damage, or `ok` with the counts.
#[utoipa::path(
    get,
    path = "/v1/verify",
    tag = "ledger",
    security(("auditor_key" = [])),
    params(
        ("from" = Option<u64>, Query, nullable = false, description = "First `seq` to walk (default: 1)"),
        ("to" = Option<u64>, Query, nullable = false, description = "Last `seq` to walk (default: the last durable one)"),
    ),
    responses(
        (status = 200, description = "The walk's result (`status` says whether the chain is intact)", body = VerifyAnswer),
        (status = 400, description = "A bound is not a number or not within the log, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<VerifyAnswer>, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &["from", "to"])?;
    let (from, to) = (number(&params, "from")?, number(&params, "to")?);
    let store = state.store.clone();
    blocking(move || {
        let check = store.verify_range(from, to).map_err(store_error)?;
        let mut out = VerifyAnswer {
            from: check.from,
            to: check.to,
            records: check.records,
            checkpoints: check.checkpoints,
            status: "ok",
            warning: None,
            seq: None,
            kind: None,
            detail: None,
        };
        match check.damage {
            None if check.checkpoints == 0 => {
                out.warning = Some("no signed checkpoint in the range: truncation cannot be detected");
            }
            None => {}
            Some(d) => {
                out.status = "damaged";
                out.seq = Some(d.seq);
                out.kind = Some(d.kind.as_str());
                out.detail = Some(d.detail);
            }
        }
        Ok(Json(out))
    })
    .await
}
