//! International bank account numbers.
//!
//! An IBAN is a known country code, two check digits and the country's fixed number of
//! uppercase letters and digits, written compact (`DE89370400440532013000`) or in the
//! printed form with single spaces every four characters (`DE89 3704 0044 0532 0130 00`).
//! The ISO 13616 mod-97 check must give 1. Lowercase text is not taken for an IBAN.

use super::scan::is_alnum;
use super::{Kind, Span};

/// Country codes and the total IBAN length in each (the SWIFT IBAN registry), as
/// `CCnn` entries separated by single spaces.
const LENGTHS: &str = "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 \
     DE22 DJ27 DK18 DO28 EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 \
     GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 \
     LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 NO15 OM23 PK24 PL28 \
     PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 \
     TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30";

/// The IBAN length of a country, if it uses IBANs.
pub fn country_length(code: &[u8]) -> Option<usize> {
    LENGTHS
        .as_bytes()
        .chunks(5)
        .find(|entry| &entry[..2] == code)
        .map(|entry| usize::from(entry[2] - b'0') * 10 + usize::from(entry[3] - b'0'))
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
    use crate::detect::found;

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
            assert_eq!(found(find, iban), [iban], "{iban}");
            let sentence = format!("refund to {iban}.");
            assert_eq!(found(find, &sentence), [iban], "{sentence}");
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
            assert_eq!(found(find, text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn mod97_checks() {
        assert!(mod97(b"GB82WEST12345698765432"));
        assert!(!mod97(b"GB83WEST12345698765432"));
        assert!(!mod97(b"GB8"));
        assert_eq!(country_length(b"DE"), Some(22));
        assert_eq!(country_length(b"US"), None);
        assert_eq!(country_length(b"AD"), Some(24));
        assert_eq!(country_length(b"YE"), Some(30));
        assert!(LENGTHS.split(' ').all(|e| e.len() == 4));
    }
}
