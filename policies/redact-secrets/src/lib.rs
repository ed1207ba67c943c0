//! Bundled Auditgate policy `redact-secrets`: masks the values of fields whose names are
//! configured, at any depth.
//!
//! Config (`[policy.config]`):
//! - `fields` (required, non-empty list of non-empty strings): the field names to mask.
//!   Names match case-insensitively, and `-` equals `_` (`API-Key` matches `api_key`).
//! - `marker` (optional, default `"[REDACTED]"`): the string that replaces a masked value.
//!
//! Every object member at any depth (top level, `details`, `changes.before/after`, objects
//! inside arrays) whose name matches gets `mask(pointer, marker)`, whatever the type of its
//! value (string, number, object, array, null); a masked value is not searched further.

use auditgate_sdk::prelude::*;

/// The policy's configuration.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Field names to mask (case-insensitive, `-` equals `_`).
    pub fields: Vec<String>,
    /// What replaces a masked value.
    #[serde(default = "default_marker")]
    pub marker: String,
}

/// The marker used when the config names none.
pub const DEFAULT_MARKER: &str = "[REDACTED]";

fn default_marker() -> String {
    DEFAULT_MARKER.to_string()
}

/// Masks configured field names at any depth.
#[derive(Debug)]
pub struct RedactSecrets {
    /// Normalized ASCII names (lowercase, `-` as `_`), compared byte by byte.
    ascii: Vec<Vec<u8>>,
    /// Normalized names with non-ASCII characters.
    unicode: Vec<String>,
    marker: String,
}

/// Lowercases and turns `-` into `_`.
fn normalize(name: &str) -> String {
    name.chars().map(|c| if c == '-' { '_' } else { c }).flat_map(char::to_lowercase).collect()
}

/// The normalized form of one ASCII byte.
fn fold(b: u8) -> u8 {
    if b == b'-' { b'_' } else { b.to_ascii_lowercase() }
}

impl RedactSecrets {
    /// Whether a member name is one of the configured fields.
    ///
    /// ASCII names (nearly all) are compared without allocating. An ASCII name normalizes
    /// to ASCII, so it can only equal one of the ASCII configured names; other names are
    /// normalized first and compared with all of them.
    pub fn matches(&self, key: &str) -> bool {
        if key.is_ascii() {
            let key = key.as_bytes();
            self.ascii
                .iter()
                .any(|name| name.len() == key.len() && name.iter().zip(key).all(|(&n, &k)| n == fold(k)))
        } else {
            let key = normalize(key);
            self.unicode.contains(&key) || self.ascii.iter().any(|n| n.as_slice() == key.as_bytes())
        }
    }
}

impl Policy for RedactSecrets {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.fields.is_empty() {
            return Err("invalid config: `fields` must name at least one field".into());
        }
        let mut ascii = Vec::new();
        let mut unicode = Vec::new();
        for (i, field) in config.fields.iter().enumerate() {
            if field.is_empty() {
                return Err(format!("invalid config: `fields[{i}]` is empty"));
            }
            let name = normalize(field);
            if name.is_ascii() {
                ascii.push(name.into_bytes());
            } else {
                unicode.push(name);
            }
        }
        Ok(Self { ascii, unicode, marker: config.marker })
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        let mut fields = event.fields();
        while let Some(field) = fields.next() {
            if self.matches(field.key) {
                decision.mask(field.pointer, self.marker.as_str());
                fields.skip_children();
            }
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!(RedactSecrets);

#[cfg(test)]
mod tests {
    use auditgate_sdk::runtime::{evaluate_one, init};

    use super::*;

    fn policy(config: &str) -> RedactSecrets {
        match init::<RedactSecrets>(config.as_bytes()) {
            Ok(p) => p,
            Err(e) => panic!("config {config} refused: {e}"),
        }
    }

    /// The (path, text) of every patch, all of which must be masks.
    fn masks(policy: &RedactSecrets, event: &str) -> Vec<(String, String)> {
        let decision = match evaluate_one(policy, event.as_bytes()) {
            Ok(d) => d,
            Err(e) => panic!("event {event} failed: {e}"),
        };
        assert!(decision.alerts().is_empty() && decision.tags().is_empty());
        decision
            .patches()
            .iter()
            .map(|p| match p {
                PatchOp::Mask((path, text)) => (path.clone(), text.clone()),
                other => panic!("unexpected patch {other:?}"),
            })
            .collect()
    }

    fn mask(path: &str) -> (String, String) {
        (path.to_string(), DEFAULT_MARKER.to_string())
    }

    #[test]
    fn masks_top_level_fields() {
        let p = policy(r#"{"fields": ["password", "token"]}"#);
        let got =
            masks(&p, r#"{"action":"user.login","outcome":"success","password":"hunter2","token":"abc"}"#);
        assert_eq!(got, vec![mask("/password"), mask("/token")]);
    }

    #[test]
    fn masks_nested_in_details_and_changes_whatever_the_type() {
        let p = policy(r#"{"fields": ["password", "api_key", "ssn"], "marker": "***"}"#);
        let got = masks(
            &p,
            r#"{"action":"a","outcome":"success",
                "details":{"password":{"old":"a","new":"b"},"nested":{"api_key":12345},"ssn":null},
                "changes":{"before":{"password":"x"},"after":{"password":"y","ssn":["1","2"]}}}"#,
        );
        let star = |p: &str| (p.to_string(), "***".to_string());
        assert_eq!(
            got,
            vec![
                star("/details/password"),
                star("/details/nested/api_key"),
                star("/details/ssn"),
                star("/changes/before/password"),
                star("/changes/after/password"),
                star("/changes/after/ssn"),
            ]
        );
    }

    #[test]
    fn masks_inside_arrays() {
        let p = policy(r#"{"fields": ["secret"]}"#);
        let got = masks(
            &p,
            r#"{"action":"a","outcome":"success","details":{"keys":[{"secret":"s0"},{"id":1},[{"secret":"s2"}]]}}"#,
        );
        assert_eq!(got, vec![mask("/details/keys/0/secret"), mask("/details/keys/2/0/secret")]);
    }

    #[test]
    fn matches_case_insensitively_and_dash_equals_underscore() {
        let p = policy(r#"{"fields": ["api_key", "Set-Cookie", "MOT_DE_PASSE_É"]}"#);
        assert!(p.matches("api_key"));
        assert!(p.matches("API-KEY"));
        assert!(p.matches("Api_Key"));
        assert!(p.matches("set_cookie"));
        assert!(p.matches("SET-COOKIE"));
        assert!(p.matches("mot-de-passe-é"));
        assert!(!p.matches("apikey"));
        assert!(!p.matches("api_key_id"));
        assert!(!p.matches("api"));
        let got =
            masks(&p, r#"{"action":"a","outcome":"success","details":{"API-Key":"k","x-api_key":"no"}}"#);
        assert_eq!(got, vec![mask("/details/API-Key")]);
    }

    #[test]
    fn leaves_other_fields_alone() {
        let p = policy(r#"{"fields": ["password"]}"#);
        let got = masks(
            &p,
            r#"{"action":"user.password.change","outcome":"success","user":"password",
                "details":{"password_changed":true,"note":"password"}}"#,
        );
        assert!(got.is_empty());
    }

    #[test]
    fn does_not_descend_into_a_masked_value() {
        let p = policy(r#"{"fields": ["secret"]}"#);
        let got =
            masks(&p, r#"{"action":"a","outcome":"success","details":{"secret":{"secret":{"secret":1}}}}"#);
        assert_eq!(got, vec![mask("/details/secret")]);
    }

    #[test]
    fn escapes_pointers_for_keys_with_slash_or_tilde() {
        let p = policy(r#"{"fields": ["a/b", "~token", "x~1y"]}"#);
        let got = masks(
            &p,
            r#"{"action":"a","outcome":"success","details":{"a/b":"1","~token":"2","x~1y":"3","x/y":"4"}}"#,
        );
        assert_eq!(got, vec![mask("/details/a~1b"), mask("/details/~0token"), mask("/details/x~01y")]);
    }

    #[test]
    fn config_is_checked() {
        let err = |c: &str| init::<RedactSecrets>(c.as_bytes()).err();
        assert_eq!(err("{}").as_deref(), Some("invalid config: missing field `fields`"));
        assert_eq!(
            err(r#"{"fields": []}"#).as_deref(),
            Some("invalid config: `fields` must name at least one field")
        );
        assert_eq!(err(r#"{"fields": ["ok", ""]}"#).as_deref(), Some("invalid config: `fields[1]` is empty"));
        assert_eq!(
            err(r#"{"fields": ["x"], "markr": "!"}"#).as_deref(),
            Some("invalid config: unknown field `markr`, expected `fields` or `marker`")
        );
        assert_eq!(
            err(r#"{"fields": "password"}"#).as_deref(),
            Some("invalid config: invalid type: string \"password\", expected a sequence")
        );
        assert!(err(r#"{"fields": ["x"], "marker": "[X]"}"#).is_none());
    }

    #[test]
    fn a_non_object_event_fails() {
        let p = policy(r#"{"fields": ["password"]}"#);
        assert_eq!(
            evaluate_one(&p, b"[]").err().as_deref(),
            Some("event is not a JSON object (found array)")
        );
    }
}
