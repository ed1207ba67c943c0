//! [`Value`]: one JSON value of an event, read in place.
//!
//! A value is a small copyable handle on the event's text. Scalars are read when the value
//! is made (a string without escapes borrows from the event; one with escapes is
//! unescaped once into the event's arena). Arrays and objects are not scanned until they
//! are iterated or looked into, and then only as far as needed: nothing builds a tree.

use std::fmt;
use std::str::FromStr;

use bumpalo::Bump;

use crate::json::JsonError;
use crate::json::scan::{self, Kind, skip_ws};
use crate::json::unescape::unescape_into;
use crate::pointer::{parse_index, tokens, unescape_token};

/// The text of a checked event and the arena its unescaped strings go to.
#[derive(Clone, Copy)]
pub(crate) struct Doc<'e> {
    pub(crate) text: &'e str,
    pub(crate) arena: &'e Bump,
}

impl<'e> Doc<'e> {
    pub(crate) fn bytes(self) -> &'e [u8] {
        self.text.as_bytes()
    }

    /// The text of the string with quotes at `open` and `close`: borrowed from the event
    /// when it has no escapes, else unescaped into the arena.
    pub(crate) fn string(self, open: usize, close: usize, escaped: bool) -> &'e str {
        let raw = self.text.get(open + 1..close).unwrap_or_default();
        if !escaped {
            return raw;
        }
        let mut out = bumpalo::collections::String::with_capacity_in(raw.len(), self.arena);
        unescape_into(raw, &mut out);
        out.into_bump_str()
    }

    /// The value of `kind` spanning `start..end` (as the scanner found it).
    pub(crate) fn value(self, kind: Kind, start: usize, end: usize) -> Value<'e> {
        match kind {
            Kind::Null => Value::Null,
            Kind::False => Value::Bool(false),
            Kind::True => Value::Bool(true),
            Kind::Number => Value::Number(Number(self.text.get(start..end).unwrap_or("0"))),
            Kind::String { escaped } => Value::String(self.string(start, end.saturating_sub(1), escaped)),
            Kind::Array => Value::Array(Array { doc: self, open: start }),
            Kind::Object => Value::Object(Object { doc: self, open: start }),
        }
    }

    /// The value starting at `i` (no whitespace before it), and where it ends; for an
    /// array or object, where it starts (its contents are not scanned).
    pub(crate) fn read(self, i: usize) -> Result<(Value<'e>, usize), JsonError> {
        let b = self.bytes();
        match b.get(i) {
            Some(b'{') => Ok((Value::Object(Object { doc: self, open: i }), i)),
            Some(b'[') => Ok((Value::Array(Array { doc: self, open: i }), i)),
            _ => {
                let (kind, end) = scan::value_end(b, i, 0)?;
                Ok((self.value(kind, i, end), end))
            }
        }
    }

    /// The value starting at `i` and where it ends, containers stepped over.
    fn read_over(self, i: usize) -> Result<(Value<'e>, usize), JsonError> {
        let (value, end) = self.read(i)?;
        match value {
            Value::Object(_) | Value::Array(_) => Ok((value, scan::container_end(self.bytes(), i, 0)?)),
            _ => Ok((value, end)),
        }
    }
}

/// One JSON value of an event. `Copy`: a handle on the event's text, not a copy of it.
///
/// Strings are `&str` borrowed from the event (or from its arena when they held escapes);
/// numbers keep their text until asked for a value; arrays and objects are read when
/// iterated or looked into.
#[derive(Debug, Clone, Copy)]
pub enum Value<'e> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(Number<'e>),
    /// A string, escapes resolved.
    String(&'e str),
    /// An array.
    Array(Array<'e>),
    /// An object; lookups take the last of duplicate names, as serde_json (and so the
    /// gateway) does.
    Object(Object<'e>),
}

impl<'e> Value<'e> {
    /// The string, if this is one.
    pub fn as_str(self) -> Option<&'e str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(self) -> Option<Number<'e>> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The number as `i64`, if it is an integer in range.
    pub fn as_i64(self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The number as `u64`, if it is a non-negative integer in range.
    pub fn as_u64(self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    /// The number as `f64`, if this is a number.
    pub fn as_f64(self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    /// The array, if this is one.
    pub fn as_array(self) -> Option<Array<'e>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(self) -> Option<Object<'e>> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// True for `null`.
    pub fn is_null(self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for arrays and objects.
    pub fn is_container(self) -> bool {
        matches!(self, Value::Array(_) | Value::Object(_))
    }

    /// The JSON type's name: `null`, `boolean`, `number`, `string`, `array` or `object`.
    pub fn kind(self) -> &'static str {
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
    pub fn member(self, name: &str) -> Option<Value<'e>> {
        self.as_object()?.get(name)
    }

    /// The element at `index` of an array.
    pub fn index(self, index: usize) -> Option<Value<'e>> {
        self.as_array()?.get(index)
    }

    /// The value an RFC 6901 pointer names (`""` is this value). `None` when it names
    /// nothing or is malformed. Scans only the containers on the way.
    pub fn pointer(self, pointer: &str) -> Option<Value<'e>> {
        let mut current = self;
        for raw in tokens(pointer)? {
            current = current.step(raw)?;
        }
        Some(current)
    }

    /// One step of a pointer: `raw` is the still escaped token.
    pub(crate) fn step(self, raw: &str) -> Option<Value<'e>> {
        let token = unescape_token(raw)?;
        match self {
            Value::Object(o) => o.get(&token),
            Value::Array(a) => a.get(parse_index(&token)?),
            _ => None,
        }
    }

    /// An owned `serde_json::Value` copy (allocates; duplicate names keep the last).
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => n.to_serde().map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(members) => {
                serde_json::Value::Object(members.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect())
            }
        }
    }
}

impl PartialEq for Value<'_> {
    /// Same type and content; numbers by value as serde_json compares them (`1` is not
    /// `1.0`), objects member by member in document order.
    fn eq(&self, other: &Self) -> bool {
        match (*self, *other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a.to_serde() == b.to_serde(),
            (Value::String(a), Value::String(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a.iter().eq(b.iter()),
            (Value::Object(a), Value::Object(b)) => a.iter().eq(b.iter()),
            _ => false,
        }
    }
}

impl fmt::Display for Value<'_> {
    /// Writes compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_json(), f)
    }
}

/// A JSON number as written in the event; converted on request, the way serde_json
/// converts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number<'e>(&'e str);

impl<'e> Number<'e> {
    /// The number's text, as sent (`4.0e3`).
    pub fn as_str(self) -> &'e str {
        self.0
    }

    /// The number as serde_json reads it (u64, i64 or f64).
    pub fn to_serde(self) -> Option<serde_json::Number> {
        serde_json::Number::from_str(self.0).ok()
    }

    /// As `i64`, if it is an integer in range (`3.0` is not an integer).
    pub fn as_i64(self) -> Option<i64> {
        self.to_serde()?.as_i64()
    }

    /// As `u64`, if it is a non-negative integer in range.
    pub fn as_u64(self) -> Option<u64> {
        self.to_serde()?.as_u64()
    }

    /// As `f64` (integers too).
    pub fn as_f64(self) -> Option<f64> {
        self.to_serde()?.as_f64()
    }
}

/// A JSON object of an event: members in document order, read when iterated.
#[derive(Clone, Copy)]
pub struct Object<'e> {
    doc: Doc<'e>,
    open: usize,
}

impl<'e> Object<'e> {
    /// The object whose `{` is at `open` in a checked text.
    pub(crate) fn new(doc: Doc<'e>, open: usize) -> Self {
        Self { doc, open }
    }

    /// The members in document order, duplicates included: `(name, value)`, names with
    /// escapes resolved.
    pub fn iter(self) -> Members<'e> {
        Members { doc: self.doc, pos: self.open + 1, first: true, done: false }
    }

    /// The value of the member `name`; the last one if the name repeats (as serde_json).
    pub fn get(self, name: &str) -> Option<Value<'e>> {
        self.iter().filter(|(key, _)| *key == name).last().map(|(_, value)| value)
    }

    /// How many members (duplicates counted).
    pub fn len(self) -> usize {
        self.iter().count()
    }

    /// True when there are no members.
    pub fn is_empty(self) -> bool {
        self.iter().next().is_none()
    }
}

impl fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Object({})", Value::Object(*self))
    }
}

impl<'e> IntoIterator for Object<'e> {
    type Item = (&'e str, Value<'e>);
    type IntoIter = Members<'e>;

    fn into_iter(self) -> Members<'e> {
        self.iter()
    }
}

/// The members of an [`Object`], in document order.
pub struct Members<'e> {
    doc: Doc<'e>,
    pos: usize,
    first: bool,
    done: bool,
}

impl<'e> Members<'e> {
    fn read(&mut self) -> Result<Option<(&'e str, Value<'e>)>, JsonError> {
        let b = self.doc.bytes();
        let mut i = skip_ws(b, self.pos);
        if b.get(i) == Some(&b'}') {
            return Ok(None);
        }
        if !self.first {
            // The checked text has `,` here.
            i = skip_ws(b, i + 1);
        }
        self.first = false;
        let (close, escaped) = scan::string_end(b, i)?;
        let key = self.doc.string(i, close, escaped);
        let colon = skip_ws(b, close + 1);
        let (value, end) = self.doc.read_over(skip_ws(b, colon + 1))?;
        self.pos = end;
        Ok(Some((key, value)))
    }
}

impl<'e> Iterator for Members<'e> {
    type Item = (&'e str, Value<'e>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.read().ok().flatten();
        self.done = item.is_none();
        item
    }
}

/// A JSON array of an event, read when iterated.
#[derive(Clone, Copy)]
pub struct Array<'e> {
    doc: Doc<'e>,
    open: usize,
}

impl<'e> Array<'e> {
    /// The elements in order.
    pub fn iter(self) -> Elements<'e> {
        Elements { doc: self.doc, pos: self.open + 1, first: true, done: false }
    }

    /// The element at `index` (scans the elements before it).
    pub fn get(self, index: usize) -> Option<Value<'e>> {
        self.iter().nth(index)
    }

    /// How many elements.
    pub fn len(self) -> usize {
        self.iter().count()
    }

    /// True when there are no elements.
    pub fn is_empty(self) -> bool {
        self.iter().next().is_none()
    }
}

impl fmt::Debug for Array<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Array({})", Value::Array(*self))
    }
}

impl<'e> IntoIterator for Array<'e> {
    type Item = Value<'e>;
    type IntoIter = Elements<'e>;

    fn into_iter(self) -> Elements<'e> {
        self.iter()
    }
}

/// The elements of an [`Array`], in order.
pub struct Elements<'e> {
    doc: Doc<'e>,
    pos: usize,
    first: bool,
    done: bool,
}

impl<'e> Elements<'e> {
    fn read(&mut self) -> Result<Option<Value<'e>>, JsonError> {
        let b = self.doc.bytes();
        let mut i = skip_ws(b, self.pos);
        if b.get(i) == Some(&b']') {
            return Ok(None);
        }
        if !self.first {
            i = skip_ws(b, i + 1);
        }
        self.first = false;
        let (value, end) = self.doc.read_over(i)?;
        self.pos = end;
        Ok(Some(value))
    }
}

impl<'e> Iterator for Elements<'e> {
    type Item = Value<'e>;

    fn next(&mut self) -> Option<Value<'e>> {
        if self.done {
            return None;
        }
        let item = self.read().ok().flatten();
        self.done = item.is_none();
        item
    }
}
