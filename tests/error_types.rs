//! An error type of the user's own: classified by its `source()` chain
//! whether or not it is boxed, once the policy is told of it
//! (`RetryPolicy::error_type`), so that a POST after a refused connection is
//! retried without a breaker (which boxes) in the stack.

mod support;

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use support::{attempts, closed_port, fast_policy, request};
use tower::util::BoxCloneService;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::{ErrorClass, RetryLayer, RetryPolicy};

/// The error of a client of the user's own, the I/O error beneath it.
#[derive(Debug)]
struct MyClientError(io::Error);

impl fmt::Display for MyClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("my client failed")
    }
}

impl Error for MyClientError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

type MyClient = BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, MyClientError>;

/// A client whose first `refusals` calls connect to a closed port (a real
/// refused connection, wrapped in `MyClientError`), then answer 200.
fn my_client(refusals: usize) -> (MyClient, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let svc = tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let n = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < refusals {
                let addr = closed_port().await;
                tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(MyClientError)?;
            }
            Ok(Response::new(Full::<Bytes>::from("ok")))
        }
    });
    (BoxCloneService::new(svc), calls)
}

#[tokio::test]
async fn the_chain_of_a_user_error_is_classified_boxed_or_not() {
    let (svc, _) = my_client(1);
    let err = svc
        .oneshot(request(Method::POST, "http://localhost/"))
        .await
        .unwrap_err();
    assert_eq!(err.0.kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(ErrorClass::from_error(&err), ErrorClass::NeverSent);
    // `of` cannot name `MyClientError`: it sees an unknown type…
    assert_eq!(ErrorClass::of(&err), ErrorClass::Ambiguous);
    // …and the same error boxed, a `dyn Error` whose chain it walks.
    let boxed: tower::BoxError = Box::new(err);
    assert_eq!(ErrorClass::of(&boxed), ErrorClass::NeverSent);
    assert_eq!(ErrorClass::from_error(&*boxed), ErrorClass::NeverSent);
}

#[tokio::test]
async fn a_post_refused_beneath_a_registered_error_type_is_retried_without_a_breaker() {
    let (inner, calls) = my_client(1);
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy().error_type::<MyClientError>()))
        .service(inner);
    let res = svc
        .oneshot(request(Method::POST, "http://localhost/"))
        .await
        .unwrap();
    assert_eq!(attempts(&res), Some(2));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unregistered_error_type_is_ambiguous_and_a_post_is_not_replayed() {
    let (inner, calls) = my_client(1);
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(inner);
    svc.oneshot(request(Method::POST, "http://localhost/"))
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn registering_a_type_twice_or_alongside_others_changes_nothing() {
    #[derive(Debug)]
    struct Other;
    impl fmt::Display for Other {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("other")
        }
    }
    impl Error for Other {}

    let (inner, calls) = my_client(2);
    let policy: RetryPolicy = fast_policy()
        .error_type::<Other>()
        .error_type::<MyClientError>()
        .error_type::<MyClientError>();
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(inner);
    let res = svc
        .oneshot(request(Method::PATCH, "http://localhost/"))
        .await
        .unwrap();
    assert_eq!(attempts(&res), Some(3));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
