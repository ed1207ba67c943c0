//! Page cursors: URL-safe base64 (no padding) of a tag byte and the position of the last
//! item returned. Opaque to clients; anything that does not decode is
//! [`StoreError::InvalidCursor`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::StoreError;
use super::keys::{POSITION_LEN, Position, read_u64};

/// Tag of an event cursor: `e ‖ time ‖ seq`.
const EVENT_TAG: u8 = b'e';

/// What a numbered (id-keyed) listing is; its tag byte keeps cursors of different
/// listings apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdCursor {
    /// `GET /v1/alerts`.
    Alert,
    /// `GET /v1/quarantine`.
    Quarantine,
}

impl IdCursor {
    fn tag(self) -> u8 {
        match self {
            IdCursor::Alert => b'a',
            IdCursor::Quarantine => b'q',
        }
    }

    /// The cursor after the item numbered `id`.
    pub(crate) fn encode(self, id: u64) -> String {
        let mut bytes = [0u8; 9];
        bytes[0] = self.tag();
        bytes[1..].copy_from_slice(&id.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The id a cursor of this kind points after.
    pub(crate) fn decode(self, cursor: &str) -> Result<u64, StoreError> {
        let bytes = decode_base64(cursor)?;
        if bytes.len() != 9 || bytes[0] != self.tag() {
            return Err(not_ours());
        }
        read_u64(&bytes[1..])
    }
}

/// The cursor after the event at `pos`.
pub(crate) fn encode_event(pos: Position) -> String {
    let mut bytes = [0u8; 1 + POSITION_LEN];
    bytes[0] = EVENT_TAG;
    bytes[1..].copy_from_slice(&pos.to_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The event position a cursor points after.
pub(crate) fn decode_event(cursor: &str) -> Result<Position, StoreError> {
    let bytes = decode_base64(cursor)?;
    if bytes.len() != 1 + POSITION_LEN || bytes[0] != EVENT_TAG {
        return Err(not_ours());
    }
    Position::from_key_suffix(&bytes).map_err(|_| not_ours())
}

fn decode_base64(cursor: &str) -> Result<Vec<u8>, StoreError> {
    if cursor.len() > 64 {
        return Err(not_ours());
    }
    URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor("the cursor is not URL-safe base64".into()))
}

fn not_ours() -> StoreError {
    StoreError::InvalidCursor(
        "not a cursor of this listing; pass `next_cursor` from the previous page".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_stay_apart() {
        let pos = Position { time_micros: -5, seq: 99 };
        let c = encode_event(pos);
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode_event(&c).ok(), Some(pos));
        let a = IdCursor::Alert.encode(7);
        assert_eq!(IdCursor::Alert.decode(&a).ok(), Some(7));
        assert!(IdCursor::Quarantine.decode(&a).is_err());
        assert!(decode_event(&a).is_err());
        for bad in ["", "!!", "abc", "ZQ", &"A".repeat(100)] {
            assert!(matches!(decode_event(bad), Err(StoreError::InvalidCursor(_))), "{bad:?}");
        }
    }
}
