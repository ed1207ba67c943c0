//! `GET /ui` and `GET /ui/{asset}`: the auditors' dashboard. A static page whose script
//! signs in with an auditor key (kept in the tab's `sessionStorage`) and calls the `/v1`
//! read endpoints with it: search, event detail with an inclusion-proof check computed in
//! the browser, exports, the logins chart, alerts, chain and checkpoint status.
//!
//! The page itself needs no key (its API calls do). Its files are compiled into the binary
//! (`include_str!`): nothing is fetched from elsewhere, and a strict Content-Security-Policy
//! lets the page load only its own script and style and talk only to this gateway.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorBody};

/// The page: markup only; behaviour in `app.js`, looks in `app.css`.
const INDEX_HTML: &str = include_str!("ui/index.html");

/// The files under `/ui/`: name, content type, text.
const ASSETS: [(&str, &str, &str); 2] = [
    ("app.js", "text/javascript; charset=utf-8", include_str!("ui/app.js")),
    ("app.css", "text/css; charset=utf-8", include_str!("ui/app.css")),
];

/// Only this origin's script, style and API; no inline code, no framing, no forms posted away.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        // The assets change with the binary: always revalidate, never serve a stale script.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

/// The dashboard page.
#[utoipa::path(
    get,
    path = "/ui",
    tag = "dashboard",
    responses((
        status = 200,
        description = "The dashboard (HTML, no key needed; it asks for an auditor key and sends it \
            as a Bearer key to the `/v1` endpoints)",
        content_type = "text/html",
        body = String
    ))
)]
pub async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX_HTML)
}

/// One of the dashboard's files (`app.js`, `app.css`).
#[utoipa::path(
    get,
    path = "/ui/{asset}",
    tag = "dashboard",
    params(("asset" = String, Path, example = "app.js", description = "`app.js` or `app.css`")),
    responses(
        (status = 200, description = "The file (no key needed)", content((String = "text/javascript"), (String = "text/css"))),
        (status = 404, description = "No such file", body = ErrorBody),
    )
)]
pub async fn asset(path: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(name) =
        path.map_err(|e| ApiError::not_found(format!("no such dashboard file: {}", e.body_text())))?;
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => Ok(page(content_type, body)),
        None => {
            let names: Vec<&str> = ASSETS.iter().map(|(n, _, _)| *n).collect();
            Err(ApiError::not_found(format!("no dashboard file {name:?}; there are: {}", names.join(", "))))
        }
    }
}
