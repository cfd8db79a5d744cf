//! The JSON and binary envelopes and the queue carrier.

use jni::EnvUnowned;
use jni::objects::{JClass, JString};
use jni::sys::{jboolean, jint, jlong};
use tracewire::envelope::codec::exception_event;
use tracewire::envelope::json::JsonEnvelope;
use tracewire::envelope::{Decoded, binary};
use tracewire_bridge::DecodedKind;
use tracewire_bridge::wire::{Reader, Writer};

use crate::guard::{Fail, emit, fast, guarded, input};
use crate::plumbing::{free_handle, handle_ref, into_handle};

/// `u8 outcome` (the bridge's `DecodedKind` code), then a context record
/// (enveloped) or `u32 code, str message` and the event the receive span
/// records (the core's `exception` event, an event record) (malformed).
pub(crate) fn decoded(w: &mut Writer, d: &Decoded<'_>) {
    w.coded(DecodedKind::of(d));
    match d {
        Decoded::Plain(_) => {}
        Decoded::Enveloped(ctx, _) => w.context(ctx),
        Decoded::Malformed(e, _) => {
            w.u32(e.code().as_u32());
            w.str(&e.to_string());
            w.event(&exception_event(e));
        }
    }
}

// ---------------------------------------------------------------- envelopes

/// A JSON envelope configuration (the envelope object's member path, or MCP
/// mode, which ignores it; strip on extract); free with `jsonFree`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_jsonNew<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
    mcp: jboolean,
    strip: jboolean,
) -> jlong {
    guarded(&mut env, |env| {
        let envelope = json_envelope(env, &path, mcp)?.strip_on_extract(strip);
        Ok(into_handle(envelope))
    })
}

/// The JSON envelope at `path` (null or empty: the default member), or in
/// MCP mode.
pub(crate) fn json_envelope(
    env: &mut jni::Env<'_>,
    path: &JString<'_>,
    mcp: bool,
) -> Result<JsonEnvelope, Fail> {
    if mcp {
        return Ok(JsonEnvelope::mcp());
    }
    let path = if path.is_null() {
        String::new()
    } else {
        path.try_to_string(env)?
    };
    JsonEnvelope::at_path(&path).map_err(|e| Fail::Code(e.code(), e.to_string()))
}

/// Frees a `jsonNew` handle (0 is ignored).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_jsonFree<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    fast(&mut env, || {
        // SAFETY: made by jsonNew; Java frees it once, after its last use.
        unsafe { free_handle::<JsonEnvelope>(handle) };
        Ok(())
    })
}

/// # Safety
/// `handle` is a live `jsonNew` handle.
unsafe fn json<'a>(handle: jlong) -> Result<&'a JsonEnvelope, Fail> {
    // SAFETY: the caller's contract.
    unsafe { handle_ref(handle, "closed JSON envelope") }
}

/// Injects a context record into a JSON frame. Out: the new frame. Fails
/// with `not_json_object`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_jsonInject<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    ctx_addr: jlong,
    ctx_len: jint,
    frame_addr: jlong,
    frame_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let envelope = unsafe { json(handle)? };
        let ctx = Reader::new(unsafe { input(ctx_addr, ctx_len)? }).context()?;
        let frame = unsafe { input(frame_addr, frame_len)? };
        let mut w = Writer::new();
        envelope
            .inject_into(frame, &ctx, &mut w.out)
            .map_err(|e| Fail::Code(e.code(), e.to_string()))?;
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// Extracts from a JSON frame. Out: `u8 result (0 plain, 1 enveloped,
/// 2 malformed)`, then a context record (enveloped) or `u32 code, str
/// message` and an event record (malformed; see `decoded`), then `u8 stripped` and, when 1, the stripped
/// payload as bytes, then the application payload's size (`u32`, core `payload_size`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_jsonExtract<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    frame_addr: jlong,
    frame_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let envelope = unsafe { json(handle)? };
            let frame = unsafe { input(frame_addr, frame_len)? };
            let d = envelope.extract(frame);
            decoded(&mut w, &d);
            match &d {
                Decoded::Enveloped(_, std::borrow::Cow::Owned(p)) => {
                    w.u8(1);
                    w.bytes(p);
                }
                _ => w.u8(0),
            }
            w.len(envelope.payload_size(&d));
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// Encodes a binary frame: the envelope for a context record, then the payload.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_binaryEncode<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    ctx_addr: jlong,
    ctx_len: jint,
    payload_addr: jlong,
    payload_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let ctx = Reader::new(unsafe { input(ctx_addr, ctx_len)? }).context()?;
        let payload = unsafe { input(payload_addr, payload_len)? };
        let mut w = Writer::new();
        binary::encode_header_into(&ctx, &mut w.out);
        w.out.extend_from_slice(payload);
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// Decodes a binary frame. Out: like `jsonExtract`'s first part, then
/// `u32 payload offset` into the frame (the payload is never copied), then
/// the payload's size (`u32`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_binaryDecode<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    frame_addr: jlong,
    frame_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let frame = unsafe { input(frame_addr, frame_len)? };
            let d = binary::decode(frame);
            decoded(&mut w, &d);
            let offset = frame.len() - d.payload().len();
            w.u32(offset as u32);
            w.len(d.payload().len());
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// Restores a context from a carrier (`TraceContext::from_carrier`).
/// Out: a context record. Fails with the envelope error's code.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_fromCarrier<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    addr: jlong,
    len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let carrier = unsafe { input(addr, len)? };
        let ctx = tracewire::TraceContext::from_carrier(carrier)
            .map_err(|e| Fail::Code(e.code(), e.to_string()))?;
        let mut w = Writer::new();
        w.context(&ctx);
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// Serialises a context record as a carrier (`TraceContext::to_carrier`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_toCarrier<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    addr: jlong,
    len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let ctx = Reader::new(unsafe { input(addr, len)? }).context()?;
        let w = Writer::from_vec(ctx.to_carrier());
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}
