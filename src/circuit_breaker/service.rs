use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::BoxError;
use tower_service::Service;

use super::future::{Guard, ResponseFuture};
use super::per_host::Breakers;
use super::state::Breaker;
use super::{CircuitBreakerConfig, CircuitBreakerHandle, CircuitBreakerLayer};

/// A circuit breaker around a service: made by
/// [`CircuitBreakerLayer`](crate::CircuitBreakerLayer), whose docs show it
/// at work.
///
/// Every clone shares one breaker (or, made by
/// [`CircuitBreakerLayer::per_host`](crate::CircuitBreakerLayer::per_host),
/// one map of per-host breakers). While it is open, `poll_ready` is ready
/// at once, without polling the inner service, and `call` fails with
/// [`CircuitOpen`](crate::CircuitOpen) without calling it (tower's
/// `LoadShed` convention). Per host, only the second half holds: the host
/// is known only in `call`, so `poll_ready` always polls the inner service
/// and waits on it (see [Readiness](crate::circuit_breaker#readiness)).
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use tower::{service_fn, ServiceExt};
/// use tower_http_retry::{CircuitBreakerConfig, CircuitState};
/// use tower_http_retry::circuit_breaker::CircuitBreaker;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let svc = CircuitBreaker::new(
///     service_fn(|_req: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }),
///     CircuitBreakerConfig::default(),
/// );
/// let handle = svc.handle();
/// let res = svc.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(handle.state(), CircuitState::Closed);
/// # }
/// ```
#[derive(Debug)]
pub struct CircuitBreaker<S> {
    inner: S,
    breakers: Breakers,
    /// Whether `inner` was polled ready and not called since.
    inner_ready: bool,
}

impl<S: Clone> Clone for CircuitBreaker<S> {
    fn clone(&self) -> Self {
        CircuitBreaker {
            inner: self.inner.clone(),
            breakers: self.breakers.clone(),
            // The clone's inner service was not polled.
            inner_ready: false,
        }
    }
}

impl<S> CircuitBreaker<S> {
    /// A breaker of its own around `inner`.
    ///
    /// # Panics
    ///
    /// If the settings of `config` are inconsistent (see
    /// [`CircuitBreakerConfig`]).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use http::{Request, Response};
    /// use tower::service_fn;
    /// use tower_http_retry::CircuitBreakerConfig;
    /// use tower_http_retry::circuit_breaker::CircuitBreaker;
    ///
    /// let svc = CircuitBreaker::new(
    ///     service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) }),
    ///     CircuitBreakerConfig::default().minimum_calls(5),
    /// );
    /// ```
    pub fn new(inner: S, config: CircuitBreakerConfig) -> Self {
        Self::shared(inner, Breakers::One(Breaker::new(config)))
    }

    pub(crate) fn shared(inner: S, breakers: Breakers) -> Self {
        CircuitBreaker {
            inner,
            breakers,
            inner_ready: false,
        }
    }

    /// A layer making `CircuitBreaker`s that share one breaker: the same as
    /// [`CircuitBreakerLayer::new`].
    ///
    /// ```
    /// use tower_http_retry::CircuitBreakerConfig;
    /// use tower_http_retry::circuit_breaker::CircuitBreaker;
    /// let layer = CircuitBreaker::<()>::layer(CircuitBreakerConfig::default());
    /// ```
    pub fn layer(config: CircuitBreakerConfig) -> CircuitBreakerLayer {
        CircuitBreakerLayer::new(config)
    }

    /// A handle on the breaker: its state, its window, manual control.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use http::{Request, Response};
    /// # use tower::service_fn;
    /// use tower_http_retry::{CircuitBreakerConfig, CircuitState};
    /// use tower_http_retry::circuit_breaker::CircuitBreaker;
    /// # let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    /// let svc = CircuitBreaker::new(inner, CircuitBreakerConfig::default());
    /// assert_eq!(svc.handle().state(), CircuitState::Closed);
    /// ```
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(self.breakers.clone())
    }

    /// The inner service.
    ///
    /// ```
    /// use tower_http_retry::CircuitBreakerConfig;
    /// use tower_http_retry::circuit_breaker::CircuitBreaker;
    /// let svc = CircuitBreaker::new(7, CircuitBreakerConfig::default());
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    ///
    /// ```
    /// use tower_http_retry::CircuitBreakerConfig;
    /// use tower_http_retry::circuit_breaker::CircuitBreaker;
    /// let mut svc = CircuitBreaker::new(7, CircuitBreakerConfig::default());
    /// *svc.get_mut() += 1;
    /// assert_eq!(*svc.get_ref(), 8);
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming the breaker's service.
    ///
    /// ```
    /// use tower_http_retry::CircuitBreakerConfig;
    /// use tower_http_retry::circuit_breaker::CircuitBreaker;
    /// let svc = CircuitBreaker::new(7, CircuitBreakerConfig::default());
    /// assert_eq!(svc.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResB> Service<Request<B>> for CircuitBreaker<S>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.inner_ready {
            return Poll::Ready(Ok(()));
        }
        // Per host, the next call's host is not known yet: poll the inner
        // service, and let `call` refuse.
        if let Breakers::One(breaker) = &self.breakers {
            if breaker.is_rejecting(|| breaker.now()) {
                // Ready at once: `call` will refuse without the inner service.
                return Poll::Ready(Ok(()));
            }
        }
        match self.inner.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                self.inner_ready = true;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e.into())),
            Poll::Pending => Poll::Pending,
        }
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> Self::Future {
        let breaker: Arc<Breaker> = self.breakers.for_uri(req.uri());
        let permit = match breaker.try_acquire(|| breaker.now()) {
            Ok(permit) => permit,
            Err(open) => return ResponseFuture::rejected(open),
        };
        if !self.inner_ready {
            // `poll_ready` found the breaker open and did not poll the
            // inner service; it has let a call through since. Calling an
            // inner service that is not ready would break its contract
            // (`ConcurrencyLimit`, `Buffer`): refuse this one, as it was
            // open when the caller asked. The guard gives a probe's permit
            // back.
            let open = breaker.rejection(None);
            Guard::new(breaker, permit).discard();
            return ResponseFuture::rejected(open);
        }
        let mut guard = Guard::new(breaker, permit);
        guard.keep_request(&req);
        self.inner_ready = false;
        ResponseFuture::called(self.inner.call(req), guard)
    }
}
