//! The tracing models as data: the span to start for each event on a
//! connection. Python applies these decisions with opentelemetry-python and
//! never chooses a name, kind, parent or attribute key itself.

use crate::{guard, raise};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tracewire::model::{CloseDecision, Connection, MessageType, Model, Role, SpanDecision};
use tracewire::{ErrorCode, KeyValue, Value};
use tracewire_bridge::Coded;

/// Core attributes as a `dict` of `str` to `str`/`int`/`float`/`bool`.
fn attributes<'py>(py: Python<'py>, attrs: &[KeyValue]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for kv in attrs {
        match &kv.value {
            Value::String(s) => d.set_item(kv.key, s.as_ref())?,
            Value::Int(i) => d.set_item(kv.key, *i)?,
            Value::Float(f) => d.set_item(kv.key, *f)?,
            Value::Bool(b) => d.set_item(kv.key, *b)?,
        }
    }
    Ok(d)
}

/// One span to start: name, kind, parent candidates (first available wins;
/// none available: a new trace), links and attributes.
#[pyclass(frozen, module = "tracewire._native", name = "SpanDecision")]
pub(crate) struct PySpanDecision {
    name: String,
    kind: &'static str,
    parent: Vec<&'static str>,
    links: Vec<&'static str>,
    attributes: Py<PyDict>,
}

impl PySpanDecision {
    fn from_core(py: Python<'_>, d: &SpanDecision) -> PyResult<Self> {
        Ok(PySpanDecision {
            name: d.name.clone(),
            kind: d.kind.name(),
            parent: d.parent.iter().map(|p| p.name()).collect(),
            links: d.links.iter().map(|l| l.name()).collect(),
            attributes: attributes(py, &d.attributes)?.unbind(),
        })
    }
}

#[pymethods]
impl PySpanDecision {
    /// The span name.
    #[getter]
    fn name(&self) -> String {
        self.name.clone()
    }

    /// `"client"`, `"server"`, `"producer"`, `"consumer"` or `"internal"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// Parent candidates in order: `"remote"`, `"ambient"`,
    /// `"ambient_in_connection_trace"`, `"connection"`.
    #[getter]
    fn parent(&self) -> Vec<&'static str> {
        self.parent.clone()
    }

    /// Spans to link to (`"connection"`), when available and not the parent.
    #[getter]
    fn links(&self) -> Vec<&'static str> {
        self.links.clone()
    }

    /// Attributes to set at start (a fresh `dict` on each access).
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.attributes.bind(py).copy()
    }

    fn __repr__(&self) -> String {
        format!("SpanDecision(name={:?}, kind={:?})", self.name, self.kind)
    }
}

/// What to record when a connection closes.
#[pyclass(frozen, module = "tracewire._native", name = "CloseDecision")]
pub(crate) struct PyCloseDecision {
    attributes: Py<PyDict>,
    is_error: bool,
    span: Option<Py<PySpanDecision>>,
}

impl PyCloseDecision {
    fn from_core(py: Python<'_>, d: &CloseDecision) -> PyResult<Self> {
        Ok(PyCloseDecision {
            attributes: attributes(py, &d.attributes)?.unbind(),
            is_error: d.is_error,
            span: d
                .span
                .as_ref()
                .map(|s| Py::new(py, PySpanDecision::from_core(py, s)?))
                .transpose()?,
        })
    }
}

#[pymethods]
impl PyCloseDecision {
    /// Close code and reason attributes.
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.attributes.bind(py).copy()
    }

    /// Whether the close is abnormal (the span status is then an error).
    #[getter]
    fn is_error(&self) -> bool {
        self.is_error
    }

    /// `None`: record the attributes on the connection span and end it.
    /// Otherwise the span to start and end with them.
    #[getter]
    fn span(&self, py: Python<'_>) -> Option<Py<PySpanDecision>> {
        self.span.as_ref().map(|s| s.clone_ref(py))
    }
}

fn message_type(py: Python<'_>, s: &str) -> PyResult<MessageType> {
    MessageType::from_name(s).map_err(|e| crate::errors::bridge_error(py, e))
}

/// The facts about one connection that every span decision depends on.
#[pyclass(frozen, module = "tracewire._native", name = "Connection")]
pub(crate) struct PyConnection(Connection);

#[pymethods]
impl PyConnection {
    /// `model`: `"connection"` or `"message"`; `role`: `"client"` or
    /// `"server"`.
    #[new]
    #[pyo3(signature = (model, role, session_id, url_path, server_address = None, server_port = None))]
    fn new(
        py: Python<'_>,
        model: &str,
        role: &str,
        session_id: &str,
        url_path: &str,
        server_address: Option<&str>,
        server_port: Option<u16>,
    ) -> PyResult<Self> {
        guard(py, || {
            let model: Model = model
                .parse()
                .map_err(|e| raise(py, ErrorCode::InvalidArgument, e))?;
            let role = Role::from_name(role).map_err(|e| crate::errors::bridge_error(py, e))?;
            let mut conn = Connection::new(model, role, session_id, url_path);
            if let Some(addr) = server_address {
                conn = conn.with_server(addr, server_port);
            }
            Ok(PyConnection(conn))
        })
    }

    /// `"connection"` or `"message"`.
    #[getter]
    fn model(&self) -> &'static str {
        self.0.model.as_str()
    }

    /// The session id both peers share.
    #[getter]
    fn session_id(&self) -> String {
        self.0.session_id.clone()
    }

    /// The URL path (`/` when empty).
    #[getter]
    fn url_path(&self) -> String {
        self.0.url_path.clone()
    }

    /// Whether the connection span ends when the upgrade completes.
    #[getter]
    fn connection_span_ends_at_upgrade(&self) -> bool {
        self.0.connection_span_ends_at_upgrade()
    }

    /// The connection span (`connect` or `accept`).
    fn open(&self, py: Python<'_>) -> PyResult<PySpanDecision> {
        guard(py, || PySpanDecision::from_core(py, &self.0.open()))
    }

    /// The span for sending one message of `size` payload bytes.
    fn send(&self, py: Python<'_>, message_type: &str, size: usize) -> PyResult<PySpanDecision> {
        guard(py, || {
            let mt = self::message_type(py, message_type)?;
            PySpanDecision::from_core(py, &self.0.send(mt, size))
        })
    }

    /// The span for processing one received message of `size` payload bytes.
    fn receive(&self, py: Python<'_>, message_type: &str, size: usize) -> PyResult<PySpanDecision> {
        guard(py, || {
            let mt = self::message_type(py, message_type)?;
            PySpanDecision::from_core(py, &self.0.receive(mt, size))
        })
    }

    /// What to record at close; `code` `None` means no close frame (1006).
    #[pyo3(signature = (code = None, reason = ""))]
    fn close(&self, py: Python<'_>, code: Option<u16>, reason: &str) -> PyResult<PyCloseDecision> {
        guard(py, || {
            PyCloseDecision::from_core(py, &self.0.close(code, reason))
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySpanDecision>()?;
    m.add_class::<PyCloseDecision>()?;
    m.add_class::<PyConnection>()?;
    Ok(())
}
