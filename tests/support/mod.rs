//! Shared helpers for the integration tests: a real hyper server on
//! loopback that answers from a script and records what it received, and a
//! real hyper-util client.
#![allow(dead_code, unreachable_pub)]

pub mod events;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// What the server saw of one request.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the request head arrived.
    pub at: Instant,
    pub at_system: SystemTime,
    /// Which TCP connection carried it (0-based, in accept order).
    pub connection: usize,
}

type Script = dyn Fn(usize, &Recorded) -> Response<Full<Bytes>> + Send + Sync;

/// A hyper server on 127.0.0.1 that answers each request by `script(n,
/// request)` (`n` counts requests from 0) and records every request.
pub struct TestServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start<F>(script: F) -> TestServer
    where
        F: Fn(usize, &Recorded) -> Response<Full<Bytes>> + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let (log2, conns2) = (log.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let connection = conns2.fetch_add(1, Ordering::SeqCst);
                let (log, script) = (log2.clone(), script.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (log, script) = (log.clone(), script.clone());
                        async move {
                            let at = Instant::now();
                            let at_system = SystemTime::now();
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let rec = Recorded {
                                method: parts.method,
                                uri: parts.uri,
                                version: parts.version,
                                headers: parts.headers,
                                body,
                                at,
                                at_system,
                                connection,
                            };
                            let n = {
                                let mut log = log.lock().unwrap();
                                log.push(rec.clone());
                                log.len() - 1
                            };
                            Ok::<_, Infallible>(script(n, &rec))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestServer {
            addr,
            log,
            connections,
            task,
        }
    }

    /// A server answering the statuses of `statuses` in turn, then 200.
    pub async fn statuses(statuses: &'static [u16]) -> TestServer {
        TestServer::start(move |n, _| status(statuses.get(n).copied().unwrap_or(200))).await
    }

    /// A server answering 503 with a page of `len` bytes `failures` times,
    /// then 200 with the same page.
    pub async fn error_pages(len: usize, failures: usize) -> TestServer {
        TestServer::start(move |n, _| {
            let mut res = Response::new(Full::new(Bytes::from(vec![b'x'; len])));
            if n < failures {
                *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            res
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn calls(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A response with this status and an empty body.
pub fn status(code: u16) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::default());
    *res.status_mut() = StatusCode::from_u16(code).unwrap();
    res
}

/// A response with this status and one header.
pub fn status_with(code: u16, name: &str, value: &[u8]) -> Response<Full<Bytes>> {
    let mut res = status(code);
    res.headers_mut().insert(
        http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        http::HeaderValue::from_bytes(value).unwrap(),
    );
    res
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// hyper-util's pooled HTTP/1 client.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// A request with an empty body.
pub fn request(method: Method, url: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Full::default())
        .unwrap()
}

/// A port on 127.0.0.1 with nothing listening.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

/// Wraps a service, counting the calls that reach it.
pub fn counting<S>(inner: S) -> (Counting<S>, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    (
        Counting {
            inner,
            calls: n.clone(),
        },
        n,
    )
}

#[derive(Clone)]
pub struct Counting<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

impl<S, R> tower::Service<R> for Counting<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.call(req)
    }
}

/// A fast, deterministic policy for tests: constant 1 ms backoff, no budget.
pub fn fast_policy() -> tower_http_retry::RetryPolicy {
    tower_http_retry::RetryPolicy::default()
        .backoff(tower_http_retry::backoff::ConstantBackoff::new(
            std::time::Duration::from_millis(1),
        ))
        .without_budget()
}

pub fn attempts<B>(res: &Response<B>) -> Option<u32> {
    res.extensions()
        .get::<tower_http_retry::Attempts>()
        .map(tower_http_retry::Attempts::get)
}

/// A GET through `svc` to `server`: the attempts its response carries, and
/// the connections the server accepted.
pub async fn attempts_and_connections<S, B>(svc: S, server: &TestServer) -> (Option<u32>, usize)
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    use tower::ServiceExt;
    let res = svc
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    (attempts(&res), server.connections())
}

/// A raw TCP server on 127.0.0.1: for every connection it reads one request
/// head, counts it, then runs `then` on the socket (which may close it,
/// write garbage, or stall).
pub struct RawServer {
    pub addr: SocketAddr,
    pub heads: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RawServer {
    pub async fn start<F, Fut>(then: F) -> RawServer
    where
        F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        use tokio::io::AsyncReadExt;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads = Arc::new(AtomicUsize::new(0));
        let heads2 = heads.clone();
        let then = Arc::new(then);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (heads, then) = (heads2.clone(), then.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    heads.fetch_add(1, Ordering::SeqCst);
                    then(stream).await;
                });
            }
        });
        RawServer { addr, heads, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn heads(&self) -> usize {
        self.heads.load(Ordering::SeqCst)
    }
}

/// What [`TrailerServer`] saw of one request: its head, body and trailers.
#[derive(Debug, Clone)]
pub struct RecordedWithTrailers {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

/// A hyper server on 127.0.0.1 that reads each request body frame by frame
/// (keeping its trailers, which `TestServer` drops), records it, and answers
/// the statuses of `statuses` in turn, then 200.
pub struct TrailerServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<RecordedWithTrailers>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TrailerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TrailerServer {
    pub async fn statuses(statuses: &'static [u16]) -> TrailerServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log2.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let collected = body.collect().await.ok();
                            let trailers = collected.as_ref().and_then(|c| c.trailers().cloned());
                            let body = collected.map(|c| c.to_bytes()).unwrap_or_default();
                            let n = {
                                let mut log = log.lock().unwrap();
                                log.push(RecordedWithTrailers {
                                    headers: parts.headers,
                                    body,
                                    trailers,
                                });
                                log.len() - 1
                            };
                            Ok::<_, Infallible>(status(statuses.get(n).copied().unwrap_or(200)))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TrailerServer { addr, log, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<RecordedWithTrailers> {
        self.log.lock().unwrap().clone()
    }
}

/// The text of the `tracing` events (INFO and above) emitted on this thread
/// while a capture is on: one line an event.
///
/// One global subscriber writes each event to the capture of the thread
/// that emitted it. (A subscriber set per thread with `set_default` races
/// with tests that run without one: tracing caches a callsite's interest
/// globally, and an event can be lost.)
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the capture of the current thread, if any.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(logs) = &*c.borrow() {
                logs.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Ends a capture when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| *c.borrow_mut() = None);
    }
}

impl Logs {
    /// Captures this thread's events until the guard is dropped.
    pub fn capture() -> (Logs, CaptureGuard) {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_writer(|| ThreadCapture)
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
        });
        let logs = Logs::default();
        CAPTURE.with(|c| *c.borrow_mut() = Some(logs.clone()));
        (logs, CaptureGuard(()))
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// When each call reached an in-memory downstream, since it was made (in
/// tokio's time, so paused-time tests read exact values).
pub type CallLog = Arc<Mutex<Vec<std::time::Duration>>>;

/// An in-memory downstream answering `respond(n)` to call `n` (from 0),
/// recording when each call arrived.
pub fn recording<E>(
    respond: impl Fn(usize) -> Result<Response<Full<Bytes>>, E> + Clone + Send + 'static,
) -> (
    impl tower::Service<
            Request<Full<Bytes>>,
            Response = Response<Full<Bytes>>,
            Error = E,
            Future = impl Send,
        > + Clone,
    CallLog,
)
where
    E: Send + 'static,
{
    let start = tokio::time::Instant::now();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let svc = tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let n = {
            let mut log = log2.lock().unwrap();
            log.push(start.elapsed());
            log.len() - 1
        };
        let res = respond.clone()(n);
        async move { res }
    });
    (svc, log)
}

/// A retry budget that counts its deposits and withdrawals and refuses
/// every withdrawal.
#[derive(Default, Clone)]
pub struct RefusingBudget {
    pub deposits: Arc<AtomicUsize>,
    pub withdrawals: Arc<AtomicUsize>,
}

impl tower::retry::budget::Budget for RefusingBudget {
    fn deposit(&self) {
        self.deposits.fetch_add(1, Ordering::SeqCst);
    }
    fn withdraw(&self) -> bool {
        self.withdrawals.fetch_add(1, Ordering::SeqCst);
        false
    }
}

/// The counters a debugging recorder holds, keyed `name{label=value,…}`.
pub fn counters(
    snapshotter: &metrics_util::debugging::Snapshotter,
) -> std::collections::BTreeMap<String, u64> {
    let mut counters = std::collections::BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<_> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        if let metrics_util::debugging::DebugValue::Counter(n) = value {
            counters.insert(format!("{}{{{}}}", key.name(), labels.join(",")), n);
        }
    }
    counters
}
