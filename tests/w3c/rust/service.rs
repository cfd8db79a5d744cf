//! The W3C Trace Context test service (github.com/w3c/trace-context,
//! `test/`) for the Rust core: [`W3CPropagator`] with `opentelemetry_sdk`
//! making the span. For each POST, the harness's headers are extracted, the
//! SDK starts a server span under them, and each `{"url", "arguments"}` of
//! the JSON body is posted onward from a client span of its own, its context
//! injected.
//!
//! HTTP/1.1 over `std::net`, as much as the harness needs (one request per
//! connection, `Content-Length` bodies), so the example builds from the
//! workspace's existing dependencies.
//!
//! Usage: `cargo run -p tracewire --features otel --example w3c_service -- PORT`

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use tracewire::otel::W3CPropagator;

/// A request's header lines, names lowercased, in order.
struct Headers(Vec<(String, String)>);

impl Extractor for Headers {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let lines: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        (!lines.is_empty()).then_some(lines)
    }
}

/// Reads one request: its header lines and body.
fn read_request(reader: &mut impl BufRead) -> io::Result<(Headers, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line)?; // the request line
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            // HTTP strips optional whitespace around a field value.
            let value = value.trim_matches([' ', '\t']);
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((Headers(headers), body))
}

/// POSTs `body` to `url` (`http://host:port/path`) with `headers`.
fn post(url: &str, headers: &HashMap<String, String>, body: &[u8]) -> io::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::other(format!("not an http URL: {url}")))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        if path.is_empty() { "/" } else { path },
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    stream.write_all(body)?;
    // The harness answers and closes (Connection: close).
    io::copy(&mut stream, &mut io::sink())?;
    Ok(())
}

fn serve(stream: TcpStream, tracer: &SdkTracer) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let (headers, body) = read_request(&mut reader)?;
    let calls: Vec<serde_json::Value> = if body.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&body).map_err(io::Error::other)?
    };
    let parent = W3CPropagator.extract(&headers);
    let span = tracer
        .span_builder("w3c")
        .with_kind(SpanKind::Server)
        .start_with_context(tracer, &parent);
    let cx = parent.with_span(span);
    for call in &calls {
        let client = tracer
            .span_builder("call")
            .with_kind(SpanKind::Client)
            .start_with_context(tracer, &cx);
        let mut out = HashMap::new();
        W3CPropagator.inject_context(&cx.with_span(client), &mut out);
        let url = call["url"].as_str().unwrap_or_default();
        post(url, &out, call["arguments"].to_string().as_bytes())?;
    }
    (&stream).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

fn main() -> io::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "5000".into());
    let listener = TcpListener::bind(("127.0.0.1", port.parse().map_err(io::Error::other)?))?;
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("tracewire-w3c");
    std::thread::scope(|threads| {
        for stream in listener.incoming() {
            let tracer = &tracer;
            match stream {
                Ok(stream) => {
                    threads.spawn(move || {
                        if let Err(e) = serve(stream, tracer) {
                            eprintln!("w3c_service: {e}");
                        }
                    });
                }
                Err(e) => eprintln!("w3c_service: accept: {e}"),
            }
        }
    });
    Ok(())
}
