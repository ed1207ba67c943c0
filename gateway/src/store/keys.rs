//! Byte layouts of the keys the store writes.
//!
//! Every index key is `prefix ‖ time ‖ seq`:
//! - `prefix` names the indexed value(s). Each variable field is written as a `u16`
//!   big-endian length followed by its bytes, so the prefix of one value is never a prefix
//!   of another value's keys (user `"a"` never covers `"ab"` or `"a\0b"`).
//! - `time` is the event time in microseconds, mapped to a `u64` that sorts like the
//!   signed value (sign bit flipped), big-endian.
//! - `seq` is the record's position in the log, `u64` big-endian.
//!
//! Big-endian everywhere, so sled's byte order is (value, time, seq) order.

use std::net::IpAddr;

use super::error::StoreError;

/// Length of the `time ‖ seq` suffix of every index key.
pub(crate) const POSITION_LEN: usize = 16;

/// Where a record sits in time order: event time first, `seq` to break ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    /// Event time, microseconds since the Unix epoch.
    pub time_micros: i64,
    /// The record's `seq`.
    pub seq: u64,
}

impl Position {
    /// The 16 bytes `time ‖ seq` that end an index key.
    pub(crate) fn to_bytes(self) -> [u8; POSITION_LEN] {
        let mut out = [0u8; POSITION_LEN];
        out[..8].copy_from_slice(&time_bits(self.time_micros).to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// Reads the position from the last 16 bytes of `key`.
    pub(crate) fn from_key_suffix(key: &[u8]) -> Result<Position, StoreError> {
        let start = key
            .len()
            .checked_sub(POSITION_LEN)
            .ok_or_else(|| StoreError::Corrupt(format!("index key of {} bytes is too short", key.len())))?;
        let time = read_u64(&key[start..start + 8])?;
        let seq = read_u64(&key[start + 8..])?;
        Ok(Position { time_micros: time_from_bits(time), seq })
    }
}

/// Maps a signed time to an unsigned value with the same order (flips the sign bit).
pub(crate) fn time_bits(micros: i64) -> u64 {
    (micros as u64) ^ (1 << 63)
}

/// The inverse of [`time_bits`].
pub(crate) fn time_from_bits(bits: u64) -> i64 {
    (bits ^ (1 << 63)) as i64
}

/// Key of a `u64`-numbered entry (log `seq`, alert id, quarantine id).
pub(crate) fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Reads a key written by [`u64_key`] (or any 8-byte big-endian number).
pub(crate) fn read_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

/// Appends `field` with its `u16` big-endian length in front.
pub(crate) fn push_field(buf: &mut Vec<u8>, name: &str, field: &[u8]) -> Result<(), StoreError> {
    let len = u16::try_from(field.len()).map_err(|_| {
        StoreError::InvalidInput(format!(
            "`{name}` is {} bytes long; an indexed field may hold at most {} bytes",
            field.len(),
            u16::MAX
        ))
    })?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(field);
    Ok(())
}

/// Prefix `len ‖ bytes` of a one-field index (a keyed hash, say).
pub(crate) fn field_prefix(name: &str, bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(2 + bytes.len() + POSITION_LEN);
    push_field(&mut buf, name, bytes)?;
    Ok(buf)
}

/// Prefix of the IP index of an encrypted store: `k ‖ keyed hash`.
pub(crate) fn keyed_ip_prefix(hash: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1 + hash.len() + POSITION_LEN);
    buf.push(b'k');
    buf.extend_from_slice(hash);
    buf
}

/// Prefix of the user index for `user`.
pub(crate) fn user_prefix(user: &str) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(2 + user.len() + POSITION_LEN);
    push_field(&mut buf, "user", user.as_bytes())?;
    Ok(buf)
}

/// Prefix of the action index for `action`.
pub(crate) fn action_prefix(action: &str) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(2 + action.len() + POSITION_LEN);
    push_field(&mut buf, "action", action.as_bytes())?;
    Ok(buf)
}

/// Prefix of the IP index: `4 ‖ 4 bytes` for IPv4, `6 ‖ 16 bytes` for IPv6, and for text
/// that is not an address (never written by the gateway, kept unambiguous anyway)
/// `0 ‖ len ‖ text`.
pub(crate) fn ip_prefix(ip: &str) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(17 + POSITION_LEN);
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            buf.push(4);
            buf.extend_from_slice(&v4.octets());
        }
        Ok(IpAddr::V6(v6)) => {
            buf.push(6);
            buf.extend_from_slice(&v6.octets());
        }
        Err(_) => {
            buf.push(0);
            push_field(&mut buf, "ip", ip.as_bytes())?;
        }
    }
    Ok(buf)
}

/// Prefix of the resource index for a `(resource_type, resource_id)` pair.
pub(crate) fn resource_prefix(resource_type: &str, resource_id: &str) -> Result<Vec<u8>, StoreError> {
    let mut buf = Vec::with_capacity(4 + resource_type.len() + resource_id.len() + POSITION_LEN);
    push_field(&mut buf, "resource_type", resource_type.as_bytes())?;
    push_field(&mut buf, "resource_id", resource_id.as_bytes())?;
    Ok(buf)
}

/// `prefix ‖ time ‖ seq`.
#[cfg(test)]
pub(crate) fn index_key(prefix: &[u8], pos: Position) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + POSITION_LEN);
    key.extend_from_slice(prefix);
    key.extend_from_slice(&pos.to_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bits_preserve_order() {
        let times = [i64::MIN, -1_000_000, -1, 0, 1, 1_700_000_000_000_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(time_bits(pair[0]) < time_bits(pair[1]));
            assert_eq!(time_from_bits(time_bits(pair[0])), pair[0]);
        }
    }

    #[test]
    fn position_round_trips() {
        let pos = Position { time_micros: -42, seq: 7 };
        let key = index_key(b"prefix", pos);
        assert_eq!(Position::from_key_suffix(&key).ok(), Some(pos));
        assert!(Position::from_key_suffix(&[1, 2, 3]).is_err());
    }

    #[test]
    fn user_prefixes_never_cover_each_other() {
        let users = ["a", "a\u{0}b", "ab", "", "a\u{0}"];
        for x in users {
            for y in users {
                if x == y {
                    continue;
                }
                let px = user_prefix(x).expect("short user");
                let py = user_prefix(y).expect("short user");
                let ky = index_key(&py, Position { time_micros: 0, seq: 1 });
                assert!(!ky.starts_with(&px), "{x:?} covers {y:?}");
            }
        }
    }

    #[test]
    fn ip_prefixes_are_compact_and_distinct() {
        assert_eq!(ip_prefix("10.0.0.1").expect("ip").len(), 5);
        assert_eq!(ip_prefix("::1").expect("ip").len(), 17);
        assert_ne!(ip_prefix("::ffff:10.0.0.1").expect("ip"), ip_prefix("10.0.0.1").expect("ip"));
        assert_eq!(ip_prefix("not an ip").expect("text")[0], 0);
    }

    #[test]
    fn overlong_fields_are_refused() {
        let long = "x".repeat(70_000);
        assert!(matches!(user_prefix(&long), Err(StoreError::InvalidInput(_))));
    }
}
