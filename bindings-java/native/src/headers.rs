//! Header names, extraction, injection and both sides of the handshake,
//! and the propagator's fast paths.

use jni::EnvUnowned;
use jni::objects::{JClass, JObject};
use jni::sys::{jint, jlong};
use tracewire::ExtractIssue;
use tracewire::handshake::{
    self, AppProtocols, BAGGAGE, ClientHandshake, Envelopes, SESSION_HEADER, ServerHandshake,
    TRACEPARENT, TRACESTATE,
};
use tracewire_bridge::wire::{Reader, Writer};
use tracewire_bridge::{envelopes_from_bits, envelopes_to_bits};

use crate::guard::{Fail, emit, exchange, fast, guarded, input};
use crate::w3c::lines;

/// The header names, in the order of the field indexes used on the wire.
pub(crate) const FIELDS: [&str; 4] = [TRACEPARENT, TRACESTATE, BAGGAGE, SESSION_HEADER];

fn field_index(name: &str) -> u8 {
    FIELDS.iter().position(|f| *f == name).unwrap_or(0) as u8
}

fn issues(w: &mut Writer, issues: &[ExtractIssue]) {
    w.u32(issues.len() as u32);
    for i in issues {
        w.u32(i.code().as_u32());
        w.str(&i.to_string());
    }
}

fn pairs<'a>(r: &mut Reader<'a>) -> Result<Vec<(&'a str, &'a str)>, Fail> {
    let n = r.u32()?;
    let mut v = Vec::with_capacity((n as usize).min(256));
    for _ in 0..n {
        v.push((r.str()?, r.str()?));
    }
    Ok(v)
}

/// The application's subprotocols (`u32 n, n x str`), checked by the core.
fn apps(r: &mut Reader<'_>) -> Result<AppProtocols, Fail> {
    let n = r.u32()?;
    let mut names = Vec::with_capacity((n as usize).min(64));
    for _ in 0..n {
        names.push(r.str()?);
    }
    AppProtocols::new(names).map_err(|e| Fail::argument(e.0))
}

fn opt_query<'a>(r: &mut Reader<'a>) -> Result<Option<&'a str>, Fail> {
    let present = r.u8()? != 0;
    let q = r.str()?;
    Ok(present.then_some(q))
}

#[derive(Default)]
struct IndexedSink(Vec<(u8, String)>);

impl handshake::HeaderSink for IndexedSink {
    fn set(&mut self, name: &'static str, value: &str) {
        let i = field_index(name);
        self.0.retain(|(k, _)| *k != i);
        self.0.push((i, value.to_owned()));
    }
}

/// Writes header sets straight into the output: `u32 n` (patched at the
/// end), then `n x (u8 field, str value)`. For the hot inject path.
struct DirectSink {
    w: Writer,
    n: u32,
}

impl DirectSink {
    fn new() -> Self {
        let mut w = Writer::new();
        w.u32(0);
        DirectSink { w, n: 0 }
    }

    fn finish(mut self) -> Writer {
        let n = self.n.to_le_bytes();
        self.w.out[..4].copy_from_slice(&n);
        std::mem::replace(&mut self.w, Writer::from_vec(Vec::new()))
    }
}

impl handshake::HeaderSink for DirectSink {
    fn set(&mut self, name: &'static str, value: &str) {
        self.w.u8(field_index(name));
        self.w.str(value);
        self.n += 1;
    }
}

fn write_sink(w: &mut Writer, sink: &IndexedSink) {
    w.u32(sink.0.len() as u32);
    for (i, v) in &sink.0 {
        w.u8(*i);
        w.str(v);
    }
}

// ---------------------------------------------------------------- headers

/// Extracts a context from header pairs and an optional query string.
/// In: `u8 has_query, str query, u32 n, n x (str name, str value)`.
/// Out: context record, `u32 n, n x (u32 code, str message)` issues.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_extract<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let query = opt_query(r)?;
        let headers = pairs(r)?;
        let (ctx, found) = handshake::extract(&headers, query);
        w.context(&ctx);
        issues(w, &found);
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}

/// Injects a context as headers.
/// In: context record. Out: `u32 n, n x (u8 field, str value)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_inject<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let ctx = Reader::new(unsafe { input(input_addr, input_len)? }).context()?;
        // The core writes each header at most once: straight into the output.
        let mut sink = DirectSink::new();
        handshake::inject(&ctx, &mut sink);
        let w = sink.finish();
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// The server side of the handshake.
/// In: `u8 supported, u8 has_query, str query, u32 n, n x (str name, str value),
/// u32 m, m x str` application subprotocols.
/// Out: context record, issues, `u8 envelopes, str session id, str subprotocol,
/// str app protocol` (empty strings: none).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_serverHandshake<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let supported = envelopes_from_bits(u32::from(r.u8()?));
        let query = opt_query(r)?;
        let headers = pairs(r)?;
        let apps = apps(r)?;
        let hs = ServerHandshake::from_request(&headers, query, supported, &apps);
        w.context(&hs.context);
        issues(w, &hs.issues);
        // Two bits: always fits a byte.
        w.u8(envelopes_to_bits(hs.envelopes) as u8);
        w.str(&hs.session_id);
        w.str(hs.subprotocol.as_deref().unwrap_or_default());
        w.str(hs.app_protocol.as_deref().unwrap_or_default());
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}

/// The client's upgrade request headers.
/// In: context record, `str session id`.
/// Out: `u32 n, n x (u8 field, str value)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_clientRequest<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let mut sink = IndexedSink::default();
        {
            // SAFETY: Native's contract.
            let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
            let ctx = r.context()?;
            ClientHandshake {
                offered: Envelopes::NONE,
                apps: AppProtocols::default(),
                session_id: r.str()?.to_owned(),
            }
            .request_headers(&ctx, &mut sink);
        }
        let mut w = Writer::new();
        write_sink(&mut w, &sink);
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// The client's side of the subprotocol negotiation.
/// In: `u8 offered, u32 m, m x str` application subprotocols, `u8 has_selected,
/// str selected` (the server's selection).
/// Out: `u32 n, n x str` the subprotocols to offer, `u8 envelopes, str app
/// protocol` what the selection means (empty: none).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_clientNegotiation<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let offered = envelopes_from_bits(u32::from(r.u8()?));
        let hs = ClientHandshake {
            offered,
            apps: apps(r)?,
            session_id: String::new(),
        };
        let selected = opt_query(r)?;
        let offer = hs.subprotocols();
        w.u32(offer.len() as u32);
        for token in &offer {
            w.str(token);
        }
        let n = hs.negotiated(selected);
        // Two bits: always fits a byte.
        w.u8(envelopes_to_bits(n.envelopes) as u8);
        w.str(n.app_protocol.as_deref().unwrap_or_default());
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}

/// A new session id (32 lowercase hex characters).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_newSessionId<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JObject<'local> {
    guarded(&mut env, |env| {
        Ok(env.new_string(handshake::new_session_id())?.into())
    })
}

/// The propagator's extract: the core's `TraceContext::from_header_values`
/// on the lines of the three headers. In: for `traceparent`, `tracestate` and
/// `baggage` in that order, `u32 n, n x str`. Out: a context record (what was
/// ignored is not reported: a propagator has nowhere to report it).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_extractFields<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let (tp, ts, bg) = (lines(r)?, lines(r)?, lines(r)?);
        let (ctx, _) = tracewire::TraceContext::from_header_values(&tp, &ts, &bg);
        w.context(&ctx);
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}

/// The propagator's inject when there is only a span context (no tracestate,
/// no baggage: the common case). In: 32 + 16 hex characters and the flags
/// byte at `input`. Out: the `traceparent` value (55 bytes), formatted by the
/// core. Returns 55, or 0 when the ids are not a valid span context (nothing
/// to inject, as `handshake::inject` would write nothing).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_injectTraceParent<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract: 49 readable bytes.
        let b = unsafe { input(input_addr, 49)? };
        let (Ok(t), Ok(s)) = (
            std::str::from_utf8(&b[..32]),
            std::str::from_utf8(&b[32..48]),
        ) else {
            return Ok(0);
        };
        let (Ok(trace_id), Ok(span_id)) = (
            tracewire::TraceId::from_hex(t),
            tracewire::SpanId::from_hex(s),
        ) else {
            return Ok(0);
        };
        let tp = tracewire::TraceParent {
            trace_id,
            span_id,
            flags: tracewire::TraceFlags(b[48]),
        };
        let encoded = tp.encode();
        let n = encoded.len() as jint;
        if n > cap || out == 0 {
            return Ok(-n);
        }
        // SAFETY: Native's contract; `n <= cap`.
        unsafe { std::ptr::copy_nonoverlapping(encoded.as_ptr(), out as *mut u8, encoded.len()) };
        Ok(n)
    })
}

/// The propagator's extract when there is one `traceparent` line and no
/// `tracestate` or `baggage` (the common case). In: the value. Out: 32 + 16
/// hex characters and the flags byte of the core's parse. Returns 49, or 0
/// when the value is invalid (no span context).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_extractTraceParent<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let b = unsafe { input(input_addr, input_len)? };
        let Ok(value) = std::str::from_utf8(b) else {
            return Ok(0);
        };
        let Ok(tp) = tracewire::TraceParent::parse(value) else {
            return Ok(0);
        };
        if cap < 49 || out == 0 {
            return Ok(-49);
        }
        let encoded = tp.encode();
        let mut o = [0u8; 49];
        o[..32].copy_from_slice(&encoded[3..35]);
        o[32..48].copy_from_slice(&encoded[36..52]);
        o[48] = tp.flags.0;
        // SAFETY: Native's contract; 49 <= cap.
        unsafe { std::ptr::copy_nonoverlapping(o.as_ptr(), out as *mut u8, 49) };
        Ok(49)
    })
}

#[cfg(test)]
mod timing {
    use super::*;

    #[test]
    #[ignore]
    fn inject_body() {
        let ctx = tracewire::TraceContext::new(
            tracewire::TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            tracewire::SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            tracewire::TraceFlags::SAMPLED,
        );
        let mut w = Writer::new();
        w.context(&ctx);
        let input = w.out.clone();
        let n = 1_000_000;
        let t = std::time::Instant::now();
        let mut total = 0usize;
        for _ in 0..n {
            let ctx = Reader::new(&input).context().ok().unwrap();
            let mut sink = DirectSink::new();
            handshake::inject(&ctx, &mut sink);
            let w = sink.finish();
            total += w.out.len();
        }
        eprintln!("inject body: {:?}/op ({total})", t.elapsed() / n);
        let t = std::time::Instant::now();
        for _ in 0..n {
            let ctx = Reader::new(&input).context().ok().unwrap();
            total += ctx.baggage.len();
        }
        eprintln!("read context: {:?}/op ({total})", t.elapsed() / n);
    }
}
