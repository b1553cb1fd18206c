//! Dropping the response future at any point — during an attempt, during a
//! backoff sleep, during a half-open probe, while a replayable body streams —
//! leaves nothing behind: no task, no timer, no permit, no budget use, no
//! buffered body.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::{
    CircuitBreakerConfig, CircuitBreakerLayer, CircuitState, ReplayBodyLayer, RetryLayer,
    RetryPolicy,
};

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::default());
    *res.status_mut() = StatusCode::from_u16(code).unwrap();
    res
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(std::task::Waker::noop()))
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

#[tokio::test(start_paused = true)]
async fn dropped_during_a_backoff_sleep() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let svc = service_fn(move |_req: Request<Full<Bytes>>| {
        c.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(status(503)) }
    });
    let budget = CountingBudget::default();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(
            RetryPolicy::default()
                .backoff(ConstantBackoff::new(Duration::from_secs(10)))
                .budget(budget.clone()),
        ))
        .service(svc);
    let tasks = alive_tasks();
    let mut fut = Box::pin(svc.oneshot(Request::new(Full::default())));
    assert!(
        poll_once(&mut fut).is_pending(),
        "sleeping before the retry"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    drop(fut);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1, "no retry after the drop");
    assert_eq!(alive_tasks(), tasks, "no task left behind");
    // One deposit for the request, one withdrawal for the retry it was
    // waiting to make; nothing after the drop.
    assert_eq!(budget.deposits.load(Ordering::SeqCst), 1);
    assert_eq!(budget.withdrawals.load(Ordering::SeqCst), 1);
}

/// A budget that allows every retry and counts its use.
#[derive(Clone, Default)]
struct CountingBudget {
    deposits: Arc<AtomicUsize>,
    withdrawals: Arc<AtomicUsize>,
}

impl tower::retry::budget::Budget for CountingBudget {
    fn deposit(&self) {
        self.deposits.fetch_add(1, Ordering::SeqCst);
    }
    fn withdraw(&self) -> bool {
        self.withdrawals.fetch_add(1, Ordering::SeqCst);
        true
    }
}

/// A future that never completes, counted while alive.
struct Pending(Arc<AtomicUsize>);
impl Future for Pending {
    type Output = Result<Response<Full<Bytes>>, Infallible>;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Pending
    }
}
impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropped_during_an_attempt() {
    let alive = Arc::new(AtomicUsize::new(0));
    let a = alive.clone();
    let svc = service_fn(move |_req: Request<Full<Bytes>>| {
        a.fetch_add(1, Ordering::SeqCst);
        Pending(a.clone())
    });
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
        .service(svc);
    let mut fut = Box::pin(svc.oneshot(Request::new(Full::default())));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(alive.load(Ordering::SeqCst), 1);
    drop(fut);
    assert_eq!(
        alive.load(Ordering::SeqCst),
        0,
        "the attempt's future is dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn dropped_during_a_half_open_probe() {
    let mode = Arc::new(AtomicUsize::new(0)); // 0 fail, 1 hang, 2 ok
    let m = mode.clone();
    let hanging = Arc::new(AtomicUsize::new(0));
    let h = hanging.clone();
    let inner = service_fn(move |_req: Request<Full<Bytes>>| {
        let mode = m.load(Ordering::SeqCst);
        let h = h.clone();
        async move {
            if mode == 1 {
                h.fetch_add(1, Ordering::SeqCst);
                Pending(h).await
            } else {
                Ok(status(if mode == 0 { 503 } else { 200 }))
            }
        }
    });
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .minimum_calls(2)
            .window_size(2)
            .open_duration(Duration::from_secs(5)),
    );
    let handle = breaker.handle();
    let mut svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default().max_attempts(1)))
        .layer(breaker)
        .service(inner);
    for _ in 0..2 {
        let _ = svc
            .ready()
            .await
            .unwrap()
            .call(Request::new(Full::default()))
            .await;
    }
    assert_eq!(handle.state(), CircuitState::Open);

    tokio::time::advance(Duration::from_secs(5)).await;
    mode.store(1, Ordering::SeqCst);
    svc.ready().await.unwrap();
    let mut probe = Box::pin(svc.call(Request::new(Full::default())));
    assert!(poll_once(&mut probe).is_pending());
    assert_eq!(handle.state(), CircuitState::HalfOpen);
    drop(probe);
    assert_eq!(hanging.load(Ordering::SeqCst), 0);

    // The permit came back: a new probe is let through and closes it.
    mode.store(2, Ordering::SeqCst);
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(handle.state(), CircuitState::Closed);
}

/// The bytes of a request body, marking when their allocation is freed.
struct Owner {
    data: Vec<u8>,
    alive: Arc<AtomicUsize>,
}
impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}
impl Drop for Owner {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropped_while_a_replayable_body_is_kept() {
    let alive = Arc::new(AtomicUsize::new(1));
    let body = Full::new(Bytes::from_owner(Owner {
        data: b"payload".to_vec(),
        alive: alive.clone(),
    }));
    // The downstream reads the body, answers 503; the retry then sleeps.
    let inner = service_fn(
        |req: Request<tower_http_retry::ReplayBody<Full<Bytes>>>| async move {
            let _ = req.into_body().collect().await;
            Ok::<_, Infallible>(status(503))
        },
    );
    let svc = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(1024))
        .layer(RetryLayer::new(
            RetryPolicy::default().backoff(ConstantBackoff::new(Duration::from_secs(10))),
        ))
        .service(inner);
    let req = Request::builder().method(Method::PUT).body(body).unwrap();
    let mut fut = Box::pin(svc.oneshot(req));
    assert!(poll_once(&mut fut).is_pending());
    assert_eq!(
        alive.load(Ordering::SeqCst),
        1,
        "the bytes are kept for the replay"
    );
    drop(fut);
    assert_eq!(alive.load(Ordering::SeqCst), 0, "the kept bytes are freed");
}
