//! The text of a JSON string with its escapes resolved.

use std::fmt::Write;

use super::scan::hex4;

/// Appends the text of a string (`raw`: what lies between its quotes, checked by
/// [`string_end`](super::scan::string_end)) to `out`, escapes resolved. Unchecked input
/// cannot make it fail: an escape that is not valid becomes U+FFFD.
pub(crate) fn unescape_into<W: Write>(raw: &str, out: &mut W) {
    let b = raw.as_bytes();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'\\', &b[from..]) {
        let at = from + found;
        // Writing to a String or a bump String cannot fail.
        let _ = out.write_str(raw.get(copied..at).unwrap_or_default());
        let (c, len) = escape(b, at);
        let _ = out.write_char(c);
        copied = at + len;
        from = copied;
    }
    let _ = out.write_str(raw.get(copied..).unwrap_or_default());
}

/// The character the escape at `at` stands for, and its length in bytes.
fn escape(b: &[u8], at: usize) -> (char, usize) {
    let simple = match b.get(at + 1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return unicode(b, at),
        _ => return (char::REPLACEMENT_CHARACTER, 1),
    };
    (simple, 2)
}

/// A `\uXXXX` escape (or a pair of them for a character beyond the BMP) at `at`.
fn unicode(b: &[u8], at: usize) -> (char, usize) {
    let Ok(unit) = hex4(b, at + 2) else { return (char::REPLACEMENT_CHARACTER, 2) };
    if let 0xD800..=0xDBFF = unit
        && b.get(at + 6..at + 8) == Some(b"\\u")
        && let Ok(low @ 0xDC00..=0xDFFF) = hex4(b, at + 8)
    {
        let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
        return (char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER), 12);
    }
    (char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER), 6)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescaped(raw: &str) -> String {
        let mut out = String::new();
        unescape_into(raw, &mut out);
        out
    }

    #[test]
    fn resolves_every_escape_like_serde_json() {
        for raw in [
            "",
            "plain",
            r#"a\"b"#,
            r"back\\slash\/slash",
            r"\b\f\n\r\t",
            r"caf\u00e9 \u00E9",
            r"\ud83d\ude00 smile",
            r"\u0000 nul",
            r"mixed é \n ✓",
        ] {
            let expected: String = serde_json::from_str(&format!("\"{raw}\"")).expect("valid JSON");
            assert_eq!(unescaped(raw), expected, "{raw}");
        }
    }

    #[test]
    fn unchecked_bad_escapes_become_replacement_characters() {
        assert_eq!(unescaped(r"a\x"), "a\u{fffd}x");
        assert_eq!(unescaped(r"\ud800 lone"), "\u{fffd} lone");
        assert_eq!(unescaped(r"\u12"), "\u{fffd}12");
        assert_eq!(unescaped("end\\"), "end\u{fffd}");
    }
}
