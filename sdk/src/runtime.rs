//! What [`export_policy!`](crate::export_policy) runs behind the component's `init` and
//! `evaluate`. Also usable directly in native tests: build a policy from JSON config
//! bytes with [`init`], run it on JSON event bytes with [`evaluate_one`].

use serde::de::DeserializeOwned;

use crate::Policy;
use crate::decision::Decision;
use crate::event::Event;

/// The WIT `decision` record returned to the host.
pub type WitDecision = crate::bindings::auditgate::policy::types::Decision;

/// The per-event error when `evaluate` is called before a successful `init`.
pub const NOT_INITIALISED: &str = "policy not initialised";

/// Parses the JSON configuration; empty (or all-whitespace) bytes count as `{}`.
///
/// Errors read `invalid config: <what>`, e.g. "invalid config: missing field `fields`"
/// (syntax errors keep serde_json's line and column).
pub fn parse_config<C: DeserializeOwned>(bytes: &[u8]) -> Result<C, String> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        let message = match e.classify() {
            // "missing field `x` at line 1 column 2": the position of the end of the table
            // says nothing useful.
            serde_json::error::Category::Data => match message.rfind(" at line ") {
                Some(at) => message[..at].to_string(),
                None => message,
            },
            _ => message,
        };
        format!("invalid config: {message}")
    })
}

/// Builds the policy from JSON configuration bytes: [`parse_config`], then
/// [`Policy::new`].
pub fn init<P: Policy>(config: &[u8]) -> Result<P, String> {
    P::new(parse_config(config)?)
}

/// Runs the policy on one event's JSON bytes.
///
/// An event that is not a JSON object fails with a message saying so, whatever the policy
/// answered (the check happens after the policy ran, so the parse stays lazy).
pub fn evaluate_one<P: Policy>(policy: &P, event: &[u8]) -> Result<Decision, String> {
    let event = Event::new(event);
    let mut decision = Decision::new();
    let outcome = policy.evaluate(&event, &mut decision);
    event.check().map_err(str::to_owned)?;
    outcome.map(|()| decision)
}

/// One result per event, in order; `policy` is `None` before a successful `init`, and
/// then every event fails with [`NOT_INITIALISED`].
pub fn evaluate_batch<P: Policy>(policy: Option<&P>, events: &[Vec<u8>]) -> Vec<Result<WitDecision, String>> {
    match policy {
        Some(policy) => events.iter().map(|e| evaluate_one(policy, e).map(Decision::into_wit)).collect(),
        None => events.iter().map(|_| Err(NOT_INITIALISED.to_string())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        fields: Vec<String>,
        #[serde(default)]
        tag: Option<String>,
    }

    struct TagUsers {
        tag: String,
    }

    impl Policy for TagUsers {
        type Config = Config;
        fn new(config: Config) -> Result<Self, String> {
            if config.fields.is_empty() {
                return Err("fields must not be empty".into());
            }
            Ok(Self { tag: config.tag.unwrap_or_else(|| "seen".into()) })
        }
        fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
            let user = event.user().ok_or("no user")?;
            decision.tag(format!("{}:{user}", self.tag));
            Ok(())
        }
    }

    #[test]
    fn config_errors_name_the_problem() {
        let err = init::<TagUsers>(b"{}").err();
        assert_eq!(err.as_deref(), Some("invalid config: missing field `fields`"));
        let err = init::<TagUsers>(b"").err();
        assert_eq!(err.as_deref(), Some("invalid config: missing field `fields`"));
        let err = init::<TagUsers>(br#"{"fields": "password"}"#).err();
        assert_eq!(
            err.as_deref(),
            Some("invalid config: invalid type: string \"password\", expected a sequence")
        );
        let err = init::<TagUsers>(br#"{"fields": [], "fileds": 1}"#).err();
        assert_eq!(
            err.as_deref(),
            Some("invalid config: unknown field `fileds`, expected `fields` or `tag`")
        );
        let err = init::<TagUsers>(br#"{"fields": ["#).err();
        assert!(
            err.is_some_and(|e| e.starts_with("invalid config: EOF while parsing") && e.contains("line 1"))
        );
        let err = init::<TagUsers>(br#"{"fields": []}"#).err();
        assert_eq!(err.as_deref(), Some("fields must not be empty"));
        assert!(init::<TagUsers>(br#"{"fields": ["x"], "tag": "t"}"#).is_ok());
        assert!(parse_config::<AnyConfig>(b"").is_ok());
        assert!(parse_config::<AnyConfig>(br#"{"anything": [1, {"x": null}]}"#).is_ok());
    }

    #[test]
    fn batch_answers_one_result_per_event_in_order() {
        let policy = init::<TagUsers>(br#"{"fields": ["x"]}"#).expect("valid config");
        let events = vec![
            br#"{"action":"a","outcome":"success","user":"alice"}"#.to_vec(),
            b"[1,2]".to_vec(),
            br#"{"action":"a","outcome":"success"}"#.to_vec(),
            b"not json".to_vec(),
            br#"{"action":"a","outcome":"success","user":"bob"}"#.to_vec(),
        ];
        let results = evaluate_batch(Some(&policy), &events);
        assert_eq!(results.len(), 5);
        assert_eq!(results[0].as_ref().map(|d| d.tags.clone()), Ok(vec!["seen:alice".to_string()]));
        assert_eq!(
            results[1].as_ref().err().map(String::as_str),
            Some("event is not a JSON object (found array)")
        );
        assert_eq!(results[2].as_ref().err().map(String::as_str), Some("no user"));
        assert!(results[3].as_ref().is_err_and(|e| e.starts_with("event is not valid JSON")));
        assert_eq!(results[4].as_ref().map(|d| d.tags.clone()), Ok(vec!["seen:bob".to_string()]));
    }

    #[test]
    fn evaluate_before_init_fails_every_event() {
        let results = evaluate_batch::<TagUsers>(None, &[b"{}".to_vec(), b"{}".to_vec()]);
        assert_eq!(results, vec![Err(NOT_INITIALISED.to_string()), Err(NOT_INITIALISED.to_string())]);
    }

    // The macro must expand (and type-check against the generated `Guest`) natively too.
    crate::export_policy!(TagUsers);
}
