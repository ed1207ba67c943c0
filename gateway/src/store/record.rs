//! The bytes of one log record: the event's fields plus the gateway's fields, as RFC 8785
//! canonical JSON, linked to the record before it.
//!
//! All encoding goes through [`RecordEncoder`], which the writer owns and calls once per
//! record in `seq` order. Each record holds its `seq` and `prev`, the lower-case hex
//! RFC 6962 leaf hash (`SHA-256(0x00 ‖ bytes)`) of the record before it (64 zeros for the
//! first), so a record that is changed, removed or moved breaks the link after it. The
//! same leaf hash is the record's leaf in the Merkle tree (`store::chain`).

use serde_json::{Map, Value};

use super::api::NewRecord;
use super::error::StoreError;
use crate::ledger::jcs;
use crate::ledger::merkle::{self, Hash};

/// Turns new records into log values, in `seq` order, each linked to the one before.
#[derive(Debug)]
pub(crate) struct RecordEncoder {
    head: Hash,
}

impl RecordEncoder {
    /// An encoder that continues after the record whose leaf hash is `head`
    /// ([`super::chain::GENESIS`] for an empty log).
    pub(crate) fn new(head: Hash) -> Self {
        RecordEncoder { head }
    }

    /// The leaf hash of the last record encoded.
    pub(crate) fn head(&self) -> Hash {
        self.head
    }

    /// Goes back to `head` (a request whose later item failed, a failed group commit).
    pub(crate) fn reset(&mut self, head: Hash) {
        self.head = head;
    }

    /// The bytes stored in the log for `record` at `seq`, and their leaf hash. Called
    /// once per stored record, in increasing `seq` order; a caller that drops the result
    /// must [`RecordEncoder::reset`].
    #[cfg(test)]
    pub(crate) fn encode(&mut self, seq: u64, record: &NewRecord) -> Result<(Vec<u8>, Hash), StoreError> {
        self.encode_event(seq, record, &record.event)
    }

    /// [`RecordEncoder::encode`] with `event` (the record's event as stored: sealed, in an
    /// encrypted store) in place of `record.event`.
    pub(crate) fn encode_event(
        &mut self,
        seq: u64,
        record: &NewRecord,
        event: &Map<String, Value>,
    ) -> Result<(Vec<u8>, Hash), StoreError> {
        let bytes = encode_linked(seq, &self.head, record, event)?;
        let leaf = merkle::leaf_hash(&bytes);
        self.head = leaf;
        Ok((bytes, leaf))
    }
}

/// The canonical bytes of `record` at `seq` after the record hashed `prev`, with the event
/// fields of `event`.
pub(crate) fn encode_linked(
    seq: u64,
    prev: &Hash,
    r: &NewRecord,
    event: &Map<String, Value>,
) -> Result<Vec<u8>, StoreError> {
    let gateway: [(&str, Value); 7] = [
        ("seq", Value::from(seq)),
        ("received_at", Value::from(r.received_at.as_str())),
        ("source", Value::from(r.source.as_str())),
        ("policy_set", Value::from(r.policy_set.as_str())),
        ("redacted", Value::from(r.redacted.clone())),
        ("tags", Value::from(r.tags.clone())),
        ("prev", Value::from(hex::encode(prev))),
    ];
    // An event field named like one the gateway writes is never stored (the event layer
    // refuses them from clients; this keeps the JSON object free of duplicates).
    let members = event
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .filter(|(k, _)| !gateway.iter().any(|(g, _)| g == k))
        .chain(gateway.iter().map(|(k, v)| (*k, v)));
    let mut out = Vec::with_capacity(512);
    jcs::write_object(&mut out, members).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
    Ok(out)
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
