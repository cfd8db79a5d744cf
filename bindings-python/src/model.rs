//! The tracing models as data: the span to start for each event on a
//! connection, and how to start it (`SpanDecision.choose`: which context is
//! the parent, whether the connection span is linked, which baggage the span
//! carries). Python applies these decisions with opentelemetry-python and
//! never chooses a name, kind, parent, link, baggage or attribute key itself.

use crate::context::PyTraceContext;
use crate::target::PyTarget;
use crate::trust::PyTrust;
use crate::{guard, raise};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tracewire::model::{
    Applied, Available, CloseDecision, Connection, Event, LinkSource, MessageType, Model,
    ParentSource, Role, SpanDecision,
};
use tracewire::{ErrorCode, KeyValue, Value};
use tracewire_bridge::Coded;

/// Core attributes as a `dict` of `str` to `str`/`int`/`float`/`bool`.
pub(crate) fn attributes<'py>(py: Python<'py>, attrs: &[KeyValue]) -> PyResult<Bound<'py, PyDict>> {
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

/// A span event to add as it is (name and attribute keys are the core's),
/// e.g. the `exception` event a malformed envelope leaves on a receive span.
#[pyclass(frozen, module = "tracewire._native", name = "Event")]
pub(crate) struct PyEvent {
    name: &'static str,
    attributes: Py<PyDict>,
}

impl PyEvent {
    pub(crate) fn from_core(py: Python<'_>, e: &Event) -> PyResult<Self> {
        Ok(PyEvent {
            name: e.name,
            attributes: attributes(py, &e.attributes)?.unbind(),
        })
    }
}

#[pymethods]
impl PyEvent {
    /// The event name.
    #[getter]
    fn name(&self) -> &'static str {
        self.name
    }

    /// The event's attributes (a fresh `dict` on each access).
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.attributes.bind(py).copy()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Event(name={:?}, attributes={})",
            self.name,
            self.attributes.bind(py).repr()?
        ))
    }
}

/// One span to start: name, kind, parent candidates (first available wins;
/// none available: a new trace), links and attributes.
#[pyclass(frozen, module = "tracewire._native", name = "SpanDecision")]
pub(crate) struct PySpanDecision {
    name: String,
    kind: &'static str,
    parent: Vec<&'static str>,
    links: Vec<&'static str>,
    parent_sources: &'static [ParentSource],
    link_sources: &'static [LinkSource],
    attributes: Py<PyDict>,
}

impl PySpanDecision {
    fn from_core(py: Python<'_>, d: &SpanDecision) -> PyResult<Self> {
        Ok(PySpanDecision {
            name: d.name.clone(),
            kind: d.kind.name(),
            parent: d.parent.iter().map(|p| p.name()).collect(),
            links: d.links.iter().map(|l| l.name()).collect(),
            parent_sources: d.parent,
            link_sources: d.links,
            attributes: attributes(py, &d.attributes)?.unbind(),
        })
    }
}

/// What is at hand when a span starts, as facts read off the
/// opentelemetry-python contexts (every fact defaults to `False`).
#[pyclass(frozen, eq, hash, module = "tracewire._native", name = "Available")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyAvailable(Available);

#[pymethods]
impl PyAvailable {
    #[new]
    #[pyo3(signature = (
        *,
        remote_has_span = false,
        remote_has_baggage = false,
        ambient_has_span = false,
        ambient_in_connection_trace = false,
        ambient_is_connection = false,
        connection_has_span = false,
    ))]
    fn new(
        remote_has_span: bool,
        remote_has_baggage: bool,
        ambient_has_span: bool,
        ambient_in_connection_trace: bool,
        ambient_is_connection: bool,
        connection_has_span: bool,
    ) -> Self {
        PyAvailable(Available {
            remote_has_span,
            remote_has_baggage,
            ambient_has_span,
            ambient_in_connection_trace,
            ambient_is_connection,
            connection_has_span,
        })
    }

    /// Reads the facts off the contexts at hand: `ambient` (the caller's
    /// opentelemetry-python context; `None`: the current one), `remote`
    /// (the context received with the handshake or message) and
    /// `connection` (the context holding the connection span, once there is
    /// one).
    #[staticmethod]
    #[pyo3(signature = (ambient = None, remote = None, connection = None))]
    fn read(
        py: Python<'_>,
        ambient: Option<&Bound<'_, PyAny>>,
        remote: Option<PyRef<'_, PyTraceContext>>,
        connection: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let amb = crate::otel::span_ids(py, ambient)?;
            let conn = match connection.filter(|c| !c.is_none()) {
                Some(c) => crate::otel::span_ids(py, Some(c))?,
                None => None,
            };
            let in_trace = matches!((amb, conn), (Some(a), Some(c)) if a.0 == c.0);
            let remote = remote.as_ref().map(|r| &r.0);
            Ok(PyAvailable(Available {
                remote_has_span: remote.is_some_and(|r| r.traceparent.is_some()),
                remote_has_baggage: remote.is_some_and(|r| !r.baggage.is_empty()),
                ambient_has_span: amb.is_some(),
                ambient_in_connection_trace: in_trace,
                ambient_is_connection: in_trace && amb.map(|a| a.1) == conn.map(|c| c.1),
                connection_has_span: conn.is_some(),
            }))
        })
    }

    /// The received context (handshake or message) has a span context.
    #[getter]
    fn remote_has_span(&self) -> bool {
        self.0.remote_has_span
    }

    /// The received context carries baggage.
    #[getter]
    fn remote_has_baggage(&self) -> bool {
        self.0.remote_has_baggage
    }

    /// The caller's context holds a valid span.
    #[getter]
    fn ambient_has_span(&self) -> bool {
        self.0.ambient_has_span
    }

    /// The caller's span has the connection span's trace id.
    #[getter]
    fn ambient_in_connection_trace(&self) -> bool {
        self.0.ambient_in_connection_trace
    }

    /// The caller's span is the connection span itself.
    #[getter]
    fn ambient_is_connection(&self) -> bool {
        self.0.ambient_is_connection
    }

    /// There is a connection span with a valid span context.
    #[getter]
    fn connection_has_span(&self) -> bool {
        self.0.connection_has_span
    }

    fn __repr__(&self) -> String {
        let a = &self.0;
        format!(
            "Available(remote_has_span={}, remote_has_baggage={}, ambient_has_span={}, \
             ambient_in_connection_trace={}, ambient_is_connection={}, connection_has_span={})",
            py_bool(a.remote_has_span),
            py_bool(a.remote_has_baggage),
            py_bool(a.ambient_has_span),
            py_bool(a.ambient_in_connection_trace),
            py_bool(a.ambient_is_connection),
            py_bool(a.connection_has_span),
        )
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// How to start one span, as the core chose it: where the parent comes
/// from, whether to link the connection span, and whose baggage the span's
/// context carries.
#[pyclass(frozen, eq, hash, module = "tracewire._native", name = "Applied")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyApplied(Applied);

#[pymethods]
impl PyApplied {
    /// `"remote"` (the received context), `"ambient"` (the caller's),
    /// `"connection"` (the connection span's) or `"new_trace"` (no parent).
    #[getter]
    fn parent(&self) -> &'static str {
        self.0.parent.as_str()
    }

    /// Whether the span links to the connection span.
    #[getter]
    fn link_connection(&self) -> bool {
        self.0.link_connection
    }

    /// Whether the span links to the received span context (a peer not
    /// trusted as a parent); listed after the connection span's link.
    #[getter]
    fn link_remote(&self) -> bool {
        self.0.link_remote
    }

    /// Whose baggage the span's context carries: `"remote"`, `"ambient"`,
    /// `"connection"` or `"none"`.
    #[getter]
    fn baggage(&self) -> &'static str {
        self.0.baggage.as_str()
    }

    fn __repr__(&self) -> String {
        format!(
            "Applied(parent={:?}, link_connection={}, link_remote={}, baggage={:?})",
            self.0.parent.as_str(),
            py_bool(self.0.link_connection),
            py_bool(self.0.link_remote),
            self.0.baggage.as_str()
        )
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

    /// Spans to link to (`"connection"`, `"remote"`), when available and not the parent.
    #[getter]
    fn links(&self) -> Vec<&'static str> {
        self.links.clone()
    }

    /// Attributes to set at start (a fresh `dict` on each access).
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.attributes.bind(py).copy()
    }

    /// How to start this span given what is `available` (the core's
    /// `model::choose`): parent, link and baggage.
    fn choose(&self, available: &PyAvailable) -> PyApplied {
        PyApplied(tracewire::model::choose(
            self.parent_sources,
            self.link_sources,
            available.0,
        ))
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

fn model_and_role(py: Python<'_>, model: &str, role: &str) -> PyResult<(Model, Role)> {
    let model: Model = model
        .parse()
        .map_err(|e| raise(py, ErrorCode::InvalidArgument, e))?;
    let role = Role::from_name(role).map_err(|e| crate::errors::bridge_error(py, e))?;
    Ok((model, role))
}

#[pymethods]
impl PyConnection {
    /// `model`: `"connection"` or `"message"`; `role`: `"client"` or
    /// `"server"`; `trust`: how far the peer is trusted (default:
    /// `Trust.trusted()`; a server that does not trust its client as a
    /// parent records a session id of its own instead of `session_id`).
    #[new]
    #[pyo3(signature = (model, role, session_id, url_path, server_address = None, server_port = None, route = None, *, trust = None))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn new(
        py: Python<'_>,
        model: &str,
        role: &str,
        session_id: &str,
        url_path: &str,
        server_address: Option<&str>,
        server_port: Option<u16>,
        route: Option<&str>,
        trust: Option<&PyTrust>,
    ) -> PyResult<Self> {
        guard(py, || {
            let (model, role) = model_and_role(py, model, role)?;
            let mut conn =
                Connection::new(model, role, session_id, url_path).with_route(route.unwrap_or(""));
            if let Some(addr) = server_address {
                conn = conn.with_server(addr, server_port);
            }
            if let Some(trust) = trust {
                conn = conn.with_trust(trust.0.clone());
            }
            Ok(PyConnection(conn))
        })
    }

    /// This connection with the route template the application matched
    /// (``/chat/{room}`` for ``/chat/42``): span names use it, and it is
    /// recorded as ``http.route`` and ``messaging.destination.template``.
    fn with_route(&self, route: &str) -> PyConnection {
        PyConnection(self.0.clone().with_route(route))
    }

    /// The connection whose spans record `target` (from `Target.from_url`
    /// or `Target.from_request_lenient`): its address, port and path.
    #[staticmethod]
    #[pyo3(signature = (model, role, session_id, target, *, trust = None))]
    fn from_target(
        py: Python<'_>,
        model: &str,
        role: &str,
        session_id: &str,
        target: &PyTarget,
        trust: Option<&PyTrust>,
    ) -> PyResult<Self> {
        guard(py, || {
            let (model, role) = model_and_role(py, model, role)?;
            let conn = Connection::from_target(model, role, session_id, target.0.clone());
            Ok(PyConnection(match trust {
                Some(trust) => conn.with_trust(trust.0.clone()),
                None => conn,
            }))
        })
    }

    /// How far the peer is trusted.
    #[getter]
    fn trust(&self) -> PyTrust {
        PyTrust(self.0.trust.clone())
    }

    /// `"connection"` or `"message"`.
    #[getter]
    fn model(&self) -> &'static str {
        self.0.model.as_str()
    }

    /// The session id this side records (the client's, unless this is a
    /// server that does not trust its client as a parent).
    #[getter]
    fn session_id(&self) -> String {
        self.0.session_id.clone()
    }

    /// The URL path (`/` when empty).
    #[getter]
    fn url_path(&self) -> String {
        self.0.url_path.clone()
    }

    /// The host of the WebSocket URL, if known.
    #[getter]
    fn server_address(&self) -> Option<String> {
        self.0.server_address.clone()
    }

    /// The port of the WebSocket URL, if known.
    #[getter]
    fn server_port(&self) -> Option<u16> {
        self.0.server_port
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
    /// `receive_spans_skipped`: the connection's `ReceiveSpanBudget.skipped`,
    /// recorded when not 0.
    #[pyo3(signature = (code = None, reason = "", *, receive_spans_skipped = 0))]
    fn close(
        &self,
        py: Python<'_>,
        code: Option<u16>,
        reason: &str,
        receive_spans_skipped: u64,
    ) -> PyResult<PyCloseDecision> {
        guard(py, || {
            let decision = self
                .0
                .close(code, reason)
                .with_receive_spans_skipped(receive_spans_skipped);
            PyCloseDecision::from_core(py, &decision)
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySpanDecision>()?;
    m.add_class::<PyAvailable>()?;
    m.add_class::<PyEvent>()?;
    m.add_class::<PyApplied>()?;
    m.add_class::<PyCloseDecision>()?;
    m.add_class::<PyConnection>()?;
    Ok(())
}
