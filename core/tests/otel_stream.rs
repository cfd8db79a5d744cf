//! A stream span records its metrics as span attributes and histograms,
//! under the names core decides, checked with the SDK's in-memory exporters.
#![cfg(feature = "otel")]

use opentelemetry::metrics::MeterProvider;
use opentelemetry::trace::{SpanBuilder, TracerProvider};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use std::sync::Arc;
use tracewire::StreamKind;
use tracewire::otel::{StreamInstruments, StreamSpan};

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

    let stream = StreamSpan::start(
        &tracer,
        SpanBuilder::from_name("chat"),
        &Context::new(),
        instruments,
    );
    for size in [3, 5, 7] {
        std::thread::sleep(std::time::Duration::from_millis(2));
        stream.record_chunk(size);
    }
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

    let exported = metrics.get_finished_metrics().expect("metrics");
    let mut seen = std::collections::BTreeMap::new();
    for rm in &exported {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let count: u64 = match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        h.data_points().map(|p| p.count()).sum()
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(h)) => {
                        h.data_points().map(|p| p.count()).sum()
                    }
                    _ => 0,
                };
                seen.insert(m.name().to_owned(), count);
            }
        }
    }
    let names = StreamKind::ModelOutput.metric_names();
    assert_eq!(seen.get(names.time_to_first_chunk.name), Some(&1));
    assert_eq!(seen.get(names.time_to_last_chunk.name), Some(&1));
    assert_eq!(
        seen.get(names.chunk_interval.name),
        Some(&2),
        "one value per interval"
    );
    assert_eq!(seen.get(names.chunk_count.name), Some(&1));
    assert_eq!(seen.get(names.bytes.name), Some(&1));
}
