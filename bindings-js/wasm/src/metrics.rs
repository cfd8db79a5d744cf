//! Stream metrics: the core's `StreamMetrics`, its snapshots, and the
//! attribute and histogram names it decides.

use crate::errors::{JsResult, to_js};
use crate::values::{self, set};
use js_sys::Object;
use std::time::Duration;
use tracewire::metrics::Histogram;
use tracewire::{StreamKind, StreamMetrics as Core, StreamSnapshot};
use tracewire_bridge::Coded;
use wasm_bindgen::prelude::*;

fn opt(v: Option<f64>) -> JsValue {
    v.map_or(JsValue::NULL, JsValue::from_f64)
}

fn snapshot(s: &StreamSnapshot, kind: StreamKind) -> Object {
    let o = Object::new();
    set(&o, "chunkCount", s.chunk_count as f64);
    set(&o, "bytes", s.bytes as f64);
    set(&o, "timeToFirstChunk", opt(s.time_to_first_chunk));
    set(&o, "timeToLastChunk", opt(s.time_to_last_chunk));
    set(&o, "intervalMean", opt(s.interval_mean));
    set(&o, "intervalP50", opt(s.interval_p50));
    set(&o, "intervalP95", opt(s.interval_p95));
    set(&o, "intervalMax", opt(s.interval_max));
    set(&o, "attributes", values::attributes(&s.attributes(kind)));
    o
}

fn histogram(h: &Histogram) -> Object {
    let o = Object::new();
    set(&o, "name", h.name);
    set(&o, "unit", h.unit);
    set(&o, "description", h.description);
    set(&o, "boundaries", h.boundaries.to_vec());
    o
}

/// Chunks of one stream (audio frames, model tokens): time to first and
/// last chunk, intervals, count and bytes, on the host's monotonic clock.
#[wasm_bindgen]
pub struct StreamMetrics(Core);

#[wasm_bindgen]
impl StreamMetrics {
    /// A stream of `kind` (`generic` or `model_output`) whose clock starts now.
    #[wasm_bindgen(constructor)]
    pub fn new(kind: &str) -> JsResult<StreamMetrics> {
        Ok(StreamMetrics(Core::new(
            StreamKind::from_name(kind).map_err(to_js)?,
        )))
    }

    /// `generic` or `model_output`.
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        self.0.kind().name().to_owned()
    }

    /// Records one chunk of `bytes` bytes, now.
    #[wasm_bindgen(js_name = recordChunk)]
    pub fn record_chunk(&self, bytes: f64) {
        self.0.record_chunk(bytes as u64);
    }

    /// Records one chunk at `elapsed_ns` nanoseconds after the start (for
    /// replays and tests).
    #[wasm_bindgen(js_name = recordChunkAt)]
    pub fn record_chunk_at(&self, elapsed_ns: f64, bytes: f64) {
        self.0
            .record_chunk_at(Duration::from_nanos(elapsed_ns as u64), bytes as u64);
    }

    /// What was recorded: `{chunkCount, bytes, timeToFirstChunk,
    /// timeToLastChunk, intervalMean, intervalP50, intervalP95, intervalMax,
    /// attributes, intervals}` (seconds; `null` where a value does not exist
    /// yet; `intervals` every interval in recording order).
    pub fn snapshot(&self) -> Object {
        let (s, intervals) = self.0.snapshot_and_intervals();
        let o = snapshot(&s, self.0.kind());
        set(&o, "intervals", intervals);
        o
    }

    /// The histograms for this kind: `{timeToFirstChunk, timeToLastChunk,
    /// chunkInterval, chunkCount, bytes}`, each `{name, unit, description,
    /// boundaries}`, plus `attributeKeys`, the span attributes histogram
    /// values carry.
    #[wasm_bindgen(js_name = metricNames)]
    pub fn metric_names(&self) -> Object {
        let kind = self.0.kind();
        let n = kind.metric_names();
        let o = Object::new();
        set(&o, "timeToFirstChunk", histogram(&n.time_to_first_chunk));
        set(&o, "timeToLastChunk", histogram(&n.time_to_last_chunk));
        set(&o, "chunkInterval", histogram(&n.chunk_interval));
        set(&o, "chunkCount", histogram(&n.chunk_count));
        set(&o, "bytes", histogram(&n.bytes));
        set(
            &o,
            "attributeKeys",
            values::strings(kind.metric_attribute_keys().iter().copied()),
        );
        o
    }
}
