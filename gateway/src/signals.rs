//! Process signals for `auditgate serve`, installed once for the life of the process.
//!
//! The gateway can serve in more than one round (it reopens its store in place after a
//! write failure, see [`crate::resume`]); the handlers outlive the rounds, so a SIGTERM
//! that arrives while the store is being reopened still stops the process, and each
//! round's SIGHUP task reads the same stream of hang-ups.

use std::future::Future;

use tokio::sync::watch;

/// SIGINT/SIGTERM (stop) and SIGHUP (reload), as watch channels any round can read.
pub struct Signals {
    stop: watch::Receiver<bool>,
    hangups: watch::Receiver<u64>,
}

impl Signals {
    /// Installs the handlers now: a signal sent right after this returns is seen.
    #[cfg(unix)]
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut hangup = signal(SignalKind::hangup())?;
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            let _ = stop_tx.send(true);
            // Keep the sender: receivers must not see a closed channel as a stop.
            std::future::pending::<()>().await;
        });
        let (hangup_tx, hangups) = watch::channel(0u64);
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                hangup_tx.send_modify(|n| *n += 1);
            }
        });
        Ok(Signals { stop, hangups })
    }

    /// Ctrl-C only, where there are no Unix signals.
    #[cfg(not(unix))]
    pub fn install() -> std::io::Result<Signals> {
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            let _ = stop_tx.send(true);
            std::future::pending::<()>().await;
        });
        // No SIGHUP: the sender stays alive and never sends.
        let (hangup_tx, hangups) = watch::channel(0u64);
        tokio::spawn(async move {
            let _keep = hangup_tx;
            std::future::pending::<()>().await;
        });
        Ok(Signals { stop, hangups })
    }

    /// Resolves once SIGINT or SIGTERM has come (at once if it came before the call).
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stop = self.stop.clone();
        async move {
            if stop.wait_for(|stopped| *stopped).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Whether SIGINT or SIGTERM has come.
    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// The hang-ups from now on: `changed()` resolves on each SIGHUP.
    pub fn hangups(&self) -> watch::Receiver<u64> {
        let mut rx = self.hangups.clone();
        rx.mark_unchanged();
        rx
    }
}
