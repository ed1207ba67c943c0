//! `type = "syslog"`: RFC 5424 messages over UDP (one datagram each, RFC 5426) or TCP
//! (one connection, octet-counting framing `LEN SP MSG`, RFC 6587 §3.4.1).
//!
//! The message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [auditgate@32473 id=..
//! seq=.. policy=.. rule=.. severity=..] BOM{alert JSON}`. MSGID is the rule (printable
//! ASCII, at most 32); the severity maps to syslog's (critical → 2 … info → 6).
//! 32473 is the example private enterprise number of RFC 5612.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use serde_json::Value;

use crate::config::{DEFAULT_SINK_TIMEOUT_MS, SinkConfig, SyslogTransport};

/// A syslog sink.
pub(crate) struct Syslog {
    address: String,
    transport: SyslogTransport,
    facility: u8,
    app_name: String,
    hostname: String,
    timeout: Duration,
    /// The open TCP connection, if any (reopened after a failed write).
    tcp: Option<TcpStream>,
}

impl Syslog {
    pub(crate) fn new(config: &SinkConfig) -> Syslog {
        Syslog {
            address: config.address.clone().unwrap_or_default(),
            transport: config.transport,
            facility: config.facility_code(),
            app_name: config.app_name.clone().unwrap_or_else(|| "auditgate".into()),
            hostname: hostname(),
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_SINK_TIMEOUT_MS)),
            tcp: None,
        }
    }

    /// Sends one message for `alert`.
    pub(crate) fn send(&mut self, alert: &Value) -> Result<(), String> {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let line = rfc5424(alert, self.facility, &now, &self.hostname, &self.app_name, std::process::id());
        match self.transport {
            SyslogTransport::Udp => {
                let to = self.resolve()?;
                let bind: SocketAddr =
                    if to.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                let socket = UdpSocket::bind(bind).map_err(|e| format!("cannot open a UDP socket: {e}"))?;
                socket
                    .send_to(line.as_bytes(), to)
                    .map_err(|e| format!("cannot send to {}: {e}", self.address))?;
                Ok(())
            }
            SyslogTransport::Tcp => {
                let mut frame = format!("{} ", line.len()).into_bytes();
                frame.extend_from_slice(line.as_bytes());
                if self.tcp.is_none() {
                    let to = self.resolve()?;
                    let stream = TcpStream::connect_timeout(&to, self.timeout)
                        .map_err(|e| format!("cannot connect to {}: {e}", self.address))?;
                    stream.set_write_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
                    self.tcp = Some(stream);
                }
                let result = match self.tcp.as_mut() {
                    Some(stream) => stream.write_all(&frame).and_then(|()| stream.flush()),
                    None => return Err("no connection".into()),
                };
                result.map_err(|e| {
                    self.tcp = None;
                    format!("cannot write to {}: {e}", self.address)
                })
            }
        }
    }

    fn resolve(&self) -> Result<SocketAddr, String> {
        self.address
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.address))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", self.address))
    }
}

/// The RFC 5424 message (without framing) for `alert`.
pub fn rfc5424(
    alert: &Value,
    facility: u8,
    timestamp: &str,
    hostname: &str,
    app_name: &str,
    procid: u32,
) -> String {
    let text = |k: &str| alert.get(k).and_then(Value::as_str).unwrap_or("");
    let severity = match text("severity") {
        "info" => 6,
        "low" => 5,
        "medium" => 4,
        "high" => 3,
        _ => 2,
    };
    let pri = u32::from(facility) * 8 + severity;
    let msgid: String = text("rule").chars().filter(|c| c.is_ascii_graphic()).take(32).collect();
    let msgid = if msgid.is_empty() { "-".to_string() } else { msgid };
    let num = |k: &str| alert.get(k).and_then(Value::as_u64).map_or(String::new(), |n| n.to_string());
    let mut sd = String::from("[auditgate@32473");
    for (name, value) in [
        ("id", num("id")),
        ("seq", num("seq")),
        ("policy", text("policy").to_string()),
        ("rule", text("rule").to_string()),
        ("severity", text("severity").to_string()),
    ] {
        if !value.is_empty() {
            sd.push_str(&format!(" {name}=\"{}\"", sd_escape(&value)));
        }
    }
    sd.push(']');
    format!("<{pri}>1 {timestamp} {hostname} {app_name} {procid} {msgid} {sd} \u{feff}{alert}")
}

/// A PARAM-VALUE with `"`, `\` and `]` escaped (RFC 5424 §6.3.3).
fn sd_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// This machine's name for the HOSTNAME field (`-` when it cannot be read).
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name.trim().chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
    if name.is_empty() { "-".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_shape() {
        let alert = serde_json::json!({"id": 3, "seq": 9, "policy": "p", "rule": "brute force\"x", "severity": "high", "summary": "s"});
        let m = rfc5424(&alert, 4, "2026-01-01T00:00:00.000000Z", "h", "auditgate", 42);
        assert!(m.starts_with("<35>1 2026-01-01T00:00:00.000000Z h auditgate 42 bruteforce\"x [auditgate@32473 id=\"3\" seq=\"9\" policy=\"p\" rule=\"brute force\\\"x\" severity=\"high\"] \u{feff}{"), "{m}");
        let json: Value = serde_json::from_str(m.split('\u{feff}').nth(1).unwrap_or("")).unwrap_or_default();
        assert_eq!(json, alert);
    }
}
