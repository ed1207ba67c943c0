//! Retention as the gateway runs it: the `[retention]` and `[[legal_hold]]` config, the
//! job `serve` runs every `interval_secs`, `auditgate retention run` on a stopped data
//! directory, and the audit events of runs and hold changes. The archiving itself is
//! `Store::run_retention` (`store::retention`); segments are `ledger::archive`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Config, ConfigError};
use crate::store::{
    EncryptionOptions, HoldOrigin, HoldScope, LegalHold, NewRecord, RetentionPolicy, RetentionReport, Store,
    StoreOptions,
};

/// `action` of the event a retention run that archived something (or failed) writes.
pub const RUN_ACTION: &str = "auditgate.retention.run";
/// `action` of the event written when a legal hold is created through the API.
pub const HOLD_CREATE_ACTION: &str = "auditgate.legal_hold.create";
/// `action` of the event written when a legal hold is released through the API.
pub const HOLD_RELEASE_ACTION: &str = "auditgate.legal_hold.release";

/// `[retention]`: archive records older than `retention_days` into segments under
/// `archive_dir`, then remove them from the store. Off by default.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Run the job in `serve` (`auditgate retention run` works either way).
    pub enabled: bool,
    /// Records received longer ago than this many days are archived (fractions allowed:
    /// `0.0001` is 8.64 s). PCI DSS 10.5.1 asks for at least 365.
    pub retention_days: f64,
    /// Where segments go; outside `storage.data_dir`. Default `<data_dir>.archive`.
    pub archive_dir: Option<PathBuf>,
    /// Seconds between two runs of the job in `serve` (the first runs at start-up).
    pub interval_secs: u64,
    /// Most records per segment.
    pub max_segment_records: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            retention_days: 400.0,
            archive_dir: None,
            interval_secs: 3600,
            max_segment_records: 1_000_000,
        }
    }
}

/// One `[[legal_hold]]`: a user, an event-time range (`from` inclusive, `to` exclusive,
/// RFC 3339), or both.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldConfig {
    /// Unique; the hold's id is `config:<name>`.
    pub name: String,
    pub user: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(default)]
    pub reason: String,
}

impl Config {
    /// Checks `[retention]` and `[[legal_hold]]`, naming the key at fault.
    pub(crate) fn validate_retention(&self) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid { key, message };
        let r = &self.retention;
        if !r.retention_days.is_finite() || r.retention_days <= 0.0 {
            return Err(invalid(
                "retention.retention_days".into(),
                "expected a positive number of days".into(),
            ));
        }
        if r.interval_secs == 0 {
            return Err(invalid(
                "retention.interval_secs".into(),
                "expected a positive number of seconds".into(),
            ));
        }
        if r.max_segment_records == 0 {
            return Err(invalid("retention.max_segment_records".into(), "expected a positive number".into()));
        }
        let dir = self.archive_dir();
        if dir.starts_with(&self.storage.data_dir) || self.storage.data_dir.starts_with(&dir) {
            return Err(invalid(
                "retention.archive_dir".into(),
                "must be outside storage.data_dir (and not contain it)".into(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, h) in self.legal_hold.iter().enumerate() {
            if h.name.trim().is_empty() {
                return Err(invalid(format!("legal_hold[{i}].name"), "expected a non-empty name".into()));
            }
            if !names.insert(h.name.as_str()) {
                return Err(invalid(
                    format!("legal_hold[{i}].name"),
                    "legal hold names must be unique".into(),
                ));
            }
            let scope = HoldScope { user: h.user.clone(), from: h.from.clone(), to: h.to.clone() };
            scope.validate().map_err(|e| invalid(format!("legal_hold[{i}]"), e.to_string()))?;
        }
        Ok(())
    }

    /// Where archive segments go.
    pub fn archive_dir(&self) -> PathBuf {
        self.retention.archive_dir.clone().unwrap_or_else(|| {
            let mut name = self.storage.data_dir.file_name().unwrap_or_default().to_os_string();
            name.push(".archive");
            self.storage.data_dir.with_file_name(name)
        })
    }

    /// What a retention run keeps and where it writes.
    pub fn retention_policy(&self) -> RetentionPolicy {
        RetentionPolicy {
            max_age: Duration::from_secs_f64(self.retention.retention_days * 86_400.0),
            archive_dir: self.archive_dir(),
            max_segment_records: self.retention.max_segment_records,
        }
    }

    /// The `[[legal_hold]]` entries as holds.
    pub fn config_holds(&self) -> Vec<LegalHold> {
        self.legal_hold
            .iter()
            .map(|h| LegalHold {
                id: format!("config:{}", h.name),
                user: h.user.clone(),
                from: h.from.clone(),
                to: h.to.clone(),
                reason: h.reason.clone(),
                origin: HoldOrigin::Config,
                created_by: "config".into(),
                created_at: String::new(),
            })
            .collect()
    }
}

pub use crate::own_events::{GATEWAY_SOURCE, append_event, gateway_event};

/// The audit event of a run: written when it archived something or failed.
fn run_event(result: &Result<RetentionReport, String>) -> Option<NewRecord> {
    let (outcome, resource_id, details) = match result {
        Ok(r) if r.archived == 0 && r.removed == 0 => return None,
        Ok(r) => (
            "success",
            match (r.segments.first(), r.segments.last()) {
                (Some(a), Some(b)) => format!("{}..={}", a.first_seq, b.last_seq),
                _ => String::new(),
            },
            serde_json::to_value(r).unwrap_or(Value::Null),
        ),
        Err(e) => ("failure", String::new(), json!({ "error": e })),
    };
    Some(gateway_event(RUN_ACTION, outcome, GATEWAY_SOURCE, ("archive", &resource_id), details, "retention"))
}

/// Runs retention once on `store` (on a blocking thread) and writes its audit event.
pub async fn run_and_record(store: &Store, policy: RetentionPolicy) -> Result<RetentionReport, String> {
    let s = store.clone();
    let result = tokio::task::spawn_blocking(move || s.run_retention(&policy, &mut |_, _, _| {}))
        .await
        .map_err(|e| format!("retention worker failed: {e}"))
        .and_then(|r| r.map_err(|e| e.to_string()));
    if let Some(record) = run_event(&result)
        && let Err(e) = append_event(store, record).await
    {
        tracing::error!(error = %e, "cannot write the retention run's audit event");
    }
    result
}

/// Starts the job `serve` runs (when `[retention] enabled`): a run now, then every
/// `interval_secs`. Errors are logged and written as a failed run; the job goes on.
pub fn spawn_job(store: Store, config: &Config) -> Option<tokio::task::JoinHandle<()>> {
    if !config.retention.enabled {
        return None;
    }
    if config.retention.retention_days < 365.0 {
        tracing::warn!(
            retention_days = config.retention.retention_days,
            "retention keeps records less than 365 days (PCI DSS 10.5.1 asks for 12 months)"
        );
    }
    let policy = config.retention_policy();
    let every = Duration::from_secs(config.retention.interval_secs);
    tracing::info!(days = config.retention.retention_days, archive_dir = %policy.archive_dir.display(), every_secs = every.as_secs(), "retention job started");
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_and_record(&store, policy.clone()).await {
                Ok(r) if r.archived > 0 => {
                    tracing::info!(archived = r.archived, first_remaining = r.first_remaining, stopped = %r.stopped, "retention run")
                }
                Ok(r) => tracing::debug!(stopped = %r.stopped, "retention run: nothing archived"),
                Err(e) => tracing::error!(error = %e, "retention run failed"),
            }
        }
    }))
}

/// Why `auditgate retention run` could not run.
#[derive(Debug, thiserror::Error)]
pub enum OfflineRunError {
    #[error(transparent)]
    CheckpointKey(#[from] crate::ledger::keys::KeyError),
    #[error("cannot load the master key: {0}")]
    MasterKey(#[from] crate::crypto::CryptoError),
    #[error("cannot open the store in {dir}: {source}")]
    Store { dir: String, source: crate::store::StoreError },
    #[error("legal holds: {0}")]
    Holds(#[from] crate::store::HoldError),
    #[error("retention: {0}")]
    Run(#[from] crate::store::RetentionError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// `auditgate retention run`: opens the stopped gateway's store as `serve` would, runs
/// retention once with `progress(phase, done, total)`, writes the run's audit event,
/// closes the store (which signs a final checkpoint).
pub fn run_offline(
    config: &Config,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<RetentionReport, OfflineRunError> {
    let checkpoints = crate::ledger::keys::checkpoint_options(config)?;
    let encryption = if config.storage.encryption {
        let (master, _) = crate::crypto::MasterKey::load(config.storage.master_key_file.as_deref())?;
        Some(EncryptionOptions { master, fields: config.sealed_fields() })
    } else {
        None
    };
    let store = Store::open(&StoreOptions {
        data_dir: config.storage.data_dir.clone(),
        cache_capacity_bytes: config.storage.cache_capacity_mb << 20,
        flush_linger: Duration::ZERO,
        idempotency_window: Duration::from_secs(config.storage.idempotency_window_secs),
        max_batch_events: config.storage.max_batch_events,
        checkpoints,
        encryption,
    })
    .map_err(|source| OfflineRunError::Store {
        dir: config.storage.data_dir.display().to_string(),
        source,
    })?;
    store.set_config_holds(config.config_holds())?;
    let result = store.run_retention(&config.retention_policy(), progress);
    let shown = result.as_ref().cloned().map_err(ToString::to_string);
    if let Some(record) = run_event(&shown) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        if let Err(e) = runtime.block_on(append_event(&store, record)) {
            tracing::error!(error = %e, "cannot write the retention run's audit event");
        }
    }
    store.close();
    Ok(result?)
}
