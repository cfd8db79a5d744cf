//! What a WebSocket URL or upgrade request says about a connection's spans
//! (`server.address`, `server.port`, `url.path`), read by the core's
//! `tracewire::target`: Python never splits a URL for a span itself.

use crate::{guard, raise};
use pyo3::prelude::*;
use tracewire::target::{Scheme, Target};

/// `None` or `"ws"` / `"wss"`, by the core's names.
fn scheme_arg(py: Python<'_>, scheme: Option<&str>) -> PyResult<Option<Scheme>> {
    scheme
        .map(|s| {
            s.parse()
                .map_err(|e| raise(py, tracewire::ErrorCode::InvalidArgument, e))
        })
        .transpose()
}

/// The server address, port and path one connection's spans record.
#[pyclass(frozen, eq, hash, module = "tracewire._native", name = "Target")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyTarget(pub(crate) Target);

#[pymethods]
impl PyTarget {
    /// Reads a client's `ws://` or `wss://` URL; raises `InvalidUrlError`
    /// when it cannot be read.
    #[staticmethod]
    fn from_url(py: Python<'_>, url: &str) -> PyResult<Self> {
        guard(py, || {
            Target::from_url(url)
                .map(PyTarget)
                .map_err(|e| raise(py, e.code(), e))
        })
    }

    /// Reads a server's view of the upgrade request: `scheme` (`"ws"` or
    /// `"wss"`, `None` when the server cannot tell whether it sits behind
    /// TLS), the `Host` header (`None` when absent) and the request target of
    /// the request line. Raises `InvalidUrlError` when one cannot be read.
    #[staticmethod]
    #[pyo3(signature = (scheme, host, request_target))]
    fn from_request(
        py: Python<'_>,
        scheme: Option<&str>,
        host: Option<&str>,
        request_target: &str,
    ) -> PyResult<Self> {
        guard(py, || {
            Target::from_request(scheme_arg(py, scheme)?, host, request_target)
                .map(PyTarget)
                .map_err(|e| raise(py, e.code(), e))
        })
    }

    /// `from_request` for a server that traces whatever its HTTP stack
    /// accepted: never raises for the request (an unreadable `Host` is left
    /// out, an unreadable request target is read as `/`).
    #[staticmethod]
    #[pyo3(signature = (scheme, host, request_target))]
    fn from_request_lenient(
        py: Python<'_>,
        scheme: Option<&str>,
        host: Option<&str>,
        request_target: &str,
    ) -> PyResult<Self> {
        guard(py, || {
            Ok(PyTarget(Target::from_request_lenient(
                scheme_arg(py, scheme)?,
                host,
                request_target,
            )))
        })
    }

    /// `server.address`: the host, lowercase, IPv6 without brackets; `None`
    /// when unknown.
    #[getter]
    fn address(&self) -> Option<String> {
        self.0.address.clone()
    }

    /// `server.port`: explicit, else the scheme's default; `None` when
    /// unknown.
    #[getter]
    fn port(&self) -> Option<u16> {
        self.0.port
    }

    /// `url.path` and the span-name target: as on the wire (percent-encoded),
    /// without query or fragment.
    #[getter]
    fn path(&self) -> String {
        self.0.path.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "Target(address={}, port={}, path={:?})",
            self.0
                .address
                .as_deref()
                .map_or_else(|| "None".to_owned(), |a| format!("{a:?}")),
            self.0
                .port
                .map_or_else(|| "None".to_owned(), |p| p.to_string()),
            self.0.path
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTarget>()?;
    Ok(())
}
