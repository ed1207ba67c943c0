//! The HTTP API (design §5): routes, the state they share, and the handlers' glue. Each
//! handler authenticates, checks the role, and delegates to `ingest` or the store.

pub mod admin;
pub mod audit_trail;
pub mod auth;
pub mod error;
pub mod export;
pub mod holds;
pub mod keys;
pub mod ledger;
pub mod openapi;
pub mod query;
pub mod reports;
pub mod stats;
pub mod ui;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::auth::KeyRing;
use crate::config::Role;
use crate::ingest::{BodyFormat, IngestError, Ingestor, ItemResult, rejection_message};
use crate::reload::Reloader;
use crate::self_audit::SelfAudit;
use crate::store::Store;
use auth::Authenticated;
use error::{ApiError, ErrorBody};
use openapi::{EventBody, EventInput, IngestResult};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Hot reload of the policy set (`POST /v1/admin/reload`) and what it reports.
    pub reloader: Arc<Reloader>,
    pub keys: Arc<KeyRing>,
    pub ingestor: Ingestor,
    pub store: Store,
    /// The gateway's own records: failed authentications, auditor reads, reloads.
    pub audit: Arc<SelfAudit>,
    pub max_request_bytes: usize,
}

impl AsRef<Arc<KeyRing>> for AppState {
    fn as_ref(&self) -> &Arc<KeyRing> {
        &self.keys
    }
}

/// The API's router.
pub fn router(state: AppState) -> Router {
    let audit = middleware::from_fn_with_state(state.clone(), audit_trail::record);
    Router::new()
        .route("/v1/events", post(post_events).get(query::list_events))
        .route("/v1/events/bulk", post(post_bulk))
        .route("/v1/events/{seq}", get(query::get_event))
        .route("/v1/events/{seq}/proof", get(ledger::inclusion))
        .route("/v1/checkpoint", get(ledger::latest_checkpoint))
        .route("/v1/consistency", get(ledger::consistency))
        .route("/v1/verify", get(ledger::verify))
        .route("/v1/alerts", get(query::list_alerts))
        .route("/v1/export", get(export::export))
        .route("/v1/lookup", get(export::lookup))
        .route("/v1/quarantine", get(query::list_quarantine))
        .route("/v1/stats", get(stats::stats))
        .route("/v1/reports/{framework}", get(reports::report))
        .route("/v1/admin/reload", post(admin::reload))
        .route("/v1/admin/policies", get(admin::policies))
        .route("/v1/admin/erase", post(admin::erase))
        .route("/v1/admin/keys/rotate-master", post(keys::rotate_master))
        .route("/v1/admin/legal-holds", post(holds::create).get(holds::list))
        .route("/v1/admin/legal-holds/{id}", axum::routing::delete(holds::release))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::serve))
        .route("/ui", get(ui::index))
        .route("/ui/{asset}", get(ui::asset))
        // For every route above (axum adds the `Allow` header).
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // Bodies are read with our own limit so that an oversized one gets our JSON error.
        .layer(DefaultBodyLimit::disable())
        // After routing too: failed authentications and auditor reads are written to the log.
        .layer(audit)
        // Runs after routing (each route and the fallback get it), so the matched pattern is known.
        .layer(middleware::from_fn(count_request))
        // The span names the path only: a query string holds what auditors search for
        // (users, IPs, lookup values) and must not reach a debug log.
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not answer {method} (the Allow header lists what it does)", uri.path()),
    )
}

/// Counts each answered request in `/metrics` by method, route pattern (`unmatched` for
/// the fallback) and status class.
async fn count_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    crate::metrics::global().request(method_label(&method), route, response.status().as_u16());
    response
}

/// The `method` label of a request: the methods the API answers, every other name
/// (anyone can send `FOO1`, `FOO2`, …) as `other`, so the label's values stay bounded.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /healthz`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

/// `GET /readyz`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(pattern = "^ready$")]
    pub status: &'static str,
    /// Durable events in the log.
    pub events: u64,
}

/// The answer of both ingest endpoints, once every stored event is durable.
#[derive(Debug, Serialize, ToSchema)]
pub struct IngestAnswer {
    /// Events stored now or before (idempotent repeats).
    pub accepted: usize,
    /// Events refused (invalid, or rejected by a policy).
    pub rejected: usize,
    /// Events a policy failed on under `on_error = "quarantine"`.
    pub quarantined: usize,
    /// One entry per event, in the order sent.
    #[schema(value_type = Vec<IngestResult>)]
    pub results: Vec<Value>,
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process is up", body = Health))
)]
async fn healthz() -> impl IntoResponse {
    axum::Json(Health { status: "ok" })
}

/// Readiness: the store can be read and written, and no `reject` policy keeps failing.
///
/// 503 while (checked in this order) the store cannot be read (`store_unreadable`), the
/// writer's last group commit failed and no later one succeeded (`store_write_failing`),
/// or a policy with `on_error = "reject"` failed on its last
/// [`READINESS_FAILURE_STREAK`](crate::engine::READINESS_FAILURE_STREAK) events in a row
/// (`policy_failing`, naming the policies). Each ends by itself: a later successful commit,
/// an event the policy succeeds on, or a reload replacing the set.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "Ready to take and serve events", body = Ready),
        (status = 503, description = "Not ready; the code names why: `store_unreadable`, \
            `store_write_failing` (the last group commit failed), `policy_failing` (a `reject` \
            policy failed on its last 20 events)", body = ErrorBody),
    )
)]
async fn readyz(State(state): State<AppState>) -> Response {
    let unready = |code: &'static str, message: String| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message).into_response()
    };
    // A failed group commit first: after a write error (a full disk) sled may also fail
    // reads with the same error, and the write failure is the cause to name.
    if let Some(e) = state.store.write_failure() {
        return unready(
            "store_write_failing",
            format!("the store cannot write: the last group commit failed: {e}"),
        );
    }
    if let Err(e) = state.store.lookup_client_id("") {
        return unready("store_unreadable", format!("the store cannot be read: {e}"));
    }
    let engine = state.reloader.active().load();
    let failing = engine.failing_reject_policies();
    if !failing.is_empty() {
        let names: Vec<String> =
            failing.iter().map(|(name, n)| format!("`{name}` (failed on its last {n} events)")).collect();
        return unready(
            "policy_failing",
            format!(
                "policies with on_error = \"reject\" keep failing: {}; their events are refused",
                names.join(", ")
            ),
        );
    }
    axum::Json(Ready { status: "ready", events: state.store.count() }).into_response()
}

/// Prometheus metrics (OpenMetrics text): ingest outcomes, HTTP requests, policy latency
/// and errors, the writer's queue and group commits, store size, checkpoints, reloads.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((
        status = 200,
        description = "The gateway's metrics (no key needed)",
        content_type = "application/openmetrics-text",
        body = String
    ))
)]
async fn metrics(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    // sled reads and a walk of its files: off the async workers.
    let scrape = tokio::task::spawn_blocking(move || crate::metrics::Scrape {
        records: store.count(),
        disk_bytes: store.size_on_disk().ok(),
        checkpoint: store.latest_checkpoint().ok().flatten().and_then(|note| {
            crate::ledger::checkpoint::Checkpoint::parse_note_unverified(&note)
                .ok()
                .map(|c| (c.size, c.number))
        }),
    })
    .await
    .unwrap_or_default();
    let text = crate::metrics::global().render(&scrape);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// One event (answered 400/413/422 when it fails) or an array of events (answered 200
/// with a result per element).
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    security(("ingest_key" = [])),
    request_body(
        description = "One event object, or an array of them (each refused or kept alone). \
            The body is read as JSON whatever its Content-Type.",
        content((EventBody = "application/json")),
    ),
    responses(
        (status = 200, description = "Every stored event is durable; one result per event", body = IngestAnswer),
        (status = 400, description = "Not JSON, not an object or array, or (single event) invalid", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an ingest key", body = ErrorBody),
        (status = 413, description = "Over `server.max_request_bytes`, or (single event) over `server.max_event_bytes`", body = ErrorBody),
        (status = 422, description = "(single event) a policy failed on it and its `on_error` is `reject`", body = ErrorBody),
        (status = 503, description = "The log could not be written: nothing was acknowledged", body = ErrorBody),
    )
)]
async fn post_events(
    State(state): State<AppState>,
    auth: Authenticated,
    body: Body,
) -> Result<Response, ApiError> {
    ingest(state, auth, body, BodyFormat::Json).await
}

/// NDJSON: one event per line; a bad line fails alone, the good ones are kept.
#[utoipa::path(
    post,
    path = "/v1/events/bulk",
    tag = "events",
    security(("ingest_key" = [])),
    request_body(
        description = "NDJSON: one event object per line (the schema's array elements, one per \
            line); blank lines are skipped. The body is read as NDJSON whatever its Content-Type.",
        content((Vec<EventInput> = "application/x-ndjson")),
    ),
    responses(
        (status = 200, description = "Every stored event is durable; one result per line", body = IngestAnswer),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an ingest key", body = ErrorBody),
        (status = 413, description = "Over `server.max_request_bytes`", body = ErrorBody),
        (status = 503, description = "The log could not be written: nothing was acknowledged", body = ErrorBody),
    )
)]
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
    let results = results.iter().map(ItemResult::to_json).collect();
    Ok(axum::Json(IngestAnswer { accepted, rejected, quarantined, results }).into_response())
}
