//! Secrets that a text names itself ([`Kind::NamedSecret`]): the value of a secret-named
//! parameter, header, assignment or JSON member *inside* a string, and the password of a
//! URL. Whether a name is secret is decided by a [`NameMatcher`], the same rule that masks
//! fields by name, so `token_count=3` stays and `X-Api-Key: abc` does not.
//!
//! What is found (only the value is reported, so masking keeps the name):
//! - `name=value` anywhere: URL query parameters (`?access_token=…&`), form bodies, logfmt,
//!   environment entries (`DB_PASSWORD=…`). In a query (after `?`, `&` or `;`) the value
//!   ends at `&`, `#`, `;`, a quote or white space, and the bare names `key`, `sig` and
//!   `signature` (and names ending in the word `signature`) count as secret too; elsewhere
//!   it ends at white space or a quote.
//! - `Name: value` at the start of a line: header lines (`X-Api-Key: …`) and config text;
//!   the value runs to the end of the line. After `Bearer `/`Basic ` only the credential is
//!   reported, so the bearer and basic detectors name it when they recognise it.
//! - `"name": "value"` (and `'name': …`): JSON or Python text kept in a string.
//! - `scheme://user:password@host`: the password of a URL.
//!
//! A quoted value (`password="a b"`) runs to its closing quote (backslash escapes
//! honoured).

use std::sync::OnceLock;

use memchr::memmem;

use super::names::NameMatcher;
use super::{Kind, Span};

/// Query parameters that are secret in a URL although their name alone is not: API keys
/// (`?key=AIza…`) and request signatures (`X-Amz-Signature`, Azure SAS `sig`).
const URL_SECRET_PARAMS: &[&str] = &["key", "sig", "signature"];

/// Whether a query parameter named `name` carries a key or signature: one of
/// [`URL_SECRET_PARAMS`] exactly, or a name ending in the word `signature`
/// (`X-Amz-Signature`, `X-Goog-Signature`).
fn is_url_secret_param(name: &str) -> bool {
    URL_SECRET_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p))
        || super::names::words(name).last().is_some_and(|w| w == "signature")
}

/// The longest name considered (longer runs are data, not names).
const MAX_NAME: usize = 96;

/// The built-in name rule, for callers that configure none.
pub fn default_names() -> &'static NameMatcher {
    static DEFAULT: OnceLock<NameMatcher> = OnceLock::new();
    DEFAULT.get_or_init(NameMatcher::secrets)
}

/// `[A-Za-z0-9_.-]`: the bytes of an unquoted name.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Appends every secret `text` names (per `names`) to `out`.
pub fn find(text: &str, names: &NameMatcher, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    find_url_passwords(b, out);
    for at in memchr::memchr2_iter(b'=', b':', b) {
        if let Some(span) = assignment_at(text, at, names) {
            out.push(span);
        }
    }
}

/// `scheme://user:password@host`: the password.
fn find_url_passwords(b: &[u8], out: &mut Vec<Span>) {
    for at in memmem::find_iter(b, b"://") {
        let start = at + 3;
        let len = b[start..]
            .iter()
            .position(|&c| {
                matches!(c, b'/' | b'?' | b'#' | b'@' | b'"' | b'\'' | b'<' | b'>') || c.is_ascii_whitespace()
            })
            .unwrap_or(b.len() - start);
        if b.get(start + len) != Some(&b'@') {
            continue;
        }
        let userinfo = &b[start..start + len];
        if let Some(colon) = userinfo.iter().position(|&c| c == b':') {
            let (from, to) = (start + colon + 1, start + len);
            if to > from {
                out.push(Span::new(Kind::NamedSecret, from..to));
            }
        }
    }
}

/// Where a name ends before the separator at `at`: spaces are skipped before `=` and
/// after a quoted name.
struct Name {
    start: usize,
    end: usize,
    quoted: bool,
}

/// The name before the separator at `at`, if there is one.
fn name_before(b: &[u8], at: usize) -> Option<Name> {
    let mut end = at;
    while end > 0 && is_blank(b[end - 1]) {
        end -= 1;
    }
    let last = *b.get(end.checked_sub(1)?)?;
    if last == b'"' || last == b'\'' {
        let close = end - 1;
        let open = b[..close].iter().rposition(|&c| c == last)?;
        let len = close - open - 1;
        return (len > 0 && len <= MAX_NAME && !b[open + 1..close].contains(&b'\n')).then_some(Name {
            start: open + 1,
            end: close,
            quoted: true,
        });
    }
    if end != at && b[at] == b':' {
        return None; // `token : x` unquoted: prose, not a header line
    }
    let start = b[..end].iter().rposition(|&c| !is_name_byte(c)).map_or(0, |p| p + 1);
    (end > start && end - start <= MAX_NAME).then_some(Name { start, end, quoted: false })
}

/// Whether only blanks stand between the start of the line and `at`.
fn starts_line(b: &[u8], at: usize) -> bool {
    b[..at].iter().rev().take_while(|&&c| c != b'\n' && c != b'\r').all(|&c| is_blank(c))
}

/// The secret value of the `name=value` / `Name: value` / `"name": value` at separator
/// `at`, if its name is secret.
fn assignment_at(text: &str, at: usize, names: &NameMatcher) -> Option<Span> {
    let b = text.as_bytes();
    let name = name_before(b, at)?;
    let colon = b[at] == b':';
    let header_line = colon && !name.quoted;
    if header_line && !starts_line(b, name.start) {
        return None;
    }
    let in_query =
        !colon && !name.quoted && name.start > 0 && matches!(b[name.start - 1], b'?' | b'&' | b';');
    let name_text = text.get(name.start..name.end)?;
    let secret = names.matches(name_text) || (in_query && is_url_secret_param(name_text));
    if !secret {
        return None;
    }
    let mut start = at + 1;
    while start < b.len() && is_blank(b[start]) {
        start += 1;
    }
    let (from, to) = match b.get(start) {
        None => return None,
        Some(&q) if q == b'"' || q == b'\'' => (start + 1, closing_quote(b, start + 1, q)),
        Some(_) if header_line => {
            let end =
                b[start..].iter().position(|&c| c == b'\n' || c == b'\r').map_or(b.len(), |p| start + p);
            let end = start + b[start..end].iter().rposition(|&c| !is_blank(c)).map_or(0, |p| p + 1);
            (skip_auth_scheme(b, start, end), end)
        }
        Some(&c) if c == b'=' || c == b'{' || c == b'[' => return None, // padding, nested
        Some(_) => {
            let stop = |c: u8| {
                c.is_ascii_whitespace()
                    || c == b'"'
                    || c == b'\''
                    || (in_query && matches!(c, b'&' | b'#' | b';' | b'<' | b'>'))
                    || (name.quoted && matches!(c, b',' | b'}' | b']'))
            };
            (start, b[start..].iter().position(|&c| stop(c)).map_or(b.len(), |p| start + p))
        }
    };
    (to > from).then(|| Span::new(Kind::NamedSecret, from..to))
}

/// The end of a quoted value starting at `from` (before the closing `quote`, or the end of
/// the text when it is not closed).
fn closing_quote(b: &[u8], from: usize, quote: u8) -> usize {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i,
            _ => i += 1,
        }
    }
    b.len()
}

/// Past `Bearer `/`Basic ` at `start` (so the credential alone is reported), else `start`.
fn skip_auth_scheme(b: &[u8], start: usize, end: usize) -> usize {
    for scheme in [&b"bearer"[..], b"basic"] {
        let after = start + scheme.len();
        if end > after && b[start..after].eq_ignore_ascii_case(scheme) && is_blank(b[after]) {
            let mut i = after;
            while i < end && is_blank(b[i]) {
                i += 1;
            }
            return i;
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, default_names(), &mut out);
        out.iter().map(|s| &text[s.range()]).collect()
    }

    #[test]
    fn url_query_parameters() {
        assert_eq!(found("https://api.example.com/v1/x?access_token=abc123&state=ok"), ["abc123"]);
        assert_eq!(found("GET /cb?code=1&api_key=k-9#frag"), ["k-9"]);
        assert_eq!(found("https://maps.example.com/js?key=AIzaSyB&v=3"), ["AIzaSyB"]);
        assert_eq!(found("https://b.blob.core.windows.net/c?sv=2020&sig=abc%2Bdef%3D"), ["abc%2Bdef%3D"]);
        assert_eq!(found("/download?X-Amz-Credential=AKIA/x&X-Amz-Signature=ff00"), ["AKIA/x", "ff00"]);
        assert_eq!(found("/p?Password=hunter2;other=1"), ["hunter2"]);
        // Not secret: the names, or `key` outside a query.
        assert_eq!(found("https://example.com/a?page=2&sort_key=name&token_count=3"), Vec::<&str>::new());
        assert_eq!(found("key=value"), Vec::<&str>::new());
    }

    #[test]
    fn assignments_and_environment_entries() {
        assert_eq!(found("DB_PASSWORD=s3cr3t"), ["s3cr3t"]);
        assert_eq!(found("export GITHUB_TOKEN=ghx_1 && run"), ["ghx_1"]);
        assert_eq!(found("level=info user=bob password=\"a b c\" took=3ms"), ["a b c"]);
        assert_eq!(found("secret = 'x\\'y'"), ["x\\'y"]);
        assert_eq!(found("a=1&password=p&b=2"), ["p"]);
        assert_eq!(found("password=p&b=2 rest"), ["p&b=2"]);
        assert_eq!(found("dGVzdA== and xPan=="), Vec::<&str>::new());
    }

    #[test]
    fn header_lines() {
        assert_eq!(found("X-Api-Key: abc123"), ["abc123"]);
        assert_eq!(
            found("GET / HTTP/1.1\r\nHost: example.com\r\nX-Auth-Token:  t0k3n \r\nAccept: */*"),
            ["t0k3n"]
        );
        assert_eq!(found("Cookie: sid=1; theme=dark\nnext"), ["sid=1; theme=dark"]);
        assert_eq!(found("Authorization: Bearer abc.def"), ["abc.def"]);
        assert_eq!(found("  proxy-authorization: Basic dXNlcjpwYXNz"), ["dXNlcjpwYXNz"]);
        assert_eq!(found("Authorization: Digest username=\"a\""), ["Digest username=\"a\""]);
        // Not at the start of a line, or not a secret name: prose and times.
        assert_eq!(found("retrying with Authorization: x"), Vec::<&str>::new());
        assert_eq!(found("Token count: 5\nAuthor: Ann\n12:30"), Vec::<&str>::new());
        assert_eq!(found("Mozilla/5.0 (Windows NT 10.0; rv:109.0) Gecko/20100101"), Vec::<&str>::new());
    }

    #[test]
    fn json_and_python_text() {
        assert_eq!(found(r#"{"user": "bob", "password": "hunter2", "n": 1}"#), ["hunter2"]);
        assert_eq!(found(r#"{"clientSecret":"a\"b","pin":1234}"#), [r#"a\"b"#, "1234"]);
        assert_eq!(found("{'apiKey': 'k1'}"), ["k1"]);
        assert_eq!(found(r#"{"password_policy": "strict", "auth": {"x": 1}}"#), Vec::<&str>::new());
    }

    #[test]
    fn url_passwords() {
        assert_eq!(found("postgres://app:pa55@db.internal:5432/app"), ["pa55"]);
        assert_eq!(found("see redis://:only-pass@cache/0 now"), ["only-pass"]);
        assert_eq!(found("https://user@example.com/ and https://example.com/a:b@c"), Vec::<&str>::new());
    }

    #[test]
    fn configured_names_are_honoured() {
        let names = match NameMatcher::builder().secret_names(["card_holder"]).build() {
            Ok(n) => n,
            Err(e) => panic!("{e}"),
        };
        let mut out = Vec::new();
        find("cardHolder=Ann&x=1", &names, &mut out);
        assert_eq!(out.len(), 1);
    }
}
