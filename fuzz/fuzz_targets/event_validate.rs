//! One event object built from the schema's own vocabulary (field names, plausible values
//! of each kind, nested details) rather than raw bytes, so the fuzzer spends its time in
//! `event::validate` and the depth check instead of in the JSON parser. Must never panic;
//! an accepted event must keep the schema's promises.
#![no_main]

use auditgate::event::{self, Limits};
use auditgate_fuzz::{check_valid_event, received};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Number, Value};

/// Names tried beside the schema's own fields and the gateway's reserved ones.
const EXTRA_NAMES: [&str; 3] = ["before", "after", "prev"];

/// The `i`-th field name to try (wrapping): the schema's, the gateway's, then the extras.
fn field_name(i: usize) -> &'static str {
    let names = || event::KNOWN_FIELDS.iter().chain(&event::GATEWAY_FIELDS).chain(&EXTRA_NAMES);
    names().nth(i % names().count()).copied().unwrap_or("id")
}

const WORDS: &[&str] = &[
    "user.login",
    "admin.role.change",
    "success",
    "failure",
    "error",
    "unknown",
    "info",
    "critical",
    "2026-01-02T03:04:05Z",
    "2026-01-02T03:04:05.123456789+14:00",
    "0000-01-01T00:00:00+00:01",
    "9999-12-31T23:59:59-00:01",
    "1970-01-01T00:00:00-23:59",
    "2016-12-31T23:59:60Z",
    "192.0.2.1",
    "2001:DB8:0:0::1",
    "::ffff:192.0.2.1",
    "fe80::1%eth0",
    "0",
    "",
    " ",
    "A",
];

#[derive(Arbitrary, Debug)]
enum Key {
    Named(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Word(u8),
    Text(String),
    Array(Vec<Val>),
    Object(Vec<(Key, Val)>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    fields: Vec<(Key, Val)>,
    max_depth: u8,
}

fn key(k: &Key) -> String {
    match k {
        Key::Named(i) => field_name(*i as usize).to_string(),
        Key::Other(s) => s.clone(),
    }
}

fn value(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Int(i) => Value::from(*i),
        Val::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Val::Word(i) => Value::from(WORDS[*i as usize % WORDS.len()]),
        Val::Text(s) => Value::from(s.as_str()),
        Val::Array(items) => Value::Array(items.iter().map(value).collect()),
        Val::Object(members) => Value::Object(object(members)),
    }
}

fn object(members: &[(Key, Val)]) -> Map<String, Value> {
    members.iter().map(|(k, v)| (key(k), value(v))).collect()
}

fuzz_target!(|input: Input| {
    let event = Value::Object(object(&input.fields));
    // 1..=64 (the default is 32). Near 128 serde_json's own recursion limit answers first
    // (see README.md, findings), which this target does not compare.
    let limit = usize::from(input.max_depth % 64) + 1;
    if event::check_depth(&event, limit).is_err() {
        return;
    }
    // The same path as a request body: the bytes through `parse_event` …
    let bytes = serde_json::to_vec(&event).expect("a Value serializes");
    let limits = Limits { max_event_bytes: 1 << 20, max_depth: limit };
    let from_bytes = event::parse_event(&bytes, limits, received());
    // … and the value straight into `validate`: both must agree.
    let direct = event::validate(event, received());
    match (&from_bytes, &direct) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "parse_event and validate disagree");
            check_valid_event(b);
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "parse_event and validate refuse differently");
            assert!(!a.to_string().is_empty() && (400..500).contains(&a.status()));
        }
        _ => panic!("parse_event {from_bytes:?} but validate {direct:?}"),
    }
});
