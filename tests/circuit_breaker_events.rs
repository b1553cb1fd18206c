//! What a breaker tells of its changes of state: the `on_state_change`
//! callback, and (feature `metrics`) its gauge and counters.

// A panic is how a test reports; clippy's test exemption misses helpers.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use support::Logs;
use tower::{BoxError, Layer, Service, ServiceExt};
use tower_http_retry::circuit_breaker::{CircuitBreakerHandle, StateChange};
use tower_http_retry::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitOpen, CircuitState};

/// A downstream answering 503 while `sick` holds, else 200.
fn downstream(
    sick: Arc<Mutex<bool>>,
) -> impl Service<Request<()>, Response = Response<()>, Error = std::io::Error, Future = impl Send> + Clone
{
    tower::service_fn(move |_req: Request<()>| {
        let sick = *sick.lock().unwrap();
        async move {
            let mut res = Response::new(());
            if sick {
                *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            }
            Ok(res)
        }
    })
}

async fn send<S>(svc: &mut S, uri: &str) -> Result<Response<()>, BoxError>
where
    S: Service<Request<()>, Response = Response<()>, Error = BoxError>,
{
    svc.ready()
        .await?
        .call(Request::get(uri).body(()).unwrap())
        .await
}

/// One line per change; the callback also reads the handle, which would
/// deadlock if it ran under the breaker's or the map's lock.
type Seen = Arc<Mutex<Vec<String>>>;

fn recording(
    handle: Arc<OnceLock<CircuitBreakerHandle>>,
) -> (Seen, impl Fn(&StateChange<'_>) + Send + Sync + 'static) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let callback = move |c: &StateChange<'_>| {
        if let Some(handle) = handle.get() {
            // Takes the map's read lock, and reads every breaker.
            let _ = (handle.hosts(), handle.state());
        }
        log.lock().unwrap().push(format!(
            "{:?} {:?} {}->{} {} forced={} rate={:?} open_for={:?}",
            c.name, c.host, c.from, c.to, c.why, c.forced, c.rate, c.open_for
        ));
    };
    (seen, callback)
}

fn config() -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .name("api")
        .window_size(4)
        .minimum_calls(4)
        .open_duration(Duration::from_secs(10))
}

#[tokio::test(start_paused = true)]
async fn the_callback_is_called_once_per_transition() {
    let cell = Arc::new(OnceLock::new());
    let (seen, callback) = recording(cell.clone());
    let layer = CircuitBreakerLayer::new(config().on_state_change(callback));
    cell.set(layer.handle()).unwrap();
    let handle = layer.handle();
    let sick = Arc::new(Mutex::new(true));
    let mut svc = layer.layer(downstream(sick.clone()));

    for _ in 0..4 {
        send(&mut svc, "http://a/").await.unwrap();
    }
    // Refused calls are no transitions.
    for _ in 0..3 {
        let err = send(&mut svc, "http://a/").await.unwrap_err();
        assert!(err.downcast_ref::<CircuitOpen>().is_some());
    }
    // A failed probe opens it again; a good one closes it.
    tokio::time::advance(Duration::from_secs(10)).await;
    send(&mut svc, "http://a/").await.unwrap();
    *sick.lock().unwrap() = false;
    tokio::time::advance(Duration::from_secs(10)).await;
    send(&mut svc, "http://a/").await.unwrap();
    assert_eq!(handle.state(), CircuitState::Closed);
    handle.force_open();
    handle.reset();

    assert_eq!(
        *seen.lock().unwrap(),
        [
            "Some(\"api\") None closed->open failure_rate forced=false rate=Some(1.0) open_for=Some(10s)",
            "Some(\"api\") None open->half_open open_duration_elapsed forced=false rate=None open_for=None",
            "Some(\"api\") None half_open->open probe_failed forced=false rate=None open_for=Some(10s)",
            "Some(\"api\") None open->half_open open_duration_elapsed forced=false rate=None open_for=None",
            "Some(\"api\") None half_open->closed probes_succeeded forced=false rate=None open_for=None",
            "Some(\"api\") None closed->open forced_open forced=true rate=None open_for=None",
            "Some(\"api\") None open->closed reset forced=false rate=None open_for=None",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn per_host_the_callback_names_the_host() {
    let cell = Arc::new(OnceLock::new());
    let (seen, callback) = recording(cell.clone());
    let layer = CircuitBreakerLayer::per_host(config().on_state_change(callback));
    cell.set(layer.handle()).unwrap();
    let mut svc = layer.layer(downstream(Arc::new(Mutex::new(true))));
    for _ in 0..4 {
        send(&mut svc, "http://a.example/").await.unwrap();
        send(&mut svc, "/no-authority").await.unwrap();
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "Some(\"api\") Some(\"http://a.example:80\") closed->open failure_rate forced=false rate=Some(1.0) open_for=Some(10s)",
            "Some(\"api\") Some(\"\") closed->open failure_rate forced=false rate=Some(1.0) open_for=Some(10s)",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn per_host_tracing_events_name_the_host() {
    let (out, _guard) = Logs::capture();

    let layer = CircuitBreakerLayer::per_host(config());
    let mut svc = layer.layer(downstream(Arc::new(Mutex::new(true))));
    for _ in 0..4 {
        send(&mut svc, "http://a.example/").await.unwrap();
    }
    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    for part in [
        "WARN",
        "tower_http_retry::circuit_breaker::state",
        "circuit breaker opened",
        "breaker=\"api\" host=\"http://a.example:80\" from=\"closed\" to=\"open\"",
    ] {
        assert!(lines[0].contains(part), "{} lacks {part}", lines[0]);
    }
}

#[cfg(feature = "metrics")]
mod metrics {
    use std::collections::BTreeMap;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    /// Every counter and gauge, as `name{label=value,…}` → value.
    fn snapshot(recorder: &DebuggingRecorder) -> BTreeMap<String, f64> {
        let mut all = BTreeMap::new();
        for (key, _, _, value) in recorder.snapshotter().snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<_> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let value = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(_) => continue,
            };
            all.insert(format!("{}{{{}}}", key.name(), labels.join(",")), value);
        }
        all
    }

    #[tokio::test(start_paused = true)]
    async fn circuit_state_transitions_and_rejections_are_recorded() {
        let recorder = DebuggingRecorder::new();
        // For this thread (current-thread runtime), from before the breaker
        // is made.
        let _guard = ::metrics::set_default_local_recorder(&recorder);
        let layer = CircuitBreakerLayer::new(config());
        let sick = Arc::new(Mutex::new(true));
        let mut svc = layer.layer(downstream(sick.clone()));
        assert_eq!(
            snapshot(&recorder)["tower_http_retry_circuit_state{breaker=api}"],
            0.0
        );
        for _ in 0..4 {
            send(&mut svc, "http://a/").await.unwrap();
        }
        for _ in 0..3 {
            send(&mut svc, "http://a/").await.unwrap_err();
        }
        let m = snapshot(&recorder);
        assert_eq!(m["tower_http_retry_circuit_state{breaker=api}"], 2.0);
        assert_eq!(
            m["tower_http_retry_circuit_transitions_total{breaker=api,from=closed,to=open}"],
            1.0
        );
        assert_eq!(
            m["tower_http_retry_circuit_rejected_total{breaker=api}"],
            3.0
        );

        *sick.lock().unwrap() = false;
        tokio::time::advance(Duration::from_secs(10)).await;
        send(&mut svc, "http://a/").await.unwrap();
        let m = snapshot(&recorder);
        assert_eq!(m["tower_http_retry_circuit_state{breaker=api}"], 0.0);
        assert_eq!(
            m["tower_http_retry_circuit_transitions_total{breaker=api,from=open,to=half_open}"],
            1.0
        );
        assert_eq!(
            m["tower_http_retry_circuit_transitions_total{breaker=api,from=half_open,to=closed}"],
            1.0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn per_host_metrics_are_labelled_by_host() {
        let recorder = DebuggingRecorder::new();
        let _guard = ::metrics::set_default_local_recorder(&recorder);
        let layer = CircuitBreakerLayer::per_host(config().max_hosts(2));
        let handle = layer.handle();
        let mut sick_svc = layer.layer(downstream(Arc::new(Mutex::new(true))));
        let mut good_svc = layer.layer(downstream(Arc::new(Mutex::new(false))));
        for _ in 0..4 {
            send(&mut sick_svc, "http://sick/").await.unwrap();
            send(&mut good_svc, "http://good/").await.unwrap();
        }
        send(&mut sick_svc, "http://sick/").await.unwrap_err();
        let m = snapshot(&recorder);
        assert_eq!(
            m["tower_http_retry_circuit_state{breaker=api,host=http://sick:80}"],
            2.0
        );
        assert_eq!(
            m["tower_http_retry_circuit_state{breaker=api,host=http://good:80}"],
            0.0
        );
        assert_eq!(
            m["tower_http_retry_circuit_transitions_total{breaker=api,from=closed,host=http://sick:80,to=open}"],
            1.0
        );
        assert_eq!(
            m["tower_http_retry_circuit_rejected_total{breaker=api,host=http://sick:80}"],
            1.0
        );

        // A third host drops `good`, the closed one: its gauge goes back to
        // closed, and `sick` is kept.
        send(&mut good_svc, "http://third/").await.unwrap();
        assert_eq!(handle.host_count(), 2);
        let m = snapshot(&recorder);
        assert_eq!(
            m["tower_http_retry_circuit_state{breaker=api,host=http://third:80}"],
            0.0
        );
        assert_eq!(
            handle.state_for(&"http://sick/".parse().unwrap()),
            CircuitState::Open
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_host_gauge_goes_back_to_closed() {
        let recorder = DebuggingRecorder::new();
        let _guard = ::metrics::set_default_local_recorder(&recorder);
        let layer = CircuitBreakerLayer::per_host(config().max_hosts(1));
        let mut svc = layer.layer(downstream(Arc::new(Mutex::new(true))));
        for _ in 0..4 {
            send(&mut svc, "http://sick/").await.unwrap();
        }
        let gauge = "tower_http_retry_circuit_state{breaker=api,host=http://sick:80}";
        assert_eq!(snapshot(&recorder)[gauge], 2.0);
        // Every breaker is open: the least recently used of all goes.
        send(&mut svc, "http://other/").await.unwrap();
        assert_eq!(snapshot(&recorder)[gauge], 0.0);
    }
}
