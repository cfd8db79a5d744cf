//! Contexts and W3C values: span contexts, `traceparent`, `tracestate` and
//! baggage.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use crate::abi::*;
use crate::convert;
use crate::records;
use tracewire::{Baggage, BaggageMember, ErrorCode, TraceParent, TraceState};

// ---------------------------------------------------------------------------
// Contexts

/// A span context: trace id, span id and trace flags, as bytes.
/// `valid` is false when there is no span context (the other fields are then zero).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TwSpanContext {
    /// The 16-byte trace id.
    pub trace_id: [u8; 16],
    /// The 8-byte span id.
    pub span_id: [u8; 8],
    /// The trace flags, every bit kept.
    pub flags: u8,
    /// Whether there is a span context.
    pub valid: bool,
}

/// A context produced by the library: its span context as bytes, and the
/// bridge's *context record* (little-endian; grammar in
/// `bindings-bridge/src/wire.rs`: flags, trace and span ids, trace flags,
/// the tracestate entries and the baggage members, already parsed and
/// decoded by the core) whenever the context has a tracestate or baggage.
/// Without either, `span` and `remote` are the whole context and no record
/// is written (nothing allocated: the common case of a bare `traceparent`).
/// The record stands alone (it repeats the span context and the remote
/// flag), so a reader can take everything from it.
///
/// `tracestate` and `baggage` are the core's header forms of the same values
/// (the tracestate shortened to 512 characters, the baggage
/// percent-encoded), written only when the function was asked for them
/// (`header_forms` true) and the value is not empty.
///
/// Allocated by Rust: `record`, `tracestate`, `baggage` (NULL when empty);
/// free them with [`tw_context_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwContext {
    /// The span context.
    pub span: TwSpanContext,
    /// Whether the context was received from another process.
    pub remote: bool,
    /// The context record (empty when there is neither tracestate nor baggage).
    pub record: TwBytes,
    /// The `tracestate` header form (empty when not asked for or none).
    pub tracestate: TwBytes,
    /// The `baggage` header form (empty when not asked for or none).
    pub baggage: TwBytes,
}

impl TwContext {
    pub(crate) fn release(&mut self) {
        self.record.release();
        self.tracestate.release();
        self.baggage.release();
    }
}

/// Frees what `*ctx` allocated (`record`, `tracestate`, `baggage`) and
/// zeroes those fields (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `ctx` must be NULL or point to a `TwContext` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_context_free(ctx: *mut TwContext) {
    // SAFETY: the caller passes NULL or a valid TwContext.
    if let Some(c) = unsafe { ctx.as_mut() } {
        c.release();
    }
}

/// What extraction ignored: up to 4 error codes, in order (`invalid_traceparent`,
/// `invalid_tracestate`, `invalid_baggage`). No allocation, nothing to free.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TwIssues {
    /// The codes; the first `count` are set.
    pub codes: [u32; 4],
    /// How many codes are set.
    pub count: u32,
}

/// Parses a `traceparent` header value into `*out`.
///
/// Errors: `invalid_traceparent` (also for invalid UTF-8), `invalid_argument`
/// for NULL pointers. Nothing to free.
/// Thread safety: any thread.
///
/// # Safety
/// `value` must be valid for `len` bytes (or NULL with `len` 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_traceparent_parse(
    value: *const u8,
    len: usize,
    out: *mut TwSpanContext,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee on `value`.
        let b = unsafe { bytes(value, len) }?;
        let s = std::str::from_utf8(b)
            .map_err(|_| TwError::new(ErrorCode::InvalidTraceParent, "traceparent is not UTF-8"))?;
        let tp = TraceParent::parse(s).map_err(TwError::core)?;
        // SAFETY: caller guarantee on `out`.
        unsafe { put(out, convert::span_out(Some(tp))) }
    })
}

/// The 55-character version-00 `traceparent` text.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TwTraceParentText {
    /// The characters (not NUL-terminated).
    pub text: [u8; 55],
}

impl Default for TwTraceParentText {
    fn default() -> Self {
        TwTraceParentText { text: [0; 55] }
    }
}

/// Formats `*span` as a version-00 `traceparent`.
///
/// Errors: `invalid_traceparent` when `span` is not valid or has an all-zero
/// id; `invalid_argument` for NULL pointers. Nothing to free.
/// Thread safety: any thread.
///
/// # Safety
/// `span` must be readable, `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_traceparent_format(
    span: *const TwSpanContext,
    out: *mut TwTraceParentText,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let span =
            unsafe { span.as_ref() }.ok_or_else(|| TwError::invalid_argument("span is NULL"))?;
        let tp = convert::span_in(span)?
            .ok_or_else(|| TwError::new(ErrorCode::InvalidTraceParent, "no valid span context"))?;
        // SAFETY: caller guarantee.
        unsafe { put(out, TwTraceParentText { text: tp.encode() }) }
    })
}

// ---------------------------------------------------------------------------
// tracestate and baggage values

/// A tracestate: every entry (records: key, value, key, value, ...) and the
/// serialised header (at most 512 characters, so it may hold fewer entries).
/// Free with [`tw_tracestate_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwTraceState {
    /// Records: key, value, key, value, ... in order.
    pub entries: TwBytes,
    /// The header value.
    pub header: TwBytes,
}

/// Frees the buffers of `*ts` and zeroes them (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `ts` must be NULL or point to a `TwTraceState` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_tracestate_free(ts: *mut TwTraceState) {
    // SAFETY: the caller passes NULL or a valid TwTraceState.
    if let Some(t) = unsafe { ts.as_mut() } {
        t.entries.release();
        t.header.release();
    }
}

fn tracestate_out(ts: &TraceState) -> TwTraceState {
    let mut w = records::Writer::default();
    for (k, v) in ts.iter() {
        w.push(k.as_bytes());
        w.push(v.as_bytes());
    }
    TwTraceState {
        entries: TwBytes::from_vec(w.finish()),
        header: TwBytes::from_string(ts.to_header()),
    }
}

fn tracestate_from_entries(entries: &[u8]) -> Result<TraceState> {
    let items = records::read_strings(entries)?;
    if items.len() % 2 != 0 {
        return Err(TwError::invalid_argument(
            "tracestate entries must be key/value pairs",
        ));
    }
    TraceState::from_entries(items.chunks(2).map(|p| (p[0], p[1]))).map_err(TwError::core)
}

/// What to send for `*sending`, a span context the application's SDK made,
/// when the SDK could not hold all of a received context
/// (`tracewire::Received::pass_on`): `*received` and `received_state` are
/// what was extracted, `accepted` the members of that state the SDK's
/// `TraceState` held, `sdk_state` the state of `*sending`; every state is a
/// `tracestate` header value (empty for none). On success `*sending` has the
/// flags to send (the received random flag kept with the trace id) and
/// `*out` the tracestate to send.
///
/// Errors: `invalid_traceparent` when `*received` or `*sending` is not a
/// valid span context; `invalid_tracestate` when a state does not parse;
/// `invalid_argument` for NULL pointers or text that is not UTF-8. `*sending`
/// is left as it was on error. Free `*out` with [`tw_tracestate_free`].
/// Thread safety: any thread.
///
/// # Safety
/// `received` readable, `sending` readable and writable, every `(ptr, len)`
/// valid for reads (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_pass_on(
    received: *const TwSpanContext,
    received_state: *const u8,
    received_state_len: usize,
    accepted: *const u8,
    accepted_len: usize,
    sending: *mut TwSpanContext,
    sdk_state: *const u8,
    sdk_state_len: usize,
    out: *mut TwTraceState,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        let state = |ptr, len| -> Result<TraceState> {
            // SAFETY: caller guarantee on every state.
            let header = unsafe { text(ptr, len, "a tracestate is not UTF-8") }?;
            TraceState::parse(header).map_err(TwError::core)
        };
        let span = |s: *const TwSpanContext, what| -> Result<TraceParent> {
            // SAFETY: caller guarantee: readable when not NULL.
            let s = unsafe { s.as_ref() }.ok_or_else(|| TwError::invalid_argument(what))?;
            convert::span_in(s)?
                .ok_or_else(|| TwError::new(ErrorCode::InvalidTraceParent, "no span context"))
        };
        let received = tracewire::Received {
            traceparent: span(received, "received is NULL")?,
            tracestate: state(received_state, received_state_len)?,
            accepted: state(accepted, accepted_len)?,
        };
        let (tp, ts) = received.pass_on(
            span(sending, "sending is NULL")?,
            &state(sdk_state, sdk_state_len)?,
        );
        // SAFETY: caller guarantee: `out` writable.
        unsafe { put(out, tracestate_out(&ts)) }?;
        // SAFETY: `sending` was read above, so it is not NULL; writable by contract.
        unsafe { (*sending).flags = tp.flags.0 };
        Ok(())
    })
}

/// Parses tracestate header lines (records: one line each, combined as if
/// joined with `,`) into `*out`.
///
/// Errors: `invalid_tracestate` (also for a line that is not UTF-8);
/// `invalid_argument` for malformed records or NULL pointers.
/// Free `*out` with [`tw_tracestate_free`]. Thread safety: any thread.
///
/// # Safety
/// `lines` valid for `len` bytes (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_tracestate_parse(
    lines: *const u8,
    len: usize,
    out: *mut TwTraceState,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let lines = records::read(unsafe { bytes(lines, len) }?)?;
        let lines = lines
            .iter()
            .map(|l| std::str::from_utf8(l))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| TwError::new(ErrorCode::InvalidTraceState, "tracestate is not UTF-8"))?;
        let ts = TraceState::parse_lines(lines).map_err(TwError::core)?;
        // SAFETY: caller guarantee.
        unsafe { put(out, tracestate_out(&ts)) }
    })
}

/// Applies one update to the tracestate whose entries are given (records, as
/// in [`TwTraceState::entries`]): with `remove` false, inserts `key=value`
/// (moving it to the front; a 33rd entry drops the rightmost); with `remove`
/// true, removes `key` (`value` is ignored). Writes the new state to `*out`.
///
/// Errors: `invalid_tracestate` for an invalid key or value;
/// `invalid_argument` for malformed records, non-UTF-8 text or NULL pointers.
/// Free `*out` with [`tw_tracestate_free`]. Thread safety: any thread.
///
/// # Safety
/// Every `(ptr, len)` valid for reads (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_tracestate_update(
    entries: *const u8,
    entries_len: usize,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    remove: bool,
    out: *mut TwTraceState,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees on every input.
        let mut ts = tracestate_from_entries(unsafe { bytes(entries, entries_len) }?)?;
        // SAFETY: as above.
        let key = unsafe { text(key, key_len, "the key is not UTF-8") }?;
        if remove {
            ts.remove(key);
        } else {
            // SAFETY: as above.
            let value = unsafe { text(value, value_len, "the value is not UTF-8") }?;
            ts.insert(key, value).map_err(TwError::core)?;
        }
        // SAFETY: caller guarantee.
        unsafe { put(out, tracestate_out(&ts)) }
    })
}

/// Baggage: every member and the serialised header. `members` is records, per
/// member: key, value, property count (4 bytes, little-endian), then per
/// property: key, a flag (1 byte: 1 when it has a value), value (empty when
/// the flag is 0). Free with [`tw_baggage_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwBaggage {
    /// The members, in order (format above).
    pub members: TwBytes,
    /// The header value.
    pub header: TwBytes,
}

/// Frees the buffers of `*bag` and zeroes them (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `bag` must be NULL or point to a `TwBaggage` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_baggage_free(bag: *mut TwBaggage) {
    // SAFETY: the caller passes NULL or a valid TwBaggage.
    if let Some(b) = unsafe { bag.as_mut() } {
        b.members.release();
        b.header.release();
    }
}

fn baggage_out(bag: &Baggage) -> TwBaggage {
    let mut w = records::Writer::default();
    for m in bag.iter() {
        w.push(m.key.as_bytes());
        w.push(m.value.as_bytes());
        w.push(
            &u32::try_from(m.properties.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for (k, v) in &m.properties {
            w.push(k.as_bytes());
            w.push(&[u8::from(v.is_some())]);
            w.push(v.as_deref().unwrap_or("").as_bytes());
        }
    }
    TwBaggage {
        members: TwBytes::from_vec(w.finish()),
        header: TwBytes::from_string(bag.to_header()),
    }
}

fn baggage_members(buf: &[u8]) -> Result<Vec<BaggageMember>> {
    let bad = || TwError::invalid_argument("malformed baggage member records");
    let items = records::read(buf)?;
    let mut it = items.into_iter();
    let mut out = Vec::new();
    let s = |b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| TwError::invalid_argument("baggage text is not UTF-8"))
    };
    while let Some(key) = it.next() {
        let value = it.next().ok_or_else(bad)?;
        let count = it.next().ok_or_else(bad)?;
        let count: [u8; 4] = count.try_into().map_err(|_| bad())?;
        let mut m = BaggageMember::new(s(key)?, s(value)?);
        for _ in 0..u32::from_le_bytes(count) {
            let (k, flag, v) = (
                it.next().ok_or_else(bad)?,
                it.next().ok_or_else(bad)?,
                it.next().ok_or_else(bad)?,
            );
            let v = match flag {
                [0] => None,
                [1] => Some(s(v)?),
                _ => return Err(bad()),
            };
            m.properties.push((s(k)?, v));
        }
        out.push(m);
    }
    Ok(out)
}

/// Parses baggage header lines (records: one line each, combined as if joined
/// with `,`) into `*out`. Values are percent-decoded; members over the limits
/// are dropped (not an error).
///
/// Errors: `invalid_baggage` (also for a line that is not UTF-8);
/// `invalid_argument` for malformed records or NULL pointers.
/// Free `*out` with [`tw_baggage_free`]. Thread safety: any thread.
///
/// # Safety
/// `lines` valid for `len` bytes (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_baggage_parse(
    lines: *const u8,
    len: usize,
    out: *mut TwBaggage,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let lines = records::read(unsafe { bytes(lines, len) }?)?;
        let lines = lines
            .iter()
            .map(|l| std::str::from_utf8(l))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| TwError::new(ErrorCode::InvalidBaggage, "baggage is not UTF-8"))?;
        let bag = Baggage::parse_lines(lines).map_err(TwError::core)?;
        // SAFETY: caller guarantee.
        unsafe { put(out, baggage_out(&bag)) }
    })
}

/// Builds baggage by inserting `members` (format of [`TwBaggage::members`])
/// in order: a key already present is replaced in place, a new one appended.
///
/// Errors: `invalid_baggage` for an invalid key, property or a limit;
/// `invalid_argument` for malformed records or NULL pointers.
/// Free `*out` with [`tw_baggage_free`]. Thread safety: any thread.
///
/// # Safety
/// `members` valid for `len` bytes (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_baggage_build(
    members: *const u8,
    len: usize,
    out: *mut TwBaggage,
) -> *mut TwError {
    // SAFETY: `out` is NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let members = baggage_members(unsafe { bytes(members, len) }?)?;
        let mut bag = Baggage::new();
        for m in members {
            bag.insert_member(m).map_err(TwError::core)?;
        }
        // SAFETY: caller guarantee.
        unsafe { put(out, baggage_out(&bag)) }
    })
}
