//! Hourly rollups of the log for `GET /v1/stats` and the compliance reports, kept in the
//! `stats` tree by a background indexer thread that reads committed records after the
//! writer (never on the writer thread, the ingest bottleneck).
//!
//! | key | value |
//! |---|---|
//! | `c ‖ hour ‖ action ‖ outcome` | [`FieldCounts`]: 8 × u64 BE |
//! | `u ‖ hour ‖ action ‖ outcome ‖ user` | events (u64 BE) ‖ last `seq` with it (u64 BE) |
//! | `i ‖ hour ‖ action ‖ outcome ‖ ip` | events ‖ last `seq` |
//! | `m\0high_water` | the last `seq` counted (u64 BE) |
//! | `m\0version` | the layout version (u64 BE); another one makes the tree rebuilt |
//!
//! `hour` is the event `time` rounded down to the UTC hour (sign-flipped µs, BE, like index
//! keys); action, outcome and user are `len ‖ bytes` and ip is the IP index prefix, each as
//! the index spells it: an encrypted store's sealed fields are keyed hashes, so the tree
//! names nobody, and a top list shows the value of the last record holding it, opened.
//!
//! Crash safety: the counts of a chunk and the new high-water mark go in one sled batch, so
//! after a crash the tree says exactly which records it counted; readers add the few
//! committed records above the mark on the fly. The tree is derived from the log only and
//! rebuilt from `seq` 1 when missing or of another layout version.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Map, Value};

use super::encryption::Sealing;
use super::error::StoreError;
use super::indexes::{Keying, PLAIN};
use super::keys::{read_u64, time_bits, time_from_bits, u64_key};
use super::trees::Trees;
use super::visible::Visible;

/// One hour in microseconds: the rollup granularity.
pub const HOUR_MICROS: i64 = 3_600_000_000;
/// Records counted per indexer batch.
const CHUNK: u64 = 4096;
/// How long the indexer sleeps when it has caught up.
const IDLE: Duration = Duration::from_millis(100);
const LAYOUT_VERSION: u64 = 1;
/// An event whose `time` is further than this from its `received_at` counts as skewed.
pub const CLOCK_SKEW_MICROS: i64 = 300 * 1_000_000;

const HIGH_WATER: &[u8] = b"m\0high_water";
const VERSION: &[u8] = b"m\0version";
const CELL: u8 = b'c';
const USER: u8 = b'u';
const IP: u8 = b'i';

/// What the `c` cells count per (hour, action, outcome): events and the fields they carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldCounts {
    pub events: u64,
    /// Alerts raised on these events.
    pub alerts: u64,
    pub with_user: u64,
    /// Events with an `ip`.
    pub with_ip: u64,
    /// Events with `resource_type` or `resource_id`.
    pub with_resource: u64,
    /// Events with `changes` (before/after).
    pub with_changes: u64,
    /// Events a policy redacted or pseudonymized (non-empty `redacted`).
    pub with_redacted: u64,
    /// Events whose `time` is more than [`CLOCK_SKEW_MICROS`] away from `received_at`.
    pub clock_skewed: u64,
}

type Slots = [u64; 8];

impl FieldCounts {
    fn from_slots(s: &Slots) -> Self {
        FieldCounts {
            events: s[0],
            alerts: s[1],
            with_user: s[2],
            with_ip: s[3],
            with_resource: s[4],
            with_changes: s[5],
            with_redacted: s[6],
            clock_skewed: s[7],
        }
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &FieldCounts) {
        self.events += other.events;
        self.alerts += other.alerts;
        self.with_user += other.with_user;
        self.with_ip += other.with_ip;
        self.with_resource += other.with_resource;
        self.with_changes += other.with_changes;
        self.with_redacted += other.with_redacted;
        self.clock_skewed += other.clock_skewed;
    }
}

/// Which action(s) a stats query counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMatch {
    Exact(String),
    /// Actions starting with this (`user.*` is `Prefix("user.")`).
    Prefix(String),
}

/// What `GET /v1/stats` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsBy {
    Action,
    Outcome,
    User,
    Ip,
}

/// A stats query over whole hours.
#[derive(Debug, Clone)]
pub struct StatsQuery {
    /// Start (µs), a multiple of `bucket_micros`.
    pub from_micros: i64,
    /// End, exclusive (µs), a multiple of `bucket_micros`.
    pub to_micros: i64,
    /// [`HOUR_MICROS`] or a day.
    pub bucket_micros: i64,
    pub by: StatsBy,
    pub action: Option<ActionMatch>,
    pub outcome: Option<String>,
    /// Length of the top lists.
    pub top: usize,
}

/// The answer to a [`StatsQuery`].
#[derive(Debug, Clone, Default)]
pub struct StatsResult {
    /// One map per bucket of `[from, to)`, in order: group value → events.
    pub buckets: Vec<Vec<(String, u64)>>,
    /// Group value → events over the whole range.
    pub totals: Vec<(String, u64)>,
    /// Users with the most `failure` events, most first.
    pub top_failed_users: Vec<(String, u64)>,
    /// IPs with the most events, most first.
    pub top_ips: Vec<(String, u64)>,
    /// Alerts raised on the counted events.
    pub alerts: u64,
}

/// One (action, outcome) pair over a period, for the compliance reports.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    /// The action (`[sealed]` when the store seals actions).
    pub action: String,
    pub outcome: String,
    pub counts: FieldCounts,
}

/// The rollup tree and what the indexer and readers need around it.
pub(crate) struct Rollups {
    tree: sled::Tree,
    trees: Trees,
    visible: Arc<Visible>,
    sealing: Option<Arc<Sealing>>,
    /// Held for writing while a chunk is applied, for reading while a query reads the
    /// high-water mark, the tail above it and the tree: a query never counts a record twice.
    lock: RwLock<()>,
}

/// The background indexer thread.
pub(crate) struct Indexer {
    stop: Arc<AtomicBool>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Rollups {
    /// Opens the `stats` tree; clears it when its layout version is not this one, or when
    /// it counted beyond the committed log (it is then rebuilt from the log).
    pub(crate) fn open(
        db: &sled::Db,
        trees: Trees,
        visible: Arc<Visible>,
        sealing: Option<Arc<Sealing>>,
    ) -> Result<Rollups, StoreError> {
        let tree = db.open_tree("stats")?;
        let version = tree.get(VERSION)?.map(|v| read_u64(&v)).transpose()?;
        let high = tree.get(HIGH_WATER)?.map(|v| read_u64(&v)).transpose()?.unwrap_or(0);
        if version != Some(LAYOUT_VERSION) || high > visible.seq() {
            if version.is_some() {
                tracing::warn!(?version, high, "stats rollups are rebuilt from the log");
            }
            tree.clear()?;
            tree.insert(VERSION, &u64_key(LAYOUT_VERSION)[..])?;
        }
        Ok(Rollups { tree, trees, visible, sealing, lock: RwLock::new(()) })
    }

    fn keying(&self) -> &Keying {
        self.sealing.as_deref().map_or(&PLAIN, Sealing::keying)
    }

    /// The last `seq` the tree has counted.
    pub(crate) fn high_water(&self) -> Result<u64, StoreError> {
        Ok(self.tree.get(HIGH_WATER)?.map(|v| read_u64(&v)).transpose()?.unwrap_or(0))
    }

    /// Counts the next chunk of committed records; false when there was none.
    fn catch_up_once(&self) -> Result<bool, StoreError> {
        let high = self.high_water()?;
        let visible = self.visible.seq();
        if high >= visible {
            return Ok(false);
        }
        let to = visible.min(high + CHUNK);
        let deltas = self.deltas(high + 1, to)?;
        let _guard = self.lock.write().unwrap_or_else(PoisonError::into_inner);
        let mut batch = sled::Batch::default();
        for (key, add) in deltas {
            let kind = key[0];
            let mut slots = match self.tree.get(&key)? {
                Some(v) => decode_value(kind, &v)?,
                None => [0; 8],
            };
            merge(kind, &mut slots, &add);
            batch.insert(key, encode_value(kind, &slots));
        }
        batch.insert(HIGH_WATER, &u64_key(to)[..]);
        self.tree.apply_batch(batch)?;
        Ok(true)
    }

    /// The rollup entries of the records `from..=to`.
    fn deltas(&self, from: u64, to: u64) -> Result<HashMap<Vec<u8>, Slots>, StoreError> {
        let mut alerts: HashMap<u64, u64> = HashMap::new();
        for item in self.trees.alerts_by_seq.range(u64_key(from)..) {
            let (key, _) = item?;
            let seq = read_u64(key.get(..8).unwrap_or(&[]))?;
            if seq > to {
                break;
            }
            *alerts.entry(seq).or_default() += 1;
        }
        let keying = self.keying();
        let mut out: HashMap<Vec<u8>, Slots> = HashMap::new();
        for item in self.trees.log.range(u64_key(from)..=u64_key(to)) {
            let (key, bytes) = item?;
            let seq = read_u64(&key)?;
            let mut record: Map<String, Value> = match serde_json::from_slice(&bytes) {
                Ok(Value::Object(m)) => m,
                _ => return Err(StoreError::Corrupt(format!("record {seq} is not a JSON object"))),
            };
            if let Some(s) = &self.sealing {
                s.open(&mut record, &format!("record {seq}"))?;
            }
            let n_alerts = alerts.get(&seq).copied().unwrap_or(0);
            for (k, v) in observe(&record, seq, n_alerts, keying)? {
                merge(k[0], out.entry(k).or_insert([0; 8]), &v);
            }
        }
        Ok(out)
    }

    /// Calls `f` with every entry of `kind` for hours in `[from, to)`: the tree's, then
    /// those of the committed records it has not counted yet.
    fn scan(
        &self,
        kind: u8,
        from: i64,
        to: i64,
        mut f: impl FnMut(&Split<'_>, &Slots),
    ) -> Result<(), StoreError> {
        let _guard = self.lock.read().unwrap_or_else(PoisonError::into_inner);
        let high = self.high_water()?;
        let visible = self.visible.seq();
        let tail = if high < visible { self.deltas(high + 1, visible)? } else { HashMap::new() };
        let lo = hour_prefix(kind, from);
        let hi = hour_prefix(kind, to);
        for item in self.tree.range(lo..hi) {
            let (key, value) = item?;
            let split = split_key(&key)?;
            f(&split, &decode_value(kind, &value)?);
        }
        for (key, slots) in &tail {
            if key[0] != kind {
                continue;
            }
            let split = split_key(key)?;
            if split.hour >= from && split.hour < to {
                f(&split, slots);
            }
        }
        Ok(())
    }

    fn matches(&self, q_action: Option<&ActionMatch>, q_outcome: Option<&[u8]>, s: &Split<'_>) -> bool {
        let action_ok = match q_action {
            None => true,
            Some(ActionMatch::Exact(a)) => {
                self.keying().value_prefix("action", a).is_ok_and(|p| p == s.action)
            }
            Some(ActionMatch::Prefix(p)) => {
                !self.keying().hashes("action") && text(s.action).starts_with(p.as_str())
            }
        };
        action_ok && q_outcome.is_none_or(|o| o == s.outcome)
    }

    /// Answers a stats query from the rollups (plus the uncounted tail).
    pub(crate) fn stats(
        &self,
        q: &StatsQuery,
        open: impl Fn(u64) -> Option<Value>,
    ) -> Result<StatsResult, StoreError> {
        let n = usize::try_from((q.to_micros - q.from_micros) / q.bucket_micros.max(1)).unwrap_or(0);
        let outcome = q.outcome.as_deref().map(|o| self.keying().value_prefix("outcome", o)).transpose();
        // An outcome too long to be stored matches nothing.
        let Ok(outcome) = outcome else { return Ok(empty(n)) };
        let failure = self.keying().value_prefix("outcome", "failure")?;
        let mut buckets: Vec<HashMap<Vec<u8>, Seen>> = vec![HashMap::new(); n];
        let mut failed: HashMap<Vec<u8>, Seen> = HashMap::new();
        let mut ips: HashMap<Vec<u8>, Seen> = HashMap::new();
        let mut alerts = 0u64;
        let index = |hour: i64| usize::try_from((hour - q.from_micros) / q.bucket_micros).ok();
        self.scan(CELL, q.from_micros, q.to_micros, |s, v| {
            if !self.matches(q.action.as_ref(), outcome.as_deref(), s) {
                return;
            }
            alerts += v[1];
            let group = match q.by {
                StatsBy::Action => s.action,
                StatsBy::Outcome => s.outcome,
                _ => return,
            };
            if let Some(b) = index(s.hour).and_then(|i| buckets.get_mut(i)) {
                b.entry(group.to_vec()).or_default().add(v[0], 0);
            }
        })?;
        self.scan(USER, q.from_micros, q.to_micros, |s, v| {
            if !self.matches(q.action.as_ref(), outcome.as_deref(), s) {
                return;
            }
            if s.outcome == failure.as_slice() {
                failed.entry(s.rest.to_vec()).or_default().add(v[0], v[1]);
            }
            if q.by == StatsBy::User
                && let Some(b) = index(s.hour).and_then(|i| buckets.get_mut(i))
            {
                b.entry(s.rest.to_vec()).or_default().add(v[0], v[1]);
            }
        })?;
        self.scan(IP, q.from_micros, q.to_micros, |s, v| {
            if !self.matches(q.action.as_ref(), outcome.as_deref(), s) {
                return;
            }
            ips.entry(s.rest.to_vec()).or_default().add(v[0], v[1]);
            if q.by == StatsBy::Ip
                && let Some(b) = index(s.hour).and_then(|i| buckets.get_mut(i))
            {
                b.entry(s.rest.to_vec()).or_default().add(v[0], v[1]);
            }
        })?;
        let mut names = Names { keying: self.keying(), open: &open, cache: HashMap::new() };
        let group_field = match q.by {
            StatsBy::Action => "action",
            StatsBy::Outcome => "outcome",
            StatsBy::User => "user",
            StatsBy::Ip => "ip",
        };
        let mut totals: HashMap<Vec<u8>, Seen> = HashMap::new();
        let mut out_buckets = Vec::with_capacity(n);
        for bucket in buckets {
            let mut named = Vec::with_capacity(bucket.len());
            for (raw, seen) in bucket {
                totals.entry(raw.clone()).or_default().add(seen.count, seen.last_seq);
                named.push((names.name(group_field, &raw, seen.last_seq), seen.count));
            }
            named.sort();
            out_buckets.push(named);
        }
        let mut named_totals: Vec<(String, u64)> =
            totals.iter().map(|(raw, s)| (names.name(group_field, raw, s.last_seq), s.count)).collect();
        named_totals.sort();
        Ok(StatsResult {
            buckets: out_buckets,
            totals: named_totals,
            top_failed_users: top(&failed, q.top, |raw, s| names.name("user", raw, s.last_seq)),
            top_ips: top(&ips, q.top, |raw, s| names.name("ip", raw, s.last_seq)),
            alerts,
        })
    }

    /// Every (action, outcome) pair with events in the hours `[from, to)`, summed.
    pub(crate) fn activity(&self, from: i64, to: i64) -> Result<Vec<ActivityRow>, StoreError> {
        let mut rows: HashMap<(Vec<u8>, Vec<u8>), FieldCounts> = HashMap::new();
        self.scan(CELL, from, to, |s, v| {
            rows.entry((s.action.to_vec(), s.outcome.to_vec())).or_default().add(&FieldCounts::from_slots(v));
        })?;
        let keying = self.keying();
        let mut out: Vec<ActivityRow> = rows
            .into_iter()
            .map(|((a, o), counts)| ActivityRow {
                action: if keying.hashes("action") { SEALED.into() } else { text(&a) },
                outcome: if keying.hashes("outcome") { SEALED.into() } else { text(&o) },
                counts,
            })
            .collect();
        out.sort_by(|a, b| (&a.action, &a.outcome).cmp(&(&b.action, &b.outcome)));
        Ok(out)
    }
}

/// What a top list or bucket shows for a value the store keeps as a keyed hash and whose
/// record cannot be opened.
pub const SEALED: &str = "[sealed]";

fn empty(n: usize) -> StatsResult {
    StatsResult { buckets: vec![Vec::new(); n], ..StatsResult::default() }
}

/// Events and the last `seq` of one group value.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    count: u64,
    last_seq: u64,
}

impl Seen {
    fn add(&mut self, count: u64, last_seq: u64) {
        self.count += count;
        self.last_seq = self.last_seq.max(last_seq);
    }
}

fn top(
    map: &HashMap<Vec<u8>, Seen>,
    n: usize,
    mut name: impl FnMut(&[u8], &Seen) -> String,
) -> Vec<(String, u64)> {
    let mut all: Vec<(&Vec<u8>, &Seen)> = map.iter().filter(|(_, s)| s.count > 0).collect();
    // Most first; ties by the stored bytes, so the order is stable.
    all.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
    let mut out: Vec<(String, u64)> =
        all.into_iter().take(n).map(|(raw, s)| (name(raw, s), s.count)).collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Turns stored group values into what an answer shows.
struct Names<'a, F: Fn(u64) -> Option<Value>> {
    keying: &'a Keying,
    open: &'a F,
    cache: HashMap<(&'static str, Vec<u8>), String>,
}

impl<F: Fn(u64) -> Option<Value>> Names<'_, F> {
    fn name(&mut self, field: &'static str, raw: &[u8], last_seq: u64) -> String {
        if let Some(n) = self.cache.get(&(field, raw.to_vec())) {
            return n.clone();
        }
        let keyed = self.keying.hashes(field);
        let name = if keyed {
            // The value of the last record holding it, opened (`[erased]` after an erasure).
            (self.open)(last_seq)
                .and_then(|r| r.get(field).and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| SEALED.into())
        } else if field == "ip" {
            ip_text(raw)
        } else {
            text(raw)
        };
        self.cache.insert((field, raw.to_vec()), name.clone());
        name
    }
}

/// A `len ‖ bytes` field as text.
fn text(lp: &[u8]) -> String {
    String::from_utf8_lossy(lp.get(2..).unwrap_or(&[])).into_owned()
}

/// An IP index prefix as text.
fn ip_text(raw: &[u8]) -> String {
    match raw.first() {
        Some(4) if raw.len() == 5 => Ipv4Addr::new(raw[1], raw[2], raw[3], raw[4]).to_string(),
        Some(6) if raw.len() == 17 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&raw[1..]);
            Ipv6Addr::from(b).to_string()
        }
        Some(0) => text(&raw[1..]),
        _ => SEALED.into(),
    }
}

/// The rollup entries one record adds.
fn observe(
    record: &Map<String, Value>,
    seq: u64,
    alerts: u64,
    keying: &Keying,
) -> Result<Vec<(Vec<u8>, Slots)>, StoreError> {
    let text_of = |name: &str| record.get(name).and_then(Value::as_str);
    let micros = |name: &str| {
        text_of(name).and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_micros())
    };
    let received = micros("received_at");
    let Some(time) = micros("time").or(received) else {
        tracing::warn!(seq, "a record without a readable time is left out of the stats");
        return Ok(Vec::new());
    };
    let hour = time.div_euclid(HOUR_MICROS) * HOUR_MICROS;
    let action = keying.value_prefix("action", text_of("action").unwrap_or(""))?;
    let outcome = keying.value_prefix("outcome", text_of("outcome").unwrap_or(""))?;
    let has = |name: &str| record.get(name).is_some_and(|v| !v.is_null());
    let user = text_of("user");
    let ip = text_of("ip");
    let redacted = record.get("redacted").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    let skewed = received.is_some_and(|r| (r - time).abs() > CLOCK_SKEW_MICROS);
    let cell = [
        1,
        alerts,
        u64::from(user.is_some()),
        u64::from(ip.is_some()),
        u64::from(has("resource_type") || has("resource_id")),
        u64::from(has("changes")),
        u64::from(redacted),
        u64::from(skewed),
    ];
    let mut out = vec![(cell_key(CELL, hour, &action, &outcome, &[]), cell)];
    let seen = [1, seq, 0, 0, 0, 0, 0, 0];
    if let Some(user) = user {
        out.push((cell_key(USER, hour, &action, &outcome, &keying.value_prefix("user", user)?), seen));
    }
    if let Some(ip) = ip {
        out.push((cell_key(IP, hour, &action, &outcome, &keying.ip_prefix(ip)?), seen));
    }
    Ok(out)
}

fn hour_prefix(kind: u8, hour: i64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(kind);
    k.extend_from_slice(&time_bits(hour).to_be_bytes());
    k
}

fn cell_key(kind: u8, hour: i64, action: &[u8], outcome: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = hour_prefix(kind, hour);
    k.extend_from_slice(action);
    k.extend_from_slice(outcome);
    k.extend_from_slice(rest);
    k
}

/// A rollup key taken apart; `action` and `outcome` keep their length prefix.
struct Split<'a> {
    hour: i64,
    action: &'a [u8],
    outcome: &'a [u8],
    rest: &'a [u8],
}

fn split_key(key: &[u8]) -> Result<Split<'_>, StoreError> {
    let bad = || StoreError::Corrupt(format!("a stats key of {} bytes cannot be read", key.len()));
    let hour = time_from_bits(read_u64(key.get(1..9).ok_or_else(bad)?)?);
    let field = |at: usize| -> Result<usize, StoreError> {
        let len = key.get(at..at + 2).ok_or_else(bad)?;
        let end = at + 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        if end > key.len() { Err(bad()) } else { Ok(end) }
    };
    let a_end = field(9)?;
    let o_end = field(a_end)?;
    Ok(Split { hour, action: &key[9..a_end], outcome: &key[a_end..o_end], rest: &key[o_end..] })
}

fn merge(kind: u8, into: &mut Slots, add: &Slots) {
    if kind == CELL {
        for (a, b) in into.iter_mut().zip(add) {
            *a += b;
        }
    } else {
        into[0] += add[0];
        into[1] = into[1].max(add[1]);
    }
}

fn slot_count(kind: u8) -> usize {
    if kind == CELL { 8 } else { 2 }
}

fn encode_value(kind: u8, slots: &Slots) -> Vec<u8> {
    slots[..slot_count(kind)].iter().flat_map(|s| s.to_be_bytes()).collect()
}

fn decode_value(kind: u8, bytes: &[u8]) -> Result<Slots, StoreError> {
    let n = slot_count(kind);
    if bytes.len() != n * 8 {
        return Err(StoreError::Corrupt(format!(
            "a stats value has {} bytes, expected {}",
            bytes.len(),
            n * 8
        )));
    }
    let mut slots = [0u64; 8];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        slots[i] = read_u64(chunk)?;
    }
    Ok(slots)
}

impl Indexer {
    /// Starts the indexer thread over `rollups`.
    pub(crate) fn spawn(rollups: Arc<Rollups>) -> std::io::Result<Indexer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new().name("auditgate-stats".into()).spawn(move || {
            while !flag.load(Ordering::Acquire) {
                match rollups.catch_up_once() {
                    Ok(true) => {}
                    Ok(false) => std::thread::park_timeout(IDLE),
                    Err(e) => {
                        tracing::error!(error = %e, "the stats indexer cannot count the log; retrying");
                        std::thread::park_timeout(Duration::from_secs(1));
                    }
                }
            }
        })?;
        Ok(Indexer { stop, handle: Mutex::new(Some(handle)) })
    }

    /// Stops the thread (idempotent). Counts not yet applied are counted on the fly by
    /// readers and by the next start.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let handle = self.handle.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle {
            handle.thread().unpark();
            if handle.join().is_err() {
                tracing::error!("the stats indexer thread panicked");
            }
        }
    }
}
