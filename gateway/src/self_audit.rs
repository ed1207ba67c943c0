//! The gateway's own audit trail (PCI DSS 10.2.1.3, 10.2.1.4, 10.2.1.6): it writes, into the
//! same chained log as everything else and with `source = "auditgate"`, its start and stop,
//! every reload (with the config file's SHA-256 before and after), every failed
//! authentication against its API (raising an alert after [`FAILURE_THRESHOLD`] failures by
//! one key or one IP within [`FAILURE_WINDOW`]), every refused role, and every auditor
//! read of the log (route, parameters, answer status). Erasure, key rotation, legal holds
//! and retention runs write their own records where they happen (`own_events`).
//!
//! A self-audit record that cannot be written (a full disk) never fails the request that
//! caused it: reads keep working while the store cannot write. It is logged and counted
//! (`auditgate_self_audit_failures_total`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::own_events::{GATEWAY_SOURCE, append_event, gateway_event};
use crate::store::{NewAlert, NewRecord, Store};

/// `action` of the record written once the gateway listens.
pub const START_ACTION: &str = "auditgate.start";
/// `action` of the record written on SIGTERM/SIGINT, before the final flush and checkpoint.
pub const STOP_ACTION: &str = "auditgate.stop";
/// `action` of the record of every reload, applied or refused.
pub const RELOAD_ACTION: &str = "auditgate.config.reload";
/// `action` of the record of a request refused 401 (no, a malformed, or an unknown key).
pub const AUTH_FAILURE_ACTION: &str = "auditgate.auth.failure";
/// `action` of the record of a request refused 403 (a known key with the wrong role).
pub const ACCESS_DENIED_ACTION: &str = "auditgate.access.denied";
/// `action` of the record of an auditor's read of the log (query, export, lookup, ...).
pub const ACCESS_ACTION: &str = "auditgate.access";
/// `rule` of the alert raised on repeated failed authentications.
pub const AUTH_ALERT_RULE: &str = "api_auth_failures";

/// Failed authentications by one key or one IP, within [`FAILURE_WINDOW`], that raise an
/// alert.
pub const FAILURE_THRESHOLD: usize = 5;
/// The window [`FAILURE_THRESHOLD`] is counted in; also the least time between two alerts
/// about the same key or IP.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Keys and IPs tracked at most; past it, those with no failure in the window are dropped
/// first, so a scan over many addresses cannot grow memory without bound.
const MAX_TRACKED: usize = 50_000;

/// Why a request was refused 401, as the self-audit record says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    MissingKey,
    /// An `Authorization` header that is not `Bearer <key>` text.
    MalformedHeader,
    /// A key no `[[keys]]` entry has; `fingerprint` is its pseudonym (`GET /v1/lookup` of the
    /// key gives the same), never the key.
    UnknownKey { fingerprint: String },
}

impl AuthFailure {
    fn reason(&self) -> &'static str {
        match self {
            AuthFailure::MissingKey => "missing_key",
            AuthFailure::MalformedHeader => "malformed_header",
            AuthFailure::UnknownKey { .. } => "unknown_key",
        }
    }
}

/// One HTTP request as the self-audit records it.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub method: String,
    /// The path asked for.
    pub path: String,
    /// The route pattern it matched (`/v1/events/{seq}`), if any.
    pub route: Option<String>,
    /// The peer's address (behind a proxy: the proxy's).
    pub ip: Option<IpAddr>,
    /// The answer's status code.
    pub status: u16,
}

/// Writes the gateway's own records; one per gateway, shared by the HTTP layer, the
/// reloader and start-up.
pub struct SelfAudit {
    store: Store,
    failures: Mutex<FailureTracker>,
}

impl SelfAudit {
    /// A self-audit writing into `store`.
    pub fn new(store: Store) -> Self {
        Self { store, failures: Mutex::new(FailureTracker::default()) }
    }

    /// The gateway listens: version, config hash, active policy set, address, encryption.
    pub async fn started(&self, details: Value) -> Option<u64> {
        let record = gateway_event(
            START_ACTION,
            "success",
            GATEWAY_SOURCE,
            ("gateway", "auditgate"),
            details,
            "self-audit",
        );
        self.write(record).await
    }

    /// The gateway got a stop signal and stops taking requests; written before the final
    /// flush, so the final checkpoint covers it.
    pub async fn stopping(&self, details: Value) -> Option<u64> {
        let record = gateway_event(
            STOP_ACTION,
            "success",
            GATEWAY_SOURCE,
            ("gateway", "auditgate"),
            details,
            "self-audit",
        );
        self.write(record).await
    }

    /// A reload, applied (`outcome = "success"`, with `changes` before/after: what change
    /// management reports look for) or refused (`"failure"`), by `actor`.
    pub async fn reloaded(
        &self,
        actor: &str,
        success: bool,
        details: Value,
        changes: Option<Value>,
    ) -> Option<u64> {
        let outcome = if success { "success" } else { "failure" };
        let mut record =
            gateway_event(RELOAD_ACTION, outcome, actor, ("config", "policy.toml"), details, "self-audit");
        if !success {
            set_severity(&mut record, "medium");
        }
        if let Some(changes) = changes {
            record.event.insert("changes".into(), changes);
        }
        self.write(record).await
    }

    /// A request refused 401. Raises an alert (in the same record) when this failure is the
    /// [`FAILURE_THRESHOLD`]th within [`FAILURE_WINDOW`] from its IP or with its key.
    pub async fn auth_failed(&self, failure: &AuthFailure, request: &RequestFacts) -> Option<u64> {
        let mut subjects = Vec::with_capacity(2);
        if let AuthFailure::UnknownKey { fingerprint } = failure {
            subjects.push(("key", fingerprint.clone()));
        }
        if let Some(ip) = request.ip {
            subjects.push(("ip", ip.to_string()));
        }
        let alerts = {
            let mut tracker = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            subjects
                .iter()
                .filter_map(|(kind, value)| {
                    let count = tracker.note(format!("{kind}:{value}"), now)?;
                    Some(failure_alert(kind, value, count))
                })
                .collect::<Vec<_>>()
        };
        let mut extra = Map::new();
        extra.insert("reason".into(), json!(failure.reason()));
        if let AuthFailure::UnknownKey { fingerprint } = failure {
            extra.insert("key_fingerprint".into(), json!(fingerprint));
        }
        let mut record = request_record(AUTH_FAILURE_ACTION, "failure", GATEWAY_SOURCE, request, extra);
        set_severity(&mut record, if alerts.is_empty() { "low" } else { "high" });
        if !alerts.is_empty() {
            tracing::warn!(ip = ?request.ip, reason = failure.reason(), "repeated failed authentication: alert raised");
        }
        record.alerts = alerts;
        self.write(record).await
    }

    /// A request by the key `actor` refused 403 for its role.
    pub async fn access_denied(&self, actor: &str, role: &str, request: &RequestFacts) -> Option<u64> {
        let mut extra = Map::new();
        extra.insert("role".into(), json!(role));
        let mut record = request_record(ACCESS_DENIED_ACTION, "failure", actor, request, extra);
        set_severity(&mut record, "low");
        self.write(record).await
    }

    /// An auditor's read of the log by `actor`, with the parameters it asked with (`params`,
    /// already stripped of anything that must not be stored in clear).
    pub async fn accessed(
        &self,
        actor: &str,
        request: &RequestFacts,
        params: Map<String, Value>,
    ) -> Option<u64> {
        let mut extra = Map::new();
        extra.insert("params".into(), Value::Object(params));
        let outcome = if request.status < 400 { "success" } else { "failure" };
        let record = request_record(ACCESS_ACTION, outcome, actor, request, extra);
        self.write(record).await
    }

    /// Appends `record` durably; a failure is logged and counted, and answered as `None`.
    async fn write(&self, record: NewRecord) -> Option<u64> {
        let action = record.event.get("action").and_then(Value::as_str).unwrap_or("").to_string();
        match append_event(&self.store, record).await {
            Ok(seq) => Some(seq),
            Err(e) => {
                crate::metrics::global().self_audit_failed();
                tracing::error!(action = %action, error = %e, "a self-audit record could not be written");
                None
            }
        }
    }
}

/// The record of an HTTP request by `actor`: `details` are the request's facts followed by
/// `extra`; `ip` is the peer's.
fn request_record(
    action: &str,
    outcome: &str,
    actor: &str,
    request: &RequestFacts,
    extra: Map<String, Value>,
) -> NewRecord {
    let mut details = request_details(request);
    details.extend(extra);
    let mut record =
        gateway_event(action, outcome, actor, ("api", &request.path), Value::Object(details), "self-audit");
    set_ip(&mut record, request.ip);
    record
}

fn request_details(request: &RequestFacts) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("method".into(), json!(request.method));
    details.insert("path".into(), json!(request.path));
    if let Some(route) = &request.route {
        details.insert("route".into(), json!(route));
    }
    details.insert("status".into(), json!(request.status));
    details
}

fn set_severity(record: &mut NewRecord, severity: &str) {
    record.event.insert("severity".into(), json!(severity));
}

fn set_ip(record: &mut NewRecord, ip: Option<IpAddr>) {
    if let Some(ip) = ip {
        record.event.insert("ip".into(), json!(ip.to_string()));
    }
}

fn failure_alert(kind: &str, value: &str, count: usize) -> NewAlert {
    let window = FAILURE_WINDOW.as_secs();
    let who = if kind == "ip" { format!("from {value}") } else { format!("with key {value}") };
    NewAlert {
        policy: GATEWAY_SOURCE.to_string(),
        rule: AUTH_ALERT_RULE.to_string(),
        severity: "high".to_string(),
        summary: format!("{count} failed authentications {who} against the gateway's API within {window} s"),
        labels: vec![
            ("subject".to_string(), kind.to_string()),
            (kind.to_string(), value.to_string()),
            ("failures".to_string(), count.to_string()),
            ("window_secs".to_string(), window.to_string()),
        ],
    }
}

/// Recent failures per subject (`ip:…`, `key:…`) and when each last raised an alert.
#[derive(Debug, Default)]
struct FailureTracker {
    seen: HashMap<String, VecDeque<Instant>>,
    alerted: HashMap<String, Instant>,
}

impl FailureTracker {
    /// Counts a failure of `subject` at `now`; answers the count in the window when it
    /// raises an alert: at least [`FAILURE_THRESHOLD`], and no alert about this subject
    /// within the last [`FAILURE_WINDOW`].
    fn note(&mut self, subject: String, now: Instant) -> Option<usize> {
        if self.seen.len() >= MAX_TRACKED && !self.seen.contains_key(&subject) {
            self.forget_stale(now);
        }
        let times = self.seen.entry(subject.clone()).or_default();
        times.push_back(now);
        while times.front().is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW) {
            times.pop_front();
        }
        // Only the last THRESHOLD matter for the rule: keep memory per subject bounded.
        while times.len() > FAILURE_THRESHOLD {
            times.pop_front();
        }
        let count = times.len();
        let quiet = self.alerted.get(&subject).is_none_or(|t| now.duration_since(*t) > FAILURE_WINDOW);
        if count >= FAILURE_THRESHOLD && quiet {
            self.alerted.insert(subject, now);
            Some(count)
        } else {
            None
        }
    }

    fn forget_stale(&mut self, now: Instant) {
        let fresh = |t: &Instant| now.duration_since(*t) <= FAILURE_WINDOW;
        self.seen.retain(|_, times| times.back().is_some_and(fresh));
        self.alerted.retain(|_, t| fresh(t));
        if self.seen.len() >= MAX_TRACKED {
            // Every one is recent (a scan from many addresses): start over rather than grow.
            self.seen.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_failure_in_the_window_alerts_once() {
        let mut t = FailureTracker::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        for i in 0..4 {
            assert_eq!(t.note("ip:10.0.0.1".into(), at(i)), None, "failure {}", i + 1);
        }
        assert_eq!(t.note("ip:10.0.0.1".into(), at(4)), Some(5));
        // More failures inside the window: no second alert.
        assert_eq!(t.note("ip:10.0.0.1".into(), at(5)), None);
        assert_eq!(t.note("ip:10.0.0.1".into(), at(200)), None);
        // Another subject counts alone.
        assert_eq!(t.note("ip:10.0.0.2".into(), at(6)), None);
        // Past the window from the last alert, five fresh failures alert again.
        for s in 600..604 {
            assert_eq!(t.note("ip:10.0.0.1".into(), at(s)), None);
        }
        assert_eq!(t.note("ip:10.0.0.1".into(), at(604)), Some(5));
    }

    #[test]
    fn failures_spread_wider_than_the_window_do_not_alert() {
        let mut t = FailureTracker::default();
        let start = Instant::now();
        for i in 0..20 {
            // One failure every 90 s: never five within 300 s.
            assert_eq!(t.note("key:k".into(), start + Duration::from_secs(i * 90)), None, "failure {i}");
        }
    }

    #[test]
    fn tracking_stays_bounded() {
        let mut t = FailureTracker::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED + 10) {
            t.note(format!("ip:{i}"), now);
        }
        assert!(t.seen.len() <= MAX_TRACKED, "{}", t.seen.len());
    }
}
