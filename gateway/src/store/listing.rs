//! Paging through id-numbered trees (alerts, quarantine): keys `prefix ‖ id`.

use std::ops::RangeInclusive;

use serde_json::Value;

use super::api::Order;
use super::error::StoreError;
use super::keys::read_u64;

/// One page of an id-numbered listing.
pub(crate) struct IdPage {
    /// The items, in order.
    pub items: Vec<Value>,
    /// The id of the last item when a further item exists.
    pub more_after: Option<u64>,
}

/// Walks the keys `prefix ‖ id` of `tree` with `id <= max_id`, strictly after `after` in
/// `order`, and keeps the items `load` returns (`None` skips an entry) until `limit` are
/// found and one more proves that a next page exists.
pub(crate) fn scan_ids(
    tree: &sled::Tree,
    prefix: &[u8],
    after: Option<u64>,
    order: Order,
    limit: usize,
    max_id: u64,
    mut load: impl FnMut(u64, &[u8]) -> Result<Option<Value>, StoreError>,
) -> Result<IdPage, StoreError> {
    let limit = limit.max(1);
    let mut page = IdPage { items: Vec::new(), more_after: None };
    let Some(ids) = id_range(after, order, max_id) else { return Ok(page) };
    let key = |id: u64| {
        let mut k = Vec::with_capacity(prefix.len() + 8);
        k.extend_from_slice(prefix);
        k.extend_from_slice(&id.to_be_bytes());
        k
    };
    let range = tree.range(key(*ids.start())..=key(*ids.end()));
    let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match order {
        Order::Asc => Box::new(range),
        Order::Desc => Box::new(range.rev()),
    };
    let mut last = None;
    for entry in iter {
        let (k, v) = entry?;
        if k.len() != prefix.len() + 8 {
            continue;
        }
        let id = read_u64(&k[prefix.len()..])?;
        let Some(item) = load(id, &v)? else { continue };
        if page.items.len() == limit {
            page.more_after = last;
            break;
        }
        page.items.push(item);
        last = Some(id);
    }
    Ok(page)
}

/// The ids to visit, or `None` when there are none.
fn id_range(after: Option<u64>, order: Order, max_id: u64) -> Option<RangeInclusive<u64>> {
    let (start, end) = match (order, after) {
        (_, None) => (1, max_id),
        (Order::Asc, Some(a)) => (a.checked_add(1)?, max_id),
        (Order::Desc, Some(a)) => (1, max_id.min(a.checked_sub(1)?)),
    };
    (start <= end).then_some(start..=end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_ranges() {
        assert_eq!(id_range(None, Order::Asc, 5), Some(1..=5));
        assert_eq!(id_range(None, Order::Asc, 0), None);
        assert_eq!(id_range(Some(2), Order::Asc, 5), Some(3..=5));
        assert_eq!(id_range(Some(5), Order::Asc, 5), None);
        assert_eq!(id_range(Some(3), Order::Desc, 5), Some(1..=2));
        assert_eq!(id_range(Some(9), Order::Desc, 5), Some(1..=5));
        assert_eq!(id_range(Some(1), Order::Desc, 5), None);
        assert_eq!(id_range(Some(u64::MAX), Order::Asc, u64::MAX), None);
    }
}
