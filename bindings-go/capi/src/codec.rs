//! The message codec (core `envelope::codec::Codec`): what goes on the wire
//! for each outgoing data frame of a connection, what the application sees
//! of each incoming one, and what a malformed envelope records.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use std::ptr;

use tracewire::envelope::Decoded;
use tracewire::envelope::codec::{Codec, exception_event};
use tracewire::envelope::json::JsonEnvelope;
use tracewire::model::MessageType;
use tracewire_bridge::{Coded, DecodedKind, envelopes_from_bits, wire};

use crate::abi::*;
use crate::codes::TW_DECODED_PLAIN;
use crate::context::TwSpanContext;
use crate::convert::context_in;

/// The envelope rules of one connection: the envelopes both peers accepted,
/// where the JSON members live and whether they are stripped. Immutable;
/// share it between threads freely.
pub struct TwCodec(Codec);

/// Creates the codec of a connection that negotiated `envelopes`
/// (`TW_ENVELOPE_*` bits), with the JSON members at `json_path`
/// (dot-separated; empty: the default member, `tracewire`). With
/// `keep_members` false, received
/// payloads get the core's default (members stripped, `docs/PROTOCOL.md`
/// section 3.4); with true, the members are left in.
///
/// Errors: `invalid_argument` for an empty path component, non-UTF-8 path or
/// NULL pointers. Free `*out` with [`tw_codec_free`].
/// Thread safety: any thread; the handle is safe to share.
///
/// # Safety
/// `(json_path, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_codec_new(
    envelopes: u32,
    json_path: *const u8,
    json_path_len: usize,
    keep_members: bool,
    out: *mut *mut TwCodec,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(ptr::null_mut()) };
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let path = unsafe { text(json_path, json_path_len, "the member path is not UTF-8") }?;
        let mut json = JsonEnvelope::at_path(path).map_err(TwError::core)?;
        if keep_members {
            json = json.strip_on_extract(false);
        }
        let codec = Codec::new(envelopes_from_bits(envelopes), json);
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwCodec(codec)) }
    })
}

/// Creates the codec of a connection in MCP / JSON-RPC mode: the JSON
/// context in `params._meta` of requests and notifications and
/// `result._meta` of results, read and written on every text frame whatever
/// the handshake negotiated (`envelopes`, `TW_ENVELOPE_*` bits, still decides
/// binary frames), as MCP peers do (`docs/PROTOCOL.md` section 4.4).
/// `keep_members` as for [`tw_codec_new`].
///
/// Errors: `invalid_argument` for a NULL `out`. Free `*out` with
/// [`tw_codec_free`]. Thread safety: any thread; the handle is safe to share.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_codec_new_mcp(
    envelopes: u32,
    keep_members: bool,
    out: *mut *mut TwCodec,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(ptr::null_mut()) };
    }
    guard(|| {
        let mut json = JsonEnvelope::mcp();
        if keep_members {
            json = json.strip_on_extract(false);
        }
        let codec = Codec::new(envelopes_from_bits(envelopes), json);
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwCodec(codec)) }
    })
}

/// Frees `*codec` and sets it to NULL, so a second call is a no-op. NULL or
/// `*codec` NULL: no-op.
/// Thread safety: any thread, once no other call uses the handle.
///
/// # Safety
/// `codec` NULL or pointing to NULL or a handle from [`tw_codec_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_codec_free(codec: *mut *mut TwCodec) {
    // SAFETY: per the contract.
    unsafe { free_handle(codec) }
}

/// The frame to send for an application `payload` of `message_type`
/// (`TW_MESSAGE_*`) sent in the span whose context is `*span` plus the
/// `tracestate` and `baggage` header values (invalid ones dropped). With
/// `*enveloped` true, send `*out`; with false, send `payload` as it is (the
/// envelope was not negotiated, or a text payload is not a JSON object) and
/// `*out` is empty.
///
/// Errors: `invalid_argument` for an unknown message type, an all-zero id in
/// a valid span or NULL pointers. Free `*out` with [`tw_bytes_free`].
/// Thread safety: any thread.
///
/// # Safety
/// `codec` a live handle; each `(ptr, len)` valid (or NULL with 0); `span`
/// NULL or readable; `out` and `enveloped` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_codec_encode(
    codec: *const TwCodec,
    message_type: u32,
    payload: *const u8,
    payload_len: usize,
    span: *const TwSpanContext,
    tracestate: *const u8,
    tracestate_len: usize,
    baggage: *const u8,
    baggage_len: usize,
    out: *mut TwBytes,
    enveloped: *mut bool,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe {
        zero(out);
        zero(enveloped);
    }
    guard(|| {
        // SAFETY: caller guarantees.
        let (codec, payload, ctx) = unsafe {
            (
                handle(codec, "the codec handle is NULL")?,
                bytes(payload, payload_len)?,
                context_in(span, tracestate, tracestate_len, baggage, baggage_len)?,
            )
        };
        let t = MessageType::from_code(message_type)?;
        let mut frame = Vec::new();
        let yes = codec.0.encode_into(t, payload, &ctx, &mut frame);
        // SAFETY: caller guarantees.
        unsafe {
            put(out, TwBytes::from_vec(frame))?;
            put(enveloped, yes)
        }
    })
}

/// What the application gets of one received frame. The payload is either a
/// range of the input frame (`payload_copy.ptr` NULL: `payload_offset`,
/// `payload_len`) or, when envelope members were stripped, `payload_copy`.
/// `context` is the received context as the bridge's context record (empty
/// unless `outcome` is `TW_DECODED_ENVELOPED`). When `outcome` is
/// `TW_DECODED_MALFORMED`, `error` says why and `event` is what the receive
/// span records (the bridge's event record: the OpenTelemetry `exception`
/// event). Free with [`tw_received_free`].
#[repr(C)]
#[derive(Debug)]
pub struct TwReceived {
    /// `TW_DECODED_PLAIN`, `TW_DECODED_ENVELOPED` or `TW_DECODED_MALFORMED`.
    pub outcome: u32,
    /// The received context: a context record (enveloped only).
    pub context: TwBytes,
    /// Where the payload starts in the input frame.
    pub payload_offset: usize,
    /// The payload length in the input frame.
    pub payload_len: usize,
    /// The payload, when it is not a range of the input frame.
    pub payload_copy: TwBytes,
    /// Why the envelope is malformed (malformed only).
    pub error: *mut TwError,
    /// The event to record on the receive span: an event record (malformed only).
    pub event: TwBytes,
    /// The application payload's size for `messaging.message.body.size`:
    /// never the envelope, even when JSON members were not stripped.
    pub body_size: usize,
}

impl Default for TwReceived {
    fn default() -> Self {
        TwReceived {
            outcome: TW_DECODED_PLAIN,
            context: TwBytes::default(),
            payload_offset: 0,
            payload_len: 0,
            payload_copy: TwBytes::default(),
            error: ptr::null_mut(),
            event: TwBytes::default(),
            body_size: 0,
        }
    }
}

/// Frees everything `*r` owns (context, payload copy, error, event) and
/// zeroes it (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `r` must be NULL or point to a `TwReceived` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_received_free(r: *mut TwReceived) {
    // SAFETY: the caller passes NULL or a valid struct.
    if let Some(r) = unsafe { r.as_mut() } {
        r.context.release();
        r.payload_copy.release();
        r.event.release();
        // SAFETY: the error was made by `TwError::boxed`, or is NULL.
        unsafe { tw_error_free(r.error) };
        r.error = ptr::null_mut();
    }
}

fn received_out(frame: &[u8], decoded: Decoded<'_>, body_size: usize) -> TwReceived {
    let mut out = TwReceived {
        outcome: u32::from(DecodedKind::of(&decoded).code()),
        body_size,
        ..TwReceived::default()
    };
    let borrowed = |out: &mut TwReceived, p: &[u8]| {
        out.payload_offset = (p.as_ptr() as usize).saturating_sub(frame.as_ptr() as usize);
        out.payload_len = p.len();
    };
    match decoded {
        Decoded::Plain(p) => borrowed(&mut out, p),
        Decoded::Malformed(e, p) => {
            let mut w = wire::Writer::new();
            w.event(&exception_event(&e));
            out.event = TwBytes::from_vec(w.out.clone());
            out.error = TwError::new(e.code(), e.to_string()).boxed();
            borrowed(&mut out, p);
        }
        Decoded::Enveloped(ctx, p) => {
            let mut w = wire::Writer::new();
            w.context(&ctx);
            out.context = TwBytes::from_vec(w.out.clone());
            match p {
                std::borrow::Cow::Borrowed(p) => borrowed(&mut out, p),
                std::borrow::Cow::Owned(p) => out.payload_copy = TwBytes::from_vec(p),
            }
        }
    }
    out
}

/// Reads a received frame of `message_type` (`TW_MESSAGE_*`) into `*out`
/// (see [`TwReceived`]). Never fails on bad frames: a malformed envelope is
/// delivered with the frame as its payload. Envelopes not negotiated are
/// not read.
///
/// Errors: `invalid_argument` for an unknown message type or NULL pointers
/// only. Free `*out` with [`tw_received_free`]. Thread safety: any thread.
///
/// # Safety
/// `codec` a live handle; `(frame, len)` valid (or NULL with 0); `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_codec_decode(
    codec: *const TwCodec,
    message_type: u32,
    frame: *const u8,
    frame_len: usize,
    out: *mut TwReceived,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantees.
        let (codec, frame) = unsafe {
            (
                handle(codec, "the codec handle is NULL")?,
                bytes(frame, frame_len)?,
            )
        };
        let t = MessageType::from_code(message_type)?;
        let decoded = codec.0.decode(t, frame);
        let body_size = codec.0.payload_size(t, &decoded);
        let r = received_out(frame, decoded, body_size);
        // SAFETY: caller guarantee.
        unsafe { put(out, r) }
    })
}
