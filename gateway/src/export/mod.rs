//! Export of the audit log (`GET /v1/export`, `auditgate export`): the formats
//! (`jsonl`, `csv`, `ocsf`, `cef`), the encoders that turn stored records into them, the
//! producer that walks the store page by page, and the CLI's download.
//!
//! Memory stays flat whatever the export's size: the producer holds one page of records
//! and one chunk of output at a time, and hands chunks to a bounded channel.

pub mod cef;
pub mod csv;
pub mod download;
pub mod ocsf;
pub mod producer;

use serde_json::Value;

use crate::store::StoreError;

/// The formats an export can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One stored record per line, as `GET /v1/events` answers it.
    Jsonl,
    /// RFC 4180 CSV with a header row and the columns of [`csv::COLUMNS`].
    Csv,
    /// One OCSF 1.3 event per line (see [`ocsf`]), alerts as Detection Findings.
    Ocsf,
    /// ArcSight CEF, one line per event and per alert (see [`cef`]).
    Cef,
}

impl Format {
    /// Every format, in the order the API documents them.
    pub const ALL: [Format; 4] = [Format::Jsonl, Format::Csv, Format::Ocsf, Format::Cef];

    /// The format named `name` (`jsonl`, `csv`, `ocsf`, `cef`).
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The format's name in `format=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Ocsf => "ocsf",
            Format::Cef => "cef",
        }
    }

    /// The answer's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jsonl | Format::Ocsf => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Cef => "text/plain; charset=utf-8",
        }
    }

    /// The file name extension of a download.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Ocsf => "ocsf.jsonl",
            Format::Cef => "cef",
        }
    }

    /// True when the format also carries the alerts raised for each exported event.
    pub fn includes_alerts(self) -> bool {
        matches!(self, Format::Ocsf | Format::Cef)
    }

    /// A new encoder for this format.
    pub fn encoder(self) -> Box<dyn Encoder> {
        match self {
            Format::Jsonl => Box::new(JsonLines),
            Format::Csv => Box::new(csv::CsvEncoder::default()),
            Format::Ocsf => Box::new(ocsf::OcsfEncoder),
            Format::Cef => Box::new(cef::CefEncoder),
        }
    }
}

/// What can fail while exporting.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store could not be read.
    #[error("the audit log could not be read: {0}")]
    Store(#[from] StoreError),
    /// A record could not be written as CSV.
    #[error("cannot write CSV: {0}")]
    Csv(#[from] ::csv::Error),
    /// A record could not be written as JSON.
    #[error("cannot write JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Turns stored records (and the alerts raised for them) into the bytes of one format.
/// One encoder serves one export, from its first byte to its last.
pub trait Encoder: Send {
    /// What comes before the first record (the CSV header row).
    fn begin(&mut self, _out: &mut Vec<u8>) -> Result<(), ExportError> {
        Ok(())
    }

    /// Appends one stored record to `out`.
    fn event(&mut self, record: &Value, out: &mut Vec<u8>) -> Result<(), ExportError>;

    /// Appends one alert raised for `record` to `out` (formats that carry alerts only).
    fn alert(&mut self, _alert: &Value, _record: &Value, _out: &mut Vec<u8>) -> Result<(), ExportError> {
        Ok(())
    }
}

/// `jsonl`: the stored record, one per line, as `GET /v1/events` answers it.
struct JsonLines;

impl Encoder for JsonLines {
    fn event(&mut self, record: &Value, out: &mut Vec<u8>) -> Result<(), ExportError> {
        serde_json::to_writer(&mut *out, record)?;
        out.push(b'\n');
        Ok(())
    }
}

/// The text of a record's string field, if it has one.
pub(crate) fn text<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record.get(name).and_then(Value::as_str)
}

/// Milliseconds since the epoch of an RFC 3339 time (as the gateway stores them).
pub(crate) fn millis(time: Option<&str>) -> Option<i64> {
    time.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_their_names() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.as_str()), Some(f));
        }
        assert_eq!(Format::parse("xml"), None);
        assert_eq!(Format::parse("CSV"), None);
    }

    #[test]
    fn millis_reads_stored_times() {
        assert_eq!(millis(Some("1970-01-01T00:00:01.500000Z")), Some(1500));
        assert_eq!(millis(Some("not a time")), None);
        assert_eq!(millis(None), None);
    }
}
