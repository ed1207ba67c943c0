//! `GET /v1/export` (the log in a file format, streamed) and `GET /v1/lookup` (the
//! pseudonym of a value, to search pseudonymized fields). Auditor role.

use std::collections::HashMap;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use super::openapi::{EventSelection, SortOrder};
use super::query::{check_params, event_filters};
use crate::config::Role;
use crate::export::Format;
use crate::export::producer::{self, ExportRequest};

/// The query parameters of `GET /v1/export`: those of `GET /v1/events` without the
/// paging ones (`cursor`; `limit` caps the whole export), plus `format`.
pub const EXPORT_PARAMS: [&str; 13] = [
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
    "order",
    "format",
];

/// Chunks of output waiting for the client, at most (each about 64 KiB): the bound that
/// keeps an export's memory flat when the client reads slower than the store is walked.
const CHANNEL_CHUNKS: usize = 4;

/// The export formats, as the document names them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Jsonl,
    Csv,
    Ocsf,
    Cef,
}

/// What `GET /v1/export` takes beside the shared [`EventSelection`] filters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the handler from a map; this type only documents them
pub struct ExportFilters {
    /// Most events to export (default: every matching one).
    #[param(minimum = 1)]
    limit: Option<u64>,
    /// `asc` (default, oldest first) or `desc`.
    #[param(inline)]
    order: Option<SortOrder>,
    /// `jsonl` (default), `csv`, `ocsf` or `cef`.
    #[param(inline)]
    format: Option<ExportFormat>,
}

fn parse_format(params: &HashMap<String, String>) -> Result<Format, ApiError> {
    match params.get("format").map(String::as_str) {
        None | Some("") => Ok(Format::Jsonl),
        Some(name) => Format::parse(name).ok_or_else(|| {
            ApiError::bad_query(format!("`format` must be one of jsonl, csv, ocsf, cef; got {name:?}"))
        }),
    }
}

fn parse_limit(params: &HashMap<String, String>) -> Result<Option<u64>, ApiError> {
    match params.get("limit").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(ApiError::bad_query(format!("`limit` must be a positive number, got {s:?}"))),
        },
    }
}

/// `GET /v1/export`.
#[utoipa::path(
    get,
    path = "/v1/export",
    tag = "events",
    security(("auditor_key" = [])),
    params(EventSelection, ExportFilters),
    responses(
        (status = 200, description = "Every matching event, streamed, in the asked format: `jsonl` \
            (stored records, one per line), `csv` (RFC 4180, header row, the README's columns; a cell a \
            spreadsheet could evaluate as a formula, i.e. one starting with `=`, `+`, `-`, `@`, tab, CR, LF, \
            NUL or `'`, or with `=`, `+`, `-`, `@` or a full-width form of one after leading whitespace or \
            invisible characters, is written with one `'` in front: drop one leading `'` to get the stored \
            text), `ocsf` (OCSF 1.3 events, one per line, each followed by a Detection Finding per alert \
            raised for it), \
            `cef` (one CEF line per event and per alert). A read failure after the first byte ends the \
            body early (the transfer is cut, not completed).",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"auditgate-export-<time>.<ext>\"`")),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
                (String = "text/plain"),
            )),
        (status = 400, description = "A bad filter, limit, order or format, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let _caller = auth.require(Role::Auditor)?;
    check_params(&params, &EXPORT_PARAMS)?;
    let format = parse_format(&params)?;
    let request = ExportRequest {
        query: event_filters(&params)?,
        limit: parse_limit(&params)?,
        format,
        // Its self-audit record (written as the answer starts) is never part of it.
        through_seq: Some(state.store.count()),
    };

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(CHANNEL_CHUNKS);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let sent =
            producer::produce(&store, &request, |chunk| tx.blocking_send(Ok(Bytes::from(chunk))).is_ok());
        match sent {
            Ok(s) => tracing::debug!(
                format = format.as_str(),
                events = s.events,
                alerts = s.alerts,
                complete = s.complete,
                "export done"
            ),
            Err(e) => {
                tracing::error!(error = %e, "export failed; the answer is cut short");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        }
    });
    // A failure before the first byte can still be answered properly.
    let first = rx.recv().await;
    if let Some(Err(e)) = &first {
        return Err(ApiError::unavailable(e.to_string()));
    }
    let rest =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let body = Body::from_stream(futures_util::stream::iter(first).chain(rest));
    let filename =
        format!("auditgate-export-{}.{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"), format.extension());
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\""))
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .map_err(|e| ApiError::unavailable(format!("cannot build the answer: {e}")))
}

/// `GET /v1/lookup`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LookupAnswer {
    /// `hmac-sha256:<hex>`: what a policy's `pseudonymize` writes for the value; search
    /// with it (`GET /v1/events?user=...`, or in exported files).
    pub pseudonym: String,
}

/// `GET /v1/lookup`.
#[utoipa::path(
    get,
    path = "/v1/lookup",
    tag = "events",
    security(("auditor_key" = [])),
    params(
        ("value" = String, Query, description = "The value (e.g. an e-mail address); its pseudonym is \
            the HMAC-SHA256 of its UTF-8 bytes under the gateway's pseudonymization key"),
    ),
    responses(
        (status = 200, description = "The pseudonym the policies write for this value", body = LookupAnswer),
        (status = 400, description = "`value` missing or empty, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
    )
)]
pub async fn lookup(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<LookupAnswer>, ApiError> {
    let _caller = auth.require(Role::Auditor)?;
    check_params(&params, &["value"])?;
    let value = params
        .get("value")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_query("`value` is required: the value whose pseudonym to compute"))?;
    // Recorded by `audit_trail` with the pseudonym in place of the value.
    let pseudonym = state.reloader.active().load().pseudonymizer().pseudonym(value.as_bytes());
    Ok(Json(LookupAnswer { pseudonym }))
}
