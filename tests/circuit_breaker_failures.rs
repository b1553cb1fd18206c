//! What the breaker counts by default: exactly the outcomes the crate's one
//! classification calls transient. A fatal error (the request was
//! malformed, nothing reached the server) is neither a failure nor a
//! success; 501 is an answer, not a failure.

// A panic is how a test reports; clippy's test exemption misses helpers.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tower::{service_fn, BoxError, Service, ServiceExt};
use tower_http_retry::circuit_breaker::CircuitBreaker;
use tower_http_retry::{CircuitBreakerConfig, CircuitOpen, CircuitState};

/// A downstream answering with `status`, counting its calls.
fn answering(
    status: u16,
) -> (
    impl Service<Request<()>, Response = Response<()>, Error = std::io::Error> + Clone,
    Arc<AtomicUsize>,
) {
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    let svc = service_fn(move |_req: Request<()>| {
        count.fetch_add(1, Ordering::SeqCst);
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::from_u16(status).unwrap();
        async move { Ok(res) }
    });
    (svc, calls)
}

async fn send<S>(svc: &mut S) -> Result<Response<()>, BoxError>
where
    S: Service<Request<()>, Response = Response<()>, Error = BoxError>,
{
    svc.ready().await?.call(Request::new(())).await
}

/// Twenty 501s, with the defaults (20 calls are enough to trip at 50 %):
/// the breaker stays closed, and counts them as successes.
#[tokio::test(start_paused = true)]
async fn twenty_501s_do_not_open_the_breaker() {
    let (inner, calls) = answering(501);
    let mut svc = CircuitBreaker::new(inner, CircuitBreakerConfig::default());
    for _ in 0..20 {
        let res = send(&mut svc).await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_IMPLEMENTED);
    }
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    let metrics = svc.handle().metrics();
    assert_eq!((metrics.calls, metrics.failures), (20, 0));
    send(&mut svc).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 21);
}

/// A `CircuitOpen` from a breaker beneath (a fatal error: the downstream
/// was never called) is not counted by the breaker above.
#[tokio::test(start_paused = true)]
async fn a_refusal_from_beneath_is_not_counted() {
    let inner =
        service_fn(|_req: Request<()>| async { Err::<Response<()>, _>(CircuitOpen::new()) });
    let mut svc = CircuitBreaker::new(
        inner,
        CircuitBreakerConfig::default().consecutive_failures(1),
    );
    for _ in 0..20 {
        let err = send(&mut svc).await.unwrap_err();
        assert!(err.is::<CircuitOpen>());
    }
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    assert_eq!(
        svc.handle().metrics().calls,
        0,
        "neither failure nor success"
    );
}

/// A fatal error on a half-open probe says nothing of the downstream: the
/// probe's permit goes back, and the next call is a probe.
#[tokio::test(start_paused = true)]
async fn a_fatal_probe_gives_its_permit_back() {
    let calls = Arc::new(AtomicUsize::new(0));
    let count = calls.clone();
    let inner = service_fn(move |_req: Request<()>| {
        let n = count.fetch_add(1, Ordering::SeqCst);
        async move {
            match n {
                0 => Ok(Response::builder().status(503).body(()).unwrap()),
                1 => Err(CircuitOpen::new()),
                _ => Ok(Response::new(())),
            }
        }
    });
    let mut svc = CircuitBreaker::new(
        inner,
        CircuitBreakerConfig::default()
            .consecutive_failures(1)
            .open_duration(Duration::from_secs(5)),
    );
    send(&mut svc).await.unwrap();
    assert_eq!(svc.handle().state(), CircuitState::Open);
    tokio::time::advance(Duration::from_secs(5)).await;
    send(&mut svc).await.unwrap_err();
    assert_eq!(svc.handle().state(), CircuitState::HalfOpen);
    assert_eq!(send(&mut svc).await.unwrap().status(), StatusCode::OK);
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// Twenty requests with a relative URL through `ReqwestService`: reqwest
/// refuses to build each (a builder error, never sent). With the defaults
/// twenty failures would open the breaker; they are not failures, and the
/// next healthy request goes through.
#[cfg(feature = "reqwest")]
#[tokio::test]
async fn reqwest_builder_errors_do_not_open_the_breaker() {
    use bytes::Bytes;
    use http_body_util::Full;
    use tower_http_retry::ReqwestService;

    let server = support::TestServer::statuses(&[]).await;
    let mut svc = CircuitBreaker::new(
        ReqwestService::new(reqwest::Client::new()),
        CircuitBreakerConfig::default(),
    );
    let get = |uri: &str| Request::get(uri).body(Full::<Bytes>::default()).unwrap();
    for _ in 0..20 {
        let err = ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
            .await
            .unwrap()
            .call(get("/relative-only"))
            .await
            .unwrap_err();
        let err = err.downcast_ref::<reqwest::Error>().unwrap();
        assert!(err.is_builder(), "{err:?}");
    }
    assert_eq!(svc.handle().state(), CircuitState::Closed);
    assert_eq!(svc.handle().metrics().calls, 0);
    let res = ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
        .await
        .unwrap()
        .call(get(&server.url("/healthy")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(server.calls(), 1);
}
