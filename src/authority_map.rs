//! A bounded map from a URI's authority (scheme, host, port) to a value
//! shared by every call to that authority: the per-host state of a layer.
//!
//! Generic over the value, so that any per-host layer can keep its state
//! in it (the adaptive throttle does; the per-host breakers keep a map of
//! their own, with the same rules, in `circuit_breaker/per_host.rs`).
//!
//! - The key: scheme and host compared without regard to ASCII case, the
//!   port defaulted from the scheme (`http`: 80, `https`: 443). Requests
//!   without an authority share one entry.
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
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use http::Uri;

/// The authority of a URI, as borrowed parts.
#[derive(Clone, Copy)]
struct Parts<'a> {
    scheme: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<u16>,
}

impl<'a> Parts<'a> {
    fn of(uri: &'a Uri) -> Self {
        let scheme = uri.scheme_str();
        let host = uri.host();
        let port = match host {
            None => None,
            Some(_) => uri.port_u16().or(match scheme {
                Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
                Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
                _ => None,
            }),
        };
        Parts {
            scheme: host.and(scheme),
            host,
            port,
        }
    }

    fn hash(&self, hasher: &RandomState) -> u64 {
        let mut h = hasher.build_hasher();
        for part in [self.scheme, self.host] {
            if let Some(s) = part {
                s.bytes().for_each(|b| h.write_u8(b.to_ascii_lowercase()));
            }
            // Ends each part, so ("ab", "c") and ("a", "bc") differ.
            h.write_u8(0xff);
        }
        h.write_u32(self.port.map_or(u32::MAX, u32::from));
        h.finish()
    }

    /// `scheme://host:port`, lower-cased; empty without an authority.
    fn label(&self) -> String {
        match (self.scheme, self.host, self.port) {
            (_, None, _) => String::new(),
            (scheme, Some(host), port) => {
                let mut s = String::new();
                if let Some(scheme) = scheme {
                    s.push_str(scheme);
                    s.push_str("://");
                }
                s.push_str(host);
                if let Some(port) = port {
                    s.push(':');
                    s.push_str(&port.to_string());
                }
                s.make_ascii_lowercase();
                s
            }
        }
    }
}

struct Entry<V> {
    scheme: Option<Box<str>>,
    host: Option<Box<str>>,
    port: Option<u16>,
    value: Arc<V>,
    last_used: AtomicU64,
}

impl<V> Entry<V> {
    fn matches(&self, parts: &Parts<'_>) -> bool {
        fn same(a: Option<&str>, b: Option<&str>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (a, b) => a.is_none() && b.is_none(),
            }
        }
        self.port == parts.port
            && same(self.host.as_deref(), parts.host)
            && same(self.scheme.as_deref(), parts.scheme)
    }
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
        let parts = Parts::of(uri);
        let hash = parts.hash(&self.hasher);
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(e) = find(&entries, hash, &parts) {
                return self.touch(e);
            }
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = find(&entries, hash, &parts) {
            return self.touch(e);
        }
        if entries.len >= self.max {
            self.evict(&mut entries);
        }
        let label: Arc<str> = Arc::from(parts.label());
        let value = Arc::new(make(label.clone()));
        entries.by_hash.entry(hash).or_default().push(Entry {
            scheme: parts.scheme.map(Box::from),
            host: parts.host.map(Box::from),
            port: parts.port,
            value: value.clone(),
            last_used: AtomicU64::new(self.clock.fetch_add(1, Ordering::Relaxed)),
        });
        entries.len += 1;
        value
    }

    /// The value of `uri`'s authority, if there is one; not a use.
    pub(crate) fn get(&self, uri: &Uri) -> Option<Arc<V>> {
        let parts = Parts::of(uri);
        let hash = parts.hash(&self.hasher);
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        find(&entries, hash, &parts).map(|e| e.value.clone())
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

fn find<'m, V>(entries: &'m Entries<V>, hash: u64, parts: &Parts<'_>) -> Option<&'m Entry<V>> {
    // A `Vec` per hash for the rare authorities whose hashes collide.
    entries
        .by_hash
        .get(&hash)?
        .iter()
        .find(|e| e.matches(parts))
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
