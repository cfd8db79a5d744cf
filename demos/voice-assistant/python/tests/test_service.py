"""The services' telemetry setup (service.py): spans lost to a full batch
queue are counted and reported, against a real OTLP/HTTP receiver."""

from __future__ import annotations

import logging

import pytest

import service
from conftest import OtlpReceiver


def test_spans_dropped_from_a_full_queue_are_counted(
    otlp: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A queue of 16 and no timed export: ending 200 spans at once overflows it.
    # (The SDK's processor and exporter read the process environment.)
    for variable, value in (("OTEL_BSP_MAX_QUEUE_SIZE", "16"), ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
                            ("OTEL_BSP_SCHEDULE_DELAY", "60000"), ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.endpoint),
                            ("OTEL_METRICS_EXPORTER", "none")):
        monkeypatch.setenv(variable, value)
    tracing = service.setup_tracing("queue-test")
    assert tracing.provider is not None
    tracer = tracing.provider.get_tracer("test")
    ended = 200
    for i in range(ended):
        tracer.start_span(f"span {i}").end()
    with caplog.at_level(logging.WARNING):
        tracing.shutdown()
    [report] = tracing.reports
    dropped = report.spans_ended - report.spans_in_exports
    assert report.spans_ended == ended
    assert dropped > 0
    # Every span is either at the receiver or counted as dropped.
    assert len(otlp.spans) + dropped == ended
    assert f"{dropped} of {ended} spans never reached an export" in caplog.text
