//! `auditgate policy test`: run one compiled policy on events from a file, in the gateway's
//! own engine (the same wasmtime sandbox, caps and host functions as `serve`), and show,
//! per event, what the policy decided and the event that would be stored.
//!
//! Each line of the events file is one event, validated exactly as `POST /v1/events/bulk`
//! validates it. A bad line is reported with its number and the rest go on. Lines run one
//! after the other through one engine, so host counters and state carry over (five failed
//! logins in the file trip a five-failure rule). Pseudonyms use the all-zero test key of
//! `auditgate_sdk::testing`, so they match the SDK's native harness.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use figment::Figment;
use figment::providers::{Format, Toml};
use serde_json::{Map, Value, json};

use crate::config::{Config, OnError, PolicyConfig, ServerConfig};
use crate::engine::patch::Patch;
use crate::engine::pseudonym::Pseudonymizer;
use crate::engine::wasm::DecisionOut;
use crate::engine::{ChainOutcome, EngineError, PolicyEngine, Step};
use crate::event::{self, EventError, Limits};

/// The key of the pseudonyms `policy test` writes (the SDK harness's `TEST_PSEUDONYM_KEY`).
pub const TEST_PSEUDONYM_KEY: [u8; 32] = [0; 32];

/// Why `policy test` could not run at all (a bad line is not one of these: it is reported
/// in the output and counted in [`Summary::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum PolicyTestError {
    #[error("the policy config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("policy {module} does not exist (give a .wasm file or builtin:NAME)")]
    MissingModule { module: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("reading the events: {0}")]
    Read(std::io::Error),
    #[error("writing the report: {0}")]
    Write(std::io::Error),
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// For people: a few indented lines per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// What happened to one line of the events file.
#[derive(Debug, Clone, PartialEq)]
pub enum LineResult {
    /// The line is not a valid event; the policy never saw it.
    Invalid(EventError),
    /// The policy failed on the event (its error, a trap, a timeout), or its decision could
    /// not be applied (bad patch path, an event no longer valid). `decision` is what it
    /// returned, when it returned one.
    Failed { decision: Option<DecisionOut>, error: String },
    /// The policy's decision and the event after it.
    Passed { decision: DecisionOut, event: Map<String, Value>, redacted: Vec<String> },
}

/// One line's report.
#[derive(Debug, Clone, PartialEq)]
pub struct LineReport {
    /// 1-based line number in the events file.
    pub line: usize,
    pub result: LineResult,
}

/// Counts over a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Events read (blank lines are not events).
    pub events: usize,
    /// Events that were invalid or that the policy failed on.
    pub failed: usize,
}

/// One policy loaded in the gateway's engine, ready to run events.
pub struct PolicyTester {
    engine: PolicyEngine,
    limits: Limits,
}

impl PolicyTester {
    /// Loads `module` (`builtin:NAME` or a path to a `.wasm` component) with the config
    /// table in the TOML file `config` (the keys that would go under `[policy.config]`;
    /// none: `{}`). Time and memory limits are the gateway's defaults.
    pub fn load(module: &str, config: Option<&Path>) -> Result<Self, PolicyTestError> {
        let name = match module.strip_prefix("builtin:") {
            Some(name) => name.to_string(),
            None => {
                let path = Path::new(module);
                if !path.is_file() {
                    return Err(PolicyTestError::MissingModule { module: module.to_string() });
                }
                path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "policy".into())
            }
        };
        let config_value = match config {
            Some(path) => read_config_table(path)?,
            None => Value::Object(Map::new()),
        };
        let policy = PolicyConfig {
            name,
            module: module.to_string(),
            // Fail loudly: every error shows up in the report.
            on_error: Some(OnError::Reject),
            timeout_ms: 50,
            memory_mb: 32,
            actions: Vec::new(),
            config: config_value,
        };
        let gateway_config = Config {
            server: ServerConfig::default(),
            storage: Default::default(),
            engine: Default::default(),
            keys: Vec::new(),
            policy: vec![policy],
            lookup: Vec::new(),
            checkpoints: Default::default(),
            sink: Vec::new(),
            delivery: Default::default(),
            retention: Default::default(),
            legal_hold: Vec::new(),
        };
        let limits = Limits {
            max_event_bytes: gateway_config.server.max_event_bytes,
            max_depth: gateway_config.server.max_depth,
        };
        let engine = PolicyEngine::load(&gateway_config, Pseudonymizer::new(TEST_PSEUDONYM_KEY))?;
        Ok(Self { engine, limits })
    }

    /// Runs one line of the events file (`line` is its 1-based number).
    pub fn run_line(&self, line: usize, bytes: &[u8]) -> LineReport {
        let received = Utc::now();
        let result = match std::str::from_utf8(bytes) {
            Err(e) => LineResult::Invalid(EventError::InvalidJson(format!(
                "not valid UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            ))),
            Ok(_) => match event::parse_event(bytes, self.limits, received) {
                Err(e) => LineResult::Invalid(e),
                Ok(valid) => {
                    let mut traced = self.engine.process_traced(vec![valid], received);
                    match traced.pop() {
                        Some((outcome, steps)) => line_result(outcome, steps),
                        None => LineResult::Failed {
                            decision: None,
                            error: "the engine returned no outcome".into(),
                        },
                    }
                }
            },
        };
        LineReport { line, result }
    }

    /// Runs every line of `input` and writes one report per event to `out`. Blank lines
    /// are skipped (their numbers still count).
    pub fn run(
        &self,
        mut input: impl BufRead,
        out: &mut impl Write,
        format: OutputFormat,
    ) -> Result<Summary, PolicyTestError> {
        let mut summary = Summary::default();
        let mut buf = Vec::new();
        let mut line = 0;
        loop {
            buf.clear();
            let n = input.read_until(b'\n', &mut buf).map_err(PolicyTestError::Read)?;
            if n == 0 {
                break;
            }
            line += 1;
            let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let report = self.run_line(line, text);
            summary.events += 1;
            if report.failed() {
                summary.failed += 1;
            }
            let rendered = match format {
                OutputFormat::Json => format!("{}\n", report.to_json()),
                OutputFormat::Text => report.to_text(),
            };
            out.write_all(rendered.as_bytes()).map_err(PolicyTestError::Write)?;
        }
        out.flush().map_err(PolicyTestError::Write)?;
        Ok(summary)
    }
}

/// Reads a TOML file holding a policy's config table.
fn read_config_table(path: &Path) -> Result<Value, PolicyTestError> {
    let fail = |message: String| PolicyTestError::Config { path: path.to_path_buf(), message };
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let value: Value = Figment::from(Toml::file(path)).extract().map_err(|e| fail(e.to_string()))?;
    if !value.is_object() {
        return Err(fail("expected a TOML table (the keys of [policy.config])".into()));
    }
    Ok(value)
}

fn line_result(outcome: ChainOutcome, mut steps: Vec<Step>) -> LineResult {
    let decision = steps.pop().map(|s| s.decision);
    match (outcome, decision) {
        (ChainOutcome::Pass(p), Some(Ok(decision))) => {
            LineResult::Passed { decision, event: p.event.fields, redacted: p.redacted }
        }
        (ChainOutcome::Pass(p), None) => LineResult::Passed {
            decision: DecisionOut::default(),
            event: p.event.fields,
            redacted: p.redacted,
        },
        (ChainOutcome::Pass(_), Some(Err(error))) => LineResult::Failed { decision: None, error },
        (ChainOutcome::Rejected { error, .. } | ChainOutcome::Quarantined { error, .. }, decision) => {
            LineResult::Failed { decision: decision.and_then(Result::ok), error }
        }
    }
}

impl LineReport {
    /// True when the event was invalid or the policy failed on it.
    pub fn failed(&self) -> bool {
        !matches!(self.result, LineResult::Passed { .. })
    }

    /// The `--json` form: `{"line", "ok", "decision", "event", "redacted"}` or
    /// `{"line", "ok": false, "error": {"code", "message"}[, "decision"]}`.
    pub fn to_json(&self) -> Value {
        match &self.result {
            LineResult::Invalid(e) => json!({
                "line": self.line,
                "ok": false,
                "error": {"code": e.code(), "message": e.to_string()},
            }),
            LineResult::Failed { decision, error } => json!({
                "line": self.line,
                "ok": false,
                "error": {"code": "policy_failed", "message": error},
                "decision": decision.as_ref().map(decision_json),
            }),
            LineResult::Passed { decision, event, redacted } => json!({
                "line": self.line,
                "ok": true,
                "decision": decision_json(decision),
                "event": event,
                "redacted": redacted,
            }),
        }
    }

    /// The human form: a header line, then the decision and the resulting event, indented.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        match &self.result {
            LineResult::Invalid(e) => {
                s.push_str(&format!("line {}: invalid event ({}): {e}\n", self.line, e.code()))
            }
            LineResult::Failed { decision, error } => {
                s.push_str(&format!("line {}: policy failed: {error}\n", self.line));
                if let Some(d) = decision {
                    push_decision(&mut s, d);
                }
            }
            LineResult::Passed { decision, event, redacted } => {
                s.push_str(&format!("line {}: ok\n", self.line));
                push_decision(&mut s, decision);
                if !redacted.is_empty() {
                    s.push_str(&format!("  redacted: {}\n", redacted.join(", ")));
                }
                s.push_str(&format!("  event: {}\n", Value::Object(event.clone())));
            }
        }
        s
    }
}

fn push_decision(s: &mut String, d: &DecisionOut) {
    if d.patches.is_empty() && d.alerts.is_empty() && d.tags.is_empty() {
        s.push_str("  decision: nothing to do\n");
        return;
    }
    for p in &d.patches {
        let line = match p {
            Patch::Remove(path) => format!("remove {path}"),
            Patch::Mask(path, text) => format!("mask {path} -> {}", Value::String(text.clone())),
            Patch::Pseudonymize(path) => format!("pseudonymize {path}"),
            Patch::Set(path, value) => format!("set {path} = {value}"),
        };
        s.push_str(&format!("  patch: {line}\n"));
    }
    for a in &d.alerts {
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!("  alert: {} [{}] {}", a.rule, a.severity, a.summary));
        if !labels.is_empty() {
            s.push_str(&format!(" ({})", labels.join(", ")));
        }
        s.push('\n');
    }
    if !d.tags.is_empty() {
        s.push_str(&format!("  tags: {}\n", d.tags.join(", ")));
    }
}

/// A decision as JSON: `{"patches": [{"op", "path"[, "value"]}], "alerts": [...], "tags": [...]}`.
pub fn decision_json(d: &DecisionOut) -> Value {
    let patches: Vec<Value> = d
        .patches
        .iter()
        .map(|p| match p {
            Patch::Remove(path) => json!({"op": "remove", "path": path}),
            Patch::Mask(path, text) => json!({"op": "mask", "path": path, "value": text}),
            Patch::Pseudonymize(path) => json!({"op": "pseudonymize", "path": path}),
            Patch::Set(path, value) => {
                let value =
                    serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::String(value.clone()));
                json!({"op": "set", "path": path, "value": value})
            }
        })
        .collect();
    let alerts: Vec<Value> = d
        .alerts
        .iter()
        .map(|a| {
            let labels: Map<String, Value> =
                a.labels.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            json!({"rule": a.rule, "severity": a.severity, "summary": a.summary, "labels": labels})
        })
        .collect();
    json!({"patches": patches, "alerts": alerts, "tags": d.tags})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tester: &PolicyTester, input: &str) -> (Summary, Vec<Value>) {
        let mut out = Vec::new();
        let summary = tester.run(input.as_bytes(), &mut out, OutputFormat::Json).expect("runs");
        let text = String::from_utf8(out).expect("utf-8");
        (summary, text.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect())
    }

    #[test]
    fn builtin_redaction_shows_patches_and_the_resulting_event() {
        let tester = PolicyTester::load("builtin:redact-secrets", None).expect("loads");
        let input = concat!(
            r#"{"action":"user.login","outcome":"failure","user":"alice","details":{"password":"hunter2"}}"#,
            "\n\n",
            "{not json\n",
            r#"{"action":"user.login","outcome":"maybe"}"#,
            "\n",
            r#"{"action":"user.login","outcome":"success","details":{"note":"fine"}}"#,
            "\n",
        );
        let (summary, lines) = run(&tester, input);
        assert_eq!(summary, Summary { events: 4, failed: 2 });
        assert_eq!(lines.len(), 4);

        let first = &lines[0];
        assert_eq!(first["line"], 1);
        assert_eq!(first["ok"], true);
        assert_eq!(first["event"]["details"]["password"], "[REDACTED]");
        assert_eq!(first["redacted"], json!(["/details/password"]));
        let patches = first["decision"]["patches"].as_array().expect("patches");
        assert!(patches.iter().any(|p| p["op"] == "mask" && p["path"] == "/details/password"), "{first}");

        assert_eq!(lines[1]["line"], 3);
        assert_eq!(lines[1]["ok"], false);
        assert_eq!(lines[1]["error"]["code"], "invalid_json");
        assert_eq!(lines[2]["line"], 4);
        assert_eq!(lines[2]["error"]["code"], "invalid_field");
        assert!(lines[2]["error"]["message"].as_str().is_some_and(|m| m.contains("outcome")), "{}", lines[2]);

        assert_eq!(lines[3]["line"], 5);
        assert_eq!(lines[3]["ok"], true);
        assert_eq!(lines[3]["event"]["details"]["note"], "fine");
    }

    #[test]
    fn counters_carry_over_between_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("cfg.toml");
        std::fs::write(&cfg, "threshold = 3\nwindow_secs = 300\n").expect("write");
        let tester = PolicyTester::load("builtin:alert-bruteforce", Some(&cfg)).expect("loads");
        let failure = r#"{"action":"user.login","outcome":"failure","user":"bob","ip":"192.0.2.9"}"#;
        let (summary, lines) = run(&tester, &format!("{failure}\n{failure}\n{failure}\n"));
        assert_eq!(summary.failed, 0);
        let alerts: Vec<usize> =
            lines.iter().map(|l| l["decision"]["alerts"].as_array().map_or(0, Vec::len)).collect();
        assert_eq!(alerts[..2], [0, 0]);
        assert!(alerts[2] >= 1, "the third failure reaches the threshold: {lines:?}");
        assert_eq!(lines[2]["decision"]["alerts"][0]["severity"], "high");
    }

    #[test]
    fn a_bad_config_is_refused_with_the_policy_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = dir.path().join("cfg.toml");
        std::fs::write(&cfg, "threshold = \"many\"\n").expect("write");
        let err = PolicyTester::load("builtin:alert-bruteforce", Some(&cfg)).err().expect("refused");
        let err = err.to_string();
        assert!(err.contains("alert-bruteforce") && err.contains("invalid config"), "{err}");
        let missing = PolicyTester::load("/nonexistent/p.wasm", None).err().expect("refused");
        assert!(missing.to_string().contains("/nonexistent/p.wasm"), "{missing}");
        let unknown = PolicyTester::load("builtin:nope", None).err().expect("refused");
        assert!(unknown.to_string().contains("unknown builtin"), "{unknown}");
    }
}
