//! Bundled Auditgate policy `redact-secrets`: masks secrets before an event is stored,
//! found by the name of the field that holds them and by value detectors over every string.
//!
//! What it does, for every value at any depth (top level, `details`, `changes.before/after`,
//! header maps, objects inside arrays):
//! 1. **By field name.** A member whose name matches `fields` is masked whole with
//!    `marker`, whatever its type, and not searched further. Header-like pairs count too:
//!    in `{"name": "Authorization", "value": "…"}` (or `key`/`header` for `name`) and in
//!    `["Cookie", "…"]`, the value is masked when the name matches.
//! 2. **By value.** Every other string (and every integer of 13+ digits, for card numbers
//!    sent as numbers) goes through the SDK's [detectors](auditgate_sdk::detect). A
//!    detector set to `mask` replaces only what it found: `"Bearer abc…"` becomes
//!    `"Bearer [REDACTED:bearer]"`. One set to `pseudonymize` replaces the whole value with
//!    the gateway's keyed hash when the find is the whole value (an e-mail address in
//!    `user`), and masks it when it sits inside a longer text (the hash of a sentence is of
//!    no use to anyone).
//! 3. **Records it.** Each event gets a tag per kind of thing redacted: `redacted:field`
//!    for field names, `redacted:<detector>` (`redacted:card`, `redacted:bearer`, …) for
//!    values. The gateway lists every patched path in the event's `redacted`.
//!
//! The top-level fields the gateway validates (`id`, `time`, `action`, `outcome`, `ip`,
//! `severity`) are not searched by value: a mask there would fail the event's schema.
//!
//! Config (`[policy.config]`, every key optional):
//! - `fields`: field-name patterns (case-insensitive, `-` equals `_`, `*` wildcard).
//!   Default: the SDK's `DEFAULT_SECRET_NAMES`. An empty list turns name matching off.
//! - `marker` (default `"[REDACTED]"`): replaces a value masked by name.
//! - `detectors`: a table `detector = "mask" | "pseudonymize" | "off"`. Detectors:
//!   `private_key`, `jwt`, `aws_key_id`, `aws_secret`, `gcp_key`, `azure_key`,
//!   `github_token`, `slack_token`, `stripe_key`, `bearer`, `basic_auth`, `card`, `iban`,
//!   `ssn`, `email`. Default: all `mask` except `email = "off"`.
//! - `value_marker` (default `"[REDACTED:{kind}]"`): replaces a span found by a detector;
//!   `{kind}` becomes the detector's name.
//!
//! ```toml
//! [policy.config]
//! fields = ["password", "*_secret", "authorization", "cookie"]
//! [policy.config.detectors]
//! email = "pseudonymize"
//! iban = "off"
//! ```

pub mod config;

use auditgate_sdk::detect::{self, Detectors, Kind, Span};
use auditgate_sdk::prelude::*;

pub use config::{Action, Config, DEFAULT_MARKER, DEFAULT_VALUE_MARKER, Settings, default_action};

/// Top-level fields the gateway validates; masking them would fail the event.
const STRUCTURAL: [&str; 6] = ["id", "time", "action", "outcome", "ip", "severity"];

/// Member names that hold a header's name in a `{name, value}` pair.
const PAIR_NAME_KEYS: [&str; 3] = ["name", "key", "header"];

/// Masks secrets by field name and by value.
#[derive(Debug)]
pub struct RedactSecrets {
    settings: Settings,
}

/// What one event had redacted, for the tags.
#[derive(Default)]
struct Found {
    by_name: bool,
    kinds: Detectors,
}

impl RedactSecrets {
    /// Whether a member name is one of the configured fields.
    pub fn matches(&self, key: &str) -> bool {
        self.settings.names.matches(key)
    }

    /// The value detectors that run.
    pub fn detectors(&self) -> Detectors {
        self.settings.detectors
    }

    /// Masks the spans of one string (or pseudonymizes it when one pseudonymized span is
    /// all of it).
    fn redact_text(&self, path: &Pointer, text: &str, spans: &[Span], decision: &mut Decision) {
        if let [only] = spans
            && self.settings.pseudonymized.contains(only.kind)
            && only.covers(text)
        {
            decision.pseudonymize(path);
        } else {
            decision.mask(path, detect::redact(text, spans, |kind| self.settings.value_marker(kind)));
        }
    }

    /// A card number sent as a JSON integer.
    fn redact_number(&self, path: &Pointer, number: &serde_json::Number, decision: &mut Decision) -> bool {
        let Some(n) = number.as_u64().filter(|&n| n >= 1_000_000_000_000) else { return false };
        if !self.settings.detectors.contains(Kind::Card) {
            return false;
        }
        let text = n.to_string();
        let mut spans = Vec::new();
        detect::card::find(&text, &mut spans);
        if spans.is_empty() {
            return false;
        }
        if self.settings.pseudonymized.contains(Kind::Card) {
            decision.pseudonymize(path);
        } else {
            decision.mask(path, self.settings.value_marker(Kind::Card));
        }
        true
    }

    /// In `{"name": "Authorization", "value": …}`, the path of the value to mask.
    fn pair_in_object(
        &self,
        path: &Pointer,
        members: &[(std::borrow::Cow<'_, str>, Value<'_>)],
    ) -> Option<String> {
        let named = members.iter().any(|(k, v)| {
            PAIR_NAME_KEYS.iter().any(|n| k.eq_ignore_ascii_case(n))
                && v.as_str().is_some_and(|s| self.matches(s))
        });
        if !named {
            return None;
        }
        let (value_key, _) = members.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case("value"))?;
        Some(path.child(Segment::Key(value_key)).to_string())
    }

    /// In `["Cookie", …]`, the path of the value to mask.
    fn pair_in_array(&self, path: &Pointer, items: &[Value<'_>]) -> Option<String> {
        match items {
            [name, _] if name.as_str().is_some_and(|s| self.matches(s)) => {
                Some(path.child(Segment::Index(1)).to_string())
            }
            _ => None,
        }
    }
}

/// Whether `path` is `covered` or inside it.
fn is_inside(path: &str, covered: &[String]) -> bool {
    covered
        .iter()
        .any(|c| path.strip_prefix(c.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

impl Policy for RedactSecrets {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        Ok(Self { settings: Settings::from_config(config)? })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        let mut found = Found::default();
        // Values masked whole as the value of a header-like pair: not searched again.
        let mut covered: Vec<String> = Vec::new();
        let mut spans = Vec::new();
        let mut walk = event.walk();
        while let Some(node) = walk.next() {
            if !covered.is_empty() && is_inside(&node.pointer.to_string(), &covered) {
                walk.skip_children();
                continue;
            }
            if node.key().is_some_and(|k| self.matches(k)) {
                decision.mask(&node.pointer, self.settings.marker.as_str());
                found.by_name = true;
                walk.skip_children();
                continue;
            }
            match node.value {
                Value::String(text) => {
                    let structural =
                        node.pointer.depth() == 1 && node.key().is_some_and(|k| STRUCTURAL.contains(&k));
                    if structural {
                        continue;
                    }
                    self.settings.detectors.scan_into(text, &mut spans);
                    if !spans.is_empty() {
                        for span in &spans {
                            found.kinds = found.kinds.with(span.kind);
                        }
                        self.redact_text(&node.pointer, text, &spans, decision);
                    }
                }
                Value::Number(number) => {
                    if self.redact_number(&node.pointer, number, decision) {
                        found.kinds = found.kinds.with(Kind::Card);
                    }
                }
                Value::Object(members) => {
                    if let Some(path) = self.pair_in_object(&node.pointer, members) {
                        decision.mask(path.as_str(), self.settings.marker.as_str());
                        found.by_name = true;
                        covered.push(path);
                    }
                }
                Value::Array(items) => {
                    if let Some(path) = self.pair_in_array(&node.pointer, items) {
                        decision.mask(path.as_str(), self.settings.marker.as_str());
                        found.by_name = true;
                        covered.push(path);
                    }
                }
                Value::Null | Value::Bool(_) => {}
            }
        }
        if found.by_name {
            decision.tag("redacted:field");
        }
        for kind in found.kinds.kinds() {
            decision.tag(format!("redacted:{kind}"));
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!(RedactSecrets);

#[cfg(test)]
mod tests;
