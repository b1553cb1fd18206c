//! The hosts whose quota is spent, and until when: a map bounded in size.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http::Uri;
use tokio::time::Instant;

/// The longest pace kept: a reset further ahead is kept as this (and is
/// above any sensible cap, so requests fail at once all the same).
const MAX_PACE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Paced hosts, keyed by `scheme://host:port` (lower-case, the port
/// defaulted from the scheme). Only hosts whose quota is spent are kept,
/// each until its reset, so the map is empty in the common case: a call
/// then reads one atomic and takes no lock. Inserting past `max_hosts`
/// drops the expired entries, then the least recently used one.
#[derive(Debug)]
pub(super) struct PacedHosts {
    map: Mutex<Map>,
    /// Entries in `map`, read without its lock.
    len: AtomicUsize,
    max_hosts: usize,
}

#[derive(Debug, Default)]
struct Map {
    entries: HashMap<Box<str>, Entry>,
    tick: u64,
}

#[derive(Debug)]
struct Entry {
    until: Instant,
    used: u64,
}

impl PacedHosts {
    pub(super) fn new(max_hosts: usize) -> Self {
        PacedHosts {
            map: Mutex::default(),
            len: AtomicUsize::new(0),
            max_hosts,
        }
    }

    /// How long a request to `uri` must wait, if its host is paced.
    pub(super) fn wait(&self, uri: &Uri, now: Instant) -> Option<Duration> {
        if self.len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let key = key(uri);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.tick += 1;
        let tick = map.tick;
        let entry = map.entries.get_mut(&*key)?;
        if entry.until > now {
            entry.used = tick;
            return Some(entry.until - now);
        }
        map.entries.remove(&*key);
        self.len.store(map.entries.len(), Ordering::Release);
        None
    }

    /// `uri`'s host has no quota left for `wait`.
    pub(super) fn pace(&self, uri: &Uri, wait: Duration, now: Instant) {
        let until = now + wait.min(MAX_PACE);
        let key = key(uri);
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.tick += 1;
        let used = map.tick;
        if let Some(entry) = map.entries.get_mut(&*key) {
            entry.until = entry.until.max(until);
            entry.used = used;
            return;
        }
        if map.entries.len() >= self.max_hosts {
            map.entries.retain(|_, e| e.until > now);
        }
        if map.entries.len() >= self.max_hosts {
            let oldest = map
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.entries.remove(&oldest);
            }
        }
        map.entries.insert(key.into(), Entry { until, used });
        self.len.store(map.entries.len(), Ordering::Release);
    }
}

/// `scheme://host:port`, lower-case; the port defaulted from the scheme.
pub(super) fn key(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("");
    let port = uri.port_u16().or(match scheme {
        s if s.eq_ignore_ascii_case("http") => Some(80),
        s if s.eq_ignore_ascii_case("https") => Some(443),
        _ => None,
    });
    let mut key = format!("{scheme}://{}", uri.host().unwrap_or(""));
    if let Some(port) = port {
        key.push_str(&format!(":{port}"));
    }
    key.make_ascii_lowercase();
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn keys_name_the_authority() {
        assert_eq!(key(&uri("http://Example.COM/a")), "http://example.com:80");
        assert_eq!(
            key(&uri("https://example.com:8443/")),
            "https://example.com:8443"
        );
        assert_eq!(key(&uri("/relative")), "://");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pace_lasts_until_its_reset() {
        let hosts = PacedHosts::new(4);
        let (a, b) = (uri("http://a/"), uri("http://b/"));
        assert_eq!(hosts.wait(&a, Instant::now()), None);
        hosts.pace(&a, Duration::from_secs(3), Instant::now());
        hosts.pace(&a, Duration::from_secs(1), Instant::now());
        assert_eq!(hosts.wait(&a, Instant::now()), Some(Duration::from_secs(3)));
        assert_eq!(hosts.wait(&b, Instant::now()), None, "one host's pace only");
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(hosts.wait(&a, Instant::now()), None);
        assert_eq!(
            hosts.len.load(Ordering::Relaxed),
            0,
            "an expired pace is dropped"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_is_bounded_least_recently_used_dropped() {
        let hosts = PacedHosts::new(2);
        let now = Instant::now();
        let (a, b, c) = (uri("http://a/"), uri("http://b/"), uri("http://c/"));
        hosts.pace(&a, Duration::from_secs(9), now);
        hosts.pace(&b, Duration::from_secs(9), now);
        assert!(hosts.wait(&a, now).is_some()); // a used after b
        hosts.pace(&c, Duration::from_secs(9), now);
        assert_eq!(hosts.len.load(Ordering::Relaxed), 2);
        assert!(
            hosts.wait(&b, now).is_none(),
            "b was the least recently used"
        );
        assert!(hosts.wait(&a, now).is_some() && hosts.wait(&c, now).is_some());
        hosts.pace(&b, Duration::MAX, now);
        assert!(hosts.wait(&b, now).is_some_and(|w| w == MAX_PACE));
    }
}
