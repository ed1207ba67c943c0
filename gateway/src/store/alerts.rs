//! `GET /v1/alerts`: alerts in id order, filtered, paged.

use serde_json::Value;

use super::api::{AlertQuery, Page};
use super::cursor::IdCursor;
use super::encryption::Sealing;
use super::error::StoreError;
use super::keys::u64_key;
use super::listing::scan_ids;
use super::trees::Trees;
use super::visible::Visible;

/// Answers an alert query from the durable alerts.
/// Sealed members (summary, labels) are opened with `sealing`.
pub(crate) fn list(
    trees: &Trees,
    visible: &Visible,
    sealing: Option<&Sealing>,
    q: &AlertQuery,
) -> Result<Page, StoreError> {
    let after = q.cursor.as_deref().map(|c| IdCursor::Alert.decode(c)).transpose()?;
    let max_id = visible.alert();
    let decode = |bytes: &[u8]| -> Result<Value, StoreError> {
        let mut item = decode(bytes)?;
        if let Some(s) = sealing {
            s.open_value(&mut item, "an alert")?;
        }
        Ok(item)
    };
    let keep = |item: Value| -> Option<Value> {
        let text = |name: &str| item.get(name).and_then(Value::as_str);
        let ok = [("rule", &q.rule), ("severity", &q.severity), ("policy", &q.policy)]
            .iter()
            .all(|(name, want)| want.as_deref().is_none_or(|w| text(name) == Some(w)))
            && q.seq.is_none_or(|s| item.get("seq").and_then(Value::as_u64) == Some(s));
        ok.then_some(item)
    };
    let page = match q.seq {
        Some(seq) if seq > visible.seq() => return Ok(Page { items: Vec::new(), next_cursor: None }),
        // The alerts of one event: walk `seq ‖ id` and load each alert.
        Some(seq) => {
            scan_ids(&trees.alerts_by_seq, &u64_key(seq), after, q.order, q.limit, max_id, |id, _| {
                trees
                    .alerts
                    .get(u64_key(id))?
                    .map(|bytes| decode(&bytes[..]))
                    .transpose()
                    .map(|a| a.and_then(keep))
            })?
        }
        None => scan_ids(&trees.alerts, &[], after, q.order, q.limit, max_id, |_, bytes| {
            Ok(keep(decode(bytes)?))
        })?,
    };
    Ok(Page { items: page.items, next_cursor: page.more_after.map(|id| IdCursor::Alert.encode(id)) })
}

/// Formats microseconds since the epoch the way the gateway writes times.
pub(crate) fn format_micros(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        None => micros.to_string(),
    }
}

fn decode(bytes: &[u8]) -> Result<Value, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("an alert is not valid JSON: {e}")))
}
