//! Core errors as Python exceptions, and the panic guard on every entry point.
//!
//! The exception classes are defined in Python (`tracewire/_errors.py`), so
//! that each leaf can subclass both `tracewire.Error` and the matching
//! builtin (`ValueError`); this module only picks the class for a core
//! [`ErrorCode`] and never decides what a code means.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;
use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};
use tracewire::ErrorCode;

/// Every code the core defines, in order. Python builds `tracewire.ErrorCode`
/// from this list, so a code added to the core shows up without a binding
/// change.
const ALL_CODES: [ErrorCode; 9] = [
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

/// Builds the `tracewire` exception for `code` with `message`.
///
/// If the Python side cannot be reached (it is always importable once
/// `tracewire` is), the failure to reach it is returned instead, so an error
/// is never silently dropped.
pub(crate) fn py_error(py: Python<'_>, code: ErrorCode, message: impl Into<String>) -> PyErr {
    static MAKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let message: String = message.into();
    let made = MAKE
        .import(py, "tracewire._errors", "_from_core")
        .and_then(|make| make.call1((code.as_u32(), message)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(e) => e,
    }
}

/// The exception for a core error value (its `Display` is the message).
pub(crate) fn raise(py: Python<'_>, code: ErrorCode, e: impl Display) -> PyErr {
    py_error(py, code, e.to_string())
}

/// Runs `f`, turning a Rust panic into `tracewire.InternalError` (code
/// `panic`) so that no `PanicException` (a `BaseException`) reaches Python.
pub(crate) fn guard<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let detail = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_owned());
            Err(py_error(
                py,
                ErrorCode::Panic,
                format!("internal error in tracewire's native code: {detail}"),
            ))
        }
    }
}

/// `[(name, number), ...]` for every core error code.
#[pyfunction]
fn error_codes(py: Python<'_>) -> PyResult<Vec<(&'static str, u32)>> {
    guard(py, || {
        Ok(ALL_CODES.iter().map(|c| (c.name(), c.as_u32())).collect())
    })
}

/// Test-only: panics inside the guard, to check how a panic surfaces.
#[pyfunction]
#[allow(clippy::panic)]
fn _testing_panic(py: Python<'_>) -> PyResult<()> {
    guard(py, || {
        panic!("deliberate panic from tracewire._native._testing_panic")
    })
}

/// Test-only: raises the exception for core error `code` (a number).
#[pyfunction]
fn _testing_error(py: Python<'_>, code: u32) -> PyResult<()> {
    guard(py, || {
        let code = ALL_CODES
            .iter()
            .copied()
            .find(|c| c.as_u32() == code)
            .unwrap_or(ErrorCode::InvalidArgument);
        Err(py_error(
            py,
            code,
            format!("deliberate {} error from _testing_error", code.name()),
        ))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(_testing_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_testing_error, m)?)?;
    Ok(())
}
