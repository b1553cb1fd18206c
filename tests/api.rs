//! Compile-time promises of the API: the layers stack with `ServiceBuilder`
//! over hyper-util's client, and the services are `Send + Sync + Clone`.

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use tower::ServiceBuilder;
use tower_http_retry::{RetryLayer, RetryPolicy};

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>(_: &T) {}

fn assert_service<S, B>(_: &S)
where
    S: tower::Service<http::Request<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
}

#[test]
fn retry_stack_over_hyper_util_is_send_sync_clone() {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .service(client);
    assert_send_sync_clone(&svc);
    assert_service::<_, Full<Bytes>>(&svc);
    assert_send_sync_clone(&RetryPolicy::default());
    assert_send_sync_clone(&RetryLayer::default());
}

#[test]
fn retry_stack_with_a_timeout_beneath() {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::default()))
        .timeout(std::time::Duration::from_secs(2))
        .service(client);
    assert_service::<_, Full<Bytes>>(&svc);
}
