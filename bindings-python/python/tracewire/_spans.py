"""Applies the core's span decisions with opentelemetry-python.

The core decides name, kind, parent candidates, links and attributes
(``tracewire::model``); this module only resolves the candidates against the
contexts at hand and calls the tracer.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from ._native import CloseDecision, Connection, SpanDecision



def _valid(span: Span) -> bool:
    return bool(span.get_span_context().is_valid)


class SpanApplier:
    """The spans of one connection: the connection span and every decision
    started relative to it."""

    def __init__(self, connection: Connection, tracer_provider: Optional[trace.TracerProvider]) -> None:
        from . import __version__

        self.connection = connection
        self.tracer = trace.get_tracer("tracewire", __version__, tracer_provider)
        self.connection_span: Optional[Span] = None
        self.connection_open = False
        self.closed = False

    def parent_context(
        self, decision: SpanDecision, remote: Optional[Context], ambient: Context
    ) -> Context:
        """The context to start ``decision``'s span in: its first available
        parent candidate, else a new trace (keeping the ambient baggage)."""
        conn = self.connection_span
        for source in decision.parent:
            if source == "remote":
                if remote is not None and _valid(trace.get_current_span(remote)):
                    return remote
            elif source == "ambient":
                if _valid(trace.get_current_span(ambient)):
                    return ambient
            elif source == "ambient_in_connection_trace":
                span = trace.get_current_span(ambient)
                if (
                    conn is not None
                    and _valid(span)
                    and span.get_span_context().trace_id == conn.get_span_context().trace_id
                ):
                    return ambient
            elif source == "connection":
                if conn is not None and self.connection_open:
                    return trace.set_span_in_context(conn, ambient)
        return trace.set_span_in_context(trace.INVALID_SPAN, ambient)

    def links(self, decision: SpanDecision, parent: Context) -> List[Link]:
        out: List[Link] = []
        parent_sc = trace.get_current_span(parent).get_span_context()
        for source in decision.links:
            if source == "connection" and self.connection_span is not None:
                sc = self.connection_span.get_span_context()
                if sc.is_valid and sc != parent_sc:
                    out.append(Link(sc))
        return out

    def start(
        self,
        decision: SpanDecision,
        *,
        remote: Optional[Context] = None,
        ambient: Optional[Context] = None,
        extra: Optional[Mapping[str, Any]] = None,
    ) -> Span:
        """Starts the span ``decision`` describes (not made current)."""
        from opentelemetry.context import get_current

        ambient = get_current() if ambient is None else ambient
        parent = self.parent_context(decision, remote, ambient)
        attributes = decision.attributes
        if extra:
            attributes.update(extra)
        return self.tracer.start_span(
            decision.name,
            context=parent,
            kind=SpanKind[decision.kind.upper()],
            links=self.links(decision, parent),
            attributes=attributes,
        )

    def open(self, *, remote: Optional[Context] = None, ambient: Optional[Context] = None) -> Span:
        """Starts the connection span (``connect`` or ``accept``)."""
        span = self.start(self.connection.open(), remote=remote, ambient=ambient)
        self.connection_span = span
        self.connection_open = True
        return span

    def upgraded(self) -> None:
        """The upgrade completed: in the ``message`` model the connection span ends."""
        if self.connection.connection_span_ends_at_upgrade and self.connection_span is not None:
            self.end_connection_span()

    def end_connection_span(self) -> None:
        if self.connection_open and self.connection_span is not None:
            self.connection_open = False
            self.connection_span.end()

    def fail(self, exc: BaseException) -> None:
        """The connection failed before or during the upgrade."""
        span = self.connection_span
        if span is not None and self.connection_open:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            self.end_connection_span()
        self.closed = True

    def close(self, code: Optional[int], reason: str, ambient: Optional[Context] = None) -> None:
        """Records the close as the core decides (once)."""
        if self.closed:
            return
        self.closed = True
        decision: CloseDecision = self.connection.close(code, reason or "")
        status = Status(StatusCode.ERROR) if decision.is_error else None
        span_decision = decision.span
        if span_decision is None:
            span = self.connection_span
            if span is not None and self.connection_open:
                span.set_attributes(decision.attributes)
                if status is not None:
                    span.set_status(status)
            self.end_connection_span()
        else:
            span = self.start(span_decision, ambient=ambient)
            if status is not None:
                span.set_status(status)
            span.end()
            self.end_connection_span()
