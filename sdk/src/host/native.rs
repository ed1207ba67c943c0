//! The mock host used on non-wasm targets (native tests), one per thread.
//!
//! It behaves like the gateway's host functions, with a clock the test controls:
//! - time starts at [`START`] and moves only when the test calls [`advance`] or
//!   [`set_now`];
//! - [`counter_add`](super::counter_add) keeps every addition with its time and returns
//!   the sum of those made less than `window_secs` ago (`0` counts as 1 s);
//! - [`state_get`](super::state_get) answers `None` once `ttl_secs` have passed since the
//!   [`state_set`](super::state_set) (`0`: never expires);
//! - [`lookup`](super::lookup) answers what [`insert_lookup`]/[`load_lookup`] put in;
//! - [`log`](super::log) lines are kept (cut to 4 KiB, as the gateway does) until
//!   [`take_logs`].
//!
//! The gateway's caps apply: a key over 512 bytes or a state value over 64 KiB is ignored
//! with a warning in the log, like on the gateway.
//!
//! ```
//! use std::time::Duration;
//! use auditgate_sdk::host::{self, native};
//!
//! native::reset();
//! assert_eq!(host::counter_add("fail:alice", 1, 60), 1);
//! native::advance(Duration::from_secs(30));
//! assert_eq!(host::counter_add("fail:alice", 1, 60), 2);
//! native::advance(Duration::from_secs(31));            // the first one is now 61 s old
//! assert_eq!(host::counter_add("fail:alice", 0, 60), 1);
//!
//! host::state_set("seen:alice", b"FR", 10);
//! native::advance(Duration::from_secs(10));
//! assert_eq!(host::state_get("seen:alice"), None);      // expired
//! ```

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Level;

/// Where the mock clock starts after [`reset`]: 2024-01-01T00:00:00Z.
pub const START: Duration = Duration::from_secs(1_704_067_200);

/// Longest counter or state key the gateway accepts.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest state value the gateway accepts.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Longest log line the gateway keeps.
pub const MAX_LOG_BYTES: usize = 4096;

struct Host {
    /// Time since the Unix epoch.
    now: Duration,
    counters: HashMap<String, VecDeque<(Duration, i64)>>,
    /// Value and expiry time (`None`: never).
    state: HashMap<String, (Vec<u8>, Option<Duration>)>,
    tables: HashMap<String, HashMap<String, String>>,
    logs: Vec<(Level, String)>,
}

impl Default for Host {
    fn default() -> Self {
        Self {
            now: START,
            counters: HashMap::new(),
            state: HashMap::new(),
            tables: HashMap::new(),
            logs: Vec::new(),
        }
    }
}

thread_local! {
    static HOST: RefCell<Host> = RefCell::new(Host::default());
}

fn with<T>(f: impl FnOnce(&mut Host) -> T) -> T {
    HOST.with(|h| f(&mut h.borrow_mut()))
}

/// Forgets every counter, state value, lookup entry and log line of this thread, and sets
/// the clock back to [`START`].
pub fn reset() {
    with(|h| *h = Host::default());
}

/// Moves the mock clock forward.
pub fn advance(by: Duration) {
    with(|h| h.now = h.now.saturating_add(by));
}

/// Sets the mock clock (times before the Unix epoch count as the epoch). Moving it
/// backwards is allowed; counters then count additions "from the future" as current.
pub fn set_now(at: SystemTime) {
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    with(|h| h.now = since_epoch);
}

/// The mock clock's time.
pub fn now() -> SystemTime {
    UNIX_EPOCH + with(|h| h.now)
}

/// Makes [`lookup(table, key)`](super::lookup) answer `value`.
pub fn insert_lookup(table: &str, key: &str, value: &str) {
    with(|h| h.tables.entry(table.to_owned()).or_default().insert(key.to_owned(), value.to_owned()));
}

/// Adds every `(key, value)` row to `table`, as [`insert_lookup`] does one.
pub fn load_lookup<K: Into<String>, V: Into<String>>(table: &str, rows: impl IntoIterator<Item = (K, V)>) {
    with(|h| {
        let table = h.tables.entry(table.to_owned()).or_default();
        table.extend(rows.into_iter().map(|(k, v)| (k.into(), v.into())));
    });
}

/// The log lines written so far (oldest first), removing them.
pub fn take_logs() -> Vec<(Level, String)> {
    with(|h| std::mem::take(&mut h.logs))
}

/// The sum of counter `key` over the last `window_secs`, without adding to it.
pub fn counter(key: &str, window_secs: u32) -> i64 {
    counter_add(key, 0, window_secs)
}

fn warn(h: &mut Host, message: &str) {
    h.logs.push((Level::Warn, message.to_owned()));
}

pub(super) fn counter_add(key: &str, delta: i64, window_secs: u32) -> i64 {
    with(|h| {
        if key.len() > MAX_KEY_BYTES {
            warn(h, "counter-add: key longer than 512 bytes ignored");
            return 0;
        }
        let now = h.now;
        let window = Duration::from_secs(u64::from(window_secs.max(1)));
        let entries = h.counters.entry(key.to_owned()).or_default();
        while entries.front().is_some_and(|&(t, _)| now.saturating_sub(t) >= window) {
            entries.pop_front();
        }
        if delta != 0 {
            entries.push_back((now, delta));
        }
        entries.iter().map(|&(_, d)| d).fold(0i64, i64::saturating_add)
    })
}

pub(super) fn state_get(key: &str) -> Option<Vec<u8>> {
    with(|h| match h.state.get(key) {
        Some((value, expiry)) if expiry.is_none_or(|e| h.now < e) => Some(value.clone()),
        _ => None,
    })
}

pub(super) fn state_set(key: &str, value: &[u8], ttl_secs: u32) {
    with(|h| {
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            warn(h, "state-set: key or value over its cap (512 B / 64 KiB); call ignored");
            return;
        }
        let expiry = (ttl_secs > 0).then(|| h.now + Duration::from_secs(u64::from(ttl_secs)));
        h.state.insert(key.to_owned(), (value.to_owned(), expiry));
    });
}

pub(super) fn lookup(table: &str, key: &str) -> Option<String> {
    with(|h| h.tables.get(table)?.get(key).cloned())
}

pub(super) fn log(level: u8, message: &str) {
    let level = match level {
        0 => Level::Trace,
        1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warn,
        _ => Level::Error,
    };
    let mut cut = message.len().min(MAX_LOG_BYTES);
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    with(|h| h.logs.push((level, message[..cut].to_owned())));
}

#[cfg(test)]
mod tests {
    use super::super::{Level, counter_add, log, lookup, state_get, state_set};
    use super::{
        MAX_KEY_BYTES, MAX_LOG_BYTES, MAX_VALUE_BYTES, START, advance, counter, insert_lookup, load_lookup,
        now, reset, set_now, take_logs,
    };
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn keeps_per_thread_state_and_the_old_api_works() {
        reset();
        assert_eq!(counter_add("fail:alice", 1, 60), 1);
        assert_eq!(counter_add("fail:alice", 2, 60), 3);
        assert_eq!(counter_add("fail:bob", 1, 60), 1);
        assert_eq!(state_get("k"), None);
        state_set("k", b"v", 10);
        assert_eq!(state_get("k"), Some(b"v".to_vec()));
        assert_eq!(lookup("geo", "192.0.2.7"), None);
        insert_lookup("geo", "192.0.2.7", "FR");
        assert_eq!(lookup("geo", "192.0.2.7").as_deref(), Some("FR"));
        assert_eq!(lookup("asn", "192.0.2.7"), None);
        log(Level::Warn, "careful");
        assert_eq!(take_logs(), vec![(Level::Warn, "careful".to_string())]);
        assert!(take_logs().is_empty());
        reset();
        assert_eq!(state_get("k"), None);
        assert_eq!(lookup("geo", "192.0.2.7"), None);
        assert_eq!(counter("fail:alice", 60), 0);
    }

    #[test]
    fn counters_slide_with_the_clock() {
        reset();
        assert_eq!(now(), UNIX_EPOCH + START);
        assert_eq!(counter_add("k", 1, 300), 1);
        advance(Duration::from_secs(100));
        assert_eq!(counter_add("k", 1, 300), 2);
        advance(Duration::from_secs(100));
        assert_eq!(counter_add("k", 1, 300), 3);
        // 300 s after the first addition it no longer counts.
        advance(Duration::from_secs(100));
        assert_eq!(counter("k", 300), 2);
        advance(Duration::from_secs(199));
        assert_eq!(counter("k", 300), 1);
        advance(Duration::from_secs(1));
        assert_eq!(counter("k", 300), 0);
        // A negative delta counts too; window 0 acts as 1 s.
        assert_eq!(counter_add("k", 5, 300), 5);
        assert_eq!(counter_add("k", -2, 300), 3);
        assert_eq!(counter_add("w0", 1, 0), 1);
        assert_eq!(counter_add("w0", 1, 0), 2);
        advance(Duration::from_secs(1));
        assert_eq!(counter("w0", 0), 0);
    }

    #[test]
    fn state_expires_after_its_ttl() {
        reset();
        state_set("short", b"1", 10);
        state_set("forever", b"2", 0);
        advance(Duration::from_secs(9));
        assert_eq!(state_get("short"), Some(b"1".to_vec()));
        advance(Duration::from_secs(1));
        assert_eq!(state_get("short"), None);
        // Setting again restarts the TTL.
        state_set("short", b"3", 10);
        advance(Duration::from_secs(5));
        assert_eq!(state_get("short"), Some(b"3".to_vec()));
        set_now(UNIX_EPOCH + START + Duration::from_secs(10 * 365 * 86_400));
        assert_eq!(state_get("forever"), Some(b"2".to_vec()));
        assert_eq!(state_get("short"), None);
    }

    #[test]
    fn caps_are_enforced_with_a_warning() {
        reset();
        let long_key = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(counter_add(&long_key, 1, 60), 0);
        state_set(&long_key, b"v", 0);
        state_set("big", &vec![0; MAX_VALUE_BYTES + 1], 0);
        assert_eq!(state_get(&long_key), None);
        assert_eq!(state_get("big"), None);
        let logs = take_logs();
        assert_eq!(logs.len(), 3);
        assert!(logs.iter().all(|(level, _)| *level == Level::Warn));
        log(Level::Info, &"é".repeat(MAX_LOG_BYTES));
        let logs = take_logs();
        assert_eq!(logs[0].1.len(), MAX_LOG_BYTES);
    }

    #[test]
    fn lookup_tables_load_in_bulk() {
        reset();
        load_lookup("geo", [("192.0.2.0/24", "FR"), ("198.51.100.0/24", "DE")]);
        insert_lookup("geo", "203.0.113.0/24", "JP");
        assert_eq!(lookup("geo", "198.51.100.0/24").as_deref(), Some("DE"));
        assert_eq!(lookup("geo", "203.0.113.0/24").as_deref(), Some("JP"));
    }
}
