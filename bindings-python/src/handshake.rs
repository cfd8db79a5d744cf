//! The opening handshake: header carriers, envelope negotiation
//! (subprotocols), session id.
//!
//! Header collections are read into pairs once (`crate::headers`) and handed
//! to the core, which does all the interpreting.

use crate::context::PyTraceContext;
use crate::headers::{PairSink, read_headers, write_headers};
use crate::{guard, raise};
use pyo3::prelude::*;
use tracewire::ExtractIssue;
use tracewire::handshake::{
    self, AppProtocols, BAGGAGE, ClientHandshake, Envelopes, SESSION_HEADER, ServerHandshake,
    TRACEPARENT, TRACESTATE,
};

/// The application's subprotocols, checked by the core (`invalid_argument`
/// for a name that is not a token or starts with `tracewire.`).
fn apps_in(py: Python<'_>, apps: Option<Vec<String>>) -> PyResult<AppProtocols> {
    AppProtocols::new(apps.unwrap_or_default()).map_err(|e| raise(py, e.code(), e))
}

/// Writes `context` as `traceparent` / `tracestate` / `baggage` into `carrier`
/// (each only when there is something to write).
#[pyfunction]
fn inject(py: Python<'_>, context: &PyTraceContext, carrier: &Bound<'_, PyAny>) -> PyResult<()> {
    guard(py, || {
        let mut sink = PairSink::default();
        handshake::inject(&context.0, &mut sink);
        write_headers(carrier, &sink.0)
    })
}

/// The exception instance describing something extraction ignored.
fn issue_to_py(py: Python<'_>, issue: &ExtractIssue) -> Py<PyAny> {
    raise(py, issue.code(), issue).into_value(py).into_any()
}

/// Reads a context from request headers, then the query string. Never
/// fails: returns the context and a list of exceptions describing what was
/// ignored.
#[pyfunction]
#[pyo3(signature = (headers, query = None))]
fn extract(
    py: Python<'_>,
    headers: Option<&Bound<'_, PyAny>>,
    query: Option<&str>,
) -> PyResult<(PyTraceContext, Vec<Py<PyAny>>)> {
    guard(py, || {
        let pairs = read_headers(headers)?;
        let (ctx, issues) = handshake::extract(&pairs, query);
        let issues = issues.iter().map(|i| issue_to_py(py, i)).collect();
        Ok((PyTraceContext(ctx), issues))
    })
}

/// A new random session id (32 lowercase hex characters).
#[pyfunction]
fn new_session_id(py: Python<'_>) -> PyResult<String> {
    guard(py, || Ok(handshake::new_session_id()))
}

/// A set of envelope formats: `json` (text frames) and `binary`.
#[pyclass(
    frozen,
    eq,
    hash,
    from_py_object,
    module = "tracewire._native",
    name = "Envelopes"
)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct PyEnvelopes(pub(crate) Envelopes);

#[pymethods]
impl PyEnvelopes {
    #[new]
    #[pyo3(signature = (*, json = false, binary = false))]
    fn new(json: bool, binary: bool) -> Self {
        PyEnvelopes(Envelopes { json, binary })
    }

    /// Both formats.
    #[classattr]
    #[allow(non_snake_case)]
    fn ALL() -> Self {
        PyEnvelopes(Envelopes::ALL)
    }

    /// No envelopes: context travels only in the handshake.
    #[classattr]
    #[allow(non_snake_case)]
    fn NONE() -> Self {
        PyEnvelopes(Envelopes::NONE)
    }

    /// Whether the JSON envelope is in the set.
    #[getter]
    fn json(&self) -> bool {
        self.0.json
    }

    /// Whether the binary envelope is in the set.
    #[getter]
    fn binary(&self) -> bool {
        self.0.binary
    }

    fn __and__(&self, other: &PyEnvelopes) -> PyEnvelopes {
        PyEnvelopes(self.0.intersect(other.0))
    }

    fn __or__(&self, other: &PyEnvelopes) -> PyEnvelopes {
        PyEnvelopes(self.0.union(other.0))
    }

    fn __bool__(&self) -> bool {
        !self.0.is_empty()
    }

    pub(crate) fn __repr__(&self) -> String {
        let b = |v: bool| if v { "True" } else { "False" };
        format!(
            "Envelopes(json={}, binary={})",
            b(self.0.json),
            b(self.0.binary)
        )
    }
}

/// What a server learns from an upgrade request, and what it answers.
#[pyclass(frozen, module = "tracewire._native", name = "ServerHandshake")]
pub(crate) struct PyServerHandshake {
    inner: ServerHandshake,
    issues: Vec<Py<PyAny>>,
}

#[pymethods]
impl PyServerHandshake {
    /// Reads an upgrade request's headers and query string and selects the
    /// subprotocol; `supported` is what this server can use (default: both
    /// formats), `app_protocols` the application's own subprotocols.
    #[new]
    #[pyo3(signature = (headers, query = None, supported = None, app_protocols = None))]
    fn new(
        py: Python<'_>,
        headers: Option<&Bound<'_, PyAny>>,
        query: Option<&str>,
        supported: Option<PyEnvelopes>,
        app_protocols: Option<Vec<String>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let pairs = read_headers(headers)?;
            let supported = supported.map_or(Envelopes::ALL, |s| s.0);
            let apps = apps_in(py, app_protocols)?;
            let inner = ServerHandshake::from_request(&pairs, query, supported, &apps);
            let issues = inner.issues.iter().map(|i| issue_to_py(py, i)).collect();
            Ok(PyServerHandshake { inner, issues })
        })
    }

    /// The client's context (empty when none was sent or it was invalid).
    #[getter]
    fn context(&self) -> PyTraceContext {
        PyTraceContext(self.inner.context.clone())
    }

    /// What was ignored while extracting, as `tracewire.Error` instances.
    #[getter]
    fn issues(&self, py: Python<'_>) -> Vec<Py<PyAny>> {
        self.issues.iter().map(|i| i.clone_ref(py)).collect()
    }

    /// The envelopes both sides will use.
    #[getter]
    fn envelopes(&self) -> PyEnvelopes {
        PyEnvelopes(self.inner.envelopes)
    }

    /// The application's subprotocol agreed with the client, by its own name.
    #[getter]
    fn app_protocol(&self) -> Option<String> {
        self.inner.app_protocol.clone()
    }

    /// The subprotocol to answer (`Sec-WebSocket-Protocol`), or `None`.
    #[getter]
    fn subprotocol(&self) -> Option<String> {
        self.inner.subprotocol.clone()
    }

    /// The client's session id, or a new one.
    #[getter]
    fn session_id(&self) -> String {
        self.inner.session_id.clone()
    }

    /// Headers for the `101 Switching Protocols` response, as pairs.
    fn response_headers(&self, py: Python<'_>) -> PyResult<Vec<(&'static str, String)>> {
        guard(py, || Ok(self.inner.response_headers()))
    }
}

/// What a client sends in its upgrade request.
#[pyclass(frozen, module = "tracewire._native", name = "ClientHandshake")]
pub(crate) struct PyClientHandshake(ClientHandshake);

#[pymethods]
impl PyClientHandshake {
    /// A handshake offering `offered` (default: both formats) and the
    /// application's `app_protocols`, with `session_id` (default: a new one).
    #[new]
    #[pyo3(signature = (offered = None, session_id = None, app_protocols = None))]
    fn new(
        py: Python<'_>,
        offered: Option<PyEnvelopes>,
        session_id: Option<String>,
        app_protocols: Option<Vec<String>>,
    ) -> PyResult<Self> {
        guard(py, || {
            let mut hs = ClientHandshake::new(offered.map_or(Envelopes::ALL, |o| o.0))
                .with_apps(apps_in(py, app_protocols)?);
            if let Some(id) = session_id {
                hs.session_id = id;
            }
            Ok(PyClientHandshake(hs))
        })
    }

    /// The envelopes offered.
    #[getter]
    fn offered(&self) -> PyEnvelopes {
        PyEnvelopes(self.0.offered)
    }

    /// The session id sent to the server.
    #[getter]
    fn session_id(&self) -> String {
        self.0.session_id.clone()
    }

    /// The request headers carrying `context` and the session id, as
    /// `(name, value)` pairs (the offer goes in :meth:`subprotocols`).
    fn request_headers(
        &self,
        py: Python<'_>,
        context: &PyTraceContext,
    ) -> PyResult<Vec<(&'static str, String)>> {
        guard(py, || {
            let mut sink = PairSink::default();
            self.0.request_headers(&context.0, &mut sink);
            Ok(sink.0)
        })
    }

    /// The subprotocols to offer, most preferred first.
    fn subprotocols(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        guard(py, || Ok(self.0.subprotocols()))
    }

    /// What the server's selected subprotocol (`None`: none) means: the
    /// envelopes to use and the application's subprotocol.
    #[pyo3(signature = (selected))]
    fn negotiated(
        &self,
        py: Python<'_>,
        selected: Option<&str>,
    ) -> PyResult<(PyEnvelopes, Option<String>)> {
        guard(py, || {
            let n = self.0.negotiated(selected);
            Ok((PyEnvelopes(n.envelopes), n.app_protocol))
        })
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(inject, m)?)?;
    m.add_function(wrap_pyfunction!(extract, m)?)?;
    m.add_function(wrap_pyfunction!(new_session_id, m)?)?;
    m.add_class::<PyEnvelopes>()?;
    m.add_class::<PyServerHandshake>()?;
    m.add_class::<PyClientHandshake>()?;
    m.add("PROPAGATION_FIELDS", (TRACEPARENT, TRACESTATE, BAGGAGE))?;
    m.add("SESSION_HEADER", SESSION_HEADER)?;
    Ok(())
}
