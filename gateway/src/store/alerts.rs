//! `GET /v1/alerts`: alerts in id order, filtered, paged.

use serde_json::Value;

use super::api::{AlertQuery, Page};
use super::cursor::IdCursor;
use super::encryption::Sealing;
use super::error::StoreError;
use super::keys::u64_key;
use super::listing::scan_ids;
use super::outbox::DeliveryState;
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
    let decode = |bytes: &[u8]| -> Result<(Value, Vec<DeliveryState>), StoreError> {
        let mut item = open(bytes, sealing)?;
        let id = item.get("id").and_then(Value::as_u64).unwrap_or(0);
        let states = super::outbox::states_of(&trees.outbox, id)?;
        let kinds = states.iter().map(|(s, _)| *s).collect();
        if let Value::Object(map) = &mut item {
            map.insert("delivery".into(), Value::Array(states.into_iter().map(|(_, v)| v).collect()));
        }
        Ok((item, kinds))
    };
    let keep = |(item, states): (Value, Vec<DeliveryState>)| -> Option<Value> {
        let text = |name: &str| item.get(name).and_then(Value::as_str);
        let ok = [("rule", &q.rule), ("severity", &q.severity), ("policy", &q.policy)]
            .iter()
            .all(|(name, want)| want.as_deref().is_none_or(|w| text(name) == Some(w)))
            && q.seq.is_none_or(|s| item.get("seq").and_then(Value::as_u64) == Some(s))
            && q.delivery.is_none_or(|d| states.contains(&d));
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

/// The alert `id` (not checked against the visible counters: the caller does).
pub(crate) fn get(trees: &Trees, sealing: Option<&Sealing>, id: u64) -> Result<Option<Value>, StoreError> {
    trees.alerts.get(u64_key(id))?.map(|bytes| open(&bytes, sealing)).transpose()
}

/// Decodes an alert and opens its sealed members.
fn open(bytes: &[u8], sealing: Option<&Sealing>) -> Result<Value, StoreError> {
    let mut item = decode(bytes)?;
    if let Some(s) = sealing {
        s.open_value(&mut item, "an alert")?;
    }
    Ok(item)
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
