//! `RateLimitPaceLayer` against a wiremock server that enforces a quota and
//! counts the 429s it had to send: none while the client paces.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use support::{attempts, client, fast_policy, request};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http_retry::pace::{QuotaExhausted, RateLimitPaceLayer};
use tower_http_retry::{ErrorClass, RetryLayer};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request as Received, Respond, ResponseTemplate};

/// Which headers the quota server speaks.
#[derive(Clone, Copy)]
enum Dialect {
    /// `X-RateLimit-Remaining` and `X-RateLimit-Reset` (delta-seconds).
    XRateLimit,
    /// The IETF `RateLimit` field.
    Ietf,
}

/// `per_window` requests per window of `window`; a 429 past it.
struct Quota {
    per_window: usize,
    window: Duration,
    dialect: Dialect,
    state: Mutex<(Instant, usize)>,
    refused: Arc<AtomicUsize>,
}

impl Respond for Quota {
    fn respond(&self, _: &Received) -> ResponseTemplate {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        if now.duration_since(state.0) >= self.window {
            *state = (now, 0);
        }
        let left_in_window = self.window - now.duration_since(state.0);
        let reset = left_in_window.as_secs() + u64::from(left_in_window.subsec_nanos() > 0);
        let status = if state.1 < self.per_window {
            state.1 += 1;
            200
        } else {
            self.refused.fetch_add(1, Ordering::SeqCst);
            429
        };
        let remaining = self.per_window - state.1;
        let res = ResponseTemplate::new(status);
        match self.dialect {
            Dialect::XRateLimit => res
                .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
                .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
            Dialect::Ietf => res.insert_header(
                "ratelimit",
                format!("\"default\";r={remaining};t={reset}").as_str(),
            ),
        }
    }
}

async fn quota_server(dialect: Dialect, per_window: usize) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let refused = Arc::new(AtomicUsize::new(0));
    Mock::given(any())
        .respond_with(Quota {
            per_window,
            window: Duration::from_secs(1),
            dialect,
            state: Mutex::new((Instant::now(), 0)),
            refused: refused.clone(),
        })
        .mount(&server)
        .await;
    (server, refused)
}

/// Sends `n` requests one after the other; their statuses.
async fn send<S>(svc: &mut S, url: &str, n: usize) -> Vec<StatusCode>
where
    S: Service<
        http::Request<http_body_util::Full<bytes::Bytes>>,
        Response = http::Response<hyper::body::Incoming>,
    >,
    S::Error: std::fmt::Debug,
{
    let mut statuses = Vec::new();
    for _ in 0..n {
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(request(Method::GET, url))
            .await
            .unwrap();
        statuses.push(res.status());
    }
    statuses
}

#[tokio::test]
async fn a_paced_client_earns_no_429_x_ratelimit() {
    let (server, refused) = quota_server(Dialect::XRateLimit, 2).await;
    let mut svc = ServiceBuilder::new()
        .layer(RateLimitPaceLayer::new())
        .service(client());
    let start = Instant::now();
    let statuses = send(&mut svc, &server.uri(), 5).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        refused.load(Ordering::SeqCst),
        0,
        "429s the server had to send"
    );
    // 5 requests at 2 a window: the last one sent in the third window.
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_paced_client_earns_no_429_ietf_ratelimit() {
    let (server, refused) = quota_server(Dialect::Ietf, 2).await;
    let mut svc = ServiceBuilder::new()
        .layer(RateLimitPaceLayer::new())
        .service(client());
    let statuses = send(&mut svc, &server.uri(), 4).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        refused.load(Ordering::SeqCst),
        0,
        "429s the server had to send"
    );
}

#[tokio::test]
async fn without_pacing_the_same_client_earns_429s() {
    let (server, refused) = quota_server(Dialect::XRateLimit, 2).await;
    let mut svc = client();
    let statuses = send(&mut svc, &server.uri(), 4).await;
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(refused.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn a_wait_above_the_cap_fails_at_once_naming_host_and_wait_and_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "120"),
        )
        .mount(&server)
        .await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .layer(RateLimitPaceLayer::new().max_wait(Duration::from_secs(1)))
        .service(client());

    let res = svc
        .clone()
        .oneshot(request(Method::GET, &server.uri()))
        .await
        .unwrap();
    assert_eq!(attempts(&res), Some(1));
    let start = Instant::now();
    let err = svc
        .oneshot(request(Method::GET, &server.uri()))
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let quota = err
        .downcast_ref::<QuotaExhausted>()
        .expect("QuotaExhausted");
    let addr = server.address();
    assert_eq!(
        quota.host(),
        format!("http://{}:{}", addr.ip(), addr.port())
    );
    assert!(quota.wait() > Duration::from_secs(118) && quota.wait() <= Duration::from_secs(120));
    assert!(
        err.to_string().contains(&format!("{}", addr.port())),
        "{err}"
    );
    assert_eq!(ErrorClass::of(&err), ErrorClass::Fatal);
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not retried, not sent"
    );
}
