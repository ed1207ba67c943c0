//! `GET /v1/events`: plan (pick an index), range-bound it by time and cursor, post-filter
//! on the loaded records, page.

use std::net::IpAddr;
use std::ops::Bound;

use serde_json::Value;

use super::api::{EventQuery, Order, Page};
use super::cursor;
use super::encryption::Sealing;
use super::error::StoreError;
use super::indexes::{Index, Keying, PLAIN};
use super::keys::{self, POSITION_LEN, Position, u64_key};
use super::trees::Trees;
use super::visible::Visible;

/// Answers an event query from the durable records (opened by `sealing` in an encrypted
/// store: filters compare plain values).
pub(crate) fn run(
    trees: &Trees,
    visible: &Visible,
    sealing: Option<&Sealing>,
    q: &EventQuery,
) -> Result<Page, StoreError> {
    let after = q.cursor.as_deref().map(cursor::decode_event).transpose()?;
    let empty = Page { items: Vec::new(), next_cursor: None };
    let Some((index, prefix)) = plan(q, sealing.map_or(&PLAIN, Sealing::keying)) else { return Ok(empty) };
    let Some((lo, hi)) = bounds(&prefix, q, after) else { return Ok(empty) };

    let max_seq = visible.seq();
    let limit = q.limit.max(1);
    let range = trees.index(index).range((lo, hi));
    let iter: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match q.order {
        Order::Asc => Box::new(range),
        Order::Desc => Box::new(range.rev()),
    };
    let mut items = Vec::new();
    let mut last: Option<Position> = None;
    let mut more = false;
    for entry in iter {
        let (key, _) = entry?;
        if key.len() != prefix.len() + POSITION_LEN {
            continue;
        }
        let pos = Position::from_key_suffix(&key)?;
        if pos.seq == 0 || pos.seq > max_seq {
            continue;
        }
        let Some(bytes) = trees.log.get(u64_key(pos.seq))? else { continue };
        let mut record: Value = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("record {} is not valid JSON: {e}", pos.seq)))?;
        if let Some(s) = sealing {
            s.open_value(&mut record, &format!("record {}", pos.seq))?;
        }
        if !matches(q, &record) {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(record);
        last = Some(pos);
    }
    let next_cursor = if more { last.map(cursor::encode_event) } else { None };
    Ok(Page { items, next_cursor })
}

/// The most selective index the query can use and the value prefix to scan; `None` when
/// the query cannot match anything (a value too long to be in any key).
fn plan(q: &EventQuery, keying: &Keying) -> Option<(Index, Vec<u8>)> {
    let planned = if let Some(user) = &q.user {
        (Index::User, keying.user_prefix(user))
    } else if let Some(ip) = &q.ip {
        (Index::Ip, keying.ip_prefix(ip))
    } else if let (Some(rt), Some(ri)) = (&q.resource_type, &q.resource_id) {
        (Index::Resource, keying.resource_prefix(rt, ri))
    } else if let Some(action) = &q.action {
        (Index::Action, keying.action_prefix(action))
    } else {
        (Index::Time, Ok(Vec::new()))
    };
    match planned {
        (index, Ok(prefix)) => Some((index, prefix)),
        (_, Err(_)) => None,
    }
}

/// A range of index keys, as sled takes it.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// One end of a key range.
struct End {
    key: Vec<u8>,
    inclusive: bool,
}

impl End {
    fn bound(self) -> Bound<Vec<u8>> {
        if self.inclusive { Bound::Included(self.key) } else { Bound::Excluded(self.key) }
    }
}

/// Key bounds for `prefix`, `from..to` and the cursor; `None` when the range is empty.
fn bounds(prefix: &[u8], q: &EventQuery, after: Option<Position>) -> Option<KeyRange> {
    let with = |bytes: &[u8]| {
        let mut k = prefix.to_vec();
        k.extend_from_slice(bytes);
        k
    };
    let from = Position { time_micros: q.from_micros.unwrap_or(i64::MIN), seq: 0 };
    let mut lo = End { key: with(&from.to_bytes()), inclusive: true };
    let mut hi = match q.to_micros {
        // Exclusive: every key at time `to` is longer, hence greater, than `prefix ‖ to`.
        Some(to) => End { key: with(&keys::time_bits(to).to_be_bytes()), inclusive: false },
        None => End { key: with(&[0xff; POSITION_LEN]), inclusive: true },
    };
    if let Some(pos) = after {
        let c = with(&pos.to_bytes());
        match q.order {
            Order::Asc if c >= lo.key => lo = End { key: c, inclusive: false },
            Order::Desc if c <= hi.key => hi = End { key: c, inclusive: false },
            _ => {}
        }
    }
    let nonempty = if lo.inclusive && hi.inclusive { lo.key <= hi.key } else { lo.key < hi.key };
    nonempty.then(|| (lo.bound(), hi.bound()))
}

/// True when `record` passes every filter of `q` (the indexed one included: an index
/// entry is only a hint).
fn matches(q: &EventQuery, record: &Value) -> bool {
    let text = |name: &str| record.get(name).and_then(Value::as_str);
    let exact = [
        ("user", &q.user),
        ("action", &q.action),
        ("outcome", &q.outcome),
        ("resource_type", &q.resource_type),
        ("resource_id", &q.resource_id),
        ("session_id", &q.session_id),
        ("source", &q.source),
    ];
    exact.iter().all(|(name, want)| want.as_deref().is_none_or(|w| text(name) == Some(w)))
        && q.action_prefix.as_deref().is_none_or(|p| text("action").is_some_and(|a| a.starts_with(p)))
        && q.ip.as_deref().is_none_or(|want| text("ip").is_some_and(|have| same_ip(have, want)))
}

/// Compares addresses, not spellings, when both parse (the index does too).
fn same_ip(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
