//! A stream span records its metrics as span attributes and histograms,
//! under the names core decides, checked with the SDK's in-memory exporters.
#![cfg(feature = "otel")]

use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{SpanBuilder, TracerProvider};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Histogram, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use std::sync::Arc;
use tracewire::StreamKind;
use tracewire::otel::{StreamInstruments, StreamSpan};

/// A histogram's first data point: its count, bucket bounds and attribute keys.
fn first_point<T>(h: &Histogram<T>) -> Option<(u64, Vec<f64>, Vec<String>)> {
    h.data_points().next().map(|p| {
        let keys = p.attributes().map(|kv| kv.key.to_string()).collect();
        (p.count(), p.bounds().collect(), keys)
    })
}

#[test]
fn stream_span_records_attributes_and_histograms() {
    let spans = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let metrics = InMemoryMetricExporter::default();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(metrics.clone()).build())
        .build();
    let instruments = Arc::new(StreamInstruments::new(
        &meter_provider.meter("test"),
        StreamKind::ModelOutput,
    ));
    let tracer = tracer_provider.tracer("test");

    let builder = SpanBuilder::from_name("chat").with_attributes([
        KeyValue::new("gen_ai.operation.name", "chat"),
        KeyValue::new("gen_ai.provider.name", "openai"),
        KeyValue::new("gen_ai.request.model", "m1"),
        // Span-only: unbounded values stay off the metrics.
        KeyValue::new("gen_ai.conversation.id", "c-42"),
    ]);
    let stream = StreamSpan::start(&tracer, builder, &Context::new(), instruments);
    for size in [3, 5, 7] {
        std::thread::sleep(std::time::Duration::from_millis(2));
        stream.record_chunk(size);
    }
    stream.set_attribute(KeyValue::new("gen_ai.response.model", "m1-2026"));
    stream.end();
    meter_provider.force_flush().expect("flush");

    let span = spans
        .get_finished_spans()
        .expect("spans")
        .pop()
        .expect("one span");
    let attr = |k: &str| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(attr("tracewire.stream.chunk_count"), Some(Value::I64(3)));
    assert_eq!(attr("tracewire.stream.bytes"), Some(Value::I64(15)));
    let Some(Value::F64(first)) = attr("gen_ai.response.time_to_first_chunk") else {
        panic!("no time to first chunk")
    };
    let Some(Value::F64(last)) = attr("tracewire.stream.time_to_last_chunk") else {
        panic!("no time to last chunk")
    };
    assert!(first >= 0.002 && first <= last, "{first} {last}");

    assert_eq!(attr("gen_ai.conversation.id"), Some(Value::from("c-42")));
    assert_eq!(attr("gen_ai.response.model"), Some(Value::from("m1-2026")));

    // Per histogram: values recorded, bucket bounds, attribute keys of the
    // (single) data point.
    let exported = metrics.get_finished_metrics().expect("metrics");
    let mut seen = std::collections::BTreeMap::new();
    for rm in &exported {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let point = match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => first_point(h),
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => first_point(h),
                    _ => None,
                };
                let (count, bounds, mut keys) = point.expect("one data point");
                keys.sort();
                assert_eq!(
                    keys,
                    [
                        "gen_ai.operation.name",
                        "gen_ai.provider.name",
                        "gen_ai.request.model",
                        "gen_ai.response.model"
                    ],
                    "{}",
                    m.name()
                );
                seen.insert(m.name().to_owned(), (count, bounds));
            }
        }
    }
    let count = |h: &tracewire::metrics::Histogram| {
        let (count, bounds) = &seen[h.name];
        assert_eq!(bounds.as_slice(), h.boundaries, "{}", h.name);
        *count
    };
    let names = StreamKind::ModelOutput.metric_names();
    assert_eq!(
        names.time_to_first_chunk.boundaries,
        tracewire::metrics::GEN_AI_TIME_BOUNDARIES
    );
    assert_eq!(count(&names.time_to_first_chunk), 1);
    assert_eq!(count(&names.time_to_last_chunk), 1);
    assert_eq!(count(&names.chunk_interval), 2, "one value per interval");
    assert_eq!(count(&names.chunk_count), 1);
    assert_eq!(count(&names.bytes), 1);
}
