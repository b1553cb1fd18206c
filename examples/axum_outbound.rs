//! An axum service calling a downstream through one shared client stack.
//!
//! `cargo run --example axum_outbound`: starts a downstream that flaps
//! (healthy, then failing, then healthy again), serves an axum app whose
//! handler calls it through `RetryLayer` over `CircuitBreakerLayer` over a
//! per-attempt timeout over hyper-util's client, and prints what the app's
//! callers see.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tower::retry::Retry;
use tower::timeout::Timeout;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::backoff::ExponentialBackoff;
use tower_http_retry::circuit_breaker::CircuitBreaker;
use tower_http_retry::retry::{BoxResponseBody, BoxResponseBodyLayer};
use tower_http_retry::{
    Attempts, CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, RetryLayer, RetryPolicy,
};

/// The outbound stack, built once and shared by every request the app
/// serves: clones share the connection pool, the retry budget and the breaker.
/// `BoxResponseBody` boxes hyper's response bodies so that the error page of
/// a retried attempt is read and its connection kept.
pub(crate) type Downstream = Retry<
    RetryPolicy,
    CircuitBreaker<Timeout<BoxResponseBody<Client<HttpConnector, Full<Bytes>>>>>,
>;

/// The app's state: the shared stack and where the downstream is.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    client: Downstream,
    base: String,
}

/// Builds the outbound stack.
pub(crate) fn downstream_client(breaker: CircuitBreakerLayer) -> Downstream {
    ServiceBuilder::new()
        .layer(RetryLayer::new(
            RetryPolicy::default().backoff(ExponentialBackoff::new(Duration::from_millis(20))),
        ))
        .layer(breaker)
        .timeout(Duration::from_secs(2))
        .layer(BoxResponseBodyLayer::new())
        .service(Client::builder(TokioExecutor::new()).build_http())
}

/// The app: `GET /quote` asks the downstream's `/price`.
pub(crate) fn app(client: Downstream, downstream_base: String) -> Router {
    Router::new()
        .route("/quote", get(quote))
        .with_state(AppState {
            client,
            base: downstream_base,
        })
}

async fn quote(State(state): State<AppState>) -> (StatusCode, String) {
    let req = match http::Request::get(format!("{}/price", state.base)).body(Full::default()) {
        Ok(req) => req,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    match state.client.oneshot(req).await {
        Ok(res) if res.status().is_success() => {
            let attempts = res.extensions().get::<Attempts>().map_or(1, Attempts::get);
            match res.into_body().collect().await {
                Ok(body) => (
                    StatusCode::OK,
                    format!(
                        "price {} (attempts: {attempts})",
                        String::from_utf8_lossy(&body.to_bytes())
                    ),
                ),
                Err(e) => (StatusCode::BAD_GATEWAY, format!("downstream body: {e}")),
            }
        }
        Ok(res) => (
            StatusCode::BAD_GATEWAY,
            format!("downstream answered {}", res.status()),
        ),
        // The breaker is open: fail fast, and say when to come back.
        Err(e) if e.is::<CircuitOpen>() => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("downstream: {e}")),
    }
}

/// A downstream on 127.0.0.1 whose `/price` answers 200 while `healthy`,
/// 503 otherwise.
pub(crate) async fn flapping_downstream(healthy: Arc<AtomicBool>) -> std::io::Result<String> {
    let app = Router::new().route(
        "/price",
        get(move || {
            let healthy = healthy.load(Ordering::SeqCst);
            async move {
                if healthy {
                    (StatusCode::OK, "42")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    serve(app).await
}

/// Serves `app` on 127.0.0.1 and returns its base URL.
pub(crate) async fn serve(app: Router) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}"))
}

#[tokio::main]
async fn main() -> Result<(), tower::BoxError> {
    let healthy = Arc::new(AtomicBool::new(true));
    let downstream = flapping_downstream(healthy.clone()).await?;
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .name("prices")
            .minimum_calls(4)
            .window_size(10)
            .open_duration(Duration::from_millis(500)),
    );
    let handle = breaker.handle();
    let base = serve(app(downstream_client(breaker), downstream)).await?;

    let http = plain_client();
    for phase in ["healthy", "failing", "failing", "failing", "recovered"] {
        healthy.store(phase != "failing", Ordering::SeqCst);
        if phase == "recovered" {
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
        let (status, body) = fetch(&http, &format!("{base}/quote")).await?;
        println!(
            "{phase:>9}: GET /quote -> {status} {body:?} (breaker {})",
            handle.state()
        );
    }
    Ok(())
}

/// A plain client for the app's callers.
fn plain_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn fetch(
    http: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
) -> Result<(StatusCode, String), tower::BoxError> {
    let res = http.get(url.parse()?).await?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
