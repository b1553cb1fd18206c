//! Exact timing of the policy, with paused tokio time over an in-memory
//! downstream.

mod support;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use support::{recording, CallLog};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::{ConstantBackoff, ExponentialBackoff, Jitter};
use tower_http_retry::{Attempts, RetryLayer, RetryPolicy};

/// A downstream answering `respond(n)` to call `n`, recording when each call
/// arrived (in paused time, relative to its creation).
fn downstream(
    respond: impl Fn(usize) -> Response<Full<Bytes>> + Clone + Send + 'static,
) -> (
    impl tower::Service<
            Request<Full<Bytes>>,
            Response = Response<Full<Bytes>>,
            Error = Infallible,
            Future = impl Send,
        > + Clone,
    CallLog,
) {
    recording(move |n| Ok::<_, Infallible>(respond(n)))
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
async fn a_huge_backoff_is_cut_to_max_retry_after() {
    let (svc, log) = downstream(|n| status(if n == 0 { 503 } else { 200 }));
    let policy = RetryPolicy::default()
        .without_budget()
        .backoff(|_| Duration::MAX)
        .max_retry_after(Duration::from_secs(5));
    call(policy, svc).await;
    assert_eq!(*log.lock().unwrap(), [ms(0), ms(5000)]);
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
