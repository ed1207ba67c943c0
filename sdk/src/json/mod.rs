//! JSON text read in place: a validating scanner that finds where values begin and end
//! without building anything ([`scan`]), and string unescaping ([`unescape`]).
//!
//! [`Event`](crate::Event) checks an event's bytes once with these, then every lookup,
//! iterator and [`Value`](crate::Value) works on offsets into the same text.

mod error;
pub(crate) mod scan;
pub(crate) mod unescape;

pub use error::{JsonError, Problem};
pub use scan::MAX_DEPTH;
