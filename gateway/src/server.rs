//! Start-up and shutdown of `auditgate serve`: open the store, load the policy chain,
//! bind, serve until SIGINT/SIGTERM, then let the writer finish and flush.
//!
//! Serving goes in rounds over one listening socket: a round ends on SIGINT/SIGTERM (the
//! process exits) or, after the store failed to write, once its data directory takes
//! writes again; then everything holding the store is shut down, the store is opened
//! again and the next round starts with the configuration in service ([`crate::resume`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::KeyRing;
use crate::config::Config;
use crate::crypto::MasterKey;
use crate::engine::PolicyEngine;
use crate::engine::pseudonym::Pseudonymizer;
use crate::event::Limits;
use crate::http::{self, AppState};
use crate::ingest::Ingestor;
use crate::reload::{self, ActiveEngine, Reloader};
use crate::resume;
use crate::self_audit::SelfAudit;
use crate::signals::Signals;
use crate::store::{EncryptionOptions, Store, StoreOptions};
use crate::witness::WitnessPoster;

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot load the master key: {0}")]
    MasterKey(#[from] crate::crypto::CryptoError),
    #[error("cannot open the store in {dir}: {source}")]
    Store { dir: String, source: crate::store::StoreError },
    #[error("cannot load the pseudonymization key {path}: {source}")]
    PseudonymKey { path: String, source: std::io::Error },
    #[error(transparent)]
    Witness(#[from] crate::witness::WitnessError),
    #[error(transparent)]
    Delivery(#[from] crate::delivery::DeliveryError),
    #[error(transparent)]
    CheckpointKey(#[from] crate::ledger::keys::KeyError),
    #[error("cannot load the policy chain: {0}")]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    #[error("legal holds: {0}")]
    Retention(String),
}

/// Runs start-up and shutdown work that blocks (compiling policies, file I/O, joining
/// threads) off the async workers; a panic in it becomes an I/O error.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServeError::Io(std::io::Error::other(e)))
}

/// Runs the gateway with `config` (loaded from `config_path`, which reloads read again)
/// until a shutdown signal.
pub async fn serve(config: Config, config_path: PathBuf) -> Result<(), ServeError> {
    let signals = Signals::install()?;
    let mut listener = None;
    let mut config = config;
    let mut resumed_after = None;
    let mut backoff = resume::Backoff::default();
    loop {
        match serve_round(config, &config_path, &signals, backoff.wait(), &mut listener, resumed_after.take())
            .await?
        {
            (RoundEnd::Stop, _) => return Ok(()),
            (RoundEnd::Resume { failure }, in_service) => {
                backoff.resumed();
                tracing::warn!(error = %failure, "the data directory takes writes again: reopening the store in place");
                config = in_service;
                resumed_after = Some(failure);
            }
        }
    }
}

/// Why a serving round ended.
enum RoundEnd {
    /// SIGINT/SIGTERM: the process exits.
    Stop,
    /// The store could not write, and now its data directory can: reopen it.
    Resume { failure: String },
}

/// One round: opens everything, serves on `listener` (bound on the first round) until a
/// stop or, while the store cannot write, until its data directory (probed every
/// `probe_every`) takes writes again; then shuts everything down. Answers how it ended
/// and the configuration in service.
async fn serve_round(
    config: Config,
    config_path: &Path,
    signals: &Signals,
    probe_every: Duration,
    listener: &mut Option<std::net::TcpListener>,
    resumed_after: Option<String>,
) -> Result<(RoundEnd, Config), ServeError> {
    // TLS files first: a wrong path must not wait for the policies to compile.
    let tls = crate::tls::server_config(&config.server)?;
    let mut checkpoints = crate::ledger::keys::checkpoint_options(&config)?;
    let witnesses = match &mut checkpoints {
        Some(c) if !config.checkpoints.witnesses.is_empty() => {
            let (urls, timeout, retry) = (
                config.checkpoints.witnesses.clone(),
                Duration::from_secs(config.checkpoints.witness_timeout_secs),
                Duration::from_secs(config.checkpoints.witness_retry_secs),
            );
            let poster = blocking(move || WitnessPoster::start(urls, timeout, retry)).await??;
            c.witness = Some(poster.sender());
            tracing::info!(witnesses = ?config.checkpoints.witnesses, "checkpoints are posted to witnesses");
            Some(poster)
        }
        _ => None,
    };
    if let Some(c) = &checkpoints
        && listener.is_none()
    {
        let public = c.signer.verifier().to_text();
        tracing::info!(key = %public, file = ?c.file, "checkpoints are signed with this key");
        println!("auditgate: checkpoint public key {public}");
    }
    let encryption = if config.storage.encryption {
        let (master, source) = MasterKey::load(config.storage.master_key_file.as_deref())?;
        tracing::info!(key_id = master.id(), from = %source, "encryption at rest: personal fields are sealed");
        Some(EncryptionOptions { master, fields: config.sealed_fields() })
    } else {
        None
    };
    let outbox = crate::delivery::outbox_options(&config);
    let store = Store::open_with_outbox(
        &StoreOptions {
            data_dir: config.storage.data_dir.clone(),
            cache_capacity_bytes: config.storage.cache_capacity_mb << 20,
            flush_linger: Duration::from_millis(config.storage.flush_interval_ms),
            idempotency_window: Duration::from_secs(config.storage.idempotency_window_secs),
            max_batch_events: config.storage.max_batch_events,
            checkpoints,
            encryption,
        },
        outbox,
    )
    .map_err(|source| ServeError::Store { dir: config.storage.data_dir.display().to_string(), source })?;
    tracing::info!(dir = %config.storage.data_dir.display(), events = store.count(), "store opened");
    let deliveries = {
        let (config, store) = (config.clone(), store.clone());
        blocking(move || crate::delivery::Deliveries::start(&config, &store)).await??
    };
    store.set_config_holds(config.config_holds()).map_err(|e| ServeError::Retention(e.to_string()))?;

    let key_path = config.pseudonym_key_path();
    let pseudonymizer = Pseudonymizer::load_or_create(&key_path)
        .map_err(|source| ServeError::PseudonymKey { path: key_path.display().to_string(), source })?;
    let engine = {
        let config = config.clone();
        let db = store.sled_db().clone();
        // Encrypted stores: the host's trees are keyed and sealed under the store's host key.
        let host_key = store.host_key();
        blocking(move || PolicyEngine::load_durable(&config, pseudonymizer, &db, host_key.as_ref())).await??
    };
    tracing::info!(policies = config.policy.len(), policy_set = %engine.policy_set(), "policy chain loaded");
    engine.log_warnings();

    let active = Arc::new(ActiveEngine::from_pointee(engine));
    let audit = Arc::new(SelfAudit::new(store.clone()));
    let reloader = Arc::new(Reloader::new(
        config_path.to_path_buf(),
        config.clone(),
        active.clone(),
        Some(audit.clone()),
    ));
    // A watch that cannot start (inotify limits) leaves SIGHUP and the endpoint working.
    let _watch = config.server.watch_config.then(|| reload::watch_config(reloader.clone())).and_then(|w| {
        w.map_err(
            |e| tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP or the API"),
        )
        .ok()
    });
    let state = AppState {
        reloader: reloader.clone(),
        keys: Arc::new(KeyRing::new(&config.keys)),
        ingestor: Ingestor {
            store: store.clone(),
            engine: active.clone(),
            limits: Limits {
                max_event_bytes: config.server.max_event_bytes,
                max_depth: config.server.max_depth,
            },
        },
        store: store.clone(),
        audit: audit.clone(),
        max_request_bytes: config.server.max_request_bytes,
    };
    let first_round = listener.is_none();
    let socket = match listener {
        Some(socket) => socket,
        None => {
            let bound = tokio::net::TcpListener::bind(config.server.listen)
                .await
                .map_err(|source| ServeError::Bind { addr: config.server.listen.to_string(), source })?;
            listener.insert(bound.into_std()?)
        }
    };
    // This round's handle on the socket (non-blocking, as `into_std` left it); dropping it
    // at the end of the round leaves the socket open for the next one.
    let listener = tokio::net::TcpListener::from_std(socket.try_clone()?)?;
    let addr = listener.local_addr()?;
    if first_round && config.has_development_key() {
        tracing::warn!(
            "development keys (ag_dev_*) are configured: fine on loopback, replace them for any real use"
        );
    }
    // The signal handlers were installed before anyone learns the address: a SIGTERM sent
    // right after the listening line shuts down gracefully, not kills the process.
    let hangups = reload::reload_on_sighup(reloader.clone(), signals.hangups());
    if first_round {
        crate::tls::warn_if_plain_beyond_loopback(addr, tls.is_some());
    }
    // Recorded (durably) before anyone learns the address: the first thing a client can
    // read of this run is its start.
    let policy_set = active.load().policy_set().to_string();
    audit
        .started(serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "pid": std::process::id(),
            "listen": addr.to_string(),
            "tls": tls.is_some(),
            "encryption": config.storage.encryption,
            "config_sha256": reloader.config_sha256(),
            "policy_set": policy_set,
            "records": store.count(),
            "resumed_after": resumed_after,
        }))
        .await;
    tracing::info!(%addr, scheme = crate::tls::scheme(tls.is_some()), "listening");
    // A machine-readable line on stdout: scripts and tests wait for it. Plain HTTP keeps
    // the bare address; HTTPS says so (`https://ADDR`). Once per process.
    if first_round {
        let mut out = std::io::stdout().lock();
        let prefix = if tls.is_some() { "https://" } else { "" };
        writeln!(out, "auditgate: listening on {prefix}{addr}")?;
        out.flush()?;
    }
    let client_ca = config.server.tls_client_ca.is_some();
    let retention = crate::retention::spawn_job(store.clone(), &config);
    let until = {
        let stopped = signals.stopped();
        let writable =
            resume::writable_again(store.write_health(), config.storage.data_dir.clone(), probe_every);
        async move {
            tokio::select! {
                _ = stopped => {}
                _ = writable => {}
            }
        }
    };
    crate::tls::serve(listener, tls, client_ca, http::router(state), until).await?;
    // Not stopped: the probe ended the round (a stop that came meanwhile wins).
    let ended = if signals.is_stopped() {
        RoundEnd::Stop
    } else {
        RoundEnd::Resume { failure: store.write_failure().unwrap_or_else(|| "unknown error".into()) }
    };
    hangups.abort();
    // Requests are drained; the stop record goes in before the final flush and checkpoint.
    match &ended {
        RoundEnd::Stop => {
            tracing::info!("shutting down: persisting policy host state, flushing the store");
            audit
                .stopping(serde_json::json!({
                    "version": env!("CARGO_PKG_VERSION"),
                    "pid": std::process::id(),
                    "config_sha256": reloader.config_sha256(),
                    "policy_set": active.load().policy_set(),
                }))
                .await;
        }
        // No stop record: the store still has its write error.
        RoundEnd::Resume { .. } => tracing::info!("closing the store to reopen it"),
    }
    if let Some(job) = retention {
        job.abort();
        let _ = job.await;
    }
    reloader.finish().await;
    let in_service = reloader.config_in_service();
    let engine = active.load_full();
    blocking(move || engine.host().shutdown()).await?;
    blocking(move || deliveries.shutdown()).await?;
    store.close();
    if let Some(w) = witnesses {
        blocking(move || w.shutdown()).await?;
    }
    Ok((ended, in_service))
}
