//! The `[policy.config]` of `redact-secrets`, and what the policy makes of it.

use std::collections::BTreeMap;

use auditgate_sdk::detect::names::{NameMatcher, NamePatternError};
use auditgate_sdk::detect::{Detectors, Kind};

/// The policy's configuration (every key optional).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Field-name patterns whose values are masked whole (case-insensitive, `-` equals
    /// `_`, `*` is a wildcard). Default: the SDK's
    /// [`DEFAULT_SECRET_NAMES`](auditgate_sdk::detect::names::DEFAULT_SECRET_NAMES).
    #[serde(default)]
    pub fields: Option<Vec<String>>,
    /// What replaces a value masked by field name. Default `[REDACTED]`.
    #[serde(default)]
    pub marker: Option<String>,
    /// What each value detector does: `mask`, `pseudonymize` or `off`. Detectors not
    /// named keep their default (see [`default_action`]).
    #[serde(default)]
    pub detectors: BTreeMap<String, Action>,
    /// What replaces a span masked by a detector; `{kind}` becomes the detector's name.
    /// Default `[REDACTED:{kind}]`.
    #[serde(default)]
    pub value_marker: Option<String>,
}

/// What a value detector does with what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Replace the found span with the value marker, keep the rest of the string.
    Mask,
    /// Replace the whole value with the gateway's keyed hash when the span is the whole
    /// value (still searchable, not reversible); a span inside a longer text is masked.
    Pseudonymize,
    /// Do not run the detector.
    Off,
}

/// The marker used when the config names none.
pub const DEFAULT_MARKER: &str = "[REDACTED]";
/// The value marker used when the config names none.
pub const DEFAULT_VALUE_MARKER: &str = "[REDACTED:{kind}]";

/// A detector's action when the config does not name it: every secret detector masks;
/// e-mail is off, because in an audit log the address usually *is* the actor (the `user`
/// of the record) and masking it would break searches and per-user alerting. Turn it on
/// with `email = "pseudonymize"` to keep addresses searchable but unreadable.
pub fn default_action(kind: Kind) -> Action {
    match kind {
        Kind::Email => Action::Off,
        _ => Action::Mask,
    }
}

/// The configuration checked and turned into what `evaluate` uses.
#[derive(Debug)]
pub struct Settings {
    /// Field names whose values are masked whole.
    pub names: NameMatcher,
    /// The marker for those.
    pub marker: String,
    /// Detectors that run (mask or pseudonymize).
    pub detectors: Detectors,
    /// Detectors whose whole-value finds are pseudonymized.
    pub pseudonymized: Detectors,
    /// The value marker of each kind, indexed by `Kind as usize`.
    pub value_markers: Vec<String>,
}

impl Settings {
    /// Checks `config`; errors name the key at fault.
    pub fn from_config(config: Config) -> Result<Self, String> {
        let names = match &config.fields {
            None => NameMatcher::secrets(),
            Some(fields) => NameMatcher::new(fields).map_err(|e| match e {
                NamePatternError::Empty(i) => format!("invalid config: `fields[{i}]` is empty"),
                NamePatternError::MatchesEverything { index, pattern } => {
                    format!("invalid config: `fields[{index}]` ({pattern:?}) would mask every field")
                }
            })?,
        };
        let mut actions: Vec<Action> = Kind::ALL.iter().map(|&k| default_action(k)).collect();
        for (name, action) in &config.detectors {
            let kind = Kind::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "invalid config: unknown detector `{name}` in `detectors` (known: {})",
                    known.join(", ")
                )
            })?;
            actions[kind as usize] = *action;
        }
        let mut detectors = Detectors::none();
        let mut pseudonymized = Detectors::none();
        for kind in Kind::ALL {
            match actions[kind as usize] {
                Action::Mask => detectors = detectors.with(kind),
                Action::Pseudonymize => {
                    detectors = detectors.with(kind);
                    pseudonymized = pseudonymized.with(kind);
                }
                Action::Off => {}
            }
        }
        if names.is_empty() && detectors.is_empty() {
            return Err(
                "invalid config: nothing to redact: `fields` is empty and every detector is off".into()
            );
        }
        let marker = config.marker.unwrap_or_else(|| DEFAULT_MARKER.to_string());
        let value_marker = config.value_marker.unwrap_or_else(|| DEFAULT_VALUE_MARKER.to_string());
        let value_markers = Kind::ALL.iter().map(|k| value_marker.replace("{kind}", k.name())).collect();
        Ok(Self { names, marker, detectors, pseudonymized, value_markers })
    }

    /// The marker replacing a span of `kind`.
    pub fn value_marker(&self, kind: Kind) -> &str {
        &self.value_markers[kind as usize]
    }
}
