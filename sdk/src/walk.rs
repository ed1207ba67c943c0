//! Depth-first iteration over every value of an event ([`Walk`]), every object member
//! ([`Fields`]) and every string ([`Strings`]), each with its [`Pointer`].
//!
//! One pass over the event's text with one cursor: a container's contents are read when
//! the walk enters it, and stepped over in one scan when it is skipped. Nothing is
//! allocated per value: a pointer is its container's path plus one step, and a path node
//! goes into the event's arena once per container entered. Strings borrow from the event
//! (or its arena, when they held escapes).

use crate::json::scan::{container_end, skip_ws, string_end};
use crate::pointer::{PathNode, Pointer, Segment};
use crate::value::{Doc, Value};

/// A value found by [`Walk`]: where it is and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Node<'e> {
    /// Where the value is.
    pub pointer: Pointer<'e>,
    /// The value.
    pub value: Value<'e>,
    /// The path of this value when it is a container: its children's parent.
    path: Option<&'e PathNode<'e>>,
}

impl<'e> Node<'e> {
    /// The member name, when the value is an object member (not an array element).
    pub fn key(&self) -> Option<&'e str> {
        self.pointer.key()
    }

    /// The pointer to `segment` inside this value, when it is an array or object (the
    /// child need not exist: e.g. a member to set).
    pub fn child(&self, segment: Segment<'e>) -> Option<Pointer<'e>> {
        self.path.map(|path| Pointer::new(Some(path), segment))
    }
}

/// An object member found by [`Fields`].
#[derive(Debug, Clone, Copy)]
pub struct Field<'e> {
    /// Where the member's value is.
    pub pointer: Pointer<'e>,
    /// The member's name (unescaped).
    pub key: &'e str,
    /// The member's value.
    pub value: Value<'e>,
}

/// A container being read: what closes it, how many entries were read, its path.
struct Frame<'e> {
    object: bool,
    entries: usize,
    path: Option<&'e PathNode<'e>>,
}

/// The container the walk returned last, entered on the next `next()` unless skipped.
struct Entering<'e> {
    open: usize,
    object: bool,
    path: &'e PathNode<'e>,
}

/// Depth-first walk over every value below the root, in document order (duplicate
/// member names included, each where it stands).
///
/// After `next()` returns a container, [`Walk::skip_children`] makes the walk step over
/// its contents (e.g. a field that has been masked as a whole).
pub struct Walk<'e> {
    doc: Option<Doc<'e>>,
    /// Where reading goes on in the event's text.
    pos: usize,
    stack: Vec<Frame<'e>>,
    entering: Option<Entering<'e>>,
}

impl<'e> Walk<'e> {
    /// A walk below the object whose `{` is at `open`; `None`: an empty walk.
    pub(crate) fn new(root: Option<(Doc<'e>, usize)>) -> Self {
        match root {
            Some((doc, open)) => Walk {
                doc: Some(doc),
                pos: open + 1,
                stack: vec![Frame { object: true, entries: 0, path: None }],
                entering: None,
            },
            None => Walk { doc: None, pos: 0, stack: Vec::new(), entering: None },
        }
    }

    /// Do not descend into the value the last `next()` returned.
    pub fn skip_children(&mut self) {
        let (Some(entering), Some(doc)) = (self.entering.take(), self.doc) else { return };
        match container_end(doc.bytes(), entering.open, 0) {
            Ok(end) => self.pos = end,
            // The event was checked: cannot happen; end the walk rather than guess.
            Err(_) => self.stack.clear(),
        }
    }

    /// Reads the next entry of the innermost open container; `Ok(None)` when the walk is
    /// over.
    fn read(&mut self, doc: Doc<'e>) -> Result<Option<Node<'e>>, crate::json::JsonError> {
        let b = doc.bytes();
        if let Some(entering) = self.entering.take() {
            self.stack.push(Frame { object: entering.object, entries: 0, path: Some(entering.path) });
            self.pos = entering.open + 1;
        }
        loop {
            let Some(frame) = self.stack.last_mut() else { return Ok(None) };
            let mut i = skip_ws(b, self.pos);
            let close = if frame.object { b'}' } else { b']' };
            if b.get(i) == Some(&close) {
                self.pos = i + 1;
                self.stack.pop();
                continue;
            }
            if frame.entries > 0 {
                // The checked text has `,` here.
                i = skip_ws(b, i + 1);
            }
            let segment = if frame.object {
                let (close, escaped) = string_end(b, i)?;
                let key = doc.string(i, close, escaped);
                let colon = skip_ws(b, close + 1);
                i = skip_ws(b, colon + 1);
                Segment::Key(key)
            } else {
                Segment::Index(frame.entries)
            };
            frame.entries += 1;
            let parent = frame.path;
            let (value, end) = doc.read(i)?;
            self.pos = end;
            let path = match value {
                Value::Object(_) | Value::Array(_) => {
                    let path: &'e PathNode<'e> = doc.arena.alloc(PathNode::new(parent, segment));
                    self.entering =
                        Some(Entering { open: i, object: matches!(value, Value::Object(_)), path });
                    Some(path)
                }
                _ => None,
            };
            return Ok(Some(Node { pointer: Pointer::new(parent, segment), value, path }));
        }
    }
}

impl<'e> Iterator for Walk<'e> {
    type Item = Node<'e>;

    fn next(&mut self) -> Option<Node<'e>> {
        let doc = self.doc?;
        match self.read(doc) {
            Ok(node) => node,
            Err(_) => {
                // The event was checked: cannot happen; end the walk rather than guess.
                self.stack.clear();
                self.entering = None;
                None
            }
        }
    }
}

/// Every object member at every depth; see [`Event::fields`](crate::Event::fields).
pub struct Fields<'e> {
    walk: Walk<'e>,
}

impl<'e> Fields<'e> {
    pub(crate) fn new(walk: Walk<'e>) -> Self {
        Self { walk }
    }

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

/// Every string value at every depth with its pointer; see
/// [`Event::strings`](crate::Event::strings).
pub struct Strings<'e> {
    walk: Walk<'e>,
}

impl<'e> Strings<'e> {
    pub(crate) fn new(walk: Walk<'e>) -> Self {
        Self { walk }
    }
}

impl<'e> Iterator for Strings<'e> {
    type Item = (Pointer<'e>, &'e str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let node = self.walk.next()?;
            if let Value::String(s) = node.value {
                return Some((node.pointer, s));
            }
        }
    }
}
