//! Hostile test policy `trap-policy`, used by the gateway's integration tests.
//!
//! `init` accepts any configuration. `evaluate` traps the WebAssembly instance (an
//! `unreachable` instruction) as soon as it meets an event whose `details.trap` is `true`,
//! which fails the whole batch; every other event gets an empty decision plus the tag
//! [`SAW_TAG`]. When the host retries a trapped batch one event at a time, only the events
//! with `details.trap: true` fail.

use auditgate_sdk::prelude::*;

/// The tag added to every event that does not trap.
pub const SAW_TAG: &str = "trap-policy-saw";

/// Traps on `details.trap == true`, tags everything else.
#[derive(Debug)]
pub struct TrapPolicy;

/// Stops the instance: a wasm trap in a component, a panic in native tests.
fn trap() -> ! {
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    panic!("trap-policy: details.trap is true");
}

impl Policy for TrapPolicy {
    type Config = AnyConfig;

    fn new(_config: AnyConfig) -> Result<Self, String> {
        Ok(TrapPolicy)
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        if event.get("/details/trap").and_then(Value::as_bool) == Some(true) {
            trap();
        }
        decision.tag(SAW_TAG);
        Ok(())
    }
}

auditgate_sdk::export_policy!(TrapPolicy);

#[cfg(test)]
mod tests {
    use auditgate_sdk::runtime::{evaluate_one, init};

    use super::*;

    fn policy() -> TrapPolicy {
        match init::<TrapPolicy>(br#"{"whatever": [1, 2]}"#) {
            Ok(p) => p,
            Err(e) => panic!("any config is accepted, got {e}"),
        }
    }

    #[test]
    fn accepts_any_config() {
        for config in [&b""[..], b"{}", b"null", b"[1]", br#"{"a": {"b": true}}"#] {
            assert!(init::<TrapPolicy>(config).is_ok());
        }
    }

    #[test]
    fn tags_events_that_do_not_ask_for_a_trap() {
        let p = policy();
        for event in [
            &br#"{"action":"a","outcome":"success"}"#[..],
            br#"{"action":"a","outcome":"success","details":{"trap":false}}"#,
            br#"{"action":"a","outcome":"success","details":{"trap":"true"}}"#,
            br#"{"action":"a","outcome":"success","trap":true}"#,
        ] {
            let decision = evaluate_one(&p, event);
            assert!(decision.as_ref().is_ok_and(|d| d.patches().is_empty() && d.alerts().is_empty()));
            assert_eq!(decision.map(|d| d.tags().to_vec()), Ok(vec![SAW_TAG.to_string()]));
        }
    }

    #[test]
    #[should_panic(expected = "trap-policy: details.trap is true")]
    fn traps_when_details_trap_is_true() {
        let _ = evaluate_one(&policy(), br#"{"action":"a","outcome":"success","details":{"trap":true}}"#);
    }
}
