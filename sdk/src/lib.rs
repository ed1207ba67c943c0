//! Write Auditgate policies in Rust.
//!
//! A policy is a WebAssembly component implementing the `policy` world of
//! `sdk/wit/policy.wit`. This crate generates the guest bindings and hides them behind a
//! small API: implement [`Policy`] for a type, call [`export_policy!`] once, and build the
//! crate for `wasm32-wasip2`.
//!
//! ```
//! use auditgate_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Config { fields: Vec<String> }
//!
//! struct DropFields { fields: Vec<String> }
//!
//! impl Policy for DropFields {
//!     type Config = Config;
//!     fn new(config: Config) -> Result<Self, String> {
//!         Ok(Self { fields: config.fields })
//!     }
//!     fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
//!         for field in &self.fields {
//!             let pointer = format!("/details/{}", escape_token(field));
//!             if event.get(&pointer).is_some() {
//!                 decision.remove(pointer);
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! auditgate_sdk::export_policy!(DropFields);
//! ```
//!
//! The pieces: [`Event`] (a read-only view of one event that builds no tree: top-level
//! members from one checking pass, anything deeper read in place when asked for),
//! [`Decision`] (the patches, alerts and tags a policy returns), [`detect`] (ready
//! detectors for secrets and personal data), [`host`] (the functions the gateway lends a
//! policy, with a mock for native tests), [`testing`] (run a policy natively on JSON events
//! and see the resulting events), [`runtime`] (what [`export_policy!`] calls).
//!
//! # Worked examples
//!
//! Each example is a complete policy crate's `lib.rs` followed by its native test; the
//! same crate builds to `wasm32-wasip2` unchanged (see `sdk/README.md`).
//!
//! ## Redact: mask card numbers and bearer tokens in free text
//!
//! A detector returns the byte spans it found, so only the secret is masked and the rest
//! of the text stays readable. The host records every masked path in the event's
//! `redacted` list.
//!
//! ```
//! use auditgate_sdk::detect::{self, Detectors, Kind};
//! use auditgate_sdk::prelude::*;
//!
//! struct MaskPayments {
//!     detectors: Detectors,
//! }
//!
//! impl Policy for MaskPayments {
//!     type Config = AnyConfig;
//!
//!     fn new(_: AnyConfig) -> Result<Self, String> {
//!         Ok(Self { detectors: Detectors::none().with(Kind::Card).with(Kind::Bearer) })
//!     }
//!
//!     fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
//!         for (pointer, text) in event.strings() {
//!             let spans = self.detectors.scan(text);
//!             if !spans.is_empty() {
//!                 decision.mask(pointer, detect::redact(text, &spans, detect::default_marker));
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! auditgate_sdk::export_policy!(MaskPayments);
//!
//! // The native test:
//! use serde_json::json;
//! let event = json!({"action": "purchase.complete", "outcome": "failure",
//!                    "details": {"note": "card 4111 1111 1111 1111 declined"}});
//! let outcomes = auditgate_sdk::testing::run::<MaskPayments>(&json!({}), &[event]).unwrap();
//! let outcome = outcomes[0].as_ref().unwrap();
//! assert_eq!(outcome.event["details"]["note"], "card [REDACTED:card] declined");
//! assert_eq!(outcome.redacted, ["/details/note"]);
//! ```
//!
//! ## Enrich: add the country of the source IP from a lookup table
//!
//! Tables are declared in `policy.toml` and read with [`host::lookup`]; in native tests
//! [`host::native::insert_lookup`] fills them.
//!
//! ```
//! use auditgate_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     table: String,
//! }
//!
//! struct Geo {
//!     table: String,
//! }
//!
//! impl Policy for Geo {
//!     type Config = Config;
//!
//!     fn new(config: Config) -> Result<Self, String> {
//!         Ok(Self { table: config.table })
//!     }
//!
//!     fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
//!         if let Some(ip) = event.ip()
//!             && let Some(country) = host::lookup(&self.table, ip)
//!         {
//!             decision.set("/details/geo/country", country);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! auditgate_sdk::export_policy!(Geo);
//!
//! // The native test:
//! use serde_json::json;
//! host::native::reset();
//! host::native::insert_lookup("geo", "192.0.2.7", "FR");
//! let harness = auditgate_sdk::testing::Harness::<Geo>::new(&json!({"table": "geo"})).unwrap();
//! let seen = harness.evaluate(&json!({"action": "user.login", "outcome": "success", "ip": "192.0.2.7"}));
//! assert_eq!(seen.unwrap().event["details"]["geo"]["country"], "FR");
//! let unknown = harness.evaluate(&json!({"action": "user.login", "outcome": "success", "ip": "198.51.100.1"}));
//! assert!(unknown.unwrap().decision.is_empty());
//! ```
//!
//! ## Alert: five failed logins for one user within five minutes
//!
//! [`host::counter_add`] keeps a sliding-window count shared by every worker. In native
//! tests the mock's clock only moves when the test says so ([`host::native::advance`]),
//! so windows are tested without sleeping.
//!
//! ```
//! use std::time::Duration;
//! use auditgate_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     #[serde(default = "default_limit")]
//!     limit: i64,
//!     #[serde(default = "default_window")]
//!     window_secs: u32,
//! }
//! fn default_limit() -> i64 { 5 }
//! fn default_window() -> u32 { 300 }
//!
//! struct BruteForce {
//!     config: Config,
//! }
//!
//! impl Policy for BruteForce {
//!     type Config = Config;
//!
//!     fn new(config: Config) -> Result<Self, String> {
//!         if config.limit < 1 {
//!             return Err("limit must be at least 1".into());
//!         }
//!         Ok(Self { config })
//!     }
//!
//!     fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
//!         if event.action() != Some("user.login") || event.outcome() != Some("failure") {
//!             return Ok(());
//!         }
//!         let user = event.user().unwrap_or("?");
//!         let key = format!("login-failures:{user}");
//!         let count = host::counter_add(&key, 1, self.config.window_secs);
//!         if count >= self.config.limit {
//!             let summary = format!("{count} failed logins in {} s", self.config.window_secs);
//!             decision.alert("brute-force", Severity::High, summary).label("user", user);
//!             decision.tag("brute-force");
//!         }
//!         Ok(())
//!     }
//! }
//!
//! auditgate_sdk::export_policy!(BruteForce);
//!
//! // The native test:
//! use serde_json::json;
//! host::native::reset();
//! let harness = auditgate_sdk::testing::Harness::<BruteForce>::new(&json!({})).unwrap();
//! let failure = json!({"action": "user.login", "outcome": "failure", "user": "alice"});
//! for _ in 0..4 {
//!     assert!(harness.evaluate(&failure).unwrap().alerts().is_empty());
//!     host::native::advance(Duration::from_secs(60));
//! }
//! let fifth = harness.evaluate(&failure).unwrap();
//! assert_eq!(fifth.alerts()[0].summary, "5 failed logins in 300 s");
//! assert_eq!(fifth.tags(), ["brute-force"]);
//! // Ten minutes later the window is empty again.
//! host::native::advance(Duration::from_secs(600));
//! assert!(harness.evaluate(&failure).unwrap().alerts().is_empty());
//! assert!(auditgate_sdk::testing::Harness::<BruteForce>::new(&json!({"limit": 0})).is_err());
//! ```

pub mod decision;
pub mod detect;
pub mod event;
pub mod host;
pub mod json;
pub mod pointer;
pub mod runtime;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod value;
mod walk;

/// Guest bindings generated from `sdk/wit/policy.wit` (world `policy`).
///
/// Policies rarely need this module directly: [`export_policy!`] implements [`bindings::Guest`]
/// and the [`prelude`] re-exports the WIT types a policy names.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "policy",
        pub_export_macro: true,
        default_bindings_module: "auditgate_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

pub use decision::{AlertBuilder, Decision};
pub use event::{Event, Field, Fields, Node, Strings, Walk};
pub use json::JsonError;
pub use pointer::{Pointer, Segment, escape_token};
pub use value::{Array, Number, Object, Value};

/// An alert sent to the host (generated from WIT `alert`).
pub use bindings::auditgate::policy::types::Alert;
/// The patch operation sent to the host (generated from WIT `patch-op`).
pub use bindings::auditgate::policy::types::PatchOp;
/// How serious an alert is (generated from WIT `severity`).
pub use bindings::auditgate::policy::types::Severity;

/// What a policy crate needs: `use auditgate_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::decision::{AlertBuilder, Decision};
    pub use crate::event::{Event, Field, Node};
    pub use crate::host;
    pub use crate::pointer::{Pointer, Segment, escape_token};
    pub use crate::value::Value;
    pub use crate::{Alert, AnyConfig, PatchOp, Policy, Severity};
}

/// A config type that accepts any JSON (or none), for policies without settings.
pub type AnyConfig = serde::de::IgnoredAny;

/// A policy: built once per instance from its configuration, then asked about events.
///
/// The gateway keeps instances alive and reuses them; a policy must not rely on state kept
/// between calls (use [`host::state_get`]/[`host::state_set`] or [`host::counter_add`]).
pub trait Policy: Sized + 'static {
    /// The policy's `[policy.config]` table, deserialized from JSON. Use [`AnyConfig`] when
    /// there is nothing to configure.
    type Config: serde::de::DeserializeOwned;

    /// Builds the policy from its configuration. An `Err` fails the policy's `init`, and
    /// the gateway refuses to load it with the message.
    fn new(config: Self::Config) -> Result<Self, String>;

    /// Looks at one event and records in `decision` what should change. An `Err` fails
    /// this event only (the gateway then applies the policy's `on_error`).
    fn evaluate(&self, event: &Event<'_>, decision: &mut Decision) -> Result<(), String>;
}

/// Exports a [`Policy`] type as the component's `init` and `evaluate`.
///
/// Call it once, at the crate root of a `cdylib` policy crate. `init` parses the JSON
/// configuration into `Policy::Config` (see [`runtime::parse_config`]) and keeps the
/// instance; `evaluate` answers one result per event, in order (see
/// [`runtime::evaluate_batch`]). The component exports exist only when building for
/// `wasm32`; on other targets the macro still type-checks the policy.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        const _: () = {
            ::std::thread_local! {
                static AUDITGATE_POLICY: ::core::cell::RefCell<::core::option::Option<$policy>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct AuditgateGuest;

            // Natively nothing calls the exports; this keeps the policy type "used", so a
            // policy crate builds without dead-code warnings on every target.
            #[cfg(not(target_arch = "wasm32"))]
            const _: () = {
                let _ = AuditgateGuest;
            };

            impl $crate::bindings::Guest for AuditgateGuest {
                fn init(config: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    let built = $crate::runtime::init::<$policy>(&config);
                    AUDITGATE_POLICY.with(|slot| match built {
                        ::core::result::Result::Ok(policy) => {
                            *slot.borrow_mut() = ::core::option::Option::Some(policy);
                            ::core::result::Result::Ok(())
                        }
                        ::core::result::Result::Err(message) => {
                            *slot.borrow_mut() = ::core::option::Option::None;
                            ::core::result::Result::Err(message)
                        }
                    })
                }

                fn evaluate(
                    events: ::std::vec::Vec<::std::vec::Vec<u8>>,
                ) -> ::std::vec::Vec<
                    ::core::result::Result<$crate::runtime::WitDecision, ::std::string::String>,
                > {
                    AUDITGATE_POLICY
                        .with(|slot| $crate::runtime::evaluate_batch(slot.borrow().as_ref(), &events))
                }
            }

            #[cfg(target_arch = "wasm32")]
            $crate::bindings::export! { AuditgateGuest with_types_in $crate::bindings }
        };
    };
}
