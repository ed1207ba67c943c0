//! The RFC 8785 encoder over any JSON value serde_json accepts: it encodes or refuses with
//! `IntegerTooLarge` whose path points at that very number; encoded bytes parse back to
//! an equal value (numbers compared as the doubles JCS defines them to be) and encode
//! again to the same bytes.
#![no_main]

use auditgate::ledger::jcs::{self, JcsError};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Equal as JSON values under JCS: numbers are IEEE 754 doubles (`1.0` and `1` are one).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return };
    match jcs::to_vec(&value) {
        Ok(bytes) => {
            let back: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("canonical bytes do not parse ({e}): {bytes:?}"));
            assert!(same(&value, &back), "round trip changed the value: {value} -> {back}");
            assert_eq!(jcs::to_vec(&back).expect("the canonical value encodes"), bytes, "not idempotent");
            if let Value::Object(map) = &value {
                assert_eq!(jcs::object_to_vec(map).expect("encodes"), bytes, "object_to_vec differs");
            }
        }
        Err(JcsError::IntegerTooLarge { path, number }) => {
            let at = value.pointer(&path).unwrap_or_else(|| panic!("error path {path:?} points nowhere"));
            assert_eq!(at.to_string(), number, "error path {path:?} names another value");
            assert!(at.is_i64() || at.is_u64(), "only integers are refused");
        }
    }
});
