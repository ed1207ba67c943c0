//! Run a policy natively on JSON events, the way the gateway would, and look at what
//! happened: the decision, and the event after its patches.
//!
//! The policy is built from its config exactly as the component's `init` builds it
//! ([`runtime::init`]), runs exactly as `evaluate` runs it ([`runtime::evaluate_one`]), and
//! host calls go to the mock in [`host::native`](crate::host::native). The patches are then
//! applied the way the gateway applies them: `mask`, `remove` and `pseudonymize` paths are
//! listed in [`Outcome::redacted`], a path that does not exist fails the event, and
//! `pseudonymize` gives `hmac-sha256:<hex>` under a fixed test key ([`TEST_PSEUDONYM_KEY`]),
//! so equal values give equal pseudonyms here too (the gateway's key differs).
//!
//! ```
//! use auditgate_sdk::prelude::*;
//! use auditgate_sdk::testing;
//! use serde_json::json;
//!
//! struct TagLogins;
//! impl Policy for TagLogins {
//!     type Config = AnyConfig;
//!     fn new(_: AnyConfig) -> Result<Self, String> { Ok(TagLogins) }
//!     fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
//!         if event.action() == Some("user.login") {
//!             decision.tag("login").mask("/details/otp", "[OTP]");
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let outcomes = testing::run::<TagLogins>(
//!     &json!({}),
//!     &[json!({"action": "user.login", "outcome": "success", "details": {"otp": "123456"}})],
//! )
//! .expect("the config is valid");
//! let outcome = outcomes[0].as_ref().expect("the event passes");
//! assert_eq!(outcome.tags(), ["login"]);
//! assert_eq!(outcome.event["details"]["otp"], "[OTP]");
//! assert_eq!(outcome.redacted, ["/details/otp"]);
//! ```

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::decision::Decision;
use crate::runtime;
use crate::{Alert, PatchOp, Policy};

/// The HMAC key of the harness's pseudonyms (the gateway holds its own secret key).
pub const TEST_PSEUDONYM_KEY: [u8; 32] = [0u8; 32];

/// What happened to one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What the policy decided.
    pub decision: Decision,
    /// The event after the decision's patches.
    pub event: Value,
    /// The paths masked, removed or pseudonymized, once each, in order.
    pub redacted: Vec<String>,
}

impl Outcome {
    /// The tags the policy added.
    pub fn tags(&self) -> &[String] {
        self.decision.tags()
    }

    /// The alerts the policy raised.
    pub fn alerts(&self) -> &[Alert] {
        self.decision.alerts()
    }

    /// The patches the policy asked for.
    pub fn patches(&self) -> &[PatchOp] {
        self.decision.patches()
    }
}

/// A policy built from a config, ready to run on events one after the other (host state
/// such as counters carries over between events, as on the gateway).
pub struct Harness<P> {
    policy: P,
}

impl<P: Policy> Harness<P> {
    /// Builds the policy from a JSON config (`json!({})` for none); `Err` is the message
    /// the gateway would refuse the policy with.
    pub fn new(config: &Value) -> Result<Self, String> {
        let bytes = serde_json::to_vec(config).map_err(|e| format!("cannot serialize config: {e}"))?;
        Ok(Self { policy: runtime::init::<P>(&bytes)? })
    }

    /// The policy itself.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// Runs the policy on one event and applies its decision. `Err` is what fails the event
    /// on the gateway: the policy's error, or a patch that cannot be applied.
    ///
    /// The event is serialized with serde_json, whose objects keep their members sorted by
    /// name (unless its `preserve_order` feature is on); to control the order the policy
    /// sees, use [`Harness::evaluate_bytes`].
    pub fn evaluate(&self, event: &Value) -> Result<Outcome, String> {
        let bytes = serde_json::to_vec(event).map_err(|e| format!("cannot serialize event: {e}"))?;
        self.evaluate_bytes(&bytes)
    }

    /// Like [`Harness::evaluate`], on raw JSON bytes (to test events that are not objects).
    pub fn evaluate_bytes(&self, event: &[u8]) -> Result<Outcome, String> {
        let decision = runtime::evaluate_one(&self.policy, event)?;
        let original: Value =
            serde_json::from_slice(event).map_err(|e| format!("event is not valid JSON: {e}"))?;
        let (event, redacted) = apply(&original, decision.patches())?;
        Ok(Outcome { decision, event, redacted })
    }
}

/// Builds `P` from `config` and runs it on each event in order: the outer `Err` is a
/// refused config, each inner result one event's outcome.
pub fn run<P: Policy>(config: &Value, events: &[Value]) -> Result<Vec<Result<Outcome, String>>, String> {
    let harness = Harness::<P>::new(config)?;
    Ok(events.iter().map(|e| harness.evaluate(e)).collect())
}

/// `hmac-sha256:<hex>` of `value` under [`TEST_PSEUDONYM_KEY`].
pub fn pseudonym(value: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&TEST_PSEUDONYM_KEY)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(value);
    format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
}

/// Applies `patches` in order to a copy of `event`, as the gateway does; returns the new
/// event and the redacted paths.
pub fn apply(event: &Value, patches: &[PatchOp]) -> Result<(Value, Vec<String>), String> {
    let mut event = event.clone();
    let mut redacted: Vec<String> = Vec::new();
    let mut note = |path: &str| {
        if !redacted.iter().any(|p| p == path) {
            redacted.push(path.to_string());
        }
    };
    for patch in patches {
        match patch {
            PatchOp::Remove(path) => {
                let (parent, last) = parent_of(&mut event, path, false)?;
                let removed = match parent {
                    Value::Object(m) => m.remove(&last).is_some(),
                    Value::Array(a) => match last.parse::<usize>() {
                        Ok(i) if i < a.len() => {
                            a.remove(i);
                            true
                        }
                        _ => false,
                    },
                    _ => return Err(not_a_container(path)),
                };
                if !removed {
                    return Err(missing(path));
                }
                note(path);
            }
            PatchOp::Mask((path, text)) => {
                *existing(&mut event, path)? = Value::String(text.clone());
                note(path);
            }
            PatchOp::Pseudonymize(path) => {
                let target = existing(&mut event, path)?;
                let hashed = match &*target {
                    Value::String(s) => pseudonym(s.as_bytes()),
                    other => pseudonym(other.to_string().as_bytes()),
                };
                *target = Value::String(hashed);
                note(path);
            }
            PatchOp::Set((path, json)) => {
                let value: Value = serde_json::from_str(json)
                    .map_err(|e| format!("`set` at {path:?}: the value is not JSON: {e}"))?;
                let (parent, last) = parent_of(&mut event, path, true)?;
                match parent {
                    Value::Object(m) => {
                        m.insert(last, value);
                    }
                    Value::Array(a) => match last.parse::<usize>() {
                        Ok(i) if i < a.len() => a[i] = value,
                        _ if last == "-" => a.push(value),
                        _ => return Err(missing(path)),
                    },
                    _ => return Err(not_a_container(path)),
                }
            }
        }
    }
    Ok((event, redacted))
}

fn missing(path: &str) -> String {
    format!("patch path {path:?} does not exist in the event")
}

fn not_a_container(path: &str) -> String {
    format!("patch path {path:?} goes through a value that is neither an object nor an array")
}

fn existing<'a>(event: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let (parent, last) = parent_of(event, path, false)?;
    let found = match parent {
        Value::Object(m) => m.get_mut(&last),
        Value::Array(a) => last.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    };
    found.ok_or_else(|| missing(path))
}

/// The container holding the last token of `path`, and that token; with `create`, missing
/// intermediate objects are created.
fn parent_of<'a>(event: &'a mut Value, path: &str, create: bool) -> Result<(&'a mut Value, String), String> {
    let bad = || format!("patch path {path:?} is not a JSON pointer to a field (must start with `/`)");
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    let mut tokens: Vec<String> = rest.split('/').map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    let last = tokens.pop().ok_or_else(bad)?;
    let mut current = event;
    for token in tokens {
        current = match current {
            Value::Object(m) => {
                if create && !m.contains_key(&token) {
                    m.insert(token.clone(), Value::Object(Map::new()));
                }
                m.get_mut(&token).ok_or_else(|| missing(path))?
            }
            Value::Array(a) => {
                token.parse::<usize>().ok().and_then(|i| a.get_mut(i)).ok_or_else(|| missing(path))?
            }
            _ => return Err(not_a_container(path)),
        };
    }
    Ok((current, last))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::prelude::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        limit: i64,
    }

    /// Counts failures per user over 60 s and alerts at the limit; pseudonymizes the user.
    struct Failures {
        limit: i64,
    }

    impl Policy for Failures {
        type Config = Config;
        fn new(config: Config) -> Result<Self, String> {
            Ok(Self { limit: config.limit })
        }
        fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
            let user = event.user().ok_or("no user")?;
            if event.outcome() == Some("failure") {
                let count = host::counter_add(&format!("f:{user}"), 1, 60);
                if count >= self.limit {
                    decision.alert("failures", Severity::High, format!("{count} failures"));
                }
            }
            if event.get("/details/tmp").is_some() {
                decision.remove("/details/tmp");
            }
            decision.pseudonymize("/user").set("/details/geo/country", "FR");
            Ok(())
        }
    }

    fn failure(user: &str) -> serde_json::Value {
        json!({"action": "user.login", "outcome": "failure", "user": user, "details": {"tmp": 1}})
    }

    #[test]
    fn runs_events_in_order_with_the_mock_host_and_applies_patches() {
        host::native::reset();
        let events = [failure("alice"), failure("alice"), json!({"action": "a", "outcome": "success"})];
        let outcomes = run::<Failures>(&json!({"limit": 2}), &events).expect("valid config");
        assert_eq!(outcomes.len(), 3);
        let first = outcomes[0].as_ref().expect("passes");
        assert!(first.alerts().is_empty());
        assert_eq!(first.event["user"], pseudonym(b"alice"));
        assert!(first.event["user"].as_str().is_some_and(|u| u.starts_with("hmac-sha256:") && u.len() == 76));
        assert_eq!(first.event["details"], json!({"geo": {"country": "FR"}}));
        assert_eq!(first.redacted, ["/details/tmp", "/user"]);
        assert_eq!(first.patches().len(), 3);
        let second = outcomes[1].as_ref().expect("passes");
        assert_eq!(second.alerts().len(), 1);
        assert_eq!(second.alerts()[0].summary, "2 failures");
        assert_eq!(outcomes[2].as_ref().err().map(String::as_str), Some("no user"));
        assert_ne!(pseudonym(b"alice"), pseudonym(b"bob"));
    }

    #[test]
    fn counters_follow_the_mock_clock_between_events() {
        host::native::reset();
        let harness = Harness::<Failures>::new(&json!({"limit": 2})).expect("valid config");
        let first = harness.evaluate(&failure("bob")).expect("passes");
        assert!(first.alerts().is_empty());
        host::native::advance(std::time::Duration::from_secs(61));
        let later = harness.evaluate(&failure("bob")).expect("passes");
        assert!(later.alerts().is_empty(), "the first failure left the 60 s window");
        assert_eq!(harness.evaluate(&failure("bob")).expect("passes").alerts().len(), 1);
        assert_eq!(harness.policy().limit, 2);
    }

    #[test]
    fn bad_config_and_bad_events_fail_like_on_the_gateway() {
        assert_eq!(
            run::<Failures>(&json!({}), &[]).err().as_deref(),
            Some("invalid config: missing field `limit`")
        );
        let harness = Harness::<Failures>::new(&json!({"limit": 1})).expect("valid config");
        assert_eq!(
            harness.evaluate_bytes(b"[1]").err().as_deref(),
            Some("event is not a JSON object (found array)")
        );
    }

    #[test]
    fn apply_follows_the_gateway_rules() {
        let event = json!({"a": {"b/c": [1, 2]}, "s": "x"});
        let (e, r) = apply(
            &event,
            &[
                PatchOp::Mask(("/a/b~1c/0".into(), "*".into())),
                PatchOp::Set(("/a/b~1c/-".into(), "3".into())),
                PatchOp::Remove("/s".into()),
            ],
        )
        .expect("applies");
        assert_eq!(e, json!({"a": {"b/c": ["*", 2, 3]}}));
        assert_eq!(r, ["/a/b~1c/0", "/s"]);
        assert_eq!(
            apply(&event, &[PatchOp::Mask(("/nope".into(), "*".into()))]).err().as_deref(),
            Some("patch path \"/nope\" does not exist in the event")
        );
        assert!(
            apply(&event, &[PatchOp::Remove("nope".into())]).is_err_and(|e| e.contains("must start with"))
        );
        assert!(
            apply(&event, &[PatchOp::Set(("/s/x".into(), "1".into()))]).is_err_and(|e| e.contains("neither"))
        );
        assert!(
            apply(&event, &[PatchOp::Set(("/x".into(), "{".into()))]).is_err_and(|e| e.contains("not JSON"))
        );
    }
}
