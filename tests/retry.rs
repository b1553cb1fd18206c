//! RetryLayer over hyper-util's client against a real loopback server:
//! which statuses and methods are retried, attempts, elapsed time, replays.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Version};
use http_body_util::Full;
use support::*;
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::{ConstantBackoff, ExponentialBackoff, Jitter};
use tower_http_retry::retry::ResendCount;
use tower_http_retry::{RetryLayer, RetryPolicy};

async fn get_through(
    policy: RetryPolicy,
    server: &TestServer,
    method: Method,
) -> (StatusCode, Option<u32>) {
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(client());
    let res = svc
        .oneshot(request(method, &server.url("/")))
        .await
        .unwrap();
    (res.status(), attempts(&res))
}

#[tokio::test]
async fn default_retry_statuses_are_retried() {
    for code in [408, 429, 500, 502, 503, 504] {
        let server = TestServer::start(move |n, _| status(if n == 0 { code } else { 200 })).await;
        let (status, attempts) = get_through(fast_policy(), &server, Method::GET).await;
        assert_eq!(status, StatusCode::OK, "{code}");
        assert_eq!(attempts, Some(2), "{code}");
        assert_eq!(server.calls(), 2, "{code}");
    }
}

#[tokio::test]
async fn other_statuses_go_back_at_once() {
    for code in [200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 501, 505] {
        let server = TestServer::start(move |_, _| status(code)).await;
        let (status, attempts) = get_through(fast_policy(), &server, Method::GET).await;
        assert_eq!(status.as_u16(), code);
        assert_eq!(attempts, Some(1), "{code}");
        assert_eq!(server.calls(), 1, "{code}");
    }
}

#[tokio::test]
async fn retry_statuses_replaces_the_set() {
    let policy = fast_policy().retry_statuses([StatusCode::NOT_FOUND]);
    let server = TestServer::statuses(&[503]).await;
    let (status, _) = get_through(policy.clone(), &server, Method::GET).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.calls(), 1);

    let server = TestServer::statuses(&[404, 404]).await;
    let (status, attempts) = get_through(policy, &server, Method::GET).await;
    assert_eq!((status, attempts), (StatusCode::OK, Some(3)));
}

#[tokio::test]
async fn idempotent_methods_are_replayed() {
    for method in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
        let server = TestServer::statuses(&[503]).await;
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, attempts) = get_through(fast_policy(), &server, method.clone()).await;
        assert_eq!((status, attempts), (StatusCode::OK, Some(2)), "{method}");
        assert!(server.requests().iter().all(|r| r.method == method));
    }
}

#[tokio::test]
async fn post_and_patch_get_one_attempt() {
    for method in [
        Method::POST,
        Method::PATCH,
        Method::from_bytes(b"CUSTOM").unwrap(),
    ] {
        let server = TestServer::statuses(&[503]).await;
        let (status, attempts) = get_through(fast_policy(), &server, method.clone()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{method}");
        assert_eq!(attempts, Some(1), "{method}");
        assert_eq!(server.calls(), 1, "{method}");
    }
}

#[tokio::test]
async fn idempotency_key_makes_post_replayable() {
    let server = TestServer::statuses(&[503, 502]).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    let mut req = request(Method::POST, &server.url("/orders"));
    req.headers_mut().insert(
        "idempotency-key",
        "8e03978e-40d5-43e8-bc93-6894a57f9324".parse().unwrap(),
    );
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!((res.status(), attempts(&res)), (StatusCode::OK, Some(3)));
    assert_eq!(server.calls(), 3);
}

#[tokio::test]
async fn max_attempts_counts_every_attempt() {
    for max in [1, 2, 4] {
        let server = TestServer::start(|_, _| status(503)).await;
        let (status, attempts) =
            get_through(fast_policy().max_attempts(max), &server, Method::GET).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(attempts, Some(max));
        assert_eq!(server.calls(), max as usize);
    }
}

#[test]
#[should_panic(expected = "`max_attempts` counts the first attempt and must be at least 1, got 0")]
fn zero_attempts_is_rejected() {
    let _ = RetryPolicy::default().max_attempts(0);
}

#[test]
#[should_panic(expected = "`max_elapsed` must be above zero, got 0ns")]
fn zero_max_elapsed_is_rejected() {
    let _ = RetryPolicy::default().max_elapsed(Duration::ZERO);
}

#[tokio::test]
async fn max_elapsed_stops_a_retry_whose_wait_would_end_past_it() {
    // Attempts at ~0, ~0.4 s, ~0.8 s; a fourth would start at ~1.2 s > 1 s.
    let server = TestServer::start(|_, _| status(503)).await;
    let policy = fast_policy()
        .max_attempts(10)
        .backoff(ConstantBackoff::new(Duration::from_millis(400)))
        .max_elapsed(Duration::from_secs(1));
    let started = std::time::Instant::now();
    let (status, attempts) = get_through(policy, &server, Method::GET).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts, Some(3));
    assert_eq!(server.calls(), 3);
    // It returned without sleeping the last wait.
    assert!(
        started.elapsed() < Duration::from_millis(1150),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn exponential_backoff_waits_between_attempts() {
    let server = TestServer::statuses(&[503, 503, 503]).await;
    let policy = fast_policy()
        .max_attempts(4)
        .backoff(ExponentialBackoff::new(Duration::from_millis(100)).jitter(Jitter::None));
    let (status, attempts) = get_through(policy, &server, Method::GET).await;
    assert_eq!((status, attempts), (StatusCode::OK, Some(4)));
    let at: Vec<_> = server.requests().iter().map(|r| r.at).collect();
    for (i, want) in [100u64, 200, 400].into_iter().enumerate() {
        let gap = at[i + 1] - at[i];
        assert!(gap >= Duration::from_millis(want), "gap {i}: {gap:?}");
        assert!(gap < Duration::from_millis(want + 1000), "gap {i}: {gap:?}");
    }
}

#[tokio::test]
async fn a_closure_is_a_backoff() {
    let server = TestServer::statuses(&[503, 503]).await;
    let policy = fast_policy().backoff(|retry: u32| Duration::from_millis(150) * retry);
    let (_, attempts) = get_through(policy, &server, Method::GET).await;
    assert_eq!(attempts, Some(3));
    let r = server.requests();
    assert!(r[1].at - r[0].at >= Duration::from_millis(150));
    assert!(r[2].at - r[1].at >= Duration::from_millis(300));
}

#[derive(Clone, Debug, PartialEq)]
struct TraceId(u64);

#[tokio::test]
async fn a_replay_is_identical_to_the_first_attempt() {
    let server = TestServer::statuses(&[503, 500]).await;
    let seen_extensions = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen_resends = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, resends) = (seen_extensions.clone(), seen_resends.clone());
    let inner = tower::service_fn(move |req: Request<Full<Bytes>>| {
        seen.lock()
            .unwrap()
            .push(req.extensions().get::<TraceId>().cloned());
        resends
            .lock()
            .unwrap()
            .push(req.extensions().get::<ResendCount>().copied());
        client().oneshot(req)
    });
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(inner);
    let mut req = Request::builder()
        .method(Method::PUT)
        .uri(server.url("/items/42?version=7&x=%20y"))
        .version(Version::HTTP_11)
        .header("x-custom", "one")
        .header("x-custom", "two")
        .header("content-type", "application/json")
        .header("authorization", "Bearer secret")
        .body(Full::new(Bytes::from_static(
            b"{\"name\":\"widget\",\"bytes\":\"\\u0000\xff\"}",
        )))
        .unwrap();
    req.extensions_mut().insert(TraceId(7));
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(attempts(&res), Some(3));

    let r = server.requests();
    assert_eq!(r.len(), 3);
    for replay in &r[1..] {
        assert_eq!(replay.method, r[0].method);
        assert_eq!(replay.uri, r[0].uri);
        assert_eq!(replay.version, r[0].version);
        assert_eq!(replay.headers, r[0].headers);
        assert_eq!(replay.body, r[0].body);
    }
    assert_eq!(r[0].uri, "/items/42?version=7&x=%20y");
    assert_eq!(
        r[0].body.as_ref(),
        b"{\"name\":\"widget\",\"bytes\":\"\\u0000\xff\"}"
    );
    assert_eq!(
        r[0].headers.get_all("x-custom").iter().collect::<Vec<_>>(),
        ["one", "two"]
    );
    assert_eq!(*seen_extensions.lock().unwrap(), vec![Some(TraceId(7)); 3]);
    // ... plus the resend count, on replays only.
    assert_eq!(
        *seen_resends.lock().unwrap(),
        [None, Some(ResendCount::new(1)), Some(ResendCount::new(2))]
    );
}

#[tokio::test]
async fn every_response_carries_attempts() {
    // success at once, non-retryable, exhausted, not replayable
    let ok = TestServer::statuses(&[]).await;
    assert_eq!(
        get_through(fast_policy(), &ok, Method::GET).await.1,
        Some(1)
    );
    let not_found = TestServer::statuses(&[404]).await;
    assert_eq!(
        get_through(fast_policy(), &not_found, Method::GET).await.1,
        Some(1)
    );
    let down = TestServer::start(|_, _| status(503)).await;
    assert_eq!(
        get_through(fast_policy(), &down, Method::GET).await.1,
        Some(3)
    );
    let post = TestServer::statuses(&[503]).await;
    assert_eq!(
        get_through(fast_policy(), &post, Method::POST).await.1,
        Some(1)
    );
    let never = TestServer::statuses(&[503]).await;
    assert_eq!(
        get_through(fast_policy().max_attempts(1), &never, Method::GET)
            .await
            .1,
        Some(1)
    );
}

/// One GET through `svc` to `server`: how many attempts it took, and how
/// many connections the server saw.
#[tokio::test]
async fn empty_error_bodies_keep_the_pooled_connection() {
    let server = TestServer::statuses(&[503, 503]).await;
    let svc = RetryLayer::new(fast_policy()).layer(client());
    assert_eq!(attempts_and_connections(svc, &server).await, (Some(3), 1));
}

#[cfg(feature = "hyper")]
#[tokio::test]
async fn a_boxed_discarded_error_body_is_drained_to_keep_the_connection() {
    // 503 with a 200 KB page, twice, then 200. hyper closes the connection
    // of a dropped `Incoming` still in flight; boxed, the policy can take
    // the body and read it while it waits, and the connection is reused.
    let policy = || fast_policy().backoff(ConstantBackoff::new(Duration::from_millis(50)));

    let server = TestServer::error_pages(200_000, 2).await;
    let boxed = ServiceBuilder::new()
        .layer(RetryLayer::new(policy()))
        .map_response(|res: http::Response<hyper::body::Incoming>| {
            res.map(http_body_util::BodyExt::boxed)
        })
        .service(client());
    assert_eq!(attempts_and_connections(boxed, &server).await, (Some(3), 1));

    // The same without boxing: each discarded page costs its connection.
    let server = TestServer::error_pages(200_000, 2).await;
    let unboxed = RetryLayer::new(policy()).layer(client());
    let (attempts, connections) = attempts_and_connections(unboxed, &server).await;
    assert_eq!(attempts, Some(3));
    assert!(connections > 1, "{connections}");
}

#[tokio::test]
async fn small_error_bodies_keep_the_pooled_connection() {
    // hyper drains a dropped body that is already buffered: a 1 KiB error
    // page does not cost a connection. (Larger ones do: see the docs.)
    let server = TestServer::error_pages(1024, 2).await;
    let svc = RetryLayer::new(fast_policy()).layer(client());
    assert_eq!(attempts_and_connections(svc, &server).await, (Some(3), 1));
}

#[tokio::test]
async fn attempt_header_numbers_every_attempt_from_one() {
    use tower_http_retry::retry::AttemptHeaderLayer;

    let server = TestServer::statuses(&[503, 502]).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .layer(AttemptHeaderLayer::new(http::HeaderName::from_static(
            "x-attempt",
        )))
        .service(client());
    let mut req = request(Method::GET, &server.url("/"));
    req.headers_mut()
        .insert("x-attempt", "caller's".parse().unwrap());
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let seen: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.headers["x-attempt"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ["1", "2", "3"]);
}
