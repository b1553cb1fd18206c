//! A half-open probe that never answers: hung (its future never
//! completes) or leaked (polled once, then `std::mem::forget`), it must not
//! keep the breaker half-open for good. Paused time, in-memory downstream.

// A panic is how a test reports; clippy's test exemption misses helpers.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tower::{service_fn, BoxError, Service, ServiceExt};
use tower_http_retry::circuit_breaker::{CircuitBreaker, StateChange};
use tower_http_retry::{CircuitBreakerConfig, CircuitOpen, CircuitState};

type Svc = tower::util::BoxCloneSyncService<Request<()>, Response<()>, Infallible>;

/// The first call fails (500), the second never answers, every later one
/// answers 200.
fn downstream(calls: Arc<AtomicUsize>) -> Svc {
    Svc::new(service_fn(move |_req: Request<()>| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            match n {
                0 => {
                    let mut res = Response::new(());
                    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    Ok(res)
                }
                1 => std::future::pending().await,
                _ => Ok(Response::new(())),
            }
        }
    }))
}

type Changes = Arc<Mutex<Vec<(CircuitState, CircuitState, String)>>>;

fn breaker(config: CircuitBreakerConfig) -> (CircuitBreaker<Svc>, Arc<AtomicUsize>, Changes) {
    let calls = Arc::new(AtomicUsize::new(0));
    let changes: Changes = Arc::default();
    let log = changes.clone();
    let config = config
        .consecutive_failures(1)
        .on_state_change(move |c: &StateChange<'_>| {
            log.lock().unwrap().push((c.from, c.to, c.why.to_string()));
        });
    (
        CircuitBreaker::new(downstream(calls.clone()), config),
        calls,
        changes,
    )
}

async fn send(svc: &mut CircuitBreaker<Svc>) -> Result<Response<()>, BoxError> {
    svc.ready().await?.call(Request::new(())).await
}

fn refusal(result: Result<Response<()>, BoxError>) -> CircuitOpen {
    match result {
        Err(e) => e.downcast_ref::<CircuitOpen>().unwrap().clone(),
        Ok(res) => panic!("expected CircuitOpen, got {}", res.status()),
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = std::task::Waker::from(Arc::new(Noop));
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

#[derive(Clone, Copy)]
enum Probe {
    /// Spawned: polled by the runtime, never completes.
    Hung,
    /// Polled once, then forgotten: its guard is never dropped.
    Leaked,
}

/// Opens the breaker, lets `open` elapse, sends a probe that never answers
/// (as `probe` says), then checks that the breaker waits `patience` for it
/// and no longer: the next call after that opens it again (`why`) for
/// `open`, and the probe after that closes it.
async fn a_wedged_probe_is_given_up(
    config: CircuitBreakerConfig,
    probe: Probe,
    open: Duration,
    patience: Duration,
    why: &str,
) {
    let (mut svc, calls, changes) = breaker(config);
    assert_eq!(send(&mut svc).await.unwrap().status(), 500);
    assert_eq!(svc.handle().state(), CircuitState::Open);
    tokio::time::advance(open).await;

    let mut call = Box::pin(svc.clone().oneshot(Request::new(())));
    assert!(poll_once(&mut call).is_pending());
    match probe {
        Probe::Hung => drop(tokio::spawn(call)),
        Probe::Leaked => std::mem::forget(call),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the probe reached the downstream"
    );
    assert_eq!(svc.handle().state(), CircuitState::HalfOpen);

    // Up to the bound, every other call is refused and the probe awaited.
    tokio::time::advance(patience).await;
    let open_err = refusal(send(&mut svc).await);
    assert_eq!(open_err.retry_after(), None, "half-open, its probe out");
    assert_eq!(svc.handle().state(), CircuitState::HalfOpen);

    // Past it, the next call opens the breaker again for another round.
    tokio::time::advance(Duration::from_millis(1)).await;
    let open_err = refusal(send(&mut svc).await);
    assert_eq!(open_err.retry_after(), Some(open));
    assert_eq!(svc.handle().state(), CircuitState::Open);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    tokio::time::advance(open).await;
    assert_eq!(send(&mut svc).await.unwrap().status(), 200);
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    use CircuitState::*;
    let expected: Vec<(CircuitState, CircuitState, String)> = [
        (Closed, Open, "consecutive_failures"),
        (Open, HalfOpen, "open_duration_elapsed"),
        (HalfOpen, Open, why),
        (Open, HalfOpen, "open_duration_elapsed"),
        (HalfOpen, Closed, "probes_succeeded"),
    ]
    .into_iter()
    .map(|(f, t, w)| (f, t, w.to_string()))
    .collect();
    assert_eq!(*changes.lock().unwrap(), expected);
}

fn slow_calls() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .slow_calls(Duration::from_secs(1), 1.0)
        .open_duration(Duration::from_secs(5))
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_is_slow_and_fails_after_the_slow_call_duration() {
    a_wedged_probe_is_given_up(
        slow_calls(),
        Probe::Hung,
        Duration::from_secs(5),
        Duration::from_secs(1),
        "probe_failed",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_leaked_probe_is_slow_and_fails_after_the_slow_call_duration() {
    a_wedged_probe_is_given_up(
        slow_calls(),
        Probe::Leaked,
        Duration::from_secs(5),
        Duration::from_secs(1),
        "probe_failed",
    )
    .await;
}

/// Defaults: no slow-call detection; open 30 s; a probe is awaited for at
/// most `max_probe_duration`, 60 s.
#[tokio::test(start_paused = true)]
async fn a_hung_probe_times_out_with_the_defaults() {
    a_wedged_probe_is_given_up(
        CircuitBreakerConfig::default(),
        Probe::Hung,
        Duration::from_secs(30),
        Duration::from_secs(60) - Duration::from_millis(1),
        "probe_timed_out",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_leaked_probe_times_out_with_the_defaults() {
    a_wedged_probe_is_given_up(
        CircuitBreakerConfig::default(),
        Probe::Leaked,
        Duration::from_secs(30),
        Duration::from_secs(60) - Duration::from_millis(1),
        "probe_timed_out",
    )
    .await;
}

/// The bound is configurable, and applies with slow calls on when it is
/// the shorter of the two.
#[tokio::test(start_paused = true)]
async fn max_probe_duration_below_the_slow_call_duration() {
    a_wedged_probe_is_given_up(
        slow_calls().max_probe_duration(Duration::from_millis(500)),
        Probe::Leaked,
        Duration::from_secs(5),
        Duration::from_millis(499),
        "probe_timed_out",
    )
    .await;
}
