//! Sliding-window counters (`counter-add`), one table per policy.
//!
//! Representation: per key, a *sparse ring of time buckets* on the wall clock. A key's
//! window of `W` seconds is cut into at most [`BUCKETS`] buckets of `ceil(W / BUCKETS)`
//! seconds (1 s for windows up to a minute), numbered `unix_secs / width`; only buckets
//! that saw a change are kept, oldest first, so a key costs 16 bytes per active bucket and
//! never more than `(BUCKETS + 1) * 16`, however many events it counts (a list of
//! timestamps would grow with the traffic: a brute-force storm is exactly when it must
//! not). Bucket numbers come from the wall clock, so after a restart the windows simply
//! continue from what was persisted. The price is granularity: the count includes every
//! bucket that overlaps the window, so it may include events up to one bucket width
//! (W/60) older than `W`: it errs towards counting, the safe side for alerting.

use std::collections::{HashMap, VecDeque};

/// Buckets a window is cut into.
pub const BUCKETS: u64 = 60;

/// The bucket width (seconds) for a window of `window_secs` (at least 1).
pub fn bucket_width(window_secs: u32) -> u64 {
    u64::from(window_secs.max(1)).div_ceil(BUCKETS).max(1)
}

/// One key's buckets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counter {
    /// The window of the latest call, in seconds.
    pub window: u32,
    /// Seconds per bucket, derived from `window`.
    pub width: u64,
    /// `(bucket number, sum of deltas)`, oldest first, numbers strictly increasing.
    pub buckets: VecDeque<(u64, i64)>,
    /// Changed since the last persist.
    pub dirty: bool,
}

impl Counter {
    /// The first bucket number that still overlaps `(now - window, now]`.
    fn first_live(&self, now_secs: u64) -> u64 {
        now_secs.saturating_sub(u64::from(self.window)) / self.width.max(1)
    }

    /// Adds `delta` at `now_secs` and returns the sum over the window.
    pub fn add(&mut self, now_secs: u64, delta: i64, window_secs: u32) -> i64 {
        let width = bucket_width(window_secs);
        self.window = window_secs.max(1);
        if width != self.width {
            self.rebucket(width);
        }
        let first = self.first_live(now_secs);
        while self.buckets.front().is_some_and(|(b, _)| *b < first) {
            self.buckets.pop_front();
            self.dirty = true;
        }
        if delta != 0 {
            // A clock that stepped back counts into the newest bucket.
            let now_bucket = now_secs / width;
            match self.buckets.back_mut() {
                Some((b, sum)) if *b >= now_bucket => *sum = sum.saturating_add(delta),
                _ => self.buckets.push_back((now_bucket, delta)),
            }
            self.dirty = true;
        }
        self.buckets.iter().fold(0i64, |acc, (_, d)| acc.saturating_add(*d))
    }

    /// Re-cuts the buckets to `width` seconds (the key is now used with another window).
    /// Each old bucket lands in the new bucket holding its *last* second, so nothing
    /// leaves a window earlier than it would have; the sum is kept.
    fn rebucket(&mut self, width: u64) {
        let old = self.width.max(1);
        let mut out: VecDeque<(u64, i64)> = VecDeque::with_capacity(self.buckets.len());
        for (b, sum) in self.buckets.drain(..) {
            let nb = b.saturating_add(1).saturating_mul(old).saturating_sub(1) / width;
            match out.back_mut() {
                Some((last, s)) if *last == nb => *s = s.saturating_add(sum),
                _ => out.push_back((nb, sum)),
            }
        }
        self.buckets = out;
        self.width = width;
        self.dirty = true;
    }

    /// Nothing of it is inside its window any more: it may be forgotten.
    pub fn is_expired(&self, now_secs: u64) -> bool {
        let first = self.first_live(now_secs);
        self.buckets.back().is_none_or(|(b, _)| *b < first)
    }
}

/// Why a counter call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterRefused {
    #[error("the policy already has {0} live counters (cap engine.host.max_counter_keys)")]
    TooManyKeys(usize),
}

/// The counters of one policy.
#[derive(Debug, Default)]
pub struct CounterTable {
    pub entries: HashMap<String, Counter>,
    /// Keys changed (or removed) since the last persist; each key at most once while its
    /// entry is marked dirty.
    pub changed: Vec<String>,
    /// When expired counters were last swept because the table was full.
    last_full_sweep: u64,
}

impl CounterTable {
    /// `counter-add` for an already checked key and window.
    pub fn add(
        &mut self,
        key: &str,
        delta: i64,
        window_secs: u32,
        now_secs: u64,
        max_keys: usize,
    ) -> Result<i64, CounterRefused> {
        if let Some(counter) = self.entries.get_mut(key) {
            let was_dirty = counter.dirty;
            let sum = counter.add(now_secs, delta, window_secs);
            if counter.dirty && !was_dirty {
                self.changed.push(key.to_owned());
            }
            return Ok(sum);
        }
        if delta == 0 {
            // Reading a counter that does not exist creates nothing.
            return Ok(0);
        }
        if self.entries.len() >= max_keys {
            // At most one full sweep per second: a full table must not make every call O(n).
            if self.last_full_sweep != now_secs {
                self.last_full_sweep = now_secs;
                self.sweep(now_secs);
            }
            if self.entries.len() >= max_keys {
                return Err(CounterRefused::TooManyKeys(self.entries.len()));
            }
        }
        let mut counter = Counter::default();
        let sum = counter.add(now_secs, delta, window_secs);
        self.entries.insert(key.to_owned(), counter);
        self.changed.push(key.to_owned());
        Ok(sum)
    }

    /// Forgets every counter whose window has passed; returns how many.
    pub fn sweep(&mut self, now_secs: u64) -> usize {
        let before = self.entries.len();
        let changed = &mut self.changed;
        self.entries.retain(|key, c| {
            let keep = !c.is_expired(now_secs);
            if !keep && !c.dirty {
                changed.push(key.clone());
            }
            keep
        });
        before - self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    #[test]
    fn counts_within_the_window_and_forgets_after_it() {
        let mut c = Counter::default();
        assert_eq!(c.add(T0, 1, 10), 1);
        assert_eq!(c.add(T0 + 3, 2, 10), 3);
        assert_eq!(c.add(T0 + 9, 1, 10), 4);
        // T0 is exactly 10 s old: its bucket still overlaps the window (count errs high).
        assert_eq!(c.add(T0 + 10, 0, 10), 4);
        assert_eq!(c.add(T0 + 11, 0, 10), 3);
        assert_eq!(c.add(T0 + 14, 0, 10), 1);
        assert_eq!(c.add(T0 + 20, 0, 10), 0);
        assert!(c.is_expired(T0 + 20));
        assert!(c.buckets.is_empty());
    }

    #[test]
    fn memory_per_key_is_bounded_by_the_bucket_count() {
        let mut c = Counter::default();
        for s in 0..10_000u64 {
            c.add(T0 + s, 1, 300);
        }
        assert_eq!(bucket_width(300), 5);
        assert!(c.buckets.len() as u64 <= BUCKETS + 1, "{}", c.buckets.len());
        // 300 s of one event per second: 300, plus at most one bucket (5 s) more.
        let n = c.add(T0 + 10_000, 0, 300);
        assert!((300..=305).contains(&n), "{n}");
    }

    #[test]
    fn a_clock_that_steps_back_counts_into_the_newest_bucket() {
        let mut c = Counter::default();
        c.add(T0 + 100, 1, 60);
        assert_eq!(c.add(T0 + 50, 1, 60), 2);
        assert_eq!(c.buckets.len(), 1);
    }

    #[test]
    fn another_window_rebuckets_and_keeps_the_sum() {
        let mut c = Counter::default();
        for s in 0..60 {
            c.add(T0 + s, 1, 60);
        }
        assert_eq!(c.add(T0 + 59, 0, 3600), 60);
        assert_eq!(c.width, 60);
        assert!(c.buckets.len() <= 2);
        assert_eq!(c.add(T0 + 59, 0, 60), 60);
    }

    #[test]
    fn negative_deltas_and_saturation() {
        let mut c = Counter::default();
        assert_eq!(c.add(T0, 5, 60), 5);
        assert_eq!(c.add(T0, -7, 60), -2);
        assert_eq!(c.add(T0, i64::MAX, 60), i64::MAX - 2);
        assert_eq!(c.add(T0 + 1, i64::MAX, 60), i64::MAX);
    }

    #[test]
    fn the_table_caps_live_keys_and_frees_expired_ones() {
        let mut t = CounterTable::default();
        assert_eq!(t.add("a", 1, 10, T0, 2), Ok(1));
        assert_eq!(t.add("b", 1, 10, T0, 2), Ok(1));
        assert_eq!(t.add("c", 1, 10, T0, 2), Err(CounterRefused::TooManyKeys(2)));
        // Existing keys keep counting, reading an unknown key creates nothing.
        assert_eq!(t.add("a", 1, 10, T0, 2), Ok(2));
        assert_eq!(t.add("zzz", 0, 10, T0, 2), Ok(0));
        // Once "a" and "b" have left their windows, "c" fits.
        assert_eq!(t.add("c", 1, 10, T0 + 30, 2), Ok(1));
        assert_eq!(t.entries.len(), 1);
        assert!(t.changed.iter().any(|k| k == "a") && t.changed.iter().any(|k| k == "b"));
    }
}
