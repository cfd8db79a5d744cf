//! The native half of the Python binding: `tracewire._native`.
//!
//! This module is private. The public Python API lives in the `tracewire`
//! package (`python/tracewire/`), which re-exports these classes and adds the
//! opentelemetry-python and `websockets` integrations on top.
//!
//! Every entry point runs inside `errors::guard`, so a Rust panic surfaces as
//! `tracewire.InternalError` (code `panic`) rather than pyo3's
//! `PanicException`, and every core error becomes the `tracewire.Error`
//! subclass for its `tracewire::ErrorCode`.
//!
//! The modules stack without cycles: `errors` and `headers` (Python header
//! collections as pairs) depend on nothing here; `otel` converts between the
//! core's context and opentelemetry-python on top of them; `context` (the
//! value classes, including `TraceContext.to_otel`) sits on `otel`;
//! `handshake`, `target` and `metrics` sit on those; `trust` (the trust
//! policy) on `context`; `model` (decisions, `choose`, events) on `target`
//! and `trust`; `envelope` on `model` (a malformed
//! envelope's event); and `codec` (the per-connection frame rules) on
//! `envelope` and `handshake`. `limits` (the WebSocket limits `tracewire.ws`
//! passes to `websockets`) depends on nothing here.

mod codec;
mod context;
mod envelope;
mod errors;
mod handshake;
mod headers;
mod limits;
mod metrics;
mod model;
mod otel;
mod target;
mod trust;

use pyo3::prelude::*;

pub(crate) use errors::{guard, py_error, raise};

/// The module initialiser Python calls on `import tracewire._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    context::register(m)?;
    handshake::register(m)?;
    target::register(m)?;
    envelope::register(m)?;
    codec::register(m)?;
    trust::register(m)?;
    model::register(m)?;
    metrics::register(m)?;
    limits::register(m)?;
    otel::register(m)?;
    Ok(())
}
