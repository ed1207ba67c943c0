//! Records the gateway writes about its own operations (start and stop, reloads, failed
//! authentication, auditor access, erasure, key rotation, legal holds, retention runs):
//! ordinary chained records with `source = "auditgate"` and `policy_set = "gateway"`, built
//! in one place so each carries every field a stored event has (`severity` included).

use serde_json::{Map, Value, json};

use crate::store::{AppendOutcome, NewRecord, Pending, Store, StoreError};

/// `source` of every record the gateway writes on its own behalf (no API key may have this
/// name, so an ingested event can never pass for one), and `user` when no caller acted.
pub const GATEWAY_SOURCE: &str = "auditgate";

/// An event about the gateway's own operation `action` by `actor` (an API key's name, or
/// [`GATEWAY_SOURCE`]), on `resource` (type, id), with `details`, tagged `tag`. `actor` is
/// the record's `user`; its `source` is always [`GATEWAY_SOURCE`].
pub fn gateway_event(
    action: &str,
    outcome: &str,
    actor: &str,
    resource: (&str, &str),
    details: Value,
    tag: &str,
) -> NewRecord {
    let now = chrono::Utc::now();
    let time = crate::event::format_time(now);
    let event = json!({
        "time": time,
        "action": action,
        "outcome": outcome,
        "severity": "info",
        "user": actor,
        "resource_type": resource.0,
        "resource_id": resource.1,
        "details": details,
    });
    let event: Map<String, Value> = match event {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    NewRecord {
        client_id: None,
        event,
        time_micros: now.timestamp_micros(),
        received_at: time,
        source: GATEWAY_SOURCE.to_string(),
        policy_set: String::from("gateway"),
        redacted: Vec::new(),
        tags: vec![tag.to_string()],
        alerts: Vec::new(),
    }
}

/// Writes `record` (durably, like any append) and answers its `seq`.
pub async fn append_event(store: &Store, record: NewRecord) -> Result<u64, StoreError> {
    let outcomes = store.append(vec![Pending::Record(record)]).await?;
    Ok(match outcomes.first() {
        Some(AppendOutcome::Stored { seq } | AppendOutcome::Duplicate { seq }) => *seq,
        _ => 0,
    })
}
