//! Stream metrics: recording, snapshots and histogram names.

use jni::EnvUnowned;
use jni::objects::JClass;
use jni::sys::{jboolean, jint, jlong};
use std::time::Duration;
use tracewire::{StreamKind, StreamMetrics};
use tracewire_bridge::Coded;
use tracewire_bridge::wire::Writer;

use crate::guard::{Fail, emit, fast};
use crate::plumbing::{free_handle, handle_ref, into_handle};

// ---------------------------------------------------------------- metrics

/// A new stream (kind 0 generic, 1 model output) whose clock starts now;
/// free with `metricsFree`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsNew<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    kind: jint,
) -> jlong {
    fast(&mut env, || {
        let m = StreamMetrics::new(StreamKind::from_code(kind as u32)?);
        Ok(into_handle(m))
    })
}

/// Frees a `metricsNew` handle (0 is ignored).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsFree<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    fast(&mut env, || {
        // SAFETY: made by metricsNew; Java frees it once, after its last use.
        unsafe { free_handle::<StreamMetrics>(handle) };
        Ok(())
    })
}

/// # Safety
/// `handle` is a live `metricsNew` handle.
unsafe fn metrics<'a>(handle: jlong) -> Result<&'a StreamMetrics, Fail> {
    // SAFETY: the caller's contract.
    unsafe { handle_ref(handle, "closed stream metrics") }
}

/// Records one chunk of `bytes`, now (lock-free).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsRecord<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    bytes: jlong,
) {
    fast(&mut env, || {
        // SAFETY: Java keeps the handle alive during the call.
        unsafe { metrics(handle)? }.record_chunk(u64::try_from(bytes).unwrap_or(0));
        Ok(())
    })
}

/// Records one chunk of `bytes` at `nanos` after the stream's start.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsRecordAt<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    nanos: jlong,
    bytes: jlong,
) {
    fast(&mut env, || {
        let elapsed = Duration::from_nanos(u64::try_from(nanos).unwrap_or(0));
        // SAFETY: Java keeps the handle alive during the call.
        unsafe { metrics(handle)? }.record_chunk_at(elapsed, u64::try_from(bytes).unwrap_or(0));
        Ok(())
    })
}

/// A snapshot. Out: `i64 chunk count, i64 bytes`, six optional doubles
/// (`u8 present, f64`: time to first chunk, time to last chunk, interval
/// mean, p50, p95, max), the span attributes, then `u32 n, n x f64`
/// intervals (only when `intervals` is true, else n = 0).
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsSnapshot<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    with_intervals: jboolean,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        // SAFETY: Java keeps the handle alive during the call.
        let m = unsafe { metrics(handle)? };
        let (s, intervals) = if with_intervals {
            m.snapshot_and_intervals()
        } else {
            (m.snapshot(), Vec::new())
        };
        let mut w = Writer::new();
        w.i64(i64::try_from(s.chunk_count).unwrap_or(i64::MAX));
        w.i64(i64::try_from(s.bytes).unwrap_or(i64::MAX));
        for v in [
            s.time_to_first_chunk,
            s.time_to_last_chunk,
            s.interval_mean,
            s.interval_p50,
            s.interval_p95,
            s.interval_max,
        ] {
            w.u8(u8::from(v.is_some()));
            w.f64(v.unwrap_or(0.0));
        }
        w.attributes(&s.attributes(m.kind()));
        w.u32(intervals.len() as u32);
        for i in intervals {
            w.f64(i);
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}

/// The histograms of a stream kind. Out: 5 x (str name, str unit,
/// str description, u32 n, n x f64 bucket boundaries): time to first chunk,
/// time to last chunk, chunk interval, chunk count, bytes.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_tracewire_internal_Native_metricsNames<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    kind: jint,
    out: jlong,
    cap: jint,
) -> jint {
    fast(&mut env, || {
        let names = StreamKind::from_code(kind as u32)?.metric_names();
        let mut w = Writer::new();
        for h in [
            names.time_to_first_chunk,
            names.time_to_last_chunk,
            names.chunk_interval,
            names.chunk_count,
            names.bytes,
        ] {
            w.str(h.name);
            w.str(h.unit);
            w.str(h.description);
            w.len(h.boundaries.len());
            for b in h.boundaries {
                w.f64(*b);
            }
        }
        // SAFETY: Native's contract.
        unsafe { emit(&w, out, cap) }
    })
}
