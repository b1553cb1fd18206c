//! A bounded map from a URI's authority (scheme, host, port) to a value
//! shared by every call to that authority: the per-host state of a layer.
//!
//! Generic over the value, so that any per-host layer can keep its state
//! in it (the adaptive throttle and the retry budgets per host do; the
//! per-host breakers keep a map of their own, with the same key and rules,
//! in `circuit_breaker/per_host.rs`, which could move onto this one).
//!
//! - The key: the per-host breakers' (`circuit_breaker/authority.rs`):
//!   scheme and host name compared without regard to ASCII case, IP
//!   literals by address, the port defaulted from the scheme (`http`: 80,
//!   `https`: 443). Requests without an authority share one entry.
//! - A lookup hashes the URI's parts in place with a keyed hash
//!   (`RandomState`: a peer choosing host names can't aim at one bucket),
//!   under the read lock, allocating nothing; only a new authority takes
//!   the write lock.
//! - At most `max` entries: a new one past it drops the least recently
//!   used entry the map's `keep` rule does not protect, or the least
//!   recently used of all when it protects them all. The scan is O(n), made
//!   only when a new authority arrives, so a known one never waits for a
//!   write lock.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use http::Uri;

use crate::circuit_breaker::authority::{AuthorityKey, AuthorityRef};

struct Entry<V> {
    key: AuthorityKey,
    value: Arc<V>,
    last_used: AtomicU64,
}

struct Entries<V> {
    by_hash: HashMap<u64, Vec<Entry<V>>>,
    len: usize,
}

/// Values by authority, at most `max` of them.
pub(crate) struct AuthorityMap<V> {
    max: usize,
    /// Entries this rule holds are dropped only when every entry is held.
    keep: fn(&V) -> bool,
    hasher: RandomState,
    entries: RwLock<Entries<V>>,
    /// Counts uses, to stamp entries with.
    clock: AtomicU64,
}

impl<V> AuthorityMap<V> {
    /// `max` must be at least 1 (the callers check, naming their setting).
    pub(crate) fn new(max: usize, keep: fn(&V) -> bool) -> Self {
        AuthorityMap {
            max: max.max(1),
            keep,
            hasher: RandomState::new(),
            entries: RwLock::new(Entries {
                by_hash: HashMap::new(),
                len: 0,
            }),
            clock: AtomicU64::new(0),
        }
    }

    /// The value of `uri`'s authority, made by `make(label)` if there is
    /// none.
    pub(crate) fn get_or_insert_with(&self, uri: &Uri, make: impl FnOnce(Arc<str>) -> V) -> Arc<V> {
        let authority = AuthorityRef::of(uri);
        let hash = self.hasher.hash_one(authority);
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = find(&entries, hash, &authority) {
                return self.touch(e);
            }
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = find(&entries, hash, &authority) {
            return self.touch(e);
        }
        if entries.len >= self.max {
            self.evict(&mut entries);
        }
        let key = authority.to_key();
        let value = Arc::new(make(Arc::from(key.to_string())));
        entries.by_hash.entry(hash).or_default().push(Entry {
            key,
            value: value.clone(),
            last_used: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)),
        });
        entries.len += 1;
        value
    }

    /// The value of `uri`'s authority, if there is one; not a use.
    pub(crate) fn get(&self, uri: &Uri) -> Option<Arc<V>> {
        let authority = AuthorityRef::of(uri);
        let hash = self.hasher.hash_one(authority);
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        find(&entries, hash, &authority).map(|e| e.value.clone())
    }

    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len
    }

    fn touch(&self, entry: &Entry<V>) -> Arc<V> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        entry.last_used.fetch_max(tick, Ordering::Relaxed);
        entry.value.clone()
    }

    /// Drops the least recently used entry not kept, or of all.
    fn evict(&self, entries: &mut Entries<V>) {
        let mut free: Option<(u64, u64, usize)> = None;
        let mut any: Option<(u64, u64, usize)> = None;
        for (&hash, bucket) in &entries.by_hash {
            for (i, e) in bucket.iter().enumerate() {
                let tick = e.last_used.load(Ordering::Relaxed);
                if any.is_none_or(|(t, _, _)| tick < t) {
                    any = Some((tick, hash, i));
                }
                if !(self.keep)(&e.value) && free.is_none_or(|(t, _, _)| tick < t) {
                    free = Some((tick, hash, i));
                }
            }
        }
        let Some((_, hash, i)) = free.or(any) else {
            return;
        };
        if let Some(bucket) = entries.by_hash.get_mut(&hash) {
            bucket.swap_remove(i);
            if bucket.is_empty() {
                entries.by_hash.remove(&hash);
            }
            entries.len -= 1;
        }
    }
}

fn find<'m, V>(
    entries: &'m Entries<V>,
    hash: u64,
    authority: &AuthorityRef<'_>,
) -> Option<&'m Entry<V>> {
    // A `Vec` per hash for the rare authorities whose hashes collide.
    entries
        .by_hash
        .get(&hash)?
        .iter()
        .find(|e| authority.matches(&e.key))
}

impl<V> fmt::Debug for AuthorityMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorityMap")
            .field("max", &self.max)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn one_entry_per_authority_with_the_port_defaulted_and_case_ignored() {
        let map = AuthorityMap::new(16, |_: &()| false);
        let mut made = Vec::new();
        for u in [
            "http://a",
            "HTTP://A:80/x",
            "http://a:81",
            "https://a",
            "/path",
            "/other",
        ] {
            map.get_or_insert_with(&uri(u), |label| made.push(label.to_string()));
        }
        assert_eq!(made, ["http://a:80", "http://a:81", "https://a:443", ""]);
        assert_eq!(map.len(), 4);
        // IP literals compare by address.
        map.get_or_insert_with(&uri("http://[::1]/"), |_| ());
        map.get_or_insert_with(&uri("http://[0:0:0:0:0:0:0:1]:80/"), |_| ());
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn the_least_recently_used_entry_not_kept_goes_first() {
        // Values: whether to keep.
        let map = AuthorityMap::new(2, |keep: &bool| *keep);
        map.get_or_insert_with(&uri("http://a"), |_| true);
        map.get_or_insert_with(&uri("http://b"), |_| false);
        map.get_or_insert_with(&uri("http://c"), |_| false);
        assert!(map.get(&uri("http://a")).is_some());
        assert!(map.get(&uri("http://b")).is_none());
        // Every entry kept: the least recently used of all goes.
        let map = AuthorityMap::new(2, |_: &bool| true);
        map.get_or_insert_with(&uri("http://a"), |_| true);
        map.get_or_insert_with(&uri("http://b"), |_| true);
        map.get_or_insert_with(&uri("http://a"), |_| true);
        map.get_or_insert_with(&uri("http://c"), |_| true);
        assert!(map.get(&uri("http://b")).is_none());
        assert_eq!(map.len(), 2);
    }
}
