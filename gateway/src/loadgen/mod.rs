//! `auditgate bench`: a load generator users point at their own deployment (like
//! `pgbench` or `redis-benchmark`). It sends workload W1 of the design over N keep-alive
//! connections, as NDJSON batches or one event per request, and reports acknowledged
//! events per second, request latency percentiles and errors by status.
//!
//! `workload` builds the events, `runner` sends them and measures, `report` presents the
//! result (text or JSON).

pub mod report;
pub mod runner;
pub mod workload;

use std::time::Duration;

pub use report::Report;
pub use runner::{run, run_blocking};

/// How events are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// `POST /v1/events/bulk`, `--batch` NDJSON lines per request.
    Bulk,
    /// `POST /v1/events`, one JSON object per request.
    Single,
}

impl Mode {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Bulk => "bulk",
            Mode::Single => "single",
        }
    }
}

/// The options of `auditgate bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key with the `ingest` role.
    #[arg(long, env = "AUDITGATE_BENCH_KEY", hide_env_values = true)]
    pub key: String,
    /// `bulk` (NDJSON batches) or `single` (one event per request).
    #[arg(long, value_enum, default_value = "bulk")]
    pub mode: Mode,
    /// Events per request in bulk mode.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Concurrent connections (each sends its next request when the last one is answered).
    #[arg(long, short = 'c', default_value_t = 8)]
    pub connections: usize,
    /// How long to measure, after the warm-up (e.g. `30s`, `500ms`, `2m`).
    #[arg(long, short = 'd', default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load sent before measuring starts (not in the latency figures).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Seed of the workload: the same seed sends the same events (their ids aside).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Pre-generated events the connections cycle through.
    #[arg(long, default_value_t = 16_384)]
    pub pool: usize,
    /// Time limit of one request.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Threads of the generator (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Why a benchmark could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("--url must start with http:// or https://, got {0:?}")]
    InvalidUrl(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot start the generator's runtime: {0}")]
    Runtime(std::io::Error),
    #[error("a connection task failed: {0}")]
    Task(String),
    #[error("the gateway refused the key ({status}): {body} (does --key have the ingest role?)")]
    Refused { status: u16, body: String },
}

/// A duration that `parse_duration` could not read.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a duration: write a number and a unit (ms, s, m), e.g. 500ms, 30s, 2m")]
pub struct DurationError(String);

/// Parses `500ms`, `30s`, `1.5s`, `2m` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| DurationError(text.to_string()))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(DurationError(text.to_string())),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms").ok(), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5s").ok(), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m").ok(), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7").ok(), Some(Duration::from_secs(7)));
        for bad in ["", "s", "ten s", "5h", "-1s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
