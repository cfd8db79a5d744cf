//! Envelopes: decoding results, the JSON and binary envelopes and the queue
//! carrier.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use std::ptr;

use tracewire::TraceContext;
use tracewire::envelope::json::JsonEnvelope;
use tracewire::envelope::{Decoded, binary};

use crate::abi::*;
use crate::codes::TW_DECODED_PLAIN;
use crate::context::{TwContext, TwSpanContext};
use crate::convert::{context_in, fill_context, put_context};
use tracewire_bridge::{Coded, DecodedKind};

// ---------------------------------------------------------------------------
// Envelopes

/// The result of decoding one received frame. The payload the application
/// should see is either a range of the input frame (`payload_copy.ptr` NULL:
/// `payload_offset`, `payload_len`) or, when envelope members were stripped,
/// `payload_copy`. `error` is set (and must be freed) when `outcome` is
/// `TW_DECODED_MALFORMED`. Free with [`tw_decoded_free`].
#[repr(C)]
#[derive(Debug)]
pub struct TwDecoded {
    /// `TW_DECODED_PLAIN`, `TW_DECODED_ENVELOPED` or `TW_DECODED_MALFORMED`.
    pub outcome: u32,
    /// The received context (enveloped only; otherwise zeroed, without a
    /// record).
    pub context: TwContext,
    /// Where the payload starts in the input frame.
    pub payload_offset: usize,
    /// The payload length in the input frame.
    pub payload_len: usize,
    /// The payload, when it is not a range of the input frame.
    pub payload_copy: TwBytes,
    /// Why the envelope is malformed (malformed only).
    pub error: *mut TwError,
}

impl Default for TwDecoded {
    fn default() -> Self {
        TwDecoded {
            outcome: TW_DECODED_PLAIN,
            context: TwContext::default(),
            payload_offset: 0,
            payload_len: 0,
            payload_copy: TwBytes::default(),
            error: ptr::null_mut(),
        }
    }
}

/// Frees everything `*d` owns (context strings, payload copy, error) and
/// zeroes it (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `d` must be NULL or point to a `TwDecoded` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_decoded_free(d: *mut TwDecoded) {
    // SAFETY: the caller passes NULL or a valid struct.
    if let Some(d) = unsafe { d.as_mut() } {
        d.context.release();
        d.payload_copy.release();
        // SAFETY: the error was made by `TwError::boxed`, or is NULL.
        unsafe { tw_error_free(d.error) };
        d.error = ptr::null_mut();
    }
}

/// Writes a decoding result into a zeroed `TwDecoded`, in place.
fn fill_decoded(out: &mut TwDecoded, frame: &[u8], decoded: Decoded<'_>, header_forms: bool) {
    out.outcome = u32::from(DecodedKind::of(&decoded).code());
    let borrowed = |out: &mut TwDecoded, p: &[u8]| {
        out.payload_offset = (p.as_ptr() as usize).saturating_sub(frame.as_ptr() as usize);
        out.payload_len = p.len();
    };
    match decoded {
        Decoded::Plain(p) => borrowed(out, p),
        Decoded::Malformed(e, p) => {
            out.error = TwError::new(e.code(), e.to_string()).boxed();
            borrowed(out, p);
        }
        Decoded::Enveloped(ctx, p) => {
            fill_context(&mut out.context, &ctx, header_forms);
            match p {
                std::borrow::Cow::Borrowed(p) => borrowed(out, p),
                std::borrow::Cow::Owned(p) => out.payload_copy = TwBytes::from_vec(p),
            }
        }
    }
}

/// A JSON envelope configuration: where the envelope object lives (a member
/// path, or MCP mode) and whether extraction strips its W3C members.
/// Immutable; share it between threads freely.
pub struct TwJsonEnvelope(JsonEnvelope);

/// Creates a JSON envelope configuration: `path` is the dot-separated member
/// path of the envelope object (empty: the default member, `tracewire`);
/// `strip` removes its W3C members from extracted payloads.
///
/// Errors: `invalid_argument` for an empty path component, non-UTF-8 path or
/// NULL pointers. Free `*out` with [`tw_json_envelope_free`].
/// Thread safety: any thread; the handle is safe to share.
///
/// # Safety
/// `(path, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_json_envelope_new(
    path: *const u8,
    len: usize,
    strip: bool,
    out: *mut *mut TwJsonEnvelope,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(ptr::null_mut()) };
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let path = unsafe { text(path, len, "the member path is not UTF-8") }?;
        let env = JsonEnvelope::at_path(path)
            .map_err(TwError::core)?
            .strip_on_extract(strip);
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwJsonEnvelope(env)) }
    })
}

/// Creates a JSON envelope configuration in MCP / JSON-RPC mode
/// (`docs/PROTOCOL.md` section 4.4): the context in `params._meta` of
/// requests and notifications, `result._meta` of results, each message of a
/// batch its own; `strip` as for [`tw_json_envelope_new`].
///
/// Errors: `invalid_argument` for a NULL `out`. Free `*out` with
/// [`tw_json_envelope_free`]. Thread safety: any thread; the handle is safe
/// to share.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_json_envelope_mcp(
    strip: bool,
    out: *mut *mut TwJsonEnvelope,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(ptr::null_mut()) };
    }
    guard(|| {
        let env = JsonEnvelope::mcp().strip_on_extract(strip);
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwJsonEnvelope(env)) }
    })
}

/// Frees `*env` and sets it to NULL, so a second call is a no-op. NULL or
/// `*env` NULL: no-op. Not concurrently with other uses of the handle.
/// Thread safety: any thread, once no other call uses the handle.
///
/// # Safety
/// `env` NULL or pointing to NULL or a handle from [`tw_json_envelope_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_json_envelope_free(env: *mut *mut TwJsonEnvelope) {
    // SAFETY: per the contract.
    unsafe { free_handle(env) }
}
/// Returns in `*out` a copy of `frame` with the context's members added
/// (`docs/PROTOCOL.md` section 4.2). The context is `*span` plus `tracestate`
/// and `baggage` header values (invalid ones dropped). A context with
/// nothing to propagate gives the frame unchanged.
///
/// Errors: `not_json_object` when the frame is not a JSON object or a member
/// on the path is not an object (send the frame as it is);
/// `invalid_argument` for NULL pointers. Free `*out` with [`tw_bytes_free`].
/// Thread safety: any thread.
///
/// # Safety
/// `env` a live handle; each `(ptr, len)` valid (or NULL with 0); `span`
/// readable; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_json_inject(
    env: *const TwJsonEnvelope,
    frame: *const u8,
    frame_len: usize,
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let (env, frame, ctx) = unsafe {
            (
                handle(env, "the JSON envelope handle is NULL")?,
                bytes(frame, frame_len)?,
                context_in(span, tracestate, tracestate_len, baggage, baggage_len)?,
            )
        };
        let framed = env.0.inject(frame, &ctx).map_err(TwError::core)?;
        // SAFETY: caller guarantee.
        unsafe { put(out, TwBytes::from_vec(framed)) }
    })
}

/// Decodes a received text frame (`docs/PROTOCOL.md` section 4.3). Never fails
/// on bad frames: a malformed envelope gives `TW_DECODED_MALFORMED` with the
/// error and the frame as the payload. With `header_forms`, the context also
/// carries the core's tracestate and baggage header forms (see [`TwContext`]).
///
/// Errors: `invalid_argument` for NULL pointers only. Free `*out` with
/// [`tw_decoded_free`]. Thread safety: any thread.
///
/// # Safety
/// `env` a live handle; `(frame, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_json_extract(
    env: *const TwJsonEnvelope,
    frame: *const u8,
    frame_len: usize,
    header_forms: bool,
    out: *mut TwDecoded,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let (env, frame) = unsafe {
            (
                handle(env, "the JSON envelope handle is NULL")?,
                bytes(frame, frame_len)?,
            )
        };
        // SAFETY: caller guarantee; zeroed above.
        let out = unsafe { out_mut(out) }?;
        fill_decoded(out, frame, env.0.extract(frame), header_forms);
        Ok(())
    })
}

/// Returns in `*out` the binary envelope for the context followed by
/// `payload` (`docs/PROTOCOL.md` section 5). The context is `*span` plus
/// `tracestate` and `baggage` header values (invalid ones dropped).
///
/// Errors: `invalid_argument` for NULL pointers. Free `*out` with
/// [`tw_bytes_free`]. Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `span` readable; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_binary_encode(
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    payload: *const u8,
    payload_len: usize,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let (ctx, payload) = unsafe {
            (
                context_in(span, tracestate, tracestate_len, baggage, baggage_len)?,
                bytes(payload, payload_len)?,
            )
        };
        // SAFETY: caller guarantee.
        unsafe { put(out, TwBytes::from_vec(binary::encode(&ctx, payload))) }
    })
}

/// Returns in `*out` only the binary envelope for the context (the prefix
/// that goes before the payload, `docs/PROTOCOL.md` section 5), so a caller
/// can write header and payload without passing the payload through here.
/// The context is `*span` plus `tracestate` and `baggage` header values
/// (invalid ones dropped).
///
/// Errors: `invalid_argument` for NULL pointers. Free `*out` with
/// [`tw_bytes_free`]. Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `span` readable; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_binary_header(
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let ctx = unsafe { context_in(span, tracestate, tracestate_len, baggage, baggage_len) }?;
        let mut header = Vec::with_capacity(32);
        binary::encode_header_into(&ctx, &mut header);
        // SAFETY: caller guarantee.
        unsafe { put(out, TwBytes::from_vec(header)) }
    })
}

/// Decodes a received binary frame (`docs/PROTOCOL.md` section 5.3). Never
/// fails on bad frames; the payload is always a range of the input frame.
/// `header_forms` as for [`tw_json_extract`].
///
/// Errors: `invalid_argument` for NULL pointers only. Free `*out` with
/// [`tw_decoded_free`]. Thread safety: any thread.
///
/// # Safety
/// `(frame, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_binary_decode(
    frame: *const u8,
    frame_len: usize,
    header_forms: bool,
    out: *mut TwDecoded,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let frame = unsafe { bytes(frame, frame_len) }?;
        // SAFETY: caller guarantee; zeroed above.
        let out = unsafe { out_mut(out) }?;
        fill_decoded(out, frame, binary::decode(frame), header_forms);
        Ok(())
    })
}

/// Serialises a context for a queue item or any store (`docs/PROTOCOL.md`
/// section 6): `*span` plus `tracestate` and `baggage` header values.
///
/// Errors: `invalid_argument` for NULL pointers. Free `*out` with
/// [`tw_bytes_free`]. Thread safety: any thread.
///
/// # Safety
/// Each `(ptr, len)` valid (or NULL with 0); `span` readable; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_carrier_encode(
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    out: *mut TwBytes,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let ctx = unsafe { context_in(span, tracestate, tracestate_len, baggage, baggage_len) }?;
        // SAFETY: caller guarantee.
        unsafe { put(out, TwBytes::from_vec(ctx.to_carrier())) }
    })
}

/// Restores a context from carrier bytes; the result is marked remote. With
/// `header_forms`, `*out` also carries the core's tracestate and baggage header
/// forms (see [`TwContext`]).
///
/// Errors: `invalid_envelope` or `unsupported_envelope_version` for bad
/// bytes (including bytes after the context); `invalid_argument` for NULL
/// pointers. Free `*out` with [`tw_context_free`]. Thread safety: any thread.
///
/// # Safety
/// `(carrier, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_carrier_decode(
    carrier: *const u8,
    len: usize,
    header_forms: bool,
    out: *mut TwContext,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let carrier = unsafe { bytes(carrier, len) }?;
        let ctx = TraceContext::from_carrier(carrier).map_err(TwError::core)?;
        // SAFETY: caller guarantee.
        unsafe { put_context(out, &ctx, header_forms) }
    })
}
