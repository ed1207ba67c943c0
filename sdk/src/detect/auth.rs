//! Credentials of HTTP `Authorization` values: `Bearer <token>` and `Basic <base64>`.
//!
//! The scheme word matches in any case and must start a word; one or more spaces (or a
//! `:` and spaces, as in `Bearer: x`) separate it from the credential. Only the credential
//! is reported, so masking keeps the scheme: `Bearer [REDACTED:bearer]`.
//!
//! - Bearer: a token68 (`[A-Za-z0-9-._~+/]+=*`) of at least 8 characters containing a digit
//!   or one of `-._~+/=`, so that prose (`bearer authentication`) is not taken for one.
//! - Basic: standard base64 of at least 4 characters that decodes to printable UTF-8
//!   holding a `:` (`user:password`); `Basic usage` is not a credential.

use super::scan::{decode_base64, ends_clean, find_ignore_case, is_base64, is_word, run, starts_clean};
use super::{Kind, Span};

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// Where the credential after the scheme word at `at` (of `len` bytes) starts, if the
/// word stands alone and is followed by a separator.
fn credential_start(b: &[u8], at: usize, len: usize) -> Option<usize> {
    if !starts_clean(b, at, is_word) {
        return None;
    }
    let mut i = at + len;
    if b.get(i) == Some(&b':') {
        i += 1;
    }
    let spaces = run(b, i, |c| c == b' ' || c == b'\t');
    (spaces > 0).then_some(i + spaces)
}

/// Appends the credential of every `Bearer` authorization in `text` to `out`.
pub fn find_bearer(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    for at in find_ignore_case(b, b"bearer") {
        let Some(start) = credential_start(b, at, 6) else { continue };
        let body = run(b, start, is_token68);
        let end = start + body + run(b, start + body, |c| c == b'=');
        let token = &b[start..end];
        let looks_random = token.iter().any(|&c| c.is_ascii_digit() || !c.is_ascii_alphanumeric());
        if body >= 8 && looks_random && ends_clean(b, end, is_word) {
            out.push(Span::new(Kind::Bearer, start..end));
        }
    }
}

/// Appends the credential of every `Basic` authorization in `text` to `out`.
pub fn find_basic(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    for at in find_ignore_case(b, b"basic") {
        let Some(start) = credential_start(b, at, 5) else { continue };
        let body = run(b, start, is_base64);
        let pad = run(b, start + body, |c| c == b'=').min(2);
        let end = start + body + pad;
        if body < 4 || b.get(end).is_some_and(|&c| is_base64(c) || c == b'=') {
            continue;
        }
        let decoded = decode_base64(&b[start..end]);
        let is_pair = decoded
            .as_deref()
            .and_then(|d| std::str::from_utf8(d).ok())
            .is_some_and(|s| s.contains(':') && !s.starts_with(':') && s.chars().all(|c| !c.is_control()));
        if is_pair {
            out.push(Span::new(Kind::BasicAuth, start..end));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::found;

    #[test]
    fn finds_bearer_credentials() {
        assert_eq!(found(find_bearer, "Bearer abc123def456"), ["abc123def456"]);
        assert_eq!(
            found(find_bearer, "Authorization: bearer tok-en.with_parts~+/=="),
            ["tok-en.with_parts~+/=="]
        );
        assert_eq!(found(find_bearer, "BEARER   A1b2C3d4E5"), ["A1b2C3d4E5"]);
        assert_eq!(found(find_bearer, "Bearer: 0123456789"), ["0123456789"]);
        assert_eq!(found(find_bearer, "h=Bearer\tmF_9.B5f-4.1JqM"), ["mF_9.B5f-4.1JqM"]);
        assert_eq!(found(find_bearer, "a: Bearer xyz12345, b: Bearer qrs67890"), ["xyz12345", "qrs67890"]);
    }

    #[test]
    fn ignores_bearer_prose() {
        for text in [
            "bearer authentication",
            "the Bearer of this letter",
            "Bearer short1",
            "Bearer",
            "Bearerabc123def456",
            "cupbearer abc123def456",
        ] {
            assert_eq!(found(find_bearer, text), Vec::<&str>::new(), "{text}");
        }
        // Punctuation that is not token68 ends the token.
        assert_eq!(found(find_bearer, "Bearer abc123def456!x"), ["abc123def456"]);
    }

    #[test]
    fn finds_basic_credentials() {
        assert_eq!(found(find_basic, "Basic dXNlcjpwYXNz"), ["dXNlcjpwYXNz"]);
        assert_eq!(
            found(find_basic, "authorization: basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            ["QWxhZGRpbjpvcGVuIHNlc2FtZQ=="]
        );
        assert_eq!(found(find_basic, "Basic YTpi"), ["YTpi"]);
        assert_eq!(found(find_basic, "Basic: dXNlcjpwYXNz;"), ["dXNlcjpwYXNz"]);
    }

    #[test]
    fn ignores_basic_look_alikes() {
        for text in [
            "Basic usage of the API",
            "basic information",
            "Basic dXNlcnBhc3M=", // "userpass": no colon
            "Basic OnBhc3M=",     // ":pass": no user
            "Basic AAECAwQFBgc=", // binary
            "Basic",
            "basicdXNlcjpwYXNz",
            "Basic dXNlcjpwYXNz===", // too much padding
        ] {
            assert_eq!(found(find_basic, text), Vec::<&str>::new(), "{text}");
        }
    }
}
