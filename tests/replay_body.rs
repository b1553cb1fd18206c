//! ReplayBodyLayer + RetryLayer over hyper-util's client against a real
//! loopback server: streamed bodies below, at and above the replay limit,
//! trailers, and hyper's `Incoming` forwarded by a proxy.

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::stream;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{ReplayBody, ReplayBodyLayer, RetryLayer};

const LIMIT: usize = 16 * 1024;

type Frames = Vec<Result<Frame<Bytes>, Infallible>>;
type Chunks = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// `total` bytes of a recognisable pattern, cut into chunks of uneven sizes.
fn chunked(total: usize) -> (Bytes, Frames) {
    let data: Bytes = (0..total)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let mut frames = Vec::new();
    let (mut at, mut sizes) = (0, [1000, 1, 4096, 333, 7].iter().cycle());
    while at < total {
        let end = (at + sizes.next().unwrap()).min(total);
        frames.push(Ok(Frame::data(data.slice(at..end))));
        at = end;
    }
    (data, frames)
}

fn replay_client<B>() -> Client<HttpConnector, ReplayBody<B>>
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<tower::BoxError>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

/// PUTs a `total`-byte chunked body through ReplayBodyLayer + RetryLayer to
/// a server answering 503, then 200.
async fn put_chunked(total: usize) -> (TestServer, Response<Incoming>, Bytes) {
    let server = TestServer::statuses(&[503]).await;
    let svc = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(LIMIT))
        .layer(RetryLayer::new(fast_policy()))
        .service(replay_client::<Chunks>());
    let (data, frames) = chunked(total);
    let req = Request::builder()
        .method(Method::PUT)
        .uri(server.url("/upload"))
        .body(StreamBody::new(stream::iter(frames)))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    (server, res, data)
}

async fn assert_replayed(total: usize) {
    let (server, res, data) = put_chunked(total).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, data);
    assert_eq!(requests[1].body, data, "the replay is byte-identical");
    // The first attempt streamed it; the replay knew its exact size.
    assert_eq!(requests[0].headers["transfer-encoding"], "chunked");
    assert_eq!(
        requests[1].headers["content-length"],
        total.to_string().as_str()
    );
}

#[tokio::test]
async fn chunked_body_below_the_limit_is_replayed_byte_identical() {
    assert_replayed(LIMIT - 1000).await;
}

#[tokio::test]
async fn chunked_body_at_the_limit_is_replayed_byte_identical() {
    assert_replayed(LIMIT).await;
}

#[tokio::test]
async fn chunked_body_one_byte_above_the_limit_is_sent_once_intact() {
    let (server, res, data) = put_chunked(LIMIT + 1).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts(&res), Some(1));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, data);
}

#[tokio::test]
async fn chunked_body_far_above_the_limit_is_sent_once_intact() {
    let (server, res, data) = put_chunked(64 * LIMIT).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(attempts(&res), Some(1));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body.len(), data.len());
    assert_eq!(requests[0].body, data);
}

#[tokio::test]
async fn trailers_are_replayed() {
    let server = TrailerServer::statuses(&[503]).await;
    let svc = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(LIMIT))
        .layer(RetryLayer::new(fast_policy()))
        .service(replay_client::<Chunks>());
    let (data, mut frames) = chunked(5000);
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("5000-bytes"));
    frames.push(Ok(Frame::trailers(trailers.clone())));
    let req = Request::builder()
        .method(Method::PUT)
        .uri(server.url("/upload"))
        // HTTP/1 sends only the trailer fields the request announces.
        .header("trailer", "x-checksum")
        .body(StreamBody::new(stream::iter(frames)))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for (n, r) in requests.iter().enumerate() {
        assert_eq!(r.body, data, "request {n}");
        assert_eq!(r.trailers.as_ref(), Some(&trailers), "request {n}");
    }
}

/// A proxy on 127.0.0.1 that forwards every request, its body still
/// hyper's `Incoming`, to `upstream` through ReplayBodyLayer + RetryLayer +
/// hyper-util's client.
async fn proxy(upstream: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(LIMIT))
        .layer(RetryLayer::new(fast_policy()))
        .service(replay_client::<Incoming>());
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (client, upstream) = (client.clone(), upstream.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                    let client = client.clone();
                    *req.uri_mut() = format!("{upstream}{}", req.uri().path()).parse().unwrap();
                    async move {
                        let res = match client.oneshot(req).await {
                            Ok(res) => res.map(|b| b.boxed()),
                            Err(_) => {
                                let mut res = Response::new(
                                    Full::<Bytes>::default().map_err(|e| match e {}).boxed(),
                                );
                                *res.status_mut() = StatusCode::BAD_GATEWAY;
                                res
                            }
                        };
                        Ok::<_, Infallible>(res)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), task)
}

async fn put_through_proxy(total: usize) -> (TestServer, StatusCode, Bytes) {
    let upstream = TestServer::statuses(&[503]).await;
    let (proxy_url, task) = proxy(format!("http://{}", upstream.addr)).await;
    let (data, frames) = chunked(total);
    let req = Request::builder()
        .method(Method::PUT)
        .uri(format!("{proxy_url}/upload"))
        .body(StreamBody::new(stream::iter(frames)))
        .unwrap();
    let client: Client<HttpConnector, Chunks> = Client::builder(TokioExecutor::new()).build_http();
    let res = client.request(req).await.unwrap();
    task.abort();
    (upstream, res.status(), data)
}

#[tokio::test]
async fn incoming_body_is_replayed_by_a_proxy() {
    let (upstream, status, data) = put_through_proxy(LIMIT / 2).await;
    assert_eq!(status, StatusCode::OK);
    let requests = upstream.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.body == data));
}

#[tokio::test]
async fn incoming_body_above_the_limit_is_forwarded_once() {
    let (upstream, status, data) = put_through_proxy(4 * LIMIT).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let requests = upstream.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, data);
}

#[tokio::test]
async fn a_replay_after_an_early_answer_sends_the_kept_then_the_rest() {
    // Upstream: the first request is answered 503 at once, its body unread;
    // the second is read to its end and recorded.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/upload", listener.local_addr().unwrap());
    let (heads_tx, mut heads) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let (bodies_tx, mut bodies) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (heads_tx, bodies_tx, seen) = (heads_tx.clone(), bodies_tx.clone(), seen.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = heads_tx.send(n);
                    let bodies_tx = bodies_tx.clone();
                    async move {
                        if n == 0 {
                            return Ok::<_, Infallible>(status(503));
                        }
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let _ = bodies_tx.send(body);
                        Ok(status(200))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });

    // The body: a first chunk now, the rest only once the replay started.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
    let rx = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    let body = StreamBody::new(Box::pin(rx));
    let svc = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(LIMIT))
        .layer(RetryLayer::new(fast_policy()))
        .service(replay_client::<StreamBody<_>>());
    let req = Request::builder()
        .method(Method::PUT)
        .uri(url)
        .body(body)
        .unwrap();
    let call = tokio::spawn(svc.oneshot(req));

    let (first, rest) = (Bytes::from(vec![b'a'; 3000]), Bytes::from(vec![b'b'; 5000]));
    tx.send(Ok(Frame::data(first.clone()))).await.unwrap();
    assert_eq!(heads.recv().await, Some(0));
    // The replay has begun: send the rest of the original.
    assert_eq!(heads.recv().await, Some(1));
    tx.send(Ok(Frame::data(rest.clone()))).await.unwrap();
    drop(tx);

    let res = tokio::time::timeout(std::time::Duration::from_secs(10), call)
        .await
        .expect("the replay finishes")
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    let replayed = bodies.recv().await.unwrap();
    assert_eq!(replayed, [first, rest].concat());
    server.abort();
}

#[test]
fn replay_stack_over_hyper_util_is_send_sync_clone() {
    fn assert_service<S, B>(_: &S)
    where
        S: tower::Service<Request<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
    }
    let svc = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(LIMIT))
        .layer(RetryLayer::new(fast_policy()))
        .service(replay_client::<Incoming>());
    assert_service::<_, Incoming>(&svc);
    let svc = ServiceBuilder::new()
        .layer(ReplayBodyLayer::new(LIMIT))
        .layer(RetryLayer::new(fast_policy()))
        .service(replay_client::<Chunks>());
    assert_service::<_, Chunks>(&svc);
}

#[tokio::test]
async fn giving_up_on_a_body_above_the_limit_says_why() {
    let (logs, _guard) = Logs::capture();
    let (server, res, _) = put_chunked(LIMIT + 1).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.calls(), 1);
    let text = logs.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("giving up on request")
            && text.contains("why=\"request body exceeded the replay limit\""),
        "{text}"
    );
}
