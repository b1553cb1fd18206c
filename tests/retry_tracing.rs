//! What RetryLayer tells `tracing`: one event per retry, one when giving up,
//! nothing on the success path.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::Method;
use support::*;
use tower::{ServiceBuilder, ServiceExt};
use tower_http_retry::RetryLayer;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

type Events = Arc<Mutex<Vec<BTreeMap<String, String>>>>;

struct Capture(Events);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if !event.metadata().target().starts_with("tower_http_retry") {
            return;
        }
        let mut fields = BTreeMap::new();
        fields.insert("level".into(), event.metadata().level().to_string());
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}

fn capture() -> (Events, tracing::subscriber::DefaultGuard) {
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(Capture(events.clone()));
    (events, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn one_event_per_retry_and_one_when_giving_up() {
    let (events, _guard) = capture();
    let server = TestServer::start(|_, _| status(503)).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();

    let events = events.lock().unwrap();
    assert_eq!(events.len(), 3, "{events:#?}");
    for (i, e) in events[..2].iter().enumerate() {
        assert_eq!(e["message"], "retrying request");
        assert_eq!(e["level"], "DEBUG");
        assert_eq!(e["attempt"], (i + 1).to_string());
        assert_eq!(e["delay_ms"], "1");
        assert_eq!(e["delay_from"], "backoff");
        assert_eq!(e["reason"], "503");
        assert_eq!(e["method"], "GET");
        assert_eq!(e["host"], "127.0.0.1");
    }
    let last = &events[2];
    assert_eq!(last["message"], "giving up on request");
    assert_eq!(last["level"], "INFO");
    assert_eq!(last["attempts"], "3");
    assert_eq!(last["reason"], "503");
    assert_eq!(last["why"], "max attempts reached");
}

// hyper-util's connect error is recognised with the `hyper-util` feature.
#[cfg(feature = "hyper-util")]
#[tokio::test]
async fn an_error_reason_names_its_class() {
    let (events, _guard) = capture();
    let addr = closed_port().await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy().max_attempts(2)))
        .service(client());
    svc.oneshot(request(Method::POST, &format!("http://{addr}/")))
        .await
        .unwrap_err();
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["reason"], "never_sent");
    assert_eq!(events[0]["method"], "POST");
    assert_eq!(events[1]["why"], "max attempts reached");
}

#[tokio::test]
async fn the_success_path_is_silent() {
    let (events, _guard) = capture();
    let server = TestServer::statuses(&[404]).await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    svc.clone()
        .oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    assert!(events.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_retry_after_wait_says_so() {
    let (events, _guard) = capture();
    let server = TestServer::start(|n, _| {
        if n == 0 {
            status_with(503, "retry-after", b"0")
        } else {
            status(200)
        }
    })
    .await;
    let svc = ServiceBuilder::new()
        .layer(RetryLayer::new(fast_policy()))
        .service(client());
    svc.oneshot(request(Method::GET, &server.url("/")))
        .await
        .unwrap();
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["delay_from"], "retry-after");
    assert_eq!(events[0]["delay_ms"], "0");
}
