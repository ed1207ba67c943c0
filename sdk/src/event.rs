//! [`Event`]: a read-only view of one event's JSON bytes that builds no tree, and the
//! iterators over its values ([`Walk`], [`Fields`], [`Strings`]) with their RFC 6901
//! pointers.

use std::cell::OnceCell;

use bumpalo::Bump;

use crate::json::scan::{Kind, skip_ws, string_end, value_end};
use crate::json::{JsonError, Problem};
use crate::pointer::tokens;
use crate::value::{Doc, Object, Value};
pub use crate::walk::{Field, Fields, Node, Strings, Walk};

/// One event as the gateway sent it: UTF-8 JSON bytes, expected to be an object.
///
/// Nothing is read until the first accessor is called. Then one pass over the bytes checks
/// them (the JSON grammar, as serde_json checks it) and notes where each top-level member's
/// name and value are, without parsing the values it steps over; `action()`, `user()`,
/// `field(name)` answer from that table. A value inside `details` or `changes` is read
/// only when asked for (`get`, `str`, iterating an object), and then only the containers
/// on the way are scanned. Strings borrow from the bytes; one with escapes is unescaped
/// once per request into an arena that lives as long as the `Event`.
///
/// Duplicate member names: lookups (`field`, `get`, `str`, [`Object::get`]) take the
/// last, as serde_json (the gateway's parser) does; the iterators visit each, in document
/// order.
///
/// If the bytes are not a JSON object, every accessor answers `None`, the iterators are
/// empty, and [`Event::check`] says why (the runtime fails the event with that message).
#[derive(Debug)]
pub struct Event<'a> {
    bytes: &'a [u8],
    arena: Bump,
    index: OnceCell<Result<Index<'a>, String>>,
}

/// Where the top-level members are.
#[derive(Debug)]
struct Index<'a> {
    text: &'a str,
    /// Offset of the root object's `{`.
    open: usize,
    members: Vec<Member>,
}

/// One top-level member: its name's quotes, its value's span and kind.
#[derive(Debug, Clone, Copy)]
struct Member {
    name_open: usize,
    name_close: usize,
    name_escaped: bool,
    start: usize,
    end: usize,
    kind: Kind,
}

impl Member {
    fn is_named(&self, doc: Doc<'_>, name: &str) -> bool {
        if self.name_escaped {
            doc.string(self.name_open, self.name_close, true) == name
        } else {
            doc.text.get(self.name_open + 1..self.name_close) == Some(name)
        }
    }
}

/// Members a typical event has at the top level (more only grow the table).
const TYPICAL_MEMBERS: usize = 16;

impl<'a> Index<'a> {
    /// Checks the bytes and notes the top-level members; the error is the runtime's
    /// message for the event.
    fn build(bytes: &'a [u8]) -> Result<Self, String> {
        let invalid = |e: JsonError| format!("event is not valid JSON: {e}");
        let text = std::str::from_utf8(bytes)
            .map_err(|e| invalid(JsonError { problem: Problem::Utf8, offset: e.valid_up_to() }))?;
        let b = text.as_bytes();
        let open = skip_ws(b, 0);
        if b.get(open) != Some(&b'{') {
            let (kind, end) = value_end(b, open, 0).map_err(invalid)?;
            trailing(b, end).map_err(invalid)?;
            return Err(format!("event is not a JSON object (found {})", kind.name()));
        }
        let members = members(b, open).map_err(invalid)?;
        Ok(Index { text, open, members })
    }
}

/// Nothing but whitespace after `end`.
fn trailing(b: &[u8], end: usize) -> Result<(), JsonError> {
    let after = skip_ws(b, end);
    if after == b.len() { Ok(()) } else { Err(JsonError { problem: Problem::Trailing, offset: after }) }
}

/// The members of the object whose `{` is at `open`, which must end the text; each value
/// is checked and stepped over.
fn members(b: &[u8], open: usize) -> Result<Vec<Member>, JsonError> {
    let fail = |problem, at: usize| {
        let problem = if at >= b.len() { Problem::Eof } else { problem };
        JsonError { problem, offset: at }
    };
    let mut members = Vec::with_capacity(TYPICAL_MEMBERS);
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        trailing(b, i + 1)?;
        return Ok(members);
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return Err(fail(Problem::ExpectedKey, i));
        }
        let (name_close, name_escaped) = string_end(b, i)?;
        let colon = skip_ws(b, name_close + 1);
        if b.get(colon) != Some(&b':') {
            return Err(fail(Problem::ExpectedColon, colon));
        }
        let start = skip_ws(b, colon + 1);
        let (kind, end) = value_end(b, start, 1)?;
        members.push(Member { name_open: i, name_close, name_escaped, start, end, kind });
        i = skip_ws(b, end);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => {
                trailing(b, i + 1)?;
                return Ok(members);
            }
            _ => return Err(fail(Problem::ExpectedCommaOrBrace, i)),
        }
    }
}

impl<'a> Event<'a> {
    /// Wraps the bytes; does not read them.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, arena: Bump::new(), index: OnceCell::new() }
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the bytes have been checked and indexed yet.
    pub fn is_parsed(&self) -> bool {
        self.index.get().is_some()
    }

    fn index(&self) -> Option<&Index<'a>> {
        self.index.get_or_init(|| Index::build(self.bytes)).as_ref().ok()
    }

    fn doc<'e>(&'e self, index: &Index<'a>) -> Doc<'e> {
        Doc { text: index.text, arena: &self.arena }
    }

    /// Checks the bytes (once) and reports whether the event is a JSON object, and if not,
    /// why.
    pub fn check(&self) -> Result<(), &str> {
        match self.index.get_or_init(|| Index::build(self.bytes)) {
            Ok(_) => Ok(()),
            Err(message) => Err(message),
        }
    }

    /// The whole event (an object), or `None` if it is not one.
    pub fn root(&self) -> Option<Value<'_>> {
        let index = self.index()?;
        Some(Value::Object(Object::new(self.doc(index), index.open)))
    }

    /// The top-level field `name` (the last one if the name repeats), from the table of
    /// top-level members: nothing else is read.
    pub fn field(&self, name: &str) -> Option<Value<'_>> {
        let index = self.index()?;
        let doc = self.doc(index);
        let member = index.members.iter().rev().find(|m| m.is_named(doc, name))?;
        Some(doc.value(member.kind, member.start, member.end))
    }

    /// The top-level members in document order (duplicates included).
    pub fn members(&self) -> impl Iterator<Item = (&str, Value<'_>)> {
        self.index().into_iter().flat_map(move |index| {
            let doc = self.doc(index);
            index.members.iter().map(move |m| {
                (doc.string(m.name_open, m.name_close, m.name_escaped), doc.value(m.kind, m.start, m.end))
            })
        })
    }

    /// The value at an RFC 6901 pointer (`"/details/ip"`), `None` if absent or malformed.
    /// Reads only the containers on the way.
    pub fn get(&self, pointer: &str) -> Option<Value<'_>> {
        let mut steps = tokens(pointer)?;
        let Some(first) = steps.next() else { return self.root() };
        let mut current = self.field(&crate::pointer::unescape_token(first)?)?;
        for raw in steps {
            current = current.step(raw)?;
        }
        Some(current)
    }

    /// The string at an RFC 6901 pointer; `None` if absent or not a string.
    pub fn str(&self, pointer: &str) -> Option<&str> {
        self.get(pointer)?.as_str()
    }

    /// The top-level `action`, e.g. `user.login`.
    pub fn action(&self) -> Option<&str> {
        self.field("action")?.as_str()
    }

    /// The top-level `outcome`: `success`, `failure`, `error` or `unknown`.
    pub fn outcome(&self) -> Option<&str> {
        self.field("outcome")?.as_str()
    }

    /// The top-level `user`.
    pub fn user(&self) -> Option<&str> {
        self.field("user")?.as_str()
    }

    /// The top-level `ip`.
    pub fn ip(&self) -> Option<&str> {
        self.field("ip")?.as_str()
    }

    /// Every value below the root (object members and array elements), depth first in
    /// document order.
    pub fn walk(&self) -> Walk<'_> {
        Walk::new(self.index().map(|index| (self.doc(index), index.open)))
    }

    /// Every object member at every depth (including objects inside arrays), depth first.
    pub fn fields(&self) -> Fields<'_> {
        Fields::new(self.walk())
    }

    /// Every string value at every depth (members and array elements), with its pointer.
    pub fn strings(&self) -> Strings<'_> {
        Strings::new(self.walk())
    }
}

#[cfg(test)]
mod tests;
