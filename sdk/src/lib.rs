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
//! The pieces: [`Event`] (a lazily parsed, borrowing, read-only view of one event),
//! [`Decision`] (the patches, alerts and tags a policy returns), [`host`] (the functions
//! the gateway lends a policy), [`runtime`] (what [`export_policy!`] calls; also handy in
//! native tests).

pub mod decision;
pub mod detect;
pub mod event;
pub mod host;
pub mod pointer;
pub mod runtime;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod value;

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
pub use pointer::{Pointer, Segment, escape_token};
pub use value::Value;

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
