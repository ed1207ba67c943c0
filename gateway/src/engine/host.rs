//! The host side of the WIT `host` interface: what a policy may call, and nothing else.
//!
//! Counters and state are shared by every instance of every worker (one `SharedHostState`
//! per engine), namespaced per policy. They live in memory for now; making them durable in
//! sled is tracked with the SDK work (issue 3).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Caps on what one policy may keep in host state.
const MAX_KEY_BYTES: usize = 512;
const MAX_VALUE_BYTES: usize = 64 * 1024;
const MAX_STATE_ENTRIES: usize = 100_000;
const MAX_COUNTERS: usize = 100_000;
const MAX_LOG_BYTES: usize = 4096;
/// Log lines a single instance may write per second before they are dropped.
const LOG_LINES_PER_SEC: u32 = 100;

/// A state value and when it expires (`None`: never).
type StateEntry = (Vec<u8>, Option<Instant>);

/// Counters and key/value state shared by all instances of all policies.
#[derive(Debug, Default)]
pub struct SharedHostState {
    counters: Mutex<HashMap<String, VecDeque<(Instant, i64)>>>,
    state: Mutex<HashMap<String, StateEntry>>,
}

/// Per-instance host context: which policy is calling, plus a log budget.
#[derive(Debug)]
pub struct HostContext {
    pub policy: Arc<str>,
    pub shared: Arc<SharedHostState>,
    log_window: Instant,
    log_lines: u32,
    log_dropped: u64,
}

impl HostContext {
    /// The context for one instance of `policy`.
    pub fn new(policy: Arc<str>, shared: Arc<SharedHostState>) -> Self {
        Self { policy, shared, log_window: Instant::now(), log_lines: 0, log_dropped: 0 }
    }

    fn namespaced(&self, key: &str) -> String {
        let mut k = String::with_capacity(self.policy.len() + 1 + key.len());
        k.push_str(&self.policy);
        k.push('\0');
        k.push_str(key);
        k
    }

    /// Adds `delta` now and returns the sum of the counter over the last `window_secs`.
    pub fn counter_add(&mut self, key: &str, delta: i64, window_secs: u32) -> i64 {
        if key.len() > MAX_KEY_BYTES {
            self.warn("counter-add: key longer than 512 bytes ignored");
            return 0;
        }
        let now = Instant::now();
        let window = Duration::from_secs(u64::from(window_secs.max(1)));
        let name = self.namespaced(key);
        let Ok(mut counters) = self.shared.counters.lock() else {
            return 0;
        };
        if !counters.contains_key(&name) && counters.len() >= MAX_COUNTERS {
            // Drop expired counters before refusing a new one.
            counters.retain(|_, q| {
                q.back().is_some_and(|(t, _)| now.duration_since(*t) < Duration::from_secs(86_400))
            });
            if counters.len() >= MAX_COUNTERS {
                drop(counters);
                self.warn("counter-add: too many counters; call ignored");
                return 0;
            }
        }
        let q = counters.entry(name).or_default();
        while q.front().is_some_and(|(t, _)| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if delta != 0 {
            q.push_back((now, delta));
        }
        q.iter().map(|(_, d)| *d).fold(0i64, i64::saturating_add)
    }

    /// The value stored under `key`, if present and not expired.
    pub fn state_get(&mut self, key: &str) -> Option<Vec<u8>> {
        let name = self.namespaced(key);
        let state = self.shared.state.lock().ok()?;
        match state.get(&name) {
            Some((v, expiry)) if expiry.is_none_or(|e| Instant::now() < e) => Some(v.clone()),
            _ => None,
        }
    }

    /// Stores `value` under `key` for `ttl_secs` (0: no expiry).
    pub fn state_set(&mut self, key: &str, value: Vec<u8>, ttl_secs: u32) {
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            self.warn("state-set: key or value over its cap (512 B / 64 KiB); call ignored");
            return;
        }
        let name = self.namespaced(key);
        let expiry = (ttl_secs > 0).then(|| Instant::now() + Duration::from_secs(u64::from(ttl_secs)));
        let Ok(mut state) = self.shared.state.lock() else {
            return;
        };
        if !state.contains_key(&name) && state.len() >= MAX_STATE_ENTRIES {
            let now = Instant::now();
            state.retain(|_, (_, e)| e.is_none_or(|e| now < e));
            if state.len() >= MAX_STATE_ENTRIES {
                drop(state);
                self.warn("state-set: state is full; call ignored");
                return;
            }
        }
        state.insert(name, (value, expiry));
    }

    /// Lookup tables come with the SDK work (issue 3); until then no table exists.
    pub fn lookup(&mut self, _table: &str, _key: &str) -> Option<String> {
        None
    }

    /// A log line from the policy, rate-limited per instance.
    pub fn log(&mut self, level: u8, message: &str) {
        let now = Instant::now();
        if now.duration_since(self.log_window) >= Duration::from_secs(1) {
            if self.log_dropped > 0 {
                tracing::warn!(policy = %self.policy, dropped = self.log_dropped, "policy log lines dropped by the rate limit");
            }
            self.log_window = now;
            self.log_lines = 0;
            self.log_dropped = 0;
        }
        if self.log_lines >= LOG_LINES_PER_SEC {
            self.log_dropped += 1;
            return;
        }
        self.log_lines += 1;
        let message = truncate(message, MAX_LOG_BYTES);
        let policy = &*self.policy;
        match level {
            0 => tracing::trace!(policy, "{message}"),
            1 => tracing::debug!(policy, "{message}"),
            2 => tracing::info!(policy, "{message}"),
            3 => tracing::warn!(policy, "{message}"),
            _ => tracing::error!(policy, "{message}"),
        }
    }

    fn warn(&mut self, message: &str) {
        self.log(3, message);
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_shared_and_namespaced() {
        let shared = Arc::new(SharedHostState::default());
        let mut a1 = HostContext::new("a".into(), shared.clone());
        let mut a2 = HostContext::new("a".into(), shared.clone());
        let mut b = HostContext::new("b".into(), shared);
        assert_eq!(a1.counter_add("k", 1, 60), 1);
        assert_eq!(a2.counter_add("k", 2, 60), 3);
        assert_eq!(b.counter_add("k", 1, 60), 1);
        assert_eq!(a1.counter_add("k", 0, 60), 3);
    }

    #[test]
    fn state_round_trips_and_is_capped() {
        let mut h = HostContext::new("p".into(), Arc::new(SharedHostState::default()));
        h.state_set("k", b"v".to_vec(), 0);
        assert_eq!(h.state_get("k"), Some(b"v".to_vec()));
        h.state_set("big", vec![0; MAX_VALUE_BYTES + 1], 0);
        assert_eq!(h.state_get("big"), None);
        assert_eq!(h.state_get("missing"), None);
    }
}
