//! What the C ABI tests share: taking errors, reading outputs and records
//! as a C caller would.
#![allow(dead_code)] // each test file uses its own subset

use std::ffi::CStr;
use tracewire_capi::*;

pub const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Takes an error: its code and message, then frees it.
pub fn take(err: *mut TwError) -> Option<(u32, String)> {
    if err.is_null() {
        return None;
    }
    // SAFETY: a live error from the library.
    let out = unsafe {
        let msg = CStr::from_ptr(tw_error_message(err))
            .to_string_lossy()
            .into_owned();
        (tw_error_code(err), msg)
    };
    // SAFETY: freed once.
    unsafe { tw_error_free(err) };
    Some(out)
}

pub fn ok(err: *mut TwError) {
    if let Some((code, msg)) = take(err) {
        panic!("unexpected error {code}: {msg}");
    }
}

pub fn bytes_of(b: &TwBytes) -> &[u8] {
    if b.ptr.is_null() {
        return &[];
    }
    // SAFETY: Rust-owned bytes, live until freed.
    unsafe { std::slice::from_raw_parts(b.ptr, b.len) }
}

/// The context a C context describes: its record, read by the bridge, when
/// there is one (checked against `span` and `remote`), else `span` and
/// `remote` alone.
pub fn context_of(c: &TwContext) -> tracewire::TraceContext {
    let tp = c.span.valid.then_some(tracewire::TraceParent {
        trace_id: tracewire::TraceId(c.span.trace_id),
        span_id: tracewire::SpanId(c.span.span_id),
        flags: tracewire::TraceFlags(c.span.flags),
    });
    if c.record.ptr.is_null() {
        return tracewire::TraceContext {
            traceparent: tp,
            remote: c.remote,
            ..Default::default()
        };
    }
    let mut r = tracewire_bridge::wire::Reader::new(bytes_of(&c.record));
    let ctx = r.context().unwrap();
    assert!(r.is_empty(), "nothing after the record");
    assert_eq!((ctx.traceparent, ctx.remote), (tp, c.remote));
    assert!(!ctx.tracestate.is_empty() || !ctx.baggage.is_empty());
    ctx
}

pub fn span() -> TwSpanContext {
    let mut out = TwSpanContext::default();
    // SAFETY: valid input and output.
    ok(unsafe { tw_traceparent_parse(TP.as_ptr(), TP.len(), &mut out) });
    out
}
