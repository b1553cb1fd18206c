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
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use http::Uri;

use super::config::CircuitBreakerConfig;
use super::event;
use super::state::{Breaker, CircuitState, Kind};

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

/// The host of an authority: a name, compared without regard to ASCII
/// case, or an IP literal, compared by address (`[::1]` and
/// `[0:0:0:0:0:0:0:1]` are one origin).
#[derive(Debug, Clone, Copy)]
enum HostRef<'a> {
    Name(&'a str),
    Ip(IpAddr),
}

impl<'a> HostRef<'a> {
    /// `host` as `Uri::host` gives it: an IPv6 literal in brackets.
    fn of(host: &'a str) -> HostRef<'a> {
        let ip = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
            // Only std's one dotted-quad form parses; anything else is a
            // name (as `127.1` is to the URI grammar).
            None if host.starts_with(|c: char| c.is_ascii_digit()) => host.parse().ok(),
            None => None,
        };
        ip.map_or(HostRef::Name(host), HostRef::Ip)
    }

    fn matches(&self, key: &HostKey) -> bool {
        match (self, key) {
            (HostRef::Name(a), HostKey::Name(b)) => a.eq_ignore_ascii_case(b),
            (HostRef::Ip(a), HostKey::Ip(b)) => a == b,
            _ => false,
        }
    }

    fn to_key(self) -> HostKey {
        match self {
            HostRef::Name(name) => HostKey::Name(Box::from(name.to_ascii_lowercase())),
            HostRef::Ip(ip) => HostKey::Ip(ip),
        }
    }
}

impl Hash for HostRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            HostRef::Name(name) => {
                state.write_u8(1);
                for b in name.bytes() {
                    state.write_u8(b.to_ascii_lowercase());
                }
            }
            HostRef::Ip(ip) => {
                state.write_u8(2);
                ip.hash(state);
            }
        }
    }
}

/// A [`HostRef`] kept in the map: a name lower-cased.
#[derive(Debug)]
enum HostKey {
    Name(Box<str>),
    Ip(IpAddr),
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostKey::Name(name) => f.write_str(name),
            HostKey::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            // The canonical text (RFC 5952), in brackets as in a URI.
            HostKey::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// The authority of a request, borrowed from its URI: `scheme` as it
/// appears (compared without regard to ASCII case), the host, and the port
/// defaulted from the scheme (`http`: 80, `https`: 443). All `None` for a
/// request without an authority. Looked up without allocating.
#[derive(Debug, Clone, Copy)]
struct AuthorityRef<'a> {
    scheme: Option<&'a str>,
    host: Option<HostRef<'a>>,
    port: Option<u16>,
}

impl<'a> AuthorityRef<'a> {
    fn of(uri: &'a Uri) -> AuthorityRef<'a> {
        let Some(host) = uri.host() else {
            return AuthorityRef {
                scheme: None,
                host: None,
                port: None,
            };
        };
        let scheme = uri.scheme_str();
        let port = uri.port_u16().or_else(|| match scheme {
            Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
            Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
            _ => None,
        });
        AuthorityRef {
            scheme,
            host: Some(HostRef::of(host)),
            port,
        }
    }

    fn matches(&self, key: &AuthorityKey) -> bool {
        let scheme = match (self.scheme, key.scheme.as_deref()) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        let host = match (&self.host, &key.host) {
            (Some(a), Some(b)) => a.matches(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.port == key.port && host && scheme
    }

    /// The owned key, lower-cased.
    fn to_key(self) -> AuthorityKey {
        AuthorityKey {
            scheme: self.scheme.map(|s| Box::from(s.to_ascii_lowercase())),
            host: self.host.map(HostRef::to_key),
            port: self.port,
        }
    }
}

impl Hash for AuthorityRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.scheme {
            Some(s) => {
                state.write_u8(1);
                for b in s.bytes() {
                    state.write_u8(b.to_ascii_lowercase());
                }
                // A terminator, so ("ab", "c") and ("a", "bc") differ.
                state.write_u8(0xff);
            }
            None => state.write_u8(0),
        }
        match &self.host {
            Some(host) => host.hash(state),
            None => state.write_u8(0),
        }
        self.port.hash(state);
    }
}

/// An [`AuthorityRef`] kept in the map: lower-cased.
#[derive(Debug)]
struct AuthorityKey {
    scheme: Option<Box<str>>,
    host: Option<HostKey>,
    port: Option<u16>,
}

impl fmt::Display for AuthorityKey {
    /// `scheme://host:port`; empty without an authority.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        if let Some(host) = &self.host {
            write!(f, "{host}")?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
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
    forced: Option<Kind>,
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
        let kind = map.forced.unwrap_or(Kind::Closed);
        let breaker = Breaker::for_host(self.config.clone(), Some(host), kind);
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        map.buckets.entry(hash).or_default().push(Entry {
            key,
            breaker: breaker.clone(),
            last_used: AtomicU64::new(tick),
        });
        map.len += 1;
        drop(map);
        if let Some(host) = evicted.as_ref().and_then(|b| b.host()) {
            event::evicted(&self.config, host);
        }
        breaker.tell_created();
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

    pub(crate) fn forced(&self) -> Option<Kind> {
        self.read().forced
    }

    /// Holds every breaker, and every one made from now on, in `kind`
    /// (`None`: back to the rules); returns the breakers to force.
    pub(crate) fn set_forced(&self, kind: Option<Kind>) -> Vec<Arc<Breaker>> {
        let mut map = self.write();
        map.forced = kind;
        // A breaker made after the lock is released is made in `kind`;
        // every one made before is in this list.
        map.entries().map(|e| e.breaker.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uri: &str) -> String {
        AuthorityRef::of(&uri.parse().unwrap()).to_key().to_string()
    }

    fn same(a: &str, b: &str) -> bool {
        let (a, b): (Uri, Uri) = (a.parse().unwrap(), b.parse().unwrap());
        let s = RandomState::new();
        let (va, vb) = (AuthorityRef::of(&a), AuthorityRef::of(&b));
        let matched = va.matches(&vb.to_key());
        assert_eq!(matched, s.hash_one(va) == s.hash_one(vb), "{a} {b}");
        matched
    }

    #[test]
    fn keys_default_the_port_and_ignore_case() {
        assert_eq!(key("http://a.example/x"), "http://a.example:80");
        assert_eq!(key("HTTPS://A.Example/"), "https://a.example:443");
        assert_eq!(key("http://[::1]:8080/"), "http://[::1]:8080");
        assert_eq!(key("/just/a/path"), "");
        assert!(same("http://a", "http://a:80"));
        assert!(same("https://A:443/x?y", "https://a/z"));
        assert!(!same("http://a", "https://a"));
        assert!(!same("http://a", "http://a:81"));
        assert!(!same("http://a", "http://b"));
        assert!(!same("http://ab", "http://a"));
        assert!(same("/x", "/y"));
        assert!(!same("/x", "http://a"));
    }

    #[test]
    fn ip_literals_are_compared_by_address() {
        assert!(same("http://[::1]:8080", "http://[0:0:0:0:0:0:0:1]:8080/x"));
        assert!(same("http://[::1]", "http://[::1]:80"));
        assert!(same(
            "http://[2001:DB8::A]",
            "http://[2001:db8:0:0:0:0:0:a]"
        ));
        assert_eq!(
            key("http://[0:0:0:0:0:0:0:1]:8080/"),
            "http://[::1]:8080",
            "the canonical text (RFC 5952)"
        );
        assert_eq!(
            key("https://[2001:DB8:0:0::1]/"),
            "https://[2001:db8::1]:443"
        );
        assert!(!same("http://[::1]", "http://[::2]"));
        assert!(!same("http://[::1]", "http://127.0.0.1"));
        assert_eq!(key("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert!(same("http://127.0.0.1", "http://127.0.0.1:80"));
        // A name that only looks numeric stays a name.
        assert_eq!(key("http://1.example/"), "http://1.example:80");
    }

    #[test]
    fn eviction_prefers_closed_breakers() {
        let map = HostMap::new(CircuitBreakerConfig::default().max_hosts(2));
        let a: Uri = "http://a".parse().unwrap();
        let b: Uri = "http://b".parse().unwrap();
        let c: Uri = "http://c".parse().unwrap();
        map.breaker(&a).force(
            Kind::ForcedOpen,
            super::super::state::Why::ForcedOpen,
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
