//! Calls abandoned before they end (a caller that gave up, a timeout
//! above the breaker, a hedge that lost): what they count as. Paused time,
//! an in-memory downstream that never answers.

// A panic is how a test reports; clippy's test exemption misses helpers.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use tower::{service_fn, BoxError, Service, ServiceExt};
use tower_http_retry::circuit_breaker::{AbandonedCalls, CircuitBreaker};
use tower_http_retry::{CircuitBreakerConfig, CircuitOpen, CircuitState};

type Svc = tower::util::BoxCloneSyncService<Request<()>, Response<()>, Infallible>;

/// A downstream that hangs for its first `hung` calls and answers 200
/// after.
fn hanging(hung: usize) -> (Svc, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    let svc = Svc::new(service_fn(move |_req: Request<()>| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < hung {
                std::future::pending::<()>().await;
            }
            Ok(Response::new(()))
        }
    }));
    (svc, calls)
}

/// One call, given up by its caller after `patience` (a timeout above the
/// breaker): `None` when it was given up.
async fn call_with_patience(
    svc: &mut CircuitBreaker<Svc>,
    patience: Duration,
) -> Option<Result<Response<()>, BoxError>> {
    let call = svc.ready().await.unwrap().call(Request::new(()));
    tokio::time::timeout(patience, call).await.ok()
}

/// Four calls in a window of four, slow past 1 s, tripping at 50 % slow.
fn slow_calls() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .window_size(4)
        .minimum_calls(4)
        .slow_calls(Duration::from_secs(1), 0.5)
        .open_duration(Duration::from_secs(5))
}

/// The default: a host that hangs while its callers give up after 2 s
/// (past the slow-call duration) trips the slow-call rule.
#[tokio::test(start_paused = true)]
async fn calls_abandoned_late_count_as_slow_by_default() {
    let (inner, calls) = hanging(usize::MAX);
    let mut svc = CircuitBreaker::new(inner, slow_calls());
    for _ in 0..4 {
        assert!(call_with_patience(&mut svc, Duration::from_secs(2))
            .await
            .is_none());
    }
    assert_eq!(svc.handle().state(), CircuitState::Open);
    let metrics = svc.handle().metrics();
    assert_eq!(
        (metrics.calls, metrics.slow_calls, metrics.failures),
        (4, 4, 0)
    );
    let err = call_with_patience(&mut svc, Duration::from_secs(2))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

/// "At least" the slow-call duration: a caller whose deadline is exactly
/// that duration gave up on a slow call.
#[tokio::test(start_paused = true)]
async fn abandoned_at_exactly_the_slow_call_duration_is_slow() {
    let (inner, _) = hanging(usize::MAX);
    let mut svc = CircuitBreaker::new(inner, slow_calls());
    assert!(call_with_patience(&mut svc, Duration::from_secs(1))
        .await
        .is_none());
    assert_eq!(svc.handle().metrics().slow_calls, 1);
}

/// Abandoned earlier than the slow-call duration (a hedge that lost, an
/// impatient caller): nothing, by default.
#[tokio::test(start_paused = true)]
async fn calls_abandoned_early_count_as_nothing_by_default() {
    let (inner, _) = hanging(usize::MAX);
    let mut svc = CircuitBreaker::new(inner, slow_calls());
    for _ in 0..20 {
        let patience = Duration::from_millis(999);
        assert!(call_with_patience(&mut svc, patience).await.is_none());
    }
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    assert_eq!(svc.handle().metrics().calls, 0);
}

/// `Ignored`: nothing, however late.
#[tokio::test(start_paused = true)]
async fn ignored_abandoned_calls_count_as_nothing() {
    let (inner, _) = hanging(usize::MAX);
    let config = slow_calls().abandoned_calls(AbandonedCalls::Ignored);
    let mut svc = CircuitBreaker::new(inner, config);
    for _ in 0..4 {
        assert!(call_with_patience(&mut svc, Duration::from_secs(10))
            .await
            .is_none());
    }
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    assert_eq!(svc.handle().metrics().calls, 0);
}

/// `Failed`: every abandoned call is a failure, early ones included, and
/// with no slow-call detection at all.
#[tokio::test(start_paused = true)]
async fn failed_abandoned_calls_count_as_failures() {
    let (inner, _) = hanging(usize::MAX);
    let config = CircuitBreakerConfig::default()
        .window_size(4)
        .minimum_calls(4)
        .abandoned_calls(AbandonedCalls::Failed);
    let mut svc = CircuitBreaker::new(inner, config);
    for _ in 0..4 {
        assert!(call_with_patience(&mut svc, Duration::from_millis(10))
            .await
            .is_none());
    }
    assert_eq!(svc.handle().state(), CircuitState::Open);
    let metrics = svc.handle().metrics();
    assert_eq!((metrics.failures, metrics.slow_calls), (4, 0));
}

/// A half-open probe abandoned late is a slow probe: it fails, and the
/// breaker opens again; one abandoned early gives its permit back.
#[tokio::test(start_paused = true)]
async fn a_probe_abandoned_late_fails_and_one_abandoned_early_is_given_back() {
    // Four hung calls trip it; then two hung probes; then answers.
    let (inner, calls) = hanging(6);
    let mut svc = CircuitBreaker::new(inner, slow_calls());
    for _ in 0..4 {
        call_with_patience(&mut svc, Duration::from_secs(2)).await;
    }
    assert_eq!(svc.handle().state(), CircuitState::Open);
    tokio::time::advance(Duration::from_secs(5)).await;

    // Early: the permit goes back, still half-open.
    assert!(call_with_patience(&mut svc, Duration::from_millis(500))
        .await
        .is_none());
    assert_eq!(svc.handle().state(), CircuitState::HalfOpen);
    // Late: a failed probe, open again for another 5 s.
    assert!(call_with_patience(&mut svc, Duration::from_secs(1))
        .await
        .is_none());
    assert_eq!(svc.handle().state(), CircuitState::Open);
    assert_eq!(calls.load(Ordering::SeqCst), 6);

    tokio::time::advance(Duration::from_secs(5)).await;
    let res = call_with_patience(&mut svc, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(res.unwrap().status(), 200);
    assert_eq!(svc.handle().state(), CircuitState::Closed);
}
