//! The W3C value operations behind `dev.tracewire.W3C`.

use jni::EnvUnowned;
use jni::objects::JClass;
use jni::sys::{jint, jlong};
use tracewire::ErrorCode;
use tracewire_bridge::wire::{Reader, Writer};

use crate::guard::{Fail, exchange};

/// The operations of `Native.w3c`, numbered as `Native.W3C_*` in Java (a
/// test below reads `Native.java` and checks the numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum W3cOp {
    /// Parse a traceparent. In: str. Out: context record.
    ParseTraceParent = 0,
    /// Parse tracestate lines. In: `u32 n, n x str`. Out: entries, header.
    ParseTraceState = 1,
    /// Insert into a tracestate. In: entries, str key, str value. Out: entries, header.
    TraceStateInsert = 2,
    /// Remove from a tracestate. In: entries, str key. Out: entries, header.
    TraceStateRemove = 3,
    /// Parse baggage lines. In: lines. Out: `u32 n, n x member`, header.
    ParseBaggage = 4,
    /// Build baggage. In: `u32 n, n x member`. Out: members, header.
    BuildBaggage = 5,
    /// What to send for a span context the SDK made from a received one it
    /// could not hold whole (`Received::pass_on`). In: received span, its
    /// entries, the entries the SDK accepted, sending span, its SDK's
    /// entries; a span is 32 + 16 hex characters and the flags byte. Out:
    /// u8 flags, entries, header.
    PassOn = 6,
}

impl W3cOp {
    /// Every operation, in number order, with the name of its Java constant.
    pub(crate) const ALL: [(W3cOp, &'static str); 7] = [
        (W3cOp::ParseTraceParent, "W3C_PARSE_TRACEPARENT"),
        (W3cOp::ParseTraceState, "W3C_PARSE_TRACESTATE"),
        (W3cOp::TraceStateInsert, "W3C_TRACESTATE_INSERT"),
        (W3cOp::TraceStateRemove, "W3C_TRACESTATE_REMOVE"),
        (W3cOp::ParseBaggage, "W3C_PARSE_BAGGAGE"),
        (W3cOp::BuildBaggage, "W3C_BUILD_BAGGAGE"),
        (W3cOp::PassOn, "W3C_PASS_ON"),
    ];

    /// The operation numbered `op`; an unknown number is `invalid_argument`.
    fn from_code(op: jint) -> Result<W3cOp, Fail> {
        W3cOp::ALL
            .iter()
            .find(|(o, _)| *o as jint == op)
            .map(|(o, _)| *o)
            .ok_or_else(|| Fail::argument(&format!("unknown W3C operation {op}")))
    }
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

/// A span context: 32 + 16 hex characters and the flags byte.
fn span_in(r: &mut Reader<'_>) -> Result<tracewire::TraceParent, Fail> {
    let invalid = |_| Fail::Code(ErrorCode::InvalidTraceParent, "invalid span context".into());
    let hex = |b: &[u8]| std::str::from_utf8(b).unwrap_or_default().to_owned();
    let trace_id = tracewire::TraceId::from_hex(&hex(r.take(32)?)).map_err(invalid)?;
    let span_id = tracewire::SpanId::from_hex(&hex(r.take(16)?)).map_err(invalid)?;
    Ok(tracewire::TraceParent {
        trace_id,
        span_id,
        flags: tracewire::TraceFlags(r.u8()?),
    })
}

fn baggage_out(w: &mut Writer, b: &tracewire::Baggage) {
    w.u32(b.len() as u32);
    for m in b.iter() {
        w.member(m);
    }
    w.str(&b.to_header());
}

pub(crate) fn lines<'a>(r: &mut Reader<'a>) -> Result<Vec<&'a str>, Fail> {
    let n = r.u32()?;
    let mut v = Vec::with_capacity((n as usize).min(64));
    for _ in 0..n {
        v.push(r.str()?);
    }
    Ok(v)
}

/// The W3C value operations of the core, for `dev.tracewire.W3C`; `op` is a
/// [`W3cOp`] (its docs give each operation's input and output).
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
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        match W3cOp::from_code(op)? {
            W3cOp::ParseTraceParent => {
                let tp = tracewire::TraceParent::parse(r.str()?)
                    .map_err(code(ErrorCode::InvalidTraceParent))?;
                let ctx = tracewire::TraceContext {
                    traceparent: Some(tp),
                    remote: true,
                    ..Default::default()
                };
                w.context(&ctx);
            }
            W3cOp::ParseTraceState => {
                let ts = tracewire::TraceState::parse_lines(lines(r)?)
                    .map_err(code(ErrorCode::InvalidTraceState))?;
                tracestate_out(w, &ts);
            }
            W3cOp::TraceStateInsert => {
                let mut ts = tracestate_in(r)?;
                let (k, v) = (r.str()?, r.str()?);
                ts.insert(k, v)
                    .map_err(code(ErrorCode::InvalidTraceState))?;
                tracestate_out(w, &ts);
            }
            W3cOp::TraceStateRemove => {
                let mut ts = tracestate_in(r)?;
                ts.remove(r.str()?);
                tracestate_out(w, &ts);
            }
            W3cOp::PassOn => {
                let received = tracewire::Received {
                    traceparent: span_in(r)?,
                    tracestate: tracestate_in(r)?,
                    accepted: tracestate_in(r)?,
                };
                let sending = span_in(r)?;
                let (tp, ts) = received.pass_on(sending, &tracestate_in(r)?);
                w.u8(tp.flags.0);
                tracestate_out(w, &ts);
            }
            W3cOp::ParseBaggage => {
                let b = tracewire::Baggage::parse_lines(lines(r)?)
                    .map_err(code(ErrorCode::InvalidBaggage))?;
                baggage_out(w, &b);
            }
            W3cOp::BuildBaggage => {
                let n = r.u32()?;
                let mut b = tracewire::Baggage::new();
                for _ in 0..n {
                    b.insert_member(r.member()?)
                        .map_err(code(ErrorCode::InvalidBaggage))?;
                }
                baggage_out(w, &b);
            }
        }
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}
