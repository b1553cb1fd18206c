//! What both targets share: one runtime (the policy's wait needs a timer)
//! and one decision, observed through the public hooks.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http::{Request, Response};
use tower::retry::Policy;
use tower_http_retry::retry::{RetryEvent, WaitSource};
use tower_http_retry::RetryPolicy;

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    })
}

/// Runs one retry decision; returns the wait chosen, if the policy retries,
/// and whether the server named it (`Retry-After`, a rate-limit header) or
/// the backoff did.
pub fn decide(
    policy: RetryPolicy,
    mut req: Request<()>,
    mut result: Result<Response<()>, std::io::Error>,
) -> Option<(Duration, bool)> {
    let _guard = runtime().enter();
    let chosen = Arc::new(Mutex::new(None));
    let c = chosen.clone();
    let mut policy = policy.on_retry(move |e: &RetryEvent<'_>| {
        *c.lock().expect("not poisoned") = Some((e.delay, e.delay_from != WaitSource::Backoff));
    });
    let _ = Policy::<_, Response<()>, std::io::Error>::clone_request(&mut policy, &req);
    let retried = Policy::retry(&mut policy, &mut req, &mut result).is_some();
    let delay = *chosen.lock().expect("not poisoned");
    assert_eq!(retried, delay.is_some());
    delay
}
