//! Helpers shared by the fuzz targets in `fuzz_targets/`.
//!
//! Input conventions (the seed generator, `seed_corpus.py`, writes the same):
//!
//! - a target with several inputs splits the bytes on [`SEP`] (`0xFF`, which
//!   never occurs in UTF-8, so every string stays reachable);
//! - a target that needs a context to inject takes a selector byte and picks
//!   one of [`contexts`].

use tracewire::{Baggage, TraceContext, TraceParent, TraceState};

/// Separates the fields of a structured input.
pub const SEP: u8 = 0xFF;

/// The fields of a structured input.
pub fn fields(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == SEP).collect()
}

/// A field as UTF-8, or `None`.
pub fn text(field: &[u8]) -> Option<&str> {
    std::str::from_utf8(field).ok()
}

/// Contexts a target injects: none at all, a span context alone, with
/// tracestate, with baggage that needs escaping in JSON and percent-encoding
/// in a header, and baggage alone (no span context).
pub fn contexts() -> Vec<TraceContext> {
    let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").ok();
    let ts = TraceState::parse("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7").unwrap_or_default();
    let mut bag = Baggage::new();
    let _ = bag.insert("userId", "al\"ice\\ é\u{1}");
    let _ = bag.insert("k2", "v;p=1,x");
    vec![
        TraceContext::default(),
        TraceContext {
            traceparent: tp,
            ..Default::default()
        },
        TraceContext {
            traceparent: tp,
            tracestate: ts.clone(),
            ..Default::default()
        },
        TraceContext {
            traceparent: tp,
            tracestate: ts,
            baggage: bag.clone(),
            remote: false,
        },
        TraceContext {
            baggage: bag,
            ..Default::default()
        },
    ]
}

/// The context a receiver gets back after `ctx` went through any of the
/// serialised forms (headers, envelopes, carrier): the span context as it
/// was but for unknown trace flags (a sender writes only the known ones),
/// the tracestate and baggage as their own (possibly truncated) headers
/// parse, a tracestate only with a span context, and marked remote.
pub fn received(ctx: &TraceContext) -> TraceContext {
    let tracestate = match ctx.traceparent {
        Some(_) if !ctx.tracestate.is_empty() => TraceState::parse(&ctx.tracestate.to_header())
            .expect("a tracestate parses its own header"),
        _ => TraceState::new(),
    };
    let baggage = if ctx.baggage.is_empty() {
        Baggage::new()
    } else {
        Baggage::parse(&ctx.baggage.to_header()).expect("a baggage parses its own header")
    };
    TraceContext {
        traceparent: ctx.traceparent.map(|tp| TraceParent {
            flags: tp.flags.known(),
            ..tp
        }),
        tracestate,
        baggage,
        remote: true,
    }
}

/// Checks the invariants every context handed to an application holds.
pub fn check_context(ctx: &TraceContext) {
    if ctx.traceparent.is_none() {
        assert!(
            ctx.tracestate.is_empty(),
            "a tracestate without a traceparent"
        );
    }
    if let Some(tp) = ctx.traceparent {
        assert!(!tp.trace_id.is_zero() && !tp.span_id.is_zero());
    }
    assert!(ctx.tracestate.len() <= tracewire::tracestate::MAX_MEMBERS);
}

/// Checks a parsed baggage: within the limits, keys unique.
pub fn check_baggage_limits(b: &Baggage) {
    assert!(
        b.len() <= tracewire::baggage::MAX_MEMBERS,
        "{} members",
        b.len()
    );
    assert!(b.to_header().len() <= tracewire::baggage::MAX_BYTES);
    let mut keys: Vec<&str> = b.iter().map(|m| m.key.as_str()).collect();
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "duplicate baggage keys");
}
