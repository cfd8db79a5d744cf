//! JNI bridge of tracewire for the Java binding.
//!
//! Every function here is a `native` method of `dev.tracewire.internal.Native`
//! and nothing else is exported. The bridge is not an API: the public Java
//! types in `dev.tracewire` are.
//!
//! Conventions, chosen so that hot paths cost one JNI call and no JNI object
//! conversions (STYLE.md, "Hot paths avoid conversions"):
//!
//! - Inputs and outputs travel through direct buffers, passed as an address
//!   and a length: Java owns them and keeps them alive for the call; Rust only
//!   borrows them for its duration and never keeps a pointer.
//! - A function producing bytes writes them at `out` and returns their length,
//!   or, when they do not fit in `cap`, returns minus the length needed (the
//!   caller grows its buffer and calls again). The layouts are in `wire.rs`.
//! - Every entry point runs inside `EnvUnowned::with_env`, which catches
//!   panics; `Throw` turns an error or a panic into a
//!   `dev.tracewire.TracewireException` carrying the core's error code
//!   (`panic` = 100), unless a Java exception is already pending, which then
//!   wins (no exception is ever thrown over another).
//! - Handles (`jsonNew`, `metricsNew`) are `Box` pointers owned by one Java
//!   object each; the Java side frees them exactly once.

mod wire;

use jni::errors::ErrorPolicy;
use jni::objects::{JByteBuffer, JClass, JObject, JString, JThrowable, JValue};
use jni::sys::{jboolean, jint, jlong};
use jni::{Env, EnvUnowned, jni_sig, jni_str};
use std::time::Duration;
use tracewire::envelope::json::JsonEnvelope;
use tracewire::envelope::{Decoded, binary};
use tracewire::handshake::{
    self, BAGGAGE, ClientHandshake, ENVELOPE_HEADER, Envelopes, SESSION_HEADER, ServerHandshake,
    TRACEPARENT, TRACESTATE,
};
use tracewire::model::{
    Connection, LinkSource, MessageType, Model, ParentSource, Role, SpanDecision, SpanKind,
};
use tracewire::{ErrorCode, ExtractIssue, KeyValue, StreamKind, StreamMetrics, Value};
use wire::{Reader, Writer};

/// Why an entry point failed: a core error (code and message) or a JNI failure.
pub(crate) enum Fail {
    /// A core error; becomes a `TracewireException` with this code.
    Code(ErrorCode, String),
    /// A JNI call failed (a Java exception may be pending).
    Jni(jni::errors::Error),
}

impl Fail {
    pub(crate) fn argument(msg: &str) -> Fail {
        Fail::Code(ErrorCode::InvalidArgument, msg.to_owned())
    }
}

impl From<jni::errors::Error> for Fail {
    fn from(e: jni::errors::Error) -> Self {
        Fail::Jni(e)
    }
}

/// The header names, in the order of the field indexes used on the wire.
const FIELDS: [&str; 5] = [
    TRACEPARENT,
    TRACESTATE,
    BAGGAGE,
    ENVELOPE_HEADER,
    SESSION_HEADER,
];

fn field_index(name: &str) -> u8 {
    FIELDS.iter().position(|f| *f == name).unwrap_or(0) as u8
}

/// Throws `TracewireException.fromNative(code, message)`.
fn throw(env: &mut Env<'_>, code: ErrorCode, msg: &str) {
    let result = (|| -> jni::errors::Result<()> {
        let jmsg = env.new_string(msg)?;
        let ex = env
            .call_static_method(
                jni_str!("dev/tracewire/TracewireException"),
                jni_str!("fromNative"),
                jni_sig!("(ILjava/lang/String;)Ldev/tracewire/TracewireException;"),
                &[JValue::Int(code.as_u32() as jint), JValue::from(&jmsg)],
            )?
            .l()?;
        let ex = env.cast_local::<JThrowable>(ex)?;
        env.throw(ex)
    })();
    if result.is_err() && !env.exception_check() {
        // The exception class could not be made; still never return silently.
        let _ = env.throw_new(
            jni_str!("java/lang/IllegalStateException"),
            jni_str!("tracewire: could not throw TracewireException"),
        );
    }
}

/// The error policy of every entry point (see the crate docs).
struct Throw;

impl<T: Default> ErrorPolicy<T, Fail> for Throw {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: Fail,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            return Ok(T::default());
        }
        match err {
            Fail::Code(code, msg) => throw(env, code, &msg),
            Fail::Jni(e) => throw(env, ErrorCode::Panic, &format!("JNI failure: {e}")),
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn std::any::Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        // Dropping a payload can itself panic; leak it rather than risk that.
        std::mem::forget(payload);
        if !env.exception_check() {
            throw(
                env,
                ErrorCode::Panic,
                &format!("panic in tracewire native code: {msg}"),
            );
        }
        Ok(T::default())
    }
}

/// Borrows `len` bytes at `addr` for the duration of a call.
///
/// # Safety
/// `addr` must point to `len` readable bytes that stay valid and are not
/// written during the call (Java's direct buffer contract with `Native`).
unsafe fn input<'a>(addr: jlong, len: jint) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if addr == 0 || len < 0 {
        return Err(Fail::argument("null or negative buffer from Java"));
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(addr as *const u8, len as usize) })
}

/// Copies `w` to `out` when it fits in `cap`; see the crate docs.
///
/// # Safety
/// `out` must point to `cap` writable bytes not aliased by any input.
unsafe fn emit(w: &Writer, out: jlong, cap: jint) -> Result<jint, Fail> {
    let n = w.out.len();
    let n32 = jint::try_from(n).map_err(|_| Fail::argument("output over 2 GiB"))?;
    if n32 > cap {
        return Ok(-n32);
    }
    if n > 0 {
        if out == 0 {
            return Err(Fail::argument("null output buffer from Java"));
        }
        // SAFETY: the caller's contract; `n <= cap`.
        unsafe { std::ptr::copy_nonoverlapping(w.out.as_ptr(), out as *mut u8, n) };
    }
    Ok(n32)
}

/// Runs `f` as a guarded entry point (see the crate docs).
fn guarded<'local, T: Default>(
    env: &mut EnvUnowned<'local>,
    f: impl FnOnce(&mut Env<'local>) -> Result<T, Fail>,
) -> T {
    env.with_env(f).resolve::<Throw>()
}

/// Runs an entry point's body that needs no JNI call (the hot paths): catches
/// a panic itself, and only on failure goes through [`EnvUnowned::with_env`]
/// and [`Throw`] to throw. This saves the attach-guard bookkeeping that
/// `with_env` costs on every call.
fn fast<'local, T: Default>(
    env: &mut EnvUnowned<'local>,
    f: impl FnOnce() -> Result<T, Fail>,
) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => env
            .with_env(|_| -> Result<T, Fail> { Err(e) })
            .resolve::<Throw>(),
        // Re-raised inside `with_env`, whose own guard catches it for `Throw`.
        Err(payload) => env
            .with_env(|_| -> Result<T, Fail> { std::panic::resume_unwind(payload) })
            .resolve::<Throw>(),
    }
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

fn opt_query<'a>(r: &mut Reader<'a>) -> Result<Option<&'a str>, Fail> {
    let present = r.u8()? != 0;
    let q = r.str()?;
    Ok(present.then_some(q))
}

fn envelopes_from(bits: u8) -> Envelopes {
    Envelopes {
        json: bits & 1 != 0,
        binary: bits & 2 != 0,
    }
}

fn envelopes_bits(e: Envelopes) -> u8 {
    u8::from(e.json) | (u8::from(e.binary) << 1)
}

/// Collects header writes as `(field index, value)`.
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
        let n = self.n.to_be_bytes();
        self.w.out[..4].copy_from_slice(&n);
        std::mem::replace(&mut self.w, Writer { out: Vec::new() })
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

fn decoded(w: &mut Writer, d: &Decoded<'_>) {
    match d {
        Decoded::Plain(_) => {
            w.u8(0);
        }
        Decoded::Enveloped(ctx, _) => {
            w.u8(1);
            w.context(ctx);
        }
        Decoded::Malformed(e, _) => {
            w.u8(2);
            w.u32(e.code().as_u32());
            w.str(&e.to_string());
        }
    }
}

fn span_kind(k: SpanKind) -> u8 {
    match k {
        SpanKind::Client => 0,
        SpanKind::Server => 1,
        SpanKind::Producer => 2,
        SpanKind::Consumer => 3,
        SpanKind::Internal => 4,
    }
}

fn parent_code(p: &ParentSource) -> u8 {
    match p {
        ParentSource::Remote => 0,
        ParentSource::Ambient => 1,
        ParentSource::AmbientInConnectionTrace => 2,
        ParentSource::Connection => 3,
    }
}

fn link_code(l: &LinkSource) -> u8 {
    match l {
        LinkSource::Connection => 0,
    }
}

fn attributes(w: &mut Writer, attrs: &[KeyValue]) {
    w.u32(attrs.len() as u32);
    for kv in attrs {
        w.str(kv.key);
        match &kv.value {
            Value::String(s) => {
                w.u8(0);
                w.str(s);
            }
            Value::Int(i) => {
                w.u8(1);
                w.i64(*i);
            }
            Value::Float(f) => {
                w.u8(2);
                w.f64(*f);
            }
            Value::Bool(b) => {
                w.u8(3);
                w.u8(u8::from(*b));
            }
        }
    }
}

fn span(w: &mut Writer, d: &SpanDecision) {
    w.str(&d.name);
    w.u8(span_kind(d.kind));
    w.u32(d.parent.len() as u32);
    for p in d.parent {
        w.u8(parent_code(p));
    }
    w.u32(d.links.len() as u32);
    for l in d.links {
        w.u8(link_code(l));
    }
    attributes(w, &d.attributes);
}

fn stream_kind(kind: jint) -> Result<StreamKind, Fail> {
    match kind {
        0 => Ok(StreamKind::Generic),
        1 => Ok(StreamKind::ModelOutput),
        _ => Err(Fail::argument("unknown stream kind")),
    }
}

// ---------------------------------------------------------------- plumbing

/// The address of a direct buffer (0 for a heap buffer).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_address<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    buffer: JByteBuffer<'local>,
) -> jlong {
    guarded(&mut env, |env| {
        Ok(env
            .get_direct_buffer_address(&buffer)
            .map(|p| p as jlong)
            .unwrap_or(0))
    })
}

/// Header name number `i` (0 traceparent, 1 tracestate, 2 baggage,
/// 3 tracewire-envelope, 4 tracewire-session), or null past the end.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_fieldName<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    i: jint,
) -> JObject<'local> {
    guarded(&mut env, |env| {
        match usize::try_from(i).ok().and_then(|i| FIELDS.get(i)) {
            Some(name) => Ok(env.new_string(name)?.into()),
            None => Ok(JObject::null()),
        }
    })
}

/// The stable name of error code `code` (`invalid_traceparent`, ...), or null.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_errorName<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    code: jint,
) -> JObject<'local> {
    const ALL: [ErrorCode; 9] = [
        ErrorCode::InvalidTraceParent,
        ErrorCode::InvalidTraceState,
        ErrorCode::InvalidBaggage,
        ErrorCode::InvalidEnvelope,
        ErrorCode::UnsupportedEnvelopeVersion,
        ErrorCode::NotJsonObject,
        ErrorCode::InvalidCarrier,
        ErrorCode::InvalidArgument,
        ErrorCode::Panic,
    ];
    guarded(&mut env, |env| {
        match ALL.iter().find(|c| c.as_u32() as jint == code) {
            Some(c) => Ok(env.new_string(c.name())?.into()),
            None => Ok(JObject::null()),
        }
    })
}

/// An empty call: the raw cost of crossing JNI.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_noop<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) {
    fast(&mut env, || Ok(()))
}

/// Test only: panics, to show that a panic becomes an exception.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_testingPanic<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jint {
    fast(&mut env, || -> Result<jint, Fail> {
        // Deliberate: the guard must turn this into a Java exception.
        #[allow(clippy::panic)]
        {
            panic!("deliberate test panic")
        }
    })
}

/// Test only: fails with error code `code`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_testingError<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    code: jint,
) -> jint {
    fast(&mut env, || -> Result<jint, Fail> {
        let c = match code {
            1 => ErrorCode::InvalidTraceParent,
            2 => ErrorCode::InvalidTraceState,
            3 => ErrorCode::InvalidBaggage,
            4 => ErrorCode::InvalidEnvelope,
            5 => ErrorCode::UnsupportedEnvelopeVersion,
            6 => ErrorCode::NotJsonObject,
            7 => ErrorCode::InvalidCarrier,
            100 => ErrorCode::Panic,
            _ => ErrorCode::InvalidArgument,
        };
        Err(Fail::Code(c, format!("deliberate test error {}", c.name())))
    })
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
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract (crate docs).
            let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
            let query = opt_query(&mut r)?;
            let headers = pairs(&mut r)?;
            let (ctx, found) = handshake::extract(&headers, query);
            w.context(&ctx);
            issues(&mut w, &found);
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
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
/// In: `u8 supported, u8 has_query, str query, u32 n, n x (str name, str value)`.
/// Out: context record, issues, `u8 envelopes, str session id,
/// u32 n, n x (u8 field, str value)` response headers.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_serverHandshake<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
            let supported = envelopes_from(r.u8()?);
            let query = opt_query(&mut r)?;
            let headers = pairs(&mut r)?;
            let hs = ServerHandshake::from_request(&headers, query, supported);
            w.context(&hs.context);
            issues(&mut w, &hs.issues);
            w.u8(envelopes_bits(hs.envelopes));
            w.str(&hs.session_id);
            let mut sink = IndexedSink::default();
            for (name, value) in hs.response_headers() {
                handshake::HeaderSink::set(&mut sink, name, &value);
            }
            write_sink(&mut w, &sink);
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// The client's upgrade request headers.
/// In: context record, `u8 offered, str session id`.
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
            let offered = envelopes_from(r.u8()?);
            let session_id = r.str()?.to_owned();
            ClientHandshake {
                offered,
                session_id,
            }
            .request_headers(&ctx, &mut sink);
        }
        let mut w = Writer::new();
        write_sink(&mut w, &sink);
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// The envelopes a client uses, from its offer and the response's
/// `tracewire-envelope` values (In: `u32 n, n x str`). Returns the bits
/// (1 json, 2 binary).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_clientAccepted<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    offered: jint,
    input_addr: jlong,
    input_len: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
        let n = r.u32()?;
        let mut response = Vec::new();
        for _ in 0..n {
            response.push((ENVELOPE_HEADER, r.str()?));
        }
        let client = ClientHandshake {
            offered: envelopes_from(offered as u8),
            session_id: String::new(),
        };
        Ok(jint::from(envelopes_bits(client.accepted(&response))))
    })
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

// ---------------------------------------------------------------- envelopes

/// A JSON envelope configuration (member path, strip on extract); free with `jsonFree`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_jsonNew<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
    strip: jboolean,
) -> jlong {
    guarded(&mut env, |env| {
        let path = if path.is_null() {
            String::new()
        } else {
            path.try_to_string(env)?
        };
        let envelope = JsonEnvelope::at_path(&path)
            .map_err(|e| Fail::Code(e.code(), e.to_string()))?
            .strip_on_extract(strip);
        Ok(Box::into_raw(Box::new(envelope)) as jlong)
    })
}

/// Frees a `jsonNew` handle (0 is ignored).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_jsonFree<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    fast(&mut env, || {
        if handle != 0 {
            // SAFETY: made by jsonNew; Java frees each handle once.
            drop(unsafe { Box::from_raw(handle as *mut JsonEnvelope) });
        }
        Ok(())
    })
}

/// # Safety
/// `handle` is a live `jsonNew` handle.
unsafe fn json<'a>(handle: jlong) -> Result<&'a JsonEnvelope, Fail> {
    if handle == 0 {
        return Err(Fail::argument("closed JSON envelope"));
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { &*(handle as *const JsonEnvelope) })
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
/// message` (malformed), then `u8 stripped` and, when 1, the stripped
/// payload as bytes.
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
/// `u32 payload offset` into the frame (the payload is never copied).
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
        let w = Writer {
            out: ctx.to_carrier(),
        };
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

// ---------------------------------------------------------------- model

/// Parses a model name: 0 connection, 1 message; fails with `invalid_argument`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_modelParse<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    name: JString<'local>,
) -> jint {
    guarded(&mut env, |env| {
        if name.is_null() {
            return Err(Fail::argument("the tracing model is null"));
        }
        let name = name.try_to_string(env)?;
        match name.parse::<Model>() {
            Ok(Model::Connection) => Ok(0),
            Ok(Model::Message) => Ok(1),
            Err(e) => Err(Fail::Code(e.code(), e.to_string())),
        }
    })
}

/// A span decision of `model::Connection`.
/// In: `u8 model, u8 role (0 client, 1 server), str session id, str url path,
/// u8 has_address, str address, i32 port (-1: none), u8 event (0 open, 1 send,
/// 2 receive, 3 close), u8 message type (0 text, 1 binary), i64 size,
/// i32 close code (-1: none), str close reason`.
/// Out, open/send/receive: a span decision, then `u8 ends_at_upgrade`.
/// Out, close: attributes, `u8 is_error, u8 has_span`, [span decision].
/// A span decision is `str name, u8 kind, u32 n, n x u8 parent, u32 n, n x u8
/// link, attributes`; attributes are `u32 n, n x (str key, u8 type, value)`
/// with type 0 string, 1 i64, 2 f64, 3 bool (u8).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_modelDecide<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
            let model = if r.u8()? == 0 {
                Model::Connection
            } else {
                Model::Message
            };
            let role = if r.u8()? == 0 {
                Role::Client
            } else {
                Role::Server
            };
            let session = r.str()?;
            let path = r.str()?;
            let has_address = r.u8()? != 0;
            let address = r.str()?;
            let port = r.i32()?;
            let event = r.u8()?;
            let message_type = if r.u8()? == 0 {
                MessageType::Text
            } else {
                MessageType::Binary
            };
            let size = usize::try_from(r.i64()?).unwrap_or(0);
            let code = r.i32()?;
            let reason = r.str()?;
            let mut conn = Connection::new(model, role, session, path);
            if has_address {
                conn = conn.with_server(address, u16::try_from(port).ok());
            }
            match event {
                0 => {
                    span(&mut w, &conn.open());
                    w.u8(u8::from(conn.connection_span_ends_at_upgrade()));
                }
                1 => span(&mut w, &conn.send(message_type, size)),
                2 => span(&mut w, &conn.receive(message_type, size)),
                3 => {
                    let d = conn.close(u16::try_from(code).ok(), reason);
                    attributes(&mut w, &d.attributes);
                    w.u8(u8::from(d.is_error));
                    match &d.span {
                        Some(s) => {
                            w.u8(1);
                            span(&mut w, s);
                        }
                        None => w.u8(0),
                    }
                }
                _ => return Err(Fail::argument("unknown model event")),
            }
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

// ---------------------------------------------------------------- metrics

/// A new stream (kind 0 generic, 1 model output) whose clock starts now;
/// free with `metricsFree`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsNew<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    kind: jint,
) -> jlong {
    fast(&mut env, || {
        let m = StreamMetrics::new(stream_kind(kind)?);
        Ok(Box::into_raw(Box::new(m)) as jlong)
    })
}

/// Frees a `metricsNew` handle (0 is ignored).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsFree<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    fast(&mut env, || {
        if handle != 0 {
            // SAFETY: made by metricsNew; Java frees it once, after its last use.
            drop(unsafe { Box::from_raw(handle as *mut StreamMetrics) });
        }
        Ok(())
    })
}

/// # Safety
/// `handle` is a live `metricsNew` handle.
unsafe fn metrics<'a>(handle: jlong) -> Result<&'a StreamMetrics, Fail> {
    if handle == 0 {
        return Err(Fail::argument("closed stream metrics"));
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { &*(handle as *const StreamMetrics) })
}

/// Records one chunk of `bytes`, now (lock-free).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsRecord<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    bytes: jlong,
) {
    fast(&mut env, || {
        // SAFETY: Java keeps the handle alive during the call.
        unsafe { metrics(handle)? }.record_chunk(u64::try_from(bytes).unwrap_or(0));
        Ok(())
    })
}

/// Records one chunk of `bytes` at `nanos` after the stream's start.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsRecordAt<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    nanos: jlong,
    bytes: jlong,
) {
    fast(&mut env, || {
        let elapsed = Duration::from_nanos(u64::try_from(nanos).unwrap_or(0));
        // SAFETY: Java keeps the handle alive during the call.
        unsafe { metrics(handle)? }.record_chunk_at(elapsed, u64::try_from(bytes).unwrap_or(0));
        Ok(())
    })
}

/// A snapshot. Out: `i64 chunk count, i64 bytes`, six optional doubles
/// (`u8 present, f64`: time to first chunk, time to last chunk, interval
/// mean, p50, p95, max), the span attributes, then `u32 n, n x f64`
/// intervals (only when `intervals` is true, else n = 0).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsSnapshot<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    with_intervals: jboolean,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Java keeps the handle alive during the call.
        let m = unsafe { metrics(handle)? };
        let (s, intervals) = if with_intervals {
            m.snapshot_and_intervals()
        } else {
            (m.snapshot(), Vec::new())
        };
        let mut w = Writer::new();
        w.i64(i64::try_from(s.chunk_count).unwrap_or(i64::MAX));
        w.i64(i64::try_from(s.bytes).unwrap_or(i64::MAX));
        for v in [
            s.time_to_first_chunk,
            s.time_to_last_chunk,
            s.interval_mean,
            s.interval_p50,
            s.interval_p95,
            s.interval_max,
        ] {
            w.u8(u8::from(v.is_some()));
            w.f64(v.unwrap_or(0.0));
        }
        attributes(&mut w, &s.attributes(m.kind()));
        w.u32(intervals.len() as u32);
        for i in intervals {
            w.f64(i);
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// The histogram names of a stream kind. Out: 5 x (str name, str unit,
/// str description): time to first chunk, time to last chunk, chunk
/// interval, chunk count, bytes.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsNames<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    kind: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let names = stream_kind(kind)?.metric_names();
        let mut w = Writer::new();
        for h in [
            names.time_to_first_chunk,
            names.time_to_last_chunk,
            names.chunk_interval,
            names.chunk_count,
            names.bytes,
        ] {
            w.str(h.name);
            w.str(h.unit);
            w.str(h.description);
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

// ---------------------------------------------------------------- W3C values

fn tracestate_out(w: &mut Writer, ts: &tracewire::TraceState) {
    w.u32(ts.len() as u32);
    for (k, v) in ts.iter() {
        w.str(k);
        w.str(v);
    }
    w.str(&ts.to_header());
}

fn tracestate_in(r: &mut Reader<'_>) -> Result<tracewire::TraceState, Fail> {
    let n = r.u32()?;
    let mut entries = Vec::with_capacity((n as usize).min(64));
    for _ in 0..n {
        entries.push((r.str()?, r.str()?));
    }
    let mut ts = tracewire::TraceState::new();
    for (k, v) in entries.iter().rev() {
        ts.insert(k, v)
            .map_err(|e| Fail::Code(e.code(), e.to_string()))?;
    }
    Ok(ts)
}

fn baggage_out(w: &mut Writer, b: &tracewire::Baggage) {
    w.u32(b.len() as u32);
    for m in b.iter() {
        w.member(m);
    }
    w.str(&b.to_header());
}

fn lines<'a>(r: &mut Reader<'a>) -> Result<Vec<&'a str>, Fail> {
    let n = r.u32()?;
    let mut v = Vec::with_capacity((n as usize).min(64));
    for _ in 0..n {
        v.push(r.str()?);
    }
    Ok(v)
}

/// The W3C value operations of the core, for `dev.tracewire.W3C`.
/// `op` 0: parse a traceparent (in: str; out: context record);
/// 1: parse tracestate lines (in: `u32 n, n x str`; out: entries, header);
/// 2: tracestate insert (in: entries, str key, str value; out: entries, header);
/// 3: tracestate remove (in: entries, str key; out: entries, header);
/// 4: parse baggage lines (in: lines; out: `u32 n, n x member`, header);
/// 5: build baggage (in: `u32 n, n x member`; out: members, header).
/// Entries are `u32 n, n x (str key, str value)`. Failures throw with the
/// core's code.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_w3c<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    op: jint,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fn code<E: std::fmt::Display>(c: ErrorCode) -> impl FnOnce(E) -> Fail {
        move |e| Fail::Code(c, e.to_string())
    }
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
            match op {
                0 => {
                    let tp = tracewire::TraceParent::parse(r.str()?)
                        .map_err(code(ErrorCode::InvalidTraceParent))?;
                    let ctx = tracewire::TraceContext {
                        traceparent: Some(tp),
                        remote: true,
                        ..Default::default()
                    };
                    w.context(&ctx);
                }
                1 => {
                    let ts = tracewire::TraceState::parse_lines(lines(&mut r)?)
                        .map_err(code(ErrorCode::InvalidTraceState))?;
                    tracestate_out(&mut w, &ts);
                }
                2 => {
                    let mut ts = tracestate_in(&mut r)?;
                    let (k, v) = (r.str()?, r.str()?);
                    ts.insert(k, v)
                        .map_err(code(ErrorCode::InvalidTraceState))?;
                    tracestate_out(&mut w, &ts);
                }
                3 => {
                    let mut ts = tracestate_in(&mut r)?;
                    ts.remove(r.str()?);
                    tracestate_out(&mut w, &ts);
                }
                4 => {
                    let b = tracewire::Baggage::parse_lines(lines(&mut r)?)
                        .map_err(code(ErrorCode::InvalidBaggage))?;
                    baggage_out(&mut w, &b);
                }
                5 => {
                    let n = r.u32()?;
                    let mut b = tracewire::Baggage::new();
                    for _ in 0..n {
                        b.insert_member(r.member()?)
                            .map_err(code(ErrorCode::InvalidBaggage))?;
                    }
                    baggage_out(&mut w, &b);
                }
                _ => return Err(Fail::argument("unknown W3C operation")),
            }
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
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
    fast(&mut env, || {
        let mut w = Writer::new();
        {
            // SAFETY: Native's contract.
            let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
            let (tp, ts, bg) = (lines(&mut r)?, lines(&mut r)?, lines(&mut r)?);
            let (ctx, _) = tracewire::TraceContext::from_header_values(&tp, &ts, &bg);
            w.context(&ctx);
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
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
