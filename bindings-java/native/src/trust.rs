//! The trust policy (core `model::Trust`, `docs/PROTOCOL.md` section 12):
//! admitting a received context, the session id a connection records, and a
//! connection's receive span budget.

use jni::EnvUnowned;
use jni::objects::JClass;
use jni::sys::{jboolean, jint, jlong};
use tracewire::model::{Connection, Model, ReceiveSpanBudget, RemoteContext, Role, Trust};
use tracewire_bridge::BaggagePolicyKind;
use tracewire_bridge::wire::{Reader, Writer};

use crate::guard::{Fail, exchange, fast};
use crate::plumbing::{free_handle, handle_ref, into_handle};

/// Reads a policy: `u8 remote context, u8 baggage policy kind, u32 n, n x
/// str allowed key, i64 max receive spans (< 0: none)`.
pub(crate) fn read_trust(r: &mut Reader<'_>) -> Result<Trust, Fail> {
    let remote_context: RemoteContext = r.coded()?;
    let kind: BaggagePolicyKind = r.coded()?;
    let n = r.u32()?;
    let mut keys = Vec::new();
    for _ in 0..n {
        keys.push(r.str()?.to_owned());
    }
    let max = r.i64()?;
    let max_receive_spans = if max < 0 {
        None
    } else {
        Some(u32::try_from(max).map_err(|_| Fail::argument("maxReceiveSpans over 2^32 - 1"))?)
    };
    Ok(Trust {
        remote_context,
        baggage: kind.policy(keys),
        max_receive_spans,
    })
}

/// A received context as a policy admits it.
/// In: a policy (see `read_trust`), then a context record.
/// Out: the admitted context record (remote).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_trustAdmit<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let trust = read_trust(r)?;
        let mut admitted = trust.admit(r.context()?);
        admitted.remote = true;
        w.context(&admitted);
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}

/// The session id a connection with a policy records (core
/// `Connection::with_trust`: a server that does not trust its client as a
/// parent records one of its own).
/// In: `u8 role, str session id`, then a policy. Out: `str session id`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_trustSessionId<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let role: Role = r.coded()?;
        let session = r.str()?;
        let trust = read_trust(r)?;
        // The model and path play no part in the session id.
        let conn = Connection::new(Model::Connection, role, session, "/").with_trust(trust);
        w.str(&conn.session_id);
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}

/// A receive span budget of `limit` spans (< 0: no limit); free with
/// `budgetFree`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_budgetNew<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    limit: jlong,
) -> jlong {
    fast(&mut env, || {
        let limit = if limit < 0 {
            None
        } else {
            Some(u32::try_from(limit).map_err(|_| Fail::argument("the limit is over 2^32 - 1"))?)
        };
        Ok(into_handle(ReceiveSpanBudget::new(limit)))
    })
}

/// Frees a `budgetNew` handle (0 is ignored).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_budgetFree<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    fast(&mut env, || {
        // SAFETY: made by budgetNew; Java frees it once, after its last use.
        unsafe { free_handle::<ReceiveSpanBudget>(handle) };
        Ok(())
    })
}

/// # Safety
/// `handle` is a live `budgetNew` handle.
unsafe fn budget<'a>(handle: jlong) -> Result<&'a ReceiveSpanBudget, Fail> {
    // SAFETY: the caller's contract.
    unsafe { handle_ref(handle, "a freed receive span budget") }
}

/// Whether the message just received gets a process span (lock-free); when
/// not, it is counted.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_budgetAdmit<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jboolean {
    fast(&mut env, || {
        // SAFETY: Java keeps the handle alive during the call.
        Ok(unsafe { budget(handle)? }.admit())
    })
}

/// How many received messages got no span.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_budgetSkipped<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    fast(&mut env, || {
        // SAFETY: Java keeps the handle alive during the call.
        let skipped = unsafe { budget(handle)? }.skipped();
        Ok(jlong::try_from(skipped).unwrap_or(jlong::MAX))
    })
}
