//! Pushing each new signed checkpoint to witness URLs (`[checkpoints] witnesses`), so that
//! copies of the log's signed roots live outside the operator's reach.
//!
//! The store's writer hands every new checkpoint to [`WitnessSender::send`], which never
//! blocks. One background thread POSTs each note (`text/plain`, the C2SP signed note) to
//! every URL in order; a failure is logged and the note stays queued for that URL, tried
//! again every `retry` (at most [`MAX_QUEUED`] notes per URL, the oldest dropped first).
//! At shutdown, one last attempt with a short timeout, then the rest is dropped with a
//! warning. This is a plain push, not the C2SP `tlog-witness` protocol: a witness here is
//! anything that keeps what is POSTed to it (and can check it with the public key).

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Notes kept per witness while it is unreachable.
pub const MAX_QUEUED: usize = 1000;

/// Time limit of each POST in the last attempt at shutdown.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// The witness thread could not start.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("cannot create the witness HTTP client: {0}")]
    Client(String),
    #[error("cannot start the witness thread: {0}")]
    Thread(#[from] std::io::Error),
}

enum Message {
    Note(String),
    Stop,
}

/// The writer's handle: queues a new checkpoint for every witness.
#[derive(Debug, Clone)]
pub struct WitnessSender {
    txs: Vec<Sender<Message>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::Note(_) => "Note",
            Message::Stop => "Stop",
        })
    }
}

impl WitnessSender {
    /// Queues `note` for every witness (never blocks; a stopped poster drops it).
    pub fn send(&self, note: &str) {
        for tx in &self.txs {
            if tx.send(Message::Note(note.to_string())).is_err() {
                tracing::warn!("a witness thread has stopped; a checkpoint was not sent to it");
            }
        }
    }
}

/// The background threads (one per witness, so a slow one delays no other) that POST
/// checkpoints to the witnesses.
#[derive(Debug)]
pub struct WitnessPoster {
    txs: Vec<Sender<Message>>,
    handles: Vec<JoinHandle<()>>,
}

impl WitnessPoster {
    /// Starts posting to `urls`: each POST times out after `timeout`, failed ones are
    /// tried again after `retry`. Blocks until the threads have their HTTP clients (they
    /// are made on those threads: a blocking client must not live on an async runtime's).
    pub fn start(
        urls: Vec<String>,
        timeout: Duration,
        retry: Duration,
    ) -> Result<WitnessPoster, WitnessError> {
        let mut poster = WitnessPoster { txs: Vec::new(), handles: Vec::new() };
        for (i, url) in urls.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel();
            let (ready_tx, ready_rx) = mpsc::sync_channel(1);
            let handle =
                std::thread::Builder::new().name(format!("witness-{i}")).spawn(move || {
                    match client(timeout).and_then(|c| Ok((c, client(timeout.min(SHUTDOWN_TIMEOUT))?))) {
                        Ok((client, last)) => {
                            let _ = ready_tx.send(Ok(()));
                            run(rx, Witness { url, queue: VecDeque::new() }, client, last, retry);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                })?;
            poster.txs.push(tx);
            poster.handles.push(handle);
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(WitnessError::Client("a witness thread ended at start".into())),
            }
        }
        Ok(poster)
    }

    /// A handle for the store's checkpointer.
    pub fn sender(&self) -> WitnessSender {
        WitnessSender { txs: self.txs.clone() }
    }

    /// Asks every thread for one last attempt (short timeouts) and waits a little for
    /// them; a thread still inside a slow POST is left behind (the process is ending).
    pub fn shutdown(self) {
        for tx in &self.txs {
            let _ = tx.send(Message::Stop);
        }
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT * 2;
        while Instant::now() < deadline && !self.handles.iter().all(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(20));
        }
        for h in self.handles {
            if !h.is_finished() {
                tracing::warn!("a witness is still answering slowly at shutdown; not waiting for it");
            } else if h.join().is_err() {
                tracing::error!("a witness thread panicked");
            }
        }
    }
}

fn client(timeout: Duration) -> Result<reqwest::blocking::Client, WitnessError> {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("auditgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| WitnessError::Client(e.to_string()))
}

/// One witness and what it has not received yet.
struct Witness {
    url: String,
    queue: VecDeque<String>,
}

impl Witness {
    fn push(&mut self, note: String) {
        if self.queue.len() >= MAX_QUEUED {
            self.queue.pop_front();
            tracing::warn!(url = %self.url, "witness unreachable for too long: its oldest queued checkpoint was dropped");
        }
        self.queue.push_back(note);
    }

    /// POSTs the queue in order; stops at the first failure. True when all went.
    fn drain(&mut self, client: &reqwest::blocking::Client) -> bool {
        while let Some(note) = self.queue.front() {
            match post(client, &self.url, note) {
                Ok(()) => {
                    self.queue.pop_front();
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, queued = self.queue.len(), error = %e, "witness did not take the checkpoint; will retry");
                    return false;
                }
            }
        }
        true
    }
}

fn post(client: &reqwest::blocking::Client, url: &str, note: &str) -> Result<(), String> {
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(note.to_string())
        .send()
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() { Ok(()) } else { Err(format!("answered {}", resp.status())) }
}

fn run(
    rx: Receiver<Message>,
    mut witness: Witness,
    client: reqwest::blocking::Client,
    last: reqwest::blocking::Client,
    retry: Duration,
) {
    // When the next attempt may be made (after a failure: `retry` later; else at once).
    let mut next_try: Option<Instant> = None;
    loop {
        let message = match next_try {
            Some(at) if !witness.queue.is_empty() => {
                rx.recv_timeout(at.saturating_duration_since(Instant::now()))
            }
            _ => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match message {
            Ok(Message::Note(note)) => witness.push(note),
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        if next_try.is_some_and(|at| Instant::now() < at) {
            continue;
        }
        next_try = (!witness.drain(&client)).then(|| Instant::now() + retry);
    }
    // Whatever came in before the stop, then one last attempt.
    while let Ok(Message::Note(note)) = rx.try_recv() {
        witness.push(note);
    }
    if !witness.drain(&last) {
        tracing::warn!(url = %witness.url, dropped = witness.queue.len(), "shutting down: checkpoints not delivered to this witness");
    }
}
