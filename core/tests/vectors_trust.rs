//! Runs `tests/vectors/trust.json`: the trust policy's presets, its span
//! choices applied with the OpenTelemetry SDK (real contexts, real samplers),
//! and the receive span budget with what it records at close.
#![cfg(feature = "otel")]

mod common;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanId, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
use serde_json::{Value, json};
use tracewire::model::{
    self, BaggagePolicy, Connection, MessageType, Model, ReceiveSpanBudget, Role, Trust, keys,
};
use tracewire::otel::{SpanSources, start_span};
use tracewire::{Baggage, TraceContext, TraceParent};

fn doc() -> Value {
    let path = common::vectors_dir().join("trust.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("trust.json")).expect("json")
}

fn trust(v: &Value) -> Trust {
    let baggage = match &v["baggage"] {
        Value::String(s) if s == "keep_all" => BaggagePolicy::KeepAll,
        Value::String(s) if s == "drop" => BaggagePolicy::Drop,
        Value::Object(o) => BaggagePolicy::AllowKeys(
            o["allow_keys"]
                .as_array()
                .expect("allow_keys")
                .iter()
                .map(|k| k.as_str().expect("key").to_owned())
                .collect(),
        ),
        other => panic!("unknown baggage policy {other}"),
    };
    Trust {
        remote_context: v["remote_context"]
            .as_str()
            .expect("remote_context")
            .parse()
            .expect("remote_context"),
        baggage,
        max_receive_spans: v
            .get("max_receive_spans")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
    }
}

#[test]
fn presets() {
    let doc = doc();
    assert_eq!(trust(&doc["presets"]["trusted"]), Trust::trusted());
    assert_eq!(trust(&doc["presets"]["untrusted"]), Trust::untrusted());
    assert_eq!(Trust::default(), Trust::trusted());
}

fn provider(sampler: &str) -> (SdkTracerProvider, InMemorySpanExporter) {
    let root = match sampler {
        "parent_based_always_on" => Sampler::AlwaysOn,
        "parent_based_always_off" => Sampler::AlwaysOff,
        other => panic!("unknown sampler {other}"),
    };
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(root)))
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn with_member(cx: Context, key: &'static str) -> Context {
    cx.with_baggage([KeyValue::new(key, "1")])
}

#[test]
fn trust_vectors() {
    common::run_cases("trust", |case| {
        let name = common::name(case);
        let model: Model = case["model"].as_str().unwrap().parse().unwrap();
        let role: Role = case["role"].as_str().unwrap().parse().unwrap();
        let session_id = case["session_id"].as_str().unwrap();
        let conn = Connection::new(model, role, session_id, case["url_path"].as_str().unwrap())
            .with_trust(trust(&case["trust"]));
        let decision = match case["event"].as_str().unwrap() {
            "open" => conn.open(),
            "receive" => conn.receive(
                case["message_type"]
                    .as_str()
                    .unwrap()
                    .parse::<MessageType>()
                    .unwrap(),
                case["size"].as_u64().unwrap() as usize,
            ),
            other => panic!("{name}: unknown event {other}"),
        };
        let expected = &case["expected"];
        assert_eq!(
            conn.session_id == session_id,
            expected["session_id_kept"].as_bool().unwrap(),
            "{name}: session id"
        );

        let received = &case["received"];
        let received = TraceContext {
            traceparent: received["traceparent"]
                .as_str()
                .map(|tp| TraceParent::parse(tp).expect("traceparent")),
            baggage: Baggage::parse(received["baggage"].as_str().unwrap()).expect("baggage"),
            remote: true,
            ..Default::default()
        };
        let remote = conn.trust.admit(received.clone());

        let (provider, exporter) = provider(case["sampler"].as_str().unwrap());
        let tracer = provider.tracer("vectors");
        let connection_cx = case["connection_has_span"].as_bool().unwrap().then(|| {
            let span = tracer.start_with_context("connection", &Context::new());
            with_member(Context::new(), "connection").with_span(span)
        });
        let ambient = if case["ambient_has_span"].as_bool().unwrap() {
            let span = tracer.start_with_context("ambient", &Context::new());
            with_member(Context::new(), "ambient").with_span(span)
        } else {
            with_member(Context::new(), "ambient")
        };
        let sources = SpanSources {
            ambient: &ambient,
            remote: Some(&remote),
            connection: connection_cx.as_ref(),
        };

        // The pure choice.
        let applied = decision.choose(sources.available());
        let mut links = vec![];
        if applied.link_connection {
            links.push("connection");
        }
        if applied.link_remote {
            links.push("remote");
        }
        assert_eq!(
            json!({ "parent": applied.parent.as_str(), "links": links, "baggage": applied.baggage.as_str() }),
            json!({ "parent": expected["parent"], "links": expected["links"], "baggage": expected["baggage"] }),
            "{name}: choose"
        );

        // Applied with the SDK.
        exporter.reset();
        let cx = start_span(&tracer, decision, &sources);
        cx.span().end();
        let mut carried: Vec<String> = cx
            .baggage()
            .iter()
            .map(|(k, _)| k.as_str().to_owned())
            .collect();
        carried.sort();
        assert_eq!(json!(carried), expected["baggage_keys"], "{name}: baggage");
        let spans = exporter.get_finished_spans().expect("spans");
        if !expected["sampled"].as_bool().unwrap() {
            assert!(spans.is_empty(), "{name}: recorded");
            assert!(!cx.span().span_context().is_sampled(), "{name}: sampled");
            return;
        }
        let [span] = &spans[..] else {
            panic!("{name}: {} spans finished", spans.len())
        };
        let span_id_of = |c: &Context| c.span().span_context().span_id();
        let remote_span = received
            .traceparent
            .map(|tp| SpanId::from(tp.span_id))
            .unwrap_or(SpanId::INVALID);
        let want_parent = match expected["parent"].as_str().unwrap() {
            "remote" => remote_span,
            "ambient" => span_id_of(&ambient),
            "connection" => span_id_of(connection_cx.as_ref().expect("connection")),
            "new_trace" => SpanId::INVALID,
            other => panic!("{name}: unknown parent {other}"),
        };
        assert_eq!(span.parent_span_id, want_parent, "{name}: parent");
        if let Some(tp) = received.traceparent.filter(|_| want_parent != remote_span) {
            assert_ne!(
                span.span_context.trace_id(),
                opentelemetry::trace::TraceId::from(tp.trace_id),
                "{name}: the peer's trace"
            );
        }
        let linked: Vec<SpanId> = span
            .links
            .iter()
            .map(|l| l.span_context.span_id())
            .collect();
        let want_links: Vec<SpanId> = expected["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| match l.as_str().unwrap() {
                "connection" => span_id_of(connection_cx.as_ref().expect("connection")),
                _ => remote_span,
            })
            .collect();
        assert_eq!(linked, want_links, "{name}: links");
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

#[test]
fn budget_vectors() {
    let doc = doc();
    let cases = doc["budget_cases"].as_array().expect("budget_cases");
    assert!(!cases.is_empty());
    for case in cases {
        let name = common::name(case);
        let limit = case["max_receive_spans"].as_u64().map(|n| n as u32);
        let budget = ReceiveSpanBudget::new(limit);
        let spanned: Vec<bool> = (0..case["received"].as_u64().unwrap())
            .map(|_| budget.admit())
            .collect();
        let expected = &case["expected"];
        assert_eq!(json!(spanned), expected["spanned"], "{name}");
        let skipped = expected["skipped"].as_u64().unwrap();
        assert_eq!(budget.skipped(), skipped, "{name}");

        let model: Model = case["model"].as_str().unwrap().parse().unwrap();
        let close = Connection::new(model, Role::Server, "s-1", "/voice")
            .close(Some(1000), "")
            .with_receive_spans_skipped(budget.skipped());
        let recorded_on = match &close.span {
            Some(span) => &span.attributes,
            None => &close.attributes,
        };
        let recorded = recorded_on
            .iter()
            .find(|kv| kv.key == keys::RECEIVE_SPANS_SKIPPED)
            .map(|kv| kv.value.clone());
        let want = (skipped > 0).then_some(tracewire::Value::Int(skipped as i64));
        assert_eq!(recorded, want, "{name}: at close");
    }
}
