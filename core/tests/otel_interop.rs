//! Round trips between `W3CPropagator` and opentelemetry_sdk's own
//! `TraceContextPropagator` + `BaggagePropagator`, on many random contexts:
//! ours inject -> theirs extract, theirs inject -> ours extract, and the
//! headers both write must be identical.
#![cfg(feature = "otel")]

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use proptest::prelude::*;
use std::collections::HashMap;
use tracewire::otel::W3CPropagator;

fn key() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_\\-*/]{0,15}"
}

fn context() -> impl Strategy<Value = Context> {
    (
        any::<u128>().prop_filter("nonzero", |v| *v != 0),
        any::<u64>().prop_filter("nonzero", |v| *v != 0),
        any::<u8>(),
        proptest::collection::btree_map(key(), "[!-+\\--<>-~]{1,20}", 0..6),
        // Every printable character but `%` and `\`, which the SDK writes raw
        // against the W3C grammar (see `sdk_raw_percent_and_backslash_accepted`).
        proptest::collection::btree_map(
            "[A-Za-z0-9_]{1,12}",
            "[ -$&-\\[\\]-~\u{e9}\u{4e2d}]{0,20}",
            0..6,
        ),
    )
        .prop_map(|(trace, span, flags, state, baggage)| {
            let state = TraceState::from_key_value(state).expect("valid tracestate");
            let sc = SpanContext::new(
                trace.into(),
                span.into(),
                // The SDK keeps only the sampled bit on inject; compare that.
                TraceFlags::new(flags & 1),
                true,
                state,
            );
            Context::new().with_remote_span_context(sc).with_baggage(
                baggage
                    .into_iter()
                    .map(|(k, v)| KeyValue::new(k, v.trim().to_owned())),
            )
        })
}

fn sdk_inject(cx: &Context) -> HashMap<String, String> {
    let mut h = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut h);
    BaggagePropagator::new().inject_context(cx, &mut h);
    h
}

fn sdk_extract(h: &HashMap<String, String>) -> Context {
    BaggagePropagator::new().extract_with_context(&TraceContextPropagator::new().extract(h), h)
}

fn same(a: &Context, b: &Context) -> Result<(), TestCaseError> {
    let (sa, sb) = (
        a.span().span_context().clone(),
        b.span().span_context().clone(),
    );
    prop_assert_eq!(sa.trace_id(), sb.trace_id());
    prop_assert_eq!(sa.span_id(), sb.span_id());
    prop_assert_eq!(sa.trace_flags(), sb.trace_flags());
    prop_assert_eq!(sa.trace_state().header(), sb.trace_state().header());
    let bag = |c: &Context| {
        let mut v: Vec<(String, String)> = c
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    };
    prop_assert_eq!(bag(a), bag(b));
    Ok(())
}

/// Baggage header members, order-independent (the SDK's baggage is a hash map).
fn members(h: &HashMap<String, String>) -> Vec<String> {
    let mut m: Vec<String> = h
        .get("baggage")
        .map(|b| b.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    m.sort();
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn ours_to_sdk_and_back(cx in context()) {
        let mut ours = HashMap::new();
        W3CPropagator.inject_context(&cx, &mut ours);
        same(&sdk_extract(&ours), &cx)?;
        let theirs = sdk_inject(&cx);
        same(&W3CPropagator.extract(&theirs), &cx)?;
        prop_assert_eq!(ours.get("traceparent"), theirs.get("traceparent"));
        // The SDK writes an empty tracestate header; we leave it out.
        let nonempty = |h: &HashMap<String, String>| h.get("tracestate").filter(|v| !v.is_empty()).cloned();
        prop_assert_eq!(nonempty(&ours), nonempty(&theirs));
        prop_assert_eq!(members(&ours), members(&theirs));
    }
}

#[test]
fn fields_are_the_three_headers() {
    let fields: Vec<&str> = W3CPropagator.fields().collect();
    assert_eq!(fields, ["traceparent", "tracestate", "baggage"]);
}

#[test]
fn invalid_traceparent_gives_no_span_but_keeps_baggage() {
    let h: HashMap<String, String> = [("traceparent", "00-xyz"), ("baggage", "k=v")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let cx = W3CPropagator.extract(&h);
    assert!(!cx.span().span_context().is_valid());
    assert_eq!(
        cx.baggage().get("k").map(|v| v.to_string()),
        Some("v".to_owned())
    );
}

#[test]
fn sdk_raw_percent_and_backslash_accepted() {
    let cx = Context::new().with_baggage([KeyValue::new("q", "5%b\\c")]);
    let theirs = sdk_inject(&cx);
    assert_eq!(theirs["baggage"], "q=5%b\\c", "the SDK writes them raw");
    let back = W3CPropagator.extract(&theirs);
    assert_eq!(
        back.baggage().get("q").map(|v| v.to_string()),
        Some("5%b\\c".to_owned())
    );
    let mut ours = HashMap::new();
    W3CPropagator.inject_context(&cx, &mut ours);
    assert_eq!(ours["baggage"], "q=5%25b%5Cc", "we percent-encode them");
}

/// Property values live in OpenTelemetry's metadata string in wire form: an
/// encoded space at the end of a value (which the metadata parser would trim
/// if it were decoded) and an encoded `;` survive extract -> inject -> extract,
/// and the SDK's own propagator sees the same header.
#[test]
fn property_values_keep_their_encoding_through_metadata() {
    let h: HashMap<String, String> = [("baggage", "k=v;p=DF%20;q=a%3Bb;flag")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let cx = W3CPropagator.extract(&h);
    let (_, metadata) = cx.baggage().get_with_metadata("k").expect("member k");
    assert_eq!(metadata.as_str(), "p=DF%20;q=a%3Bb;flag");
    let mut ours = HashMap::new();
    W3CPropagator.inject_context(&cx, &mut ours);
    assert_eq!(ours["baggage"], "k=v;p=DF%20;q=a%3Bb;flag");
    assert_eq!(sdk_inject(&cx)["baggage"], "k=v;p=DF%20;q=a%3Bb;flag");
}

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// W3C Level 2 keys that `opentelemetry`'s `TraceState` rejects (`@` twice,
/// a system part over 14 characters) are passed on with the rest, through a
/// child span the SDK starts, in their order.
#[test]
fn level2_tracestate_survives_the_sdk_span() {
    use opentelemetry::trace::{Tracer, TracerProvider};
    let state = "foo@@bar=1,congo=2,t61@rcwkgmzeverylongsystem=x";
    let h = headers(&[
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        ("tracestate", state),
    ]);
    let cx = W3CPropagator.extract(&h);
    assert_eq!(
        cx.span().span_context().trace_state().header(),
        "congo=2",
        "the SDK's TraceState holds what it accepts"
    );
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let span = provider.tracer("t").start_with_context("child", &cx);
    let child = cx.with_span(span);
    let mut out = HashMap::new();
    W3CPropagator.inject_context(&child, &mut out);
    assert_eq!(out["tracestate"], state);

    // The application updates its own member: it moves to the front, the
    // members the SDK could not hold follow the SDK's.
    let updated = child
        .span()
        .span_context()
        .trace_state()
        .insert("mine", "7")
        .expect("valid");
    let sc = child.span().span_context().clone();
    let mine = child.with_remote_span_context(opentelemetry::trace::SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags(),
        false,
        updated,
    ));
    let mut out = HashMap::new();
    W3CPropagator.inject_context(&mine, &mut out);
    assert_eq!(
        out["tracestate"],
        "mine=7,congo=2,foo@@bar=1,t61@rcwkgmzeverylongsystem=x"
    );

    // Another trace does not inherit the held state.
    let other = Context::new().with_remote_span_context(SpanContext::new(
        opentelemetry::trace::TraceId::from_bytes([7; 16]),
        opentelemetry::trace::SpanId::from_bytes([8; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ));
    let other = mine.with_remote_span_context(other.span().span_context().clone());
    let mut out = HashMap::new();
    W3CPropagator.inject_context(&other, &mut out);
    assert!(
        out.get("tracestate").is_none_or(|v| v.is_empty()),
        "{out:?}"
    );
}

/// W3C Level 2: the random flag is kept while the trace id is. The SDK drops
/// it from a child of an unsampled parent (its Drop decision writes default
/// flags); the propagator sends it again.
#[test]
fn random_flag_survives_an_unsampled_sdk_span() {
    use opentelemetry::trace::{Span, Tracer, TracerProvider};
    let h = headers(&[(
        "traceparent",
        "00-12345678901234567890123456789012-1234567890123456-02",
    )]);
    let cx = W3CPropagator.extract(&h);
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let span = provider.tracer("t").start_with_context("child", &cx);
    assert_eq!(
        span.span_context().trace_flags().to_u8(),
        0,
        "the SDK's own span context has lost the flag"
    );
    let child = cx.with_span(span);
    let mut out = HashMap::new();
    W3CPropagator.inject_context(&child, &mut out);
    let tp = &out["traceparent"];
    assert!(
        tp.starts_with("00-12345678901234567890123456789012-") && tp.ends_with("-02"),
        "{tp}"
    );
    assert!(!tp.contains("1234567890123456-"), "a new span id: {tp}");
}
