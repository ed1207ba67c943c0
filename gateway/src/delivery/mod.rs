//! Alert delivery: one worker thread per `[[sink]]` takes the pending entries of the
//! store's durable outbox (written by the writer in each alert's own group commit),
//! delivers them, and records `delivered`, a retry with exponential backoff, or `dead`
//! after `[delivery] max_attempts`. The writer never waits for a sink; a worker's
//! attempts have time limits. The audit-logging-failure alert reaches the workers
//! through [`OutboxSignal`] instead of sled.
//!
//! `sink` (the three kinds), `webhook`, `syslog` and `worker` (the retry loop).

mod sink;
mod syslog;
mod webhook;
mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError};
use crate::store::{OutboxOptions, OutboxSignal, OutboxSink, Store, outbox::severity_rank};

pub use sink::slack_text;
pub use syslog::rfc5424;

/// The delivery workers could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create the HTTP client of sink {sink}: {message}")]
    Client { sink: String, message: String },
    #[error("cannot start the delivery thread of sink {sink}: {source}")]
    Thread { sink: String, source: std::io::Error },
}

/// How long shutdown waits for workers in the middle of an attempt.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// What the store needs to fill the outbox for `config`'s sinks.
pub fn outbox_options(config: &Config) -> OutboxOptions {
    OutboxOptions {
        sinks: config
            .sink
            .iter()
            .map(|s| OutboxSink {
                name: s.name().to_string(),
                min_rank: s.min_severity.as_deref().map_or(0, severity_rank),
            })
            .collect(),
        signal: Arc::new(OutboxSignal::default()),
    }
}

/// The running delivery workers.
#[derive(Debug)]
pub struct Deliveries {
    signal: Arc<OutboxSignal>,
    handles: Vec<(String, JoinHandle<()>)>,
}

impl Deliveries {
    /// Starts one worker per `[[sink]]` of `config` on `store` (opened with
    /// [`outbox_options`] of the same config). Blocks until each has built its sink.
    pub fn start(config: &Config, store: &Store) -> Result<Deliveries, DeliveryError> {
        let signal = store.outbox_signal();
        let mut out = Deliveries { signal: signal.clone(), handles: Vec::new() };
        let retry = worker::Retry::from(&config.delivery);
        for (i, sink_config) in config.sink.iter().enumerate() {
            let name = sink_config.name().to_string();
            let sink_config = sink_config.clone();
            let store = store.clone();
            let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
            let thread_name = format!("sink-{name}");
            let worker_name = name.clone();
            let handle = std::thread::Builder::new()
                .name(thread_name)
                .spawn(move || match sink::Sink::build(i, &sink_config) {
                    Ok(sink) => {
                        let _ = ready_tx.send(Ok(()));
                        worker::Worker { name: worker_name, sink, store, retry }.run();
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                })
                .map_err(|source| DeliveryError::Thread { sink: name.clone(), source })?;
            out.handles.push((name.clone(), handle));
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    out.shutdown();
                    return Err(e);
                }
                Err(_) => {
                    out.shutdown();
                    return Err(DeliveryError::Client {
                        sink: name,
                        message: "the worker ended at start".into(),
                    });
                }
            }
            tracing::info!(sink = %sink_config_summary(&config.sink[i]), "alert sink started");
        }
        Ok(out)
    }

    /// Stops the workers; one inside a slow attempt is left behind after a few seconds
    /// (its entry stays pending and is delivered after the next start).
    pub fn shutdown(self) {
        self.signal.stop();
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        while Instant::now() < deadline && !self.handles.iter().all(|(_, h)| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for (name, h) in self.handles {
            if !h.is_finished() {
                tracing::warn!(sink = %name, "an alert sink is still busy at shutdown; not waiting for it");
            } else if h.join().is_err() {
                tracing::error!(sink = %name, "an alert delivery thread panicked");
            }
        }
    }
}

/// `name (type)` for the start-up log line: never a URL (it may hold a token) or header.
fn sink_config_summary(s: &crate::config::SinkConfig) -> String {
    format!("{} ({:?})", s.name(), s.kind).to_lowercase()
}
