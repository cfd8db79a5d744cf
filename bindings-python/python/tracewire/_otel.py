"""opentelemetry-python integration: context conversion and the propagator."""

from __future__ import annotations

from typing import Optional, Set

from opentelemetry.context import Context
from opentelemetry.propagators import textmap

from . import _native
from ._native import TraceContext

__all__ = ["W3CPropagator", "to_otel_context", "from_otel_context"]


def to_otel_context(context: TraceContext, parent: Optional[Context] = None) -> Context:
    """Returns ``parent`` (default: an empty context) with ``context``'s span
    context as a non-recording parent span and its baggage merged in.

    opentelemetry-python has no baggage properties: only key and value are
    carried over.
    """
    return context.to_otel(parent)


def from_otel_context(context: Optional[Context] = None) -> TraceContext:
    """The span context and baggage of an OpenTelemetry ``Context``
    (default: the current one), ready to send on."""
    return TraceContext.from_otel(context)


class W3CPropagator(textmap.TextMapPropagator):
    """One ``TextMapPropagator`` for W3C ``traceparent``, ``tracestate`` and
    ``baggage``, backed by the Rust core's parsers.

    It replaces the ``tracecontext,baggage`` pair and writes the same
    headers. Select it with ``OTEL_PROPAGATORS=tracewire`` (entry point
    ``opentelemetry_propagator``) or ``opentelemetry.propagate.set_global_textmap``.
    """

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Optional[Context] = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        """Reads the three headers from ``carrier`` into a new context built
        on ``context`` (default: an empty one). Invalid values are ignored as
        W3C requires."""
        result: Context = _native.propagator_extract(carrier, context, getter)
        return result

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Optional[Context] = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        """Writes the span context and baggage of ``context`` (default: the
        current one) into ``carrier``."""
        _native.propagator_inject(carrier, context, setter)

    @property
    def fields(self) -> Set[str]:
        """The header names this propagator reads and writes."""
        return set(_native.PROPAGATION_FIELDS)
