//! Buffers, names, the empty call and the test-only entry points.

use jni::EnvUnowned;
use jni::objects::{JByteBuffer, JClass, JObject};
use jni::sys::{jint, jlong};
use tracewire::ErrorCode;

use crate::guard::{Fail, fast, guarded};
use crate::headers::FIELDS;

// ---------------------------------------------------------------- plumbing

/// A native object handed to Java as a `long` handle (a leaked `Box`).
pub(crate) fn into_handle<T>(value: T) -> jlong {
    Box::into_raw(Box::new(value)) as jlong
}

/// Frees a handle made by [`into_handle`]; 0 is ignored.
///
/// # Safety
/// `handle` is 0 or made by `into_handle::<T>`, and Java frees it once,
/// after its last use (the owning class's `close`/`Cleaner` guarantee it).
pub(crate) unsafe fn free_handle<T>(handle: jlong) {
    if handle != 0 {
        // SAFETY: the caller's contract.
        drop(unsafe { Box::from_raw(handle as *mut T) });
    }
}

/// Borrows a handle made by [`into_handle`]; 0 (a closed object) is
/// `invalid_argument` naming `what`.
///
/// # Safety
/// `handle` is 0 or a live `into_handle::<T>` handle.
pub(crate) unsafe fn handle_ref<'a, T>(handle: jlong, what: &'static str) -> Result<&'a T, Fail> {
    if handle == 0 {
        return Err(Fail::argument(what));
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { &*(handle as *const T) })
}

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
/// 3 tracewire-session), or null past the end.
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
    guarded(&mut env, |env| {
        match u32::try_from(code).ok().and_then(ErrorCode::from_u32) {
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
    // The guard must turn the bridge's deliberate panic into a Java exception.
    fast(&mut env, || -> Result<jint, Fail> {
        Ok(tracewire_bridge::guard::testing_panic()?)
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
        // A negative code is no code: the bridge reports it as unknown.
        let code = u32::try_from(code).unwrap_or(u32::MAX);
        Err(tracewire_bridge::guard::testing_error(code).into())
    })
}
