//! The trust policy (core `model::Trust`, PROTOCOL.md section 12) as Python
//! values: `Trust` (what a received context may do, set on `tracewire.ws`
//! servers and clients) and `ReceiveSpanBudget` (one connection's count).
//! Python only passes these on; every rule is the core's.

use crate::context::PyTraceContext;
use crate::{guard, raise};
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use tracewire::ErrorCode;
use tracewire::model::{BaggagePolicy, ReceiveSpanBudget, RemoteContext, Trust};

/// How far a connection trusts its peer. `remote_context`: `"parent"`,
/// `"link"` or `"ignore"`; `baggage`: `"keep_all"`, `"drop"` or a sequence
/// of the keys to keep; `max_receive_spans`: how many received messages get
/// a process span (`None`: all).
#[pyclass(frozen, eq, module = "tracewire._native", name = "Trust")]
#[derive(Clone, PartialEq)]
pub(crate) struct PyTrust(pub(crate) Trust);

fn baggage_policy(py: Python<'_>, baggage: &Bound<'_, PyAny>) -> PyResult<BaggagePolicy> {
    if let Ok(name) = baggage.cast::<PyString>() {
        return match name.to_cow()?.as_ref() {
            "keep_all" => Ok(BaggagePolicy::KeepAll),
            "drop" => Ok(BaggagePolicy::Drop),
            other => Err(raise(
                py,
                ErrorCode::InvalidArgument,
                format!(
                    "the baggage policy must be \"keep_all\", \"drop\" or a sequence of keys, not {other:?}"
                ),
            )),
        };
    }
    let keys: Vec<String> = baggage.extract().map_err(|_| {
        raise(
            py,
            ErrorCode::InvalidArgument,
            "the baggage policy must be \"keep_all\", \"drop\" or a sequence of keys",
        )
    })?;
    Ok(BaggagePolicy::AllowKeys(keys))
}

#[pymethods]
impl PyTrust {
    #[new]
    #[pyo3(signature = (remote_context = "parent", baggage = None, max_receive_spans = None))]
    fn new(
        py: Python<'_>,
        remote_context: &str,
        baggage: Option<&Bound<'_, PyAny>>,
        max_receive_spans: Option<u32>,
    ) -> PyResult<Self> {
        guard(py, || {
            let remote_context: RemoteContext = remote_context
                .parse()
                .map_err(|e| raise(py, ErrorCode::InvalidArgument, e))?;
            let baggage = match baggage {
                Some(b) => baggage_policy(py, b)?,
                None => BaggagePolicy::KeepAll,
            };
            Ok(PyTrust(Trust {
                remote_context,
                baggage,
                max_receive_spans,
            }))
        })
    }

    /// Trust the peer: its context is the parent, its baggage kept, every
    /// message spanned (the default).
    #[staticmethod]
    fn trusted() -> Self {
        PyTrust(Trust::trusted())
    }

    /// For a peer on the internet: link to its context from a new trace,
    /// drop its baggage, use a session id of this side's own, span at most
    /// 1024 received messages.
    #[staticmethod]
    fn untrusted() -> Self {
        PyTrust(Trust::untrusted())
    }

    /// `"parent"`, `"link"` or `"ignore"`.
    #[getter]
    fn remote_context(&self) -> &'static str {
        self.0.remote_context.as_str()
    }

    /// `"keep_all"`, `"drop"` or the tuple of keys kept.
    #[getter]
    fn baggage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match &self.0.baggage {
            BaggagePolicy::KeepAll => PyString::new(py, "keep_all").into_any(),
            BaggagePolicy::Drop => PyString::new(py, "drop").into_any(),
            BaggagePolicy::AllowKeys(keys) => PyTuple::new(py, keys)?.into_any(),
        })
    }

    /// How many received messages get a process span (`None`: all).
    #[getter]
    fn max_receive_spans(&self) -> Option<u32> {
        self.0.max_receive_spans
    }

    /// `context` (received with the handshake or a message) as this policy
    /// admits it: baggage filtered, span context dropped under `"ignore"`.
    fn admit(&self, context: &PyTraceContext) -> PyTraceContext {
        PyTraceContext(self.0.admit(context.0.clone()))
    }

    /// A new count of one connection's process spans against this policy.
    fn receive_span_budget(&self) -> PyReceiveSpanBudget {
        PyReceiveSpanBudget(self.0.receive_span_budget())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Trust(remote_context={:?}, baggage={}, max_receive_spans={})",
            self.0.remote_context.as_str(),
            self.baggage(py)?.repr()?,
            self.0
                .max_receive_spans
                .map_or_else(|| "None".to_owned(), |n| n.to_string())
        ))
    }
}

/// Counts one connection's process spans against `Trust.max_receive_spans`.
#[pyclass(frozen, module = "tracewire._native", name = "ReceiveSpanBudget")]
pub(crate) struct PyReceiveSpanBudget(ReceiveSpanBudget);

#[pymethods]
impl PyReceiveSpanBudget {
    /// `limit`: the number of spans (`None`: no limit).
    #[new]
    #[pyo3(signature = (limit = None))]
    fn new(limit: Option<u32>) -> Self {
        PyReceiveSpanBudget(ReceiveSpanBudget::new(limit))
    }

    /// Whether the message just received gets a process span; when not,
    /// it is counted in `skipped`.
    fn admit(&self) -> bool {
        self.0.admit()
    }

    /// How many received messages got no span.
    #[getter]
    fn skipped(&self) -> u64 {
        self.0.skipped()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTrust>()?;
    m.add_class::<PyReceiveSpanBudget>()?;
    Ok(())
}
