//! One sink's delivery loop: wait for new outbox entries (or the next due retry), try
//! each due entry, record the outcome; direct alerts (audit logging failure) first.

use std::time::Duration;

use serde_json::Value;

use super::sink::Sink;
use crate::config::DeliveryConfig;
use crate::store::{DeliveryState, OutboxEntry, Store};

/// Longest sleep between two looks at the outbox (new entries also wake the worker).
const POLL: Duration = Duration::from_secs(1);

/// Attempts of a direct alert (it is not in the outbox, so it is not retried later).
const DIRECT_ATTEMPTS: u32 = 3;

/// Retry rules from `[delivery]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    max_attempts: u32,
    initial: Duration,
    max: Duration,
}

impl From<&DeliveryConfig> for Retry {
    fn from(c: &DeliveryConfig) -> Self {
        Retry {
            max_attempts: c.max_attempts,
            initial: Duration::from_millis(c.backoff_initial_ms),
            max: Duration::from_millis(c.backoff_max_ms),
        }
    }
}

impl Retry {
    /// The wait after failed attempt number `attempts` (1-based): initial · 2^(n-1), capped.
    pub(crate) fn backoff(&self, attempts: u32) -> Duration {
        let factor = 1u32.checked_shl(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// `entry` after a failed attempt at `now` (µs): pending with a later due time, or dead.
    pub(crate) fn failed(&self, mut entry: OutboxEntry, error: String, now: i64) -> OutboxEntry {
        entry.attempts = entry.attempts.saturating_add(1);
        entry.last_error = Some(error);
        if entry.attempts >= self.max_attempts {
            entry.state = DeliveryState::Dead;
            entry.next_attempt_micros = None;
        } else {
            let wait = i64::try_from(self.backoff(entry.attempts).as_micros()).unwrap_or(i64::MAX);
            entry.next_attempt_micros = Some(now.saturating_add(wait));
        }
        entry
    }
}

/// The worker of one sink.
pub(crate) struct Worker {
    pub name: String,
    pub sink: Sink,
    pub store: Store,
    pub retry: Retry,
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Worker {
    pub(crate) fn run(mut self) {
        let signal = self.store.outbox_signal();
        // The lowest alert id that may still have a pending entry for this sink.
        let mut from = 1;
        let (mut generation, mut direct_seen) = (0, 0);
        loop {
            let next_due = self.pass(&mut from);
            let wait = match next_due {
                Some(at) => Duration::from_micros(u64::try_from(at - now_micros()).unwrap_or(0)).min(POLL),
                None => POLL,
            };
            let woke = signal.wait(generation, direct_seen, wait);
            (generation, direct_seen) = (woke.generation, woke.direct_seen);
            for alert in &woke.direct {
                self.deliver_direct(alert);
            }
            if woke.stopped {
                break;
            }
        }
    }

    /// Tries every due pending entry once; answers when the next one is due.
    fn pass(&mut self, from: &mut u64) -> Option<i64> {
        let (entries, max) = match self.store.outbox_pending(&self.name, *from) {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(sink = %self.name, error = %e, "cannot read the alert outbox");
                return Some(now_micros() + 1_000_000);
            }
        };
        *from = entries.first().map_or(max + 1, |(id, _)| *id);
        let signal = self.store.outbox_signal();
        let mut next_due: Option<i64> = None;
        let mut changed = false;
        for (id, entry) in entries {
            let due = entry.next_attempt_micros.unwrap_or(0);
            if due > now_micros() || signal.stopped() {
                next_due = Some(next_due.map_or(due, |n| n.min(due)));
                continue;
            }
            let updated = self.attempt(id, entry);
            if let Some(at) = updated.next_attempt_micros {
                next_due = Some(next_due.map_or(at, |n| n.min(at)));
            }
            match self.store.outbox_update(id, &self.name, &updated) {
                Ok(()) => changed = true,
                Err(e) => {
                    tracing::error!(sink = %self.name, alert = id, error = %e, "cannot record a delivery")
                }
            }
        }
        if changed && let Err(e) = self.store.outbox_flush() {
            tracing::warn!(sink = %self.name, error = %e, "cannot flush the alert outbox");
        }
        next_due
    }

    /// One delivery attempt of alert `id`.
    fn attempt(&mut self, id: u64, entry: OutboxEntry) -> OutboxEntry {
        let alert = match self.store.alert(id) {
            Ok(Some(a)) => a,
            Ok(None) => return self.dead(id, entry, "the alert is no longer stored"),
            Err(e) => return self.retry.failed(entry, format!("cannot read the alert: {e}"), now_micros()),
        };
        match self.sink.deliver(&alert) {
            Ok(()) => {
                tracing::debug!(sink = %self.name, alert = id, "alert delivered");
                OutboxEntry {
                    state: DeliveryState::Delivered,
                    attempts: entry.attempts + 1,
                    last_error: entry.last_error,
                    next_attempt_micros: None,
                }
            }
            Err(error) => {
                let updated = self.retry.failed(entry, error, now_micros());
                let error = updated.last_error.as_deref().unwrap_or("");
                if updated.state == DeliveryState::Dead {
                    tracing::error!(sink = %self.name, alert = id, attempts = updated.attempts, error, "alert delivery failed for good (dead)");
                } else {
                    tracing::warn!(sink = %self.name, alert = id, attempts = updated.attempts, error, "alert delivery failed; will retry");
                }
                updated
            }
        }
    }

    fn dead(&self, id: u64, mut entry: OutboxEntry, why: &str) -> OutboxEntry {
        tracing::error!(sink = %self.name, alert = id, "{why}: not delivered (dead)");
        entry.state = DeliveryState::Dead;
        entry.last_error = Some(why.into());
        entry.next_attempt_micros = None;
        entry
    }

    /// An alert that is not in the outbox: a few tries now, then it is only in the log.
    fn deliver_direct(&mut self, alert: &Value) {
        for attempt in 1..=DIRECT_ATTEMPTS {
            match self.sink.deliver(alert) {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(sink = %self.name, attempt, error = %e, "cannot deliver the audit-logging-failure alert");
                    if attempt < DIRECT_ATTEMPTS {
                        std::thread::sleep(self.retry.backoff(attempt));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_then_dies() {
        let r =
            Retry { max_attempts: 3, initial: Duration::from_millis(100), max: Duration::from_millis(250) };
        assert_eq!(r.backoff(1), Duration::from_millis(100));
        assert_eq!(r.backoff(2), Duration::from_millis(200));
        assert_eq!(r.backoff(3), Duration::from_millis(250));
        assert_eq!(r.backoff(40), Duration::from_millis(250));
        let e = OutboxEntry {
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_micros: Some(0),
        };
        let e = r.failed(e, "x".into(), 1_000);
        assert_eq!((e.state, e.attempts, e.next_attempt_micros), (DeliveryState::Pending, 1, Some(101_000)));
        let e = r.failed(r.failed(e, "y".into(), 2_000), "z".into(), 3_000);
        assert_eq!((e.state, e.attempts, e.next_attempt_micros), (DeliveryState::Dead, 3, None));
        assert_eq!(e.last_error.as_deref(), Some("z"));
    }
}
