//! Test policy `noop-policy`: answers an empty decision for every event without looking at
//! it. It implements the WIT exports directly (not through `export_policy!`, whose runtime
//! parses each event), so a call through the engine measures the engine alone: instance
//! pool, copying the batch into the guest, the call, lifting the results
//! (`gateway/benches/chain.rs`).

use auditgate_sdk::bindings::Guest;
use auditgate_sdk::runtime::WitDecision;

/// The component's exports.
pub struct Noop;

impl Guest for Noop {
    fn init(_config: Vec<u8>) -> Result<(), String> {
        Ok(())
    }

    fn evaluate(events: Vec<Vec<u8>>) -> Vec<Result<WitDecision, String>> {
        events
            .iter()
            .map(|_| Ok(WitDecision { patches: Vec::new(), alerts: Vec::new(), tags: Vec::new() }))
            .collect()
    }
}

#[cfg(target_arch = "wasm32")]
auditgate_sdk::bindings::export! { Noop with_types_in auditgate_sdk::bindings }

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_gets_an_empty_decision() {
        assert_eq!(Noop::init(b"anything".to_vec()), Ok(()));
        let out = Noop::evaluate(vec![b"{}".to_vec(), b"not json".to_vec()]);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|d| d.as_ref().is_ok_and(|d| d.patches.is_empty() && d.tags.is_empty())));
    }
}
