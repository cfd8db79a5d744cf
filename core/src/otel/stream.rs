//! Logical streams (a request answered by many chunks) as spans carrying
//! their [`StreamMetrics`], recorded into the histograms core names.

use crate::metrics::{StreamKind, StreamMetrics};
use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::trace::{SpanBuilder, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::sync::{Arc, Mutex};

/// The histograms of one [`StreamKind`], created once per meter and shared
/// by every stream of that kind.
#[derive(Debug)]
pub struct StreamInstruments {
    kind: StreamKind,
    time_to_first_chunk: Histogram<f64>,
    time_to_last_chunk: Histogram<f64>,
    chunk_interval: Histogram<f64>,
    chunk_count: Histogram<u64>,
    bytes: Histogram<u64>,
}

impl StreamInstruments {
    /// Creates the histograms named by `kind.metric_names()` on `meter`.
    pub fn new(meter: &Meter, kind: StreamKind) -> Self {
        let names = kind.metric_names();
        let f64h = |h: &crate::metrics::Histogram| {
            meter
                .f64_histogram(h.name)
                .with_unit(h.unit)
                .with_description(h.description)
                .with_boundaries(h.boundaries.to_vec())
                .build()
        };
        let u64h = |h: &crate::metrics::Histogram| {
            meter
                .u64_histogram(h.name)
                .with_unit(h.unit)
                .with_description(h.description)
                .with_boundaries(h.boundaries.to_vec())
                .build()
        };
        StreamInstruments {
            kind,
            time_to_first_chunk: f64h(&names.time_to_first_chunk),
            time_to_last_chunk: f64h(&names.time_to_last_chunk),
            chunk_interval: f64h(&names.chunk_interval),
            chunk_count: u64h(&names.chunk_count),
            bytes: u64h(&names.bytes),
        }
    }

    /// The stream kind these histograms are for.
    pub fn kind(&self) -> StreamKind {
        self.kind
    }

    /// Records one finished stream: each value once, each interval once.
    pub fn record(&self, metrics: &StreamMetrics, attributes: &[KeyValue]) {
        let (snapshot, intervals) = metrics.snapshot_and_intervals();
        if let Some(t) = snapshot.time_to_first_chunk {
            self.time_to_first_chunk.record(t, attributes);
        }
        if let Some(t) = snapshot.time_to_last_chunk {
            self.time_to_last_chunk.record(t, attributes);
        }
        for i in intervals {
            self.chunk_interval.record(i, attributes);
        }
        self.chunk_count.record(snapshot.chunk_count, attributes);
        self.bytes.record(snapshot.bytes, attributes);
    }
}

/// A span for one logical stream with its metrics. Record chunks as they
/// arrive (from any thread); [`end`](Self::end) writes the metrics as span
/// attributes and histogram values, and ends the span. The histogram values
/// carry the span's attributes named by [`StreamKind::metric_attribute_keys`]
/// (for a GenAI stream, set `gen_ai.operation.name` and
/// `gen_ai.provider.name` on the builder: the conventions require them).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use opentelemetry::trace::SpanBuilder;
/// use tracewire::otel::{StreamInstruments, StreamSpan};
/// use tracewire::StreamKind;
///
/// let tracer = opentelemetry::global::tracer("app");
/// let meter = opentelemetry::global::meter("app");
/// let instruments = Arc::new(StreamInstruments::new(&meter, StreamKind::ModelOutput));
/// let builder = SpanBuilder::from_name("chat llm").with_attributes([
///     opentelemetry::KeyValue::new("gen_ai.operation.name", "chat"),
///     opentelemetry::KeyValue::new("gen_ai.provider.name", "openai"),
/// ]);
/// let stream = StreamSpan::start(&tracer, builder, &opentelemetry::Context::current(), instruments);
/// for token in ["Hel", "lo"] {
///     stream.record_chunk(token.len() as u64);
/// }
/// stream.end();
/// ```
#[derive(Debug)]
pub struct StreamSpan {
    context: Context,
    metrics: StreamMetrics,
    instruments: Arc<StreamInstruments>,
    /// The span attributes the histograms carry too (see `metric_attributes`).
    metric_attributes: Mutex<Vec<KeyValue>>,
}

/// Those of `attributes` whose keys `kind` records on its histograms, in
/// the order of [`StreamKind::metric_attribute_keys`]; a later value of a
/// key replaces an earlier one, as on a span.
fn metric_attributes<'a>(
    kind: StreamKind,
    attributes: impl IntoIterator<Item = &'a KeyValue>,
) -> Vec<KeyValue> {
    let keys = kind.metric_attribute_keys();
    let mut slots: Vec<Option<KeyValue>> = vec![None; keys.len()];
    for kv in attributes {
        if let Some(i) = keys.iter().position(|k| *k == kv.key.as_str()) {
            slots[i] = Some(kv.clone());
        }
    }
    slots.into_iter().flatten().collect()
}

impl StreamSpan {
    /// Starts the span described by `builder` under `parent`; the stream's
    /// clock starts now.
    pub fn start<T>(
        tracer: &T,
        builder: SpanBuilder,
        parent: &Context,
        instruments: Arc<StreamInstruments>,
    ) -> Self
    where
        T: Tracer,
        T::Span: Send + Sync + 'static,
    {
        let kind = instruments.kind();
        let metric_attributes = metric_attributes(kind, builder.attributes.iter().flatten());
        let span = tracer.build_with_context(builder, parent);
        StreamSpan {
            context: parent.with_span(span),
            metrics: StreamMetrics::new(kind),
            instruments,
            metric_attributes: Mutex::new(metric_attributes),
        }
    }

    /// Sets an attribute on the stream's span, and on its histogram values
    /// when `kind` records that key (e.g. `gen_ai.response.model` or
    /// `error.type`, known only once the answer arrives).
    pub fn set_attribute(&self, attribute: KeyValue) {
        let kind = self.instruments.kind();
        if kind
            .metric_attribute_keys()
            .contains(&attribute.key.as_str())
        {
            let mut attrs = self
                .metric_attributes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let merged = metric_attributes(kind, attrs.iter().chain([&attribute]));
            *attrs = merged;
        }
        self.context.span().set_attribute(attribute);
    }

    /// The context holding the stream's span, to send the request in.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The stream's metrics.
    pub fn metrics(&self) -> &StreamMetrics {
        &self.metrics
    }

    /// Records one chunk of `bytes` bytes, now.
    pub fn record_chunk(&self, bytes: u64) {
        self.metrics.record_chunk(bytes);
    }

    /// Writes the metrics as span attributes and into the histograms, then
    /// ends the span.
    pub fn end(self) {
        let span = self.context.span();
        let snapshot = self.metrics.snapshot();
        span.set_attributes(
            snapshot
                .attributes(self.instruments.kind())
                .iter()
                .map(KeyValue::from),
        );
        let attributes = self
            .metric_attributes
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.instruments.record(&self.metrics, &attributes);
        span.end();
    }
}
