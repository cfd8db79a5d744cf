//! Stream metrics: the core's lock-free `StreamMetrics`, its snapshots and
//! the attribute and histogram names it decides.

use crate::guard;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;
use tracewire::metrics::Histogram;
use tracewire::{StreamKind, StreamMetrics, StreamSnapshot, Value};
use tracewire_bridge::Coded;

fn parse_kind(py: Python<'_>, kind: &str) -> PyResult<StreamKind> {
    StreamKind::from_name(kind).map_err(|e| crate::errors::bridge_error(py, e))
}

fn kind_name(kind: StreamKind) -> &'static str {
    kind.name()
}

/// What a stream recorded up to one moment (durations in seconds, `None`
/// when they do not exist yet).
#[pyclass(frozen, module = "tracewire._native", name = "StreamSnapshot")]
pub(crate) struct PyStreamSnapshot {
    inner: StreamSnapshot,
    kind: StreamKind,
}

#[pymethods]
impl PyStreamSnapshot {
    /// Chunks recorded.
    #[getter]
    fn chunk_count(&self) -> u64 {
        self.inner.chunk_count
    }

    /// Sum of the chunk sizes in bytes.
    #[getter]
    fn bytes(&self) -> u64 {
        self.inner.bytes
    }

    /// Earliest chunk offset from the start, in seconds.
    #[getter]
    fn time_to_first_chunk(&self) -> Option<f64> {
        self.inner.time_to_first_chunk
    }

    /// Latest chunk offset from the start, in seconds.
    #[getter]
    fn time_to_last_chunk(&self) -> Option<f64> {
        self.inner.time_to_last_chunk
    }

    /// Mean inter-chunk interval, in seconds.
    #[getter]
    fn interval_mean(&self) -> Option<f64> {
        self.inner.interval_mean
    }

    /// Median inter-chunk interval (nearest rank), in seconds.
    #[getter]
    fn interval_p50(&self) -> Option<f64> {
        self.inner.interval_p50
    }

    /// 95th-percentile inter-chunk interval (nearest rank), in seconds.
    #[getter]
    fn interval_p95(&self) -> Option<f64> {
        self.inner.interval_p95
    }

    /// Largest inter-chunk interval, in seconds.
    #[getter]
    fn interval_max(&self) -> Option<f64> {
        self.inner.interval_max
    }

    /// The span attributes for this snapshot, named for the stream's kind,
    /// in the core's order (values that do not exist are left out).
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let d = PyDict::new(py);
            for kv in self.inner.attributes(self.kind) {
                match kv.value {
                    Value::Int(i) => d.set_item(kv.key, i)?,
                    Value::Float(f) => d.set_item(kv.key, f)?,
                    Value::Bool(b) => d.set_item(kv.key, b)?,
                    Value::String(s) => d.set_item(kv.key, s.as_ref())?,
                }
            }
            Ok(d)
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "StreamSnapshot(chunk_count={}, bytes={}, time_to_first_chunk={:?})",
            self.inner.chunk_count, self.inner.bytes, self.inner.time_to_first_chunk
        )
    }
}

/// Lock-free metrics of one stream of chunks: record from any thread, take
/// snapshots at any time.
#[pyclass(frozen, module = "tracewire._native", name = "StreamMetrics")]
pub(crate) struct PyStreamMetrics(StreamMetrics);

#[pymethods]
impl PyStreamMetrics {
    /// A new stream whose clock starts now. `kind`: `"generic"` or
    /// `"model_output"` (a model's output: GenAI metric names).
    #[new]
    #[pyo3(signature = (kind = "generic"))]
    fn new(py: Python<'_>, kind: &str) -> PyResult<Self> {
        guard(py, || {
            Ok(PyStreamMetrics(StreamMetrics::new(parse_kind(py, kind)?)))
        })
    }

    /// `"generic"` or `"model_output"`.
    #[getter]
    fn kind(&self) -> &'static str {
        kind_name(self.0.kind())
    }

    /// Records one chunk of `size` bytes, now (monotonic clock).
    fn record_chunk(&self, py: Python<'_>, size: u64) -> PyResult<()> {
        guard(py, || {
            self.0.record_chunk(size);
            Ok(())
        })
    }

    /// Records one chunk of `size` bytes at `elapsed_ns` nanoseconds after the
    /// start (for replays and deterministic tests).
    fn record_chunk_at(&self, py: Python<'_>, elapsed_ns: u64, size: u64) -> PyResult<()> {
        guard(py, || {
            self.0
                .record_chunk_at(Duration::from_nanos(elapsed_ns), size);
            Ok(())
        })
    }

    /// What was recorded so far.
    fn snapshot(&self, py: Python<'_>) -> PyResult<PyStreamSnapshot> {
        guard(py, || {
            let inner = py.detach(|| self.0.snapshot());
            Ok(PyStreamSnapshot {
                inner,
                kind: self.0.kind(),
            })
        })
    }

    /// The snapshot and every inter-chunk interval in seconds, in recording
    /// order (the values for the chunk-interval histogram).
    fn snapshot_and_intervals(&self, py: Python<'_>) -> PyResult<(PyStreamSnapshot, Vec<f64>)> {
        guard(py, || {
            let (inner, intervals) = py.detach(|| self.0.snapshot_and_intervals());
            Ok((
                PyStreamSnapshot {
                    inner,
                    kind: self.0.kind(),
                },
                intervals,
            ))
        })
    }
}

fn histogram(h: &Histogram) -> (&'static str, &'static str, &'static str, Vec<f64>) {
    (h.name, h.unit, h.description, h.boundaries.to_vec())
}

/// The histograms a stream of `kind` is recorded into:
/// `{slot: (name, unit, description, bucket boundaries)}` for the slots
/// `time_to_first_chunk`, `time_to_last_chunk`, `chunk_interval`,
/// `chunk_count`, `bytes`.
#[pyfunction]
#[pyo3(signature = (kind = "generic"))]
fn metric_names<'py>(py: Python<'py>, kind: &str) -> PyResult<Bound<'py, PyDict>> {
    guard(py, || {
        let names = parse_kind(py, kind)?.metric_names();
        let d = PyDict::new(py);
        d.set_item("time_to_first_chunk", histogram(&names.time_to_first_chunk))?;
        d.set_item("time_to_last_chunk", histogram(&names.time_to_last_chunk))?;
        d.set_item("chunk_interval", histogram(&names.chunk_interval))?;
        d.set_item("chunk_count", histogram(&names.chunk_count))?;
        d.set_item("bytes", histogram(&names.bytes))?;
        Ok(d)
    })
}

/// The keys of a stream span's attributes that its histogram values carry
/// too, for `kind` (core's `StreamKind::metric_attribute_keys`).
#[pyfunction]
#[pyo3(signature = (kind = "generic"))]
fn metric_attribute_keys(py: Python<'_>, kind: &str) -> PyResult<Vec<&'static str>> {
    guard(py, || {
        Ok(parse_kind(py, kind)?.metric_attribute_keys().to_vec())
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStreamSnapshot>()?;
    m.add_class::<PyStreamMetrics>()?;
    m.add_function(wrap_pyfunction!(metric_names, m)?)?;
    m.add_function(wrap_pyfunction!(metric_attribute_keys, m)?)?;
    Ok(())
}
