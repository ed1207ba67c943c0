//! International bank account numbers.
//!
//! An IBAN is a known country code, two check digits and the country's fixed number of
//! uppercase letters and digits, written compact (`DE89370400440532013000`) or in the
//! printed form with single spaces every four characters (`DE89 3704 0044 0532 0130 00`).
//! The ISO 13616 mod-97 check must give 1. Lowercase text is not taken for an IBAN.

use super::scan::is_alnum;
use super::{Kind, Span};

/// Country codes and the total IBAN length in each (the SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// The IBAN length of a country, if it uses IBANs.
pub fn country_length(code: &[u8]) -> Option<usize> {
    LENGTHS.iter().find(|(c, _)| c.as_slice() == code).map(|&(_, len)| len)
}

/// Appends every IBAN in `text` to `out`.
pub fn find(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i + 15 <= b.len() {
        match iban_at(b, i) {
            Some(end) => {
                out.push(Span::new(Kind::Iban, i..end));
                i = end;
            }
            None => i += 1,
        }
    }
}

fn iban_at(b: &[u8], i: usize) -> Option<usize> {
    let head = b.get(i..i + 4)?;
    if !(head[0].is_ascii_uppercase()
        && head[1].is_ascii_uppercase()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit())
        || (i > 0 && is_alnum(b[i - 1]))
    {
        return None;
    }
    let len = country_length(&head[..2])?;
    let mut chars = [0u8; 34];
    chars[..4].copy_from_slice(head);
    let mut n = 4;
    let mut j = i + 4;
    while n < len {
        let c = *b.get(j)?;
        if c == b' ' && n % 4 == 0 && b.get(j + 1).is_some_and(|&d| is_upper_alnum(d)) && b[j - 1] != b' ' {
            j += 1;
            continue;
        }
        if !is_upper_alnum(c) {
            return None;
        }
        chars[n] = c;
        n += 1;
        j += 1;
    }
    if b.get(j).is_some_and(|&c| is_alnum(c)) {
        return None;
    }
    mod97(&chars[..len]).then_some(j)
}

fn is_upper_alnum(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

/// The ISO 13616 check: move the first four characters to the end, read letters as
/// 10–35, and the number must be 1 modulo 97.
pub fn mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in iban[4..].iter().chain(&iban[..4]) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, &mut out);
        out.iter().map(|s| &text[s.range()]).collect()
    }

    #[test]
    fn finds_valid_ibans_compact_and_printed() {
        for iban in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB82WEST12345698765432",
            "GB82 WEST 1234 5698 7654 32",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "NO9386011117947",
            "CH9300762011623852957",
            "BE68539007547034",
        ] {
            assert_eq!(found(iban), [iban], "{iban}");
            let sentence = format!("refund to {iban}.");
            assert_eq!(found(&sentence), [iban], "{sentence}");
        }
    }

    #[test]
    fn ignores_look_alikes() {
        for text in [
            "DE89370400440532013001",       // check digits wrong
            "DE8937040044053201300",        // one character short
            "DE893704004405320130001",      // one too many
            "XX89370400440532013000",       // unknown country
            "de89370400440532013000",       // lowercase
            "ADE89370400440532013000",      // glued to a letter
            "DE89  3704 0044 0532 0130 00", // double space
            "GB82 WEST 1234 5698 7654 3",
            "ORDER12345678901234567",
            "SKU: AB12 3456 7890 1234",
        ] {
            assert_eq!(found(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn mod97_checks() {
        assert!(mod97(b"GB82WEST12345698765432"));
        assert!(!mod97(b"GB83WEST12345698765432"));
        assert!(!mod97(b"GB8"));
        assert_eq!(country_length(b"DE"), Some(22));
        assert_eq!(country_length(b"US"), None);
    }
}
