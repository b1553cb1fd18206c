//! One retry budget per host (scheme, host and port), in a bounded map: one
//! sick host never spends the retries of the healthy ones (reqwest scopes
//! its budget per host, the AWS SDKs per partition, gRPC per server name).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use http::Uri;
use tower::retry::budget::Budget;

use crate::authority_map::AuthorityMap;

/// The budget of one host, shared by every request to it.
pub(crate) type SharedBudget = Arc<Box<dyn Budget + Send + Sync>>;

/// Makes the budget of a host seen for the first time.
type Make = Arc<dyn Fn() -> Box<dyn Budget + Send + Sync> + Send + Sync>;

/// The budgets of the hosts seen, at most `max_hosts` of them: the crate's
/// bounded map by authority (the per-host breakers' key rules: case, IP
/// literals, default ports), the least recently used host dropped first.
pub(crate) struct HostBudgets {
    map: AuthorityMap<Box<dyn Budget + Send + Sync>>,
    make: Make,
}

impl fmt::Debug for HostBudgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostBudgets")
            .field("hosts", &self.len())
            .finish_non_exhaustive()
    }
}

impl HostBudgets {
    pub(crate) fn new(max_hosts: usize, make: Make) -> Self {
        HostBudgets {
            // No host is kept against the least-recently-used rule.
            map: AuthorityMap::new(max_hosts, |_| false),
            make,
        }
    }

    /// The budget of `uri`'s host, made if it has none yet (the least
    /// recently used host dropped if the map is full).
    pub(crate) fn for_uri(&self, uri: &Uri) -> SharedBudget {
        self.map.get_or_insert_with(uri, |_| (self.make)())
    }

    /// Hosts with a budget now.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
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
            BudgetRef::Host(b) => &***b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::budget::EarnedBudget;

    fn map(max_hosts: usize) -> HostBudgets {
        HostBudgets::new(max_hosts, Arc::new(|| Box::new(EarnedBudget::default())))
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
