//! The store's public vocabulary: what the rest of the gateway hands to the writer and
//! what queries return. Kept apart from the sled code so the HTTP and engine layers
//! depend on these types only (design §6: storage behind one narrow seam).

use serde_json::{Map, Value};

/// An alert raised by a policy for one event, stored beside the event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// Name of the policy that raised it.
    pub policy: String,
    /// The policy's name for what it detected (`bruteforce`, `password_spray`, ...).
    pub rule: String,
    /// One of `info low medium high critical`.
    pub severity: String,
    /// One line for people.
    pub summary: String,
    /// Extra key/value context (stored as a JSON object; a repeated key keeps the last).
    pub labels: Vec<(String, String)>,
}

/// A validated event after the policy chain, ready to be appended to the log.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The client's `id`, if any: the idempotency key.
    pub client_id: Option<String>,
    /// The event's own fields after validation and patches (`action`, `outcome`, `time` as
    /// an RFC 3339 string, `user`, `ip`, `details`, ...). Never contains the gateway fields.
    pub event: Map<String, Value>,
    /// The event's `time` in microseconds since the Unix epoch: the time-index key.
    pub time_micros: i64,
    /// When the gateway received it, RFC 3339 with microseconds, UTC.
    pub received_at: String,
    /// Name of the API key that sent it.
    pub source: String,
    /// Hash naming the policy set that processed it.
    pub policy_set: String,
    /// JSON pointers the policies masked, removed or pseudonymized.
    pub redacted: Vec<String>,
    /// Tags the policies added.
    pub tags: Vec<String>,
    /// Alerts the policies raised for this event.
    pub alerts: Vec<NewAlert>,
}

/// An event a policy failed on under `on_error = "quarantine"`: kept aside for operators.
#[derive(Debug, Clone)]
pub struct NewQuarantine {
    /// The event as validated, before the failing policy's changes.
    pub event: Map<String, Value>,
    /// Name of the policy that failed.
    pub policy: String,
    /// What went wrong.
    pub error: String,
    /// When the gateway received it, RFC 3339 with microseconds, UTC.
    pub received_at: String,
    /// Name of the API key that sent it.
    pub source: String,
}

/// One item handed to the writer.
#[derive(Debug, Clone)]
pub enum Pending {
    /// An event for the log.
    Record(NewRecord),
    /// An event for the quarantine tree.
    Quarantine(NewQuarantine),
}

/// What became of one `Pending`, in the same order as handed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Appended to the log at this `seq`.
    Stored { seq: u64 },
    /// The client `id` was seen within the idempotency window; nothing new stored.
    Duplicate { seq: u64 },
    /// Written to the quarantine tree under this id.
    Quarantined { id: u64 },
}

/// Result order of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// Filters of `GET /v1/events` (design §5). All given filters must match.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Exact user.
    pub user: Option<String>,
    /// Exact action.
    pub action: Option<String>,
    /// `action=user.*` arrives here as `Some("user.")`.
    pub action_prefix: Option<String>,
    /// Exact outcome.
    pub outcome: Option<String>,
    /// Canonical text form of the IP (as stored).
    pub ip: Option<String>,
    /// Exact `resource_type`.
    pub resource_type: Option<String>,
    /// Exact `resource_id`.
    pub resource_id: Option<String>,
    /// Exact `session_id`.
    pub session_id: Option<String>,
    /// Exact `source` (API key name).
    pub source: Option<String>,
    /// Inclusive lower bound on event time, microseconds since the epoch.
    pub from_micros: Option<i64>,
    /// Exclusive upper bound on event time, microseconds since the epoch.
    pub to_micros: Option<i64>,
    /// 1..=1000, checked by the caller.
    pub limit: usize,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Result order: by (event time, `seq`).
    pub order: Order,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page {
    /// Stored records as JSON objects (event fields plus `seq`, `received_at`, `source`,
    /// `policy_set`, `redacted`, `tags`).
    pub items: Vec<Value>,
    /// Present when there are more results: pass it as the next query's `cursor`.
    pub next_cursor: Option<String>,
}

/// Filters of `GET /v1/alerts`.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Exact rule.
    pub rule: Option<String>,
    /// Exact severity.
    pub severity: Option<String>,
    /// Exact policy name.
    pub policy: Option<String>,
    /// Only alerts raised for this event.
    pub seq: Option<u64>,
    /// Only alerts with at least one sink in this delivery state.
    pub delivery: Option<super::outbox::DeliveryState>,
    /// Most items in the page (1..=1000, checked by the caller).
    pub limit: usize,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Result order: by alert id.
    pub order: Order,
}
