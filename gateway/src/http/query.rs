//! The auditor's read endpoints: list and filter events, one event, alerts, quarantine.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use chrono::DateTime;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use super::openapi::{Alert, AlertFilters, EventFilters, EventSelection, QuarantineItem, StoredEvent};
use crate::config::Role;
use crate::store::{AlertQuery, DeliveryState, EventQuery, Order, StoreError};

/// Most results one page may hold.
pub const MAX_LIMIT: usize = 1000;
const DEFAULT_LIMIT: usize = 100;

const EVENT_PARAMS: [&str; 13] = [
    "user",
    "action",
    "outcome",
    "ip",
    "resource_type",
    "resource_id",
    "session_id",
    "source",
    "from",
    "to",
    "limit",
    "cursor",
    "order",
];

/// `GET /v1/events`'s answer: one page, oldest first unless `order=desc`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    #[schema(value_type = Vec<StoredEvent>)]
    pub events: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/alerts`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    #[schema(value_type = Vec<Alert>)]
    pub alerts: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/quarantine`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantinePage {
    #[schema(value_type = Vec<QuarantineItem>)]
    pub items: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::InvalidCursor(_) => ApiError::bad_query(format!("invalid `cursor`: {e}")),
        other => ApiError::unavailable(format!("the audit log could not be read: {other}")),
    }
}

/// Refuses a query parameter outside `allowed`, naming it and the allowed ones.
pub(super) fn check_params(params: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    for key in params.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(ApiError::bad_query(format!(
                "unknown query parameter `{key}`; allowed: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

fn parse_limit(params: &HashMap<String, String>) -> Result<usize, ApiError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => {
                Err(ApiError::bad_query(format!("`limit` must be a number from 1 to {MAX_LIMIT}, got {s:?}")))
            }
        },
    }
}

fn parse_order(params: &HashMap<String, String>) -> Result<Order, ApiError> {
    match params.get("order").map(String::as_str) {
        None | Some("asc") => Ok(Order::Asc),
        Some("desc") => Ok(Order::Desc),
        Some(other) => Err(ApiError::bad_query(format!("`order` must be `asc` or `desc`, got {other:?}"))),
    }
}

fn parse_time(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(key)
        .map(|s| {
            DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_micros()).map_err(|e| {
                ApiError::bad_query(format!("`{key}` must be an RFC 3339 time, got {s:?} ({e})"))
            })
        })
        .transpose()
}

/// The filters and order of `GET /v1/events` (and `GET /v1/export`), with the default
/// page size and no cursor; bad values are refused naming the parameter.
pub(super) fn event_filters(params: &HashMap<String, String>) -> Result<EventQuery, ApiError> {
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let (action, action_prefix) = match get("action") {
        Some(a) => match a.strip_suffix('*') {
            Some(prefix) => (None, Some(prefix.to_string())),
            None => (Some(a), None),
        },
        None => (None, None),
    };
    let ip = match get("ip") {
        Some(ip) => Some(
            ip.parse::<IpAddr>()
                .map_err(|_| {
                    ApiError::bad_query(format!("`ip` must be an IPv4 or IPv6 address, got {ip:?}"))
                })?
                .to_string(),
        ),
        None => None,
    };
    Ok(EventQuery {
        user: get("user"),
        action,
        action_prefix,
        outcome: get("outcome"),
        ip,
        resource_type: get("resource_type"),
        resource_id: get("resource_id"),
        session_id: get("session_id"),
        source: get("source"),
        from_micros: parse_time(params, "from")?,
        to_micros: parse_time(params, "to")?,
        limit: DEFAULT_LIMIT,
        cursor: None,
        order: parse_order(params)?,
    })
}

/// `GET /v1/events`.
#[utoipa::path(
    get,
    path = "/v1/events",
    tag = "events",
    security(("auditor_key" = [])),
    params(EventSelection, EventFilters),
    responses(
        (status = 200, description = "One page of matching events", body = EventPage),
        (status = 400, description = "A bad filter, limit, order or cursor, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<EventPage>, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &EVENT_PARAMS)?;
    let query = EventQuery {
        limit: parse_limit(&params)?,
        cursor: params.get("cursor").filter(|v| !v.is_empty()).cloned(),
        ..event_filters(&params)?
    };
    let store = state.store.clone();
    let page = tokio::task::spawn_blocking(move || store.query(&query))
        .await
        .map_err(|e| ApiError::unavailable(format!("query worker failed: {e}")))?
        .map_err(store_error)?;
    Ok(Json(EventPage { events: page.items, next_cursor: page.next_cursor }))
}

/// The `{seq}` of a path, as a number. The path is taken as a `Result` so that one that is
/// not valid UTF-8 (`/v1/events/%FF`) gets the API's JSON error, not axum's plain text.
pub(super) fn seq_param(path: Result<Path<String>, PathRejection>) -> Result<u64, ApiError> {
    let Path(seq) = path.map_err(|e| ApiError::bad_query(format!("invalid `seq`: {}", e.body_text())))?;
    seq.parse().map_err(|_| ApiError::bad_query(format!("`seq` must be a positive integer, got {seq:?}")))
}

/// `GET /v1/events/{seq}`.
#[utoipa::path(
    get,
    path = "/v1/events/{seq}",
    tag = "events",
    security(("auditor_key" = [])),
    params(("seq" = u64, Path, minimum = 1, description = "The record's position in the log")),
    responses(
        (status = 200, description = "The stored record", body = StoredEvent),
        (status = 400, description = "`seq` is not a number", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 404, description = "No record with this `seq`", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn get_event(
    State(state): State<AppState>,
    auth: Authenticated,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    auth.require(Role::Auditor)?;
    let seq = seq_param(path)?;
    match state.store.get(seq).map_err(store_error)? {
        Some(record) => Ok(Json(record)),
        None => Err(ApiError::not_found(format!("no event with seq {seq}"))),
    }
}

/// `GET /v1/alerts`.
#[utoipa::path(
    get,
    path = "/v1/alerts",
    tag = "alerts",
    security(("auditor_key" = [])),
    params(AlertFilters),
    responses(
        (status = 200, description = "One page of alerts raised by policies", body = AlertPage),
        (status = 400, description = "A bad filter, limit, order or cursor, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn list_alerts(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AlertPage>, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &["rule", "severity", "policy", "seq", "delivery", "limit", "cursor", "order"])?;
    let get = |k: &str| params.get(k).filter(|v| !v.is_empty()).cloned();
    let seq = match get("seq") {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::bad_query(format!("`seq` must be a positive integer, got {s:?}")))?,
        ),
        None => None,
    };
    let delivery = match get("delivery") {
        Some(d) => Some(DeliveryState::parse(&d).ok_or_else(|| {
            ApiError::bad_query(format!("`delivery` must be pending, delivered or dead, got {d:?}"))
        })?),
        None => None,
    };
    let query = AlertQuery {
        rule: get("rule"),
        severity: get("severity"),
        policy: get("policy"),
        seq,
        delivery,
        limit: parse_limit(&params)?,
        cursor: get("cursor"),
        order: parse_order(&params)?,
    };
    let page = state.store.alerts(&query).map_err(store_error)?;
    Ok(Json(AlertPage { alerts: page.items, next_cursor: page.next_cursor }))
}

/// `GET /v1/quarantine` (admin): events a policy failed on under `on_error = "quarantine"`.
#[utoipa::path(
    get,
    path = "/v1/quarantine",
    tag = "alerts",
    security(("admin_key" = [])),
    params(
        ("limit" = Option<u32>, Query, nullable = false, minimum = 1, maximum = 1000,
            description = "Page size (default 100)"),
        ("cursor" = Option<String>, Query, nullable = false, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page of quarantined events", body = QuarantinePage),
        (status = 400, description = "A bad limit or cursor, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an admin key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn list_quarantine(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<QuarantinePage>, ApiError> {
    auth.require(Role::Admin)?;
    check_params(&params, &["limit", "cursor"])?;
    let limit = parse_limit(&params)?;
    let page =
        state.store.quarantine(limit, params.get("cursor").map(String::as_str)).map_err(store_error)?;
    Ok(Json(QuarantinePage { items: page.items, next_cursor: page.next_cursor }))
}
