//! Exact timing of the policy, with paused tokio time over an in-memory
//! downstream.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tokio::time::Instant;
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::{ConstantBackoff, ExponentialBackoff, Jitter};
use tower_http_retry::{Attempts, RetryLayer, RetryPolicy};

type CallLog = Arc<Mutex<Vec<Duration>>>;

/// An in-memory downstream.
trait Downstream:
    tower::Service<
        Request<Full<Bytes>>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future: Send,
    > + Clone
{
}

impl<S> Downstream for S where
    S: tower::Service<
            Request<Full<Bytes>>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
            Future: Send,
        > + Clone
{
}

/// A downstream answering `respond(n)` to call `n`, recording when each call
/// arrived (in paused time, relative to `start`).
fn downstream(
    respond: impl Fn(usize) -> Response<Full<Bytes>> + Clone + Send + 'static,
) -> (impl Downstream, CallLog) {
    downstream_taking(Duration::ZERO, respond)
}

/// [`downstream`] whose every answer takes `takes`.
fn downstream_taking(
    takes: Duration,
    respond: impl Fn(usize) -> Response<Full<Bytes>> + Clone + Send + 'static,
) -> (impl Downstream, CallLog) {
    let start = Instant::now();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let svc = service_fn(move |_req: Request<Full<Bytes>>| {
        let n = {
            let mut log = log2.lock().unwrap();
            log.push(start.elapsed());
            log.len() - 1
        };
        let res = respond.clone()(n);
        async move {
            if !takes.is_zero() {
                tokio::time::sleep(takes).await;
            }
            Ok::<_, Infallible>(res)
        }
    });
    (svc, log)
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::default());
    *res.status_mut() = StatusCode::from_u16(code).unwrap();
    res
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn call<S>(policy: RetryPolicy, svc: S) -> Response<Full<Bytes>>
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone,
{
    ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(svc)
        .oneshot(Request::new(Full::default()))
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_boundary_is_exact() {
    // 400 ms waits: attempts at 0, 400, 800. With 800 ms allowed, the retry
    // at 800 ends exactly at the bound and is made; the next would end at
    // 1,200 and is not.
    let policy = RetryPolicy::default()
        .without_budget()
        .max_attempts(10)
        .backoff(ConstantBackoff::new(ms(400)))
        .max_elapsed(ms(800));
    let (svc, log) = downstream(|_| status(503));
    let started = Instant::now();
    let res = call(policy, svc).await;
    assert_eq!(res.extensions().get::<Attempts>(), Some(&Attempts::new(3)));
    assert_eq!(*log.lock().unwrap(), [ms(0), ms(400), ms(800)]);
    assert_eq!(
        started.elapsed(),
        ms(800),
        "no sleep for the retry not made"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_exact_and_not_jittered() {
    let (svc, log) = downstream(|n| {
        let mut res = status(if n < 2 { 503 } else { 200 });
        res.headers_mut()
            .insert("retry-after", "3".parse().unwrap());
        res
    });
    let policy = RetryPolicy::default().without_budget();
    let res = call(policy, svc).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(*log.lock().unwrap(), [ms(0), ms(3000), ms(6000)]);
}

#[tokio::test(start_paused = true)]
async fn exponential_schedule_without_jitter_is_exact() {
    let (svc, log) = downstream(|_| status(500));
    let policy = RetryPolicy::default()
        .without_budget()
        .max_attempts(6)
        .backoff(
            ExponentialBackoff::new(ms(100))
                .max_delay(ms(1000))
                .jitter(Jitter::None),
        );
    call(policy, svc).await;
    assert_eq!(
        *log.lock().unwrap(),
        [ms(0), ms(100), ms(300), ms(700), ms(1500), ms(2500)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_configured_wait_is_the_wait_not_cut_to_max_retry_after() {
    // `max_retry_after` caps what a server asks for, not the user's backoff.
    let hour = Duration::from_secs(3600);
    let (svc, log) = downstream(|n| status(if n == 0 { 503 } else { 200 }));
    let policy = RetryPolicy::default()
        .without_budget()
        .backoff(ConstantBackoff::new(hour));
    call(policy, svc).await;
    assert_eq!(*log.lock().unwrap(), [ms(0), hour]);

    // The backoff's own `max_delay` is what caps it.
    let (svc, log) = downstream(|n| status(if n < 3 { 503 } else { 200 }));
    let policy = RetryPolicy::default()
        .without_budget()
        .max_attempts(4)
        .max_retry_after(Duration::from_secs(5))
        .backoff(
            ExponentialBackoff::new(Duration::from_secs(90))
                .max_delay(Duration::from_secs(120))
                .jitter(Jitter::None),
        );
    call(policy, svc).await;
    assert_eq!(
        *log.lock().unwrap(),
        [ms(0), ms(90_000), ms(210_000), ms(330_000)]
    );
}

/// Ten years of paused time: far beyond any short wait a huge one could
/// wrap to, and within the far future tokio saturates `Duration::MAX` to.
const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// The calls made within ten years (paused) by a policy retrying a 503.
async fn calls_within_ten_years(policy: RetryPolicy) -> Vec<Duration> {
    let (svc, log) = downstream(|n| status(if n == 0 { 503 } else { 200 }));
    let outcome = tokio::time::timeout(TEN_YEARS, call(policy, svc)).await;
    assert!(outcome.is_err(), "the call ended within ten years");
    let calls = log.lock().unwrap().clone();
    calls
}

#[tokio::test(start_paused = true)]
async fn duration_max_never_panics_nor_wraps_to_a_short_wait() {
    let policy = || RetryPolicy::default().without_budget();
    // As a constant wait, a closure's, an exponential base and cap, with
    // every jitter that keeps the delay whole, and with `max_elapsed` MAX.
    let backoffs: Vec<RetryPolicy> = vec![
        policy().backoff(ConstantBackoff::new(Duration::MAX)),
        policy().backoff(|_| Duration::MAX),
        policy().backoff(ExponentialBackoff::new(Duration::MAX).jitter(Jitter::None)),
        policy().backoff(
            ExponentialBackoff::new(Duration::MAX)
                .max_delay(Duration::MAX)
                .jitter(Jitter::Decorrelated),
        ),
        policy()
            .backoff(ConstantBackoff::new(Duration::MAX))
            .max_elapsed(Duration::MAX),
    ];
    for policy in backoffs {
        assert_eq!(calls_within_ten_years(policy).await, [ms(0)]);
    }
    // `max_elapsed` MAX with a short wait: the retry is made.
    let (svc, log) = downstream(|n| status(if n == 0 { 503 } else { 200 }));
    let policy = policy()
        .backoff(ConstantBackoff::new(ms(10)))
        .max_elapsed(Duration::MAX);
    call(policy, svc).await;
    assert_eq!(*log.lock().unwrap(), [ms(0), ms(10)]);
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_gives_the_same_schedule_twice() {
    let schedule = || async {
        let (svc, log) = downstream(|_| status(503));
        let policy = RetryPolicy::default()
            .without_budget()
            .max_attempts(5)
            .backoff(
                ExponentialBackoff::new(ms(100))
                    .jitter(Jitter::Full)
                    .seed(99),
            );
        call(policy, svc).await;
        let log = log.lock().unwrap().clone();
        log
    };
    let a = schedule().await;
    let b = schedule().await;
    assert_eq!(a, b);
    assert_eq!(a.len(), 5);
}

fn max_elapsed_20s() -> RetryPolicy {
    RetryPolicy::default()
        .without_budget()
        .max_attempts(10)
        .backoff(ConstantBackoff::new(Duration::from_secs(1)))
        .max_elapsed(Duration::from_secs(20))
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_bounds_when_the_last_retry_starts_not_the_call() {
    // Attempts of 8 s, 1 s apart: the retry at 18 s ends by 20 s and is
    // made; it runs to 26 s.
    let (svc, log) = downstream_taking(Duration::from_secs(8), |_| status(503));
    let started = Instant::now();
    let res = call(max_elapsed_20s(), svc).await;
    assert_eq!(res.extensions().get::<Attempts>(), Some(&Attempts::new(3)));
    let secs = Duration::from_secs;
    assert_eq!(*log.lock().unwrap(), [secs(0), secs(9), secs(18)]);
    assert_eq!(started.elapsed(), secs(26));
}

#[tokio::test(start_paused = true)]
async fn a_timeout_above_the_retries_bounds_the_whole_call() {
    let (svc, log) = downstream_taking(Duration::from_secs(8), |_| status(503));
    let started = Instant::now();
    let client = ServiceBuilder::new()
        .timeout(Duration::from_secs(20))
        .layer(RetryLayer::new(max_elapsed_20s()))
        .service(svc);
    let err = client
        .oneshot(Request::new(Full::default()))
        .await
        .unwrap_err();
    assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
    assert_eq!(started.elapsed(), Duration::from_secs(20));
    assert_eq!(
        log.lock().unwrap().len(),
        3,
        "the third attempt was cut short"
    );
}
