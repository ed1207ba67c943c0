//! The bytes of one log record: the event's fields plus the gateway's fields, as a JSON
//! object.
//!
//! All encoding goes through [`RecordEncoder`], which the writer owns and calls once per
//! record in `seq` order. It holds no state yet; linking each record to the previous one
//! (a `prev` hash over the canonical bytes) is a change to this module alone.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::api::NewRecord;
use super::error::StoreError;

/// Field names the gateway owns. An event field of the same name is never stored (the
/// event layer refuses them from clients; this keeps the JSON object free of duplicates).
pub(crate) const GATEWAY_FIELDS: [&str; 6] =
    ["seq", "received_at", "source", "policy_set", "redacted", "tags"];

/// Turns new records into log values, in `seq` order.
#[derive(Debug, Default)]
pub(crate) struct RecordEncoder {}

impl RecordEncoder {
    /// An encoder that continues after the record stored last (none yet needed).
    pub(crate) fn new() -> Self {
        RecordEncoder {}
    }

    /// The bytes stored in the log for `record` at `seq`. Called exactly once per stored
    /// record, in increasing `seq` order, only after every other check of its request
    /// passed.
    pub(crate) fn encode(&mut self, seq: u64, record: &NewRecord) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(&RecordView { seq, record })
            .map_err(|e| StoreError::InvalidInput(format!("cannot encode the record as JSON: {e}")))
    }
}

/// Serializes a record without copying its event map.
struct RecordView<'a> {
    seq: u64,
    record: &'a NewRecord,
}

impl Serialize for RecordView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in &r.event {
            if !GATEWAY_FIELDS.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry("seq", &self.seq)?;
        map.serialize_entry("received_at", &r.received_at)?;
        map.serialize_entry("source", &r.source)?;
        map.serialize_entry("policy_set", &r.policy_set)?;
        map.serialize_entry("redacted", &r.redacted)?;
        map.serialize_entry("tags", &r.tags)?;
        map.end()
    }
}

/// Reads a log value back as a JSON object.
pub(crate) fn decode(bytes: &[u8]) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::Corrupt("a log record is not a JSON object".into())),
        Err(e) => Err(StoreError::Corrupt(format!("a log record is not valid JSON: {e}"))),
    }
}

/// The event time of a decoded record, from its RFC 3339 `time` field.
pub(crate) fn time_micros(record: &Map<String, Value>) -> Option<i64> {
    let text = record.get("time")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_micros())
}
