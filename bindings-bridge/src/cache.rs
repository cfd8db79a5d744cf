//! The per-thread cache of the adapters (the cache policy,
//! `docs/ARCHITECTURE.md`, "Caches"): pure conversions of header bytes,
//! keyed by the exact input bytes, at most [`CACHE_ENTRIES`] entries, the
//! least recently used dropped first, keys over [`CACHE_MAX_KEY_BYTES`]
//! never kept. One per thread (`thread_local!`), so no lock.

use tracewire::limits::{CACHE_ENTRIES, CACHE_MAX_KEY_BYTES};

/// The last few conversions, most recently used first.
pub struct Recent<V> {
    entries: Vec<(Box<[u8]>, V)>,
}

impl<V> Default for Recent<V> {
    fn default() -> Self {
        Recent::new()
    }
}

impl<V> Recent<V> {
    /// An empty cache (`const`, for `thread_local!`).
    pub const fn new() -> Self {
        Recent {
            entries: Vec::new(),
        }
    }

    /// The value converted from `key`, made the most recently used.
    pub fn get(&mut self, key: &[u8]) -> Option<&V> {
        let i = self.entries.iter().position(|(k, _)| **k == *key)?;
        self.entries[..=i].rotate_right(1);
        self.entries.first().map(|(_, v)| v)
    }

    /// Remembers `value` as the conversion of `key` (a key over the size
    /// bound is not kept), dropping the least recently used when full.
    pub fn put(&mut self, key: &[u8], value: V) {
        if key.len() > CACHE_MAX_KEY_BYTES {
            return;
        }
        self.entries.truncate(CACHE_ENTRIES - 1);
        self.entries.insert(0, (key.into(), value));
    }

    /// The conversion of `key`: a copy of the one kept, else `convert()`,
    /// then kept.
    pub fn get_or_convert(&mut self, key: &[u8], convert: impl FnOnce() -> V) -> V
    where
        V: Clone,
    {
        if let Some(v) = self.get(key) {
            return v.clone();
        }
        let v = convert();
        self.put(key, v.clone());
        v
    }

    /// The number of entries kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recently_used_and_is_bounded() {
        let mut c = Recent::new();
        for i in 0..CACHE_ENTRIES {
            c.put(format!("k{i}").as_bytes(), i);
        }
        assert_eq!(c.get(b"k0"), Some(&0), "a hit makes k0 the most recent");
        c.put(b"new", 99);
        assert_eq!(c.len(), CACHE_ENTRIES);
        assert_eq!(c.get(b"k1"), None, "the least recently used went first");
        assert_eq!(c.get(b"k0"), Some(&0));
        assert_eq!(c.get(b"new"), Some(&99));
    }

    #[test]
    fn a_key_must_match_whole_and_long_keys_are_not_kept() {
        let mut c = Recent::new();
        c.put(b"abc", 1);
        assert_eq!(c.get(b"ab"), None);
        assert_eq!(c.get(b"abcd"), None);
        c.put(&vec![b'x'; CACHE_MAX_KEY_BYTES + 1], 2);
        assert_eq!(c.len(), 1);
        c.put(&vec![b'x'; CACHE_MAX_KEY_BYTES], 3);
        assert_eq!(c.len(), 2);
        assert!(!c.is_empty());
    }
}
