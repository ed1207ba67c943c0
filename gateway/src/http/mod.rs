//! The HTTP API (design §5): routes, the state they share, and the handlers' glue. Each
//! handler authenticates, checks the role, and delegates to `ingest` or the store.

pub mod auth;
pub mod error;
pub mod ledger;
pub mod query;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::auth::KeyRing;
use crate::config::Role;
use crate::ingest::{BodyFormat, IngestError, Ingestor, ItemResult, rejection_message};
use crate::store::Store;
use auth::Authenticated;
use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub keys: Arc<KeyRing>,
    pub ingestor: Ingestor,
    pub store: Store,
    pub max_request_bytes: usize,
}

impl AsRef<Arc<KeyRing>> for AppState {
    fn as_ref(&self) -> &Arc<KeyRing> {
        &self.keys
    }
}

/// The API's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/events", post(post_events).get(query::list_events))
        .route("/v1/events/bulk", post(post_bulk))
        .route("/v1/events/{seq}", get(query::get_event))
        .route("/v1/events/{seq}/proof", get(ledger::inclusion))
        .route("/v1/checkpoint", get(ledger::latest_checkpoint))
        .route("/v1/consistency", get(ledger::consistency))
        .route("/v1/verify", get(ledger::verify))
        .route("/v1/alerts", get(query::list_alerts))
        .route("/v1/quarantine", get(query::list_quarantine))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        // Bodies are read with our own limit so that an oversized one gets our JSON error.
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.lookup_client_id("") {
        Ok(_) => axum::Json(json!({"status": "ready", "events": state.store.count()})).into_response(),
        Err(e) => ApiError::unavailable(format!("store not readable: {e}")).into_response(),
    }
}

async fn post_events(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(state, auth, body, BodyFormat::Json).await
}

async fn post_bulk(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(state, auth, body, BodyFormat::Ndjson).await
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body is over {limit} bytes (server.max_request_bytes)"),
        )
    })
}

async fn ingest(
    state: AppState,
    auth: Authenticated,
    body: Body,
    format: BodyFormat,
) -> Result<Response, ApiError> {
    let caller = auth.require(Role::Ingest)?;
    let bytes = read_body(body, state.max_request_bytes).await?;
    let (results, single) = match state.ingestor.ingest(&bytes, format, &caller.name).await {
        Ok(r) => r,
        Err(IngestError::Event(e)) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return Err(ApiError::new(status, e.code(), e.to_string()));
        }
        Err(e @ IngestError::Store(_)) => {
            tracing::error!(error = %e, "ingest failed: nothing in the request was acknowledged");
            return Err(ApiError::unavailable(e.to_string()));
        }
    };
    if single && let Some(ItemResult::Rejected { policy, error, .. }) = results.first() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "policy_rejected",
            rejection_message(policy, error),
        ));
    }
    let mut accepted = 0;
    let mut rejected = 0;
    let mut quarantined = 0;
    for r in &results {
        match r {
            ItemResult::Stored(_) | ItemResult::Duplicate(_) => accepted += 1,
            ItemResult::Quarantined { .. } => quarantined += 1,
            ItemResult::Invalid { .. } | ItemResult::Rejected { .. } => rejected += 1,
        }
    }
    let results: Vec<_> = results.iter().map(ItemResult::to_json).collect();
    Ok(axum::Json(json!({
        "accepted": accepted,
        "rejected": rejected,
        "quarantined": quarantined,
        "results": results,
    }))
    .into_response())
}
