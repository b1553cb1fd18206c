//! Per-host breakers: one [`Breaker`] per URI authority (scheme, host,
//! port), in a map bounded by `max_hosts`.
//!
//! # The map
//!
//! A `RwLock<HashMap<u64, Vec<Entry>>>`, keyed by a keyed hash
//! (`RandomState`, so a peer that picks host names can't aim at one bucket)
//! of the normalised authority; the `Vec` holds the rare authorities whose
//! hashes collide. A lookup hashes the URI's parts in place (lower-casing
//! names as it goes, parsing IP literals to their address) and compares
//! names case-insensitively and addresses by value: a call for a known
//! host takes the read lock, allocates nothing, and stamps the entry with
//! a tick of a global counter (one atomic add). Only a new host takes the
//! write lock.
//!
//! # Eviction
//!
//! Inserting a host past `max_hosts` first drops one entry, found by a scan
//! of the map (O(n) with n ≤ `max_hosts`, only when a new host arrives):
//! the least recently used *closed* breaker, or, when every breaker is open
//! or half-open, the least recently used of all. A closed breaker holds
//! little worth keeping (its window); an open one holds the knowledge that
//! its host is sick, and a flood of new host names should not buy that
//! host a fresh, closed breaker. Calls in flight on a dropped breaker
//! finish and record their outcome on it, unseen; the next call for that
//! host makes a new, closed breaker.
//!
//! An intrusive LRU list would make eviction O(1), but would need the
//! write lock (or a lock per entry) on every call to move the entry to the
//! front; the scan keeps the path of a known host on the read lock.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use http::Uri;

use super::authority::{AuthorityKey, AuthorityRef};
use super::config::CircuitBreakerConfig;
use super::observe;
use super::state::Breaker;
use super::vocabulary::{BreakerMode, CircuitState};

/// The breakers of a layer: one for every call, or one per host.
#[derive(Debug, Clone)]
pub(crate) enum Breakers {
    One(Arc<Breaker>),
    PerHost(Arc<HostMap>),
}

impl Breakers {
    /// The breaker a call to `uri` goes through.
    #[inline]
    pub(crate) fn for_uri(&self, uri: &Uri) -> Arc<Breaker> {
        match self {
            Breakers::One(breaker) => breaker.clone(),
            Breakers::PerHost(map) => map.breaker(uri),
        }
    }
}

#[derive(Debug)]
struct Entry {
    key: AuthorityKey,
    breaker: Arc<Breaker>,
    /// The tick of its last call.
    last_used: AtomicU64,
}

#[derive(Debug, Default)]
struct Map {
    /// By the hash of the key; a `Vec` for colliding keys.
    buckets: HashMap<u64, Vec<Entry>>,
    len: usize,
    /// What an operator holds every breaker in, new ones included.
    forced: Option<BreakerMode>,
}

impl Map {
    fn find(&self, hash: u64, authority: &AuthorityRef<'_>) -> Option<&Entry> {
        self.buckets
            .get(&hash)?
            .iter()
            .find(|e| authority.matches(&e.key))
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.values().flatten()
    }

    /// Drops the least recently used closed breaker, or the least recently
    /// used of all when none is closed; returns it.
    fn evict(&mut self) -> Option<Arc<Breaker>> {
        let mut closed: Option<(u64, u64, usize)> = None;
        let mut any: Option<(u64, u64, usize)> = None;
        for (&hash, bucket) in &self.buckets {
            for (i, e) in bucket.iter().enumerate() {
                let tick = e.last_used.load(Ordering::Relaxed);
                let candidate = Some((tick, hash, i));
                if any.is_none_or(|(t, _, _)| tick < t) {
                    any = candidate;
                }
                if e.breaker.state() == CircuitState::Closed
                    && closed.is_none_or(|(t, _, _)| tick < t)
                {
                    closed = candidate;
                }
            }
        }
        let (_, hash, i) = closed.or(any)?;
        let bucket = self.buckets.get_mut(&hash)?;
        let entry = bucket.swap_remove(i);
        if bucket.is_empty() {
            self.buckets.remove(&hash);
        }
        self.len -= 1;
        Some(entry.breaker)
    }
}

/// The breakers of a per-host layer, shared by its services and handles.
pub(crate) struct HostMap {
    config: CircuitBreakerConfig,
    hasher: RandomState,
    map: RwLock<Map>,
    /// Counts calls, to stamp entries with.
    clock: AtomicU64,
}

impl fmt::Debug for HostMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostMap")
            .field("config", &self.config)
            .field("hosts", &self.read().len)
            .finish_non_exhaustive()
    }
}

impl HostMap {
    /// # Panics
    ///
    /// If the settings of `config` are inconsistent.
    pub(crate) fn new(config: CircuitBreakerConfig) -> Arc<HostMap> {
        // Checked now rather than at the first call.
        config.validate();
        Arc::new(HostMap {
            config,
            hasher: RandomState::new(),
            map: RwLock::new(Map::default()),
            clock: AtomicU64::new(0),
        })
    }

    // Nothing a panic could interrupt leaves the map inconsistent: the
    // only code run under the write lock is the map's own.
    fn read(&self) -> RwLockReadGuard<'_, Map> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn touch(&self, entry: &Entry) -> Arc<Breaker> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        entry.last_used.fetch_max(tick, Ordering::Relaxed);
        entry.breaker.clone()
    }

    /// The breaker of `uri`'s authority, made if there is none.
    pub(crate) fn breaker(&self, uri: &Uri) -> Arc<Breaker> {
        let authority = AuthorityRef::of(uri);
        let hash = self.hasher.hash_one(authority);
        if let Some(entry) = self.read().find(hash, &authority) {
            return self.touch(entry);
        }
        let mut map = self.write();
        if let Some(entry) = map.find(hash, &authority) {
            return self.touch(entry);
        }
        let evicted = if map.len >= self.config.max_hosts {
            map.evict()
        } else {
            None
        };
        let key = authority.to_key();
        let host: Arc<str> = Arc::from(key.to_string());
        let mode = map.forced.unwrap_or(BreakerMode::Closed);
        let breaker = Breaker::for_host(self.config.clone(), Some(host), mode);
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        map.buckets.entry(hash).or_default().push(Entry {
            key,
            breaker: breaker.clone(),
            last_used: AtomicU64::new(tick),
        });
        map.len += 1;
        drop(map);
        if let Some(host) = evicted.as_ref().and_then(|b| b.host()) {
            observe::evicted(&self.config, host);
        }
        breaker.announce_created();
        breaker
    }

    /// The breaker of `uri`'s authority, if there is one; not counted as a
    /// use.
    pub(crate) fn get(&self, uri: &Uri) -> Option<Arc<Breaker>> {
        let authority = AuthorityRef::of(uri);
        let hash = self.hasher.hash_one(authority);
        self.read()
            .find(hash, &authority)
            .map(|e| e.breaker.clone())
    }

    /// Every breaker, at one moment.
    pub(crate) fn breakers(&self) -> Vec<Arc<Breaker>> {
        self.read().entries().map(|e| e.breaker.clone()).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.read().len
    }

    pub(crate) fn forced(&self) -> Option<BreakerMode> {
        self.read().forced
    }

    /// Holds every breaker, and every one made from now on, in `mode`
    /// (`None`: back to the rules); returns the breakers to force.
    pub(crate) fn set_forced(&self, mode: Option<BreakerMode>) -> Vec<Arc<Breaker>> {
        let mut map = self.write();
        map.forced = mode;
        // A breaker made after the lock is released is made in `mode`;
        // every one made before is in this list.
        map.entries().map(|e| e.breaker.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_prefers_closed_breakers() {
        let map = HostMap::new(CircuitBreakerConfig::default().max_hosts(2));
        let a: Uri = "http://a".parse().unwrap();
        let b: Uri = "http://b".parse().unwrap();
        let c: Uri = "http://c".parse().unwrap();
        map.breaker(&a).force(
            BreakerMode::ForcedOpen,
            super::super::vocabulary::StateChangeReason::ForcedOpen,
            Default::default(),
        );
        map.breaker(&b);
        map.breaker(&c);
        // `a` is the least recently used, but open: `b` goes.
        assert!(map.get(&a).is_some());
        assert!(map.get(&b).is_none());
        assert_eq!(map.len(), 2);
    }
}
