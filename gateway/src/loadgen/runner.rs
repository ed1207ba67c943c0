//! Drives the load: N connections (one tokio task and one keep-alive HTTP connection each)
//! send W1 events back to back until the duration is over, then the per-connection
//! histograms and counts are merged into a [`Report`].

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Deserialize;

use super::report::{Counts, Latency, Report, secs};
use super::workload::{EventBody, Workload, WorkloadSpec, write_event};
use super::{BenchArgs, BenchError, Mode};

/// Highest latency the histograms hold (1 h, in µs); longer ones are clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The part of an ingest answer the generator counts.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    accepted: u64,
    #[serde(default)]
    rejected: u64,
    #[serde(default)]
    quarantined: u64,
}

/// What one connection measured.
struct ConnectionResult {
    histogram: Histogram<u64>,
    measured: Counts,
    warmup: Counts,
    last_answer: Instant,
}

/// The first refusal of the key, which stops the run.
#[derive(Debug, Clone)]
struct Refusal {
    status: u16,
    body: String,
}

/// Shared by all connections of a run.
struct Shared {
    workload: Workload,
    endpoint: String,
    authorization: String,
    mode: Mode,
    batch: usize,
    run_id: String,
    warmup_end: Instant,
    end: Instant,
    stop: AtomicBool,
    refusal: Mutex<Option<Refusal>>,
}

/// Runs the benchmark described by `args` on a tokio runtime of its own.
pub fn run_blocking(args: &BenchArgs) -> Result<Report, BenchError> {
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;
    runtime.block_on(run(args))
}

/// Runs the benchmark described by `args` on the current tokio runtime.
pub async fn run(args: &BenchArgs) -> Result<Report, BenchError> {
    let base = args.url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(BenchError::InvalidUrl(args.url.clone()));
    }
    if args.connections == 0 {
        return Err(BenchError::InvalidArgument("--connections must be at least 1".into()));
    }
    if args.mode == Mode::Bulk && args.batch == 0 {
        return Err(BenchError::InvalidArgument("--batch must be at least 1".into()));
    }
    let spec = WorkloadSpec { seed: args.seed, pool: args.pool.max(1), ..WorkloadSpec::default() };
    let workload = Workload::generate(&spec);
    let (path, batch) = match args.mode {
        Mode::Bulk => ("/v1/events/bulk", args.batch),
        Mode::Single => ("/v1/events", 1),
    };
    let start = Instant::now();
    let warmup_end = start + args.warmup;
    let shared = Arc::new(Shared {
        workload,
        endpoint: format!("{base}{path}"),
        authorization: format!("Bearer {}", args.key),
        mode: args.mode,
        batch,
        run_id: run_id(),
        warmup_end,
        end: warmup_end + args.duration,
        stop: AtomicBool::new(false),
        refusal: Mutex::new(None),
    });
    let cpu_at_warmup_end = Arc::new(Mutex::new(None));
    let cpu_probe = {
        let cpu = cpu_at_warmup_end.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(warmup_end.into()).await;
            if let Ok(mut slot) = cpu.lock() {
                *slot = Some((Instant::now(), cpu_time()));
            }
        })
    };
    let mut tasks = Vec::with_capacity(args.connections);
    for conn in 0..args.connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .timeout(args.timeout)
            .build()?;
        tasks.push(tokio::spawn(connection(shared.clone(), client, conn, args.connections)));
    }
    let mut histogram = new_histogram();
    let mut measured = Counts::default();
    let mut warmup = Counts::default();
    let mut last_answer = warmup_end;
    for task in tasks {
        let r = task.await.map_err(|e| BenchError::Task(e.to_string()))?;
        // Same bounds on every histogram: adding cannot fail.
        let _ = histogram.add(&r.histogram);
        measured.merge(&r.measured);
        warmup.merge(&r.warmup);
        last_answer = last_answer.max(r.last_answer);
    }
    let cpu_end = cpu_time();
    cpu_probe.abort();
    if let Some(r) = shared.refusal.lock().ok().and_then(|g| g.clone()) {
        return Err(BenchError::Refused { status: r.status, body: r.body });
    }
    let measured_time = last_answer.saturating_duration_since(warmup_end);
    let measured_secs = secs(measured_time).max(1e-9);
    let client_cpu_percent = cpu_at_warmup_end.lock().ok().and_then(|g| *g).and_then(|(at, cpu_start)| {
        let wall = last_answer.saturating_duration_since(at).as_secs_f64();
        match (cpu_start, cpu_end) {
            (Some(a), Some(b)) if wall > 0.0 => Some((b.saturating_sub(a)).as_secs_f64() / wall * 100.0),
            _ => None,
        }
    });
    Ok(Report {
        url: base.to_string(),
        mode: args.mode.as_str().to_string(),
        batch,
        connections: args.connections,
        seed: args.seed,
        mean_event_bytes: shared.workload.mean_event_bytes(),
        secret_share: shared.workload.secret_share(),
        warmup_secs: secs(args.warmup),
        measured_secs,
        events_per_sec: measured.accepted as f64 / measured_secs,
        requests_per_sec: measured.requests as f64 / measured_secs,
        latency: Latency::from_histogram(&histogram),
        measured,
        warmup,
        client_cpu_percent,
    })
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant, valid bounds: 1 µs .. 1 h, 3 digits")
}

/// One connection: send, wait for the answer, record, repeat until the end (or a refusal).
async fn connection(
    shared: Arc<Shared>,
    client: reqwest::Client,
    conn: usize,
    connections: usize,
) -> ConnectionResult {
    let pool = &shared.workload.events;
    let mut next = conn * pool.len() / connections;
    let mut sent: u64 = 0;
    let mut result = ConnectionResult {
        histogram: new_histogram(),
        measured: Counts::default(),
        warmup: Counts::default(),
        last_answer: Instant::now(),
    };
    let content_type = match shared.mode {
        Mode::Bulk => "application/x-ndjson",
        Mode::Single => "application/json",
    };
    while Instant::now() < shared.end && !shared.stop.load(Ordering::Relaxed) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut body = Vec::with_capacity(shared.batch * 700);
        for _ in 0..shared.batch {
            let event: &EventBody = &pool[next];
            next = (next + 1) % pool.len();
            sent += 1;
            let id = format!("{}-{conn:x}-{sent:x}", shared.run_id);
            write_event(&mut body, &id, &time, event);
            if shared.mode == Mode::Bulk {
                body.push(b'\n');
            }
        }
        let started = Instant::now();
        let answer = client
            .post(&shared.endpoint)
            .header(reqwest::header::AUTHORIZATION, &shared.authorization)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await;
        let outcome = match answer {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let bytes = resp.bytes().await.unwrap_or_default();
                Some((status, bytes))
            }
            Err(_) => None,
        };
        let done = Instant::now();
        let counts = if done < shared.warmup_end { &mut result.warmup } else { &mut result.measured };
        match outcome {
            None => {
                counts.transport_errors += 1;
                // Do not spin against a gateway that is down.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Some((status, bytes)) => {
                counts.requests += 1;
                if (200..300).contains(&status) {
                    if let Ok(a) = serde_json::from_slice::<Answer>(&bytes) {
                        counts.accepted += a.accepted;
                        counts.rejected += a.rejected;
                        counts.quarantined += a.quarantined;
                    }
                } else {
                    *counts.errors_by_status.entry(status).or_insert(0) += 1;
                    if status == 401 || status == 403 {
                        if let Ok(mut slot) = shared.refusal.lock() {
                            slot.get_or_insert(Refusal {
                                status,
                                body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                            });
                        }
                        shared.stop.store(true, Ordering::Relaxed);
                    }
                }
                if done >= shared.warmup_end {
                    let us = done.duration_since(started).as_micros().clamp(1, u128::from(MAX_LATENCY_US));
                    result.histogram.saturating_record(us as u64);
                }
            }
        }
        result.last_answer = done;
    }
    result
}

/// A prefix that makes this run's event ids unique (ids are the only part of an event not
/// derived from the seed, so that re-running with the same seed stores new events instead
/// of idempotent duplicates).
fn run_id() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("b{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id() & 0xffff)
}

/// CPU time (user + system) used so far by this process, all threads.
fn cpu_time() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a `rusage` into the pointer it is given, which points
        // to a properly sized, zero-initialised struct.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: getrusage returned 0, so it filled the struct.
        let usage = unsafe { usage.assume_init() };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
        Some(tv(usage.ru_utime) + tv(usage.ru_stime))
    }
    #[cfg(not(unix))]
    {
        None
    }
}
