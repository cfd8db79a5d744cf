//! Runs `tests/vectors/apply.json`: the pure choice ([`model::choose`]) and
//! the finished span when `otel::start_span` applies it with the
//! OpenTelemetry SDK, from real contexts built to match each case.
#![cfg(feature = "otel")]

mod common;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::{Value, json};
use tracewire::model::{self, Available, Connection, MessageType, Model, Role};
use tracewire::otel::{SpanSources, start_span};
use tracewire::{Baggage, TraceContext, TraceParent};

/// The baggage entry each source's context carries, naming the source.
const FROM: &str = "from";

fn flag(a: &Value, key: &str) -> bool {
    a[key]
        .as_bool()
        .unwrap_or_else(|| panic!("available.{key}"))
}

fn available(a: &Value) -> Available {
    Available {
        remote_has_span: flag(a, "remote_has_span"),
        remote_has_baggage: flag(a, "remote_has_baggage"),
        ambient_has_span: flag(a, "ambient_has_span"),
        ambient_in_connection_trace: flag(a, "ambient_in_connection_trace"),
        ambient_is_connection: flag(a, "ambient_is_connection"),
        connection_has_span: flag(a, "connection_has_span"),
    }
}

fn with_from(cx: Context, source: &str) -> Context {
    cx.with_baggage([KeyValue::new(FROM, source.to_owned())])
}

#[test]
fn apply_vectors() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("vectors");
    common::run_cases("apply", |case| {
        let name = common::name(case);
        let model: Model = case["model"]
            .as_str()
            .expect("model")
            .parse()
            .expect("model");
        let role: Role = case["role"].as_str().expect("role").parse().expect("role");
        let conn = Connection::new(
            model,
            role,
            case["session_id"].as_str().expect("session_id"),
            case["url_path"].as_str().expect("url_path"),
        );
        let message_type = || -> MessageType {
            case["message_type"]
                .as_str()
                .expect("message_type")
                .parse()
                .expect("message_type")
        };
        let size = || case["size"].as_u64().expect("size") as usize;
        let decision = match case["event"].as_str().expect("event") {
            "open" => conn.open(),
            "send" => conn.send(message_type(), size()),
            "receive" => conn.receive(message_type(), size()),
            "close" => conn
                .close(
                    case["close_code"].as_u64().map(|c| c as u16),
                    case["close_reason"].as_str().unwrap_or(""),
                )
                .span
                .expect("close is a span in this model"),
            other => panic!("{name}: unknown event {other}"),
        };
        let want = available(&case["available"]);
        let expected = &case["expected"];

        // The pure choice.
        let applied = decision.choose(want);
        let links: Vec<&str> = if applied.link_connection {
            vec!["connection"]
        } else {
            vec![]
        };
        assert_eq!(
            json!({ "parent": applied.parent.as_str(), "links": links, "baggage": applied.baggage.as_str() }),
            json!({ "parent": expected["parent"], "links": expected["links"], "baggage": expected["baggage"] }),
            "{name}: choose"
        );

        // Real contexts matching the case, each with baggage naming it.
        let connection_cx = want.connection_has_span.then(|| {
            let span = tracer.start_with_context("connection", &Context::new());
            with_from(Context::new(), "connection").with_span(span)
        });
        let ambient = match (&connection_cx, want.ambient_has_span) {
            (Some(c), true) if want.ambient_is_connection => with_from(c.clone(), "ambient"),
            (Some(c), true) if want.ambient_in_connection_trace => {
                let span = tracer.start_with_context("ambient", c);
                with_from(c.clone(), "ambient").with_span(span)
            }
            (_, true) => {
                let span = tracer.start_with_context("ambient", &Context::new());
                with_from(Context::new(), "ambient").with_span(span)
            }
            // Baggage without a span: a new trace must still not take it.
            (_, false) => with_from(Context::new(), "ambient"),
        };
        let remote = (want.remote_has_span || want.remote_has_baggage).then(|| TraceContext {
            traceparent: want.remote_has_span.then(|| {
                TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                    .expect("traceparent")
            }),
            baggage: if want.remote_has_baggage {
                Baggage::parse("from=remote").expect("baggage")
            } else {
                Baggage::new()
            },
            remote: true,
            ..Default::default()
        });
        let sources = SpanSources {
            ambient: &ambient,
            remote: remote.as_ref(),
            connection: connection_cx.as_ref(),
        };
        assert_eq!(sources.available(), want, "{name}: the contexts read back");

        // Applied with the SDK: the finished span and the handler's context.
        exporter.reset();
        let cx = start_span(&tracer, decision, &sources);
        cx.span().end();
        let spans = exporter.get_finished_spans().expect("spans");
        let [span] = &spans[..] else {
            panic!("{name}: {} spans finished", spans.len())
        };
        let span_of = |c: &Context| c.span().span_context().clone();
        let (parent_trace, parent_span) = match expected["parent"].as_str().expect("parent") {
            "remote" => {
                let tp = remote
                    .as_ref()
                    .and_then(|r| r.traceparent)
                    .expect("remote span");
                (
                    opentelemetry::trace::TraceId::from(tp.trace_id),
                    SpanId::from(tp.span_id),
                )
            }
            "ambient" => (span_of(&ambient).trace_id(), span_of(&ambient).span_id()),
            "connection" => {
                let c = span_of(connection_cx.as_ref().expect("connection"));
                (c.trace_id(), c.span_id())
            }
            "new_trace" => {
                assert_eq!(span.parent_span_id, SpanId::INVALID, "{name}: a root span");
                for other in [Some(&ambient), connection_cx.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    assert_ne!(
                        span.span_context.trace_id(),
                        span_of(other).trace_id(),
                        "{name}"
                    );
                }
                (span.span_context.trace_id(), SpanId::INVALID)
            }
            other => panic!("{name}: unknown parent {other}"),
        };
        assert_eq!(span.span_context.trace_id(), parent_trace, "{name}: trace");
        assert_eq!(span.parent_span_id, parent_span, "{name}: parent");
        let linked: Vec<SpanId> = span
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        let want_links: Vec<SpanId> = expected["links"]
            .as_array()
            .expect("links")
            .iter()
            .map(|_| span_of(connection_cx.as_ref().expect("connection")).span_id())
            .collect();
        assert_eq!(linked, want_links, "{name}: links");
        let baggage = cx.baggage().get(FROM).map(|v| v.as_str().to_owned());
        let want_baggage = match expected["baggage"].as_str().expect("baggage") {
            "none" => None,
            source => Some(source.to_owned()),
        };
        assert_eq!(baggage, want_baggage, "{name}: baggage");
        let mut keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            json!({ "name": span.name, "kind": model::SpanKind::ALL
                .iter()
                .find(|k| opentelemetry::trace::SpanKind::from(**k) == span.span_kind)
                .map(|k| k.as_str()), "attribute_keys": keys }),
            expected["span"],
            "{name}: span"
        );
    });
}
