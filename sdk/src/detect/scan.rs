//! Byte-level helpers shared by the detectors: character classes, maximal runs, boundary
//! checks and case-insensitive search. Everything works on UTF-8 bytes; every class here is
//! ASCII, so a span found with them always starts and ends on a character boundary.

use memchr::memchr2_iter;

/// `[A-Za-z0-9]`.
pub(crate) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `[A-Za-z0-9_]`: what a token prefix must not follow.
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `[A-Za-z0-9+/]`: standard base64 without padding.
pub(crate) fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// `[A-Za-z0-9_-]`: base64url without padding.
pub(crate) fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// How many bytes from `start` satisfy `class` (0 when `start` is past the end).
pub(crate) fn run(bytes: &[u8], start: usize, class: impl Fn(u8) -> bool) -> usize {
    bytes.get(start..).map_or(0, |rest| rest.iter().take_while(|&&b| class(b)).count())
}

/// Whether the byte before `at` (if any) is outside `class`.
pub(crate) fn starts_clean(bytes: &[u8], at: usize, class: impl Fn(u8) -> bool) -> bool {
    at == 0 || !class(bytes[at - 1])
}

/// Whether the byte at `at` (if any) is outside `class`.
pub(crate) fn ends_clean(bytes: &[u8], at: usize, class: impl Fn(u8) -> bool) -> bool {
    bytes.get(at).is_none_or(|&b| !class(b))
}

/// Positions where `needle` (lowercase ASCII, non-empty) occurs in `hay`, ignoring ASCII
/// case. Candidates come from `memchr2` on the first letter's two cases.
pub(crate) fn find_ignore_case<'h>(hay: &'h [u8], needle: &'static [u8]) -> impl Iterator<Item = usize> + 'h {
    let first = needle.first().copied().unwrap_or(0);
    memchr2_iter(first, first.to_ascii_uppercase(), hay)
        .filter(move |&i| hay.get(i..i + needle.len()).is_some_and(|w| w.eq_ignore_ascii_case(needle)))
}

/// Decodes standard base64 (padding optional). `None` when a character is outside the
/// alphabet or the length is impossible.
pub(crate) fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let body = text.strip_suffix(b"==").or_else(|| text.strip_suffix(b"=")).unwrap_or(text);
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in body {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_boundaries() {
        let b = b"ab12_-cd";
        assert_eq!(run(b, 0, is_alnum), 4);
        assert_eq!(run(b, 0, is_word), 5);
        assert_eq!(run(b, 0, is_base64url), 8);
        assert_eq!(run(b, 9, is_alnum), 0);
        assert!(starts_clean(b, 0, is_word));
        assert!(!starts_clean(b, 2, is_word));
        assert!(starts_clean(b, 6, is_word));
        assert!(ends_clean(b, 8, is_word));
        assert!(ends_clean(b, 5, is_word));
        assert!(!ends_clean(b, 4, is_word));
    }

    #[test]
    fn finds_ignoring_case() {
        let hay = b"Bearer x bEaReR y bear";
        assert_eq!(find_ignore_case(hay, b"bearer").collect::<Vec<_>>(), vec![0, 9]);
        assert_eq!(find_ignore_case(b"", b"bearer").count(), 0);
    }

    #[test]
    fn decodes_base64() {
        assert_eq!(decode_base64(b"dXNlcjpwYXNz").as_deref(), Some(&b"user:pass"[..]));
        assert_eq!(decode_base64(b"YTpi").as_deref(), Some(&b"a:b"[..]));
        assert_eq!(decode_base64(b"YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode_base64(b"YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64(b"YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64(b"Y"), None);
        assert_eq!(decode_base64(b"a-b_"), None);
    }
}
