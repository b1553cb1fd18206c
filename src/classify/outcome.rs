//! [`Outcome`]: what a classifier sees of one attempt.

use std::error::Error;
use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri};

use crate::body::BufferedBytes;

/// One attempt's outcome, as a [`Classifier`](crate::retry::Classifier)
/// sees it: the request's method, URI and headers, the attempt number, and
/// the response (status, headers, and the whole body when it was buffered)
/// or the error.
///
/// It borrows from the request and the response: building one copies
/// nothing.
///
/// ```
/// use http::{Method, Request, Response, StatusCode};
/// use tower_http_retry::retry::Outcome;
///
/// let req = Request::post("http://example.com/orders").body(()).unwrap();
/// let res = Response::builder().status(StatusCode::CONFLICT).body(()).unwrap();
/// let outcome = Outcome::from_response(&req, &res, 1);
/// assert_eq!(outcome.method(), Method::POST);
/// assert_eq!(outcome.status(), Some(StatusCode::CONFLICT));
/// assert_eq!(outcome.attempt(), 1);
/// assert!(outcome.body().is_none()); // nothing buffered it
/// assert!(outcome.error().is_none());
/// ```
#[derive(Clone, Copy)]
pub struct Outcome<'a> {
    method: &'a Method,
    uri: &'a Uri,
    request_headers: &'a HeaderMap,
    attempt: u32,
    result: Answer<'a>,
}

/// The response's part of an [`Outcome`], or the error's.
#[derive(Clone, Copy)]
enum Answer<'a> {
    Response {
        status: StatusCode,
        headers: &'a HeaderMap,
        body: Option<&'a Bytes>,
    },
    /// `None` when the error's type is one the crate cannot see as an
    /// `Error` (a concrete type it does not know).
    Error(Option<&'a (dyn Error + 'static)>),
}

impl<'a> Outcome<'a> {
    /// The outcome of attempt `attempt` (1 = the first) of `request`,
    /// answered with `response`. [`body()`](Self::body) is the body that
    /// `BufferResponseLayer` read, when the
    /// response went through it. For a classifier's unit tests.
    pub fn from_response<B, ResB>(
        request: &'a Request<B>,
        response: &'a Response<ResB>,
        attempt: u32,
    ) -> Self {
        let parts = RequestView::of(request);
        parts.answered(response, attempt)
    }

    /// The outcome of attempt `attempt` (1 = the first) of `request`,
    /// failed with `error`. For a classifier's unit tests.
    ///
    /// ```
    /// use tower_http_retry::retry::Outcome;
    ///
    /// let req = http::Request::get("http://example.com/").body(()).unwrap();
    /// let err = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    /// let outcome = Outcome::from_error(&req, &err, 2);
    /// assert!(outcome.status().is_none());
    /// assert!(outcome.error().is_some_and(|e| e.is::<std::io::Error>()));
    /// ```
    pub fn from_error<B>(
        request: &'a Request<B>,
        error: &'a (dyn Error + 'static),
        attempt: u32,
    ) -> Self {
        RequestView::of(request).failed(Some(error), attempt)
    }

    /// The request's method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request's URI.
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The request's headers.
    pub fn request_headers(&self) -> &'a HeaderMap {
        self.request_headers
    }

    /// The attempt this is the outcome of: 1 for the first, 2 for the first
    /// retry, …
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The response's status; `None` for an error.
    pub fn status(&self) -> Option<StatusCode> {
        match self.result {
            Answer::Response { status, .. } => Some(status),
            Answer::Error(_) => None,
        }
    }

    /// The response's headers; `None` for an error.
    pub fn headers(&self) -> Option<&'a HeaderMap> {
        match self.result {
            Answer::Response { headers, .. } => Some(headers),
            Answer::Error(_) => None,
        }
    }

    /// The whole response body, when
    /// `BufferResponseLayer` beneath the
    /// retry layer read it within its limit; `None` otherwise (no such
    /// layer, a body over the limit, an error).
    pub fn body(&self) -> Option<&'a Bytes> {
        match self.result {
            Answer::Response { body, .. } => body,
            Answer::Error(_) => None,
        }
    }

    /// The error, for an attempt that failed; `None` for a response.
    ///
    /// The service's error as a `dyn Error` (walk its
    /// [`source()`](Error::source) chain and downcast): a boxed error
    /// (`tower::BoxError`, which every layer of this crate returns), or a
    /// concrete error type the crate knows (`std::io::Error`, hyper's,
    /// hyper-util's, reqwest's, …). An error of a concrete type it does not
    /// know is an error all the same, but `None` here: box it
    /// (`map_err(Into::into)`) to see it. [`is_error`](Self::is_error)
    /// tells an error from a response either way.
    pub fn error(&self) -> Option<&'a (dyn Error + 'static)> {
        match self.result {
            Answer::Error(error) => error,
            Answer::Response { .. } => None,
        }
    }

    /// Whether the attempt failed with an error (rather than a response).
    pub fn is_error(&self) -> bool {
        matches!(self.result, Answer::Error(_))
    }
}

impl fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Outcome");
        d.field("method", self.method)
            .field("uri", self.uri)
            .field("attempt", &self.attempt);
        match self.result {
            Answer::Response { status, body, .. } => d
                .field("status", &status)
                .field("body_len", &body.map(Bytes::len)),
            Answer::Error(error) => d.field("error", &error.map(|e| e.to_string())),
        };
        d.finish_non_exhaustive()
    }
}

/// The request's part of an [`Outcome`]: what a layer keeps of a request
/// whose outcome it will judge. The retry policy reads it from the request
/// it keeps for the next attempt; a layer that gives the request away (the
/// breaker, in `call`) keeps these three fields, and learns the attempt
/// number from the request's `ResendCount` (none: the first attempt).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
}

impl<'a> RequestView<'a> {
    pub(crate) fn of<B>(request: &'a Request<B>) -> Self {
        RequestView {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
        }
    }

    /// The outcome of attempt `attempt`, answered with `response`.
    pub(crate) fn answered<ResB>(self, response: &'a Response<ResB>, attempt: u32) -> Outcome<'a> {
        // Put there by `BufferResponseLayer`, whatever the body type.
        let body = response.extensions().get::<BufferedBytes>().map(|b| &b.0);
        self.outcome(
            attempt,
            Answer::Response {
                status: response.status(),
                headers: response.headers(),
                body,
            },
        )
    }

    /// The outcome of attempt `attempt`, failed with `error` (`None`: an
    /// error the crate cannot see as a `dyn Error`).
    pub(crate) fn failed(
        self,
        error: Option<&'a (dyn Error + 'static)>,
        attempt: u32,
    ) -> Outcome<'a> {
        self.outcome(attempt, Answer::Error(error))
    }

    fn outcome(self, attempt: u32, result: Answer<'a>) -> Outcome<'a> {
        Outcome {
            method: self.method,
            uri: self.uri,
            request_headers: self.headers,
            attempt,
            result,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use http::{Request, Response, StatusCode};
    use tower::{service_fn, ServiceBuilder, ServiceExt};

    use crate::backoff::ConstantBackoff;
    use crate::body::BufferedBytes;
    use crate::retry::{Attempts, Outcome, Verdict};
    use crate::{RetryLayer, RetryPolicy};

    /// A response as `BufferResponseLayer` leaves it: the whole body in an
    /// extension.
    fn buffered(status: StatusCode, body: &'static str) -> Response<()> {
        let mut res = Response::builder().status(status).body(()).unwrap();
        res.extensions_mut()
            .insert(BufferedBytes(bytes::Bytes::from_static(body.as_bytes())));
        res
    }

    #[tokio::test]
    async fn the_classifier_reads_a_buffered_body() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let policy = RetryPolicy::default()
            .backoff(ConstantBackoff::new(std::time::Duration::from_millis(1)))
            .classify(move |o: &Outcome<'_>| {
                seen2.lock().unwrap().push(o.body().cloned());
                match o.body() {
                    Some(b) if b.starts_with(b"{\"error\":\"overloaded\"") => Verdict::Retry,
                    _ => Verdict::Default,
                }
            });
        let calls = Arc::new(Mutex::new(0));
        let svc = service_fn(move |_req: Request<()>| {
            let n = {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            async move {
                Ok::<_, Infallible>(match n {
                    // A 200 whose body says it failed: retried.
                    1 => buffered(StatusCode::OK, "{\"error\":\"overloaded\"}"),
                    2 => buffered(StatusCode::OK, "{\"ok\":true}"),
                    _ => Response::new(()),
                })
            }
        });
        let client = ServiceBuilder::new()
            .layer(RetryLayer::new(policy))
            .service(svc);
        let res = client.oneshot(Request::new(())).await.unwrap();
        assert_eq!(
            res.extensions().get::<Attempts>().map(Attempts::get),
            Some(2)
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [
                Some(bytes::Bytes::from_static(b"{\"error\":\"overloaded\"}")),
                Some(bytes::Bytes::from_static(b"{\"ok\":true}")),
            ]
        );
    }

    #[test]
    fn a_response_without_the_extension_has_no_body() {
        let req = Request::new(());
        let plain = Response::new(());
        assert_eq!(Outcome::from_response(&req, &plain, 1).body(), None);
        let res = buffered(StatusCode::OK, "whole");
        let outcome = Outcome::from_response(&req, &res, 1);
        assert_eq!(outcome.body().map(|b| &b[..]), Some(&b"whole"[..]));
        assert!(!outcome.is_error());
    }
}
