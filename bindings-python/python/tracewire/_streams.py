"""Streams (a request answered by many chunks) as spans carrying their
metrics: time to first and last chunk, inter-chunk intervals, chunk count
and bytes, recorded lock-free by the core and written as span attributes
and OpenTelemetry histograms under the names the core decides."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Mapping, Optional, Tuple, Type

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from ._native import StreamMetrics, metric_attribute_keys, metric_names

__all__ = ["StreamInstruments", "StreamSpan"]


class StreamInstruments:
    """The histograms of one stream kind (``"generic"`` or
    ``"model_output"``), created once on ``meter`` and shared by every
    stream of that kind."""

    def __init__(self, meter: Optional[metrics.Meter] = None, kind: str = "generic") -> None:
        from . import __version__

        meter = metrics.get_meter("tracewire", __version__) if meter is None else meter
        self.kind = kind
        self._histograms: Dict[str, Any] = {
            slot: meter.create_histogram(
                name,
                unit=unit,
                description=description,
                explicit_bucket_boundaries_advisory=boundaries,
            )
            for slot, (name, unit, description, boundaries) in metric_names(kind).items()
        }
        self.metric_attribute_keys: Tuple[str, ...] = tuple(metric_attribute_keys(kind))

    def record(self, stream: StreamMetrics, attributes: Optional[Mapping[str, Any]] = None) -> None:
        """Records one finished stream: each value once, each interval once."""
        snapshot, intervals = stream.snapshot_and_intervals()
        h = self._histograms
        if snapshot.time_to_first_chunk is not None:
            h["time_to_first_chunk"].record(snapshot.time_to_first_chunk, attributes)
        if snapshot.time_to_last_chunk is not None:
            h["time_to_last_chunk"].record(snapshot.time_to_last_chunk, attributes)
        for interval in intervals:
            h["chunk_interval"].record(interval, attributes)
        h["chunk_count"].record(snapshot.chunk_count, attributes)
        h["bytes"].record(snapshot.bytes, attributes)


class StreamSpan:
    """A span for one logical stream with its :class:`StreamMetrics`.

    Use as a context manager (the span is current inside)::

        instruments = tracewire.StreamInstruments(kind="model_output")
        with tracewire.StreamSpan("chat llm", instruments) as stream:
            async for token in model():
                stream.record_chunk(len(token))

    On exit the metrics are written as span attributes and histogram values
    and the span ends (with an error status if the block raised). The
    histogram values carry the span attributes the core names for the
    stream kind (``StreamInstruments.metric_attribute_keys``): for a
    ``"model_output"`` stream pass ``gen_ai.operation.name`` and
    ``gen_ai.provider.name``, which the GenAI conventions require.
    """

    def __init__(
        self,
        name: str,
        instruments: StreamInstruments,
        *,
        tracer: Optional[trace.Tracer] = None,
        context: Optional[Context] = None,
        kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Optional[Mapping[str, Any]] = None,
    ) -> None:
        from . import __version__

        tracer = trace.get_tracer("tracewire", __version__) if tracer is None else tracer
        self.instruments = instruments
        self.span: Span = tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        self.metrics = StreamMetrics(instruments.kind)
        self._metric_attributes: Dict[str, Any] = {}
        for key, value in (attributes or {}).items():
            self._keep_for_metrics(key, value)
        self._token: Optional[object] = None
        self._ended = False

    def _keep_for_metrics(self, key: str, value: Any) -> None:
        if key in self.instruments.metric_attribute_keys:
            self._metric_attributes[key] = value

    def set_attribute(self, key: str, value: Any) -> None:
        """Sets an attribute on the span, and on the histogram values when the
        kind records that key (e.g. ``gen_ai.response.model``, known late)."""
        self._keep_for_metrics(key, value)
        self.span.set_attribute(key, value)

    @property
    def context(self) -> Context:
        """A context holding the stream's span (to send the request in)."""
        return trace.set_span_in_context(self.span)

    def record_chunk(self, size: int) -> None:
        """Records one chunk of ``size`` bytes, now."""
        self.metrics.record_chunk(size)

    def end(self) -> None:
        """Writes the metrics as span attributes and histograms; ends the span (once)."""
        if self._ended:
            return
        self._ended = True
        self.span.set_attributes(self.metrics.snapshot().attributes())
        keys = self.instruments.metric_attribute_keys
        ordered = {k: self._metric_attributes[k] for k in keys if k in self._metric_attributes}
        self.instruments.record(self.metrics, ordered)
        self.span.end()

    def __enter__(self) -> "StreamSpan":
        self._token = otel_context.attach(self.context)
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc is not None:
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, str(exc)))
            # error.type names the exception's class, as OpenTelemetry
            # Python's own instrumentations write it.
            self.set_attribute("error.type", type(exc).__qualname__)
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
        self.end()
