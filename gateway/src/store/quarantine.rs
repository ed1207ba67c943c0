//! `GET /v1/quarantine`: quarantined events in id order, paged.

use serde_json::Value;

use super::api::{Order, Page};
use super::cursor::IdCursor;
use super::encryption::Sealing;
use super::error::StoreError;
use super::listing::scan_ids;
use super::trees::Trees;
use super::visible::Visible;

/// Lists durable quarantine items, oldest first, after `cursor` (the sealed event opened
/// with `sealing`).
pub(crate) fn list(
    trees: &Trees,
    visible: &Visible,
    sealing: Option<&Sealing>,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page, StoreError> {
    let after = cursor.map(|c| IdCursor::Quarantine.decode(c)).transpose()?;
    let page =
        scan_ids(&trees.quarantine, &[], after, Order::Asc, limit, visible.quarantine(), |_, bytes| {
            let mut item = serde_json::from_slice::<Value>(bytes)
                .map_err(|e| StoreError::Corrupt(format!("a quarantine item is not valid JSON: {e}")))?;
            if let Some(s) = sealing {
                s.open_value(&mut item, "a quarantine item")?;
            }
            Ok(Some(item))
        })?;
    Ok(Page { items: page.items, next_cursor: page.more_after.map(|id| IdCursor::Quarantine.encode(id)) })
}
