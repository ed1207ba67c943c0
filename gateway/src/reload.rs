//! Hot reload of the policy set: the chain of `[[policy]]` (with each policy's config) and
//! the `[[lookup]]` tables, from the same `policy.toml` (and `AUDITGATE_…` environment) the
//! gateway started with.
//!
//! Triggers: `POST /v1/admin/reload`, SIGHUP, and a watch on the config file (debounced).
//! Each reload re-reads the file with [`Config::load`], builds a whole new
//! [`PolicyEngine`] on a blocking thread ([`PolicyEngine::load_next`]: modules through the
//! compiled-component cache, every policy's `init` run with its config) while the old set
//! keeps serving, and only then swaps the [`ActiveEngine`] pointer. Any failure leaves the
//! old set active; it is answered, logged and counted.
//!
//! Ingest takes one snapshot (`load_full`) per request, so a request in flight finishes on
//! the set it started with and stores that set's `policy_set` on its events. The old set is
//! dropped (its host persister's last pass included) by a retiring thread once its last
//! request is done; the next reload waits for that first, so a policy that left the chain
//! and comes back is restored from sled only after its last counts were written there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, ConfigError};
use crate::engine::{EngineError, ModuleInfo, PolicyEngine};
use crate::self_audit::SelfAudit;

/// The policy set in service, swapped whole by a reload.
pub type ActiveEngine = ArcSwap<PolicyEngine>;

/// Quiet time after the last change event of the config file before it is reloaded: an
/// editor's save (write, rename, chmod) becomes one reload.
pub const WATCH_DEBOUNCE: Duration = Duration::from_millis(500);
/// Longest wait of a reload for the set before the last one to finish its requests.
const RETIRE_WAIT: Duration = Duration::from_secs(10);

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// `POST /v1/admin/reload`.
    Api,
    /// SIGHUP.
    Sighup,
    /// The config file changed on disk.
    File,
}

/// Why a reload was refused (the old set stays active).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Engine(#[from] EngineError),
    #[error("the reload worker failed: {0}")]
    Worker(String),
}

impl ReloadError {
    /// The policy at fault, when one is.
    pub fn policy(&self) -> Option<&str> {
        match self {
            ReloadError::Engine(EngineError::Policy { policy, .. }) => Some(policy),
            _ => None,
        }
    }

    /// The configuration key at fault, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            ReloadError::Config(ConfigError::Invalid { key, .. }) => Some(key),
            ReloadError::Engine(EngineError::Policy { key, .. }) => Some(key),
            ReloadError::Engine(EngineError::Host(_)) => Some("lookup"),
            _ => None,
        }
    }

    /// A fault of the new configuration (422), not of the gateway.
    pub fn is_config_fault(&self) -> bool {
        !matches!(self, ReloadError::Worker(_) | ReloadError::Engine(EngineError::Runtime(_)))
    }
}

/// What a successful reload did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReloadReport {
    pub trigger: Trigger,
    /// The set that served until the swap.
    pub old_policy_set: String,
    /// The set serving now.
    pub new_policy_set: String,
    /// `old_policy_set != new_policy_set`.
    pub changed: bool,
    /// The new chain, in order.
    pub policies: Vec<ModuleInfo>,
    /// From the trigger to the swap: reading the file, building and initialising the new
    /// set (off the hot path), swapping.
    pub duration_ms: f64,
    /// The swap itself (one atomic pointer store), in microseconds.
    pub swap_us: f64,
    /// Changed keys of sections a reload does not apply (`server`, `storage`, `engine`,
    /// `keys`, `checkpoints`): they take effect at the next start.
    pub needs_restart: Vec<String>,
    /// SHA-256 (hex) of the config file the replaced set was loaded from.
    pub config_sha256_before: String,
    /// SHA-256 (hex) of the config file read now.
    pub config_sha256_after: String,
    /// What the new set lets through that the defaults would not (also logged).
    pub warnings: Vec<crate::engine::warnings::ConfigWarning>,
}

/// The outcome of the last reload, for `GET /v1/admin/policies`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LastReload {
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    pub trigger: Trigger,
    /// `ok` or `failed`.
    pub result: &'static str,
    /// Why it failed.
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// Reload counts and the last outcome.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ReloadStats {
    pub ok: u64,
    pub failed: u64,
    pub last: Option<LastReload>,
    /// When the active set was loaded (start-up or its reload).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub active_since: Option<DateTime<Utc>>,
}

/// Reloads the policy set; one per gateway, shared by the triggers.
pub struct Reloader {
    config_path: PathBuf,
    /// The configuration the gateway started with: what the sections a reload does not
    /// apply are compared against.
    startup: Config,
    active: Arc<ActiveEngine>,
    /// One reload at a time; holds the threads retiring replaced sets.
    serial: tokio::sync::Mutex<Vec<JoinHandle<()>>>,
    stats: Mutex<ReloadStats>,
    /// The config file watch is running.
    watching: AtomicBool,
    /// SHA-256 of the config file the active set was loaded from (`""` if unreadable).
    config_sha256: Mutex<String>,
    /// Where each reload, applied or refused, is recorded (`None` in unit tests).
    audit: Option<Arc<SelfAudit>>,
    /// The configuration of the last applied reload (or the start-up one).
    applied: Mutex<Config>,
}

impl Reloader {
    /// A reloader of `active`, reading `config_path` (loaded at start-up as `startup`),
    /// recording each reload through `audit`.
    pub fn new(
        config_path: PathBuf,
        startup: Config,
        active: Arc<ActiveEngine>,
        audit: Option<Arc<SelfAudit>>,
    ) -> Self {
        let stats = ReloadStats { active_since: Some(Utc::now()), ..ReloadStats::default() };
        let config_sha256 = Mutex::new(file_sha256(&config_path));
        Self {
            config_path,
            applied: Mutex::new(startup.clone()),
            startup,
            active,
            serial: tokio::sync::Mutex::new(Vec::new()),
            stats: Mutex::new(stats),
            watching: AtomicBool::new(false),
            config_sha256,
            audit,
        }
    }

    /// SHA-256 (hex) of the config file the active set was loaded from.
    pub fn config_sha256(&self) -> String {
        self.config_sha256.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The configuration in service: the start-up one with the sections a reload applies
    /// (`[[policy]]`, `[[lookup]]`) as last applied. What the store is reopened with after
    /// a write failure ([`crate::resume`]): the same process, the same policy set.
    pub fn config_in_service(&self) -> Config {
        let applied = self.applied.lock().unwrap_or_else(PoisonError::into_inner);
        Config { policy: applied.policy.clone(), lookup: applied.lookup.clone(), ..self.startup.clone() }
    }

    /// The set in service.
    pub fn active(&self) -> &Arc<ActiveEngine> {
        &self.active
    }

    /// Whether the config file is watched for changes.
    pub fn watching(&self) -> bool {
        self.watching.load(Ordering::Relaxed)
    }

    /// The config file reloads read.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Counts and the last outcome.
    pub fn stats(&self) -> ReloadStats {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads the config file again, builds the new set off the async workers, and swaps it
    /// in. On any error the old set stays active. `actor` (an admin key's name, or
    /// `auditgate` for SIGHUP and the file watch) is who the self-audit record names.
    pub async fn reload(&self, trigger: Trigger, actor: &str) -> Result<ReloadReport, ReloadError> {
        let mut retiring = self.serial.lock().await;
        let started = Instant::now();
        let old = self.active.load_full();
        let path = self.config_path.clone();
        let pending = std::mem::take(&mut *retiring);
        let before_sha256 = self.config_sha256();
        // The hash is of the file as read just before it is loaded: an edit between the two
        // reads is seen by the next reload (the watch fires again).
        let after_sha256 = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || file_sha256(&path)).await.unwrap_or_default()
        };
        let built = tokio::task::spawn_blocking(move || {
            wait_retired(pending);
            let config = Config::load(&path)?;
            let engine = old.load_next(&config)?;
            Ok::<_, ReloadError>((config, engine, old))
        })
        .await
        .map_err(|e| ReloadError::Worker(e.to_string()))
        .and_then(|r| r);
        let (config, engine, old) = match built {
            Ok(b) => b,
            Err(e) => {
                let ms = started.elapsed().as_secs_f64() * 1e3;
                tracing::error!(
                    trigger = ?trigger,
                    policy = e.policy().unwrap_or(""),
                    key = e.key().unwrap_or(""),
                    error = %e,
                    "policy reload failed; the previous policy set stays active"
                );
                self.record(trigger, Err(e.to_string()), ms);
                if let Some(audit) = &self.audit {
                    let active = self.active.load().policy_set().to_string();
                    let details = serde_json::json!({
                        "trigger": trigger,
                        "config_sha256_before": before_sha256,
                        "config_sha256_after": after_sha256,
                        "policy_set": active,
                        "error": e.to_string(),
                        "policy": e.policy(),
                        "key": e.key(),
                    });
                    audit.reloaded(actor, false, details, None).await;
                }
                return Err(e);
            }
        };
        let policies: Vec<ModuleInfo> = engine.modules().into_iter().map(|(m, _)| m.clone()).collect();
        let new_set = engine.policy_set().to_string();
        let warnings = engine.warnings().to_vec();
        engine.log_warnings();
        let swap_started = Instant::now();
        let replaced = self.active.swap(Arc::new(engine));
        let swap_us = swap_started.elapsed().as_secs_f64() * 1e6;
        let duration_ms = started.elapsed().as_secs_f64() * 1e3;
        // `old` (the snapshot the new set was built from) is the set just replaced: reloads
        // are serialized and nothing else swaps.
        let old_set = old.policy_set().to_string();
        drop(old);
        retiring.push(retire(replaced));
        let needs_restart = restart_keys(&self.startup, &config);
        *self.applied.lock().unwrap_or_else(PoisonError::into_inner) = config.clone();
        let report = ReloadReport {
            trigger,
            changed: old_set != new_set,
            old_policy_set: old_set,
            new_policy_set: new_set,
            policies,
            duration_ms,
            swap_us,
            needs_restart,
            config_sha256_before: before_sha256,
            config_sha256_after: after_sha256.clone(),
            warnings,
        };
        *self.config_sha256.lock().unwrap_or_else(PoisonError::into_inner) = after_sha256;
        tracing::info!(
            trigger = ?trigger,
            old_policy_set = %report.old_policy_set,
            new_policy_set = %report.new_policy_set,
            duration_ms = format!("{:.1}", report.duration_ms),
            swap_us = format!("{:.1}", report.swap_us),
            "policy set reloaded"
        );
        if !report.needs_restart.is_empty() {
            tracing::warn!(
                keys = ?report.needs_restart,
                "configuration changes outside the policy chain and [[lookup]] tables need a restart; not applied"
            );
        }
        self.record(trigger, Ok(()), duration_ms);
        if let Some(audit) = &self.audit {
            let details = serde_json::json!({
                "trigger": report.trigger,
                "config_sha256_before": report.config_sha256_before,
                "config_sha256_after": report.config_sha256_after,
                "policy_set_before": report.old_policy_set,
                "policy_set_after": report.new_policy_set,
                "changed": report.changed,
                "policies": report.policies.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "needs_restart": report.needs_restart,
            });
            let changes = serde_json::json!({
                "before": {"config_sha256": report.config_sha256_before, "policy_set": report.old_policy_set},
                "after": {"config_sha256": report.config_sha256_after, "policy_set": report.new_policy_set},
            });
            audit.reloaded(actor, true, details, Some(changes)).await;
        }
        Ok(report)
    }

    fn record(&self, trigger: Trigger, result: Result<(), String>, duration_ms: f64) {
        let mut s = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Utc::now();
        crate::metrics::global().reloaded(result.is_ok());
        let (result, error) = match result {
            Ok(()) => {
                s.ok += 1;
                s.active_since = Some(now);
                ("ok", None)
            }
            Err(e) => {
                s.failed += 1;
                ("failed", Some(e))
            }
        };
        s.last = Some(LastReload { at: now, trigger, result, error, duration_ms });
    }

    /// Waits (bounded) for replaced sets to finish their requests and be dropped: at
    /// shutdown, before the active set's host state is persisted for the last time.
    pub async fn finish(&self) {
        let pending = std::mem::take(&mut *self.serial.lock().await);
        let _ = tokio::task::spawn_blocking(move || wait_retired(pending)).await;
    }
}

/// Watches the config file's directory (editors replace the file by a rename, which a
/// watch on the file itself would lose) and reloads [`WATCH_DEBOUNCE`] after the last
/// change of the file. The watch ends when the returned watcher is dropped.
pub fn watch_config(reloader: Arc<Reloader>) -> Result<notify::RecommendedWatcher, notify::Error> {
    use notify::event::{AccessKind, AccessMode, EventKind};
    use notify::{RecursiveMode, Watcher};
    let path = reloader.config_path().to_path_buf();
    let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        Ok(event) => {
            let relevant = match event.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                EventKind::Access(_) => false,
                _ => true,
            };
            if relevant && event.paths.iter().any(|p| p.file_name() == Some(name.as_os_str())) {
                let _ = tx.send(());
            }
        }
        Err(e) => tracing::warn!(error = %e, "config file watch error"),
    })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    reloader.watching.store(true, Ordering::Relaxed);
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Debounce: wait until the file has been quiet for WATCH_DEBOUNCE.
            loop {
                match tokio::time::timeout(WATCH_DEBOUNCE, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            tracing::info!(file = %reloader.config_path().display(), "config file changed; reloading the policy set");
            // The outcome is logged and counted by `reload`.
            let _ = reloader.reload(Trigger::File, crate::own_events::GATEWAY_SOURCE).await;
        }
    });
    tracing::info!(dir = %dir.display(), "watching the config file for changes");
    Ok(watcher)
}

/// Reloads on every SIGHUP in `hangups` (from [`crate::signals::Signals`], whose handler is
/// installed before the gateway announces its address, so an early SIGHUP reloads instead
/// of ending the process). The task ends when aborted, at the end of a serving round.
pub fn reload_on_sighup(
    reloader: Arc<Reloader>,
    mut hangups: tokio::sync::watch::Receiver<u64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while hangups.changed().await.is_ok() {
            tracing::info!("SIGHUP: reloading the policy set");
            let _ = reloader.reload(Trigger::Sighup, crate::own_events::GATEWAY_SOURCE).await;
        }
    })
}

/// SHA-256 (hex) of the file at `path`, `""` when it cannot be read (the load that follows
/// names the error).
pub fn file_sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    std::fs::read(path).map(|bytes| hex::encode(Sha256::digest(&bytes))).unwrap_or_default()
}

/// Drops `old` on a thread of its own once no request holds it any more, so that the
/// host persister's last pass never runs on a request's thread.
fn retire(old: Arc<PolicyEngine>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while Arc::strong_count(&old) > 1 {
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(old);
    })
}

fn wait_retired(pending: Vec<JoinHandle<()>>) {
    let deadline = Instant::now() + RETIRE_WAIT;
    for handle in pending {
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if handle.is_finished() {
            let _ = handle.join();
        } else {
            tracing::warn!("a replaced policy set still has requests in flight after {RETIRE_WAIT:?}");
        }
    }
}

/// The dotted keys that differ between `before` and `after` in the sections a reload does
/// not apply.
pub fn restart_keys(before: &Config, after: &Config) -> Vec<String> {
    let mut out = Vec::new();
    let sections = |c: &Config| {
        [
            ("server", serde_json::to_value(&c.server)),
            ("storage", serde_json::to_value(&c.storage)),
            ("engine", serde_json::to_value(&c.engine)),
            ("keys", serde_json::to_value(&c.keys)),
            ("checkpoints", serde_json::to_value(&c.checkpoints)),
            ("sink", serde_json::to_value(&c.sink)),
            ("delivery", serde_json::to_value(&c.delivery)),
        ]
    };
    for ((name, a), (_, b)) in sections(before).into_iter().zip(sections(after)) {
        match (a, b) {
            (Ok(a), Ok(b)) => diff(name, &a, &b, &mut out),
            _ => out.push(name.to_string()),
        }
    }
    out
}

fn diff(at: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let (va, vb) = (x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null));
                diff(&format!("{at}.{k}"), va, vb, out);
            }
        }
        _ if a != b => out.push(at.to_string()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_keys_name_the_changed_leaves_only() {
        let a: Config = serde_json::from_value(serde_json::json!({})).expect("defaults");
        let mut b = a.clone();
        b.server.max_depth = 7;
        b.storage.cache_capacity_mb = 1;
        b.engine.host.max_key_bytes = 9;
        assert_eq!(
            restart_keys(&a, &b),
            ["server.max_depth", "storage.cache_capacity_mb", "engine.host.max_key_bytes"]
        );
        assert!(restart_keys(&a, &a).is_empty());
    }
}
