//! `GET /v1/quarantine`: quarantined events in id order, paged.

use serde_json::Value;

use super::api::{Order, Page};
use super::cursor::IdCursor;
use super::error::StoreError;
use super::listing::scan_ids;
use super::trees::Trees;
use super::visible::Visible;

/// Lists durable quarantine items, oldest first, after `cursor`.
pub(crate) fn list(
    trees: &Trees,
    visible: &Visible,
    limit: usize,
    cursor: Option<&str>,
) -> Result<Page, StoreError> {
    let after = cursor.map(|c| IdCursor::Quarantine.decode(c)).transpose()?;
    let page =
        scan_ids(&trees.quarantine, &[], after, Order::Asc, limit, visible.quarantine(), |_, bytes| {
            serde_json::from_slice::<Value>(bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("a quarantine item is not valid JSON: {e}")))
        })?;
    Ok(Page { items: page.items, next_cursor: page.more_after.map(|id| IdCursor::Quarantine.encode(id)) })
}
