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
use tracewire::ErrorCode;
use tracewire_bridge::BridgeError;

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

/// The exception for an error of the bridge.
pub(crate) fn bridge_error(py: Python<'_>, e: BridgeError) -> PyErr {
    py_error(py, e.code, e.message)
}

/// Runs `f` inside the bridge's panic guard, turning a Rust panic into
/// `tracewire.InternalError` (code `panic`) so that no `PanicException` (a
/// `BaseException`) reaches Python.
pub(crate) fn guard<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match tracewire_bridge::guard::catch(|| Ok::<_, BridgeError>(f())) {
        Ok(result) => result,
        Err(e) => Err(bridge_error(py, e)),
    }
}

/// `[(name, number), ...]` for every core error code. Python builds
/// `tracewire.ErrorCode` from this list, so a code added to the core shows up
/// without a binding change.
#[pyfunction]
fn error_codes(py: Python<'_>) -> PyResult<Vec<(&'static str, u32)>> {
    guard(py, || {
        Ok(ErrorCode::ALL
            .iter()
            .map(|c| (c.name(), c.as_u32()))
            .collect())
    })
}

/// Test-only: panics inside the guard, to check how a panic surfaces.
#[pyfunction]
fn _testing_panic(py: Python<'_>) -> PyResult<()> {
    guard(py, || {
        tracewire_bridge::guard::testing_panic().map_err(|e| bridge_error(py, e))
    })
}

/// Test-only: raises the exception for core error `code` (a number).
#[pyfunction]
fn _testing_error(py: Python<'_>, code: u32) -> PyResult<()> {
    guard(py, || {
        Err(bridge_error(
            py,
            tracewire_bridge::guard::testing_error(code),
        ))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(_testing_panic, m)?)?;
    m.add_function(wrap_pyfunction!(_testing_error, m)?)?;
    Ok(())
}
