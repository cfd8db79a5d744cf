//! `collector`: a small OTLP/HTTP receiver for the demos.
//!
//! Accepts `POST /v1/traces` (protobuf or JSON, optionally gzip) and answers
//! `/v1/metrics` and `/v1/logs` without keeping them. It answers CORS
//! preflights and allows every origin, so a page (the browser device)
//! exports to it with `fetch`. On SIGTERM or SIGINT
//! it writes every span to `--out`, the HTML trace view of every trace
//! beside it (the same path with the extension `.html`; up to
//! 20,000 spans, so not for `make load`), and prints each trace
//! as a waterfall.
//!
//! ```text
//! collector [--listen 127.0.0.1:4318] [--out traces.json] [--quiet]
//! ```

mod html;
mod otlp;
mod waterfall;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, CONTENT_ENCODING, CONTENT_TYPE,
    HeaderValue,
};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use otlp::{Encoding, SpanRecord};

const USAGE: &str = "usage: collector [--listen 127.0.0.1:4318] [--out traces.json] [--quiet]
  --out FILE  on stop, write the spans to FILE (JSON) and the HTML trace view
              beside it: FILE with the extension .html (traces.html; runs of
              up to 20000 spans)";

struct Options {
    listen: SocketAddr,
    out: Option<PathBuf>,
    quiet: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 4318)),
        out: None,
        quiet: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                options.listen = v.parse().map_err(|e| format!("--listen {v:?}: {e}"))?;
            }
            "--out" => {
                let out = PathBuf::from(value("--out")?);
                if out.extension().is_some_and(|e| e == "html") {
                    return Err(format!(
                        "--out {}: the trace view takes the name with .html; give the JSON file another extension",
                        out.display()
                    ));
                }
                options.out = Some(out);
            }
            "--quiet" => options.quiet = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(options)
}

type Store = Arc<Mutex<Vec<SpanRecord>>>;

fn main() {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("collector: {message}");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("collector: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(message) = runtime.block_on(run(options)) {
        eprintln!("collector: {message}");
        std::process::exit(1);
    }
}

async fn run(options: Options) -> Result<(), String> {
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    println!("READY http://{address}");

    let store: Store = Arc::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => { eprintln!("collector: accept failed: {e}"); continue; }
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(req, store.clone()));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
                        eprintln!("collector: connection from {peer}: {e}");
                    }
                });
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }

    let spans = std::mem::take(&mut *store.lock().unwrap_or_else(PoisonError::into_inner));
    if let Some(path) = &options.out {
        let json =
            serde_json::to_vec_pretty(&waterfall::to_json(&spans)).map_err(|e| e.to_string())?;
        write_atomically(path, &json)?;
        let view = path.with_extension("html");
        if spans.len() <= html::MAX_SPANS {
            write_atomically(&view, html::page(&spans).as_bytes())?;
            eprintln!("collector: trace view in {}", view.display());
        } else {
            // A view left by an earlier run would show other spans.
            match std::fs::remove_file(&view) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("cannot remove {}: {e}", view.display())),
            }
            eprintln!(
                "collector: no trace view: {} spans, more than one page draws usefully ({})",
                spans.len(),
                html::MAX_SPANS
            );
        }
    }
    if !options.quiet {
        let by_id = waterfall::by_id(&spans);
        for trace in waterfall::traces(&spans) {
            println!("{}", waterfall::render(&trace, &by_id));
        }
    }
    eprintln!("collector: received {} spans", spans.len());
    Ok(())
}

fn write_atomically(path: &Path, text: &[u8]) -> Result<(), String> {
    // `traces.json.tmp`, `traces.html.tmp`: one temporary name per file.
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

async fn handle(
    request: Request<Incoming>,
    store: Store,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = match answer(request, &store).await {
        Ok(response) => response,
        Err((status, message)) => {
            eprintln!("collector: {status}: {message}");
            reply(
                status,
                "text/plain; charset=utf-8",
                format!("{message}\n").into_bytes(),
            )
        }
    };
    // A page on another origin reads the answer (errors too) only with this;
    // the exporter sends no credentials, so `*` is allowed.
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(response)
}

async fn answer(
    request: Request<Incoming>,
    store: &Store,
) -> Result<Response<Full<Bytes>>, (StatusCode, String)> {
    let signal = match request.uri().path() {
        path @ ("/v1/traces" | "/v1/metrics" | "/v1/logs") => path.to_owned(),
        other => {
            return Err((
                StatusCode::NOT_FOUND,
                format!("no such path {other}; OTLP/HTTP uses /v1/traces, /v1/metrics, /v1/logs"),
            ));
        }
    };
    if request.method() == Method::OPTIONS {
        return Ok(preflight(&request));
    }
    if request.method() != Method::POST {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} {signal}: only POST", request.method()),
        ));
    }
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let encoding = Encoding::from_content_type(&header(CONTENT_TYPE).unwrap_or_default())
        .map_err(|e| (StatusCode::UNSUPPORTED_MEDIA_TYPE, e))?;
    let content_encoding = header(CONTENT_ENCODING);
    let body = request
        .into_body()
        .collect()
        .await
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("reading the body: {e}")))?
        .to_bytes();
    if signal == "/v1/traces" {
        let body = otlp::decompress(content_encoding.as_deref(), &body)
            .map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        let spans =
            otlp::decode_traces(encoding, &body).map_err(|e| (StatusCode::BAD_REQUEST, e))?;
        store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(spans);
    }
    Ok(reply(
        StatusCode::OK,
        encoding.content_type(),
        encoding.empty_response(),
    ))
}

/// The answer to a CORS preflight: a page's `fetch` of JSON (a content type
/// a form cannot send) asks first whether it may POST with those headers.
fn preflight(request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    // Whatever it asks for (Content-Type, and the exporter's configured
    // headers): this receiver checks no header but the two it reads.
    if let Some(asked) = request.headers().get(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

fn reply(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
