//! Pieces shared by the bundled policies: working hours in a time zone ([`hours`]),
//! user-agent classes ([`ua`]), geo data from a lookup table ([`geo`]), action
//! patterns ([`pattern`]) and alert severities ([`severity`]).
//!
//! Plain Rust with no host calls, so it builds unchanged for `wasm32-wasip2` and natively.

pub mod geo;
pub mod hours;
pub mod pattern;
pub mod severity;
pub mod ua;
