//! [`BoundedCache`]: answers remembered per distinct input text, in bounded memory.

use std::collections::BTreeMap;

/// Answers computed from a text alone (a user agent's class, a lookup table's row for an
/// address), remembered so that the next event with the same text costs a map lookup.
///
/// At most `capacity` entries: when full, the next new text empties it first, so memory
/// stays bounded whatever the traffic and a busy working set refills within a few events.
/// Ordered by key (no hashing), so crafted inputs cannot degrade lookups.
#[derive(Debug)]
pub struct BoundedCache<V> {
    entries: BTreeMap<Box<str>, V>,
    capacity: usize,
}

impl<V> BoundedCache<V> {
    /// An empty cache holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self { entries: BTreeMap::new(), capacity: capacity.max(1) }
    }

    /// The answer for `key`, computed with `make` the first time it is asked for.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &V {
        if !self.entries.contains_key(key) {
            if self.entries.len() >= self.capacity {
                self.entries.clear();
            }
            self.entries.insert(key.into(), make());
        }
        // Present: found above or just inserted.
        &self.entries[key]
    }

    /// How many answers are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_per_key_and_forgets_everything_when_full() {
        let mut cache = BoundedCache::new(3);
        let mut made = 0;
        for key in ["a", "b", "a", "c", "b", "a"] {
            let value = *cache.get_or_insert_with(key, || {
                made += 1;
                key.len()
            });
            assert_eq!(value, 1);
        }
        assert_eq!((made, cache.len()), (3, 3));
        // A fourth key empties the cache, then is remembered alone.
        cache.get_or_insert_with("dd", || 2);
        assert_eq!(cache.len(), 1);
        assert_eq!(*cache.get_or_insert_with("dd", || 0), 2);
        assert_eq!(*cache.get_or_insert_with("a", || 9), 9, "forgotten, computed again");
        let mut tiny = BoundedCache::new(0);
        assert!(tiny.is_empty());
        assert_eq!(*tiny.get_or_insert_with("x", || 1), 1, "capacity 0 still holds one entry");
        assert_eq!(tiny.len(), 1);
    }
}
