//! Compliance reports (`GET /v1/reports/{framework}`): per requirement of a framework the
//! evidence from the log and `met` or `gap`. Counts come from the store's stats rollups
//! (`Store::activity`), examples from indexed queries, integrity from a bounded range
//! verify; nothing loads the period's events. The mapping is in [`mapping`], the printable
//! HTML in [`html`].

pub mod html;
pub mod mapping;

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::store::{ActivityRow, EventQuery, FieldCounts, Order, Store, StoreError};
pub use mapping::{Check, Framework, Requirement, action_matches};

/// Most records one report verifies; a longer period verifies its last ones.
pub const MAX_VERIFY: u64 = 1_000_000;
/// Example `seq`s shown per requirement.
const EXAMPLES: usize = 3;
/// The share of events that must carry each required field (10.2.2, A.8.15).
pub const FIELD_SHARE_MET: f64 = 0.95;
/// The share of events whose time may be skewed for the clock to count as synchronised.
pub const CLOCK_SKEW_MET: f64 = 0.01;

/// What the gateway knows beside the log, for the checks that are not counts.
#[derive(Debug, Clone)]
pub struct Setting {
    /// `[retention] retention_days`, if configured.
    pub retention_days: Option<u64>,
    /// Why the retention could not be read, if it is present but unreadable.
    pub retention_error: Option<String>,
    /// Failed group commits since start.
    pub commit_failures: u64,
    /// The writer's current failure, if it is failing.
    pub write_failing: Option<String>,
}

impl Setting {
    /// Reads `[retention] retention_days` from the config file (and its `AUDITGATE_`
    /// environment overrides) without depending on the config struct having that section.
    pub fn read(config_path: &Path, store: &Store) -> Setting {
        use figment::Figment;
        use figment::providers::{Env, Format, Toml};
        let figment = Figment::new()
            .merge(Toml::file(config_path))
            .merge(Env::prefixed("AUDITGATE_").filter(|k| k.as_str().contains("__")).split("__"));
        let (retention_days, retention_error) = if figment.find_value("retention.retention_days").is_ok() {
            match figment.extract_inner::<u64>("retention.retention_days") {
                Ok(d) => (Some(d), None),
                Err(e) => (None, Some(format!("`retention.retention_days` cannot be read: {e}"))),
            }
        } else {
            (None, None)
        };
        Setting {
            retention_days,
            retention_error,
            commit_failures: crate::metrics::global().commit_failures(),
            write_failing: store.write_failure(),
        }
    }
}

/// A whole report, as `format=json` answers it (the HTML shows the same).
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    /// `pci-dss`, `soc2`, `sox`, `gdpr` or `iso27001`.
    pub framework: String,
    pub title: String,
    /// The period's start (RFC 3339), rounded down to the hour.
    pub from: String,
    /// The period's end, exclusive, rounded up to the hour.
    pub to: String,
    /// When the report was made (RFC 3339).
    pub generated_at: String,
    /// The gateway's version.
    pub gateway_version: String,
    /// Events in the period.
    pub events: u64,
    pub integrity: Integrity,
    /// Requirements met and with a gap.
    pub met: usize,
    pub gaps: usize,
    pub requirements: Vec<RequirementResult>,
}

/// The integrity status of the period's records.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Integrity {
    /// `verified`, `damaged` or `empty` (no record in the period).
    pub status: String,
    /// The `seq` range verified (hash chain, record `seq`s, stored checkpoints in it).
    pub from_seq: Option<u64>,
    pub to_seq: Option<u64>,
    pub records_checked: u64,
    /// The first damage found, naming the `seq`.
    pub damage: Option<String>,
    /// The latest signed checkpoint's tree size and number, and its signed note.
    pub checkpoint_size: Option<u64>,
    pub checkpoint_number: Option<u64>,
    pub checkpoint_note: Option<String>,
    /// What was (not) checked, for people.
    pub detail: String,
}

/// One requirement's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequirementResult {
    pub id: String,
    pub title: String,
    /// `met` or `gap`.
    pub status: String,
    /// What the evidence shows, for people.
    pub summary: String,
    /// How to see the evidence: the API query (or setting) it comes from.
    pub evidence_query: String,
    /// The numbers behind the status (counts, shares, example `seq`s, ...).
    #[schema(value_type = Object)]
    pub evidence: Value,
}

/// Builds the report of `framework` over the hours `[from, to)` (µs, whole hours).
pub fn build(
    store: &Store,
    framework: Framework,
    from: i64,
    to: i64,
    setting: &Setting,
) -> Result<Report, StoreError> {
    let activity = store.activity(from, to)?;
    let total = sum(&activity, |_| true);
    let integrity = integrity(store, from, to)?;
    let period = Period {
        from: crate::http::stats::rfc3339(from),
        to: crate::http::stats::rfc3339(to),
        from_micros: from,
        to_micros: to,
    };
    let mut requirements = Vec::new();
    for r in framework.requirements() {
        requirements.push(evaluate(store, r, &activity, &total, &integrity, setting, &period)?);
    }
    let met = requirements.iter().filter(|r| r.status == "met").count();
    Ok(Report {
        framework: framework.slug().into(),
        title: framework.title().into(),
        from: period.from.clone(),
        to: period.to.clone(),
        generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        gateway_version: env!("CARGO_PKG_VERSION").into(),
        events: total.events,
        integrity,
        met,
        gaps: requirements.len() - met,
        requirements,
    })
}

struct Period {
    from: String,
    to: String,
    from_micros: i64,
    to_micros: i64,
}

fn sum(rows: &[ActivityRow], keep: impl Fn(&ActivityRow) -> bool) -> FieldCounts {
    let mut out = FieldCounts::default();
    for r in rows.iter().filter(|r| keep(r)) {
        out.add(&r.counts);
    }
    out
}

fn integrity(store: &Store, from: i64, to: i64) -> Result<Integrity, StoreError> {
    let checkpoint = store.latest_checkpoint()?;
    let parsed = checkpoint
        .as_deref()
        .and_then(|n| crate::ledger::checkpoint::Checkpoint::parse_note_unverified(n).ok());
    let mut out = Integrity {
        status: "empty".into(),
        from_seq: None,
        to_seq: None,
        records_checked: 0,
        damage: None,
        checkpoint_size: parsed.as_ref().map(|c| c.size),
        checkpoint_number: parsed.as_ref().map(|c| c.number),
        checkpoint_note: checkpoint.clone(),
        detail: "no record has a time in the period: nothing to verify".into(),
    };
    let Some((lo, hi)) = store.seq_span(from, to)? else { return Ok(out) };
    let start = if hi - lo + 1 > MAX_VERIFY { hi + 1 - MAX_VERIFY } else { lo };
    let check = store.verify_range(Some(start), Some(hi))?;
    out.from_seq = Some(start);
    out.to_seq = Some(hi);
    out.records_checked = check.records;
    out.status = if check.damage.is_some() { "damaged" } else { "verified" }.into();
    out.damage = check.damage.as_ref().map(|d| format!("seq {}: {:?}: {}", d.seq, d.kind, d.detail));
    out.detail = format!(
        "hash chain and record seqs {start}..={hi} checked ({} records, {} stored checkpoints in the range){}",
        check.records,
        check.checkpoints,
        if start > lo {
            format!("; the period spans seqs {lo}..={hi}, only its last {MAX_VERIFY} were verified")
        } else {
            String::new()
        }
    );
    Ok(out)
}

fn result(
    r: &Requirement,
    met: bool,
    summary: String,
    evidence_query: String,
    evidence: Value,
) -> RequirementResult {
    RequirementResult {
        id: r.id.into(),
        title: r.title.into(),
        status: if met { "met" } else { "gap" }.into(),
        summary,
        evidence_query,
        evidence,
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

fn events_query(actions: &[&str], outcome: Option<&str>, p: &Period) -> String {
    let outcome = outcome.map(|o| format!("&outcome={o}")).unwrap_or_default();
    actions
        .iter()
        .map(|a| {
            if let Some(suffix) = a.strip_prefix('*') {
                format!(
                    "GET /v1/stats?by=action{outcome}&from={}&to={} (actions ending in {suffix})",
                    p.from, p.to
                )
            } else {
                format!("GET /v1/events?action={a}{outcome}&from={}&to={}", p.from, p.to)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A few `seq`s of events with `action` (and `outcome`) in the period, oldest first.
fn examples(
    store: &Store,
    action: &str,
    outcome: Option<&str>,
    p: &Period,
    n: usize,
) -> Result<Vec<u64>, StoreError> {
    let page = store.query(&EventQuery {
        action: Some(action.into()),
        outcome: outcome.map(str::to_string),
        from_micros: Some(p.from_micros),
        to_micros: Some(p.to_micros),
        limit: n,
        order: Order::Asc,
        ..EventQuery::default()
    })?;
    Ok(page.items.iter().filter_map(|e| e.get("seq").and_then(Value::as_u64)).collect())
}

fn evaluate(
    store: &Store,
    r: &Requirement,
    activity: &[ActivityRow],
    total: &FieldCounts,
    integrity: &Integrity,
    setting: &Setting,
    p: &Period,
) -> Result<RequirementResult, StoreError> {
    Ok(match &r.check {
        Check::Events { actions, outcome } => {
            let rows: Vec<&ActivityRow> = activity
                .iter()
                .filter(|row| actions.iter().any(|a| action_matches(a, &row.action)))
                .filter(|row| outcome.is_none_or(|o| row.outcome == o))
                .collect();
            let mut by_action: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
            for row in &rows {
                *by_action.entry(row.action.as_str()).or_default() += row.counts.events;
            }
            let count: u64 = by_action.values().sum();
            let mut seqs = Vec::new();
            for action in by_action.keys() {
                if seqs.len() >= EXAMPLES {
                    break;
                }
                seqs.extend(examples(store, action, *outcome, p, EXAMPLES - seqs.len())?);
            }
            let what = match outcome {
                Some(o) => format!("events with outcome {o} of {}", actions.join(", ")),
                None => format!("events of {}", actions.join(", ")),
            };
            let summary = if count > 0 {
                format!("{count} {what} in the period")
            } else {
                format!("no {what} in the period: the category is not logged (or did not occur)")
            };
            result(
                r,
                count > 0,
                summary,
                events_query(actions, *outcome, p),
                json!({
                    "events": count, "by_action": by_action, "example_seqs": seqs,
                }),
            )
        }
        Check::FieldShare => {
            let n = total.events;
            // type, time and outcome are required by the event schema (time defaults to the
            // received time); origin is the IP or, always, the source key's name.
            let shares = json!({
                "user": share(total.with_user, n),
                "type": share(n, n),
                "time": share(n, n),
                "outcome": share(n, n),
                "origin_ip": share(total.with_ip, n),
                "origin_source": share(n, n),
                "resource": share(total.with_resource, n),
            });
            let user = share(total.with_user, n);
            let met = n > 0 && user >= FIELD_SHARE_MET;
            let summary = if n == 0 {
                "no event in the period".into()
            } else {
                format!(
                    "of {n} events: user {:.1}%, type/time/outcome 100% (schema), origin 100% (source key; ip {:.1}%), resource {:.1}%; met when user is at least {:.0}%",
                    user * 100.0,
                    share(total.with_ip, n) * 100.0,
                    share(total.with_resource, n) * 100.0,
                    FIELD_SHARE_MET * 100.0
                )
            };
            result(
                r,
                met,
                summary,
                format!("GET /v1/stats?by=user&from={}&to={}", p.from, p.to),
                json!({
                    "events": n, "with_user": total.with_user, "with_ip": total.with_ip,
                    "with_resource": total.with_resource, "shares": shares,
                }),
            )
        }
        Check::Integrity => {
            let has_checkpoint = integrity.checkpoint_size.is_some();
            let ok = integrity.status != "damaged";
            let summary = match (ok, has_checkpoint) {
                (false, _) => {
                    format!("verification failed: {}", integrity.damage.clone().unwrap_or_default())
                }
                (true, false) => {
                    format!("{}; but no signed checkpoint exists ([checkpoints] is off?)", integrity.detail)
                }
                (true, true) => format!(
                    "{}; latest signed checkpoint #{} of size {}",
                    integrity.detail,
                    integrity.checkpoint_number.unwrap_or(0),
                    integrity.checkpoint_size.unwrap_or(0)
                ),
            };
            let query = match (integrity.from_seq, integrity.to_seq) {
                (Some(a), Some(b)) => format!("GET /v1/verify?from={a}&to={b}; GET /v1/checkpoint"),
                _ => "GET /v1/verify; GET /v1/checkpoint".into(),
            };
            result(
                r,
                ok && has_checkpoint,
                summary,
                query,
                serde_json::to_value(integrity).unwrap_or(Value::Null),
            )
        }
        Check::Retention { min_days } => {
            let (met, summary) = match (setting.retention_days, &setting.retention_error) {
                (_, Some(e)) => (false, e.clone()),
                (None, None) => {
                    (false, "no retention configured ([retention] retention_days is not set)".into())
                }
                (Some(d), None) if d >= *min_days => {
                    (true, format!("retention_days = {d} (at least {min_days})"))
                }
                (Some(d), None) => (false, format!("retention_days = {d} is shorter than {min_days} days")),
            };
            result(
                r,
                met,
                summary,
                "policy.toml [retention] retention_days".into(),
                json!({
                    "retention_days": setting.retention_days, "required_days": min_days,
                }),
            )
        }
        Check::LoggingFailures => {
            let own = sum(activity, |row| {
                row.action == crate::retention::RUN_ACTION
                    && (row.outcome == "failure" || row.outcome == "error")
            });
            let met = setting.write_failing.is_none();
            let summary = match &setting.write_failing {
                Some(e) => {
                    format!("the audit log cannot be written now: {e} (ingest answers 503, /readyz is 503)")
                }
                None => format!(
                    "the audit log is writable; {} failed group commit(s) since start (each answered 503, never acknowledged), {} failed retention run(s) in the period",
                    setting.commit_failures, own.events
                ),
            };
            result(r, met, summary, "GET /metrics (auditgate_store_commit_failures_total); GET /readyz; GET /v1/events?action=auditgate.retention.run&outcome=failure".into(), json!({
                "commit_failures_since_start": setting.commit_failures,
                "writing_now": setting.write_failing.is_none(),
                "write_error": setting.write_failing,
                "failed_retention_runs": own.events,
            }))
        }
        Check::Alerts => {
            let n = total.alerts;
            let summary = if n > 0 {
                format!("{n} alert(s) raised on events of the period")
            } else {
                "no alert raised in the period: check that an alerting policy is in the chain".into()
            };
            result(
                r,
                n > 0,
                summary,
                format!("GET /v1/stats?from={}&to={} (alerts); GET /v1/alerts", p.from, p.to),
                json!({ "alerts": n }),
            )
        }
        Check::Changes { actions } => {
            // Refused changes (outcome failure or error, such as a refused reload) changed
            // nothing: only the others must carry before/after.
            let c = sum(activity, |row| {
                actions.iter().any(|a| action_matches(a, &row.action))
                    && row.outcome != "failure"
                    && row.outcome != "error"
            });
            let met = c.events > 0 && c.with_changes == c.events;
            let summary = if c.events == 0 {
                format!("no change events ({}) in the period", actions.join(", "))
            } else {
                format!("{} change event(s), {} with before/after (`changes`)", c.events, c.with_changes)
            };
            result(
                r,
                met,
                summary,
                events_query(actions, None, p),
                json!({
                    "events": c.events, "with_changes": c.with_changes,
                }),
            )
        }
        Check::Protection => {
            let enc = store.is_encrypted();
            let n = total.with_redacted;
            let met = enc || n > 0;
            let summary = format!(
                "encryption at rest {}; {n} event(s) with fields redacted or pseudonymized by policies",
                if enc { "on (storage.encryption)" } else { "off" }
            );
            result(
                r,
                met,
                summary,
                "policy.toml [storage] encryption; GET /v1/events (`redacted`)".into(),
                json!({
                    "encryption_at_rest": enc, "events_redacted": n, "events": total.events,
                }),
            )
        }
        Check::Clock => {
            let n = total.events;
            let skewed = share(total.clock_skewed, n);
            let met = n > 0 && skewed <= CLOCK_SKEW_MET;
            let summary = if n == 0 {
                "no event in the period".into()
            } else {
                format!(
                    "{} of {n} events have a time more than 5 minutes from when the gateway received them ({:.2}%; met at most {:.0}%)",
                    total.clock_skewed,
                    skewed * 100.0,
                    CLOCK_SKEW_MET * 100.0
                )
            };
            result(
                r,
                met,
                summary,
                format!("GET /v1/events?from={}&to={} (time vs received_at)", p.from, p.to),
                json!({
                    "events": n, "clock_skewed": total.clock_skewed,
                }),
            )
        }
    })
}
