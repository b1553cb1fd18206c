//! Per-host circuit breakers: one breaker per URI authority, in a bounded
//! map, under paused time with in-memory services, and once over real
//! loopback HTTP with two servers.

// A panic is how a test reports; clippy's test exemption misses helpers.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode, Uri};
use tower::{BoxError, Layer, Service, ServiceExt};
use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState};

/// A downstream in memory: answers 503 for the hosts in `sick`, 200 for
/// every other, and counts the calls per host.
#[derive(Clone, Default)]
struct Downstream {
    sick: Arc<Mutex<HashSet<String>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Downstream {
    fn sick(&self, host: &str) {
        self.sick.lock().unwrap().insert(host.to_string());
    }

    fn heal(&self, host: &str) {
        self.sick.lock().unwrap().remove(host);
    }

    fn calls_to(&self, host: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|h| *h == host)
            .count()
    }

    fn service(
        &self,
    ) -> impl Service<Request<()>, Response = Response<()>, Error = std::io::Error, Future = impl Send>
           + Clone {
        let this = self.clone();
        tower::service_fn(move |req: Request<()>| {
            let host = req.uri().host().unwrap_or("").to_ascii_lowercase();
            this.calls.lock().unwrap().push(host.clone());
            let sick = this.sick.lock().unwrap().contains(&host);
            async move {
                let mut res = Response::new(());
                if sick {
                    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                }
                Ok(res)
            }
        })
    }
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

async fn send<S>(svc: &mut S, uri: &str) -> Result<Response<()>, BoxError>
where
    S: Service<Request<()>, Response = Response<()>, Error = BoxError>,
{
    svc.ready().await?.call(get(uri)).await
}

fn open_error(result: Result<Response<()>, BoxError>) -> CircuitOpen {
    match result {
        Err(e) => e.downcast_ref::<CircuitOpen>().cloned().unwrap(),
        Ok(res) => panic!("expected CircuitOpen, got {}", res.status()),
    }
}

fn uri(s: &str) -> Uri {
    s.parse().unwrap()
}

/// Opens after 4 calls of which half failed; open for 10 s.
fn config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("api")
        .window_size(4)
        .minimum_calls(4)
        .open_duration(Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn a_sick_host_opens_its_breaker_and_the_healthy_host_keeps_flowing() {
    let downstream = Downstream::default();
    downstream.sick("a.example");
    let layer = CircuitBreakerLayer::per_host(config());
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());

    for _ in 0..4 {
        let res = send(&mut svc, "http://a.example/x").await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let res = send(&mut svc, "http://b.example/x").await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(
        handle.state_for(&uri("http://a.example/")),
        CircuitState::Open
    );
    assert_eq!(
        handle.state_for(&uri("http://b.example/")),
        CircuitState::Closed
    );

    // `a` fails fast, naming its host; `b` still reaches the downstream.
    for _ in 0..10 {
        let open = open_error(send(&mut svc, "http://a.example/y").await);
        assert_eq!(open.host(), Some("http://a.example:80"));
        assert_eq!(open.name(), Some("api"));
        let res = send(&mut svc, "http://b.example/y").await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(downstream.calls_to("a.example"), 4);
    assert_eq!(downstream.calls_to("b.example"), 14);
    assert_eq!(handle.metrics_for(&uri("http://a.example")).failures, 4);
    assert_eq!(handle.metrics_for(&uri("http://b.example")).failures, 0);

    // After the open duration, `a`'s breaker lets a probe through.
    downstream.heal("a.example");
    tokio::time::advance(Duration::from_secs(10)).await;
    let res = send(&mut svc, "http://a.example/z").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        handle.state_for(&uri("http://a.example")),
        CircuitState::Closed
    );
}

#[tokio::test(start_paused = true)]
async fn state_for_keys_by_scheme_host_and_port() {
    let downstream = Downstream::default();
    downstream.sick("a.example");
    let layer = CircuitBreakerLayer::per_host(config());
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    for _ in 0..4 {
        send(&mut svc, "http://A.example/").await.unwrap();
    }
    // The port defaults from the scheme; host names ignore case.
    for same in [
        "http://a.example",
        "http://a.example:80/p?q",
        "HTTP://A.EXAMPLE/",
    ] {
        assert_eq!(handle.state_for(&uri(same)), CircuitState::Open, "{same}");
    }
    // Another scheme, port or host is another breaker; one never seen is
    // Closed, and asking does not make it.
    for other in [
        "https://a.example/",
        "http://a.example:8080/",
        "http://b.example/",
        "/no/authority",
    ] {
        assert_eq!(
            handle.state_for(&uri(other)),
            CircuitState::Closed,
            "{other}"
        );
    }
    assert_eq!(
        handle.hosts(),
        [("http://a.example:80".to_string(), CircuitState::Open)]
    );
    // A call with the explicit default port meets the same open breaker.
    let open = open_error(send(&mut svc, "http://a.example:80/").await);
    assert_eq!(open.host(), Some("http://a.example:80"));
}

/// IP literals are compared by address: `[::1]` and `[0:0:0:0:0:0:0:1]`
/// are one origin, and so one breaker.
#[tokio::test(start_paused = true)]
async fn ipv6_literals_of_one_address_share_one_breaker() {
    let downstream = Downstream::default();
    downstream.sick("[::1]");
    downstream.sick("[0:0:0:0:0:0:0:1]");
    let layer = CircuitBreakerLayer::per_host(config());
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    for uri in ["http://[::1]:8080/", "http://[0:0:0:0:0:0:0:1]:8080/"] {
        for _ in 0..2 {
            send(&mut svc, uri).await.unwrap();
        }
    }
    assert_eq!(handle.host_count(), 1);
    assert_eq!(
        handle.hosts(),
        [("http://[::1]:8080".to_string(), CircuitState::Open)]
    );
    for spelling in [
        "http://[0:0:0:0:0:0:0:1]:8080/x",
        "http://[::1]:8080/y",
        "http://[0::1]:8080/z",
    ] {
        let open = open_error(send(&mut svc, spelling).await);
        assert_eq!(open.host(), Some("http://[::1]:8080"), "{spelling}");
    }
    assert_eq!(
        handle.state_for(&uri("http://[::1]:8081/")),
        CircuitState::Closed
    );
}

#[tokio::test(start_paused = true)]
async fn state_is_the_most_severe_over_all_hosts() {
    let downstream = Downstream::default();
    downstream.sick("a");
    let layer = CircuitBreakerLayer::per_host(config().half_open_calls(2));
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    assert_eq!(handle.state(), CircuitState::Closed);
    send(&mut svc, "http://b/").await.unwrap();
    for _ in 0..4 {
        send(&mut svc, "http://a/").await.unwrap();
    }
    assert_eq!(handle.state(), CircuitState::Open);

    // One probe of two succeeded: `a` is half-open, `b` closed.
    downstream.heal("a");
    tokio::time::advance(Duration::from_secs(10)).await;
    send(&mut svc, "http://a/").await.unwrap();
    assert_eq!(handle.state_for(&uri("http://a/")), CircuitState::HalfOpen);
    assert_eq!(handle.state(), CircuitState::HalfOpen);
    assert_eq!(
        handle.hosts(),
        [
            ("http://a:80".to_string(), CircuitState::HalfOpen),
            ("http://b:80".to_string(), CircuitState::Closed),
        ]
    );
    send(&mut svc, "http://a/").await.unwrap();
    assert_eq!(handle.state(), CircuitState::Closed);
}

#[tokio::test]
async fn the_least_recently_used_host_is_dropped() {
    let downstream = Downstream::default();
    let layer = CircuitBreakerLayer::per_host(config().max_hosts(3));
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    for host in ["a", "b", "c", "a", "d"] {
        send(&mut svc, &format!("http://{host}/")).await.unwrap();
    }
    // `b` was the least recently used when `d` came.
    let hosts: Vec<String> = handle.hosts().into_iter().map(|(h, _)| h).collect();
    assert_eq!(hosts, ["http://a:80", "http://c:80", "http://d:80"]);
    for host in ["e", "f"] {
        send(&mut svc, &format!("http://{host}/")).await.unwrap();
    }
    // Then `c`, then `a`.
    let hosts: Vec<String> = handle.hosts().into_iter().map(|(h, _)| h).collect();
    assert_eq!(hosts, ["http://d:80", "http://e:80", "http://f:80"]);
    // Reading state does not count as a use.
    assert_eq!(handle.state_for(&uri("http://d/")), CircuitState::Closed);
    send(&mut svc, "http://g/").await.unwrap();
    assert_eq!(handle.state_for(&uri("http://d/")), CircuitState::Closed);
    assert!(!handle.hosts().iter().any(|(h, _)| h == "http://d:80"));
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_outlives_closed_ones_in_the_map() {
    let downstream = Downstream::default();
    downstream.sick("sick");
    let layer = CircuitBreakerLayer::per_host(config().max_hosts(2));
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    for _ in 0..4 {
        send(&mut svc, "http://sick/").await.unwrap();
    }
    // A flood of new hosts does not buy the sick one a fresh breaker.
    for n in 0..50 {
        send(&mut svc, &format!("http://h{n}/")).await.unwrap();
    }
    assert_eq!(handle.host_count(), 2);
    assert_eq!(handle.state_for(&uri("http://sick/")), CircuitState::Open);
    open_error(send(&mut svc, "http://sick/").await);
    assert_eq!(downstream.calls_to("sick"), 4);
}

#[tokio::test]
async fn the_map_holds_1024_hosts_by_default() {
    let downstream = Downstream::default();
    let layer = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default());
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    for n in 0..1100 {
        send(&mut svc, &format!("http://h{n}.example/"))
            .await
            .unwrap();
    }
    assert_eq!(handle.host_count(), 1024);
    // The 76 least recently used went.
    assert_eq!(
        handle.state_for(&uri("http://h75.example/")),
        CircuitState::Closed
    );
    let hosts: HashSet<String> = handle.hosts().into_iter().map(|(h, _)| h).collect();
    assert!(!hosts.contains("http://h75.example:80"));
    assert!(hosts.contains("http://h76.example:80"));
    assert!(hosts.contains("http://h1099.example:80"));
}

#[tokio::test]
async fn memory_stays_bounded_under_5000_hosts() {
    let downstream = Downstream::default();
    let layer = CircuitBreakerLayer::per_host(CircuitBreakerConfig::default().max_hosts(100));
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    let mut largest = 0;
    for n in 0..5000 {
        // Each host is called twice, with its port written out or not.
        send(&mut svc, &format!("http://h{n}.example/"))
            .await
            .unwrap();
        send(&mut svc, &format!("http://h{n}.example:80/"))
            .await
            .unwrap();
        largest = largest.max(handle.host_count());
    }
    println!(
        "5,000 hosts through max_hosts(100): at most {largest} breakers, {} at the end",
        handle.host_count()
    );
    assert_eq!(largest, 100);
    assert_eq!(handle.host_count(), 100);
    assert_eq!(handle.hosts().len(), 100);
}

#[tokio::test(start_paused = true)]
async fn requests_without_an_authority_share_one_breaker() {
    let downstream = Downstream::default();
    downstream.sick("");
    let layer = CircuitBreakerLayer::per_host(config());
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    for path in ["/a", "/b", "/c?x", "/d"] {
        send(&mut svc, path).await.unwrap();
    }
    assert_eq!(handle.state_for(&uri("/anything")), CircuitState::Open);
    assert_eq!(handle.hosts(), [(String::new(), CircuitState::Open)]);
    let open = open_error(send(&mut svc, "/e").await);
    assert_eq!(open.host(), Some(""));
    assert_eq!(
        open.to_string(),
        "circuit breaker `api` for requests without an authority is open; next probe in 10s"
    );
    // A request with an authority has a breaker of its own.
    send(&mut svc, "http://a.example/").await.unwrap();
    assert_eq!(
        handle.state_for(&uri("http://a.example/")),
        CircuitState::Closed
    );
}

#[tokio::test]
async fn manual_control_applies_to_every_host_including_later_ones() {
    let downstream = Downstream::default();
    let layer = CircuitBreakerLayer::per_host(config());
    let handle = layer.handle();
    let mut svc = layer.layer(downstream.service());
    send(&mut svc, "http://a/").await.unwrap();

    handle.force_open();
    assert!(handle.is_forced());
    assert_eq!(handle.state(), CircuitState::Open);
    open_error(send(&mut svc, "http://a/").await);
    // A host met after `force_open` is held open too.
    open_error(send(&mut svc, "http://b/").await);
    assert_eq!(
        handle.hosts(),
        [
            ("http://a:80".to_string(), CircuitState::Open),
            ("http://b:80".to_string(), CircuitState::Open),
        ]
    );

    handle.reset();
    assert!(!handle.is_forced());
    assert_eq!(handle.state(), CircuitState::Closed);
    send(&mut svc, "http://b/").await.unwrap();
    send(&mut svc, "http://c/").await.unwrap();
    assert_eq!(handle.host_count(), 3);

    handle.force_closed();
    assert!(handle.is_forced());
    downstream.sick("d");
    for _ in 0..8 {
        send(&mut svc, "http://d/").await.unwrap();
    }
    assert_eq!(handle.state_for(&uri("http://d/")), CircuitState::Closed);
    assert_eq!(handle.metrics_for(&uri("http://d/")).failures, 4);
    assert_eq!(handle.metrics().failures, 4);
}

/// Two concurrent callers through clones of one service racing to make
/// the breaker of the same new hosts: every host gets exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_callers_share_the_breaker_of_a_new_host() {
    let downstream = Downstream::default();
    let layer = CircuitBreakerLayer::per_host(config().max_hosts(64));
    let handle = layer.handle();
    let svc = layer.layer(downstream.service());
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (mut svc, start) = (svc.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                for n in 0..200 {
                    send(&mut svc, &format!("http://h{}/", n % 80))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let hosts = handle.hosts();
    assert_eq!(hosts.len(), 64);
    let unique: HashSet<_> = hosts.iter().map(|(h, _)| h.clone()).collect();
    assert_eq!(unique.len(), 64);
}

/// Over real loopback HTTP: two servers, one answering 503; the sick one's
/// breaker opens, the healthy one keeps answering.
#[tokio::test]
async fn two_real_servers_one_failing() {
    use support::{client, request, TestServer};

    let sick = TestServer::start(|_, _| support::status(503)).await;
    let healthy = TestServer::start(|_, _| support::status(200)).await;
    let layer = CircuitBreakerLayer::per_host(
        CircuitBreakerConfig::default()
            .window_size(4)
            .minimum_calls(4)
            .open_duration(Duration::from_secs(60)),
    );
    let handle = layer.handle();
    let mut svc = layer.layer(client());

    for _ in 0..4 {
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(request(Method::GET, &sick.url("/")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let sick_uri = uri(&sick.url("/"));
    assert_eq!(handle.state_for(&sick_uri), CircuitState::Open);

    for _ in 0..5 {
        let err = svc
            .ready()
            .await
            .unwrap()
            .call(request(Method::GET, &sick.url("/again")))
            .await
            .unwrap_err();
        let open = err.downcast_ref::<CircuitOpen>().unwrap();
        assert_eq!(open.host(), Some(format!("http://{}", sick.addr).as_str()));
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(request(Method::GET, &healthy.url("/")))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(sick.calls(), 4);
    assert_eq!(healthy.calls(), 5);
    assert_eq!(
        handle.state_for(&uri(&healthy.url("/"))),
        CircuitState::Closed
    );
    assert_eq!(handle.state(), CircuitState::Open);
    assert_eq!(handle.host_count(), 2);
}

/// The per-host stack of the design: a retry layer over per-host breakers
/// over hyper-util, `Send + Sync + Clone`; a request to an open host makes
/// one attempt, which fails fast.
#[tokio::test]
async fn under_retry_layer_over_real_http() {
    use support::{client, fast_policy, request, TestServer};
    use tower::ServiceBuilder;
    use tower_http_retry::RetryLayer;

    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>(_: &T) {}

    let sick = TestServer::start(|_, _| support::status(503)).await;
    let healthy = TestServer::start(|_, _| support::status(200)).await;
    let breaker = CircuitBreakerLayer::per_host(
        CircuitBreakerConfig::default()
            .consecutive_failures(3)
            .open_duration(Duration::from_secs(60)),
    );
    let handle = breaker.handle();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .layer(breaker)
        .service(client());
    assert_send_sync_clone(&svc);

    // Three attempts of 503: the third opens the sick host's breaker.
    let res = svc
        .clone()
        .oneshot(request(Method::GET, &sick.url("/")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sick.calls(), 3);
    assert_eq!(handle.state_for(&uri(&sick.url("/"))), CircuitState::Open);

    let err = svc
        .clone()
        .oneshot(request(Method::GET, &sick.url("/")))
        .await
        .unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some());
    assert_eq!(sick.calls(), 3);
    let res = svc
        .oneshot(request(Method::GET, &healthy.url("/")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// `poll_ready` of a per-host breaker polls the inner service even while
/// every host is open (it can't know the next host), and a refused call
/// keeps the inner service's readiness for the next one.
#[tokio::test]
async fn readiness_is_kept_across_a_refused_call() {
    let polls = Arc::new(AtomicUsize::new(0));
    let ready_once = Arc::new(AtomicBool::new(false));
    let (p, r) = (polls.clone(), ready_once.clone());
    let inner =
        tower::service_fn(|_req: Request<()>| async { Ok::<_, std::io::Error>(Response::new(())) });
    let inner = CountingReady {
        inner,
        polls: p,
        ready: r,
    };
    let layer = CircuitBreakerLayer::per_host(config());
    let handle = layer.handle();
    let mut svc = layer.layer(inner);
    handle.force_open();
    open_error(send(&mut svc, "http://a/").await);
    assert_eq!(polls.load(Ordering::SeqCst), 1);
    handle.reset();
    // Ready from before: not polled again.
    send(&mut svc, "http://a/").await.unwrap();
    assert_eq!(polls.load(Ordering::SeqCst), 1);
    assert!(ready_once.load(Ordering::SeqCst));
}

#[derive(Clone)]
struct CountingReady<S> {
    inner: S,
    polls: Arc<AtomicUsize>,
    ready: Arc<AtomicBool>,
}

impl<S: Service<Request<()>>> Service<Request<()>> for CountingReady<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.ready.store(true, Ordering::SeqCst);
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        self.inner.call(req)
    }
}
