//! The retry budget: a storm against a downstream that always fails.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use support::*;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::{RetryLayer, RetryPolicy};

/// 1,000 GETs from 50 concurrent tasks against a server that always answers
/// 503, through one stack (every task uses a clone). Returns the calls the
/// server saw.
async fn storm(policy: RetryPolicy) -> usize {
    let server = TestServer::start(|_, _| status(503)).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(client());
    let url = server.url("/");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (svc, url) = (svc.clone(), url.clone());
            tokio::spawn(async move {
                for _ in 0..20 {
                    let res = svc
                        .clone()
                        .oneshot(request(Method::GET, &url))
                        .await
                        .unwrap();
                    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    server.calls()
}

fn fast() -> RetryPolicy {
    RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_millis(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_budget_a_storm_triples_the_load() {
    assert_eq!(storm(fast().without_budget()).await, 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_budget_bounds_a_storm() {
    // The earned budget: failed requests earn nothing, so the retries are
    // the reserve (2) plus what the 50 requests in flight earned before
    // their failures took it back (0.2 each): about 1,010 calls. (With
    // `TpsBudget::default()`, the 10/s floor over 10 s alone allows 100.)
    let calls = storm(fast()).await;
    eprintln!("storm with the default budget: {calls} downstream calls for 1,000 requests");
    assert!((1000..=1050).contains(&calls), "{calls} calls");
}

#[tokio::test]
async fn a_refused_retry_is_not_made_and_the_budget_is_shared() {
    let budget = RefusingBudget::default();
    let policy = fast().budget(budget.clone());
    let server = TestServer::start(|_, _| status(503)).await;
    // Two services from one layer, and a clone: one budget.
    let layer = RetryLayer::new(policy);
    let a = ServiceBuilder::new().layer(layer.clone()).service(client());
    let b = ServiceBuilder::new().layer(layer).service(client());
    for svc in [a.clone(), a, b] {
        let res = svc
            .oneshot(request(Method::GET, &server.url("/")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(attempts(&res), Some(1));
    }
    assert_eq!(server.calls(), 3);
    // One deposit per logical request, one refused withdrawal each.
    assert_eq!(budget.deposits.load(Ordering::SeqCst), 3);
    assert_eq!(budget.withdrawals.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_success_deposits_once_and_withdraws_nothing() {
    let budget = RefusingBudget::default();
    let server = TestServer::statuses(&[]).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast().budget(budget.clone())))
        .service(client());
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert_eq!(budget.deposits.load(Ordering::SeqCst), 1);
    assert_eq!(budget.withdrawals.load(Ordering::SeqCst), 0);
}

#[test]
#[should_panic(expected = "`retry_ratio` 0.6 would be rounded by TpsBudget (tower issue 857) to 1")]
fn a_ratio_tps_budget_would_round_is_rejected() {
    let _ = RetryPolicy::default().tps_budget(Duration::from_secs(10), 10, 0.6);
}

#[test]
#[should_panic(expected = "`ttl` must be within 1s..=60s, got 500ms")]
fn a_short_ttl_is_rejected() {
    let _ = RetryPolicy::default().tps_budget(Duration::from_millis(500), 10, 0.2);
}

#[test]
fn safe_ratios_are_accepted() {
    for r in [0.0, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 4.0, 1000.0] {
        let _ = RetryPolicy::default().tps_budget(Duration::from_secs(10), 10, r);
    }
}

/// An in-memory downstream answering 503 to the calls `fails` picks (by
/// their 0-based index), 200 to the others.
fn downstream(
    fails: impl Fn(usize) -> bool + Clone + Send + 'static,
) -> (
    impl tower::Service<
            http::Request<()>,
            Response = http::Response<()>,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let svc = tower::service_fn(move |_: http::Request<()>| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        let status = if fails(n) { 503 } else { 200 };
        let mut res = http::Response::new(());
        *res.status_mut() = StatusCode::from_u16(status).unwrap();
        std::future::ready(Ok::<_, std::convert::Infallible>(res))
    });
    (svc, calls)
}

#[tokio::test(start_paused = true)]
async fn a_quiet_client_s_rare_failure_is_retried() {
    // A request a minute for ten hours, against a healthy downstream whose
    // every tenth request fails once: every one is retried, and succeeds.
    let (svc, _) = downstream(|n| n % 11 == 10);
    let svc = RetryLayer::new(RetryPolicy::default()).layer(svc);
    for minute in 0..600 {
        tokio::time::sleep(Duration::from_secs(60)).await;
        let res = svc.clone().oneshot(http::Request::new(())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "minute {minute}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_fresh_client_s_first_request_retries_as_max_attempts_allows() {
    let (svc, calls) = downstream(|n| n < 10);
    let svc = RetryLayer::new(RetryPolicy::default().max_attempts(11)).layer(svc);
    let res = svc.oneshot(http::Request::new(())).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(11));
    assert_eq!(calls.load(Ordering::SeqCst), 11);
}

#[tokio::test(start_paused = true)]
async fn after_the_first_request_an_outage_gets_the_reserve_only() {
    // One healthy request, then 1,000 into an outage: the reserve (2) and
    // what the first request earned are all the retries made.
    let (svc, calls) = downstream(|n| n > 0);
    let svc = RetryLayer::new(RetryPolicy::default()).layer(svc);
    for _ in 0..1_001 {
        let _ = svc.clone().oneshot(http::Request::new(())).await.unwrap();
    }
    let retries = calls.load(Ordering::SeqCst) - 1_001;
    assert!((1..=3).contains(&retries), "{retries} retries");
}

/// Against a sick host `a` (always 503) and a healthy host `b` whose next
/// request fails once: whether `b`'s failure is retried after `a` spent
/// its budget.
async fn healthy_host_retried_after_a_sick_one(policy: RetryPolicy) -> bool {
    let b_calls = Arc::new(AtomicUsize::new(0));
    let seen = b_calls.clone();
    let svc = tower::service_fn(move |req: http::Request<()>| {
        let status = match req.uri().host() {
            Some("b.test") => {
                // b's third call fails: the first of the request below.
                if seen.fetch_add(1, Ordering::SeqCst) == 2 {
                    503
                } else {
                    200
                }
            }
            _ => 503,
        };
        let mut res = http::Response::new(());
        *res.status_mut() = StatusCode::from_u16(status).unwrap();
        std::future::ready(Ok::<_, std::convert::Infallible>(res))
    });
    let svc = RetryLayer::new(policy).layer(svc);
    let get = |host: &str| {
        http::Request::get(format!("http://{host}/"))
            .body(())
            .unwrap()
    };
    // Both hosts seen twice (past the first request's trust), then a storm
    // against `a`.
    for host in ["a.test", "b.test", "a.test", "b.test"] {
        let _ = svc.clone().oneshot(get(host)).await.unwrap();
    }
    for _ in 0..100 {
        let _ = svc.clone().oneshot(get("a.test")).await.unwrap();
    }
    let res = svc.oneshot(get("b.test")).await.unwrap();
    res.status() == StatusCode::OK
}

#[tokio::test(start_paused = true)]
async fn with_a_budget_per_host_a_sick_host_spends_only_its_own() {
    assert!(!healthy_host_retried_after_a_sick_one(RetryPolicy::default()).await);
    assert!(
        healthy_host_retried_after_a_sick_one(RetryPolicy::default().budget_per_host(16)).await
    );
}

#[test]
#[should_panic(expected = "`max_hosts` must be at least 1, got 0")]
fn no_hosts_is_rejected() {
    let _ = RetryPolicy::default().budget_per_host(0);
}
