//! The `[policy.config]` of `redact-secrets`, and what the policy makes of it.
//!
//! Configured lists **extend** the built-in ones: adding a field name never drops a default.
//! Replacing a built-in list is an explicit choice (`replace_defaults`), and the policy
//! says at `init` what that choice gives up ([`Settings::warnings`]), so `check-config` and
//! the start-up log show it.

use std::collections::BTreeMap;

use auditgate_sdk::detect::names::{NameMatcher, NamePatternError};
use auditgate_sdk::detect::{Detectors, Kind};

/// The lists `replace_defaults` may name.
pub const REPLACEABLE: [&str; 2] = ["fields", "harmless_fields"];

/// The most names one warning lists before it says how many more there are.
const WARN_LIST: usize = 12;

/// The policy's configuration (every key optional).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// More secret field names (split into words and matched the way the built-in names
    /// are: `"card_holder"` also masks `cardHolder` and `X-Card-Holder`) or `*` patterns
    /// (`"*_pin_*"`, matched against the name's words joined with `_`). They extend the
    /// SDK's built-in rule ([`auditgate_sdk::detect::names`]).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Names never masked by their name (their values are still searched by the
    /// detectors): for a field of yours that trips the rule, such as `auth_user`. They
    /// extend the built-in harmless names.
    #[serde(default)]
    pub harmless_fields: Vec<String>,
    /// Lists (`"fields"`, `"harmless_fields"`) whose configured entries replace the
    /// built-in ones instead of extending them.
    #[serde(default)]
    pub replace_defaults: Vec<String>,
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
    /// Decides which field names are secret.
    pub names: NameMatcher,
    /// The marker for those.
    pub marker: String,
    /// Detectors that run (mask or pseudonymize).
    pub detectors: Detectors,
    /// Detectors whose whole-value finds are pseudonymized.
    pub pseudonymized: Detectors,
    /// The value marker of each kind, indexed by `Kind as usize`.
    pub value_markers: Vec<String>,
    /// What this configuration redacts less than the built-in defaults do, one sentence
    /// each (empty for a configuration at least as strict as the defaults).
    pub warnings: Vec<String>,
}

impl Settings {
    /// Checks `config`; errors name the key at fault.
    pub fn from_config(config: Config) -> Result<Self, String> {
        for list in &config.replace_defaults {
            if !REPLACEABLE.contains(&list.as_str()) {
                return Err(format!(
                    "invalid config: `replace_defaults` names `{list}`; the lists with defaults are: {}",
                    REPLACEABLE.join(", ")
                ));
            }
        }
        let replaces = |list: &str| config.replace_defaults.iter().any(|l| l == list);
        let names = NameMatcher::builder()
            .secret_names(&config.fields)
            .harmless_names(&config.harmless_fields)
            .replace_secret_words(replaces("fields"))
            .replace_harmless_names(replaces("harmless_fields"))
            .build()
            .map_err(|e| name_error(e, &config))?;
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
                "invalid config: nothing to redact: `fields` replaces the defaults with nothing and \
                        every detector is off"
                    .into(),
            );
        }
        let mut warnings = Vec::new();
        if !names.missing_defaults().is_empty() {
            warnings.push(format!(
                "`fields` replaces the built-in secret names (replace_defaults): {} of them are no longer \
                 masked by name: {}",
                names.missing_defaults().len(),
                listed(names.missing_defaults())
            ));
        }
        let off: Vec<&str> = Kind::ALL
            .iter()
            .filter(|&&k| default_action(k) != Action::Off && !detectors.contains(k))
            .map(|k| k.name())
            .collect();
        if !off.is_empty() {
            warnings.push(format!(
                "detectors turned off ({}): values they would mask are stored as sent",
                listed(&off)
            ));
        }
        let marker = config.marker.unwrap_or_else(|| DEFAULT_MARKER.to_string());
        let value_marker = config.value_marker.unwrap_or_else(|| DEFAULT_VALUE_MARKER.to_string());
        let value_markers = Kind::ALL.iter().map(|k| value_marker.replace("{kind}", k.name())).collect();
        Ok(Self { names, marker, detectors, pseudonymized, value_markers, warnings })
    }

    /// The marker replacing a span of `kind`.
    pub fn value_marker(&self, kind: Kind) -> &str {
        &self.value_markers[kind as usize]
    }
}

/// A name error with the config key (`fields[I]` or `harmless_fields[I]`) at fault.
fn name_error(e: NamePatternError, config: &Config) -> String {
    let key = |index: usize| {
        if index < config.fields.len() {
            format!("fields[{index}]")
        } else {
            format!("harmless_fields[{}]", index - config.fields.len())
        }
    };
    match e {
        NamePatternError::Empty(i) => format!("invalid config: `{}` has no letter or digit", key(i)),
        NamePatternError::MatchesEverything { index, pattern } => {
            format!("invalid config: `{}` ({pattern:?}) would mask every field", key(index))
        }
    }
}

/// `items` joined with `, `, cut after [`WARN_LIST`] with the count of the rest.
fn listed(items: &[&str]) -> String {
    let mut text = items.iter().take(WARN_LIST).copied().collect::<Vec<_>>().join(", ");
    if items.len() > WARN_LIST {
        text.push_str(&format!(" and {} more", items.len() - WARN_LIST));
    }
    text
}
