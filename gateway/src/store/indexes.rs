//! Which index entries a record has. Used by the writer (from the new record) and by
//! recovery (from the stored record), so both always derive the same keys.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::error::StoreError;
use super::keys::{self, Position};
use crate::crypto::IndexHasher;

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

/// How index keys spell field values: as they are, or (for the fields an encrypted store
/// seals) as keyed hashes, so the index trees name nobody.
#[derive(Debug, Clone, Default)]
pub(crate) enum Keying {
    /// Every value as it is (a store without encryption).
    #[default]
    Plain,
    /// The values of `fields` as `hasher`'s hashes; the others as they are.
    Keyed { hasher: Arc<IndexHasher>, fields: Arc<[String]> },
}

/// [`Keying::Plain`], for callers without an encrypted store.
pub(crate) static PLAIN: Keying = Keying::Plain;

impl Keying {
    /// True when `field`'s values are hashed.
    pub(crate) fn hashes(&self, field: &str) -> bool {
        match self {
            Keying::Plain => false,
            Keying::Keyed { fields, .. } => fields.iter().any(|f| f == field),
        }
    }

    /// True when `index`'s keys hold a hashed value (entries an erasure removes).
    pub(crate) fn hashes_index(&self, index: Index) -> bool {
        match index {
            Index::Time => false,
            Index::User => self.hashes("user"),
            Index::Action => self.hashes("action"),
            Index::Ip => self.hashes("ip"),
            Index::Resource => self.hashes("resource_type") || self.hashes("resource_id"),
        }
    }

    fn hash(&self, field: &str, value: &[u8]) -> Option<[u8; crate::crypto::index::INDEX_HASH_LEN]> {
        match self {
            Keying::Keyed { hasher, .. } if self.hashes(field) => Some(hasher.hash(field, value)),
            _ => None,
        }
    }

    /// Prefix of the user index for `user`.
    pub(crate) fn user_prefix(&self, user: &str) -> Result<Vec<u8>, StoreError> {
        match self.hash("user", user.as_bytes()) {
            Some(h) => keys::field_prefix("user", &h),
            None => keys::user_prefix(user),
        }
    }

    /// `len ‖ value` of any one field, as the value or (a sealed field) its keyed hash:
    /// how the stats rollups spell action, outcome and user.
    pub(crate) fn value_prefix(&self, field: &str, value: &str) -> Result<Vec<u8>, StoreError> {
        match self.hash(field, value.as_bytes()) {
            Some(h) => keys::field_prefix(field, &h),
            None => keys::field_prefix(field, value.as_bytes()),
        }
    }

    /// Prefix of the action index for `action`.
    pub(crate) fn action_prefix(&self, action: &str) -> Result<Vec<u8>, StoreError> {
        match self.hash("action", action.as_bytes()) {
            Some(h) => keys::field_prefix("action", &h),
            None => keys::action_prefix(action),
        }
    }

    /// Prefix of the IP index for `ip`: a hashed IP hashes the plain prefix's bytes, so
    /// spellings of one address agree as they do in a plain index.
    pub(crate) fn ip_prefix(&self, ip: &str) -> Result<Vec<u8>, StoreError> {
        let plain = keys::ip_prefix(ip)?;
        Ok(match self.hash("ip", &plain) {
            Some(h) => keys::keyed_ip_prefix(&h),
            None => plain,
        })
    }

    /// Prefix of the resource index for a `(resource_type, resource_id)` pair.
    pub(crate) fn resource_prefix(&self, rt: &str, ri: &str) -> Result<Vec<u8>, StoreError> {
        let rt_hash = self.hash("resource_type", rt.as_bytes());
        let ri_hash = self.hash("resource_id", ri.as_bytes());
        if rt_hash.is_none() && ri_hash.is_none() {
            return keys::resource_prefix(rt, ri);
        }
        let rt = rt_hash.as_ref().map_or(rt.as_bytes(), |h| &h[..]);
        let ri = ri_hash.as_ref().map_or(ri.as_bytes(), |h| &h[..]);
        let mut buf = Vec::with_capacity(4 + rt.len() + ri.len() + keys::POSITION_LEN);
        keys::push_field(&mut buf, "resource_type", rt)?;
        keys::push_field(&mut buf, "resource_id", ri)?;
        Ok(buf)
    }
}

/// The value prefixes (everything before `time ‖ seq`) of the record's index entries,
/// from its plain (unsealed) fields. Fails with [`StoreError::InvalidInput`] when a field
/// is too long for a key.
pub(crate) fn prefixes(
    fields: &Map<String, Value>,
    keying: &Keying,
) -> Result<Vec<(Index, Vec<u8>)>, StoreError> {
    let text = |name: &str| fields.get(name).and_then(Value::as_str);
    let mut out = Vec::with_capacity(5);
    out.push((Index::Time, Vec::new()));
    if let Some(user) = text("user") {
        out.push((Index::User, keying.user_prefix(user)?));
    }
    if let Some(action) = text("action") {
        out.push((Index::Action, keying.action_prefix(action)?));
    }
    if let Some(ip) = text("ip") {
        out.push((Index::Ip, keying.ip_prefix(ip)?));
    }
    if let (Some(rt), Some(ri)) = (text("resource_type"), text("resource_id")) {
        out.push((Index::Resource, keying.resource_prefix(rt, ri)?));
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
