//! `format=cef`: ArcSight Common Event Format, one line per event and one per alert raised
//! for it: `CEF:0|Auditgate|Auditgate|VERSION|SignatureID|Name|Severity|Extension`.
//!
//! Header fields escape `\` and `|` (and turn line breaks into spaces: a header is one
//! line); extension values escape `\`, `=` and line breaks (`\n`, `\r`), so no value can
//! forge another field, key or line. The key table is in the README ("CEF mapping").

use std::net::IpAddr;

use serde_json::Value;

use super::{Encoder, ExportError, millis, text};

/// CEF severity (0-10) for a gateway severity: info 1, low 3, medium 5, high 8, critical 10.
pub fn severity(value: Option<&str>) -> u8 {
    match value {
        Some("info") => 1,
        Some("low") => 3,
        Some("medium") => 5,
        Some("high") => 8,
        Some("critical") => 10,
        _ => 0,
    }
}

/// A header field: `\` → `\\`, `|` → `\|`, CR/LF → space.
pub fn escape_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// An extension value: `\` → `\\`, `=` → `\=`, LF → `\n`, CR → `\r`.
pub fn escape_extension(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Builds one CEF line.
struct Line {
    text: String,
}

impl Line {
    fn new(signature: &str, name: &str, severity: u8) -> Self {
        let text = format!(
            "CEF:0|Auditgate|Auditgate|{}|{}|{}|{severity}|",
            escape_header(env!("CARGO_PKG_VERSION")),
            escape_header(signature),
            escape_header(name),
        );
        Self { text }
    }

    fn field(&mut self, key: &str, value: &str) {
        if !self.text.ends_with('|') {
            self.text.push(' ');
        }
        self.text.push_str(key);
        self.text.push('=');
        self.text.push_str(&escape_extension(value));
    }

    fn opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.field(key, v);
        }
    }

    /// A custom field with its label (`cs1Label=session_id cs1=...`).
    fn labelled(&mut self, key: &str, label: &str, value: Option<String>) {
        if let Some(v) = value {
            self.field(&format!("{key}Label"), label);
            self.field(key, &v);
        }
    }

    fn finish(mut self, out: &mut Vec<u8>) {
        self.text.push('\n');
        out.extend_from_slice(self.text.as_bytes());
    }
}

/// A field's JSON text (objects and arrays), if the record has it.
fn json_text(record: &Value, name: &str) -> Option<String> {
    record.get(name).filter(|v| !v.is_null()).map(Value::to_string)
}

fn source_ip(line: &mut Line, ip: Option<&str>) {
    match ip.map(|s| (s, s.parse::<IpAddr>())) {
        Some((s, Ok(IpAddr::V6(_)))) => line.labelled("c6a2", "Source IPv6 Address", Some(s.to_string())),
        Some((s, _)) => line.field("src", s),
        None => {}
    }
}

/// One stored record as a CEF line.
pub fn event_line(record: &Value, out: &mut Vec<u8>) {
    let action = text(record, "action").unwrap_or("");
    let outcome = text(record, "outcome").unwrap_or("unknown");
    let mut line = Line::new(action, &format!("{action} {outcome}"), severity(text(record, "severity")));
    if let Some(ms) = millis(text(record, "time")) {
        line.field("rt", &ms.to_string());
    }
    line.field("act", action);
    line.field("outcome", outcome);
    line.opt("suser", text(record, "user"));
    source_ip(&mut line, text(record, "ip"));
    line.opt("requestClientApplication", text(record, "user_agent"));
    line.opt("reason", text(record, "reason"));
    line.opt("externalId", text(record, "id"));
    if let Some(seq) = record.get("seq").and_then(Value::as_u64) {
        line.labelled("cn1", "seq", Some(seq.to_string()));
    }
    line.labelled("cs1", "session_id", text(record, "session_id").map(str::to_string));
    line.labelled("cs2", "resource_type", text(record, "resource_type").map(str::to_string));
    line.labelled("cs3", "resource_id", text(record, "resource_id").map(str::to_string));
    line.labelled("cs4", "details", json_text(record, "details"));
    line.labelled("cs5", "tags", json_text(record, "tags"));
    line.labelled("cs6", "changes", json_text(record, "changes"));
    line.labelled("flexString1", "source", text(record, "source").map(str::to_string));
    line.labelled("flexString2", "redacted", json_text(record, "redacted"));
    line.opt("agRequestId", text(record, "request_id"));
    line.opt("agPolicySet", text(record, "policy_set"));
    line.finish(out);
}

/// One alert raised for `record` as a CEF line (signature `alert:RULE`).
pub fn alert_line(alert: &Value, record: &Value, out: &mut Vec<u8>) {
    let rule = text(alert, "rule").unwrap_or("");
    let summary = text(alert, "summary").unwrap_or(rule);
    let mut line = Line::new(&format!("alert:{rule}"), summary, severity(text(alert, "severity")));
    if let Some(ms) = millis(text(alert, "time")).or_else(|| millis(text(record, "time"))) {
        line.field("rt", &ms.to_string());
    }
    line.opt("act", text(record, "action"));
    line.opt("suser", text(record, "user"));
    source_ip(&mut line, text(record, "ip"));
    line.field("msg", summary);
    if let Some(seq) = alert.get("seq").and_then(Value::as_u64) {
        line.labelled("cn1", "seq", Some(seq.to_string()));
    }
    if let Some(id) = alert.get("id").and_then(Value::as_u64) {
        line.labelled("cn2", "alert_id", Some(id.to_string()));
    }
    line.labelled("cs1", "policy", text(alert, "policy").map(str::to_string));
    line.labelled("cs2", "labels", json_text(alert, "labels"));
    line.finish(out);
}

/// Writes CEF lines.
pub struct CefEncoder;

impl Encoder for CefEncoder {
    fn event(&mut self, record: &Value, out: &mut Vec<u8>) -> Result<(), ExportError> {
        event_line(record, out);
        Ok(())
    }

    fn alert(&mut self, alert: &Value, record: &Value, out: &mut Vec<u8>) -> Result<(), ExportError> {
        alert_line(alert, record, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hostile_values_cannot_forge_fields_or_lines() {
        let record = json!({
            "seq": 1, "action": "evil|action\\x", "outcome": "failure", "severity": "critical",
            "user": "bob suser=admin\nCEF:0|x", "reason": "a=b\\c\r", "ip": "2001:db8::1",
        });
        let mut out = Vec::new();
        event_line(&record, &mut out);
        let line = String::from_utf8(out).unwrap();
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        assert!(line.starts_with("CEF:0|Auditgate|Auditgate|"), "{line}");
        assert!(line.contains("|evil\\|action\\\\x|evil\\|action\\\\x failure|10|"), "{line}");
        assert!(line.contains(" suser=bob suser\\=admin\\nCEF:0|x "), "{line}");
        assert!(line.contains(" reason=a\\=b\\\\c\\r "), "{line}");
        assert!(line.contains("c6a2Label=Source IPv6 Address c6a2=2001:db8::1"), "{line}");
    }

    #[test]
    fn severities_span_zero_to_ten() {
        let got: Vec<u8> = [None, Some("info"), Some("low"), Some("medium"), Some("high"), Some("critical")]
            .into_iter()
            .map(severity)
            .collect();
        assert_eq!(got, [0, 1, 3, 5, 8, 10]);
    }
}
