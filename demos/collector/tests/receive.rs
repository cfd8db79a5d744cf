//! The collector binary on a free loopback port, fed by the real OTLP/HTTP
//! exporter (protobuf) and a hand-written JSON request, then stopped with
//! SIGTERM: the file it writes holds every span, the HTML trace view beside
//! it too, and bad requests get 4xx.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opentelemetry::trace::{Span, TraceContextExt, Tracer, TracerProvider};
use tracewire::otel::export::{ExportConfig, init};

fn start(out: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["--listen", "127.0.0.1:0", "--out"])
        .arg(out)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("READY ")
        .expect("READY line")
        .to_owned();
    (child, url)
}

fn post(url: &str, path: &str, content_type: &str, body: &[u8]) -> String {
    request(url, "POST", path, &[("Content-Type", content_type)], body)
}

/// One HTTP/1.1 exchange on a new connection; the whole response.
fn request(url: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// The value of response header `name` (case-insensitive), if present.
fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next().unwrap();
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[test]
fn spans_from_the_otlp_exporter_and_json_land_in_the_file() {
    let dir = std::env::temp_dir().join(format!("collector-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("traces.json");
    let (mut child, url) = start(&out);

    let telemetry = init(
        ExportConfig::default()
            .with_endpoint(&url)
            .with_service_name("unit"),
    )
    .unwrap();
    let tracer = telemetry.tracer_provider().tracer("test");
    let parent = tracer.start("parent");
    let cx = opentelemetry::Context::current_with_span(parent);
    tracer.start_with_context("child", &cx).end();
    cx.span().end();
    telemetry.shutdown().unwrap();

    let json = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json"}}]},
      "scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
      "name":"from json","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    assert!(post(&url, "/v1/traces", "application/json", json).starts_with("HTTP/1.1 200"));
    assert!(post(&url, "/v1/metrics", "application/x-protobuf", b"").starts_with("HTTP/1.1 200"));
    let bad = post(&url, "/v1/traces", "application/x-protobuf", b"\xff\xff");
    assert!(
        bad.starts_with("HTTP/1.1 400") && bad.contains("ExportTraceServiceRequest"),
        "{bad}"
    );
    assert!(post(&url, "/v2/nothing", "application/json", b"{}").starts_with("HTTP/1.1 404"));
    assert!(post(&url, "/v1/traces", "text/plain", b"").starts_with("HTTP/1.1 415"));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());

    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let traces = written["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 2, "{written:#}");
    let spans: Vec<&serde_json::Value> = traces
        .iter()
        .flat_map(|t| t["spans"].as_array().unwrap())
        .collect();
    let by_name = |n: &str| *spans.iter().find(|s| s["name"] == n).unwrap();
    let (parent, child_span) = (by_name("parent"), by_name("child"));
    assert_eq!(child_span["parent_span_id"], parent["span_id"]);
    assert_eq!(parent["parent_span_id"], serde_json::Value::Null);
    assert_eq!(
        (parent["service"].as_str(), parent["language"].as_str()),
        (Some("unit"), Some("rust"))
    );
    assert_eq!(by_name("from json")["kind"], "server");

    // The HTML trace view lands beside the file, with every span in it.
    let page = std::fs::read_to_string(dir.join("traces.html")).unwrap();
    assert!(page.starts_with("<!doctype html>"), "{page}");
    for span in &spans {
        assert!(page.contains(span["span_id"].as_str().unwrap()), "{page}");
    }
    assert!(!dir.join("traces.json.tmp").exists() && !dir.join("traces.html.tmp").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_out_file_named_like_the_trace_view_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_collector"))
        .args(["--listen", "127.0.0.1:0", "--out", "traces.html"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--out traces.html"), "{stderr}");
}

#[test]
fn too_many_spans_for_one_page_leave_no_trace_view() {
    let dir = std::env::temp_dir().join(format!("collector-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("traces.json");
    // A view from an earlier run, which would show other spans; the spans
    // are sibling messages, so the waterfall on stdout stays one line.
    std::fs::write(dir.join("traces.html"), "stale").unwrap();
    let (mut child, url) = start(&out);
    let spans: Vec<String> = (0..20_001)
        .map(|i| {
            format!(
                r#"{{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"{i:016x}","name":"s","kind":4,"startTimeUnixNano":"1","endTimeUnixNano":"2"}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    );
    let response = post(&url, "/v1/traces", "application/json", body.as_bytes());
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(
        written["traces"][0]["spans"].as_array().unwrap().len(),
        20_001
    );
    assert!(!dir.join("traces.html").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_page_on_another_origin_may_export() {
    let dir = std::env::temp_dir().join(format!("collector-cors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (mut child, url) = start(&dir.join("traces.json"));
    let origin = ("Origin", "http://127.0.0.1:8000");

    // The preflight a browser sends before a cross-origin fetch of JSON.
    for path in ["/v1/traces", "/v1/metrics"] {
        let preflight = request(
            &url,
            "OPTIONS",
            path,
            &[
                origin,
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type,x-tenant"),
            ],
            b"",
        );
        assert!(preflight.starts_with("HTTP/1.1 204"), "{preflight}");
        assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
        assert_eq!(
            header(&preflight, "access-control-allow-methods"),
            Some("POST")
        );
        assert_eq!(
            header(&preflight, "access-control-allow-headers"),
            Some("content-type,x-tenant")
        );
    }

    // The export itself, and an error, both readable by the page.
    let json = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"device"}},
      {"key":"telemetry.sdk.language","value":{"stringValue":"webjs"}}]},
      "scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
      "name":"turn","kind":1,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    let headers = [origin, ("Content-Type", "application/json")];
    let ok = request(&url, "POST", "/v1/traces", &headers, json);
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert_eq!(header(&ok, "access-control-allow-origin"), Some("*"));
    let metrics = request(&url, "POST", "/v1/metrics", &headers, b"{}");
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert_eq!(header(&metrics, "access-control-allow-origin"), Some("*"));
    let bad = request(&url, "POST", "/v1/traces", &headers, b"[");
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert_eq!(header(&bad, "access-control-allow-origin"), Some("*"));
    // Only the OTLP paths answer a preflight.
    let elsewhere = request(&url, "OPTIONS", "/", &[origin], b"");
    assert!(elsewhere.starts_with("HTTP/1.1 404"), "{elsewhere}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("traces.json")).unwrap()).unwrap();
    let span = &written["traces"][0]["spans"][0];
    assert_eq!(
        (span["name"].as_str(), span["language"].as_str()),
        (Some("turn"), Some("webjs"))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
