//! RFC 6901 JSON pointers: escaping tokens, splitting pointers, and [`Pointer`], the cheap
//! path the event iterators hand out.
//!
//! A pointer is `""` (the whole document) or a sequence of `/token`s; in a token `~` is
//! written `~0` and `/` is written `~1`.

use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

/// Escapes one reference token: `~` becomes `~0`, `/` becomes `~1`. Borrows when there is
/// nothing to escape.
pub fn escape_token(token: &str) -> Cow<'_, str> {
    if !token.contains(['~', '/']) {
        return Cow::Borrowed(token);
    }
    let mut out = String::with_capacity(token.len() + 2);
    push_escaped(&mut out, token);
    Cow::Owned(out)
}

/// Appends `token` to `out`, escaped.
pub fn push_escaped(out: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Undoes [`escape_token`]. `None` when the token holds a `~` not followed by `0` or `1`.
pub fn unescape_token(token: &str) -> Option<Cow<'_, str>> {
    if !token.contains('~') {
        return Some(Cow::Borrowed(token));
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(Cow::Owned(out))
}

/// The raw (still escaped) tokens of `pointer`: empty for `""`, `None` when the pointer is
/// neither empty nor starts with `/`.
pub fn tokens(pointer: &str) -> Option<impl Iterator<Item = &str>> {
    let rest = if pointer.is_empty() { None } else { Some(pointer.strip_prefix('/')?) };
    Some(rest.into_iter().flat_map(|r| r.split('/')))
}

/// An array index token as RFC 6901 allows it: `0`, or digits without a leading zero.
pub fn parse_index(token: &str) -> Option<usize> {
    let bytes = token.as_bytes();
    let valid = match bytes {
        [] => false,
        [b'0'] => true,
        [b'0', ..] => false,
        _ => bytes.iter().all(u8::is_ascii_digit),
    };
    if valid { token.parse().ok() } else { None }
}

/// One step of a path: an object member's (unescaped) name, or an array index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'e> {
    /// An object member, by name (not escaped).
    Key(&'e str),
    /// An array element, by position.
    Index(usize),
}

/// A parent path shared by all the children of one container.
#[derive(Debug)]
struct PathNode<'e> {
    parent: Option<Rc<PathNode<'e>>>,
    segment: Segment<'e>,
}

/// The path of a container, from which its children's pointers are made.
#[derive(Debug, Clone)]
pub(crate) struct Base<'e>(Option<Rc<PathNode<'e>>>);

impl<'e> Base<'e> {
    /// The pointer to `segment` inside this container.
    pub(crate) fn child(&self, segment: Segment<'e>) -> Pointer<'e> {
        Pointer { parent: self.0.clone(), last: Some(segment) }
    }
}

/// The location of a value inside an event, formatted as an RFC 6901 pointer on demand
/// (`to_string()`, `Display`, or `String::from`).
///
/// Cheap to create and clone: the iterators share one allocation per container entered,
/// not one string per value.
#[derive(Debug, Clone, Default)]
pub struct Pointer<'e> {
    parent: Option<Rc<PathNode<'e>>>,
    last: Option<Segment<'e>>,
}

impl<'e> Pointer<'e> {
    /// The pointer to the whole document, `""`.
    pub fn root() -> Self {
        Self::default()
    }

    /// The pointer to `segment` inside the value this pointer names.
    pub fn child(&self, segment: Segment<'e>) -> Pointer<'e> {
        self.base().child(segment)
    }

    /// The shared parent of all the children of the value this pointer names: one
    /// allocation, then each child is a reference-count increment.
    pub(crate) fn base(&self) -> Base<'e> {
        Base(match self.last {
            Some(last) => Some(Rc::new(PathNode { parent: self.parent.clone(), segment: last })),
            None => self.parent.clone(),
        })
    }

    /// The last step (`None` for the root).
    pub fn last(&self) -> Option<Segment<'e>> {
        self.last
    }

    /// The member name of the last step, when it is an object member.
    pub fn key(&self) -> Option<&'e str> {
        match self.last {
            Some(Segment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// How many steps from the root (0 for the root).
    pub fn depth(&self) -> usize {
        let mut depth = usize::from(self.last.is_some());
        let mut node = self.parent.as_deref();
        while let Some(n) = node {
            depth += 1;
            node = n.parent.as_deref();
        }
        depth
    }

    /// The steps from the root, in order.
    pub fn segments(&self) -> Vec<Segment<'e>> {
        let mut out: Vec<Segment<'e>> = self.last.into_iter().collect();
        let mut node = self.parent.as_deref();
        while let Some(n) = node {
            out.push(n.segment);
            node = n.parent.as_deref();
        }
        out.reverse();
        out
    }
}

fn write_segment(f: &mut fmt::Formatter<'_>, segment: Segment<'_>) -> fmt::Result {
    match segment {
        Segment::Key(k) => {
            f.write_str("/")?;
            f.write_str(&escape_token(k))
        }
        Segment::Index(i) => write!(f, "/{i}"),
    }
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &PathNode<'_>) -> fmt::Result {
    if let Some(parent) = &node.parent {
        write_node(f, parent)?;
    }
    write_segment(f, node.segment)
}

impl fmt::Display for Pointer<'_> {
    /// Writes the escaped RFC 6901 form, e.g. `/details/a~1b/0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = &self.parent {
            write_node(f, parent)?;
        }
        match self.last {
            Some(last) => write_segment(f, last),
            None => Ok(()),
        }
    }
}

impl From<Pointer<'_>> for String {
    fn from(p: Pointer<'_>) -> String {
        p.to_string()
    }
}

impl From<&Pointer<'_>> for String {
    fn from(p: &Pointer<'_>) -> String {
        p.to_string()
    }
}

impl PartialEq for Pointer<'_> {
    /// Pointers are equal when they name the same steps.
    fn eq(&self, other: &Self) -> bool {
        self.segments() == other.segments()
    }
}

/// Consumes the expected text as the pointer is formatted: comparison without a String.
struct Expect<'t>(&'t str);

impl fmt::Write for Expect<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 = self.0.strip_prefix(s).ok_or(fmt::Error)?;
        Ok(())
    }
}

impl PartialEq<str> for Pointer<'_> {
    /// Compares with the escaped RFC 6901 text.
    fn eq(&self, other: &str) -> bool {
        let mut expect = Expect(other);
        fmt::write(&mut expect, format_args!("{self}")).is_ok() && expect.0.is_empty()
    }
}

impl PartialEq<&str> for Pointer<'_> {
    /// Compares with the escaped RFC 6901 text.
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_tilde_before_slash() {
        assert_eq!(escape_token("plain"), "plain");
        assert!(matches!(escape_token("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_token("a/b"), "a~1b");
        assert_eq!(escape_token("a~b"), "a~0b");
        assert_eq!(escape_token("~1"), "~01");
        assert_eq!(escape_token("/~/"), "~1~0~1");
    }

    #[test]
    fn unescape_round_trips_and_rejects_bad_escapes() {
        for s in ["", "plain", "a/b", "a~b", "~1", "~0~1//~~"] {
            assert_eq!(unescape_token(&escape_token(s)).as_deref(), Some(s));
        }
        assert_eq!(unescape_token("~01").as_deref(), Some("~1"));
        assert_eq!(unescape_token("a~"), None);
        assert_eq!(unescape_token("a~2"), None);
    }

    #[test]
    fn splits_pointers() {
        assert_eq!(tokens("").map(|t| t.collect::<Vec<_>>()), Some(vec![]));
        assert_eq!(tokens("/").map(|t| t.collect::<Vec<_>>()), Some(vec![""]));
        assert_eq!(tokens("/a/b~1c/0").map(|t| t.collect::<Vec<_>>()), Some(vec!["a", "b~1c", "0"]));
        assert!(tokens("a/b").is_none());
    }

    #[test]
    fn parses_indexes_strictly() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("12"), Some(12));
        assert_eq!(parse_index("012"), None);
        assert_eq!(parse_index("-"), None);
        assert_eq!(parse_index("1a"), None);
        assert_eq!(parse_index(""), None);
        assert_eq!(parse_index("+1"), None);
    }

    #[test]
    fn pointer_formats_escaped_path() {
        let root = Pointer::root();
        assert_eq!(root.to_string(), "");
        assert_eq!(root.depth(), 0);
        let details = root.child(Segment::Key("details"));
        let odd = details.child(Segment::Key("a/b~c"));
        let item = odd.child(Segment::Index(3));
        assert_eq!(item.to_string(), "/details/a~1b~0c/3");
        assert_eq!(item.depth(), 3);
        assert_eq!(odd.key(), Some("a/b~c"));
        assert_eq!(item.key(), None);
        assert_eq!(item.segments(), vec![Segment::Key("details"), Segment::Key("a/b~c"), Segment::Index(3)]);
        assert_eq!(String::from(&details), "/details");
        assert!(details == "/details");
        assert!(item == "/details/a~1b~0c/3");
        assert!(item != "/details/a~1b~0c/30");
        assert!(item != "/details/a~1b~0c/");
        assert!(root == "");
        assert!(root != "/");
    }
}
