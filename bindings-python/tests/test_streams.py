"""StreamSpan and StreamInstruments with the SDK's in-memory exporters."""

from __future__ import annotations

import threading
import time

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import tracewire as tw


def test_stream_span_writes_attributes_and_histograms(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    instruments = tw.StreamInstruments(meter, "model_output")
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.conversation.id": "c-42",  # span only: unbounded
    }
    with tw.StreamSpan("chat llm", instruments, tracer=provider.get_tracer("t"), attributes=attributes) as stream:
        for token in ["Hel", "lo", ", world"]:
            time.sleep(0.002)
            stream.record_chunk(len(token))
        stream.set_attribute("gen_ai.response.model", "m1")
    (span,) = exporter.get_finished_spans()
    names = tw.metric_names("model_output")
    attrs = dict(span.attributes or {})
    assert attrs["tracewire.stream.chunk_count"] == 3
    assert attrs["tracewire.stream.bytes"] == 12
    ttfc = [k for k in attrs if "time_to_first_chunk" in k]
    assert ttfc and attrs[ttfc[0]] >= 0.002
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert set(metrics) == {name for name, _, _, _ in names.values()}
    interval = metrics[names["chunk_interval"][0]]
    assert interval.data.data_points[0].count == 2
    assert metrics[names["time_to_first_chunk"][0]].unit == "s"
    assert attrs["gen_ai.conversation.id"] == "c-42"
    for slot, (name, _, _, boundaries) in names.items():
        (point,) = metrics[name].data.data_points
        assert list(point.explicit_bounds) == boundaries, slot
        assert dict(point.attributes) == {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.response.model": "m1",
        }, slot
    # The GenAI conventions' boundaries: 10 ms doubling to 81.92 s.
    assert names["time_to_first_chunk"][3][0] == 0.01 and names["time_to_first_chunk"][3][-1] == 81.92


def test_stream_span_error_status(provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
    instruments = tw.StreamInstruments(kind="generic")
    with pytest.raises(RuntimeError):
        with tw.StreamSpan("s", instruments, tracer=provider.get_tracer("t")) as stream:
            stream.record_chunk(1)
            raise RuntimeError("boom")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes["tracewire.stream.chunk_count"] == 1  # type: ignore[index]
    assert span.attributes["error.type"] == "RuntimeError"  # type: ignore[index]


def test_record_from_many_threads() -> None:
    m = tw.StreamMetrics()

    def work() -> None:
        for _ in range(5000):
            m.record_chunk(2)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = m.snapshot()
    assert s.chunk_count == 20000 and s.bytes == 40000
    assert s.interval_p50 is not None and s.interval_max is not None


def test_bad_kind() -> None:
    with pytest.raises(tw.InvalidArgumentError):
        tw.StreamMetrics("video")
