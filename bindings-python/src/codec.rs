//! The message codec: what each outgoing and incoming data frame becomes for
//! a connection's negotiated envelopes (core `envelope::codec::Codec`,
//! `docs/PROTOCOL.md` section 3.4). The traced connections of `tracewire.ws`
//! run every frame through it; this module only converts frames (`str` is a
//! text frame, a bytes-like object a binary one) and results.

use crate::context;
use crate::envelope::{DETACH_AT, PyDecoded, PyJsonEnvelope, bytes_of, frame_bytes};
use crate::handshake::PyEnvelopes;
use crate::{guard, py_error};
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::cell::RefCell;
use tracewire::ErrorCode;
use tracewire::envelope::codec::Codec;
use tracewire::model::MessageType;

// A sender's reusable output buffer, kept per thread so that encoding a
// frame allocates nothing but the Python object it returns.
thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A scratch buffer grown past this is released after use rather than kept.
const SCRATCH_KEEP: usize = 256 * 1024;

fn message_type(text: bool) -> MessageType {
    if text {
        MessageType::Text
    } else {
        MessageType::Binary
    }
}

/// The envelope rules of one connection: the envelopes both peers accepted,
/// and where (and whether to strip) the JSON members.
#[pyclass(frozen, module = "tracewire._native", name = "Codec")]
pub(crate) struct PyCodec {
    inner: Codec,
    envelopes: PyEnvelopes,
    json: Py<PyJsonEnvelope>,
}

#[pymethods]
impl PyCodec {
    /// `envelopes`: what the handshake negotiated; `json`: where the JSON
    /// envelope object lives and whether it is stripped on receive (default:
    /// the member `tracewire`, stripped; `JsonEnvelope.mcp()` reads and
    /// writes text frames whatever was negotiated).
    #[new]
    #[pyo3(signature = (envelopes, json = None))]
    fn new(
        py: Python<'_>,
        envelopes: PyEnvelopes,
        json: Option<Py<PyJsonEnvelope>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let json = match json {
                Some(j) => j,
                None => Py::new(py, PyJsonEnvelope::core_default())?,
            };
            Ok(PyCodec {
                inner: Codec::new(envelopes.0, json.get().inner.clone()),
                envelopes,
                json,
            })
        })
    }

    /// The envelopes this codec reads and writes.
    #[getter]
    fn envelopes(&self) -> PyEnvelopes {
        self.envelopes
    }

    /// Where the JSON members live and whether they are stripped.
    #[getter]
    fn json(&self, py: Python<'_>) -> Py<PyJsonEnvelope> {
        self.json.clone_ref(py)
    }

    /// The frame to send for `payload` (`str`: a text frame; bytes-like: a
    /// binary frame) sent in the span whose context is `context` (a
    /// `TraceContext`, an `opentelemetry.context.Context`, or `None` for the
    /// current one). Returns `payload` itself when it goes out untouched
    /// (the envelope was not negotiated, or a text payload is not a JSON
    /// object), else the enveloped frame, of the same kind (`str` or `bytes`).
    #[pyo3(signature = (payload, context = None))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        payload: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let ctx = context::context_arg(py, context)?;
            let (bytes, text) = frame_bytes(payload)?;
            let frame = bytes.as_slice();
            let mt = message_type(text);
            SCRATCH.with(|scratch| {
                // A reentrant call on this thread (none is expected: nothing
                // here calls back into Python) gets a buffer of its own.
                let mut owned = Vec::new();
                let mut borrowed = scratch.try_borrow_mut();
                let out = match borrowed.as_deref_mut() {
                    Ok(v) => v,
                    Err(_) => &mut owned,
                };
                let encode = |out: &mut Vec<u8>| self.inner.encode_into(mt, frame, &ctx, out);
                let enveloped = if frame.len() >= DETACH_AT {
                    py.detach(|| encode(out))
                } else {
                    encode(out)
                };
                let result = if !enveloped {
                    Ok(payload.clone())
                } else if text {
                    // The core adds ASCII members to a UTF-8 frame: still UTF-8.
                    std::str::from_utf8(out)
                        .map(|s| PyString::new(py, s).into_any())
                        .map_err(|_| {
                            py_error(py, ErrorCode::InvalidArgument, "frame is not valid UTF-8")
                        })
                } else {
                    bytes_of(py, &[out]).map(Bound::into_any)
                };
                if out.capacity() > SCRATCH_KEEP {
                    *out = Vec::new();
                } else {
                    out.clear();
                }
                result
            })
        })
    }

    /// Reads a received frame (`str`: text, bytes-like: binary). Never raises
    /// for a bad frame: the `Decoded` holds what the application sees, the
    /// sender's context, and for a malformed envelope the error and the
    /// `exception_event` to record on the receive span.
    fn decode(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<PyDecoded> {
        guard(py, || {
            let (bytes, text) = frame_bytes(frame)?;
            let bytes = bytes.as_slice();
            let mt = message_type(text);
            let decode = || {
                let decoded = self.inner.decode(mt, bytes);
                let size = self.inner.payload_size(mt, &decoded);
                (decoded, size)
            };
            let (decoded, size) = if bytes.len() >= DETACH_AT {
                py.detach(decode)
            } else {
                decode()
            };
            PyDecoded::from_core(py, decoded, frame, bytes, text, size)
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Codec(envelopes={}, json={})",
            self.envelopes.__repr__(),
            self.json.bind(py).repr()?
        ))
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCodec>()?;
    Ok(())
}
