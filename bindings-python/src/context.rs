//! The propagated values: `TraceParent`, `TraceState`, `Baggage` and the
//! `TraceContext` that carries them across a hop.

use crate::headers::{PairSink, header_lines};
use crate::{guard, otel, py_error, raise};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use tracewire::{
    Baggage, BaggageMember, ErrorCode, Received, SpanId, TraceContext, TraceFlags, TraceId,
    TraceParent, TraceState,
};

/// A parsed W3C `traceparent`: trace id, parent span id and flags.
#[pyclass(frozen, eq, hash, module = "tracewire._native", name = "TraceParent")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyTraceParent(pub(crate) TraceParent);

#[pymethods]
impl PyTraceParent {
    #[new]
    #[pyo3(signature = (trace_id, span_id, flags = 1))]
    fn new(py: Python<'_>, trace_id: &str, span_id: &str, flags: u8) -> PyResult<Self> {
        guard(py, || {
            let trace_id = TraceId::from_hex(trace_id).map_err(|e| raise(py, e.code(), e))?;
            let span_id = SpanId::from_hex(span_id).map_err(|e| raise(py, e.code(), e))?;
            Ok(PyTraceParent(TraceParent {
                trace_id,
                span_id,
                flags: TraceFlags(flags),
            }))
        })
    }

    /// Parses a `traceparent` header value (W3C Trace Context Level 2).
    #[staticmethod]
    fn parse(py: Python<'_>, value: &str) -> PyResult<Self> {
        guard(py, || {
            TraceParent::parse(value)
                .map(PyTraceParent)
                .map_err(|e| raise(py, e.code(), e))
        })
    }

    /// The trace id, 32 lowercase hex characters.
    #[getter]
    fn trace_id(&self) -> String {
        self.0.trace_id.to_hex()
    }

    /// The parent span id, 16 lowercase hex characters.
    #[getter]
    fn span_id(&self) -> String {
        self.0.span_id.to_hex()
    }

    /// The trace-flags byte (every bit kept).
    #[getter]
    fn flags(&self) -> u8 {
        self.0.flags.0
    }

    /// Whether the sampled flag is set.
    #[getter]
    fn sampled(&self) -> bool {
        self.0.flags.is_sampled()
    }

    /// Whether the Level 2 random-trace-id flag is set.
    #[getter]
    fn random(&self) -> bool {
        self.0.flags.is_random()
    }

    /// The version-00 header value.
    #[allow(clippy::wrong_self_convention)] // pyo3 methods borrow self
    fn to_header(&self) -> String {
        self.0.to_string()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("TraceParent.parse({:?})", self.0.to_string())
    }
}

/// A W3C `tracestate`: vendor entries, most recently updated first.
#[pyclass(eq, module = "tracewire._native", name = "TraceState")]
#[derive(Clone, PartialEq, Default)]
pub(crate) struct PyTraceState(pub(crate) TraceState);

#[pymethods]
impl PyTraceState {
    #[new]
    #[pyo3(signature = (entries = None))]
    fn new(py: Python<'_>, entries: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        guard(py, || {
            let mut ts = TraceState::new();
            if let Some(entries) = entries {
                let mut pairs: Vec<(String, String)> = Vec::new();
                for item in entries.try_iter()? {
                    pairs.push(item?.extract()?);
                }
                // Insertion puts a key in front, so insert the last one first.
                for (k, v) in pairs.iter().rev() {
                    ts.insert(k, v).map_err(|e| raise(py, e.code(), e))?;
                }
            }
            Ok(PyTraceState(ts))
        })
    }

    /// Parses a header value, or several header lines (a list of strings).
    #[staticmethod]
    fn parse(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let lines = header_lines(value)?;
            TraceState::parse_lines(lines.iter().map(String::as_str))
                .map(PyTraceState)
                .map_err(|e| raise(py, e.code(), e))
        })
    }

    /// The value for `key`, or `default`.
    #[pyo3(signature = (key, default = None))]
    fn get(&self, key: &str, default: Option<String>) -> Option<String> {
        self.0.get(key).map(str::to_owned).or(default)
    }

    /// Sets `key` to `value` and moves it to the front (a full list drops
    /// its rightmost entry). Invalid keys or values raise and change nothing.
    fn insert(&mut self, py: Python<'_>, key: &str, value: &str) -> PyResult<()> {
        guard(py, || {
            self.0
                .insert(key, value)
                .map_err(|e| raise(py, e.code(), e))
        })
    }

    /// Removes `key`, returning its value (or `None`).
    fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// The entries in order, as `(key, value)` pairs.
    fn items(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The keys in order.
    fn keys(&self) -> Vec<String> {
        self.0.iter().map(|(k, _)| k.to_owned()).collect()
    }

    /// The header value (at most 512 characters; empty when there are no entries).
    fn to_header(&self) -> String {
        self.0.to_header()
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __contains__(&self, key: &str) -> bool {
        self.0.get(key).is_some()
    }

    fn __getitem__(&self, key: &str) -> PyResult<String> {
        self.0
            .get(key)
            .map(str::to_owned)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_owned()))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.keys())?
            .try_iter()
            .map(Bound::into_any)
    }

    fn __str__(&self) -> String {
        self.0.to_header()
    }

    fn __repr__(&self) -> String {
        format!("TraceState.parse({:?})", self.0.to_header())
    }
}

/// One baggage member: key, decoded value, and properties.
#[pyclass(frozen, eq, module = "tracewire._native", name = "BaggageMember")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyBaggageMember(pub(crate) BaggageMember);

#[pymethods]
impl PyBaggageMember {
    #[new]
    #[pyo3(signature = (key, value, properties = Vec::new()))]
    fn new(key: String, value: String, properties: Vec<(String, Option<String>)>) -> Self {
        PyBaggageMember(BaggageMember {
            key,
            value,
            properties,
        })
    }

    /// The key (an RFC 7230 token).
    #[getter]
    fn key(&self) -> String {
        self.0.key.clone()
    }

    /// The value, percent-decoded.
    #[getter]
    fn value(&self) -> String {
        self.0.value.clone()
    }

    /// The properties in order: `(key, value)`, value `None` for a bare key.
    #[getter]
    fn properties(&self) -> Vec<(String, Option<String>)> {
        self.0.properties.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "BaggageMember({:?}, {:?}, {:?})",
            self.0.key, self.0.value, self.0.properties
        )
    }
}

/// W3C Baggage: application key/value pairs, in order, with unique keys.
#[pyclass(eq, module = "tracewire._native", name = "Baggage")]
#[derive(Clone, PartialEq, Default)]
pub(crate) struct PyBaggage(pub(crate) Baggage);

#[pymethods]
impl PyBaggage {
    #[new]
    #[pyo3(signature = (members = None))]
    fn new(py: Python<'_>, members: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        guard(py, || {
            let mut bag = Baggage::new();
            let Some(members) = members else {
                return Ok(PyBaggage(bag));
            };
            // A mapping gives key -> value; anything else is an iterable of
            // members or (key, value) pairs.
            let items = if members.hasattr("items")? {
                members.call_method0("items")?
            } else {
                members.clone()
            };
            for item in items.try_iter()? {
                let item = item?;
                let member = match item.cast::<PyBaggageMember>() {
                    Ok(m) => m.get().0.clone(),
                    Err(_) => {
                        let (key, value): (String, String) = item.extract()?;
                        BaggageMember::new(key, value)
                    }
                };
                bag.insert_member(member)
                    .map_err(|e| raise(py, e.code(), e))?;
            }
            Ok(PyBaggage(bag))
        })
    }

    /// Parses a header value, or several header lines (a list of strings).
    #[staticmethod]
    fn parse(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let lines = header_lines(value)?;
            Baggage::parse_lines(lines.iter().map(String::as_str))
                .map(PyBaggage)
                .map_err(|e| raise(py, e.code(), e))
        })
    }

    /// The value for `key`, or `default`.
    #[pyo3(signature = (key, default = None))]
    fn get(&self, key: &str, default: Option<String>) -> Option<String> {
        self.0.get(key).map(str::to_owned).or(default)
    }

    /// Sets `key` to `value` (any string) with optional properties, replacing
    /// an existing member in place or appending.
    #[pyo3(signature = (key, value, properties = Vec::new()))]
    fn insert(
        &mut self,
        py: Python<'_>,
        key: &str,
        value: &str,
        properties: Vec<(String, Option<String>)>,
    ) -> PyResult<()> {
        guard(py, || {
            let mut m = BaggageMember::new(key, value);
            m.properties = properties;
            self.0.insert_member(m).map_err(|e| raise(py, e.code(), e))
        })
    }

    /// Removes `key`, returning its member (or `None`).
    fn remove(&mut self, key: &str) -> Option<PyBaggageMember> {
        self.0.remove(key).map(PyBaggageMember)
    }

    /// The members in order.
    fn members(&self) -> Vec<PyBaggageMember> {
        self.0.iter().cloned().map(PyBaggageMember).collect()
    }

    /// The `(key, value)` pairs in order.
    fn items(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|m| (m.key.clone(), m.value.clone()))
            .collect()
    }

    /// The keys in order.
    fn keys(&self) -> Vec<String> {
        self.0.iter().map(|m| m.key.clone()).collect()
    }

    /// The header value, percent-encoded, within the W3C limits.
    fn to_header(&self) -> String {
        self.0.to_header()
    }

    fn __len__(&self) -> usize {
        self.0.len()
    }

    fn __contains__(&self, key: &str) -> bool {
        self.0.get(key).is_some()
    }

    fn __getitem__(&self, key: &str) -> PyResult<String> {
        self.0
            .get(key)
            .map(str::to_owned)
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.to_owned()))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        PyList::new(py, self.keys())?
            .try_iter()
            .map(Bound::into_any)
    }

    fn __str__(&self) -> String {
        self.0.to_header()
    }

    fn __repr__(&self) -> String {
        format!("Baggage.parse({:?})", self.0.to_header())
    }
}

/// Everything propagated across a hop: span context, tracestate, baggage,
/// and whether it came from another process.
#[pyclass(frozen, eq, module = "tracewire._native", name = "TraceContext")]
#[derive(Clone, PartialEq, Default)]
pub(crate) struct PyTraceContext(pub(crate) TraceContext);

fn arg_traceparent(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<TraceParent> {
    if let Ok(tp) = v.cast::<PyTraceParent>() {
        return Ok(tp.get().0);
    }
    let s: std::borrow::Cow<'_, str> = v.cast::<PyString>()?.to_cow()?;
    TraceParent::parse(&s).map_err(|e| raise(py, e.code(), e))
}

fn arg_tracestate(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<TraceState> {
    if let Ok(ts) = v.cast::<PyTraceState>() {
        return Ok(ts.borrow().0.clone());
    }
    let lines = header_lines(v)?;
    TraceState::parse_lines(lines.iter().map(String::as_str)).map_err(|e| raise(py, e.code(), e))
}

fn arg_baggage(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<Baggage> {
    if let Ok(b) = v.cast::<PyBaggage>() {
        return Ok(b.borrow().0.clone());
    }
    let lines = header_lines(v)?;
    Baggage::parse_lines(lines.iter().map(String::as_str)).map_err(|e| raise(py, e.code(), e))
}

#[pymethods]
impl PyTraceContext {
    #[new]
    #[pyo3(signature = (traceparent = None, tracestate = None, baggage = None, *, remote = false))]
    fn new(
        py: Python<'_>,
        traceparent: Option<&Bound<'_, PyAny>>,
        tracestate: Option<&Bound<'_, PyAny>>,
        baggage: Option<&Bound<'_, PyAny>>,
        remote: bool,
    ) -> PyResult<Self> {
        guard(py, || {
            let traceparent = traceparent.map(|v| arg_traceparent(py, v)).transpose()?;
            let tracestate = match (tracestate, traceparent) {
                (Some(v), Some(_)) => arg_tracestate(py, v)?,
                (Some(_), None) => {
                    return Err(py_error(
                        py,
                        ErrorCode::InvalidArgument,
                        "a tracestate needs a traceparent",
                    ));
                }
                (None, _) => TraceState::new(),
            };
            let baggage = baggage
                .map(|v| arg_baggage(py, v))
                .transpose()?
                .unwrap_or_default();
            Ok(PyTraceContext(TraceContext {
                traceparent,
                tracestate,
                baggage,
                remote,
            }))
        })
    }

    /// The span context, or `None` when there is none.
    #[getter]
    fn traceparent(&self) -> Option<PyTraceParent> {
        self.0.traceparent.map(PyTraceParent)
    }

    /// A copy of the tracestate (empty without a traceparent).
    #[getter]
    fn tracestate(&self) -> PyTraceState {
        PyTraceState(self.0.tracestate.clone())
    }

    /// A copy of the baggage.
    #[getter]
    fn baggage(&self) -> PyBaggage {
        PyBaggage(self.0.baggage.clone())
    }

    /// Whether the context was received from another process.
    #[getter]
    fn remote(&self) -> bool {
        self.0.remote
    }

    /// The trace id as 32 hex characters, or `None`.
    #[getter]
    fn trace_id(&self) -> Option<String> {
        self.0.trace_id().map(|t| t.to_hex())
    }

    /// The span id as 16 hex characters, or `None`.
    #[getter]
    fn span_id(&self) -> Option<String> {
        self.0.span_id().map(|s| s.to_hex())
    }

    /// The trace flags (0 without a span context).
    #[getter]
    fn flags(&self) -> u8 {
        self.0.flags().0
    }

    /// Whether there is nothing to propagate (no span context, no baggage).
    #[getter]
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn __bool__(&self) -> bool {
        !self.0.is_empty()
    }

    /// The header values to send: `{"traceparent": ..., "tracestate": ...,
    /// "baggage": ...}`, each present only when there is something to send.
    fn headers(&self, py: Python<'_>) -> PyResult<Vec<(&'static str, String)>> {
        guard(py, || {
            let mut out = PairSink::default();
            tracewire::handshake::inject(&self.0, &mut out);
            Ok(out.0)
        })
    }

    /// Serialises the context for a queue item or any store (a binary
    /// envelope with no payload).
    fn to_carrier<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        guard(py, || Ok(PyBytes::new(py, &self.0.to_carrier())))
    }

    /// Restores a context from `to_carrier()` bytes; it is marked remote.
    #[staticmethod]
    fn from_carrier(py: Python<'_>, carrier: &[u8]) -> PyResult<Self> {
        guard(py, || {
            TraceContext::from_carrier(carrier)
                .map(PyTraceContext)
                .map_err(|e| raise(py, e.code(), e))
        })
    }

    /// This context as an `opentelemetry.context.Context` built on `parent`
    /// (default: an empty context): a non-recording span with this span
    /// context, and the baggage merged into the parent's.
    #[pyo3(signature = (parent = None))]
    fn to_otel<'py>(
        &self,
        py: Python<'py>,
        parent: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, || otel::core_to_otel(py, &self.0, parent))
    }

    /// The span context and baggage of an `opentelemetry.context.Context`
    /// (default: the current one).
    #[staticmethod]
    #[pyo3(signature = (context = None))]
    fn from_otel(py: Python<'_>, context: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        guard(py, || otel::otel_to_core(py, context).map(PyTraceContext))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let h = self.headers(py)?;
        let fields: Vec<String> = h.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let remote = if self.0.remote { ", remote=True" } else { "" };
        Ok(format!("TraceContext({}{remote})", fields.join(", ")))
    }
}

/// A context argument: a `TraceContext`, an OpenTelemetry `Context`, or
/// `None` for the current OpenTelemetry context.
pub(crate) fn context_arg(py: Python<'_>, cx: Option<&Bound<'_, PyAny>>) -> PyResult<TraceContext> {
    if let Some(c) = cx
        && let Ok(tc) = c.cast::<PyTraceContext>()
    {
        return Ok(tc.get().0.clone());
    }
    otel::otel_to_core(py, cx)
}

/// A received span context and the members of its tracestate an
/// OpenTelemetry SDK's `TraceState` held: the core's rule
/// (`tracewire::Received::pass_on`) for what to send from the spans the SDK
/// starts under it.
#[pyclass(frozen, module = "tracewire._native", name = "Received")]
pub(crate) struct PyReceived(Received);

#[pymethods]
impl PyReceived {
    #[new]
    fn new(
        traceparent: PyRef<'_, PyTraceParent>,
        tracestate: PyRef<'_, PyTraceState>,
        accepted: PyRef<'_, PyTraceState>,
    ) -> Self {
        PyReceived(Received {
            traceparent: traceparent.0,
            tracestate: tracestate.0.clone(),
            accepted: accepted.0.clone(),
        })
    }

    /// What to send for `sending`, a span context the SDK made, whose
    /// `TraceState` is `sdk`: in another trace both as they are; in this
    /// one the received random flag kept, and the whole received state
    /// while the SDK's equals `accepted`, else the SDK's members followed by
    /// the received ones it could not hold.
    fn pass_on(
        &self,
        sending: PyRef<'_, PyTraceParent>,
        sdk: PyRef<'_, PyTraceState>,
    ) -> (PyTraceParent, PyTraceState) {
        let (tp, ts) = self.0.pass_on(sending.0, &sdk.0);
        (PyTraceParent(tp), PyTraceState(ts))
    }

    fn __repr__(&self) -> String {
        format!(
            "Received({}, {:?}, accepted={:?})",
            self.0.traceparent,
            self.0.tracestate.to_header(),
            self.0.accepted.to_header()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTraceParent>()?;
    m.add_class::<PyTraceState>()?;
    m.add_class::<PyBaggageMember>()?;
    m.add_class::<PyBaggage>()?;
    m.add_class::<PyTraceContext>()?;
    m.add_class::<PyReceived>()?;
    Ok(())
}
