//! `format=csv`: RFC 4180 (CRLF line ends, fields quoted when they need it) with a header
//! row and a fixed column set, so a spreadsheet or script can rely on the columns.

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

/// One column's text for `record`.
fn cell(record: &Value, column: &str) -> Result<String, ExportError> {
    Ok(match record.get(column) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(v) => serde_json::to_string(v)?,
    })
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
}
