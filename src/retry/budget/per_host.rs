//! One retry budget per host (scheme, host and port), in a bounded map: one
//! sick host never spends the retries of the healthy ones (reqwest scopes
//! its budget per host, the AWS SDKs per partition, gRPC per server name).

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use http::Uri;
use tower::retry::budget::Budget;

/// A budget, shared by every request to one host.
pub(crate) type SharedBudget = Arc<dyn Budget + Send + Sync>;

/// Makes the budget of a host seen for the first time.
type Make = Arc<dyn Fn() -> SharedBudget + Send + Sync>;

struct Entry {
    budget: SharedBudget,
    /// The tick of its last use: the least recent goes first.
    used: AtomicU64,
}

/// The budgets of the hosts seen, at most `max_hosts` of them.
pub(crate) struct HostBudgets {
    map: RwLock<HashMap<Box<str>, Entry>>,
    make: Make,
    max_hosts: usize,
    tick: AtomicU64,
}

impl fmt::Debug for HostBudgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostBudgets")
            .field("hosts", &self.len())
            .field("max_hosts", &self.max_hosts)
            .finish_non_exhaustive()
    }
}

/// `scheme://host:port`, lower case, the port filled in from the scheme;
/// requests without an authority share one key.
fn key(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    let port = uri.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    }
}

impl HostBudgets {
    pub(crate) fn new(max_hosts: usize, make: Make) -> Self {
        HostBudgets {
            map: RwLock::new(HashMap::new()),
            make,
            max_hosts,
            tick: AtomicU64::new(0),
        }
    }

    /// The budget of `uri`'s host, made if it has none yet (the least
    /// recently used host dropped if the map is full).
    pub(crate) fn for_uri(&self, uri: &Uri) -> SharedBudget {
        let key = key(uri);
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        {
            let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = map.get(key.as_str()) {
                entry.used.store(tick, Ordering::Relaxed);
                return entry.budget.clone();
            }
        }
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get(key.as_str()) {
            return entry.budget.clone();
        }
        if map.len() >= self.max_hosts {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                map.remove(&oldest);
            }
        }
        let budget = (self.make)();
        let entry = Entry {
            budget: budget.clone(),
            used: AtomicU64::new(tick),
        };
        map.insert(key.into_boxed_str(), entry);
        budget
    }

    /// Hosts with a budget now.
    pub(crate) fn len(&self) -> usize {
        self.map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// The budget a request uses: the shared one, or its host's.
pub(crate) enum BudgetRef<'a> {
    Shared(&'a (dyn Budget + Send + Sync + 'static)),
    Host(SharedBudget),
}

impl Deref for BudgetRef<'_> {
    type Target = dyn Budget + Send + Sync + 'static;

    fn deref(&self) -> &Self::Target {
        match self {
            BudgetRef::Shared(b) => *b,
            BudgetRef::Host(b) => &**b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::budget::EarnedBudget;

    fn map(max_hosts: usize) -> HostBudgets {
        HostBudgets::new(max_hosts, Arc::new(|| Arc::new(EarnedBudget::default())))
    }

    #[test]
    fn one_budget_per_host_whatever_the_case_or_default_port() {
        let m = map(8);
        let a = m.for_uri(&Uri::from_static("http://Example.com/a"));
        let b = m.for_uri(&Uri::from_static("http://example.com:80/b"));
        assert!(Arc::ptr_eq(&a, &b));
        let c = m.for_uri(&Uri::from_static("https://example.com/"));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn the_map_is_bounded_and_drops_the_least_recently_used() {
        let m = map(4);
        let first = m.for_uri(&Uri::from_static("http://h0/"));
        for i in 1..2_000 {
            let uri: Uri = format!("http://h{i}/").parse().unwrap();
            m.for_uri(&uri);
            // h0 stays in use, so it is never the one dropped.
            m.for_uri(&Uri::from_static("http://h0/"));
        }
        assert_eq!(m.len(), 4);
        assert!(Arc::ptr_eq(
            &first,
            &m.for_uri(&Uri::from_static("http://h0/"))
        ));
    }
}
