//! Test-only entry points: how a panic and an error surface.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use crate::abi::{TwError, guard};

// ---------------------------------------------------------------------------
// Test-only entry points

/// Test only: panics inside the guard, so bindings can check that a panic
/// becomes an error with code 100 (`panic`) and does not cross the ABI.
/// Always returns an error; free it with [`tw_error_free`].
/// Takes no pointer (never returns NULL). Thread safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn tw_testing_panic() -> *mut TwError {
    guard(|| Ok(tracewire_bridge::guard::testing_panic()?))
}

/// Test only: returns an error with `code` (any value) and a fixed message,
/// so bindings can check their mapping of every code. Free it with
/// [`tw_error_free`].
/// Takes no pointer (never returns NULL). Thread safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn tw_testing_error(code: u32) -> *mut TwError {
    guard(|| {
        // The bridge's error, but with the code as given (even one the core
        // does not define).
        let e = tracewire_bridge::guard::testing_error(code);
        Err(TwError::with_raw_code(code, e.message))
    })
}
