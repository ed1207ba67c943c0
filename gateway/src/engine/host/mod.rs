//! The host side of the WIT `host` interface: what a policy may call, and nothing else.
//!
//! One [`HostServices`] per engine holds, per policy, the counters, the state and the log
//! budget (shared by every instance of every pool, namespaced by policy), the lookup
//! tables, and the persister thread that keeps counters and state in sled. Each instance
//! gets a [`HostContext`]: a cheap handle on its policy's part.
//!
//! A call over a cap (key or value too long, too many keys, a window out of range) is
//! refused with [`HostCallRefused`]: the binding turns it into a trap of the guest, so the
//! policy's `on_error` applies to the event being processed and the error is counted, as
//! for any other policy failure (see the doc comments in `sdk/wit/policy.wit`). A silent
//! "ignored" would let an alerting policy run on with wrong counts, unseen.

pub mod cidr;
pub mod counters;
pub mod log;
pub mod lookup;
pub mod persist;
pub mod sealing;
pub mod state;

use std::borrow::Cow;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::{Config, HostLimits};
use counters::CounterTable;
use log::PolicyLog;
use lookup::{LookupError, LookupTables};
use persist::Durable;
use sealing::HostSealing;
use state::{StateCaps, StateTable};

/// How often (in persister passes) expired counters and state are swept from memory.
const SWEEP_EVERY_PASSES: u64 = 10;
/// Least time between two "unknown lookup table" warnings of one policy.
const UNKNOWN_TABLE_WARN_EVERY: Duration = Duration::from_secs(10);

/// Why the host services could not start.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("policy host state (sled trees host_counters/host_state): {0}")]
    Storage(#[from] sled::Error),
    #[error("cannot start the host persister thread: {0}")]
    Thread(std::io::Error),
}

/// A host call refused because it breaks a cap: the guest traps with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("host call {call} refused: {reason}")]
pub struct HostCallRefused {
    /// The WIT function (`counter-add`, `state-set`, ...).
    pub call: &'static str,
    pub reason: String,
}

fn refuse(call: &'static str, reason: impl Into<String>) -> HostCallRefused {
    HostCallRefused { call, reason: reason.into() }
}

/// Refuses `call` when its `what` (a key, a value) has more than `cap` bytes, naming the
/// `engine.host` setting `cap_name`.
fn check_size(
    call: &'static str,
    what: &str,
    len: usize,
    cap_name: &str,
    cap: usize,
) -> Result<(), HostCallRefused> {
    if len > cap {
        return Err(refuse(call, format!("{what} of {len} bytes (cap engine.host.{cap_name} {cap})")));
    }
    Ok(())
}

/// Seconds and milliseconds since the Unix epoch (0 before it).
fn wall_clock() -> (u64, u64) {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// "Unknown table" warnings of one policy, rate-limited.
#[derive(Debug, Default)]
struct UnknownTableWarnings {
    last: Option<Instant>,
    suppressed: u64,
}

/// Everything the host keeps for one policy.
#[derive(Debug)]
pub struct PolicyHost {
    name: Arc<str>,
    /// The sled key prefix of this policy.
    prefix: Vec<u8>,
    /// Over an encrypted store: the tables are keyed by keyed hashes of the policy's keys.
    sealing: Option<Arc<HostSealing>>,
    limits: HostLimits,
    counters: Mutex<CounterTable>,
    state: Mutex<StateTable>,
    log: PolicyLog,
    unknown_tables: Mutex<UnknownTableWarnings>,
}

impl PolicyHost {
    fn new(name: &str, limits: &HostLimits, durable: Option<&Durable>) -> Self {
        Self {
            name: Arc::from(name),
            prefix: persist::policy_prefix(name),
            sealing: durable.and_then(|d| d.sealing().cloned()),
            limits: limits.clone(),
            counters: Mutex::new(CounterTable::default()),
            state: Mutex::new(StateTable::default()),
            log: PolicyLog::new(limits.log_lines_per_sec, limits.log_burst, limits.max_log_bytes),
            unknown_tables: Mutex::new(UnknownTableWarnings::default()),
        }
    }

    /// Checks `key` against the cap and answers the name the tables keep it under: the
    /// key itself, or its keyed hash over an encrypted store.
    fn check_key<'k>(&self, call: &'static str, key: &'k str) -> Result<Cow<'k, str>, HostCallRefused> {
        check_size(call, "key", key.len(), "max_key_bytes", self.limits.max_key_bytes)?;
        Ok(match &self.sealing {
            Some(s) => Cow::Owned(s.key_name(&self.prefix, key)),
            None => Cow::Borrowed(key),
        })
    }

    fn counters(&self) -> std::sync::MutexGuard<'_, CounterTable> {
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StateTable> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the persister thread and the host contexts share.
#[derive(Debug)]
struct Shared {
    policies: Vec<Arc<PolicyHost>>,
    durable: Option<Durable>,
    /// Held for a whole persist pass. After a hot reload two `HostServices` (the retiring
    /// set's and the new one's) share policies; one lock across generations keeps their
    /// persisters from writing an older value of a key after a newer one.
    persist_lock: Arc<Mutex<()>>,
}

impl Shared {
    /// Writes everything changed since the last pass and flushes; logs failures.
    fn persist(&self) {
        let _pass = self.persist_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(durable) = &self.durable else {
            // In memory only: forget the change lists, nobody reads them.
            for p in &self.policies {
                p.counters().changed.clear();
                p.state().changed.clear();
            }
            return;
        };
        let mut wrote = false;
        for p in &self.policies {
            let counters = persist::counter_changes(&p.prefix, &mut p.counters());
            let state = persist::state_changes(&p.prefix, &mut p.state(), durable.sealing().map(|s| &**s));
            match durable.write(counters, state) {
                Ok(w) => wrote |= w,
                Err(e) => tracing::error!(policy = %p.name, error = %e, "cannot write host counters/state"),
            }
        }
        if wrote && let Err(e) = durable.flush() {
            tracing::error!(error = %e, "cannot flush host counters/state");
        }
    }

    fn sweep(&self) {
        let (secs, ms) = wall_clock();
        for p in &self.policies {
            p.counters().sweep(secs);
            p.state().sweep(ms);
        }
    }

    fn report_dropped_logs(&self) {
        for p in &self.policies {
            p.log.flush_dropped(&p.name);
        }
    }
}

/// The persister thread and the way to stop it.
#[derive(Debug)]
struct Persister {
    stop: Sender<()>,
    handle: JoinHandle<()>,
}

/// Counters, state, log budgets and lookup tables of every policy of one engine.
#[derive(Debug)]
pub struct HostServices {
    shared: Arc<Shared>,
    tables: Arc<LookupTables>,
    persister: Mutex<Option<Persister>>,
}

impl HostServices {
    /// Loads the `[[lookup]]` tables, reads back each policy's counters and state from
    /// `durable` (sled; `None`: memory only, e.g. `check-config`) and starts the persister.
    /// `host_key` (an encrypted store's, `Store::host_key`): the trees hold keyed hashes
    /// and sealed values only.
    pub fn start(
        config: &Config,
        durable: Option<&sled::Db>,
        host_key: Option<&crate::crypto::SecretKey>,
    ) -> Result<HostServices, HostError> {
        let tables = LookupTables::load(&config.lookup)?;
        let sealing = host_key.map(|k| Arc::new(HostSealing::new(k)));
        let durable = durable.map(|db| Durable::open(db, sealing)).transpose()?;
        let limits = &config.engine.host;
        let (secs, ms) = wall_clock();
        let mut policies = Vec::with_capacity(config.policy.len());
        for pc in &config.policy {
            let host = PolicyHost::new(&pc.name, limits, durable.as_ref());
            if let Some(d) = &durable {
                d.load_policy(&host.prefix, &mut host.counters(), &mut host.state(), secs, ms)?;
                let (c, s) = (host.counters().entries.len(), host.state().entries.len());
                if c + s > 0 {
                    tracing::info!(policy = %pc.name, counters = c, state_keys = s, "host state restored");
                }
            }
            policies.push(Arc::new(host));
        }
        Self::run(Shared { policies, durable, persist_lock: Arc::default() }, tables, limits)
    }

    /// The host services of a reloaded policy set: `[[lookup]]` tables loaded again from
    /// `config`; a policy `previous` also has keeps its live counters, state and log budget
    /// (the same objects, so a count never drops or forks across the swap); a policy new to
    /// the chain is restored from sled. Shares `previous`'s sled trees and persist lock.
    pub fn start_next(config: &Config, previous: &HostServices) -> Result<HostServices, HostError> {
        let tables = LookupTables::load(&config.lookup)?;
        let old = &previous.shared;
        let limits = &config.engine.host;
        let (secs, ms) = wall_clock();
        let mut policies = Vec::with_capacity(config.policy.len());
        for pc in &config.policy {
            if let Some(kept) = old.policies.iter().find(|p| &*p.name == pc.name.as_str()) {
                policies.push(kept.clone());
                continue;
            }
            let host = PolicyHost::new(&pc.name, limits, old.durable.as_ref());
            if let Some(d) = &old.durable {
                d.load_policy(&host.prefix, &mut host.counters(), &mut host.state(), secs, ms)?;
            }
            policies.push(Arc::new(host));
        }
        let shared =
            Shared { policies, durable: old.durable.clone(), persist_lock: old.persist_lock.clone() };
        Self::run(shared, tables, limits)
    }

    /// Host services without sled (tests, benches): memory only, over loaded `tables`.
    pub fn in_memory(policies: &[&str], limits: HostLimits, tables: LookupTables) -> Result<Self, HostError> {
        let policies = policies.iter().map(|p| Arc::new(PolicyHost::new(p, &limits, None))).collect();
        Self::run(Shared { policies, durable: None, persist_lock: Arc::default() }, tables, &limits)
    }

    /// Starts the persister over `shared`.
    fn run(shared: Shared, tables: LookupTables, limits: &HostLimits) -> Result<Self, HostError> {
        let shared = Arc::new(shared);
        let persister = spawn_persister(shared.clone(), Duration::from_millis(limits.persist_interval_ms))?;
        Ok(HostServices { shared, tables: Arc::new(tables), persister: Mutex::new(Some(persister)) })
    }

    /// The context an instance of `policy` calls through (`None`: not a configured policy).
    pub fn context(&self, policy: &str) -> Option<HostContext> {
        let policy = self.shared.policies.iter().find(|p| &*p.name == policy)?.clone();
        Some(HostContext { policy, tables: self.tables.clone() })
    }

    /// SHA-256 digests of the lookup tables' files, by table name (sorted).
    pub fn table_digests(&self) -> Vec<(&str, [u8; 32])> {
        self.tables.digests()
    }

    /// Writes and flushes everything changed now (also done periodically).
    pub fn persist_now(&self) {
        self.shared.persist();
    }

    /// Stops the persister after a last pass (write and flush). Idempotent; also done on
    /// drop. Call it before closing the store at shutdown.
    pub fn shutdown(&self) {
        let persister = self.persister.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(p) = persister {
            drop(p.stop);
            if p.handle.join().is_err() {
                tracing::error!("the host persister thread panicked");
                self.shared.persist();
            }
        }
    }
}

impl Drop for HostServices {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn spawn_persister(shared: Arc<Shared>, interval: Duration) -> Result<Persister, HostError> {
    let (stop, stopped) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("auditgate-host-persist".into())
        .spawn(move || {
            let mut pass = 0u64;
            // A stop message or a dropped sender ends the loop; a timeout is one pass.
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                pass += 1;
                if pass.is_multiple_of(SWEEP_EVERY_PASSES) {
                    shared.sweep();
                }
                shared.persist();
                shared.report_dropped_logs();
            }
            shared.persist();
            shared.report_dropped_logs();
        })
        .map_err(HostError::Thread)?;
    Ok(Persister { stop, handle })
}

/// Per-instance host context: the calling policy's part of the host, and the tables.
#[derive(Debug, Clone)]
pub struct HostContext {
    policy: Arc<PolicyHost>,
    tables: Arc<LookupTables>,
}

impl HostContext {
    /// The calling policy's name.
    pub fn policy(&self) -> &str {
        &self.policy.name
    }

    /// `counter-add`: adds `delta` now and returns the count over the last `window_secs`.
    pub fn counter_add(&self, key: &str, delta: i64, window_secs: u32) -> Result<i64, HostCallRefused> {
        const CALL: &str = "counter-add";
        let p = &self.policy;
        let key = p.check_key(CALL, key)?;
        if window_secs == 0 || window_secs > p.limits.max_window_secs {
            return Err(refuse(
                CALL,
                format!(
                    "window of {window_secs} s (expected 1..={}, engine.host.max_window_secs)",
                    p.limits.max_window_secs
                ),
            ));
        }
        let (now, _) = wall_clock();
        p.counters()
            .add(&key, delta, window_secs, now, p.limits.max_counter_keys)
            .map_err(|e| refuse(CALL, e.to_string()))
    }

    /// `state-get`: the live value under `key`.
    pub fn state_get(&self, key: &str) -> Result<Option<Vec<u8>>, HostCallRefused> {
        let key = self.policy.check_key("state-get", key)?;
        let (_, now_ms) = wall_clock();
        Ok(self.policy.state().get(&key, now_ms))
    }

    /// `state-set`: stores `value` under `key` for `ttl_secs` (0: no expiry).
    pub fn state_set(&self, key: &str, value: Vec<u8>, ttl_secs: u32) -> Result<(), HostCallRefused> {
        const CALL: &str = "state-set";
        let p = &self.policy;
        let key = p.check_key(CALL, key)?;
        check_size(CALL, "value", value.len(), "max_value_bytes", p.limits.max_value_bytes)?;
        let (_, now_ms) = wall_clock();
        let expires_ms = match ttl_secs {
            0 => 0,
            ttl => now_ms.saturating_add(u64::from(ttl) * 1000),
        };
        let caps = StateCaps { max_keys: p.limits.max_state_keys, max_bytes: p.limits.max_state_bytes };
        p.state().set(&key, value, expires_ms, now_ms, caps).map_err(|e| refuse(CALL, e.to_string()))
    }

    /// `lookup`: the answer of `table` for `key`; an unknown table answers `None` and is
    /// reported in the log (rate-limited).
    pub fn lookup(&self, table: &str, key: &str) -> Option<String> {
        match self.tables.table(table) {
            Some(t) => t.get(key).map(str::to_owned),
            None => {
                self.warn_unknown_table(table);
                None
            }
        }
    }

    fn warn_unknown_table(&self, table: &str) {
        let mut w = self.policy.unknown_tables.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if w.last.is_some_and(|t| now.duration_since(t) < UNKNOWN_TABLE_WARN_EVERY) {
            w.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut w.suppressed);
        w.last = Some(now);
        drop(w);
        let table = log::truncate(table, 128);
        tracing::warn!(
            policy = %self.policy.name,
            table = %table,
            suppressed,
            "lookup of a table that no [[lookup]] declares; answered none"
        );
    }

    /// `log`: a line in the gateway's log with the policy's name, rate-limited.
    pub fn log(&self, level: u8, message: &str) {
        self.policy.log.write(&self.policy.name, level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HostLimits {
        HostLimits { max_counter_keys: 2, max_state_keys: 2, max_value_bytes: 8, ..HostLimits::default() }
    }

    #[test]
    fn counters_are_shared_and_namespaced() {
        let h = HostServices::in_memory(&["a", "b"], HostLimits::default(), LookupTables::default())
            .expect("host");
        let (a1, a2, b) =
            (h.context("a").expect("a"), h.context("a").expect("a"), h.context("b").expect("b"));
        assert_eq!(a1.counter_add("k", 1, 60), Ok(1));
        assert_eq!(a2.counter_add("k", 2, 60), Ok(3));
        assert_eq!(b.counter_add("k", 1, 60), Ok(1));
        assert_eq!(a1.counter_add("k", 0, 60), Ok(3));
        assert!(h.context("c").is_none());
    }

    #[test]
    fn caps_are_refused_with_a_reason() {
        let h = HostServices::in_memory(&["p"], limits(), LookupTables::default()).expect("host");
        let p = h.context("p").expect("p");
        let long = "k".repeat(513);
        let err = p.counter_add(&long, 1, 60).expect_err("long key");
        assert!(err.to_string().contains("max_key_bytes"), "{err}");
        assert!(p.counter_add("k", 1, 0).expect_err("window 0").to_string().contains("max_window_secs"));
        p.counter_add("a", 1, 60).expect("fits");
        p.counter_add("b", 1, 60).expect("fits");
        assert!(p.counter_add("c", 1, 60).expect_err("full").to_string().contains("max_counter_keys"));
        assert!(p.state_set("k", vec![0; 9], 0).expect_err("big").to_string().contains("max_value_bytes"));
        assert!(p.state_get(&long).is_err());
        p.state_set("x", b"1".to_vec(), 0).expect("fits");
        p.state_set("y", b"1".to_vec(), 0).expect("fits");
        assert!(p.state_set("z", b"1".to_vec(), 0).expect_err("full").to_string().contains("max_state_keys"));
        assert_eq!(p.state_get("x"), Ok(Some(b"1".to_vec())));
        assert_eq!(p.state_get("z"), Ok(None));
    }

    #[test]
    fn unknown_tables_answer_none() {
        let h =
            HostServices::in_memory(&["p"], HostLimits::default(), LookupTables::default()).expect("host");
        assert_eq!(h.context("p").expect("p").lookup("nope", "k"), None);
    }
}
