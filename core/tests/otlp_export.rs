//! OTLP/HTTP export: environment parsing, delivery to a real (tiny) HTTP
//! receiver, and bounded shutdown when the collector is down.
//!
//! Every test uses `init(config)` with its own listener on 127.0.0.1, never
//! the process environment, so the tests can run in parallel.
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{Span, Tracer, TracerProvider};
use tracewire::otel::export::{self, ExportConfig, ExportCounts, ExportError, Signal, Telemetry};

/// The bound every shutdown must meet beyond the configured timeout.
const MARGIN: Duration = Duration::from_secs(2);
/// No test thread lives longer than this, whatever happens.
const THREAD_LIFETIME: Duration = Duration::from_secs(30);

/// A set of environment variables for one table case.
type Vars = &'static [(&'static str, &'static str)];

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn record_some_telemetry(telemetry: &Telemetry) {
    let tracer = telemetry.tracer_provider().tracer("otlp-export-test");
    for i in 0..5 {
        let mut span = tracer.start(format!("ws.message {i}"));
        span.set_attribute(opentelemetry::KeyValue::new("websocket.message.index", i));
        span.end();
    }
    let counter = telemetry
        .meter_provider()
        .meter("otlp-export-test")
        .u64_counter("tracewire.test.messages")
        .build();
    counter.add(5, &[]);
}

// ---------------------------------------------------------------------------
// Environment parsing (pure: no process environment involved)

#[test]
fn env_defaults_follow_the_spec() {
    let config = ExportConfig::from_env_map(env(&[])).unwrap();
    assert!(!config.disabled);
    assert_eq!(config.service_name, None);
    assert_eq!(config.traces_endpoint, "http://localhost:4318/v1/traces");
    assert_eq!(config.metrics_endpoint, "http://localhost:4318/v1/metrics");
    assert_eq!(config.timeout, Duration::from_secs(10));
    assert!(config.headers.is_empty());
    assert_eq!(
        format!("{:?}", config.sampler),
        format!(
            "{:?}",
            opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
                opentelemetry_sdk::trace::Sampler::AlwaysOn
            ))
        )
    );
}

#[test]
fn env_endpoints() {
    // (variables, expected traces endpoint, expected metrics endpoint, reason)
    let cases: &[(Vars, &str, &str, &str)] = &[
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")],
            "http://collector:4318/v1/traces",
            "http://collector:4318/v1/metrics",
            "signal paths are appended to the base",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")],
            "http://collector:4318/v1/traces",
            "http://collector:4318/v1/metrics",
            "a trailing slash does not double",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://gw/otlp")],
            "http://gw/otlp/v1/traces",
            "http://gw/otlp/v1/metrics",
            "a base path is kept",
        ),
        (
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1234/custom"),
            ],
            "http://t:1234/custom",
            "http://base:4318/v1/metrics",
            "a per-signal endpoint is used as is and wins over the base",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/")],
            "http://localhost:4318/v1/traces",
            "http://m:9/",
            "per-signal metrics endpoint used as is, traces keep the default",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "")],
            "http://localhost:4318/v1/traces",
            "http://localhost:4318/v1/metrics",
            "an empty variable counts as unset",
        ),
    ];
    for (vars, traces, metrics, reason) in cases {
        let config = ExportConfig::from_env_map(env(vars)).unwrap();
        assert_eq!(config.traces_endpoint, *traces, "{reason}");
        assert_eq!(config.metrics_endpoint, *metrics, "{reason}");
    }
}

#[test]
fn env_service_resource_headers_timeout_sampler_disabled() {
    let config = ExportConfig::from_env_map(env(&[
        ("OTEL_SERVICE_NAME", "voice-gateway"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=ignored, deployment.environment=dev,team=a%20b",
        ),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20x,x-tenant=7",
        ),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ("OTEL_SDK_DISABLED", "TRUE"),
    ]))
    .unwrap();
    assert_eq!(config.service_name.as_deref(), Some("voice-gateway"));
    assert_eq!(
        config.resource_attributes,
        vec![
            ("service.name".to_owned(), "ignored".to_owned()),
            ("deployment.environment".to_owned(), "dev".to_owned()),
            ("team".to_owned(), "a b".to_owned()),
        ]
    );
    // Header values stay encoded: the exporter decodes them.
    assert_eq!(
        config.headers,
        vec![
            ("authorization".to_owned(), "Bearer%20x".to_owned()),
            ("x-tenant".to_owned(), "7".to_owned()),
        ]
    );
    assert_eq!(config.timeout, Duration::from_millis(2500));
    let sampler = format!("{:?}", config.sampler);
    assert!(
        sampler.contains("ParentBased") && sampler.contains("TraceIdRatioBased(0.25)"),
        "{sampler}"
    );
    assert!(config.disabled);

    let not_disabled = ExportConfig::from_env_map(env(&[("OTEL_SDK_DISABLED", "false")])).unwrap();
    assert!(!not_disabled.disabled);
}

#[test]
fn env_rejects_what_it_cannot_honour() {
    // (variables, words the message must contain, reason)
    let cases: &[(Vars, &[&str], &str)] = &[
        (
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
            &["OTEL_EXPORTER_OTLP_PROTOCOL", "\"grpc\"", "http/protobuf"],
            "gRPC is not built in",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            &["\"http/json\"", "http/protobuf"],
            "JSON is not built in",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")],
            &["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"],
            "per-signal protocol is checked too",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")],
            &["OTEL_EXPORTER_OTLP_TIMEOUT", "\"10s\"", "milliseconds"],
            "timeout is whole milliseconds",
        ),
        (
            &[("OTEL_TRACES_SAMPLER", "jaeger_remote")],
            &["OTEL_TRACES_SAMPLER", "jaeger_remote", "traceidratio"],
            "unknown sampler",
        ),
        (
            &[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ],
            &["OTEL_TRACES_SAMPLER_ARG", "0.0 and 1.0"],
            "ratio out of range",
        ),
        (
            &[("OTEL_RESOURCE_ATTRIBUTES", "a=1,broken")],
            &["OTEL_RESOURCE_ATTRIBUTES", "broken", "key=value"],
            "resource attribute without =",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_HEADERS", "=x")],
            &["OTEL_EXPORTER_OTLP_HEADERS", "empty key"],
            "header without a name",
        ),
    ];
    for (vars, words, reason) in cases {
        let message = ExportConfig::from_env_map(env(vars))
            .err()
            .unwrap_or_else(|| panic!("expected an error: {reason}"))
            .to_string();
        for word in *words {
            assert!(
                message.contains(word),
                "{reason}: {message:?} lacks {word:?}"
            );
        }
    }
}

#[test]
fn env_exporters_follow_the_spec() {
    // (variables, spans exported, metrics exported, reason)
    let cases: &[(Vars, bool, bool, &str)] = &[
        (&[], true, true, "otlp is the default"),
        (
            &[("OTEL_METRICS_EXPORTER", "none")],
            true,
            false,
            "metrics off",
        ),
        (
            &[("OTEL_TRACES_EXPORTER", "none")],
            false,
            true,
            "traces off",
        ),
        (
            &[("OTEL_TRACES_EXPORTER", " otlp ")],
            true,
            true,
            "spaces trimmed",
        ),
        (
            &[("OTEL_METRICS_EXPORTER", "otlp,otlp")],
            true,
            true,
            "a list of one kind",
        ),
        (
            &[("OTEL_METRICS_EXPORTER", "")],
            true,
            true,
            "empty counts as unset",
        ),
        (
            &[("OTEL_LOGS_EXPORTER", "none")],
            true,
            true,
            "logs are not exported here",
        ),
    ];
    for (vars, traces, metrics, reason) in cases {
        let config = ExportConfig::from_env_map(env(vars)).unwrap();
        assert_eq!(config.export_traces, *traces, "{reason}");
        assert_eq!(config.export_metrics, *metrics, "{reason}");
    }
    for (variable, value) in [
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
        ("OTEL_METRICS_EXPORTER", "otlp,none"),
        ("OTEL_LOGS_EXPORTER", "console"),
    ] {
        let message = ExportConfig::from_env_map(env(&[(variable, value)]))
            .expect_err(value)
            .to_string();
        assert!(message.contains(variable), "{message}");
        assert!(message.contains("\"otlp\""), "{message}");
    }
}

#[test]
fn init_rejects_unusable_endpoints() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "https://collector:4318",
            if cfg!(feature = "otlp-tls") {
                &[]
            } else {
                &["https", "otlp-tls"]
            },
            "https needs the TLS feature",
        ),
        ("ftp://collector", &["http://"], "wrong scheme"),
        ("not a url", &["absolute URL"], "not a URL"),
    ];
    for (endpoint, words, reason) in cases {
        let result = export::init(ExportConfig::default().with_endpoint(endpoint));
        if words.is_empty() {
            assert!(result.is_ok(), "{reason}");
            continue;
        }
        let message = result.err().unwrap().to_string();
        assert!(
            message.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            "{message}"
        );
        for word in *words {
            assert!(
                message.contains(word),
                "{reason}: {message:?} lacks {word:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Delivery to a real HTTP receiver

#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A minimal OTLP/HTTP receiver: answers every request with `200` and an
/// empty protobuf body (or `404` on the paths it rejects, as a traces-only
/// backend such as Jaeger does for `/v1/metrics`), and hands the request to
/// the test.
struct Receiver {
    port: u16,
    requests: mpsc::Receiver<Request>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start() -> Self {
        Self::rejecting(&[])
    }

    /// A receiver that answers `404 Not Found` on `rejected` paths.
    fn rejecting(rejected: &'static [&'static str]) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), rejected)
    }

    /// A receiver that starts answering on `listener`, bound earlier (until
    /// now its connections waited in the backlog, unanswered).
    fn on(listener: TcpListener, rejected: &'static [&'static str]) -> Self {
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, requests) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            while !stop_flag.load(Ordering::Relaxed) && started.elapsed() < THREAD_LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let tx = tx.clone();
                        std::thread::spawn(move || serve(stream, &tx, rejected));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits for the next request to `path`, skipping others.
    fn next_to(&self, path: &str, within: Duration) -> Option<Request> {
        let deadline = Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let request = self.requests.recv_timeout(remaining).ok()?;
            if request.path == path {
                return Some(request);
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves requests on one connection until the peer closes it.
fn serve(mut stream: TcpStream, tx: &mpsc::Sender<Request>, rejected: &[&str]) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer) else {
            return;
        };
        let reply: &[u8] = if rejected.contains(&request.path.as_str()) {
            b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\nnot found"
        } else {
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
        };
        if stream.write_all(reply).is_err() || tx.send(request).is_err() {
            return;
        }
    }
}

fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    // The exporter sends a sized body; chunked uploads are not expected.
    let length: usize = headers.get("content-length")?.parse().ok()?;
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[header_end..header_end + length].to_vec();
    buffer.drain(..header_end + length);
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn spans_and_metrics_reach_the_receiver_as_protobuf() {
    let receiver = Receiver::start();
    let service = "tracewire-otlp-test-service";
    let config = ExportConfig::default()
        .with_endpoint(&receiver.endpoint())
        .with_service_name(service)
        .with_resource_attribute("deployment.environment", "test")
        .with_header("x-tracewire-test", "yes%21")
        .with_timeout(Duration::from_secs(5));
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);

    let started = Instant::now();
    telemetry.force_flush().unwrap();
    eprintln!(
        "force_flush to a live receiver took {:?}",
        started.elapsed()
    );

    let traces = receiver
        .next_to("/v1/traces", Duration::from_secs(5))
        .expect("no POST to /v1/traces after force_flush");
    assert_eq!(traces.method, "POST");
    assert_eq!(
        traces.headers.get("content-type").map(String::as_str),
        Some("application/x-protobuf")
    );
    assert_eq!(
        traces.headers.get("x-tracewire-test").map(String::as_str),
        Some("yes!"),
        "configured header, percent-decoded"
    );
    assert!(!traces.body.is_empty());
    assert!(contains(&traces.body, service.as_bytes()), "service.name");
    assert!(contains(&traces.body, b"deployment.environment"));
    assert!(contains(&traces.body, b"ws.message 4"), "span name");

    let started = Instant::now();
    telemetry.shutdown().unwrap();
    eprintln!("shutdown with a live receiver took {:?}", started.elapsed());

    let metrics = receiver
        .next_to("/v1/metrics", Duration::from_secs(5))
        .expect("no POST to /v1/metrics");
    assert_eq!(
        metrics.headers.get("content-type").map(String::as_str),
        Some("application/x-protobuf")
    );
    assert!(contains(&metrics.body, b"tracewire.test.messages"));
    assert!(contains(&metrics.body, service.as_bytes()));
}

#[test]
fn a_traces_only_backend_fails_nothing_but_its_metrics() {
    // Jaeger and Tempo answer 404 on /v1/metrics.
    let receiver = Receiver::rejecting(&["/v1/metrics"]);
    let config = ExportConfig::default()
        .with_endpoint(&receiver.endpoint())
        .with_service_name("traces-only-backend")
        .with_timeout(Duration::from_secs(5));
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);
    telemetry
        .force_flush()
        .expect("a rejected signal does not fail a flush");
    record_some_telemetry(&telemetry);

    let traces = receiver
        .next_to("/v1/traces", Duration::from_secs(5))
        .expect("spans still reach the backend");
    assert!(contains(&traces.body, b"traces-only-backend"));
    let metrics = telemetry.export_counts(Signal::Metrics);
    assert!(metrics.failed >= 1, "{metrics:?}");
    assert_eq!(metrics.exported, 0, "{metrics:?}");
    assert!(telemetry.export_counts(Signal::Traces).exported >= 1);

    // What made the demo's gateway exit 1 against Jaeger: the final metric
    // export at shutdown is rejected too.
    telemetry
        .shutdown()
        .expect("a rejected signal does not fail shutdown");
}

#[test]
fn a_signal_exported_as_none_is_never_sent() {
    let receiver = Receiver::start();
    let config = ExportConfig::from_env_map(env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint()),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
    ]))
    .unwrap();
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);
    telemetry.force_flush().unwrap();
    assert!(
        receiver
            .next_to("/v1/traces", Duration::from_secs(5))
            .is_some()
    );
    let metrics = telemetry.export_counts(Signal::Metrics);
    telemetry.shutdown().unwrap();
    assert_eq!(metrics, ExportCounts::default());
    assert!(
        receiver
            .next_to("/v1/metrics", Duration::from_millis(500))
            .is_none(),
        "OTEL_METRICS_EXPORTER=none sends no metrics"
    );
}

#[test]
fn spans_are_sent_on_shutdown_without_a_flush() {
    let receiver = Receiver::start();
    let config = ExportConfig::default()
        .with_endpoint(&receiver.endpoint())
        .with_service_name("shutdown-only-service")
        .with_timeout(Duration::from_secs(5));
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);
    telemetry.shutdown().unwrap();
    let traces = receiver
        .next_to("/v1/traces", Duration::from_secs(5))
        .expect("no POST to /v1/traces after shutdown");
    assert!(contains(&traces.body, b"shutdown-only-service"));
}

#[test]
fn disabled_exports_nothing_and_shuts_down_at_once() {
    let receiver = Receiver::start();
    let config = ExportConfig::default()
        .with_endpoint(&receiver.endpoint())
        .with_disabled(true);
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);
    let started = Instant::now();
    telemetry.shutdown().unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(
        receiver
            .requests
            .recv_timeout(Duration::from_millis(300))
            .is_err(),
        "nothing may be sent when disabled"
    );
}

// ---------------------------------------------------------------------------
// Bounded shutdown when the collector is down

/// A port on which nothing listens: connections are refused.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Accepts connections and never reads or answers, like a collector whose
/// process hangs or a firewall that swallows traffic after the handshake.
struct BlackHole {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BlackHole {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut held = Vec::new();
            while !stop_flag.load(Ordering::Relaxed) && started.elapsed() < THREAD_LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn shutdown_time_against(port: u16, timeout: Duration) -> (Duration, Result<(), ExportError>) {
    let config = ExportConfig::default()
        .with_endpoint(&format!("http://127.0.0.1:{port}"))
        .with_service_name("collector-down")
        .with_timeout(timeout);
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);
    let started = Instant::now();
    let result = telemetry.shutdown();
    (started.elapsed(), result)
}

#[test]
fn shutdown_is_bounded_when_the_connection_is_refused() {
    let timeout = Duration::from_secs(1);
    let (elapsed, result) = shutdown_time_against(closed_port(), timeout);
    eprintln!("shutdown, connection refused: {elapsed:?} -> {result:?}");
    assert!(elapsed < timeout + MARGIN, "took {elapsed:?}");
    // A collector that is down fails the export, never the application.
    result.expect("a refused export is counted, not an error of shutdown");
}

#[test]
fn refused_exports_are_counted() {
    let config = ExportConfig::default()
        .with_endpoint(&format!("http://127.0.0.1:{}", closed_port()))
        .with_timeout(Duration::from_secs(1));
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);
    assert!(telemetry.force_flush().is_ok());
    let traces = telemetry.export_counts(Signal::Traces);
    let metrics = telemetry.export_counts(Signal::Metrics);
    assert_eq!(traces.exported, 0, "{traces:?}");
    assert!(traces.failed >= 1, "{traces:?}");
    assert!(metrics.failed >= 1, "{metrics:?}");
}

#[test]
fn shutdown_is_bounded_when_the_collector_never_answers() {
    let black_hole = BlackHole::start();
    let timeout = Duration::from_secs(1);
    let (elapsed, result) = shutdown_time_against(black_hole.port, timeout);
    eprintln!("shutdown, black hole: {elapsed:?} -> {result:?}");
    assert!(elapsed < timeout + MARGIN, "took {elapsed:?}");
    assert!(result.is_err(), "undelivered spans must be reported");
}

#[test]
fn flush_and_drop_are_bounded_when_the_collector_never_answers() {
    let black_hole = BlackHole::start();
    let timeout = Duration::from_secs(1);
    let config = ExportConfig::default()
        .with_endpoint(&format!("http://127.0.0.1:{}", black_hole.port))
        .with_timeout(timeout);
    let telemetry = export::init(config).unwrap();
    record_some_telemetry(&telemetry);

    let started = Instant::now();
    let flushed = telemetry.force_flush();
    let flush_elapsed = started.elapsed();
    eprintln!("force_flush, black hole: {flush_elapsed:?} -> {flushed:?}");
    assert!(
        flush_elapsed < timeout + MARGIN,
        "flush took {flush_elapsed:?}"
    );

    record_some_telemetry(&telemetry);
    let started = Instant::now();
    drop(telemetry);
    let drop_elapsed = started.elapsed();
    eprintln!("drop, black hole: {drop_elapsed:?}");
    assert!(
        drop_elapsed < timeout + MARGIN,
        "drop took {drop_elapsed:?}"
    );
}

#[test]
fn spans_dropped_from_a_full_queue_are_counted() {
    // A collector that takes connections but answers nothing yet: the batch
    // processor's worker waits in its first export while the application
    // ends more spans than the queue (2048 by default) holds.
    let stalled = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = ExportConfig::default()
        .with_endpoint(&format!("http://{}", stalled.local_addr().unwrap()))
        .with_service_name("full-queue")
        .with_timeout(Duration::from_secs(5));
    let telemetry = export::init(config).unwrap();
    let tracer = telemetry.tracer_provider().tracer("otlp-export-test");
    let ended: u64 = 5000;
    for i in 0..ended {
        tracer.start(format!("span {i}")).end();
    }
    // The collector answers from now on; a flush empties the queue, so every
    // span not dropped has been in an export request.
    let receiver = Receiver::on(stalled, &[]);
    telemetry.force_flush().unwrap();
    let counts = telemetry.export_counts(Signal::Traces);
    assert_eq!(counts.failed, 0, "{counts:?}");
    // Through went the queue's 2048 and at most one batch (512) that the
    // worker had taken before the queue filled up.
    assert!(
        (ended - 2048 - 512..=ended - 2048).contains(&counts.spans_not_exported),
        "{counts:?}"
    );
    telemetry.shutdown().unwrap();
    drop(receiver);
}
