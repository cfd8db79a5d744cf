//! Traced tokio-tungstenite client and server over real loopback sockets,
//! with spans checked through the SDK's in-memory exporter.
#![cfg(feature = "tokio-tungstenite")]

use futures_util::{SinkExt, StreamExt};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tracewire::envelope::binary;
use tracewire::handshake::{AppProtocols, Envelopes};
use tracewire::model::Model;
use tracewire::ws::{self, Config};

struct Telemetry {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

impl Telemetry {
    fn new() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        Telemetry { exporter, provider }
    }

    fn config(&self, model: Model) -> Config {
        Config::default()
            .model(model)
            .tracer_provider(&self.provider)
    }

    fn spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().expect("spans")
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The `nth` span (by start time) with this name and kind.
fn find<'a>(spans: &'a [SpanData], name: &str, kind: SpanKind, nth: usize) -> &'a SpanData {
    let mut matching: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == name && s.span_kind == kind)
        .collect();
    matching.sort_by_key(|s| s.start_time);
    matching.into_iter().nth(nth).unwrap_or_else(|| {
        panic!(
            "no {kind:?} span {name} #{nth} in {:#?}",
            spans
                .iter()
                .map(|s| (&s.name, &s.span_kind))
                .collect::<Vec<_>>()
        )
    })
}

fn links_to(span: &SpanData, target: &SpanData) -> bool {
    span.links
        .links
        .iter()
        .any(|l| l.span_context.span_id() == target.span_context.span_id())
}

/// Runs a traced echo server for one connection; returns its address.
async fn echo_server(config: Config) -> (String, tokio::task::JoinHandle<Vec<Option<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut socket = ws::accept(tcp, &config).await.expect("handshake");
        let mut errors = Vec::new();
        while let Some(Ok(received)) = socket.next().await {
            errors.push(
                received
                    .envelope_error
                    .as_ref()
                    .map(|e| e.code().name().to_owned()),
            );
            if let m @ (Message::Text(_) | Message::Binary(_)) = received.message {
                // Reply inside the process span: the reply carries the server's context.
                socket.send_in(&received.context, m).await.expect("echo");
            }
        }
        errors
    });
    (format!("ws://{addr}/chat"), handle)
}

const JSON: &str = r#"{"type":"chat","text":"hello"}"#;

#[tokio::test]
async fn connection_model_one_trace_with_envelopes_both_ways() {
    let t = Telemetry::new();
    let (url, server) = echo_server(t.config(Model::Connection)).await;
    let (mut client, _) = ws::connect(url.as_str(), &t.config(Model::Connection))
        .await
        .expect("connect");
    assert_eq!(client.envelopes(), Envelopes::ALL);
    // No ambient span: message spans hang under the connection span.
    client
        .send_in(&Context::new(), Message::text(JSON))
        .await
        .expect("send");
    let echo = client.next().await.expect("echo").expect("ok");
    assert_eq!(
        echo.message,
        Message::text(JSON.to_owned()),
        "the application sees its own JSON"
    );
    drop(echo); // ends its process span
    client
        .send_in(
            &Context::new(),
            Message::binary(Bytes::from_static(b"\x00\x01audio")),
        )
        .await
        .expect("send");
    let echo = client.next().await.expect("echo").expect("ok");
    assert_eq!(
        echo.message,
        Message::binary(Bytes::from_static(b"\x00\x01audio"))
    );
    drop(echo);
    client
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .expect("close");
    while client.next().await.is_some() {}
    server.await.expect("server");

    let spans = t.spans();
    let trace_id = spans[0].span_context.trace_id();
    assert!(
        spans.iter().all(|s| s.span_context.trace_id() == trace_id),
        "one trace"
    );
    let connect = find(&spans, "connect /chat", SpanKind::Client, 0);
    let accept = find(&spans, "accept /chat", SpanKind::Server, 0);
    assert_eq!(
        accept.parent_span_id,
        connect.span_context.span_id(),
        "server joins via the handshake"
    );
    assert_eq!(
        attr(connect, "websocket.session.id"),
        attr(accept, "websocket.session.id")
    );
    assert_eq!(
        attr(connect, "websocket.close.code"),
        Some(&Value::I64(1000))
    );
    assert_eq!(
        attr(connect, "websocket.close.reason"),
        Some(&Value::from("bye"))
    );
    assert_eq!(
        attr(accept, "websocket.close.code"),
        Some(&Value::I64(1000))
    );
    for i in 0..2 {
        let client_send = find(&spans, "send /chat", SpanKind::Producer, 2 * i);
        let server_process = find(&spans, "process /chat", SpanKind::Consumer, 2 * i);
        let server_send = find(&spans, "send /chat", SpanKind::Producer, 1 + 2 * i);
        let client_process = find(&spans, "process /chat", SpanKind::Consumer, 1 + 2 * i);
        assert_eq!(client_send.parent_span_id, connect.span_context.span_id());
        assert_eq!(
            server_process.parent_span_id,
            client_send.span_context.span_id(),
            "message {i}: client -> server envelope"
        );
        assert!(links_to(server_process, accept));
        assert_eq!(
            server_send.parent_span_id,
            server_process.span_context.span_id(),
            "reply inside the handler"
        );
        assert_eq!(
            client_process.parent_span_id,
            server_send.span_context.span_id(),
            "message {i}: server -> client envelope"
        );
        let (ty, size) = if i == 0 {
            ("text", JSON.len() as i64)
        } else {
            ("binary", 7)
        };
        assert_eq!(
            attr(client_send, "websocket.message.type"),
            Some(&Value::from(ty))
        );
        assert_eq!(
            attr(server_process, "messaging.message.body.size"),
            Some(&Value::I64(size)),
            "size without the envelope"
        );
    }
}

#[tokio::test]
async fn message_model_one_trace_per_request_linked_to_connection() {
    let t = Telemetry::new();
    let (url, server) = echo_server(t.config(Model::Message)).await;
    let (mut client, _) = ws::connect(url.as_str(), &t.config(Model::Message))
        .await
        .expect("connect");
    let tracer = t.provider.tracer("test");
    for turn in 0..2 {
        let span = tracer.start(format!("turn {turn}"));
        let cx = Context::new().with_span(span);
        client
            .send_in(&cx, Message::text(JSON))
            .await
            .expect("send");
        let echo = client.next().await.expect("echo").expect("ok");
        assert_eq!(
            echo.context.span().span_context().trace_id(),
            cx.span().span_context().trace_id()
        );
        drop(echo);
        cx.span().end();
    }
    client.close(None).await.expect("close");
    while client.next().await.is_some() {}
    server.await.expect("server");

    let spans = t.spans();
    let connect = find(&spans, "connect /chat", SpanKind::Client, 0);
    let accept = find(&spans, "accept /chat", SpanKind::Server, 0);
    assert_eq!(accept.parent_span_id, connect.span_context.span_id());
    let session = attr(connect, "websocket.session.id")
        .expect("session id")
        .clone();
    for turn in 0..2 {
        let root = find(&spans, &format!("turn {turn}"), SpanKind::Internal, 0);
        let trace = root.span_context.trace_id();
        assert_ne!(
            trace,
            connect.span_context.trace_id(),
            "each turn is its own trace"
        );
        let in_turn: Vec<&SpanData> = spans
            .iter()
            .filter(|s| s.span_context.trace_id() == trace)
            .collect();
        assert_eq!(in_turn.len(), 5, "turn, 2 sends, 2 process spans");
        for s in in_turn.iter().filter(|s| s.name != root.name) {
            assert_eq!(attr(s, "websocket.session.id"), Some(&session));
            assert!(
                links_to(s, connect) || links_to(s, accept),
                "{} links to a connection span",
                s.name
            );
        }
    }
    let close = find(&spans, "close /chat", SpanKind::Internal, 0);
    assert!(attr(close, "websocket.close.code").is_some());
}

#[tokio::test]
async fn plain_client_with_traced_server_messages_intact() {
    let t = Telemetry::new();
    let (url, server) = echo_server(t.config(Model::Connection)).await;
    let (mut plain, response) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connect");
    assert!(
        response.headers().get("sec-websocket-protocol").is_none(),
        "nothing offered, nothing selected"
    );
    let bin = Bytes::from_static(&[0xF5, 0x54, 0x57, 0x01, 0xff]);
    for m in [Message::text(JSON), Message::binary(bin.clone())] {
        plain.send(m.clone()).await.expect("send");
        assert_eq!(
            plain.next().await.expect("echo").expect("ok"),
            m,
            "echoed byte for byte"
        );
    }
    plain.close(None).await.expect("close");
    while plain.next().await.is_some() {}
    assert_eq!(
        server.await.expect("server"),
        vec![None, None, None],
        "no envelope errors"
    );
    let spans = t.spans();
    let accept = find(&spans, "accept /chat", SpanKind::Server, 0);
    let process = find(&spans, "process /chat", SpanKind::Consumer, 0);
    assert_eq!(
        process.parent_span_id,
        accept.span_context.span_id(),
        "no context: under the connection span"
    );
}

/// A tokio-tungstenite server that knows nothing of tracewire, for one
/// connection: selects `app` when the client offers it (as an application
/// server does), echoes every data message and returns them.
async fn plain_echo_server(
    app: Option<&'static str>,
) -> (String, tokio::task::JoinHandle<Vec<Message>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/plain", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        // The error type is tungstenite's; this callback never fails.
        #[allow(clippy::result_large_err)]
        let select = |request: &Request, mut response: Response| {
            let offered = request
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if let Some(app) = app.filter(|a| offered.split(',').any(|t| t.trim() == *a)) {
                response
                    .headers_mut()
                    .insert("sec-websocket-protocol", app.parse().expect("value"));
            }
            Ok(response)
        };
        let mut socket = tokio_tungstenite::accept_hdr_async(tcp, select)
            .await
            .expect("handshake");
        let mut seen = Vec::new();
        while let Some(Ok(m)) = socket.next().await {
            if m.is_close() {
                break;
            }
            seen.push(m.clone());
            socket.send(m).await.expect("echo");
        }
        seen
    });
    (url, server)
}

/// Sends a JSON text and a binary message, checks each echo, closes, and
/// returns what was sent.
async fn exchange<S>(client: &mut ws::TracedStream<S>) -> Vec<Message>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let sent = vec![
        Message::text(JSON),
        Message::binary(Bytes::from_static(b"raw")),
    ];
    for m in sent.clone() {
        client.send(m.clone()).await.expect("send");
        assert_eq!(client.next().await.expect("echo").expect("ok").message, m);
    }
    client.close(None).await.expect("close");
    while client.next().await.is_some() {}
    sent
}

#[tokio::test]
async fn traced_client_with_plain_app_server_messages_intact() {
    let t = Telemetry::new();
    let (url, server) = plain_echo_server(Some("mcp")).await;
    let config = t
        .config(Model::Connection)
        .app_protocols(AppProtocols::new(["mcp"]).expect("token"));
    let (mut client, response) = ws::connect(url.as_str(), &config).await.expect("connect");
    assert_eq!(response.headers()["sec-websocket-protocol"], "mcp");
    assert_eq!(
        client.envelopes(),
        Envelopes::NONE,
        "the plain server selected mcp alone: no envelope"
    );
    assert_eq!(
        client.app_protocol(),
        Some("mcp"),
        "the application keeps its protocol"
    );
    let sent = exchange(&mut client).await;
    assert_eq!(
        server.await.expect("server"),
        sent,
        "the plain server saw exactly what was sent"
    );
}

#[tokio::test]
async fn traced_client_offering_nothing_with_plain_server_messages_intact() {
    let t = Telemetry::new();
    let (url, server) = plain_echo_server(None).await;
    let config = t.config(Model::Connection).envelopes(Envelopes::NONE);
    let (mut client, _) = ws::connect(url.as_str(), &config).await.expect("connect");
    assert_eq!(client.envelopes(), Envelopes::NONE);
    let sent = exchange(&mut client).await;
    assert_eq!(server.await.expect("server"), sent);
    let spans = t.spans();
    find(&spans, "connect /plain", SpanKind::Client, 0);
}

#[tokio::test]
async fn traced_client_offering_envelopes_to_a_server_selecting_none_talks_plain() {
    let t = Telemetry::new();
    let (url, server) = plain_echo_server(None).await;
    let (mut client, response) = ws::connect(url.as_str(), &t.config(Model::Connection))
        .await
        .expect("a plain server that selects nothing is no error");
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    assert_eq!(
        client.envelopes(),
        Envelopes::NONE,
        "nothing selected: no envelope"
    );
    let sent = exchange(&mut client).await;
    assert_eq!(
        server.await.expect("server"),
        sent,
        "the plain server saw exactly what was sent"
    );
    let spans = t.spans();
    find(&spans, "connect /plain", SpanKind::Client, 0);
}

#[tokio::test]
async fn app_protocol_composed_with_envelopes_between_traced_peers() {
    let t = Telemetry::new();
    let apps = AppProtocols::new(["graphql-transport-ws", "mcp"]).expect("tokens");
    let server_apps = AppProtocols::new(["mcp"]).expect("token");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/mcp", listener.local_addr().expect("addr"));
    let config = t.config(Model::Connection);
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let server_config = config
            .envelopes(Envelopes {
                json: true,
                binary: false,
            })
            .app_protocols(server_apps);
        let mut socket = ws::accept(tcp, &server_config).await.expect("handshake");
        let seen = (socket.envelopes(), socket.app_protocol().map(str::to_owned));
        while let Some(Ok(received)) = socket.next().await {
            if let m @ Message::Text(_) = received.message {
                socket.send_in(&received.context, m).await.expect("echo");
            }
        }
        seen
    });
    let config = t.config(Model::Connection).app_protocols(apps);
    let (mut client, response) = ws::connect(url.as_str(), &config).await.expect("connect");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "tracewire.v1.json+mcp"
    );
    assert_eq!(client.app_protocol(), Some("mcp"));
    assert!(client.envelopes().json && !client.envelopes().binary);
    client.send(Message::text(JSON)).await.expect("send");
    let echo = client.next().await.expect("echo").expect("ok");
    assert_eq!(
        echo.message,
        Message::text(JSON),
        "members stripped on receipt"
    );
    client.close(None).await.expect("close");
    while client.next().await.is_some() {}
    let (envelopes, app) = server.await.expect("server");
    assert!(envelopes.json && !envelopes.binary);
    assert_eq!(
        app.as_deref(),
        Some("mcp"),
        "the server application sees mcp"
    );
    let spans = t.spans();
    let send = find(&spans, "send /mcp", SpanKind::Producer, 0);
    let process = find(&spans, "process /mcp", SpanKind::Consumer, 0);
    assert_eq!(
        process.parent_span_id,
        send.span_context.span_id(),
        "the envelope carried the context"
    );
}

#[tokio::test]
async fn plain_app_client_with_traced_app_server_gets_no_envelope() {
    let t = Telemetry::new();
    let config = t
        .config(Model::Connection)
        .app_protocols(AppProtocols::new(["mcp"]).expect("token"));
    let (url, server) = echo_server(config).await;
    let mut request = url.as_str().into_client_request().expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "mcp".parse().expect("value"));
    let (mut plain, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(response.headers()["sec-websocket-protocol"], "mcp");
    let bin = Message::binary(Bytes::from_static(&[0xF5, 0x54, 0x57, 0x01, 0x00, 7]));
    for m in [Message::text(JSON), bin] {
        plain.send(m.clone()).await.expect("send");
        assert_eq!(
            plain.next().await.expect("echo").expect("ok"),
            m,
            "no tracewire token selected: nothing enveloped toward this client"
        );
    }
    plain.close(None).await.expect("close");
    while plain.next().await.is_some() {}
    // Two data messages and the close frame, none with an envelope error.
    assert_eq!(server.await.expect("server"), vec![None, None, None]);
}

#[tokio::test]
async fn malformed_envelope_is_delivered_with_its_bytes_and_an_error() {
    let t = Telemetry::new();
    let (url, server) = echo_server(t.config(Model::Connection)).await;
    let mut request = url.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "tracewire.v1.binary".parse().expect("value"),
    );
    let (mut raw, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    let truncated = Bytes::from_static(&[0xF5, 0x54, 0x57, 0x02, 0x00, 0x20, 0x01, 0xaa]);
    raw.send(Message::binary(truncated.clone()))
        .await
        .expect("send");
    let echo = raw.next().await.expect("echo").expect("ok");
    // The server echoed what it was handed, enveloped: strip the envelope to compare.
    let Message::Binary(frame) = echo else {
        panic!("binary expected")
    };
    assert_eq!(
        binary::decode(&frame).payload(),
        &truncated[..],
        "the server got the original bytes"
    );
    raw.close(None).await.expect("close");
    while raw.next().await.is_some() {}
    let errors = server.await.expect("server");
    assert_eq!(errors[0].as_deref(), Some("invalid_envelope"));
    let spans = t.spans();
    let process = find(&spans, "process /chat", SpanKind::Consumer, 0);
    // The standard OpenTelemetry exception event, with core's error code.
    let event = process
        .events
        .events
        .iter()
        .find(|e| e.name == tracewire::model::keys::EXCEPTION_EVENT)
        .expect("an exception event");
    let attr = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(
        attr(tracewire::model::keys::EXCEPTION_TYPE).as_deref(),
        Some("invalid_envelope")
    );
    assert!(attr(tracewire::model::keys::EXCEPTION_MESSAGE).is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn browser_style_query_parameters_parent_the_server_span() {
    let t = Telemetry::new();
    let (url, server) = echo_server(t.config(Model::Connection)).await;
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    // What `new WebSocket(url + "?traceparent=...", ["tracewire.v1.json"])` sends.
    let mut request = format!("{url}?traceparent={tp}")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "tracewire.v1.json".parse().expect("value"),
    );
    let (mut raw, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "tracewire.v1.json",
        "what the browser reads as ws.protocol"
    );
    raw.send(Message::text(JSON)).await.expect("send");
    let echo = raw.next().await.expect("echo").expect("ok");
    let Message::Text(text) = echo else {
        panic!("text expected")
    };
    assert!(
        text.as_str()
            .starts_with(r#"{"tracewire":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-"#),
        "reply carries the server context: {text}"
    );
    assert!(text.as_str().ends_with(r#""type":"chat","text":"hello"}"#));
    raw.close(None).await.expect("close");
    while raw.next().await.is_some() {}
    server.await.expect("server");
    let spans = t.spans();
    let accept = find(&spans, "accept /chat", SpanKind::Server, 0);
    assert_eq!(
        accept.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(accept.parent_span_id.to_string(), "00f067aa0ba902b7");
}

#[tokio::test]
async fn abnormal_end_is_recorded_as_1006_with_error_status() {
    let t = Telemetry::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/x", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let socket = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("handshake");
        drop(socket); // vanish without a close frame
    });
    let config = t.config(Model::Connection);
    let (mut client, _) = ws::connect(url.as_str(), &config).await.expect("connect");
    server.await.expect("server");
    while client.next().await.is_some() {}
    let spans = t.spans();
    let connect = find(&spans, "connect /x", SpanKind::Client, 0);
    assert_eq!(
        attr(connect, "websocket.close.code"),
        Some(&Value::I64(1006))
    );
    assert!(matches!(connect.status, Status::Error { .. }));
}

#[tokio::test]
async fn a_stream_dropped_unclosed_records_1006_and_a_failed_send_its_error() {
    let t = Telemetry::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/x", listener.local_addr().expect("addr"));
    let config = t.config(Model::Connection);
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut socket = ws::accept(tcp, &config).await.expect("handshake");
        // Its handler task is cancelled while it waits for a message.
        let _ = socket.next().await;
        std::future::pending::<()>().await;
    });
    let (mut client, _) = ws::connect(url.as_str(), &t.config(Model::Connection))
        .await
        .expect("connect");
    client.send(Message::text("one")).await.expect("send");
    // Wait for the server to have read it, then cancel its task.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !t.spans().iter().any(|s| s.name == "process /x") {
        assert!(std::time::Instant::now() < deadline, "no process span");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.abort();
    assert!(server.await.expect_err("aborted").is_cancelled());
    let accept = find(&t.spans(), "accept /x", SpanKind::Server, 0).clone();
    assert_eq!(
        attr(&accept, "websocket.close.code"),
        Some(&Value::I64(1006))
    );
    assert!(matches!(accept.status, Status::Error { .. }));

    // The client closes; a send after that fails, and its span says so.
    client.close(None).await.expect("close");
    let failed = client.send(Message::text("two")).await;
    assert!(failed.is_err());
    let spans = t.spans();
    let second = find(&spans, "send /x", SpanKind::Producer, 1);
    assert!(
        matches!(&second.status, Status::Error { description } if !description.is_empty()),
        "{:?}",
        second.status
    );
}

#[tokio::test]
async fn close_after_the_peer_closed_sends_the_reply() {
    let t = Telemetry::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/x", listener.local_addr().expect("addr"));
    let config = t.config(Model::Connection);
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut socket = ws::accept(tcp, &config).await.expect("handshake");
        // Stop reading at the close frame, as a handler leaving its loop does.
        while let Some(Ok(r)) = socket.next().await {
            if matches!(r.message, Message::Close(_)) {
                break;
            }
        }
        socket.close(None).await.expect("close reply");
    });
    let (mut client, _) = ws::connect(url.as_str(), &t.config(Model::Connection))
        .await
        .expect("connect");
    client
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .expect("close");
    let reply = client.next().await.expect("a reply").expect("readable");
    assert!(
        matches!(&reply.message, Message::Close(Some(f)) if f.code == CloseCode::Normal),
        "{:?}",
        reply.message
    );
    server.await.expect("server");
    let spans = t.spans();
    for (name, kind) in [
        ("connect /x", SpanKind::Client),
        ("accept /x", SpanKind::Server),
    ] {
        let span = find(&spans, name, kind, 0);
        assert_eq!(
            attr(span, "websocket.close.code"),
            Some(&Value::I64(1000)),
            "{name}"
        );
        assert!(!matches!(span.status, Status::Error { .. }), "{name}");
    }
}

/// A forwarded frame carrying someone else's envelope, and an application
/// member named `baggage`: the receiver gets the sender's context, never the
/// stale one, and the application gets its own member back untouched.
#[tokio::test]
async fn stale_envelope_and_application_baggage_member() {
    let t = Telemetry::new();
    let (url, server) = echo_server(t.config(Model::Connection)).await;
    let (mut client, _) = ws::connect(url.as_str(), &t.config(Model::Connection))
        .await
        .expect("connect");
    let stale = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let frame = format!(
        r#"{{"baggage":"app-owned","tracewire":{{"traceparent":"{stale}","tracestate":"stale=1","baggage":"old=1"}},"type":"chat"}}"#
    );
    client
        .send_in(&Context::new(), Message::text(frame))
        .await
        .expect("send");
    let echo = client.next().await.expect("echo").expect("ok");
    assert_eq!(
        echo.message,
        Message::text(r#"{"baggage":"app-owned","type":"chat"}"#),
        "the application's member comes back untouched, the stale envelope gone"
    );
    client.close(None).await.expect("close");
    while client.next().await.is_some() {}
    let errors = server.await.expect("server");
    assert!(errors.iter().all(Option::is_none), "{errors:?}");
    let spans = t.spans();
    let send = find(&spans, "send /chat", SpanKind::Producer, 0);
    let process = find(&spans, "process /chat", SpanKind::Consumer, 0);
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(
        process.span_context.trace_id(),
        send.span_context.trace_id()
    );
    assert_ne!(
        process.span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
}
