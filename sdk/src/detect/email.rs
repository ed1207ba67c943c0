//! E-mail addresses.
//!
//! Anchored on each `@`: the local part is the run of `[A-Za-z0-9._%+-]` before it (at most
//! 64 bytes, not starting with a dot), the domain the run of `[A-Za-z0-9.-]` after it. The
//! domain needs at least two labels, no empty label, no label starting or ending with `-`,
//! and a final label of two or more letters. `user@localhost` and `@handle` are not
//! addresses.

use memchr::memchr_iter;

use super::{Kind, Span};

/// Longest local part (RFC 5321).
const MAX_LOCAL: usize = 64;

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// Appends every e-mail address in `text` to `out`.
pub fn find(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let mut taken = 0;
    for at in memchr_iter(b'@', b) {
        if at < taken {
            continue;
        }
        let mut start = at;
        while start > taken && at - start < MAX_LOCAL && is_local(b[start - 1]) {
            start -= 1;
        }
        while start < at && b[start] == b'.' {
            start += 1;
        }
        if start == at {
            continue;
        }
        let mut end = at + 1;
        while end < b.len() && is_domain(b[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if valid_domain(&b[at + 1..end]) {
            out.push(Span::new(Kind::Email, start..end));
            taken = end;
        }
    }
}

fn valid_domain(domain: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in domain.split(|&c| c == b'.') {
        if label.is_empty() || label.len() > 63 || label[0] == b'-' || label[label.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last.len() >= 2 && last.iter().all(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::found;

    #[test]
    fn finds_addresses() {
        assert_eq!(found(find, "alice@example.com"), ["alice@example.com"]);
        assert_eq!(
            found(find, "From: Bob <bob.smith+audit@mail.example.co.uk>"),
            ["bob.smith+audit@mail.example.co.uk"]
        );
        assert_eq!(found(find, "mailto:x_y%z@sub-domain.example.org."), ["x_y%z@sub-domain.example.org"]);
        assert_eq!(found(find, "a@b.co, c@d.io"), ["a@b.co", "c@d.io"]);
        assert_eq!(found(find, "\"carol@example.net\""), ["carol@example.net"]);
        assert_eq!(found(find, ".dot@example.com"), ["dot@example.com"]);
    }

    #[test]
    fn ignores_look_alikes() {
        for text in [
            "user@localhost",
            "@handle",
            "alice@",
            "a@b.c",
            "x@-bad.com",
            "x@bad-.com",
            "x@a..com",
            "price @ 3.50",
            "x@example.c0m",
            "ssh git@10.0.0.1",
            "@@example.com",
        ] {
            assert_eq!(found(find, text), Vec::<&str>::new(), "{text}");
        }
    }
}
