//! The three kinds of sink behind one `deliver` call.

use serde_json::Value;

use super::DeliveryError;
use super::syslog::Syslog;
use super::webhook::Webhook;
use crate::config::{SinkConfig, SinkKind};

/// One configured sink, owned by its worker thread.
pub(crate) enum Sink {
    /// The gateway's own log.
    Log,
    /// HTTP POST.
    Webhook(Webhook),
    /// RFC 5424 syslog.
    Syslog(Syslog),
}

impl Sink {
    /// Builds `[[sink]]` number `index` (on the worker's thread: the blocking HTTP client
    /// must not be made on an async runtime's).
    pub(crate) fn build(index: usize, config: &SinkConfig) -> Result<Sink, DeliveryError> {
        Ok(match config.kind {
            SinkKind::Log => Sink::Log,
            SinkKind::Webhook => Sink::Webhook(Webhook::new(index, config)?),
            SinkKind::Syslog => Sink::Syslog(Syslog::new(config)),
        })
    }

    /// Delivers `alert`; the error says why not (no secrets: no URL, no header).
    pub(crate) fn deliver(&mut self, alert: &Value) -> Result<(), String> {
        match self {
            Sink::Log => {
                let text = |k: &str| alert.get(k).and_then(Value::as_str).unwrap_or("");
                let id = alert.get("id").and_then(Value::as_u64);
                let seq = alert.get("seq").and_then(Value::as_u64);
                let labels = alert.get("labels").map(ToString::to_string).unwrap_or_default();
                // The summary holds event text (a failed login's user is whatever was
                // typed): one line, control characters escaped.
                let summary = crate::engine::host::log::one_line(text("summary"));
                tracing::warn!(
                    target: "auditgate::alert",
                    id,
                    seq,
                    policy = text("policy"),
                    rule = text("rule"),
                    severity = text("severity"),
                    labels = %labels,
                    "alert: {}",
                    summary,
                );
                Ok(())
            }
            Sink::Webhook(w) => w.post(alert),
            Sink::Syslog(s) => s.send(alert),
        }
    }
}

/// The one line a Slack-shaped webhook carries:
/// `[high] bruteforce.user: summary (policy alert-bruteforce, event seq 6, alert 1)`.
/// `&`, `<` and `>` are escaped as Slack asks, so event text in a summary (`<!channel>`,
/// `<https://evil|click>`) stays text.
pub fn slack_text(alert: &Value) -> String {
    let text = |k: &str| alert.get(k).and_then(Value::as_str).unwrap_or("-");
    let num = |k: &str| alert.get(k).and_then(Value::as_u64).map_or("-".to_string(), |n| n.to_string());
    let line = format!(
        "[{}] {}: {} (policy {}, event seq {}, alert {})",
        text("severity"),
        text("rule"),
        text("summary"),
        text("policy"),
        num("seq"),
        num("id")
    );
    line.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
