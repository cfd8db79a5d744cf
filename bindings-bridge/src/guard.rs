//! The panic guard every FFI entry point runs in, and the test-only entry
//! points that show how a panic and an error surface in each language.
//!
//! A panic unwinding out of `extern "C"` or a JNI function aborts the Go or
//! JVM process; in pyo3 it becomes `PanicException`, a `BaseException` that
//! `except Exception` does not catch. So every adapter runs its bodies inside
//! [`catch`], which turns a panic into a `panic` error (code 100) whose message
//! carries the panic's own message.

use crate::error::BridgeError;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tracewire::ErrorCode;

/// The message a panic payload carries (`panic!` with a literal or a format).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The `panic` error for a caught panic payload.
pub fn panic_error(payload: Box<dyn Any + Send>) -> BridgeError {
    let message = format!("panic in tracewire: {}", panic_message(&*payload));
    // Dropping a payload can run a Drop that panics itself: that panic is
    // caught too, and only its payload is leaked (leaking every payload lost
    // memory on every caught panic).
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(second);
    }
    BridgeError::new(ErrorCode::Panic, message)
}

/// Runs `f`, turning a panic into a `panic` error, so nothing unwinds out.
///
/// The error type `E` is the adapter's (anything a [`BridgeError`] converts
/// into), so an adapter with its own failure kinds (JNI's pending Java
/// exception) still uses this one guard.
pub fn catch<T, E: From<BridgeError>>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(panic_error(payload).into()),
    }
}

/// Test only: the body of every `testing_panic` entry point. Panics with
/// "deliberate test panic", which the guard must turn into a `panic` error.
pub fn testing_panic<T>() -> crate::Result<T> {
    #[allow(clippy::panic)]
    {
        panic!("deliberate test panic")
    }
}

/// Test only: the error every `testing_error` entry point returns for
/// `code`: the core code with that number (`invalid_argument` when there is
/// none), and a message naming the code asked for.
pub fn testing_error(code: u32) -> BridgeError {
    let known = ErrorCode::from_u32(code);
    BridgeError::new(
        known.unwrap_or(ErrorCode::InvalidArgument),
        format!(
            "deliberate test error {code} ({})",
            known.map_or("unknown", ErrorCode::name)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_panic_error_with_its_message() {
        let r: Result<(), BridgeError> = catch(testing_panic);
        let e = r.unwrap_err();
        assert_eq!(e.code, ErrorCode::Panic);
        assert!(e.message.contains("deliberate test panic"), "{e}");
        let r: Result<(), BridgeError> = catch(|| panic!("formatted {}", 7));
        assert!(r.unwrap_err().message.contains("formatted 7"));
    }

    #[test]
    fn errors_pass_through_and_name_their_code() {
        let r: Result<(), BridgeError> = catch(|| Err(testing_error(2)));
        let e = r.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTraceState);
        assert!(e.message.contains("invalid_tracestate"), "{e}");
        let e = testing_error(12345);
        assert_eq!(e.code, ErrorCode::InvalidArgument);
        assert!(e.message.contains("12345"), "{e}");
    }
}
