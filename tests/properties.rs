//! Property tests: no configuration that validates, no attempt number, no
//! header value and no outcome can make the policy panic, exceed its caps,
//! or replay a request that is not safe to replay.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use proptest::prelude::*;
use tower::retry::Policy;
use tower_http_retry::backoff::{Backoff, ExponentialBackoff, Jitter};
use tower_http_retry::retry::{RetryEvent, WaitSource};
use tower_http_retry::RetryPolicy;

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated)
    ]
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (1u64..10_000).prop_map(Duration::from_millis),
        (1u64..u64::MAX).prop_map(Duration::from_nanos),
        Just(Duration::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn backoff_delays_stay_within_zero_and_the_cap(
        base in duration(),
        extra in duration(),
        multiplier in 1.0f64..64.0,
        jitter in jitter(),
        seed in any::<u64>(),
        retry in any::<u32>(),
        previous in duration(),
    ) {
        let cap = base.saturating_add(extra);
        let b = ExponentialBackoff::new(base)
            .max_delay(cap)
            .multiplier(multiplier)
            .jitter(jitter)
            .seed(seed);
        let d = b.delay(retry, previous);
        prop_assert!(d <= cap, "{d:?} > {cap:?}");
        match jitter {
            Jitter::None => {
                // Never below the first delay, and monotonic in the retry number.
                prop_assert!(d >= base);
                prop_assert!(b.delay(retry.saturating_add(1), previous) >= d);
            }
            Jitter::Decorrelated => prop_assert!(d >= base),
            Jitter::Full | Jitter::Equal => {}
        }
        if jitter == Jitter::Equal {
            let plain = ExponentialBackoff::new(base).max_delay(cap).multiplier(multiplier).jitter(Jitter::None);
            let full = plain.delay(retry, previous);
            prop_assert!(d >= full / 2 && d <= full);
        }
    }
}

/// The backoff of [`decide_retry_after`]'s policy: a delay of its own,
/// not capped by `max_retry_after`.
const BACKOFF: Duration = Duration::from_millis(5);

/// Runs one retry decision on a 503 with the given `Retry-After` bytes;
/// returns the chosen delay, if the policy retries, when it is the
/// server's (the backoff's, [`BACKOFF`], is checked here).
fn decide_retry_after(value: &[u8], cap: Duration) -> Option<Duration> {
    let header = HeaderValue::from_bytes(value).ok()?;
    let chosen = Arc::new(Mutex::new(None));
    let c = chosen.clone();
    let mut policy = RetryPolicy::default()
        .without_budget()
        .backoff(|_| BACKOFF)
        .max_retry_after(cap)
        .on_retry(move |e: &RetryEvent<'_>| {
            let from_server = e.delay_from != WaitSource::Backoff;
            if !from_server {
                assert_eq!(e.delay, BACKOFF, "the backoff's delay, whole");
            }
            *c.lock().unwrap() = from_server.then_some(e.delay);
        });
    let mut req = Request::new(());
    let _ = Policy::<_, Response<()>, std::io::Error>::clone_request(&mut policy, &req);
    let mut res = Response::new(());
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut().insert(http::header::RETRY_AFTER, header);
    let mut result: Result<_, std::io::Error> = Ok(res);
    let retried = Policy::retry(&mut policy, &mut req, &mut result).is_some();
    let delay = *chosen.lock().unwrap();
    assert!(retried || delay.is_none());
    delay
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn retry_after_of_any_bytes_is_capped(value in proptest::collection::vec(any::<u8>(), 0..64), cap_s in 0u64..120) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let _guard = rt.enter();
        let cap = Duration::from_secs(cap_s);
        if let Some(d) = decide_retry_after(&value, cap) {
            prop_assert!(d <= cap, "{d:?} > {cap:?}");
        }
    }

    #[test]
    fn retry_after_digits_and_dates(secs in any::<u64>(), digits in "[0-9]{1,40}", cap_s in 1u64..120) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let _guard = rt.enter();
        let cap = Duration::from_secs(cap_s);
        for value in [secs.to_string(), digits.clone(), httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(secs % 253_402_300_000))] {
            if let Some(d) = decide_retry_after(value.as_bytes(), cap) {
                prop_assert!(d <= cap, "{value}: {d:?} > {cap:?}");
            }
        }
    }
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::HEAD),
        Just(Method::OPTIONS),
        Just(Method::TRACE),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::POST),
        Just(Method::PATCH),
        Just(Method::CONNECT),
        "[A-Z]{1,10}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn a_request_unsafe_to_replay_is_never_replayed_after_an_ambiguous_outcome(
        method in method(),
        key in any::<bool>(),
        outcome in prop_oneof![
            (100u16..1000).prop_map(Ok),
            prop_oneof![
                Just(std::io::ErrorKind::ConnectionReset),
                Just(std::io::ErrorKind::UnexpectedEof),
                Just(std::io::ErrorKind::TimedOut),
                Just(std::io::ErrorKind::BrokenPipe),
                Just(std::io::ErrorKind::Other),
            ].prop_map(Err),
        ],
    ) {
        let mut policy = RetryPolicy::default().without_budget().backoff(|_| Duration::ZERO);
        let mut req = Request::builder().method(method.clone()).body(()).unwrap();
        if key {
            req.headers_mut().insert("idempotency-key", HeaderValue::from_static("k"));
        }
        let _ = Policy::<_, Response<()>, std::io::Error>::clone_request(&mut policy, &req);
        let mut result = match outcome {
            Ok(code) => {
                let mut res = Response::new(());
                *res.status_mut() = StatusCode::from_u16(code).unwrap();
                Ok(res)
            }
            Err(kind) => Err(std::io::Error::from(kind)),
        };
        let retried = Policy::retry(&mut policy, &mut req, &mut result).is_some();
        let safe = key || matches!(method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE);
        if !safe {
            prop_assert!(!retried, "{method} replayed after {:?}", result.as_ref().map(|r| r.status()));
        }
        if let Ok(res) = &result {
            let transient = [408, 429, 500, 502, 503, 504].contains(&res.status().as_u16());
            prop_assert_eq!(retried, safe && transient);
        } else {
            prop_assert_eq!(retried, safe);
        }
    }
}

/// Runs one retry decision on a response with `status` and `headers`, for a
/// request of `method`; returns the chosen delay, if the policy retries.
fn decide_response(
    method: Method,
    status: u16,
    headers: &[(&'static str, Vec<u8>)],
    cap: Duration,
) -> Option<Duration> {
    let chosen = Arc::new(Mutex::new(None));
    let c = chosen.clone();
    let mut policy = RetryPolicy::default()
        .without_budget()
        .backoff(|_| Duration::from_millis(5))
        .max_retry_after(cap)
        .on_retry(move |e: &RetryEvent<'_>| *c.lock().unwrap() = Some(e.delay));
    let mut req = Request::builder().method(method).body(()).unwrap();
    let _ = Policy::<_, Response<()>, std::io::Error>::clone_request(&mut policy, &req);
    let mut res = Response::new(());
    *res.status_mut() = StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            res.headers_mut().append(*name, value);
        }
    }
    let mut result: Result<_, std::io::Error> = Ok(res);
    let retried = Policy::retry(&mut policy, &mut req, &mut result).is_some();
    let delay = *chosen.lock().unwrap();
    assert_eq!(retried, delay.is_some());
    delay
}

/// The headers a server's wait is read from.
fn wait_header() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("retry-after"),
        Just("retry-after-ms"),
        Just("ratelimit"),
        Just("ratelimit-reset"),
        Just("x-ratelimit-reset"),
        Just("ratelimit-remaining"),
        Just("x-ratelimit-remaining"),
        Just("x-should-retry"),
    ]
}

/// Bytes that look like rate-limit values more often than noise does.
fn wait_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..48),
        "[0-9]{1,30}(\\.[0-9]{0,12})?".prop_map(String::into_bytes),
        "(\"[a-z]{0,4}\"|[a-z*][a-z0-9]{0,4})(;[a-z]{1,2}(=-?[0-9]{1,17}(\\.[0-9]{1,4})?)?){0,4}(, ?[a-z]{1,3};r=[0-9];t=[0-9]{1,20})?"
            .prop_map(String::into_bytes),
        Just(b"true".to_vec()),
        Just(b"false".to_vec()),
    ]
}

fn timed_runtime(paused: bool) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_current_thread();
    b.enable_time();
    if paused {
        b.start_paused(true);
    }
    b.build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn a_server_wait_of_any_bytes_is_capped(
        headers in proptest::collection::vec((wait_header(), wait_value()), 0..6),
        status in prop_oneof![Just(429u16), Just(503), Just(500), Just(409), Just(200)],
        method in method(),
        cap_ms in 0u64..120_000,
    ) {
        let rt = timed_runtime(false);
        let _guard = rt.enter();
        let cap = Duration::from_millis(cap_ms);
        let delay = decide_response(method.clone(), status, &headers, cap);
        if let Some(d) = delay {
            prop_assert!(d <= cap, "{d:?} > {cap:?}");
            prop_assert!(status >= 400, "a {status} retried");
        }
        let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE);
        prop_assert!(safe || delay.is_none(), "{method} replayed after a {status}");
    }

    #[test]
    fn well_formed_waits_are_exact_and_never_early(
        n in 0u64..200_000,
        cap_ms in 1u64..120_000,
        which in 0usize..4,
    ) {
        let rt = timed_runtime(false);
        let _guard = rt.enter();
        let cap = Duration::from_millis(cap_ms);
        let (headers, wait): (Vec<(&'static str, Vec<u8>)>, Duration) = match which {
            0 => (vec![("retry-after-ms", n.to_string().into_bytes())], Duration::from_millis(n)),
            1 => (vec![("ratelimit", format!("\"p\";r=0;t={}", n / 1000).into_bytes())], Duration::from_secs(n / 1000)),
            2 => (vec![("ratelimit-reset", (n / 1000).to_string().into_bytes())], Duration::from_secs(n / 1000)),
            _ => (
                vec![("x-ratelimit-remaining", b"0".to_vec()), ("x-ratelimit-reset", format!("{}.{:03}", n / 1000, n % 1000).into_bytes())],
                Duration::from_millis(n),
            ),
        };
        let delay = decide_response(Method::GET, 429, &headers, cap);
        if wait <= cap {
            prop_assert_eq!(delay, Some(wait));
        } else {
            prop_assert_eq!(delay, None, "a wait above the cap is handed back");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn pacing_on_any_quota_headers_holds_within_the_cap_or_fails_at_once(
        headers in proptest::collection::vec((wait_header(), wait_value()), 0..6),
        cap_s in 0u64..120,
    ) {
        use tower::{Service, ServiceExt};
        use tower_http_retry::pace::{QuotaExhausted, RateLimitPaceLayer};
        use tower::Layer;

        let rt = timed_runtime(true);
        let cap = Duration::from_secs(cap_s);
        let headers = Arc::new(headers);
        let outcome = rt.block_on(async move {
            let svc = tower::service_fn(move |_: Request<()>| {
                let headers = headers.clone();
                async move {
                    let mut res = Response::new(());
                    for (name, value) in headers.iter() {
                        if let Ok(value) = HeaderValue::from_bytes(value) {
                            res.headers_mut().append(*name, value);
                        }
                    }
                    Ok::<_, std::convert::Infallible>(res)
                }
            });
            let mut svc = RateLimitPaceLayer::new().max_wait(cap).layer(svc);
            let req = || Request::get("http://quota.test/").body(()).unwrap();
            svc.ready().await.unwrap().call(req()).await.unwrap();
            let start = tokio::time::Instant::now();
            let second = svc.ready().await.unwrap().call(req()).await;
            (start.elapsed(), second.map(|_| ()))
        });
        match outcome {
            (held, Ok(())) => prop_assert!(held <= cap, "held {held:?} > cap {cap:?}"),
            (held, Err(e)) => {
                prop_assert_eq!(held, Duration::ZERO, "a refusal is at once");
                let quota = e.downcast_ref::<QuotaExhausted>().unwrap();
                prop_assert!(quota.wait() > cap);
            }
        }
    }
}
