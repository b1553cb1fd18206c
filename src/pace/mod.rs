//! Pacing before the 429: [`RateLimitPaceLayer`].
//!
//! A server that advertises its quota on every response says, before it
//! has to refuse anything, when the quota is spent:
//!
//! - the IETF `RateLimit` field with a policy at `r=0` (`"default";r=0;t=30`:
//!   nothing left for 30 s), or
//! - `RateLimit-Remaining: 0` or `X-RateLimit-Remaining: 0` with its
//!   `RateLimit-Reset` / `X-RateLimit-Reset` (delta-seconds, or a Unix time
//!   from 1,000,000,000 on),
//!
//! on any response, a 200 included. From then on, `RateLimitPaceLayer` holds
//! back every request to that host (its scheme, host and port) until the
//! reset, instead of sending it to earn a 429. A request whose wait would
//! be above [`max_wait`](RateLimitPaceLayer::max_wait) is not held: it fails
//! at once with [`QuotaExhausted`], naming the host and the wait, which
//! [`RetryLayer`](crate::RetryLayer) never retries.
//!
//! Put it beneath the retry layer and above the breaker: a held request is
//! no failure of the downstream. Only hosts whose quota is spent are kept,
//! until their reset, in a map of at most
//! [`max_hosts`](RateLimitPaceLayer::max_hosts) (the least recently used
//! dropped first); while it is empty a call takes no lock. Waiting uses
//! `tokio::time`; the inner service must be `Clone` (a held request takes
//! the readied service with it, as tower's `filter` does).
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower::{service_fn, Service, ServiceBuilder, ServiceExt};
//! use tower_http_retry::pace::{QuotaExhausted, RateLimitPaceLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // A host whose every answer says: nothing left for 2 seconds.
//! let downstream = service_fn(|_req: Request<()>| async {
//!     let res = Response::builder().header("ratelimit", "\"default\";r=0;t=2").body(()).unwrap();
//!     Ok::<_, Infallible>(res)
//! });
//! let mut client = ServiceBuilder::new()
//!     .layer(RateLimitPaceLayer::new().max_wait(Duration::from_secs(5)))
//!     .service(downstream);
//!
//! let start = tokio::time::Instant::now();
//! let req = || Request::get("http://api.example.com/items").body(()).unwrap();
//! client.ready().await.unwrap().call(req()).await.unwrap();
//! client.ready().await.unwrap().call(req()).await.unwrap(); // held back 2 s
//! assert_eq!(start.elapsed(), Duration::from_secs(2));
//!
//! // With a cap below the wait, the request fails at once.
//! let mut impatient = ServiceBuilder::new()
//!     .layer(RateLimitPaceLayer::new().max_wait(Duration::from_secs(1)))
//!     .service(downstream);
//! impatient.ready().await.unwrap().call(req()).await.unwrap();
//! let err = impatient.ready().await.unwrap().call(req()).await.unwrap_err();
//! let quota = err.downcast_ref::<QuotaExhausted>().unwrap();
//! assert_eq!(quota.host(), "http://api.example.com:80");
//! assert_eq!(quota.wait(), Duration::from_secs(2));
//! # }
//! ```

mod error;
pub mod future;
mod hosts;
mod layer;
mod service;

pub use error::QuotaExhausted;
pub use layer::RateLimitPaceLayer;
pub use service::RateLimitPace;
