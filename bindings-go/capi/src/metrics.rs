//! Stream metrics: recording, snapshots and histogram names.

// Intra-doc links name functions of other modules, as the header does.
#[cfg(doc)]
#[allow(unused_imports)]
use crate::*;

use std::ptr;

use tracewire::{StreamKind, StreamMetrics};

use crate::abi::*;
use crate::convert;
use tracewire_bridge::Coded;

// ---------------------------------------------------------------------------
// Stream metrics

/// Stream metrics: lock-free recording of chunks; safe to share between threads.
pub struct TwStreamMetrics(StreamMetrics);

/// Creates stream metrics whose clock starts now; `kind` is `TW_STREAM_*`.
/// Errors: `invalid_argument` for an unknown kind or a NULL `out`. Free
/// `*out` with [`tw_stream_metrics_free`]. Thread safety: any thread.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_stream_metrics_new(
    kind: u32,
    out: *mut *mut TwStreamMetrics,
) -> *mut TwError {
    if !out.is_null() {
        // SAFETY: writable per the contract.
        unsafe { out.write(ptr::null_mut()) };
    }
    guard(|| {
        let kind = StreamKind::from_code(kind)?;
        // SAFETY: caller guarantee.
        unsafe { put_handle(out, TwStreamMetrics(StreamMetrics::new(kind))) }
    })
}

/// Frees `*m` and sets it to NULL, so a second call is a no-op. NULL or `*m`
/// NULL: no-op. Not concurrently with other uses of the handle.
/// Thread safety: any thread, once no other call uses the handle.
///
/// # Safety
/// `m` NULL or pointing to NULL or a handle from [`tw_stream_metrics_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_stream_metrics_free(m: *mut *mut TwStreamMetrics) {
    // SAFETY: per the contract.
    unsafe { free_handle(m) }
}

/// Records one chunk of `bytes` bytes: now when `elapsed_ns` < 0, else at
/// `elapsed_ns` nanoseconds after the stream started. Lock-free.
/// Errors: `invalid_argument` for a NULL handle. Thread safety: any thread,
/// concurrently.
///
/// # Safety
/// `m` a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_stream_metrics_record(
    m: *const TwStreamMetrics,
    elapsed_ns: i64,
    bytes: u64,
) -> *mut TwError {
    guard(|| {
        // SAFETY: caller guarantee.
        let m = unsafe { handle(m, "the stream metrics handle is NULL") }?;
        match u64::try_from(elapsed_ns) {
            Ok(ns) => {
                m.0.record_chunk_at(std::time::Duration::from_nanos(ns), bytes)
            }
            Err(_) => m.0.record_chunk(bytes),
        }
        Ok(())
    })
}

/// An optional number: `value` is meaningful only when `has` is true.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct TwOptF64 {
    /// Whether there is a value.
    pub has: bool,
    /// The value.
    pub value: f64,
}

impl From<Option<f64>> for TwOptF64 {
    fn from(v: Option<f64>) -> Self {
        TwOptF64 {
            has: v.is_some(),
            value: v.unwrap_or(0.0),
        }
    }
}

/// What a stream recorded up to one moment (durations in seconds; see the
/// core's `metrics` module for the definitions), the span attributes for it
/// (format of [`TwSpanDecision::attributes`], names decided by the core) and,
/// when asked for, every inter-chunk interval in recording order (`intervals`:
/// little-endian IEEE doubles, 8 bytes each). Free with [`tw_stream_snapshot_free`].
#[repr(C)]
#[derive(Debug, Default)]
pub struct TwStreamSnapshot {
    /// Chunks recorded.
    pub chunk_count: u64,
    /// Sum of the chunk sizes, in bytes.
    pub bytes: u64,
    /// Earliest chunk offset from the start.
    pub time_to_first_chunk: TwOptF64,
    /// Latest chunk offset from the start.
    pub time_to_last_chunk: TwOptF64,
    /// Mean inter-chunk interval.
    pub interval_mean: TwOptF64,
    /// Median inter-chunk interval (nearest rank).
    pub interval_p50: TwOptF64,
    /// 95th percentile inter-chunk interval (nearest rank).
    pub interval_p95: TwOptF64,
    /// Largest inter-chunk interval.
    pub interval_max: TwOptF64,
    /// The span attributes for this snapshot.
    pub attributes: TwBytes,
    /// The intervals (only when requested).
    pub intervals: TwBytes,
}

/// Frees the buffers of `*s` and zeroes them (idempotent). NULL is a no-op.
/// Thread safety: any thread; not concurrently with another use of the same struct.
///
/// # Safety
/// `s` NULL or pointing to a `TwStreamSnapshot` written by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_stream_snapshot_free(s: *mut TwStreamSnapshot) {
    // SAFETY: per the contract.
    if let Some(s) = unsafe { s.as_mut() } {
        s.attributes.release();
        s.intervals.release();
    }
}

/// A consistent view of what was recorded so far; with `with_intervals`,
/// also every inter-chunk interval (the values of the chunk-interval histogram).
/// Errors: `invalid_argument` for NULL pointers. Free `*out` with
/// [`tw_stream_snapshot_free`]. Thread safety: any thread, concurrently with
/// recording.
///
/// # Safety
/// `m` a live handle; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_stream_metrics_snapshot(
    m: *const TwStreamMetrics,
    with_intervals: bool,
    out: *mut TwStreamSnapshot,
) -> *mut TwError {
    // SAFETY: NULL or writable.
    unsafe { zero(out) };
    guard(|| {
        // SAFETY: caller guarantee.
        let m = unsafe { handle(m, "the stream metrics handle is NULL") }?;
        let (snap, intervals) = if with_intervals {
            m.0.snapshot_and_intervals()
        } else {
            (m.0.snapshot(), Vec::new())
        };
        let s = TwStreamSnapshot {
            chunk_count: snap.chunk_count,
            bytes: snap.bytes,
            time_to_first_chunk: snap.time_to_first_chunk.into(),
            time_to_last_chunk: snap.time_to_last_chunk.into(),
            interval_mean: snap.interval_mean.into(),
            interval_p50: snap.interval_p50.into(),
            interval_p95: snap.interval_p95.into(),
            interval_max: snap.interval_max.into(),
            attributes: convert::attributes_out(&snap.attributes(m.0.kind())),
            intervals: TwBytes::from_vec(intervals.iter().flat_map(|v| v.to_le_bytes()).collect()),
        };
        // SAFETY: caller guarantee.
        unsafe { put(out, s) }
    })
}

/// The name, unit, description and bucket boundaries of one histogram
/// (static data).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TwHistogram {
    /// The instrument name.
    pub name: TwStr,
    /// The UCUM unit.
    pub unit: TwStr,
    /// A one-sentence description.
    pub description: TwStr,
    /// The explicit bucket boundaries, ascending (`boundaries_len` values).
    pub boundaries: *const f64,
    /// How many boundaries.
    pub boundaries_len: usize,
}

/// The histograms a stream kind is recorded into (static strings; nothing to free).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TwMetricNames {
    /// Time to first chunk (seconds, double).
    pub time_to_first_chunk: TwHistogram,
    /// Time to last chunk (seconds, double).
    pub time_to_last_chunk: TwHistogram,
    /// Every inter-chunk interval (seconds, double).
    pub chunk_interval: TwHistogram,
    /// Chunks per stream (integer).
    pub chunk_count: TwHistogram,
    /// Bytes per stream (integer).
    pub bytes: TwHistogram,
}

/// The histogram names, units, descriptions and boundaries for stream kind `kind`
/// (`TW_STREAM_*`). Errors: `invalid_argument` for an unknown kind or a NULL
/// `out`. Nothing to free. Thread safety: any thread.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tw_stream_metric_names(
    kind: u32,
    out: *mut TwMetricNames,
) -> *mut TwError {
    guard(|| {
        let names = StreamKind::from_code(kind)?.metric_names();
        let h = |h: &tracewire::metrics::Histogram| TwHistogram {
            name: TwStr::of(h.name),
            unit: TwStr::of(h.unit),
            description: TwStr::of(h.description),
            boundaries: h.boundaries.as_ptr(),
            boundaries_len: h.boundaries.len(),
        };
        let n = TwMetricNames {
            time_to_first_chunk: h(&names.time_to_first_chunk),
            time_to_last_chunk: h(&names.time_to_last_chunk),
            chunk_interval: h(&names.chunk_interval),
            chunk_count: h(&names.chunk_count),
            bytes: h(&names.bytes),
        };
        // SAFETY: caller guarantee.
        unsafe { put(out, n) }
    })
}
