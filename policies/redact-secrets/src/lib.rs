//! Bundled Auditgate policy `redact-secrets`: masks secrets before an event is stored,
//! found by the name of the field that holds them and by value detectors over every string.
//!
//! What it does, for every value at any depth (top level, `details`, `changes.before/after`,
//! header maps, objects inside arrays):
//! 1. **By field name.** A member whose name is secret is masked whole with `marker`,
//!    whatever its type, and not searched further. Names are judged as people write them
//!    (case, separators, camelCase, `X-`/`HTTP_` prefixes, compounds: `X-Auth-Token`,
//!    `HTTP_X_API_KEY`, `clientSecret`, `db-password`, `PGPASSWORD`), by the word rule of
//!    [`auditgate_sdk::detect::names`], which keeps names that only describe a secret
//!    (`password_policy`, `token_count`). Header-like pairs count too: in
//!    `{"name": "Authorization", "value": "…"}` (or `key`/`header` for `name`) and in
//!    `["Cookie", "…"]`, the value is masked when the name is secret.
//! 2. **By value.** Every other string (and every number of 13+ digits, for card numbers
//!    sent as numbers) goes through the SDK's [detectors](auditgate_sdk::detect), whatever
//!    the field is called. A detector set to `mask` replaces only what it found:
//!    `"Bearer abc…"` becomes `"Bearer [REDACTED:bearer]"`, `"…?token=abc&page=2"` becomes
//!    `"…?token=[REDACTED:named_secret]&page=2"`. One set to `pseudonymize` replaces the whole
//!    value with the gateway's keyed hash when the find is the whole value (an e-mail
//!    address in `user`), and masks it when it sits inside a longer text (the hash of a
//!    sentence is of no use to anyone).
//! 3. **Records it.** Each event gets a tag per kind of thing redacted: `redacted:field`
//!    for field names, `redacted:<detector>` (`redacted:card`, `redacted:bearer`, …) for
//!    values. The gateway lists every patched path in the event's `redacted`.
//!
//! The top-level fields the gateway validates strictly (`time`, `outcome`, `ip`,
//! `severity`) cannot hold a secret and are not searched. `id` and `action` are searched
//! for credentials (keys, tokens, JWTs); the gateway lets no policy rewrite them, so an
//! event carrying one there fails with an error naming the field and the kind (and is
//! refused under the default `on_error = "reject"`).
//!
//! Config (`[policy.config]`, every key optional). Lists **extend** the built-in ones:
//! - `fields`: more secret names (`"card_holder"` also masks `cardHolder`) or `*`
//!   patterns (`"*_pin_*"`).
//! - `harmless_fields`: names never masked by name (the detectors still search their
//!   values), for a field of yours that trips the rule.
//! - `replace_defaults`: `["fields"]` and/or `["harmless_fields"]` to replace a built-in
//!   list instead of extending it. Replacing the secret names logs (and `check-config`
//!   prints) a warning listing the built-in names given up.
//! - `marker` (default `"[REDACTED]"`): replaces a value masked by name.
//! - `detectors`: a table `detector = "mask" | "pseudonymize" | "off"`. Detectors:
//!   `private_key`, `jwt`, `aws_key_id`, `aws_secret`, `gcp_key`, `azure_key`,
//!   `github_token`, `slack_token`, `stripe_key`, `bearer`, `basic_auth`, `card`, `iban`,
//!   `ssn`, `named_secret`, `email`. Default: all `mask` except `email = "off"`. Turning
//!   one off logs a warning.
//! - `value_marker` (default `"[REDACTED:{kind}]"`): replaces a span found by a detector;
//!   `{kind}` becomes the detector's name.
//!
//! ```toml
//! [policy.config]
//! fields = ["card_holder", "*_pin"]
//! harmless_fields = ["auth_user"]
//! [policy.config.detectors]
//! email = "pseudonymize"
//! iban = "off"
//! ```

pub mod config;

use auditgate_sdk::detect::{self, Detectors, Kind, Span};
use auditgate_sdk::prelude::*;
use auditgate_sdk::{Array, Number, Object};

pub use config::{
    Action, Config, DEFAULT_MARKER, DEFAULT_VALUE_MARKER, REPLACEABLE, Settings, default_action,
};

/// Top-level fields the gateway validates so strictly that they cannot hold a secret.
const VALIDATED: [&str; 4] = ["time", "outcome", "ip", "severity"];

/// Top-level fields no policy may rewrite (`id` keys idempotency; `action` keys the
/// indexes and policy filters): a credential found there fails the event instead.
const FIXED: [&str; 2] = ["id", "action"];

/// The detectors searched in [`FIXED`] fields: credentials by their shape. Card, IBAN and
/// SSN are left out (a numeric order id is Luhn-valid one time in ten), and so are
/// e-mail and named secrets (`user.password:reset` is an action, not an assignment).
fn fixed_field_detectors(enabled: Detectors) -> Detectors {
    [Kind::Card, Kind::Iban, Kind::Ssn, Kind::Email, Kind::NamedSecret]
        .into_iter()
        .fold(enabled, Detectors::without)
}

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

    /// A card number sent as a JSON number: an integer (of either sign) or a float with
    /// no fraction (`4111111111111111.0`, `4.111111111111111e15`).
    fn redact_number(&self, path: &Pointer, number: Number<'_>, decision: &mut Decision) -> bool {
        if !self.settings.detectors.contains(Kind::Card) {
            return false;
        }
        let Some(text) = integral_digits(number).filter(|t| t.len() >= 13) else { return false };
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

    /// In `{"name": "Authorization", "value": …}`, the pointer of the value to mask (the
    /// last member called `value` in any case).
    fn pair_in_object<'e>(&self, node: &Node<'e>, members: Object<'e>) -> Option<Pointer<'e>> {
        let mut named = false;
        let mut value_key = None;
        for (key, value) in members {
            if !named && PAIR_NAME_KEYS.iter().any(|n| key.eq_ignore_ascii_case(n)) {
                named = value.as_str().is_some_and(|s| self.matches(s));
            }
            if key.eq_ignore_ascii_case("value") {
                value_key = Some(key);
            }
        }
        if !named {
            return None;
        }
        node.child(Segment::Key(value_key?))
    }

    /// In `["Cookie", …]` (exactly two elements), the pointer of the value to mask.
    fn pair_in_array<'e>(&self, node: &Node<'e>, items: Array<'e>) -> Option<Pointer<'e>> {
        let mut items = items.iter();
        let (name, _value) = (items.next()?, items.next()?);
        if items.next().is_some() || !name.as_str().is_some_and(|s| self.matches(s)) {
            return None;
        }
        node.child(Segment::Index(1))
    }
}

impl RedactSecrets {
    /// Fails the event when a credential sits in `id` or `action`, which no policy may
    /// rewrite. The message names the field and the kind, never the value.
    fn check_fixed_fields(&self, event: &Event) -> Result<(), String> {
        let detectors = fixed_field_detectors(self.settings.detectors);
        for field in FIXED {
            let Some(text) = event.field(field).and_then(|v| v.as_str()) else { continue };
            if let Some(span) = detectors.scan(text).first() {
                return Err(format!(
                    "`{field}` holds a secret ({}); the gateway keeps `{field}` as sent, so the event is \
                     refused rather than stored with it",
                    span.kind
                ));
            }
        }
        Ok(())
    }
}

/// The decimal digits of an integral JSON number without its sign (`None` for a number
/// with a fraction or beyond what a float holds exactly as an integer).
fn integral_digits(number: Number<'_>) -> Option<String> {
    let text = number.as_str();
    // An integer written without fraction or exponent has as many digits as its text
    // (JSON allows no leading zeros): below card length, nothing to convert.
    if !text.contains(['.', 'e', 'E']) && text.trim_start_matches('-').len() < 13 {
        return None;
    }
    let number = number.to_serde()?;
    if let Some(n) = number.as_u64() {
        return Some(n.to_string());
    }
    if let Some(n) = number.as_i64() {
        return Some(n.unsigned_abs().to_string());
    }
    let f = number.as_f64()?.abs();
    // Up to 10^20 (wider than any card number); the fraction must be zero.
    (f.fract() == 0.0 && f < 1e20).then(|| format!("{f:.0}"))
}

/// Whether `path` is `covered` or inside it (compared as pointer text, allocating nothing).
fn is_inside(path: &Pointer, covered: &[Pointer]) -> bool {
    covered.iter().any(|c| path.starts_with(c))
}

impl Policy for RedactSecrets {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let settings = Settings::from_config(config)?;
        // Warnings reach the gateway's log at start-up and `check-config`'s output.
        for warning in &settings.warnings {
            host::log(host::Level::Warn, warning);
        }
        Ok(Self { settings })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        self.check_fixed_fields(event)?;
        let mut found = Found::default();
        // Values masked whole as the value of a header-like pair: not searched again.
        let mut covered: Vec<Pointer> = Vec::new();
        let mut spans = Vec::new();
        let mut walk = event.walk();
        while let Some(node) = walk.next() {
            if !covered.is_empty() && is_inside(&node.pointer, &covered) {
                walk.skip_children();
                continue;
            }
            if node.key().is_some_and(|k| self.matches(k)) {
                decision.mask(node.pointer, self.settings.marker.as_str());
                found.by_name = true;
                walk.skip_children();
                continue;
            }
            match node.value {
                Value::String(text) => {
                    let top_level = node.pointer.is_top_level();
                    if top_level && node.key().is_some_and(|k| VALIDATED.contains(&k) || FIXED.contains(&k)) {
                        continue;
                    }
                    self.settings.detectors.scan_named_into(text, &self.settings.names, &mut spans);
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
                    if let Some(path) = self.pair_in_object(&node, members) {
                        decision.mask(path, self.settings.marker.as_str());
                        found.by_name = true;
                        covered.push(path);
                    }
                }
                Value::Array(items) => {
                    if let Some(path) = self.pair_in_array(&node, items) {
                        decision.mask(path, self.settings.marker.as_str());
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
