//! US social security numbers.
//!
//! Only the written form `AAA-GG-SSSS` (or with single spaces) is recognised: nine bare
//! digits are too common to mean an SSN. Numbers that were never issued are excluded:
//! area `000`, `666` or `900`–`999`, group `00`, serial `0000`, and the two numbers
//! published in advertising (`078-05-1120`, `219-09-9999`). The number must stand alone:
//! not glued to letters or digits, and not part of a longer sequence using the same
//! separator (`1-123-45-6789`, `123-45-6789-0`).

use super::scan::{ends_clean, is_word};
use super::{Kind, Span};

/// `AAA-GG-SSSS`.
const LEN: usize = 11;

/// Appends every SSN in `text` to `out`.
pub fn find(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    if b.len() < LEN {
        return;
    }
    let mut i = 0;
    while i + LEN <= b.len() {
        if let Some(end) = ssn_at(b, i) {
            out.push(Span::new(Kind::Ssn, i..end));
            i = end;
        } else {
            i += 1;
        }
    }
}

fn ssn_at(b: &[u8], i: usize) -> Option<usize> {
    let w = &b[i..i + LEN];
    let sep = w[3];
    let digits_at = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
    if !matches!(sep, b'-' | b' ') || w[6] != sep || !digits_at(0..3) || !digits_at(4..6) || !digits_at(7..11)
    {
        return None;
    }
    let end = i + LEN;
    // Not glued to a word, and not the middle of a longer number using the same separator.
    let continues_before = i >= 2 && b[i - 1] == sep && b[i - 2].is_ascii_digit();
    let before_ok = i == 0 || !(is_word(b[i - 1]) || continues_before);
    let continues_after = b.get(end) == Some(&sep) && b.get(end + 1).is_some_and(u8::is_ascii_digit);
    let after_ok = ends_clean(b, end, is_word) && !continues_after;
    if !before_ok || !after_ok {
        return None;
    }
    let number = |r: std::ops::Range<usize>| w[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let (area, group, serial) = (number(0..3), number(4..6), number(7..11));
    let issued = area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
    let advertised = (area, group, serial) == (78, 5, 1120) || (area, group, serial) == (219, 9, 9999);
    (issued && !advertised).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::found;

    #[test]
    fn finds_valid_numbers() {
        assert_eq!(found(find, "123-45-6789"), ["123-45-6789"]);
        assert_eq!(found(find, "SSN: 123 45 6789."), ["123 45 6789"]);
        assert_eq!(found(find, "ssn=899-99-9999;"), ["899-99-9999"]);
        assert_eq!(found(find, "a 001-01-0001 b 665-12-3456"), ["001-01-0001", "665-12-3456"]);
        assert_eq!(found(find, "(123-45-6789)"), ["123-45-6789"]);
    }

    #[test]
    fn excludes_never_issued_ranges() {
        for text in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-12-3456",
            "123-00-4567",
            "123-45-0000",
            "078-05-1120",
            "219-09-9999",
        ] {
            assert_eq!(found(find, text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn ignores_look_alikes() {
        for text in [
            "123456789",     // bare digits
            "123-456-789",   // wrong grouping
            "123-45 6789",   // mixed separators
            "1-123-45-6789", // part of a longer dashed number
            "123-45-6789-0",
            "555 123 45 6789 1", // inside a longer spaced number
            "a123-45-6789",
            "123-45-67890",
            "2024-05-01",
            "ISBN 978-3-16-148410-0",
        ] {
            assert_eq!(found(find, text), Vec::<&str>::new(), "{text}");
        }
    }
}
