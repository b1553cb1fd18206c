//! The circuit breaker as a service: its state machine under paused time,
//! its readiness, its composition under `RetryLayer`, and one run over
//! real loopback HTTP.

// A panic is how a test reports; clippy's test exemption misses helpers.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tokio::sync::Semaphore;
use tower::{BoxError, Layer, Service, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::circuit_breaker::future::ResponseFuture;
use tower_http_retry::circuit_breaker::CircuitBreaker;
use tower_http_retry::{
    CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState, RetryLayer, RetryPolicy,
};

/// The in-memory downstream and the helpers of these tests.
mod helpers {
    use super::*;

    /// The downstream as a service (boxed: this is a test). Its error is a
    /// concrete type, as an HTTP client's is: with `BoxError` (a trait
    /// object), rustc fails to prove `Send` for an `async` block awaiting
    /// any tower middleware bounded by `S::Error: Into<BoxError>`.
    pub(crate) type Svc =
        tower::util::BoxCloneSyncService<Request<()>, Response<()>, std::io::Error>;

    /// What the downstream does with the next calls.
    #[derive(Debug, Clone)]
    pub(crate) enum Mode {
        /// Answers with this status.
        Status(u16),
        /// Fails with a transport error (connection reset).
        Error,
        /// Takes this long (by `tokio::time::advance`: exact under paused
        /// time), then answers 200.
        Slow(Duration),
        /// Waits for a permit of the gate, then answers with this status.
        Gated(u16),
        /// Panics when polled.
        Panic,
    }

    /// An in-memory downstream: counts its calls, and does what its mode
    /// says.
    #[derive(Debug, Clone)]
    pub(crate) struct Downstream {
        calls: Arc<AtomicUsize>,
        mode: Arc<Mutex<Mode>>,
        pub(crate) gate: Arc<Semaphore>,
    }

    impl Downstream {
        pub(crate) fn new(mode: Mode) -> Self {
            Downstream {
                calls: Arc::new(AtomicUsize::new(0)),
                mode: Arc::new(Mutex::new(mode)),
                gate: Arc::new(Semaphore::new(0)),
            }
        }

        pub(crate) fn set(&self, mode: Mode) {
            *self.mode.lock().unwrap() = mode;
        }

        pub(crate) fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }

        pub(crate) fn service(&self) -> Svc {
            let this = self.clone();
            Svc::new(tower::service_fn(move |_req: Request<()>| {
                this.calls.fetch_add(1, Ordering::SeqCst);
                let mode = this.mode.lock().unwrap().clone();
                let gate = this.gate.clone();
                async move {
                    match mode {
                        Mode::Status(code) => Ok(status(code)),
                        Mode::Error => {
                            Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
                        }
                        Mode::Slow(d) => {
                            tokio::time::advance(d).await;
                            Ok(status(200))
                        }
                        Mode::Gated(code) => {
                            gate.acquire().await.unwrap().forget();
                            Ok(status(code))
                        }
                        Mode::Panic => panic!("downstream panicked"),
                    }
                }
            }))
        }
    }

    pub(crate) fn status(code: u16) -> Response<()> {
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::from_u16(code).unwrap();
        res
    }

    /// One call, `poll_ready` first.
    pub(crate) async fn send<S>(svc: &mut S) -> Result<Response<()>, BoxError>
    where
        S: Service<Request<()>, Response = Response<()>, Error = BoxError>,
    {
        svc.ready().await?.call(Request::new(())).await
    }

    pub(crate) fn open_error(result: Result<Response<()>, BoxError>) -> CircuitOpen {
        match result {
            Err(e) => e
                .downcast_ref::<CircuitOpen>()
                .unwrap_or_else(|| panic!("not CircuitOpen: {e}"))
                .clone(),
            Ok(res) => panic!("expected CircuitOpen, got {}", res.status()),
        }
    }

    /// A small breaker: the last 4 calls, all 4 needed, open 10 s.
    pub(crate) fn small() -> CircuitBreakerConfig {
        CircuitBreakerConfig::default()
            .window_size(4)
            .minimum_calls(4)
            .open_duration(Duration::from_secs(10))
    }

    pub(crate) fn breaker(
        config: CircuitBreakerConfig,
        downstream: &Downstream,
    ) -> CircuitBreaker<Svc> {
        CircuitBreaker::new(downstream.service(), config)
    }

    /// Sends one call per mode.
    pub(crate) async fn calls<S>(svc: &mut S, downstream: &Downstream, modes: &[Mode])
    where
        S: Service<Request<()>, Response = Response<()>, Error = BoxError>,
    {
        for mode in modes {
            downstream.set(mode.clone());
            let _ = send(svc).await;
        }
    }
}

use helpers::*;

mod support;
use support::Logs;

const OK: Mode = Mode::Status(200);
const FAIL: Mode = Mode::Status(500);

// 1. States

#[tokio::test(start_paused = true)]
async fn open_fails_fast_without_calling_inner() {
    let down = Downstream::new(FAIL);
    let mut svc = breaker(small(), &down);
    calls(&mut svc, &down, &[FAIL, FAIL, FAIL, FAIL]).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
    assert_eq!(down.calls(), 4);
    for _ in 0..10 {
        open_error(send(&mut svc).await);
    }
    assert_eq!(
        down.calls(),
        4,
        "the inner service is never called while open"
    );
}

#[tokio::test(start_paused = true)]
async fn closed_open_half_open_closed() {
    let down = Downstream::new(FAIL);
    let mut svc = breaker(small(), &down);
    let handle = svc.handle();
    calls(&mut svc, &down, &[FAIL, FAIL, FAIL, FAIL]).await;
    assert_eq!(handle.state(), CircuitState::Open);

    tokio::time::advance(Duration::from_millis(9_999)).await;
    open_error(send(&mut svc).await);

    tokio::time::advance(Duration::from_millis(1)).await;
    down.set(Mode::Gated(200));
    let probe = tokio::spawn(svc.clone().oneshot(Request::new(())));
    tokio::task::yield_now().await;
    assert_eq!(handle.state(), CircuitState::HalfOpen);
    down.gate.add_permits(1);
    assert_eq!(probe.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(handle.state(), CircuitState::Closed);
    assert_eq!(handle.metrics().calls, 0, "the window starts empty");
}

// 2. Trip rules

#[tokio::test(start_paused = true)]
async fn failure_rate_trips_at_the_threshold_not_below() {
    let config = CircuitBreakerConfig::default()
        .failure_rate_threshold(0.5)
        .window_size(10)
        .minimum_calls(10);
    let down = Downstream::new(OK);
    let mut svc = breaker(config, &down);
    let h = svc.handle();
    let mut modes = vec![OK; 6];
    modes.extend([FAIL; 4]);
    calls(&mut svc, &down, &modes).await;
    assert_eq!(h.metrics().failure_rate, 0.4);
    assert_eq!(h.state(), CircuitState::Closed);
    // The next failure pushes the first success out: 5 of 10.
    calls(&mut svc, &down, &[FAIL]).await;
    assert_eq!(h.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn minimum_calls_boundary() {
    let config = CircuitBreakerConfig::default()
        .window_size(10)
        .minimum_calls(5);
    let down = Downstream::new(FAIL);
    let mut svc = breaker(config, &down);
    calls(&mut svc, &down, &[FAIL, FAIL, FAIL, FAIL]).await;
    assert_eq!(svc.handle().metrics().failure_rate, 1.0);
    assert_eq!(
        svc.handle().state(),
        CircuitState::Closed,
        "4 < minimum_calls"
    );
    calls(&mut svc, &down, &[FAIL]).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn count_window_forgets_old_calls() {
    let down = Downstream::new(OK);
    let mut svc = breaker(small(), &down);
    calls(&mut svc, &down, &[FAIL, OK, OK, OK, OK]).await;
    let m = svc.handle().metrics();
    assert_eq!((m.calls, m.failures), (4, 0));
    // Two failures among the last 4: had the first one been kept, 3 of 6
    // would have tripped it too; 2 of 4 does.
    calls(&mut svc, &down, &[FAIL]).await;
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    calls(&mut svc, &down, &[FAIL]).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_boundary() {
    // The rate rule can't fire: 100 calls needed.
    let config = CircuitBreakerConfig::default()
        .minimum_calls(100)
        .consecutive_failures(3);
    let down = Downstream::new(FAIL);
    let mut svc = breaker(config, &down);
    calls(&mut svc, &down, &[FAIL, FAIL, OK, FAIL, FAIL]).await;
    assert_eq!(
        svc.handle().state(),
        CircuitState::Closed,
        "a success resets the count"
    );
    calls(&mut svc, &down, &[FAIL]).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_is_off_by_default() {
    let config = CircuitBreakerConfig::default().minimum_calls(100);
    let down = Downstream::new(FAIL);
    let mut svc = breaker(config, &down);
    calls(&mut svc, &down, &vec![FAIL; 99]).await;
    assert_eq!(svc.handle().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn time_window_trips_at_the_threshold_within_the_window() {
    let config = CircuitBreakerConfig::default()
        .time_window(Duration::from_secs(10))
        .minimum_calls(4);
    let down = Downstream::new(OK);
    let mut svc = breaker(config.clone(), &down);
    calls(&mut svc, &down, &[OK, FAIL]).await;
    tokio::time::advance(Duration::from_millis(9_900)).await;
    calls(&mut svc, &down, &[OK, OK]).await;
    assert_eq!(svc.handle().metrics().failure_rate, 0.25);
    assert_eq!(svc.handle().state(), CircuitState::Closed);

    let mut svc = breaker(config, &down);
    calls(&mut svc, &down, &[OK, FAIL]).await;
    tokio::time::advance(Duration::from_millis(9_900)).await;
    calls(&mut svc, &down, &[OK, FAIL]).await;
    assert_eq!(
        svc.handle().state(),
        CircuitState::Open,
        "2 of 4 within 10 s"
    );
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_calls_older_than_the_window() {
    let config = CircuitBreakerConfig::default()
        .time_window(Duration::from_secs(10))
        .minimum_calls(4);
    let down = Downstream::new(FAIL);
    let mut svc = breaker(config, &down);
    calls(&mut svc, &down, &[FAIL, FAIL, FAIL]).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(svc.handle().metrics().calls, 0);
    calls(&mut svc, &down, &[FAIL]).await;
    assert_eq!(
        svc.handle().state(),
        CircuitState::Closed,
        "1 call in the window"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_call_rate_trips_and_the_duration_itself_is_not_slow() {
    let config = small().slow_calls(Duration::from_secs(1), 0.5);
    let down = Downstream::new(OK);
    let mut svc = breaker(config, &down);
    let exactly = Mode::Slow(Duration::from_secs(1));
    let slower = Mode::Slow(Duration::from_millis(1_001));
    calls(
        &mut svc,
        &down,
        &[exactly.clone(), exactly.clone(), exactly],
    )
    .await;
    calls(&mut svc, &down, std::slice::from_ref(&slower)).await;
    let m = svc.handle().metrics();
    assert_eq!((m.calls, m.slow_calls, m.failures), (4, 1, 0));
    assert_eq!(
        svc.handle().state(),
        CircuitState::Closed,
        "1 slow of 4 < 50 %"
    );
    calls(&mut svc, &down, &[slower]).await;
    assert_eq!(svc.handle().metrics().slow_call_rate, 0.5);
    assert_eq!(svc.handle().state(), CircuitState::Open, "2 slow of 4");
}

// 3. What a failure is

#[tokio::test(start_paused = true)]
async fn default_failures_are_transport_errors_and_the_retry_statuses() {
    for mode in [
        Mode::Error,
        Mode::Status(500),
        Mode::Status(502),
        Mode::Status(503),
        Mode::Status(504),
        Mode::Status(408),
        Mode::Status(429),
    ] {
        let down = Downstream::new(mode.clone());
        let mut svc = breaker(
            CircuitBreakerConfig::default().consecutive_failures(1),
            &down,
        );
        let _ = send(&mut svc).await;
        assert_eq!(svc.handle().state(), CircuitState::Open, "{mode:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn other_statuses_count_as_successes() {
    for code in [
        200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 410, 422, 499, 501, 505, 599,
    ] {
        let down = Downstream::new(Mode::Status(code));
        let mut svc = breaker(
            CircuitBreakerConfig::default()
                .consecutive_failures(1)
                .minimum_calls(1),
            &down,
        );
        let res = send(&mut svc).await.unwrap();
        assert_eq!(res.status().as_u16(), code);
        assert_eq!(svc.handle().state(), CircuitState::Closed, "{code}");
        assert_eq!(svc.handle().metrics().failures, 0, "{code}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_classifier_replaces_the_rule() {
    let config = CircuitBreakerConfig::default()
        .consecutive_failures(1)
        .classifier(
            |outcome: Result<StatusCode, &(dyn std::error::Error + 'static)>| {
                outcome.is_ok_and(|s| s == StatusCode::NOT_FOUND)
            },
        );
    let down = Downstream::new(FAIL);
    let mut svc = breaker(config, &down);
    calls(&mut svc, &down, &[FAIL, Mode::Error]).await;
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    calls(&mut svc, &down, &[Mode::Status(404)]).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
}

// 4. Half-open

/// Opens a fresh breaker with one failure; returns once it is open.
async fn opened(config: CircuitBreakerConfig, down: &Downstream) -> CircuitBreaker<Svc> {
    let mut svc = breaker(config.consecutive_failures(1), down);
    down.set(FAIL);
    let _ = send(&mut svc).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
    svc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_admits_exactly_n_probes_under_concurrency() {
    let down = Downstream::new(FAIL);
    let config = CircuitBreakerConfig::default()
        .open_duration(Duration::from_millis(50))
        .half_open_calls(3);
    let svc = opened(config, &down).await;
    let handle = svc.handle();
    tokio::time::sleep(Duration::from_millis(60)).await;

    down.set(Mode::Gated(200));
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let call = svc.clone().oneshot(Request::new(()));
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                call.await
            })
        })
        .collect();
    // Every caller but the probes fails fast; the probes wait on the gate.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tasks.iter().filter(|t| t.is_finished()).count() < 47 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rejections did not come back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(down.calls(), 1 + 3, "the opening call and exactly 3 probes");
    assert_eq!(handle.state(), CircuitState::HalfOpen);
    down.gate.add_permits(3);
    let (mut ok, mut rejected) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(res) => {
                assert_eq!(res.status(), StatusCode::OK);
                ok += 1;
            }
            Err(e) => {
                assert!(e.is::<CircuitOpen>(), "{e}");
                rejected += 1;
            }
        }
    }
    assert_eq!((ok, rejected), (3, 47));
    assert_eq!(handle.state(), CircuitState::Closed, "all probes succeeded");
}

#[tokio::test(start_paused = true)]
async fn one_failed_probe_opens_again() {
    let down = Downstream::new(FAIL);
    let mut svc = opened(small().half_open_calls(2), &down).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    calls(&mut svc, &down, &[OK]).await;
    assert_eq!(
        svc.handle().state(),
        CircuitState::HalfOpen,
        "1 of 2 probes"
    );
    calls(&mut svc, &down, &[FAIL]).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
    let open = open_error(send(&mut svc).await);
    assert_eq!(open.retry_after(), Some(Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_probe_gives_its_permit_back() {
    let down = Downstream::new(FAIL);
    let mut svc = opened(small(), &down).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    down.set(Mode::Gated(200));
    let mut probe = Box::pin(send(&mut svc));
    assert!(futures_poll(&mut probe).is_pending());
    drop(probe);
    assert_eq!(down.calls(), 2);

    down.set(OK);
    send(&mut svc).await.expect("a new probe is let through");
    assert_eq!(down.calls(), 3);
    assert_eq!(svc.handle().state(), CircuitState::Closed);
}

fn futures_poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let waker = std::task::Waker::from(Arc::new(Noop));
    Pin::new(f).poll(&mut Context::from_waker(&waker))
}

struct Noop;
impl std::task::Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

#[tokio::test(start_paused = true)]
async fn open_duration_grows_on_reopens_up_to_the_cap() {
    let config = small()
        .open_duration(Duration::from_secs(1))
        .max_open_duration(Duration::from_secs(3));
    let down = Downstream::new(FAIL);
    let mut svc = opened(config, &down).await;
    let mut wait = Duration::from_secs(1);
    for expected in [2, 3, 3] {
        tokio::time::advance(wait).await;
        calls(&mut svc, &down, &[FAIL]).await;
        wait = open_error(send(&mut svc).await).retry_after().unwrap();
        assert_eq!(wait, Duration::from_secs(expected));
    }
    tokio::time::advance(wait).await;
    calls(&mut svc, &down, &[OK, FAIL]).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);
    let open = open_error(send(&mut svc).await);
    assert_eq!(
        open.retry_after(),
        Some(Duration::from_secs(1)),
        "back to the base after closing"
    );
}

// 5. Sharing

#[tokio::test(start_paused = true)]
async fn clones_and_services_of_one_layer_share_one_breaker() {
    let layer = CircuitBreakerLayer::new(small());
    let down_a = Downstream::new(FAIL);
    let down_b = Downstream::new(OK);
    let mut a = layer.layer(down_a.service());
    let mut a2 = a.clone();
    let mut b = layer.layer(down_b.service());
    calls(&mut a, &down_a, &[FAIL, FAIL]).await;
    calls(&mut a2, &down_a, &[FAIL, FAIL]).await;
    assert_eq!(layer.handle().state(), CircuitState::Open);
    open_error(send(&mut b).await);
    assert_eq!(down_b.calls(), 0);
    assert_eq!(b.handle().state(), CircuitState::Open);
}

#[test]
fn services_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn check_future<T: Send + 'static>() {}
    let down = Downstream::new(OK);
    let svc = breaker(small(), &down);
    check(&svc);
    check(&CircuitBreakerLayer::new(small()));
    check(&svc.handle());
    check_future::<ResponseFuture<std::future::Ready<Result<Response<()>, BoxError>>>>();
    let _stack = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .layer(CircuitBreakerLayer::new(small()))
        .service(down.service());
}

// 6. CircuitOpen and RetryLayer

#[tokio::test(start_paused = true)]
async fn circuit_open_names_the_breaker_and_the_next_probe() {
    let down = Downstream::new(FAIL);
    let mut svc = opened(small().name("payments"), &down).await;
    tokio::time::advance(Duration::from_secs(4)).await;
    let open = open_error(send(&mut svc).await);
    assert_eq!(open.name(), Some("payments"));
    assert_eq!(open.retry_after(), Some(Duration::from_secs(6)));
    assert_eq!(
        open.to_string(),
        "circuit breaker `payments` is open; next probe in 6s"
    );
}

/// Counts the calls that reach the breaker: one per attempt.
fn counted<S>(
    count: Arc<AtomicUsize>,
    svc: S,
) -> impl Service<Request<()>, Response = Response<()>, Error = BoxError> + Clone
where
    S: Service<Request<()>, Response = Response<()>, Error = BoxError> + Clone,
{
    ServiceBuilder::new()
        .map_request(move |req: Request<()>| {
            count.fetch_add(1, Ordering::SeqCst);
            req
        })
        .service(svc)
}

#[tokio::test(start_paused = true)]
async fn retry_layer_never_retries_circuit_open() {
    let down = Downstream::new(OK);
    let breaker = CircuitBreakerLayer::new(small());
    breaker.handle().force_open();
    let attempts = Arc::new(AtomicUsize::new(0));
    let client = RetryLayer::new(
        RetryPolicy::default()
            .max_attempts(5)
            .backoff(ConstantBackoff::new(Duration::from_millis(1))),
    )
    .layer(counted(attempts.clone(), breaker.layer(down.service())));
    let err = client.oneshot(Request::new(())).await.unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some(), "{err}");
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "exactly one call to the breaker"
    );
    assert_eq!(down.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_breaker_counts_every_retry_attempt() {
    let down = Downstream::new(Mode::Status(503));
    let breaker = CircuitBreakerLayer::new(small().minimum_calls(3).window_size(3));
    let handle = breaker.handle();
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(
            RetryPolicy::default()
                .max_attempts(3)
                .backoff(ConstantBackoff::new(Duration::from_millis(1))),
        ))
        .layer(breaker)
        .service(down.service());
    let res = client.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.calls(), 3);
    assert_eq!(handle.state(), CircuitState::Open, "3 attempts, 3 failures");
    let err = client.oneshot(Request::new(())).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(down.calls(), 3);
}

// 7. The handle

#[tokio::test(start_paused = true)]
async fn the_handle_reports_and_controls_the_breaker() {
    let config = small().slow_calls(Duration::from_secs(1), 1.0);
    let down = Downstream::new(OK);
    let mut svc = breaker(config, &down);
    let h = svc.handle();
    calls(
        &mut svc,
        &down,
        &[FAIL, OK, Mode::Slow(Duration::from_secs(2))],
    )
    .await;
    let m = h.metrics();
    assert_eq!((m.calls, m.failures, m.slow_calls), (3, 1, 1));
    assert_eq!(m.failure_rate, 1.0 / 3.0);
    assert_eq!(m.slow_call_rate, 1.0 / 3.0);

    h.force_open();
    assert_eq!(h.state(), CircuitState::Open);
    assert!(h.is_forced());
    tokio::time::advance(Duration::from_secs(3600)).await;
    let open = open_error(send(&mut svc).await);
    assert_eq!(
        open.retry_after(),
        None,
        "forced open lets no probe through"
    );

    h.force_closed();
    calls(&mut svc, &down, &[FAIL, FAIL, FAIL, FAIL, FAIL]).await;
    assert_eq!(h.state(), CircuitState::Closed, "forced closed never trips");
    assert_eq!(h.metrics().failures, 4, "but it still records");

    h.reset();
    assert!(!h.is_forced());
    assert_eq!(h.metrics().calls, 0);
    calls(&mut svc, &down, &[FAIL, FAIL, FAIL, FAIL]).await;
    assert_eq!(h.state(), CircuitState::Open, "the rules apply again");
}

// 8. Edge cases

#[tokio::test(start_paused = true)]
async fn a_probe_answered_404_counts_as_a_success() {
    let down = Downstream::new(FAIL);
    let mut svc = opened(small(), &down).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    calls(&mut svc, &down, &[Mode::Status(404)]).await;
    assert_eq!(svc.handle().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn outcomes_from_before_the_opening_are_ignored() {
    let down = Downstream::new(Mode::Gated(500));
    let mut svc = breaker(small().half_open_calls(2), &down);
    let h = svc.handle();
    // Three calls in flight while closed; each fails when the gate lets it.
    let mut early: Vec<_> = (0..3)
        .map(|_| tokio::spawn(svc.clone().oneshot(Request::new(()))))
        .collect();
    tokio::task::yield_now().await;
    assert_eq!(down.calls(), 3);
    calls(&mut svc, &down, &[FAIL, FAIL, FAIL, FAIL]).await;
    assert_eq!(h.state(), CircuitState::Open);

    // One fails 5 s into the open period: the period is not extended.
    tokio::time::advance(Duration::from_secs(5)).await;
    down.gate.add_permits(1);
    assert_eq!(early.remove(0).await.unwrap().unwrap().status(), 500);
    let open = open_error(send(&mut svc).await);
    assert_eq!(
        open.retry_after(),
        Some(Duration::from_secs(5)),
        "not extended"
    );

    // One fails while half-open: it is not a failed probe.
    tokio::time::advance(Duration::from_secs(5)).await;
    calls(&mut svc, &down, &[OK]).await;
    assert_eq!(h.state(), CircuitState::HalfOpen, "1 of 2 probes");
    down.gate.add_permits(1);
    assert_eq!(early.remove(0).await.unwrap().unwrap().status(), 500);
    assert_eq!(h.state(), CircuitState::HalfOpen);
    calls(&mut svc, &down, &[OK]).await;
    assert_eq!(h.state(), CircuitState::Closed);

    // One fails once closed again: not recorded in the new window.
    down.gate.add_permits(1);
    assert_eq!(early.remove(0).await.unwrap().unwrap().status(), 500);
    assert_eq!(h.metrics().calls, 0);
}

/// An error wrapping another, as a layer between the retry layer and the
/// breaker might.
#[derive(Debug)]
struct Wrapped(BoxError);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wrapped")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

#[tokio::test(start_paused = true)]
async fn retry_layer_never_retries_circuit_open_deep_in_a_source_chain() {
    let breaker = CircuitBreakerLayer::new(small());
    breaker.handle().force_open();
    let down = Downstream::new(OK);
    let attempts = Arc::new(AtomicUsize::new(0));
    let wrapping = ServiceBuilder::new()
        .map_err(|e: BoxError| BoxError::from(Wrapped(Box::new(Wrapped(e)))))
        .service(breaker.layer(down.service()));
    let client = RetryLayer::new(
        RetryPolicy::default()
            .max_attempts(5)
            .backoff(ConstantBackoff::new(Duration::from_millis(1))),
    )
    .layer(counted(attempts.clone(), wrapping));
    let err = client.oneshot(Request::new(())).await.unwrap_err();
    assert!(err.is::<Wrapped>());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_panics_gives_its_permit_back() {
    let down = Downstream::new(FAIL);
    let svc = opened(small(), &down).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    down.set(Mode::Panic);
    let panicked = tokio::spawn(svc.clone().oneshot(Request::new(()))).await;
    assert!(panicked.unwrap_err().is_panic());
    assert_eq!(svc.handle().state(), CircuitState::HalfOpen);

    down.set(OK);
    let mut svc = svc;
    send(&mut svc).await.expect("the permit came back");
    assert_eq!(svc.handle().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_duration_max_open_duration_never_overflows() {
    let down = Downstream::new(FAIL);
    let mut svc = opened(small().open_duration(Duration::MAX), &down).await;
    let open = open_error(send(&mut svc).await);
    assert_eq!(open.retry_after(), None);
    tokio::time::advance(Duration::from_secs(100 * 365 * 24 * 3600)).await;
    open_error(send(&mut svc).await);
    assert_eq!(svc.handle().state(), CircuitState::Open);
    svc.handle().reset();
    down.set(OK);
    send(&mut svc).await.unwrap();
}

// 9. Readiness

/// A service that is never ready, and counts the polls and calls it gets.
#[derive(Clone, Default)]
struct NeverReady {
    polls: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Service<Request<()>> for NeverReady {
    type Response = Response<()>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Response<()>, BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        Poll::Pending
    }

    fn call(&mut self, _req: Request<()>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(status(200)))
    }
}

#[tokio::test(start_paused = true)]
async fn poll_ready_is_ready_at_once_while_open_without_polling_inner() {
    let inner = NeverReady::default();
    let mut svc = CircuitBreaker::new(inner.clone(), small());
    assert!(
        futures_poll(&mut Box::pin(std::future::poll_fn(|cx| svc.poll_ready(cx)))).is_pending()
    );
    assert_eq!(inner.polls.load(Ordering::SeqCst), 1);

    svc.handle().force_open();
    let mut svc = CircuitBreaker::new(inner.clone(), small());
    svc.handle().force_open();
    let polls = inner.polls.load(Ordering::SeqCst);
    let ready = futures_poll(&mut Box::pin(std::future::poll_fn(|cx| svc.poll_ready(cx))));
    assert!(matches!(ready, Poll::Ready(Ok(()))));
    open_error(svc.call(Request::new(())).await);
    assert_eq!(
        inner.polls.load(Ordering::SeqCst),
        polls,
        "inner not polled"
    );
    assert_eq!(inner.calls.load(Ordering::SeqCst), 0, "inner not called");
}

/// Trips a breaker over `inner`, lets its open period end between
/// `poll_ready` and `call`, then sends a probe.
async fn poll_ready_comes_before_call<S>(down: &Downstream, inner: S)
where
    S: Service<Request<()>, Response = Response<()>>,
    S::Error: Into<BoxError>,
{
    down.set(FAIL);
    let mut svc = CircuitBreaker::new(inner, small().consecutive_failures(1));
    let _ = send(&mut svc).await;
    assert_eq!(svc.handle().state(), CircuitState::Open);

    // Ready while open, without reserving a slot of the inner service.
    svc.ready().await.unwrap();
    // The open period ends between poll_ready and call: the inner service
    // was not polled, so the call is refused rather than made (a
    // `ConcurrencyLimit` or `Buffer` would panic).
    tokio::time::advance(Duration::from_secs(10)).await;
    open_error(svc.call(Request::new(())).await);
    assert_eq!(down.calls(), 1);

    // The next poll_ready polls the inner service; the probe goes through.
    down.set(OK);
    send(&mut svc).await.unwrap();
    assert_eq!(down.calls(), 2);
    assert_eq!(svc.handle().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn over_concurrency_limit_poll_ready_comes_before_call() {
    let down = Downstream::new(FAIL);
    let inner = ServiceBuilder::new()
        .concurrency_limit(1)
        .service(down.service());
    poll_ready_comes_before_call(&down, inner).await;
}

#[tokio::test(start_paused = true)]
async fn over_buffer_poll_ready_comes_before_call() {
    let down = Downstream::new(FAIL);
    let inner = ServiceBuilder::new().buffer(1).service(down.service());
    poll_ready_comes_before_call(&down, inner).await;
}

// 10. Tracing

#[tokio::test(start_paused = true)]
async fn every_transition_emits_a_tracing_event() {
    let (out, _guard) = Logs::capture();

    let down = Downstream::new(FAIL);
    let mut svc = breaker(small().name("orders"), &down);
    calls(&mut svc, &down, &[OK, FAIL, FAIL, OK]).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    calls(&mut svc, &down, &[FAIL]).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    calls(&mut svc, &down, &[OK]).await;
    svc.handle().force_open();

    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    let expect = [
        (
            "WARN",
            "circuit breaker opened",
            "from=\"closed\" to=\"open\" why=\"failure_rate\" rate=0.5 open_ms=10000",
        ),
        (
            "INFO",
            "circuit breaker state changed",
            "from=\"open\" to=\"half_open\" why=\"open_duration_elapsed\"",
        ),
        (
            "WARN",
            "circuit breaker opened",
            "from=\"half_open\" to=\"open\" why=\"probe_failed\" open_ms=10000",
        ),
        (
            "INFO",
            "circuit breaker state changed",
            "from=\"open\" to=\"half_open\" why=\"open_duration_elapsed\"",
        ),
        (
            "INFO",
            "circuit breaker state changed",
            "from=\"half_open\" to=\"closed\" why=\"probes_succeeded\"",
        ),
        (
            "WARN",
            "circuit breaker opened",
            "from=\"closed\" to=\"forced_open\" why=\"forced_open\"",
        ),
    ];
    for (line, (level, message, fields)) in lines.iter().zip(expect) {
        assert!(line.contains(level), "{line}");
        assert!(line.contains(message), "{line}");
        assert!(line.contains("breaker=\"orders\""), "{line}");
        assert!(line.contains(fields), "{line} lacks {fields}");
    }
}

// 11. Invalid configuration

#[test]
#[should_panic(expected = "`minimum_calls` (20) must not be above `window_size` (10)")]
fn invalid_configuration_panics_where_the_breaker_is_built() {
    let _ = CircuitBreakerLayer::new(CircuitBreakerConfig::default().window_size(10));
}

#[test]
#[should_panic(expected = "failure_rate_threshold: `threshold` must be within (0, 1], got 1.5")]
fn invalid_threshold_panics_in_the_setter() {
    let _ = CircuitBreakerConfig::default().failure_rate_threshold(1.5);
}

// Real HTTP

#[tokio::test]
async fn over_real_http_the_breaker_opens_and_recovers() {
    use bytes::Bytes;
    use http_body_util::Empty;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(5)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;

    let http = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .name("wiremock")
            .window_size(5)
            .minimum_calls(5)
            .open_duration(Duration::from_millis(300)),
    );
    let handle = breaker.handle();
    let mut client = ServiceBuilder::new().layer(breaker).service(http);
    let request = || {
        Request::get(server.uri())
            .body(Empty::<Bytes>::new())
            .unwrap()
    };

    for _ in 0..5 {
        let res = client.ready().await.unwrap().call(request()).await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(handle.state(), CircuitState::Open);
    let err = client
        .ready()
        .await
        .unwrap()
        .call(request())
        .await
        .unwrap_err();
    let open = err.downcast_ref::<CircuitOpen>().expect("CircuitOpen");
    assert_eq!(open.name(), Some("wiremock"));
    assert!(open.retry_after().unwrap() <= Duration::from_millis(300));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        5,
        "fail fast: no 6th request"
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    let res = client.ready().await.unwrap().call(request()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(handle.state(), CircuitState::Closed);
    assert_eq!(server.received_requests().await.unwrap().len(), 6);
}
