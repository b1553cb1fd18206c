//! Compile-time promises of the API: the layers stack with `ServiceBuilder`
//! over hyper-util's client, and the services are `Send + Sync + Clone`.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use tower::ServiceBuilder;
use tower_http_retry::{RetryLayer, RetryPolicy};

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>(_: &T) {}

fn assert_service<S, B>(_: &S)
where
    S: tower::Service<http::Request<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
}

#[test]
fn retry_stack_over_hyper_util_is_send_sync_clone() {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .service(client);
    assert_send_sync_clone(&svc);
    assert_service::<_, Full<Bytes>>(&svc);
    assert_send_sync_clone(&RetryPolicy::default());
    assert_send_sync_clone(&RetryLayer::default());
}

#[test]
fn retry_stack_with_a_timeout_beneath() {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .timeout(std::time::Duration::from_secs(2))
        .service(client);
    assert_service::<_, Full<Bytes>>(&svc);
}

/// The API contract of the design, as code outside this repository writes
/// it: every name and shape must keep compiling.
#[tokio::test]
async fn the_design_contract_compiles_and_runs() {
    use std::time::Duration;

    use http::StatusCode;
    use tower::retry::budget::TpsBudget;
    use tower::ServiceExt;
    use tower_http_retry::backoff::{Backoff, ConstantBackoff, ExponentialBackoff, Jitter};
    use tower_http_retry::{
        Attempts, CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState, ReplayBody,
        ReplayBodyLayer, RetryPolicy,
    };

    let _constant = ConstantBackoff::new(Duration::from_millis(10)).delay(1, Duration::ZERO);
    let policy = RetryPolicy::default()
        .max_attempts(4)
        .backoff(
            ExponentialBackoff::new(Duration::from_millis(100))
                .max_delay(Duration::from_secs(5))
                .jitter(Jitter::Full),
        )
        .retry_statuses([
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE,
        ])
        .max_retry_after(Duration::from_secs(30))
        .max_elapsed(Duration::from_secs(20))
        .budget(TpsBudget::new(Duration::from_secs(10), 10, 0.2));
    let _unbounded = RetryPolicy::default().without_budget();

    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .failure_rate_threshold(0.5)
            .minimum_calls(10)
            .window_size(100)
            .consecutive_failures(5)
            .open_duration(Duration::from_secs(30))
            .half_open_calls(3),
    );
    let handle = breaker.handle();
    assert_eq!(handle.state(), CircuitState::Closed);

    let inner = tower::service_fn(|_req: http::Request<ReplayBody<Full<Bytes>>>| async {
        Ok::<_, std::io::Error>(http::Response::new(()))
    });
    let client = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(64 * 1024))
        .layer(RetryLayer::new(policy))
        .layer(breaker)
        .service(inner);
    let response = client
        .clone()
        .oneshot(http::Request::new(Full::new(Bytes::from_static(b"x"))))
        .await
        .unwrap();
    let attempts = response.extensions().get::<Attempts>().map(Attempts::get);
    assert_eq!(attempts, Some(1));

    handle.force_open();
    let err = client
        .oneshot(http::Request::new(Full::default()))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some());

    let per_host = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default());
    let uri: http::Uri = "http://a.example/".parse().unwrap();
    assert_eq!(per_host.handle().state_for(&uri), CircuitState::Closed);
}

/// The design's "Open decisions, bodies, hedging, throttling" contract, as
/// outside code writes it.
#[tokio::test]
async fn the_open_decisions_contract_compiles_and_runs() {
    use std::convert::Infallible;
    use std::time::Duration;

    use tower::{service_fn, ServiceExt};
    use tower_http_retry::body::BufferedBody;
    use tower_http_retry::retry::{Outcome, Verdict};
    use tower_http_retry::{
        AdaptiveThrottleLayer, Attempts, BufferResponseLayer, CircuitBreakerConfig,
        CircuitBreakerLayer, HedgeLayer, Throttled,
    };

    let policy = RetryPolicy::default().classify(|outcome: &Outcome<'_>| {
        let _ = (outcome.method(), outcome.uri(), outcome.request_headers());
        let _ = (outcome.attempt(), outcome.status(), outcome.headers());
        let _ = outcome.error();
        match outcome.body() {
            Some(body) if body.starts_with(b"{\"error\":\"overloaded\"") => Verdict::Retry,
            Some(_) => Verdict::Default,
            None if outcome.attempt() > 9 => Verdict::Final,
            None => Verdict::Default,
        }
    });
    let _ = [
        Verdict::Default,
        Verdict::Final,
        Verdict::Retry,
        Verdict::RetryAfter(Duration::from_millis(1)),
        Verdict::NotProcessed,
    ];

    let inner = service_fn(|_req: http::Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let client = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
        .timeout(Duration::from_secs(5))
        .layer(BufferResponseLayer::new(1024 * 1024))
        .service(inner);
    let response: http::Response<BufferedBody<Full<Bytes>>> = client
        .oneshot(http::Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(response.body().bytes().map(|b| &b[..]), Some(&b"ok"[..]));

    let hedged = ServiceBuilder::new()
        .layer(HedgeLayer::new(Duration::from_millis(50)).max_hedges(1))
        .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
        .service(inner);
    let response = hedged
        .oneshot(http::Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(
        response.extensions().get::<Attempts>().map(Attempts::get),
        Some(1)
    );

    let throttled = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .layer(AdaptiveThrottleLayer::new())
        .service(inner);
    // A fresh throttle refuses nothing; a refusal downcasts to `Throttled`.
    let response = throttled
        .oneshot(http::Request::new(Full::default()))
        .await
        .unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    let refused: fn(&tower::BoxError) -> bool = |err| err.downcast_ref::<Throttled>().is_some();
    let _ = refused;
}
