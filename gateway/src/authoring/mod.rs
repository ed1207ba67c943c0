//! Tooling for policy authors behind `auditgate policy …`: scaffolding a policy crate
//! ([`scaffold`]) and running a compiled policy on sample events in the gateway's own
//! engine ([`policy_test`]).

pub mod policy_test;
pub mod scaffold;
