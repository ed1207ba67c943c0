//! The functions the gateway lends a policy (WIT interface `host`).
//!
//! In a component (`wasm32`) each call goes to the gateway. On other targets the WIT
//! imports cannot be called, so the same functions use an in-process stand-in, good enough
//! for a policy's unit tests and documented in [`native`]: one store per thread (each
//! `#[test]` runs on its own thread, so tests do not see each other's data), counters that
//! never expire, state that ignores TTLs, lookup tables filled by the test, and log lines
//! kept for inspection.

/// Log level for [`log`]; the gateway maps it onto its own log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    /// Very detailed tracing.
    Trace = 0,
    /// Debugging detail.
    Debug = 1,
    /// Normal information.
    Info = 2,
    /// Something unexpected, but the policy carries on.
    Warn = 3,
    /// Something failed.
    Error = 4,
}

#[cfg(target_arch = "wasm32")]
use crate::bindings::auditgate::policy::host as imports;

#[cfg(not(target_arch = "wasm32"))]
use native as imports;

/// Adds `delta` to the sliding-window counter `key` (shared by all workers, durable across
/// restarts) and returns the count within the last `window_secs` seconds.
pub fn counter_add(key: &str, delta: i64, window_secs: u32) -> i64 {
    imports::counter_add(key, delta, window_secs)
}

/// The value this policy stored under `key`, if any and not expired.
pub fn state_get(key: &str) -> Option<Vec<u8>> {
    imports::state_get(key)
}

/// Stores `value` under `key` for this policy, for `ttl_secs` seconds.
pub fn state_set(key: &str, value: &[u8], ttl_secs: u32) {
    imports::state_set(key, value, ttl_secs)
}

/// Looks `key` up in the enrichment table `table` declared in `policy.toml`.
pub fn lookup(table: &str, key: &str) -> Option<String> {
    imports::lookup(table, key)
}

/// Writes a line to the gateway's log (rate-limited by the gateway).
pub fn log(level: Level, message: &str) {
    imports::log(level as u8, message)
}

/// The in-process stand-in for the host used on non-wasm targets (native tests).
///
/// Per thread: counters add up forever (no time passes, `window_secs` is ignored), state
/// never expires (`ttl_secs` is ignored), lookups answer what [`native::insert_lookup`] put in, and
/// [`log`] lines are kept until [`native::take_logs`].
#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::Level;

    #[derive(Default)]
    struct Host {
        counters: HashMap<String, i64>,
        state: HashMap<String, Vec<u8>>,
        tables: HashMap<(String, String), String>,
        logs: Vec<(Level, String)>,
    }

    thread_local! {
        static HOST: RefCell<Host> = RefCell::new(Host::default());
    }

    fn with<T>(f: impl FnOnce(&mut Host) -> T) -> T {
        HOST.with(|h| f(&mut h.borrow_mut()))
    }

    /// Forgets every counter, state value, lookup entry and log line of this thread.
    pub fn reset() {
        with(|h| *h = Host::default());
    }

    /// Makes [`lookup(table, key)`](super::lookup) answer `value`.
    pub fn insert_lookup(table: &str, key: &str, value: &str) {
        with(|h| h.tables.insert((table.to_owned(), key.to_owned()), value.to_owned()));
    }

    /// The log lines written so far (oldest first), removing them.
    pub fn take_logs() -> Vec<(Level, String)> {
        with(|h| std::mem::take(&mut h.logs))
    }

    pub(super) fn counter_add(key: &str, delta: i64, _window_secs: u32) -> i64 {
        with(|h| {
            let count = h.counters.entry(key.to_owned()).or_insert(0);
            *count = count.saturating_add(delta);
            *count
        })
    }

    pub(super) fn state_get(key: &str) -> Option<Vec<u8>> {
        with(|h| h.state.get(key).cloned())
    }

    pub(super) fn state_set(key: &str, value: &[u8], _ttl_secs: u32) {
        with(|h| h.state.insert(key.to_owned(), value.to_owned()));
    }

    pub(super) fn lookup(table: &str, key: &str) -> Option<String> {
        with(|h| h.tables.get(&(table.to_owned(), key.to_owned())).cloned())
    }

    pub(super) fn log(level: u8, message: &str) {
        let level = match level {
            0 => Level::Trace,
            1 => Level::Debug,
            2 => Level::Info,
            3 => Level::Warn,
            _ => Level::Error,
        };
        with(|h| h.logs.push((level, message.to_owned())));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn native_stand_in_keeps_per_thread_state() {
        native::reset();
        assert_eq!(counter_add("fail:alice", 1, 60), 1);
        assert_eq!(counter_add("fail:alice", 2, 60), 3);
        assert_eq!(counter_add("fail:bob", 1, 60), 1);
        assert_eq!(state_get("k"), None);
        state_set("k", b"v", 10);
        assert_eq!(state_get("k"), Some(b"v".to_vec()));
        assert_eq!(lookup("geo", "192.0.2.7"), None);
        native::insert_lookup("geo", "192.0.2.7", "FR");
        assert_eq!(lookup("geo", "192.0.2.7").as_deref(), Some("FR"));
        log(Level::Warn, "careful");
        assert_eq!(native::take_logs(), vec![(Level::Warn, "careful".to_string())]);
        assert!(native::take_logs().is_empty());
        native::reset();
        assert_eq!(state_get("k"), None);
    }
}
