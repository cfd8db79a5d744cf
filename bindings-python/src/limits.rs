//! The WebSocket limits the core decides (`tracewire::limits`), for the
//! traced client and server in `tracewire.ws` to pass to `websockets`.

use pyo3::prelude::*;
use tracewire::limits;

/// The default WebSocket limits of a traced endpoint (PROTOCOL.md 11.1):
/// sizes in bytes, the handshake timeout in seconds.
#[pyclass(frozen, module = "tracewire._native", name = "WsLimits")]
pub(crate) struct PyWsLimits;

#[pymethods]
impl PyWsLimits {
    /// Largest message accepted, in bytes.
    #[getter]
    fn max_message_size(&self) -> usize {
        limits::WS_MAX_MESSAGE_SIZE
    }

    /// Largest frame accepted, in bytes.
    #[getter]
    fn max_frame_size(&self) -> usize {
        limits::WS_MAX_FRAME_SIZE
    }

    /// Bytes gathered before a write to the socket.
    #[getter]
    fn write_buffer_size(&self) -> usize {
        limits::WS_WRITE_BUFFER_SIZE
    }

    /// Most bytes queued for writing before a send stops queueing.
    #[getter]
    fn max_write_buffer_size(&self) -> usize {
        limits::WS_MAX_WRITE_BUFFER_SIZE
    }

    /// Longest opening handshake, TCP connect included, in seconds.
    #[getter]
    fn handshake_timeout(&self) -> f64 {
        limits::WS_HANDSHAKE_TIMEOUT.as_secs_f64()
    }

    fn __repr__(&self) -> String {
        format!(
            "WsLimits(max_message_size={}, max_frame_size={}, write_buffer_size={}, \
             max_write_buffer_size={}, handshake_timeout={:?})",
            limits::WS_MAX_MESSAGE_SIZE,
            limits::WS_MAX_FRAME_SIZE,
            limits::WS_WRITE_BUFFER_SIZE,
            limits::WS_MAX_WRITE_BUFFER_SIZE,
            limits::WS_HANDSHAKE_TIMEOUT.as_secs_f64(),
        )
    }
}

/// The core's default WebSocket limits.
#[pyfunction]
fn ws_limits() -> PyWsLimits {
    PyWsLimits
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyWsLimits>()?;
    m.add_function(wrap_pyfunction!(ws_limits, m)?)?;
    Ok(())
}
