//! Retry budgets of the crate's own: the default one, earned by successes,
//! and tower's `TpsBudget` arithmetic with a cheaper deposit.

mod earned;
mod per_host;
mod setters;
mod stripe;
mod tps;

pub(crate) use earned::EarnedBudget;
pub(crate) use per_host::{BudgetRef, HostBudgets};
pub(crate) use tps::{amounts, LeanTpsBudget};
#[cfg(test)]
mod tests;
