//! reqwest through tower: [`ReqwestService`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use pin_project_lite::pin_project;
use tower_service::Service;

mod request_body;

/// The future of a request sent by `reqwest::Client` (a type reqwest does
/// not name publicly).
type Pending = <::reqwest::Client as Service<::reqwest::Request>>::Future;

/// A `reqwest::Client` as a `tower::Service<http::Request<B>>`, so that
/// reqwest users get the same stack as hyper-util's.
///
/// - Requests: any `http_body::Body` with `Data = Bytes` (a
///   [`ReplayBody`](crate::ReplayBody), `Full<Bytes>`, `String`, …). A
///   body whose frames are all ready when the request is made (one frame
///   of any size, or several up to 64 KiB in all) is handed to reqwest as
///   bytes, as plain reqwest holds it, so reqwest can send it again and
///   follows redirects with it; any other body is streamed (reqwest does
///   not follow a redirect that would resend it).
///   A `reqwest::Body` (from `http::Request::try_from(reqwest::Request)`)
///   is not `Clone`, which [`RetryLayer`](crate::RetryLayer) needs: put
///   [`ReplayBodyLayer`](crate::ReplayBodyLayer) above it (without it:
///   "the trait `Clone` is not implemented for `Body`", "required for
///   `RetryPolicy` to implement `Policy<…>`").
/// - Responses: `http::Response<reqwest::Body>`; `reqwest::Response::from`
///   turns one back into a `reqwest::Response` (`.text()`, `.json()`),
///   extensions ([`Attempts`](crate::Attempts)) included.
/// - Errors: `reqwest::Error`; its connect errors classify as
///   [`ErrorClass::NeverSent`](crate::ErrorClass::NeverSent), so even a POST
///   is retried after a refused connection.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use tower::ServiceBuilder;
/// use tower_http_retry::{ReqwestService, RetryLayer, RetryPolicy};
///
/// let client = ServiceBuilder::new()
///     .layer(RetryLayer::new(RetryPolicy::default()))
///     .service(ReqwestService::new(reqwest::Client::new()));
/// # fn is_service<S: tower::Service<http::Request<Full<Bytes>>>>(_: &S) {}
/// # is_service(&client);
/// ```
///
/// From reqwest's request builder to the stack, and back:
///
/// ```no_run
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_http_retry::{ReplayBodyLayer, ReqwestService, RetryLayer, RetryPolicy};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let http = reqwest::Client::new();
/// let client = ServiceBuilder::new()
///     .layer(ReplayBodyLayer::new(64 * 1024)) // reqwest::Body is not Clone
///     .layer(RetryLayer::new(RetryPolicy::default()))
///     .service(ReqwestService::new(http.clone()));
///
/// let request = http.get("http://127.0.0.1:8080/").build()?;
/// let response = client.oneshot(http::Request::try_from(request)?).await?;
/// let text = reqwest::Response::from(response).text().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestService {
    client: ::reqwest::Client,
}

impl ReqwestService {
    /// Wraps `client` (cheap to clone: reqwest shares its pool).
    pub fn new(client: ::reqwest::Client) -> Self {
        ReqwestService { client }
    }

    /// The wrapped client.
    pub fn get_ref(&self) -> &::reqwest::Client {
        &self.client
    }

    /// Unwraps the client.
    pub fn into_inner(self) -> ::reqwest::Client {
        self.client
    }
}

impl<B> Service<http::Request<B>> for ReqwestService
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<tower::BoxError>,
{
    type Response = http::Response<::reqwest::Body>;
    type Error = ::reqwest::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // reqwest's client is always ready: it queues in its pool.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let req = req.map(request_body::into_reqwest_body);
        let state = match ::reqwest::Request::try_from(req) {
            Ok(req) => State::Pending {
                pending: self.client.call(req),
            },
            Err(e) => State::Failed { error: Some(e) },
        };
        ResponseFuture { state }
    }
}

pin_project! {
    /// The response future of [`ReqwestService`].
    pub struct ResponseFuture {
        #[pin]
        state: State,
    }
}

pin_project! {
    #[project = StateProj]
    enum State {
        Pending { #[pin] pending: Pending },
        // The request could not be converted (a URI reqwest refuses).
        Failed { error: Option<::reqwest::Error> },
    }
}

impl std::fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<::reqwest::Body>, ::reqwest::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Pending { pending } => pending.poll(cx).map_ok(http::Response::from),
            StateProj::Failed { error } => match error.take() {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
        }
    }
}
