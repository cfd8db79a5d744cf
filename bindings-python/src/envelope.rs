//! Envelopes: trace context inside WebSocket messages.
//!
//! Decoding never loses a frame: the result always holds the payload the
//! application should see, with the context when the envelope was valid and
//! the error when it was malformed.

use crate::context::{self, PyTraceContext};
use crate::model::PyEvent;
use crate::{guard, py_error, raise};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tracewire::envelope::codec::exception_event;
use tracewire::envelope::json::{JsonEnvelope, STRIP_BY_DEFAULT};
use tracewire::envelope::{Decoded, binary};
use tracewire::{ErrorCode, TraceContext};

/// Frames at least this large are scanned and copied with the interpreter
/// released, so other Python threads keep running. (The frame's `bytes`
/// object is immutable and kept alive by the caller meanwhile.)
pub(crate) const DETACH_AT: usize = 64 * 1024;

/// Builds a `bytes` of `parts` concatenated, copying once (without holding
/// the interpreter for large frames).
pub(crate) fn bytes_of<'py>(py: Python<'py>, parts: &[&[u8]]) -> PyResult<Bound<'py, PyBytes>> {
    let len = parts.iter().map(|p| p.len()).sum();
    PyBytes::new_with(py, len, |buf| {
        let fill = |buf: &mut [u8]| {
            let mut at = 0;
            for p in parts {
                buf[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
        };
        if len >= DETACH_AT {
            py.detach(|| fill(buf));
        } else {
            fill(buf);
        }
        Ok(())
    })
}

/// A received frame, decoded: what the application should see, and what
/// came with it.
#[pyclass(frozen, module = "tracewire._native", name = "Decoded")]
pub(crate) struct PyDecoded {
    status: &'static str,
    payload: Py<PyAny>,
    context: Option<TraceContext>,
    error: Option<Py<PyAny>>,
    event: Option<Py<PyEvent>>,
    body_size: usize,
}

impl PyDecoded {
    /// Converts a core outcome; `original` is the received frame object,
    /// handed back as the payload whenever the payload is the whole frame;
    /// `body_size` is the core's count of the application payload.
    pub(crate) fn from_core(
        py: Python<'_>,
        decoded: Decoded<'_>,
        original: &Bound<'_, PyAny>,
        frame: &[u8],
        text: bool,
        body_size: usize,
    ) -> PyResult<PyDecoded> {
        let same = |p: &[u8]| p.as_ptr() == frame.as_ptr() && p.len() == frame.len();
        let payload = |py: Python<'_>, p: &[u8]| -> PyResult<Py<PyAny>> {
            if same(p) {
                Ok(original.clone().unbind())
            } else if text {
                Ok(PyString::new(py, &String::from_utf8_lossy(p))
                    .into_any()
                    .unbind())
            } else {
                Ok(bytes_of(py, &[p])?.into_any().unbind())
            }
        };
        Ok(match decoded {
            Decoded::Plain(p) => PyDecoded {
                status: "plain",
                payload: payload(py, p)?,
                context: None,
                error: None,
                event: None,
                body_size,
            },
            Decoded::Enveloped(ctx, p) => PyDecoded {
                status: "enveloped",
                payload: payload(py, &p)?,
                context: Some(ctx),
                error: None,
                event: None,
                body_size,
            },
            Decoded::Malformed(e, p) => PyDecoded {
                status: "malformed",
                payload: payload(py, p)?,
                context: None,
                error: Some(raise(py, e.code(), &e).into_value(py).into_any()),
                event: Some(Py::new(py, PyEvent::from_core(py, &exception_event(&e))?)?),
                body_size,
            },
        })
    }
}

#[pymethods]
impl PyDecoded {
    /// `"plain"` (no envelope), `"enveloped"` or `"malformed"`.
    #[getter]
    fn status(&self) -> &'static str {
        self.status
    }

    /// What the application should see: the frame itself, or the payload
    /// after the envelope (same type as the frame: `str` or `bytes`).
    #[getter]
    fn payload(&self, py: Python<'_>) -> Py<PyAny> {
        self.payload.clone_ref(py)
    }

    /// The received context, when the envelope was valid.
    #[getter]
    fn context(&self) -> Option<PyTraceContext> {
        self.context.clone().map(PyTraceContext)
    }

    /// Why the envelope is malformed (a `tracewire.Error`), else `None`.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.error.as_ref().map(|e| e.clone_ref(py))
    }

    /// What the receive span records for a malformed envelope (the
    /// OpenTelemetry `exception` event, as the core builds it), else `None`.
    #[getter]
    fn exception_event(&self, py: Python<'_>) -> Option<Py<PyEvent>> {
        self.event.as_ref().map(|e| e.clone_ref(py))
    }

    /// The application payload's size in bytes, as
    /// `messaging.message.body.size` counts it: never the envelope, even
    /// when the JSON members were kept in `payload`.
    #[getter]
    fn body_size(&self) -> usize {
        self.body_size
    }

    /// Whether the frame carried a valid envelope.
    #[getter]
    fn is_enveloped(&self) -> bool {
        self.context.is_some()
    }

    /// Whether the frame claimed an envelope that is malformed.
    #[getter]
    fn is_malformed(&self) -> bool {
        self.error.is_some()
    }

    /// The received context as an `opentelemetry.context.Context` on
    /// `parent` (default: empty); `parent` itself when there is none.
    #[pyo3(signature = (parent = None))]
    fn otel_context<'py>(
        &self,
        py: Python<'py>,
        parent: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let empty = TraceContext::default();
            crate::otel::core_to_otel(py, self.context.as_ref().unwrap_or(&empty), parent)
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Decoded(status={:?}, payload={})",
            self.status,
            self.payload.bind(py).repr()?
        ))
    }
}

/// The bytes of a frame: borrowed from a `bytes`, from the UTF-8 encoding
/// of a `str` (one copy, made by Python), or copied from another buffer.
pub(crate) enum FrameBytes<'py> {
    Bytes(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl FrameBytes<'_> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            FrameBytes::Bytes(b) => b.as_bytes(),
            FrameBytes::Owned(v) => v,
        }
    }
}

/// A frame given as `str` (text) or bytes-like (binary): its bytes and
/// whether it is text.
pub(crate) fn frame_bytes<'py>(frame: &Bound<'py, PyAny>) -> PyResult<(FrameBytes<'py>, bool)> {
    if let Ok(s) = frame.cast::<PyString>() {
        return Ok((FrameBytes::Bytes(s.encode_utf8()?), true));
    }
    if let Ok(b) = frame.cast::<PyBytes>() {
        return Ok((FrameBytes::Bytes(b.clone()), false));
    }
    let v: Vec<u8> = frame.extract()?;
    Ok((FrameBytes::Owned(v), false))
}

/// Where the JSON envelope object lives (`path`, dot-separated; empty: the
/// core's default member, `tracewire`; or MCP mode, [`PyJsonEnvelope::mcp`])
/// and whether `extract` strips its W3C members from the payload (`None`:
/// the core's default, which strips).
#[pyclass(frozen, module = "tracewire._native", name = "JsonEnvelope")]
pub(crate) struct PyJsonEnvelope {
    pub(crate) inner: JsonEnvelope,
    strip: bool,
}

impl PyJsonEnvelope {
    /// The core's default: the envelope object at `tracewire`, stripped.
    pub(crate) fn core_default() -> Self {
        PyJsonEnvelope {
            inner: JsonEnvelope::default(),
            strip: STRIP_BY_DEFAULT,
        }
    }
}

#[pymethods]
impl PyJsonEnvelope {
    #[new]
    #[pyo3(signature = (path = "", *, strip = None))]
    fn new(py: Python<'_>, path: &str, strip: Option<bool>) -> PyResult<Self> {
        guard(py, || {
            let strip = strip.unwrap_or(STRIP_BY_DEFAULT);
            let inner = JsonEnvelope::at_path(path)
                .map_err(|e| raise(py, e.code(), e))?
                .strip_on_extract(strip);
            Ok(PyJsonEnvelope { inner, strip })
        })
    }

    /// MCP / JSON-RPC mode: the context in `params._meta` of requests and
    /// notifications and `result._meta` of results, each message of a batch
    /// its own; a `Codec` in this mode reads and writes text frames whatever
    /// the handshake negotiated, as MCP peers do.
    #[staticmethod]
    #[pyo3(signature = (*, strip = None))]
    fn mcp(strip: Option<bool>) -> Self {
        let strip = strip.unwrap_or(STRIP_BY_DEFAULT);
        PyJsonEnvelope {
            inner: JsonEnvelope::mcp().strip_on_extract(strip),
            strip,
        }
    }

    /// The envelope object's member path (`""` in MCP mode, where it depends
    /// on the message).
    #[getter]
    fn path(&self) -> String {
        self.inner.path().join(".")
    }

    /// Whether this is MCP / JSON-RPC mode.
    #[getter]
    fn is_mcp(&self) -> bool {
        self.inner.is_mcp()
    }

    /// Whether `extract` removes the envelope members from the payload.
    #[getter]
    fn strip(&self) -> bool {
        self.strip
    }

    /// Returns `frame` (a JSON object, `str` or `bytes`) carrying the
    /// context in its envelope object (stale W3C members replaced), as the
    /// same type. `context` is a `TraceContext`, an
    /// `opentelemetry.context.Context`, or `None` for the current one.
    /// Raises `NotJsonObjectError` when the frame cannot take members.
    #[pyo3(signature = (frame, context = None))]
    fn inject<'py>(
        &self,
        py: Python<'py>,
        frame: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || {
            let ctx = context::context_arg(py, context)?;
            let (bytes, text) = frame_bytes(frame)?;
            let frame = bytes.as_slice();
            let inject = || self.inner.inject(frame, &ctx);
            let out = if frame.len() >= DETACH_AT {
                py.detach(inject)
            } else {
                inject()
            }
            .map_err(|e| raise(py, e.code(), e))?;
            if text {
                // The core copies the frame and adds ASCII members, so a
                // `str` frame gives valid UTF-8 back.
                let s = String::from_utf8(out).map_err(|_| {
                    py_error(py, ErrorCode::InvalidArgument, "frame is not valid UTF-8")
                })?;
                Ok(PyString::new(py, &s).into_any())
            } else {
                Ok(bytes_of(py, &[&out])?.into_any())
            }
        })
    }

    /// Reads the envelope of a received text frame. Never raises for a bad
    /// frame: see `Decoded`.
    fn extract(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<PyDecoded> {
        guard(py, || {
            let (bytes, text) = frame_bytes(frame)?;
            let bytes = bytes.as_slice();
            let extract = || {
                let decoded = self.inner.extract(bytes);
                let size = self.inner.payload_size(&decoded);
                (decoded, size)
            };
            let (decoded, size) = if bytes.len() >= DETACH_AT {
                py.detach(extract)
            } else {
                extract()
            };
            PyDecoded::from_core(py, decoded, frame, bytes, text, size)
        })
    }

    fn __repr__(&self) -> String {
        let strip = if self.strip { "True" } else { "False" };
        if self.inner.is_mcp() {
            format!("JsonEnvelope.mcp(strip={strip})")
        } else {
            format!("JsonEnvelope({:?}, strip={strip})", self.path())
        }
    }
}

/// Returns a binary frame: the envelope for `context` (a `TraceContext`, an
/// `opentelemetry.context.Context`, or `None` for the current one) followed
/// by `payload`.
#[pyfunction]
#[pyo3(signature = (payload, context = None))]
fn encode_binary<'py>(
    py: Python<'py>,
    payload: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    guard(py, || {
        let ctx = context::context_arg(py, context)?;
        let (payload, _) = frame_bytes(payload)?;
        let mut header = Vec::with_capacity(64);
        binary::encode_header_into(&ctx, &mut header);
        bytes_of(py, &[&header, payload.as_slice()])
    })
}

/// Reads the envelope of a received binary frame. Never raises for a bad
/// frame: see `Decoded`.
#[pyfunction]
fn decode_binary(py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<PyDecoded> {
    guard(py, || {
        let (bytes, _) = frame_bytes(frame)?;
        let bytes = bytes.as_slice();
        let decoded = binary::decode(bytes);
        let size = decoded.payload().len();
        PyDecoded::from_core(py, decoded, frame, bytes, false, size)
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDecoded>()?;
    m.add_class::<PyJsonEnvelope>()?;
    m.add_function(wrap_pyfunction!(encode_binary, m)?)?;
    m.add_function(wrap_pyfunction!(decode_binary, m)?)?;
    Ok(())
}
