//! The export's producer: walks the store page by page with the query's filters (as
//! `GET /v1/events` pages do, following the cursor, with no page limit) and hands the
//! encoded bytes on in chunks. It runs on a blocking thread; `send` is a bounded channel,
//! so a slow client slows the walk instead of filling memory.

use serde_json::Value;

use super::{ExportError, Format};
use crate::store::{AlertQuery, EventQuery, Order, Store};

/// Records read from the store per page.
pub const PAGE_RECORDS: usize = 500;
/// Output bytes gathered before a chunk is handed on.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Alerts of one event read at once (an event rarely has more than a few).
const ALERTS_PER_EVENT: usize = 100;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The filters and order; `limit` and `cursor` are the producer's own.
    pub query: EventQuery,
    /// Most events to export; `None`: all that match.
    pub limit: Option<u64>,
    /// The output format.
    pub format: Format,
    /// Records with a higher `seq` are left out: the export is the log as it stood when it
    /// began (its own self-audit record, and events arriving during a long walk, are not in
    /// it). `None`: no bound.
    pub through_seq: Option<u64>,
}

/// What an export did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Events written.
    pub events: u64,
    /// Alerts written (formats that carry them).
    pub alerts: u64,
    /// False when `send` refused a chunk (the client went away) and the walk stopped.
    pub complete: bool,
}

/// Writes every record matching `request` through `send`, one chunk at a time (at most
/// about [`CHUNK_BYTES`] plus one record). `send` answers false to stop the walk.
pub fn produce(
    store: &Store,
    request: &ExportRequest,
    mut send: impl FnMut(Vec<u8>) -> bool,
) -> Result<ExportSummary, ExportError> {
    let mut encoder = request.format.encoder();
    let mut summary = ExportSummary::default();
    let mut out = Vec::with_capacity(CHUNK_BYTES + 4096);
    encoder.begin(&mut out)?;
    let mut query = EventQuery { cursor: None, ..request.query.clone() };
    loop {
        let left = request.limit.map_or(u64::MAX, |l| l - summary.events);
        if left == 0 {
            break;
        }
        query.limit = PAGE_RECORDS.min(usize::try_from(left).unwrap_or(PAGE_RECORDS));
        let page = store.query(&query)?;
        for record in &page.items {
            let seq = record.get("seq").and_then(Value::as_u64).unwrap_or(0);
            if request.through_seq.is_some_and(|last| seq > last) {
                continue;
            }
            encoder.event(record, &mut out)?;
            summary.events += 1;
            if request.format.includes_alerts() {
                summary.alerts += write_alerts(store, record, encoder.as_mut(), &mut out)?;
            }
            if out.len() >= CHUNK_BYTES
                && !send(std::mem::replace(&mut out, Vec::with_capacity(CHUNK_BYTES + 4096)))
            {
                return Ok(summary);
            }
        }
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    if !out.is_empty() && !send(out) {
        return Ok(summary);
    }
    summary.complete = true;
    Ok(summary)
}

/// Writes the alerts raised for `record` (in alert id order); answers how many.
fn write_alerts(
    store: &Store,
    record: &Value,
    encoder: &mut dyn super::Encoder,
    out: &mut Vec<u8>,
) -> Result<u64, ExportError> {
    let Some(seq) = record.get("seq").and_then(Value::as_u64) else { return Ok(0) };
    let mut query =
        AlertQuery { seq: Some(seq), limit: ALERTS_PER_EVENT, order: Order::Asc, ..AlertQuery::default() };
    let mut n = 0;
    loop {
        let page = store.alerts(&query)?;
        for alert in &page.items {
            encoder.alert(alert, record, out)?;
            n += 1;
        }
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => return Ok(n),
        }
    }
}
