//! Hostile test policy `hostile-policy`, used by the reliability tests. What it does to an
//! event is chosen by the event's `details.hostile`:
//!
//! - `"oom"`: allocates (and touches) memory until the allocator fails (a memory bomb);
//! - `"patches"`, `"alerts"`, `"tags"`: returns `details.n` of them (giant output);
//! - `"panic"`: panics (a trap under `panic = "abort"`);
//! - `"slow"`: burns `details.iters` loop iterations, then tags the event [`SLOW_TAG`]
//!   (slow but legal: it must finish within its timeout);
//! - anything else: tags the event [`SAW_TAG`].

use auditgate_sdk::prelude::*;

/// The tag added to an event the policy left alone.
pub const SAW_TAG: &str = "hostile-policy-saw";
/// The tag added after a slow evaluation completed.
pub const SLOW_TAG: &str = "hostile-policy-slow";

/// Misbehaves on request, see the crate docs.
#[derive(Debug)]
pub struct HostilePolicy;

/// Allocates 1 MiB blocks, writing to each, until the allocator gives up.
fn memory_bomb() -> usize {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut block = vec![0u8; 1 << 20];
        block[blocks.len() % (1 << 20)] = 1;
        blocks.push(core::hint::black_box(block));
        if blocks.len() == usize::MAX {
            return blocks.len();
        }
    }
}

/// Loops `iters` times without being optimised away.
fn burn(iters: u64) -> u64 {
    let mut n = 0u64;
    for i in 0..iters {
        n = core::hint::black_box(n.wrapping_mul(31).wrapping_add(i));
    }
    n
}

impl Policy for HostilePolicy {
    type Config = AnyConfig;

    fn new(_config: AnyConfig) -> Result<Self, String> {
        Ok(HostilePolicy)
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        let n = event.get("/details/n").and_then(Value::as_u64).unwrap_or(0);
        match event.get("/details/hostile").and_then(Value::as_str) {
            Some("oom") => {
                memory_bomb();
            }
            Some("patches") => {
                for i in 0..n {
                    decision.remove(format!("/details/x{}", i % 8));
                }
            }
            Some("alerts") => {
                for _ in 0..n {
                    decision.alert("hostile.flood", Severity::Low, "one of very many");
                }
            }
            Some("tags") => {
                for i in 0..n {
                    decision.tag(format!("t{}", i % 16));
                }
            }
            Some("panic") => panic!("hostile-policy: asked to panic"),
            Some("slow") => {
                burn(event.get("/details/iters").and_then(Value::as_u64).unwrap_or(0));
                decision.tag(SLOW_TAG);
            }
            _ => {
                decision.tag(SAW_TAG);
            }
        }
        Ok(())
    }
}

auditgate_sdk::export_policy!(HostilePolicy);

#[cfg(test)]
mod tests {
    use auditgate_sdk::runtime::{evaluate_one, init};

    use super::*;

    fn policy() -> HostilePolicy {
        match init::<HostilePolicy>(b"{}") {
            Ok(p) => p,
            Err(e) => panic!("any config is accepted, got {e}"),
        }
    }

    #[test]
    fn leaves_ordinary_events_alone_and_tags_them() {
        let d = evaluate_one(&policy(), br#"{"action":"a","outcome":"success"}"#);
        assert_eq!(d.map(|d| d.tags().to_vec()), Ok(vec![SAW_TAG.to_string()]));
    }

    #[test]
    fn giant_output_has_the_requested_size() {
        let ev = br#"{"action":"a","outcome":"success","details":{"hostile":"patches","n":5000}}"#;
        assert_eq!(evaluate_one(&policy(), ev).map(|d| d.patches().len()), Ok(5000));
        let ev = br#"{"action":"a","outcome":"success","details":{"hostile":"alerts","n":300}}"#;
        assert_eq!(evaluate_one(&policy(), ev).map(|d| d.alerts().len()), Ok(300));
    }

    #[test]
    fn slow_events_finish_and_are_tagged() {
        let ev = br#"{"action":"a","outcome":"success","details":{"hostile":"slow","iters":1000}}"#;
        assert_eq!(evaluate_one(&policy(), ev).map(|d| d.tags().to_vec()), Ok(vec![SLOW_TAG.to_string()]));
    }

    #[test]
    #[should_panic(expected = "hostile-policy: asked to panic")]
    fn panics_on_request() {
        let _ =
            evaluate_one(&policy(), br#"{"action":"a","outcome":"success","details":{"hostile":"panic"}}"#);
    }
}
