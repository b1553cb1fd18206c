//! HTTP/2 over hyper-util's client (h2c, `http2_only`): a stream the server
//! refused, or failed by a graceful `GOAWAY` above its last-stream-id, was
//! never processed (RFC 9113 §8.7) and is retried whatever its method; a
//! `GOAWAY` with an error code, or any other reset, stays ambiguous.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{attempts, fast_policy, request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{ErrorClass, RetryLayer};

/// A fresh hyper-util client speaking HTTP/2 with prior knowledge (h2c).
fn h2_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// Generous: every exchange here is on loopback and ends in milliseconds.
const BOUND: Duration = Duration::from_secs(10);

/// How the scripted server treats one stream, or one connection.
#[derive(Clone, Copy, Debug)]
enum Script {
    /// Answer 200 (the handler runs).
    Answer,
    /// Reset the stream with this reason before the handler runs.
    Reset(h2::Reason),
    /// On the connection's first request, send `GOAWAY` with last-stream-id
    /// 0 and this reason (raw frames: the h2 server would name the stream
    /// it has seen as processed), then read until the client leaves.
    GoAway(u32),
}

/// An HTTP/2 server on loopback: stream `n` (counted over every connection)
/// is treated as `script(n)`; a `GoAway` entry applies to a connection's
/// first stream. Counts the streams seen and the requests handled.
struct H2Server {
    addr: SocketAddr,
    streams: Arc<AtomicUsize>,
    handled: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for H2Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl H2Server {
    async fn start(script: fn(usize) -> Script) -> H2Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let streams = Arc::new(AtomicUsize::new(0));
        let handled = Arc::new(AtomicUsize::new(0));
        let (s, h) = (streams.clone(), handled.clone());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (streams, handled) = (s.clone(), h.clone());
                tokio::spawn(async move {
                    if let Script::GoAway(reason) = script(streams.load(Ordering::SeqCst)) {
                        streams.fetch_add(1, Ordering::SeqCst);
                        go_away_on_first_request(socket, reason).await;
                    } else {
                        serve(socket, script, streams, handled).await;
                    }
                });
            }
        });
        H2Server {
            addr,
            streams,
            handled,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn streams(&self) -> usize {
        self.streams.load(Ordering::SeqCst)
    }

    fn handled(&self) -> usize {
        self.handled.load(Ordering::SeqCst)
    }
}

/// The h2 crate's server, following the script stream by stream.
async fn serve(
    socket: TcpStream,
    script: fn(usize) -> Script,
    streams: Arc<AtomicUsize>,
    handled: Arc<AtomicUsize>,
) {
    let Ok(mut conn) = h2::server::handshake(socket).await else {
        return;
    };
    while let Some(Ok((_req, mut respond))) = conn.accept().await {
        match script(streams.fetch_add(1, Ordering::SeqCst)) {
            Script::Reset(reason) => respond.send_reset(reason),
            Script::Answer | Script::GoAway(_) => {
                handled.fetch_add(1, Ordering::SeqCst);
                let _ = respond.send_response(Response::new(()), true);
            }
        }
    }
}

/// Speaks just enough HTTP/2 to send `GOAWAY(last-stream-id 0, reason)`
/// when the client's first `HEADERS` arrive.
async fn go_away_on_first_request(mut socket: TcpStream, reason: u32) {
    const HEADERS: u8 = 0x1;
    const SETTINGS: u8 = 0x4;
    const GOAWAY: u8 = 0x7;
    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut f = len.to_be_bytes()[1..].to_vec();
        f.extend([kind, flags, 0, 0, 0, 0]);
        f.extend(payload);
        f
    }
    let mut preface = [0u8; 24];
    if socket.read_exact(&mut preface).await.is_err()
        || socket.write_all(&frame(SETTINGS, 0, &[])).await.is_err()
    {
        return;
    }
    let mut head = [0u8; 9];
    while socket.read_exact(&mut head).await.is_ok() {
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        if socket.read_exact(&mut payload).await.is_err() {
            return;
        }
        let reply = match head[3] {
            SETTINGS if head[4] & 0x1 == 0 => frame(SETTINGS, 0x1, &[]),
            HEADERS => {
                let mut body = 0u32.to_be_bytes().to_vec();
                body.extend(reason.to_be_bytes());
                frame(GOAWAY, 0, &body)
            }
            _ => continue,
        };
        if socket.write_all(&reply).await.is_err() {
            return;
        }
    }
}

async fn post_once(url: &str) -> Result<Response<hyper::body::Incoming>, ErrorClass> {
    let send = h2_client().oneshot(request(Method::POST, url));
    let result = tokio::time::timeout(BOUND, send).await.unwrap();
    result.map_err(|e| ErrorClass::of(&e))
}

async fn post_with_retries(url: &str) -> Result<Response<hyper::body::Incoming>, ErrorClass> {
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(h2_client());
    let send = svc.oneshot(request(Method::POST, url));
    let result = tokio::time::timeout(BOUND, send).await.unwrap();
    result.map_err(|e| ErrorClass::of(&e))
}

#[tokio::test]
async fn a_refused_stream_is_never_sent() {
    let server = H2Server::start(|_| Script::Reset(h2::Reason::REFUSED_STREAM)).await;
    assert_eq!(
        post_once(&server.url()).await.unwrap_err(),
        ErrorClass::NeverSent
    );
}

#[tokio::test]
async fn a_post_whose_stream_was_refused_is_retried_and_reaches_the_handler_once() {
    let server = H2Server::start(|n| match n {
        0 => Script::Reset(h2::Reason::REFUSED_STREAM),
        _ => Script::Answer,
    })
    .await;
    let res = post_with_retries(&server.url()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(server.streams(), 2);
    assert_eq!(server.handled(), 1);
}

#[tokio::test]
async fn a_post_failed_by_a_graceful_go_away_is_retried_and_reaches_the_handler_once() {
    let server = H2Server::start(|n| match n {
        0 => Script::GoAway(0), // NO_ERROR
        _ => Script::Answer,
    })
    .await;
    assert_eq!(
        post_once(&server.url()).await.unwrap_err(),
        ErrorClass::NeverSent,
        "the error of a graceful GOAWAY above the stream"
    );
    let server = H2Server::start(|n| match n {
        0 => Script::GoAway(0),
        _ => Script::Answer,
    })
    .await;
    let res = post_with_retries(&server.url()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(server.handled(), 1);
}

#[tokio::test]
async fn a_go_away_with_an_error_code_stays_ambiguous() {
    // h2 reports the same error for the streams at or below the
    // last-stream-id, which the server may have processed.
    let server = H2Server::start(|n| match n {
        0 => Script::GoAway(0x2), // INTERNAL_ERROR
        _ => Script::Answer,
    })
    .await;
    assert_eq!(
        post_with_retries(&server.url()).await.unwrap_err(),
        ErrorClass::Ambiguous
    );
    assert_eq!(server.handled(), 0, "a POST is not replayed");
}

#[tokio::test]
async fn a_stream_reset_for_another_reason_stays_ambiguous() {
    let server = H2Server::start(|n| match n {
        0 => Script::Reset(h2::Reason::INTERNAL_ERROR),
        _ => Script::Answer,
    })
    .await;
    assert_eq!(
        post_with_retries(&server.url()).await.unwrap_err(),
        ErrorClass::Ambiguous
    );
    assert_eq!(server.streams(), 1, "a POST is not replayed");
}

#[tokio::test]
async fn eight_concurrent_posts_to_a_server_of_one_stream_all_succeed() {
    // A fresh client opens its streams before it has read the server's
    // SETTINGS: hyper's server refuses all but one with REFUSED_STREAM.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handled = Arc::new(AtomicUsize::new(0));
    let h = handled.clone();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let handled = h.clone();
            let svc = hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                handled.fetch_add(1, Ordering::SeqCst);
                async {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("ok")))
                }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .max_concurrent_streams(1)
                    .serve_connection(TokioIo::new(socket), svc),
            );
        }
    });
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(h2_client());
    let url = format!("http://{addr}/");
    let mut posts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        posts.spawn(svc.clone().oneshot(request(Method::POST, &url)));
    }
    let mut ok = 0;
    while let Some(joined) = tokio::time::timeout(BOUND, posts.join_next())
        .await
        .unwrap()
    {
        let res = joined.unwrap().map_err(|e| ErrorClass::of(&e)).unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        ok += 1;
    }
    assert_eq!(ok, 8);
    assert_eq!(handled.load(Ordering::SeqCst), 8, "each POST handled once");
    server.abort();
}
