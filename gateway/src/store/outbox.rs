//! The alert outbox: one entry per (alert, sink) in the `outbox` tree, written by the
//! writer in the same group commit as the alert, updated by the delivery workers.
//!
//! | key | value |
//! |---|---|
//! | alert id (u64 BE) ‖ sink name | JSON [`OutboxEntry`] |
//!
//! The alert id comes first, so recovery removes the entries of uncommitted alerts with
//! one range (like the alerts themselves) and `GET /v1/alerts` reads an alert's delivery
//! states with one prefix scan. Workers only ever look at entries of committed alerts
//! (`id <= Visible::alert`), so they never touch what a failed commit removes again.

use std::ops::RangeFrom;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::StoreError;
use super::keys::{read_u64, u64_key};

/// Where an outbox entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet; tried again at `next_attempt`.
    Pending,
    /// The sink took it.
    Delivered,
    /// Every allowed attempt failed (dead letter); not tried again.
    Dead,
}

impl DeliveryState {
    /// The name used in the API (`pending`, `delivered`, `dead`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    /// The state called `name`, if any.
    pub fn parse(name: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Dead]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// The delivery state of one alert at one sink (the value of an outbox entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last failed attempt's error.
    pub last_error: Option<String>,
    /// When the next attempt is due (µs since the epoch); `None` once final.
    pub next_attempt_micros: Option<i64>,
}

impl OutboxEntry {
    /// A new entry, due at once.
    fn new(now_micros: i64) -> OutboxEntry {
        OutboxEntry {
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_micros: Some(now_micros),
        }
    }

    /// The entry as shown in `GET /v1/alerts` (`next_attempt` as RFC 3339).
    fn to_api(&self, sink: &str) -> Value {
        serde_json::json!({
            "sink": sink,
            "state": self.state.as_str(),
            "attempts": self.attempts,
            "last_error": self.last_error,
            "next_attempt": self.next_attempt_micros.map(super::alerts::format_micros),
        })
    }
}

/// A sink as the writer sees it: its name and the lowest severity it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSink {
    /// The sink's unique name (the second part of the outbox key).
    pub name: String,
    /// Rank ([`severity_rank`]) of the lowest severity delivered to it.
    pub min_rank: u8,
}

/// The rank of a severity (`info` 0 … `critical` 4); an unknown name ranks highest, so
/// no sink filters out an alert it cannot classify.
pub fn severity_rank(severity: &str) -> u8 {
    match severity {
        "info" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        _ => 4,
    }
}

/// Wakes the delivery workers: after a commit with new alerts, on a write failure (the
/// audit-logging-failure alert, which cannot go through sled), and at shutdown.
#[derive(Debug, Default)]
pub struct OutboxSignal {
    state: Mutex<SignalState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct SignalState {
    /// Bumped by every notification.
    generation: u64,
    /// Alerts to hand to every sink directly (not through the outbox), in order.
    direct: Vec<Value>,
    /// Set once at shutdown.
    stopped: bool,
}

/// What a worker learns from [`OutboxSignal::wait`].
#[derive(Debug, Default)]
pub struct Wakeup {
    /// The generation seen; pass it to the next `wait`.
    pub generation: u64,
    /// Direct alerts published since the last wait (index past the last one seen).
    pub direct: Vec<Value>,
    /// Index to pass to the next wait.
    pub direct_seen: usize,
    /// Shutdown was asked for.
    pub stopped: bool,
}

/// Direct alerts kept for workers that have not picked them up yet.
const MAX_DIRECT: usize = 100;

impl OutboxSignal {
    /// New committed outbox entries exist.
    pub fn notify(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.generation += 1;
        self.cv.notify_all();
    }

    /// Hands `alert` to every worker for delivery without the outbox.
    pub fn direct(&self, alert: Value) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.direct.len() < MAX_DIRECT {
            s.direct.push(alert);
        }
        s.generation += 1;
        self.cv.notify_all();
    }

    /// Whether [`OutboxSignal::stop`] was called.
    pub fn stopped(&self) -> bool {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).stopped
    }

    /// Asks every worker to stop.
    pub fn stop(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.stopped = true;
        self.cv.notify_all();
    }

    /// Waits at most `timeout` for anything newer than `generation`.
    pub fn wait(&self, generation: u64, direct_seen: usize, timeout: Duration) -> Wakeup {
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (s, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |s| s.generation == generation && !s.stopped)
            .unwrap_or_else(PoisonError::into_inner);
        let seen = direct_seen.min(s.direct.len());
        Wakeup {
            generation: s.generation,
            direct: s.direct[seen..].to_vec(),
            direct_seen: s.direct.len(),
            stopped: s.stopped,
        }
    }
}

/// How the store fills the outbox.
#[derive(Debug, Clone, Default)]
pub struct OutboxOptions {
    /// The configured sinks, in order.
    pub sinks: Vec<OutboxSink>,
    /// Woken after commits with outbox entries and on write failures.
    pub signal: std::sync::Arc<OutboxSignal>,
}

/// Pending entries of configured sinks (the `outbox backlog` metric's source).
#[derive(Debug, Default)]
pub(crate) struct Backlog(AtomicI64);

impl Backlog {
    pub(crate) fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
        crate::metrics::global().outbox_backlog(n);
    }
}

/// The outbox key of (`alert`, `sink`).
pub(crate) fn key(alert: u64, sink: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + sink.len());
    k.extend_from_slice(&u64_key(alert));
    k.extend_from_slice(sink.as_bytes());
    k
}

/// The entry the writer inserts for a new alert.
pub(crate) fn new_entry(now_micros: i64) -> Result<Vec<u8>, StoreError> {
    encode(&OutboxEntry::new(now_micros))
}

pub(crate) fn encode(e: &OutboxEntry) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(e)
        .map_err(|err| StoreError::InvalidInput(format!("cannot encode an outbox entry: {err}")))
}

fn decode(bytes: &[u8]) -> Result<OutboxEntry, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("an outbox entry is not valid: {e}")))
}

/// Splits an outbox key into (alert id, sink name).
fn split(key: &[u8]) -> Result<(u64, &str), StoreError> {
    if key.len() < 8 {
        return Err(StoreError::Corrupt("an outbox key is shorter than 8 bytes".into()));
    }
    let sink = std::str::from_utf8(&key[8..])
        .map_err(|_| StoreError::Corrupt("an outbox key's sink name is not UTF-8".into()))?;
    Ok((read_u64(&key[..8])?, sink))
}

/// The delivery states of alert `id`, one object per sink (for `GET /v1/alerts`).
pub(crate) fn states_of(tree: &sled::Tree, id: u64) -> Result<Vec<(DeliveryState, Value)>, StoreError> {
    let mut out = Vec::new();
    for item in tree.scan_prefix(u64_key(id)) {
        let (k, v) = item?;
        let (_, sink) = split(&k)?;
        let entry = decode(&v)?;
        out.push((entry.state, entry.to_api(sink)));
    }
    Ok(out)
}

/// Removes the entries of alerts numbered above `committed_alert` (not flushed).
pub(crate) fn discard_above(tree: &sled::Tree, committed_alert: u64) -> Result<u64, StoreError> {
    let mut n = 0;
    let from: RangeFrom<[u8; 8]> = u64_key(committed_alert.saturating_add(1))..;
    for item in tree.range(from) {
        let (k, _) = item?;
        tree.remove(k)?;
        n += 1;
    }
    Ok(n)
}

/// Counts the pending entries of `sinks` among alerts up to `max_alert` (at open).
pub(crate) fn count_pending(
    tree: &sled::Tree,
    sinks: &[OutboxSink],
    max_alert: u64,
) -> Result<i64, StoreError> {
    let mut n = 0;
    for item in tree.range(..u64_key(max_alert.saturating_add(1))) {
        let (k, v) = item?;
        let (_, sink) = split(&k)?;
        if sinks.iter().any(|s| s.name == sink) && decode(&v)?.state == DeliveryState::Pending {
            n += 1;
        }
    }
    Ok(n)
}

/// The pending entries of `sink` for alerts in `from..=max_alert`, oldest first.
pub(crate) fn open_entries(
    tree: &sled::Tree,
    sink: &str,
    from: u64,
    max_alert: u64,
) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
    let mut out = Vec::new();
    if from == 0 || from > max_alert {
        return Ok(out);
    }
    for item in tree.range(u64_key(from)..u64_key(max_alert.saturating_add(1))) {
        let (k, v) = item?;
        let (id, name) = split(&k)?;
        if name != sink {
            continue;
        }
        let entry = decode(&v)?;
        if entry.state == DeliveryState::Pending {
            out.push((id, entry));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_states() {
        assert!(severity_rank("info") < severity_rank("low"));
        assert!(severity_rank("high") < severity_rank("critical"));
        assert_eq!(severity_rank("weird"), 4);
        for s in ["pending", "delivered", "dead"] {
            assert_eq!(DeliveryState::parse(s).map(DeliveryState::as_str), Some(s));
        }
        assert_eq!(DeliveryState::parse("gone"), None);
    }

    #[test]
    fn keys_split_back() {
        let k = key(7, "hook-1");
        assert_eq!(split(&k).ok(), Some((7, "hook-1")));
    }
}
