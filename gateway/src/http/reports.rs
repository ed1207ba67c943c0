//! `GET /v1/reports/{framework}` (auditor): a compliance report over a period, as JSON or
//! as a printable HTML page (see `crate::reports`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::IntoParams;

use super::AppState;
use super::auth::Authenticated;
use super::error::{ApiError, ErrorBody};
use super::query::check_params;
use super::stats::{DAY_MICROS, align, period};
use crate::config::Role;
use crate::reports::{self, Framework, Report, Setting};
use crate::store::HOUR_MICROS;

/// Default report period: the last 30 days.
const DEFAULT_SPAN: i64 = 30 * DAY_MICROS;

/// Query parameters of `GET /v1/reports/{framework}` (all optional).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by the handler from a map; this type only documents them
pub struct ReportParams {
    /// Period start (RFC 3339), rounded down to the hour; default `to` − 30 days.
    #[param(format = DateTime)]
    from: Option<String>,
    /// Period end, exclusive (RFC 3339), rounded up to the hour; default now.
    #[param(format = DateTime)]
    to: Option<String>,
    /// `json` (default) or `html` (a printable page).
    #[param(pattern = "^(json|html)$")]
    format: Option<String>,
}

/// `GET /v1/reports/{framework}`.
#[utoipa::path(
    get,
    path = "/v1/reports/{framework}",
    tag = "reports",
    security(("auditor_key" = [])),
    params(
        ("framework" = String, Path, pattern = "^(pci-dss|soc2|sox|gdpr|iso27001)$",
            description = "`pci-dss`, `soc2`, `sox`, `gdpr` or `iso27001`"),
        ReportParams,
    ),
    responses(
        (status = 200, description = "The report: per requirement its evidence and `met` or `gap`",
            content((Report = "application/json"), (String = "text/html"))),
        (status = 400, description = "A bad time or format, `from` not before `to`, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "Missing or unknown key", body = ErrorBody),
        (status = 403, description = "The key is not an auditor key", body = ErrorBody),
        (status = 404, description = "No such framework", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    auth: Authenticated,
    path: Result<Path<String>, PathRejection>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    auth.require(Role::Auditor)?;
    check_params(&params, &["from", "to", "format"])?;
    let Path(name) =
        path.map_err(|e| ApiError::bad_query(format!("invalid `framework`: {}", e.body_text())))?;
    let framework = Framework::from_slug(&name).ok_or_else(|| {
        let known: Vec<&str> = Framework::ALL.iter().map(|f| f.slug()).collect();
        ApiError::not_found(format!("no report for framework {name:?}; known: {}", known.join(", ")))
    })?;
    let html = match params.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("html") => true,
        Some(other) => {
            return Err(ApiError::bad_query(format!("`format` must be `json` or `html`, got {other:?}")));
        }
    };
    let (from, to) = period(&params, DEFAULT_SPAN)?;
    let (from, to) = align(from, to, HOUR_MICROS);
    let store = state.store.clone();
    let config_path = state.reloader.config_path().to_path_buf();
    let built = tokio::task::spawn_blocking(move || {
        let setting = Setting::read(&config_path, &store);
        reports::build(&store, framework, from, to, &setting)
    })
    .await
    .map_err(|e| ApiError::unavailable(format!("report worker failed: {e}")))?
    .map_err(|e| ApiError::unavailable(format!("the audit log could not be read: {e}")))?;
    Ok(if html {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], reports::html::render(&built)).into_response()
    } else {
        Json(built).into_response()
    })
}
