//! The tracing models: span and close decisions of `model::Connection`.

use jni::EnvUnowned;
use jni::objects::{JClass, JString};
use jni::sys::{jint, jlong};
use tracewire::model::{
    Connection, LinkSource, MessageType, Model, ParentSource, RemoteContext, Role, choose,
};
use tracewire_bridge::wire::{Reader, Writer};
use tracewire_bridge::{BridgeError, Coded, ModelEvent, available_from_bits, pack_applied};

use crate::guard::{Fail, exchange, fast, guarded, input};

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
        let model: Model = name.parse().map_err(BridgeError::from)?;
        Ok(jint::from(model.code()))
    })
}

/// A span decision of `model::Connection`.
/// In: `u8 model, u8 role, str session id, str url path, u8 has_address,
/// str address, i32 port (-1: none), u8 event (a `ModelEvent`: 0 open, 1 send,
/// 2 receive, 3 close), u8 message type, i64 size, i32 close code (-1: none),
/// str close reason, u8 remote context policy, i64 receive spans skipped`.
/// The session id is the one the connection records (`trustSessionId`
/// already applied the policy to it). Enum bytes are the bridge's codes; an
/// unknown one is `invalid_argument`.
/// Out, open/send/receive: a span decision (the bridge's byte format), then
/// `u8 ends_at_upgrade`. Out, close: a close decision.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_modelDecide<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let model: Model = r.coded()?;
        let role: Role = r.coded()?;
        let session = r.str()?;
        let path = r.str()?;
        let has_address = r.u8()? != 0;
        let address = r.str()?;
        let port = r.i32()?;
        let event: ModelEvent = r.coded()?;
        let message_type: MessageType = r.coded()?;
        let size = usize::try_from(r.i64()?).unwrap_or(0);
        let code = r.i32()?;
        let reason = r.str()?;
        let remote_context: RemoteContext = r.coded()?;
        let skipped = u64::try_from(r.i64()?).unwrap_or(0);
        let route = r.str()?;
        let mut conn = Connection::new(model, role, session, path).with_route(route);
        // Decisions depend on the remote context policy alone.
        conn.trust.remote_context = remote_context;
        if has_address {
            conn = conn.with_server(address, u16::try_from(port).ok());
        }
        match event {
            ModelEvent::Open => {
                w.span_decision(&conn.open());
                w.u8(u8::from(conn.connection_span_ends_at_upgrade()));
            }
            ModelEvent::Send => w.span_decision(&conn.send(message_type, size)),
            ModelEvent::Receive => w.span_decision(&conn.receive(message_type, size)),
            ModelEvent::Close => {
                let decision = conn
                    .close(u16::try_from(code).ok(), reason)
                    .with_receive_spans_skipped(skipped);
                w.close_decision(&decision);
            }
        }
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}

/// Applies a span decision's candidates to what is at hand (`model::choose`).
/// In: the decision's `list<u8 parent source>` and `list<u8 link source>`
/// (as in a span decision). `available`: the bridge's `Available` bit set.
/// Returns the bridge's packed `Applied` (bits 0-7 `Parent`, 8-15
/// `BaggageSource`, bit 16 link the connection span, bit 17 link the received
/// span context). Unknown codes or bits are `invalid_argument`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_modelChoose<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    available: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
        // A decision has a handful of candidates: no allocation.
        let mut parent = [ParentSource::Remote; 8];
        let mut links = [LinkSource::Connection; 8];
        let np = list(&mut r, &mut parent)?;
        let nl = list(&mut r, &mut links)?;
        let available = available_from_bits(available as u32)?;
        Ok(pack_applied(choose(&parent[..np], &links[..nl], available)) as jint)
    })
}

/// Reads a `list<u8 code>` into `into`; more entries than fit is
/// `invalid_argument`.
fn list<T: Coded>(r: &mut Reader<'_>, into: &mut [T]) -> Result<usize, Fail> {
    let n = r.u32()? as usize;
    if n > into.len() {
        return Err(Fail::argument("too many candidates"));
    }
    for slot in into.iter_mut().take(n) {
        *slot = r.coded()?;
    }
    Ok(n)
}
