//! The trust policy on real loopback sockets: a server that does not trust
//! its client (docs/PROTOCOL.md, Security Considerations), checked through
//! the SDK's in-memory exporter.
#![cfg(feature = "tokio-tungstenite")]

use futures_util::StreamExt;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{FutureExt, SpanKind, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tracewire::model::{BaggagePolicy, Model, Trust, keys};
use tracewire::ws::{self, Config};

fn provider(root: Sampler) -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(root)))
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn named<'a>(spans: &'a [SpanData], name: &str, kind: SpanKind) -> Vec<&'a SpanData> {
    let mut found: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == name && s.span_kind == kind)
        .collect();
    found.sort_by_key(|s| s.start_time);
    found
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// Accepts one connection with `config`; returns its URL and, once the
/// client closes, the baggage keys each received data message's handler got.
async fn server(config: Config) -> (String, tokio::task::JoinHandle<Vec<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut socket = ws::accept(tcp, &config).await.expect("handshake");
        let mut handled = Vec::new();
        while let Some(Ok(received)) = socket.next().await {
            if let Message::Text(_) = received.message {
                let mut keys: Vec<String> = received
                    .context
                    .baggage()
                    .iter()
                    .map(|(k, _)| k.as_str().to_owned())
                    .collect();
                keys.sort();
                handled.push(keys);
            }
        }
        handled
    });
    (format!("ws://{addr}/voice"), handle)
}

/// Connects with baggage `user.id` and `tenant` in the ambient context, sends
/// `messages` text messages and closes.
async fn client(url: &str, config: &Config, tracer_provider: &SdkTracerProvider, messages: usize) {
    let tracer = tracer_provider.tracer("app");
    let ambient = Context::new()
        .with_baggage([
            KeyValue::new("user.id", "u-42"),
            KeyValue::new("tenant", "acme"),
        ])
        .with_span(tracer.start_with_context("app", &Context::new()));
    // Current only while the connect future is polled: a guard held across
    // the awaits would also be current in the server task, which this
    // single-threaded runtime polls on the same thread.
    let (mut socket, _) = ws::connect(url, config)
        .with_context(ambient.clone())
        .await
        .expect("connect");
    for i in 0..messages {
        socket
            .send_in(&ambient, Message::text(format!("{{\"n\":{i}}}")))
            .await
            .expect("send");
    }
    socket.close(None).await.expect("close");
    while socket.next().await.is_some() {}
    ambient.span().end();
}

#[tokio::test]
async fn untrusted_client_is_linked_not_parented_and_its_baggage_dropped() {
    let (provider, exporter) = provider(Sampler::AlwaysOn);
    let untrusted = Config::default()
        .model(Model::Connection)
        .tracer_provider(&provider)
        .trust(Trust {
            max_receive_spans: Some(2),
            ..Trust::untrusted()
        });
    let (url, handled) = server(untrusted).await;
    let trusted = Config::default().tracer_provider(&provider);
    client(&url, &trusted, &provider, 5).await;
    let handled = handled.await.expect("server");
    assert_eq!(
        handled,
        vec![Vec::<String>::new(); 5],
        "no baggage of the peer's"
    );

    let spans = exporter.get_finished_spans().expect("spans");
    let [connect] = named(&spans, "connect /voice", SpanKind::Client)[..] else {
        panic!("one connect span")
    };
    let [accept] = named(&spans, "accept /voice", SpanKind::Server)[..] else {
        panic!("one accept span")
    };
    assert_eq!(accept.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_ne!(
        accept.span_context.trace_id(),
        connect.span_context.trace_id()
    );
    let linked: Vec<_> = accept
        .links
        .iter()
        .map(|l| (l.span_context.trace_id(), l.span_context.span_id()))
        .collect();
    let peer = &connect.span_context;
    assert_eq!(linked, vec![(peer.trace_id(), peer.span_id())]);
    assert_ne!(
        attr(accept, keys::SESSION_ID),
        attr(connect, keys::SESSION_ID),
        "the server's session id is its own"
    );

    // Two process spans (the budget), each the accept span's child linked
    // to the client's send span; the other three counted at close.
    let sends = named(&spans, "send /voice", SpanKind::Producer);
    let processes = named(&spans, "process /voice", SpanKind::Consumer);
    assert_eq!((sends.len(), processes.len()), (5, 2));
    for (process, send) in processes.iter().zip(&sends) {
        assert_eq!(process.parent_span_id, accept.span_context.span_id());
        assert_eq!(
            process.span_context.trace_id(),
            accept.span_context.trace_id()
        );
        let linked: Vec<_> = process
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        assert_eq!(linked, vec![send.span_context.span_id()]);
    }
    assert_eq!(
        attr(accept, keys::RECEIVE_SPANS_SKIPPED),
        Some(Value::I64(3))
    );
}

#[tokio::test]
async fn untrusted_clients_sampled_flag_is_not_honoured() {
    // The client samples everything; the server samples no root of its own.
    let (client_provider, client_spans) = provider(Sampler::AlwaysOn);
    let (server_provider, server_spans) = provider(Sampler::AlwaysOff);
    let config = |trust: Trust| {
        Config::default()
            .tracer_provider(&server_provider)
            .trust(trust)
    };
    for (trust, recorded) in [(Trust::untrusted(), false), (Trust::trusted(), true)] {
        server_spans.reset();
        let (url, handled) = server(config(trust.clone())).await;
        client(
            &url,
            &Config::default().tracer_provider(&client_provider),
            &client_provider,
            1,
        )
        .await;
        let handled = handled.await.expect("server");
        let spans = server_spans.get_finished_spans().expect("spans");
        assert_eq!(!spans.is_empty(), recorded, "{trust:?}: {spans:?}");
        let kept = if recorded {
            vec![vec!["tenant".to_owned(), "user.id".to_owned()]]
        } else {
            vec![vec![]]
        };
        assert_eq!(handled, kept, "{trust:?}");
    }
    assert!(!client_spans.get_finished_spans().expect("spans").is_empty());
}

#[tokio::test]
async fn allowlisted_baggage_reaches_the_handler_of_an_untrusted_message() {
    let (provider, _spans) = provider(Sampler::AlwaysOn);
    let config = Config::default()
        .model(Model::Message)
        .tracer_provider(&provider)
        .trust(Trust {
            baggage: BaggagePolicy::AllowKeys(vec!["tenant".into()]),
            ..Trust::untrusted()
        });
    let (url, handled) = server(config).await;
    client(
        &url,
        &Config::default().tracer_provider(&provider),
        &provider,
        2,
    )
    .await;
    assert_eq!(
        handled.await.expect("server"),
        vec![vec!["tenant".to_owned()]; 2]
    );
}

#[tokio::test]
async fn untrusted_messages_read_under_the_servers_span_are_its_children() {
    // Message model: the server reads its untrusted client's messages while a
    // span of its own (a turn, say) is current.
    let (provider, exporter) = provider(Sampler::AlwaysOn);
    let config = Config::default()
        .model(Model::Message)
        .tracer_provider(&provider)
        .trust(Trust::untrusted());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/voice", listener.local_addr().expect("addr"));
    let tracer = provider.tracer("app");
    let turn = Context::new().with_span(tracer.start_with_context("turn", &Context::new()));
    let server_turn = turn.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut socket = ws::accept(tcp, &config).await.expect("handshake");
        while let Some(Ok(_)) = socket.next().with_context(server_turn.clone()).await {}
    });
    client(
        &url,
        &Config::default().tracer_provider(&provider),
        &provider,
        3,
    )
    .await;
    server.await.expect("server");
    turn.span().end();

    let spans = exporter.get_finished_spans().expect("spans");
    let [turn] = named(&spans, "turn", SpanKind::Internal)[..] else {
        panic!("one turn span")
    };
    let [accept] = named(&spans, "accept /voice", SpanKind::Server)[..] else {
        panic!("one accept span")
    };
    let sends = named(&spans, "send /voice", SpanKind::Producer);
    let processes = named(&spans, "process /voice", SpanKind::Consumer);
    assert_eq!((sends.len(), processes.len()), (3, 3));
    for (process, send) in processes.iter().zip(&sends) {
        assert_eq!(process.parent_span_id, turn.span_context.span_id());
        assert_eq!(
            process.span_context.trace_id(),
            turn.span_context.trace_id()
        );
        // Linked to the connection span and to the peer's send span, in
        // that order.
        let linked: Vec<_> = process
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        assert_eq!(
            linked,
            vec![accept.span_context.span_id(), send.span_context.span_id()]
        );
    }
}
