//! [`Value`]: a JSON tree that borrows its strings from the event bytes.
//!
//! Strings and member names without escape sequences point into the input; only those
//! with escapes (`\n`, `\u00e9`, ...) are allocated. Objects keep their members in
//! document order.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::pointer::{parse_index, tokens, unescape_token};

/// One JSON value, borrowing from the bytes it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json reads it (u64, i64 or f64).
    Number(serde_json::Number),
    /// A string.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object's members in document order. Lookups take the last of duplicate names, as
    /// serde_json does.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl<'a> Value<'a> {
    /// Parses JSON bytes, borrowing strings from them where possible.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The number as `u64`, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    /// The number as `f64`, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members in document order, if this is an object.
    pub fn as_object(&self) -> Option<&[(Cow<'a, str>, Value<'a>)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for arrays and objects.
    pub fn is_container(&self) -> bool {
        matches!(self, Value::Array(_) | Value::Object(_))
    }

    /// The JSON type's name: `null`, `boolean`, `number`, `string`, `array` or `object`.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// The member `name` of an object (the last one if the name repeats).
    pub fn member(&self, name: &str) -> Option<&Value<'a>> {
        self.as_object()?.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The element at `index` of an array.
    pub fn index(&self, index: usize) -> Option<&Value<'a>> {
        self.as_array()?.get(index)
    }

    /// The value an RFC 6901 pointer names (`""` is this value). `None` when it names
    /// nothing or is malformed.
    pub fn pointer(&self, pointer: &str) -> Option<&Value<'a>> {
        let mut current = self;
        for raw in tokens(pointer)? {
            let token = unescape_token(raw)?;
            current = match current {
                Value::Object(_) => current.member(&token)?,
                Value::Array(_) => current.index(parse_index(&token)?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// An owned `serde_json::Value` copy (allocates).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(members) => {
                serde_json::Value::Object(members.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect())
            }
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Writes compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_json(), f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Value<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor(PhantomData))
    }
}

struct ValueVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ValueVisitor<'a> {
    type Value = Value<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::String(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Value::String(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(key)) = map.next_key()? {
            let value = map.next_value()?;
            members.push((key, value));
        }
        Ok(Value::Object(members))
    }
}

/// A member name that borrows when it can (serde's own `Cow<str>` always allocates).
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

struct KeyVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
    type Value = Key<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_unescaped_strings_and_keys() {
        let bytes = br#"{"plain":"text","esc\u0061ped":"a\nb","n":[1,-2,2.5,true,null]}"#;
        let v = Value::parse(bytes).expect("valid JSON");
        let members = v.as_object().expect("object");
        assert!(matches!(members[0].0, Cow::Borrowed("plain")));
        assert!(matches!(members[0].1, Value::String(Cow::Borrowed("text"))));
        assert!(matches!(members[1].0, Cow::Owned(ref k) if k == "escaped"));
        assert!(matches!(members[1].1, Value::String(Cow::Owned(ref s)) if s == "a\nb"));
        let n = v.member("n").and_then(Value::as_array).expect("array");
        assert_eq!(n[0].as_u64(), Some(1));
        assert_eq!(n[1].as_i64(), Some(-2));
        assert_eq!(n[2].as_f64(), Some(2.5));
        assert_eq!(n[3].as_bool(), Some(true));
        assert!(n[4].is_null());
    }

    #[test]
    fn resolves_pointers() {
        let bytes = br#"{"a":{"b/c":[10,{"~k":"x"}],"":1},"a":{"b/c":[20]}}"#;
        let v = Value::parse(bytes).expect("valid JSON");
        // duplicate "a": the last one wins
        assert_eq!(v.pointer("/a/b~1c/0").and_then(Value::as_u64), Some(20));
        let v = Value::parse(br#"{"a":{"b/c":[10,{"~k":"x"}],"":1}}"#).expect("valid JSON");
        assert_eq!(v.pointer("/a/b~1c/1/~0k").and_then(Value::as_str), Some("x"));
        assert_eq!(v.pointer("/a/").and_then(Value::as_u64), Some(1));
        assert_eq!(v.pointer(""), Some(&v));
        assert_eq!(v.pointer("/a/b~1c/01"), None);
        assert_eq!(v.pointer("/a/b~1c/-"), None);
        assert_eq!(v.pointer("/a/b~2c"), None);
        assert_eq!(v.pointer("a"), None);
        assert_eq!(v.pointer("/a/b~1c/0/x"), None);
    }

    #[test]
    fn converts_to_serde_json() {
        let text = r#"{"a":[1,"x",null,{"b":false}]}"#;
        let v = Value::parse(text.as_bytes()).expect("valid JSON");
        assert_eq!(v.to_json(), serde_json::from_str::<serde_json::Value>(text).expect("valid JSON"));
        assert_eq!(v.to_string(), text);
    }
}
