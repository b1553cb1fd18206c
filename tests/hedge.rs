//! HedgeLayer with in-memory downstreams and paused time: exact timings.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use tokio::time::Instant;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
mod support;
use support::RefusingBudget;
use tower_http_retry::retry::ResendCount;
use tower_http_retry::{Attempts, CircuitOpen, HedgeLayer, RetryLayer, RetryPolicy};

/// What the downstream does with its n-th call (0-based).
#[derive(Clone, Copy)]
enum Plan {
    /// Answers with this status after this long.
    Respond(Duration, u16),
    /// Fails with this io error after this long.
    Fail(Duration, io::ErrorKind),
    /// Fails with `CircuitOpen` after this long.
    Fatal(Duration),
}

#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    resend: Option<u32>,
}

#[derive(Clone)]
struct Downstream {
    plan: Arc<dyn Fn(usize) -> Plan + Send + Sync>,
    calls: Arc<Mutex<Vec<Call>>>,
    /// Attempts whose future was dropped before it ended.
    cancelled: Arc<AtomicUsize>,
}

/// Counts a call's future dropped before it ended.
struct Unfinished(Option<Arc<AtomicUsize>>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Downstream {
    fn new(plan: impl Fn(usize) -> Plan + Send + Sync + 'static) -> Self {
        Downstream {
            plan: Arc::new(plan),
            calls: Default::default(),
            cancelled: Default::default(),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Service<Request<String>> for Downstream {
    type Response = Response<String>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<String>, BoxError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<String>) -> Self::Future {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                at: Instant::now(),
                resend: req.extensions().get::<ResendCount>().map(ResendCount::get),
            });
            calls.len() - 1
        };
        let plan = (self.plan)(n);
        let cancelled = self.cancelled.clone();
        Box::pin(async move {
            let mut unfinished = Unfinished(Some(cancelled));
            let out = match plan {
                Plan::Respond(d, status) => {
                    tokio::time::sleep(d).await;
                    let mut res = Response::new(format!("attempt {}", n + 1));
                    *res.status_mut() = StatusCode::from_u16(status).unwrap();
                    Ok(res)
                }
                Plan::Fail(d, kind) => {
                    tokio::time::sleep(d).await;
                    Err(io::Error::from(kind).into())
                }
                Plan::Fatal(d) => {
                    tokio::time::sleep(d).await;
                    Err(CircuitOpen::new().into())
                }
            };
            unfinished.0 = None;
            out
        })
    }
}

const MS: Duration = Duration::from_millis(1);

fn get() -> Request<String> {
    Request::new(String::new())
}

fn attempts<B>(res: &Response<B>) -> Option<u32> {
    res.extensions().get::<Attempts>().map(Attempts::get)
}

/// Offsets of the calls from `start`, in whole milliseconds.
fn offsets(calls: &[Call], start: Instant) -> Vec<u128> {
    calls.iter().map(|c| (c.at - start).as_millis()).collect()
}

#[tokio::test(start_paused = true)]
async fn a_hedge_fires_at_exactly_the_delay_and_the_faster_answer_wins() {
    let down = Downstream::new(|n| match n {
        0 => Plan::Respond(1000 * MS, 200),
        _ => Plan::Respond(5 * MS, 200),
    });
    let svc = ServiceBuilder::new()
        .layer(HedgeLayer::new(50 * MS))
        .service(down.clone());
    let start = Instant::now();
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(res.body(), "attempt 2");
    assert_eq!(start.elapsed(), 55 * MS);
    assert_eq!(attempts(&res), Some(2));
    let calls = down.calls();
    assert_eq!(offsets(&calls, start), [0, 50]);
    assert_eq!(calls[0].resend, None);
    assert_eq!(calls[1].resend, Some(1));
}

#[tokio::test(start_paused = true)]
async fn an_answer_within_the_delay_makes_no_hedge() {
    let down = Downstream::new(|_| Plan::Respond(49 * MS, 200));
    let svc = HedgeLayer::new(50 * MS).layer_service(down.clone());
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(down.calls().len(), 1);
}

trait LayerService {
    fn layer_service<S>(&self, s: S) -> tower_http_retry::hedge::Hedge<S>;
}

impl LayerService for HedgeLayer {
    fn layer_service<S>(&self, s: S) -> tower_http_retry::hedge::Hedge<S> {
        tower::Layer::layer(self, s)
    }
}

#[tokio::test(start_paused = true)]
async fn a_post_is_not_hedged_unless_it_carries_an_idempotency_key() {
    let down = Downstream::new(|_| Plan::Respond(1000 * MS, 200));
    let svc = HedgeLayer::new(50 * MS).layer_service(down.clone());
    let mut post = get();
    *post.method_mut() = Method::POST;
    let start = Instant::now();
    let res = svc.clone().oneshot(post).await.unwrap();
    assert_eq!(start.elapsed(), 1000 * MS);
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(down.calls().len(), 1);

    let mut keyed = get();
    *keyed.method_mut() = Method::POST;
    keyed
        .headers_mut()
        .insert("idempotency-key", "k-1".parse().unwrap());
    let res = svc.oneshot(keyed).await.unwrap();
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(down.calls().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn the_loser_is_cancelled_when_the_winner_answers() {
    let down = Downstream::new(|n| match n {
        0 => Plan::Respond(Duration::from_secs(3600), 200),
        _ => Plan::Respond(MS, 200),
    });
    let svc = HedgeLayer::new(10 * MS).layer_service(down.clone());
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(res.body(), "attempt 2");
    // Dropped when the race ended, not later.
    assert_eq!(down.cancelled.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_response_future_cancels_every_attempt() {
    let down = Downstream::new(|_| Plan::Respond(Duration::from_secs(3600), 200));
    let svc = HedgeLayer::new(10 * MS)
        .max_hedges(2)
        .layer_service(down.clone());
    let call = svc.oneshot(get());
    assert!(tokio::time::timeout(100 * MS, call).await.is_err());
    assert_eq!(down.calls().len(), 3);
    assert_eq!(down.cancelled.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_hedge_the_budget_refuses_is_not_made() {
    let budget = RefusingBudget::default();
    let down = Downstream::new(|_| Plan::Respond(1000 * MS, 200));
    let svc = HedgeLayer::new(10 * MS)
        .max_hedges(3)
        .budget(budget.clone())
        .layer_service(down.clone());
    let start = Instant::now();
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(start.elapsed(), 1000 * MS);
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(down.calls().len(), 1);
    assert_eq!(budget.deposits.load(Ordering::SeqCst), 1);
    // Refused once: no further hedge is asked for.
    assert_eq!(budget.withdrawals.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn budget_of_a_policy_spends_it_without_depositing() {
    // A policy whose budget allows nothing: no reserve, no ratio.
    let policy = RetryPolicy::default().budget(RefusingBudget::default());
    let down = Downstream::new(|_| Plan::Respond(100 * MS, 200));
    let svc = HedgeLayer::new(10 * MS)
        .budget_of(&policy)
        .layer_service(down.clone());
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(down.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn budget_of_a_policy_with_budgets_per_host_spends_the_host_s() {
    // A budget per host that refuses every withdrawal: the hedge asks the
    // budget of its request's host, not a shared one.
    let per_host = RetryPolicy::default().budget_per_host_with(8, RefusingBudget::default);
    let down = Downstream::new(|_| Plan::Respond(100 * MS, 200));
    let svc = HedgeLayer::new(10 * MS)
        .budget_of(&per_host)
        .layer_service(down.clone());
    let to = |host: &str| {
        Request::get(format!("http://{host}/"))
            .body(String::new())
            .unwrap()
    };
    let res = svc.clone().oneshot(to("sick.example")).await.unwrap();
    assert_eq!(
        attempts(&res),
        Some(1),
        "the host's budget refuses the hedge"
    );

    // A budget per host that always grants: hedges go on host by host.
    let granting = RetryPolicy::default().budget_per_host_with(8, || {
        tower::retry::budget::TpsBudget::new(Duration::from_secs(10), 100, 0.2)
    });
    let down = Downstream::new(|_| Plan::Respond(100 * MS, 200));
    let svc = HedgeLayer::new(10 * MS)
        .budget_of(&granting)
        .layer_service(down.clone());
    let res = svc.oneshot(to("well.example")).await.unwrap();
    assert_eq!(
        attempts(&res),
        Some(2),
        "the host's own budget grants the hedge"
    );
}

#[tokio::test(start_paused = true)]
async fn max_hedges_bounds_the_attempts_each_a_delay_apart() {
    let down = Downstream::new(|_| Plan::Respond(1000 * MS, 200));
    let svc = HedgeLayer::new(10 * MS)
        .max_hedges(2)
        .layer_service(down.clone());
    let start = Instant::now();
    let res = svc.oneshot(get()).await.unwrap();
    // The first attempt answers first (at 1 s); three were started.
    assert_eq!(res.body(), "attempt 1");
    assert_eq!(attempts(&res), Some(3));
    let calls = down.calls();
    assert_eq!(offsets(&calls, start), [0, 10, 20]);
    assert_eq!(
        calls.iter().map(|c| c.resend).collect::<Vec<_>>(),
        [None, Some(1), Some(2)]
    );
    assert_eq!(down.cancelled.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn max_hedges_zero_turns_hedging_off() {
    let down = Downstream::new(|_| Plan::Respond(1000 * MS, 200));
    let svc = HedgeLayer::new(10 * MS)
        .max_hedges(0)
        .layer_service(down.clone());
    svc.oneshot(get()).await.unwrap();
    assert_eq!(down.calls().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_transient_error_starts_the_next_hedge_at_once() {
    let down = Downstream::new(|n| match n {
        0 => Plan::Fail(5 * MS, io::ErrorKind::ConnectionReset),
        _ => Plan::Respond(MS, 200),
    });
    let svc = HedgeLayer::new(50 * MS).layer_service(down.clone());
    let start = Instant::now();
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(res.body(), "attempt 2");
    assert_eq!(offsets(&down.calls(), start), [0, 5]);
    assert_eq!(start.elapsed(), 6 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_transient_error_lets_the_other_attempts_go_on() {
    // Two attempts in flight; the hedge fails, the first answers later.
    let down = Downstream::new(|n| match n {
        0 => Plan::Respond(100 * MS, 200),
        _ => Plan::Fail(5 * MS, io::ErrorKind::ConnectionReset),
    });
    let svc = HedgeLayer::new(10 * MS).layer_service(down.clone());
    let start = Instant::now();
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(res.body(), "attempt 1");
    assert_eq!(start.elapsed(), 100 * MS);
    assert_eq!(down.calls().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn when_every_attempt_fails_the_last_error_goes_back() {
    let down = Downstream::new(|n| match n {
        0 => Plan::Fail(30 * MS, io::ErrorKind::ConnectionReset),
        _ => Plan::Fail(30 * MS, io::ErrorKind::TimedOut),
    });
    let svc = HedgeLayer::new(10 * MS).layer_service(down.clone());
    let start = Instant::now();
    let err = svc.oneshot(get()).await.unwrap_err();
    let io = err.downcast_ref::<io::Error>().unwrap();
    assert_eq!(io.kind(), io::ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), 40 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_fatal_error_wins_the_race() {
    let down = Downstream::new(|n| match n {
        0 => Plan::Respond(1000 * MS, 200),
        _ => Plan::Fatal(MS),
    });
    let svc = HedgeLayer::new(10 * MS).layer_service(down.clone());
    let start = Instant::now();
    let err = svc.oneshot(get()).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(start.elapsed(), 11 * MS);
    assert_eq!(down.cancelled.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_first_response_wins_whatever_its_status_and_retry_above_sees_it() {
    // The hedge answers 503 first; a RetryLayer above retries the whole race.
    let down = Downstream::new(|n| match n {
        0 => Plan::Respond(1000 * MS, 200),
        1 => Plan::Respond(MS, 503),
        _ => Plan::Respond(MS, 200),
    });
    let hedged = HedgeLayer::new(10 * MS).layer_service(down.clone());
    let res = hedged.clone().oneshot(get()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);

    let down = Downstream::new(|n| match n {
        0 => Plan::Respond(1000 * MS, 200),
        1 => Plan::Respond(MS, 503),
        _ => Plan::Respond(MS, 200),
    });
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(
            RetryPolicy::default().backoff(tower_http_retry::backoff::ConstantBackoff::new(MS)),
        ))
        .layer(HedgeLayer::new(10 * MS))
        .service(down.clone());
    let res = svc.oneshot(get()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Retry's count: two tries.
    assert_eq!(attempts(&res), Some(2));
}

#[tokio::test(start_paused = true)]
async fn the_delay_follows_the_observed_percentile() {
    // p50 of the latencies of the last full second, once 10 were seen;
    // 200 ms until then.
    let down = Downstream::new(|n| match n {
        0..20 => Plan::Respond(20 * MS, 200),
        20 => Plan::Respond(1000 * MS, 200),
        _ => Plan::Respond(MS, 200),
    });
    let svc = HedgeLayer::new(200 * MS)
        .latency_percentile(0.5, Duration::from_secs(1), 10)
        .layer_service(down.clone());
    for _ in 0..20 {
        let res = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(attempts(&res), Some(1));
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    let start = Instant::now();
    let res = svc.clone().oneshot(get()).await.unwrap();
    assert_eq!(attempts(&res), Some(2));
    let hedge_at = down.calls()[21].at - start;
    // The histogram keeps two significant digits.
    assert!(
        (Duration::from_micros(19_800)..=Duration::from_micros(20_200)).contains(&hedge_at),
        "{hedge_at:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_fixed_delay_applies_until_enough_latencies_were_seen() {
    let down = Downstream::new(|n| match n {
        0..5 => Plan::Respond(20 * MS, 200),
        5 => Plan::Respond(1000 * MS, 200),
        _ => Plan::Respond(MS, 200),
    });
    let svc = HedgeLayer::new(200 * MS)
        .latency_percentile(0.5, Duration::from_secs(1), 10)
        .layer_service(down.clone());
    for _ in 0..5 {
        svc.clone().oneshot(get()).await.unwrap();
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    let start = Instant::now();
    svc.oneshot(get()).await.unwrap();
    assert_eq!(down.calls()[6].at - start, 200 * MS);
}

#[test]
#[should_panic(expected = "`percentile` must be within (0, 1], got 1.5")]
fn an_invalid_percentile_is_refused_where_built() {
    let _ = HedgeLayer::new(MS).latency_percentile(1.5, Duration::from_secs(1), 1);
}

#[test]
fn the_services_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone>(_: &T) {}
    let svc = HedgeLayer::new(MS).layer_service(tower::service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    check(&svc);
    fn send<T: Send>(_: T) {}
    send(svc.oneshot(get()));
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn a_metric_per_hedge_started_or_refused() {
    use metrics_util::debugging::DebuggingRecorder;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let down = Downstream::new(|_| Plan::Respond(1000 * MS, 200));
    let svc = HedgeLayer::new(10 * MS)
        .max_hedges(2)
        .without_budget()
        .layer_service(down.clone());
    svc.oneshot(get()).await.unwrap();
    let refused = HedgeLayer::new(10 * MS)
        .budget(RefusingBudget::default())
        .layer_service(down);
    refused.oneshot(get()).await.unwrap();

    let counters = support::counters(&snapshotter);
    assert_eq!(
        counters["tower_http_retry_hedges_total{outcome=started}"],
        2
    );
    assert_eq!(
        counters["tower_http_retry_hedges_total{outcome=refused}"],
        1
    );
}
