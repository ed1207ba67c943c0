//! The gateway's own metrics, served as Prometheus/OpenMetrics text by `GET /metrics`.
//!
//! The metrics that move on the hot path live in one process-wide [`Metrics`] (the process
//! runs one gateway; a library user running several shares it, as with Prometheus' default
//! registry). Every handle used on the hot path is taken once (at start-up, or when a policy
//! is loaded) and kept, so recording never looks a label up and never allocates:
//!
//! - a counter increment is one relaxed atomic add (`prometheus_client`'s `Counter` is an
//!   `Arc<AtomicU64>`);
//! - a gauge change is one atomic add;
//! - a histogram observation takes `prometheus_client`'s per-histogram lock (a parking_lot
//!   write lock, uncontended: once per policy call of up to 16 events, once per group
//!   commit) and scans at most 17 buckets.
//!
//! Ingest counts per request (one add per outcome kind), not per event. HTTP requests cost
//! one label lookup (a read-locked hash map) and three small strings per request. What is
//! owned elsewhere (the number of records, the bytes on disk, the last checkpoint) is read
//! only when scraped ([`Scrape`]).

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why an event of an ingest request did not become a new log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    /// Refused by validation (schema, size, depth, JSON).
    Invalid,
    /// A policy with `on_error = "reject"` failed on it.
    PolicyRejected,
    /// A policy with `on_error = "quarantine"` failed on it: kept in the quarantine tree.
    Quarantined,
    /// Its `id` was stored before (within the idempotency window): answered with that `seq`.
    Duplicate,
    /// Its request failed as a whole (the log could not be written): answered 503.
    Unavailable,
}

impl NotStored {
    /// Every reason, in the order of [`Metrics`]'s handles.
    pub const ALL: [NotStored; 5] = [
        NotStored::Invalid,
        NotStored::PolicyRejected,
        NotStored::Quarantined,
        NotStored::Duplicate,
        NotStored::Unavailable,
    ];

    /// The `reason` label's value.
    pub fn label(self) -> &'static str {
        match self {
            NotStored::Invalid => "invalid",
            NotStored::PolicyRejected => "policy_rejected",
            NotStored::Quarantined => "quarantined",
            NotStored::Duplicate => "duplicate",
            NotStored::Unavailable => "unavailable",
        }
    }
}

/// Per-request tally of ingest outcomes, added to the counters in one go.
#[derive(Debug, Default, Clone, Copy)]
pub struct IngestTally {
    /// Events stored now (new log records).
    pub stored: u64,
    /// Events not stored, indexed like [`NotStored::ALL`].
    pub not_stored: [u64; 5],
}

impl IngestTally {
    /// `n` events not stored for `reason`.
    pub fn one(reason: NotStored, n: u64) -> Self {
        let mut t = Self::default();
        t.add(reason, n);
        t
    }

    /// Counts one event that was not stored.
    pub fn add(&mut self, reason: NotStored, n: u64) {
        self.not_stored[reason as usize] += n;
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabel {
    policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Policy call latency buckets: 50 µs to ~1.6 s, doubling.
fn policy_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The hot-path handles of one policy, kept by the engine beside the policy.
#[derive(Debug, Clone)]
pub struct PolicyMetrics {
    /// Duration of each call into the policy (one call carries up to 16 events; a trapped
    /// call's retries one event at a time belong to it).
    pub call_seconds: Histogram,
    /// Events the policy failed on (error result, trap, timeout, refused patch).
    pub errors: Counter,
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    events_stored: Counter,
    events_not_stored: Family<ReasonLabel, Counter>,
    not_stored: [Counter; 5],
    requests: Family<RequestLabels, Counter>,
    policy_call_seconds: HistogramFamily<PolicyLabel>,
    policy_errors: Family<PolicyLabel, Counter>,
    writer_queue: Gauge,
    commit_seconds: Histogram,
    commit_events: Histogram,
    commit_failures: Counter,
    reloads: Family<ResultLabel, Counter>,
    reload_ok: Counter,
    reload_failed: Counter,
    outbox_backlog: Gauge,
    self_audit_failures: Counter,
}

/// What is read when `/metrics` is scraped, not kept up to date on the hot path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scrape {
    /// Durable records in the log (the committed `seq`): also the Merkle tree's size.
    pub records: u64,
    /// sled's bytes on disk (`Db::size_on_disk`), when it could be read.
    pub disk_bytes: Option<u64>,
    /// Tree size and number of the latest signed checkpoint, if any.
    pub checkpoint: Option<(u64, u64)>,
}

static GLOBAL: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

impl Metrics {
    fn new() -> Self {
        let events_not_stored = Family::<ReasonLabel, Counter>::default();
        let not_stored = NotStored::ALL
            .map(|r| events_not_stored.get_or_create(&ReasonLabel { reason: r.label().into() }).clone());
        let reloads = Family::<ResultLabel, Counter>::default();
        let reload_ok = reloads.get_or_create(&ResultLabel { result: "ok".into() }).clone();
        let reload_failed = reloads.get_or_create(&ResultLabel { result: "failed".into() }).clone();
        Self {
            events_stored: Counter::default(),
            events_not_stored,
            not_stored,
            requests: Family::default(),
            policy_call_seconds: Family::new_with_constructor(policy_latency_histogram as fn() -> Histogram),
            policy_errors: Family::default(),
            writer_queue: Gauge::default(),
            // 100 µs to ~0.8 s, doubling.
            commit_seconds: Histogram::new(exponential_buckets(0.000_1, 2.0, 14)),
            // 1 to 8192 records, doubling.
            commit_events: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            commit_failures: Counter::default(),
            reloads,
            reload_ok,
            reload_failed,
            outbox_backlog: Gauge::default(),
            self_audit_failures: Counter::default(),
        }
    }

    /// Adds one ingest request's outcomes (at most six atomic adds).
    pub fn ingested(&self, tally: &IngestTally) {
        if tally.stored > 0 {
            self.events_stored.inc_by(tally.stored);
        }
        for (counter, n) in self.not_stored.iter().zip(tally.not_stored) {
            if n > 0 {
                counter.inc_by(n);
            }
        }
    }

    /// Counts one answered HTTP request; `route` is the router's pattern (`/v1/events/{seq}`),
    /// never the concrete path, so the label set stays small.
    pub fn request(&self, method: &str, route: &str, status: u16) {
        let class = match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                method: method.into(),
                route: route.into(),
                status: class.into(),
            })
            .inc();
    }

    /// The handles of policy `name` (shared by every loaded set naming a policy so).
    pub fn policy(&self, name: &str) -> PolicyMetrics {
        let label = PolicyLabel { policy: name.into() };
        PolicyMetrics {
            call_seconds: self.policy_call_seconds.get_or_create(&label).clone(),
            errors: self.policy_errors.get_or_create(&label).clone(),
        }
    }

    /// `events` were handed to the store's writer queue.
    pub fn queued(&self, events: usize) {
        self.writer_queue.inc_by(i64::try_from(events).unwrap_or(i64::MAX));
    }

    /// The writer took `events` off its queue.
    pub fn dequeued(&self, events: usize) {
        self.writer_queue.dec_by(i64::try_from(events).unwrap_or(i64::MAX));
    }

    /// One group commit wrote `records` records (and whatever else it held) in `seconds`
    /// (writes, flush, fsync); `ok`: it became durable.
    pub fn committed(&self, records: u64, seconds: f64, ok: bool) {
        self.commit_seconds.observe(seconds);
        self.commit_events.observe(records as f64);
        if !ok {
            self.commit_failures.inc();
        }
    }

    /// The alert outbox gained (or, negative, lost) `n` pending entries.
    pub fn outbox_backlog(&self, n: i64) {
        self.outbox_backlog.inc_by(n);
    }

    /// Group commits that failed since start (the compliance reports' logging failures).
    pub fn commit_failures(&self) -> u64 {
        self.commit_failures.get()
    }

    /// A self-audit record (start, reload, failed authentication, auditor access) could
    /// not be written.
    pub fn self_audit_failed(&self) {
        self.self_audit_failures.inc();
    }

    /// One policy reload ended.
    pub fn reloaded(&self, ok: bool) {
        if ok {
            self.reload_ok.inc()
        } else {
            self.reload_failed.inc()
        };
    }

    /// The text of `GET /metrics`: every metric, with `scrape`'s values.
    pub fn render(&self, scrape: &Scrape) -> String {
        let mut r = Registry::with_prefix("auditgate");
        r.register(
            "build",
            "The gateway's version",
            Info::new(vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]),
        );
        r.register("events_stored", "Events stored as new log records", self.events_stored.clone());
        r.register(
            "events_not_stored",
            "Events of ingest requests that did not become a new log record, by reason",
            self.events_not_stored.clone(),
        );
        r.register(
            "http_requests",
            "Answered HTTP requests by method, route pattern and status class",
            self.requests.clone(),
        );
        r.register(
            "policy_call_duration_seconds",
            "Duration of each call into a policy (up to 16 events per call)",
            self.policy_call_seconds.clone(),
        );
        r.register(
            "policy_errors",
            "Events a policy failed on (error result, trap, timeout, refused patch)",
            self.policy_errors.clone(),
        );
        r.register(
            "store_queue_events",
            "Events handed to the store writer and not yet in a group commit",
            self.writer_queue.clone(),
        );
        r.register(
            "store_commit_duration_seconds",
            "Duration of each group commit: writes, flush and fsync",
            self.commit_seconds.clone(),
        );
        r.register("store_commit_records", "Records per group commit", self.commit_events.clone());
        r.register(
            "store_commit_failures",
            "Group commits that failed (their requests were answered 503)",
            self.commit_failures.clone(),
        );
        r.register("policy_reloads", "Policy set reloads by result", self.reloads.clone());
        r.register(
            "self_audit_failures",
            "Self-audit records (start, reload, failed authentication, auditor access) that could not be written",
            self.self_audit_failures.clone(),
        );
        r.register(
            "outbox_backlog",
            "Alert outbox entries (one per alert and sink) not yet delivered nor dead",
            self.outbox_backlog.clone(),
        );
        r.register(
            "store_records",
            "Durable records in the log: the committed seq, also the Merkle tree's size",
            ConstGauge::new(gauge(scrape.records)),
        );
        if let Some(bytes) = scrape.disk_bytes {
            r.register("store_disk_bytes", "Bytes sled uses on disk", ConstGauge::new(gauge(bytes)));
        }
        if let Some((size, number)) = scrape.checkpoint {
            r.register(
                "checkpoint_size",
                "Tree size of the latest signed checkpoint",
                ConstGauge::new(gauge(size)),
            );
            r.register(
                "checkpoint_number",
                "Number of the latest signed checkpoint",
                ConstGauge::new(gauge(number)),
            );
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &r) {
            // Writing into a String cannot fail; a label that cannot be encoded would.
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_names_every_family_once() {
        let m = Metrics::new();
        m.ingested(&IngestTally { stored: 3, not_stored: [1, 2, 0, 0, 0] });
        m.policy("p").call_seconds.observe(0.001);
        m.request("GET", "/v1/events/{seq}", 404);
        let text = m.render(&Scrape { records: 3, disk_bytes: Some(10), checkpoint: Some((3, 1)) });
        assert!(text.contains("auditgate_events_stored_total 3\n"), "{text}");
        assert!(text.contains("auditgate_events_not_stored_total{reason=\"policy_rejected\"} 2\n"), "{text}");
        assert!(text.contains("auditgate_policy_call_duration_seconds_count{policy=\"p\"} 1\n"), "{text}");
        assert!(text.contains("route=\"/v1/events/{seq}\""), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        let mut unique = types.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(types.len(), unique.len(), "{text}");
    }
}
