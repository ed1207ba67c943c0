//! `GET /v1/stats` (auditor): event counts per hour or day, grouped by action, outcome,
//! user or IP, with the top failing users, the top IPs and the alert count, answered from
//! the store's hourly rollups.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use super::query::check_params;
use crate::config::Role;
use crate::store::{ActionMatch, HOUR_MICROS, StatsBy, StatsQuery};

/// Most buckets one answer may hold.
pub const MAX_BUCKETS: i64 = 10_000;
/// Length of the top lists.
pub const TOP: usize = 10;
pub const DAY_MICROS: i64 = 24 * HOUR_MICROS;
const PARAMS: [&str; 6] = ["from", "to", "bucket", "by", "action", "outcome"];
/// The outcomes the event schema allows.
pub const OUTCOMES: [&str; 4] = ["success", "failure", "error", "unknown"];

/// Query parameters of `GET /v1/stats` (all optional).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the handler from a map; this type only documents them
pub struct StatsParams {
    /// Start (RFC 3339), rounded down to the bucket; default `to` − 24 h.
    #[param(format = DateTime)]
    from: Option<String>,
    /// End, exclusive (RFC 3339), rounded up to the bucket; default now.
    #[param(format = DateTime)]
    to: Option<String>,
    /// `hour` (default) or `day` (UTC days).
    #[param(pattern = "^(hour|day)$")]
    bucket: Option<String>,
    /// `action` (default), `outcome`, `user` or `ip`.
    #[param(pattern = "^(action|outcome|user|ip)$")]
    by: Option<String>,
    /// Exact action, or a prefix ending in `*` (`user.*`).
    action: Option<String>,
    /// `success`, `failure`, `error` or `unknown`.
    #[param(pattern = "^(success|failure|error|unknown)$")]
    outcome: Option<String>,
}

/// `GET /v1/stats`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsAnswer {
    /// The counted range's start: `from` rounded down to the bucket.
    pub from: String,
    /// The counted range's end (exclusive): `to` rounded up to the bucket.
    pub to: String,
    /// `hour` or `day`.
    pub bucket: String,
    /// `action`, `outcome`, `user` or `ip`.
    pub by: String,
    /// Every bucket of `[from, to)` in order; a bucket without events has `counts: {}`.
    pub buckets: Vec<StatsBucket>,
    /// Events per group value over the whole range.
    pub totals: BTreeMap<String, u64>,
    /// Users with the most `failure` events (at most 10), most first.
    pub top_failed_users: Vec<FailedUser>,
    /// IPs with the most events (at most 10), most first.
    pub top_ips: Vec<TopIp>,
    /// Alerts raised on the counted events.
    pub alerts: u64,
}

/// One bucket of a stats answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBucket {
    /// The bucket's start (RFC 3339, UTC).
    pub start: String,
    /// Events per group value in this bucket.
    pub counts: BTreeMap<String, u64>,
}

/// A user of the top failures list.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedUser {
    pub user: String,
    /// Events with `outcome = failure`.
    pub failures: u64,
}

/// An IP of the top list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopIp {
    pub ip: String,
    pub events: u64,
}

/// RFC 3339 (UTC, whole seconds) of a time in µs.
pub fn rfc3339(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Reads `from` and `to` (RFC 3339); defaults: `to` now, `from` `default_span` µs before.
/// Refuses `from >= to`.
pub fn period(params: &HashMap<String, String>, default_span: i64) -> Result<(i64, i64), ApiError> {
    let time = |key: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(key)
            .map(|s| {
                DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_micros()).map_err(|e| {
                    ApiError::bad_query(format!("`{key}` must be an RFC 3339 time, got {s:?} ({e})"))
                })
            })
            .transpose()
    };
    let to = time("to")?.unwrap_or_else(|| Utc::now().timestamp_micros());
    let from = time("from")?.unwrap_or(to - default_span);
    if from >= to {
        return Err(ApiError::bad_query(format!(
            "`from` ({}) must be before `to` ({})",
            rfc3339(from),
            rfc3339(to)
        )));
    }
    Ok((from, to))
}

/// `[from, to)` widened to whole buckets of `size` µs.
pub fn align(from: i64, to: i64, size: i64) -> (i64, i64) {
    (from.div_euclid(size) * size, -((-to).div_euclid(size)) * size)
}

/// The `action` filter: exact, or a prefix ending in `*`; the event schema's characters.
fn action_filter(value: Option<&String>) -> Result<Option<ActionMatch>, ApiError> {
    let Some(a) = value.filter(|a| !a.is_empty()) else { return Ok(None) };
    let (body, prefix) = match a.strip_suffix('*') {
        Some(p) => (p, true),
        None => (a.as_str(), false),
    };
    let valid = body.len() <= 128
        && body.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b));
    if !valid || (!prefix && body.is_empty()) {
        return Err(ApiError::bad_query(format!(
            "`action` must be an action ([a-z0-9_.:-], at most 128) or a prefix ending in `*`, got {a:?}"
        )));
    }
    Ok(Some(if prefix { ActionMatch::Prefix(body.into()) } else { ActionMatch::Exact(body.into()) }))
}

/// `GET /v1/stats`.
#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "reports",
    security(("auditor_key" = [])),
    params(StatsParams),
    responses(
        (status = 200, description = "Counts per bucket, totals, top lists and alerts", body = StatsAnswer),
        (status = 400, description = "A bad time, bucket, by, action or outcome, `from` not before `to`, \
            more than 10000 buckets, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<StatsAnswer>, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &PARAMS)?;
    let (bucket, size) = match params.get("bucket").map(String::as_str) {
        None | Some("hour") => ("hour", HOUR_MICROS),
        Some("day") => ("day", DAY_MICROS),
        Some(other) => {
            return Err(ApiError::bad_query(format!("`bucket` must be `hour` or `day`, got {other:?}")));
        }
    };
    let (by_name, by) = match params.get("by").map(String::as_str) {
        None | Some("action") => ("action", StatsBy::Action),
        Some("outcome") => ("outcome", StatsBy::Outcome),
        Some("user") => ("user", StatsBy::User),
        Some("ip") => ("ip", StatsBy::Ip),
        Some(other) => {
            return Err(ApiError::bad_query(format!(
                "`by` must be `action`, `outcome`, `user` or `ip`, got {other:?}"
            )));
        }
    };
    let outcome = match params.get("outcome").filter(|o| !o.is_empty()) {
        Some(o) if OUTCOMES.contains(&o.as_str()) => Some(o.clone()),
        Some(o) => {
            return Err(ApiError::bad_query(format!(
                "`outcome` must be one of {}, got {o:?}",
                OUTCOMES.join(", ")
            )));
        }
        None => None,
    };
    let action = action_filter(params.get("action"))?;
    let (from, to) = period(&params, DAY_MICROS)?;
    let (from, to) = align(from, to, size);
    let n = (to - from) / size;
    if n > MAX_BUCKETS {
        return Err(ApiError::bad_query(format!(
            "`from`..`to` spans {n} {bucket} buckets; at most {MAX_BUCKETS} are answered (narrow the range or use bucket=day)"
        )));
    }
    let query =
        StatsQuery { from_micros: from, to_micros: to, bucket_micros: size, by, action, outcome, top: TOP };
    let store = state.store.clone();
    let result = tokio::task::spawn_blocking(move || store.stats(&query))
        .await
        .map_err(|e| ApiError::unavailable(format!("stats worker failed: {e}")))?
        .map_err(|e| ApiError::unavailable(format!("the audit log could not be read: {e}")))?;
    let buckets = result
        .buckets
        .into_iter()
        .enumerate()
        .map(|(i, counts)| StatsBucket { start: rfc3339(from + i as i64 * size), counts: summed(counts) })
        .collect();
    Ok(Json(StatsAnswer {
        from: rfc3339(from),
        to: rfc3339(to),
        bucket: bucket.into(),
        by: by_name.into(),
        buckets,
        totals: summed(result.totals),
        top_failed_users: result
            .top_failed_users
            .into_iter()
            .map(|(user, failures)| FailedUser { user, failures })
            .collect(),
        top_ips: result.top_ips.into_iter().map(|(ip, events)| TopIp { ip, events }).collect(),
        alerts: result.alerts,
    }))
}

/// Group values as a map; values shown alike (two erased users) are added up.
fn summed(pairs: Vec<(String, u64)>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        *out.entry(k).or_insert(0) += v;
    }
    out
}
