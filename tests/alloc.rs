//! The success path allocates nothing beyond cloning the request (kept for
//! a retry) and inserting `Attempts`: counted with a global allocator.

// A counting global allocator needs `unsafe impl GlobalAlloc`; the crate
// itself forbids unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::retry::Policy;
use tower::{service_fn, Service, ServiceBuilder};
use tower_http_retry::{
    Attempts, CircuitBreakerConfig, CircuitBreakerLayer, RetryLayer, RetryPolicy,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

/// Polls a future that is ready at once.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the service answered at once"),
    }
}

/// `poll_ready`, then `call`, then the response: all ready at once.
fn call<S: Service<Request<Full<Bytes>>>>(svc: &mut S, req: Request<Full<Bytes>>) -> S::Response
where
    S::Error: std::fmt::Debug,
{
    ready(std::future::poll_fn(|cx| svc.poll_ready(cx))).unwrap();
    ready(svc.call(req)).unwrap()
}

fn request() -> Request<Full<Bytes>> {
    Request::builder()
        .uri("http://example.com/items?id=7")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

#[test]
fn success_path_allocates_only_the_request_clone_and_attempts() {
    let ok = service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    });
    let mut bare = ok;
    let mut retry = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .service(ok);
    let mut full = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
        .service(ok);

    // Warm up (lazy statics, thread-locals).
    for _ in 0..3 {
        call(&mut bare, request());
        call(&mut retry, request());
        call(&mut full, request());
    }

    // What the retry layer must allocate: one clone of the request, and the
    // `Attempts` extension.
    let req = request();
    let mut policy = RetryPolicy::default();
    let (clone, clone_allocs) =
        allocations(|| Policy::<_, Response<()>, Infallible>::clone_request(&mut policy, &req));
    let mut res = Response::new(());
    let (_, attempts_allocs) = allocations(|| res.extensions_mut().insert(Attempts::new(1)));
    drop(clone);
    let allowed = clone_allocs + attempts_allocs;

    for _ in 0..100 {
        let req = request();
        let (_, bare_allocs) = allocations(|| call(&mut bare, req));
        let req = request();
        let (res, retry_allocs) = allocations(|| call(&mut retry, req));
        assert_eq!(res.extensions().get::<Attempts>(), Some(&Attempts::new(1)));
        let req = request();
        let (_, full_allocs) = allocations(|| call(&mut full, req));
        assert_eq!(
            full_allocs, retry_allocs,
            "the breaker's success path allocates nothing"
        );
        if std::env::var_os("SHOW_ALLOCS").is_some() {
            eprintln!("bare {bare_allocs} retry {retry_allocs} clone {clone_allocs} attempts {attempts_allocs}");
        }
        assert!(
            retry_allocs <= bare_allocs + allowed,
            "retry stack: {retry_allocs} allocations, bare: {bare_allocs}, allowed extra: {allowed}"
        );
    }
}

#[test]
fn buffering_an_empty_body_allocates_only_the_bytes_extension() {
    use http_body_util::Empty;
    use tower_http_retry::BufferResponseLayer;

    let empty = service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
    });
    let mut bare = empty;
    let mut buffered = ServiceBuilder::new()
        .layer(BufferResponseLayer::new(1024))
        .service(empty);
    for _ in 0..3 {
        call(&mut bare, request());
        call(&mut buffered, request());
    }
    // The extension the classifier reads: a `Bytes` in the response's map.
    #[derive(Clone)]
    struct Same(#[allow(dead_code)] Bytes);
    let mut res = Response::new(());
    let (_, extension_allocs) = allocations(|| res.extensions_mut().insert(Same(Bytes::new())));

    for _ in 0..10 {
        let (_, bare_allocs) = allocations(|| call(&mut bare, request()));
        let (res, buffered_allocs) = allocations(|| call(&mut buffered, request()));
        assert_eq!(res.body().bytes(), Some(&Bytes::new()));
        assert_eq!(
            buffered_allocs,
            bare_allocs + extension_allocs,
            "an empty body is read without allocating"
        );
    }
}
