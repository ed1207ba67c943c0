//! Which index entries a record has. Used by the writer (from the new record) and by
//! recovery (from the stored record), so both always derive the same keys.

use serde_json::{Map, Value};

use super::error::StoreError;
use super::keys::{self, Position};

/// The secondary indexes, one sled tree each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Index {
    /// `time ‖ seq`: every record.
    Time = 0,
    /// `len ‖ user ‖ time ‖ seq`.
    User = 1,
    /// `len ‖ action ‖ time ‖ seq`.
    Action = 2,
    /// `ip ‖ time ‖ seq` (see [`keys::ip_prefix`]).
    Ip = 3,
    /// `len ‖ resource_type ‖ len ‖ resource_id ‖ time ‖ seq`: records that have both.
    Resource = 4,
}

impl Index {
    /// Every index, in the order their trees are written.
    pub(crate) const ALL: [Index; 5] = [Index::Time, Index::User, Index::Action, Index::Ip, Index::Resource];

    /// Name of the sled tree holding this index.
    pub(crate) fn tree_name(self) -> &'static str {
        match self {
            Index::Time => "idx_time",
            Index::User => "idx_user",
            Index::Action => "idx_action",
            Index::Ip => "idx_ip",
            Index::Resource => "idx_resource",
        }
    }
}

/// The value prefixes (everything before `time ‖ seq`) of the record's index entries.
/// Fails with [`StoreError::InvalidInput`] when a field is too long for a key.
pub(crate) fn prefixes(fields: &Map<String, Value>) -> Result<Vec<(Index, Vec<u8>)>, StoreError> {
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    let mut out = Vec::with_capacity(5);
    out.push((Index::Time, Vec::new()));
    if let Some(user) = text("user") {
        out.push((Index::User, keys::user_prefix(user)?));
    }
    if let Some(action) = text("action") {
        out.push((Index::Action, keys::action_prefix(action)?));
    }
    if let Some(ip) = text("ip") {
        out.push((Index::Ip, keys::ip_prefix(ip)?));
    }
    if let (Some(rt), Some(ri)) = (text("resource_type"), text("resource_id")) {
        out.push((Index::Resource, keys::resource_prefix(rt, ri)?));
    }
    Ok(out)
}

/// The full index keys of a record at `pos`.
pub(crate) fn keys_at(
    prefixes: Vec<(Index, Vec<u8>)>,
    pos: Position,
) -> impl Iterator<Item = (Index, Vec<u8>)> {
    prefixes.into_iter().map(move |(index, mut key)| {
        key.extend_from_slice(&pos.to_bytes());
        (index, key)
    })
}
