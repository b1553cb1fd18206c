//! The classifier: `RetryPolicy::classify` and each `Verdict`, over
//! in-memory downstreams (paused time where the timing is the point).

mod support;

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use support::recording;
use tokio::time::Instant;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ConstantBackoff;
use tower_http_retry::retry::{
    GiveUpEvent, GiveUpReason, Outcome, RetryEvent, Verdict, WaitSource,
};
use tower_http_retry::{Attempts, CircuitOpen, RetryLayer, RetryPolicy};

/// A policy with a 1 ms constant backoff and no budget.
fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .backoff(ConstantBackoff::new(Duration::from_millis(1)))
        .without_budget()
}

fn status(code: u16) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::default());
    *res.status_mut() = StatusCode::from_u16(code).unwrap();
    res
}

fn request(method: Method) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("http://downstream.test/thing")
        .body(Full::default())
        .unwrap()
}

async fn call(
    policy: RetryPolicy,
    method: Method,
    respond: impl Fn(usize) -> Result<Response<Full<Bytes>>, io::Error> + Clone + Send + 'static,
) -> (Result<Response<Full<Bytes>>, io::Error>, Vec<Duration>) {
    let (svc, log) = recording(respond);
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(svc);
    let result = client.oneshot(request(method)).await;
    let calls = log.lock().unwrap().clone();
    (result, calls)
}

fn attempts<B>(res: &Response<B>) -> Option<u32> {
    res.extensions().get::<Attempts>().map(Attempts::get)
}

/// The give-up reasons told to `on_give_up`, and the policy that tells them.
fn with_give_ups(policy: RetryPolicy) -> (RetryPolicy, Arc<Mutex<Vec<GiveUpReason>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let policy = policy.on_give_up(move |e: &GiveUpEvent<'_>| seen2.lock().unwrap().push(e.why));
    (policy, seen)
}

fn conflict_is_transient(outcome: &Outcome<'_>) -> Verdict {
    match outcome.status() {
        Some(StatusCode::CONFLICT) => Verdict::Retry,
        _ => Verdict::Default,
    }
}

#[tokio::test]
async fn a_409_is_retried_for_a_get_and_not_for_a_post() {
    let first_409 = |n| Ok(status(if n == 0 { 409 } else { 200 }));

    let (res, calls) = call(
        quick().classify(conflict_is_transient),
        Method::GET,
        first_409,
    )
    .await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(calls.len(), 2);

    let (policy, give_ups) = with_give_ups(quick().classify(conflict_is_transient));
    let (res, calls) = call(policy, Method::POST, first_409).await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(calls.len(), 1);
    assert_eq!(*give_ups.lock().unwrap(), [GiveUpReason::NotReplayable]);

    // Without the classifier, a 409 is not retried even for a GET.
    let (res, calls) = call(quick(), Method::GET, first_409).await;
    assert_eq!(res.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(calls.len(), 1);
}

#[tokio::test]
async fn final_stops_a_503() {
    let (policy, give_ups) = with_give_ups(quick().classify(|o: &Outcome<'_>| match o.status() {
        Some(StatusCode::SERVICE_UNAVAILABLE) => Verdict::Final,
        _ => Verdict::Default,
    }));
    let (res, calls) = call(policy, Method::GET, |_| Ok(status(503))).await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(calls.len(), 1);
    // Not a give-up: the outcome is final, no bound refused a retry.
    assert!(give_ups.lock().unwrap().is_empty());

    // A 502 is still the built-in rules' to decide: retried.
    let (res, calls) = call(
        quick().classify(|o: &Outcome<'_>| match o.status() {
            Some(StatusCode::SERVICE_UNAVAILABLE) => Verdict::Final,
            _ => Verdict::Default,
        }),
        Method::GET,
        |n| Ok(status(if n == 0 { 502 } else { 200 })),
    )
    .await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
    assert_eq!(calls.len(), 2);
}

#[tokio::test]
async fn not_processed_replays_a_post() {
    // A gateway's word that it never forwarded the request.
    let never_forwarded = |o: &Outcome<'_>| match o.headers().and_then(|h| h.get("x-not-forwarded"))
    {
        Some(_) => Verdict::NotProcessed,
        None => Verdict::Default,
    };
    let respond = |n| {
        let mut res = status(if n == 0 { 502 } else { 201 });
        if n == 0 {
            res.headers_mut()
                .insert("x-not-forwarded", "1".parse().unwrap());
        }
        Ok(res)
    };
    let (res, calls) = call(quick().classify(never_forwarded), Method::POST, respond).await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(calls.len(), 2);

    // The same 502 without the classifier: a POST is not replayed.
    let (res, calls) = call(quick(), Method::POST, respond).await;
    assert_eq!(res.unwrap().status(), StatusCode::BAD_GATEWAY);
    assert_eq!(calls.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_waits_exactly_that_long() {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let waits2 = waits.clone();
    let policy = quick()
        .backoff(ConstantBackoff::new(Duration::from_millis(10)))
        .classify(|o: &Outcome<'_>| match o.status() {
            Some(StatusCode::SERVICE_UNAVAILABLE) => {
                Verdict::RetryAfter(Duration::from_millis(1234))
            }
            _ => Verdict::Default,
        })
        .on_retry(move |e: &RetryEvent<'_>| waits2.lock().unwrap().push((e.delay, e.delay_from)));
    // The server's Retry-After (1 s) loses to the classifier's word.
    let respond = |n| {
        let mut res = status(if n < 2 { 503 } else { 200 });
        res.headers_mut()
            .insert("retry-after", "1".parse().unwrap());
        Ok(res)
    };
    let (res, calls) = call(policy, Method::GET, respond).await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
    assert_eq!(
        calls,
        [
            Duration::ZERO,
            Duration::from_millis(1234),
            Duration::from_millis(2468)
        ]
    );
    assert_eq!(
        *waits.lock().unwrap(),
        [(Duration::from_millis(1234), WaitSource::Classifier); 2]
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_above_the_cap_hands_the_outcome_back_at_once() {
    let (policy, give_ups) = with_give_ups(
        quick()
            .max_retry_after(Duration::from_secs(5))
            .classify(|_: &Outcome<'_>| Verdict::RetryAfter(Duration::from_secs(6))),
    );
    let start = Instant::now();
    let (res, calls) = call(policy, Method::GET, |_| Ok(status(503))).await;
    let res = res.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts(&res), Some(1));
    assert_eq!(calls.len(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        *give_ups.lock().unwrap(),
        [GiveUpReason::VerdictWaitTooLong]
    );
    assert_eq!(
        GiveUpReason::VerdictWaitTooLong.as_str(),
        "classifier wait above max_retry_after"
    );

    // At the cap exactly, it is slept.
    let policy = quick()
        .max_retry_after(Duration::from_secs(5))
        .classify(|_: &Outcome<'_>| Verdict::RetryAfter(Duration::from_secs(5)));
    let (_, calls) = call(policy.max_attempts(2), Method::GET, |_| Ok(status(503))).await;
    assert_eq!(calls, [Duration::ZERO, Duration::from_secs(5)]);
}

#[tokio::test(start_paused = true)]
async fn every_bound_applies_to_an_always_retry_classifier() {
    let always = |_: &Outcome<'_>| Verdict::Retry;

    // max_attempts, even for a 200.
    let (policy, give_ups) = with_give_ups(quick().max_attempts(4).classify(always));
    let (res, calls) = call(policy, Method::GET, |_| Ok(status(200))).await;
    let res = res.unwrap();
    assert_eq!(attempts(&res), Some(4));
    assert_eq!(calls.len(), 4);
    assert_eq!(*give_ups.lock().unwrap(), [GiveUpReason::Attempts]);

    // NotProcessed too.
    let (res, calls) = call(
        quick()
            .max_attempts(2)
            .classify(|_: &Outcome<'_>| Verdict::NotProcessed),
        Method::POST,
        |_| Ok(status(200)),
    )
    .await;
    assert_eq!(attempts(&res.unwrap()), Some(2));
    assert_eq!(calls.len(), 2);

    // max_elapsed: the second wait of 600 ms would end past 1 s.
    let (policy, give_ups) = with_give_ups(
        quick()
            .max_attempts(10)
            .max_elapsed(Duration::from_secs(1))
            .classify(|_: &Outcome<'_>| Verdict::RetryAfter(Duration::from_millis(600))),
    );
    let (_, calls) = call(policy, Method::GET, |_| Ok(status(200))).await;
    assert_eq!(calls, [Duration::ZERO, Duration::from_millis(600)]);
    assert_eq!(*give_ups.lock().unwrap(), [GiveUpReason::Elapsed]);

    // The budget: one that allows no retry at all.
    let (policy, give_ups) = with_give_ups(
        RetryPolicy::default()
            .tps_budget(Duration::from_secs(1), 0, 0.0)
            .classify(always),
    );
    let (_, calls) = call(policy, Method::GET, |_| Ok(status(200))).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(*give_ups.lock().unwrap(), [GiveUpReason::Budget]);
}

#[tokio::test]
async fn an_open_breaker_is_never_retried_whatever_the_verdict() {
    let calls = Arc::new(AtomicUsize::new(0));
    let calls2 = calls.clone();
    let svc = service_fn(move |_req: Request<Full<Bytes>>| {
        calls2.fetch_add(1, Ordering::SeqCst);
        async { Err::<Response<Full<Bytes>>, BoxError>(Box::new(CircuitOpen::new())) }
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(
            quick().classify(|_: &Outcome<'_>| Verdict::NotProcessed),
        ))
        .service(svc);
    let err = client.oneshot(request(Method::GET)).await.unwrap_err();
    assert!(err.is::<CircuitOpen>());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_classifier_sees_attempts_request_response_and_errors() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let policy = quick().max_attempts(4).classify(move |o: &Outcome<'_>| {
        seen2.lock().unwrap().push(format!(
            "{} {} {} req-h={:?} status={:?} res-h={:?} error={:?} is_error={} body={:?}",
            o.attempt(),
            o.method(),
            o.uri(),
            o.request_headers().get("x-req"),
            o.status().map(|s| s.as_u16()),
            o.headers().and_then(|h| h.get("x-res")),
            o.error()
                .and_then(|e| e.downcast_ref::<io::Error>())
                .map(io::Error::kind),
            o.is_error(),
            o.body(),
        ));
        Verdict::Default
    });
    let (svc, _) = recording(|n| match n {
        0 => Err(io::Error::from(io::ErrorKind::ConnectionReset)),
        1 => {
            let mut res = status(503);
            res.headers_mut().insert("x-res", "busy".parse().unwrap());
            Ok(res)
        }
        _ => Ok(status(200)),
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(svc);
    let mut req = request(Method::PUT);
    req.headers_mut().insert("x-req", "mine".parse().unwrap());
    let res = client.oneshot(req).await.unwrap();
    assert_eq!(attempts(&res), Some(3));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "1 PUT http://downstream.test/thing req-h=Some(\"mine\") status=None res-h=None \
             error=Some(ConnectionReset) is_error=true body=None",
            "2 PUT http://downstream.test/thing req-h=Some(\"mine\") status=Some(503) \
             res-h=Some(\"busy\") error=None is_error=false body=None",
            "3 PUT http://downstream.test/thing req-h=Some(\"mine\") status=Some(200) \
             res-h=None error=None is_error=false body=None",
        ]
    );
}
