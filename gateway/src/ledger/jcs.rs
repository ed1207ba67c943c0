//! RFC 8785 JSON Canonicalization Scheme (JCS) for `serde_json` values.
//!
//! Written here rather than taken from a crate for two reasons: the crates format every
//! integer through `f64`, so an integer beyond 2^53 would be stored silently changed (we
//! refuse it instead, naming where it is), and sorting keys through a parsed copy per key
//! costs more than the whole hash chain may (the per-event budget is 2 µs). The tests
//! compare this encoder with `serde_json_canonicalizer` on generated values.
//!
//! The rules: no whitespace; object members sorted by the UTF-16 code units of their
//! names; strings escaped minimally (`"`, `\`, and control characters, with the short
//! forms `\b \t \n \f \r` and lower-case `\u00xx` otherwise); numbers as ECMAScript
//! formats an IEEE 754 double (`ryu-js`).

use std::io::Write as _;

use serde_json::{Map, Number, Value};

/// Largest integer magnitude a double holds exactly: beyond it JCS would change the value.
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// A value that has no faithful canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JcsError {
    /// An integer beyond ±2^53 (RFC 8785 numbers are IEEE 754 doubles).
    /// The value itself is not in the message (the error goes back to the client and into
    /// logs and proxies on the way): a long integer may well be a card number.
    #[error(
        "the {digits}-digit integer at {path} is beyond ±2^53 and cannot be stored exactly; send it as a string"
    )]
    IntegerTooLarge { path: String, digits: usize },
}

impl JcsError {
    /// The same error seen from one level further out: `step` (`/name` or `/index`) goes
    /// in front of its path. The path is built only on this way back, never while encoding.
    fn within(mut self, step: &str) -> JcsError {
        let JcsError::IntegerTooLarge { path, .. } = &mut self;
        path.insert_str(0, step);
        self
    }
}

/// The canonical bytes of `value`.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::with_capacity(256);
    write_value(&mut out, value)?;
    Ok(out)
}

/// Checks that `value` has a canonical form (no integer beyond ±2^53 that a double would
/// change) without encoding it: input validation runs this before anything is stored.
pub fn check(value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Number(n) => {
            let exact = |m: u64| m <= MAX_EXACT_INTEGER;
            if n.as_u64().is_some_and(exact)
                || n.as_i64().is_some_and(|i| exact(i.unsigned_abs()))
                || n.is_f64()
            {
                Ok(())
            } else {
                write_number(&mut Vec::new(), n)
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check(item).map_err(|e| e.within(&format!("/{i}")))),
        Value::Object(map) => map.iter().try_for_each(|(name, item)| {
            check(item).map_err(|e| e.within(&format!("/{}", name.replace('~', "~0").replace('/', "~1"))))
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

/// Appends the canonical bytes of `value` to `out`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) -> Result<(), JcsError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item).map_err(|e| e.within(&format!("/{i}")))?;
            }
            out.push(b']');
        }
        Value::Object(map) => write_object(out, members(map))?,
    }
    Ok(())
}

/// Appends a canonical object made of `members` (any order; names must be distinct).
pub fn write_object<'a>(
    out: &mut Vec<u8>,
    members: impl Iterator<Item = (&'a str, &'a Value)>,
) -> Result<(), JcsError> {
    let mut members: Vec<(&str, &Value)> = members.collect();
    members.sort_unstable_by(|a, b| compare_names(a.0, b.0));
    out.push(b'{');
    for (i, (name, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_value(out, value)
            .map_err(|e| e.within(&format!("/{}", name.replace('~', "~0").replace('/', "~1"))))?;
    }
    out.push(b'}');
    Ok(())
}

fn members(map: &Map<String, Value>) -> impl Iterator<Item = (&str, &Value)> {
    map.iter().map(|(k, v)| (k.as_str(), v))
}

/// Orders member names by their UTF-16 code units (RFC 8785 §3.2.3).
pub fn compare_names(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        // Same order as UTF-16 for ASCII, without the conversion.
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_number(out: &mut Vec<u8>, n: &Number) -> Result<(), JcsError> {
    let small = |m: u64| m <= MAX_EXACT_INTEGER;
    if let Some(u) = n.as_u64()
        && small(u)
    {
        let _ = write!(out, "{u}"); // writing to a Vec cannot fail
    } else if let Some(i) = n.as_i64()
        && small(i.unsigned_abs())
    {
        let _ = write!(out, "{i}");
    } else if n.is_f64() {
        // serde_json never holds NaN or infinities.
        let f = n.as_f64().unwrap_or_default();
        let mut buffer = ryu_js::Buffer::new();
        out.extend_from_slice(buffer.format_finite(f).as_bytes());
    } else {
        // A big integer is kept only when the double's text is the same digits (as when
        // it was a double to start with, like 1e17 read back from canonical text).
        let as_f64 = n.as_f64().unwrap_or_default();
        let mut buffer = ryu_js::Buffer::new();
        let text = buffer.format_finite(as_f64);
        if text != n.to_string() {
            let digits = n.to_string().bytes().filter(u8::is_ascii_digit).count();
            return Err(JcsError::IntegerTooLarge { path: String::new(), digits });
        }
        out.extend_from_slice(text.as_bytes());
    }
    Ok(())
}

/// Appends `s` as a JSON string with JCS escaping.
pub fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Canonical bytes of a JSON object given as a map.
pub fn object_to_vec(map: &Map<String, Value>) -> Result<Vec<u8>, JcsError> {
    let mut out = Vec::with_capacity(256);
    write_object(&mut out, members(map))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn rfc8785_number_examples() {
        // RFC 8785 Appendix B (the doubles serde_json can hold).
        let cases: [(f64, &str); 12] = [
            (0.0, "0"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (9007199254740994.0, "9007199254740994"),
            (295147905179352830000.0, "295147905179352830000"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (333333333.3333332, "333333333.3333332"),
            (-1.5, "-1.5"),
        ];
        for (f, want) in cases {
            let v = Value::Number(Number::from_f64(f).expect("finite"));
            assert_eq!(String::from_utf8(to_vec(&v).expect("encodes")).expect("utf8"), want, "{f:e}");
        }
    }

    #[test]
    fn rfc8785_sorting_example() {
        // RFC 8785 §3.2.3: sorted by UTF-16 code units.
        let v: Value = serde_json::from_str(
            r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
        )
        .expect("parses");
        let got = String::from_utf8(to_vec(&v).expect("encodes")).expect("utf8");
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
                    \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(got, want);
    }

    #[test]
    fn strings_are_escaped_minimally() {
        let v = json!("a\"b\\c\u{1}\n\u{7f}é/");
        assert_eq!(
            String::from_utf8(to_vec(&v).expect("encodes")).expect("utf8"),
            "\"a\\\"b\\\\c\\u0001\\n\u{7f}é/\""
        );
    }

    #[test]
    fn big_integers_are_refused_with_their_path() {
        let v = json!({"details": {"n": [1, 9007199254740993u64]}});
        let err = to_vec(&v).expect_err("refused");
        assert_eq!(err, JcsError::IntegerTooLarge { path: "/details/n/1".into(), digits: 16 });
        assert!(to_vec(&json!(-9007199254740992i64)).is_ok());
        // A big integer that is exactly a double's canonical text stays.
        assert_eq!(to_vec(&json!(106421712480098130i64)).expect("exact"), b"106421712480098130");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(|i| json!(i)),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            ".{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    #[test]
    fn check_refuses_what_the_encoder_refuses_at_the_same_path() {
        let parse = |s: &str| serde_json::from_str::<Value>(s).expect("json");
        for text in [
            r#"{"a":[1,{"b~/c":9007199254740993}]}"#,
            r#"[-9007199254740993]"#,
            r#"{"n":18446744073709551615}"#,
            r#"{"n":9007199254740992,"m":-9007199254740992,"f":1e300,"g":100000000000000000000}"#,
            r#"{"big":100000000000000000001}"#,
        ] {
            let v = parse(text);
            assert_eq!(check(&v), to_vec(&v).map(|_| ()), "{text}");
        }
        let err = check(&parse(r#"{"a":[1,{"b~/c":9007199254740993}]}"#)).expect_err("too large");
        assert_eq!(err, JcsError::IntegerTooLarge { path: "/a/1/b~0~1c".into(), digits: 16 });
    }

    proptest! {
        #[test]
        fn check_agrees_with_the_encoder(v in arb_json()) {
            prop_assert_eq!(check(&v), to_vec(&v).map(|_| ()));
        }

        #[test]
        fn agrees_with_serde_json_canonicalizer(v in arb_json()) {
            let ours = to_vec(&v).expect("encodes");
            let theirs = serde_json_canonicalizer::to_vec(&v).expect("encodes");
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        }

        #[test]
        fn canonical_bytes_round_trip(v in arb_json()) {
            let once = to_vec(&v).expect("encodes");
            let back: Value = serde_json::from_slice(&once).expect("parses");
            prop_assert_eq!(to_vec(&back).expect("encodes"), once);
        }
    }
}
