//! URL to span target: `server.address`, `server.port` and `url.path`
//! (core `target::Target`).

use jni::EnvUnowned;
use jni::objects::JClass;
use jni::sys::{jint, jlong};
use tracewire::target::{Scheme, Target};
use tracewire_bridge::BridgeError;
use tracewire_bridge::wire::{Reader, Writer};

use crate::guard::{Fail, emit, exchange, fast, input};

/// Reads a client's `ws://` or `wss://` URL (`Target::from_url`).
/// In: the URL, UTF-8 (no length prefix). Out: a target record. Fails with
/// `invalid_url`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_targetFromUrl<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Native's contract.
        let url = std::str::from_utf8(unsafe { input(input_addr, input_len)? })
            .map_err(|_| Fail::argument("the URL is not UTF-8"))?;
        let target = Target::from_url(url).map_err(|e| Fail::Code(e.code(), e.to_string()))?;
        let mut w = Writer::new();
        w.target(&target);
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// A server's view of the upgrade request, never failing
/// (`Target::from_request_lenient`). In: `str scheme` (`ws`, `wss`, or
/// empty when the server cannot tell), `u8 has_host, str host` (the `Host`
/// header), `str request_target` (of the request line, or an absolute URL).
/// Out: a target record. An unknown scheme name is `invalid_argument`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_targetFromRequest<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    input_addr: jlong,
    input_len: jint,
    out: jlong,
    cap: jint,
) -> jint {
    let respond = |r: &mut Reader<'_>, w: &mut Writer| {
        let scheme = match r.str()? {
            "" => None,
            name => Some(name.parse::<Scheme>().map_err(BridgeError::from)?),
        };
        let has_host = r.u8()? != 0;
        let host = r.str()?;
        let request_target = r.str()?;
        let target = Target::from_request_lenient(scheme, has_host.then_some(host), request_target);
        w.target(&target);
        Ok(())
    };
    // SAFETY: Native's contract (crate docs).
    unsafe { exchange(&mut env, (input_addr, input_len), (out, cap), respond) }
}
