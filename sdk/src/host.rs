//! The functions the gateway lends a policy (WIT interface `host`).
//!
//! In a component (`wasm32`) each call goes to the gateway. On other targets the WIT
//! imports cannot be called, so the same functions use [`native`], an in-process mock
//! that behaves like the gateway: sliding-window counters that honour `window_secs`, state
//! that expires after `ttl_secs`, lookup tables filled by the test, log lines kept for
//! inspection, and a clock the test moves ([`native::advance`]). One mock per thread, so
//! each `#[test]` (which runs on its own thread) starts empty.

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

/// Stores `value` under `key` for this policy, for `ttl_secs` seconds (0: no expiry).
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

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
