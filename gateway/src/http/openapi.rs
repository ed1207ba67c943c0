//! `GET /openapi.json`: the API's OpenAPI 3.1 document, generated from the handlers'
//! `#[utoipa::path]` annotations and the answer types. Served without a key.
//!
//! Most answer types are the structs the handlers serialize. The types below exist for the
//! document only: they describe JSON the gateway builds elsewhere (the event schema checked
//! by `event`, stored records, alerts, quarantine entries, per-event ingest results) and the
//! query parameters the handlers read from a map. `tests/schemathesis/run` checks real
//! answers against them (`response_schema_conformance`), so they cannot drift unnoticed.

use std::sync::LazyLock;

use axum::Json;
use axum::response::IntoResponse;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::error::{ErrorBody, ErrorDetail};

/// The document, assembled from every handler of `router()`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Auditgate",
        description = "Audit gateway: ingest audit events, query them, prove they were not changed.\n\n\
            Every `/v1` endpoint needs `Authorization: Bearer <key>`; each key has one role \
            (`ingest`, `auditor` or `admin`) and an endpoint accepts exactly one role: a missing or \
            unknown key is 401, a key of another role 403. `/healthz`, `/readyz`, `/metrics`, this \
            document (`/openapi.json`) and the dashboard's files (`/ui`) are served without a key.\n\n\
            Every error answer is `{\"error\": {\"code\", \"message\"}}` (`ErrorBody`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::post_events,
        super::post_bulk,
        super::query::list_events,
        super::query::get_event,
        super::ledger::inclusion,
        super::ledger::latest_checkpoint,
        super::ledger::consistency,
        super::ledger::verify,
        super::query::list_alerts,
        super::export::export,
        super::export::lookup,
        super::query::list_quarantine,
        super::stats::stats,
        super::reports::report,
        super::admin::reload,
        super::admin::policies,
        super::admin::erase,
        super::keys::rotate_master,
        super::holds::create,
        super::holds::list,
        super::holds::release,
        super::healthz,
        super::readyz,
        super::metrics,
        serve,
        super::ui::index,
        super::ui::asset,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&KeySchemes),
    tags(
        (name = "events", description = "Ingest and read audit events"),
        (name = "ledger", description = "Tamper evidence: checkpoints, inclusion and consistency proofs, verification"),
        (name = "alerts", description = "What policies raised or quarantined"),
        (name = "reports", description = "Trends (stats rollups) and compliance reports"),
        (name = "admin", description = "The policy set: hot reload, what is loaded; erasure of a subject"),
        (name = "health", description = "Liveness, readiness, metrics, this document (no key)"),
        (name = "dashboard", description = "The auditors' dashboard at `/ui` (no key for the page; it calls the API with an auditor key)"),
    )
)]
pub struct ApiDoc;

/// The names of the security schemes, one per role, as operations' `security` lists them.
pub const KEY_SCHEMES: [(&str, &str); 3] =
    [("ingest_key", "ingest"), ("auditor_key", "auditor"), ("admin_key", "admin")];

/// Adds one HTTP bearer scheme per role: the gateway reads `Authorization: Bearer <key>`
/// and the role comes from the key's configuration.
struct KeySchemes;

impl Modify for KeySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (scheme, role) in KEY_SCHEMES {
            components.add_security_scheme(
                scheme,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(format!(
                            "`Authorization: Bearer <key>` with a key of role `{role}` ([[keys]] in policy.toml)"
                        )))
                        .build(),
                ),
            );
        }
    }
}

static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "health",
    responses((status = 200, description = "The API's OpenAPI 3.1 document (no key needed)", content_type = "application/json", body = Object))
)]
pub async fn serve() -> impl IntoResponse {
    Json(&*DOCUMENT)
}

/// An audit event as apps send it. Unknown top-level fields are refused.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The client's unique id: a repeat within the idempotency window answers the first `seq`.
    #[schema(required = false, min_length = 1, max_length = 128)]
    pub id: String,
    /// When it happened (RFC 3339, years 0000-9999 in UTC); default: when it was received.
    #[schema(required = false, format = DateTime)]
    pub time: String,
    /// What happened, e.g. `user.login`.
    #[schema(min_length = 1, max_length = 128, pattern = "^[a-z0-9_.:-]+$")]
    pub action: String,
    pub outcome: Outcome,
    /// User id or the attempted user name.
    #[schema(required = false, min_length = 1, max_length = 256)]
    pub user: String,
    /// IPv4 or IPv6 address; stored in canonical form.
    #[schema(required = false)]
    pub ip: String,
    #[schema(required = false, min_length = 1, max_length = 2048)]
    pub user_agent: String,
    #[schema(required = false, min_length = 1, max_length = 256)]
    pub session_id: String,
    #[schema(required = false, min_length = 1, max_length = 256)]
    pub request_id: String,
    #[schema(required = false, min_length = 1, max_length = 256)]
    pub resource_type: String,
    #[schema(required = false, min_length = 1, max_length = 1024)]
    pub resource_id: String,
    /// Why, e.g. `wrong_password`.
    #[schema(required = false, min_length = 1, max_length = 1024)]
    pub reason: String,
    /// Default `info`.
    #[schema(required = false)]
    pub severity: Severity,
    /// Free-form.
    #[schema(required = false)]
    pub details: Map<String, Value>,
    /// For admin and configuration changes.
    #[schema(required = false)]
    pub changes: Changes,
}

/// The body of `POST /v1/events`: one event, or an array of events.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum EventBody {
    One(Box<EventInput>),
    Many(Vec<EventInput>),
}

/// How the action ended.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Error,
    Unknown,
}

/// How much the event matters.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// `{"before": {...}, "after": {...}}`, either may be left out.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    #[schema(required = false)]
    pub before: Map<String, Value>,
    #[schema(required = false)]
    pub after: Map<String, Value>,
}

/// A stored record: the event's fields (normalized: `time` in UTC with microseconds, `ip`
/// canonical, `severity` present) plus what the gateway adds.
#[derive(Serialize, ToSchema)]
pub struct StoredEvent {
    /// Position in the log, from 1.
    #[schema(minimum = 1)]
    pub seq: u64,
    /// Hex leaf hash of the record before (the hash chain).
    pub prev: String,
    #[schema(format = DateTime)]
    pub time: String,
    #[schema(format = DateTime)]
    pub received_at: String,
    /// Name of the API key that sent it.
    pub source: String,
    /// Hash of the configuration and policy modules that processed it.
    pub policy_set: String,
    pub action: String,
    pub outcome: Outcome,
    pub severity: Severity,
    /// JSON pointers the policies masked, removed or pseudonymized.
    #[schema(required = false)]
    pub redacted: Vec<String>,
    #[schema(required = false)]
    pub tags: Vec<String>,
    #[schema(required = false)]
    pub id: String,
    #[schema(required = false)]
    pub user: String,
    #[schema(required = false)]
    pub ip: String,
    #[schema(required = false)]
    pub details: Map<String, Value>,
}

/// One alert raised by a policy.
#[derive(Serialize, ToSchema)]
pub struct Alert {
    pub id: u64,
    /// The event that raised it.
    pub seq: u64,
    pub time: String,
    pub policy: String,
    pub rule: String,
    pub severity: String,
    pub summary: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// Delivery state at each `[[sink]]` the alert went to (see `DeliveryStatus`).
    pub delivery: Vec<DeliveryStatus>,
}

/// Where the delivery of one alert to one sink stands (the durable outbox).
#[derive(Serialize, ToSchema)]
pub struct DeliveryStatus {
    /// The sink's name.
    pub sink: String,
    /// `pending` (retried at `next_attempt`), `delivered`, or `dead` (every allowed
    /// attempt failed).
    #[schema(pattern = "^(pending|delivered|dead)$")]
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last failed attempt's error.
    pub last_error: Option<String>,
    /// When the next attempt is due (RFC 3339); null once delivered or dead.
    pub next_attempt: Option<String>,
}

/// One event a policy failed on under `on_error = "quarantine"`.
#[derive(Serialize, ToSchema)]
pub struct QuarantineItem {
    pub id: u64,
    pub received_at: String,
    pub source: String,
    pub policy: String,
    pub error: String,
    /// The event as received (validated, before the failing policy).
    pub event: Map<String, Value>,
}

/// The result of one event of an ingest request.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum IngestResult {
    /// Stored (durable), or already stored under the same `id`.
    Stored {
        seq: u64,
        /// Present (true) when the `id` was already stored: `seq` is the first one's.
        #[schema(required = false)]
        duplicate: bool,
    },
    /// Kept in quarantine, not in the log.
    Quarantined {
        /// The quarantine entry's id (`GET /v1/quarantine`).
        quarantined: u64,
        error: String,
    },
    /// Refused: invalid, or rejected by a policy.
    Refused {
        /// Position in the request (0-based).
        index: usize,
        /// NDJSON only: the line number (1-based).
        #[schema(required = false)]
        line: usize,
        error: ErrorDetail,
    },
}

/// Sort order of a page.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Asc,
    Desc,
}

/// The event filters `GET /v1/events` and `GET /v1/export` share (all optional; empty
/// values are ignored): both parse them with `query::event_filters`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the handlers from a map; this type only documents them
pub struct EventSelection {
    user: Option<String>,
    /// Exact action, or a prefix ending in `*` (`user.*`).
    action: Option<String>,
    /// `success`, `failure`, `error` or `unknown` (another value matches nothing).
    outcome: Option<String>,
    /// IPv4 or IPv6 address.
    ip: Option<String>,
    resource_type: Option<String>,
    resource_id: Option<String>,
    session_id: Option<String>,
    /// Name of the key that sent the event.
    source: Option<String>,
    /// Events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Events before this time (RFC 3339).
    #[param(format = DateTime)]
    to: Option<String>,
}

/// Paging of `GET /v1/events`, beside [`EventSelection`].
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the handler from a map; this type only documents them
pub struct EventFilters {
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(inline)]
    order: Option<SortOrder>,
}

/// Filters of `GET /v1/alerts` (all optional; empty values are ignored).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the handler from a map; this type only documents them
pub struct AlertFilters {
    rule: Option<String>,
    severity: Option<String>,
    policy: Option<String>,
    /// Alerts raised by the event with this `seq`.
    seq: Option<u64>,
    /// Alerts with at least one sink in this delivery state: `pending`, `delivered`, `dead`.
    #[param(pattern = "^(pending|delivered|dead)$")]
    delivery: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(inline)]
    order: Option<SortOrder>,
}
