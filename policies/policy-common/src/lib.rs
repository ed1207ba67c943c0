//! Pieces shared by the bundled policies: working hours in a time zone ([`hours`]),
//! user-agent classes ([`ua`]), geo data from a lookup table ([`geo`]), action
//! patterns ([`pattern`]), alert severities ([`severity`]), configured lists that
//! extend built-in ones ([`lists`]) and answers remembered per input ([`cache`]).
//!
//! Plain Rust (only [`lists`] calls the host, to log), so it builds unchanged for
//! `wasm32-wasip2` and natively.

pub mod cache;
pub mod geo;
pub mod hours;
pub mod lists;
pub mod pattern;
pub mod severity;
pub mod ua;
