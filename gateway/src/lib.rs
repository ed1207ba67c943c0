//! Auditgate: an audit gateway. Apps send audit events over HTTP; each event runs through
//! a chain of sandboxed WASM policies (redact, enrich, alert) and is then appended to a
//! durable sled log that auditors query.
//!
//! The map of the code is in `ARCHITECTURE.md` at the repository root.

pub mod auth;
pub mod authoring;
pub mod builtin;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod engine;
pub mod event;
pub mod export;
pub mod http;
pub mod ingest;
pub mod keys_cli;
pub mod ledger;
pub mod loadgen;
pub mod metrics;
pub mod own_events;
pub mod reload;
pub mod reports;
pub mod resume;
pub mod retention;
pub mod self_audit;
pub mod server;
pub mod signals;
pub mod store;
pub mod tls;
pub mod witness;
