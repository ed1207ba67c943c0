//! `log(level, message)`: a policy's lines in the gateway's log, with the policy's name,
//! through a token bucket per policy (shared by all its instances) so that a chatty or
//! hostile policy cannot flood the log. Dropped lines are counted and reported in one
//! summary line (when the next line gets through, or at the next persister tick).

use std::sync::Mutex;
use std::time::Instant;

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self { rate: f64::from(rate_per_sec), burst, tokens: burst, last: now }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Inner {
    bucket: TokenBucket,
    dropped: u64,
}

/// The log budget of one policy.
#[derive(Debug)]
pub struct PolicyLog {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl PolicyLog {
    /// A budget of `rate` lines per second after a burst of `burst`, lines cut at
    /// `max_bytes`.
    pub fn new(rate: u32, burst: u32, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner { bucket: TokenBucket::new(rate, burst, Instant::now()), dropped: 0 }),
            max_bytes,
        }
    }

    /// Writes `message` for `policy` at `level` (0 trace … 4 error), or counts it as
    /// dropped.
    pub fn write(&self, policy: &str, level: u8, message: &str) {
        let dropped = {
            let Ok(mut inner) = self.inner.lock() else { return };
            if !inner.bucket.take(Instant::now()) {
                inner.dropped += 1;
                return;
            }
            std::mem::take(&mut inner.dropped)
        };
        report_dropped(policy, dropped);
        let message = truncate(message, self.max_bytes);
        let message = one_line(&message);
        match level {
            0 => tracing::trace!(policy, "{message}"),
            1 => tracing::debug!(policy, "{message}"),
            2 => tracing::info!(policy, "{message}"),
            3 => tracing::warn!(policy, "{message}"),
            _ => tracing::error!(policy, "{message}"),
        }
    }

    /// Reports lines dropped since the last report (called periodically).
    pub fn flush_dropped(&self, policy: &str) {
        let dropped = match self.inner.lock() {
            Ok(mut inner) => std::mem::take(&mut inner.dropped),
            Err(_) => return,
        };
        report_dropped(policy, dropped);
    }
}

fn report_dropped(policy: &str, dropped: u64) {
    if dropped > 0 {
        tracing::warn!(policy, dropped, "policy log lines dropped by the rate limit");
    }
}

/// `text` with its control characters (line breaks above all) escaped (`\n`, `\u{1b}`):
/// text from a policy or an event is one log line, never a forged second one.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `s` cut to at most `max` bytes, on a character boundary, marked with `…` when cut.
pub fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes cut]", &s[..end], s.len() - end).into()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 3, t0);
        assert!((0..3).all(|_| b.take(t0)));
        assert!(!b.take(t0));
        assert!(!b.take(t0 + Duration::from_millis(50)));
        assert!(b.take(t0 + Duration::from_millis(110)));
        assert!(!b.take(t0 + Duration::from_millis(110)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert!((0..3).all(|_| b.take(later)));
        assert!(!b.take(later));
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("aé", 2), "a… [2 bytes cut]");
    }
}
