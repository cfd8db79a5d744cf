//! The panic guard and error policy of every entry point, and the direct
//! buffer contract (borrowed inputs, outputs that report the size they need).

use jni::errors::ErrorPolicy;
use jni::objects::{JThrowable, JValue};
use jni::sys::{jint, jlong};
use jni::{Env, EnvUnowned, jni_sig, jni_str};
use tracewire::ErrorCode;
use tracewire_bridge::BridgeError;
use tracewire_bridge::wire::{Reader, Writer};

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

impl From<BridgeError> for Fail {
    fn from(e: BridgeError) -> Self {
        Fail::Code(e.code, e.message)
    }
}

impl From<jni::errors::Error> for Fail {
    fn from(e: jni::errors::Error) -> Self {
        Fail::Jni(e)
    }
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
        // The bridge's message (and it leaks the payload, whose drop could
        // panic again).
        let e = tracewire_bridge::guard::panic_error(payload);
        if !env.exception_check() {
            throw(env, e.code, &e.message);
        }
        Ok(T::default())
    }
}

/// Borrows `len` bytes at `addr` for the duration of a call.
///
/// # Safety
/// `addr` must point to `len` readable bytes that stay valid and are not
/// written during the call (Java's direct buffer contract with `Native`).
pub(crate) unsafe fn input<'a>(addr: jlong, len: jint) -> Result<&'a [u8], Fail> {
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
pub(crate) unsafe fn emit(w: &Writer, out: jlong, cap: jint) -> Result<jint, Fail> {
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
pub(crate) fn guarded<'local, T: Default>(
    env: &mut EnvUnowned<'local>,
    f: impl FnOnce(&mut Env<'local>) -> Result<T, Fail>,
) -> T {
    env.with_env(f).resolve::<Throw>()
}

/// Runs an entry point's body that needs no JNI call (the hot paths): catches
/// a panic itself, and only on failure goes through [`EnvUnowned::with_env`]
/// and [`Throw`] to throw. This saves the attach-guard bookkeeping that
/// `with_env` costs on every call.
pub(crate) fn fast<'local, T: Default>(
    env: &mut EnvUnowned<'local>,
    f: impl FnOnce() -> Result<T, Fail>,
) -> T {
    // The bridge's guard turns a panic into a `panic` failure, thrown below.
    match tracewire_bridge::guard::catch(f) {
        Ok(v) => v,
        Err(e) => env
            .with_env(|_| -> Result<T, Fail> { Err(e) })
            .resolve::<Throw>(),
    }
}

/// The shape of every entry point that reads one input record and writes
/// one output record: `f` reads `input` and writes the output, inside the
/// guard, and the output is copied to `out` as [`emit`] does.
///
/// # Safety
/// `input_addr`/`input_len` as [`input`] requires, `out`/`cap` as [`emit`]
/// requires (Native's contract, crate docs).
pub(crate) unsafe fn exchange(
    env: &mut EnvUnowned<'_>,
    (input_addr, input_len): (jlong, jint),
    (out, cap): (jlong, jint),
    f: impl FnOnce(&mut Reader<'_>, &mut Writer) -> Result<(), Fail>,
) -> jint {
    fast(env, || {
        let mut w = Writer::new();
        {
            // SAFETY: the caller's contract.
            let mut r = Reader::new(unsafe { input(input_addr, input_len)? });
            f(&mut r, &mut w)?;
        }
        // SAFETY: the caller's contract.
        unsafe { emit(&w, out, cap) }
    })
}
