//! What a benchmark run measured: throughput, request latency percentiles from an HDR
//! histogram, errors by status, and how busy the load generator itself was (so a reader can
//! tell the gateway's limit from the generator's).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles of the measured requests, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    /// Percentiles of a histogram of microseconds.
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

/// Counts of one phase (warm-up or measurement).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    /// Requests that got an answer (any status).
    pub requests: u64,
    /// Events the gateway acknowledged as stored (`accepted`, duplicates included).
    pub accepted: u64,
    /// Events the gateway refused one by one (`rejected`: invalid or policy reject).
    pub rejected: u64,
    /// Events put in quarantine by a policy.
    pub quarantined: u64,
    /// Non-2xx answers by status code.
    pub errors_by_status: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused, reset, timeout).
    pub transport_errors: u64,
}

impl Counts {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.quarantined += other.quarantined;
        self.transport_errors += other.transport_errors;
        for (status, n) in &other.errors_by_status {
            *self.errors_by_status.entry(*status).or_insert(0) += n;
        }
    }

    /// Failed requests: non-2xx answers plus transport errors.
    pub fn failed_requests(&self) -> u64 {
        self.errors_by_status.values().sum::<u64>() + self.transport_errors
    }
}

/// The result of one `auditgate bench` run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub url: String,
    /// `bulk` or `single`.
    pub mode: String,
    /// Events per request (1 in single mode).
    pub batch: usize,
    pub connections: usize,
    pub seed: u64,
    /// Mean size of a sent event, in bytes.
    pub mean_event_bytes: f64,
    /// Share of events carrying a planted credential.
    pub secret_share: f64,
    pub warmup_secs: f64,
    /// Length of the measured phase (from the end of warm-up to the last answer).
    pub measured_secs: f64,
    /// Acknowledged events per second over the measured phase.
    pub events_per_sec: f64,
    pub requests_per_sec: f64,
    /// Latency of the measured requests (every answered request, any status).
    pub latency: Latency,
    pub measured: Counts,
    pub warmup: Counts,
    /// CPU used by this process over the measured phase, in percent of one core; near
    /// 100 × the cores it may use means the generator, not the gateway, was the limit.
    pub client_cpu_percent: Option<f64>,
}

impl Report {
    /// Everything the run sent that the gateway acknowledged (warm-up included): what it
    /// should now store, on a gateway that was empty before.
    pub fn total_accepted(&self) -> u64 {
        self.warmup.accepted + self.measured.accepted
    }

    /// Whether any request failed.
    pub fn has_errors(&self) -> bool {
        self.measured.failed_requests() + self.warmup.failed_requests() > 0
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let m = &self.measured;
        let _ = writeln!(s, "auditgate bench: {} (workload W1, seed {})", self.url, self.seed);
        let _ = writeln!(
            s,
            "  mode {} · {} event(s)/request · {} connection(s) · events ~{:.0} B, {:.1}% with a credential",
            self.mode,
            self.batch,
            self.connections,
            self.mean_event_bytes,
            self.secret_share * 100.0
        );
        let _ = writeln!(
            s,
            "  warm-up {:.1} s ({} requests), measured {:.2} s",
            self.warmup_secs, self.warmup.requests, self.measured_secs
        );
        let _ = writeln!(
            s,
            "  throughput  {:>10.0} events/s   {:>9.0} requests/s",
            self.events_per_sec, self.requests_per_sec
        );
        let l = &self.latency;
        let _ = writeln!(
            s,
            "  latency     p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            l.p50_ms, l.p90_ms, l.p99_ms, l.max_ms
        );
        let _ = writeln!(
            s,
            "  events      {} accepted, {} rejected, {} quarantined in {} requests",
            m.accepted, m.rejected, m.quarantined, m.requests
        );
        if m.failed_requests() == 0 {
            let _ = writeln!(s, "  errors      none");
        } else {
            let by_status: Vec<String> =
                m.errors_by_status.iter().map(|(status, n)| format!("{n} × {status}")).collect();
            let _ = writeln!(
                s,
                "  errors      {}{}",
                by_status.join(", "),
                if m.transport_errors > 0 {
                    format!(
                        "{}{} transport",
                        if by_status.is_empty() { "" } else { ", " },
                        m.transport_errors
                    )
                } else {
                    String::new()
                }
            );
        }
        if let Some(cpu) = self.client_cpu_percent {
            let _ = writeln!(s, "  generator   {cpu:.0}% of one core");
        }
        s
    }
}

/// Elapsed seconds of a duration, for the report.
pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
        for us in 1..=1000u64 {
            h.record(us * 10).expect("in range");
        }
        let l = Latency::from_histogram(&h);
        assert!((l.p50_ms - 5.0).abs() < 0.05, "{l:?}");
        assert!((l.p99_ms - 9.9).abs() < 0.05, "{l:?}");
        assert!((l.max_ms - 10.0).abs() < 0.05, "{l:?}");
    }

    #[test]
    fn counts_merge_and_errors_are_listed_by_status() {
        let mut a = Counts { requests: 3, accepted: 300, ..Counts::default() };
        let b = Counts {
            requests: 2,
            accepted: 100,
            errors_by_status: BTreeMap::from([(503, 1)]),
            transport_errors: 1,
            ..Counts::default()
        };
        a.merge(&b);
        assert_eq!((a.requests, a.accepted, a.failed_requests()), (5, 400, 2));
        assert_eq!(a.errors_by_status.get(&503), Some(&1));
    }
}
