#![no_main]
//! The header propagator path (`otel::W3CPropagator`, feature `otel`).
//! Input: fields split on 0xFF: header name / value pairs.
//!
//! Over an `http::HeaderMap` (every value of a header, as a server's HTTP
//! stack hands them over) and over a `HashMap` carrier (one value per
//! name): extraction never panics and gives the OpenTelemetry context with
//! the same span context, tracestate and baggage as the core's own
//! handshake extraction from the same headers; injecting that context and
//! extracting it again gives it back (a fixed point), with only the trace
//! flags a sender writes.
use libfuzzer_sys::fuzz_target;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use std::collections::HashMap;
use tracewire::otel::W3CPropagator;
use tracewire::{TraceContext, handshake};
use tracewire_fuzz::fields;

/// An `Extractor` over an `http::HeaderMap` that returns every value.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let v: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!v.is_empty()).then_some(v)
    }
}

/// The members of a baggage as a sorted list (OpenTelemetry's baggage is a map).
fn members(ctx: &TraceContext) -> Vec<tracewire::BaggageMember> {
    let mut m: Vec<_> = ctx.baggage.iter().cloned().collect();
    m.sort_by(|a, b| a.key.cmp(&b.key));
    m
}

fn check(ours: &TraceContext, cx: &opentelemetry::Context) -> TraceContext {
    let got = TraceContext::from_otel_context(cx);
    assert_eq!(got.traceparent, ours.traceparent);
    assert_eq!(got.remote, ours.traceparent.is_some());
    assert_eq!(
        got.tracestate, ours.tracestate,
        "tracestate changed through OpenTelemetry"
    );
    assert_eq!(
        members(&got),
        members(ours),
        "baggage changed through OpenTelemetry"
    );
    // Inject and extract again: the same context.
    let mut carrier: HashMap<String, String> = HashMap::new();
    W3CPropagator.inject_context(cx, &mut carrier);
    let again = TraceContext::from_otel_context(
        &W3CPropagator.extract_with_context(&opentelemetry::Context::new(), &carrier),
    );
    // A sender writes only the flags it knows (W3C).
    let sent = got.traceparent.map(|tp| tracewire::TraceParent {
        flags: tp.flags.known(),
        ..tp
    });
    assert_eq!(again.traceparent, sent);
    assert_eq!(again.tracestate, got.tracestate);
    assert_eq!(members(&again), members(&got));
    got
}

fuzz_target!(|data: &[u8]| {
    let f = fields(data);
    let mut map = http::HeaderMap::new();
    let mut single: HashMap<String, String> = HashMap::new();
    for pair in f.chunks(2) {
        let (Ok(name), Some(Ok(value))) = (
            http::HeaderName::from_bytes(pair[0]),
            pair.get(1).map(|v| http::HeaderValue::from_bytes(v)),
        ) else {
            continue;
        };
        if let Ok(v) = value.to_str() {
            single.insert(name.as_str().to_owned(), v.to_owned());
        }
        map.append(name, value);
    }

    let ours = handshake::extract(&map, None).0;
    let cx = W3CPropagator.extract_with_context(&opentelemetry::Context::new(), &Headers(&map));
    check(&ours, &cx);

    let pairs: Vec<(&str, &str)> = single
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let ours = handshake::extract(&pairs, None).0;
    let cx = W3CPropagator.extract_with_context(&opentelemetry::Context::new(), &single);
    check(&ours, &cx);
});
