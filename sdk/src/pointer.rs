//! RFC 6901 JSON pointers: escaping tokens, splitting pointers, and [`Pointer`], the cheap
//! path the event iterators hand out.
//!
//! A pointer is `""` (the whole document) or a sequence of `/token`s; in a token `~` is
//! written `~0` and `/` is written `~1`.

use std::borrow::Cow;
use std::fmt;

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

impl Segment<'_> {
    /// Whether the two steps are written the same in a pointer: `Index(3)` and `Key("3")`
    /// are (a pointer's text cannot tell them apart).
    pub fn same_text(self, other: Segment<'_>) -> bool {
        match (self, other) {
            (Segment::Key(a), Segment::Key(b)) => a == b,
            (Segment::Index(a), Segment::Index(b)) => a == b,
            (Segment::Key(k), Segment::Index(i)) | (Segment::Index(i), Segment::Key(k)) => {
                parse_index(k) == Some(i)
            }
        }
    }
}

/// The path of a container, shared by the pointers of all its children. Made by the
/// event's iterators in the event's arena, once per container entered.
#[derive(Debug)]
pub(crate) struct PathNode<'e> {
    parent: Option<&'e PathNode<'e>>,
    segment: Segment<'e>,
}

impl<'e> PathNode<'e> {
    pub(crate) fn new(parent: Option<&'e PathNode<'e>>, segment: Segment<'e>) -> Self {
        Self { parent, segment }
    }
}

/// The location of a value inside an event, formatted as an RFC 6901 pointer on demand
/// (`to_string()`, `Display`, or `String::from`).
///
/// `Copy` and free to keep: the iterators build paths incrementally, one arena node per
/// container entered and none per value, and a pointer is a reference to its container's
/// path plus its own last step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pointer<'e> {
    parent: Option<&'e PathNode<'e>>,
    last: Option<Segment<'e>>,
}

impl<'e> Pointer<'e> {
    /// The pointer to the whole document, `""`.
    pub fn root() -> Self {
        Self::default()
    }

    /// The pointer to `segment` inside the container whose path is `parent`.
    pub(crate) fn new(parent: Option<&'e PathNode<'e>>, segment: Segment<'e>) -> Self {
        Self { parent, last: Some(segment) }
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

    /// The steps from the last one back to the root.
    fn steps_back(&self) -> impl Iterator<Item = Segment<'e>> + '_ {
        let parents = std::iter::successors(self.parent, |node| node.parent).map(|node| node.segment);
        self.last.into_iter().chain(parents)
    }

    /// How many steps from the root (0 for the root).
    pub fn depth(&self) -> usize {
        self.steps_back().count()
    }

    /// True for a top-level member (`/action`), what the event schema describes.
    pub fn is_top_level(&self) -> bool {
        self.last.is_some() && self.parent.is_none()
    }

    /// The steps from the root, in order.
    pub fn segments(&self) -> Vec<Segment<'e>> {
        let mut out: Vec<Segment<'e>> = self.steps_back().collect();
        out.reverse();
        out
    }

    /// Whether `prefix` names this value or one of its containers, compared as pointer
    /// text would be. Allocates nothing.
    pub fn starts_with(&self, prefix: &Pointer<'_>) -> bool {
        let (depth, prefix_depth) = (self.depth(), prefix.depth());
        depth >= prefix_depth
            && self
                .steps_back()
                .skip(depth - prefix_depth)
                .zip(prefix.steps_back())
                .all(|(a, b)| a.same_text(b))
    }

    /// The pointer text of `segment` inside this value: `/details/headers/0` from
    /// `/details/headers` and `Index(0)`.
    pub fn child_text(&self, segment: Segment<'_>) -> String {
        let mut text = self.to_string();
        push_segment(&mut text, segment);
        text
    }
}

/// Appends `/` and the escaped `segment` to a pointer's text.
pub fn push_segment(text: &mut String, segment: Segment<'_>) {
    text.push('/');
    match segment {
        Segment::Key(k) => push_escaped(text, k),
        Segment::Index(i) => text.push_str(&i.to_string()),
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
    if let Some(parent) = node.parent {
        write_node(f, parent)?;
    }
    write_segment(f, node.segment)
}

impl fmt::Display for Pointer<'_> {
    /// Writes the escaped RFC 6901 form, e.g. `/details/a~1b/0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
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
    /// Pointers are equal when their text is.
    fn eq(&self, other: &Self) -> bool {
        self.depth() == other.depth() && self.starts_with(other)
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
        assert!(!root.is_top_level());
        let details_node = PathNode::new(None, Segment::Key("details"));
        let odd_node = PathNode::new(Some(&details_node), Segment::Key("a/b~c"));
        let details = Pointer::new(None, Segment::Key("details"));
        let odd = Pointer::new(Some(&details_node), Segment::Key("a/b~c"));
        let item = Pointer::new(Some(&odd_node), Segment::Index(3));
        assert!(details.is_top_level() && !odd.is_top_level());
        assert_eq!(item.to_string(), "/details/a~1b~0c/3");
        assert_eq!(item.depth(), 3);
        assert_eq!(odd.key(), Some("a/b~c"));
        assert_eq!(item.key(), None);
        assert_eq!(item.last(), Some(Segment::Index(3)));
        assert_eq!(item.segments(), vec![Segment::Key("details"), Segment::Key("a/b~c"), Segment::Index(3)]);
        assert_eq!(String::from(&details), "/details");
        assert_eq!(odd.child_text(Segment::Key("x/y")), "/details/a~1b~0c/x~1y");
        assert_eq!(root.child_text(Segment::Index(0)), "/0");
        assert!(details == "/details");
        assert!(item == "/details/a~1b~0c/3");
        assert!(item != "/details/a~1b~0c/30");
        assert!(item != "/details/a~1b~0c/");
        assert!(root == "");
        assert!(root != "/");
    }

    #[test]
    fn prefixes_and_equality_follow_the_text() {
        let details_node = PathNode::new(None, Segment::Key("details"));
        let list_node = PathNode::new(Some(&details_node), Segment::Key("list"));
        let details = Pointer::new(None, Segment::Key("details"));
        let list = Pointer::new(Some(&details_node), Segment::Key("list"));
        let third = Pointer::new(Some(&list_node), Segment::Index(3));
        let third_by_name = Pointer::new(Some(&list_node), Segment::Key("3"));
        let padded = Pointer::new(Some(&list_node), Segment::Key("03"));
        assert!(third.starts_with(&third) && third.starts_with(&list) && third.starts_with(&details));
        assert!(third.starts_with(&Pointer::root()));
        assert!(!list.starts_with(&third));
        assert!(!details.starts_with(&Pointer::new(None, Segment::Key("detail"))));
        assert_eq!(third, third_by_name, "`/details/list/3` either way");
        assert_ne!(third, padded);
        assert_ne!(list, third);
        assert!(Segment::Index(10).same_text(Segment::Key("10")));
        assert!(!Segment::Index(1).same_text(Segment::Key("01")));
        assert!(!Segment::Key("a").same_text(Segment::Key("b")));
    }
}
