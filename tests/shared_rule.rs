//! One rule for both layers: `RetryPolicy::classify` and
//! `CircuitBreakerConfig::classify` take the same `Fn(&Outcome<'_>) ->
//! Verdict`, and what the retry layer retries the breaker counts as a
//! failure.

// A panic is how a test reports; clippy's test exemption misses helpers.
#![allow(clippy::unwrap_used)]

mod support;

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use support::{attempts, fast_policy, request, TestServer};
use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http_retry::circuit_breaker::CircuitBreaker;
use tower_http_retry::retry::{Outcome, Verdict};
use tower_http_retry::{
    CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState, RetryLayer,
};

/// A PUT of the server's `/lock` through `client`.
async fn put_lock<S>(client: S, server: &TestServer) -> Result<S::Response, S::Error>
where
    S: Service<Request<Full<Bytes>>>,
{
    client
        .oneshot(request(Method::PUT, &server.url("/lock")))
        .await
}

/// A 409 over loopback, with one rule making it transient: the retry layer
/// retries it and the breaker counts each attempt as a failure, so it
/// opens; the rule sees every attempt from both layers, numbered.
#[tokio::test]
async fn one_rule_makes_409_transient_for_retries_and_breaker() {
    let server = TestServer::statuses(&[409, 409, 409, 409]).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let conflicts_are_transient = move |outcome: &Outcome<'_>| {
        log.lock().unwrap().push(outcome.attempt());
        match outcome.status() {
            Some(StatusCode::CONFLICT) => Verdict::Retry,
            _ => Verdict::Default,
        }
    };
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .minimum_calls(3)
            .window_size(3)
            .classify(conflicts_are_transient.clone()),
    );
    let handle = breaker.handle();
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(
            fast_policy()
                .max_attempts(3)
                .classify(conflicts_are_transient),
        ))
        .layer(breaker)
        .service(support::client());

    let res = put_lock(client.clone(), &server).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(attempts(&res), Some(3));
    assert_eq!(server.calls(), 3);
    // The breaker's verdict comes first (its future completes beneath),
    // then the retry layer's, for attempts 1, 2 and 3.
    assert_eq!(*seen.lock().unwrap(), [1, 1, 2, 2, 3, 3]);
    assert_eq!(handle.state(), CircuitState::Open);
    assert_eq!(handle.metrics().failures, 3);

    // Open: the next call fails fast, and is not retried.
    let err = put_lock(client, &server).await.unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some());
    assert_eq!(server.calls(), 3);
}

/// Without the rule the same 409s are successes to the breaker: the
/// default failure rule counts 408, 429, 5xx and transport errors only.
#[tokio::test]
async fn without_the_rule_409_is_an_answer() {
    let server = TestServer::statuses(&[409, 409, 409]).await;
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .minimum_calls(3)
            .window_size(3),
    );
    let handle = breaker.handle();
    let client = ServiceBuilder::new()
        .layer(breaker)
        .service(support::client());
    for _ in 0..3 {
        let res = put_lock(client.clone(), &server).await.unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT);
    }
    assert_eq!(handle.state(), CircuitState::Closed);
    assert_eq!(handle.metrics().failures, 0);
}

/// `Final` on a response is a success (the breaker stays closed on this
/// API's maintenance 503s); `Final` on an error records nothing;
/// `Default` leaves the decision to the failure classifier.
#[tokio::test(start_paused = true)]
async fn final_is_a_success_on_a_response_and_nothing_on_an_error() {
    let rule = |outcome: &Outcome<'_>| match (outcome.status(), outcome.error()) {
        (Some(StatusCode::SERVICE_UNAVAILABLE), _) => Verdict::Final,
        (_, Some(e)) if e.is::<io::Error>() => Verdict::Final,
        _ => Verdict::Default,
    };
    let inner = service_fn(|req: Request<()>| async move {
        match req.uri().path() {
            "/maintenance" => Ok(Response::builder().status(503).body(()).unwrap()),
            "/broken" => Err(BoxError::from(io::Error::other("refused by policy"))),
            _ => Ok(Response::builder().status(500).body(()).unwrap()),
        }
    });
    let mut svc = CircuitBreaker::new(
        inner,
        CircuitBreakerConfig::default()
            .minimum_calls(2)
            .window_size(2)
            .classify(rule),
    );
    let handle = svc.handle();
    let mut send = async |path: &str| {
        let req = Request::get(path).body(()).unwrap();
        svc.ready().await.unwrap().call(req).await
    };
    send("/maintenance").await.unwrap();
    send("/broken").await.unwrap_err();
    let metrics = handle.metrics();
    assert_eq!((metrics.calls, metrics.failures), (1, 0));
    // Default: the built-in rule counts a 500.
    send("/other").await.unwrap();
    let metrics = handle.metrics();
    assert_eq!((metrics.calls, metrics.failures), (2, 1));
    assert_eq!(handle.state(), CircuitState::Open);
}
