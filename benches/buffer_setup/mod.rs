//! What `benches/buffer_response.rs` and `examples/buffer_instructions.rs`
//! (which includes this file by path) measure: a 16 KiB response body, in
//! four chunks of 4 KiB, read whole by `BufferResponseLayer`, or collected
//! by hand with `http_body_util::BodyExt::collect`.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};
use tower_http_retry::body::BufferResponse;

pub const LEN: usize = 16 * 1024;
pub const CHUNK: usize = 4 * 1024;
static PAGE: [u8; LEN] = [b'x'; LEN];

/// A body of `LEN` bytes in chunks of `CHUNK`, cut from a static page
/// without allocating, so that only the reading is measured.
#[derive(Debug)]
pub struct Chunks(Bytes);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0.is_empty() {
            return Poll::Ready(None);
        }
        let n = CHUNK.min(self.0.len());
        Poll::Ready(Some(Ok(Frame::data(self.0.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.len() as u64)
    }
}

/// Stands for hyper-util's `HttpInfo`.
#[derive(Clone, Copy, Debug)]
pub struct Info(pub [u8; 32]);

/// Answers every request with the 16 KiB body at once; with `info`, the
/// response carries an extension already, as hyper-util's do.
#[derive(Clone, Copy, Debug)]
pub struct Downstream {
    pub info: bool,
}

impl Downstream {
    /// `DOWNSTREAM_INFO=1` puts an extension in every response.
    pub fn from_env() -> Self {
        Downstream {
            info: std::env::var_os("DOWNSTREAM_INFO").is_some_and(|v| v == "1"),
        }
    }
}

impl Service<Request<()>> for Downstream {
    type Response = Response<Chunks>;
    type Error = Infallible;
    type Future = Ready<Result<Response<Chunks>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        let mut res = Response::new(Chunks(Bytes::from_static(&PAGE)));
        if self.info {
            res.extensions_mut().insert(Info([0; 32]));
        }
        ready(Ok(res))
    }
}

/// One call, the body collected by hand: what a caller writes without the
/// layer.
pub async fn by_hand(svc: &mut Downstream) -> (Response<()>, Bytes) {
    let res = svc
        .ready()
        .await
        .expect("ready")
        .call(Request::new(()))
        .await;
    let (parts, body) = res.expect("a response").into_parts();
    let bytes = body.collect().await.expect("a body").to_bytes();
    (Response::from_parts(parts, ()), bytes)
}

/// One call through `BufferResponseLayer`: the body read before the
/// response is handed over.
pub async fn buffered(svc: &mut BufferResponse<Downstream>) -> (Response<()>, Bytes) {
    let res = svc
        .ready()
        .await
        .expect("ready")
        .call(Request::new(()))
        .await;
    let (parts, body) = res.expect("a response").into_parts();
    let bytes = body.bytes().cloned().expect("the whole body");
    (Response::from_parts(parts, ()), bytes)
}

/// The layer under measure, over the downstream.
pub fn buffer_layer(downstream: Downstream) -> BufferResponse<Downstream> {
    BufferResponse::new(downstream, 64 * 1024)
}
