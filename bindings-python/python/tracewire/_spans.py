"""Applies the core's span decisions with opentelemetry-python.

The core decides name, kind, parent candidates, links and attributes
(``tracewire::model``) and, given what is at hand when the span starts, which
context is the parent, whether the connection span and the received
context are linked and whose baggage the span carries
(``SpanDecision.choose``). A connection's trust policy (``Trust``) admits
every received context before it is read here (``SpanApplier.admit``). This module only reads
those facts off the opentelemetry-python contexts (``Available.read``) and
builds what the core chose, as the Rust core's ``otel::start_span`` does.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from ._native import Applied, Available, CloseDecision, Connection, SpanDecision, TraceContext

__all__ = ["start_span"]


def _parent_context(
    applied: Applied, ambient: Context, remote: Optional[TraceContext], connection: Optional[Context]
) -> Context:
    """The parent context ``applied`` names, holding the baggage it names.
    (``choose`` names a source only when it is available.)"""
    parent = applied.parent
    if parent == "remote":
        assert remote is not None
        return remote.to_otel()  # the received span and baggage, as they came
    if parent == "ambient":
        return ambient
    if parent == "connection":
        assert connection is not None
        return connection
    if applied.baggage == "remote":
        assert remote is not None
        return TraceContext(baggage=remote.baggage, remote=True).to_otel()
    return Context()


def start_span(
    tracer: trace.Tracer,
    decision: SpanDecision,
    *,
    ambient: Optional[Context] = None,
    remote: Optional[TraceContext] = None,
    connection: Optional[Context] = None,
    attributes: Optional[Mapping[str, Any]] = None,
) -> Context:
    """Starts the span a core :class:`SpanDecision` describes and returns its
    context: the chosen parent's context (with the chosen baggage) holding
    the new span (``trace.get_current_span(ctx)`` gives the span; it is not
    made current).

    The parent, the link to the connection span and the baggage are what
    ``decision.choose`` picks from what ``ambient``, ``remote`` and
    ``connection`` offer.

    Args:
        tracer: the tracer to start the span with.
        decision: from :class:`Connection` ``open``/``send``/``receive``/``close``.
        ambient: the caller's context (default: the current one).
        remote: the context received with the handshake or the message.
        connection: the context holding the connection span, once there is one.
        attributes: attributes added to the decision's.
    """
    ambient = otel_context.get_current() if ambient is None else ambient
    applied = decision.choose(Available.read(ambient, remote, connection))
    parent = _parent_context(applied, ambient, remote, connection)
    links: List[Link] = []
    if applied.link_connection:
        assert connection is not None
        links.append(Link(trace.get_current_span(connection).get_span_context()))
    if applied.link_remote:
        assert remote is not None
        links.append(Link(trace.get_current_span(remote.to_otel()).get_span_context()))
    attrs = decision.attributes
    if attributes:
        attrs.update(attributes)
    span = tracer.start_span(
        decision.name,
        context=parent,
        kind=SpanKind[decision.kind.upper()],
        links=links,
        attributes=attrs,
    )
    return trace.set_span_in_context(span, parent)


class SpanApplier:
    """The spans of one connection: the connection span, and every other
    decision started relative to it."""

    def __init__(self, connection: Connection, tracer_provider: Optional[trace.TracerProvider]) -> None:
        from . import __version__

        self.connection = connection
        self.tracer = trace.get_tracer("tracewire", __version__, tracer_provider)
        self.receive_budget = connection.trust.receive_span_budget()
        self.connection_context: Optional[Context] = None
        self.connection_open = False
        self.closed = False

    @property
    def connection_span(self) -> Optional[Span]:
        if self.connection_context is None:
            return None
        return trace.get_current_span(self.connection_context)

    def start(
        self,
        decision: SpanDecision,
        *,
        remote: Optional[TraceContext] = None,
        ambient: Optional[Context] = None,
    ) -> Context:
        """Starts ``decision``'s span; returns the context holding it."""
        return start_span(
            self.tracer, decision, ambient=ambient, remote=remote, connection=self.connection_context
        )

    def admit(self, remote: Optional[TraceContext]) -> Optional[TraceContext]:
        """A received context as the connection's trust policy admits it."""
        return None if remote is None else self.connection.trust.admit(remote)

    def open(self, *, remote: Optional[TraceContext] = None, ambient: Optional[Context] = None) -> Context:
        """Starts the connection span (``connect`` or ``accept``) under the
        handshake's context, admitted by the trust policy."""
        ctx = self.start(self.connection.open(), remote=self.admit(remote), ambient=ambient)
        self.connection_context = ctx
        self.connection_open = True
        return ctx

    def upgraded(self) -> None:
        """The upgrade completed: in the ``message`` model the connection span ends."""
        if self.connection.connection_span_ends_at_upgrade:
            self.end_connection_span()

    def end_connection_span(self) -> None:
        span = self.connection_span
        if self.connection_open and span is not None:
            self.connection_open = False
            span.end()

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
        decision: CloseDecision = self.connection.close(
            code, reason or "", receive_spans_skipped=self.receive_budget.skipped
        )
        status = Status(StatusCode.ERROR) if decision.is_error else None
        span_decision = decision.span
        if span_decision is None:
            span = self.connection_span
            if span is not None and self.connection_open:
                span.set_attributes(decision.attributes)
                if status is not None:
                    span.set_status(status)
        else:
            close_span = trace.get_current_span(self.start(span_decision, ambient=ambient))
            if status is not None:
                close_span.set_status(status)
            close_span.end()
        self.end_connection_span()
