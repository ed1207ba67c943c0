//! The HTTP side of the self-audit (`crate::self_audit`): one middleware that, once a
//! request is answered and before the answer leaves, records
//! - every 401 (no, a malformed or an unknown key) as `auditgate.auth.failure`, counting
//!   towards the repeated-failure alert;
//! - every 403 of a known key (wrong role, missing client certificate) as
//!   `auditgate.access.denied`;
//! - every auditor read of the log ([`AUDITED_READS`]) as `auditgate.access`, with its
//!   parameters and status.
//!
//! Recording after the handler means a query's answer never contains its own record, and
//! the record carries the answer's status. An export's body streams after this point; its
//! walk stops at the last record committed before the export began, so it never contains
//! its own record either.
//!
//! Ingest requests that succeed pass through with two cheap clones and no store work.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, MatchedPath, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::self_audit::{AuthFailure, RequestFacts};
use crate::tls::Connection;

/// The routes (all `GET`, auditor role) whose every use is recorded: the reads of the log's
/// content. `/v1/checkpoint` and `/v1/consistency` are not: they answer tree hashes only,
/// and monitors and witnesses poll them.
pub const AUDITED_READS: [&str; 10] = [
    "/v1/events",
    "/v1/events/{seq}",
    "/v1/events/{seq}/proof",
    "/v1/alerts",
    "/v1/export",
    "/v1/lookup",
    "/v1/quarantine",
    "/v1/stats",
    "/v1/reports/{framework}",
    "/v1/verify",
];

/// The middleware (see the module doc).
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // `MatchedPath` is an `Arc<str>`: cloning it does not allocate.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let audited_read = request.method() == Method::GET
        && route.as_ref().is_some_and(|r| AUDITED_READS.contains(&r.as_str()));
    let method = request.method().clone();
    let uri = request.uri().clone();
    let authorization = request.headers().get(header::AUTHORIZATION).cloned();
    let ip = request.extensions().get::<ConnectInfo<Connection>>().map(|c| c.0.peer.ip());
    let response = next.run(request).await;
    let status = response.status();
    if !audited_read && status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return response;
    }
    let facts = RequestFacts {
        method: method.to_string(),
        path: uri.path().to_string(),
        route: route.map(|r| r.as_str().to_string()),
        ip: ip.map(canonical_ip),
        status: status.as_u16(),
    };
    let presented = presented_key(authorization.as_ref());
    let caller = presented.and_then(|key| state.keys.authenticate(key));
    match (status, caller) {
        (StatusCode::UNAUTHORIZED, _) | (_, None) => {
            let failure = match (authorization.is_some(), presented) {
                (false, _) => AuthFailure::MissingKey,
                (true, None) => AuthFailure::MalformedHeader,
                (true, Some(key)) => AuthFailure::UnknownKey { fingerprint: pseudonym(&state, key) },
            };
            // A 4xx answered before authentication (a 404 of the fallback never gets
            // here: it is not an audited route) is not a failed authentication.
            if status == StatusCode::UNAUTHORIZED {
                state.audit.auth_failed(&failure, &facts).await;
            }
        }
        (StatusCode::FORBIDDEN, Some(caller)) => {
            state.audit.access_denied(&caller.name, caller.role.as_str(), &facts).await;
        }
        (_, Some(caller)) => {
            let params = recorded_params(&state, &uri, facts.route.as_deref());
            state.audit.accessed(&caller.name, &facts, params).await;
        }
    }
    response
}

/// The key of an `Authorization: Bearer KEY` header, as the extractor reads it.
fn presented_key(header: Option<&HeaderValue>) -> Option<&str> {
    header?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// A query parameter's value as the self-audit stores it: masked whole when its name is
/// secret (`?token=…`), else with what the redaction policy's default detectors find
/// masked (a JWT pasted as `session_id=`). E-mail addresses stay, as in events: auditors
/// search by user.
fn redacted_param(name: &str, value: &str) -> String {
    use auditgate_sdk::detect::{self, Detectors, Kind, inline};
    if inline::default_names().matches(name) {
        return "[REDACTED]".to_string();
    }
    let spans = Detectors::all().without(Kind::Email).scan(value);
    if spans.is_empty() { value.to_string() } else { detect::redact(value, &spans, detect::default_marker) }
}

/// The HMAC pseudonym of `value` under the gateway's pseudonymization key: what `GET
/// /v1/lookup` answers, so an auditor can match a suspected value without it being stored.
fn pseudonym(state: &AppState, value: &str) -> String {
    state.reloader.active().load().pseudonymizer().pseudonym(value.as_bytes())
}

/// An IPv4 peer on a dual-stack socket arrives as `::ffff:a.b.c.d`; events store `a.b.c.d`.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The query parameters as a JSON object (a repeated name becomes an array), cleaned as
/// an event would be: every parameter of `GET /v1/lookup` but `table` is personal data by
/// purpose (misspelled ones included) and is kept as its pseudonym (`value` →
/// `value_pseudonym`); elsewhere a value goes through [`redacted_param`].
fn recorded_params(state: &AppState, uri: &Uri, route: Option<&str>) -> Map<String, Value> {
    let mut params = Map::new();
    let Ok(Query(pairs)) = Query::<Vec<(String, String)>>::try_from_uri(uri) else {
        // Not stored as sent: an unparsable query may hold anything.
        params.insert("unparsed_query_pseudonym".into(), json!(pseudonym(state, uri.query().unwrap_or(""))));
        return params;
    };
    for (name, value) in pairs {
        let (name, value) = if route == Some("/v1/lookup") && name != "table" {
            (format!("{name}_pseudonym"), json!(pseudonym(state, &value)))
        } else {
            let value = redacted_param(&name, &value);
            (name, json!(value))
        };
        match params.get_mut(&name) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = json!([first.take(), value]),
            None => {
                params.insert(name, value);
            }
        }
    }
    params
}
