//! The discarded body of a retried response: read to keep its connection,
//! within bounds of bytes, frames and time, without ever holding the
//! thread. In-memory bodies on a current-thread runtime for the bounds;
//! loopback servers for the connections kept.

mod support;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use support::*;
use tokio::time::Instant;
use tower::{service_fn, BoxError, Layer, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::retry::{BoxResponseBody, BoxResponseBodyLayer};
use tower_http_retry::{RetryLayer, RetryPolicy};

/// A body always ready with `frame()`, for ever; counts the frames it gave.
fn endless(frame: fn() -> Frame<Bytes>, given: Arc<AtomicU64>) -> BoxBody<Bytes, BoxError> {
    let frames = futures_util::stream::repeat_with(move || {
        given.fetch_add(1, Ordering::SeqCst);
        Ok(frame())
    });
    StreamBody::new(frames).boxed()
}

/// Runs `test` on a current-thread runtime (with paused time if asked) on a
/// thread of its own, and fails if it has not finished within 30 s of real
/// time: a drain that holds the thread hangs the runtime for ever.
fn on_current_thread<F, Fut>(paused: bool, test: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let (done, finished) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(paused)
            .build()
            .unwrap();
        rt.block_on(test());
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(30)) {
        Ok(()) => thread.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the runtime's only thread is still held after 30 s")
        }
    }
}

/// A 503 whose body is `endless(frame)`, then 200; the times of the calls,
/// and the frames the endless body gave.
async fn retry_after_an_endless_body(
    frame: fn() -> Frame<Bytes>,
    backoff: Duration,
) -> (Vec<Duration>, Arc<AtomicU64>, Vec<u64>) {
    let given = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let (given2, calls2) = (given.clone(), calls.clone());
    let svc = service_fn(move |_req: Request<Full<Bytes>>| {
        let n = {
            let mut calls = calls2.lock().unwrap();
            calls.push(start.elapsed());
            calls.len()
        };
        let given = given2.clone();
        async move {
            let body = if n == 1 {
                endless(frame, given)
            } else {
                Full::default().map_err(BoxError::from).boxed()
            };
            let mut res: Response<BoxBody<Bytes, BoxError>> = Response::new(body);
            if n == 1 {
                *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            Ok::<_, std::convert::Infallible>(res)
        }
    });
    // Another task of the same thread: it must run while the body is read.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (given3, seen2) = (given.clone(), seen.clone());
    let other = tokio::spawn(async move {
        for _ in 0..3 {
            tokio::task::yield_now().await;
            seen2.lock().unwrap().push(given3.load(Ordering::SeqCst));
        }
    });
    let policy = RetryPolicy::default()
        .without_budget()
        .backoff(ConstantBackoff::new(backoff));
    let res = RetryLayer::new(policy)
        .layer(svc)
        .oneshot(Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    other.await.unwrap();
    let calls = calls.lock().unwrap().clone();
    let seen = seen.lock().unwrap().clone();
    (calls, given, seen)
}

/// The retry went after exactly its delay, the body was read (but not for
/// ever), and the other task ran while it was.
fn assert_retried_on_time_without_holding_the_thread(
    (calls, given, seen): (Vec<Duration>, Arc<AtomicU64>, Vec<u64>),
    delay: Duration,
) {
    assert_eq!(calls, [Duration::ZERO, delay]);
    let given = given.load(Ordering::SeqCst);
    assert!(given > 0, "the discarded body was read");
    assert!(
        seen.iter().any(|&n| n > 0 && n < given),
        "the other task ran while the body was read: saw {seen:?} of {given} frames"
    );
}

#[test]
fn endless_empty_data_frames_neither_delay_the_retry_nor_hold_the_thread() {
    on_current_thread(true, || async {
        let delay = Duration::from_millis(50);
        let outcome = retry_after_an_endless_body(|| Frame::data(Bytes::new()), delay).await;
        assert_retried_on_time_without_holding_the_thread(outcome, delay);
    });
}

#[test]
fn endless_non_data_frames_neither_delay_the_retry_nor_hold_the_thread() {
    on_current_thread(true, || async {
        let delay = Duration::from_millis(50);
        let trailers = || Frame::trailers(http::HeaderMap::new());
        let outcome = retry_after_an_endless_body(trailers, delay).await;
        assert_retried_on_time_without_holding_the_thread(outcome, delay);
    });
}

#[test]
fn endless_frames_in_real_time_retry_after_the_delay() {
    on_current_thread(false, || async {
        let delay = Duration::from_millis(50);
        let (calls, given, seen) =
            retry_after_an_endless_body(|| Frame::data(Bytes::new()), delay).await;
        assert_eq!(calls.len(), 2);
        let waited = calls[1] - calls[0];
        assert!(waited >= delay, "{waited:?}");
        assert!(waited < Duration::from_secs(2), "{waited:?}");
        let given = given.load(Ordering::SeqCst);
        assert!(
            seen.iter().any(|&n| n > 0 && n < given),
            "{seen:?} of {given}"
        );
    });
}

#[test]
fn a_zero_delay_waits_for_an_endless_body_no_longer_than_the_drain_bounds() {
    // `Retry-After: 0`-like: the body is read before the retry, but never
    // for ever: the frame bound ends it, in no time.
    on_current_thread(true, || async {
        let outcome =
            retry_after_an_endless_body(|| Frame::data(Bytes::new()), Duration::ZERO).await;
        assert_retried_on_time_without_holding_the_thread(outcome, Duration::ZERO);
    });
}

/// A server answering 503 with a 200 KB page and `Retry-After: 0`,
/// `failures` times, then 200.
async fn zero_delay_error_pages(failures: usize) -> TestServer {
    TestServer::start(move |n, _| {
        let mut res = Response::new(Full::new(Bytes::from(vec![b'x'; 200_000])));
        if n < failures {
            *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            res.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("0"),
            );
        }
        res
    })
    .await
}

#[tokio::test]
async fn a_zero_delay_retry_drains_the_discarded_body_and_keeps_the_connection() {
    let server = zero_delay_error_pages(2).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .layer(BoxResponseBodyLayer::new())
        .service(client());
    let started = std::time::Instant::now();
    assert_eq!(attempts_and_connections(svc, &server).await, (Some(3), 1));
    // Two waits of at most 50 ms each for the pages, with room to spare.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_box_response_body_layer_keeps_hyper_connections() {
    let server = TestServer::error_pages(200_000, 2).await;
    let policy = fast_policy().backoff(ConstantBackoff::new(Duration::from_millis(50)));
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .layer(BoxResponseBodyLayer::new())
        .service(client());
    assert_eq!(attempts_and_connections(svc, &server).await, (Some(3), 1));
}

/// The client kept in axum's `State`, its type named.
type Downstream = tower::retry::Retry<RetryPolicy, BoxResponseBody<HttpClient>>;

#[tokio::test]
async fn a_named_client_in_axum_state_keeps_its_connections() {
    use axum::extract::State;

    async fn proxy(State((client, url)): State<(Downstream, String)>) -> StatusCode {
        match client.oneshot(request(Method::GET, &url)).await {
            Ok(res) => res.status(),
            Err(_) => StatusCode::BAD_GATEWAY,
        }
    }

    let server = TestServer::error_pages(200_000, 2).await;
    let policy = fast_policy().backoff(ConstantBackoff::new(Duration::from_millis(50)));
    let client: Downstream = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .layer(BoxResponseBodyLayer::new())
        .service(client());
    let app = axum::Router::new()
        .route("/", axum::routing::get(proxy))
        .with_state((client, server.url("/")));
    let res = app
        .oneshot(Request::new(axum::body::Body::empty()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(server.calls(), 3);
    assert_eq!(server.connections(), 1);
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn a_discarded_axum_body_is_drained_to_keep_the_connection() {
    let server = TestServer::error_pages(200_000, 2).await;
    let policy = fast_policy().backoff(ConstantBackoff::new(Duration::from_millis(50)));
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .map_response(|res: Response<hyper::body::Incoming>| res.map(axum::body::Body::new))
        .service(client());
    assert_eq!(attempts_and_connections(svc, &server).await, (Some(3), 1));
}
