//! AdaptiveThrottleLayer with in-memory downstreams and paused time: the
//! SRE formula on scripted outcomes, what counts as a refusal, retries,
//! per-host isolation, bounds, events.

mod support;

use std::io;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode, Uri};
use support::Logs;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::retry::RetryReason;
use tower_http_retry::{AdaptiveThrottleLayer, ErrorClass, RetryLayer, RetryPolicy, Throttled};

/// What the downstream answers, changed by the test as it goes: a status,
/// or 0 for "connection refused", 1 for "connection reset".
#[derive(Clone, Default)]
struct Downstream {
    answer: Arc<AtomicU16>,
    calls: Arc<AtomicUsize>,
}

impl Downstream {
    fn answering(status: u16) -> Self {
        let d = Downstream::default();
        d.set(status);
        d
    }

    fn set(&self, answer: u16) {
        self.answer.store(answer, Ordering::SeqCst);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<Request<String>> for Downstream {
    type Response = Response<String>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Response<String>, BoxError>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<String>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(match self.answer.load(Ordering::SeqCst) {
            0 => Err(io::Error::from(io::ErrorKind::ConnectionRefused).into()),
            1 => Err(io::Error::from(io::ErrorKind::ConnectionReset).into()),
            status => {
                let mut res = Response::new(String::new());
                *res.status_mut() = StatusCode::from_u16(status).unwrap();
                Ok(res)
            }
        })
    }
}

fn to(uri: &str) -> Request<String> {
    let mut req = Request::new(String::new());
    *req.uri_mut() = uri.parse().unwrap();
    req
}

/// Sends one request; the `Throttled` error if it was rejected locally.
async fn send<S>(svc: &mut S, uri: &str) -> Option<Throttled>
where
    S: Service<Request<String>, Response = Response<String>, Error = BoxError>,
{
    match svc.ready().await.unwrap().call(to(uri)).await {
        Ok(_) => None,
        Err(e) => e.downcast::<Throttled>().ok().map(|t| *t),
    }
}

const A: &str = "http://a.example/x";
const B: &str = "http://b.example/x";

fn sre(requests: u64, accepts: u64, k: f64) -> f64 {
    ((requests as f64 - k * accepts as f64) / (requests as f64 + 1.0)).max(0.0)
}

#[tokio::test(start_paused = true)]
async fn the_rejection_probability_follows_the_formula_exactly() {
    for k in [2.0, 1.0, 1.5] {
        let down = Downstream::answering(200);
        let layer = AdaptiveThrottleLayer::new().k(k).seed(3);
        let mut svc = ServiceBuilder::new()
            .layer(layer.clone())
            .service(down.clone());
        for _ in 0..10 {
            assert!(send(&mut svc, A).await.is_none());
        }
        down.set(503);
        let mut rejected = 0;
        for n in 10..60u64 {
            // Each rejection names the probability of the counts before it.
            if let Some(t) = send(&mut svc, A).await {
                assert_eq!(t.probability(), sre(n, 10, k), "k {k}, request {n}");
                assert_eq!(t.host(), Some("a.example"));
                rejected += 1;
            }
        }
        assert!(rejected > 0);
        // 60 requests (the rejected ones included), 10 accepted.
        assert_eq!(
            layer.rejection_probability(&Uri::from_static(A)),
            sre(60, 10, k)
        );
        assert_eq!(down.calls(), 60 - rejected);
    }
}

#[tokio::test(start_paused = true)]
async fn only_overload_signals_count_as_refusals() {
    // 429, 503 and connection refused: not accepted. 500, 404 and a reset:
    // accepted (the server processed it, or nothing says it shed it).
    for (answer, refused) in [
        (429, true),
        (503, true),
        (0, true),
        (500, false),
        (404, false),
        (1, false),
    ] {
        let layer = AdaptiveThrottleLayer::new().seed(1);
        let mut svc = ServiceBuilder::new()
            .layer(layer.clone())
            .service(Downstream::answering(answer));
        send(&mut svc, A).await;
        send(&mut svc, A).await;
        let p = layer.rejection_probability(&Uri::from_static(A));
        let expected = if refused { sre(2, 0, 2.0) } else { 0.0 };
        assert_eq!(p, expected, "answer {answer}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_rejection_is_never_retried_by_the_retry_layer_above() {
    let reasons = Arc::new(Mutex::new(Vec::new()));
    let policy = {
        let reasons = reasons.clone();
        RetryPolicy::default()
            .without_budget()
            .backoff(ConstantBackoff::new(Duration::from_millis(1)))
            .on_retry(move |e| reasons.lock().unwrap().push(e.reason))
    };
    let down = Downstream::answering(503);
    let mut svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .layer(AdaptiveThrottleLayer::new().seed(9))
        .service(down.clone());
    let mut throttled = 0;
    for _ in 0..200 {
        if send(&mut svc, A).await.is_some() {
            throttled += 1;
        }
    }
    assert!(throttled > 100, "{throttled}");
    // Every retry was of a 503; none of a `Throttled`.
    let reasons = reasons.lock().unwrap();
    assert!(!reasons.is_empty());
    assert!(reasons
        .iter()
        .all(|r| *r == RetryReason::Status(StatusCode::SERVICE_UNAVAILABLE)));
    let err: BoxError = Box::new(Throttled::new(None, 0.5));
    assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
}

#[tokio::test(start_paused = true)]
async fn per_host_throttles_are_isolated() {
    let layer = AdaptiveThrottleLayer::new().per_host().seed(5);
    let sick = Downstream::answering(503);
    let well = Downstream::answering(200);
    let mut to_sick = ServiceBuilder::new().layer(layer.clone()).service(sick);
    let mut to_well = ServiceBuilder::new()
        .layer(layer.clone())
        .service(well.clone());
    for _ in 0..100 {
        send(&mut to_sick, A).await;
    }
    assert_eq!(
        layer.rejection_probability(&Uri::from_static(A)),
        sre(100, 0, 2.0)
    );
    for _ in 0..100 {
        assert!(send(&mut to_well, B).await.is_none());
    }
    assert_eq!(layer.rejection_probability(&Uri::from_static(B)), 0.0);
    assert_eq!(well.calls(), 100);
    // A per-host rejection names the authority.
    let t = loop {
        if let Some(t) = send(&mut to_sick, A).await {
            break t;
        }
    };
    assert_eq!(t.host(), Some("http://a.example:80"));

    // Shared: the sick host's refusals throttle the other too.
    let shared = AdaptiveThrottleLayer::new().seed(5);
    let mut to_sick = ServiceBuilder::new()
        .layer(shared.clone())
        .service(Downstream::answering(503));
    for _ in 0..100 {
        send(&mut to_sick, A).await;
    }
    assert!(shared.rejection_probability(&Uri::from_static(B)) > 0.9);
}

#[tokio::test(start_paused = true)]
async fn the_host_map_is_bounded_and_keeps_the_hosts_it_throttles() {
    let layer = AdaptiveThrottleLayer::new().per_host().max_hosts(2).seed(1);
    let mut sick = ServiceBuilder::new()
        .layer(layer.clone())
        .service(Downstream::answering(503));
    let mut well = ServiceBuilder::new()
        .layer(layer.clone())
        .service(Downstream::answering(200));
    for _ in 0..10 {
        send(&mut sick, A).await;
    }
    for i in 0..50 {
        send(&mut well, &format!("http://h{i}.example/")).await;
    }
    assert_eq!(layer.host_count(), 2);
    // The throttling host survived fifty new ones.
    assert_eq!(
        layer.rejection_probability(&Uri::from_static(A)),
        sre(10, 0, 2.0)
    );
}

#[tokio::test(start_paused = true)]
async fn the_window_slides_and_events_tell_start_and_stop() {
    let (logs, _guard) = Logs::capture();
    let layer = AdaptiveThrottleLayer::new()
        .window(Duration::from_secs(10))
        .seed(2);
    let down = Downstream::answering(503);
    let mut svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service(down.clone());
    for _ in 0..20 {
        send(&mut svc, A).await;
    }
    assert!(layer.rejection_probability(&Uri::from_static(A)) > 0.9);
    // Nine seconds later the counts are still in the window; at ten they
    // have left it.
    tokio::time::advance(Duration::from_secs(9)).await;
    assert!(layer.rejection_probability(&Uri::from_static(A)) > 0.9);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(layer.rejection_probability(&Uri::from_static(A)), 0.0);
    down.set(200);
    assert!(send(&mut svc, A).await.is_none());
    let text = logs.text();
    assert_eq!(
        text.matches("adaptive throttling started").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("adaptive throttling stopped").count(),
        1,
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_rejects_the_same_requests() {
    async fn pattern(seed: u64) -> Vec<bool> {
        let mut svc = ServiceBuilder::new()
            .layer(AdaptiveThrottleLayer::new().seed(seed))
            .service(Downstream::answering(503));
        let mut out = Vec::new();
        for _ in 0..50 {
            out.push(send(&mut svc, A).await.is_some());
        }
        out
    }
    assert_eq!(pattern(11).await, pattern(11).await);
    assert_ne!(pattern(11).await, pattern(12).await);
}

#[test]
fn invalid_settings_are_refused_where_built_naming_the_parameter() {
    fn message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let err = std::panic::catch_unwind(f).unwrap_err();
        err.downcast_ref::<String>().cloned().unwrap_or_default()
    }
    assert!(message(|| {
        AdaptiveThrottleLayer::new().k(0.5);
    })
    .contains("`k` must be finite and at least 1, got 0.5"));
    assert!(message(|| {
        AdaptiveThrottleLayer::new().k(f64::NAN);
    })
    .contains("got NaN"));
    assert!(message(|| {
        AdaptiveThrottleLayer::new().k(f64::INFINITY);
    })
    .contains("got inf"));
    assert!(message(|| {
        AdaptiveThrottleLayer::new().window(Duration::ZERO);
    })
    .contains("`window` must be within 1s..=1h, got 0ns"));
    assert!(message(|| {
        AdaptiveThrottleLayer::new().window(Duration::from_secs(7200));
    })
    .contains("got 7200s"));
    assert!(message(|| {
        AdaptiveThrottleLayer::new().max_hosts(0);
    })
    .contains("`max_hosts` must be at least 1, got 0"));
    // K = 1 is allowed.
    let _ = AdaptiveThrottleLayer::new().k(1.0);
}

#[test]
fn the_services_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone>(_: &T) {}
    let svc = ServiceBuilder::new()
        .layer(AdaptiveThrottleLayer::new().per_host())
        .service(Downstream::default());
    check(&svc);
    fn send_<T: Send>(_: T) {}
    send_(svc.oneshot(to(A)));
}

#[cfg(feature = "metrics")]
#[tokio::test(start_paused = true)]
async fn a_gauge_follows_the_rejection_probability() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let layer = AdaptiveThrottleLayer::new().per_host().seed(3);
    let mut svc = ServiceBuilder::new()
        .layer(layer.clone())
        .service(Downstream::answering(503));
    for _ in 0..50 {
        send(&mut svc, A).await;
    }
    let gauge = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(key, _, _, value)| {
            let key = key.key();
            let host = key.labels().find(|l| l.key() == "host")?.value().to_owned();
            match value {
                DebugValue::Gauge(g) if key.name() == "tower_http_retry_throttle_probability" => {
                    Some((host, g.into_inner()))
                }
                _ => None,
            }
        })
        .unwrap();
    assert_eq!(gauge.0, "http://a.example:80");
    // Moved in steps of 0.01: within one step of the probability of the
    // last decision (49 requests before it, none accepted).
    assert!((gauge.1 - sre(49, 0, 2.0)).abs() < 0.01, "{gauge:?}");
}
