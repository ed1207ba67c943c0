//! [`Event`]: a read-only, lazily parsed view of one event's JSON bytes, and iterators over
//! its values with their RFC 6901 pointers.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::iter::Enumerate;
use std::slice;

use crate::pointer::{Base, Pointer, Segment};
use crate::value::Value;

/// One event as the gateway sent it: UTF-8 JSON bytes, expected to be an object.
///
/// Nothing is parsed until the first accessor is called; then the bytes are parsed once
/// into a [`Value`] tree that borrows its strings from them. If the bytes are not a JSON
/// object, every accessor answers `None`, the iterators are empty, and [`Event::check`]
/// says why (the runtime fails the event with that message).
#[derive(Debug)]
pub struct Event<'a> {
    bytes: &'a [u8],
    tree: OnceCell<Result<Value<'a>, String>>,
}

impl<'a> Event<'a> {
    /// Wraps the bytes; does not parse them.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, tree: OnceCell::new() }
    }

    /// The raw bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether the bytes have been parsed yet.
    pub fn is_parsed(&self) -> bool {
        self.tree.get().is_some()
    }

    fn tree(&self) -> &Result<Value<'a>, String> {
        self.tree.get_or_init(|| match Value::parse(self.bytes) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(other) => Err(format!("event is not a JSON object (found {})", other.kind())),
            Err(e) => Err(format!("event is not valid JSON: {e}")),
        })
    }

    /// Parses (once) and reports whether the event is a JSON object, and if not, why.
    pub fn check(&self) -> Result<(), &str> {
        match self.tree() {
            Ok(_) => Ok(()),
            Err(message) => Err(message),
        }
    }

    /// The whole event (an object), or `None` if it is not one.
    pub fn root(&self) -> Option<&Value<'a>> {
        self.tree().as_ref().ok()
    }

    /// The top-level field `name`.
    pub fn field(&self, name: &str) -> Option<&Value<'a>> {
        self.root()?.member(name)
    }

    /// The value at an RFC 6901 pointer (`"/details/ip"`), `None` if absent or malformed.
    pub fn get(&self, pointer: &str) -> Option<&Value<'a>> {
        self.root()?.pointer(pointer)
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
        Walk::new(self.root())
    }

    /// Every object member at every depth (including objects inside arrays), depth first.
    pub fn fields(&self) -> Fields<'_> {
        Fields { walk: self.walk() }
    }

    /// Every string value at every depth (members and array elements), with its pointer.
    pub fn strings(&self) -> Strings<'_> {
        Strings { walk: self.walk() }
    }
}

/// A value found by [`Walk`]: where it is and what it is.
#[derive(Debug, Clone)]
pub struct Node<'e> {
    /// Where the value is.
    pub pointer: Pointer<'e>,
    /// The value.
    pub value: &'e Value<'e>,
}

impl<'e> Node<'e> {
    /// The member name, when the value is an object member (not an array element).
    pub fn key(&self) -> Option<&'e str> {
        self.pointer.key()
    }
}

/// An object member found by [`Fields`].
#[derive(Debug, Clone)]
pub struct Field<'e> {
    /// Where the member's value is.
    pub pointer: Pointer<'e>,
    /// The member's name (unescaped).
    pub key: &'e str,
    /// The member's value.
    pub value: &'e Value<'e>,
}

enum Children<'e> {
    Object(slice::Iter<'e, (Cow<'e, str>, Value<'e>)>),
    Array(Enumerate<slice::Iter<'e, Value<'e>>>),
}

struct Frame<'e> {
    base: Base<'e>,
    children: Children<'e>,
}

impl<'e> Frame<'e> {
    fn of(pointer: &Pointer<'e>, value: &'e Value<'e>) -> Option<Self> {
        let children = match value {
            Value::Object(members) => Children::Object(members.iter()),
            Value::Array(items) => Children::Array(items.iter().enumerate()),
            _ => return None,
        };
        Some(Frame { base: pointer.base(), children })
    }
}

/// Depth-first walk over every value below the root, in document order.
///
/// After `next()` returns a container, [`Walk::skip_children`] makes the walk step over
/// its contents (e.g. a field that has been masked as a whole).
pub struct Walk<'e> {
    stack: Vec<Frame<'e>>,
    /// The container last returned, entered on the next `next()` unless skipped.
    pending: Option<(Pointer<'e>, &'e Value<'e>)>,
}

impl<'e> Walk<'e> {
    fn new(root: Option<&'e Value<'e>>) -> Self {
        Walk { stack: Vec::new(), pending: root.map(|r| (Pointer::root(), r)) }
    }

    /// Do not descend into the value the last `next()` returned.
    pub fn skip_children(&mut self) {
        self.pending = None;
    }
}

impl<'e> Iterator for Walk<'e> {
    type Item = Node<'e>;

    fn next(&mut self) -> Option<Node<'e>> {
        if let Some(frame) = self.pending.take().and_then(|(p, v)| Frame::of(&p, v)) {
            self.stack.push(frame);
        }
        loop {
            let frame = self.stack.last_mut()?;
            let (segment, value) = match &mut frame.children {
                Children::Object(members) => match members.next() {
                    Some((k, v)) => (Segment::Key(k.as_ref()), v),
                    None => {
                        self.stack.pop();
                        continue;
                    }
                },
                Children::Array(items) => match items.next() {
                    Some((i, v)) => (Segment::Index(i), v),
                    None => {
                        self.stack.pop();
                        continue;
                    }
                },
            };
            let pointer = frame.base.child(segment);
            if value.is_container() {
                self.pending = Some((pointer.clone(), value));
            }
            return Some(Node { pointer, value });
        }
    }
}

/// Every object member at every depth; see [`Event::fields`].
pub struct Fields<'e> {
    walk: Walk<'e>,
}

impl Fields<'_> {
    /// Do not descend into the value of the member the last `next()` returned.
    pub fn skip_children(&mut self) {
        self.walk.skip_children();
    }
}

impl<'e> Iterator for Fields<'e> {
    type Item = Field<'e>;

    fn next(&mut self) -> Option<Field<'e>> {
        loop {
            let node = self.walk.next()?;
            if let Some(key) = node.key() {
                return Some(Field { pointer: node.pointer, key, value: node.value });
            }
        }
    }
}

/// Every string value at every depth with its pointer; see [`Event::strings`].
pub struct Strings<'e> {
    walk: Walk<'e>,
}

impl<'e> Iterator for Strings<'e> {
    type Item = (Pointer<'e>, &'e str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let node = self.walk.next()?;
            if let Value::String(s) = node.value {
                return Some((node.pointer, s.as_ref()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGIN: &[u8] = br#"{
        "action": "user.login", "outcome": "failure", "user": "alice", "ip": "192.0.2.7",
        "details": {"reason": "wrong_password", "attempts": 3, "a/b": {"c~d": "deep"},
                    "list": ["x", {"k": "y"}, 5, ["z"]]},
        "changes": {"before": {"role": "user"}, "after": {"role": "admin"}}
    }"#;

    #[test]
    fn top_level_accessors() {
        let e = Event::new(LOGIN);
        assert!(!e.is_parsed());
        assert_eq!(e.action(), Some("user.login"));
        assert!(e.is_parsed());
        assert_eq!(e.outcome(), Some("failure"));
        assert_eq!(e.user(), Some("alice"));
        assert_eq!(e.ip(), Some("192.0.2.7"));
        assert_eq!(e.str("/details/reason"), Some("wrong_password"));
        assert_eq!(e.str("/details/attempts"), None);
        assert_eq!(e.get("/details/attempts").and_then(Value::as_u64), Some(3));
        assert_eq!(e.str("/details/a~1b/c~0d"), Some("deep"));
        assert_eq!(e.str("/details/list/1/k"), Some("y"));
        assert_eq!(e.str("/changes/after/role"), Some("admin"));
        assert_eq!(e.get("/nope"), None);
        assert!(e.check().is_ok());
    }

    #[test]
    fn strings_with_pointers_over_nested_objects_and_arrays() {
        let e = Event::new(LOGIN);
        let found: Vec<(String, &str)> = e.strings().map(|(p, s)| (p.to_string(), s)).collect();
        assert_eq!(
            found,
            vec![
                ("/action".to_string(), "user.login"),
                ("/outcome".to_string(), "failure"),
                ("/user".to_string(), "alice"),
                ("/ip".to_string(), "192.0.2.7"),
                ("/details/reason".to_string(), "wrong_password"),
                ("/details/a~1b/c~0d".to_string(), "deep"),
                ("/details/list/0".to_string(), "x"),
                ("/details/list/1/k".to_string(), "y"),
                ("/details/list/3/0".to_string(), "z"),
                ("/changes/before/role".to_string(), "user"),
                ("/changes/after/role".to_string(), "admin"),
            ]
        );
        // every pointer leads back to its string
        for (p, s) in e.strings() {
            assert_eq!(e.str(&p.to_string()), Some(s));
        }
    }

    #[test]
    fn fields_at_every_depth_and_skipping() {
        let e = Event::new(LOGIN);
        let keys: Vec<String> = e.fields().map(|f| f.pointer.to_string()).collect();
        assert_eq!(
            keys,
            [
                "/action",
                "/outcome",
                "/user",
                "/ip",
                "/details",
                "/details/reason",
                "/details/attempts",
                "/details/a~1b",
                "/details/a~1b/c~0d",
                "/details/list",
                "/details/list/1/k",
                "/changes",
                "/changes/before",
                "/changes/before/role",
                "/changes/after",
                "/changes/after/role",
            ]
        );
        let mut fields = e.fields();
        let mut seen = Vec::new();
        while let Some(f) = fields.next() {
            if f.key == "details" || f.key == "before" {
                fields.skip_children();
            }
            seen.push(f.pointer.to_string());
        }
        assert_eq!(
            seen,
            [
                "/action",
                "/outcome",
                "/user",
                "/ip",
                "/details",
                "/changes",
                "/changes/before",
                "/changes/after",
                "/changes/after/role"
            ]
        );
    }

    #[test]
    fn walk_sees_array_elements() {
        let e = Event::new(br#"{"a":[1,[2]]}"#);
        let all: Vec<String> = e.walk().map(|n| format!("{}={}", n.pointer, n.value)).collect();
        assert_eq!(all, ["/a=[1,[2]]", "/a/0=1", "/a/1=[2]", "/a/1/0=2"]);
    }

    #[test]
    fn lazy_parse_of_a_non_object() {
        for (bytes, why) in [
            (&b"[1,2]"[..], "event is not a JSON object (found array)"),
            (b"\"text\"", "event is not a JSON object (found string)"),
            (b"null", "event is not a JSON object (found null)"),
        ] {
            let e = Event::new(bytes);
            assert!(!e.is_parsed());
            assert_eq!(e.action(), None);
            assert!(e.is_parsed());
            assert_eq!(e.strings().count(), 0);
            assert_eq!(e.fields().count(), 0);
            assert!(e.root().is_none());
            assert_eq!(e.check(), Err(why));
        }
        let e = Event::new(b"{\"action\":");
        assert!(e.check().is_err_and(|m| m.starts_with("event is not valid JSON: ")));
        assert_eq!(e.get(""), None);
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let e = Event::new(br#"{"k\/x":"a\"b","t":"\u00e9"}"#);
        let found: Vec<(String, &str)> = e.strings().map(|(p, s)| (p.to_string(), s)).collect();
        assert_eq!(found, vec![("/k~1x".to_string(), "a\"b"), ("/t".to_string(), "é")]);
    }
}
