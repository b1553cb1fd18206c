//! Stress: the first attempt and its hedge answer at the same moment, on
//! different worker threads, many times over. Exactly one response reaches
//! the caller; the other's body is dropped, never delivered; no wake-up is
//! lost (every call completes).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use tokio::sync::Barrier;
use tower::{service_fn, ServiceExt};
use tower_http_retry::{Attempts, HedgeLayer};

/// A response body that counts its drops.
struct Tracked {
    id: usize,
    dropped: Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

const ITERATIONS: usize = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_answers_at_once_exactly_one_reaches_the_caller() {
    for i in 0..ITERATIONS {
        let made = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        // Both attempts answer once both have started.
        let barrier = Arc::new(Barrier::new(2));
        let downstream = {
            let (made, dropped) = (made.clone(), dropped.clone());
            service_fn(move |_req: Request<String>| {
                let id = made.fetch_add(1, Ordering::SeqCst);
                let (barrier, dropped) = (barrier.clone(), dropped.clone());
                // The answer is produced by a task of its own, so the two
                // complete on whichever workers run them.
                let answer = tokio::spawn(async move {
                    barrier.wait().await;
                    Response::new(Tracked { id, dropped })
                });
                async move { answer.await.map_err(tower::BoxError::from) }
            })
        };
        // A zero delay: the hedge starts at the first poll.
        let svc = tower::Layer::layer(
            &HedgeLayer::new(Duration::ZERO).without_budget(),
            downstream,
        );
        let res = tokio::time::timeout(
            Duration::from_secs(10),
            svc.oneshot(Request::new(String::new())),
        )
        .await
        .unwrap_or_else(|_| panic!("iteration {i}: the race never completed"))
        .unwrap();
        assert_eq!(
            res.extensions().get::<Attempts>().map(Attempts::get),
            Some(2)
        );
        assert!(res.body().id < 2);
        assert_eq!(made.load(Ordering::SeqCst), 2);
        // The loser's body is dropped (when its task ends, if it had not
        // yet handed it over); the winner's is alive in our hands.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while dropped.load(Ordering::SeqCst) < 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "iteration {i}: loser body never dropped"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "iteration {i}");
        drop(res);
        assert_eq!(dropped.load(Ordering::SeqCst), 2, "iteration {i}");
    }
}
