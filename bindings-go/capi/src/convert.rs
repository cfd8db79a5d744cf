//! Conversions between the C structs and the core's types.

use crate::abi::{Result, TwBytes, TwError, bytes, out_mut};
use crate::context::{TwContext, TwIssues, TwSpanContext};
use std::cell::RefCell;
use tracewire::{Baggage, ExtractIssue, KeyValue, SpanId, TraceContext, TraceFlags, TraceId};
use tracewire::{TraceParent, TraceState};
use tracewire_bridge::cache::Recent;

// The last few values parsed from header strings on this thread (the cache
// policy: tracewire_bridge::cache). A sender passes the same tracestate and
// baggage for every message of a request or a stream, and parsing them
// (percent-decoding, validation) costs far more than cloning the result.
thread_local! {
    static TRACESTATES: RefCell<Recent<TraceState>> = const { RefCell::new(Recent::new()) };
    static BAGGAGES: RefCell<Recent<Baggage>> = const { RefCell::new(Recent::new()) };
}

/// A span context struct from a parsed `traceparent` (or none).
pub(crate) fn span_out(tp: Option<TraceParent>) -> TwSpanContext {
    match tp {
        Some(tp) => TwSpanContext {
            trace_id: tp.trace_id.0,
            span_id: tp.span_id.0,
            flags: tp.flags.0,
            valid: true,
        },
        None => TwSpanContext::default(),
    }
}

/// The `traceparent` a span context struct describes: `None` when not
/// `valid`; an error when valid but an id is all zeros.
pub(crate) fn span_in(s: &TwSpanContext) -> Result<Option<TraceParent>> {
    if !s.valid {
        return Ok(None);
    }
    let (trace_id, span_id) = (TraceId(s.trace_id), SpanId(s.span_id));
    if trace_id.is_zero() || span_id.is_zero() {
        return Err(TwError::new(
            tracewire::ErrorCode::InvalidTraceParent,
            "a span context has an all-zero trace id or span id",
        ));
    }
    Ok(Some(TraceParent {
        trace_id,
        span_id,
        flags: TraceFlags(s.flags),
    }))
}

/// A core context from the C inputs: the span context and the `tracestate` and
/// `baggage` header values. Invalid (or non-UTF-8) header values are dropped,
/// as a receiver drops them; a span of NULL means none.
///
/// # Safety
/// `span` NULL or readable; each `(ptr, len)` valid (or NULL with 0).
pub(crate) unsafe fn context_in(
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
) -> Result<TraceContext> {
    // SAFETY: caller guarantees.
    let span = unsafe { span.as_ref() };
    let traceparent = match span {
        Some(s) => span_in(s)?,
        None => None,
    };
    // SAFETY: caller guarantees.
    let (ts, bg) = unsafe {
        (
            bytes(tracestate, tracestate_len)?,
            bytes(baggage, baggage_len)?,
        )
    };
    let tracestate = match (traceparent, std::str::from_utf8(ts)) {
        (Some(_), Ok(s)) if !s.is_empty() => TRACESTATES.with(|c| {
            c.borrow_mut()
                .get_or_convert(ts, || TraceState::parse(s).unwrap_or_default())
        }),
        _ => TraceState::new(),
    };
    let baggage = match std::str::from_utf8(bg) {
        Ok(s) if !s.is_empty() => BAGGAGES.with(|c| {
            c.borrow_mut()
                .get_or_convert(bg, || Baggage::parse(s).unwrap_or_default())
        }),
        _ => Baggage::new(),
    };
    Ok(TraceContext {
        traceparent,
        tracestate,
        baggage,
        remote: false,
    })
}

/// Writes a core context into a zeroed C struct, in place: its span context,
/// its context record when it has a tracestate or baggage and, with
/// `header_forms`, the core's header forms of those.
pub(crate) fn fill_context(out: &mut TwContext, ctx: &TraceContext, header_forms: bool) {
    out.span = span_out(ctx.traceparent);
    out.remote = ctx.remote;
    // The record holds no tracestate without a span context; nor does this.
    let tracestate = ctx.traceparent.is_some() && !ctx.tracestate.is_empty();
    if !tracestate && ctx.baggage.is_empty() {
        return;
    }
    let mut w = tracewire_bridge::wire::Writer::new();
    w.context(ctx);
    out.record = TwBytes::from_vec(w.out.clone());
    if header_forms {
        if tracestate {
            out.tracestate = TwBytes::from_string(ctx.tracestate.to_header());
        }
        if !ctx.baggage.is_empty() {
            out.baggage = TwBytes::from_string(ctx.baggage.to_header());
        }
    }
}

/// [`fill_context`] through a zeroed out-pointer.
///
/// # Safety
/// `out` NULL or a writable `TwContext` zeroed by [`zero`].
pub(crate) unsafe fn put_context(
    out: *mut TwContext,
    ctx: &TraceContext,
    header_forms: bool,
) -> Result<()> {
    // SAFETY: forwarded.
    fill_context(unsafe { out_mut(out) }?, ctx, header_forms);
    Ok(())
}

/// The codes of what extraction ignored (at most four are kept).
pub(crate) fn issues_out(issues: &[ExtractIssue]) -> TwIssues {
    let mut out = TwIssues::default();
    for (slot, i) in out.codes.iter_mut().zip(issues) {
        *slot = i.code().as_u32();
        out.count += 1;
    }
    out
}

/// Attributes in the bridge's byte format (see `TwSpanDecision::attributes`).
pub(crate) fn attributes_out(attrs: &[KeyValue]) -> TwBytes {
    TwBytes::from_vec(tracewire_bridge::wire::attributes_to_vec(attrs))
}
