"""What the demo's Python services (``device``, ``tts``, ``archive``) share.

- telemetry from the environment: the OpenTelemetry SDK exporting spans and
  the stream metrics over OTLP/HTTP (the exporters read
  ``OTEL_EXPORTER_OTLP_*`` themselves), ``OTEL_TRACES_EXPORTER`` and
  ``OTEL_METRICS_EXPORTER`` as the specification defines them, or nothing at
  all with ``OTEL_SDK_DISABLED=true``. An export that fails (a collector that
  is down, a backend that takes traces only) is reported once per signal and
  counted, and never fails the service;
- ``TRACEWIRE_MODEL`` and ``DEMO_PACE``, checked before anything starts;
- the ``READY`` line, one-line errors on stderr, a stop on SIGTERM/SIGINT
  and a shutdown of the tracer provider bounded to a few seconds;
- the synthetic audio both services send.

The rules are the service contract in demos/README.md.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import logging
import math
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, List, Mapping, NoReturn, Optional, Sequence

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

MODELS = ("connection", "message")
# The contract bounds the tracer provider's shutdown (the last export) to 5 s.
SHUTDOWN_TIMEOUT_S = 5.0
SAMPLE_RATE_HZ = 16_000
# 20 ms of 16-bit mono PCM: 320 samples, 640 bytes.
CHUNK_SAMPLES = SAMPLE_RATE_HZ // 50

log = logging.getLogger("voice-assistant")


class StartupError(Exception):
    """The service cannot start; the message says why, in one line."""


@dataclass(frozen=True)
class Settings:
    """The demo's own environment: the tracing model and the pace.

    Attributes:
        model: ``"connection"`` or ``"message"``, for every connection the
            service opens or accepts (``TRACEWIRE_MODEL``).
        pace: multiplies every simulated delay; ``0`` means none
            (``DEMO_PACE``).
    """

    model: str
    pace: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Reads ``TRACEWIRE_MODEL`` (default ``connection``) and
        ``DEMO_PACE`` (default ``1.0``); raises :class:`StartupError` for a
        value the contract does not allow."""
        model = environ.get("TRACEWIRE_MODEL", "").strip() or "connection"
        if model not in MODELS:
            raise StartupError(f"TRACEWIRE_MODEL={model!r}: expected one of {', '.join(MODELS)}")
        raw_pace = environ.get("DEMO_PACE", "").strip() or "1.0"
        try:
            pace = float(raw_pace)
        except ValueError:
            raise StartupError(f"DEMO_PACE={raw_pace!r}: expected a number") from None
        if not math.isfinite(pace) or pace < 0:
            raise StartupError(f"DEMO_PACE={raw_pace!r}: expected a finite number >= 0")
        return cls(model=model, pace=pace)

    def delay(self, seconds: float) -> float:
        """A simulated delay of ``seconds``, scaled by the pace."""
        return seconds * self.pace


async def sleep_until(deadline: float) -> None:
    """Waits until the event loop's clock reads ``deadline`` (no wait when
    it is already past, e.g. at pace 0). Deadlines rather than relative
    sleeps keep a paced sequence from drifting."""
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0:
        await asyncio.sleep(delay)


class ExportReport:
    """Counts one signal's export outcomes and reports its first failure in
    one line: which signal, and the variable that turns it off."""

    def __init__(self, signal: str, variable: str) -> None:
        self.signal = signal
        self.variable = variable
        self.exported = 0
        self.failed = 0
        # Spans: ended (handed to the batch processor) and put in an export
        # request; the difference after shutdown was dropped from a full
        # queue, which the SDK logs only once, uncounted.
        self.spans_ended = 0
        self.spans_in_exports = 0
        self._lock = threading.Lock()

    def span_ended(self) -> None:
        with self._lock:
            self.spans_ended += 1

    def spans_exporting(self, n: int) -> None:
        with self._lock:
            self.spans_in_exports += n

    def record(self, succeeded: bool) -> None:
        if succeeded:
            self.exported += 1
            return
        self.failed += 1
        if self.failed == 1:
            log.warning(
                "%s were not accepted by the OTLP endpoint; %s from this process are dropped "
                "and later failures only counted. If this backend takes no %s, set %s=none.",
                self.signal, self.signal, self.signal, self.variable,
            )


class _CountingBatchSpanProcessor(BatchSpanProcessor):
    """A batch processor that counts the spans it queues (the sampled ones)."""

    def __init__(self, exporter: _ReportingSpanExporter) -> None:
        super().__init__(exporter)
        self._report = exporter.report

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            self._report.span_ended()
        super().on_end(span)


class _ReportingSpanExporter(SpanExporter):
    """Passes spans to ``inner``; a failed export is reported and counted,
    and still answered as a success so nothing retries or fails on it."""

    def __init__(self, inner: SpanExporter, report: ExportReport) -> None:
        self._inner = inner
        self.report = report

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.report.spans_exporting(len(spans))
        self.report.record(self._inner.export(spans) == SpanExportResult.SUCCESS)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _ReportingMetricExporter(MetricExporter):
    """The metrics counterpart of :class:`_ReportingSpanExporter`."""

    def __init__(self, inner: MetricExporter, report: ExportReport) -> None:
        # The reader asks the exporter it is given for its temporality and
        # aggregation; the SDK keeps the inner exporter's only in these
        # attributes, so they are passed on as they are.
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self._inner = inner
        self.report = report

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self.report.record(result == MetricExportResult.SUCCESS)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class Tracing:
    """The tracer and meter providers this process installed, or none when
    the SDK is disabled (then the API's no-op providers stay and tracewire
    makes no spans)."""

    def __init__(
        self,
        tracer_provider: Optional[TracerProvider],
        meter_provider: Optional[MeterProvider] = None,
        reports: Sequence[ExportReport] = (),
    ) -> None:
        self.provider = tracer_provider
        self.meter_provider = meter_provider
        self.reports = list(reports)

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Flushes and shuts down the providers, waiting at most ``timeout_s``.

        The SDK's own shutdown can wait much longer for an unreachable
        endpoint (export timeouts and retries), so it runs on a daemon thread
        that is abandoned at the deadline.
        """
        providers: List[Any] = [p for p in (self.provider, self.meter_provider) if p is not None]
        if not providers:
            return
        worker = threading.Thread(
            target=lambda: [p.shutdown() for p in providers], name="otel-shutdown", daemon=True
        )
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            log.warning("telemetry did not shut down within %.0f s; spans may be lost", timeout_s)
        for report in self.reports:
            if report.failed:
                log.warning("%d of %d %s exports failed", report.failed, report.failed + report.exported, report.signal)
            if report.spans_ended > report.spans_in_exports:
                log.warning(
                    "%d of %d spans never reached an export (the batch queue was full: raise OTEL_BSP_MAX_QUEUE_SIZE)",
                    report.spans_ended - report.spans_in_exports, report.spans_ended,
                )


def exporter_enabled(variable: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Reads an ``OTEL_*_EXPORTER`` variable as the OpenTelemetry environment
    specification defines it: a comma-separated list, ``otlp`` by default,
    ``none`` alone for no export. Only OTLP is built in here; anything else
    is a :class:`StartupError`."""
    value = environ.get(variable, "").strip()
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        return True
    if names == ["none"]:
        return False
    unknown = [name for name in names if name != "otlp"]
    if unknown:
        raise StartupError(f"{variable}={value!r}: exporter {unknown[0]!r} is not available here; use 'otlp' or 'none'")
    return True


def setup_tracing(default_service_name: str, environ: Mapping[str, str] = os.environ) -> Tracing:
    """Installs the SDK as the global tracer and meter provider, unless
    ``OTEL_SDK_DISABLED=true``.

    The resource is the SDK's (``telemetry.sdk.*``, ``OTEL_RESOURCE_ATTRIBUTES``,
    ``OTEL_SERVICE_NAME``) with ``service.name`` defaulting to
    ``default_service_name``. Spans go through a batch processor and metrics
    through a periodic reader to the OTLP/HTTP exporters, configured by the
    standard ``OTEL_EXPORTER_OTLP_*`` variables; ``OTEL_TRACES_EXPORTER=none``
    or ``OTEL_METRICS_EXPORTER=none`` sends nothing of that signal.
    ``OTEL_LOGS_EXPORTER`` is checked; these services export no logs.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return Tracing(None)
    export_traces = exporter_enabled("OTEL_TRACES_EXPORTER", environ)
    export_metrics = exporter_enabled("OTEL_METRICS_EXPORTER", environ)
    exporter_enabled("OTEL_LOGS_EXPORTER", environ)
    # OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES, else ours.
    named_by_env = bool(OTELResourceDetector().detect().attributes.get(SERVICE_NAME))
    resource = Resource.create({} if named_by_env else {SERVICE_NAME: default_service_name})
    reports: List[ExportReport] = []
    # Shut down by Tracing.shutdown (bounded), not by an unbounded atexit hook.
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    if export_traces:
        report = ExportReport("traces", "OTEL_TRACES_EXPORTER")
        reports.append(report)
        tracer_provider.add_span_processor(_CountingBatchSpanProcessor(_ReportingSpanExporter(OTLPSpanExporter(), report)))
    trace.set_tracer_provider(tracer_provider)
    readers = []
    if export_metrics:
        report = ExportReport("metrics", "OTEL_METRICS_EXPORTER")
        reports.append(report)
        readers.append(PeriodicExportingMetricReader(_ReportingMetricExporter(OTLPMetricExporter(), report)))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    metrics.set_meter_provider(meter_provider)
    _quiet_exporter_loggers()
    return Tracing(tracer_provider, meter_provider, reports)


def _quiet_exporter_loggers() -> None:
    """The OTLP exporters log every failed batch; ExportReport says it once."""
    for name in (
        "opentelemetry.exporter.otlp.proto.http.trace_exporter",
        "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    ):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def configure_logging(service_name: str) -> None:
    """Sends every log line (the SDK's too) to stderr, prefixed with the
    service's name; stdout is for the READY and TURN lines only."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=f"{service_name}: %(message)s")


def print_ready(url: str) -> None:
    """Prints the contract's ``READY <url>`` line and flushes it."""
    print(f"READY {url}", flush=True)


def fail(service_name: str, reason: str, code: int = 1) -> int:
    """Prints why the service stops, one line on stderr; returns ``code``."""
    print(f"{service_name}: {' '.join(reason.split())}", file=sys.stderr, flush=True)
    return code


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit 2), as
    the contract asks of a service that cannot start."""

    def error(self, message: str) -> NoReturn:
        """Reports a bad command line in one line and exits 2."""
        sys.exit(fail(self.prog, message, 2))


def stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT (call from the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def tone_chunk(index: int, frequency_hz: float = 220.0) -> bytes:
    """Chunk ``index`` (20 ms, 640 bytes) of a continuous, deterministic sine
    tone: 16 kHz 16-bit little-endian mono PCM."""
    first = index * CHUNK_SAMPLES
    step = 2 * math.pi * frequency_hz / SAMPLE_RATE_HZ
    samples = array.array("h", (round(8000 * math.sin(step * (first + i))) for i in range(CHUNK_SAMPLES)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()
