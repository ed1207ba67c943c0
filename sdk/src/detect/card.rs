//! Payment card numbers (PANs).
//!
//! A candidate is a run of digits, optionally grouped with one kind of separator (single
//! spaces or single dashes), that is not glued to letters, digits or `_` on either side.
//! It is a card number when it has 13 to 19 digits, starts with a major-network digit
//! (2–6: Mastercard, Amex, Diners, Visa, Discover, JCB, UnionPay, Maestro), a grouped
//! number's first group has 4 digits, and the Luhn checksum holds. A longer digit run is
//! never cut down to find a card inside it.

use super::scan::is_word;
use super::{Kind, Span};

/// Most digits a card number has.
const MAX_DIGITS: usize = 19;
/// Fewest digits a card number has.
const MIN_DIGITS: usize = 13;

/// Appends every card number in `text` to `out`.
pub fn find(text: &str, out: &mut Vec<Span>) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = [0u8; MAX_DIGITS];
        let mut count = 0;
        let mut separator = None;
        let mut first_group = 0;
        loop {
            while i < b.len() && b[i].is_ascii_digit() {
                if count < MAX_DIGITS {
                    digits[count] = b[i] - b'0';
                }
                count += 1;
                i += 1;
            }
            if first_group == 0 {
                first_group = count;
            }
            let continues = i + 1 < b.len() && matches!(b[i], b' ' | b'-') && b[i + 1].is_ascii_digit();
            if !continues || separator.is_some_and(|s| s != b[i]) {
                break;
            }
            separator = Some(b[i]);
            i += 1;
        }
        let end = i;
        let clean = (start == 0 || !is_word(b[start - 1])) && b.get(end).is_none_or(|&c| !is_word(c));
        if clean
            && (MIN_DIGITS..=MAX_DIGITS).contains(&count)
            && (separator.is_none() || first_group == 4)
            && (2..=6).contains(&digits[0])
            && luhn_valid(&digits[..count])
        {
            out.push(Span::new(Kind::Card, start..end));
        }
    }
}

/// Whether `digits` (values 0–9, most significant first) pass the Luhn checksum.
pub fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        find(text, &mut out);
        assert!(out.iter().all(|s| s.kind == Kind::Card));
        out.iter().map(|s| &text[s.range()]).collect()
    }

    #[test]
    fn luhn() {
        let digits = |s: &str| s.bytes().map(|b| b - b'0').collect::<Vec<_>>();
        assert!(luhn_valid(&digits("4111111111111111")));
        assert!(luhn_valid(&digits("79927398713")));
        assert!(!luhn_valid(&digits("4111111111111112")));
        assert!(!luhn_valid(&digits("79927398710")));
        assert!(!luhn_valid(&[]));
    }

    #[test]
    fn finds_test_numbers_of_each_network_in_each_format() {
        for pan in [
            "4111111111111111",        // Visa
            "4222222222222",           // Visa, 13 digits
            "5555555555554444",        // Mastercard
            "2223003122003222",        // Mastercard 2-series
            "378282246310005",         // Amex, 15
            "6011111111111117",        // Discover
            "3530111333300000",        // JCB
            "36227206271667",          // Diners, 14
            "6200000000000005",        // UnionPay
            "6212345678901265",        // UnionPay
            "4111 1111 1111 1111",     // spaces
            "4111-1111-1111-1111",     // dashes
            "3782 822463 10005",       // Amex grouping 4-6-5
            "6011 0009 9013 9424",     // Discover with spaces
            "4000 0000 0000 0000 006", // 19 digits
        ] {
            assert_eq!(found(pan), [pan], "{pan}");
            let sentence = format!("paid with card {pan}, thanks");
            assert_eq!(found(&sentence), [pan], "{sentence}");
            let quoted = format!("pan=\"{pan}\"");
            assert_eq!(found(&quoted), [pan], "{quoted}");
        }
    }

    #[test]
    fn finds_several_and_after_other_numbers() {
        assert_eq!(
            found("2024-05-01 4111 1111 1111 1111 and 5555555555554444"),
            ["4111 1111 1111 1111", "5555555555554444"]
        );
    }

    #[test]
    fn ignores_look_alikes() {
        for text in [
            "4111111111111112",             // Luhn fails
            "411111111111",                 // 12 digits
            "41111111111111111111",         // 20 digits, Luhn-valid prefix inside
            "4111111111111111111111111111", // long digit run
            "1700000000000",                // millisecond timestamp shape (starts with 1)
            "0000000000000000",             // starts with 0
            "9111111111111111",             // not a card network
            "x4111111111111111",            // glued to a letter
            "4111111111111111a",
            "id_4111111111111111",
            "4111 1111-1111 1111",     // mixed separators
            "41 11 11 11 11 11 11 11", // grouped, first group not 4 digits
            "4111  1111  1111  1111",  // double separators
            "+1 (415) 555-0100",       // phone number
            "4111.1111.1111.1111",     // dots are not card separators
            "order 12345678 item 4 qty 1",
        ] {
            assert_eq!(found(text), Vec::<&str>::new(), "{text}");
        }
    }
}
