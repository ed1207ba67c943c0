//! `[[sink]]` (where alerts are delivered) and `[delivery]` (how the outbox retries).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// `[delivery]`: retries of the alert outbox.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts per alert and sink before the entry is `dead` (dead letter).
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub backoff_initial_ms: u64,
    /// Longest wait between two attempts.
    pub backoff_max_ms: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self { max_attempts: 10, backoff_initial_ms: 1_000, backoff_max_ms: 300_000 }
    }
}

/// What kind of sink a `[[sink]]` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// The gateway's own log (tracing, target `auditgate::alert`).
    Log,
    /// An HTTP POST of the alert as JSON.
    Webhook,
    /// An RFC 5424 syslog message over UDP or TCP.
    Syslog,
}

impl SinkKind {
    fn as_str(self) -> &'static str {
        match self {
            SinkKind::Log => "log",
            SinkKind::Webhook => "webhook",
            SinkKind::Syslog => "syslog",
        }
    }
}

/// The body a webhook POSTs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// The alert object as `GET /v1/alerts` lists it (without `delivery`).
    #[default]
    Json,
    /// Slack's incoming-webhook shape: `{"text": "..."}`.
    Slack,
}

/// How syslog messages travel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    /// One datagram per message (RFC 5426).
    #[default]
    Udp,
    /// One connection, octet-counting framing (RFC 6587 §3.4.1).
    Tcp,
}

/// One `[[sink]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Unique name (letters, digits, `-`, `_`); default: the type. The outbox keys
    /// entries by it, so renaming a sink leaves its old entries undelivered.
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: SinkKind,
    /// Lowest severity delivered (`info` … `critical`); default: all.
    pub min_severity: Option<String>,
    /// webhook: `http://` or `https://` URL.
    pub url: Option<String>,
    /// webhook: `json` (default) or `slack`.
    #[serde(default)]
    pub format: WebhookFormat,
    /// webhook: extra request headers; a value `env:NAME` is read from the environment.
    /// Values are never logged.
    #[serde(default, skip_serializing)]
    pub headers: BTreeMap<String, Secret>,
    /// webhook: time limit of one POST; syslog over TCP: of connecting and writing.
    pub timeout_ms: Option<u64>,
    /// syslog: `host:port`.
    pub address: Option<String>,
    /// syslog: `udp` (default) or `tcp`.
    #[serde(default)]
    pub transport: SyslogTransport,
    /// syslog: facility name (`kern` … `local7`); default `auth`.
    pub facility: Option<String>,
    /// syslog: APP-NAME; default `auditgate`.
    pub app_name: Option<String>,
}

/// Default time limit of one delivery attempt.
pub const DEFAULT_SINK_TIMEOUT_MS: u64 = 5_000;

/// Syslog facility names in code order (RFC 5424 §6.2.1).
pub const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7",
];

/// The alert severities in rank order.
pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

impl SinkConfig {
    /// The sink's name (its `name`, else its type).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.kind.as_str())
    }

    /// The facility's code (validated: `auth` when unset).
    pub fn facility_code(&self) -> u8 {
        let name = self.facility.as_deref().unwrap_or("auth");
        FACILITIES.iter().position(|f| *f == name).map_or(4, |i| i as u8)
    }

    /// The header values, `env:NAME` ones read from the environment.
    pub fn resolved_headers(&self, index: usize) -> Result<Vec<(String, String)>, ConfigError> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let key = || format!("sink[{index}].headers.{name}");
                let v = match value.expose().strip_prefix("env:") {
                    Some(var) => std::env::var(var).map_err(|_| ConfigError::Invalid {
                        key: key(),
                        message: format!("environment variable {var} is not set (or not UTF-8)"),
                    })?,
                    None => value.expose().to_string(),
                };
                if reqwest::header::HeaderValue::from_str(&v).is_err() {
                    return Err(ConfigError::Invalid {
                        key: key(),
                        message: "not a valid header value".into(),
                    });
                }
                Ok((name.clone(), v))
            })
            .collect()
    }
}

/// Checks `[delivery]` and every `[[sink]]`, naming the key.
pub(super) fn validate(delivery: &DeliveryConfig, sinks: &[SinkConfig]) -> Result<(), ConfigError> {
    let invalid = |key: String, message: &str| ConfigError::Invalid { key, message: message.to_string() };
    if delivery.max_attempts == 0 {
        return Err(invalid("delivery.max_attempts".into(), "expected a positive number"));
    }
    if delivery.backoff_initial_ms == 0 || delivery.backoff_initial_ms > delivery.backoff_max_ms {
        return Err(invalid(
            "delivery.backoff_initial_ms".into(),
            "expected a positive number of milliseconds, at most delivery.backoff_max_ms",
        ));
    }
    let mut names = std::collections::HashSet::new();
    for (i, s) in sinks.iter().enumerate() {
        let name = s.name();
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(format!("sink[{i}].name"), "expected 1 to 64 letters, digits, `-` or `_`"));
        }
        if !names.insert(name) {
            return Err(invalid(format!("sink[{i}].name"), "sink names must be unique (set `name`)"));
        }
        if let Some(m) = &s.min_severity
            && !SEVERITIES.contains(&m.as_str())
        {
            return Err(invalid(
                format!("sink[{i}].min_severity"),
                "expected info, low, medium, high or critical",
            ));
        }
        if s.timeout_ms == Some(0) {
            return Err(invalid(format!("sink[{i}].timeout_ms"), "expected a positive number"));
        }
        let only = |present: bool, key: &str, kind: &str| -> Result<(), ConfigError> {
            if present {
                return Err(invalid(format!("sink[{i}].{key}"), &format!("only for type = \"{kind}\"")));
            }
            Ok(())
        };
        match s.kind {
            SinkKind::Webhook => {
                let url = s.url.as_deref().unwrap_or("");
                let parsed = reqwest::Url::parse(url);
                if !parsed.as_ref().is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
                    return Err(invalid(format!("sink[{i}].url"), "expected an http:// or https:// URL"));
                }
                s.resolved_headers(i)?;
                only(s.address.is_some(), "address", "syslog")?;
                only(s.facility.is_some(), "facility", "syslog")?;
                only(s.app_name.is_some(), "app_name", "syslog")?;
            }
            SinkKind::Syslog => {
                let address = s.address.as_deref().unwrap_or("");
                if address
                    .rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                {
                    return Err(invalid(format!("sink[{i}].address"), "expected host:port"));
                }
                if let Some(f) = &s.facility
                    && !FACILITIES.contains(&f.as_str())
                {
                    return Err(invalid(
                        format!("sink[{i}].facility"),
                        "expected a syslog facility name (auth, local0, ...)",
                    ));
                }
                if let Some(a) = &s.app_name
                    && (a.is_empty() || a.len() > 48 || !a.bytes().all(|b| (33..=126).contains(&b)))
                {
                    return Err(invalid(
                        format!("sink[{i}].app_name"),
                        "expected 1 to 48 printable ASCII characters",
                    ));
                }
                only(s.url.is_some(), "url", "webhook")?;
                only(!s.headers.is_empty(), "headers", "webhook")?;
            }
            SinkKind::Log => {
                only(s.url.is_some(), "url", "webhook")?;
                only(s.address.is_some(), "address", "syslog")?;
            }
        }
    }
    Ok(())
}
