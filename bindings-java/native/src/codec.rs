//! The message codec of one connection (core `envelope::codec::Codec`):
//! what each outgoing frame becomes and what the application and the
//! receive span get of each incoming one.

use jni::EnvUnowned;
use jni::objects::{JClass, JString};
use jni::sys::{jboolean, jint, jlong};
use tracewire::envelope::codec::Codec;
use tracewire::envelope::json::STRIP_BY_DEFAULT;
use tracewire::model::MessageType;
use tracewire_bridge::wire::{Reader, Writer};
use tracewire_bridge::{Coded, envelopes_from_bits};

use crate::envelope::decoded;
use crate::guard::{Fail, emit, fast, guarded, input};
use crate::plumbing::{free_handle, handle_ref, into_handle};

/// Whether received JSON payloads lose their envelope members unless
/// configured otherwise (core `envelope::json::STRIP_BY_DEFAULT`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_stripByDefault<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jboolean {
    fast(&mut env, || Ok(STRIP_BY_DEFAULT))
}

/// A codec for a connection that negotiated `envelopes` (the bridge's
/// envelope bit set: 1 JSON, 2 binary), with the JSON envelope object at
/// `path` (null or empty: the default member) or in MCP mode (`mcp`: text
/// frames read and written whatever was negotiated), stripped on receive
/// when `strip`. Free with `codecFree`. Fails with `invalid_argument` for a
/// bad path.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_codecNew<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    envelopes: jint,
    path: JString<'local>,
    mcp: jboolean,
    strip: jboolean,
) -> jlong {
    guarded(&mut env, |env| {
        let json = crate::envelope::json_envelope(env, &path, mcp)?.strip_on_extract(strip);
        let codec = Codec::new(envelopes_from_bits(envelopes as u32), json);
        Ok(into_handle(codec))
    })
}

/// Frees a `codecNew` handle (0 is ignored).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_codecFree<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    fast(&mut env, || {
        // SAFETY: made by codecNew; Java frees it once, after its last use.
        unsafe { free_handle::<Codec>(handle) };
        Ok(())
    })
}

/// # Safety
/// `handle` is a live `codecNew` handle.
unsafe fn codec<'a>(handle: jlong) -> Result<&'a Codec, Fail> {
    // SAFETY: the caller's contract.
    unsafe { handle_ref(handle, "closed message codec") }
}

/// The frame to send for an application payload of `message_type` (the
/// bridge's `MessageType` code) sent in the span whose context is the
/// context record at `ctx`. Out: `u8 0` (send the payload as it is: the
/// envelope was not negotiated, or a text payload is not a JSON object), or
/// `u8 1` followed by the frame to send (the rest of the output).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_codecEncode<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    message_type: jint,
    ctx_addr: jlong,
    ctx_len: jint,
    payload_addr: jlong,
    payload_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let codec = unsafe { codec(handle)? };
            let message_type = MessageType::from_code(message_type as u32)?;
            let ctx = Reader::new(unsafe { input(ctx_addr, ctx_len)? }).context()?;
            let payload = unsafe { input(payload_addr, payload_len)? };
            let enveloped = codec.encode_into(message_type, payload, &ctx, &mut w.out);
            // The flag goes first; moving a frame by one byte costs less
            // than a second buffer.
            w.out.insert(0, u8::from(enveloped));
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// Reads a received frame of `message_type`. Out: the outcome as `jsonExtract`
/// and `binaryDecode` write it (`u8` `DecodedKind` code; enveloped: a
/// context record; malformed: `u32 code, str message`, then the event the
/// receive span records, the core's `exception` event); then the payload the
/// application sees: `u8 0, u32 offset, u32 length` (a part of the frame,
/// not copied) or `u8 1` and the payload as bytes (members were stripped);
/// then the application payload's size (`u32`, core `Codec::payload_size`:
/// never the envelope, stripped or not).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_codecDecode<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    message_type: jint,
    frame_addr: jlong,
    frame_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let codec = unsafe { codec(handle)? };
            let message_type = MessageType::from_code(message_type as u32)?;
            let frame = unsafe { input(frame_addr, frame_len)? };
            let d = codec.decode(message_type, frame);
            decoded(&mut w, &d);
            let payload = d.payload();
            let start = payload.as_ptr() as usize;
            let base = frame.as_ptr() as usize;
            // A payload inside the frame is handed back as a view of it.
            if start >= base && start + payload.len() <= base + frame.len() {
                w.u8(0);
                w.len(start - base);
                w.len(payload.len());
            } else {
                w.u8(1);
                w.bytes(payload);
            }
            w.len(codec.payload_size(message_type, &d));
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}
