//! Hostile test policy `spin-policy`, used by the gateway's integration tests.
//!
//! `init` accepts any configuration. `evaluate` loops forever when an event's
//! `details.spin` is `true` (the gateway's epoch deadline must interrupt it); every other
//! event gets an empty decision.

use auditgate_sdk::prelude::*;

/// Spins on `details.spin == true`, leaves everything else alone.
#[derive(Debug)]
pub struct SpinPolicy;

/// Burns CPU forever; `black_box` keeps the optimiser from removing the loop.
fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = core::hint::black_box(n.wrapping_add(1));
    }
}

impl Policy for SpinPolicy {
    type Config = AnyConfig;

    fn new(_config: AnyConfig) -> Result<Self, String> {
        Ok(SpinPolicy)
    }

    fn evaluate(&self, event: &Event, _decision: &mut Decision) -> Result<(), String> {
        if event.get("/details/spin").and_then(Value::as_bool) == Some(true) {
            spin();
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!(SpinPolicy);

#[cfg(test)]
mod tests {
    use auditgate_sdk::runtime::{evaluate_one, init};

    use super::*;

    #[test]
    fn accepts_any_config() {
        for config in [&b""[..], b"{}", b"null", br#"{"a": {"b": true}}"#] {
            assert!(init::<SpinPolicy>(config).is_ok());
        }
    }

    #[test]
    fn other_events_get_an_empty_decision() {
        let p = SpinPolicy;
        for event in [
            &br#"{"action":"a","outcome":"success"}"#[..],
            br#"{"action":"a","outcome":"success","details":{"spin":false}}"#,
            br#"{"action":"a","outcome":"success","details":{"spin":1}}"#,
        ] {
            assert!(evaluate_one(&p, event).is_ok_and(|d| d.is_empty()));
        }
    }
}
