//! The stacks every benchmark measures, built the same way everywhere: the
//! criterion benches, the storm count, and `examples/instructions.rs`
//! (which includes this file by path).
//!
//! Every stack is a `tower::Service<http::Request<Full<Bytes>>>` over the
//! in-memory [`Downstream`]; [`with_stack`] builds one by name and hands it
//! to a [`Visit`], since each stack has a type of its own.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::convert::Infallible;
use std::fmt::Debug;
use std::future::{ready, Ready};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::Full;
use tower::retry::budget::{Budget, TpsBudget};
use tower::{Layer, Service, ServiceBuilder};
use tower_http_retry::{
    Attempts, CircuitBreakerConfig, CircuitBreakerLayer, ReplayBodyLayer, RetryLayer, RetryPolicy,
};

pub type Req = Request<Full<Bytes>>;
pub type Res = Response<Full<Bytes>>;

/// The stacks, in table order.
pub const STACKS: &[&str] = &[
    "bare",
    "tower_retry",
    "tower_retry_tps",
    "tower_retry_attempts",
    "ours_retry",
    "ours_retry_nobudget",
    "ours_breaker",
    "ours_retry_breaker",
    "tower_retry_ours_breaker",
    "ours_replay_retry_breaker",
    "tr_retry",
    "tr_breaker",
    "tr_retry_breaker",
    "failsafe_breaker",
    "tower_retry_failsafe",
];

/// One line on what a stack is, for the tables.
pub fn describe(name: &str) -> &'static str {
    match name {
        "bare" => "service_fn-like downstream, no middleware",
        "tower_retry" => "tower::retry::Retry, minimal policy (clone, retry 5xx, 3 attempts)",
        "tower_retry_tps" => "tower_retry + TpsBudget::default() (deposit/withdraw), 100 ms wait",
        "tower_retry_attempts" => {
            "tower_retry that also inserts `Attempts` in the response (our contract)"
        }
        "ours_retry" => "RetryLayer(RetryPolicy::default())",
        "ours_retry_nobudget" => "RetryLayer(RetryPolicy::default().without_budget())",
        "ours_breaker" => "CircuitBreakerLayer(default)",
        "ours_retry_breaker" => "RetryLayer over CircuitBreakerLayer (defaults)",
        "tower_retry_ours_breaker" => "tower_retry (minimal policy) over our CircuitBreakerLayer",
        "ours_replay_retry_breaker" => "ReplayBodyLayer(64 KiB) + RetryLayer + CircuitBreakerLayer",
        "tr_retry" => "tower-resilience retry (5xx, defaults)",
        "tr_breaker" => "tower-resilience circuit breaker (5xx, defaults)",
        "tr_retry_breaker" => "tower-resilience retry over its breaker",
        "failsafe_breaker" => "failsafe 1.3 breaker (Config::new()) as a tower service",
        "tower_retry_failsafe" => "tower::retry minimal policy over the failsafe breaker",
        _ => "?",
    }
}

/// Parsed once: a client holds its URIs parsed, and parsing would weigh
/// more than some of the stacks.
static URI: LazyLock<Uri> = LazyLock::new(|| Uri::from_static("http://example.com/items?id=7"));

/// The request every call sends: a GET with one header and a small body,
/// the shape of `tests/alloc.rs`.
pub fn request() -> Req {
    let mut req = Request::new(Full::new(Bytes::from_static(b"{}")));
    *req.uri_mut() = URI.clone();
    req.headers_mut().insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static("application/json"),
    );
    req
}

/// The in-memory downstream: answers `status` at once, for any request
/// body; counts its calls when asked to.
#[derive(Clone, Debug)]
pub struct Downstream {
    status: StatusCode,
    calls: Option<Arc<AtomicU64>>,
    /// Put an extension in every response, as hyper-util's client does
    /// (`HttpInfo`, from its `HttpConnector`): the response then has an
    /// extension map before `RetryLayer` adds `Attempts` to it.
    info: bool,
}

/// Stands for hyper-util's `HttpInfo` (two socket addresses).
#[derive(Clone, Copy, Debug)]
pub struct Info(pub [u8; 32]);

impl Downstream {
    pub fn ok() -> Self {
        Downstream {
            status: StatusCode::OK,
            calls: None,
            info: false,
        }
    }

    /// [`Downstream::ok`] whose responses carry an extension already.
    pub fn ok_with_info() -> Self {
        Downstream {
            info: true,
            ..Self::ok()
        }
    }

    /// [`Downstream::ok_with_info`] when `DOWNSTREAM_INFO=1`, as hyper-util's
    /// client puts `HttpInfo` in every response (see `PERFORMANCE.md`);
    /// [`Downstream::ok`] otherwise.
    pub fn ok_from_env() -> Self {
        if std::env::var_os("DOWNSTREAM_INFO").is_some_and(|v| v == "1") {
            Self::ok_with_info()
        } else {
            Self::ok()
        }
    }

    pub fn counting(status: StatusCode) -> (Self, Arc<AtomicU64>) {
        let calls = Arc::new(AtomicU64::new(0));
        let svc = Downstream {
            status,
            calls: Some(calls.clone()),
            info: false,
        };
        (svc, calls)
    }
}

impl<B> Service<Request<B>> for Downstream {
    type Response = Res;
    type Error = Infallible;
    type Future = Ready<Result<Res, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<B>) -> Self::Future {
        if let Some(calls) = &self.calls {
            calls.fetch_add(1, Ordering::Relaxed);
        }
        let mut res = Response::new(Full::default());
        *res.status_mut() = self.status;
        if self.info {
            res.extensions_mut().insert(Info([0; 32]));
        }
        ready(Ok(res))
    }
}

/// The policy a tower user writes in a few lines: clone the request, retry
/// a 5xx response up to 3 attempts in all, at once; optionally with a
/// `TpsBudget` (deposit per request, withdraw per retry).
#[derive(Clone, Debug)]
pub struct MinimalPolicy {
    attempts: u32,
    budget: Option<Arc<TpsBudget>>,
    backoff: Duration,
    insert_attempts: bool,
}

impl MinimalPolicy {
    pub fn new() -> Self {
        MinimalPolicy {
            attempts: 1,
            budget: None,
            backoff: Duration::ZERO,
            insert_attempts: false,
        }
    }

    /// Also inserts [`Attempts`] in the final response, as `RetryLayer`
    /// must: the floor of what our contract costs on a tower policy.
    pub fn with_attempts() -> Self {
        MinimalPolicy {
            insert_attempts: true,
            ..Self::new()
        }
    }

    /// tower's defaults as a tower user would take them: `TpsBudget::default()`
    /// (10 s, 10/s, 20 %), and a fixed 100 ms wait.
    pub fn with_budget() -> Self {
        MinimalPolicy {
            attempts: 1,
            budget: Some(Arc::new(TpsBudget::default())),
            backoff: Duration::from_millis(100),
            insert_attempts: false,
        }
    }
}

impl<B: Clone, ResB, E> tower::retry::Policy<Request<B>, Response<ResB>, E> for MinimalPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Request<B>,
        result: &mut Result<Response<ResB>, E>,
    ) -> Option<Self::Future> {
        let retryable = match result {
            Ok(res) => res.status().is_server_error(),
            Err(_) => true,
        };
        if !retryable || self.attempts >= 3 {
            if let (true, Ok(res)) = (self.insert_attempts, result) {
                res.extensions_mut().insert(Attempts::new(self.attempts));
            }
            return None;
        }
        if let Some(budget) = &self.budget {
            if !budget.withdraw() {
                return None;
            }
        }
        self.attempts += 1;
        Some(tokio::time::sleep(self.backoff))
    }

    fn clone_request(&mut self, req: &Request<B>) -> Option<Request<B>> {
        if self.attempts == 1 {
            if let Some(budget) = &self.budget {
                budget.deposit();
            }
        }
        Some(req.clone())
    }
}

/// failsafe's breaker as a tower service (failsafe has no tower layer):
/// `call_with` around the inner future; an error counts as a failure.
#[derive(Clone)]
pub struct Failsafe<S, CB> {
    inner: S,
    breaker: CB,
}

impl<S, CB> Failsafe<S, CB> {
    pub fn new(inner: S, breaker: CB) -> Self {
        Failsafe { inner, breaker }
    }
}

impl<S, CB, R> Service<R> for Failsafe<S, CB>
where
    S: Service<R>,
    CB: failsafe::futures::CircuitBreaker,
{
    type Response = S::Response;
    type Error = failsafe::Error<S::Error>;
    type Future = failsafe::futures::ResponseFuture<
        S::Future,
        CB::FailurePolicy,
        CB::Instrument,
        failsafe::Any,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(failsafe::Error::Inner)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.breaker.call(self.inner.call(req))
    }
}

/// Gets a stack, whatever its type.
pub trait Visit {
    type Out;
    fn visit<S>(self, svc: S) -> Self::Out
    where
        S: Service<Req, Response = Res> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Debug + Send + 'static;
}

fn tr_retry_layer<E>() -> tower_resilience::retry::RetryLayer<Req, Res, E>
where
    E: 'static,
{
    tower_resilience::retry::RetryLayer::<Req, Res, E>::builder()
        .retry_on_response(|res: &Res| res.status().is_server_error())
        .build()
}

type TrBreakerError = tower_resilience::circuitbreaker::CircuitBreakerError<Infallible>;

fn tr_breaker(
    inner: Downstream,
) -> impl Service<Req, Response = Res, Error = TrBreakerError, Future: Send + 'static>
       + Clone
       + Send
       + 'static {
    tower_resilience::circuitbreaker::CircuitBreakerLayer::builder()
        .failure_classifier(|r: &Result<Res, Infallible>| match r {
            Ok(res) => res.status().is_server_error(),
            Err(_) => true,
        })
        .build()
        .expect("tower-resilience breaker config")
        .layer(inner)
}

/// Builds the stack `name` over `downstream` and hands it to `v`; `None`
/// for an unknown name.
pub fn with_stack<V: Visit>(name: &str, downstream: Downstream, v: V) -> Option<V::Out> {
    let out = match name {
        "bare" => v.visit(downstream),
        "tower_retry" => v.visit(tower::retry::Retry::new(MinimalPolicy::new(), downstream)),
        "tower_retry_tps" => v.visit(tower::retry::Retry::new(
            MinimalPolicy::with_budget(),
            downstream,
        )),
        "tower_retry_attempts" => v.visit(tower::retry::Retry::new(
            MinimalPolicy::with_attempts(),
            downstream,
        )),
        "ours_retry" => v.visit(
            ServiceBuilder::new()
                .layer(RetryLayer::new(RetryPolicy::default()))
                .service(downstream),
        ),
        "ours_retry_nobudget" => v.visit(
            ServiceBuilder::new()
                .layer(RetryLayer::new(RetryPolicy::default().without_budget()))
                .service(downstream),
        ),
        "ours_breaker" => v.visit(
            ServiceBuilder::new()
                .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
                .service(downstream),
        ),
        "ours_retry_breaker" => v.visit(
            ServiceBuilder::new()
                .layer(RetryLayer::new(RetryPolicy::default()))
                .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
                .service(downstream),
        ),
        "tower_retry_ours_breaker" => v.visit(tower::retry::Retry::new(
            MinimalPolicy::new(),
            CircuitBreakerLayer::new(CircuitBreakerConfig::default()).layer(downstream),
        )),
        "ours_replay_retry_breaker" => v.visit(
            ServiceBuilder::new()
                .layer(ReplayBodyLayer::new(64 * 1024))
                .layer(RetryLayer::new(RetryPolicy::default()))
                .layer(CircuitBreakerLayer::new(CircuitBreakerConfig::default()))
                .service(downstream),
        ),
        "tr_retry" => v.visit(
            ServiceBuilder::new()
                .layer(tr_retry_layer::<Infallible>())
                .service(downstream),
        ),
        "tr_breaker" => v.visit(tr_breaker(downstream)),
        "tr_retry_breaker" => {
            v.visit(tr_retry_layer::<TrBreakerError>().layer(tr_breaker(downstream)))
        }
        "failsafe_breaker" => v.visit(Failsafe::new(downstream, failsafe::Config::new().build())),
        "tower_retry_failsafe" => v.visit(tower::retry::Retry::new(
            MinimalPolicy::new(),
            Failsafe::new(downstream, failsafe::Config::new().build()),
        )),
        _ => return None,
    };
    Some(out)
}

/// Times one call of `svc` per iteration (`ready`, `call`, the response
/// awaited) on `rt`, as `name` in `group`: the loop every success-path
/// bench measures.
pub fn bench_calls<S>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &tokio::runtime::Runtime,
    name: &str,
    mut svc: S,
) where
    S: Service<Req, Response = Res>,
    S::Error: Debug,
{
    use tower::ServiceExt;
    group.bench_function(name, |b| {
        b.iter(|| {
            rt.block_on(async {
                let res = svc.ready().await.unwrap().call(request()).await.unwrap();
                std::hint::black_box(res);
            })
        })
    });
}
