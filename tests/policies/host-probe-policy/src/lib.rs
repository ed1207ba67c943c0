//! Test policy `host-probe-policy`, used by the gateway's integration tests of the WIT
//! `host` interface.
//!
//! An event lists the host calls to make in `details.ops`, in order; the policy makes
//! them and writes one result per op into the event at `/details/results` (with `set`):
//!
//! | op | fields | result |
//! |---|---|---|
//! | `count` | `key`, `delta`, `window` | the count `counter-add` returned |
//! | `get` | `key` | the value `state-get` returned (UTF-8 text) or `null` |
//! | `set` | `key`, `value` (text), `ttl` | `null` |
//! | `lookup` | `table`, `key` | the answer parsed as JSON, or `null` |
//! | `log` | `level`, `message`, `repeat` (default 1) | `null` |
//!
//! Events without `details.ops` get an empty decision.

use auditgate_sdk::prelude::*;
use serde_json::{Value as Json, json};

/// Runs the host calls an event asks for.
#[derive(Debug)]
pub struct HostProbe;

fn text<'a>(op: &'a Json, name: &str) -> &'a str {
    op.get(name).and_then(Json::as_str).unwrap_or("")
}

fn number(op: &Json, name: &str) -> i64 {
    op.get(name).and_then(Json::as_i64).unwrap_or(0)
}

/// Makes one host call; `Err` for an op it does not know.
fn run(op: &Json) -> Result<Json, String> {
    let result = match text(op, "op") {
        "count" => {
            let window = u32::try_from(number(op, "window")).unwrap_or(u32::MAX);
            json!(host::counter_add(text(op, "key"), number(op, "delta"), window))
        }
        "get" => match host::state_get(text(op, "key")) {
            Some(bytes) => json!(String::from_utf8_lossy(&bytes)),
            None => Json::Null,
        },
        "set" => {
            let ttl = u32::try_from(number(op, "ttl")).unwrap_or(u32::MAX);
            host::state_set(text(op, "key"), text(op, "value").as_bytes(), ttl);
            Json::Null
        }
        "lookup" => match host::lookup(text(op, "table"), text(op, "key")) {
            Some(answer) => serde_json::from_str(&answer).unwrap_or(Json::String(answer)),
            None => Json::Null,
        },
        "log" => {
            let level = match number(op, "level") {
                0 => host::Level::Trace,
                1 => host::Level::Debug,
                2 => host::Level::Info,
                3 => host::Level::Warn,
                _ => host::Level::Error,
            };
            for _ in 0..number(op, "repeat").max(1) {
                host::log(level, text(op, "message"));
            }
            Json::Null
        }
        other => return Err(format!("unknown op `{other}`")),
    };
    Ok(result)
}

impl Policy for HostProbe {
    type Config = AnyConfig;

    fn new(_config: AnyConfig) -> Result<Self, String> {
        Ok(HostProbe)
    }

    fn evaluate(&self, event: &Event, decision: &mut Decision) -> Result<(), String> {
        let Some(ops) = event.get("/details/ops").map(Value::to_json) else { return Ok(()) };
        let ops = ops.as_array().ok_or("details.ops is not an array")?;
        let results = ops.iter().map(run).collect::<Result<Vec<_>, _>>()?;
        decision.set("/details/results", Json::Array(results));
        Ok(())
    }
}

auditgate_sdk::export_policy!(HostProbe);

#[cfg(test)]
mod tests {
    use auditgate_sdk::host::native;
    use auditgate_sdk::runtime::{evaluate_one, init};

    use super::*;

    #[test]
    fn runs_the_ops_and_sets_the_results() {
        native::reset();
        native::insert_lookup("geo", "10.0.0.1", r#"{"country":"DE"}"#);
        let p = match init::<HostProbe>(b"{}") {
            Ok(p) => p,
            Err(e) => panic!("init: {e}"),
        };
        let event = br#"{"action":"a","outcome":"success","details":{"ops":[
            {"op":"count","key":"k","delta":2,"window":60},
            {"op":"set","key":"s","value":"v","ttl":5},
            {"op":"get","key":"s"},
            {"op":"lookup","table":"geo","key":"10.0.0.1"},
            {"op":"lookup","table":"geo","key":"10.0.0.2"}]}}"#;
        let decision = evaluate_one(&p, event).expect("decision");
        let expected = json!([2, null, "v", {"country": "DE"}, null]).to_string();
        assert_eq!(decision.patches(), &[PatchOp::Set(("/details/results".into(), expected))]);
        let bad = br#"{"action":"a","outcome":"success","details":{"ops":[{"op":"fly"}]}}"#;
        assert!(evaluate_one(&p, bad).is_err());
    }
}
